/* Writing to client stream connections: what the core sends a connection is queued with it
 * (stream_out; TLS records land in the same queue) and written once per loop round, or when
 * EPOLLOUT says a full socket takes more. */
#include <errno.h>
#include <unistd.h>

#include "app/worker_stream_internal.h"
#include "net/stream_out.h"

/* EPOLLOUT while a write waits for room. (TLS writes its records into the same queue: it never
 * waits for the socket itself.) */
static void update_events(struct worker *w, struct wconn *c)
{
    bool on = c->write_blocked;

    if (c->write_watched != on && ev_watch_write(w->loop, &c->sock->ev, on) == 0)
        c->write_watched = on;
}

/* One write of what waits: bytes written, 0 when the socket takes nothing now, -1 when the
 * connection failed (*why). */
static ssize_t conn_send_some(struct wconn *c, enum stream_close *why)
{
    ssize_t n;

    do
        n = write(c->sock->ev.fd, stream_out_data(&c->out), stream_out_pending(&c->out));
    while (n < 0 && errno == EINTR);
    if (n > 0)
        return n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    *why = n < 0 && (errno == EPIPE || errno == ECONNRESET) ? SC_CLIENT_CLOSED : SC_WRITE_ERROR;
    return -1;
}

bool wconn_write(struct worker *w, struct wconn *c)
{
    enum stream_close why = SC_WRITE_ERROR;

    c->write_blocked = false;
    while (stream_out_pending(&c->out)) {
        ssize_t n = conn_send_some(c, &why);
        if (n < 0) {
            wconn_close(w, c, why);
            return false;
        }
        if (n == 0) {
            c->write_blocked = true;
            break;
        }
        stream_out_consume(&c->out, (size_t)n);
    }
    update_events(w, c);
    return true;
}

void wconn_mark_dirty(struct worker *w, struct wconn *c)
{
    if (!c->dirty && !c->write_blocked && stream_out_pending(&c->out)) {
        list_push(&w->streams.dirty, &c->dirty_entry);
        c->dirty = true;
    }
}

void streams_send(struct worker *w, int handle, const void *a, size_t alen, const void *b,
                  size_t blen, size_t pad)
{
    struct wconn *c = w->socks[handle]->conn;
    int rc = c->tls ? wconn_tls_send(w, c, a, alen, b, blen, pad)
                    : stream_out_append(&c->out, a, alen, b, blen, pad, STREAM_OUT_MAX);

    /* Whole messages or nothing: a cut one would break the stream's framing. */
    if (rc != 0) {
        wconn_counters(w, c)->slow_reader_drops++;
        return;
    }
    /* A full socket is written to again when EPOLLOUT says it takes more. */
    wconn_mark_dirty(w, c);
}

void streams_flush(struct worker *w)
{
    /* The round's datagrams are sent (worker.c flushes them first): the reads are free again. */
    w->streams.reads_used = 0;
    while (w->streams.dirty) {
        struct wconn *c = container_of(w->streams.dirty, struct wconn, dirty_entry);
        list_unlink(&c->dirty_entry);
        c->dirty = false;
        wconn_write(w, c);
    }
}
