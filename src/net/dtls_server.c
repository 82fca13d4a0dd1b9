#include "net/dtls_server.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "net/tls_internal.h"

#define COOKIE_LEN 20
#define LINK_MTU   1500 /* handshake messages are cut to fit it; data records are not cut */

/* ---- cookies: an HMAC of the client's address and the minute, under a key of the process ---- */

static uint8_t cookie_key[32];
static pthread_once_t cookie_once = PTHREAD_ONCE_INIT;
static int cookie_key_ok;

static void cookie_key_init(void)
{
    cookie_key_ok = RAND_bytes(cookie_key, sizeof(cookie_key)) == 1;
}

static int cookie_for(const SSL *ssl, uint64_t minute, uint8_t out[COOKIE_LEN])
{
    const struct xt_addr *a = SSL_get_app_data(ssl);
    uint8_t msg[sizeof(*a) + 8], mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;

    if (!a || !cookie_key_ok)
        return -1;
    memcpy(msg, a, sizeof(*a));
    memcpy(msg + sizeof(*a), &minute, 8);
    if (!HMAC(EVP_sha256(), cookie_key, sizeof(cookie_key), msg, sizeof(msg), mac, &maclen) ||
        maclen < COOKIE_LEN)
        return -1;
    memcpy(out, mac, COOKIE_LEN);
    return 0;
}

static int cookie_generate(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
    if (cookie_for(ssl, (uint64_t)time(NULL) / 60, cookie) != 0)
        return 0;
    *len = COOKIE_LEN;
    return 1;
}

/* This minute's cookie or the last one's: a client has at least a minute to answer. */
static int cookie_verify(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
    uint64_t minute = (uint64_t)time(NULL) / 60;
    uint8_t want[COOKIE_LEN];

    if (len != COOKIE_LEN)
        return 0;
    for (uint64_t m = minute; m + 1 >= minute && m <= minute; m--)
        if (cookie_for(ssl, m, want) == 0 && CRYPTO_memcmp(want, cookie, COOKIE_LEN) == 0)
            return 1;
    return 0;
}

int dtls_ctx_setup(SSL_CTX *ctx)
{
    pthread_once(&cookie_once, cookie_key_init);
    if (!cookie_key_ok)
        return -1;
    SSL_CTX_set_cookie_generate_cb(ctx, cookie_generate);
    SSL_CTX_set_cookie_verify_cb(ctx, cookie_verify);
    SSL_CTX_set_options(ctx, SSL_OP_COOKIE_EXCHANGE | SSL_OP_NO_QUERY_MTU);
    return 0;
}

/* ---- connections ---- */

struct dtls_conn {
    SSL *ssl;
    struct dgram_io io;
    struct xt_addr client; /* what the cookie callbacks see */
    bool failed, closed;
    char err[96];
};

static struct dtls_conn *conn_new(struct tls_server *t)
{
    struct dtls_conn *c = calloc(1, sizeof(*c));
    BIO *b;

    if (!c)
        goto fail;
    c->ssl = tls_server_new_ssl(t, true);
    b = tls_bio_datagrams(&c->io);
    if (!c->ssl || !b) {
        BIO_free(b);
        goto fail;
    }
    SSL_set_bio(c->ssl, b, b); /* one BIO both ways: freed with the SSL */
    SSL_set_app_data(c->ssl, &c->client);
    DTLS_set_link_mtu(c->ssl, LINK_MTU);
    SSL_set_accept_state(c->ssl);
    return c;
fail:
    ERR_clear_error();
    if (c)
        SSL_free(c->ssl);
    free(c);
    return NULL;
}

struct dtls_listener {
    struct tls_server *tls;
    struct dtls_conn *next; /* the connection the next valid ClientHello gets */
};

struct dtls_listener *dtls_listener_new(struct tls_server *t)
{
    struct dtls_listener *l = calloc(1, sizeof(*l));

    if (!l)
        return NULL;
    l->tls = t;
    return l;
}

void dtls_listener_free(struct dtls_listener *l)
{
    if (!l)
        return;
    dtls_conn_free(l->next);
    free(l);
}

bool dtls_first_byte(uint8_t b)
{
    return b >= 20 && b <= 63;
}

bool dtls_starts_client_hello(const uint8_t *dg, size_t len)
{
    /* record: type, version (2), epoch (2), sequence (6), length (2); then the handshake's type */
    return len > 13 && dg[0] == 22 && dg[3] == 0 && dg[4] == 0 && dg[13] == 1;
}

