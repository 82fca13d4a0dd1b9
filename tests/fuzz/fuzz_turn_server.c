/* libFuzzer harness of the TURN core (src/turn/): a real server with a fake I/O layer, driven by
 * a sequence of records (format: fuzz_formats.h), or two servers sharing their state as the
 * daemon's workers do (clients 0 and 2 on the first, 1 and 3 on the second): datagrams from four
 * clients, requests the
 * harness signs with valid credentials (nonce taken from the server's last 401/438 to that
 * client), datagrams from peers to relay sockets, time passing. What the server sends is
 * checked: responses parse and are signed with the request's key, Allocate successes advertise
 * open sockets, data to peers only goes to allowed addresses, ChannelData and Data indications
 * are well-formed and carry the payload; relay sockets are bound once and closed once; channel
 * up/down calls pair up. Datagrams a relay socket sends to another open relay socket arrive
 * there (client to client). At the end the server is freed: every socket must be closed, every
 * mirrored channel taken down, and LeakSanitizer sees that nothing leaks. The log (stdout, a
 * pipe here) must stay valid UTF-8 without raw control characters, one JSON object or text
 * line per event, whatever the usernames and addresses in it.
 *
 * Randomness (nonce key, hash seeds, relay ports, reservation tokens) is the core's random
 * source, here a generator reset for every input, so a crashing input reproduces. */
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

const char *__asan_default_options(void);

/* Stack use after return: a body handed to send() must outlive the call (until the flush). */
const char *__asan_default_options(void)
{
    return "detect_stack_use_after_return=1";
}

/* ---- the fake I/O layer ---- */

#define NSOCK     64
#define NPORTS    (FT_PORT_HI - FT_PORT_LO + 1)
#define QCAP      32
#define NMIRROR   1024
#define NKEYS     64
#define MAX_DGRAM 0xFFFF
#define MAX_RECS  1024
#define NSEEN     256

struct fsock {
    bool open;
    int worker; /* which server opened it */
    struct xt_addr addr;
    void *owner;
};

/* A send() call: head copied at once, body read at the flush (it may point into the datagram
 * being handled, which lives until then). */
struct qsend {
    int worker;
    int handle;
    struct xt_addr dst;
    uint8_t head[TURN_HEAD_MAX]; /* responses come whole as head */
    size_t head_len;
    const uint8_t *body;
    size_t body_len, pad;
};

struct mirror {
    struct xt_addr client, local, peer, relayed;
    uint16_t channel;
};

struct tidkey {
    uint8_t tid[STUN_TID_LEN];
    uint8_t key[16];
};

struct fz {
    struct turn_config cfg;
    struct turn_shared *shared; /* two workers: their common state */
    struct fuzz_worker w[2];
    int nworkers;
    bool draining;
    bool host_toggled;      /* FT_HOST_TOGGLED is a host address */
    struct addr_set host;   /* the host's addresses as the servers were told */
    uint64_t relayed[2][2]; /* data datagrams sent, by worker and direction (TURN_TO_*) */
    struct turn_time now;
    struct fsock socks[NSOCK];
    bool busy[NPORTS];
    struct xt_addr clients[4], listen[4], relay[2], pub[2];
    struct qsend q[QCAP];
    size_t nq;
    struct mirror mirrors[NMIRROR];
    size_t nmirrors;
    bool mirror_overflow;
    struct tidkey keys[NKEYS];
    size_t nkeys;
    uint8_t seen[NSEEN][STUN_TID_LEN]; /* transaction ids of requests delivered */
    size_t nseen;
    bool retransmission; /* the datagram being handled repeats a transaction id */
    char nonce[4][64];
    size_t nonce_len[4];
    int64_t nonce_unix[4];
    uint64_t token;
    uint8_t tid[STUN_TID_LEN];
    uint32_t tid_counter;
    bool have_tid;
    uint8_t *last;
    size_t last_len;
    int last_client, last_second;
    uint8_t *scratch; /* MAX_DGRAM + slack: assembling sends, building requests */
    uint8_t *scratch2;
};

static struct fz F;
static bool keep_stdout, trace;
static int log_fd = -1; /* read end of the pipe stdout goes to */
static bool log_text;   /* the current input's log format */
static char log_buf[1 << 17];
static size_t log_len, log_lines;

static bool is_listen_handle(int h)
{
    return h >= FT_LISTEN_HANDLE(0, 0) && h <= FT_LISTEN_HANDLE(1, 1);
}

