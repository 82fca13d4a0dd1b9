#include "turn/ratelimit.h"

#include <string.h>

void ratelimit_init(struct ratelimit *r, uint32_t rate, uint32_t burst, uint32_t seed)
{
    memset(r, 0, sizeof(*r));
    r->rate = rate;
    r->burst = burst;
    r->seed = seed;
    for (size_t i = 0; i < RATELIMIT_SLOTS; i++)
        pthread_spin_init(&r->slots[i].lock, PTHREAD_PROCESS_PRIVATE);
}

static struct ratelimit_slot *slot_of(struct ratelimit *r, const struct xt_addr *src)
{
    return &r->slots[xt_addr_ip_hash(src, r->seed) % RATELIMIT_SLOTS];
}

/* With the slot's lock held. */
static bool take_token(struct ratelimit *r, struct ratelimit_slot *s, const struct xt_addr *src,
                       uint64_t now_ms)
{
    if (s->last_ms == 0) {
        s->tokens_milli = r->burst * 1000;
        s->last_ms = now_ms ? now_ms : 1;
    }
    /* A newcomer takes the slot with the tokens it holds: evicting must not refill a bucket,
     * or a flood of random sources would lift the limit of the one it collides with. */
    if (!xt_addr_ip_equal(&s->ip, src)) {
        s->ip = *src;
        s->ip.port = 0;
    }
    /* Workers read the clock at different moments: a slot another one stamped a little later
     * than now_ms just gets no refill. */
    if (now_ms > s->last_ms) {
        uint64_t t = s->tokens_milli + (now_ms - s->last_ms) * r->rate;
        s->tokens_milli = t > (uint64_t)r->burst * 1000 ? r->burst * 1000 : (uint32_t)t;
        s->last_ms = now_ms;
    }
    if (s->tokens_milli < 1000)
        return false;
    s->tokens_milli -= 1000;
    return true;
}

bool ratelimit_take(struct ratelimit *r, const struct xt_addr *src, uint64_t now_ms)
{
    struct ratelimit_slot *s;
    bool ok;

    if (r->rate == 0)
        return true;
    s = slot_of(r, src);
    pthread_spin_lock(&s->lock);
    ok = (now_ms < s->proven_until_ms && xt_addr_ip_equal(&s->proven, src)) ||
         take_token(r, s, src, now_ms);
    pthread_spin_unlock(&s->lock);
    return ok;
}

void ratelimit_prove(struct ratelimit *r, const struct xt_addr *src, uint64_t now_ms)
{
    struct ratelimit_slot *s;

    if (r->rate == 0)
        return;
    s = slot_of(r, src);
    pthread_spin_lock(&s->lock);
    s->proven = *src;
    s->proven.port = 0;
    s->proven_until_ms = now_ms + RATELIMIT_PROVEN_MS;
    pthread_spin_unlock(&s->lock);
}
