/* The TURN decisions of the fast path: which packets are ChannelData from a client or data from
 * a peer with a channel, the map lookups, and what the output datagram is (struct xt_out).
 * Nothing here touches the packet. */
#ifndef XTURN_BPF_RELAY_H
#define XTURN_BPF_RELAY_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/consts.h"
#include "bpf/maps.h"
#include "bpf/pkt.h"
#include "bpf/xdp_shared.h"

/* One side of a binding as read from a map value: xt_to_peer4/6 (port, relay_port) and
 * xt_to_client4/6 (port, channel) share the layout {ip, port, aux}, then the allocation's
 * --max-bps bucket and the cached next hop to that side (nh, in the map value). */
struct xt_ep {
    __be32 ip[4];
    __be16 port;
    __be16 aux;
    __u8 family;
    __u32 bucket;
    struct xt_nexthop *nh;
};

static __always_inline __u8 other_family(__u8 family)
{
    return family == XT_AF_INET ? XT_AF_INET6 : XT_AF_INET;
}

static __always_inline int ip_eq(const __be32 *a, const __be32 *b)
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

static __always_inline int ip_is_zero(const __be32 *a)
{
    return !(a[0] | a[1] | a[2] | a[3]);
}

/* Reads of xt_cfg go through volatile: the values are only known after the loader sets them. */
static __always_inline void cfg_v6(__be32 *ip, const volatile __u8 *v6)
{
    const volatile __be32 *w = (const volatile __be32 *)v6;

    ip[0] = w[0];
    ip[1] = w[1];
    ip[2] = w[2];
    ip[3] = w[3];
}

/* The listen address and port of a family (where clients send). */
static __always_inline void cfg_listen(__u8 family, __be32 *ip, __be16 *port)
{
    if (family == XT_AF_INET) {
        ip[0] = xt_cfg.listen_v4;
        ip[1] = ip[2] = ip[3] = 0;
        *port = xt_cfg.listen_port_v4;
    } else {
        cfg_v6(ip, xt_cfg.listen_v6);
        *port = xt_cfg.listen_port_v6;
    }
}

/* The relay address of a family (where peers send, relayed transport addresses). */
static __always_inline void cfg_relay(__u8 family, __be32 *ip)
{
    if (family == XT_AF_INET) {
        ip[0] = xt_cfg.relay_v4;
        ip[1] = ip[2] = ip[3] = 0;
    } else {
        cfg_v6(ip, xt_cfg.relay_v6);
    }
}

static __always_inline int relay_port_ok(__be16 port)
{
    __u16 p = bpf_ntohs(port);

    return p >= xt_cfg.relay_port_lo && p <= xt_cfg.relay_port_hi;
}

/* Is (ip, port) one of this relay's relayed transport addresses? */
static __always_inline int is_relayed_addr(__u8 family, const __be32 *ip, __be16 port)
{
    __be32 me[4];

    cfg_relay(family, me);
    return !ip_is_zero(me) && ip_eq(ip, me) && relay_port_ok(port);
}

/* ---- martian sources ----
 * XDP runs before the kernel's martian source check and rp_filter. What the kernel would drop
 * must not be relayed here either: a datagram spoofed from the relay address:port A to the
 * relayed address B would otherwise reach, as ChannelData, the client whose channel on B is to
 * A (relay to self). */

/* 0/8 (this network), 127/8 (loopback), 224/4 (multicast), 255.255.255.255 (broadcast). */
static __always_inline int ip4_is_martian(__be32 a)
{
    __u32 h = bpf_ntohl(a);

    return h >> 24 == 0 || h >> 24 == 127 || h >> 28 == 0xe || h == 0xffffffff;
}

/* ff00::/8 (multicast), :: (unspecified), ::1 (loopback), ::ffff:0:0/96 (IPv4-mapped). */
static __always_inline int ip6_is_martian(const __be32 *a)
{
    if (bpf_ntohl(a[0]) >> 24 == 0xff)
        return 1;
    if (a[0] | a[1])
        return 0;
    return a[2] == bpf_htonl(0xffff) || (!a[2] && (!a[3] || a[3] == bpf_htonl(1)));
}

/* One of this host's addresses: the configured listen or relay address of the family (a zero
 * one matches only the zero source, martian anyway), or one userspace put in host_addrs. */
static __always_inline int is_host_addr(__u8 family, const __be32 *ip)
{
    struct xt_host_addr k = {.family = family};
    __be32 me[4];
    __be16 port;

    cfg_listen(family, me, &port);
    if (ip_eq(ip, me))
        return 1;
    cfg_relay(family, me);
    if (ip_eq(ip, me))
        return 1;
    __builtin_memcpy(k.ip, ip, 16); /* IPv4 in word 0, the rest zero: the key's layout */
    return bpf_map_lookup_elem(&host_addrs, &k) != NULL;
}

static __always_inline int src_is_martian(const struct xt_pkt *p)
{
    if (p->family == XT_AF_INET ? ip4_is_martian(p->saddr[0]) : ip6_is_martian(p->saddr))
        return 1;
    return is_host_addr(p->family, p->saddr);
}

