/* The bytes of RFC 6062 TCP allocations, relayed as they are between a peer connection and the
 * client data connection it is spliced with (the pairs: worker_tcp_internal.h).
 *
 * Both sockets are watched edge-triggered; each side of a pair holds at most TCP_RELAY_BUFFER
 * bytes the other has sent it and it has not read: the source is not read while they wait
 * (backpressure through the kernel's buffers, never memory growing without bound). Reads are
 * counted and taken from the allocation's --max-bps through the core (turn_tcp_relayed), which
 * says how long a side must rest; a timer resumes it, and pairs that used their turn with bytes
 * still to read. A side that ends (FIN) has the other's write side shut once its bytes are
 * through; when both have ended, or either fails, the pair is closed and the core told. A TLS
 * client side ends the pair when the peer's bytes are through. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "app/worker_tcp_internal.h"
#include "common/container_of.h"
#include "common/log.h"
#include "net/tls_server.h"

#define READS_PER_TURN 8 /* per side and event: then other sockets get their turn */
#define READ_CHUNK     (64u << 10)

/* ---- pairs ---- */

struct tcp_pair *tcp_pair_new(struct worker *w, enum pair_state state, void *owner)
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

void tcp_pair_close(struct worker *w, struct tcp_pair *p, bool tell, const char *why)
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

void tcp_pairs_on_timer(struct ev_handler *h, uint32_t events)
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
        tcp_pair_pump(w, p);
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

bool tcp_pair_pump(struct worker *w, struct tcp_pair *p)
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
                tcp_pair_close(w, p, true, "failed");
                return false;
            }
            more |= r > 0;
            /* A side that ended: the other gets all it sent, then the end too. */
            if (src->eof && !dst->shut && !stream_out_pending(&dst->out)) {
                if (dst->tls || src->tls) {
                    tcp_pair_close(w, p, true, "ended");
                    return false;
                }
                shutdown(dst->sock->ev.fd, SHUT_WR);
                dst->shut = true;
            }
        }
        if (p->end[END_CLIENT].shut && p->end[END_PEER].shut) {
            tcp_pair_close(w, p, true, "ended");
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

void tcp_pair_on_event(struct ev_handler *h, uint32_t events)
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
    tcp_pair_pump(w, p);
}