/* FUZZ_TRACE=1: what the server sends, one line each, on stderr. */
static void trace_send(const struct qsend *q, const uint8_t *buf, size_t len)
{
    char dst[XT_ADDR_STRLEN];
    struct stun_msg m;

    if (!trace)
        return;
    xt_addr_str(&q->dst, dst);
    if (!is_listen_handle(q->handle)) {
        fprintf(stderr, "  worker %d relay socket %d -> peer %s: %zu bytes\n", q->worker, q->handle,
                dst, len);
    } else if (len && (buf[0] & 0xC0) == 0x40) {
        fprintf(stderr, "  worker %d -> client %s: ChannelData 0x%04x, %zu bytes\n", q->worker, dst,
                fz_get16(buf), len - 4);
    } else if (stun_parse(buf, len, &m) == STUN_OK) {
        const struct stun_attr *e = stun_find(&m, 0x0009);
        fprintf(stderr, "  worker %d -> client %s: method 0x%03x class %d code %d\n", q->worker,
                dst, m.method, m.cls, e && e->len >= 4 ? e->val[2] * 100 + e->val[3] : 0);
    }
}

static int open_sockets(void)
{
    int n = 0;
    for (int h = 0; h < NSOCK; h++)
        n += F.socks[h].open;
    return n;
}

static int worker_of(void *ctx)
{
    const struct fuzz_worker *w = ctx;
    CHECK(w == &F.w[0] || w == &F.w[1]);
    return w->id;
}

static int io_relayed_open(void *ctx, const struct xt_addr *addr, int df, void *owner)
{
    int fam = addr->family == AF_INET6;
    (void)df;
    CHECK(owner != NULL);
    CHECK(addr->family == AF_INET || addr->family == AF_INET6);
    CHECK(F.relay[fam].family && xt_addr_ip_equal(addr, &F.relay[fam]));
    CHECK(addr->port >= FT_PORT_LO && addr->port <= FT_PORT_HI);
    /* the port pool must never hand out a port that is bound */
    for (int h = 0; h < NSOCK; h++)
        CHECK(!F.socks[h].open || !xt_addr_equal(&F.socks[h].addr, addr));
    if (F.busy[addr->port - FT_PORT_LO])
        return -EADDRINUSE;
    for (int h = 0; h < NSOCK; h++) {
        if (F.socks[h].open)
            continue;
        F.socks[h] = (struct fsock){true, worker_of(ctx), *addr, owner};
        return h;
    }
    return -EMFILE;
}

static void io_relayed_close(void *ctx, int handle)
{
    CHECK(handle >= 0 && handle < NSOCK && F.socks[handle].open);
    CHECK(F.socks[handle].worker == worker_of(ctx)); /* only its own sockets */
    F.socks[handle].open = false;
}

static void flush(void);
static void drain_log(void);

static void io_send(void *ctx, int handle, const struct xt_addr *dst, const void *head,
                    size_t head_len, const void *body, size_t body_len, size_t pad)
{
    struct qsend *q;
    CHECK(head_len <= sizeof(q->head));
    CHECK(pad < 4);
    CHECK(head_len + body_len + pad <= MAX_DGRAM);
    CHECK(head_len == 0 || head != NULL);
    CHECK(body_len == 0 || body != NULL);
    if (F.nq == QCAP)
        flush();
    q = &F.q[F.nq++];
    q->worker = worker_of(ctx);
    q->handle = handle;
    q->dst = *dst;
    if (head_len)
        memcpy(q->head, head, head_len);
    q->head_len = head_len;
    q->body = body;
    q->body_len = body_len;
    q->pad = pad;
}

static bool mirror_same(const struct mirror *m, const struct turn_channel_info *ci)
{
    return xt_addr_equal(&m->client, ci->client) && xt_addr_equal(&m->local, ci->local) &&
           m->channel == ci->channel;
}

static bool is_open_relayed_addr(const struct xt_addr *a)
{
    for (int h = 0; h < NSOCK; h++)
        if (F.socks[h].open && xt_addr_equal(&F.socks[h].addr, a))
            return true;
    return false;
}

/* The peer rule: an allowed peer, or on the relay host another allocation's relayed address
 * that exists now (the relay or public address of its family, on a port with an open relay
 * socket other than from's own). */
static bool peer_ok(const struct xt_addr *peer, const struct xt_addr *from)
{
    int fam = peer->family == AF_INET6;
    enum peer_verdict v = peer_policy_check(&F.cfg.policy, &F.host, peer);

    if (v != PEER_SELF)
        return v == PEER_ALLOWED;
    if (!xt_addr_ip_equal(peer, &F.relay[fam]) &&
        !(F.pub[fam].family && xt_addr_ip_equal(peer, &F.pub[fam])))
        return false;
    if (peer->port == from->port)
        return false;
    for (int h = 0; h < NSOCK; h++)
        if (F.socks[h].open && F.socks[h].addr.family == peer->family &&
            F.socks[h].addr.port == peer->port)
            return true;
    return false;
}

