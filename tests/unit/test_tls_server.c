/* TLS on stream connections (src/net/tls_server.c): a client SSL in this test against tls_conn
 * over a non-blocking socketpair, both driven by hand in bounded loops; certificates and keys
 * made at run time in a temporary folder. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "net/stream_out.h"
#include "net/tls_server.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ROUNDS       200 /* of a handshake or a small exchange, both sides stepped once each */

/* ---- certificates and keys, made once ---- */

static struct {
    char dir[64];
    char cert1[128], key1[128]; /* CN one, self-signed */
    char cert2[128], key2[128]; /* CN two, self-signed */
    char chain[128], key3[128]; /* CN three signed by a CA: leaf then CA in one file */
    char cert[128], key[128];   /* what the server under test loads */
    X509 *x1, *x2;
} F;

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    assert_non_null(k);
    return k;
}

/* Signed by issuer_key as issuer (self-signed when issuer is NULL). */
static X509 *new_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_NAME *name = X509_get_subject_name(x);

    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    assert_int_equal(
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0),
        1);
    assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_certs(const char *path, X509 *a, X509 *b)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, a), 1);
    if (b)
        assert_int_equal(PEM_write_X509(f, b), 1);
    assert_int_equal(fclose(f), 0);
}

static void write_key(const char *path, EVP_PKEY *k, const char *passphrase)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, passphrase ? EVP_aes_128_cbc() : NULL,
                                          (unsigned char *)passphrase,
                                          passphrase ? (int)strlen(passphrase) : 0, NULL, NULL),
                     1);
    assert_int_equal(fclose(f), 0);
}

static void copy_file(const char *from, const char *to)
{
    char buf[16384];
    FILE *f = fopen(from, "r");
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf), f);
    assert_true(n > 0 && n < sizeof(buf));
    fclose(f);
    write_file(to, buf, n);
}

static void path(char *out, const char *name)
{
    snprintf(out, 128, "%s/%s", F.dir, name);
}

static int files_setup(void **state)
{
    EVP_PKEY *k1 = new_key(), *k2 = new_key(), *k3 = new_key(), *kca = new_key();
    X509 *ca, *x3;

    (void)state;
    snprintf(F.dir, sizeof(F.dir), "/tmp/xturn-tls-XXXXXX");
    if (!mkdtemp(F.dir))
        return -1;
    path(F.cert1, "cert1.pem");
    path(F.key1, "key1.pem");
    path(F.cert2, "cert2.pem");
    path(F.key2, "key2.pem");
    path(F.chain, "chain.pem");
    path(F.key3, "key3.pem");
    path(F.cert, "cert.pem");
    path(F.key, "key.pem");
    F.x1 = new_cert(k1, "one", NULL, NULL);
    F.x2 = new_cert(k2, "two", NULL, NULL);
    ca = new_cert(kca, "xturn test CA", NULL, NULL);
    x3 = new_cert(k3, "three", ca, kca);
    write_certs(F.cert1, F.x1, NULL);
    write_key(F.key1, k1, NULL);
    write_certs(F.cert2, F.x2, NULL);
    write_key(F.key2, k2, NULL);
    write_certs(F.chain, x3, ca);
    write_key(F.key3, k3, NULL);
    X509_free(ca);
    X509_free(x3);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(k3);
    EVP_PKEY_free(kca);
    return 0;
}

static int files_teardown(void **state)
{
    static const char *const names[] = {"cert1.pem", "key1.pem", "cert2.pem", "key2.pem",
                                        "chain.pem", "key3.pem", "cert.pem",  "key.pem",
                                        "enc.pem",   "bad.pem"};
    char p[128];

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        path(p, names[i]);
        unlink(p);
    }
    X509_free(F.x1);
    X509_free(F.x2);
    return rmdir(F.dir);
}

/* ---- a server, and connections to it ---- */

struct fx {
    struct tls_server *srv;
    SSL_CTX *cctx; /* the client's: any version, no verification (not what is tested) */
};

static SSL_CTX *client_ctx(int min_version, int max_version)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    assert_non_null(ctx);
    /* level 0 lets the client offer old versions at all */
    SSL_CTX_set_security_level(ctx, 0);
    assert_int_equal(SSL_CTX_set_min_proto_version(ctx, min_version), 1);
    assert_int_equal(SSL_CTX_set_max_proto_version(ctx, max_version), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return ctx;
}

/* The server loads F.cert/F.key, copies of cert1/key1. */
static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char err[256] = "";

    copy_file(F.cert1, F.cert);
    copy_file(F.key1, F.key);
    f->srv = tls_server_new(F.cert, F.key, err, sizeof(err));
    if (!f->srv) {
        print_error("tls_server_new: %s\n", err);
        return -1;
    }
    f->cctx = client_ctx(0, 0);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;

    tls_server_free(f->srv);
    SSL_CTX_free(f->cctx);
    free(f);
    /* every call leaves the thread's error queue empty */
    return ERR_peek_error() == 0 ? 0 : -1;
}

