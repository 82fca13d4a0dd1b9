/* libFuzzer harness of RFC 6062 TCP allocations in the TURN core (src/turn/turn_tcp_relay.c):
 * one server, or two sharing their state as the daemon's workers, with a fake I/O layer of
 * stream connections (8, from 2 clients, over TCP or TLS), relayed addresses' listening
 * sockets and peer connections, driven by records (format: fuzz_formats.h): signed requests
 * (Allocate, Refresh, CreatePermission, Connect, ConnectionBind, ...), raw messages, peers
 * connecting in, connections made or failing, pairs ending or relaying bytes, time, hang-ups.
 *
 * Checked: a connection from a peer is kept only with a permission for its IP granted to that
 * allocation (within the permission lifetime) and within the self rules, and then the client is
 * told (ConnectionAttempt with the peer and a connection id); the relay connects only from its
 * own relayed address and only to permitted, policy-allowed peers; splices join a stream
 * connection of the server to a pending peer connection of the same server, and the next thing
 * sent on that connection is the ConnectionBind success, nothing after it; hand-overs go to the
 * other server, once; responses to signed requests verify with the request's key, Connect
 * successes carry a connection id; failed connects are closed by the core; sockets are closed
 * once, by their server; the live peer connection counters match the sockets and the relayed
 * bytes the calls; after turn_server_free every socket is closed and nothing leaks. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_TURN_CORE
#include "common/log.h"
#include "fuzz_common.h"
#include "fuzz_formats.h"
#include "stun/stun.h"
#include "turn/peer_policy.h"
#include "turn/turn_config.h"
#include "turn/turn_server.h"
#include "turn/turn_shared.h"

#define NSOCK    96
#define NKEYS    64
#define NIDS     32
#define NPERMS   16
#define NPEERS   8
#define MAX_RECS 512
#define MSG_MAX  2048

static bool trace; /* FUZZ_TRACE=1: records and what the servers send, on stderr */

enum sk { SK_FREE, SK_UDP, SK_LISTEN, SK_CONNECTING, SK_PENDING, SK_SPLICED };

struct fsock {
    enum sk kind;
    int worker;
    struct xt_addr addr; /* bound to (a connection: the relayed address it belongs to) */
    struct xt_addr peer;
    void *owner;
    int ctl;  /* SK_LISTEN: the connection its allocation was made on, or -1 */
    int data; /* SK_SPLICED: the client data connection */
};

struct perm {
    struct xt_addr ip;
    uint64_t ms;
};

struct fconn {
    int worker;
    bool closed;   /* closed by the relay (spliced pair ended): reopened when used again */
    bool spliced;  /* a data connection: nothing more is sent on it */
    int bind_owed; /* spliced, the ConnectionBind success not seen yet */
    struct perm perms[NPERMS];
    size_t nperms;
    bool perm_any;
};

struct tidkey {
    uint8_t tid[STUN_TID_LEN];
    uint8_t key[16];
    int conn;
    struct xt_addr peers[NPEERS]; /* every XOR-PEER-ADDRESS of the request */
    size_t npeers;
};

static struct {
    struct turn_config cfg;
    struct turn_shared *shared;
    struct fuzz_worker w[2];
    int nworkers;
    enum turn_transport transport;
    struct turn_time now;
    struct fsock socks[NSOCK];
    struct fconn conns[FR_CONNS];
    struct xt_addr clients[2], listen, relay;
    struct tidkey keys[NKEYS];
    size_t nkeys;
    uint32_t ids[NIDS];
    size_t nids;
    char nonce[2][64];
    size_t nonce_len[2];
    uint32_t tid_counter;
    int delivering;    /* the connection whose message is being handled, or -1 */
    int redirect_to;   /* set by tcp_redirect while handling it, else -1 */
    bool redelivery;   /* handling it again where it was handed */
    bool attempt_sent; /* a ConnectionAttempt for attempt_peer came */
    struct xt_addr attempt_peer;
    uint64_t relayed[2][2]; /* bytes by server and direction */
} F;

/* ---- the fake I/O layer ---- */

static int worker_of(void *ctx)
{
    const struct fuzz_worker *w = ctx;
    CHECK(w == &F.w[0] || (F.nworkers == 2 && w == &F.w[1]));
    return w->id;
}

