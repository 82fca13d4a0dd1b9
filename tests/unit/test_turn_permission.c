/* CreatePermission and ChannelBind: validation, peer policy, family checks, rebinding rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "turn_mock.h"

static void start_allocated(struct mock *m, uint8_t family)
{
    mock_start(m);
    assert_int_equal(mock_allocate(m, family, NULL), 0);
}

static void permission_without_allocation_is_437(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    mock_start(m);
    mock_addr(&peer, "198.18.2.2:3480");
    assert_int_equal(mock_create_permission(m, &peer), 437);
}

static void permission_needs_a_peer(void **state)
{
    struct mock *m = *state;
    uint8_t buf[256];
    struct stun_builder b;
    start_allocated(m, 0);
    mock_req(m, &b, buf, sizeof(buf), TURN_CREATE_PERMISSION);
    mock_from_client(m, buf, mock_sign(m, &b));
    assert_int_equal(mock_last_code(m), 400);
}

static void several_peers_in_one_request(void **state)
{
    struct mock *m = *state;
    uint8_t buf[512];
    struct stun_builder b;
    struct xt_addr p1, p2;

    start_allocated(m, 0);
    mock_addr(&p1, "198.18.2.2:1");
    mock_addr(&p2, "198.18.2.3:1");
    mock_req(m, &b, buf, sizeof(buf), TURN_CREATE_PERMISSION);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &p1);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &p2);
    mock_from_client(m, buf, mock_sign(m, &b));
    assert_int_equal(mock_last_code(m), 0);
    assert_int_equal(turn_counters_permissions(turn_server_counters(m->s)), 2);
}

static void one_denied_peer_fails_the_whole_request(void **state)
{
    struct mock *m = *state;
    uint8_t buf[512];
    struct stun_builder b;
    struct xt_addr ok, bad;

    start_allocated(m, 0);
    mock_addr(&ok, "198.18.2.2:1");
    mock_addr(&bad, "10.1.2.3:1");
    mock_req(m, &b, buf, sizeof(buf), TURN_CREATE_PERMISSION);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &ok);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &bad);
    mock_from_client(m, buf, mock_sign(m, &b));
    assert_int_equal(mock_last_code(m), 403);
    assert_int_equal(turn_counters_permissions(turn_server_counters(m->s)), 0);
}

static void denied_peers_are_403(void **state)
{
    struct mock *m = *state;
    const char *denied[] = {"127.0.0.1:1",       "10.0.0.1:1",     "192.168.1.1:1", "172.16.0.1:1",
                            "169.254.1.1:1",     "100.64.0.1:1",   "224.0.0.1:1",   "0.0.0.0:1",
                            "255.255.255.255:1", "198.18.3.2:3478"};
    struct xt_addr peer;
    start_allocated(m, 0);
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
        mock_addr(&peer, denied[i]);
        assert_int_equal(mock_create_permission(m, &peer), 403);
    }
    /* The relay's own address is a peer only at another allocation's relayed address. */
    mock_addr(&peer, "198.18.3.2:50050");
    assert_int_equal(mock_create_permission(m, &peer), 403);
    assert_int_equal(mock_allocate_from(m, "198.18.1.3:40000", &peer), 0);
    assert_int_equal(mock_create_permission(m, &peer), 0);
}

static void mapped_ipv6_forms_of_denied_peers_are_403(void **state)
{
    struct mock *m = *state;
    const char *denied[] = {"[::ffff:127.0.0.1]:1",
                            "[::ffff:10.0.0.1]:1",
                            "[::1]:1",
                            "[::]:1",
                            "[fe80::1]:1",
                            "[fc00::1]:1",
                            "[ff02::1]:1",
                            "[::127.0.0.1]:1",
                            "[2002:7f00:1::1]:1",
                            "[2002:c0a8:101::1]:1",
                            "[64:ff9b::7f00:1]:1",
                            "[64:ff9b::a00:1]:1",
                            "[::ffff:0:7f00:1]:1",
                            "[64:ff9b:1::1]:1",
                            "[::ffff:0.0.0.0]:1",
                            "[64:ff9b::c612:302]:3478"};
    struct xt_addr peer;
    start_allocated(m, TURN_FAMILY_IPV6);
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
        mock_addr(&peer, denied[i]);
        assert_int_equal(mock_create_permission(m, &peer), 403);
    }
    mock_addr(&peer, "[2001:db8:2::2]:1");
    assert_int_equal(mock_create_permission(m, &peer), 0);
}

