/* The userspace data path: ChannelData, Send and Data indications, permissions and channel
 * lifetimes, cross-family relaying. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "turn_mock.h"

static const uint8_t payload[5] = {'h', 'e', 'l', 'l', 'o'};

static void channeldata_to_peer(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    uint8_t dg[64];
    int h = mock_bound(m, "198.18.2.2:3480", &peer);
    size_t n = mock_channeldata(dg, 0x4001, payload, 5, 3);

    /* Padding over UDP is tolerated and not forwarded. */
    assert_int_equal(mock_from_client(m, dg, n), 1);
    assert_int_equal(m->sent[m->nsent - 1].handle, h);
    assert_true(xt_addr_equal(&m->sent[m->nsent - 1].dst, &peer));
    assert_int_equal(m->sent[m->nsent - 1].len, 5);
    assert_memory_equal(m->sent[m->nsent - 1].data, payload, 5);
}

static void bad_channeldata_is_dropped(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    uint8_t dg[64];
    size_t n;
    mock_bound(m, "198.18.2.2:3480", &peer);
    n = mock_channeldata(dg, 0x4001, payload, 5, 0);
    /* Length field larger than the datagram. */
    assert_int_equal(mock_from_client(m, dg, n - 1), 0);
    assert_int_equal(mock_from_client(m, dg, 3), 0);
    /* Unbound channel. */
    n = mock_channeldata(dg, 0x4002, payload, 5, 0);
    assert_int_equal(mock_from_client(m, dg, n), 0);
    /* Unknown client. */
    n = mock_channeldata(dg, 0x4001, payload, 5, 0);
    mock_addr(&m->client, "198.18.1.9:1");
    assert_int_equal(mock_from_client(m, dg, n), 0);
    const struct turn_counters *c = turn_server_counters(m->s);
    assert_int_equal(c->dropped[TD_MALFORMED], 2);
    assert_int_equal(c->dropped[TD_NO_CHANNEL], 1);
    assert_int_equal(c->dropped[TD_NO_ALLOCATION], 1);
    assert_int_equal(turn_counters_dropped(c), 4);
}

static void peer_data_becomes_channeldata(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    int h = mock_bound(m, "198.18.2.2:3480", &peer);
    struct mock_dgram *d;

    assert_int_equal(mock_from_peer(m, h, &peer, payload, 5), 1);
    d = &m->sent[m->nsent - 1];
    assert_int_equal(d->handle, MOCK_LISTEN);
    assert_true(xt_addr_equal(&d->dst, &m->client));
    assert_int_equal(d->len, 9);
    assert_int_equal(d->data[0] << 8 | d->data[1], 0x4001);
    assert_int_equal(d->data[2] << 8 | d->data[3], 5);
    assert_memory_equal(d->data + 4, payload, 5);
}

static void peer_without_channel_gets_data_indication(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer, other, got;
    int h = mock_bound(m, "198.18.2.2:3480", &peer);
    struct stun_msg r;
    const struct stun_attr *data;

    /* Same IP (so permitted), other port: no channel. */
    mock_addr(&other, "198.18.2.2:9999");
    assert_int_equal(mock_from_peer(m, h, &other, payload, 5), 1);
    assert_int_equal(stun_parse(m->sent[m->nsent - 1].data, m->sent[m->nsent - 1].len, &r),
                     STUN_OK);
    assert_int_equal(r.cls, STUN_INDICATION);
    assert_int_equal(r.method, TURN_DATA);
    assert_int_equal(stun_attr_xor_addr(&r, stun_find(&r, TURN_ATTR_XOR_PEER_ADDRESS), &got), 0);
    assert_true(xt_addr_equal(&got, &other));
    data = stun_find(&r, TURN_ATTR_DATA);
    assert_non_null(data);
    assert_int_equal(data->len, 5);
    assert_memory_equal(data->val, payload, 5);
}

static void peer_without_permission_is_dropped(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer, stranger;
    int h = mock_bound(m, "198.18.2.2:3480", &peer);
    mock_addr(&stranger, "198.18.2.77:3480");
    assert_int_equal(mock_from_peer(m, h, &stranger, payload, 5), 0);
}