static int io_channel_up(void *ctx, const struct turn_channel_info *ci)
{
    uint16_t hi = F.cfg.strict_channel_range ? 0x4FFF : 0x7FFF;
    (void)worker_of(ctx);
    CHECK(ci->channel >= 0x4000 && ci->channel <= hi);
    CHECK(ci->relayed->family == ci->peer->family);
    CHECK(is_open_relayed_addr(ci->relayed));
    CHECK(peer_ok(ci->peer, ci->relayed));
    if (F.mirror_overflow)
        return 0;
    for (size_t i = 0; i < F.nmirrors; i++)
        CHECK(!mirror_same(&F.mirrors[i], ci)); /* up twice without down */
    if (F.nmirrors == NMIRROR) {
        F.mirror_overflow = true;
        return 0;
    }
    F.mirrors[F.nmirrors++] =
        (struct mirror){*ci->client, *ci->local, *ci->peer, *ci->relayed, ci->channel};
    return 0;
}

static void io_channel_down(void *ctx, const struct turn_channel_info *ci)
{
    (void)worker_of(ctx);
    if (F.mirror_overflow)
        return;
    for (size_t i = 0; i < F.nmirrors; i++) {
        struct mirror *m = &F.mirrors[i];
        if (!mirror_same(m, ci))
            continue;
        CHECK(xt_addr_equal(&m->peer, ci->peer) && xt_addr_equal(&m->relayed, ci->relayed));
        *m = F.mirrors[--F.nmirrors];
        return;
    }
    CHECK(0); /* down without up */
}

/* ---- checking what the server sends ---- */

static int client_index(const struct xt_addr *a)
{
    for (int i = 0; i < 4; i++)
        if (xt_addr_equal(&F.clients[i], a))
            return i;
    return -1;
}

/* A response to a request the harness signed verifies with the key of one of the requests
 * that carried its transaction id (a retransmission may be answered from the cache). */
static void check_signed_by_request(const struct stun_msg *m)
{
    bool known = false, ok = false;
    for (size_t i = 0; i < F.nkeys && i < NKEYS; i++) {
        if (memcmp(F.keys[i].tid, m->tid, STUN_TID_LEN) != 0)
            continue;
        known = true;
        ok = ok || stun_check_integrity(m, F.keys[i].key, sizeof(F.keys[i].key));
    }
    CHECK(!known || ok);
}

/* Was a request with this transaction id delivered before? Then its response may come from
 * the cache and describe an allocation that is gone. */
static bool tid_seen(const uint8_t tid[STUN_TID_LEN])
{
    for (size_t i = 0; i < F.nseen && i < NSEEN; i++)
        if (memcmp(F.seen[i], tid, STUN_TID_LEN) == 0)
            return true;
    return false;
}

static void check_allocate_success(const struct stun_msg *m, const struct xt_addr *client)
{
    int relayed = 0;
    for (size_t i = 0; i < m->nattrs; i++) {
        const struct stun_attr *a = &m->attrs[i];
        struct xt_addr ad, bound;
        int fam;
        if (a->type != 0x0016)
            continue;
        CHECK(stun_attr_xor_addr(m, a, &ad) == 0);
        fam = ad.family == AF_INET6;
        bound = F.relay[fam];
        bound.port = ad.port;
        CHECK(F.retransmission || is_open_relayed_addr(&bound));
        if (F.pub[fam].family)
            CHECK(xt_addr_ip_equal(&ad, &F.pub[fam]));
        else
            CHECK(xt_addr_ip_equal(&ad, &F.relay[fam]));
        relayed++;
    }
    CHECK(relayed >= 1 && relayed <= 2);
    CHECK(stun_find(m, 0x000D) != NULL);
    {
        const struct stun_attr *tok = stun_find(m, 0x0022);
        struct xt_addr mapped;
        if (tok) {
            CHECK(tok->len == 8);
            memcpy(&F.token, tok->val, 8);
        }
        CHECK(stun_find(m, 0x0020) != NULL);
        CHECK(stun_attr_xor_addr(m, stun_find(m, 0x0020), &mapped) == 0);
        CHECK(xt_addr_equal(&mapped, client));
    }
}

