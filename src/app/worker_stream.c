/* Client stream connections (TCP, RFC 8656 §12.5; TLS, RFC 7065) in the worker's event loop:
 * read (and decrypted, worker_stream_tls.c) into the round's read buffer and cut into messages
 * there, every whole message handed to the core; what the core sends a connection is queued with
 * it and written once per loop round (worker_stream_write.c). A connection holds memory only for a
 * message not complete yet and for bytes its client has not read. Accepting and listening:
 * worker_stream_accept.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "app/worker_stream_internal.h"
#include "common/log.h"
#include "net/stream_frame.h"
#include "net/stream_out.h"
#include "net/tls_server.h"

#define READS_PER_EVENT 8
/* The first bytes of each connection's incomplete message are not counted against the budget all
 * connections share: no client can make another's ordinary messages (a ChannelData cut by TCP
 * segments) fail by filling the budget with large ones. */
#define PARTIAL_FREE 4096u

/* ---- closing ---- */

/* What a buffer of cap bytes takes from the shared budget. */
static size_t charged(size_t cap)
{
    return cap > PARTIAL_FREE ? cap - PARTIAL_FREE : 0;
}

static void partial_free(struct worker *w, struct wconn *c)
{
    if (charged(c->pcap))
        conn_limits_buffer_put(w->streams.limits, charged(c->pcap));
    free(c->partial);
    c->partial = NULL;
    c->plen = c->pcap = 0;
}

/* Off the lists and the limits, its buffers freed, its handle closed (the wconn is freed with
 * its wsock, after the current dispatch). */
static void conn_free(struct worker *w, struct wconn *c)
{
    wconn_counters(w, c)->open--;
    conn_limits_put(w->streams.limits, &c->client);
    partial_free(w, c);
    list_unlink(&c->entry);
    if (c->dirty)
        list_unlink(&c->dirty_entry);
    if (c->ready)
        list_unlink(&c->ready_entry);
    c->dirty = c->ready = false;
    stream_out_free(&c->out);
    worker_sock_close(w, c->sock->handle);
}

void wconn_close(struct worker *w, struct wconn *c, enum stream_close why)
{
    /* Datagrams queued towards peers may point into this connection's buffers. */
    udp_tx_flush(&w->tx);
    wconn_counters(w, c)->closed[why]++;
    /* The allocation ends before the handle can name another connection. */
    turn_on_client_closed(w->turn, c->sock->handle, &c->client);
    if (c->tls) {
        /* close_notify, with whatever else waits, if the socket takes it at once */
        tls_conn_free(c->tls);
        c->tls = NULL;
        if (stream_out_pending(&c->out) &&
            write(c->sock->ev.fd, stream_out_data(&c->out), stream_out_pending(&c->out)) < 0) {
            /* nothing to do: the connection ends either way */
        }
    }
    conn_free(w, c);
}

void streams_conn_release(struct worker *w, struct wconn *c)
{
    /* Plain TCP with nothing to write (streams_conn_movable): closing this process's copy of
     * the socket sends nothing. */
    conn_free(w, c);
}

static enum stream_close close_reason(enum stream_frame_error e)
{
    switch (e) {
    case SFE_BAD_COOKIE:
        return SC_BAD_COOKIE;
    case SFE_STUN_LENGTH:
        return SC_STUN_LENGTH;
    default:
        return SC_NOT_TURN;
    }
}

/* ---- reading ---- */

/* Makes room for n bytes of an incomplete message, within the budget all connections share.
 * The buffer grows with what arrives, not with what a header announces. */
static bool partial_reserve(struct worker *w, struct wconn *c, size_t n)
{
    size_t cap = c->pcap ? c->pcap : 256;
    uint8_t *p;

    if (n <= c->pcap)
        return true;
    while (cap < n)
        cap *= 2;
    if (cap > c->need && c->need >= n)
        cap = c->need;
    if (charged(cap) > charged(c->pcap) &&
        !conn_limits_buffer_take(w->streams.limits, charged(cap) - charged(c->pcap)))
        return false;
    p = realloc(c->partial, cap);
    if (!p) {
        if (charged(cap) > charged(c->pcap))
            conn_limits_buffer_put(w->streams.limits, charged(cap) - charged(c->pcap));
        return false;
    }
    c->partial = p;
    c->pcap = cap;
    return true;
}

/* The connection stops being a stream connection (worker_tcp_relay.c takes it) while msg is
 * handled: rest_len bytes after it go along, the descriptor stays with its wsock. */
