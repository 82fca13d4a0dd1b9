/* Internet checksums (RFC 1071) with bpf_csum_diff: the IPv4 header checksum from scratch, the
 * UDP checksum incrementally (RFC 1624) over the pieces that change, never over the payload. */
#ifndef XTURN_BPF_CSUM_H
#define XTURN_BPF_CSUM_H

#include <linux/bpf.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>

#include "bpf/consts.h"

/* Folds a 32-bit (or wider) ones' complement sum into 16 bits. bpf_csum_diff's result is only
 * defined modulo 0xffff (its width differs between kernels and architectures): fold it. */
static __always_inline __u16 csum_fold(__u64 sum)
{
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (__u16)sum;
}

/* Checksum over a 20-byte IPv4 header whose check field is zero (stack or packet memory). */
static __always_inline __u16 ip4_hdr_csum(const struct iphdr *iph)
{
    return (__u16)~csum_fold((__u32)bpf_csum_diff(0, 0, (__be32 *)iph, XT_IP4_HLEN, 0));
}

/* True when a 20-byte IPv4 header (check field included) sums to all ones. */
static __always_inline int ip4_hdr_csum_ok(const struct iphdr *iph)
{
    return csum_fold((__u32)bpf_csum_diff(0, 0, (__be32 *)iph, XT_IP4_HLEN, 0)) == 0xffff;
}

/* Everything of a UDP datagram's checksum that the relay changes, at the same byte parity as in
 * the sum (the pseudo-header has an even length, so offsets are taken from the UDP header):
 * pseudo-header addresses (an IPv4 address in word 0, zeros sum to nothing) and length, the UDP
 * ports and length, the ChannelData header (zero when absent), and the padding bytes removed
 * after the ChannelData payload (tail). The protocol number is the same on both sides. */
struct xt_csum_view {
    __be32 saddr[4];
    __be32 daddr[4];
    __be16 sport;
    __be16 dport;
    __be16 len_pseudo;
    __be16 len;
    __be16 cd_channel;
    __be16 cd_len;
    __u8 tail[8];
};

_Static_assert(sizeof(struct xt_csum_view) % 4 == 0, "bpf_csum_diff works on 32-bit words");
_Static_assert(__builtin_offsetof(struct xt_csum_view, tail) % 2 == 0, "tail parity");

/* New UDP checksum from the old one: ~(~old - from + to) (RFC 1624, eqn. 3). A result of 0 is
 * sent as 0xffff (0 means "no checksum" in IPv4 and is invalid in IPv6). */
static __always_inline __u16 udp_csum_replace(__u16 old, struct xt_csum_view *from,
                                              struct xt_csum_view *to)
{
    __s64 sum =
        bpf_csum_diff((__be32 *)from, sizeof(*from), (__be32 *)to, sizeof(*to), (__u16)~old);
    __u16 csum = (__u16)~csum_fold((__u32)sum);

    return csum ? csum : 0xffff;
}

#endif