static int sock_new(const struct fsock *fs)
{
    for (int h = 0; h < NSOCK; h++)
        if (F.socks[h].kind == SK_FREE) {
            F.socks[h] = *fs;
            return h;
        }
    return -EMFILE;
}

static bool bound_elsewhere(const struct xt_addr *addr)
{
    for (int h = 0; h < NSOCK; h++)
        if ((F.socks[h].kind == SK_UDP || F.socks[h].kind == SK_LISTEN) &&
            xt_addr_equal(&F.socks[h].addr, addr))
            return true;
    return false;
}

static int io_relayed_open(void *ctx, const struct xt_addr *addr, int df, void *owner)
{
    (void)df;
    CHECK(xt_addr_ip_equal(addr, &F.relay) && !bound_elsewhere(addr));
    return sock_new(&(struct fsock){SK_UDP, worker_of(ctx), *addr, {0}, owner, -1, -1});
}

static int io_tcp_listen(void *ctx, const struct xt_addr *addr, void *owner)
{
    CHECK(xt_addr_ip_equal(addr, &F.relay) && !bound_elsewhere(addr));
    CHECK(addr->port >= FT_PORT_LO && addr->port <= FT_PORT_HI);
    return sock_new(&(struct fsock){SK_LISTEN, worker_of(ctx), *addr, {0}, owner, -1, -1});
}

static void io_relayed_close(void *ctx, int h)
{
    CHECK(h >= 0 && h < NSOCK && F.socks[h].worker == worker_of(ctx));
    CHECK(F.socks[h].kind == SK_UDP || F.socks[h].kind == SK_LISTEN);
    F.socks[h].kind = SK_FREE;
}

static bool permitted(int conn, const struct xt_addr *peer)
{
    const struct fconn *c = &F.conns[conn];
    if (c->perm_any)
        return true; /* more than the harness keeps track of */
    for (size_t i = 0; i < c->nperms; i++)
        /* the core's timers fire on whole seconds: a little later than due */
        if (xt_addr_ip_equal(&c->perms[i].ip, peer) && F.now.ms <= c->perms[i].ms + 302000)
            return true;
    return false;
}

/* A TCP peer on the relay host: only another TCP allocation's relayed address. */
static bool self_ok(const struct xt_addr *peer, const struct xt_addr *own)
{
    if (peer->port == own->port)
        return false;
    for (int h = 0; h < NSOCK; h++)
        if (F.socks[h].kind == SK_LISTEN && xt_addr_equal(&F.socks[h].addr, peer))
            return true;
    return false;
}

static bool peer_ok(const struct xt_addr *peer, const struct xt_addr *own)
{
    struct addr_set none = {0};
    enum peer_verdict v = peer_policy_check(&F.cfg.policy, &none, peer);
    return v == PEER_SELF ? self_ok(peer, own) : v == PEER_ALLOWED;
}

static int listener_at(const struct xt_addr *addr)
{
    for (int h = 0; h < NSOCK; h++)
        if (F.socks[h].kind == SK_LISTEN && xt_addr_equal(&F.socks[h].addr, addr))
            return h;
    return -1;
}

static int io_tcp_connect(void *ctx, const struct xt_addr *local, const struct xt_addr *peer,
                          void *owner)
{
    int l = listener_at(local), w = worker_of(ctx);

    /* From the allocation's own relayed address, to a peer it may reach. */
    CHECK(l >= 0 && F.socks[l].worker == w);
    CHECK(F.socks[l].ctl < 0 || permitted(F.socks[l].ctl, peer));
    CHECK(peer_ok(peer, local));
    if (peer->port == 5001) /* refused at once */
        return -ECONNREFUSED;
    return sock_new(&(struct fsock){SK_CONNECTING, w, *local, *peer, owner, -1, -1});
}

static bool is_conn_sock(int h)
{
    return h >= 0 && h < NSOCK &&
           (F.socks[h].kind == SK_CONNECTING || F.socks[h].kind == SK_PENDING ||
            F.socks[h].kind == SK_SPLICED);
}

static void io_tcp_close(void *ctx, int h)
{
    CHECK(is_conn_sock(h) && F.socks[h].worker == worker_of(ctx));
    if (F.socks[h].kind == SK_SPLICED)
        F.conns[F.socks[h].data].closed = true;
    F.socks[h].kind = SK_FREE;
}

