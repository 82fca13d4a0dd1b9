/* Header parsing with a cursor (after xdp-tools' parsing_helpers.h): every read is checked
 * against data_end, IPv4's ihl is honoured (only 5 is accepted), lengths come from the IP
 * header and not from the frame end (frames may carry Ethernet padding). The fields the relay
 * needs are copied to the stack, so later stages hold no packet pointer. */
#ifndef XTURN_BPF_PARSING_H
#define XTURN_BPF_PARSING_H

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
#include "bpf/pkt.h"
#include "bpf/xdp_shared.h"

struct hdr_cursor {
    void *pos;
};

static __always_inline int parse_ethhdr(struct hdr_cursor *nh, void *data_end, __be16 *proto)
{
    struct ethhdr *eth = nh->pos;

    if ((void *)(eth + 1) > data_end)
        return XT_PASS_TRUNCATED;
    nh->pos = eth + 1;
    *proto = eth->h_proto;
    return XT_NEXT;
}

/* IPv4 without options, not a fragment, carrying UDP. *l4_len: bytes after the IP header. */
static __always_inline int parse_ip4(struct hdr_cursor *nh, void *data_end, struct xt_pkt *p,
                                     __u32 *l4_len)
{
    struct iphdr *iph = nh->pos;
    __u32 tot;

    if ((void *)(iph + 1) > data_end)
        return XT_PASS_TRUNCATED;
    if (iph->version != 4 || iph->ihl < 5)
        return XT_PASS_TRUNCATED;
    if (iph->ihl != 5)
        return XT_PASS_IP_OPTIONS;
    tot = bpf_ntohs(iph->tot_len);
    if (tot < XT_IP4_HLEN || XT_ETH_HLEN + tot > p->frame_len)
        return XT_PASS_TRUNCATED;
    if (iph->frag_off & bpf_htons(XT_IP_MF | XT_IP_OFFSET))
        return XT_PASS_FRAGMENT;
    if (iph->protocol != IPPROTO_UDP)
        return XT_PASS_NOT_UDP;

    p->family = XT_AF_INET;
    p->saddr[0] = iph->saddr;
    p->daddr[0] = iph->daddr;
    p->tos = iph->tos;
    p->ttl = iph->ttl;
    p->bad_csum = !ip4_hdr_csum_ok(iph);
    p->l4_off = XT_ETH_HLEN + XT_IP4_HLEN;
    *l4_len = tot - XT_IP4_HLEN;
    nh->pos = iph + 1;
    return XT_NEXT;
}

/* IPv6 whose next header is UDP: extension headers are left to the kernel. */
static __always_inline int parse_ip6(struct hdr_cursor *nh, void *data_end, struct xt_pkt *p,
                                     __u32 *l4_len)
{
    struct ipv6hdr *ip6 = nh->pos;
    __u32 plen;

    if ((void *)(ip6 + 1) > data_end)
        return XT_PASS_TRUNCATED;
    if (ip6->version != 6)
        return XT_PASS_TRUNCATED;
    if (ip6->nexthdr != IPPROTO_UDP)
        return XT_PASS_NOT_UDP;
    plen = bpf_ntohs(ip6->payload_len);
    if (XT_ETH_HLEN + XT_IP6_HLEN + plen > p->frame_len)
        return XT_PASS_TRUNCATED;

    p->family = XT_AF_INET6;
    __builtin_memcpy(p->saddr, &ip6->saddr, 16);
    __builtin_memcpy(p->daddr, &ip6->daddr, 16);
    p->tos = (__u8)(ip6->priority << 4 | ip6->flow_lbl[0] >> 4);
    p->ttl = ip6->hop_limit;
    p->l4_off = XT_ETH_HLEN + XT_IP6_HLEN;
    *l4_len = plen;
    nh->pos = ip6 + 1;
    return XT_NEXT;
}

/* The UDP length must equal what the IP header says is left; the first payload bytes are
 * copied for the ChannelData / STUN decision. */
static __always_inline int parse_udp(struct hdr_cursor *nh, void *data_end, struct xt_pkt *p,
                                     __u32 l4_len)
{
    struct udphdr *udp = nh->pos;
    __u8 *payload;

    if ((void *)(udp + 1) > data_end)
        return XT_PASS_TRUNCATED;
    p->ulen = bpf_ntohs(udp->len);
    if (p->ulen < XT_UDP_HLEN || p->ulen != l4_len)
        return XT_PASS_TRUNCATED;
    p->sport = udp->source;
    p->dport = udp->dest;
    p->csum = udp->check;
    if (p->family == XT_AF_INET6 && p->csum == 0)
        p->bad_csum = 1;

    payload = (__u8 *)(udp + 1);
    if (p->ulen >= XT_UDP_HLEN + XT_CD_HLEN) {
        if (payload + XT_CD_HLEN > (__u8 *)data_end)
            return XT_PASS_TRUNCATED;
        __builtin_memcpy(p->head, payload, XT_CD_HLEN);
    } else if (p->ulen > XT_UDP_HLEN) {
        if (payload + 1 > (__u8 *)data_end)
            return XT_PASS_TRUNCATED;
        p->head[0] = payload[0];
    }
    nh->pos = payload;
    return XT_NEXT;
}

/* Ethernet, IPv4 or IPv6, UDP. Returns XT_NEXT or the reason to pass the frame up. */
static __always_inline int xt_parse(struct xdp_md *ctx, struct xt_pkt *p)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct hdr_cursor nh = {.pos = data};
    __be16 proto;
    __u32 l4_len = 0;
    int r;

    /* Not data_end - data: a driver never hands this program (not frags-aware) a multi-buffer
     * frame, but bpf_prog_test_run may. */
    p->frame_len = (__u32)bpf_xdp_get_buff_len(ctx);
    r = parse_ethhdr(&nh, data_end, &proto);
    if (r != XT_NEXT)
        return r;
    if (proto == bpf_htons(ETH_P_IP))
        r = parse_ip4(&nh, data_end, p, &l4_len);
    else if (proto == bpf_htons(ETH_P_IPV6))
        r = parse_ip6(&nh, data_end, p, &l4_len);
    /* A tag in the frame: relayed here, the output would leave untagged. (A tag the NIC strips
     * before XDP is not seen: such a frame is relayed like an untagged one, by the route to its
     * destination, as the kernel would send it.) */
    else if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
        return XT_PASS_VLAN;
    else
        return XT_PASS_NOT_IP;
    if (r != XT_NEXT)
        return r;
    return parse_udp(&nh, data_end, p, l4_len);
}

#endif
