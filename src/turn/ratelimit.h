/* Per-source-IP token buckets in a fixed-size table, so spoofed floods cannot grow memory. One
 * table serves every worker (SO_REUSEPORT spreads a source's ports over them): each slot has its
 * own lock, next to its data, so takes of different slots never wait on each other.
 *
 * A source that proved its address is real (an authenticated request: its nonce is bound to the
 * address, so it was received there) is not limited for RATELIMIT_PROVEN_MS after its last
 * proof: a client opening thousands of allocations from one address gets every 401 it needs.
 * A spoofed source cannot prove a victim's address, so a flood towards an address without a
 * recent proof still gets at most the burst plus the rate. */
#ifndef XTURN_TURN_RATELIMIT_H
#define XTURN_TURN_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/addr.h"

#define RATELIMIT_SLOTS     4096
#define RATELIMIT_PROVEN_MS 60000

struct ratelimit_slot {
    pthread_spinlock_t lock; /* held for a few instructions: spinning beats sleeping */
    struct xt_addr ip;       /* the bucket's owner, port zero */
    uint32_t tokens_milli;
    uint64_t last_ms;
    /* The last proven IP of this slot (port zero): only a proof replaces it, so a spoofed flood
     * that takes the bucket over leaves it in place. */
    struct xt_addr proven;
    uint64_t proven_until_ms;
};

struct ratelimit {
    uint32_t rate;  /* tokens per second */
    uint32_t burst; /* bucket size, at least 1 */
    uint32_t seed;
    struct ratelimit_slot slots[RATELIMIT_SLOTS];
};

/* rate 0 disables limiting. */
void ratelimit_init(struct ratelimit *r, uint32_t rate, uint32_t burst, uint32_t seed);
/* Takes one token for the source's IP; false when it has none left. Always true for a source
 * proven within RATELIMIT_PROVEN_MS. Thread-safe. IPs that share a slot share its bucket: a flood
 * of random sources cannot refill a victim's bucket by evicting it (it can only make collisions
 * share the limit). */
bool ratelimit_take(struct ratelimit *r, const struct xt_addr *src, uint64_t now_ms);
/* The source's IP proved to be real at now_ms. Two proven IPs sharing a slot take turns: the
 * other one is limited again until its next proof. Thread-safe. */
void ratelimit_prove(struct ratelimit *r, const struct xt_addr *src, uint64_t now_ms);

#endif