static int conn_of_handle(int handle)
{
    int i = handle - FR_CONN_HANDLE(0);
    return i >= 0 && i < FR_CONNS ? i : -1;
}

static int io_tcp_splice(void *ctx, int data_handle, int peer_handle, void *owner)
{
    int w = worker_of(ctx), ci = conn_of_handle(data_handle);
    struct fsock *p = &F.socks[peer_handle];

    /* The connection whose message is being handled, and a pending connection, both here. */
    CHECK(ci >= 0 && ci == F.delivering && F.conns[ci].worker == w && !F.conns[ci].spliced);
    CHECK(is_conn_sock(peer_handle) && p->kind == SK_PENDING && p->worker == w);
    CHECK(!p->owner || p->owner == owner);
    if (F.keys[(F.nkeys - 1) % NKEYS].conn == -2) /* FR_SIG_FAIL_SPLICE */
        return -1;
    p->owner = owner;
    p->kind = SK_SPLICED;
    p->data = ci;
    F.conns[ci].spliced = true;
    F.conns[ci].bind_owed = 1;
    return 0;
}

static int io_tcp_redirect(void *ctx, int data_handle, void *target)
{
    int w = worker_of(ctx), ci = conn_of_handle(data_handle);

    CHECK(F.nworkers == 2 && target == &F.w[!w] && !F.redelivery);
    CHECK(ci >= 0 && ci == F.delivering && F.conns[ci].worker == w && !F.conns[ci].spliced);
    F.redirect_to = !w;
    return 0;
}

/* ---- what the server sends ---- */

static struct tidkey *key_of(const uint8_t tid[STUN_TID_LEN])
{
    for (size_t i = 0; i < F.nkeys && i < NKEYS; i++)
        if (memcmp(F.keys[i].tid, tid, STUN_TID_LEN) == 0)
            return &F.keys[i];
    return NULL;
}

static void note_id(const struct stun_msg *m)
{
    const struct stun_attr *ci = stun_find(m, TURN_ATTR_CONNECTION_ID);
    CHECK(ci && ci->len == 4);
    F.ids[F.nids++ % NIDS] = (uint32_t)fz_get16(ci->val) << 16 | fz_get16(ci->val + 2);
}

static void to_client(int ci, const uint8_t *buf, size_t len)
{
    struct fconn *c = &F.conns[ci];
    const struct stun_attr *e;
    struct tidkey *k;
    struct stun_msg m;
    int code = 0;

    CHECK(!c->spliced || c->bind_owed); /* a data connection gets the response, then bytes */
    if (len && (buf[0] & 0xC0) == 0x40)
        return; /* ChannelData of a UDP allocation */
    CHECK(stun_parse(buf, len, &m) == STUN_OK);
    if (trace) {
        e = stun_find(&m, STUN_ATTR_ERROR_CODE);
        fprintf(stderr, "  -> connection %d: method 0x%03x class %d code %d\n", ci, m.method, m.cls,
                e && e->len >= 4 ? e->val[2] * 100 + e->val[3] : 0);
    }
    if (m.cls == STUN_INDICATION) {
        struct xt_addr peer;
        if (m.method == TURN_DATA)
            return;
        CHECK(m.method == TURN_CONNECTION_ATTEMPT && m.fingerprint >= 0);
        CHECK(stun_attr_xor_addr(&m, stun_find(&m, TURN_ATTR_XOR_PEER_ADDRESS), &peer) == 0);
        F.attempt_sent = F.attempt_sent || xt_addr_equal(&peer, &F.attempt_peer);
        note_id(&m);
        return;
    }
    CHECK(m.cls == STUN_SUCCESS || m.cls == STUN_ERROR);
    if ((e = stun_find(&m, STUN_ATTR_ERROR_CODE))) {
        const uint8_t *reason;
        size_t rlen;
        CHECK(stun_attr_error_code(e, &code, &reason, &rlen) == 0);
    }
    if (c->bind_owed) {
        CHECK(m.method == TURN_CONNECTION_BIND && m.cls == STUN_SUCCESS);
        c->bind_owed = 0;
    }
    if ((code == 401 || code == 438) && m.mi < 0) {
        const struct stun_attr *n = stun_find(&m, STUN_ATTR_NONCE);
        int cl = ci & 1;
        CHECK(n && n->len < sizeof(F.nonce[0]));
        memcpy(F.nonce[cl], n->val, n->len);
        F.nonce_len[cl] = n->len;
        return;
    }
    /* Unsigned: errors to unauthenticated requests, and Binding. Signed: with the key of the
     * request whose transaction id it carries. */
    if (m.mi < 0 && m.mi256 < 0) {
        CHECK(m.cls == STUN_ERROR || m.method == STUN_BINDING);
        return;
    }
    k = key_of(m.tid);
    CHECK(k && stun_check_integrity(&m, k->key, sizeof(k->key)));
    if (code)
        return;
    if (m.method == TURN_CONNECT)
        note_id(&m);
    if (m.method == TURN_CREATE_PERMISSION) {
        c->perm_any = c->perm_any || k->npeers > NPEERS || c->nperms + k->npeers > NPERMS;
        for (size_t i = 0; i < k->npeers && i < NPEERS && c->nperms < NPERMS; i++)
            c->perms[c->nperms++] = (struct perm){k->peers[i], F.now.ms};
    }
    if (m.method == TURN_ALLOCATE) {
        c->nperms = 0;
        c->perm_any = false;
        for (size_t i = 0; i < m.nattrs; i++) {
            struct xt_addr a;
            int l;
            if (m.attrs[i].type != TURN_ATTR_XOR_RELAYED_ADDRESS)
                continue;
            CHECK(stun_attr_xor_addr(&m, &m.attrs[i], &a) == 0);
            if ((l = listener_at(&a)) >= 0)
                F.socks[l].ctl = ci;
        }
    }
}

