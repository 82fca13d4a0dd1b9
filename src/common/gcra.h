/* --max-bps as a generic cell rate algorithm (GCRA, as in ITU-T I.371): the token bucket's
 * equivalent in one 64-bit word, the "theoretical arrival time" (ns of CLOCK_MONOTONIC): the time
 * at which the bucket would be full again. A datagram of len bytes at rate bytes/s costs
 * len * 1e9 / rate ns; it passes when the word, moved up to now if it is behind and then advanced
 * by the cost, stays within one second (the bucket's depth: rate bytes) of now. Nothing is lost
 * to rounding between datagrams, however close together they come.
 *
 * The XDP program (src/bpf/rate.h) and userspace (src/turn/turn_data.c) apply it to the same
 * word, in an array map both map into memory, so an allocation has one limit whichever path
 * carries its bytes; a compare-and-swap keeps concurrent takers exact. Compiled into the BPF
 * program as well. */
#ifndef XTURN_COMMON_GCRA_H
#define XTURN_COMMON_GCRA_H

#ifdef __bpf__
#include <linux/types.h>
typedef __u64 gcra_u64;
#else
#include <stdint.h>
typedef uint64_t gcra_u64;
#endif

#define GCRA_DEPTH_NS 1000000000ULL
/* Compare-and-swap attempts before giving up: each failure means another CPU took bytes from the
 * same allocation at that moment, so this many in a row means the allocation is busy beyond its
 * limit's resolution. */
#define GCRA_TRIES 8

/* The cost of len bytes at rate (> 0) bytes/s, in ns, rounded up: len is at most 65 535, so
 * the product stays far below 2^64. */
static inline gcra_u64 gcra_cost(gcra_u64 len, gcra_u64 rate)
{
    return (len * GCRA_DEPTH_NS + rate - 1) / rate;
}

/* Takes cost from the word at tat at time now: 1 when it fits (the word moved), 0 when not. */
static inline int gcra_take(gcra_u64 *tat, gcra_u64 now, gcra_u64 cost)
{
    for (int i = 0; i < GCRA_TRIES; i++) {
        gcra_u64 old = *(volatile gcra_u64 *)tat;
        gcra_u64 next = (old > now ? old : now) + cost;

        if (next - now > GCRA_DEPTH_NS)
            return 0;
        if (__sync_val_compare_and_swap(tat, old, next) == old)
            return 1;
    }
    return 0;
}

#ifndef __bpf__
/* Takes cost from the word at tat at time now whatever that leaves, for bytes that cannot be
 * dropped (a TCP stream, already read). Returns how far the word now lies beyond the bucket's
 * depth, in ns: how long to wait before taking more (0: no need). */
static inline gcra_u64 gcra_force(gcra_u64 *tat, gcra_u64 now, gcra_u64 cost)
{
    gcra_u64 old, next;

    do {
        old = *(volatile gcra_u64 *)tat;
        next = (old > now ? old : now) + cost;
    } while (__sync_val_compare_and_swap(tat, old, next) != old);
    return next - now > GCRA_DEPTH_NS ? next - now - GCRA_DEPTH_NS : 0;
}
#endif

#endif
