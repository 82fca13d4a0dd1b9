/* Client stream connections (TCP, RFC 8656 §12.5; TLS, RFC 7065) in the worker's event loop:
 * accepted under the limits all workers share, read (and decrypted) into one scratch buffer and
 * cut into messages there, every whole message handed to the core; what the core sends a
 * connection is queued with it and written once per loop round. A connection holds memory only
 * for a message not complete yet and for bytes its client has not read. On a --tls-listen port
 * the first byte tells TLS from plain TCP. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/worker_internal.h"
#include "common/log.h"
#include "net/stream_frame.h"
#include "net/stream_out.h"
#include "net/tcp_socket.h"
#include "net/tls_server.h"

#define STREAM_BACKLOG       1024
#define ACCEPTS_PER_EVENT    64 /* then other sockets get their turn */
#define READS_PER_EVENT      8
#define SCRATCH_SIZE         (128u << 10)
#define READ_MAX             (128u << 10) /* one read of a connection */
#define READS_SIZE           (512u << 10) /* a round's reads, until the flush */
#define STREAM_OUT_MAX       (256u << 10) /* waiting for a client that does not read */
#define REFUSAL_LOG_INTERVAL 1000u
/* The first bytes of each connection's incomplete message are not counted against the budget all
 * connections share: no client can make another's ordinary messages (a ChannelData cut by TCP
 * segments) fail by filling the budget with large ones. */
#define PARTIAL_FREE 4096u
/* The longest TLS record: header, 2^14 bytes of plaintext and what encryption may add. */
#define TLS_RECORD_MAX (5u + 16384u + 2048u)
/* What a record adds to a message: header, tag, and room for padding, per 16 KiB. */
#define TLS_RECORD_OVERHEAD (4u * 64u)

_Static_assert(READ_MAX > STREAM_FRAME_MAX + 4, "a whole message fits one read");
_Static_assert(READS_SIZE >= READ_MAX, "a read fits the round's buffer");

struct wconn {
    struct wsock *sock;
    struct list_node entry;       /* in streams.all */
    struct list_node dirty_entry; /* in streams.dirty while it has bytes to write this round */
    struct list_node ready_entry; /* in streams.ready while TLS holds bytes to read */
    struct tls_conn *tls;         /* NULL: plain TCP */
    enum turn_transport transport;
    struct xt_addr client;
    struct stream_framer framer;
    uint8_t *partial; /* an incomplete message: plen bytes of pcap, need to go on */
    size_t plen, pcap, need;
    struct stream_out out;
    uint64_t last_msg_ms; /* the last whole message; until the first, when it connected */
    bool got_message;
    bool detecting;    /* on a TLS port, before the first byte */
    bool tls_wanted;   /* TLS, whose first record has not all come yet (c->tls still NULL) */
    uint32_t rcvlowat; /* SO_RCVLOWAT set while a handshake record is incomplete; 0: not set */
    bool dirty, ready;
    bool write_blocked; /* the socket was full: EPOLLOUT tells when it takes more */
    bool write_watched;
};

static struct stream_counters *counters(struct worker *w, const struct wconn *c)
{
    return &w->streams_ctr[c->transport];
}

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

