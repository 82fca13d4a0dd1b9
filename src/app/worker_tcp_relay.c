/* RFC 6062 TCP allocations in the worker's event loop: the sockets behind the core's turn_io.tcp_*
 * (relayed addresses' listening sockets, connections to and from peers), and the bytes relayed,
 * as they are, between a peer connection and the client data connection it is spliced with.
 *
 * A pair is one peer connection and, once a ConnectionBind spliced them, one client data
 * connection (plain TCP or TLS: the stream connection the ConnectionBind came on, taken over from
 * worker_stream.c). Both sockets are watched edge-triggered; each side of a pair holds at most
 * TCP_RELAY_BUFFER bytes the other has sent it and it has not read: the source is not read while
 * they wait (backpressure through the kernel's buffers, never memory growing without bound).
 * Reads are counted and taken from the allocation's --max-bps through the core
 * (turn_tcp_relayed), which says how long a side must rest; a timer resumes it, and pairs that
 * used their turn with bytes still to read. A side that ends (FIN) has the other's write side
 * shut once its bytes are through; when both have ended, or either fails, the pair is closed and
 * the core told. A TLS client side ends the pair when the peer's bytes are through.
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
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "app/worker_internal.h"
#include "common/container_of.h"
#include "common/log.h"
#include "net/tcp_socket.h"
#include "net/tls_server.h"

#define TCP_RELAY_BUFFER  (64u << 10) /* bytes waiting for one side of a pair, at most */
#define TCP_RELAY_BACKLOG 64
#define READS_PER_TURN    8 /* per side and event: then other sockets get their turn */
#define READ_CHUNK        (64u << 10)

enum pair_state { TP_CONNECTING, TP_PENDING, TP_SPLICED };
enum { END_CLIENT = 0, END_PEER = 1 };

/* One side of a pair. */
struct tr_end {
    struct wsock *sock;      /* NULL: not there (yet) */
    struct tls_conn *tls;    /* the client side over TLS */
    struct stream_out out;   /* bytes for this side, not written yet */
    bool readable, writable; /* as far as we know: cleared by EAGAIN, set by events */
    bool eof;                /* it ended: nothing more to read */
    bool shut;               /* its write side is shut: it has all it will get */
};

struct tcp_pair {
    struct list_node entry;      /* in tcp_relay.pairs */
    struct list_node wait_entry; /* in tcp_relay.waiting while wake_ms is set */
    void *owner;                 /* the core's connection */
    enum pair_state state;
    struct tr_end end[2];  /* END_CLIENT, END_PEER */
    uint64_t resume_ms[2]; /* by direction (TURN_TO_PEER...): no reading before */
    uint64_t wake_ms;      /* 0: not waiting */
    struct xt_addr client; /* the data connection's client, for the connection limits */
    bool holds_client;
};

/* A connection another worker handed over, in the mailbox. */
struct handoff {
    struct handoff *next;
    int fd;
    struct xt_addr local;
    struct stream_handover h; /* msg, rest: unused; the bytes follow */
    size_t len;
    uint8_t bytes[];
};

struct tcp_relay {
    struct worker *w;
    struct ev_handler timer;   /* timerfd: pairs waiting for their rate or their turn */
    struct ev_handler mailbox; /* eventfd: connections other workers handed over */
    pthread_mutex_t lock;      /* of the mailbox */
    struct handoff *head, **tail;
    struct list_node *pairs;
    struct list_node *waiting;
    uint64_t armed_ms; /* when the timer fires, 0: not armed */
};

static bool pump(struct worker *w, struct tcp_pair *p);

/* ---- pairs ---- */

static struct tcp_pair *pair_new(struct worker *w, enum pair_state state, void *owner)
{
    struct tcp_pair *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->state = state;
    p->owner = owner;
    list_push(&w->tcp->pairs, &p->entry);
    return p;
}

static void end_close(struct worker *w, struct tr_end *e)
{
    if (e->tls)
        tls_conn_free(e->tls); /* close_notify when it cannot block, before the fd closes */
    if (e->sock)
        worker_sock_close(w, e->sock->handle);
    stream_out_free(&e->out);
    e->tls = NULL;
    e->sock = NULL;
}