/* Copies a binding map value {ip, port, aux} of the given family; points at its next hop. */
static __always_inline void ep_load(struct xt_ep *e, void *v, __u8 family)
{
    e->family = family;
    if (family == XT_AF_INET) {
        struct xt_to_peer4 *v4 = v;

        e->ip[0] = v4->peer.ip;
        e->ip[1] = e->ip[2] = e->ip[3] = 0;
        e->port = v4->peer.port;
        e->aux = v4->peer.relay_port;
        e->bucket = v4->bucket;
        e->nh = &v4->nh;
    } else {
        struct xt_to_peer6 *v6 = v;

        __builtin_memcpy(e->ip, v6->peer.ip, 16);
        e->port = v6->peer.port;
        e->aux = v6->peer.relay_port;
        e->bucket = v6->bucket;
        e->nh = &v6->nh;
    }
}

/* The same-family map first, then the cross-family one. Returns the counter of the map that
 * hit (same_stat or cross_stat), miss, or XT_PASS_CROSS_FAMILY when translation is off. */
static __always_inline int lookup_pair(void *same, void *cross, const void *key, __u8 family,
                                       int same_stat, int cross_stat, int miss, struct xt_ep *res)
{
    void *v = bpf_map_lookup_elem(same, key);

    if (v) {
        ep_load(res, v, family);
        return same_stat;
    }
    v = bpf_map_lookup_elem(cross, key);
    if (!v)
        return miss;
    if (!xt_cfg.cross_family)
        return XT_PASS_CROSS_FAMILY;
    ep_load(res, v, other_family(family));
    return cross_stat;
}

/* (client, channel) -> peer. */
static __always_inline int c2p_lookup(__u8 family, const __be32 *ip, __be16 port, __be16 channel,
                                      struct xt_ep *peer)
{
    if (family == XT_AF_INET) {
        struct xt_client4 k = {.ip = ip[0], .port = port, .channel = channel};

        return lookup_pair(&c2p_44, &c2p_46, &k, XT_AF_INET, XT_C2P_44, XT_C2P_46,
                           XT_PASS_NO_CHANNEL, peer);
    } else {
        struct xt_client6 k = {.port = port, .channel = channel};

        __builtin_memcpy(k.ip, ip, 16);
        return lookup_pair(&c2p_66, &c2p_64, &k, XT_AF_INET6, XT_C2P_66, XT_C2P_64,
                           XT_PASS_NO_CHANNEL, peer);
    }
}

/* (peer, relay port) -> (client, channel). */
static __always_inline int p2c_lookup(__u8 family, const __be32 *ip, __be16 port, __be16 relay_port,
                                      struct xt_ep *client)
{
    if (family == XT_AF_INET) {
        struct xt_peer4 k = {.ip = ip[0], .port = port, .relay_port = relay_port};

        return lookup_pair(&p2c_44, &p2c_46, &k, XT_AF_INET, XT_P2C_44, XT_P2C_46, XT_PASS_NO_PEER,
                           client);
    } else {
        struct xt_peer6 k = {.port = port, .relay_port = relay_port};

        __builtin_memcpy(k.ip, ip, 16);
        return lookup_pair(&p2c_66, &p2c_64, &k, XT_AF_INET6, XT_P2C_66, XT_P2C_64, XT_PASS_NO_PEER,
                           client);
    }
}

static __always_inline int is_path(int stat)
{
    return stat >= XT_C2P_44 && stat <= XT_P2C_66;
}

/* The binding whose value holds o->nh: map (a path counter) and key. */
static __always_inline void out_binding(struct xt_out *o, int map, const __be32 *ip, __be16 port,
                                        __be16 aux)
{
    o->nh_map = (__u8)map;
    __builtin_memcpy(o->nh_ip, ip, 16);
    o->nh_port = port;
    o->nh_aux = aux;
}

/* Output to a client: ChannelData from the listen address of the client's family. */
static __always_inline void out_to_client(struct xt_out *o, const struct xt_ep *client)
{
    o->family = client->family;
    cfg_listen(client->family, o->saddr, &o->sport);
    __builtin_memcpy(o->daddr, client->ip, 16);
    o->dport = client->port;
    o->cd_out = 1;
    o->channel = client->aux;
    o->nh = client->nh;
}

