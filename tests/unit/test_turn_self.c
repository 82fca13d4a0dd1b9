/* The relay host as a peer (src/turn/turn_self.c): every address of the host is "self", and on
 * self addresses a client reaches only other allocations' relayed addresses that exist now, in
 * both directions (issue 10, findings 1 and 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "turn/turn_shared.h"
#include "turn_mock.h"

static const uint8_t payload[5] = {1, 2, 3, 4, 5};

struct fixture {
    struct mock m;
    struct turn_shared *sh;
};

/* A server whose shared state the test holds, with host addresses: the relay's 198.18.3.2 and
 * 2001:db8:3::2, a second IPv4 address 198.18.3.77 on the same interface, loopback. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct xt_addr host[4];

    assert_non_null(f);
    mock_setup(&f->m);
    f->sh = turn_shared_new(&f->m.cfg, &f->m.random);
    assert_non_null(f->sh);
    mock_ip(&host[0], "198.18.3.2");
    mock_ip(&host[1], "2001:db8:3::2");
    mock_ip(&host[2], "198.18.3.77");
    mock_ip(&host[3], "127.0.0.1");
    assert_int_equal(turn_shared_set_host_addrs(f->sh, host, 4), 0);
    mock_start_shared(&f->m, f->sh);
    assert_int_equal(mock_allocate(&f->m, 0, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mock_teardown(&f->m);
    turn_shared_free(f->sh);
    free(f);
    return 0;
}

/* Finding 1: a second address of the host, on any port, is not a peer (it was: CreatePermission
 * succeeded and a Send indication reached a service bound to 0.0.0.0). */
static void other_host_addresses_are_403(void **state)
{
    struct fixture *f = *state;
    struct xt_addr peer;
    const char *peers[] = {"198.18.3.77:9999", "198.18.3.77:50000", "127.0.0.1:50000"};

    for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
        mock_addr(&peer, peers[i]);
        assert_int_equal(mock_create_permission(&f->m, &peer), 403);
        assert_int_equal(mock_channel_bind(&f->m, 0x4001, &peer), 403);
    }
    assert_int_equal(turn_counters_permissions(turn_server_counters(f->m.s)), 0);
}

/* Finding 2: a relay-range port on the relay's own address is reachable only while it is another
 * allocation's relayed address (it was reachable by range: any service bound there). */
static void only_live_relayed_addresses_of_others(void **state)
{
    struct fixture *f = *state;
    struct mock *m = &f->m;
    struct xt_addr other, own, free_port;
    int h = mock_relay_handle(m, AF_INET);

    own = m->socks[h].addr;
    assert_int_equal(mock_allocate_from(m, "198.18.1.3:40000", &other), 0);
    /* a relay-range port that is nobody's relayed address */
    free_port = own;
    for (free_port.port = 50000; free_port.port == own.port || free_port.port == other.port;)
        free_port.port++;
    assert_int_equal(mock_create_permission(m, &free_port), 403);
    assert_int_equal(mock_channel_bind(m, 0x4001, &free_port), 403);
    assert_int_equal(mock_create_permission(m, &own), 403);
    assert_int_equal(mock_channel_bind(m, 0x4001, &own), 403);
    assert_int_equal(mock_create_permission(m, &other), 0);
    assert_int_equal(mock_channel_bind(m, 0x4001, &other), 0);
    /* The permission is for the IP; datagrams still go only to the live relayed address. */
    size_t before = m->nsent;
    mock_send_indication(m, payload, sizeof(payload), &free_port);
    mock_send_indication(m, payload, sizeof(payload), &own);
    assert_int_equal(m->nsent, before);
    assert_int_equal(turn_server_counters(m->s)->dropped[TD_SELF_PORT], 2);
    mock_send_indication(m, payload, sizeof(payload), &other);
    assert_int_equal(m->nsent, before + 1);
    assert_true(xt_addr_equal(&m->sent[m->nsent - 1].dst, &other));
}

