#include "net/tls_server.h"

#include "net/tls_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct tls_server {
    pthread_mutex_t lock; /* guards ctx and dctx: swapped by reloads, taken by new connections */
    SSL_CTX *ctx;         /* TLS */
    SSL_CTX *dctx;        /* DTLS (src/net/dtls_server.c): the same certificate and key */
    char *cert_file, *key_file;
};

struct tls_conn {
    SSL *ssl;
    uint32_t read_wait;  /* what the last read waits for: EPOLLIN or EPOLLOUT */
    uint32_t write_wait; /* what an unfinished write waits for, 0 when none */
    bool failed;         /* fatal error: OpenSSL forbids any further I/O, SSL_shutdown included */
    bool closed;         /* the peer closed */
    bool sock_drained;   /* the last read from the socket got less than it asked for */
    bool want_read;      /* the last tls_conn_read needs more from the socket */
    char err[96];
};

/* ---- errors ---- */

void take_openssl_error(char *buf, size_t len, const char *prefix)
{
    unsigned long e = ERR_peek_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    char sys[64];

    /* system errors (a file that cannot be opened) have no reason string: errno's text */
    if (e && ERR_SYSTEM_ERROR(e))
        reason = strerror_r(ERR_GET_REASON(e), sys, sizeof(sys));
    if (reason)
        snprintf(buf, len, "%s%s", prefix, reason);
    else if (e)
        snprintf(buf, len, "%sOpenSSL error %lx", prefix, e);
    else
        snprintf(buf, len, "%sunknown error", prefix);
    ERR_clear_error();
}

/* ---- the context ---- */

/* ALPN (RFC 7443): "stun.turn" when offered; otherwise no ALPN in the answer rather than a
 * no_application_protocol alert, since TURN needs none. */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    static const size_t want = sizeof(TLS_ALPN_TURN) - 1;
    unsigned i = 0;

    (void)ssl;
    (void)arg;
    /* in: the client's list, each name preceded by its length in one byte */
    while (i < inlen) {
        unsigned n = in[i++];
        if (n > inlen - i)
            break;
        if (n == want && memcmp(in + i, TLS_ALPN_TURN, want) == 0) {
            *out = in + i;
            *outlen = (unsigned char)n;
            return SSL_TLSEXT_ERR_OK;
        }
        i += n;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* Keys are read without a passphrase: the default callback would prompt on the terminal. This
 * one notes that a passphrase was asked for. */
static int no_passphrase(char *buf, int size, int rwflag, void *asked)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    *(bool *)asked = true;
    return -1;
}

static EVP_PKEY *read_key(const char *key_file, bool *encrypted)
{
    BIO *b = BIO_new_file(key_file, "r");
    EVP_PKEY *key = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, encrypted) : NULL;

    BIO_free(b);
    return key;
}

/* dtls: a DTLS 1.2 context (RFC 7350) for dtls_server.c, which adds its cookie callbacks. */
static SSL_CTX *ctx_load(const char *cert_file, const char *key_file, bool dtls, char *err,
                         size_t errlen)
{
    char why[96];
    SSL_CTX *ctx;
    EVP_PKEY *key = NULL;
    bool encrypted = false;

    ERR_clear_error();
    ctx = SSL_CTX_new(dtls ? DTLS_server_method() : TLS_server_method());
    if (!ctx) {
        take_openssl_error(why, sizeof(why), "");
        snprintf(err, errlen, "%s context: %s", dtls ? "DTLS" : "TLS", why);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, dtls ? DTLS1_2_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, dtls ? DTLS1_2_VERSION : TLS1_3_VERSION);
    if (dtls && dtls_ctx_setup(ctx) != 0) {
        take_openssl_error(why, sizeof(why), "");
        snprintf(err, errlen, "DTLS context: %s", why);
        goto fail;
    }
    /* IGNORE_UNEXPECTED_EOF: an end of stream without close_notify is a close, not an error:
     * the connection ends either way, and what TURN's framing had not received whole is lost
     * with it. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* RELEASE_BUFFERS: an idle or handshaking connection holds no record buffers. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /* Resumption through stateless tickets only: no per-session memory on the server. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);

    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        take_openssl_error(why, sizeof(why), "");
        snprintf(err, errlen, "cannot load certificate chain from %s: %s", cert_file, why);
        goto fail;
    }
    key = read_key(key_file, &encrypted);
    if (!key) {
        take_openssl_error(why, sizeof(why), "");
        if (encrypted)
            snprintf(err, errlen, "cannot load private key from %s: it is encrypted", key_file);
        else
            snprintf(err, errlen, "cannot load private key from %s: %s", key_file, why);
        goto fail;
    }
    if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), key) != 1) {
        take_openssl_error(why, sizeof(why), "");
        snprintf(err, errlen, "private key %s does not match certificate %s: %s", key_file,
                 cert_file, why);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        take_openssl_error(why, sizeof(why), "");
        snprintf(err, errlen, "cannot use private key from %s: %s", key_file, why);
        goto fail;
    }
    EVP_PKEY_free(key);
    return ctx;
fail:
    EVP_PKEY_free(key);
    SSL_CTX_free(ctx);
    return NULL;
}

struct tls_server *tls_server_new(const char *cert_file, const char *key_file, char *err,
                                  size_t errlen)
{
    struct tls_server *t = calloc(1, sizeof(*t));

    if (!t || !(t->cert_file = strdup(cert_file)) || !(t->key_file = strdup(key_file))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    t->ctx = ctx_load(cert_file, key_file, false, err, errlen);
    t->dctx = t->ctx ? ctx_load(cert_file, key_file, true, err, errlen) : NULL;
    if (!t->dctx)
        goto fail;
    pthread_mutex_init(&t->lock, NULL);
    return t;
fail:
    if (t) {
        SSL_CTX_free(t->ctx);
        free(t->cert_file);
        free(t->key_file);
    }
    free(t);
    return NULL;
}

int tls_server_reload(struct tls_server *t, char *err, size_t errlen)
{
    SSL_CTX *ctx = ctx_load(t->cert_file, t->key_file, false, err, errlen);
    SSL_CTX *dctx = ctx ? ctx_load(t->cert_file, t->key_file, true, err, errlen) : NULL;
    SSL_CTX *old, *dold;

    if (!dctx) {
        SSL_CTX_free(ctx);
        return -1;
    }
    pthread_mutex_lock(&t->lock);
    old = t->ctx;
    dold = t->dctx;
    t->ctx = ctx;
    t->dctx = dctx;
    pthread_mutex_unlock(&t->lock);
    /* Connections made from the old contexts hold references to them: freed with the last. */
    SSL_CTX_free(old);
    SSL_CTX_free(dold);
    return 0;
}

