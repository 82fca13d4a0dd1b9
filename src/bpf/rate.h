/* --max-bps in the fast path: every relayed packet takes its payload bytes (the ChannelData
 * length, or the UDP payload from a peer) from its allocation's bucket (map buckets, the word
 * userspace takes from too: src/common/gcra.h), both directions alike; relaying to self, from
 * both allocations' buckets. Runs after the route lookup, so a packet passed up for the next hop
 * or the MTU is not charged here and again by userspace. */
#ifndef XTURN_BPF_RATE_H
#define XTURN_BPF_RATE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpf/consts.h"
#include "bpf/maps.h"
#include "bpf/pkt.h"
#include "bpf/xdp_shared.h"
#include "common/gcra.h"

static __always_inline struct xt_bucket *bucket_find(__u32 index)
{
    return index ? bpf_map_lookup_elem(&buckets, &index) : NULL;
}

/* Only called with xt_cfg.max_bps != 0. Returns XT_NEXT (charged), XT_DROP_RATE, or
 * XT_PASS_NO_RATE when a binding has no bucket (nothing charged: userspace applies the limit).
 * A BPF-to-BPF call, not inlined: xturn_xdp's own frame is close to the 512-byte stack limit;
 * with max_bps 0 the call is dead code. */
static __attribute__((noinline)) int xt_rate(const struct xt_out *o)
{
    __u64 max = xt_cfg.max_bps, cost = gcra_cost(o->plen, max), now;
    struct xt_bucket *b1, *b2 = NULL;

    b1 = bucket_find(o->bucket1);
    if (!b1)
        return XT_PASS_NO_RATE;
    /* Relay to self: both looked up before either is charged (a pass would have userspace
     * charge the first again). */
    if (o->self) {
        b2 = bucket_find(o->bucket2);
        if (!b2)
            return XT_PASS_NO_RATE;
    }
    now = bpf_ktime_get_ns();
    /* As userspace: the sender's allocation is charged when it sends to the peer, even when the
     * receiving allocation then drops the datagram for its own rate. */
    if (!gcra_take(&b1->tat, now, cost))
        return XT_DROP_RATE;
    if (b2 && !gcra_take(&b2->tat, now, cost))
        return XT_DROP_RATE;
    return XT_NEXT;
}

#endif
