#include "turn/timer_wheel.h"

#include <string.h>

void tw_init(struct timer_wheel *w, uint64_t now_ms)
{
    memset(w->slots, 0, sizeof(w->slots));
    w->cursor_s = now_ms / 1000;
}

void tw_timer_init(struct tw_timer *t, tw_fn fn)
{
    t->next = NULL;
    t->pprev = NULL;
    t->due_ms = 0;
    t->fn = fn;
}

bool tw_pending(const struct tw_timer *t)
{
    return t->pprev != NULL;
}

void tw_cancel(struct tw_timer *t)
{
    if (!t->pprev)
        return;
    *t->pprev = t->next;
    if (t->next)
        t->next->pprev = t->pprev;
    t->next = NULL;
    t->pprev = NULL;
}

static void link_into(struct tw_timer **head, struct tw_timer *t)
{
    t->next = *head;
    if (t->next)
        t->next->pprev = &t->next;
    *head = t;
    t->pprev = head;
}

void tw_schedule(struct timer_wheel *w, struct tw_timer *t, uint64_t due_ms)
{
    uint64_t s = due_ms / 1000;
    tw_cancel(t);
    t->due_ms = due_ms;
    /* A timer due in an already processed second goes into the next slot to be processed. */
    if (s < w->cursor_s)
        s = w->cursor_s;
    link_into(&w->slots[s % TW_SLOTS], t);
}

/* Fires the timers of one slot that are due; the others (later rotations, or later in the
 * current second) are linked back. The slot is detached first so that callbacks scheduling into
 * it cannot make the walk endless; cancel still works on the detached list through pprev. */
static void run_slot(struct timer_wheel *w, uint64_t s, uint64_t now_ms, void *ctx)
{
    struct tw_timer *pending = w->slots[s % TW_SLOTS];

    w->slots[s % TW_SLOTS] = NULL;
    if (pending)
        pending->pprev = &pending;
    while (pending) {
        struct tw_timer *t = pending;
        tw_cancel(t);
        if (t->due_ms <= now_ms)
            t->fn(t, ctx);
        else
            tw_schedule(w, t, t->due_ms);
    }
}

void tw_advance(struct timer_wheel *w, uint64_t now_ms, void *ctx)
{
    uint64_t now_s = now_ms / 1000;

    for (unsigned steps = 0; w->cursor_s < now_s && steps < TW_SLOTS; steps++)
        run_slot(w, w->cursor_s++, now_ms, ctx);
    if (w->cursor_s < now_s)
        w->cursor_s = now_s; /* the clock jumped over a whole rotation: every slot was run */
    run_slot(w, now_s, now_ms, ctx);
}
