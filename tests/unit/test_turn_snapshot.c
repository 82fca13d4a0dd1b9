/* The live upgrade's state (src/turn/turn_snapshot*.c, docs/UPGRADE_STATE.md). A server with
 * allocations of every kind (UDP, TCP, TLS, DTLS clients, both families, a dual allocation, an
 * RFC 6062 TCP allocation, an EVEN-PORT reservation, permissions, channels, cached responses)
 * is captured at T, encoded, decoded and restored into a fresh server at T + 25 s: requests,
 * data and retransmissions work there, lifetimes ran on by 25 s, what expired in between is gone,
 * counters carry on. What cannot travel is left out. Inputs that are truncated, corrupt, of
 * another major version, out of order or inconsistent are refused with nothing restored;
 * records and fields of a later minor version are skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "bpf/xdp_shared.h"
#include "turn/turn_shared.h"
#include "turn/turn_snapshot.h"
#include "turn_mock.h"

#define GAP_MS     25000 /* between capture and restore */
#define MOVED      100   /* a client's handle in the new process: the old one + MOVED */
#define HEADER_LEN 20

/* A client of the test: transport, listen handle (streams and DTLS: the client's own),
 * addresses, and the nonce it holds. */
struct client {
    enum turn_transport transport;
    int listen;
    const char *addr, *local;
    char nonce[64];
    size_t nonce_len;
};

enum { A, B, C, D, E, F, G, H, I, J, NCLIENTS };

static const struct client clients[NCLIENTS] = {
    [A] = {TURN_UDP, MOCK_LISTEN, "198.18.1.2:40000", "198.18.3.2:3478", "", 0},
    [B] = {TURN_UDP, MOCK_LISTEN + 1, "[2001:db8:1::2]:40001", "[2001:db8:3::2]:3478", "", 0},
    [C] = {TURN_TCP, 2001, "198.18.1.3:40002", "198.18.3.2:3478", "", 0},
    [D] = {TURN_TCP, 2002, "198.18.1.3:40003", "198.18.3.2:3478", "", 0},
    [E] = {TURN_TLS, 2003, "198.18.1.4:40004", "198.18.3.2:5349", "", 0},
    [F] = {TURN_DTLS, 2004, "[2001:db8:1::5]:40005", "[2001:db8:3::2]:5349", "", 0},
    [G] = {TURN_UDP, MOCK_LISTEN, "198.18.1.6:40006", "198.18.3.2:3478", "", 0},
    [H] = {TURN_UDP, MOCK_LISTEN, "198.18.1.7:40007", "198.18.3.2:3478", "", 0},
    [I] = {TURN_UDP, MOCK_LISTEN, "198.18.1.8:40008", "198.18.3.2:3478", "", 0},
    [J] = {TURN_UDP, MOCK_LISTEN, "198.18.1.9:40009", "198.18.3.2:3478", "", 0},
};

struct fixture {
    struct mock old, new;
    struct turn_shared *old_sh, *new_sh;
    struct client cl[NCLIENTS];
    /* the fd array: the old process's handles, by index */
    int fds[64];
    size_t nfds;
    bool refuse_tls; /* export: TLS and DTLS clients do not travel */
    int stays[8];    /* export: the client handles of allocations that stay */
    size_t nstays;
    int imports_left; /* import: relayed sockets that can still be imported (-1: all) */
    struct xt_addr p1, p2, pb6, pb4, pc, pd, pe;
    struct xt_addr relayed_a, relayed_e, relayed_f;
    uint16_t even_port;
    uint8_t token[8];
    uint8_t h_req[MOCK_REQ_MAX], h_resp[TXCACHE_MAX_RESP];
    size_t h_req_len, h_resp_len;
    struct turn_snapshot snap;
    uint8_t *bytes;
    size_t len;
};

static const uint8_t hello[5] = {'h', 'e', 'l', 'l', 'o'};

/* ---- the clients ---- */

static void as(struct mock *m, struct client *c)
{
    m->transport = c->transport;
    m->listen = c->listen;
    mock_addr(&m->client, c->addr);
    mock_addr(&m->local, c->local);
    memcpy(m->nonce, c->nonce, sizeof(m->nonce));
    m->nonce_len = c->nonce_len;
}

/* After an exchange as c: c keeps the nonce it was given. */
static int kept(struct mock *m, struct client *c, int code)
{
    memcpy(c->nonce, m->nonce, sizeof(c->nonce));
    c->nonce_len = m->nonce_len;
    return code;
}

#define AS(m, c, exchange) (as(m, c), kept(m, c, (exchange)))

/* An Allocate for transport with one more attribute (type 0: none): its code. */
static int allocate(struct mock *m, uint8_t transport, uint16_t type, const void *val, size_t len)
{
    uint8_t buf[MOCK_REQ_MAX], rt[4] = {transport};
    struct stun_builder b;

    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, rt, 4);
    if (type)
        stun_add_attr(&b, type, val, len);
    mock_from_client(m, buf, mock_sign(m, &b));
    return mock_last_code(m);
}