static void send_indication_needs_permission(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    int h;
    mock_addr(&peer, "198.18.2.2:3480");
    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    h = mock_relay_handle(m, AF_INET);
    mock_send_indication(m, payload, sizeof(payload), &peer);
    assert_int_equal(m->sent[m->nsent - 1].handle, MOCK_LISTEN); /* nothing new relayed */
    assert_int_equal(mock_create_permission(m, &peer), 0);
    mock_send_indication(m, payload, sizeof(payload), &peer);
    assert_int_equal(m->sent[m->nsent - 1].handle, h);
    assert_int_equal(m->sent[m->nsent - 1].len, 5);
    assert_memory_equal(m->sent[m->nsent - 1].data, payload, 5);
}

static void send_to_own_listen_port_is_dropped(void **state)
{
    struct mock *m = *state;
    struct xt_addr relay_peer, listen_peer;
    size_t before;
    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    assert_int_equal(mock_allocate_from(m, "198.18.1.3:40000", &relay_peer), 0);
    assert_int_equal(mock_create_permission(m, &relay_peer), 0);
    /* The permission covers the IP; the listen port must still be unreachable. */
    mock_addr(&listen_peer, "198.18.3.2:3478");
    before = m->nsent;
    mock_send_indication(m, payload, sizeof(payload), &listen_peer);
    assert_int_equal(m->nsent, before);
    mock_send_indication(m, payload, sizeof(payload), &relay_peer);
    assert_int_equal(m->nsent, before + 1);
}

static void permission_expires_after_300s(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    int h;
    mock_addr(&peer, "198.18.2.2:3480");
    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    assert_int_equal(mock_create_permission(m, &peer), 0);
    h = mock_relay_handle(m, AF_INET);
    mock_advance(m, 299 * 1000);
    assert_int_equal(mock_from_peer(m, h, &peer, payload, 5), 1);
    assert_int_equal(mock_refresh(m, 3600), 0);
    mock_advance(m, 1000);
    assert_int_equal(mock_from_peer(m, h, &peer, payload, 5), 0);
    assert_int_equal(turn_counters_permissions(turn_server_counters(m->s)), 0);
}

static void channel_expires_after_600s(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    uint8_t dg[64];
    size_t n = mock_channeldata(dg, 0x4001, payload, 5, 0);
    mock_bound(m, "198.18.2.2:3480", &peer);
    assert_int_equal(mock_refresh(m, 3600), 0);
    mock_advance(m, 290 * 1000);
    assert_int_equal(mock_create_permission(m, &peer), 0); /* keep the permission */
    mock_advance(m, 290 * 1000);
    assert_int_equal(mock_create_permission(m, &peer), 0);
    mock_advance(m, 19 * 1000);
    assert_int_equal(mock_from_client(m, dg, n), 1);
    mock_advance(m, 1000);
    assert_int_equal(mock_from_client(m, dg, n), 0);
    assert_int_equal(turn_counters_channels(turn_server_counters(m->s)), 0);
}

static void ipv4_client_relays_to_ipv6_peer(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    uint8_t dg[64];
    int h = mock_bound(m, "[2001:db8:2::2]:3480", &peer);
    size_t n = mock_channeldata(dg, 0x4001, payload, 5, 0);

    assert_int_equal(m->client.family, AF_INET);
    assert_int_equal(m->socks[h].addr.family, AF_INET6);
    assert_int_equal(mock_from_client(m, dg, n), 1);
    assert_int_equal(m->sent[m->nsent - 1].handle, h);
    assert_true(xt_addr_equal(&m->sent[m->nsent - 1].dst, &peer));
    assert_int_equal(mock_from_peer(m, h, &peer, payload, 5), 1);
    assert_true(xt_addr_equal(&m->sent[m->nsent - 1].dst, &m->client));
    assert_int_equal(turn_counters_cross_family(turn_server_counters(m->s)), 2);
    assert_int_equal(turn_server_counters(m->s)->relayed_pkts[TURN_TO_PEER][0][1], 1);
    assert_int_equal(turn_server_counters(m->s)->relayed_bytes[TURN_TO_CLIENT][0][1], 5);
    assert_int_equal(turn_server_counters(m->s)->family[1].relayed_addrs, 1);
    assert_int_equal(turn_server_counters(m->s)->family[1].channels, 1);
}

