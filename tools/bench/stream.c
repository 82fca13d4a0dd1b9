/* The client's connection to the server over a stream (--transport tcp|tls; RFC 8656 12.5):
 * one TCP connection per allocation, with TLS on top when asked (OpenSSL, no certificate
 * verification, ALPN "stun.turn", SNI when --sni is given). Messages are framed by their length
 * fields: a STUN message is 20 bytes plus its length, ChannelData 4 plus its length, padded to
 * a multiple of 4.
 *
 * Threads: the sender writes data and the receiver reads; the receiver also writes the
 * refreshes of long runs. Every use of a connection's socket or TLS state is under its lock, and
 * a write is finished (whole messages only) before the lock is let go: a stream has no room for
 * a message cut in two. The socket is non-blocking; a write waits for room in poll(), at most
 * WRITE_STALL_MS without progress, after which the connection counts as broken. */
#include "bench.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define CONNECT_TIMEOUT_MS 5000 /* TCP connect plus TLS handshake */
#define WRITE_STALL_MS     2000
#define READS_PER_CALL     64 /* reads per stream_read() before the receiver looks elsewhere */
#define RX_MIN             4096

struct bench_stream {
    int fd;
    SSL *ssl;
    pthread_mutex_t lock;
    bool broken;
    uint8_t *rbuf; /* received bytes not yet framed */
    size_t rlen, rcap;
    size_t discard; /* bytes still to skip of a message longer than rbuf */
    uint8_t *wbuf;  /* TLS: the messages of one write, gathered */
    size_t wcap;
};

static SSL_CTX *tls_ctx;

static void tls_error(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[200];
    if (e) {
        ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(err, errlen, "%s: %s", what, buf);
    } else {
        snprintf(err, errlen, "%s: %s", what, errno ? strerror(errno) : "failed");
    }
    ERR_clear_error();
}

int stream_init(const struct client_opts *o, char *err, size_t errlen)
{
    static const unsigned char alpn[] = "\x09stun.turn";

    if (o->transport != TRANSPORT_TLS || tls_ctx)
        return 0;
    tls_ctx = SSL_CTX_new(TLS_client_method());
    if (!tls_ctx) {
        tls_error(err, errlen, "SSL_CTX_new");
        return -1;
    }
    /* A benchmark: the relay's certificate is self-signed, and nothing is secret. */
    SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
    (void)SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
    if (SSL_CTX_set_alpn_protos(tls_ctx, alpn, sizeof(alpn) - 1) != 0) {
        tls_error(err, errlen, "ALPN");
        return -1;
    }
    return 0;
}

void stream_cleanup(void)
{
    SSL_CTX_free(tls_ctx);
    tls_ctx = NULL;
}

/* Waits until fd is ready for events; 1, 0 after timeout_ms, -1 on error. */
static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        return r < 0 ? -1 : r;
    }
}

static int ms_left(uint64_t deadline)
{
    uint64_t now = now_ns();
    return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

static int tcp_connect(const struct xt_addr *local, const struct xt_addr *server, uint64_t deadline,
                       char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    char a[XT_ADDR_STRLEN];
    int fd, e, one = 1;

    fd = socket(server->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* Every message is sent when it is made, as a real-time client does. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (local) {
        sl = xt_addr_to_sockaddr(local, &ss);
        if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
            snprintf(err, errlen, "bind %s: %s", xt_addr_str(local, a), strerror(errno));
            close(fd);
            return -1;
        }
    }
    sl = xt_addr_to_sockaddr(server, &ss);
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
        e = errno;
        goto failed;
    }
    if (wait_fd(fd, POLLOUT, ms_left(deadline)) <= 0) {
        e = ETIMEDOUT;
        goto failed;
    }
    sl = sizeof(e);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0)
        e = errno;
    if (e == 0)
        return fd;
failed:
    snprintf(err, errlen, "connect %s: %s", xt_addr_str(server, a), strerror(e));
    close(fd);
    return -1;
}