static const struct stun_attr *last_attr(struct mock *m, uint16_t type, struct stun_msg *r)
{
    mock_last_response(m, r);
    return stun_find(r, type);
}

/* The handle of m's open socket bound to addr. */
static int sock_at(const struct mock *m, const struct xt_addr *addr)
{
    for (int h = 0; h < MOCK_MAX_SOCKS; h++)
        if (m->socks[h].open && !m->socks[h].conn && xt_addr_equal(&m->socks[h].addr, addr))
            return h;
    fail_msg("no socket bound there");
    return -1;
}

/* ---- the old process's state ---- */

/* Allocations of every kind, and what happens to each:
 *   I (UDP)        allocated at t=0, expires in the gap;
 *   A (UDP, IPv4)  at t=285: permissions for p2 (expires in the gap) and p1, channel 0x4001 to
 *                  p1 (bound at t=575), a datagram relayed;
 *   B (UDP, IPv6)  dual allocation, channels to an IPv6 and an IPv4 peer;
 *   C (TCP)        UDP allocation with a channel;   D (TCP) RFC 6062 TCP allocation, permission;
 *   E (TLS)        allocation, permission;           F (DTLS, IPv6) IPv6 allocation;
 *   H (UDP)        allocated, then Refresh(0): its response is cached;
 *   G (UDP)        EVEN-PORT with R, at t=580: the next port reserved.
 * T = t0 + 580 s; the restore comes at T + 25 s. */
static void build(struct fixture *f)
{
    struct mock *m = &f->old;
    struct client *cl = f->cl;
    uint8_t v6[4] = {TURN_FAMILY_IPV6}, r_bit = 0x80, cd[16];
    struct stun_builder b;
    struct stun_msg r;
    struct xt_addr even;

    f->old_sh = turn_shared_new(&m->cfg, &m->random);
    assert_non_null(f->old_sh);
    mock_start_shared(m, f->old_sh);
    mock_addr(&f->p1, "198.18.2.2:3480");
    mock_addr(&f->p2, "198.18.2.9:3480");
    mock_addr(&f->pb6, "[2001:db8:2::2]:3480");
    mock_addr(&f->pb4, "198.18.2.3:3480");
    mock_addr(&f->pc, "198.18.2.4:3480");
    mock_addr(&f->pd, "198.18.2.5:5000");
    mock_addr(&f->pe, "198.18.2.6:3480");

    assert_int_equal(AS(m, &cl[I], mock_allocate(m, 0, NULL)), 0);
    mock_advance(m, 285000);
    assert_int_equal(AS(m, &cl[A], mock_allocate(m, 0, &f->relayed_a)), 0);
    assert_int_equal(AS(m, &cl[A], mock_create_permission(m, &f->p2)), 0);
    mock_advance(m, 290000);
    assert_int_equal(AS(m, &cl[A], mock_channel_bind(m, 0x4001, &f->p1)), 0);
    as(m, &cl[A]);
    assert_int_equal(mock_from_client(m, cd, mock_channeldata(cd, 0x4001, hello, 5, 0)), 1);

    assert_int_equal(
        AS(m, &cl[B], allocate(m, TURN_TRANSPORT_UDP, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY, v6, 4)),
        0);
    assert_int_equal(AS(m, &cl[B], mock_channel_bind(m, 0x4001, &f->pb6)), 0);
    assert_int_equal(AS(m, &cl[B], mock_channel_bind(m, 0x4002, &f->pb4)), 0);
    assert_int_equal(AS(m, &cl[C], mock_allocate(m, 0, NULL)), 0);
    assert_int_equal(AS(m, &cl[C], mock_channel_bind(m, 0x4003, &f->pc)), 0);
    assert_int_equal(AS(m, &cl[D], allocate(m, TURN_TRANSPORT_TCP, 0, NULL, 0)), 0);
    assert_int_equal(AS(m, &cl[D], mock_create_permission(m, &f->pd)), 0);
    assert_int_equal(AS(m, &cl[E], mock_allocate(m, 0, &f->relayed_e)), 0);
    assert_int_equal(AS(m, &cl[E], mock_create_permission(m, &f->pe)), 0);
    assert_int_equal(AS(m, &cl[F], mock_allocate(m, TURN_FAMILY_IPV6, &f->relayed_f)), 0);

    assert_int_equal(AS(m, &cl[H], mock_allocate(m, 0, NULL)), 0);
    as(m, &cl[H]);
    mock_req(m, &b, f->h_req, sizeof(f->h_req), TURN_REFRESH);
    stun_add_u32(&b, TURN_ATTR_LIFETIME, 0);
    f->h_req_len = mock_sign(m, &b);
    kept(m, &cl[H], 0);
    assert_int_equal(mock_from_client(m, f->h_req, f->h_req_len), 1);
    assert_int_equal(mock_last_code(m), 0);
    f->h_resp_len = m->sent[m->nsent - 1].len;
    memcpy(f->h_resp, m->sent[m->nsent - 1].data, f->h_resp_len);

    mock_advance(m, 5000);
    assert_int_equal(AS(m, &cl[G], allocate(m, TURN_TRANSPORT_UDP, TURN_ATTR_EVEN_PORT, &r_bit, 1)),
                     0);
    memcpy(f->token, last_attr(m, TURN_ATTR_RESERVATION_TOKEN, &r)->val, 8);
    assert_int_equal(stun_attr_xor_addr(&r, stun_find(&r, TURN_ATTR_XOR_RELAYED_ADDRESS), &even),
                     0);
    f->even_port = even.port;
    assert_int_equal(m->mirrored, 4); /* A's, B's two, C's */
}

