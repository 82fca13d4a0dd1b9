/* DTLS for datagram clients (src/net/dtls_server.c): an OpenSSL DTLS client in this test on one
 * of two connected UDP sockets on loopback; the other one's datagrams are handed to dtls_listen
 * and dtls_conn_input by hand, as the worker does, in bounded loops. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "net/dtls_server.h"

#define ROUNDS 100

static char dir[64], cert_path[128], key_path[128];

static void make_cert(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name = X509_get_subject_name(x);
    FILE *f;

    assert_non_null(key);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"dtls", -1, -1, 0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    snprintf(dir, sizeof(dir), "/tmp/xturn-dtls.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
    snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
    assert_non_null(f = fopen(cert_path, "w"));
    PEM_write_X509(f, x);
    fclose(f);
    assert_non_null(f = fopen(key_path, "w"));
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
}

struct fixture {
    struct tls_server *tls;
    struct dtls_listener *l;
    int fd[2]; /* [0] the client's, [1] the relay's: UDP on loopback, connected to each other */
    SSL_CTX *cctx;
    SSL *client;
    struct dtls_conn *conn;
    struct xt_addr src;
    uint8_t got[4096];
    size_t gotlen;
    int answered, dropped;
    uint16_t port1; /* of fd[1] */
};

static uint16_t bound_port(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);

    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

static void udp_pair(int fd[2])
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    uint16_t port[2];

    for (int i = 0; i < 2; i++) {
        fd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        assert_true(fd[i] >= 0);
        assert_int_equal(bind(fd[i], (struct sockaddr *)&a, sizeof(a)), 0);
        port[i] = bound_port(fd[i]);
    }
    for (int i = 0; i < 2; i++) {
        a.sin_port = htons(port[1 - i]);
        assert_int_equal(connect(fd[i], (struct sockaddr *)&a, sizeof(a)), 0);
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct in_addr lo = {htonl(INADDR_LOOPBACK)};
    BIO_ADDR *peer;
    char err[256];
    BIO *b;

    if (!dir[0])
        make_cert();
    assert_non_null(f);
    f->tls = tls_server_new(cert_path, key_path, err, sizeof(err));
    assert_non_null(f->tls);
    assert_non_null(f->l = dtls_listener_new(f->tls));
    udp_pair(f->fd);
    f->port1 = bound_port(f->fd[1]);
    assert_non_null(f->cctx = SSL_CTX_new(DTLS_client_method()));
    SSL_CTX_set_verify(f->cctx, SSL_VERIFY_NONE, NULL);
    assert_non_null(f->client = SSL_new(f->cctx));
    b = BIO_new_dgram(f->fd[0], BIO_NOCLOSE);
    peer = BIO_ADDR_new();
    assert_int_equal(BIO_ADDR_rawmake(peer, AF_INET, &lo, sizeof(lo), htons(f->port1)), 1);
    BIO_ctrl(b, BIO_CTRL_DGRAM_SET_CONNECTED, 0, peer);
    BIO_ADDR_free(peer);
    SSL_set_bio(f->client, b, b);
    SSL_set_connect_state(f->client);
    f->src.family = AF_INET;
    f->src.ip[0] = 198;
    f->src.ip[1] = 18;
    f->src.ip[2] = 1;
    f->src.ip[3] = 2;
    f->src.port = 4000;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    dtls_conn_free(f->conn);
    SSL_free(f->client);
    SSL_CTX_free(f->cctx);
    dtls_listener_free(f->l);
    tls_server_free(f->tls);
    close(f->fd[0]);
    close(f->fd[1]);
    free(f);
    return 0;
}

static void on_msg(void *arg, const uint8_t *msg, size_t len)
{
    struct fixture *f = arg;
    assert_true(f->gotlen + len <= sizeof(f->got));
    memcpy(f->got + f->gotlen, msg, len);
    f->gotlen += len;
}

static void send_out(struct fixture *f)
{
    const uint8_t *dg;
    size_t n;

    while (f->conn && (n = dtls_conn_next_out(f->conn, &dg)) > 0)
        assert_int_equal(send(f->fd[1], dg, n, 0), (ssize_t)n);
}

/* The relay's side: every datagram waiting, as the worker handles them. */
static void relay_step(struct fixture *f)
{
    uint8_t dg[DTLS_DATAGRAM_MAX], out[DTLS_DATAGRAM_MAX];
    ssize_t n;

    while ((n = recv(f->fd[1], dg, sizeof(dg), 0)) > 0) {
        size_t outlen;
        if (f->conn) {
            assert_int_equal(dtls_conn_input(f->conn, dg, (size_t)n, on_msg, f), 0);
        } else {
            switch (dtls_listen(f->l, &f->src, dg, (size_t)n, out, &outlen, &f->conn)) {
            case DTLS_ANSWERED:
                f->answered++;
                assert_int_equal(send(f->fd[1], out, outlen, 0), (ssize_t)outlen);
                break;
            case DTLS_NEW:
                assert_int_equal(dtls_conn_input(f->conn, NULL, 0, on_msg, f), 0);
                break;
            default:
                f->dropped++;
            }
        }
        send_out(f);
    }
}

