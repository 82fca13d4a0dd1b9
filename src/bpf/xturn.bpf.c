// SPDX-License-Identifier: GPL-2.0
/* xturn's XDP fast path: ChannelData between clients and peers (RFC 8656 12), relayed in the
 * kernel for the channels userspace mirrors into the maps; everything else goes up unchanged.
 *   parsing.h  Ethernet / IPv4 / IPv6 / UDP          csum.h     checksums
 *   relay.h    TURN decisions and map lookups         nexthop.h  next hop: cache, FIB, userspace
 *   maps.h     configuration, maps, counters          rewrite.h  new headers (and so IPv4<->IPv6
 *   rate.h     --max-bps token buckets                           translation)
 *   pkt.h      the packet structs the stages share    consts.h   sizes and constants
 *                                                     xdp_shared.h  types shared with userspace
 * Each stage includes only pkt.h, maps.h and the helpers it calls, never another stage. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpf/consts.h"
#include "bpf/maps.h"
#include "bpf/nexthop.h"
#include "bpf/parsing.h"
#include "bpf/pkt.h"
#include "bpf/rate.h"
#include "bpf/relay.h"
#include "bpf/rewrite.h"
#include "bpf/xdp_shared.h"

SEC("xdp")
int xturn_xdp(struct xdp_md *ctx)
{
    struct xt_pkt p = {};
    struct xt_out o = {};
    int r;

    r = xt_parse(ctx, &p);
    if (r == XT_NEXT)
        r = xt_decide(&p, &o);
    if (r == XT_NEXT)
        r = xt_route(ctx, &p, &o);
    /* rodata: with max_bps 0 the verifier sees this branch as dead and removes it */
    if (r == XT_NEXT && xt_cfg.max_bps)
        r = xt_rate(&o);
    if (r == XT_NEXT)
        r = xt_rewrite(ctx, &p, &o);
    if (r != XT_NEXT) {
        /* Reasons count frames (bytes as received); the packet is unchanged unless dropped. */
        xt_count(r, p.frame_len);
        return r >= XT_DROP_CD_LENGTH ? XDP_DROP : XDP_PASS;
    }

    /* Relayed: count payload bytes, per leg. */
    xt_count(o.leg1, o.plen);
    if (o.self) {
        xt_count(o.leg2, o.plen);
        xt_count(XT_C2C_SELF, o.plen);
    }
    if (o.action == XDP_REDIRECT)
        return bpf_redirect_map(&tx_ports, o.hop.ifindex, 0);
    return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