static void allow_peer_overrides_default_deny(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    m->cfg.policy.allow = calloc(1, sizeof(struct cidr));
    assert_int_equal(cidr_parse("10.0.0.0/8", m->cfg.policy.allow), 0);
    m->cfg.policy.nallow = 1;
    start_allocated(m, 0);
    mock_addr(&peer, "10.9.9.9:1");
    assert_int_equal(mock_create_permission(m, &peer), 0);
}

static void family_mismatch_is_443(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    start_allocated(m, 0);
    mock_addr(&peer, "[2001:db8:2::2]:1");
    assert_int_equal(mock_create_permission(m, &peer), 443);
    assert_int_equal(mock_channel_bind(m, 0x4000, &peer), 443);
}

static void channel_number_ranges(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    start_allocated(m, 0);
    mock_addr(&peer, "198.18.2.2:3480");
    assert_int_equal(mock_channel_bind(m, 0x3FFF, &peer), 400);
    assert_int_equal(mock_channel_bind(m, 0x8000, &peer), 400);
    /* RFC 5766's wider range, used by deployed clients, is accepted by default. */
    assert_int_equal(mock_channel_bind(m, 0x7FFF, &peer), 0);
}

static void strict_channel_range(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    m->cfg.strict_channel_range = true;
    start_allocated(m, 0);
    mock_addr(&peer, "198.18.2.2:3480");
    assert_int_equal(mock_channel_bind(m, 0x5000, &peer), 400);
    assert_int_equal(mock_channel_bind(m, 0x4FFF, &peer), 0);
}

static void rebinding_rules(void **state)
{
    struct mock *m = *state;
    struct xt_addr p1, p2;
    start_allocated(m, 0);
    mock_addr(&p1, "198.18.2.2:3480");
    mock_addr(&p2, "198.18.2.2:3481");
    assert_int_equal(mock_channel_bind(m, 0x4000, &p1), 0);
    /* Same binding again: a refresh. */
    assert_int_equal(mock_channel_bind(m, 0x4000, &p1), 0);
    /* The channel is taken by another peer, and the peer has another channel. */
    assert_int_equal(mock_channel_bind(m, 0x4000, &p2), 400);
    assert_int_equal(mock_channel_bind(m, 0x4001, &p1), 400);
    assert_int_equal(mock_channel_bind(m, 0x4001, &p2), 0);
    assert_int_equal(turn_counters_channels(turn_server_counters(m->s)), 2);
    /* Both bindings installed a permission for the peer's IP (one, shared). */
    assert_int_equal(turn_counters_permissions(turn_server_counters(m->s)), 1);
}

static void channel_bind_to_denied_peer_is_403(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    start_allocated(m, 0);
    mock_addr(&peer, "192.168.0.1:5000");
    assert_int_equal(mock_channel_bind(m, 0x4000, &peer), 403);
    assert_int_equal(turn_counters_channels(turn_server_counters(m->s)), 0);
}

static void channel_bind_missing_attributes_is_400(void **state)
{
    struct mock *m = *state;
    uint8_t buf[256];
    struct stun_builder b;
    uint8_t cn[4] = {0x40, 0x00};
    start_allocated(m, 0);
    mock_req(m, &b, buf, sizeof(buf), TURN_CHANNEL_BIND);
    stun_add_attr(&b, TURN_ATTR_CHANNEL_NUMBER, cn, 4);
    mock_from_client(m, buf, mock_sign(m, &b));
    assert_int_equal(mock_last_code(m), 400);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, mock_test_setup, mock_test_teardown)
    const struct CMUnitTest tests[] = {
        T(permission_without_allocation_is_437),
        T(permission_needs_a_peer),
        T(several_peers_in_one_request),
        T(one_denied_peer_fails_the_whole_request),
        T(denied_peers_are_403),
        T(mapped_ipv6_forms_of_denied_peers_are_403),
        T(allow_peer_overrides_default_deny),
        T(family_mismatch_is_443),
        T(channel_number_ranges),
        T(strict_channel_range),
        T(rebinding_rules),
        T(channel_bind_to_denied_peer_is_403),
        T(channel_bind_missing_attributes_is_400),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