static int tls_handshake(struct bench_stream *s, const struct client_opts *o, uint64_t deadline,
                         char *err, size_t errlen)
{
    s->ssl = SSL_new(tls_ctx);
    if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1 ||
        (o->sni[0] && SSL_set_tlsext_host_name(s->ssl, o->sni) != 1)) {
        tls_error(err, errlen, "SSL_new");
        return -1;
    }
    for (;;) {
        int r = SSL_connect(s->ssl), w;
        if (r == 1)
            return 0;
        switch (SSL_get_error(s->ssl, r)) {
        case SSL_ERROR_WANT_READ:
            w = wait_fd(s->fd, POLLIN, ms_left(deadline));
            break;
        case SSL_ERROR_WANT_WRITE:
            w = wait_fd(s->fd, POLLOUT, ms_left(deadline));
            break;
        default:
            tls_error(err, errlen, "TLS handshake");
            return -1;
        }
        if (w <= 0) {
            snprintf(err, errlen, "TLS handshake: %s", w == 0 ? "timed out" : strerror(errno));
            return -1;
        }
    }
}

struct bench_stream *stream_open(const struct client_opts *o, const struct xt_addr *local,
                                 char *err, size_t errlen)
{
    uint64_t deadline = now_ns() + (uint64_t)CONNECT_TIMEOUT_MS * 1000000u;
    struct bench_stream *s = calloc(1, sizeof(*s));
    pthread_mutexattr_t ma;

    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->rcap = ((size_t)o->size + 256 + 63) & ~(size_t)63;
    if (s->rcap < RX_MIN)
        s->rcap = RX_MIN;
    s->rbuf = malloc(s->rcap);
    /* Recursive: a message handed out by stream_read() may be answered at once (setup). */
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    s->fd = -1;
    if (!s->rbuf) {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }
    s->fd = tcp_connect(local, &o->server, deadline, err, errlen);
    if (s->fd < 0)
        goto failed;
    if (o->transport == TRANSPORT_TLS && tls_handshake(s, o, deadline, err, errlen) != 0)
        goto failed;
    return s;
failed:
    stream_close(s);
    return NULL;
}

int stream_fd(const struct bench_stream *s)
{
    return s->fd;
}

void stream_close(struct bench_stream *s)
{
    if (!s)
        return;
    SSL_free(s->ssl);
    if (s->fd >= 0)
        close(s->fd);
    pthread_mutex_destroy(&s->lock);
    free(s->rbuf);
    free(s->wbuf);
    free(s);
}

/* ---- writing ---- */

/* TCP: the iovecs, all of them. 0, or -1 when the connection is broken or stalled. */
static int tcp_write(struct bench_stream *s, struct iovec *iov, int iovcnt)
{
    while (iovcnt > 0) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
        ssize_t n = sendmsg(s->fd, &m, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
                wait_fd(s->fd, POLLOUT, WRITE_STALL_MS) > 0)
                continue;
            return -1;
        }
        while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

