/* RFC 6062 TCP allocations in the worker's event loop: the sockets behind the core's turn_io.tcp_*
 * (relayed addresses' listening sockets, connections to and from peers, a client data connection
 * spliced with a peer connection), and connections handed over between workers. What a spliced
 * pair relays: worker_tcp_pump.c.
 *
 * A ConnectionBind that reaches another worker than its connection's (SO_REUSEPORT spreads a
 * client's connections) is handed over: the core names the worker (turn_io.tcp_redirect), the
 * stream connection leaves this loop and goes, message and all, into that worker's mailbox. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "app/worker_tcp_internal.h"
#include "common/container_of.h"
#include "common/log.h"
#include "net/tcp_socket.h"
#include "net/tls_server.h"

#define TCP_RELAY_BACKLOG 64

/* A connection another worker handed over, in the mailbox. */
struct handoff {
    struct handoff *next;
    int fd;
    struct xt_addr local;
    struct stream_handover h; /* msg, rest: unused; the bytes follow */
    size_t len;
    uint8_t bytes[];
};

/* ---- the core's turn_io.tcp_* ---- */

/* The socket of a handle from the core, NULL when there is none. */
static struct wsock *sock_at(struct worker *w, int handle)
{
    return handle >= 0 && (size_t)handle < w->nsocks ? w->socks[handle] : NULL;
}

static struct tcp_pair *pair_of(struct worker *w, int handle)
{
    struct wsock *s = sock_at(w, handle);
    return s && (s->kind == WS_TCP_PEER || s->kind == WS_TCP_DATA) ? s->owner : NULL;
}

/* Watches fd edge-triggered under a new handle: the handle, or -errno (fd closed). */
static int sock_add_edge(struct worker *w, int fd, enum wsock_kind kind, void *owner,
                         const struct xt_addr *local, ev_cb cb)
{
    int handle = worker_sock_add(w, fd, kind, owner, local, cb), err;

    if (handle < 0) {
        close(fd);
        return handle;
    }
    err = ev_watch_edge(w->loop, &w->socks[handle]->ev);
    if (err) {
        worker_sock_close(w, handle);
        return err;
    }
    return handle;
}

/* A pair's peer connection: the handle, or -errno (fd closed). */
static int pair_sock(struct worker *w, struct tcp_pair *p, int fd, const struct xt_addr *local)
{
    int handle = sock_add_edge(w, fd, WS_TCP_PEER, p, local, tcp_pair_on_event);

    if (handle >= 0)
        p->end[END_PEER].sock = w->socks[handle];
    return handle;
}

static void on_relay_accept(struct ev_handler *h, uint32_t events)
{
    struct wsock *ls = container_of(h, struct wsock, ev);
    struct worker *w = ls->w;

    (void)events;
    /* Edge-triggered: everything waiting (the backlog bounds it), or until out of descriptors
     * (the rest waits for the next connection's edge). */
    while (ls->ev.fd >= 0) {
        struct xt_addr peer;
        struct tcp_pair *p;
        int fd = tcp_accept(ls->ev.fd, &peer), handle;

        if (fd == -EAGAIN || fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM || fd == -ENOBUFS)
            return;
        if (fd < 0) /* the peer gave up already (ECONNABORTED) or similar */
            continue;
        p = tcp_pair_new(w, TP_PENDING, NULL);
        if (!p) {
            close(fd);
            continue;
        }
        handle = pair_sock(w, p, fd, &ls->local);
        if (handle < 0) {
            tcp_pair_close(w, p, false, "no memory");
            continue;
        }
        worker_update_time(w);
        /* The core keeps it, or closes it at once (no permission): tcp_close. */
        turn_on_tcp_accept(w->turn, &w->now, ls->owner, handle, &peer);
    }
}

