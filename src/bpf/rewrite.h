/* The output: next hop by bpf_fib_lookup (before anything changes, so every failure can still
 * pass the packet up unchanged), then the new headers over the old ones, with the payload left
 * where it is: bpf_xdp_adjust_tail cuts padding and trailing bytes, bpf_xdp_adjust_head moves
 * the start by the difference in header sizes (IPv4 20 / IPv6 40, ChannelData 4 or none). */
#ifndef XTURN_BPF_REWRITE_H
#define XTURN_BPF_REWRITE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/consts.h"
#include "bpf/csum.h"
#include "bpf/maps.h"
#include "bpf/parsing.h"
#include "bpf/relay.h"
#include "bpf/xdp_shared.h"

/* Route lookup for the output datagram. tot_len is the output's IP length, so the kernel checks
 * it against the egress MTU. Fills fib (MACs, egress ifindex) and o->action. */
static __always_inline int xt_route(struct xdp_md *ctx, const struct xt_pkt *p, struct xt_out *o,
                                    struct bpf_fib_lookup *fib)
{
    __u32 ingress = ctx->ingress_ifindex;
    __u16 ulen = (__u16)out_ulen(o); /* fits: out_check */
    int rc;

    __builtin_memset(fib, 0, sizeof(*fib));
    fib->l4_protocol = IPPROTO_UDP;
    fib->sport = o->sport;
    fib->dport = o->dport;
    fib->ifindex = ingress;
    if (o->family == XT_AF_INET) {
        fib->family = XT_AF_INET;
        fib->tos = p->tos;
        fib->tot_len = XT_IP4_HLEN + ulen;
        fib->ipv4_src = o->saddr[0];
        fib->ipv4_dst = o->daddr[0];
    } else {
        fib->family = XT_AF_INET6;
        fib->tot_len = XT_IP6_HLEN + ulen;
        __builtin_memcpy(fib->ipv6_src, o->saddr, 16);
        __builtin_memcpy(fib->ipv6_dst, o->daddr, 16);
    }

    rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
    switch (rc) {
    case BPF_FIB_LKUP_RET_SUCCESS:
        break;
    case BPF_FIB_LKUP_RET_FRAG_NEEDED:
        return XT_PASS_MTU;
    case BPF_FIB_LKUP_RET_NO_NEIGH:
        return XT_PASS_NO_NEIGH;
    default:
        return XT_PASS_FIB;
    }

    if (fib->ifindex == ingress) {
        o->action = XDP_TX;
        return XT_NEXT;
    }
    if (!bpf_map_lookup_elem(&tx_ports, &fib->ifindex))
        return XT_PASS_OTHER_IFACE;
    o->action = XDP_REDIRECT;
    o->ifindex = fib->ifindex;
    return XT_NEXT;
}

/* The removed padding bytes (pad of them, the last of the UDP datagram) placed in tail at the
 * parity they have in the checksum: the 4 bytes ending the datagram start at UDP offset
 * ulen - 4, a high byte when that is even. */
static __always_inline int load_pad(struct xdp_md *ctx, const struct xt_pkt *p,
                                    const struct xt_out *o, __u8 *tail)
{
    __u8 w[4];

    if (bpf_xdp_load_bytes(ctx, p->l4_off + p->ulen - 4, w, sizeof(w)))
        return -1;
    /* Keep the last o->pad bytes: the others are payload or ChannelData header. */
    if (o->pad < 3)
        w[1] = 0;
    if (o->pad < 2)
        w[2] = 0;
    w[0] = 0;
    if (p->ulen & 1)
        __builtin_memcpy(tail + 1, w, 4);
    else
        __builtin_memcpy(tail, w, 4);
    return 0;
}

/* The output's UDP checksum, updated from the input's over the pieces that change. */
static __always_inline int udp_csum_out(struct xdp_md *ctx, const struct xt_pkt *p,
                                        const struct xt_out *o, __u16 *csum)
{
    struct xt_csum_view from = {}, to = {};

    __builtin_memcpy(from.saddr, p->saddr, 16);
    __builtin_memcpy(from.daddr, p->daddr, 16);
    from.sport = p->sport;
    from.dport = p->dport;
    from.len_pseudo = from.len = bpf_htons(p->ulen);
    if (o->cd_in) {
        from.cd_channel = o->in_channel;
        from.cd_len = bpf_htons(o->plen);
    }
    if (o->pad && load_pad(ctx, p, o, from.tail))
        return -1;

    __builtin_memcpy(to.saddr, o->saddr, 16);
    __builtin_memcpy(to.daddr, o->daddr, 16);
    to.sport = o->sport;
    to.dport = o->dport;
    to.len_pseudo = to.len = bpf_htons((__u16)out_ulen(o));
    if (o->cd_out) {
        to.cd_channel = o->channel;
        to.cd_len = bpf_htons(o->plen);
    }
    *csum = udp_csum_replace(p->csum, &from, &to);
    return 0;
}

