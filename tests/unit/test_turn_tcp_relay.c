/* RFC 6062 TCP allocations (src/turn/turn_tcp_relay.c) with the mock I/O layer: Allocate,
 * Connect with and without permission, connections from peers with and without permission (a
 * peer without one can neither be connected to nor connect in), ConnectionBind with a wrong
 * user, an unknown, an expired or a bound id, the limits, the self rules, the rate, hand-over to
 * another worker, and the deletion of an allocation closing every connection. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "turn/turn_shared.h"
#include "turn_mock.h"

#define DATA_HANDLE 2000 /* a client data connection's handle */

static const uint8_t tcp[4] = {TURN_TRANSPORT_TCP};

/* A TCP client with a second static user, bob. */
static int setup(void **state)
{
    struct mock *m;

    mock_test_setup(state);
    m = *state;
    m->transport = TURN_TCP;
    m->cfg.users = realloc(m->cfg.users, 2 * sizeof(*m->cfg.users));
    assert_non_null(m->cfg.users);
    m->cfg.users[1].name = strdup("bob");
    m->cfg.users[1].password = strdup("builder");
    m->cfg.nusers = 2;
    return 0;
}

static const struct turn_counters *counters(struct mock *m)
{
    return &turn_server_counters(m->s)[m->transport];
}

/* An Allocate for TCP with one more attribute (type 0: none); its code, and the relayed address
 * of a success. */
static int allocate_tcp(struct mock *m, uint16_t type, const void *val, size_t len,
                        struct xt_addr *relayed)
{
    uint8_t buf[MOCK_REQ_MAX];
    struct stun_builder b;
    struct stun_msg r;
    int code;

    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, tcp, 4);
    if (type)
        stun_add_attr(&b, type, val, len);
    mock_from_client(m, buf, mock_sign(m, &b));
    code = mock_last_code(m);
    if (code == 0 && relayed) {
        mock_last_response(m, &r);
        assert_int_equal(
            stun_attr_xor_addr(&r, stun_find(&r, TURN_ATTR_XOR_RELAYED_ADDRESS), relayed), 0);
    }
    return code;
}

/* A TCP allocation with a permission for peer (NULL: none). */
static void allocated(struct mock *m, const char *peer_s, struct xt_addr *peer)
{
    mock_start(m);
    assert_int_equal(allocate_tcp(m, 0, NULL, 0, NULL), 0);
    if (peer_s) {
        mock_addr(peer, peer_s);
        assert_int_equal(mock_create_permission(m, peer), 0);
    }
}

/* A Connect to peer: the messages the server sent at once (none while it connects). */
static size_t send_connect(struct mock *m, const struct xt_addr *peer)
{
    uint8_t buf[MOCK_REQ_MAX];
    struct stun_builder b;

    mock_req(m, &b, buf, sizeof(buf), TURN_CONNECT);
    if (peer)
        stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, peer);
    return mock_from_client(m, buf, mock_sign(m, &b));
}

static int connect_code(struct mock *m, const struct xt_addr *peer)
{
    assert_int_equal(send_connect(m, peer), 1);
    return mock_last_code(m);
}

/* The CONNECTION-ID of the last message (a Connect response or a ConnectionAttempt). */
static uint32_t last_id(struct mock *m)
{
    struct stun_msg r;
    const struct stun_attr *ci;

    mock_last_response(m, &r);
    ci = stun_find(&r, TURN_ATTR_CONNECTION_ID);
    assert_non_null(ci);
    assert_int_equal(ci->len, 4);
    return (uint32_t)ci->val[0] << 24 | (uint32_t)ci->val[1] << 16 | (uint32_t)ci->val[2] << 8 |
           ci->val[3];
}

