// SPDX-License-Identifier: GPL-2.0
/* The floor of any XDP relay, for build/xdp_microbench: parse Ethernet, IPv4 (no options) or
 * IPv6, and UDP with the same bounds checks a relay needs, swap the MAC addresses, the IP
 * addresses and the UDP ports, and send the frame back out with XDP_TX. No lookup, no
 * checksum work (swapping is checksum-neutral), no header change. Anything else passes.
 *
 * xdp_tx_only touches nothing and returns XDP_TX: the microbenchmark times it to learn what
 * the measuring itself costs per call. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

static __always_inline int swap_udp(struct udphdr *udp, void *data_end)
{
    __be16 port;

    if ((void *)(udp + 1) > data_end)
        return XDP_PASS;
    port = udp->source;
    udp->source = udp->dest;
    udp->dest = port;
    return XDP_TX;
}

SEC("xdp")
int xdp_swap(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    int r;

    if ((void *)(eth + 1) > data_end)
        return XDP_PASS;
    if (eth->h_proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *iph = (void *)(eth + 1);
        __be32 a;

        if ((void *)(iph + 1) > data_end)
            return XDP_PASS;
        if (iph->ihl != 5 || iph->protocol != IPPROTO_UDP)
            return XDP_PASS;
        r = swap_udp((void *)(iph + 1), data_end);
        if (r != XDP_TX)
            return r;
        a = iph->saddr;
        iph->saddr = iph->daddr;
        iph->daddr = a;
    } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip6 = (void *)(eth + 1);
        struct in6_addr a6;

        if ((void *)(ip6 + 1) > data_end)
            return XDP_PASS;
        if (ip6->nexthdr != IPPROTO_UDP)
            return XDP_PASS;
        r = swap_udp((void *)(ip6 + 1), data_end);
        if (r != XDP_TX)
            return r;
        a6 = ip6->saddr;
        ip6->saddr = ip6->daddr;
        ip6->daddr = a6;
    } else {
        return XDP_PASS;
    }
    {
        __u8 mac[ETH_ALEN];

        __builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
        __builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
        __builtin_memcpy(eth->h_source, mac, ETH_ALEN);
    }
    return XDP_TX;
}

SEC("xdp")
int xdp_tx_only(struct xdp_md *ctx)
{
    (void)ctx;
    return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