/* A STUN message to a client. */
static void check_stun_to_client(int worker, const uint8_t *buf, size_t len,
                                 const struct xt_addr *dst, size_t body_len)
{
    struct stun_msg m;
    int ci = client_index(dst);

    CHECK(stun_parse(buf, len, &m) == STUN_OK);
    if (m.cls == STUN_INDICATION) {
        /* a Data indication: the peer and the payload (the body) */
        const struct stun_attr *d = stun_find(&m, 0x0013);
        struct xt_addr peer;
        CHECK(m.method == 0x007 && d != NULL && d->len == body_len);
        F.relayed[worker][TURN_TO_CLIENT]++;
        CHECK(stun_find(&m, 0x0012) != NULL);
        CHECK(stun_attr_xor_addr(&m, stun_find(&m, 0x0012), &peer) == 0);
        return;
    }
    CHECK(m.cls == STUN_SUCCESS || m.cls == STUN_ERROR);
    CHECK(m.fingerprint >= 0);
    if (m.cls == STUN_ERROR) {
        const struct stun_attr *e = stun_find(&m, 0x0009);
        const struct stun_attr *n = stun_find(&m, 0x0015);
        const uint8_t *reason;
        size_t rlen;
        int code;
        CHECK(e && stun_attr_error_code(e, &code, &reason, &rlen) == 0);
        if (code == 300) {
            /* Try Alternate: only while draining, to the alternate of the client's family */
            const struct stun_attr *alt = stun_find(&m, 0x8023);
            struct xt_addr want, got;
            CHECK(F.draining && m.method == 0x003 && alt != NULL);
            CHECK(xt_addr_parse(dst->family == AF_INET ? FT_ALTERNATE_V4 : FT_ALTERNATE_V6, 0,
                                &want) == 0);
            CHECK(stun_attr_addr(alt, &got) == 0 && xt_addr_equal(&got, &want));
        }
        if ((code == 401 || code == 438) && m.mi < 0 && m.mi256 < 0) {
            CHECK(n != NULL && stun_find(&m, 0x0014) != NULL);
            CHECK(n->len < sizeof(F.nonce[0]));
            if (ci >= 0) {
                memcpy(F.nonce[ci], n->val, n->len);
                F.nonce_len[ci] = n->len;
                F.nonce_unix[ci] = F.now.unix_s;
            }
        }
    } else if (m.method == 0x001) {
        struct xt_addr mapped;
        CHECK(stun_find(&m, 0x0020) != NULL);
        CHECK(stun_attr_xor_addr(&m, stun_find(&m, 0x0020), &mapped) == 0);
        CHECK(xt_addr_equal(&mapped, dst));
    } else {
        /* Success of an authenticated request: signed with its key. */
        CHECK(m.mi >= 0 || m.mi256 >= 0);
        check_signed_by_request(&m);
        if (m.method == 0x003) {
            check_allocate_success(&m, dst);
            CHECK(!F.draining || F.retransmission); /* no new allocation while draining */
        }
    }
}

struct loopback {
    int to;
    struct xt_addr from;
    size_t len;
    uint8_t *data;
};

static void flush(void)
{
    struct loopback lb[QCAP];
    size_t nlb = 0, nq = F.nq;

    F.nq = 0;
    for (size_t i = 0; i < nq; i++) {
        struct qsend *q = &F.q[i];
        uint8_t *buf = F.scratch;
        size_t len = q->head_len + q->body_len + q->pad;

        memcpy(buf, q->head, q->head_len);
        if (q->body_len)
            memcpy(buf + q->head_len, q->body, q->body_len); /* the body must still be valid */
        memset(buf + q->head_len + q->body_len, 0, q->pad);
        trace_send(q, buf, len);

        if (is_listen_handle(q->handle)) {
            int fam6 = q->handle >= FT_LISTEN_HANDLE(1, 0);
            CHECK(client_index(&q->dst) >= 0);
            CHECK(q->dst.family == (fam6 ? AF_INET6 : AF_INET));
            if (len > 0 && (buf[0] & 0xC0) == 0x40) {
                F.relayed[q->worker][TURN_TO_CLIENT]++;
                uint16_t ch;
                const uint8_t *p;
                size_t plen;
                uint16_t hi = F.cfg.strict_channel_range ? 0x4FFF : 0x7FFF;
                CHECK(q->head_len == 4 && q->pad == 0);
                CHECK(channeldata_parse(buf, len, &ch, &p, &plen) == 0);
                CHECK(plen == q->body_len && ch >= 0x4000 && ch <= hi);
            } else {
                check_stun_to_client(q->worker, buf, len, &q->dst, q->body_len);
            }
            continue;
        }
        /* to a peer, from a relay socket */
        CHECK(q->handle >= 0 && q->handle < NSOCK && F.socks[q->handle].open);
        CHECK(F.socks[q->handle].worker == q->worker);
        CHECK(q->head_len == 0 && q->pad == 0);
        CHECK(q->dst.family == F.socks[q->handle].addr.family);
        CHECK(peer_ok(&q->dst, &F.socks[q->handle].addr));
        F.relayed[q->worker][TURN_TO_PEER]++;
        for (int h = 0; h < NSOCK && nlb < QCAP; h++) {
            if (!F.socks[h].open || !xt_addr_equal(&F.socks[h].addr, &q->dst))
                continue;
            lb[nlb].to = h;
            lb[nlb].from = F.socks[q->handle].addr;
            lb[nlb].len = len;
            lb[nlb].data = malloc(len ? len : 1);
            CHECK(lb[nlb].data);
            memcpy(lb[nlb].data, buf, len);
            nlb++;
        }
    }
    /* Client to client: what one relay socket sent another arrives there. That only sends to
     * clients, so this recursion ends. */
    for (size_t i = 0; i < nlb; i++) {
        if (F.socks[lb[i].to].open) {
            turn_on_peer(F.w[F.socks[lb[i].to].worker].s, &F.now, F.socks[lb[i].to].owner,
                         &lb[i].from, lb[i].data, lb[i].len);
            flush();
        }
        free(lb[i].data);
    }
}