static void conn_close(struct worker *w, struct wconn *c, enum stream_close why)
{
    struct wsock *s = c->sock;

    /* Datagrams queued towards peers may point into this connection's buffers. */
    udp_tx_flush(&w->tx);
    counters(w, c)->closed[why]++;
    counters(w, c)->open--;
    /* The allocation ends before the handle can name another connection. */
    turn_on_client_closed(w->turn, s->handle, &c->client);
    conn_limits_put(w->streams.limits, &c->client);
    partial_free(w, c);
    list_unlink(&c->entry);
    if (c->dirty)
        list_unlink(&c->dirty_entry);
    if (c->ready)
        list_unlink(&c->ready_entry);
    c->dirty = c->ready = false;
    if (c->tls) {
        /* close_notify, with whatever else waits, if the socket takes it at once */
        tls_conn_free(c->tls);
        c->tls = NULL;
        if (stream_out_pending(&c->out) &&
            write(c->sock->ev.fd, stream_out_data(&c->out), stream_out_pending(&c->out)) < 0) {
            /* nothing to do: the connection ends either way */
        }
    }
    stream_out_free(&c->out);
    /* The wconn is freed with its wsock, after the current dispatch. */
    worker_sock_close(w, s->handle);
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

/* ---- writing ---- */

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

/* Writes what waits, as far as the socket takes it. false: the connection was closed. */
static bool conn_write(struct worker *w, struct wconn *c)
{
    enum stream_close why = SC_WRITE_ERROR;

    c->write_blocked = false;
    while (stream_out_pending(&c->out)) {
        ssize_t n = conn_send_some(c, &why);
        if (n < 0) {
            conn_close(w, c, why);
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

/* On the queue for the round's write (unless a full socket waits for EPOLLOUT). */
static void mark_dirty(struct worker *w, struct wconn *c)
{
    if (!c->dirty && !c->write_blocked && stream_out_pending(&c->out)) {
        list_push(&w->streams.dirty, &c->dirty_entry);
        c->dirty = true;
    }
}

/* One message, one TLS record (assembled first: the core hands it in parts). */
static int tls_send(struct worker *w, struct wconn *c, const void *a, size_t alen, const void *b,
                    size_t blen, size_t pad)
{
    size_t n = alen + blen + pad;
    enum tls_io st;

    if (n > STREAM_FRAME_MAX ||
        stream_out_pending(&c->out) + n + TLS_RECORD_OVERHEAD > STREAM_OUT_MAX)
        return -1;
    memcpy(w->streams.msg, a, alen);
    memcpy(w->streams.msg + alen, b, blen);
    memset(w->streams.msg + alen + blen, 0, pad);
    return tls_conn_write(c->tls, w->streams.msg, n, &st) == (ssize_t)n ? 0 : -1;
}

void streams_send(struct worker *w, int handle, const void *a, size_t alen, const void *b,
                  size_t blen, size_t pad)
{
    struct wconn *c = w->socks[handle]->conn;
    int rc = c->tls ? tls_send(w, c, a, alen, b, blen, pad)
                    : stream_out_append(&c->out, a, alen, b, blen, pad, STREAM_OUT_MAX);

    /* Whole messages or nothing: a cut one would break the stream's framing. */
    if (rc != 0) {
        counters(w, c)->slow_reader_drops++;
        return;
    }
    /* A full socket is written to again when EPOLLOUT says it takes more. */
    mark_dirty(w, c);
}

void streams_flush(struct worker *w)
{
    /* The round's datagrams are sent (worker.c flushes them first): the reads are free again. */
    w->streams.reads_used = 0;
    while (w->streams.dirty) {
        struct wconn *c = container_of(w->streams.dirty, struct wconn, dirty_entry);
        list_unlink(&c->dirty_entry);
        c->dirty = false;
        conn_write(w, c);
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
    counters(w, c)->closed[SC_HANDED_OVER]++;
    counters(w, c)->open--;
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
static bool conn_process(struct worker *w, struct wconn *c, uint8_t *buf, size_t len, bool kept)
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
        conn_close(w, c, close_reason(e));
        return false;
    }
    tail = len - pos;
    c->need = need;
    if (buf == c->partial) {
        memmove(c->partial, c->partial + pos, tail);
        c->plen = tail;
    } else if (tail) {
        if (!partial_reserve(w, c, tail)) {
            conn_close(w, c, SC_BUFFER_BUDGET);
            return false;
        }
        memcpy(c->partial, buf + pos, tail);
        c->plen = tail;
    }
    if (c->plen == 0)
        partial_free(w, c);
    return true;
}

/* On a TLS port, the first byte: a TLS record starts TLS (a ClientHello, or a failed handshake);
 * anything else is plain TCP, which the framer judges. false: the connection was closed, or the
 * byte is not there yet. */
static bool conn_detect(struct worker *w, struct wconn *c)
{
    uint8_t first;
    ssize_t n = recv(c->sock->ev.fd, &first, 1, MSG_PEEK);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return false;
    if (n <= 0) {
        conn_close(w, c, n == 0 || errno == ECONNRESET ? SC_CLIENT_CLOSED : SC_READ_ERROR);
        return false;
    }
    c->detecting = false;
    if (tls_starts_record(first)) {
        c->tls_wanted = true;
        return true;
    }
    /* Plain TCP on the TLS port: counted and served as TCP from here on. */
    counters(w, c)->open--;
    counters(w, c)->accepted--;
    c->transport = TURN_TCP;
    counters(w, c)->open++;
    counters(w, c)->accepted++;
    return true;
}

static void set_rcvlowat(struct wconn *c, uint32_t n)
{
    int v = (int)(n ? n : 1);

    if (c->rcvlowat != n && setsockopt(c->sock->ev.fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)) == 0)
        c->rcvlowat = n;
}

/* While a TLS handshake goes on, OpenSSL is given a record only once the kernel holds all of
 * it, and the connection's TLS state is made with the first whole record: half a ClientHello,
 * or any record never finished, costs no memory here (OpenSSL would keep a record buffer and
 * its state for it). SO_RCVLOWAT makes epoll wait for the rest of the record. true: go on
 * reading; false: wait (or the connection was closed). */
static bool handshake_record_ready(struct worker *w, struct wconn *c, uint32_t events)
{
    uint8_t h[5];
    int avail = 0;
    uint32_t need;
    ssize_t n;

    if (c->tls && (tls_conn_established(c->tls) || tls_conn_pending(c->tls))) {
        set_rcvlowat(c, 0);
        return true;
    }
    n = recv(c->sock->ev.fd, h, sizeof(h), MSG_PEEK);
    if (n <= 0) /* the end, an error or nothing: the read that follows tells which */
        return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
    need = n < 5 ? 5 : 5u + (uint32_t)(h[3] << 8 | h[4]);
    if (need > TLS_RECORD_MAX) /* OpenSSL refuses it from its header */
        need = 5;
    if (ioctl(c->sock->ev.fd, FIONREAD, &avail) != 0 || (uint32_t)avail < need) {
        /* The client closed before the record was whole. */
        if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            conn_close(w, c, SC_CLIENT_CLOSED);
            return false;
        }
        set_rcvlowat(c, need);
        return false;
    }
    set_rcvlowat(c, 0);
    if (!c->tls) {
        c->tls = tls_conn_new(w->streams.tls, c->sock->ev.fd, &c->out);
        if (!c->tls) {
            conn_close(w, c, SC_TLS_ERROR);
            return false;
        }
        c->tls_wanted = false;
    }
    return true;
}

/* One read: bytes read, 0 when nothing more is there now, -1 when the connection ended
 * (*why). */
static ssize_t conn_recv(struct wconn *c, uint8_t *buf, size_t len, enum stream_close *why)
{
    ssize_t n;

    if (c->tls) {
        enum tls_io st;
        n = tls_conn_read(c->tls, buf, len, &st);
        if (n > 0)
            return n;
        if (st == TLS_IO_WANT_READ || st == TLS_IO_WANT_WRITE)
            return 0;
        *why = st == TLS_IO_CLOSED ? SC_CLIENT_CLOSED : SC_TLS_ERROR;
        if (*why == SC_TLS_ERROR && log_enabled(LOG_DEBUG)) {
            char a[XT_ADDR_STRLEN];
            xt_log(LOG_DEBUG, "TLS connection failed", "client", xt_addr_str(&c->client, a),
                   "error", tls_conn_error(c->tls), NULL);
        }
        return -1;
    }
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

static void set_ready(struct worker *w, struct wconn *c, bool ready)
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

    if (c->detecting && !conn_detect(w, c))
        return;
    for (int i = 0; i < READS_PER_EVENT; i++) {
        if ((c->tls_wanted || c->tls) && !handshake_record_ready(w, c, events))
            return;
        /* After an incomplete message, only what completes it (or its header): the rest of
         * the stream is framed from the scratch buffer again. */
        size_t want = c->plen ? c->need - c->plen : READ_MAX;
        uint8_t *buf = reads_room(w, want);
        ssize_t n = conn_recv(c, buf, want, &why);
        bool ok;

        if (n < 0) {
            conn_close(w, c, why);
            return;
        }
        if (n == 0)
            break;
        if (c->plen) {
            if (!partial_reserve(w, c, c->plen + (size_t)n)) {
                conn_close(w, c, SC_BUFFER_BUDGET);
                return;
            }
            memcpy(c->partial + c->plen, buf, (size_t)n);
            c->plen += (size_t)n;
            ok = conn_process(w, c, c->partial, c->plen, false);
        } else {
            /* kept to the end of the round (8-byte aligned for the next) */
            w->streams.reads_used += ((size_t)n + 7) & ~(size_t)7;
            ok = conn_process(w, c, buf, (size_t)n, true);
        }
        if (!ok)
            return;
        /* A short read emptied the socket (TLS reads a record at a time: it says so itself). */
        if (c->tls ? tls_conn_drained(c->tls) : (size_t)n < want)
            break;
    }
    /* Out of turns with decrypted bytes inside TLS: read again next round without an event. */
    set_ready(w, c, c->tls && tls_conn_pending(c->tls));
    /* A handshake flight (or a TLS 1.3 key update) to send. */
    mark_dirty(w, c);
}

static void conn_on_event(struct ev_handler *h, uint32_t events)
{
    struct wsock *s = container_of(h, struct wsock, ev);
    struct worker *w = s->w;
    struct wconn *c = s->conn;

    if ((events & EPOLLOUT) && !conn_write(w, c))
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
        set_ready(w, c, false);
        conn_read(w, c, EPOLLIN);
    }
}

/* ---- accepting ---- */

static void log_refusal(struct worker *w, enum stream_refusal why, const struct xt_addr *client)
{
    char c[XT_ADDR_STRLEN] = "";

    /* A flood of refusals must not become a flood of log lines. */
    if (w->now.ms < w->streams.last_refusal_log_ms + REFUSAL_LOG_INTERVAL)
        return;
    w->streams.last_refusal_log_ms = w->now.ms;
    if (client)
        xt_addr_str(client, c);
    xt_log(LOG_WARN, "stream connection refused (logged at most once a second per worker)",
           "reason", stream_refusal_names[why], "client", c, NULL);
}

static void refuse(struct worker *w, enum turn_transport t, enum stream_refusal why,
                   const struct xt_addr *client)
{
    w->streams_ctr[t].refused[why]++;
    log_refusal(w, why, client);
}

/* Out of file descriptors: the waiting connection would keep the listen socket readable for
 * ever. The spare descriptor makes room to accept it and close it at once. */
static void refuse_without_fd(struct worker *w, int listen_fd, enum turn_transport t)
{
    struct xt_addr client;
    int fd;

    refuse(w, t, SR_NO_FD, NULL);
    if (w->streams.spare_fd < 0)
        return;
    close(w->streams.spare_fd);
    fd = tcp_accept(listen_fd, &client);
    if (fd >= 0)
        close(fd);
    w->streams.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* A connection watched under a new handle, counted open; NULL when out of memory (the caller
 * still owns fd and the client's place in the limits). */
static struct wconn *conn_new(struct worker *w, int fd, const struct xt_addr *local,
                              const struct xt_addr *client, enum turn_transport t)
{
    struct wconn *c = calloc(1, sizeof(*c));
    int handle = c ? worker_sock_add(w, fd, WS_CONN, NULL, local, conn_on_event) : -ENOMEM;

    if (handle < 0) {
        free(c);
        return NULL;
    }
    c->sock = w->socks[handle];
    c->sock->conn = c;
    c->transport = t;
    c->client = *client;
    c->last_msg_ms = w->now.ms;
    list_push(&w->streams.all, &c->entry);
    w->streams_ctr[t].open++;
    return c;
}

static void conn_accept(struct worker *w, struct wsock *ls, int fd, const struct xt_addr *client,
                        enum turn_transport t)
{
    struct wconn *c;
    enum conn_refusal r = conn_limits_take(w->streams.limits, client);

    if (r != CONN_ADMITTED) {
        close(fd);
        refuse(w, t,
               r == CONN_REFUSED_TOTAL    ? SR_MAX_TOTAL
               : r == CONN_REFUSED_PER_IP ? SR_MAX_PER_IP
                                          : SR_NO_MEMORY,
               client);
        return;
    }
    c = conn_new(w, fd, &ls->local, client, t);
    if (!c) {
        close(fd);
        conn_limits_put(w->streams.limits, client);
        refuse(w, t, SR_NO_MEMORY, client);
        return;
    }
    c->detecting = t == TURN_TLS;
    w->streams_ctr[t].accepted++;
}

void streams_adopt(struct worker *w, int fd, const struct xt_addr *local, struct stream_handover *h,
                   uint8_t *bytes, size_t len)
{
    struct wconn *c = conn_new(w, fd, local, &h->client, h->transport);

    if (!c) {
        if (h->tls)
            tls_conn_free(h->tls);
        close(fd);
        stream_out_free(&h->out);
        conn_limits_put(w->streams.limits, &h->client);
        refuse(w, h->transport, SR_NO_MEMORY, &h->client);
        return;
    }
    c->tls = h->tls;
    c->out = h->out;
    if (stream_out_pending(&c->out)) {
        list_push(&w->streams.dirty, &c->dirty_entry);
        c->dirty = true;
    }
    if (!conn_process(w, c, bytes, len, false))
        return;
    set_ready(w, c, c->tls && tls_conn_pending(c->tls));
}

static void on_accept(struct ev_handler *h, uint32_t events)
{
    struct wsock *ls = container_of(h, struct wsock, ev);
    struct worker *w = ls->w;
    enum turn_transport t = ls->kind == WS_TLS_LISTEN ? TURN_TLS : TURN_TCP;

    (void)events;
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        struct xt_addr client;
        int fd = tcp_accept(h->fd, &client);

        if (fd == -EAGAIN)
            return;
        if (fd == -EMFILE || fd == -ENFILE) {
            refuse_without_fd(w, h->fd, t);
            continue;
        }
        if (fd < 0) /* the client gave up already (ECONNABORTED) or similar */
            continue;
        conn_accept(w, ls, fd, &client, t);
    }
}

/* ---- life cycle ---- */

static int listen_on(struct worker *w, const struct xt_addr *a, enum wsock_kind kind,
                     bool reuseport, char *err, size_t errlen)
{
    const char *what = kind == WS_TLS_LISTEN ? "TLS over TCP" : "TCP";
    char as[XT_ADDR_STRLEN];
    int fd = tcp_listen_open(a, reuseport, STREAM_BACKLOG), handle;

    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s (%s): %s", xt_addr_str(a, as), what,
                 strerror(-fd));
        return -1;
    }
    handle = worker_sock_add(w, fd, kind, NULL, a, on_accept);
    if (handle < 0) {
        close(fd);
        snprintf(err, errlen, "cannot watch %s (%s): %s", xt_addr_str(a, as), what,
                 strerror(-handle));
        return -1;
    }
    return 0;
}