static void conn_hand_over(struct worker *w, struct wconn *c, const uint8_t *msg, size_t msg_len,
                           size_t rest_len)
{
    struct stream_handover h = {.tls = c->tls,
                                .transport = c->transport,
                                .client = c->client,
                                .msg = msg,
                                .msg_len = msg_len,
                                .rest_len = rest_len};
    struct wsock *s = c->sock;

    /* TLS queues records (not messages) in c->out: they go to the socket now, and the taker's
     * TLS writes go straight to the socket. The client waited for each answer before its
     * ConnectionBind, so nothing is normally left; what the socket does not take now is lost,
     * and with it the TLS stream. */
    if (c->tls) {
        if (stream_out_pending(&c->out) &&
            write(s->ev.fd, stream_out_data(&c->out), stream_out_pending(&c->out)) < 0) {
            /* the taker sees the connection fail */
        }
        stream_out_free(&c->out);
        if (tls_conn_write_to_socket(c->tls, s->ev.fd) != 0) {
            /* neither: the taker's first write fails and ends the pair */
        }
    }
    h.out = c->out;

    udp_tx_flush(&w->tx); /* as when closing: nothing queued may point into its buffers */
    wconn_counters(w, c)->closed[SC_HANDED_OVER]++;
    wconn_counters(w, c)->open--;
    list_unlink(&c->entry);
    if (c->dirty)
        list_unlink(&c->dirty_entry);
    if (c->ready)
        list_unlink(&c->ready_entry);
    s->conn = NULL;
    /* msg may lie in c->partial: taken before it is freed. */
    tcp_relay_take(w, s, &h);
    partial_free(w, c);
    free(c);
}

/* Hands every whole message in buf[0..len) to the core and keeps the incomplete rest in
 * c->partial (buf may be c->partial). kept: buf stays as it is until the round's flush (one of
 * the round's reads), else what the core queued from it is sent now. false: the connection was
 * closed. */
bool wconn_process(struct worker *w, struct wconn *c, uint8_t *buf, size_t len, bool kept)
{
    struct wsock *s = c->sock;
    size_t pos = 0, skip, frame_len, need, tail;
    enum stream_frame_error e = SFE_NONE;
    bool handled = false;
    int st;

    while ((st = stream_frame_next(&c->framer, buf + pos, len - pos, &skip, &frame_len, &need,
                                   &e)) == SF_FRAME) {
        turn_on_client(w->turn, &w->now, c->transport, s->handle, &s->local, &c->client,
                       buf + pos + skip, frame_len);
        /* A ConnectionBind made it an RFC 6062 data connection, or sent it to another worker. */
        if (s->kind != WS_CONN) {
            conn_hand_over(w, c, buf + pos + skip, frame_len, len - pos - skip - frame_len);
            return false;
        }
        pos += skip + frame_len;
        c->last_msg_ms = w->now.ms;
        c->got_message = true;
        handled = true;
    }
    /* What went towards peers points into buf: out before buf is reused. */
    if (handled && !kept)
        udp_tx_flush(&w->tx);
    if (st == SF_ERROR) {
        wconn_close(w, c, close_reason(e));
        return false;
    }
    tail = len - pos;
    c->need = need;
    if (buf == c->partial) {
        memmove(c->partial, c->partial + pos, tail);
        c->plen = tail;
    } else if (tail) {
        if (!partial_reserve(w, c, tail)) {
            wconn_close(w, c, SC_BUFFER_BUDGET);
            return false;
        }
        memcpy(c->partial, buf + pos, tail);
        c->plen = tail;
    }
    if (c->plen == 0)
        partial_free(w, c);
    return true;
}

/* One read: bytes read, 0 when nothing more is there now, -1 when the connection ended
 * (*why). */