static int export_index(void *ctx, int handle, bool relayed, bool take)
{
    struct fixture *f = ctx;

    (void)relayed;
    if (f->refuse_tls && (handle == f->cl[E].listen || handle == f->cl[F].listen))
        return -1;
    for (size_t i = 0; i < f->nfds; i++)
        if (f->fds[i] == handle)
            return (int)i;
    if (!take)
        return 0;
    assert_true(f->nfds < sizeof(f->fds) / sizeof(f->fds[0]));
    f->fds[f->nfds] = handle;
    return (int)f->nfds++;
}

static void stays(void *ctx, int handle)
{
    struct fixture *f = ctx;

    assert_true(f->nstays < sizeof(f->stays) / sizeof(f->stays[0]));
    f->stays[f->nstays++] = handle;
}

static int import_client(void *ctx, uint32_t index)
{
    struct fixture *f = ctx;
    return index < f->nfds ? f->fds[index] + MOVED : -1;
}

static int import_relayed(void *ctx, uint32_t index, const struct xt_addr *addr, bool tcp,
                          void *owner)
{
    struct fixture *f = ctx;
    const struct mock_sock *old;

    if (f->imports_left == 0 || index >= f->nfds)
        return -1;
    if (f->imports_left > 0)
        f->imports_left--;
    /* The index names the socket the old server had bound there. */
    old = &f->old.socks[f->fds[index]];
    assert_true(old->open && !old->conn);
    assert_true(xt_addr_equal(&old->addr, addr));
    assert_int_equal(old->tcp, tcp);
    return mock_sock_adopt(&f->new, addr, tcp, owner);
}

/* Captures the old server at its now, into f->snap and f->bytes. */
static void capture(struct fixture *f)
{
    struct turn_snapshot_export ex = {.ctx = f, .sock_index = export_index, .stays = stays};

    assert_int_equal(turn_snapshot_capture_shared(&f->snap, f->old_sh, &f->old.now), 0);
    assert_int_equal(turn_snapshot_capture_server(&f->snap, f->old.s, &f->old.now, &ex), 0);
    f->snap.xdp_abi = XT_ABI_VERSION;
    assert_int_equal(turn_snapshot_encode(&f->snap, &f->bytes, &f->len), 0);
}

/* The new process: its own randomness (another nonce key until restored), GAP_MS later. */
static void start_new(struct fixture *f)
{
    struct mock *n = &f->new;

    n->random_state = 0x5eed;
    n->now.ms = f->old.now.ms + GAP_MS;
    n->now.unix_s = f->old.now.unix_s + GAP_MS / 1000;
    f->new_sh = turn_shared_new(&n->cfg, &n->random);
    assert_non_null(f->new_sh);
    mock_start_shared(n, f->new_sh);
}

