/* Internet checksums (RFC 1071), inline: the IPv4 header checksum from scratch, the UDP
 * checksum incrementally (RFC 1624) over the fields that change, never over the payload.
 * Fields are summed as they lie in memory (network order): a ones' complement sum does not
 * depend on byte order, so the result is in memory order too, like the check fields. A 64-bit
 * accumulator takes every 16- or 32-bit term without carries lost; csum_fold reduces it. Inline
 * additions cost a fraction of a bpf_csum_diff call on buffers built for it. */
#ifndef XTURN_BPF_CSUM_H
#define XTURN_BPF_CSUM_H

#include <linux/bpf.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>

#include "bpf/consts.h"

/* Folds a ones' complement sum of 16- and 32-bit terms into 16 bits. */
static __always_inline __u16 csum_fold(__u64 sum)
{
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (__u16)sum;
}

/* A term a checksummed piece gains, or loses (neg: its complement, RFC 1624 eqn. 3). */
static __always_inline __u64 csum_term16(__u64 acc, __u16 v, int neg)
{
    return acc + (neg ? (__u16)~v : v);
}

static __always_inline __u64 csum_term32(__u64 acc, __u32 v, int neg)
{
    return acc + (neg ? (__u32)~v : v);
}

/* The fields of a UDP datagram's checksum that the relay changes. Addresses in 4 words (IPv4
 * in word 0: the zeros of the others sum to nothing); the pseudo-header length (16 bits in
 * IPv4, 32 with the high half zero in IPv6) and every field here sit at even offsets, so each
 * is one 16-bit term, in memory order. The ChannelData header counts when cd is set. */
struct xt_csum_fields {
    const __be32 *saddr;
    const __be32 *daddr;
    __u8 v6;
    __u8 cd;
    __be16 sport;
    __be16 dport;
    __be16 len; /* twice: pseudo-header and UDP header */
    __be16 cd_channel;
    __be16 cd_len;
};

/* Adds (neg 0) or takes out (neg 1) the fields of f. */
static __always_inline __u64 csum_fields(__u64 acc, const struct xt_csum_fields *f, int neg)
{
#pragma unroll
    for (int i = 0; i < 4; i++) {
        if (i == 0 || f->v6) {
            acc = csum_term32(acc, f->saddr[i], neg);
            acc = csum_term32(acc, f->daddr[i], neg);
        }
    }
    acc = csum_term16(acc, f->sport, neg);
    acc = csum_term16(acc, f->dport, neg);
    acc = csum_term16(acc, f->len, neg);
    acc = csum_term16(acc, f->len, neg);
    if (f->cd) {
        acc = csum_term16(acc, f->cd_channel, neg);
        acc = csum_term16(acc, f->cd_len, neg);
    }
    return acc;
}

/* Sum over a 20-byte IPv4 header (stack or packet: read as 16-bit words, packet headers are
 * only 2-byte aligned). */
static __always_inline __u64 ip4_hdr_sum(const struct iphdr *iph)
{
    const __u16 *w = (const __u16 *)iph;
    __u64 acc = 0;

#pragma unroll
    for (int i = 0; i < XT_IP4_HLEN / 2; i++)
        acc += w[i];
    return acc;
}

/* Checksum for a 20-byte IPv4 header whose check field is zero. */
static __always_inline __u16 ip4_hdr_csum(const struct iphdr *iph)
{
    return (__u16)~csum_fold(ip4_hdr_sum(iph));
}

/* True when a 20-byte IPv4 header (check field included) sums to all ones. */
static __always_inline int ip4_hdr_csum_ok(const struct iphdr *iph)
{
    return csum_fold(ip4_hdr_sum(iph)) == 0xffff;
}

/* The UDP checksum from an accumulator started at ~old and updated with what changed. A
 * result of 0 is sent as 0xffff (0 means "no checksum" in IPv4 and is invalid in IPv6). */
static __always_inline __u16 udp_csum_finish(__u64 acc)
{
    __u16 csum = (__u16)~csum_fold(acc);

    return csum ? csum : 0xffff;
}

#endif
