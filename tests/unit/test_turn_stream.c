/* The core with stream clients (TCP, TLS): ChannelData padded to 4 on the stream, messages up
 * to the stream's limit, counters of their own transport, allocations that end with their
 * connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "turn_mock.h"

static const uint8_t payload[5] = {'h', 'e', 'l', 'l', 'o'};

static int stream_setup(void **state)
{
    int rc = mock_test_setup(state);
    ((struct mock *)*state)->transport = TURN_TCP;
    return rc;
}

static void channeldata_to_a_stream_client_is_padded(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    int h = mock_bound(m, "198.18.2.2:3480", &peer);
    struct mock_dgram *d;

    assert_int_equal(mock_from_peer(m, h, &peer, payload, 5), 1);
    d = &m->sent[m->nsent - 1];
    assert_int_equal(d->handle, MOCK_LISTEN);
    /* 4 + 5 bytes, then 3 bytes of padding (RFC 8656 §12.5) that the length does not count */
    assert_int_equal(d->len, 12);
    assert_int_equal(d->data[2] << 8 | d->data[3], 5);
    assert_memory_equal(d->data + 4, payload, 5);
    assert_int_equal(d->data[9] | d->data[10] | d->data[11], 0);
    assert_int_equal(turn_server_counters(m->s)[TURN_TCP].relayed_pkts[TURN_TO_CLIENT][0][0], 1);
    assert_int_equal(turn_server_counters(m->s)[TURN_UDP].relayed_pkts[TURN_TO_CLIENT][0][0], 0);
}

static void aligned_channeldata_gets_no_padding(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    int h = mock_bound(m, "198.18.2.2:3480", &peer);
    uint8_t four[4] = {1, 2, 3, 4};

    assert_int_equal(mock_from_peer(m, h, &peer, four, 4), 1);
    assert_int_equal(m->sent[m->nsent - 1].len, 8);
}

static void stream_client_channels_are_not_offered_to_the_fast_path(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;

    /* The core announces every usable channel; the fast path (app/fastpath.c) refuses those
     * whose client is not UDP, which it learns from the transport. */
    mock_bound(m, "198.18.2.2:3480", &peer);
    assert_true(m->ups >= 1);
    assert_int_equal(m->last_up_transport, TURN_TCP);
}

static void allocation_ends_with_its_connection(void **state)
{
    struct mock *m = *state;
    struct xt_addr relayed;

    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, &relayed), 0);
    assert_int_equal(turn_server_counters(m->s)[TURN_TCP].allocations, 1);
    assert_int_equal(turn_server_counters(m->s)[TURN_UDP].allocations, 0);
    assert_true(turn_client_allocated(m->s, MOCK_LISTEN, &m->client));
    assert_int_equal(mock_open_sockets(m), 1);
    turn_on_client_closed(m->s, MOCK_LISTEN, &m->client);
    assert_false(turn_client_allocated(m->s, MOCK_LISTEN, &m->client));
    assert_int_equal(mock_open_sockets(m), 0);
    assert_int_equal(turn_server_counters(m->s)[TURN_TCP].allocations, 0);
    /* A connection without allocation closing changes nothing. */
    turn_on_client_closed(m->s, MOCK_LISTEN, &m->client);
}

static void largest_peer_datagram_fits_a_stream(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    int h = mock_bound(m, "198.18.2.2:3480", &peer);
    static uint8_t big[65507];

    /* Over UDP to an IPv4 client this would not fit with its header; on a stream it does. */
    assert_int_equal(mock_from_peer(m, h, &peer, big, sizeof(big)), 1);
    assert_int_equal(m->sent[m->nsent - 1].len, 4 + sizeof(big) + 1);
    assert_int_equal(turn_server_counters(m->s)[TURN_TCP].dropped[TD_TOO_BIG], 0);
}

static void requests_are_counted_by_transport(void **state)
{
    struct mock *m = *state;
    struct xt_addr relayed;

    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, &relayed), 0);
    assert_true(turn_server_counters(m->s)[TURN_TCP].responses[TM_ALLOCATE][turn_code_index(0)] ==
                1);
    assert_int_equal(
        turn_server_counters(m->s)[TURN_UDP].responses[TM_ALLOCATE][turn_code_index(0)], 0);
    assert_string_equal(turn_transport_name(TURN_TCP), "tcp");
    assert_string_equal(turn_transport_name(TURN_DTLS), "dtls");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, stream_setup, mock_test_teardown)
    const struct CMUnitTest tests[] = {
        T(channeldata_to_a_stream_client_is_padded),
        T(aligned_channeldata_gets_no_padding),
        T(stream_client_channels_are_not_offered_to_the_fast_path),
        T(allocation_ends_with_its_connection),
        T(largest_peer_datagram_fits_a_stream),
        T(requests_are_counted_by_transport),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