/* ---- driving the server ---- */

/* Which worker serves a client: the same one every time, as SO_REUSEPORT does. */
static struct turn_server *server_of(int ci)
{
    return F.w[F.nworkers == 2 ? ci & 1 : 0].s;
}

static void deliver_client(int ci, int second, const uint8_t *data, size_t len)
{
    int fam6 = F.clients[ci].family == AF_INET6;
    uint8_t *copy = malloc(len ? len : 1); /* exactly sized: ASan sees any overread */

    CHECK(copy);
    memcpy(copy, data, len);
    F.retransmission = false;
    if (stun_is_message(data, len)) {
        F.retransmission = tid_seen(data + 8);
        if (!F.retransmission)
            memcpy(F.seen[F.nseen++ % NSEEN], data + 8, STUN_TID_LEN);
    }
    turn_on_client(server_of(ci), &F.now, TURN_UDP, FT_LISTEN_HANDLE(fam6, second),
                   &F.listen[fam6 * 2 + second], &F.clients[ci], copy, len);
    flush();
    free(copy);
}

static void client_datagram(int ci, int second, const uint8_t *data, size_t len)
{
    free(F.last);
    F.last = malloc(len ? len : 1);
    CHECK(F.last);
    memcpy(F.last, data, len);
    F.last_len = len;
    F.last_client = ci;
    F.last_second = second;
    deliver_client(ci, second, data, len);
}

static void new_tid(uint8_t tid[STUN_TID_LEN])
{
    fuzz_tid(tid, 0xf2, ++F.tid_counter);
}

/* The peer of index i: static, or the address of the (i - FT_PEER_DYNAMIC)-th open relay
 * socket (modulo how many are open). */
static void resolve_peer(unsigned i, struct xt_addr *out)
{
    int n = open_sockets(), k;
    i &= 15;
    if (i < FT_PEER_DYNAMIC || n == 0) {
        CHECK(xt_addr_parse(ft_peers[i % FT_PEER_DYNAMIC], 3478, out) == 0);
        return;
    }
    k = (int)(i - FT_PEER_DYNAMIC) % n;
    for (int h = 0; h < NSOCK; h++)
        if (F.socks[h].open && k-- == 0) {
            *out = F.socks[h].addr;
            return;
        }
}

static void fetch_nonce(int ci, int second)
{
    uint8_t buf[64], tid[STUN_TID_LEN];

    new_tid(tid);
    deliver_client(ci, second, buf, fuzz_unsigned_allocate(buf, tid, TURN_TRANSPORT_UDP));
}

/* FT_MACRO_TOKEN in a signed request (fuzz_add_tlvs does FT_MACRO_PEER). */
static bool add_macro(struct stun_builder *b, uint16_t type, uint8_t arg)
{
    (void)arg;
    if (type != FT_MACRO_TOKEN)
        return false;
    stun_add_attr(b, 0x0022, &F.token, sizeof(F.token));
    return true;
}

static void signed_request(int ci, int second, const uint8_t *body, size_t len)
{
    uint8_t key[16], tid[STUN_TID_LEN];
    struct stun_builder b;
    char user[64];
    unsigned method_i, user_i, integ, flags;
    const char *secret;
    int n;

    if (len < 2)
        return;
    method_i = body[0] & FT_SIG_METHOD;
    user_i = (body[0] & FT_SIG_USER) >> 3;
    secret = body[0] & FT_SIG_SECRET2 ? FT_REST_SECRET2 : FT_REST_SECRET;
    integ = (body[0] & FT_SIG_INTEGRITY) >> 5;
    flags = body[1];
    fuzz_credentials(user_i, F.now.unix_s + (flags & FT_SIG_EXPIRED ? -5 : 3600), secret,
                     flags & FT_SIG_WRONG_PASSWORD, user, key);

    /* a nonce for this client, fresh enough */
    if (!F.nonce_len[ci] || F.now.unix_s - F.nonce_unix[ci] >= 600)
        fetch_nonce(ci, second);

    if (flags & FT_SIG_REUSE_TID && F.have_tid)
        memcpy(tid, F.tid, STUN_TID_LEN);
    else
        new_tid(tid);
    memcpy(F.tid, tid, STUN_TID_LEN);
    F.have_tid = true;

    stun_build_init(&b, F.scratch2, MAX_DGRAM + 64, ft_methods[method_i],
                    flags & FT_SIG_INDICATION ? STUN_INDICATION : STUN_REQUEST, tid);
    fuzz_add_tlvs(&b, body + 2, len - 2, resolve_peer, add_macro);
    if (!(flags & FT_SIG_NO_USERNAME))
        stun_add_attr(&b, 0x0006, user, strlen(user));
    if (flags & FT_SIG_BAD_REALM)
        stun_add_attr(&b, 0x0014, "xturm", 5);
    else
        stun_add_attr(&b, 0x0014, FT_REALM, strlen(FT_REALM));
    if (flags & FT_SIG_BAD_NONCE)
        stun_add_attr(&b, 0x0015, "00000000deadbeefdeadbeef", 24);
    else
        stun_add_attr(&b, 0x0015, F.nonce[ci], F.nonce_len[ci]);
    if (integ == 0 || integ == 2)
        stun_add_integrity(&b, key, sizeof(key));
    if (integ == 1 || integ == 2)
        stun_add_integrity_sha256(&b, key, sizeof(key));
    if (flags & FT_SIG_FINGERPRINT)
        stun_add_fingerprint(&b);
    n = stun_finish(&b);
    if (n < 0)
        return;
    memcpy(F.keys[F.nkeys % NKEYS].tid, tid, STUN_TID_LEN);
    memcpy(F.keys[F.nkeys % NKEYS].key, key, 16);
    F.nkeys++;
    client_datagram(ci, second, F.scratch2, (size_t)n);
}