/* Closes both sides; tell: the core does not know yet (it did not ask for it). */
static void pair_close(struct worker *w, struct tcp_pair *p, bool tell, const char *why)
{
    void *owner = p->owner;

    if (log_enabled(LOG_DEBUG)) {
        char c[XT_ADDR_STRLEN] = "";
        if (p->holds_client)
            xt_addr_str(&p->client, c);
        xt_log(LOG_DEBUG, "TCP relay connection closed", "client", c, "reason", why, NULL);
    }
    end_close(w, &p->end[END_CLIENT]);
    end_close(w, &p->end[END_PEER]);
    if (p->holds_client)
        conn_limits_put(w->streams.limits, &p->client);
    if (p->wake_ms)
        list_unlink(&p->wait_entry);
    list_unlink(&p->entry);
    free(p);
    if (tell && owner)
        turn_on_tcp_closed(w->turn, owner);
}

static struct tcp_pair *pair_of(struct worker *w, int handle)
{
    struct wsock *s = handle >= 0 && (size_t)handle < w->nsocks ? w->socks[handle] : NULL;
    return s && (s->kind == WS_TCP_PEER || s->kind == WS_TCP_DATA) ? s->owner : NULL;
}

/* ---- waking pairs up ---- */

static void arm(struct tcp_relay *t, uint64_t at_ms, uint64_t now_ms)
{
    struct itimerspec its = {0};
    uint64_t in_ms = at_ms > now_ms ? at_ms - now_ms : 0;

    /* Zero would disarm it: at once is one nanosecond. */
    its.it_value.tv_sec = (time_t)(in_ms / 1000);
    its.it_value.tv_nsec = in_ms ? (long)(in_ms % 1000) * 1000000 : 1;
    if (timerfd_settime(t->timer.fd, 0, &its, NULL) == 0)
        t->armed_ms = at_ms > now_ms ? at_ms : now_ms;
}

/* Pump p again at at_ms (or earlier, if it waits for that already). */
static void wake_at(struct worker *w, struct tcp_pair *p, uint64_t at_ms)
{
    struct tcp_relay *t = w->tcp;

    if (p->wake_ms && p->wake_ms <= at_ms)
        return;
    if (!p->wake_ms)
        list_push(&t->waiting, &p->wait_entry);
    p->wake_ms = at_ms ? at_ms : 1;
    if (!t->armed_ms || at_ms < t->armed_ms)
        arm(t, at_ms, w->now.ms);
}