struct link {
    int sfd, cfd; /* the server's end, the client's end */
    struct tls_conn *conn;
    SSL *cli;
};

static void set_nonblock(int fd)
{
    assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

static void link_open(struct link *l, struct tls_server *srv, SSL_CTX *cctx)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    set_nonblock(sv[0]);
    set_nonblock(sv[1]);
    l->sfd = sv[0];
    l->cfd = sv[1];
    l->conn = tls_conn_new(srv, l->sfd, NULL);
    assert_non_null(l->conn);
    assert_false(tls_conn_established(l->conn));
    assert_string_equal(tls_conn_error(l->conn), "");
    l->cli = SSL_new(cctx);
    assert_non_null(l->cli);
    assert_int_equal(SSL_set_fd(l->cli, l->cfd), 1);
    SSL_set_connect_state(l->cli);
}

static void link_close(struct link *l)
{
    tls_conn_free(l->conn);
    SSL_free(l->cli);
    close(l->sfd);
    close(l->cfd);
    ERR_clear_error(); /* the client's errors */
}

/* Steps the client's handshake and the server's reads until both are done or one has failed.
 * Returns the server's last status (TLS_IO_OK once established); *client_ok whether the
 * client's handshake completed. */
static enum tls_io handshake(struct link *l, bool *client_ok)
{
    enum tls_io st = TLS_IO_WANT_READ;
    bool cdone = false, cfail = false, sdone = false;
    char buf[64];

    for (int i = 0; i < ROUNDS && !((cdone || cfail) && (sdone || st >= TLS_IO_CLOSED)); i++) {
        if (!cdone && !cfail) {
            int r = SSL_do_handshake(l->cli);
            int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(l->cli, r);
            if (r == 1)
                cdone = true;
            else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                cfail = true;
        }
        if (!sdone && st < TLS_IO_CLOSED) {
            assert_int_equal(tls_conn_read(l->conn, buf, sizeof(buf), &st), -1);
            assert_int_not_equal(st, TLS_IO_OK); /* the client sent no data */
            sdone = tls_conn_established(l->conn);
        }
    }
    ERR_clear_error();
    *client_ok = cdone;
    return sdone ? TLS_IO_OK : st;
}

static void handshake_ok(struct link *l)
{
    bool client_ok;
    enum tls_io st = handshake(l, &client_ok);

    if (st != TLS_IO_OK || !client_ok)
        fail_msg("handshake: server %d (%s), client %s", st, tls_conn_error(l->conn),
                 client_ok ? "done" : "not done");
    assert_true(tls_conn_established(l->conn));
    assert_int_equal(tls_conn_events(l->conn), EPOLLIN);
}

/* Reads len bytes on the server, the client stepped too (it may owe a key update reply). */
static void server_recv(struct link *l, void *buf, size_t len)
{
    size_t got = 0;
    char scratch[16];

    for (int i = 0; i < ROUNDS && got < len; i++) {
        enum tls_io st;
        ssize_t n = tls_conn_read(l->conn, (char *)buf + got, len - got, &st);
        if (n > 0) {
            assert_int_equal(st, TLS_IO_OK);
            got += (size_t)n;
            continue;
        }
        if (st != TLS_IO_WANT_READ && st != TLS_IO_WANT_WRITE)
            fail_msg("server read: %d (%s)", st, tls_conn_error(l->conn));
        /* lets the client process what the server sent (tickets, key updates) */
        assert_true(SSL_read(l->cli, scratch, sizeof(scratch)) <= 0);
        ERR_clear_error();
    }
    assert_int_equal(got, len);
}

static void client_recv(struct link *l, void *buf, size_t len)
{
    size_t got = 0;
    char scratch[16];

    for (int i = 0; i < ROUNDS && got < len; i++) {
        size_t n = 0;
        enum tls_io st;
        if (SSL_read_ex(l->cli, (char *)buf + got, len - got, &n) == 1) {
            got += n;
            continue;
        }
        assert_int_equal(SSL_get_error(l->cli, 0), SSL_ERROR_WANT_READ);
        ERR_clear_error();
        assert_int_equal(tls_conn_read(l->conn, scratch, sizeof(scratch), &st), -1);
        assert_int_equal(st, TLS_IO_WANT_READ);
    }
    assert_int_equal(got, len);
}

static void client_send(struct link *l, const char *s)
{
    assert_int_equal(SSL_write(l->cli, s, (int)strlen(s)), (int)strlen(s));
}

static void server_send(struct link *l, const char *s)
{
    enum tls_io st;

    assert_int_equal(tls_conn_write(l->conn, s, strlen(s), &st), (ssize_t)strlen(s));
    assert_int_equal(st, TLS_IO_OK);
}

