/* RFC 6062 TCP allocations: Connect, ConnectionBind, connections from peers, their connection
 * ids, states, timers and limits. Pure like the rest of the core: the sockets and the bytes are
 * the I/O layer's (turn_io.tcp_*); the rules are here.
 *
 * A peer connection lives in one of three states: CONNECTING (a Connect waits for the relay's
 * connection to the peer, 30 s at most, then 447), PENDING (connected either way, waiting for
 * the client's ConnectionBind, 30 s at most, then closed) and BOUND (the I/O layer relays bytes
 * between it and the client's data connection until either ends or the allocation does). Every
 * peer connection needs a permission for the peer's IP when it is made, both ways, and the same
 * peer policy and self rules as UDP; an allocation holds at most --max-tcp-peer-connections. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/gcra.h"
#include "common/log.h"
#include "turn/turn_internal.h"
#include "turn/turn_shared.h"

#define TCP_CONNECT_TIMEOUT_MS 30000 /* RFC 6062 5.2: at least 30 s */
#define TCP_BIND_TIMEOUT_MS    30000 /* RFC 6062 5.2, 5.3 */
#define TCP_SLOT_MASK          0xFFu /* a connection id's low byte: its server's shared slot */

_Static_assert(TURN_SHARED_SLOTS <= TCP_SLOT_MASK + 1, "a slot fits a connection id's low byte");

enum tcp_state { TCS_CONNECTING, TCS_PENDING, TCS_BOUND };

struct turn_tcp_conn {
    struct hnode node;      /* in turn_server.tcp_ids, by id */
    struct list_node entry; /* in the allocation's tcp_conns */
    struct turn_allocation *alloc;
    uint32_t id;
    enum tcp_state state;
    int handle; /* the peer connection's, -1 before it has one */
    struct xt_addr peer;
    struct tw_timer timer; /* CONNECTING: the connect timeout; PENDING: the bind timeout */
    /* CONNECTING: the Connect request, answered when the connection is made or fails */
    uint8_t tid[STUN_TID_LEN];
    uint8_t key[16];
    bool mi, mi256;
};

static const char *const state_names[] = {"connecting", "pending", "bound"};

bool tcp_relay_available(const struct turn_server *s)
{
    const struct turn_io *io = &s->io;
    return io->tcp_listen && io->tcp_connect && io->tcp_close && io->tcp_splice && s->slot >= 0;
}

static uint32_t id_hash(uint32_t id)
{
    return id * 2654435761u;
}

static struct turn_tcp_conn *by_id(struct turn_server *s, uint32_t id)
{
    uint32_t h = id_hash(id);
    for (struct hnode *n = htab_first(&s->tcp_ids, h); n; n = htab_next(n, h)) {
        struct turn_tcp_conn *c = container_of(n, struct turn_tcp_conn, node);
        if (c->id == id)
            return c;
    }
    return NULL;
}

static struct turn_tcp_conn *by_peer(const struct turn_allocation *a, const struct xt_addr *peer)
{
    for (struct list_node *e = a->tcp_conns; e; e = e->next) {
        struct turn_tcp_conn *c = container_of(e, struct turn_tcp_conn, entry);
        if (xt_addr_equal(&c->peer, peer))
            return c;
    }
    return NULL;
}

static bool at_cap(const struct turn_server *s, const struct turn_allocation *a)
{
    uint32_t cap =
        s->cfg->max_tcp_peer_conns ? s->cfg->max_tcp_peer_conns : TURN_TCP_PEER_CONNS_DEFAULT;
    return a->ntcp_conns >= cap;
}

static void log_conn(const char *msg, const struct turn_tcp_conn *c, const char *reason)
{
    char cl[XT_ADDR_STRLEN], p[XT_ADDR_STRLEN];

    if (!log_enabled(LOG_DEBUG))
        return;
    xt_log(LOG_DEBUG, msg, "client", xt_addr_str(&c->alloc->client, cl), "peer",
           xt_addr_str(&c->peer, p), XT_NUM("connection_id", c->id), "state", state_names[c->state],
           "reason", reason, NULL);
}

static void conn_timeout(struct tw_timer *t, void *ctx);

/* A new connection id: random, with this server's slot as its low byte; 0 when none is found
 * (no randomness). */