static void ipv6_client_relays_to_ipv4_peer(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    uint8_t dg[64];
    size_t n = mock_channeldata(dg, 0x4001, payload, 5, 0);
    int h;

    mock_addr(&m->client, "[2001:db8:1::2]:40000");
    mock_addr(&m->local, "[2001:db8:3::2]:3478");
    h = mock_bound(m, "198.18.2.2:3480", &peer);
    assert_int_equal(m->socks[h].addr.family, AF_INET);
    assert_int_equal(mock_from_client(m, dg, n), 1);
    assert_true(xt_addr_equal(&m->sent[m->nsent - 1].dst, &peer));
    assert_int_equal(mock_from_peer(m, h, &peer, payload, 5), 1);
    assert_true(xt_addr_equal(&m->sent[m->nsent - 1].dst, &m->client));
}

/* From an IPv6 peer, which can send the most (65 527 bytes), to a client of m's family: the
 * largest ChannelData and Data indication UDP can carry to it are sent, one byte more is not. */
static void largest_datagrams_to_the_client(struct mock *m, size_t udp_max)
{
    const size_t di_head = STUN_HEADER_LEN + 4 + 20 + 4; /* XOR-PEER-ADDRESS (IPv6), DATA */
    const size_t di_max = (udp_max - di_head) & ~(size_t)3;
    uint8_t *big = calloc(1, 65527);
    struct xt_addr peer, other;
    struct stun_msg r;
    int h = mock_bound(m, "[2001:db8:2::2]:3480", &peer);

    assert_non_null(big);
    assert_int_equal(mock_from_peer(m, h, &peer, big, udp_max - 4), 1);
    assert_int_equal(m->sent[m->nsent - 1].len, udp_max);
    assert_int_equal(mock_from_peer(m, h, &peer, big, udp_max - 3), 0);
    /* No channel for this port: a Data indication, padded to a multiple of 4. */
    mock_addr(&other, "[2001:db8:2::2]:9999");
    assert_int_equal(mock_from_peer(m, h, &other, big, di_max), 1);
    assert_int_equal(m->sent[m->nsent - 1].len, di_head + di_max);
    assert_int_equal(stun_parse(m->sent[m->nsent - 1].data, m->sent[m->nsent - 1].len, &r),
                     STUN_OK);
    assert_int_equal(stun_find(&r, TURN_ATTR_DATA)->len, di_max);
    assert_int_equal(mock_from_peer(m, h, &other, big, di_max + 1), 0);
    assert_int_equal(turn_server_counters(m->s)->dropped[TD_TOO_BIG], 2);
    free(big);
}

static void largest_datagrams_to_an_ipv4_client(void **state)
{
    largest_datagrams_to_the_client(*state, 65507);
}

static void largest_datagrams_to_an_ipv6_client(void **state)
{
    struct mock *m = *state;
    mock_addr(&m->client, "[2001:db8:1::2]:40000");
    mock_addr(&m->local, "[2001:db8:3::2]:3478");
    largest_datagrams_to_the_client(m, 65527);
}

/* An IPv6 client's ChannelData can carry more than UDP over IPv4 can take to the peer. */
static void largest_datagram_to_an_ipv4_peer(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    uint8_t *dg = calloc(1, 65527);
    int h;

    assert_non_null(dg);
    mock_addr(&m->client, "[2001:db8:1::2]:40000");
    mock_addr(&m->local, "[2001:db8:3::2]:3478");
    h = mock_bound(m, "198.18.2.2:3480", &peer);
    channeldata_header(dg, 0x4001, 65507);
    assert_int_equal(mock_from_client(m, dg, 4 + 65507), 1);
    assert_int_equal(m->sent[m->nsent - 1].handle, h);
    assert_int_equal(m->sent[m->nsent - 1].len, 65507);
    channeldata_header(dg, 0x4001, 65508);
    assert_int_equal(mock_from_client(m, dg, 4 + 65508), 0);
    assert_int_equal(turn_server_counters(m->s)->dropped[TD_TOO_BIG], 1);
    free(dg);
}

static void garbage_is_dropped_without_state(void **state)
{
    struct mock *m = *state;
    uint8_t junk[64];
    mock_start(m);
    for (size_t len = 0; len < sizeof(junk); len++) {
        for (size_t i = 0; i < len; i++)
            junk[i] = (uint8_t)(len * 31 + i * 7);
        mock_from_client(m, junk, len);
    }
    assert_int_equal(mock_open_sockets(m), 0);
    assert_int_equal(turn_server_counters(m->s)->allocations, 0);
}