/* A message each way. */
static void exchange(struct link *l, const char *up, const char *down)
{
    char buf[256] = "";

    client_send(l, up);
    server_recv(l, buf, strlen(up));
    assert_memory_equal(buf, up, strlen(up));
    server_send(l, down);
    client_recv(l, buf, strlen(down));
    assert_memory_equal(buf, down, strlen(down));
}

static bool peer_cert_is(const struct link *l, X509 *want)
{
    X509 *got = SSL_get0_peer_certificate(l->cli);

    return got && X509_cmp(got, want) == 0;
}

/* ---- handshakes and data ---- */

/* TLS 1.3 (the default) and 1.2: a handshake, then data both ways. */
static void data_both_ways(void **state)
{
    struct fx *f = *state;
    static const int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};

    for (size_t i = 0; i < ARRAY_LEN(versions); i++) {
        SSL_CTX *cctx = client_ctx(versions[i], versions[i]);
        struct link l;

        link_open(&l, f->srv, cctx);
        handshake_ok(&l);
        assert_int_equal(SSL_version(l.cli), versions[i]);
        assert_true(peer_cert_is(&l, F.x1));
        exchange(&l, "allocate please", "here is your relay");
        exchange(&l, "and again", "again");
        link_close(&l);
        SSL_CTX_free(cctx);
    }
}

/* The chain after the leaf in the certificate file goes to the client with it. */
static void chain_sent(void **state)
{
    char err[256] = "";
    struct tls_server *srv = tls_server_new(F.chain, F.key3, err, sizeof(err));
    struct fx *f = *state;
    struct link l;

    assert_non_null(srv);
    link_open(&l, srv, f->cctx);
    handshake_ok(&l);
    assert_int_equal(sk_X509_num(SSL_get_peer_cert_chain(l.cli)), 2);
    exchange(&l, "a", "b");
    link_close(&l);
    tls_server_free(srv);
}

/* Session tickets resume (TLS 1.3 and 1.2) without a session cache on the server; after a
 * reload (new ticket keys) an old ticket costs a full handshake, not the connection. */
static void resumption(void **state)
{
    static const int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};
    struct fx *f = *state;

    for (size_t i = 0; i < ARRAY_LEN(versions); i++) {
        SSL_CTX *cctx = client_ctx(versions[i], versions[i]);
        SSL_SESSION *sess;
        char err[256] = "";
        struct link l;

        link_open(&l, f->srv, cctx);
        handshake_ok(&l);
        exchange(&l, "first", "first"); /* the client reads the TLS 1.3 tickets */
        sess = SSL_get1_session(l.cli);
        assert_non_null(sess);
        assert_true(SSL_SESSION_is_resumable(sess));
        /* a client closing without close_notify would mark its session not resumable */
        assert_true(SSL_shutdown(l.cli) >= 0);
        link_close(&l);

        link_open(&l, f->srv, cctx);
        assert_int_equal(SSL_set_session(l.cli, sess), 1);
        handshake_ok(&l);
        assert_true(SSL_session_reused(l.cli));
        exchange(&l, "resumed", "resumed");
        assert_true(SSL_shutdown(l.cli) >= 0);
        link_close(&l);

        assert_int_equal(tls_server_reload(f->srv, err, sizeof(err)), 0);
        assert_true(SSL_SESSION_is_resumable(sess));
        link_open(&l, f->srv, cctx);
        assert_int_equal(SSL_set_session(l.cli, sess), 1);
        handshake_ok(&l);
        assert_false(SSL_session_reused(l.cli));
        exchange(&l, "full", "full");
        link_close(&l);
        SSL_SESSION_free(sess);
        SSL_CTX_free(cctx);
    }
}

/* ALPN: stun.turn when offered (alone or among others), accepted without ALPN when another
 * protocol alone is offered, or none. */
static void alpn(void **state)
{
    static const struct {
        const char *offer;
        unsigned len;
        bool turn;
    } cases[] = {
        {"\x09stun.turn", 10, true},
        {"\x02h2\x09stun.turn", 13, true},
        {"\x09stun.turn\x08http/1.1", 19, true},
        {"\x02h2", 3, false},
        {"\x08stun.tur", 9, false},
        {NULL, 0, false},
    };
    struct fx *f = *state;

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const unsigned char *sel;
        unsigned sel_len;
        struct link l;

        link_open(&l, f->srv, f->cctx);
        if (cases[i].offer)
            assert_int_equal(
                SSL_set_alpn_protos(l.cli, (const unsigned char *)cases[i].offer, cases[i].len), 0);
        handshake_ok(&l);
        SSL_get0_alpn_selected(l.cli, &sel, &sel_len);
        if (cases[i].turn) {
            assert_string_equal(tls_conn_alpn(l.conn), TLS_ALPN_TURN);
            assert_int_equal(sel_len, strlen(TLS_ALPN_TURN));
            assert_memory_equal(sel, TLS_ALPN_TURN, sel_len);
        } else {
            assert_null(tls_conn_alpn(l.conn));
            assert_int_equal(sel_len, 0);
        }
        exchange(&l, "x", "y");
        link_close(&l);
    }
}

