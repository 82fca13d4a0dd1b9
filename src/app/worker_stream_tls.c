/* The TLS side of a worker's stream connection: telling TLS from plain TCP on a --tls-listen
 * port, making the connection's TLS state once its first record is whole, reading and
 * decrypting, and a message sent as one record. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "app/worker_stream_internal.h"
#include "common/log.h"
#include "net/tls_server.h"

/* The longest TLS record: header, 2^14 bytes of plaintext and what encryption may add. */
#define TLS_RECORD_MAX (5u + 16384u + 2048u)
/* What a record adds to a message: header, tag, and room for padding, per 16 KiB. */
#define TLS_RECORD_OVERHEAD (4u * 64u)

/* On a TLS port, the first byte: a TLS record starts TLS (a ClientHello, or a failed handshake);
 * anything else is plain TCP, which the framer judges. false: the connection was closed, or the
 * byte is not there yet. */
bool wconn_detect(struct worker *w, struct wconn *c)
{
    uint8_t first;
    ssize_t n = recv(c->sock->ev.fd, &first, 1, MSG_PEEK);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return false;
    if (n <= 0) {
        wconn_close(w, c, n == 0 || errno == ECONNRESET ? SC_CLIENT_CLOSED : SC_READ_ERROR);
        return false;
    }
    c->detecting = false;
    if (tls_starts_record(first)) {
        c->tls_wanted = true;
        return true;
    }
    /* Plain TCP on the TLS port: counted and served as TCP from here on. */
    wconn_counters(w, c)->open--;
    wconn_counters(w, c)->accepted--;
    c->transport = TURN_TCP;
    wconn_counters(w, c)->open++;
    wconn_counters(w, c)->accepted++;
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
bool wconn_handshake_record_ready(struct worker *w, struct wconn *c, uint32_t events)
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
            wconn_close(w, c, SC_CLIENT_CLOSED);
            return false;
        }
        set_rcvlowat(c, need);
        return false;
    }
    set_rcvlowat(c, 0);
    if (!c->tls) {
        c->tls = tls_conn_new(w->streams.tls, c->sock->ev.fd, &c->out);
        if (!c->tls) {
            wconn_close(w, c, SC_TLS_ERROR);
            return false;
        }
        c->tls_wanted = false;
    }
    return true;
}

/* One message, one TLS record (assembled first: the core hands it in parts). */
int wconn_tls_send(struct worker *w, struct wconn *c, const void *a, size_t alen, const void *b,
                   size_t blen, size_t pad)
{
    size_t n = alen + blen + pad;
    enum tls_io st;

    if (n > STREAM_FRAME_MAX ||
        stream_out_pending(&c->out) + n + TLS_RECORD_OVERHEAD > STREAM_OUT_MAX)
        return -1;
    worker_assemble(w->streams.msg, a, alen, b, blen, pad);
    return tls_conn_write(c->tls, w->streams.msg, n, &st) == (ssize_t)n ? 0 : -1;
}

ssize_t wconn_tls_recv(struct wconn *c, uint8_t *buf, size_t len, enum stream_close *why)
{
    enum tls_io st;
    ssize_t n = tls_conn_read(c->tls, buf, len, &st);

    if (n > 0)
        return n;
    if (st == TLS_IO_WANT_READ || st == TLS_IO_WANT_WRITE)
        return 0;
    *why = st == TLS_IO_CLOSED ? SC_CLIENT_CLOSED : SC_TLS_ERROR;
    if (*why == SC_TLS_ERROR && log_enabled(LOG_DEBUG)) {
        char a[XT_ADDR_STRLEN];
        xt_log(LOG_DEBUG, "TLS connection failed", "client", xt_addr_str(&c->client, a), "error",
               tls_conn_error(c->tls), NULL);
    }
    return -1;
}
