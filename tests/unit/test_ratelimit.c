/* The per-source rate limiter of unauthenticated responses, and sources that proved their
 * address. Time is passed in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "turn/ratelimit.h"

static void ip4(struct xt_addr *a, uint32_t n)
{
    uint8_t b[4] = {198, 18, (uint8_t)(n >> 8), (uint8_t)n};
    xt_addr_v4(a, b, 0);
}

static void burst_then_refill(void **state)
{
    struct ratelimit *r = malloc(sizeof(*r));
    struct xt_addr a;
    int ok = 0;
    (void)state;
    ratelimit_init(r, 10, 20, 0);
    ip4(&a, 1);
    for (int i = 0; i < 100; i++)
        ok += ratelimit_take(r, &a, 1000);
    assert_int_equal(ok, 20);
    assert_true(ratelimit_take(r, &a, 1100)); /* 100 ms: one token back */
    assert_false(ratelimit_take(r, &a, 1100));
    free(r);
}

/* Another IP that lands in the same slot as a. */
static void same_slot(struct xt_addr *other, const struct xt_addr *a)
{
    uint32_t slot = xt_addr_ip_hash(a, 0) % RATELIMIT_SLOTS;
    for (uint32_t n = 2;; n++) {
        ip4(other, n);
        if (!xt_addr_ip_equal(other, a) && xt_addr_ip_hash(other, 0) % RATELIMIT_SLOTS == slot)
            return;
        assert_true(n < 1000000);
    }
}

static void eviction_does_not_refill_the_victim(void **state)
{
    struct ratelimit *r = malloc(sizeof(*r));
    struct xt_addr victim, other;
    int ok = 0;
    (void)state;
    ratelimit_init(r, 10, 20, 0);
    ip4(&victim, 1);
    same_slot(&other, &victim);
    for (int i = 0; i < 20; i++)
        assert_true(ratelimit_take(r, &victim, 1000));
    /* A spoofed flood from colliding sources takes the slot in turns... */
    for (int i = 0; i < 10; i++) {
        ok += ratelimit_take(r, &other, 1000);
        ok += ratelimit_take(r, &victim, 1000);
    }
    /* ...and gets no fresh tokens for it. */
    assert_int_equal(ok, 0);
    free(r);
}

static void proven_source_is_not_limited_for_a_while(void **state)
{
    struct ratelimit *r = malloc(sizeof(*r));
    struct xt_addr a, other_port;
    uint64_t t = 1000;
    int ok = 0;
    (void)state;
    ratelimit_init(r, 10, 20, 0);
    ip4(&a, 1);
    for (int i = 0; i < 20; i++)
        assert_true(ratelimit_take(r, &a, t));
    assert_false(ratelimit_take(r, &a, t));
    /* Proven from one port, not limited from any other: 10 000 answers in a moment. */
    ratelimit_prove(r, &a, t);
    other_port = a;
    other_port.port = 40000;
    for (int i = 0; i < 10000; i++)
        ok += ratelimit_take(r, &other_port, t + 1);
    assert_int_equal(ok, 10000);
    /* Each proof extends it; after the last one lapses the bucket holds again (full by then). */
    ratelimit_prove(r, &a, t + 30000);
    assert_true(ratelimit_take(r, &a, t + 30000 + RATELIMIT_PROVEN_MS - 1));
    ok = 0;
    for (int i = 0; i < 100; i++)
        ok += ratelimit_take(r, &a, t + 30000 + RATELIMIT_PROVEN_MS);
    assert_int_equal(ok, 20);
    free(r);
}

static void spoofed_flood_neither_proves_nor_evicts_a_proof(void **state)
{
    struct ratelimit *r = malloc(sizeof(*r));
    struct xt_addr client, spoofed;
    int ok = 0;
    (void)state;
    ratelimit_init(r, 10, 20, 0);
    ip4(&client, 1);
    same_slot(&spoofed, &client);
    ratelimit_prove(r, &client, 1000);
    /* A flood from a colliding source takes the bucket over and is held to it... */
    for (int i = 0; i < 100; i++)
        ok += ratelimit_take(r, &spoofed, 1000);
    assert_int_equal(ok, 20);
    /* ...while the proven client, in turns with it, is never refused. */
    for (int i = 0; i < 100; i++) {
        assert_true(ratelimit_take(r, &client, 1000));
        assert_false(ratelimit_take(r, &spoofed, 1000));
    }
    free(r);
}

static void two_proven_sources_in_one_slot_take_turns(void **state)
{
    struct ratelimit *r = malloc(sizeof(*r));
    struct xt_addr a, b;
    (void)state;
    ratelimit_init(r, 10, 1, 0);
    ip4(&a, 1);
    same_slot(&b, &a);
    ratelimit_prove(r, &a, 1000);
    ratelimit_prove(r, &b, 1000);
    assert_true(ratelimit_take(r, &b, 1000));
    assert_true(ratelimit_take(r, &b, 1000));
    /* a is back on the bucket (of one) until it proves itself again. */
    assert_true(ratelimit_take(r, &a, 1000));
    assert_false(ratelimit_take(r, &a, 1000));
    ratelimit_prove(r, &a, 1000);
    assert_true(ratelimit_take(r, &a, 1000));
    free(r);
}

static void unlimited_rate(void **state)
{
    struct ratelimit *r = malloc(sizeof(*r));
    struct xt_addr a;
    (void)state;
    ratelimit_init(r, 0, 1, 0);
    ip4(&a, 1);
    ratelimit_prove(r, &a, 1000);
    for (int i = 0; i < 1000; i++)
        assert_true(ratelimit_take(r, &a, 1000));
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_refill),
        cmocka_unit_test(eviction_does_not_refill_the_victim),
        cmocka_unit_test(proven_source_is_not_limited_for_a_while),
        cmocka_unit_test(spoofed_flood_neither_proves_nor_evicts_a_proof),
        cmocka_unit_test(two_proven_sources_in_one_slot_take_turns),
        cmocka_unit_test(unlimited_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