static void io_send(void *ctx, int handle, const struct xt_addr *dst, const void *head,
                    size_t head_len, const void *body, size_t body_len, size_t pad)
{
    int w = worker_of(ctx), ci = conn_of_handle(handle);
    uint8_t buf[MSG_MAX];

    CHECK(head_len + body_len + pad <= sizeof(buf) || ci < 0);
    if (ci < 0) { /* a UDP allocation's datagram to a peer */
        CHECK(handle >= 0 && handle < NSOCK && F.socks[handle].kind == SK_UDP &&
              F.socks[handle].worker == w);
        return;
    }
    CHECK(F.conns[ci].worker == w && xt_addr_equal(dst, &F.clients[ci & 1]));
    memcpy(buf, head, head_len);
    if (body_len)
        memcpy(buf + head_len, body, body_len);
    memset(buf + head_len + body_len, 0, pad);
    to_client(ci, buf, head_len + body_len + pad);
}

/* ---- driving the servers ---- */

static void deliver(int ci, const uint8_t *data, size_t len)
{
    struct fconn *c = &F.conns[ci];
    uint8_t *copy;
    int from;

    if (c->closed) { /* a new connection under the same handle */
        *c = (struct fconn){.worker = F.nworkers == 2 ? (ci >> 1) & 1 : 0};
    }
    if (c->spliced)
        return;                   /* raw bytes now: the I/O layer relays them */
    copy = malloc(len ? len : 1); /* exactly sized: ASan sees any overread */
    CHECK(copy);
    memcpy(copy, data, len);
    F.delivering = ci;
    F.redirect_to = -1;
    from = c->worker;
    turn_on_client(F.w[from].s, &F.now, F.transport, FR_CONN_HANDLE(ci), &F.listen,
                   &F.clients[ci & 1], copy, len);
    if (F.redirect_to >= 0) {
        /* Moved, message and all, and handled again there. */
        c->worker = F.redirect_to;
        F.redelivery = true;
        turn_on_client(F.w[c->worker].s, &F.now, F.transport, FR_CONN_HANDLE(ci), &F.listen,
                       &F.clients[ci & 1], copy, len);
        F.redelivery = false;
    }
    F.delivering = -1;
    CHECK(!c->bind_owed);
    free(copy);
}

static void new_tid(uint8_t tid[STUN_TID_LEN])
{
    fuzz_tid(tid, 0x6c, ++F.tid_counter);
}

static void fetch_nonce(int ci)
{
    uint8_t buf[64], tid[STUN_TID_LEN];

    new_tid(tid);
    deliver(ci, buf, fuzz_unsigned_allocate(buf, tid, TURN_TRANSPORT_TCP));
}

