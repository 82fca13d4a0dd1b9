/* The timer wheel: exact firing, cancel, reschedule, rotations, clock jumps, callbacks that
 * touch other timers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/container_of.h"
#include "turn/timer_wheel.h"

struct probe {
    struct tw_timer t;
    int fired;
    uint64_t fired_at;
    struct probe *cancel_other; /* cancelled by this one's callback */
};

static uint64_t now_ms;

static void on_fire(struct tw_timer *t, void *ctx)
{
    struct probe *p = container_of(t, struct probe, t);
    (void)ctx;
    p->fired++;
    p->fired_at = now_ms;
    if (p->cancel_other)
        tw_cancel(&p->cancel_other->t);
}

static struct timer_wheel *wheel(void)
{
    struct timer_wheel *w = malloc(sizeof(*w));
    assert_non_null(w);
    now_ms = 5000;
    tw_init(w, now_ms);
    return w;
}

static void advance(struct timer_wheel *w, uint64_t ms, uint64_t step)
{
    for (uint64_t end = now_ms + ms; now_ms < end;) {
        now_ms += step;
        tw_advance(w, now_ms, NULL);
    }
}

static void fires_at_due_time_not_before(void **state)
{
    struct timer_wheel *w = wheel();
    struct probe p = {0};
    (void)state;
    tw_timer_init(&p.t, on_fire);
    tw_schedule(w, &p.t, now_ms + 2500);
    advance(w, 2499, 1);
    assert_int_equal(p.fired, 0);
    assert_true(tw_pending(&p.t));
    advance(w, 1, 1);
    assert_int_equal(p.fired, 1);
    assert_false(tw_pending(&p.t));
    advance(w, 10000, 100);
    assert_int_equal(p.fired, 1);
    free(w);
}

static void cancel_and_reschedule(void **state)
{
    struct timer_wheel *w = wheel();
    struct probe a = {0}, b = {0};
    (void)state;
    tw_timer_init(&a.t, on_fire);
    tw_timer_init(&b.t, on_fire);
    tw_schedule(w, &a.t, now_ms + 1000);
    tw_schedule(w, &b.t, now_ms + 1000);
    tw_cancel(&a.t);
    tw_cancel(&a.t); /* twice is harmless */
    tw_schedule(w, &b.t, now_ms + 5000);
    advance(w, 4000, 250);
    assert_int_equal(a.fired + b.fired, 0);
    advance(w, 1000, 250);
    assert_int_equal(b.fired, 1);
    assert_int_equal(a.fired, 0);
    free(w);
}

static void longer_than_a_rotation(void **state)
{
    struct timer_wheel *w = wheel();
    struct probe p = {0};
    uint64_t due = now_ms + (TW_SLOTS + 10) * 1000ull;
    (void)state;
    tw_timer_init(&p.t, on_fire);
    tw_schedule(w, &p.t, due);
    advance(w, (TW_SLOTS + 9) * 1000ull, 1000);
    assert_int_equal(p.fired, 0);
    advance(w, 1000, 1000);
    assert_int_equal(p.fired, 1);
    assert_int_equal(p.fired_at, due);
    free(w);
}

static void clock_jump_fires_everything_due(void **state)
{
    struct timer_wheel *w = wheel();
    struct probe p[3];
    memset(p, 0, sizeof(p));
    (void)state;
    for (int i = 0; i < 3; i++) {
        tw_timer_init(&p[i].t, on_fire);
        tw_schedule(w, &p[i].t, now_ms + (uint64_t)(i + 1) * 1000000);
    }
    now_ms += 2500000;
    tw_advance(w, now_ms, NULL);
    assert_int_equal(p[0].fired, 1);
    assert_int_equal(p[1].fired, 1);
    assert_int_equal(p[2].fired, 0);
    now_ms += 10000000;
    tw_advance(w, now_ms, NULL);
    assert_int_equal(p[2].fired, 1);
    free(w);
}

static void callback_cancels_a_timer_due_at_the_same_time(void **state)
{
    struct timer_wheel *w = wheel();
    struct probe a = {0}, b = {0};
    (void)state;
    tw_timer_init(&a.t, on_fire);
    tw_timer_init(&b.t, on_fire);
    a.cancel_other = &b;
    b.cancel_other = &a;
    tw_schedule(w, &a.t, now_ms + 1000);
    tw_schedule(w, &b.t, now_ms + 1000);
    advance(w, 1000, 1000);
    /* Whichever ran first cancelled the other. */
    assert_int_equal(a.fired + b.fired, 1);
    free(w);
}

static void due_in_the_past_fires_on_next_advance(void **state)
{
    struct timer_wheel *w = wheel();
    struct probe p = {0};
    (void)state;
    advance(w, 3000, 1000);
    tw_timer_init(&p.t, on_fire);
    tw_schedule(w, &p.t, 1000);
    tw_advance(w, now_ms, NULL);
    assert_int_equal(p.fired, 1);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fires_at_due_time_not_before),
        cmocka_unit_test(cancel_and_reschedule),
        cmocka_unit_test(longer_than_a_rotation),
        cmocka_unit_test(clock_jump_fires_everything_due),
        cmocka_unit_test(callback_cancels_a_timer_due_at_the_same_time),
        cmocka_unit_test(due_in_the_past_fires_on_next_advance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