enum dtls_first dtls_listen(struct dtls_listener *l, const struct xt_addr *src, const uint8_t *dg,
                            size_t len, uint8_t *out, size_t *outlen, struct dtls_conn **conn)
{
    struct dtls_conn *c;
    BIO_ADDR *peer;
    int rc;

    *outlen = 0;
    /* Only a handshake record can start a connection: anything else from an unknown source is
     * dropped before OpenSSL sees it. */
    if (len < 13 || dg[0] != 22)
        return DTLS_DROPPED;
    if (!l->next && !(l->next = conn_new(l->tls)))
        return DTLS_DROPPED;
    c = l->next;
    c->client = *src;
    c->io.in = dg;
    c->io.inlen = len;
    c->io.outlen = c->io.nout = c->io.next = 0;
    peer = BIO_ADDR_new();
    rc = peer ? DTLSv1_listen(c->ssl, peer) : -1;
    BIO_ADDR_free(peer);
    ERR_clear_error();
    c->io.in = NULL;
    if (rc > 0) {
        /* OpenSSL keeps the ClientHello: the handshake goes on from it. */
        l->next = NULL;
        *conn = c;
        return DTLS_NEW;
    }
    if (rc < 0) {
        /* A fatal error leaves the SSL unusable: the next source gets a fresh one. */
        dtls_conn_free(c);
        l->next = NULL;
        return DTLS_DROPPED;
    }
    if (c->io.nout == 0 || c->io.lens[0] > DTLS_DATAGRAM_MAX)
        return DTLS_DROPPED;
    memcpy(out, c->io.out, c->io.lens[0]);
    *outlen = c->io.lens[0];
    c->io.outlen = c->io.nout = 0;
    return DTLS_ANSWERED;
}

/* Why an I/O call failed, kept; true when the connection is over. */
static bool over(struct dtls_conn *c, int ret)
{
    switch (SSL_get_error(c->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        ERR_clear_error();
        return false;
    case SSL_ERROR_ZERO_RETURN:
        c->closed = true;
        snprintf(c->err, sizeof(c->err), "closed by the peer");
        ERR_clear_error();
        return true;
    default:
        c->failed = true;
        take_openssl_error(c->err, sizeof(c->err), "");
        return true;
    }
}

static void out_reset_if_taken(struct dtls_conn *c)
{
    if (c->io.next == c->io.nout)
        c->io.outlen = c->io.nout = c->io.next = 0;
}

int dtls_conn_input(struct dtls_conn *c, const uint8_t *dg, size_t len,
                    void (*fn)(void *arg, const uint8_t *msg, size_t len), void *arg)
{
    uint8_t buf[16384];

    if (c->failed || c->closed)
        return -1;
    out_reset_if_taken(c);
    c->io.in = dg;
    c->io.inlen = len;
    /* A datagram may carry several records: each SSL_read returns one. */
    for (;;) {
        size_t n = 0;
        int ret;

        ERR_clear_error();
        ret = SSL_read_ex(c->ssl, buf, sizeof(buf), &n);
        if (ret == 1) {
            fn(arg, buf, n);
            continue;
        }
        c->io.in = NULL;
        return over(c, ret) ? -1 : 0;
    }
}

int dtls_conn_write(struct dtls_conn *c, const void *msg, size_t len)
{
    size_t n = 0;

    if (c->failed || c->closed || !SSL_is_init_finished(c->ssl))
        return -1;
    out_reset_if_taken(c);
    ERR_clear_error();
    if (SSL_write_ex(c->ssl, msg, len, &n) == 1 && n == len)
        return 0;
    over(c, 0);
    ERR_clear_error();
    return -1;
}

size_t dtls_conn_next_out(struct dtls_conn *c, const uint8_t **dg)
{
    size_t off = 0;

    if (c->io.next == c->io.nout)
        return 0;
    for (size_t i = 0; i < c->io.next; i++)
        off += c->io.lens[i];
    *dg = c->io.out + off;
    return c->io.lens[c->io.next++];
}

int dtls_conn_tick(struct dtls_conn *c)
{
    if (c->failed || c->closed || SSL_is_init_finished(c->ssl))
        return 0;
    out_reset_if_taken(c);
    ERR_clear_error();
    if (DTLSv1_handle_timeout(c->ssl) < 0) {
        c->failed = true;
        take_openssl_error(c->err, sizeof(c->err), "handshake: ");
        return -1;
    }
    return 0;
}

bool dtls_conn_established(const struct dtls_conn *c)
{
    return SSL_is_init_finished(c->ssl);
}

bool dtls_conn_closed(const struct dtls_conn *c)
{
    return c->closed;
}

const char *dtls_conn_error(const struct dtls_conn *c)
{
    return c->err;
}

void dtls_conn_shutdown(struct dtls_conn *c)
{
    if (c->failed || !SSL_is_init_finished(c->ssl))
        return;
    out_reset_if_taken(c);
    SSL_shutdown(c->ssl);
    ERR_clear_error();
}

void dtls_conn_free(struct dtls_conn *c)
{
    if (!c)
        return;
    SSL_free(c->ssl);
    free(c->io.out);
    free(c);
}