SSL *tls_server_new_ssl(struct tls_server *t, bool dtls)
{
    SSL *ssl;

    /* SSL_new takes its own reference to the context: a reload cannot free it under us. */
    pthread_mutex_lock(&t->lock);
    ssl = SSL_new(dtls ? t->dctx : t->ctx);
    pthread_mutex_unlock(&t->lock);
    return ssl;
}

void tls_server_free(struct tls_server *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    SSL_CTX_free(t->dctx);
    pthread_mutex_destroy(&t->lock);
    free(t->cert_file);
    free(t->key_file);
    free(t);
}

/* ---- connections ---- */

/* Watches the socket BIO's reads: one that got less than it asked for emptied the socket. */
static long on_socket_read(BIO *b, int oper, const char *argp, size_t len, int argi, long argl,
                           int ret, size_t *processed)
{
    struct tls_conn *c = (struct tls_conn *)BIO_get_callback_arg(b);

    (void)argp;
    (void)argi;
    (void)argl;
    if (oper == (BIO_CB_READ | BIO_CB_RETURN))
        c->sock_drained = ret <= 0 || !processed || *processed < len;
    return ret;
}

struct tls_conn *tls_conn_new(struct tls_server *t, int fd, struct stream_out *out)
{
    struct tls_conn *c = calloc(1, sizeof(*c));
    BIO *rbio = NULL, *wbio = NULL;

    if (!c)
        return NULL;
    c->read_wait = EPOLLIN;
    ERR_clear_error();
    c->ssl = tls_server_new_ssl(t, false);
    if (!c->ssl)
        goto fail;
    /* Reads from the socket (the BIO does not close fd); writes to it, or into out. */
    rbio = BIO_new_socket(fd, BIO_NOCLOSE);
    if (out)
        wbio = tls_bio_stream_out(out);
    else
        wbio = rbio; /* SSL_set_bio takes one reference for a BIO given both ways */
    if (!rbio || !wbio)
        goto fail;
    /* Read-ahead: one read takes what the socket holds (a record's header and body, and the
     * records after it) instead of a read for each header and each body; the callback tells
     * when the socket is empty, so the caller need not read again just to see EAGAIN. */
    BIO_set_callback_ex(rbio, on_socket_read);
    BIO_set_callback_arg(rbio, (char *)c);
    SSL_set_read_ahead(c->ssl, 1);
    SSL_set_bio(c->ssl, rbio, wbio);
    SSL_set_accept_state(c->ssl);
    return c;
fail:
    ERR_clear_error();
    BIO_free(rbio);
    if (wbio != rbio)
        BIO_free(wbio);
    SSL_free(c->ssl);
    free(c);
    return NULL;
}

/* What an I/O call that returned ret (<= 0) means, with the reason kept on failure. sys_errno:
 * errno right after the call. */