/* TLS: the iovecs gathered into one buffer, written (as records of up to 16 KiB) in full. */
static int tls_write(struct bench_stream *s, const struct iovec *iov, int iovcnt)
{
    size_t total = 0, off = 0;

    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total > s->wcap) {
        uint8_t *p = realloc(s->wbuf, total);
        if (!p)
            return -1;
        s->wbuf = p;
        s->wcap = total;
    }
    for (int i = 0; i < iovcnt; i++) {
        memcpy(s->wbuf + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    for (off = 0; off < total;) {
        int r = SSL_write(s->ssl, s->wbuf + off, (int)(total - off)), w;
        if (r > 0) {
            off += (size_t)r;
            continue;
        }
        switch (SSL_get_error(s->ssl, r)) {
        case SSL_ERROR_WANT_WRITE:
            w = wait_fd(s->fd, POLLOUT, WRITE_STALL_MS);
            break;
        case SSL_ERROR_WANT_READ:
            w = wait_fd(s->fd, POLLIN, WRITE_STALL_MS);
            break;
        default:
            w = -1;
            break;
        }
        if (w <= 0) {
            ERR_clear_error();
            return -1;
        }
    }
    return 0;
}

int stream_writev(struct bench_stream *s, struct iovec *iov, int iovcnt)
{
    int r = -1;
    pthread_mutex_lock(&s->lock);
    if (!s->broken) {
        r = s->ssl ? tls_write(s, iov, iovcnt) : tcp_write(s, iov, iovcnt);
        s->broken = r != 0;
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

int stream_write(struct bench_stream *s, const void *buf, size_t len)
{
    struct iovec iov = {(void *)buf, len};
    return stream_writev(s, &iov, 1);
}

/* ---- reading ---- */

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Hands every whole message in rbuf to fn and keeps the rest. -1: bytes that start no message
 * the server sends (the stream cannot be followed any further). A relay always pads ChannelData
 * on a stream (RFC 8656 §12.5), so this side needs none of the guessing src/net/stream_frame.c
 * does for clients that may not. */
static int deliver(struct bench_stream *s, stream_frame_fn fn, void *arg)
{
    size_t off = 0;
    int rc = 0;

    for (;;) {
        size_t avail = s->rlen - off, len, padded;
        const uint8_t *p = s->rbuf + off;
        if (s->discard) {
            size_t d = s->discard < avail ? s->discard : avail;
            off += d;
            s->discard -= d;
            if (s->discard)
                break;
            continue;
        }
        if (avail < 4)
            break;
        if ((p[0] & 0xC0) == 0x40) {
            len = CHANNELDATA_HEADER_LEN + get16(p + 2);
            padded = (len + 3) & ~(size_t)3;
        } else if ((p[0] & 0xC0) == 0) {
            len = padded = STUN_HEADER_LEN + get16(p + 2);
        } else {
            rc = -1;
            break;
        }
        if (padded > s->rcap) {
            /* Longer than any message of this run: what fits goes to fn (it will not parse:
             * counted as invalid), the rest is skipped. */
            fn(arg, p, avail);
            off += avail;
            s->discard = padded - avail;
            continue;
        }
        if (avail < padded)
            break;
        fn(arg, p, len);
        off += padded;
    }
    memmove(s->rbuf, s->rbuf + off, s->rlen - off);
    s->rlen -= off;
    return rc;
}

/* One read into the free end of rbuf: bytes read, 0 when none are ready, -1 at the end of the
 * stream or on an error. */
static ssize_t read_some(struct bench_stream *s)
{
    uint8_t *p = s->rbuf + s->rlen;
    size_t room = s->rcap - s->rlen;
    ssize_t n;

    if (!s->ssl) {
        n = recv(s->fd, p, room, MSG_DONTWAIT);
        if (n > 0)
            return n;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
    }
    n = SSL_read(s->ssl, p, (int)room);
    if (n > 0)
        return n;
    switch (SSL_get_error(s->ssl, (int)n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return 0;
    default:
        ERR_clear_error();
        return -1;
    }
}

int stream_read(struct bench_stream *s, stream_frame_fn fn, void *arg)
{
    int rc = 0;
    bool more = true;

    /* The lock is let go between reads: the sender waits for one read at most. TLS: bytes
     * already decrypted wait in the TLS state, where epoll cannot see them. */
    for (int i = 0; rc == 0 && more; i++) {
        ssize_t n;
        pthread_mutex_lock(&s->lock);
        n = read_some(s);
        if (n > 0) {
            s->rlen += (size_t)n;
            rc = deliver(s, fn, arg);
        } else {
            rc = (int)n;
        }
        more = n > 0 && (i + 1 < READS_PER_CALL || (s->ssl && SSL_pending(s->ssl) > 0));
        if (rc != 0)
            s->broken = true;
        pthread_mutex_unlock(&s->lock);
    }
    return rc;
}