/* Decodes f->bytes and restores them into the new process: 0 or -1, err the reason. */
static int restore(struct fixture *f, char *err, size_t errlen)
{
    struct turn_snapshot_import im = {
        .ctx = f, .client_handle = import_client, .relayed_handle = import_relayed};
    struct turn_snapshot snap;
    int rc;

    assert_int_equal(turn_snapshot_decode(f->bytes, f->len, &snap, err, errlen), 0);
    rc = turn_snapshot_restore_shared(&snap, f->new_sh, &f->new.now, err, errlen);
    if (rc == 0)
        rc = turn_snapshot_restore_server(&snap, 0, f->new.s, &f->new.now, &im, err, errlen);
    turn_snapshot_free(&snap);
    return rc;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    mock_setup(&f->old);
    mock_setup(&f->new);
    memcpy(f->cl, clients, sizeof(clients));
    f->imports_left = -1;
    build(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    turn_snapshot_free(&f->snap);
    free(f->bytes);
    mock_teardown(&f->new);
    mock_teardown(&f->old);
    turn_shared_free(f->new_sh);
    turn_shared_free(f->old_sh);
    free(f);
    return 0;
}

static const struct turn_snapshot_alloc *alloc_of(const struct turn_snapshot *s, const char *c)
{
    struct xt_addr client;

    mock_addr(&client, c);
    for (size_t i = 0; i < s->servers[0].nallocs; i++)
        if (xt_addr_equal(&s->servers[0].allocs[i].client, &client))
            return &s->servers[0].allocs[i];
    return NULL;
}

static int no_export(void *ctx, int handle, bool relayed, bool take)
{
    (void)ctx;
    (void)handle;
    (void)relayed;
    (void)take;
    return 0;
}

/* ---- restored, it carries on ---- */

static void restored_state_ran_on_by_the_gap(void **state)
{
    struct fixture *f = *state;
    struct turn_snapshot_export ex = {.sock_index = no_export};
    struct turn_snapshot again;
    const struct turn_snapshot_alloc *was, *is;
    const uint8_t *key;
    size_t keylen;
    char err[256] = "";

    capture(f);
    start_new(f);
    key = turn_shared_nonce_key(f->new_sh, &keylen);
    assert_memory_not_equal(key, f->snap.nonce_key, keylen);
    assert_int_equal(restore(f, err, sizeof(err)), 0);
    assert_memory_equal(key, f->snap.nonce_key, keylen);

    /* Every allocation but I (expired in the gap) and H (deleted): 8 relayed sockets (B has two),
     * the channels of UDP, TCP and DTLS clients mirrored again. */
    assert_int_equal(turn_shared_allocations(f->new_sh), 7);
    assert_int_equal(mock_open_sockets(&f->new), 8);
    assert_int_equal(f->new.mirrored, 4);
    assert_int_equal(turn_shared_ports_free(f->new_sh, 0),
                     turn_shared_ports_free(f->old_sh, 0) + 1);
    assert_int_equal(turn_shared_ports_free(f->new_sh, 1), turn_shared_ports_free(f->old_sh, 1));
    assert_true(turn_shared_port_bound(f->new_sh, true, 0,
                                       alloc_of(&f->snap, clients[D].addr)->relayed[0].port));

    /* Captured again now: every remaining time is the old one less the gap. */
    assert_int_equal(turn_snapshot_capture_shared(&again, f->new_sh, &f->new.now), 0);
    assert_int_equal(turn_snapshot_capture_server(&again, f->new.s, &f->new.now, &ex), 0);
    assert_int_equal(again.servers[0].nallocs, 7);
    assert_null(alloc_of(&again, clients[I].addr));
    assert_null(alloc_of(&again, clients[H].addr));
    was = alloc_of(&f->snap, clients[A].addr);
    is = alloc_of(&again, clients[A].addr);
    assert_int_equal(is->remaining_ms, was->remaining_ms - GAP_MS);
    assert_int_equal(was->nperms, 2);
    assert_int_equal(is->nperms, 1); /* p2's expired in the gap */
    assert_true(xt_addr_ip_equal(&is->perms[0].ip, &f->p1));
    assert_int_equal(is->nchans, 1);
    assert_int_equal(is->chans[0].remaining_ms, was->chans[0].remaining_ms - GAP_MS);
    is = alloc_of(&again, clients[B].addr);
    assert_int_equal(is->relayed[0].family, AF_INET);
    assert_int_equal(is->relayed[1].family, AF_INET6);
    assert_int_equal(is->nchans, 2);
    assert_true(alloc_of(&again, clients[D].addr)->tcp);
    assert_int_equal(alloc_of(&again, clients[E].addr)->transport, TURN_TLS);
    assert_int_equal(alloc_of(&again, clients[F].addr)->transport, TURN_DTLS);
    assert_int_equal(again.nreservations, 1);
    assert_int_equal(again.reservations[0].remaining_ms,
                     f->snap.reservations[0].remaining_ms - GAP_MS);
    assert_int_equal(again.servers[0].ntxs, f->snap.servers[0].ntxs);
    assert_memory_equal(again.servers[0].counters, f->snap.servers[0].counters,
                        sizeof(again.servers[0].counters));
    turn_snapshot_free(&again);
}

static void restored_server_serves(void **state)
{
    struct fixture *f = *state;
    struct mock *n = &f->new;
    struct client *cl = f->cl;
    struct xt_addr redeemed;
    const struct turn_snapshot_alloc *e;
    uint64_t to_peer, refreshes;
    uint8_t cd[16];
    struct stun_msg r;
    int relay_a, listen_d, conn;
    char err[256] = "";

    capture(f);
    start_new(f);
    assert_int_equal(restore(f, err, sizeof(err)), 0);
    for (int c = 0; c < NCLIENTS; c++)
        cl[c].listen += MOVED;
    to_peer = turn_server_counters(n->s)[TURN_UDP].relayed_pkts[TURN_TO_PEER][0][0];
    refreshes = turn_server_counters(n->s)[TURN_UDP].responses[TM_REFRESH][0];
    assert_int_equal(to_peer, 1);

    /* A Refresh with the nonce the old process gave. */
    assert_int_equal(AS(n, &cl[A], mock_refresh(n, 600)), 0);
    assert_int_equal(turn_server_counters(n->s)[TURN_UDP].responses[TM_REFRESH][0], refreshes + 1);
    /* ChannelData on a restored channel goes out of the socket the old process had bound. */
    relay_a = sock_at(n, &f->relayed_a);
    as(n, &cl[A]);
    assert_int_equal(mock_from_client(n, cd, mock_channeldata(cd, 0x4001, hello, 5, 0)), 1);
    assert_int_equal(n->sent[n->nsent - 1].handle, relay_a);
    assert_true(xt_addr_equal(&n->sent[n->nsent - 1].dst, &f->p1));
    assert_int_equal(turn_server_counters(n->s)[TURN_UDP].relayed_pkts[TURN_TO_PEER][0][0],
                     to_peer + 1);
    /* And back, to the client's listen socket as the new process knows it. */
    assert_int_equal(mock_from_peer(n, relay_a, &f->p1, hello, 5), 1);
    assert_int_equal(n->sent[n->nsent - 1].handle, cl[A].listen);
    assert_int_equal(n->sent[n->nsent - 1].data[0], 0x40);
    /* p2's permission expired in the gap. */
    as(n, &cl[A]);
    assert_int_equal(mock_send_indication(n, hello, 5, &f->p2), 0);
    assert_int_equal(turn_server_counters(n->s)[TURN_UDP].dropped[TD_NO_PERMISSION], 1);

    /* H's Refresh(0), retransmitted: the cached answer, byte for byte (not a 437). */
    as(n, &cl[H]);
    assert_int_equal(mock_from_client(n, f->h_req, f->h_req_len), 1);
    assert_int_equal(n->sent[n->nsent - 1].len, f->h_resp_len);
    assert_memory_equal(n->sent[n->nsent - 1].data, f->h_resp, f->h_resp_len);

    /* G's reservation: J redeems it for the port after G's. */
    assert_int_equal(
        AS(n, &cl[J], allocate(n, TURN_TRANSPORT_UDP, TURN_ATTR_RESERVATION_TOKEN, f->token, 8)),
        0);
    assert_int_equal(
        stun_attr_xor_addr(&r, last_attr(n, TURN_ATTR_XOR_RELAYED_ADDRESS, &r), &redeemed), 0);
    assert_int_equal(redeemed.port, f->even_port + 1);

    /* D's TCP allocation: a permitted peer connecting gets the client a ConnectionAttempt. */
    listen_d = sock_at(n, &alloc_of(&f->snap, clients[D].addr)->relayed[0]);
    conn = mock_tcp_accept(n, listen_d, &f->pd);
    assert_true(n->socks[conn].open);
    assert_int_equal(n->sent[n->nsent - 1].handle, cl[D].listen);
    mock_last_response(n, &r);
    assert_int_equal(r.method, TURN_CONNECTION_ATTEMPT);

    /* E's lifetime runs out when the old one said, less the gap. */
    e = alloc_of(&f->snap, clients[E].addr);
    mock_advance(n, e->remaining_ms - GAP_MS - 1000);
    assert_true(turn_client_allocated(n->s, cl[E].listen, &e->client));
    mock_advance(n, 2000);
    assert_false(turn_client_allocated(n->s, cl[E].listen, &e->client));
}

/* TLS and DTLS clients keep their OpenSSL state in the old process: their allocations and
 * cached responses stay there, and their relayed sockets do not travel. */
static void what_cannot_travel_is_left_out(void **state)
{
    struct fixture *f = *state;
    int relay_e = sock_at(&f->old, &f->relayed_e), relay_f = sock_at(&f->old, &f->relayed_f);

    f->refuse_tls = true;
    capture(f);
    assert_int_equal(f->snap.servers[0].nallocs, 6); /* I is still alive at T */
    assert_null(alloc_of(&f->snap, clients[E].addr));
    assert_null(alloc_of(&f->snap, clients[F].addr));
    for (size_t i = 0; i < f->snap.servers[0].ntxs; i++) {
        int handle = f->fds[f->snap.servers[0].txs[i].client_sock];
        assert_int_not_equal(handle, clients[E].listen);
        assert_int_not_equal(handle, clients[F].listen);
    }
    /* The fd array holds what travels, each socket once: the listen sockets of A (G, H, I) and
     * B, the connections of C and D, the relayed sockets of A, B (2), C, D, G and I. */
    assert_int_equal(f->nfds, 4 + 7);
    for (size_t i = 0; i < f->nfds; i++) {
        assert_int_not_equal(f->fds[i], relay_e);
        assert_int_not_equal(f->fds[i], relay_f);
    }
}

/* Once the new process has taken over, the old one lets go of what travelled without a trace
 * (no message, no unbinding: the bindings are the new process's) and serves on what stayed. */
static void release_keeps_only_what_stayed(void **state)
{
    struct fixture *f = *state;
    struct mock *m = &f->old;
    struct turn_snapshot_export ex = {.ctx = f, .sock_index = export_index};
    int relay_e = sock_at(m, &f->relayed_e), relay_f = sock_at(m, &f->relayed_f);
    size_t sent;
    int downs = m->downs;
    struct xt_addr e, fc;

    f->refuse_tls = true;
    capture(f);
    sent = m->nsent;
    assert_int_equal(f->nstays, 2);
    assert_true((f->stays[0] == f->cl[E].listen && f->stays[1] == f->cl[F].listen) ||
                (f->stays[0] == f->cl[F].listen && f->stays[1] == f->cl[E].listen));
    turn_snapshot_release_server(m->s, &ex);
    assert_int_equal(m->nsent, sent);
    assert_int_equal(m->downs, downs);
    /* Left: E's and F's allocations and relayed sockets, nothing else. */
    assert_int_equal(mock_open_sockets(m), 2);
    assert_true(m->socks[relay_e].open && m->socks[relay_f].open);
    mock_addr(&e, clients[E].addr);
    mock_addr(&fc, clients[F].addr);
    assert_true(turn_client_allocated(m->s, f->cl[E].listen, &e));
    assert_true(turn_client_allocated(m->s, f->cl[F].listen, &fc));
    for (int k = A; k < NCLIENTS; k++) {
        struct xt_addr c;
        mock_addr(&c, clients[k].addr);
        if (k != E && k != F)
            assert_false(turn_client_allocated(m->s, f->cl[k].listen, &c));
    }
    /* A retransmitted request of a client that moved is not answered here from the cache. */
    as(m, &f->cl[H]);
    assert_int_equal(mock_from_client(m, f->h_req, f->h_req_len), 1);
    assert_int_equal(mock_last_code(m), 437);
    /* The bindings of what moved are the new process's now. */
    m->mirrored = 0;
}

/* ---- the bytes ---- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * (3 - i)));
}

/* The offset of the n-th (from 0) record of type, or 0. */
static size_t record_at(const uint8_t *b, size_t len, uint16_t type, int n)
{
    for (size_t at = HEADER_LEN; at + 6 <= len; at += 6 + be32(b + at + 2))
        if ((b[at] << 8 | b[at + 1]) == type && n-- == 0)
            return at;
    return 0;
}

/* The header's body length and CRC-32 made right for the bytes as they are. */
static void reseal(uint8_t *b, size_t len)
{
    put_be32(b + 12, (uint32_t)(len - HEADER_LEN));
    put_be32(b + 16, (uint32_t)crc32(0L, b + HEADER_LEN, (uInt)(len - HEADER_LEN)));
}

/* Decoding b must fail with a reason containing why. */
static void refused(const uint8_t *b, size_t len, const char *why)
{
    struct turn_snapshot snap;
    char err[256] = "";

    assert_int_equal(turn_snapshot_decode(b, len, &snap, err, sizeof(err)), -1);
    if (!strstr(err, why))
        fail_msg("refused for \"%s\", not \"%s\"", err, why);
    assert_int_equal(snap.nservers + snap.nreservations, 0);
}

static void encoding_round_trips(void **state)
{
    struct fixture *f = *state;
    struct turn_snapshot snap;
    uint8_t *again;
    size_t len;
    char err[256] = "";

    capture(f);
    assert_memory_equal(f->bytes, "XTURNSNP", 8);
    assert_int_equal(f->bytes[8] << 8 | f->bytes[9], TURN_SNAPSHOT_MAJOR);
    assert_int_equal(turn_snapshot_decode(f->bytes, f->len, &snap, err, sizeof(err)), 0);
    assert_int_equal(snap.skipped, 0);
    assert_int_equal(snap.minor, TURN_SNAPSHOT_MINOR);
    assert_int_equal(snap.xdp_abi, XT_ABI_VERSION);
    assert_int_equal(snap.saved_ms, f->old.now.ms);
    assert_int_equal(snap.servers[0].nallocs, 8);
    assert_int_equal(turn_snapshot_encode(&snap, &again, &len), 0);
    assert_int_equal(len, f->len);
    assert_memory_equal(again, f->bytes, len);
    free(again);
    turn_snapshot_free(&snap);
}

static void truncated_inputs_are_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t *longer;

    capture(f);
    for (size_t len = 0; len < f->len; len++)
        refused(f->bytes, len, len < HEADER_LEN ? "shorter than the header" : "truncated");
    longer = calloc(1, f->len + 1);
    assert_non_null(longer);
    memcpy(longer, f->bytes, f->len);
    refused(longer, f->len + 1, "longer than its header says");
    free(longer);
}