int streams_open(struct worker *w, bool reuseport, char *err, size_t errlen)
{
    const struct xturn_config *cfg = w->cfg;

    if (cfg->no_tcp && cfg->ntls_listen == 0)
        return 0;
    w->streams.scratch = malloc(SCRATCH_SIZE);
    w->streams.reads = malloc(READS_SIZE);
    w->streams.msg = malloc(STREAM_FRAME_MAX);
    w->streams.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (!w->streams.scratch || !w->streams.reads || !w->streams.msg) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; !cfg->no_tcp && i < cfg->nlisten; i++)
        if (listen_on(w, &cfg->listen[i], WS_TCP_LISTEN, reuseport, err, errlen) != 0)
            return -1;
    for (size_t i = 0; i < cfg->ntls_listen; i++)
        if (listen_on(w, &cfg->tls_listen[i], WS_TLS_LISTEN, reuseport, err, errlen) != 0)
            return -1;
    return 0;
}

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
        conn_close(w, c, c->got_message ? SC_IDLE_TIMEOUT : SC_FIRST_MESSAGE_TIMEOUT);
    }
}

void streams_close_all(struct worker *w)
{
    while (w->streams.all)
        conn_close(w, container_of(w->streams.all, struct wconn, entry), SC_SHUTDOWN);
    free(w->streams.scratch);
    free(w->streams.reads);
    free(w->streams.msg);
    w->streams.scratch = w->streams.reads = w->streams.msg = NULL;
    if (w->streams.spare_fd >= 0)
        close(w->streams.spare_fd);
    w->streams.spare_fd = -1;
}