static void channel_data(int ci, int second, uint8_t kind, uint8_t arg, const uint8_t *body,
                         size_t len)
{
    size_t pad = (kind >> 3) & 3;
    uint8_t *buf = F.scratch2;
    if (len > 0xFFFF - 1)
        len = 0xFFFF - 1;
    channeldata_header(buf, (uint16_t)(0x4000 + (arg >> 3)), len + (kind & 0x20 ? 1 : 0));
    memcpy(buf + 4, body, len);
    memset(buf + 4 + len, 0, pad);
    client_datagram(ci, second, buf, 4 + len + pad);
}

static void send_indication(int ci, int second, uint8_t kind, uint8_t arg, const uint8_t *body,
                            size_t len)
{
    uint8_t tid[STUN_TID_LEN];
    struct stun_builder b;
    struct xt_addr peer;
    int n;

    new_tid(tid);
    resolve_peer(arg >> 4, &peer);
    stun_build_init(&b, F.scratch2, MAX_DGRAM + 64, 0x006, STUN_INDICATION, tid);
    stun_add_xor_addr(&b, 0x0012, &peer);
    if (!(kind & 0x10))
        stun_add_attr(&b, 0x0013, body, len);
    if (kind & 0x08)
        stun_add_fingerprint(&b);
    n = stun_finish(&b);
    if (n > 0)
        client_datagram(ci, second, F.scratch2, (size_t)n);
}

static void from_peer(uint8_t arg, const uint8_t *body, size_t len)
{
    int n = open_sockets(), k, h;
    struct xt_addr peer;
    uint8_t *copy;

    if (n == 0)
        return;
    k = (arg & 15) % n;
    for (h = 0; h < NSOCK; h++)
        if (F.socks[h].open && k-- == 0)
            break;
    resolve_peer(arg >> 4, &peer);
    if (peer.family != F.socks[h].addr.family)
        return; /* a socket only hears its own family */
    copy = malloc(len ? len : 1);
    CHECK(copy);
    memcpy(copy, body, len);
    turn_on_peer(F.w[F.socks[h].worker].s, &F.now, F.socks[h].owner, &peer, copy, len);
    flush();
    free(copy);
}

static void advance(uint8_t arg, uint16_t amount)
{
    fuzz_advance(&F.now, arg, amount, F.w, F.nworkers);
    flush();
}

/* Live counters against the sockets: every allocation holds one or two relay sockets. */
static void check_counters(void)
{
    uint64_t channels = 0;
    for (int i = 0; i < F.nworkers; i++) {
        const struct turn_counters *c = turn_server_counters(F.w[i].s);
        uint64_t open[2] = {0, 0};
        for (int h = 0; h < NSOCK; h++)
            if (F.socks[h].open && F.socks[h].worker == i)
                open[F.socks[h].addr.family == AF_INET6]++;
        CHECK(c->allocations <= open[0] + open[1] && open[0] + open[1] <= 2 * c->allocations);
        for (int fam = 0; fam < 2; fam++)
            CHECK(c->family[fam].relayed_addrs == open[fam]);
        for (int dir = 0; dir < 2; dir++)
            CHECK(turn_counters_relayed(c, dir) == F.relayed[i][dir]);
        channels += turn_counters_channels(c);
        CHECK(turn_counters_permissions(c) <= c->allocations * F.cfg.max_permissions);
        CHECK(turn_counters_channels(c) <= c->allocations * F.cfg.max_channels);
    }
    CHECK(channels >= (F.mirror_overflow ? 0 : F.nmirrors));
}

