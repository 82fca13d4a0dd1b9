/* The live upgrade's manifest (src/app/upgrade_wire.c): what is encoded (sockets, connections,
 * the daemon's counters, XDP maps and links, DTLS clients that stay) decodes the same, and
 * every cut, every other version, socket count or worker count, and every socket named twice or
 * out of range is refused with a reason, nothing kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "app/upgrade.h"

#define NFDS 8

/* Worker 0: listen sockets 0 and 1, a connection (2) with half a message; worker 1: listen
 * socket 3, a DTLS client that stays on it, forwarded over fwd_index (7); socket 4 is a relayed
 * one (named by the snapshot only); 5 an XDP map, link_index its link. */
static void build_all(struct upgrade_manifest *m, uint32_t conn_index, int link_index,
                      int fwd_index, uint32_t dtls_listen)
{
    struct upgrade_conn *c;
    struct upgrade_dtls_client *dc;

    memset(m, 0, sizeof(*m));
    m->nworkers = 2;
    m->nfds = NFDS; /* announced; the fds themselves are not encoded */
    m->workers = calloc(2, sizeof(*m->workers));
    m->snap.nservers = 2;
    m->snap.servers = calloc(2, sizeof(*m->snap.servers));
    m->snap.minor = TURN_SNAPSHOT_MINOR;
    m->snap.saved_ms = 123456;
    assert_non_null(m->workers);
    assert_non_null(m->snap.servers);
    m->workers[0] = (struct upgrade_worker){.first_listen = 0, .nlisten = 2};
    m->workers[1] = (struct upgrade_worker){.first_listen = 3, .nlisten = 1};
    c = turn_snapshot_push(&m->workers[0].conns, &m->workers[0].nconns, sizeof(*c));
    assert_non_null(c);
    c->index = conn_index;
    c->pad = 2;
    assert_int_equal(xt_addr_parse("198.18.1.2:40000", 0, &c->client), 0);
    assert_int_equal(xt_addr_parse("[2001:db8:3::2]:3478", 0, &c->local), 0);
    m->workers[1].streams[TURN_TCP].closed[SC_IDLE_TIMEOUT] = 7;
    m->workers[1].oversized = 9;
    c->plen = 3;
    c->partial = malloc(3);
    assert_non_null(c->partial);
    memcpy(c->partial, "\x00\x01\x00", 3);
    m->xdp.nmaps = 1;
    strcpy(m->xdp.maps[0].name, "c2p_44");
    m->xdp.maps[0].fd = 5;
    m->xdp.nlinks = 1;
    m->xdp.links[0] = link_index;
    m->workers[0].dtls_fwd = -1;
    m->workers[1].dtls_fwd = fwd_index;
    dc = turn_snapshot_push(&m->workers[1].dtls, &m->workers[1].ndtls, sizeof(*dc));
    assert_non_null(dc);
    dc->listen = dtls_listen;
    assert_int_equal(xt_addr_parse("[2001:db8:1::5]:40005", 0, &dc->client), 0);
}

static void build(struct upgrade_manifest *m, uint32_t conn_index, int link_index)
{
    build_all(m, conn_index, link_index, 7, 0);
}

static void encode_xdp(uint32_t conn_index, int link_index, uint8_t **bytes, size_t *len)
{
    struct upgrade_manifest m;

    build(&m, conn_index, link_index);
    assert_int_equal(upgrade_encode(&m, bytes, len), 0);
    upgrade_manifest_free(&m, false);
}

static void encode(uint32_t conn_index, uint8_t **bytes, size_t *len)
{
    encode_xdp(conn_index, 6, bytes, len);
}

static void expect_refused(const uint8_t *bytes, size_t len, size_t nfds, const char *why)
{
    struct upgrade_manifest m;
    char err[256] = "";

    assert_int_equal(upgrade_decode(bytes, len, nfds, &m, err, sizeof(err)), -1);
    assert_null(m.workers);
    if (why && !strstr(err, why))
        fail_msg("refused with \"%s\", not \"%s\"", err, why);
    assert_true(err[0] != '\0');
}

