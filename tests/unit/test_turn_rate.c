/* --max-bps in the TURN core (src/turn/turn_data.c with src/common/gcra.h): no refill lost at
 * low rates (issue 10, finding 9), and one word per allocation, shared with the fast path when
 * it hands one out (finding 12). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/gcra.h"
#include "turn_mock.h"

static const uint8_t small[10];

/* 900 bytes/s and a 10-byte datagram every millisecond for 3 s: the first second's worth at
 * once (90), then one every 11.1 ms (270). Before, every packet moved the refill clock although
 * 1 ms refilled less than a byte, and after the burst nothing came through (101 of 3000). */
static void low_rate_loses_no_refill(void **state)
{
    struct mock *m = *state;
    struct xt_addr peer;
    uint8_t dg[16];
    size_t n = mock_channeldata(dg, 0x4001, small, sizeof(small), 0), relayed = 0;

    m->cfg.max_bps = 900;
    mock_bound(m, "198.18.2.2:3480", &peer);
    for (int ms = 0; ms < 3000; ms++) {
        m->nsent = 0;
        relayed += mock_from_client(m, dg, n);
        mock_advance(m, 1);
    }
    print_message("relayed %zu of 3000 datagrams of 10 bytes at 900 bytes/s for 3 s\n", relayed);
    assert_true(relayed >= 355 && relayed <= 362);
}

/* Rates from 10 to 10^6 bytes/s, ten 10-byte datagrams offered every millisecond for 2 s:
 * delivered is the first second's burst plus 2 s at the rate (or all that was offered), within a
 * datagram and rounding. (Below 10 bytes/s a 10-byte datagram never fits: one second is the
 * most a bucket holds.) */
static void rates_hold_over_time(void **state)
{
    static const uint64_t rates[] = {10, 100, 999, 1001, 64000, 1000000};
    struct mock *m = *state;
    uint8_t dg[16];
    size_t n = mock_channeldata(dg, 0x4001, small, sizeof(small), 0);
    struct xt_addr peer;

    m->cfg.max_bps = rates[0];
    mock_bound(m, "198.18.2.2:3480", &peer);
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
        uint64_t want = rates[r] * 3, got = 0, sent = 0;

        ((struct turn_config *)&m->cfg)->max_bps = rates[r];
        mock_advance(m, 2000); /* full again */
        for (int ms = 0; ms < 2000 && sent < 1000000; ms++) {
            for (int k = 0; k < 10; k++, sent++) {
                m->nsent = 0;
                got += 10 * mock_from_client(m, dg, n);
            }
            mock_advance(m, 1);
        }
        print_message("%llu bytes/s: %llu bytes in 2 s (the limit: %llu)\n",
                      (unsigned long long)rates[r], (unsigned long long)got,
                      (unsigned long long)want);
        if (want > sent * 10)
            want = sent * 10;
        assert_true(got <= want + 10);
        assert_true(got + 10 + want / 100 >= want);
    }
}

/* With a fast path that hands out a word, the allocation's limit lives there: the fast path is
 * told its id with every channel (to put into the XDP maps), and what either takes counts for
 * both. Without one (all taken), the allocation keeps its own word. */
static void word_shared_with_the_fast_path(void **state)
{
    struct mock *m = *state;
    uint64_t word = 0;
    struct xt_addr peer;
    uint8_t dg[16];
    size_t n = mock_channeldata(dg, 0x4001, small, sizeof(small), 0);
    uint64_t now_ns;

    m->cfg.max_bps = 100;
    m->bucket_word = &word;
    m->bucket_id = 7;
    mock_bound(m, "198.18.2.2:3480", &peer);
    assert_int_equal(m->last_up_bucket, 7);
    now_ns = m->now.ms * 1000000ull;
    /* the kernel takes 95 bytes from the word: userspace has 5 left */
    assert_true(gcra_take(&word, now_ns, gcra_cost(95, 100)));
    assert_int_equal(mock_from_client(m, dg, n), 0);
    assert_int_equal(turn_server_counters(m->s)->dropped[TD_RATE_LIMITED], 1);
    /* userspace's bytes count for the kernel too */
    word = 0;
    for (int i = 0; i < 10; i++)
        assert_int_equal(mock_from_client(m, dg, n), 1);
    assert_false(gcra_take(&word, now_ns, gcra_cost(1, 100)));
    assert_int_equal(mock_refresh(m, 0), 0);
    assert_int_equal(m->bucket_puts, 1);

    /* none to be had: its own word, and the fast path hears of no bucket */
    m->bucket_word = NULL;
    m->nonce_len = 0;
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    assert_int_equal(mock_channel_bind(m, 0x4001, &peer), 0);
    assert_int_equal(m->last_up_bucket, 0);
    assert_int_equal(mock_from_client(m, dg, n), 1);
    assert_int_equal(mock_refresh(m, 0), 0);
    assert_int_equal(m->bucket_puts, 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, mock_test_setup, mock_test_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(low_rate_loses_no_refill),
        T(rates_hold_over_time),
        T(word_shared_with_the_fast_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
