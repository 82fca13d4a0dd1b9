/* DTLS clients (RFC 7350) in the worker's event loop. They arrive on the UDP socket of a
 * --tls-listen address, which all of them share: a client is known by its address. Nothing is
 * kept for an unknown source until its ClientHello returns the cookie (dtls_server.c), and then
 * only while few handshakes are in progress and the connection limits allow. Each client gets a
 * handle without a descriptor: the core answers it there, and what it sends is encrypted and
 * queued on the shared socket. */
#include <stdlib.h>
#include <string.h>

#include "app/worker_internal.h"
#include "common/log.h"

/* Handshakes in progress per worker: each costs OpenSSL state; more ClientHellos are dropped
 * (their clients retransmit). */
#define DTLS_HANDSHAKES_MAX 256
#define DTLS_MSG_MAX        (20 + 65532)
#define DTLS_ARENA          (256u << 10)

struct wdconn {
    struct hnode node;      /* in dtls.by_addr */
    struct list_node entry; /* in dtls.all */
    struct wsock *sock;     /* its handle */
    int fd;                 /* the shared socket it came on */
    struct dtls_conn *dtls;
    struct xt_addr client;
    uint64_t start_ms, last_msg_ms;
    bool got_message;
    bool established;
};

static struct stream_counters *counters(struct worker *w)
{
    return &w->streams_ctr[TURN_DTLS];
}

static uint32_t addr_hash(const struct xt_addr *a)
{
    return xt_addr_hash(a, 0x2545F491u);
}

static struct wdconn *find(struct worker *w, const struct xt_addr *a)
{
    uint32_t h = addr_hash(a);

    for (struct hnode *n = htab_first(&w->dtls.by_addr, h); n; n = htab_next(n, h)) {
        struct wdconn *c = container_of(n, struct wdconn, node);
        if (xt_addr_equal(&c->client, a))
            return c;
    }
    return NULL;
}

/* Queues a datagram to send at the round's flush (its bytes wait in the arena until then). */
static void queue(struct worker *w, int fd, const struct xt_addr *dst, const uint8_t *dg,
                  size_t len)
{
    uint8_t *p;

    if (w->dtls.arena_len + len > DTLS_ARENA) {
        udp_tx_flush(&w->tx);
        w->dtls.arena_len = 0;
    }
    p = w->dtls.arena + w->dtls.arena_len;
    memcpy(p, dg, len);
    w->dtls.arena_len += len;
    udp_tx_queue(&w->tx, fd, dst, NULL, 0, p, len, 0);
}

static void drain(struct worker *w, struct wdconn *c)
{
    const uint8_t *dg;
    size_t n;

    while ((n = dtls_conn_next_out(c->dtls, &dg)) > 0)
        queue(w, c->fd, &c->client, dg, n);
}

static void conn_close(struct worker *w, struct wdconn *c, enum stream_close why)
{
    dtls_conn_shutdown(c->dtls);
    drain(w, c);
    counters(w)->closed[why]++;
    counters(w)->open--;
    if (!c->established)
        w->dtls.handshaking--;
    turn_on_client_closed(w->turn, c->sock->handle, &c->client);
    conn_limits_put(w->streams.limits, &c->client);
    htab_remove(&w->dtls.by_addr, &c->node);
    list_unlink(&c->entry);
    worker_sock_close(w, c->sock->handle);
    dtls_conn_free(c->dtls);
    free(c);
}

static void on_message(void *arg, const uint8_t *msg, size_t len)
{
    struct wdconn *c = arg;
    struct worker *w = c->sock->w;

    c->last_msg_ms = w->now.ms;
    c->got_message = true;
    turn_on_client(w->turn, &w->now, TURN_DTLS, c->sock->handle, &c->sock->local, &c->client, msg,
                   len);
}

static void conn_input(struct worker *w, struct wdconn *c, const uint8_t *dg, size_t len)
{
    int rc = dtls_conn_input(c->dtls, dg, len, on_message, c);

    drain(w, c);
    if (!c->established && dtls_conn_established(c->dtls)) {
        c->established = true;
        w->dtls.handshaking--;
    }
    if (rc != 0) {
        if (log_enabled(LOG_DEBUG)) {
            char a[XT_ADDR_STRLEN];
            xt_log(LOG_DEBUG, "DTLS connection ended", "client", xt_addr_str(&c->client, a),
                   "reason", dtls_conn_error(c->dtls), NULL);
        }
        conn_close(w, c, dtls_conn_closed(c->dtls) ? SC_CLIENT_CLOSED : SC_TLS_ERROR);
    }
}

/* A cookie came back: the source becomes a client, if the limits allow. */
static void conn_new(struct worker *w, struct wsock *ls, const struct xt_addr *src,
                     struct dtls_conn *d)
{
    enum conn_refusal r = conn_limits_take(w->streams.limits, src);
    struct wdconn *c = NULL;
    int handle = -1;

    if (r == CONN_ADMITTED && (c = calloc(1, sizeof(*c))) != NULL)
        handle = worker_sock_add(w, -1, WS_DTLS_CONN, NULL, &ls->local, NULL);
    if (handle < 0) {
        free(c);
        if (r == CONN_ADMITTED)
            conn_limits_put(w->streams.limits, src);
        counters(w)->refused[r == CONN_REFUSED_TOTAL    ? SR_MAX_TOTAL
                             : r == CONN_REFUSED_PER_IP ? SR_MAX_PER_IP
                                                        : SR_NO_MEMORY]++;
        dtls_conn_free(d);
        return;
    }
    c->sock = w->socks[handle];
    c->sock->dconn = c;
    c->fd = ls->ev.fd;
    c->dtls = d;
    c->client = *src;
    c->start_ms = c->last_msg_ms = w->now.ms;
    htab_insert(&w->dtls.by_addr, &c->node, addr_hash(src));
    list_push(&w->dtls.all, &c->entry);
    w->dtls.handshaking++;
    counters(w)->accepted++;
    counters(w)->open++;
    /* The handshake goes on from the ClientHello OpenSSL kept. */
    conn_input(w, c, NULL, 0);
}