static enum tls_io io_status(struct tls_conn *c, int ret, int sys_errno)
{
    switch (SSL_get_error(c->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        return TLS_IO_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TLS_IO_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        c->closed = true;
        snprintf(c->err, sizeof(c->err), "closed by the peer");
        ERR_clear_error();
        return TLS_IO_CLOSED;
    case SSL_ERROR_SYSCALL:
        c->failed = true;
        if (ERR_peek_error() != 0) {
            take_openssl_error(c->err, sizeof(c->err), "");
        } else if (sys_errno != 0) {
            char buf[64];
            snprintf(c->err, sizeof(c->err), "%s", strerror_r(sys_errno, buf, sizeof(buf)));
        } else {
            snprintf(c->err, sizeof(c->err), "unexpected end of stream");
        }
        return TLS_IO_ERROR;
    default:
        c->failed = true;
        /* Still before the ClientHello: the first record was something else (application data,
         * an alert, HTTP, STUN). OpenSSL's reason alone ("unexpected message") hides that. */
        take_openssl_error(c->err, sizeof(c->err),
                           SSL_get_state(c->ssl) == TLS_ST_BEFORE ? "not a TLS ClientHello: " : "");
        return TLS_IO_ERROR;
    }
}

/* A connection that failed or closed says so again without touching OpenSSL. */
static bool finished(const struct tls_conn *c, enum tls_io *st)
{
    if (c->failed)
        *st = TLS_IO_ERROR;
    else if (c->closed)
        *st = TLS_IO_CLOSED;
    else
        return false;
    return true;
}

ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len, enum tls_io *st)
{
    size_t n = 0;
    int ret;

    if (finished(c, st))
        return -1;
    ERR_clear_error();
    errno = 0;
    ret = SSL_read_ex(c->ssl, buf, len, &n);
    c->want_read = ret != 1;
    if (ret == 1) {
        c->read_wait = EPOLLIN;
        *st = TLS_IO_OK;
        return (ssize_t)n;
    }
    *st = io_status(c, ret, errno);
    c->read_wait = *st == TLS_IO_WANT_WRITE ? EPOLLOUT : EPOLLIN;
    return -1;
}

ssize_t tls_conn_write(struct tls_conn *c, const void *buf, size_t len, enum tls_io *st)
{
    size_t n = 0;
    int ret;

    if (finished(c, st))
        return -1;
    if (len == 0) {
        *st = TLS_IO_OK;
        return 0;
    }
    ERR_clear_error();
    errno = 0;
    ret = SSL_write_ex(c->ssl, buf, len, &n);
    if (ret == 1) {
        c->write_wait = 0;
        *st = TLS_IO_OK;
        return (ssize_t)n;
    }
    *st = io_status(c, ret, errno);
    c->write_wait = *st == TLS_IO_WANT_READ ? EPOLLIN : *st == TLS_IO_WANT_WRITE ? EPOLLOUT : 0;
    return -1;
}

uint32_t tls_conn_events(const struct tls_conn *c)
{
    return c->failed || c->closed ? 0 : c->read_wait | c->write_wait;
}

int tls_conn_write_to_socket(struct tls_conn *c, int fd)
{
    BIO *b = BIO_new_socket(fd, BIO_NOCLOSE);

    if (!b) {
        ERR_clear_error();
        return -1;
    }
    SSL_set0_wbio(c->ssl, b); /* frees the stream_out BIO */
    return 0;
}

bool tls_conn_established(const struct tls_conn *c)
{
    return SSL_is_init_finished(c->ssl);
}

const char *tls_conn_alpn(const struct tls_conn *c)
{
    const unsigned char *p;
    unsigned len;

    /* select_alpn selects nothing else */
    SSL_get0_alpn_selected(c->ssl, &p, &len);
    return len ? TLS_ALPN_TURN : NULL;
}

const char *tls_conn_error(const struct tls_conn *c)
{
    return c->err;
}

void tls_conn_free(struct tls_conn *c)
{
    if (!c)
        return;
    /* One attempt on the non-blocking socket: what does not fit is dropped, the peer sees an
     * end of stream instead. */
    if (!c->failed && SSL_is_init_finished(c->ssl)) {
        ERR_clear_error();
        SSL_shutdown(c->ssl);
        ERR_clear_error();
    }
    SSL_free(c->ssl);
    free(c);
}

bool tls_conn_pending(const struct tls_conn *c)
{
    /* Read ahead and not yet decrypted counts too, unless it is an incomplete record. */
    return SSL_pending(c->ssl) > 0 || (!c->want_read && SSL_has_pending(c->ssl));
}

bool tls_conn_drained(const struct tls_conn *c)
{
    return c->sock_drained && !SSL_has_pending(c->ssl);
}

/* ---- protocol detection ---- */

bool tls_starts_record(uint8_t first_byte)
{
    return first_byte >= 20 && first_byte <= 63;
}