/* Checks common to every output. */
static __always_inline int out_check(const struct xt_pkt *p, const struct xt_out *o)
{
    __u32 ip_hlen = o->family == XT_AF_INET ? XT_IP4_HLEN : XT_IP6_HLEN;

    /* RFC 8656 14 (preferred behaviour): TTL / hop limit 0 is not relayed; any other leaves
     * one less (write_headers). */
    if (!p->ttl)
        return XT_DROP_TTL;
    /* No address of that family in the configuration: userspace decides. */
    if (ip_is_zero(o->saddr))
        return XT_PASS_FIB;
    /* IPv4 UDP without checksum (0). To IPv4 it stays 0: valid in IPv4 and what the sender
     * chose (see xt_rewrite). To IPv6 a checksum is mandatory and computing it would mean
     * summing the payload: userspace relays it and the kernel computes the checksum. */
    if (p->family == XT_AF_INET && p->csum == 0 && o->family == XT_AF_INET6)
        return XT_PASS_ZERO_CSUM;
    /* Fits in 16 bits of IP length (the FIB lookup checks the MTU). */
    if (ip_hlen + out_ulen(o) > 0xffff)
        return XT_PASS_MTU;
    return XT_NEXT;
}

/* ChannelData from a client to the listen address:port. */
static __always_inline int from_client(const struct xt_pkt *p, struct xt_out *o)
{
    __u16 plen = p->ulen - XT_UDP_HLEN;
    __u16 channel, len;
    /* Zeroed: else clang 14 (-mcpu=v3) spills its fields, undefined on the paths where the
     * lookup missed, from a register a helper call clobbered, which the verifier refuses. */
    struct xt_ep peer = {}, client = {};
    int leg;

    if (plen == 0 || (p->head[0] & 0xc0) != 0x40)
        return XT_PASS_STUN;
    if (plen < XT_CD_HLEN)
        return XT_PASS_TRUNCATED;
    if (p->bad_csum)
        return XT_PASS_BAD_CSUM;
    channel = (__u16)(p->head[0] << 8 | p->head[1]);
    len = (__u16)(p->head[2] << 8 | p->head[3]);
    if (channel < XT_CHANNEL_LO || channel > xt_cfg.channel_hi)
        return XT_PASS_NO_CHANNEL;
    /* Userspace drops these too (RFC 8656 12.5: longer than the datagram). */
    if (len > plen - XT_CD_HLEN)
        return XT_DROP_CD_LENGTH;
    if (plen - XT_CD_HLEN - len > XT_CD_MAX_PAD)
        return XT_PASS_PADDING;

    leg = c2p_lookup(p->family, p->saddr, p->sport, bpf_htons(channel), &peer);
    if (!is_path(leg))
        return leg;
    o->leg1 = (__u8)leg;
    out_binding(o, leg, p->saddr, p->sport, bpf_htons(channel));
    o->cd_in = 1;
    o->in_channel = bpf_htons(channel);
    o->plen = len;
    o->pad = (__u8)(plen - XT_CD_HLEN - len);

    if (is_relayed_addr(peer.family, peer.ip, peer.port)) {
        /* The peer is another allocation of this relay: what userspace would send from the
         * sender's relay port to the receiver's relay port arrives as a peer packet with key
         * (relay address, sender's relay port, receiver's relay port). */
        leg = p2c_lookup(peer.family, peer.ip, peer.aux, peer.port, &client);
        if (!is_path(leg))
            return leg;
        o->leg2 = (__u8)leg;
        out_binding(o, leg, peer.ip, peer.aux, peer.port);
        o->self = 1;
        o->bucket1 = peer.bucket;
        o->bucket2 = client.bucket;
        out_to_client(o, &client);
        return out_check(p, o);
    }

    o->family = peer.family;
    o->bucket1 = peer.bucket;
    cfg_relay(peer.family, o->saddr);
    o->sport = peer.aux;
    __builtin_memcpy(o->daddr, peer.ip, 16);
    o->dport = peer.port;
    o->cd_out = 0;
    o->nh = peer.nh;
    return out_check(p, o);
}

/* Data from a peer to a relayed transport address. */
static __always_inline int from_peer(const struct xt_pkt *p, struct xt_out *o)
{
    struct xt_ep client = {};
    int leg;

    if (p->bad_csum)
        return XT_PASS_BAD_CSUM;
    leg = p2c_lookup(p->family, p->saddr, p->sport, p->dport, &client);
    if (!is_path(leg))
        return leg;
    o->leg1 = (__u8)leg;
    out_binding(o, leg, p->saddr, p->sport, p->dport);
    o->bucket1 = client.bucket;
    o->cd_in = 0;
    o->plen = p->ulen - XT_UDP_HLEN;
    o->pad = 0;
    out_to_client(o, &client);
    return out_check(p, o);
}

/* Which way the datagram goes, if any. Returns XT_NEXT with *o filled, or a reason. */
static __always_inline int xt_decide(const struct xt_pkt *p, struct xt_out *o)
{
    __be32 me[4];
    __be16 port;
    int to_listen;

    cfg_listen(p->family, me, &port);
    to_listen = !ip_is_zero(me) && ip_eq(p->daddr, me) && p->dport == port;
    if (!to_listen && !is_relayed_addr(p->family, p->daddr, p->dport))
        return XT_PASS_NOT_RELAY;
    /* Ours, whatever it carries (STUN included): the kernel would drop it for its source. */
    if (src_is_martian(p))
        return XT_DROP_MARTIAN;
    return to_listen ? from_client(p, o) : from_peer(p, o);
}

#endif