/* A client that goes no further than TLS 1.1 is refused, with a reason. */
static void old_version_refused(void **state)
{
    struct fx *f = *state;
    SSL_CTX *cctx = client_ctx(TLS1_1_VERSION, TLS1_1_VERSION);
    struct link l;
    bool client_ok;

    link_open(&l, f->srv, cctx);
    assert_int_equal(handshake(&l, &client_ok), TLS_IO_ERROR);
    assert_false(client_ok);
    assert_false(tls_conn_established(l.conn));
    assert_non_null(strstr(tls_conn_error(l.conn), "unsupported protocol"));
    assert_int_equal(tls_conn_events(l.conn), 0);
    link_close(&l);
    SSL_CTX_free(cctx);
}

/* A TLS 1.2 client asking to renegotiate is told no; the connection carries on. */
static void renegotiation_refused(void **state)
{
    struct fx *f = *state;
    SSL_CTX *cctx = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
    char buf[16];
    enum tls_io st;
    struct link l;
    int r = 0;

    link_open(&l, f->srv, cctx);
    handshake_ok(&l);
    assert_int_equal(SSL_renegotiate(l.cli), 1);
    for (int i = 0; i < ROUNDS && r != 1; i++) {
        r = SSL_do_handshake(l.cli);
        if (r != 1 && SSL_get_error(l.cli, r) != SSL_ERROR_WANT_READ)
            break;
        assert_int_equal(tls_conn_read(l.conn, buf, sizeof(buf), &st), -1);
        assert_int_equal(st, TLS_IO_WANT_READ);
    }
    assert_int_not_equal(r, 1);
    assert_string_equal(ERR_reason_error_string(ERR_peek_error()), "no renegotiation");
    ERR_clear_error();
    /* the server is still sound: it writes, and closes with close_notify */
    server_send(&l, "still here");
    link_close(&l);
    SSL_CTX_free(cctx);
}

/* TLS 1.3 key update asked by the client: the server answers it while reading. */
static void key_update(void **state)
{
    struct fx *f = *state;
    struct link l;

    link_open(&l, f->srv, f->cctx);
    handshake_ok(&l);
    exchange(&l, "before", "before");
    assert_int_equal(SSL_key_update(l.cli, SSL_KEY_UPDATE_REQUESTED), 1);
    exchange(&l, "after", "after");
    exchange(&l, "and after", "and after");
    link_close(&l);
}

/* A record larger than the reader's buffer comes out in pieces without the socket saying so
 * again: read until WANT_READ. */
static void partial_reads(void **state)
{
    struct fx *f = *state;
    char msg[1000], got[1000];
    enum tls_io st;
    struct link l;
    size_t n = 0;

    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (char)('a' + i % 26);
    link_open(&l, f->srv, f->cctx);
    handshake_ok(&l);
    assert_int_equal(SSL_write(l.cli, msg, sizeof(msg)), (int)sizeof(msg));
    for (int i = 0; i < 2 * (int)sizeof(msg); i++) {
        ssize_t k = tls_conn_read(l.conn, got + n, n < sizeof(got) ? 7 : 1, &st);
        if (k < 0)
            break;
        n += (size_t)k;
    }
    assert_int_equal(st, TLS_IO_WANT_READ);
    assert_int_equal(n, sizeof(msg));
    assert_memory_equal(got, msg, sizeof(msg));
    link_close(&l);
}

/* Three records that arrive together: the first read takes them all from the socket (read
 * ahead), the other two are pending inside the connection, not drained, and come without the
 * socket; after the third, drained says another read would only wait. A record cut in two is
 * not pending until its rest arrives. */