/* A ConnectionBind for id on connection handle: the messages the server sent. */
static size_t send_bind(struct mock *m, int handle, uint32_t id)
{
    uint8_t buf[MOCK_REQ_MAX],
        v[4] = {(uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
    struct stun_builder b;

    mock_req(m, &b, buf, sizeof(buf), TURN_CONNECTION_BIND);
    stun_add_attr(&b, TURN_ATTR_CONNECTION_ID, v, sizeof(v));
    return mock_from_client_on(m, handle, &m->client, buf, mock_sign(m, &b));
}

static int bind_code(struct mock *m, int handle, uint32_t id)
{
    assert_int_equal(send_bind(m, handle, id), 1);
    assert_int_equal(m->sent[m->nsent - 1].handle, handle);
    return mock_last_code(m);
}

/* A connection made by Connect to peer and established: its handle; *id its connection id. */
static int connected(struct mock *m, const struct xt_addr *peer, uint32_t *id)
{
    int h;
    struct stun_msg r;

    assert_int_equal(send_connect(m, peer), 0);
    h = mock_tcp_conn_to(m, peer);
    assert_true(h >= 0);
    mock_tcp_connected(m, h, 0);
    assert_int_equal(mock_last_code(m), 0);
    mock_last_response(m, &r);
    assert_int_equal(r.method, TURN_CONNECT);
    assert_true(r.mi >= 0); /* signed like any authenticated response */
    *id = last_id(m);
    return h;
}

/* ---- Allocate ---- */

static void allocate_tcp_from_stream_clients(void **state)
{
    struct mock *m = *state;
    struct xt_addr relayed;
    int h;

    mock_start(m);
    assert_int_equal(allocate_tcp(m, 0, NULL, 0, &relayed), 0);
    h = mock_relay_handle(m, AF_INET);
    assert_true(h >= 0);
    /* The relayed address is a TCP listening socket on the relay address and port range. */
    assert_true(m->socks[h].tcp && !m->socks[h].conn);
    assert_true(xt_addr_equal(&m->socks[h].addr, &relayed));
    assert_true(relayed.port >= 50000 && relayed.port <= 50099);
    assert_int_equal(counters(m)->allocations, 1);
    assert_int_equal(mock_refresh(m, 0), 0);
    assert_int_equal(mock_open_sockets(m), 0);
    /* Over TLS too. */
    m->transport = TURN_TLS;
    assert_int_equal(allocate_tcp(m, 0, NULL, 0, NULL), 0);
    assert_int_equal(mock_open_sockets(m), 1);
}

static void allocate_tcp_dual(void **state)
{
    struct mock *m = *state;
    uint8_t v6[4] = {TURN_FAMILY_IPV6};

    mock_start(m);
    assert_int_equal(allocate_tcp(m, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY, v6, 4, NULL), 0);
    assert_true(m->socks[mock_relay_handle(m, AF_INET)].tcp);
    assert_true(m->socks[mock_relay_handle(m, AF_INET6)].tcp);
}

static void allocate_tcp_refusals(void **state)
{
    struct mock *m = *state;
    uint8_t ep = 0, token[8] = {1};

    mock_start(m);
    /* RFC 6062 5.1: none of these with TCP. */
    assert_int_equal(allocate_tcp(m, TURN_ATTR_DONT_FRAGMENT, NULL, 0, NULL), 400);
    assert_int_equal(allocate_tcp(m, TURN_ATTR_EVEN_PORT, &ep, 1, NULL), 400);
    assert_int_equal(allocate_tcp(m, TURN_ATTR_RESERVATION_TOKEN, token, 8, NULL), 400);
    /* A TCP allocation needs a TCP or TLS control connection. */
    m->transport = TURN_UDP;
    assert_int_equal(allocate_tcp(m, 0, NULL, 0, NULL), 400);
    m->transport = TURN_DTLS;
    assert_int_equal(allocate_tcp(m, 0, NULL, 0, NULL), 400);
    assert_int_equal(mock_open_sockets(m), 0);
}

static void allocate_tcp_without_io_is_442(void **state)
{
    struct mock *m = *state;

    m->without_tcp = true;
    mock_start(m);
    assert_int_equal(allocate_tcp(m, 0, NULL, 0, NULL), 442);
    assert_int_equal(mock_open_sockets(m), 0);
}

/* Channels and Send indications are not for TCP allocations. */
static void tcp_allocation_has_no_channels(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    const uint8_t data[4] = {1, 2, 3, 4};

    allocated(m, "198.18.2.2:5000", &peer);
    assert_int_equal(mock_channel_bind(m, 0x4001, &peer), 400);
    assert_int_equal(mock_send_indication(m, data, sizeof(data), &peer), 0);
    assert_int_equal(counters(m)->dropped[TD_NO_RELAY], 1);
}

/* ---- Connect ---- */

/* The Pion bug: no permission, no connection, however the client asks. */
static void connect_needs_a_permission(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer, other_port;
    uint32_t id;
    int h;

    allocated(m, NULL, NULL);
    mock_addr(&peer, "198.18.2.2:5000");
    assert_int_equal(connect_code(m, &peer), 403);
    assert_int_equal(mock_tcp_conn_to(m, &peer), -1);
    assert_int_equal(mock_create_permission(m, &peer), 0);
    /* A permission is for an IP: any port of it. */
    mock_addr(&other_port, "198.18.2.2:6000");
    h = connected(m, &other_port, &id);
    /* The connection is made from the relayed address. */
    assert_true(xt_addr_equal(&m->socks[h].addr, &m->socks[mock_relay_handle(m, AF_INET)].addr));
    assert_int_equal(counters(m)->tcp_peer_conns, 1);
}

static void connect_bad_requests(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer, denied, v6;

    allocated(m, "198.18.2.2:5000", &peer);
    assert_int_equal(connect_code(m, NULL), 400);
    /* The peer policy: denied whatever the permissions say (none can be made either). */
    mock_addr(&denied, "127.0.0.1:22");
    assert_int_equal(connect_code(m, &denied), 403);
    mock_addr(&denied, "10.0.0.1:80");
    assert_int_equal(connect_code(m, &denied), 403);
    /* No IPv6 relayed address. */
    mock_addr(&v6, "[2001:db8:2::2]:5000");
    assert_int_equal(connect_code(m, &v6), 443);
    assert_int_equal(mock_open_sockets(m), 1);
}

static void connect_on_udp_allocation_is_400(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;

    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    mock_addr(&peer, "198.18.2.2:5000");
    assert_int_equal(mock_create_permission(m, &peer), 0);
    assert_int_equal(connect_code(m, &peer), 400);
}

static void connect_without_allocation_is_437(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;

    mock_start(m);
    mock_addr(&peer, "198.18.2.2:5000");
    assert_int_equal(connect_code(m, &peer), 437);
}

static void connect_twice_is_446(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    uint32_t id;
    int h;

    allocated(m, "198.18.2.2:5000", &peer);
    assert_int_equal(send_connect(m, &peer), 0);
    /* While connecting, */
    assert_int_equal(connect_code(m, &peer), 446);
    h = mock_tcp_conn_to(m, &peer);
    mock_tcp_connected(m, h, 0);
    id = last_id(m);
    /* while waiting for the ConnectionBind, */
    assert_int_equal(connect_code(m, &peer), 446);
    assert_int_equal(bind_code(m, DATA_HANDLE, id), 0);
    /* and while relaying. */
    assert_int_equal(connect_code(m, &peer), 446);
    /* Once it ends, the peer can be connected to again. */
    turn_on_tcp_closed(m->s, m->socks[h].owner);
    m->socks[h].open = false; /* the I/O layer closed it */
    connected(m, &peer, &id);
}

static void connect_failure_is_447(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    int h;

    allocated(m, "198.18.2.2:5000", &peer);
    assert_int_equal(send_connect(m, &peer), 0);
    h = mock_tcp_conn_to(m, &peer);
    mock_tcp_connected(m, h, -ECONNREFUSED);
    assert_int_equal(mock_last_code(m), 447);
    assert_false(m->socks[h].open);
    /* Failing at once: the same. */
    m->busy_ports[m->nbusy++] = 5000;
    assert_int_equal(connect_code(m, &peer), 447);
    assert_int_equal(mock_open_sockets(m), 1);
    assert_int_equal(counters(m)->tcp_peer_conns, 0);
}

static void connect_timeout_is_447(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    size_t before;
    int h;

    allocated(m, "198.18.2.2:5000", &peer);
    assert_int_equal(send_connect(m, &peer), 0);
    h = mock_tcp_conn_to(m, &peer);
    before = m->nsent;
    mock_advance(m, 29000);
    assert_int_equal(m->nsent, before);
    mock_advance(m, 2000);
    assert_int_equal(m->nsent, before + 1);
    assert_int_equal(mock_last_code(m), 447);
    assert_int_equal(m->sent[m->nsent - 1].handle, MOCK_LISTEN);
    assert_false(m->socks[h].open);
}

static void connect_cap(void **state)
{
    struct mock *m = *state;
    struct xt_addr a, b, c;
    uint32_t id;
    int l;

    m->cfg.max_tcp_peer_conns = 2;
    allocated(m, "198.18.2.2:5000", &a);
    mock_addr(&b, "198.18.2.2:5001");
    mock_addr(&c, "198.18.2.2:5002");
    connected(m, &a, &id);
    connected(m, &b, &id);
    assert_int_equal(connect_code(m, &c), 508);
    /* Connections from peers count too. */
    l = mock_relay_handle(m, AF_INET);
    assert_false(m->socks[mock_tcp_accept(m, l, &c)].open);
    assert_int_equal(counters(m)->tcp_refused[TTR_LIMIT], 1);
}

/* ---- connections from peers ---- */

static void incoming_without_permission_is_closed(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer, other;
    size_t before;
    int h;

    allocated(m, "198.18.2.2:5000", &peer);
    mock_addr(&other, "198.18.2.3:5000");
    before = m->nsent;
    h = mock_tcp_accept(m, mock_relay_handle(m, AF_INET), &other);
    assert_false(m->socks[h].open);
    assert_int_equal(m->nsent, before); /* the client hears nothing */
    assert_int_equal(counters(m)->tcp_refused[TTR_NO_PERMISSION], 1);
    assert_int_equal(counters(m)->tcp_peer_conns, 0);
}

static void incoming_with_permission_is_offered(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer, from, p;
    struct stun_msg r;
    uint32_t id;
    int h;

    allocated(m, "198.18.2.2:5000", &peer);
    mock_addr(&from, "198.18.2.2:41000");
    h = mock_tcp_accept(m, mock_relay_handle(m, AF_INET), &from);
    assert_true(m->socks[h].open);
    mock_last_response(m, &r);
    assert_int_equal(r.cls, STUN_INDICATION);
    assert_int_equal(r.method, TURN_CONNECTION_ATTEMPT);
    assert_int_equal(m->sent[m->nsent - 1].handle, MOCK_LISTEN);
    assert_int_equal(stun_attr_xor_addr(&r, stun_find(&r, TURN_ATTR_XOR_PEER_ADDRESS), &p), 0);
    assert_true(xt_addr_equal(&p, &from));
    id = last_id(m);
    assert_int_equal(bind_code(m, DATA_HANDLE, id), 0);
    assert_int_equal(m->splices, 1);
    assert_int_equal(m->last_splice_data, DATA_HANDLE);
    assert_int_equal(m->last_splice_peer, h);
    /* Bound once: a second ConnectionBind for it is refused. */
    assert_int_equal(bind_code(m, DATA_HANDLE + 1, id), 400);
}

static void incoming_not_bound_in_time_is_closed(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer, from;
    uint32_t id;
    int h;

    allocated(m, "198.18.2.2:5000", &peer);
    mock_addr(&from, "198.18.2.2:41000");
    h = mock_tcp_accept(m, mock_relay_handle(m, AF_INET), &from);
    id = last_id(m);
    mock_advance(m, 29000);
    assert_true(m->socks[h].open);
    mock_advance(m, 2000);
    assert_false(m->socks[h].open);
    assert_int_equal(counters(m)->tcp_bind_timeouts, 1);
    /* An expired id is unknown. */
    assert_int_equal(bind_code(m, DATA_HANDLE, id), 400);
    assert_int_equal(m->splices, 0);
}

/* ---- ConnectionBind ---- */

static void bind_errors(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    uint8_t buf[MOCK_REQ_MAX], short_id[2] = {0};
    struct stun_builder b;
    uint32_t id;
    int h;

    allocated(m, "198.18.2.2:5000", &peer);
    h = connected(m, &peer, &id);
    /* Unknown ids, another server's ids without hand-over, a malformed or missing attribute. */
    assert_int_equal(bind_code(m, DATA_HANDLE, id ^ 0x100), 400);
    assert_int_equal(bind_code(m, DATA_HANDLE, id ^ 0x1), 400);
    mock_req(m, &b, buf, sizeof(buf), TURN_CONNECTION_BIND);
    stun_add_attr(&b, TURN_ATTR_CONNECTION_ID, short_id, sizeof(short_id));
    mock_from_client_on(m, DATA_HANDLE, &m->client, buf, mock_sign(m, &b));
    assert_int_equal(mock_last_code(m), 400);
    mock_req(m, &b, buf, sizeof(buf), TURN_CONNECTION_BIND);
    mock_from_client_on(m, DATA_HANDLE, &m->client, buf, mock_sign(m, &b));
    assert_int_equal(mock_last_code(m), 400);
    /* Not on a connection with an allocation (the control connection). */
    assert_int_equal(bind_code(m, MOCK_LISTEN, id), 400);
    /* Unauthenticated: challenged. */
    mock_req(m, &b, buf, sizeof(buf), TURN_CONNECTION_BIND);
    mock_from_client_on(m, DATA_HANDLE, &m->client, buf, mock_unsigned(&b));
    assert_int_equal(mock_last_code(m), 401);
    /* Another user's valid credentials. */
    m->user = "bob";
    m->pass = "builder";
    assert_int_equal(bind_code(m, DATA_HANDLE, id), 441);
    m->user = "alice";
    m->pass = "wonderland";
    /* The I/O layer cannot make it a data connection: refused, and the id is still good. */
    m->fail_splice = true;
    assert_int_equal(bind_code(m, DATA_HANDLE, id), 400);
    m->fail_splice = false;
    assert_int_equal(bind_code(m, DATA_HANDLE, id), 0);
    assert_int_equal(m->socks[h].spliced, DATA_HANDLE);
    /* Over UDP, never. */
    m->transport = TURN_UDP;
    assert_int_equal(bind_code(m, DATA_HANDLE + 1, id), 400);
}

/* Clients reuse their control connection's nonce on data connections (coturn's does, and
 * nonces are bound to the client's address and port): taken for a ConnectionBind of that
 * allocation's connections, and for nothing else. */
static void bind_with_the_control_connections_nonce(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer, other;
    uint32_t id, other_id;

    allocated(m, "198.18.2.2:5000", &peer);
    connected(m, &peer, &id);
    mock_addr(&other, "198.18.2.2:5001");
    connected(m, &other, &other_id);
    /* The data connection comes from another port, with the control connection's nonce. */
    mock_addr(&m->client, "198.18.1.2:40123");
    assert_int_equal(bind_code(m, DATA_HANDLE, id ^ 0x100), 438);
    assert_int_equal(mock_refresh(m, -1), 438);
    assert_int_equal(bind_code(m, DATA_HANDLE, id), 0);
    /* Its own nonce does as well. */
    m->nonce_len = 0;
    assert_int_equal(bind_code(m, DATA_HANDLE + 1, other_id), 0);
}

/* A connection id names its server: a ConnectionBind reaching another worker goes there. */
static void bind_on_another_worker_is_handed_over(void **state)
{
    struct mock *m = *state, *m2 = calloc(1, sizeof(*m2));
    struct turn_shared *sh;
    struct xt_addr peer, from;
    uint32_t id;

    assert_non_null(m2);
    mock_setup(m2);
    m2->transport = TURN_TCP;
    sh = turn_shared_new(&m->cfg, &m->random);
    mock_start_shared(m, sh);
    mock_start_shared(m2, sh);
    assert_int_equal(allocate_tcp(m, 0, NULL, 0, NULL), 0);
    mock_addr(&peer, "198.18.2.2:5000");
    assert_int_equal(mock_create_permission(m, &peer), 0);
    mock_addr(&from, "198.18.2.2:41000");
    mock_tcp_accept(m, mock_relay_handle(m, AF_INET), &from);
    id = last_id(m);
    /* Worker 2 authenticates it and hands it over, answering nothing itself. */
    assert_int_equal(send_bind(m2, DATA_HANDLE, id), 0);
    assert_int_equal(m2->redirects, 1);
    assert_ptr_equal(m2->last_redirect_target, m);
    assert_int_equal(m2->last_redirect_handle, DATA_HANDLE);
    /* Worker 1 handles it again as its own. */
    assert_int_equal(bind_code(m, DATA_HANDLE, id), 0);
    assert_int_equal(m->redirects, 0);
    /* An id of a slot no server holds: 400 where it lands. */
    assert_int_equal(bind_code(m2, DATA_HANDLE + 1, (id & ~0xFFu) | 0x77), 400);
    /* Unsigned ones are not handed anywhere: challenged where they land. */
    {
        uint8_t buf[MOCK_REQ_MAX],
            v[4] = {(uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
        struct stun_builder b;

        mock_req(m2, &b, buf, sizeof(buf), TURN_CONNECTION_BIND);
        stun_add_attr(&b, TURN_ATTR_CONNECTION_ID, v, sizeof(v));
        mock_from_client_on(m2, DATA_HANDLE + 2, &m2->client, buf, mock_unsigned(&b));
        assert_int_equal(mock_last_code(m2), 401);
        assert_int_equal(m2->redirects, 1);
    }
    mock_teardown(m2);
    free(m2);
    turn_server_free(m->s);
    m->s = NULL;
    turn_shared_free(sh);
    mock_start(m);
}

/* ---- the relay host as a peer ---- */

static void self_peers_are_tcp_allocations_only(void **state)
{
    struct mock *m = *state;
    struct xt_addr own, other_tcp, other_udp, free_port, from_host;
    uint32_t id;
    int l, h;

    mock_start(m);
    assert_int_equal(allocate_tcp(m, 0, NULL, 0, &own), 0);
    assert_int_equal(mock_allocate_from(m, "198.18.1.9:40000", &other_udp), 0);
    m->transport = TURN_TCP;
    {
        struct xt_addr saved = m->client;
        mock_addr(&m->client, "198.18.1.8:40000");
        m->nonce_len = 0;
        assert_int_equal(allocate_tcp(m, 0, NULL, 0, &other_tcp), 0);
        m->client = saved;
        m->nonce_len = 0;
    }
    /* The other TCP allocation's relayed address: yes. A UDP allocation's port, a port nothing of
     * the relay's holds: no, not even a permission. */
    free_port = other_tcp;
    for (free_port.port = 50000; free_port.port == own.port || free_port.port == other_udp.port ||
                                 free_port.port == other_tcp.port;
         free_port.port++)
        ;
    assert_int_equal(mock_create_permission(m, &other_udp), 403);
    assert_int_equal(mock_create_permission(m, &free_port), 403);
    assert_int_equal(mock_create_permission(m, &other_tcp), 0);
    assert_int_equal(connect_code(m, &other_udp), 403);
    assert_int_equal(connect_code(m, &free_port), 403);
    connected(m, &other_tcp, &id);
    /* From the relay host: only from another TCP allocation's relayed address (where its
     * connections come from), not from any other port of the host. */
    l = mock_relay_handle(m, AF_INET);
    from_host = other_tcp;
    from_host.port = 41000;
    h = mock_tcp_accept(m, l, &from_host);
    assert_false(m->socks[h].open);
    assert_int_equal(counters(m)->tcp_refused[TTR_SELF], 1);
    h = mock_tcp_accept(m, l, &other_udp);
    assert_false(m->socks[h].open);
    assert_int_equal(counters(m)->tcp_refused[TTR_SELF], 2);
    h = mock_tcp_accept(m, l, &other_tcp);
    assert_true(m->socks[h].open);
}

/* ---- relaying ---- */

static void relayed_bytes_count_and_take_the_rate(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    uint32_t id, wait;
    int h;

    m->cfg.max_bps = 1000;
    allocated(m, "198.18.2.2:5000", &peer);
    h = connected(m, &peer, &id);
    assert_int_equal(bind_code(m, DATA_HANDLE, id), 0);
    /* A second's worth passes, the next bytes must wait about as long as they are worth. */
    assert_int_equal(turn_tcp_relayed(m->s, &m->now, m->socks[h].owner, TURN_TO_PEER, 1000), 0);
    wait = turn_tcp_relayed(m->s, &m->now, m->socks[h].owner, TURN_TO_CLIENT, 500);
    assert_int_equal(wait, 500);
    mock_advance(m, 500);
    wait = turn_tcp_relayed(m->s, &m->now, m->socks[h].owner, TURN_TO_CLIENT, 500);
    assert_int_equal(wait, 500);
    assert_int_equal(counters(m)->tcp_relayed_bytes[TURN_TO_PEER], 1000);
    assert_int_equal(counters(m)->tcp_relayed_bytes[TURN_TO_CLIENT], 1000);
    /* Without a limit: never. */
    m->cfg.max_bps = 0;
    assert_int_equal(turn_tcp_relayed(m->s, &m->now, m->socks[h].owner, TURN_TO_PEER, 1 << 20), 0);
}

/* ---- the end of an allocation ---- */

/* Connecting, waiting and relaying connections: all closed, however the allocation ends. */
static void open_three(struct mock *m, struct xt_addr *peers)
{
    uint32_t id;

    mock_addr(&peers[0], "198.18.2.2:5000");
    mock_addr(&peers[1], "198.18.2.2:5001");
    mock_addr(&peers[2], "198.18.2.2:5002");
    assert_int_equal(mock_create_permission(m, &peers[0]), 0);
    assert_int_equal(send_connect(m, &peers[0]), 0);
    connected(m, &peers[1], &id);
    connected(m, &peers[2], &id);
    assert_int_equal(bind_code(m, DATA_HANDLE, id), 0);
    assert_int_equal(mock_open_sockets(m), 4);
    assert_int_equal(counters(m)->tcp_peer_conns, 3);
}

static void deletion_closes_everything(void **state)
{
    struct mock *m = *state;
    struct xt_addr peers[3];

    allocated(m, NULL, NULL);
    open_three(m, peers);
    assert_int_equal(mock_refresh(m, 0), 0);
    assert_int_equal(mock_open_sockets(m), 0);
    assert_int_equal(counters(m)->tcp_peer_conns, 0);

    assert_int_equal(allocate_tcp(m, 0, NULL, 0, NULL), 0);
    open_three(m, peers);
    turn_on_client_closed(m->s, MOCK_LISTEN, &m->client);
    assert_int_equal(mock_open_sockets(m), 0);

    assert_int_equal(allocate_tcp(m, 0, NULL, 0, NULL), 0);
    open_three(m, peers);
    mock_advance(m, 601000);
    assert_int_equal(mock_open_sockets(m), 0);
    assert_int_equal(counters(m)->tcp_peer_conns, 0);
    assert_int_equal(counters(m)->allocations, 0);
}

/* The I/O layer ending a connection: forgotten, nothing closed twice. */
static void closed_by_the_network(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    uint32_t id;
    int h;

    allocated(m, "198.18.2.2:5000", &peer);
    h = connected(m, &peer, &id);
    assert_int_equal(bind_code(m, DATA_HANDLE, id), 0);
    turn_on_tcp_closed(m->s, m->socks[h].owner);
    m->socks[h].open = false;
    assert_int_equal(counters(m)->tcp_peer_conns, 0);
    assert_int_equal(bind_code(m, DATA_HANDLE + 1, id), 400);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, mock_test_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(allocate_tcp_from_stream_clients),
        T(allocate_tcp_dual),
        T(allocate_tcp_refusals),
        T(allocate_tcp_without_io_is_442),
        T(tcp_allocation_has_no_channels),
        T(connect_needs_a_permission),
        T(connect_bad_requests),
        T(connect_on_udp_allocation_is_400),
        T(connect_without_allocation_is_437),
        T(connect_twice_is_446),
        T(connect_failure_is_447),
        T(connect_timeout_is_447),
        T(connect_cap),
        T(incoming_without_permission_is_closed),
        T(incoming_with_permission_is_offered),
        T(incoming_not_bound_in_time_is_closed),
        T(bind_errors),
        T(bind_with_the_control_connections_nonce),
        T(bind_on_another_worker_is_handed_over),
        T(self_peers_are_tcp_allocations_only),
        T(relayed_bytes_count_and_take_the_rate),
        T(deletion_closes_everything),
        T(closed_by_the_network),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
