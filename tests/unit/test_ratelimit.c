/* The per-source rate limiter of unauthenticated responses. */
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

static void eviction_does_not_refill_the_victim(void **state)
{
    struct ratelimit *r = malloc(sizeof(*r));
    struct xt_addr victim, other;
    uint32_t slot;
    int ok = 0;
    (void)state;
    ratelimit_init(r, 10, 20, 0);
    ip4(&victim, 1);
    slot = xt_addr_ip_hash(&victim, 0) % RATELIMIT_SLOTS;
    /* Another source that lands in the same slot. */
    for (uint32_t n = 2;; n++) {
        ip4(&other, n);
        if (xt_addr_ip_hash(&other, 0) % RATELIMIT_SLOTS == slot)
            break;
        assert_true(n < 1000000);
    }
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_refill),
        cmocka_unit_test(eviction_does_not_refill_the_victim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