/* The n-th socket of a kind (modulo how many), or -1. */
static int nth(enum sk kind, unsigned n)
{
    int count = 0;
    for (int h = 0; h < NSOCK; h++)
        count += F.socks[h].kind == kind;
    if (!count)
        return -1;
    n %= (unsigned)count;
    for (int h = 0; h < NSOCK; h++)
        if (F.socks[h].kind == kind && n-- == 0)
            return h;
    return -1;
}

/* fr_peer i: static, or an open listening socket's address. */
static void resolve_peer(unsigned i, struct xt_addr *out)
{
    int h;

    i &= 15;
    h = i < FR_PEER_DYNAMIC ? -1 : nth(SK_LISTEN, i - FR_PEER_DYNAMIC);
    if (h >= 0)
        *out = F.socks[h].addr;
    else
        CHECK(xt_addr_parse(fr_peers[i % FR_PEER_DYNAMIC], 3478, out) == 0);
}

/* The FR_MACRO_* attributes of a signed request but FR_MACRO_PEER. */
static bool add_macro(struct stun_builder *b, uint16_t type, uint8_t arg)
{
    if (type == FR_MACRO_CONNID) {
        uint32_t id = F.nids ? F.ids[arg % (F.nids < NIDS ? F.nids : NIDS)] : 0x01020300;
        uint8_t v[4] = {(uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
        stun_add_attr(b, TURN_ATTR_CONNECTION_ID, v, 4);
    } else if (type == FR_MACRO_TCP) {
        uint8_t v[4] = {TURN_TRANSPORT_TCP};
        stun_add_attr(b, TURN_ATTR_REQUESTED_TRANSPORT, v, 4);
    } else {
        return false;
    }
    return true;
}

static void signed_request(int ci, const uint8_t *body, size_t len)
{
    uint8_t key[16], tid[STUN_TID_LEN], buf[MSG_MAX];
    char user[64];
    struct stun_builder b;
    struct tidkey *k;
    unsigned user_i, flags;
    int n, cl = ci & 1;

    if (len < 2)
        return;
    user_i = (body[0] >> 3) & 3;
    flags = body[1];
    /* 3 is a REST user as 2 is */
    fuzz_credentials(user_i < 2 ? user_i : 2, (long long)F.now.unix_s + 3600, FT_REST_SECRET,
                     flags & FR_SIG_WRONG_PASSWORD, user, key);
    if (!F.nonce_len[cl])
        fetch_nonce(ci);
    new_tid(tid);
    k = &F.keys[F.nkeys++ % NKEYS];
    memcpy(k->tid, tid, STUN_TID_LEN);
    memcpy(k->key, key, 16);
    k->conn = flags & FR_SIG_FAIL_SPLICE ? -2 : flags & FR_SIG_UNSIGNED ? -3 : ci;
    k->npeers = 0;
    stun_build_init(&b, buf, sizeof(buf), fr_methods[body[0] & 7],
                    flags & FR_SIG_INDICATION ? STUN_INDICATION : STUN_REQUEST, tid);
    fuzz_add_tlvs(&b, body + 2, len - 2, resolve_peer, add_macro);
    if (!(flags & FR_SIG_UNSIGNED)) {
        int other = flags & FR_SIG_OTHER_NONCE ? !cl : cl;
        stun_add_attr(&b, STUN_ATTR_USERNAME, user, strlen(user));
        stun_add_attr(&b, STUN_ATTR_REALM, FT_REALM, strlen(FT_REALM));
        stun_add_attr(&b, STUN_ATTR_NONCE, F.nonce[other], F.nonce_len[other]);
        if (flags & FR_SIG_SHA256)
            stun_add_integrity_sha256(&b, key, sizeof(key));
        else
            stun_add_integrity(&b, key, sizeof(key));
    }
    stun_add_fingerprint(&b);
    n = stun_finish(&b);
    if (n <= 0)
        return;
    /* The peers it names, however they were written: a permission for each if it succeeds. */
    {
        struct stun_msg m;
        if (stun_parse(buf, (size_t)n, &m) == STUN_OK)
            for (size_t i = 0; i < m.nattrs; i++) {
                struct xt_addr peer;
                if (m.attrs[i].type == TURN_ATTR_XOR_PEER_ADDRESS &&
                    stun_attr_xor_addr(&m, &m.attrs[i], &peer) == 0) {
                    if (k->npeers < NPEERS)
                        k->peers[k->npeers] = peer;
                    k->npeers++;
                }
            }
    }
    deliver(ci, buf, (size_t)n);
}

static void accept_peer(uint8_t arg)
{
    int l = nth(SK_LISTEN, arg & 15), h;
    struct xt_addr peer;
    struct fsock *ls;

    if (l < 0)
        return;
    ls = &F.socks[l];
    resolve_peer(arg >> 4, &peer);
    if (peer.family != ls->addr.family)
        return;
    h = sock_new(&(struct fsock){SK_PENDING, ls->worker, ls->addr, peer, NULL, -1, -1});
    if (h < 0)
        return;
    F.attempt_sent = false;
    F.attempt_peer = peer;
    turn_on_tcp_accept(F.w[ls->worker].s, &F.now, ls->owner, h, &peer);
    if (F.socks[h].kind == SK_FREE)
        return;
    /* Kept: only with a permission of that allocation for the peer's IP, never from the relay
     * host but from another TCP allocation's relayed address; and the client was told. */
    CHECK(ls->ctl < 0 || permitted(ls->ctl, &peer));
    CHECK(peer_ok(&peer, &ls->addr));
    CHECK(ls->ctl < 0 || F.attempt_sent);
}

static void connected(uint8_t arg)
{
    int h = nth(SK_CONNECTING, arg & 15);

    if (h < 0)
        return;
    if (!(arg & 0x10))
        F.socks[h].kind = SK_PENDING;
    turn_on_tcp_connected(F.w[F.socks[h].worker].s, &F.now, F.socks[h].owner,
                          arg & 0x10 ? -ETIMEDOUT : 0);
    CHECK(!(arg & 0x10) || F.socks[h].kind == SK_FREE); /* failed: the core closed it */
}

static void pair_closed(uint8_t arg)
{
    int h = nth(SK_SPLICED, arg & 15);

    if (h < 0)
        return;
    F.socks[h].kind = SK_FREE;
    F.conns[F.socks[h].data].closed = true;
    turn_on_tcp_closed(F.w[F.socks[h].worker].s, F.socks[h].owner);
}

static void relayed(uint8_t arg, uint16_t len)
{
    int h = nth(SK_SPLICED, arg & 15), dir = (arg >> 4) & 1;
    uint32_t wait;

    if (h < 0)
        return;
    wait = turn_tcp_relayed(F.w[F.socks[h].worker].s, &F.now, F.socks[h].owner, dir, len);
    F.relayed[F.socks[h].worker][dir] += len;
    /* Never a rest without a limit; with one, no longer than the bytes taken so far cost. */
    CHECK(F.cfg.max_bps
              ? wait <= (F.relayed[F.socks[h].worker][0] + F.relayed[F.socks[h].worker][1]) * 1000 /
                                F.cfg.max_bps +
                            1
              : wait == 0);
}

static void hangup(int ci)
{
    struct fconn *c = &F.conns[ci];

    if (c->closed)
        return;
    if (c->spliced) { /* the pair ends: the I/O layer tells the core */
        for (int h = 0; h < NSOCK; h++)
            if (F.socks[h].kind == SK_SPLICED && F.socks[h].data == ci) {
                F.socks[h].kind = SK_FREE;
                turn_on_tcp_closed(F.w[F.socks[h].worker].s, F.socks[h].owner);
            }
    } else {
        turn_on_client_closed(F.w[c->worker].s, FR_CONN_HANDLE(ci), &F.clients[ci & 1]);
    }
    for (int h = 0; h < NSOCK; h++)
        if (F.socks[h].kind == SK_LISTEN && F.socks[h].ctl == ci)
            F.socks[h].ctl = -1; /* whatever is left is not this connection's any more */
    c->closed = true;
}

/* Live peer connections and relayed bytes against the sockets and the calls. */
static void check_counters(void)
{
    for (int i = 0; i < F.nworkers; i++) {
        const struct turn_counters *c = &turn_server_counters(F.w[i].s)[F.transport];
        uint64_t open = 0;
        for (int h = 0; h < NSOCK; h++)
            open += is_conn_sock(h) && F.socks[h].worker == i;
        CHECK(c->tcp_peer_conns == open);
        CHECK(c->tcp_relayed_bytes[0] == F.relayed[i][0]);
        CHECK(c->tcp_relayed_bytes[1] == F.relayed[i][1]);
    }
}

/* ---- configuration ---- */

static void setup(uint8_t conf)
{
    static struct xt_addr self[2];
    struct turn_config *c = &F.cfg;
    struct turn_io io = {.relayed_open = io_relayed_open,
                         .relayed_close = io_relayed_close,
                         .send = io_send,
                         .random = fuzz_random,
                         .tcp_listen = io_tcp_listen,
                         .tcp_connect = io_tcp_connect,
                         .tcp_close = io_tcp_close,
                         .tcp_splice = io_tcp_splice,
                         .tcp_redirect = io_tcp_redirect};

    memset(&F, 0, sizeof(F));
    fuzz_random_reset();
    log_setup((enum log_level)((conf & FR_CFG_LOG) >> 4), LOG_JSON);
    F.delivering = F.redirect_to = -1;
    F.transport = conf & FR_CFG_TLS ? TURN_TLS : TURN_TCP;
    F.nworkers = conf & FR_CFG_WORKERS ? 2 : 1;
    for (int i = 0; i < 2; i++)
        CHECK(xt_addr_parse(ft_clients[i], 3478, &F.clients[i]) == 0);
    CHECK(xt_addr_parse(FT_LISTEN_V4, 3478, &F.listen) == 0);
    CHECK(xt_addr_parse_ip(FT_RELAY_V4, &F.relay) == 0);
    for (int i = 0; i < FR_CONNS; i++)
        F.conns[i].worker = F.nworkers == 2 ? (i >> 1) & 1 : 0;
    fuzz_turn_config(c);
    c->relay_v4 = F.relay;
    c->max_permissions = 6;
    c->max_channels = 4;
    c->max_bps = conf & FR_CFG_MAX_BPS ? FT_MAX_BPS : 0;
    c->max_tcp_peer_conns = conf & FR_CFG_CAP ? 2 : 0;
    self[0] = F.listen;
    self[1] = F.relay;
    c->policy.self = self;
    c->policy.nself = 2;
    F.now.ms = FT_START_MS;
    F.now.unix_s = FT_START_UNIX_S;
    F.shared = turn_shared_new(c, &io.random);
    CHECK(F.shared);
    fuzz_servers_new(F.w, F.nworkers, c, io, &F.now, F.shared);
}

static void teardown(void)
{
    fuzz_servers_free(F.w, F.nworkers, F.shared);
    for (int h = 0; h < NSOCK; h++)
        CHECK(F.socks[h].kind == SK_FREE);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    trace = getenv("FUZZ_TRACE") != NULL;
    /* The log goes to stdout: away, unless asked for (reproducing a crash). */
    if (!getenv("FUZZ_LOG")) {
        int fd = open("/dev/null", O_WRONLY);
        CHECK(fd >= 0 && dup2(fd, STDOUT_FILENO) >= 0);
        close(fd);
    }
    return 0;
}

/* One record of the input, then the counters checked. */
static void on_record(const struct fuzz_record *r)
{
    switch (r->kind & 7) {
    case FR_SIGNED:
        signed_request(r->arg & 7, r->body, r->len);
        break;
    case FR_RAW:
        deliver(r->arg & 7, r->body, r->len);
        break;
    case FR_ACCEPT:
        accept_peer(r->arg);
        break;
    case FR_CONNECTED:
        connected(r->arg);
        break;
    case FR_CLOSED:
        pair_closed(r->arg);
        break;
    case FR_RELAYED:
        relayed(r->arg, r->field);
        break;
    case FR_TIME:
        fuzz_advance(&F.now, r->arg, r->field, F.w, F.nworkers);
        break;
    default:
        hangup(r->arg & 7);
        break;
    }
    check_counters();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < FR_CONFIG_LEN)
        return 0;
    setup(data[0]);
    fuzz_records(data, size, FR_CONFIG_LEN, FR_BODY_KINDS, MAX_RECS, trace, on_record);
    teardown();
    return 0;
}