static void read_ahead_drained(void **state)
{
    struct fx *f = *state;
    const char *recs[] = {"first", "second", "third"};
    char got[32], rest[4];
    enum tls_io st;
    struct link l;
    ssize_t n;

    link_open(&l, f->srv, f->cctx);
    handshake_ok(&l);
    for (int i = 0; i < 3; i++)
        client_send(&l, recs[i]);
    for (int i = 0; i < 3; i++) {
        n = tls_conn_read(l.conn, got, sizeof(got), &st);
        assert_int_equal(n, (ssize_t)strlen(recs[i]));
        assert_memory_equal(got, recs[i], (size_t)n);
        if (i == 0) /* nothing left in the socket: all three were read at once */
            assert_int_equal(recv(l.sfd, rest, sizeof(rest), MSG_PEEK), -1);
        assert_int_equal(tls_conn_drained(l.conn), i == 2);
        assert_int_equal(tls_conn_pending(l.conn), i < 2);
    }
    assert_int_equal(tls_conn_read(l.conn, got, sizeof(got), &st), -1);
    assert_int_equal(st, TLS_IO_WANT_READ);
    assert_false(tls_conn_pending(l.conn));

    /* A record in two parts: after the first part, nothing to read and nothing pending. */
    {
        BIO *mem = BIO_new(BIO_s_mem());
        char wire[256];
        int len;

        assert_non_null(mem);
        SSL_set0_wbio(l.cli, mem); /* the client's record into memory, sent below in parts */
        client_send(&l, "cut in two");
        len = BIO_read(mem, wire, sizeof(wire));
        assert_true(len > 10);
        assert_int_equal(write(l.cfd, wire, 8), 8);
        assert_int_equal(tls_conn_read(l.conn, got, sizeof(got), &st), -1);
        assert_int_equal(st, TLS_IO_WANT_READ);
        assert_false(tls_conn_pending(l.conn));
        assert_int_equal(write(l.cfd, wire + 8, (size_t)len - 8), len - 8);
        n = tls_conn_read(l.conn, got, sizeof(got), &st);
        assert_int_equal(n, 10);
        assert_memory_equal(got, "cut in two", 10);
        /* OpenSSL asked for exactly the rest of the record: it cannot tell that the socket is
         * empty now, and the next read finds out. */
        assert_false(tls_conn_pending(l.conn));
        assert_int_equal(tls_conn_read(l.conn, got, sizeof(got), &st), -1);
        assert_int_equal(st, TLS_IO_WANT_READ);
    }
    link_close(&l);
}

/* A megabyte to a slow reader through a small socket buffer: partial writes, WANT_WRITE with
 * EPOLLOUT among the events, retries with the buffer moved, everything delivered in order. */