/* One byte of a record set to a value its field may not have (the CRC made right again). */
static const struct {
    uint16_t type;
    size_t offset; /* from the record's start: its value starts at 6 */
    uint8_t value;
    const char *why;
} bad_fields[] = {
    {4, 6, 9, "allocation record at byte"},
    {4, 6, 9, "an unknown transport"},
    {4, 7, 2, "unknown allocation flags"},
    {5, 6, 5, "an address of an unknown family"},
    {6, 6, 0x3F, "a channel number out of range"},
    {3, 6, 5, "counters of other dimensions"},
    {3, 6 + 5 + 2, 0xFF, "counters out of order, unknown or zero"}, /* the first's number */
    {2, 1, 5, "out of order"},                                      /* a permission first */
    {1, 1, 3, "out of order"},                                      /* a server first */
    {1, 6 + 12, 16, "a nonce key of another length"},
    {7, 2, 0xFF, "a record longer than what follows it"}, /* its length's high byte */
};

static void corrupt_and_foreign_inputs_are_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t *b;
    size_t len, at;

    capture(f);
    len = f->len;
    b = malloc(len);
    assert_non_null(b);
    memcpy(b, f->bytes, len);
    b[0] ^= 1;
    refused(b, len, "magic");
    memcpy(b, f->bytes, len);
    b[9] = 2;
    refused(b, len, "format 2.0, this build reads 1.x");
    memcpy(b, f->bytes, len);
    b[len - 1] ^= 1;
    refused(b, len, "corrupt");
    for (size_t i = 0; i < sizeof(bad_fields) / sizeof(bad_fields[0]); i++) {
        memcpy(b, f->bytes, len);
        at = record_at(b, len, bad_fields[i].type, 0);
        assert_true(at > 0);
        b[at + bad_fields[i].offset] = bad_fields[i].value;
        reseal(b, len);
        refused(b, len, bad_fields[i].why);
    }
    /* The shared record cut to 10 bytes: its fields run past it. Then no record at all. */
    memcpy(b, f->bytes, len);
    put_be32(b + HEADER_LEN + 2, 10);
    reseal(b, HEADER_LEN + 16);
    refused(b, HEADER_LEN + 16, "a record shorter than its fields");
    reseal(b, HEADER_LEN);
    refused(b, HEADER_LEN, "no shared state record");
    free(b);
}

