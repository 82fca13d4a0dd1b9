/* The output, once its next hop is known (nexthop.h): the new headers over the old ones, with
 * the payload left where it is: bpf_xdp_adjust_tail cuts padding and trailing bytes,
 * bpf_xdp_adjust_head moves the start by the difference in header sizes (IPv4 20 / IPv6 40,
 * ChannelData 4 or none).
 *
 * IPv4<->IPv6 translation (Cilium's ipv4_to_ipv6 / ipv6_to_ipv4 in nat_46x64.h) is not a step
 * of its own: a cross-family binding (maps c2p_46, c2p_64, p2c_46, p2c_64; relay.h, lookup_pair)
 * gives an output of the other family, and then xt_rewrite moves the frame start by the header
 * size difference, write_headers writes the egress family's header from scratch (DSCP/ECN and
 * TTL/hop limit carried over, DF set on IPv4) where the old one was, and udp_csum_out swaps the
 * pseudo-header's addresses in the UDP checksum. */
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
#include "bpf/pkt.h"
#include "bpf/xdp_shared.h"

/* Takes the removed padding bytes (pad of them, the last of the UDP datagram) out of acc, at
 * the parity they have in the checksum: the 4 bytes ending the datagram start at UDP offset
 * ulen - 4, a high byte when that is even. */
static __always_inline int pad_sub(struct xdp_md *ctx, const struct xt_pkt *p,
                                   const struct xt_out *o, __u64 *acc)
{
    __u32 tail[2] = {0, 0};
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
        __builtin_memcpy((__u8 *)tail + 1, w, 4);
    else
        __builtin_memcpy(tail, w, 4);
    *acc = csum_term32(csum_term32(*acc, tail[0], 1), tail[1], 1);
    return 0;
}

/* The output's UDP checksum, updated from the input's (RFC 1624) over what changes: addresses,
 * ports and lengths, the ChannelData header taken off or put on, and the padding cut. The
 * protocol number stays. */
static __always_inline int udp_csum_out(struct xdp_md *ctx, const struct xt_pkt *p,
                                        const struct xt_out *o, __u16 *csum)
{
    struct xt_csum_fields from = {
        .saddr = p->saddr,
        .daddr = p->daddr,
        .v6 = p->family == XT_AF_INET6,
        .cd = o->cd_in,
        .sport = p->sport,
        .dport = p->dport,
        .len = bpf_htons(p->ulen),
        .cd_channel = o->in_channel,
        .cd_len = bpf_htons(o->plen),
    };
    struct xt_csum_fields to = {
        .saddr = o->saddr,
        .daddr = o->daddr,
        .v6 = o->family == XT_AF_INET6,
        .cd = o->cd_out,
        .sport = o->sport,
        .dport = o->dport,
        .len = bpf_htons((__u16)out_ulen(o)),
        .cd_channel = o->channel,
        .cd_len = bpf_htons(o->plen),
    };
    __u64 acc = csum_fields((__u16)~p->csum, &from, 1);

    if (o->pad && pad_sub(ctx, p, o, &acc))
        return -1;
    *csum = udp_csum_finish(csum_fields(acc, &to, 0));
    return 0;
}

/* Writes Ethernet, IP, UDP and (cd_out) ChannelData headers at the start of the frame. */
static __always_inline int write_headers(struct xdp_md *ctx, const struct xt_pkt *p,
                                         const struct xt_out *o, __u16 csum)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct udphdr *udp;
    __u16 ulen = (__u16)out_ulen(o); /* fits: out_check */
    /* One relay hop (RFC 8656 14; 0 was dropped in out_check). Relay to self, client to relay
     * to client in one pass, is one hop too: decremented once. */
    __u8 ttl = (__u8)(p->ttl - 1);

    if (o->family == XT_AF_INET) {
        struct iphdr *iph = (void *)(eth + 1);
        struct iphdr h = {
            .version = 4,
            .ihl = 5,
            .tos = p->tos,
            .tot_len = bpf_htons(XT_IP4_HLEN + ulen),
            .id = 0,
            .frag_off = bpf_htons(XT_IP_DF),
            .ttl = ttl,
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
            .hop_limit = ttl,
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
    __builtin_memcpy(eth->h_dest, o->hop.dmac, ETH_ALEN);
    __builtin_memcpy(eth->h_source, o->hop.smac, ETH_ALEN);
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
                                      const struct xt_out *o)
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
    return write_headers(ctx, p, o, csum);
}

#endif
