/* Permissions and channels per allocation (issue 10, finding 5): capped (--max-permissions,
 * --max-channels, 508 beyond, all or nothing), and found by hash, so that an allocation with
 * thousands of them relays each datagram to the right place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "turn_mock.h"

static const uint8_t payload[5] = {1, 2, 3, 4, 5};

static struct xt_addr peer_n(unsigned n, uint16_t port)
{
    char s[48];
    struct xt_addr a;

    snprintf(s, sizeof(s), "198.18.%u.%u:%u", 100 + n / 250, 1 + n % 250, port);
    mock_addr(&a, s);
    return a;
}

/* CreatePermission for peers[0..n); the response's code. */
static int permit(struct mock *m, const struct xt_addr *peers, size_t n)
{
    uint8_t buf[1024];
    struct stun_builder b;

    m->nsent = 0;
    mock_req(m, &b, buf, sizeof(buf), TURN_CREATE_PERMISSION);
    for (size_t i = 0; i < n; i++)
        stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &peers[i]);
    mock_from_client(m, buf, mock_sign(m, &b));
    return mock_last_code(m);
}

static uint64_t live_permissions(struct mock *m)
{
    return turn_counters_permissions(turn_server_counters(m->s));
}

static void permissions_capped_all_or_nothing(void **state)
{
    struct mock *m = *state;
    struct xt_addr p[4] = {peer_n(0, 1), peer_n(1, 1), peer_n(2, 1), peer_n(3, 1)};
    struct xt_addr same_ip[2] = {peer_n(0, 2), peer_n(0, 3)};

    m->cfg.max_permissions = 3;
    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    assert_int_equal(permit(m, p, 2), 0);
    assert_int_equal(permit(m, p + 1, 3), 508); /* 2 + 2 new: nothing installed */
    assert_int_equal(live_permissions(m), 2);
    /* refreshing and other ports of a permitted IP cost nothing */
    assert_int_equal(permit(m, same_ip, 2), 0);
    assert_int_equal(permit(m, p, 3), 0); /* 1 new */
    assert_int_equal(live_permissions(m), 3);
    assert_int_equal(permit(m, p + 3, 1), 508);
    assert_int_equal(mock_channel_bind(m, 0x4000, &p[3]), 508); /* its permission would be 4th */
    assert_int_equal(turn_counters_channels(turn_server_counters(m->s)), 0);
    /* expired ones make room */
    mock_advance(m, 301 * 1000);
    assert_int_equal(live_permissions(m), 0);
    m->nonce_len = 0;
    assert_int_equal(permit(m, p + 1, 3), 0);
}

static void channels_capped(void **state)
{
    struct mock *m = *state;
    struct xt_addr a = peer_n(0, 1), b = peer_n(0, 2), c = peer_n(1, 1);

    m->cfg.max_channels = 2;
    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    assert_int_equal(mock_channel_bind(m, 0x4000, &a), 0);
    assert_int_equal(mock_channel_bind(m, 0x4001, &b), 0);
    assert_int_equal(mock_channel_bind(m, 0x4002, &c), 508);
    assert_int_equal(mock_channel_bind(m, 0x4001, &b), 0); /* a refresh */
    assert_int_equal(turn_counters_channels(turn_server_counters(m->s)), 2);
    assert_int_equal(m->mirrored, 2); /* the fast path got no more than the cap either */
}

/* 1000 permissions and 1000 channels (several per IP) in one allocation, next to a second
 * allocation with the same peers: every datagram goes to its own binding. */
static void thousands_in_one_allocation(void **state)
{
    struct mock *m = *state;
    const unsigned n = 1000;
    struct xt_addr batch[16], other_client, got;
    int h;

    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    h = mock_relay_handle(m, AF_INET);
    for (unsigned i = 0; i < n; i += 16) {
        for (unsigned j = 0; j < 16; j++)
            batch[j] = peer_n(i + j, 7);
        assert_int_equal(permit(m, batch, i + 16 <= n ? 16 : n - i), 0);
    }
    assert_int_equal(permit(m, batch, 1), 0); /* a refresh at the cap */
    batch[0] = peer_n(n, 7);
    assert_int_equal(permit(m, batch, 1), 508); /* the default cap is 1000 */
    for (unsigned i = 0; i < n; i++) {
        struct xt_addr p = peer_n(i / 2, (uint16_t)(100 + i % 2)); /* two ports per IP */
        m->nsent = 0;
        assert_int_equal(mock_channel_bind(m, (uint16_t)(0x4000 + i), &p), 0);
    }
    mock_addr(&other_client, "198.18.1.3:40000");
    assert_int_equal(mock_allocate_from(m, "198.18.1.3:40000", NULL), 0);
    for (unsigned i = 0; i < n; i += 37) {
        uint8_t cd[16] = {(uint8_t)((0x4000 + i) >> 8), (uint8_t)(0x4000 + i), 0, 5, 1, 2, 3, 4, 5};
        struct xt_addr p = peer_n(i / 2, (uint16_t)(100 + i % 2));

        m->nsent = 0;
        assert_int_equal(mock_from_client(m, cd, 9), 1);
        assert_true(xt_addr_equal(&m->sent[0].dst, &p));
        /* and back: the channel of that peer, not its neighbour's on the same IP */
        assert_int_equal(mock_from_peer(m, h, &p, payload, sizeof(payload)), 1);
        assert_int_equal(m->sent[1].data[0] << 8 | m->sent[1].data[1], 0x4000 + i);
        assert_true(xt_addr_equal(&m->sent[1].dst, &m->client));
        /* the other allocation has no permission for these peers */
        assert_int_equal(mock_from_client_at(m, &other_client, cd, 9), 0);
    }
    got = peer_n(n + 1, 7);
    assert_int_equal(mock_from_peer(m, h, &got, payload, sizeof(payload)), 0);
    assert_int_equal(turn_counters_permissions(turn_server_counters(m->s)), n);
    assert_int_equal(turn_counters_channels(turn_server_counters(m->s)), n);
    assert_int_equal(m->mirrored, (int)n);
    assert_int_equal(mock_refresh(m, 0), 0); /* all of it freed (the sanitizer build checks) */
    assert_int_equal(turn_counters_permissions(turn_server_counters(m->s)), 0);
    assert_int_equal(m->mirrored, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, mock_test_setup, mock_test_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(permissions_capped_all_or_nothing),
        T(channels_capped),
        T(thousands_in_one_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
