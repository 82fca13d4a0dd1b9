/* The packet structs every stage shares (after katran's balancer_structs.h): what parsing
 * read from the frame (struct xt_pkt) and the datagram the relay decided to send (struct
 * xt_out). Both live on the stack of xturn_xdp and hold no packet pointer. */
#ifndef XTURN_BPF_PKT_H
#define XTURN_BPF_PKT_H

#include <linux/types.h>

#include "bpf/consts.h"
#include "bpf/xdp_shared.h"

/* An incoming UDP datagram. Addresses in network order; an IPv4 address in word 0, the other
 * words zero. */
struct xt_pkt {
    __be32 saddr[4];
    __be32 daddr[4];
    __u32 frame_len; /* bytes in the frame, trailing Ethernet padding included */
    __u16 l4_off;    /* offset of the UDP header from the frame start */
    __u16 ulen;      /* UDP length (header + payload), host order, within the frame */
    __be16 sport;
    __be16 dport;
    __u16 csum;            /* UDP checksum as on the wire */
    __u8 family;           /* XT_AF_INET or XT_AF_INET6 */
    __u8 tos;              /* IPv4 TOS / IPv6 traffic class: DSCP and ECN */
    __u8 ttl;              /* TTL / hop limit */
    __u8 bad_csum;         /* IPv4 header checksum wrong, or IPv6 UDP checksum 0 */
    __u8 head[XT_CD_HLEN]; /* first bytes of the UDP payload (those present, up to 4) */
};

/* The datagram to send: addresses and ports (network order), and how it is framed. */
struct xt_out {
    __be32 saddr[4];
    __be32 daddr[4];
    __be16 sport;
    __be16 dport;
    __be16 channel;    /* ChannelData header to prepend (cd_out) */
    __be16 in_channel; /* ChannelData header to remove (cd_in) */
    __u16 plen;        /* application payload bytes (the ChannelData length field) */
    __u8 family;
    __u8 cd_in;            /* the input starts with a ChannelData header (from a client) */
    __u8 cd_out;           /* the output does (to a client) */
    __u8 pad;              /* bytes after the ChannelData payload in the input, 0..3 */
    __u8 self;             /* client to client through this relay's own relayed address */
    __u8 leg1;             /* counter of the path taken (XT_C2P_xx or XT_P2C_xx) */
    __u8 leg2;             /* with self: the p2c counter of the second leg */
    __u8 action;           /* XDP_TX or XDP_REDIRECT (xt_route) */
    struct xt_nexthop *nh; /* the next-hop cache of the destination, in its map value */
    /* The binding whose value holds nh: its map (path counter) and key {ip, port, aux}, named
     * when userspace is asked for the next hop (forwarding off). */
    __be32 nh_ip[4];
    __be16 nh_port;
    __be16 nh_aux;
    __u8 nh_map;
    struct xt_nexthop hop; /* the next hop used (xt_route): MACs, egress ifindex, MTU */
    /* The --max-bps buckets of the allocations the packet goes through: leg 1's (the
     * sender's with self), and with self the receiver's (leg 2). */
    __u32 bucket1;
    __u32 bucket2;
};

/* The output's UDP length (32 bits: out_check rejects what does not fit in 16). */
static __always_inline __u32 out_ulen(const struct xt_out *o)
{
    return XT_UDP_HLEN + (o->cd_out ? XT_CD_HLEN : 0) + o->plen;
}

#endif
