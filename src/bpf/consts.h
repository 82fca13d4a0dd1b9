/* Constants of the XDP program: header sizes, protocol values, the verdict convention. */
#ifndef XTURN_BPF_CONSTS_H
#define XTURN_BPF_CONSTS_H

/* <sys/socket.h> is not available to BPF programs. */
#define XT_AF_INET  2
#define XT_AF_INET6 10

#define XT_ETH_HLEN 14
#define XT_IP4_HLEN 20
#define XT_IP6_HLEN 40
#define XT_UDP_HLEN 8
#define XT_CD_HLEN  4 /* ChannelData: channel number, length */

/* Over UDP, ChannelData padding is optional and at most 3 bytes (to a multiple of 4). */
#define XT_CD_MAX_PAD 3
#define XT_CHANNEL_LO 0x4000

#define XT_IP_DF     0x4000 /* host order flags of iphdr.frag_off */
#define XT_IP_MF     0x2000
#define XT_IP_OFFSET 0x1fff

/* Stages return XT_NEXT to go on, or an enum xt_stat: a relayed path (< XT_C2C_SELF), a
 * reason to pass the packet up unchanged (< XT_DROP_CD_LENGTH), or a reason to drop it: the
 * classes of XT_STATS (xdp_shared.h), which checks this order. */
#define XT_NEXT (-1)

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#endif