static uint32_t new_id(struct turn_server *s)
{
    for (int i = 0; i < 8; i++) {
        uint32_t v;
        if (turn_random_fill(&s->io.random, &v, sizeof(v)) != 0)
            return 0;
        v = (v & ~TCP_SLOT_MASK) | (uint32_t)s->slot;
        if (v != 0 && !by_id(s, v))
            return v;
    }
    return 0;
}

static struct turn_tcp_conn *conn_new(struct turn_server *s, struct turn_allocation *a,
                                      const struct xt_addr *peer, enum tcp_state state)
{
    struct turn_tcp_conn *c = calloc(1, sizeof(*c));

    if (!c || !(c->id = new_id(s))) {
        free(c);
        return NULL;
    }
    c->alloc = a;
    c->state = state;
    c->handle = -1;
    c->peer = *peer;
    tw_timer_init(&c->timer, conn_timeout);
    htab_insert(&s->tcp_ids, &c->node, id_hash(c->id));
    list_push(&a->tcp_conns, &c->entry);
    a->ntcp_conns++;
    ctr(s, a->transport)->tcp_peer_conns++;
    return c;
}

/* Forgets a connection; its handle, if any, is the caller's to close (or closed already). */
static void conn_free(struct turn_server *s, struct turn_tcp_conn *c)
{
    tw_cancel(&c->timer);
    htab_remove(&s->tcp_ids, &c->node);
    list_unlink(&c->entry);
    c->alloc->ntcp_conns--;
    ctr(s, c->alloc->transport)->tcp_peer_conns--;
    free(c);
}

static void conn_close(struct turn_server *s, struct turn_tcp_conn *c)
{
    if (c->handle >= 0)
        s->io.tcp_close(s->io.ctx, c->handle);
    conn_free(s, c);
}

void tcp_close_all(struct turn_server *s, struct turn_allocation *a)
{
    while (a->tcp_conns)
        conn_close(s, container_of(a->tcp_conns, struct turn_tcp_conn, entry));
}