/* Writes Ethernet, IP, UDP and (cd_out) ChannelData headers at the start of the frame. */
static __always_inline int write_headers(struct xdp_md *ctx, const struct xt_pkt *p,
                                         const struct xt_out *o, const struct bpf_fib_lookup *fib,
                                         __u16 csum)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct udphdr *udp;
    __u16 ulen = (__u16)out_ulen(o); /* fits: out_check */

    if (o->family == XT_AF_INET) {
        struct iphdr *iph = (void *)(eth + 1);
        struct iphdr h = {
            .version = 4,
            .ihl = 5,
            .tos = p->tos,
            .tot_len = bpf_htons(XT_IP4_HLEN + ulen),
            .id = 0,
            .frag_off = bpf_htons(XT_IP_DF),
            .ttl = p->ttl,
            .protocol = IPPROTO_UDP,
            .saddr = o->saddr[0],
            .daddr = o->daddr[0],
        };

        udp = (void *)(iph + 1);
        if ((void *)(udp + 1) > data_end)
            return XT_DROP_ADJUST;
        h.check = ip4_hdr_csum(&h);
        *iph = h;
        eth->h_proto = bpf_htons(ETH_P_IP);
    } else {
        struct ipv6hdr *ip6 = (void *)(eth + 1);
        struct ipv6hdr h = {
            .payload_len = bpf_htons(ulen),
            .nexthdr = IPPROTO_UDP,
            .hop_limit = p->ttl,
        };

        udp = (void *)(ip6 + 1);
        if ((void *)(udp + 1) > data_end)
            return XT_DROP_ADJUST;
        /* version 6, traffic class, flow label 0 */
        *(__be32 *)&h = bpf_htonl(6U << 28 | (__u32)p->tos << 20);
        __builtin_memcpy(&h.saddr, o->saddr, 16);
        __builtin_memcpy(&h.daddr, o->daddr, 16);
        *ip6 = h;
        eth->h_proto = bpf_htons(ETH_P_IPV6);
    }
    __builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
    __builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
    udp->source = o->sport;
    udp->dest = o->dport;
    udp->len = bpf_htons(ulen);
    udp->check = csum;

    if (o->cd_out) {
        __be16 *cd = (void *)(udp + 1);

        if ((void *)(cd + 2) > data_end)
            return XT_DROP_ADJUST;
        cd[0] = o->channel;
        cd[1] = bpf_htons(o->plen);
    }
    return XT_NEXT;
}

/* Turns the frame into the output. Only bpf_xdp_load_bytes failing (it cannot: the bytes are
 * within the datagram) leaves the packet to pass; past the first adjust, failures drop. */
static __always_inline int xt_rewrite(struct xdp_md *ctx, const struct xt_pkt *p,
                                      const struct xt_out *o, const struct bpf_fib_lookup *fib)
{
    __u32 in_hdr = p->l4_off + XT_UDP_HLEN + (o->cd_in ? XT_CD_HLEN : 0);
    __u32 out_hdr = XT_ETH_HLEN + (o->family == XT_AF_INET ? XT_IP4_HLEN : XT_IP6_HLEN) +
                    XT_UDP_HLEN + (o->cd_out ? XT_CD_HLEN : 0);
    __u32 keep = in_hdr + o->plen;
    __u16 csum = 0;

    /* An IPv4 input without checksum (0) leaves as IPv4 without one: 0 stays valid, and the
     * incremental update has no old sum to start from. (To IPv6 it was passed up.) */
    if (p->csum && udp_csum_out(ctx, p, o, &csum))
        return XT_PASS_TRUNCATED;

    if (p->frame_len > keep && bpf_xdp_adjust_tail(ctx, -(int)(p->frame_len - keep)))
        return XT_DROP_ADJUST;
    if (in_hdr != out_hdr && bpf_xdp_adjust_head(ctx, (int)in_hdr - (int)out_hdr))
        return XT_DROP_ADJUST;
    return write_headers(ctx, p, o, fib, csum);
}

#endif