/* A relayed address that ends is no longer reachable, though permission and channel live on. */
static void relayed_address_gone_is_dropped(void **state)
{
    struct fixture *f = *state;
    struct mock *m = &f->m;
    struct xt_addr other, saved = m->client;
    uint8_t cd[16] = {0x40, 0x01, 0, 5, 1, 2, 3, 4, 5};

    assert_int_equal(mock_allocate_from(m, "198.18.1.3:40000", &other), 0);
    assert_int_equal(mock_channel_bind(m, 0x4001, &other), 0);
    assert_int_equal(mock_from_client(m, cd, 9), 1);
    /* the other client deletes its allocation: its port is free for anything on the host */
    mock_addr(&m->client, "198.18.1.3:40000");
    m->nonce_len = 0;
    assert_int_equal(mock_refresh(m, 0), 0);
    m->client = saved;
    m->nonce_len = 0;
    assert_int_equal(mock_from_client(m, cd, 9), 0);
    assert_int_equal(turn_server_counters(m->s)->dropped[TD_SELF_PORT], 1);
}

/* The same rule inbound: with a permission for the relay's address (relay to self), a datagram
 * from another socket of the host (a local service, the listen port) does not reach the client. */
static void inbound_only_from_live_relayed_addresses(void **state)
{
    struct fixture *f = *state;
    struct mock *m = &f->m;
    struct xt_addr other, service;
    int h = mock_relay_handle(m, AF_INET);

    assert_int_equal(mock_allocate_from(m, "198.18.1.3:40000", &other), 0);
    assert_int_equal(mock_create_permission(m, &other), 0);
    mock_addr(&service, "198.18.3.2:3478");
    assert_int_equal(mock_from_peer(m, h, &service, payload, sizeof(payload)), 0);
    service.port = 22;
    assert_int_equal(mock_from_peer(m, h, &service, payload, sizeof(payload)), 0);
    assert_int_equal(turn_server_counters(m->s)->dropped[TD_SELF_PORT], 2);
    assert_int_equal(mock_from_peer(m, h, &other, payload, sizeof(payload)), 1);
}

/* An address that comes to the host later: permissions to it are revoked at the next tick, and
 * their channels leave the fast path; one that goes is a peer again. */
static void host_address_added_later_revokes(void **state)
{
    struct fixture *f = *state;
    struct mock *m = &f->m;
    struct xt_addr peer, host[3];
    uint8_t cd[16] = {0x40, 0x01, 0, 5, 1, 2, 3, 4, 5};

    mock_addr(&peer, "198.18.3.88:9999");
    assert_int_equal(mock_channel_bind(m, 0x4001, &peer), 0);
    assert_int_equal(m->mirrored, 1);
    assert_int_equal(mock_from_client(m, cd, 9), 1);
    mock_ip(&host[0], "198.18.3.2");
    mock_ip(&host[1], "2001:db8:3::2");
    mock_ip(&host[2], "198.18.3.88");
    assert_int_equal(turn_shared_set_host_addrs(f->sh, host, 3), 0);
    mock_advance(m, 1000);
    assert_int_equal(m->mirrored, 0);
    assert_int_equal(turn_counters_permissions(turn_server_counters(m->s)), 0);
    assert_int_equal(mock_from_client(m, cd, 9), 0);
    assert_int_equal(mock_create_permission(m, &peer), 403);
    /* gone from the host again: a peer like any other */
    assert_int_equal(turn_shared_set_host_addrs(f->sh, host, 2), 0);
    mock_advance(m, 1000);
    assert_int_equal(mock_create_permission(m, &peer), 0);
    assert_int_equal(mock_from_client(m, cd, 9), 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(other_host_addresses_are_403),     T(only_live_relayed_addresses_of_others),
        T(relayed_address_gone_is_dropped),  T(inbound_only_from_live_relayed_addresses),
        T(host_address_added_later_revokes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