static void put_id(struct stun_builder *b, uint32_t id)
{
    uint8_t v[4] = {(uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
    stun_add_attr(b, TURN_ATTR_CONNECTION_ID, v, sizeof(v));
}

/* ---- Connect (RFC 6062 5.2) ---- */

/* The Connect's response, once the connection is made (code 0) or has failed, as the request
 * would have had it: signed the same way, counted, cached. */
static void answer_connect(struct turn_server *s, const struct turn_time *now,
                           struct turn_tcp_conn *c, int code)
{
    struct turn_allocation *a = c->alloc;
    struct stun_msg m = {.method = TURN_CONNECT,
                         .cls = STUN_REQUEST,
                         .mi = c->mi ? 0 : -1,
                         .mi256 = c->mi256 ? 0 : -1};
    struct turn_req r = {.s = s,
                         .now = now,
                         .transport = a->transport,
                         .listen_handle = a->listen_handle,
                         .local = &a->local,
                         .client = &a->client,
                         .msg = &m,
                         .authenticated = true};
    uint8_t buf[RESP_MAX];
    struct stun_builder b;

    memcpy(m.tid, c->tid, STUN_TID_LEN);
    memcpy(r.key, c->key, sizeof(r.key));
    memcpy(r.user, a->user, sizeof(r.user));
    if (code) {
        req_send_error(&r, code);
        return;
    }
    req_begin_success(&r, &b, buf);
    put_id(&b, c->id);
    req_send_success(&r, &b);
}

static int connect_code(struct turn_req *r, struct turn_allocation *a, struct xt_addr *peer)
{
    const struct stun_attr *pa = stun_find(r->msg, TURN_ATTR_XOR_PEER_ADDRESS);
    int code;

    if (!a->tcp || !pa || stun_attr_xor_addr(r->msg, pa, peer) != 0)
        return 400;
    code = req_check_peer(r, a, peer);
    if (code)
        return code;
    /* The peer policy allows it; the client must have asked for it as well. */
    if (!perm_find(r->s, a, peer))
        return 403;
    if (by_peer(a, peer))
        return 446;
    return at_cap(r->s, a) ? 508 : 0;
}

void tcp_handle_connect(struct turn_req *r, struct turn_allocation *a)
{
    struct turn_server *s = r->s;
    struct xt_addr peer;
    struct turn_tcp_conn *c;
    int code = connect_code(r, a, &peer), handle;

    if (code) {
        req_send_error(r, code);
        return;
    }
    c = conn_new(s, a, &peer, TCS_CONNECTING);
    if (!c) {
        req_send_error(r, 500);
        return;
    }
    memcpy(c->tid, r->msg->tid, STUN_TID_LEN);
    memcpy(c->key, r->key, sizeof(c->key));
    c->mi = r->msg->mi >= 0;
    c->mi256 = r->msg->mi256 >= 0;
    handle = s->io.tcp_connect(s->io.ctx, &a->relayed[xt_family_index(peer.family)].addr, &peer, c);
    if (handle < 0) {
        log_conn("cannot connect to the peer", c, strerror(-handle));
        conn_free(s, c);
        req_send_error(r, 447);
        return;
    }
    c->handle = handle;
    tw_schedule(&s->wheel, &c->timer, r->now->ms + TCP_CONNECT_TIMEOUT_MS);
}

static void now_pending(struct turn_server *s, uint64_t now_ms, struct turn_tcp_conn *c)
{
    c->state = TCS_PENDING;
    tw_schedule(&s->wheel, &c->timer, now_ms + TCP_BIND_TIMEOUT_MS);
}

void turn_on_tcp_connected(struct turn_server *s, const struct turn_time *now, void *owner, int err)
{
    struct turn_tcp_conn *c = owner;

    if (c->state != TCS_CONNECTING)
        return;
    if (err) {
        log_conn("cannot connect to the peer", c, strerror(-err));
        answer_connect(s, now, c, 447);
        conn_close(s, c);
        return;
    }
    now_pending(s, now->ms, c);
    answer_connect(s, now, c, 0);
    log_conn("connected to the peer", c, "");
}

/* Connecting for too long (447), or not bound in time. */
static void conn_timeout(struct tw_timer *t, void *ctx)
{
    struct turn_server *s = ctx;
    struct turn_tcp_conn *c = container_of(t, struct turn_tcp_conn, timer);
    /* Timers carry no clock: the response's cache entry takes the time it was due. */
    struct turn_time now = {.ms = t->due_ms};

    log_conn("peer connection timed out", c, "");
    if (c->state == TCS_CONNECTING)
        answer_connect(s, &now, c, 447);
    else
        ctr(s, c->alloc->transport)->tcp_bind_timeouts++;
    conn_close(s, c);
}

/* ---- connections from peers (RFC 6062 5.3) ---- */

static void send_connection_attempt(struct turn_server *s, const struct turn_tcp_conn *c)
{
    const struct turn_allocation *a = c->alloc;
    uint8_t buf[RESP_MAX], tid[STUN_TID_LEN];
    struct stun_builder b;
    int n;

    data_indication_tid(s, tid);
    stun_build_init(&b, buf, sizeof(buf), TURN_CONNECTION_ATTEMPT, STUN_INDICATION, tid);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &c->peer);
    put_id(&b, c->id);
    stun_add_fingerprint(&b);
    n = stun_finish(&b);
    if (n > 0)
        s->io.send(s->io.ctx, a->listen_handle, &a->client, buf, (size_t)n, NULL, 0, 0);
}

void turn_on_tcp_accept(struct turn_server *s, const struct turn_time *now, void *owner, int handle,
                        const struct xt_addr *peer)
{
    struct turn_allocation *a = ((struct turn_relayed *)owner)->alloc;
    const struct turn_permission *p = perm_find(s, a, peer);
    struct turn_tcp_conn *c = NULL;
    int why = -1;

    /* Without a permission the connection is closed at once, whatever it came to do. */
    if (!p)
        why = TTR_NO_PERMISSION;
    else if (p->self && !self_reachable(s, a, peer))
        why = TTR_SELF;
    else if (at_cap(s, a))
        why = TTR_LIMIT;
    else if (!(c = conn_new(s, a, peer, TCS_PENDING)))
        why = TTR_NO_MEMORY;
    if (why >= 0) {
        s->io.tcp_close(s->io.ctx, handle);
        ctr(s, a->transport)->tcp_refused[why]++;
        if (log_enabled(LOG_DEBUG)) {
            char cl[XT_ADDR_STRLEN], ps[XT_ADDR_STRLEN];
            xt_log(LOG_DEBUG, "peer connection refused", "client", xt_addr_str(&a->client, cl),
                   "peer", xt_addr_str(peer, ps), XT_NUM("reason", why), NULL);
        }
        return;
    }
    c->handle = handle;
    now_pending(s, now->ms, c);
    send_connection_attempt(s, c);
    log_conn("peer connected", c, "");
}

/* ---- ConnectionBind (RFC 6062 5.4) ---- */

static bool bind_id(const struct stun_msg *m, uint32_t *id)
{
    const struct stun_attr *ci = stun_find(m, TURN_ATTR_CONNECTION_ID);

    if (!ci || ci->len != 4)
        return false;
    *id = (uint32_t)ci->val[0] << 24 | (uint32_t)ci->val[1] << 16 | (uint32_t)ci->val[2] << 8 |
          ci->val[3];
    return true;
}

/* The id belongs to another worker's server: the connection goes there, message and all. The
 * message is authenticated there (the nonce may be the control connection's: only that worker
 * can tell), so only a signed ConnectionBind on a stream goes anywhere. */
bool tcp_bind_redirected(struct turn_req *r)
{
    struct turn_server *s = r->s;
    uint32_t id;
    void *target;

    /* Never a connection with an allocation: that would leave with it. */
    if (!turn_transport_is_stream(r->transport) || !tcp_relay_available(s) || !s->io.tcp_redirect ||
        (r->msg->mi < 0 && r->msg->mi256 < 0) || !bind_id(r->msg, &id) ||
        (id & TCP_SLOT_MASK) == (uint32_t)s->slot || alloc_find(s, r->client, r->listen_handle))
        return false;
    target = turn_shared_slot_ctx(s->shared, (int)(id & TCP_SLOT_MASK));
    return target && target != s->io.ctx &&
           s->io.tcp_redirect(s->io.ctx, r->listen_handle, target) == 0;
}

const struct xt_addr *tcp_bind_nonce_client(struct turn_server *s, const struct stun_msg *m)
{
    struct turn_tcp_conn *c;
    uint32_t id;

    if (s->slot < 0 || !bind_id(m, &id) || !(c = by_id(s, id)) || c->state != TCS_PENDING)
        return NULL;
    return &c->alloc->client;
}

void tcp_handle_connection_bind(struct turn_req *r)
{
    struct turn_server *s = r->s;
    struct turn_tcp_conn *c;
    uint8_t buf[RESP_MAX];
    struct stun_builder b;
    uint32_t id;

    /* A data connection is a stream connection of its own, never one with an allocation. */
    if (!turn_transport_is_stream(r->transport) || !tcp_relay_available(s) ||
        !bind_id(r->msg, &id) || alloc_find(s, r->client, r->listen_handle)) {
        req_send_error(r, 400);
        return;
    }
    /* Unknown (another worker's that cannot take it), expired, still connecting or bound
     * already: RFC 6062 5.4 says 400. */
    c = by_id(s, id);
    if (!c || c->state != TCS_PENDING) {
        req_send_error(r, 400);
        return;
    }
    /* Only the allocation's user can take its connections. */
    if (strcmp(c->alloc->user, r->user) != 0) {
        req_send_error(r, 441);
        return;
    }
    if (s->io.tcp_splice(s->io.ctx, r->listen_handle, c->handle, c) != 0) {
        req_send_error(r, 400);
        return;
    }
    tw_cancel(&c->timer);
    c->state = TCS_BOUND;
    log_conn("data connection bound", c, "");
    req_begin_success(r, &b, buf);
    req_send_success(r, &b);
}

/* ---- relaying ---- */

void turn_on_tcp_closed(struct turn_server *s, void *owner)
{
    struct turn_tcp_conn *c = owner;

    log_conn("peer connection closed", c, "");
    conn_free(s, c);
}

uint32_t turn_tcp_relayed(struct turn_server *s, const struct turn_time *now, void *owner, int dir,
                          size_t len)
{
    struct turn_allocation *a = ((struct turn_tcp_conn *)owner)->alloc;
    uint64_t max = s->cfg->max_bps, wait_ns;

    ctr(s, a->transport)->tcp_relayed_bytes[dir] += len;
    if (!max || !len)
        return 0;
    wait_ns = gcra_force(a->tat, now->ms * 1000000ull, gcra_cost(len, max));
    return (uint32_t)((wait_ns + 999999) / 1000000);
}