static void test_round_trip(void **state)
{
    struct upgrade_manifest m;
    uint8_t *bytes;
    size_t len;
    char err[256] = "";
    struct xt_addr client;

    (void)state;
    encode(2, &bytes, &len);
    assert_int_equal(upgrade_decode(bytes, len, NFDS, &m, err, sizeof(err)), 0);
    assert_int_equal(m.nworkers, 2);
    assert_int_equal(m.workers[0].nlisten, 2);
    assert_int_equal(m.workers[1].first_listen, 3);
    assert_int_equal(m.workers[0].nconns, 1);
    assert_int_equal(m.workers[1].nconns, 0);
    assert_int_equal(m.workers[0].conns[0].index, 2);
    assert_int_equal(m.workers[0].conns[0].pad, 2);
    assert_int_equal(xt_addr_parse("198.18.1.2:40000", 0, &client), 0);
    assert_true(xt_addr_equal(&m.workers[0].conns[0].client, &client));
    assert_int_equal(m.workers[0].conns[0].local.family, AF_INET6);
    assert_int_equal(m.workers[0].conns[0].plen, 3);
    assert_memory_equal(m.workers[0].conns[0].partial, "\x00\x01\x00", 3);
    assert_int_equal(m.workers[1].streams[TURN_TCP].closed[SC_IDLE_TIMEOUT], 7);
    assert_int_equal(m.workers[1].oversized, 9);
    assert_int_equal(m.workers[0].streams[TURN_TCP].accepted, 0);
    assert_int_equal(m.snap.nservers, 2);
    assert_int_equal(m.snap.saved_ms, 123456);
    assert_int_equal(m.xdp.nmaps, 1);
    assert_string_equal(m.xdp.maps[0].name, "c2p_44");
    assert_int_equal(m.xdp.maps[0].fd, 5);
    assert_int_equal(m.xdp.nlinks, 1);
    assert_int_equal(m.xdp.links[0], 6);
    assert_int_equal(m.workers[0].dtls_fwd, -1);
    assert_int_equal(m.workers[0].ndtls, 0);
    assert_int_equal(m.workers[1].dtls_fwd, 7);
    assert_int_equal(m.workers[1].ndtls, 1);
    assert_int_equal(m.workers[1].dtls[0].listen, 0);
    assert_int_equal(xt_addr_parse("[2001:db8:1::5]:40005", 0, &client), 0);
    assert_true(xt_addr_equal(&m.workers[1].dtls[0].client, &client));
    upgrade_manifest_free(&m, false);
    free(bytes);
}

/* A forwarded datagram's header names the listen socket and the client; less is refused. */
static void test_forward_header(void **state)
{
    uint8_t head[UPGRADE_FWD_HEADER];
    struct xt_addr client, got;
    uint32_t listen;

    (void)state;
    assert_int_equal(xt_addr_parse("198.18.1.4:40004", 0, &client), 0);
    upgrade_fwd_header(head, 3, &client);
    assert_int_equal(upgrade_fwd_parse(head, sizeof(head), &listen, &got), 0);
    assert_int_equal(listen, 3);
    assert_true(xt_addr_equal(&got, &client));
    for (size_t n = 0; n < sizeof(head); n++)
        assert_int_equal(upgrade_fwd_parse(head, n, &listen, &got), -1);
    head[4] = 5; /* no such family */
    assert_int_equal(upgrade_fwd_parse(head, sizeof(head), &listen, &got), -1);
}

static void encode_dtls(int fwd_index, uint32_t dtls_listen, uint8_t **bytes, size_t *len)
{
    struct upgrade_manifest m;

    build_all(&m, 2, 6, fwd_index, dtls_listen);
    assert_int_equal(upgrade_encode(&m, bytes, len), 0);
    upgrade_manifest_free(&m, false);
}

static void test_cut_short(void **state)
{
    uint8_t *bytes;
    size_t len;

    (void)state;
    encode(2, &bytes, &len);
    for (size_t n = 0; n < len; n++)
        expect_refused(bytes, n, NFDS, NULL);
    free(bytes);
}

static void test_refusals(void **state)
{
    uint8_t *bytes;
    size_t len;

    (void)state;
    encode(2, &bytes, &len);
    expect_refused(bytes, len, NFDS - 1, "sockets announced");
    bytes[9] = 5; /* version 5 */
    expect_refused(bytes, len, NFDS, "version 5");
    bytes[9] = 0;
    expect_refused(bytes, len, NFDS, "version 0");
    bytes[9] = 4;
    bytes[0] = 'Y';
    expect_refused(bytes, len, NFDS, "not an xturn hand-over");
    free(bytes);
    encode(1, &bytes, &len); /* the connection is a listen socket too */
    expect_refused(bytes, len, NFDS, "connection 0");
    free(bytes);
    encode(NFDS, &bytes, &len); /* out of range (announcing NFDS sockets) */
    expect_refused(bytes, len, NFDS, "connection 0");
    free(bytes);
    encode_xdp(2, 5, &bytes, &len); /* the link is the map */
    expect_refused(bytes, len, NFDS, "XDP map or link");
    free(bytes);
    encode_xdp(2, NFDS, &bytes, &len);
    expect_refused(bytes, len, NFDS, "XDP map or link");
    free(bytes);
    encode_dtls(3, 0, &bytes, &len); /* the forwarding socket is a listen socket */
    expect_refused(bytes, len, NFDS, "DTLS forwarding");
    free(bytes);
    encode_dtls(-1, 0, &bytes, &len); /* clients, but nowhere to forward them */
    expect_refused(bytes, len, NFDS, "DTLS forwarding");
    free(bytes);
    encode_dtls(7, 1, &bytes, &len); /* worker 1 has one listen socket */
    expect_refused(bytes, len, NFDS, "DTLS client 0");
    free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_cut_short),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_forward_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