/* The host's addresses: the relay's, and FT_HOST_TOGGLED when on. */
static void set_host(bool toggled)
{
    struct xt_addr a[3] = {F.relay[0], F.relay[1]};
    size_t n = 2;

    if (toggled)
        CHECK(xt_addr_parse_ip(FT_HOST_TOGGLED, &a[n++]) == 0);
    addr_set_free(&F.host);
    CHECK(addr_set_init(&F.host, a, n) == 0);
    CHECK(turn_shared_set_host_addrs(F.shared, a, n) == 0);
    F.host_toggled = toggled;
}

static void control(uint8_t arg, uint16_t field)
{
    static char s1[] = FT_REST_SECRET, s2[] = FT_REST_SECRET2;
    char *lists[4][2] = {{s2, s1}, {s2, NULL}, {s1, NULL}, {NULL, NULL}};
    size_t counts[4] = {2, 1, 1, 0};

    switch (arg & 7) {
    case FT_CTL_BUSY:
        F.busy[field % NPORTS] = !F.busy[field % NPORTS];
        return;
    case FT_CTL_DRAIN:
        if (F.shared) {
            F.draining = !F.draining;
            turn_shared_set_draining(F.shared, F.draining);
            CHECK(turn_shared_draining(F.shared) == F.draining);
        }
        return;
    case FT_CTL_SECRETS21:
    case FT_CTL_SECRET2:
    case FT_CTL_SECRET1:
    case FT_CTL_NO_SECRET:
        if (F.shared)
            CHECK(turn_shared_set_secrets(F.shared, lists[(arg & 7) - 2], counts[(arg & 7) - 2]) ==
                  0);
        return;
    case FT_CTL_HOST:
        if (F.shared)
            set_host(!F.host_toggled);
        return;
    default:
        return;
    }
}

/* ---- configuration ---- */

static void parse_addr(const char *s, struct xt_addr *a)
{
    CHECK(xt_addr_parse(s, 3478, a) == 0);
}

static void setup(uint8_t conf, uint8_t conf2)
{
    struct turn_config *c = &F.cfg;
    static struct xt_addr self[6];
    static struct cidr deny[1];
    struct turn_io io = {.ctx = NULL,
                         .relayed_open = io_relayed_open,
                         .relayed_close = io_relayed_close,
                         .send = io_send,
                         .random = fuzz_random,
                         .channel_up = io_channel_up,
                         .channel_down = io_channel_down};
    uint8_t *scratch = F.scratch, *scratch2 = F.scratch2;

    memset(&F, 0, sizeof(F));
    F.scratch = scratch;
    F.scratch2 = scratch2;
    fuzz_random_reset();
    drain_log(); /* lines of the previous input are checked in its format */
    log_text = conf & FT_CFG_LOG_TEXT;
    log_setup((enum log_level)(conf & FT_CFG_LOG_LEVEL),
              conf & FT_CFG_LOG_TEXT ? LOG_TEXT : LOG_JSON);

    for (int i = 0; i < 4; i++)
        parse_addr(ft_clients[i], &F.clients[i]);
    parse_addr(FT_LISTEN_V4, &F.listen[0]);
    parse_addr("198.18.3.3:3478", &F.listen[1]);
    parse_addr(FT_LISTEN_V6, &F.listen[2]);
    parse_addr("[2001:db8:3::3]:3478", &F.listen[3]);
    CHECK(xt_addr_parse_ip(FT_RELAY_V4, &F.relay[0]) == 0);
    if (!(conf & FT_CFG_NO_IPV6))
        CHECK(xt_addr_parse_ip(FT_RELAY_V6, &F.relay[1]) == 0);
    if (conf & FT_CFG_PUBLIC) {
        CHECK(xt_addr_parse_ip(FT_PUBLIC_V4, &F.pub[0]) == 0);
        CHECK(xt_addr_parse_ip(FT_PUBLIC_V6, &F.pub[1]) == 0);
    }

    fuzz_turn_config(c);
    c->relay_v4 = F.relay[0];
    c->relay_v6 = F.relay[1];
    c->public_v4 = F.pub[0];
    c->public_v6 = F.pub[1];
    c->strict_channel_range = conf & FT_CFG_STRICT_CHANNELS;
    c->max_allocations = conf & FT_CFG_MAX_ALLOCS ? 3 : 0;
    c->user_quota = conf & FT_CFG_USER_QUOTA ? 2 : 0;
    c->unauth_rate = 20;
    c->unauth_burst = 100;
    c->max_bps = conf2 & FT_CFG2_MAX_BPS ? FT_MAX_BPS : 0;
    if (conf2 & FT_CFG2_ALTERNATE) {
        parse_addr(FT_ALTERNATE_V4, &c->alternate_v4);
        parse_addr(FT_ALTERNATE_V6, &c->alternate_v6);
    }

    /* the daemon's: listen and relay addresses are "self"; the operator denies one peer */
    for (int i = 0; i < 4; i++)
        self[i] = F.listen[i];
    self[4] = F.relay[0];
    self[5] = F.relay[1].family ? F.relay[1] : F.relay[0];
    CHECK(cidr_parse("198.18.20.3/32", &deny[0]) == 0);
    c->policy.self = self;
    c->policy.nself = 6;
    c->policy.deny = deny;
    c->policy.ndeny = 1;
    c->max_permissions = 6;
    c->max_channels = 4;

    F.now.ms = FT_START_MS;
    F.now.unix_s = FT_START_UNIX_S;
    F.nworkers = conf2 & FT_CFG2_WORKERS ? 2 : 1;
    if (F.nworkers == 2 || !(conf2 & FT_CFG2_PRIVATE)) {
        F.shared = turn_shared_new(c, &fuzz_random);
        CHECK(F.shared != NULL);
        set_host(false);
    }
    fuzz_servers_new(F.w, F.nworkers, c, io, &F.now, F.shared);
}