static void large_write_backpressure(void **state)
{
    enum { TOTAL = 1 << 20 };
    struct fx *f = *state;
    unsigned char *src = malloc(TOTAL), *dst = malloc(TOTAL), *moving = malloc(TOTAL);
    size_t sent = 0, recvd = 0, pending = 0;
    int small = 4096, want_write = 0;
    struct link l;

    assert_non_null(src);
    assert_non_null(dst);
    assert_non_null(moving);
    for (size_t i = 0; i < TOTAL; i++)
        src[i] = (unsigned char)(i * 7 + (i >> 10));
    link_open(&l, f->srv, f->cctx);
    assert_int_equal(setsockopt(l.sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    handshake_ok(&l);
    for (int i = 0; i < 200000 && recvd < TOTAL; i++) {
        enum tls_io st;
        size_t n = 0;
        if (sent < TOTAL) {
            /* a retry after WANT_* passes the same bytes at another address */
            size_t len = pending ? pending : (TOTAL - sent < 50000 ? TOTAL - sent : 50000);
            unsigned char *p = pending && i % 2 ? moving : src + sent;
            ssize_t k;
            if (p == moving)
                memcpy(moving, src + sent, len);
            k = tls_conn_write(l.conn, p, len, &st);
            if (k > 0) {
                assert_true((size_t)k <= len);
                sent += (size_t)k;
                pending = 0;
            } else {
                assert_true(st == TLS_IO_WANT_WRITE);
                assert_true(tls_conn_events(l.conn) & EPOLLOUT);
                want_write++;
                pending = len;
            }
        }
        /* the client reads a little at a time */
        if (SSL_read_ex(l.cli, dst + recvd, 3000, &n) == 1)
            recvd += n;
        else
            assert_int_equal(SSL_get_error(l.cli, 0), SSL_ERROR_WANT_READ);
    }
    assert_int_equal(recvd, TOTAL);
    assert_memory_equal(dst, src, TOTAL);
    assert_true(want_write > 0);
    assert_int_equal(tls_conn_events(l.conn), EPOLLIN);
    link_close(&l);
    free(src);
    free(dst);
    free(moving);
}

/* ---- closing ---- */

/* close_notify from the client, or an end of stream without one: CLOSED either way. */
static void peer_closes(void **state)
{
    struct fx *f = *state;

    for (int clean = 0; clean < 2; clean++) {
        char buf[16];
        enum tls_io st;
        struct link l;

        link_open(&l, f->srv, f->cctx);
        handshake_ok(&l);
        exchange(&l, "bye", "bye");
        if (clean)
            assert_true(SSL_shutdown(l.cli) >= 0);
        else
            assert_int_equal(shutdown(l.cfd, SHUT_WR), 0);
        assert_int_equal(tls_conn_read(l.conn, buf, sizeof(buf), &st), -1);
        assert_int_equal(st, TLS_IO_CLOSED);
        assert_int_equal(tls_conn_events(l.conn), 0);
        assert_string_not_equal(tls_conn_error(l.conn), "");
        /* and it stays closed */
        assert_int_equal(tls_conn_read(l.conn, buf, sizeof(buf), &st), -1);
        assert_int_equal(st, TLS_IO_CLOSED);
        link_close(&l);
    }
}

/* A client leaving in the middle of the handshake. */
static void peer_leaves_during_handshake(void **state)
{
    struct fx *f = *state;
    char buf[16];
    enum tls_io st;
    struct link l;

    link_open(&l, f->srv, f->cctx);
    assert_true(SSL_do_handshake(l.cli) <= 0); /* the ClientHello is out */
    assert_int_equal(shutdown(l.cfd, SHUT_WR), 0);
    assert_int_equal(tls_conn_read(l.conn, buf, sizeof(buf), &st), -1);
    assert_int_equal(st, TLS_IO_CLOSED);
    assert_false(tls_conn_established(l.conn));
    assert_string_not_equal(tls_conn_error(l.conn), "");
    link_close(&l);
}

/* The socket failing under the connection: a reset while reading, a closed peer while writing
 * (EPIPE: SIGPIPE is ignored), with errno's text for a reason; and an end of stream in the middle
 * of a record, which is a close like any other (nothing of the record was delivered). */
static void socket_errors(void **state)
{
    struct fx *f = *state;
    char buf[16];
    enum tls_io st;
    struct link l;

    link_open(&l, f->srv, f->cctx);
    handshake_ok(&l);
    server_send(&l, "never read");
    /* unread data in the closing end: its peer sees a reset */
    close(l.cfd);
    l.cfd = -1;
    assert_int_equal(tls_conn_read(l.conn, buf, sizeof(buf), &st), -1);
    assert_int_equal(st, TLS_IO_ERROR);
    assert_string_equal(tls_conn_error(l.conn), "Connection reset by peer");
    link_close(&l);

    link_open(&l, f->srv, f->cctx);
    handshake_ok(&l);
    exchange(&l, "a", "b");
    assert_int_equal(write(l.cfd, "\x17\x03\x03", 3), 3); /* a record never finished */
    close(l.cfd);
    l.cfd = -1;
    assert_int_equal(tls_conn_read(l.conn, buf, sizeof(buf), &st), -1);
    assert_int_equal(st, TLS_IO_CLOSED);
    link_close(&l);

    link_open(&l, f->srv, f->cctx);
    handshake_ok(&l);
    close(l.cfd);
    l.cfd = -1;
    assert_int_equal(tls_conn_write(l.conn, "x", 1, &st), -1);
    assert_int_equal(st, TLS_IO_ERROR);
    assert_string_equal(tls_conn_error(l.conn), "Broken pipe");
    assert_int_equal(tls_conn_events(l.conn), 0);
    link_close(&l);
}

/* tls_conn_free says goodbye with close_notify. */
static void free_sends_close_notify(void **state)
{
    struct fx *f = *state;
    char buf[16];
    struct link l;
    int r;

    link_open(&l, f->srv, f->cctx);
    handshake_ok(&l);
    exchange(&l, "hi", "hi");
    tls_conn_free(l.conn);
    l.conn = NULL;
    r = SSL_read(l.cli, buf, sizeof(buf));
    assert_int_equal(SSL_get_error(l.cli, r), SSL_ERROR_ZERO_RETURN);
    link_close(&l);
}

/* ---- what is not TLS ---- */

/* Bytes that are not a TLS handshake fail the connection at once, with a reason. */
static void not_a_handshake(void **state)
{
    static const struct {
        const char *what;
        const char *bytes;
        size_t len;
        bool no_hello; /* refused before anything was taken for a ClientHello */
    } cases[] = {
        {"application data first", "\x17\x03\x03\x00\x05hello", 10, true},
        {"alert first", "\x15\x03\x03\x00\x02\x02\x28", 7, true},
        {"change cipher spec first", "\x14\x03\x03\x00\x01\x01", 6, true},
        {"HTTP", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, true},
        {"a STUN Binding request",
         "\x00\x01\x00\x00\x21\x12\xa4\x42"
         "abcdefghijkl",
         20, true},
        {"garbage", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4\xf3\xf2\xf1\xf0", 16, true},
        {"a handshake record that is no ClientHello", "\x16\x03\x01\x00\x04\x02\x00\x00\x00", 9,
         true},
        {"an empty ClientHello", "\x16\x03\x01\x00\x04\x01\x00\x00\x00", 9, false},
    };
    struct fx *f = *state;

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char buf[16];
        enum tls_io st;
        struct link l;

        link_open(&l, f->srv, f->cctx);
        assert_int_equal(write(l.cfd, cases[i].bytes, cases[i].len), (ssize_t)cases[i].len);
        assert_int_equal(tls_conn_read(l.conn, buf, sizeof(buf), &st), -1);
        if (st != TLS_IO_ERROR)
            fail_msg("%s: status %d", cases[i].what, st);
        assert_string_not_equal(tls_conn_error(l.conn), "");
        print_message("    %s: %s\n", cases[i].what, tls_conn_error(l.conn));
        assert_int_equal(strstr(tls_conn_error(l.conn), "not a TLS ClientHello: ") != NULL,
                         cases[i].no_hello);
        assert_int_equal(tls_conn_events(l.conn), 0);
        /* failed for good, without touching OpenSSL again */
        assert_int_equal(tls_conn_write(l.conn, "x", 1, &st), -1);
        assert_int_equal(st, TLS_IO_ERROR);
        assert_int_equal(ERR_peek_error(), 0);
        link_close(&l);
    }
}

static void stream_kind(void **state)
{
    (void)state;
    for (unsigned b = 0; b <= 0xff; b++)
        assert_int_equal(tls_starts_record((uint8_t)b), b >= 20 && b <= 63);
}

/* ---- loading and reloading ---- */

/* Each refusal names the file and the reason. */
static void load_refused(void **state)
{
    char bad[128], enc[128], err[256];
    EVP_PKEY *k;

    (void)state;
    path(bad, "bad.pem");
    path(enc, "enc.pem");
    write_file(bad, "not a certificate\n", 18);
    k = new_key();
    write_key(enc, k, "secret");
    EVP_PKEY_free(k);
    const struct {
        const char *cert, *key, *want;
    } cases[] = {
        {F.cert1, F.key2, "does not match"},
        {F.cert2, F.key1, "does not match"},
        {F.chain, F.key1, "does not match"},
        {"/nonexistent/cert.pem", F.key1, "/nonexistent/cert.pem"},
        {F.cert1, "/nonexistent/key.pem", "/nonexistent/key.pem"},
        {"/nonexistent/cert.pem", F.key1, "No such file"},
        {bad, F.key1, "cannot load certificate chain from"},
        {F.cert1, bad, "cannot load private key from"},
        {F.cert1, F.cert1, "cannot load private key from"},
        {F.key1, F.key1, "cannot load certificate chain from"},
        {F.cert1, enc, "encrypted"}, /* refused, not prompted for */
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        err[0] = '\0';
        assert_null(tls_server_new(cases[i].cert, cases[i].key, err, sizeof(err)));
        print_message("    %s\n", err);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].want);
        assert_int_equal(ERR_peek_error(), 0);
    }
}

