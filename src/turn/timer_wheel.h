/* Hashed timing wheel with one-second slots: O(1) schedule and cancel, and expiry work
 * proportional to what is due, not to everything that exists. */
#ifndef XTURN_TURN_TIMER_WHEEL_H
#define XTURN_TURN_TIMER_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define TW_SLOTS                                                                                   \
    4096 /* one rotation (68 min) outlasts the longest lifetime, so most timers                    \
           fire on their first visit */

struct tw_timer;
typedef void (*tw_fn)(struct tw_timer *t, void *ctx);

struct tw_timer {
    struct tw_timer *next;
    struct tw_timer **pprev; /* NULL when not scheduled */
    uint64_t due_ms;
    tw_fn fn;
};

struct timer_wheel {
    struct tw_timer *slots[TW_SLOTS];
    uint64_t cursor_s; /* next second whose slot has not been processed */
};

void tw_init(struct timer_wheel *w, uint64_t now_ms);
void tw_timer_init(struct tw_timer *t, tw_fn fn);
/* (Re)schedules t to fire at due_ms. */
void tw_schedule(struct timer_wheel *w, struct tw_timer *t, uint64_t due_ms);
void tw_cancel(struct tw_timer *t);
bool tw_pending(const struct tw_timer *t);
/* Fires every timer due at or before now_ms. A callback may cancel or schedule any timer. */
void tw_advance(struct timer_wheel *w, uint64_t now_ms, void *ctx);

#endif
