/* The TURN core's randomness is passed in (struct turn_random): the same source gives the same
 * run, and a source that fails stops what needs it (the state's keys, reservation tokens). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "turn/turn_shared.h"
#include "turn_mock.h"

/* Creation draws the nonce key and the hash seeds: without randomness, no server. */
static void no_randomness_no_state(void **state)
{
    struct mock *m = *state;
    struct turn_io io = {.random = m->random};
    struct turn_shared *sh = turn_shared_new(&m->cfg, &m->random);

    assert_non_null(sh);
    m->random_fails = true;
    assert_null(turn_shared_new(&m->cfg, &m->random));
    assert_null(turn_server_new(&m->cfg, &io, &m->now, NULL));
    assert_null(turn_server_new(&m->cfg, &io, &m->now, sh));
    turn_shared_free(sh);
}

/* A reservation token nobody could guess needs randomness: 500, and nothing is left held. */
static void reservation_without_randomness_is_500(void **state)
{
    struct mock *m = *state;

    m->cfg.relay_port_hi = m->cfg.relay_port_lo + 1;
    mock_start(m);
    m->random_fails = true;
    assert_int_equal(mock_allocate_reserving(m), 500);
    assert_int_equal(mock_open_sockets(m), 0);
    /* both ports free again: the pair can be allocated and reserved */
    m->random_fails = false;
    assert_int_equal(mock_allocate_reserving(m), 0);
}

/* A port is only chosen at random to spread them: without randomness the search starts at the
 * range's start, and allocations still succeed. */
static void ports_without_randomness(void **state)
{
    struct mock *m = *state;
    struct xt_addr relayed;

    mock_start(m);
    m->random_fails = true;
    assert_int_equal(mock_allocate(m, 0, &relayed), 0);
    assert_int_equal(relayed.port, m->cfg.relay_port_lo);
    assert_int_equal(mock_allocate_from(m, "198.18.1.2:40001", &relayed), 0);
    assert_int_equal(relayed.port, m->cfg.relay_port_lo + 1);
}

/* What the fuzzer relies on to replay an input: the same source, the same datagrams (nonces
 * from the nonce key, relayed ports, Data indication ids from the seed). */
static void same_randomness_same_run(void **state)
{
    struct mock *m[2] = {*state, calloc(1, sizeof(struct mock))};
    struct xt_addr peer, relayed[2];
    const uint8_t data[] = "hello";

    assert_non_null(m[1]);
    mock_setup(m[1]);
    mock_addr(&peer, "198.18.2.2:5000");
    for (int i = 0; i < 2; i++) {
        mock_start(m[i]);
        assert_int_equal(mock_allocate(m[i], 0, &relayed[i]), 0);
        assert_int_equal(mock_create_permission(m[i], &peer), 0);
        assert_int_equal(
            mock_from_peer(m[i], mock_relay_handle(m[i], AF_INET), &peer, data, sizeof(data)), 1);
    }
    assert_true(xt_addr_equal(&relayed[0], &relayed[1]));
    assert_int_equal(m[0]->nsent, m[1]->nsent);
    for (size_t i = 0; i < m[0]->nsent; i++) {
        assert_int_equal(m[0]->sent[i].len, m[1]->sent[i].len);
        assert_memory_equal(m[0]->sent[i].data, m[1]->sent[i].data, m[0]->sent[i].len);
    }
    mock_teardown(m[1]);
    free(m[1]);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, mock_test_setup, mock_test_teardown)
    const struct CMUnitTest tests[] = {
        T(no_randomness_no_state),
        T(reservation_without_randomness_is_500),
        T(ports_without_randomness),
        T(same_randomness_same_run),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