/* A reload that fails keeps the old context: new connections still get the old certificate. */
static void reload_failure_keeps_old(void **state)
{
    struct fx *f = *state;
    char err[256];
    struct link l;

    /* garbage for a certificate */
    write_file(F.cert, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 58);
    err[0] = '\0';
    assert_int_equal(tls_server_reload(f->srv, err, sizeof(err)), -1);
    assert_non_null(strstr(err, F.cert));
    link_open(&l, f->srv, f->cctx);
    handshake_ok(&l);
    assert_true(peer_cert_is(&l, F.x1));
    exchange(&l, "old", "old");
    link_close(&l);

    /* a new certificate without its key */
    copy_file(F.cert2, F.cert);
    err[0] = '\0';
    assert_int_equal(tls_server_reload(f->srv, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "does not match"));
    link_open(&l, f->srv, f->cctx);
    handshake_ok(&l);
    assert_true(peer_cert_is(&l, F.x1));
    link_close(&l);

    /* a missing key file */
    copy_file(F.cert1, F.cert);
    assert_int_equal(unlink(F.key), 0);
    err[0] = '\0';
    assert_int_equal(tls_server_reload(f->srv, err, sizeof(err)), -1);
    assert_non_null(strstr(err, F.key));
    link_open(&l, f->srv, f->cctx);
    handshake_ok(&l);
    assert_true(peer_cert_is(&l, F.x1));
    link_close(&l);
}

/* A good reload: new connections see the new certificate; those established before keep theirs
 * and keep working, as does one caught in the middle of its handshake. */
static void reload_new_cert(void **state)
{
    struct fx *f = *state;
    struct link before, during, after;
    char err[256] = "";

    link_open(&before, f->srv, f->cctx);
    handshake_ok(&before);
    link_open(&during, f->srv, f->cctx);
    assert_true(SSL_do_handshake(during.cli) <= 0);

    copy_file(F.cert2, F.cert);
    copy_file(F.key2, F.key);
    if (tls_server_reload(f->srv, err, sizeof(err)) != 0)
        fail_msg("reload: %s", err);

    link_open(&after, f->srv, f->cctx);
    handshake_ok(&after);
    assert_true(peer_cert_is(&after, F.x2));
    exchange(&after, "new", "new");

    handshake_ok(&during);
    assert_true(peer_cert_is(&during, F.x1));
    exchange(&during, "during", "during");

    exchange(&before, "still", "working");
    assert_true(peer_cert_is(&before, F.x1));
    link_close(&before);
    link_close(&during);
    link_close(&after);
}

