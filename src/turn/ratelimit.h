/* Per-source-IP token buckets in a fixed-size table, so spoofed floods cannot grow memory. One
 * table serves every worker (SO_REUSEPORT spreads a source's ports over them): each slot has its
 * own lock, next to its data, so takes of different slots never wait on each other. */
#ifndef XTURN_TURN_RATELIMIT_H
#define XTURN_TURN_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/addr.h"

#define RATELIMIT_SLOTS 4096

struct ratelimit_slot {
    pthread_spinlock_t lock; /* held for a few instructions: spinning beats sleeping */
    struct xt_addr ip;       /* port zero */
    uint32_t tokens_milli;
    uint64_t last_ms;
};

struct ratelimit {
    uint32_t rate;  /* tokens per second */
    uint32_t burst; /* bucket size */
    uint32_t seed;
    struct ratelimit_slot slots[RATELIMIT_SLOTS];
};

/* rate 0 disables limiting. */
void ratelimit_init(struct ratelimit *r, uint32_t rate, uint32_t burst, uint32_t seed);
/* Takes one token for the source's IP; false when it has none left. Thread-safe. IPs that share
 * a slot share its bucket: a flood of random sources cannot refill a victim's bucket by evicting
 * it (it can only make collisions share the limit). */
bool ratelimit_take(struct ratelimit *r, const struct xt_addr *src, uint64_t now_ms);

#endif