/* A later minor version: a record type this build does not know, and fields appended to a
 * known record, are skipped; what remains is the same state. */
static void later_minor_records_and_fields_are_skipped(void **state)
{
    struct fixture *f = *state;
    static const uint8_t unknown[6 + 5] = {0x01, 0x00, 0, 0, 0, 5, 'l', 'a', 't', 'e', 'r'};
    size_t shared_end, alloc_at, alloc_end, len, pos;
    struct turn_snapshot snap;
    uint8_t *b, *again;
    char err[256] = "";

    capture(f);
    len = f->len;
    b = malloc(f->len + sizeof(unknown) + 3);
    assert_non_null(b);
    shared_end = record_at(f->bytes, len, 2, 0);
    alloc_at = record_at(f->bytes, len, 4, 0);
    alloc_end = alloc_at + 6 + be32(f->bytes + alloc_at + 2);
    memcpy(b, f->bytes, shared_end);
    pos = shared_end;
    memcpy(b + pos, unknown, sizeof(unknown));
    pos += sizeof(unknown);
    memcpy(b + pos, f->bytes + shared_end, alloc_end - shared_end);
    put_be32(b + pos + (alloc_at - shared_end) + 2, be32(f->bytes + alloc_at + 2) + 3);
    pos += alloc_end - shared_end;
    memcpy(b + pos, "new", 3);
    pos += 3;
    memcpy(b + pos, f->bytes + alloc_end, len - alloc_end);
    pos += len - alloc_end;
    b[11] = 7; /* version 1.7 */
    reseal(b, pos);

    assert_int_equal(turn_snapshot_decode(b, pos, &snap, err, sizeof(err)), 0);
    assert_int_equal(snap.minor, 7);
    assert_int_equal(snap.skipped, sizeof(unknown) + 3);
    assert_int_equal(turn_snapshot_encode(&snap, &again, &len), 0);
    assert_int_equal(len, f->len);
    assert_memory_equal(again, f->bytes, len);
    free(again);
    turn_snapshot_free(&snap);
    free(b);
}

