/* The monotonic clock (CLOCK_MONOTONIC, as the XDP program's bpf_ktime_get_ns) in the units the
 * relay counts in. */
#ifndef XTURN_COMMON_CLOCK_H
#define XTURN_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t xt_mono_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

#endif