/* Connections made from a server outlive it. */
static void conn_outlives_server(void **state)
{
    struct fx *f = *state;
    struct link l;

    link_open(&l, f->srv, f->cctx);
    tls_server_free(f->srv);
    f->srv = NULL;
    handshake_ok(&l);
    exchange(&l, "orphan", "fine");
    link_close(&l);
}

struct reloader {
    struct tls_server *srv;
    int done, failed;
};

static void *reload_loop(void *arg)
{
    struct reloader *r = arg;
    char err[256];

    for (int i = 0; i < 30; i++)
        if (tls_server_reload(r->srv, err, sizeof(err)) != 0)
            r->failed++;
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Reloads in one thread while another makes connections: each connection is whole. */
static void reload_concurrent(void **state)
{
    struct fx *f = *state;
    struct reloader r = {.srv = f->srv};
    pthread_t th;
    int made = 0;

    assert_int_equal(pthread_create(&th, NULL, reload_loop, &r), 0);
    for (int i = 0; i < 1000 && (i < 20 || !__atomic_load_n(&r.done, __ATOMIC_ACQUIRE)); i++) {
        struct link l;
        link_open(&l, f->srv, f->cctx);
        if (i % 5 == 0) {
            handshake_ok(&l);
            exchange(&l, "x", "y");
        }
        link_close(&l);
        made++;
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(r.failed, 0);
    assert_true(made >= 20);
}

/* With a stream_out, every record (the handshake's too) waits there for the caller to write: each
 * tls_conn_write is one record of its own, whatever the socket takes. */
static void records_queued_for_the_caller(void **state)
{
    struct fx *f = *state;
    struct stream_out out = {0};
    struct link l;
    const char *msgs[] = {"one", "second", "the third"};
    size_t off = 0, records = 0;
    char buf[64];
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    set_nonblock(sv[0]);
    set_nonblock(sv[1]);
    l.sfd = sv[0];
    l.cfd = sv[1];
    assert_non_null(l.conn = tls_conn_new(f->srv, l.sfd, &out));
    assert_non_null(l.cli = SSL_new(f->cctx));
    assert_int_equal(SSL_set_fd(l.cli, l.cfd), 1);
    SSL_set_connect_state(l.cli);
    for (int i = 0; i < ROUNDS && !(tls_conn_established(l.conn) && SSL_is_init_finished(l.cli));
         i++) {
        enum tls_io st;
        SSL_do_handshake(l.cli);
        ERR_clear_error();
        tls_conn_read(l.conn, buf, sizeof(buf), &st);
        /* the caller's part: what waits goes to the socket */
        if (stream_out_pending(&out)) {
            ssize_t n = write(l.sfd, stream_out_data(&out), stream_out_pending(&out));
            assert_true(n > 0);
            stream_out_consume(&out, (size_t)n);
        }
    }
    assert_true(tls_conn_established(l.conn));
    SSL_read(l.cli, buf, sizeof(buf)); /* takes the tickets */
    ERR_clear_error();
    assert_int_equal(stream_out_pending(&out), 0);
    for (size_t i = 0; i < ARRAY_LEN(msgs); i++) {
        enum tls_io st;
        assert_int_equal(tls_conn_write(l.conn, msgs[i], strlen(msgs[i]), &st),
                         (ssize_t)strlen(msgs[i]));
    }
    /* three application data records, back to back, nothing sent yet */
    while (off + 5 <= stream_out_pending(&out)) {
        const uint8_t *r = stream_out_data(&out) + off;
        assert_int_equal(r[0], 23);
        off += 5 + (size_t)(r[3] << 8 | r[4]);
        records++;
    }
    assert_int_equal(off, stream_out_pending(&out));
    assert_int_equal(records, 3);
    assert_int_equal(write(l.sfd, stream_out_data(&out), off), (ssize_t)off);
    for (size_t i = 0; i < ARRAY_LEN(msgs); i++) {
        int n = SSL_read(l.cli, buf, sizeof(buf));
        assert_int_equal(n, (int)strlen(msgs[i]));
        assert_memory_equal(buf, msgs[i], (size_t)n);
    }
    link_close(&l);
    stream_out_free(&out);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(data_both_ways),
        T(chain_sent),
        T(resumption),
        T(alpn),
        T(old_version_refused),
        T(renegotiation_refused),
        T(key_update),
        T(partial_reads),
        T(read_ahead_drained),
        T(large_write_backpressure),
        T(peer_closes),
        T(peer_leaves_during_handshake),
        T(socket_errors),
        T(free_sends_close_notify),
        T(not_a_handshake),
        T(records_queued_for_the_caller),
        cmocka_unit_test(stream_kind),
        cmocka_unit_test(load_refused),
        T(reload_failure_keeps_old),
        T(reload_new_cert),
        T(conn_outlives_server),
        T(reload_concurrent),
    };
#undef T

    /* as the daemon does (src/app/main.c): a write to a closed peer is an error, not a signal */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, files_setup, files_teardown);
}