static ssize_t conn_recv(struct wconn *c, uint8_t *buf, size_t len, enum stream_close *why)
{
    ssize_t n;

    if (c->tls)
        return wconn_tls_recv(c, buf, len, why);
    do
        n = read(c->sock->ev.fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        return n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    *why = n == 0 || errno == ECONNRESET ? SC_CLIENT_CLOSED : SC_READ_ERROR;
    return -1;
}

void wconn_set_ready(struct worker *w, struct wconn *c, bool ready)
{
    if (c->ready == ready)
        return;
    if (ready)
        list_push(&w->streams.ready, &c->ready_entry);
    else
        list_unlink(&c->ready_entry);
    c->ready = ready;
}

/* Room for a read of up to want bytes in the round's buffer; when there is not enough, what
 * points into it is sent first. */
static uint8_t *reads_room(struct worker *w, size_t want)
{
    if (READS_SIZE - w->streams.reads_used < want) {
        udp_tx_flush(&w->tx);
        w->streams.reads_used = 0;
    }
    return w->streams.reads + w->streams.reads_used;
}

static void conn_read(struct worker *w, struct wconn *c, uint32_t events)
{
    enum stream_close why = SC_READ_ERROR;

    if (c->detecting && !wconn_detect(w, c))
        return;
    for (int i = 0; i < READS_PER_EVENT; i++) {
        if ((c->tls_wanted || c->tls) && !wconn_handshake_record_ready(w, c, events))
            return;
        /* After an incomplete message, only what completes it (or its header): the rest of
         * the stream is framed from the scratch buffer again. */
        size_t want = c->plen ? c->need - c->plen : READ_MAX;
        uint8_t *buf = reads_room(w, want);
        ssize_t n = conn_recv(c, buf, want, &why);
        bool ok;

        if (n < 0) {
            wconn_close(w, c, why);
            return;
        }
        if (n == 0)
            break;
        if (c->plen) {
            if (!partial_reserve(w, c, c->plen + (size_t)n)) {
                wconn_close(w, c, SC_BUFFER_BUDGET);
                return;
            }
            memcpy(c->partial + c->plen, buf, (size_t)n);
            c->plen += (size_t)n;
            ok = wconn_process(w, c, c->partial, c->plen, false);
        } else {
            /* kept to the end of the round (8-byte aligned for the next) */
            w->streams.reads_used += ((size_t)n + 7) & ~(size_t)7;
            ok = wconn_process(w, c, buf, (size_t)n, true);
        }
        if (!ok)
            return;
        /* A short read emptied the socket (TLS reads a record at a time: it says so itself). */
        if (c->tls ? tls_conn_drained(c->tls) : (size_t)n < want)
            break;
    }
    /* Out of turns with decrypted bytes inside TLS: read again next round without an event. */
    wconn_set_ready(w, c, c->tls && tls_conn_pending(c->tls));
    /* A handshake flight (or a TLS 1.3 key update) to send. */
    wconn_mark_dirty(w, c);
}

void wconn_on_event(struct ev_handler *h, uint32_t events)
{
    struct wsock *s = container_of(h, struct wsock, ev);
    struct worker *w = s->w;
    struct wconn *c = s->conn;

    if ((events & EPOLLOUT) && !wconn_write(w, c))
        return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        conn_read(w, c, events);
}

bool streams_ready(const struct worker *w)
{
    return w->streams.ready != NULL;
}

void streams_read_ready(struct worker *w)
{
    struct list_node *n, *next;

    if (!w->streams.ready)
        return;
    worker_update_time(w);
    for (n = w->streams.ready; n; n = next) {
        struct wconn *c = container_of(n, struct wconn, ready_entry);
        next = n->next;
        wconn_set_ready(w, c, false);
        conn_read(w, c, EPOLLIN);
    }
}

/* ---- life cycle ---- */

void streams_tick(struct worker *w)
{
    struct list_node *n, *next;

    if (w->now.ms < w->streams.next_sweep_ms)
        return;
    w->streams.next_sweep_ms = w->now.ms + 1000;
    for (n = w->streams.all; n; n = next) {
        struct wconn *c = container_of(n, struct wconn, entry);
        /* --tcp-idle-timeout between messages (unless allocated), and a shorter
         * --tcp-first-message-timeout before the first */
        uint64_t limit =
            1000ull * (c->got_message ? w->cfg->stream_idle_s : w->cfg->stream_first_message_s);

        next = n->next;
        if (w->now.ms < c->last_msg_ms + limit)
            continue;
        /* An allocation keeps its connection: its lifetime and refreshes decide. */
        if (c->got_message && turn_client_allocated(w->turn, c->sock->handle, &c->client))
            continue;
        wconn_close(w, c, c->got_message ? SC_IDLE_TIMEOUT : SC_FIRST_MESSAGE_TIMEOUT);
    }
}

void streams_close_all(struct worker *w)
{
    while (w->streams.all)
        wconn_close(w, container_of(w->streams.all, struct wconn, entry), SC_SHUTDOWN);
    free(w->streams.scratch);
    free(w->streams.reads);
    free(w->streams.msg);
    w->streams.scratch = w->streams.reads = w->streams.msg = NULL;
    if (w->streams.spare_fd >= 0)
        close(w->streams.spare_fd);
    w->streams.spare_fd = -1;
}