/* ---- restores that fail leave nothing ---- */

static void assert_nothing_restored(struct fixture *f)
{
    static const struct turn_counters zero[TURN_TRANSPORT_COUNT];

    assert_int_equal(mock_open_sockets(&f->new), 0);
    assert_int_equal(f->new.mirrored, 0);
    assert_int_equal(turn_shared_allocations(f->new_sh), 0);
    assert_memory_equal(turn_server_counters(f->new.s), zero, sizeof(zero));
}

static void a_socket_that_cannot_be_imported_fails_it_all(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";

    capture(f);
    start_new(f);
    f->imports_left = 3;
    assert_int_equal(restore(f, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot be imported"));
    assert_nothing_restored(f);
    assert_int_equal(turn_shared_ports_free(f->new_sh, 0), 99); /* the reservation's port */
}

/* Restoring server i of snap into the new server at now fails for why (0: succeeds). */
static void restore_server_is(struct fixture *f, const struct turn_snapshot *snap, size_t i,
                              const struct turn_time *now, const char *why)
{
    struct turn_snapshot_import im = {
        .ctx = f, .client_handle = import_client, .relayed_handle = import_relayed};
    char err[256] = "";
    int rc = turn_snapshot_restore_server(snap, i, f->new.s, now, &im, err, sizeof(err));

    assert_int_equal(rc, why ? -1 : 0);
    if (why && !strstr(err, why))
        fail_msg("refused for \"%s\", not \"%s\"", err, why);
}

static void inconsistent_state_is_refused(void **state)
{
    struct fixture *f = *state;
    struct turn_snapshot snap;
    struct turn_time early;
    char err[256] = "";

    capture(f);
    start_new(f);
    assert_int_equal(turn_snapshot_decode(f->bytes, f->len, &snap, err, sizeof(err)), 0);

    /* Two allocations on one relayed port. */
    ((struct turn_snapshot_alloc *)alloc_of(&snap, clients[C].addr))->relayed[0] =
        alloc_of(&snap, clients[A].addr)->relayed[0];
    restore_server_is(f, &snap, 0, &f->new.now, "taken twice");
    assert_nothing_restored(f);

    /* A clock behind the capture's: another boot, or another host. */
    early = f->new.now;
    early.ms = snap.saved_ms - 1;
    assert_int_equal(turn_snapshot_restore_shared(&snap, f->new_sh, &early, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "clock"));
    restore_server_is(f, &snap, 0, &early, "clock");
    restore_server_is(f, &snap, 1, &f->new.now, "not in the snapshot");
    assert_nothing_restored(f);

    /* A channel longer than the configuration grants. */
    turn_snapshot_free(&snap);
    assert_int_equal(turn_snapshot_decode(f->bytes, f->len, &snap, err, sizeof(err)), 0);
    ((struct turn_snapshot_alloc *)alloc_of(&snap, clients[C].addr))->chans[0].remaining_ms =
        (uint64_t)f->new.cfg.channel_lifetime_s * 1000 + 1;
    restore_server_is(f, &snap, 0, &f->new.now, "longer than this configuration grants");
    assert_nothing_restored(f);

    /* Restored once, a server is not fresh any more. */
    turn_snapshot_free(&snap);
    assert_int_equal(turn_snapshot_decode(f->bytes, f->len, &snap, err, sizeof(err)), 0);
    restore_server_is(f, &snap, 0, &f->new.now, NULL);
    restore_server_is(f, &snap, 0, &f->new.now, "has allocations");
    assert_int_equal(turn_shared_allocations(f->new_sh), 7);
    turn_snapshot_free(&snap);
}

static void a_reservation_twice_is_refused(void **state)
{
    struct fixture *f = *state;
    struct turn_snapshot snap;
    struct turn_snapshot_reservation *r;
    const uint8_t *key;
    size_t keylen;
    char err[256] = "";

    capture(f);
    start_new(f);
    assert_int_equal(turn_snapshot_decode(f->bytes, f->len, &snap, err, sizeof(err)), 0);
    r = turn_snapshot_push(&snap.reservations, &snap.nreservations, sizeof(*r));
    assert_non_null(r);
    *r = snap.reservations[0];
    r->addr.port++;
    assert_int_equal(turn_snapshot_restore_shared(&snap, f->new_sh, &f->new.now, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "reservation 1:"));
    /* Nothing of it: the first reservation's port is free again, the nonce key is the new one. */
    assert_int_equal(turn_shared_ports_free(f->new_sh, 0), 100);
    key = turn_shared_nonce_key(f->new_sh, &keylen);
    assert_memory_not_equal(key, snap.nonce_key, keylen);
    turn_snapshot_free(&snap);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(restored_state_ran_on_by_the_gap),
        T(restored_server_serves),
        T(what_cannot_travel_is_left_out),
        T(release_keeps_only_what_stayed),
        T(encoding_round_trips),
        T(truncated_inputs_are_refused),
        T(corrupt_and_foreign_inputs_are_refused),
        T(later_minor_records_and_fields_are_skipped),
        T(a_socket_that_cannot_be_imported_fails_it_all),
        T(inconsistent_state_is_refused),
        T(a_reservation_twice_is_refused),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