int tcp_relay_listen(void *ctx, const struct xt_addr *addr, void *owner)
{
    struct worker *w = ctx;
    /* SO_REUSEPORT (its connections to peers are bound to the same address beside it) would
     * share the port with a listener of the same user there: the TCP allocation a live upgrade's
     * old process serves on. Such a port is taken (-EADDRINUSE: the allocator moves on). */
    int fd = tcp_address_free(addr);

    if (fd == 0)
        fd = tcp_listen_open(addr, 1, TCP_RELAY_BACKLOG);

    return fd < 0 ? fd : sock_add_edge(w, fd, WS_TCP_RELAY_LISTEN, owner, addr, on_relay_accept);
}

int tcp_relay_connect(void *ctx, const struct xt_addr *local, const struct xt_addr *peer,
                      void *owner)
{
    struct worker *w = ctx;
    struct tcp_pair *p;
    int fd = tcp_connect_from(local, peer), handle;

    if (fd < 0)
        return fd;
    p = tcp_pair_new(w, TP_CONNECTING, owner);
    if (!p) {
        close(fd);
        return -ENOMEM;
    }
    handle = pair_sock(w, p, fd, local);
    if (handle < 0)
        tcp_pair_close(w, p, false, "no memory");
    /* The outcome comes with the first event (EPOLLOUT, or EPOLLERR), never from in here. */
    return handle;
}

void tcp_relay_close(void *ctx, int handle)
{
    struct worker *w = ctx;
    struct tcp_pair *p = pair_of(w, handle);

    if (p)
        tcp_pair_close(w, p, false, "closed by the core");
}

int tcp_relay_splice(void *ctx, int data_handle, int peer_handle, void *owner)
{
    struct worker *w = ctx;
    struct wsock *ds = sock_at(w, data_handle);
    struct tcp_pair *p = pair_of(w, peer_handle);

    if (!ds || ds->kind != WS_CONN || !p || p->state != TP_PENDING)
        return -1;
    p->owner = owner;
    p->state = TP_SPLICED;
    p->end[END_CLIENT].sock = ds;
    /* The stream code hands the connection over once the core is done with its message
     * (tcp_relay_take); until then what the core sends it is kept for it (tcp_relay_send). */
    ds->kind = WS_TCP_DATA;
    ds->owner = p;
    return 0;
}

int tcp_relay_redirect(void *ctx, int data_handle, void *target)
{
    struct worker *w = ctx;
    struct wsock *s = sock_at(w, data_handle);

    if (!s || s->kind != WS_CONN || target == w)
        return -1;
    s->kind = WS_HANDOFF;
    s->owner = target;
    return 0;
}

void tcp_relay_send(struct worker *w, int handle, const void *a, size_t alen, const void *b,
                    size_t blen, size_t pad)
{
    struct tcp_pair *p = w->socks[handle]->owner;

    /* Only the ConnectionBind response comes this way; what precedes it is queued first. */
    stream_out_append(&p->end[END_CLIENT].out, a, alen, b, blen, pad, 2 * TCP_RELAY_BUFFER);
}

/* ---- taking connections over ---- */

static void handoff_drop(struct worker *w, int fd, struct stream_handover *h)
{
    if (h->tls)
        tls_conn_free(h->tls);
    close(fd);
    stream_out_free(&h->out);
    conn_limits_put(w->streams.limits, &h->client);
}

/* Into the mailbox of the worker the connection's id belongs to. */
static void hand_to(struct worker *w, struct wsock *s, struct stream_handover *h)
{
    struct worker *to = s->owner;
    struct tcp_relay *t = to->tcp;
    size_t len = h->msg_len + h->rest_len;
    struct handoff *m = malloc(sizeof(*m) + len);
    struct xt_addr local = s->local;
    int fd = worker_sock_detach(w, s->handle);
    uint64_t one = 1;

    if (!m) {
        handoff_drop(w, fd, h);
        return;
    }
    m->next = NULL;
    m->fd = fd;
    m->local = local;
    m->h = *h;
    m->h.msg = NULL;
    m->len = len;
    memcpy(m->bytes, h->msg, len);
    if (log_enabled(LOG_DEBUG)) {
        char c[XT_ADDR_STRLEN];
        xt_log(LOG_DEBUG, "data connection handed to the worker of its connection id", "client",
               xt_addr_str(&h->client, c), NULL);
    }
    pthread_mutex_lock(&t->lock);
    *t->tail = m;
    t->tail = &m->next;
    pthread_mutex_unlock(&t->lock);
    if (write(t->mailbox.fd, &one, sizeof(one)) != sizeof(one))
        xt_log(LOG_ERROR, "cannot wake a worker for a connection handed to it", "error",
               strerror(errno), NULL);
}