static void handshake(struct fixture *f)
{
    for (int i = 0; i < ROUNDS; i++) {
        if (SSL_do_handshake(f->client) == 1 && f->conn && dtls_conn_established(f->conn))
            return;
        ERR_clear_error();
        relay_step(f);
    }
    fail_msg("no handshake in %d rounds", ROUNDS);
}

static void cookie_exchange_then_data_both_ways(void **state)
{
    struct fixture *f = *state;
    const uint8_t *dg;
    uint8_t buf[64];
    int n;

    handshake(f);
    /* One HelloVerifyRequest before any connection: the stateless cookie exchange. */
    assert_int_equal(f->answered, 1);
    assert_int_equal(SSL_write(f->client, "to relay", 8), 8);
    relay_step(f);
    assert_int_equal(f->gotlen, 8);
    assert_memory_equal(f->got, "to relay", 8);
    assert_int_equal(dtls_conn_write(f->conn, "to client", 9), 0);
    send_out(f);
    n = SSL_read(f->client, buf, sizeof(buf));
    assert_int_equal(n, 9);
    assert_memory_equal(buf, "to client", 9);
    /* The client's close_notify ends the connection as closed, not failed. */
    SSL_shutdown(f->client);
    assert_int_equal(recv(f->fd[1], buf, sizeof(buf), 0) > 0, 1);
    assert_int_equal(dtls_conn_next_out(f->conn, &dg), 0);
}

static void cookie_from_another_address_is_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t dg[DTLS_DATAGRAM_MAX], out[DTLS_DATAGRAM_MAX];
    size_t outlen;
    ssize_t n;

    /* The first ClientHello gets the cookie for 198.18.1.2:4000 ... */
    SSL_do_handshake(f->client);
    relay_step(f);
    assert_int_equal(f->answered, 1);
    /* ... and its second ClientHello, with that cookie, is seen from another port. */
    SSL_do_handshake(f->client);
    n = recv(f->fd[1], dg, sizeof(dg), 0);
    assert_true(n > 0);
    f->src.port = 4001;
    assert_int_not_equal(dtls_listen(f->l, &f->src, dg, (size_t)n, out, &outlen, &f->conn),
                         DTLS_NEW);
    assert_null(f->conn);
}

static void non_handshake_first_datagrams_are_dropped(void **state)
{
    struct fixture *f = *state;
    static const uint8_t app_data[] = {23, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4};
    static const uint8_t alert[] = {21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 40};
    static const uint8_t short_hs[] = {22, 0xfe, 0xfd, 0, 0};
    uint8_t out[DTLS_DATAGRAM_MAX];
    size_t outlen;

    assert_int_equal(dtls_listen(f->l, &f->src, app_data, sizeof(app_data), out, &outlen, &f->conn),
                     DTLS_DROPPED);
    assert_int_equal(dtls_listen(f->l, &f->src, alert, sizeof(alert), out, &outlen, &f->conn),
                     DTLS_DROPPED);
    assert_int_equal(dtls_listen(f->l, &f->src, short_hs, sizeof(short_hs), out, &outlen, &f->conn),
                     DTLS_DROPPED);
    assert_null(f->conn);
    for (unsigned b = 0; b < 256; b++)
        assert_int_equal(dtls_first_byte((uint8_t)b), b >= 20 && b <= 63);
}

/* A client's first datagram is recognised as one starting over; the same record in another
 * epoch, another handshake message, a cut header and application data are not. */
static void client_hello_starts_over(void **state)
{
    struct fixture *f = *state;
    uint8_t dg[DTLS_DATAGRAM_MAX], mod[DTLS_DATAGRAM_MAX];
    ssize_t n;

    assert_int_not_equal(SSL_do_handshake(f->client), 1);
    ERR_clear_error();
    n = recv(f->fd[1], dg, sizeof(dg), 0);
    assert_true(n > 13);
    assert_true(dtls_starts_client_hello(dg, (size_t)n));
    for (size_t len = 0; len <= 13; len++)
        assert_false(dtls_starts_client_hello(dg, len));
    memcpy(mod, dg, (size_t)n);
    mod[4] = 1; /* epoch 1 */
    assert_false(dtls_starts_client_hello(mod, (size_t)n));
    memcpy(mod, dg, (size_t)n);
    mod[13] = 2; /* a ServerHello */
    assert_false(dtls_starts_client_hello(mod, (size_t)n));
    /* the handshake goes on from that ClientHello, then application data */
    assert_int_equal(send(f->fd[0], dg, (size_t)n, 0), n);
    handshake(f);
    assert_int_equal(SSL_write(f->client, "data", 4), 4);
    n = recv(f->fd[1], dg, sizeof(dg), 0);
    assert_true(n > 13);
    assert_int_equal(dg[0], 23);
    assert_false(dtls_starts_client_hello(dg, (size_t)n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(cookie_exchange_then_data_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(cookie_from_another_address_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(non_handshake_first_datagrams_are_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(client_hello_starts_over, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    if (dir[0]) {
        unlink(cert_path);
        unlink(key_path);
        rmdir(dir);
    }
    return rc;
}
