/* The TURN core's randomness, passed in as time is: the daemon's comes from OpenSSL, the tests'
 * and the fuzzer's are deterministic, so that a run replays. */
#ifndef XTURN_TURN_RANDOM_H
#define XTURN_TURN_RANDOM_H

#include <stddef.h>

struct turn_random {
    /* Fills buf with len random bytes: 0, or -1 when there are none to be had. May be called
     * from every worker's thread (under turn_shared's lock when shared). */
    int (*fill)(void *ctx, void *buf, size_t len);
    void *ctx;
};

static inline int turn_random_fill(const struct turn_random *r, void *buf, size_t len)
{
    return r->fill(r->ctx, buf, len);
}

#endif