static void channel_is_mirrored_before_the_response(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    size_t before;
    mock_addr(&peer, "[2001:db8:2::2]:3480");
    mock_start(m);
    assert_int_equal(mock_allocate(m, TURN_FAMILY_IPV6, NULL), 0);
    before = m->nsent;
    assert_int_equal(mock_channel_bind(m, 0x4001, &peer), 0);
    assert_int_equal(m->ups, 1);
    assert_int_equal(m->mirrored, 1);
    assert_int_equal(m->sent_at_last_up, before);
    assert_int_equal(m->last_up_relayed.family, AF_INET6);
    /* A refresh of the same binding does not announce it again. */
    assert_int_equal(mock_channel_bind(m, 0x4001, &peer), 0);
    assert_int_equal(m->ups, 1);
}

static void mirror_follows_permission_and_channel_lifetimes(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    mock_bound(m, "198.18.2.2:3480", &peer);
    assert_int_equal(mock_refresh(m, 3600), 0);
    assert_int_equal(m->mirrored, 1);
    /* The permission ends first (300 s): the fast path must stop carrying the channel. */
    mock_advance(m, 300 * 1000);
    assert_int_equal(m->mirrored, 0);
    assert_int_equal(m->downs, 1);
    /* A new permission makes the still-bound channel usable again. */
    assert_int_equal(mock_create_permission(m, &peer), 0);
    assert_int_equal(m->mirrored, 1);
    /* The channel ends at 600 s. */
    mock_advance(m, 300 * 1000);
    assert_int_equal(m->mirrored, 0);
    assert_int_equal(turn_counters_channels(turn_server_counters(m->s)), 0);
}

static void mirror_ends_with_the_allocation(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    mock_bound(m, "198.18.2.2:3480", &peer);
    assert_int_equal(m->mirrored, 1);
    assert_int_equal(mock_refresh(m, 0), 0);
    assert_int_equal(m->mirrored, 0);
}

static void full_fast_path_still_relays_in_userspace(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    uint8_t dg[64];
    size_t n = mock_channeldata(dg, 0x4001, payload, 5, 0);
    m->fail_up = true;
    mock_bound(m, "198.18.2.2:3480", &peer);
    assert_int_equal(m->ups, 1);
    assert_int_equal(m->mirrored, 0);
    assert_int_equal(mock_from_client(m, dg, n), 1);
}

static void max_bps_limits_each_allocation(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    uint8_t dg[1100], big[1000] = {0};
    size_t n = mock_channeldata(dg, 0x4001, big, sizeof(big), 0), relayed = 0;
    int h;

    m->cfg.max_bps = 5000;
    h = mock_bound(m, "198.18.2.2:3480", &peer);
    /* One second's worth (5000 bytes) passes, the rest of the burst is dropped... */
    for (int i = 0; i < 10; i++)
        relayed += mock_from_client(m, dg, n);
    assert_int_equal(relayed, 5);
    assert_int_equal(turn_server_counters(m->s)->dropped[TD_RATE_LIMITED], 5);
    /* ...and both directions draw from the same bucket. */
    assert_int_equal(mock_from_peer(m, h, &peer, big, sizeof(big)), 0);
    /* 200 ms later there is room for one more datagram of 1000 bytes. */
    mock_advance(m, 200);
    assert_int_equal(mock_from_peer(m, h, &peer, big, sizeof(big)), 1);
    assert_int_equal(mock_from_client(m, dg, n), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, mock_test_setup, mock_test_teardown)
    const struct CMUnitTest tests[] = {
        T(channeldata_to_peer),
        T(bad_channeldata_is_dropped),
        T(peer_data_becomes_channeldata),
        T(peer_without_channel_gets_data_indication),
        T(peer_without_permission_is_dropped),
        T(send_indication_needs_permission),
        T(send_to_own_listen_port_is_dropped),
        T(permission_expires_after_300s),
        T(channel_expires_after_600s),
        T(ipv4_client_relays_to_ipv6_peer),
        T(ipv6_client_relays_to_ipv4_peer),
        T(largest_datagrams_to_an_ipv4_client),
        T(largest_datagrams_to_an_ipv6_client),
        T(largest_datagram_to_an_ipv4_peer),
        T(garbage_is_dropped_without_state),
        T(channel_is_mirrored_before_the_response),
        T(mirror_follows_permission_and_channel_lifetimes),
        T(mirror_ends_with_the_allocation),
        T(full_fast_path_still_relays_in_userspace),
        T(max_bps_limits_each_allocation),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
