/* --max-bps in the fast path: a token bucket per relayed transport address (map rate, created
 * full by userspace), refilled by elapsed time, one second deep; every relayed packet takes its
 * payload bytes (the ChannelData length, or the UDP payload from a peer) from the bucket of each
 * relayed address it goes through, both directions drawing from the same bucket, as userspace
 * does per allocation. Runs after the route lookup, so a packet passed up for the next hop or
 * the MTU is not charged here and again by userspace. */
#ifndef XTURN_BPF_RATE_H
#define XTURN_BPF_RATE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpf/consts.h"
#include "bpf/maps.h"
#include "bpf/relay.h"
#include "bpf/xdp_shared.h"

#define XT_NSEC_PER_SEC 1000000000ULL

static __always_inline struct xt_rate *rate_find(__u8 family, __be16 relay_port)
{
    struct xt_rate_key k = {.family = family, .pad = 0, .relay_port = relay_port};

    return bpf_map_lookup_elem(&rate, &k);
}

/* Refills b by the time elapsed since its last refill, then takes len bytes if it holds that
 * many. max: xt_cfg.max_bps (1..XT_MAX_BPS), now: bpf_ktime_get_ns(), both read before the lock
 * (no helper calls while it is held). Returns 1 when the bytes were taken. */
static __always_inline int rate_take(struct xt_rate *b, __u64 max, __u64 now, __u64 len)
{
    int ok;

    bpf_spin_lock(&b->lock);
    /* now may be behind last_ns: another CPU read the clock later and refilled first. */
    if (now > b->last_ns) {
        __u64 elapsed = now - b->last_ns;

        if (elapsed >= XT_NSEC_PER_SEC) {
            /* a second or more: full (and no product to overflow) */
            b->tokens = max;
            b->last_ns = now;
        } else {
            /* elapsed < 1e9 and max <= 2^34: the products fit in 64 bits */
            __u64 add = elapsed * max / XT_NSEC_PER_SEC;

            if (b->tokens + add >= max) {
                b->tokens = max;
                b->last_ns = now;
            } else if (add) {
                /* Only the time worth whole bytes is used up: the remainder stays for the next
                 * packet, or packets closer together than a byte's worth of time would never
                 * refill anything. */
                b->tokens += add;
                b->last_ns += add * XT_NSEC_PER_SEC / max;
            }
        }
    }
    ok = b->tokens >= len;
    if (ok)
        b->tokens -= len;
    bpf_spin_unlock(&b->lock);
    return ok;
}

/* Only called with xt_cfg.max_bps != 0. Returns XT_NEXT (charged), XT_DROP_RATE, or
 * XT_PASS_NO_RATE when a bucket is missing (userspace could not create it; nothing charged).
 * A BPF-to-BPF call, not inlined: xturn_xdp's own frame is close to the 512-byte stack limit,
 * and inlined this does not fit (clang: "BPF stack limit ... exceeded"); as a subprogram its
 * 40-byte frame does (the verifier adds the caller's). With max_bps 0 the call is dead code. */
static __attribute__((noinline)) int xt_rate(const struct xt_out *o)
{
    __u64 max = xt_cfg.max_bps;
    struct xt_rate *b1, *b2 = NULL;
    __u64 now;

    b1 = rate_find(o->rate_family, o->rate_port1);
    if (!b1)
        return XT_PASS_NO_RATE;
    /* Relay to self: the sender's relayed address and the receiver's, both looked up before
     * either is charged (a pass would have userspace charge the first again). */
    if (o->self) {
        b2 = rate_find(o->rate_family, o->rate_port2);
        if (!b2)
            return XT_PASS_NO_RATE;
    }
    now = bpf_ktime_get_ns();
    /* As userspace: the sender's allocation is charged when it sends to the peer, even when the
     * receiving allocation then drops the datagram for its own rate. */
    if (!rate_take(b1, max, now, o->plen))
        return XT_DROP_RATE;
    if (b2 && !rate_take(b2, max, now, o->plen))
        return XT_DROP_RATE;
    return XT_NEXT;
}

#endif