static void on_timer(struct ev_handler *h, uint32_t events)
{
    struct tcp_relay *t = container_of(h, struct tcp_relay, timer);
    struct worker *w = t->w;
    struct list_node *due = NULL, *n, *next;
    uint64_t expirations, next_ms = 0;

    (void)events;
    if (read(h->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        return;
    worker_update_time(w);
    t->armed_ms = 0;
    for (n = t->waiting; n; n = next) {
        struct tcp_pair *p = container_of(n, struct tcp_pair, wait_entry);

        next = n->next;
        if (p->wake_ms <= w->now.ms) {
            list_unlink(n);
            p->wake_ms = 0;
            list_push(&due, n);
        } else if (!next_ms || p->wake_ms < next_ms) {
            next_ms = p->wake_ms;
        }
    }
    if (next_ms)
        arm(t, next_ms, w->now.ms);
    /* One at a time off the list: pumping one can only close or re-queue itself. */
    while (due) {
        struct tcp_pair *p = container_of(due, struct tcp_pair, wait_entry);
        list_unlink(due);
        pump(w, p);
    }
}

/* ---- reading and writing one side ---- */

/* One read (write false) into buf or write of buf: bytes, 0 when the socket takes or has
 * nothing now (that way is no longer ready), -1 at the end of what the side sends, -2 on
 * failure. */
static ssize_t end_io(struct tr_end *e, bool write, void *buf, size_t len)
{
    bool *ready = write ? &e->writable : &e->readable;
    ssize_t n;

    if (e->tls) {
        enum tls_io st;
        n = write ? tls_conn_write(e->tls, buf, len, &st) : tls_conn_read(e->tls, buf, len, &st);
        if (n > 0)
            return n;
        if (st == TLS_IO_WANT_READ || st == TLS_IO_WANT_WRITE) {
            *ready = false;
            return 0;
        }
        return st == TLS_IO_CLOSED && !write ? -1 : -2;
    }
    do
        n = write ? send(e->sock->ev.fd, buf, len, MSG_NOSIGNAL) : read(e->sock->ev.fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        return n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        *ready = false;
        return 0;
    }
    return n == 0 && !write ? -1 : -2;
}

/* One read: bytes, 0 when nothing is there now, -1 at the end (e->eof), -2 on failure. */
static ssize_t end_read(struct tr_end *e, uint8_t *buf, size_t len)
{
    ssize_t n = end_io(e, false, buf, len);

    if (n == -1)
        e->eof = true;
    return n;
}

/* One write: bytes written, 0 when the socket takes nothing now, -1 on failure. */
static ssize_t end_write(struct tr_end *e, const uint8_t *buf, size_t len)
{
    ssize_t n = end_io(e, true, (void *)buf, len);

    return n < 0 ? -1 : n;
}

/* Writes what waits for e as far as it takes it: false on failure. */
static bool end_flush(struct tr_end *e)
{
    while (e->writable && stream_out_pending(&e->out)) {
        ssize_t n = end_write(e, stream_out_data(&e->out), stream_out_pending(&e->out));
        if (n < 0)
            return false;
        stream_out_consume(&e->out, (size_t)n);
    }
    return true;
}

/* Bytes just read from the other side for dst: written at once if nothing waits before them,
 * the rest kept (there is room: the read was no larger). false on failure. */
static bool end_give(struct tr_end *dst, const uint8_t *buf, size_t len)
{
    size_t done = 0;

    if (!stream_out_pending(&dst->out)) {
        while (done < len && dst->writable) {
            ssize_t n = end_write(dst, buf + done, len - done);
            if (n < 0)
                return false;
            done += (size_t)n;
        }
    }
    return done == len ||
           stream_out_append(&dst->out, buf + done, len - done, NULL, 0, 0, TCP_RELAY_BUFFER) == 0;
}

/* ---- relaying ---- */

/* One direction's turn: reads from src for dst while there is room, it is allowed and src has
 * bytes. -1: the pair failed; else whether src still has bytes to read and used its turn. */
static int relay_dir(struct worker *w, struct tcp_pair *p, int dir, bool *progress)
{
    struct tr_end *src = &p->end[dir == TURN_TO_PEER ? END_CLIENT : END_PEER];
    struct tr_end *dst = &p->end[dir == TURN_TO_PEER ? END_PEER : END_CLIENT];
    uint8_t *buf = w->streams.scratch;

    for (int i = 0; i < READS_PER_TURN; i++) {
        size_t waiting, room;
        uint32_t rest_ms;
        ssize_t n;

        if (!end_flush(dst))
            return -1;
        waiting = stream_out_pending(&dst->out);
        room = waiting < TCP_RELAY_BUFFER ? TCP_RELAY_BUFFER - waiting : 0;
        if (src->eof || !src->readable || room == 0)
            return 0;
        /* Resting for the rate: the timer brings it back (whatever else woke the pair). */
        if (w->now.ms < p->resume_ms[dir]) {
            wake_at(w, p, p->resume_ms[dir]);
            return 0;
        }
        n = end_read(src, buf, room < READ_CHUNK ? room : READ_CHUNK);
        if (n == -2)
            return -1;
        if (n <= 0)
            return 0;
        *progress = true;
        if (!end_give(dst, buf, (size_t)n))
            return -1;
        rest_ms = turn_tcp_relayed(w->turn, &w->now, p->owner, dir, (size_t)n);
        if (rest_ms) {
            p->resume_ms[dir] = w->now.ms + rest_ms;
            wake_at(w, p, p->resume_ms[dir]);
            return 0;
        }
    }
    return 1;
}

/* What can be done now, both ways. false: the pair was closed. */
static bool pump(struct worker *w, struct tcp_pair *p)
{
    bool progress = true, more = false;

    if (p->state != TP_SPLICED)
        return true;
    while (progress) {
        progress = false;
        more = false;
        for (int dir = 0; dir < 2; dir++) {
            struct tr_end *src = &p->end[dir == TURN_TO_PEER ? END_CLIENT : END_PEER];
            struct tr_end *dst = &p->end[dir == TURN_TO_PEER ? END_PEER : END_CLIENT];
            int r = relay_dir(w, p, dir, &progress);

            if (r < 0) {
                pair_close(w, p, true, "failed");
                return false;
            }
            more |= r > 0;
            /* A side that ended: the other gets all it sent, then the end too. */
            if (src->eof && !dst->shut && !stream_out_pending(&dst->out)) {
                if (dst->tls || src->tls) {
                    pair_close(w, p, true, "ended");
                    return false;
                }
                shutdown(dst->sock->ev.fd, SHUT_WR);
                dst->shut = true;
            }
        }
        if (p->end[END_CLIENT].shut && p->end[END_PEER].shut) {
            pair_close(w, p, true, "ended");
            return false;
        }
        /* Turns used with bytes left: the rest next round, after the other sockets. */
        if (more) {
            wake_at(w, p, w->now.ms);
            break;
        }
    }
    return true;
}

/* The outcome of a tcp_connect: SO_ERROR says it. */
static void connect_done(struct worker *w, struct tcp_pair *p, struct wsock *s)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(s->ev.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == 0)
        p->state = TP_PENDING;
    /* On failure the core closes it (tcp_close), so p may be gone. */
    turn_on_tcp_connected(w->turn, &w->now, p->owner, -err);
}

static void on_pair_event(struct ev_handler *h, uint32_t events)
{
    struct wsock *s = container_of(h, struct wsock, ev);
    struct worker *w = s->w;
    struct tcp_pair *p;
    struct tr_end *e;

    if (s->ev.fd < 0) /* closed earlier in this round */
        return;
    p = s->owner;
    if (p->state == TP_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            connect_done(w, p, s);
        return;
    }
    /* Not relaying yet: what the peer sends waits in the kernel's buffer. */
    if (p->state != TP_SPLICED)
        return;
    e = &p->end[s == p->end[END_CLIENT].sock ? END_CLIENT : END_PEER];
    e->readable = e->writable = true;
    pump(w, p);
}

/* ---- the core's turn_io.tcp_* ---- */

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
    int handle = sock_add_edge(w, fd, WS_TCP_PEER, p, local, on_pair_event);

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
        p = pair_new(w, TP_PENDING, NULL);
        if (!p) {
            close(fd);
            continue;
        }
        handle = pair_sock(w, p, fd, &ls->local);
        if (handle < 0) {
            pair_close(w, p, false, "no memory");
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
    /* SO_REUSEPORT: its connections to peers are bound to the same address beside it. */
    int fd = tcp_listen_open(addr, 1, TCP_RELAY_BACKLOG);

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
    p = pair_new(w, TP_CONNECTING, owner);
    if (!p) {
        close(fd);
        return -ENOMEM;
    }
    handle = pair_sock(w, p, fd, local);
    if (handle < 0)
        pair_close(w, p, false, "no memory");
    /* The outcome comes with the first event (EPOLLOUT, or EPOLLERR), never from in here. */
    return handle;
}

void tcp_relay_close(void *ctx, int handle)
{
    struct worker *w = ctx;
    struct tcp_pair *p = pair_of(w, handle);

    if (p)
        pair_close(w, p, false, "closed by the core");
}

int tcp_relay_splice(void *ctx, int data_handle, int peer_handle, void *owner)
{
    struct worker *w = ctx;
    struct wsock *ds =
        data_handle >= 0 && (size_t)data_handle < w->nsocks ? w->socks[data_handle] : NULL;
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
    struct wsock *s =
        data_handle >= 0 && (size_t)data_handle < w->nsocks ? w->socks[data_handle] : NULL;

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
    s->ev.cb = on_pair_event;
    if (ev_watch_edge(w->loop, &s->ev) != 0) {
        pair_close(w, p, true, "cannot watch");
        return;
    }
    /* Whatever came before now: try both sides. */
    for (int i = 0; i < 2; i++)
        p->end[i].readable = p->end[i].writable = true;
    pump(w, p);
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
    t->timer.cb = on_timer;
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
        pair_close(w, container_of(t->pairs, struct tcp_pair, entry), false, "shutdown");
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