static void on_mailbox(struct ev_handler *h, uint32_t events)
{
    struct tcp_relay *t = container_of(h, struct tcp_relay, mailbox);
    struct handoff *m;
    uint64_t v;

    (void)events;
    if (read(h->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&t->lock);
    m = t->head;
    t->head = NULL;
    t->tail = &t->head;
    pthread_mutex_unlock(&t->lock);
    worker_update_time(t->w);
    while (m) {
        struct handoff *next = m->next;
        streams_adopt(t->w, m->fd, &m->local, &m->h, m->bytes, m->len);
        free(m);
        m = next;
    }
}

void tcp_relay_take(struct worker *w, struct wsock *s, struct stream_handover *h)
{
    struct tcp_pair *p;
    struct tr_end *c;

    if (s->kind == WS_HANDOFF) {
        hand_to(w, s, h);
        return;
    }
    p = s->owner;
    c = &p->end[END_CLIENT];
    c->tls = h->tls;
    p->client = h->client;
    p->holds_client = true;
    /* What the stream connection had queued goes first, then the ConnectionBind response. */
    if (stream_out_pending(&h->out)) {
        stream_out_append(&h->out, stream_out_data(&c->out), stream_out_pending(&c->out), NULL, 0,
                          0, SIZE_MAX);
        stream_out_free(&c->out);
        c->out = h->out;
    } else {
        stream_out_free(&h->out);
    }
    /* Bytes the client sent right after its ConnectionBind are the peer's. */
    if (h->rest_len)
        stream_out_append(&p->end[END_PEER].out, h->msg + h->msg_len, h->rest_len, NULL, 0, 0,
                          SIZE_MAX);
    s->ev.cb = tcp_pair_on_event;
    if (ev_watch_edge(w->loop, &s->ev) != 0) {
        tcp_pair_close(w, p, true, "cannot watch");
        return;
    }
    /* Whatever came before now: try both sides. */
    for (int i = 0; i < 2; i++)
        p->end[i].readable = p->end[i].writable = true;
    tcp_pair_pump(w, p);
}

/* ---- life cycle ---- */

int tcp_relay_new(struct worker *w, char *err, size_t errlen)
{
    struct tcp_relay *t = calloc(1, sizeof(*t));

    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->tcp = t;
    t->w = w;
    t->tail = &t->head;
    pthread_mutex_init(&t->lock, NULL);
    t->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    t->timer.cb = tcp_pairs_on_timer;
    t->mailbox.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    t->mailbox.cb = on_mailbox;
    if (t->timer.fd < 0 || t->mailbox.fd < 0 || ev_add(w->loop, &t->timer) != 0 ||
        ev_add(w->loop, &t->mailbox) != 0) {
        snprintf(err, errlen, "cannot make the TCP relay's timer and mailbox: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void tcp_relay_free(struct worker *w)
{
    struct tcp_relay *t = w->tcp;

    if (!t)
        return;
    while (t->pairs)
        tcp_pair_close(w, container_of(t->pairs, struct tcp_pair, entry), false, "shutdown");
    while (t->head) {
        struct handoff *m = t->head;
        t->head = m->next;
        handoff_drop(w, m->fd, &m->h);
        free(m);
    }
    if (t->timer.fd >= 0)
        close(t->timer.fd);
    if (t->mailbox.fd >= 0)
        close(t->mailbox.fd);
    pthread_mutex_destroy(&t->lock);
    free(t);
    w->tcp = NULL;
}