void dtls_on_datagram(struct worker *w, struct wsock *ls, const struct xt_addr *src,
                      const uint8_t *dg, size_t len)
{
    struct wdconn *c = find(w, src);
    uint8_t answer[DTLS_DATAGRAM_MAX];
    struct dtls_conn *d = NULL;
    size_t alen;

    /* A client that starts over from the same address and port (it restarted, or lost its
     * state): the new handshake takes the cookie exchange like any, and replaces the old
     * association (and its allocation) only once its cookie proves the address; until then the
     * old one goes on (RFC 6347 4.2.8). */
    if (c && !(c->established && dtls_starts_client_hello(dg, len))) {
        conn_input(w, c, dg, len);
        return;
    }
    if (!c && dtls_forwarded(w, ls, src, dg, len))
        return;
    /* Unknown sources: only a ClientHello is looked at, and while handshakes are few. */
    if (len == 0 || !dtls_first_byte(dg[0]) || w->dtls.handshaking >= DTLS_HANDSHAKES_MAX) {
        counters(w)->refused[SR_UNKNOWN_SOURCE]++;
        return;
    }
    switch (dtls_listen(w->dtls.listener, src, dg, len, answer, &alen, &d)) {
    case DTLS_ANSWERED:
        queue(w, ls->ev.fd, src, answer, alen);
        break;
    case DTLS_NEW:
        if (c)
            conn_close(w, c, SC_CLIENT_CLOSED);
        dtls_forward_end(w, src);
        conn_new(w, ls, src, d);
        break;
    default:
        counters(w)->refused[SR_UNKNOWN_SOURCE]++;
        break;
    }
}

void dtls_send(struct worker *w, int handle, const void *a, size_t alen, const void *b, size_t blen,
               size_t pad)
{
    struct wdconn *c = w->socks[handle]->dconn;
    size_t n = alen + blen + pad;

    /* One message, one record: assembled, since the core hands it in parts. */
    if (n > DTLS_MSG_MAX)
        return;
    worker_assemble(w->dtls.msg, a, alen, b, blen, pad);
    if (dtls_conn_write(c->dtls, w->dtls.msg, n) != 0)
        counters(w)->slow_reader_drops++;
    drain(w, c);
}

void dtls_flushed(struct worker *w)
{
    w->dtls.arena_len = 0;
}

void dtls_tick(struct worker *w)
{
    struct list_node *n, *next;

    if (!w->dtls.listener || w->now.ms < w->dtls.next_tick_ms)
        return;
    w->dtls.next_tick_ms = w->now.ms + 1000;
    for (n = w->dtls.all; n; n = next) {
        struct wdconn *c = container_of(n, struct wdconn, entry);
        uint64_t first = 1000ull * w->cfg->stream_first_message_s;
        uint64_t idle = 1000ull * w->cfg->stream_idle_s;

        next = n->next;
        if (dtls_conn_tick(c->dtls) != 0) {
            conn_close(w, c, SC_TLS_ERROR);
            continue;
        }
        drain(w, c);
        /* The handshake and the first message within --tcp-first-message-timeout, then
         * --tcp-idle-timeout between messages unless the client has an allocation. */
        if (!c->got_message && w->now.ms >= c->start_ms + first)
            conn_close(w, c, SC_FIRST_MESSAGE_TIMEOUT);
        else if (c->got_message && w->now.ms >= c->last_msg_ms + idle &&
                 !turn_client_allocated(w->turn, c->sock->handle, &c->client))
            conn_close(w, c, SC_IDLE_TIMEOUT);
    }
}

int dtls_open(struct worker *w, char *err, size_t errlen)
{
    if (!w->streams.tls)
        return 0;
    w->dtls.listener = dtls_listener_new(w->streams.tls);
    w->dtls.msg = malloc(DTLS_MSG_MAX);
    w->dtls.arena = malloc(DTLS_ARENA);
    if (!w->dtls.listener || !w->dtls.msg || !w->dtls.arena ||
        htab_init(&w->dtls.by_addr, 256) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int dtls_each_client(struct worker *w, int (*each)(void *ctx, int fd, const struct xt_addr *client),
                     void *ctx)
{
    int rc = 0;

    for (struct list_node *n = w->dtls.all; n && rc == 0; n = n->next) {
        struct wdconn *c = container_of(n, struct wdconn, entry);
        rc = each(ctx, c->fd, &c->client);
    }
    return rc;
}

void dtls_close_all(struct worker *w)
{
    dtls_forward_free(w);
    while (w->dtls.all)
        conn_close(w, container_of(w->dtls.all, struct wdconn, entry), SC_SHUTDOWN);
    udp_tx_flush(&w->tx);
    dtls_listener_free(w->dtls.listener);
    w->dtls.listener = NULL;
    htab_free(&w->dtls.by_addr);
    free(w->dtls.msg);
    free(w->dtls.arena);
    w->dtls.msg = w->dtls.arena = NULL;
}