static void teardown(void)
{
    fuzz_servers_free(F.w, F.nworkers, F.shared);
    addr_set_free(&F.host);
    flush();
    CHECK(open_sockets() == 0);
    CHECK(F.mirror_overflow || F.nmirrors == 0);
    free(F.last);
    F.last = NULL;
}

/* Strict UTF-8 (no overlong forms, surrogates or code points beyond U+10FFFF). */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint32_t cp;
    size_t len;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, cp = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, cp = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, cp = p[0] & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static void check_log_line(const uint8_t *p, size_t n)
{
    size_t quotes = 0;
    CHECK(n > 0);
    if (!log_text)
        CHECK(p[0] == '{' && p[n - 1] == '}');
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(p + i, n - i);
        CHECK(l > 0);
        CHECK(p[i] >= 0x20 && p[i] != 0x7f);
        if (p[i] == '\\') {
            CHECK(i + 1 < n);
            i += 2; /* an escape: the next character is not a quote */
        } else {
            quotes += p[i] == '"';
            i += l;
        }
    }
    if (!log_text)
        CHECK(quotes % 2 == 0);
}

/* Reads what the server logged since the last call and checks every complete line. */
static void drain_log(void)
{
    ssize_t r;
    if (log_fd < 0)
        return;
    while ((r = read(log_fd, log_buf + log_len, sizeof(log_buf) - log_len)) > 0) {
        size_t start = 0;
        log_len += (size_t)r;
        for (size_t i = 0; i < log_len; i++) {
            if (log_buf[i] != '\n')
                continue;
            check_log_line((const uint8_t *)log_buf + start, i - start);
            log_lines++;
            start = i + 1;
        }
        memmove(log_buf, log_buf + start, log_len - start);
        log_len -= start;
        CHECK(log_len < sizeof(log_buf)); /* a line longer than any the logger writes */
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    F.scratch = malloc(MAX_DGRAM + 64);
    F.scratch2 = malloc(MAX_DGRAM + 64);
    CHECK(F.scratch && F.scratch2);
    /* The log goes to stdout: away, unless asked for (reproducing a crash). */
    keep_stdout = getenv("FUZZ_LOG") != NULL;
    trace = getenv("FUZZ_TRACE") != NULL;
    if (!keep_stdout) {
        int p[2];
        CHECK(pipe(p) == 0);
        CHECK(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0 && fcntl(p[1], F_SETFL, O_NONBLOCK) == 0);
        fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
        dup2(p[1], STDOUT_FILENO);
        close(p[1]);
        log_fd = p[0];
    }
    return 0;
}

/* One record of the input, then the counters and the log checked. */
static void on_record(const struct fuzz_record *r)
{
    int ci = r->arg & FT_ARG_CLIENT, second = (r->arg & FT_ARG_LISTEN2) != 0;

    switch (r->kind & 7) {
    case FT_RAW:
        client_datagram(ci, second, r->body, r->len);
        break;
    case FT_SIGNED:
        signed_request(ci, second, r->body, r->len);
        break;
    case FT_PEER:
        from_peer(r->arg, r->body, r->len);
        break;
    case FT_TIME:
        advance(r->arg, r->field);
        break;
    case FT_CHANNELDATA:
        channel_data(ci, second, r->kind, r->arg, r->body, r->len);
        break;
    case FT_SEND:
        send_indication(ci, second, r->kind, r->arg, r->body, r->len);
        break;
    case FT_CONTROL:
        control(r->arg, r->field);
        break;
    default:
        if (F.last)
            deliver_client(F.last_client, F.last_second, F.last, F.last_len);
        break;
    }
    check_counters();
    drain_log();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < FT_CONFIG_LEN)
        return 0;
    setup(data[0], data[1]);
    fuzz_records(data, size, FT_CONFIG_LEN, FT_BODY_KINDS, MAX_RECS, trace, on_record);
    teardown();
    drain_log();
    if (trace)
        fprintf(stderr, "log lines checked so far: %zu\n", log_lines);
    return 0;
}
