/* Every type shared by the XDP program and userspace: configuration, map keys and values,
 * counter indices. Included by src/bpf/xturn.bpf.c and by src/xdp/. One copy, never two.
 * Addresses, ports and channel numbers are in network byte order, as on the wire. */
#ifndef XTURN_BPF_XDP_SHARED_H
#define XTURN_BPF_XDP_SHARED_H

#include <linux/bpf.h> /* struct bpf_spin_lock */
#include <linux/types.h>

/* The version of the contract below as the maps see it: which maps exist, their types, sizes,
 * keys and values, and the counters' order. A live upgrade (issue 13, docs/UPGRADE_STATE.md)
 * adopts the running program and its maps only from a binary of the same version (it travels in
 * the state snapshot); from another it loads its own on new maps, restores the bindings into
 * them and carries the counters over. Bump it with any such change. XT_ABI_VERSION_BUMP=1 (make
 * build/xturn-abi-next) builds the next version, one field longer in the IPv4 binding values,
 * for the test of that upgrade. */
#ifndef XT_ABI_VERSION_BUMP
#define XT_ABI_VERSION_BUMP 0
#endif
#define XT_ABI_VERSION (1 + XT_ABI_VERSION_BUMP)

/* Read-only configuration, set in .rodata before the program is loaded. An address of all
 * zeros means "this family is not served in XDP". */
struct xt_cfg {
    __be32 listen_v4; /* where clients send (the listen address, IPv4) */
    __u8 listen_v6[16];
    __be16 listen_port_v4; /* the listen port of listen_v4 */
    __be16 listen_port_v6;
    __be32 relay_v4; /* interface address relay sockets bind to (never the public one) */
    __u8 relay_v6[16];
    __u16 relay_port_lo; /* host byte order, inclusive */
    __u16 relay_port_hi;
    __u16 channel_hi;  /* host byte order: 0x7FFF, or 0x4FFF with --strict-channel-range */
    __u8 cross_family; /* 1: translate IPv4<->IPv6; 0: count and pass such packets up */
    __u8 pad;
    __u32 pad2;
    /* --max-bps: relayed payload bytes per second per allocation, both directions together,
     * drawn from the allocation's bucket (struct xt_bucket) in XDP and in userspace alike; 0:
     * unlimited (the rate code is dead code). */
    __u64 max_bps;
};

/* A client's side of a channel: the client's transport address and the channel number. */
struct xt_client4 {
    __be32 ip;
    __be16 port;
    __be16 channel;
};
struct xt_client6 {
    __u8 ip[16];
    __be16 port;
    __be16 channel;
};

/* A peer's side: the peer's transport address and the allocation's relay port (of the peer's
 * family). */
struct xt_peer4 {
    __be32 ip;
    __be16 port;
    __be16 relay_port;
};
struct xt_peer6 {
    __u8 ip[16];
    __be16 port;
    __be16 relay_port;
};

/* The next hop of a binding's output (the Ethernet addresses and egress interface, and the
 * route's MTU), cached in the binding's map value so that a packet costs no route lookup. The
 * program fills it from bpf_fib_lookup where forwarding is on; where it is off (the FIB helper
 * answers only for interfaces that forward) it asks userspace (struct xt_nh_request), which
 * writes its answer here: a next hop, or a reason to pass the binding's packets up. Valid while
 * gen equals the program's xt_route_gen, which userspace bumps on every routing, neighbour,
 * address or link change it hears of and once a second (xdp_prog_routes_changed); gen 0 means
 * "empty" (userspace writes it zeroed), and XT_NH_GEN_BUSY "being written": a CPU owns the entry
 * (src/bpf/nexthop.h, cache_write). xt_route_gen takes neither value. */
struct xt_nexthop {
    __u8 dmac[6];
    __u8 smac[6];
    __u32 ifindex; /* egress */
    __u16 mtu;     /* the route's MTU, at most 0xffff: longer IP packets are passed up */
    __u8 flags;    /* XT_NH_* */
    /* 0: use this next hop. Else the pass reason (enum xt_stat) the binding's packets go up
     * under for this generation: userspace's answer that XDP cannot send them (forwarding off),
     * or XT_PASS_RESOLVING while its answer is awaited. */
    __u8 pass;
    __u32 gen;
};

#define XT_NH_TX_PORT  1 /* the egress interface is in tx_ports (a redirect target) */
#define XT_NH_GEN_BUSY 0xFFFFFFFFu

/* A next hop the program asks userspace for (ring buffer nh_requests): bpf_fib_lookup answered
 * that forwarding is off on the ingress interface. It names the binding whose value holds the
 * next hop (its map, by path counter; its key {ip, port, aux}, of the map's ingress family) and
 * the datagram to send there. One per binding and generation: the program marks the binding
 * XT_PASS_RESOLVING until the answer (or a new generation) comes. */
struct xt_nh_request {
    __u8 map;    /* enum xt_stat of the binding map, XT_C2P_44..XT_P2C_66 */
    __u8 family; /* of the datagram: XT_AF_INET, XT_AF_INET6 */
    __u8 tos;    /* its IPv4 TOS (policy routing); 0 for IPv6, as in the FIB lookup */
    __u8 pad;
    __be32 key_ip[4]; /* an IPv4 address in word 0, the rest zero */
    __be16 key_port;
    __be16 key_aux;
    __be32 saddr[4];
    __be32 daddr[4];
    __be16 sport;
    __be16 dport;
};

#define XT_NH_REQUESTS_BYTES (256 * 1024) /* ring buffer: about 3600 requests */

/* Values of the binding maps: the far side of the binding, the allocation's --max-bps bucket
 * (an index into map buckets; 0: none), then the cached next hop to the far side. The peer and
 * client variants have the same layout ({ip, port, aux}, bucket, nh). */
struct xt_to_peer4 {
    struct xt_peer4 peer;
    __u32 bucket;
    struct xt_nexthop nh;
#if XT_ABI_VERSION_BUMP
    __u32 abi_next; /* unused: only makes the layout another one */
#endif
};
struct xt_to_peer6 {
    struct xt_peer6 peer;
    __u32 bucket;
    struct xt_nexthop nh;
};
struct xt_to_client4 {
    struct xt_client4 client;
    __u32 bucket;
    struct xt_nexthop nh;
#if XT_ABI_VERSION_BUMP
    __u32 abi_next; /* unused: only makes the layout another one */
#endif
};
struct xt_to_client6 {
    struct xt_client6 client;
    __u32 bucket;
    struct xt_nexthop nh;
};

_Static_assert(sizeof(struct xt_to_peer4) == sizeof(struct xt_to_client4) &&
                   __builtin_offsetof(struct xt_to_peer4, bucket) ==
                       __builtin_offsetof(struct xt_to_client4, bucket) &&
                   __builtin_offsetof(struct xt_to_peer4, nh) ==
                       __builtin_offsetof(struct xt_to_client4, nh),
               "IPv4 binding values share a layout");
_Static_assert(sizeof(struct xt_to_peer6) == sizeof(struct xt_to_client6) &&
                   __builtin_offsetof(struct xt_to_peer6, bucket) ==
                       __builtin_offsetof(struct xt_to_client6, bucket) &&
                   __builtin_offsetof(struct xt_to_peer6, nh) ==
                       __builtin_offsetof(struct xt_to_client6, nh),
               "IPv6 binding values share a layout");

/* Value of the buckets map: an allocation's --max-bps state, the theoretical arrival time of
 * src/common/gcra.h (ns of CLOCK_MONOTONIC; 0: full). Userspace maps the array into memory and
 * takes from the same word for what it relays itself. */
struct xt_bucket {
    __u64 tat;
};

/* Key of the host_addrs map: an address of this host (family AF_INET (2) or AF_INET6 (10); an
 * IPv4 address in the first 4 bytes of ip, the rest and pad zero). */
struct xt_host_addr {
    __u8 family;
    __u8 pad[3];
    __u8 ip[16];
};

#define XT_HOST_ADDRS_MAX 4096

/* Maps, named by direction and (ingress family, egress family):
 *   c2p_44: xt_client4 -> xt_to_peer4    p2c_44: xt_peer4 -> xt_to_client4
 *   c2p_46: xt_client4 -> xt_to_peer6    p2c_46: xt_peer4 -> xt_to_client6
 *   c2p_64: xt_client6 -> xt_to_peer4    p2c_64: xt_peer6 -> xt_to_client4
 *   c2p_66: xt_client6 -> xt_to_peer6    p2c_66: xt_peer6 -> xt_to_client6
 * Same-family and cross-family bindings live in separate maps, so with cross_family = 0 the
 * cross maps still identify such packets (counted, passed to userspace).
 * buckets: ARRAY (BPF_F_MMAPABLE) __u32 -> xt_bucket, one per allocation with a mirrored
 *   channel (the binding values name theirs; index 0 is never given out), as many as a binding
 *   map holds plus one (1 when max_bps is 0: never used then). A binding without a bucket while
 *   max_bps is set is passed up (XT_PASS_NO_RATE): userspace enforces the limit.
 * tx_ports: DEVMAP_HASH ifindex -> ifindex of the interfaces xturn drives (redirect targets).
 * host_addrs: HASH xt_host_addr -> __u8 (unused, 1), XT_HOST_ADDRS_MAX entries: the host's own
 *   addresses, which no packet from outside may come from (the kernel would drop it as a martian
 *   source, XT_DROP_MARTIAN). Set by userspace with xdp_prog_set_host_addrs when the daemon
 *   starts and whenever the host's addresses change; the configured listen and relay addresses
 *   count as the host's whether they are in it or not.
 * nh_requests: RINGBUF of struct xt_nh_request, XT_NH_REQUESTS_BYTES, read by userspace.
 * stats: PERCPU_ARRAY of struct xt_counter indexed by enum xt_stat.
 * .bss xt_route_gen (__u32): the generation of the cached next hops (struct xt_nexthop); 0
 *   (before the loader sets it) turns the cache off. */

struct xt_counter {
    __u64 packets;
    __u64 bytes;
};

/* What a counter counts: a relayed path, the client-to-client pass (its packets also count in
 * two paths), a reason the packet went up to the kernel stack unchanged, or one it was dropped
 * for. */
enum xt_stat_class { XT_CLASS_PATH, XT_CLASS_SELF, XT_CLASS_PASS, XT_CLASS_DROP };

/* The counters, in index order: X(enum, name, class). The names are what `xturn stats`, the
 * logs and the metrics (pass and drop reasons without their "pass_"/"drop_") show: never renamed
 * nor reordered. Paths come first, by direction and (ingress, egress) family, as the binding
 * maps are (userspace indexes both alike). */
#define XT_STATS(X)                                                                                \
    X(XT_C2P_44, "c2p_44", XT_CLASS_PATH)                                                          \
    X(XT_C2P_46, "c2p_46", XT_CLASS_PATH)                                                          \
    X(XT_C2P_64, "c2p_64", XT_CLASS_PATH)                                                          \
    X(XT_C2P_66, "c2p_66", XT_CLASS_PATH)                                                          \
    X(XT_P2C_44, "p2c_44", XT_CLASS_PATH)                                                          \
    X(XT_P2C_46, "p2c_46", XT_CLASS_PATH)                                                          \
    X(XT_P2C_64, "p2c_64", XT_CLASS_PATH)                                                          \
    X(XT_P2C_66, "p2c_66", XT_CLASS_PATH)                                                          \
    /* client to client of this relay, in one pass (also counted in its two paths) */              \
    X(XT_C2C_SELF, "c2c_self", XT_CLASS_SELF)                                                      \
    /* not IPv4/IPv6 (ARP, ...) */                                                                 \
    X(XT_PASS_NOT_IP, "pass_not_ip", XT_CLASS_PASS)                                                \
    /* VLAN-tagged (802.1Q, 802.1ad): the kernel's VLAN device takes it */                         \
    X(XT_PASS_VLAN, "pass_vlan", XT_CLASS_PASS)                                                    \
    /* other protocols, IPv6 extension headers */                                                  \
    X(XT_PASS_NOT_UDP, "pass_not_udp", XT_CLASS_PASS)                                              \
    /* IPv4 with options */                                                                        \
    X(XT_PASS_IP_OPTIONS, "pass_ip_options", XT_CLASS_PASS)                                        \
    /* IPv4 fragments */                                                                           \
    X(XT_PASS_FRAGMENT, "pass_fragment", XT_CLASS_PASS)                                            \
    /* shorter than its headers say */                                                             \
    X(XT_PASS_TRUNCATED, "pass_truncated", XT_CLASS_PASS)                                          \
    /* UDP not to a listen or relay address:port */                                                \
    X(XT_PASS_NOT_RELAY, "pass_not_relay", XT_CLASS_PASS)                                          \
    /* to the listen port, not ChannelData: control traffic */                                     \
    X(XT_PASS_STUN, "pass_stun", XT_CLASS_PASS)                                                    \
    /* ChannelData for a channel not bound in the maps */                                          \
    X(XT_PASS_NO_CHANNEL, "pass_no_channel", XT_CLASS_PASS)                                        \
    /* to a relay port from a peer without a channel */                                            \
    X(XT_PASS_NO_PEER, "pass_no_peer", XT_CLASS_PASS)                                              \
    /* bound, but IPv4<->IPv6 translation is off */                                                \
    X(XT_PASS_CROSS_FAMILY, "pass_cross_family", XT_CLASS_PASS)                                    \
    /* IPv4 UDP without checksum that would leave as IPv6 */                                       \
    X(XT_PASS_ZERO_CSUM, "pass_zero_csum", XT_CLASS_PASS)                                          \
    /* the result would exceed the egress MTU */                                                   \
    X(XT_PASS_MTU, "pass_mtu", XT_CLASS_PASS)                                                      \
    /* next hop not resolved yet: the kernel resolves, userspace relays */                         \
    X(XT_PASS_NO_NEIGH, "pass_no_neigh", XT_CLASS_PASS)                                            \
    /* forwarding off: userspace resolves the next hop (rtnetlink) and relays meanwhile */         \
    X(XT_PASS_RESOLVING, "pass_resolving", XT_CLASS_PASS)                                          \
    /* no route, or another FIB failure */                                                         \
    X(XT_PASS_FIB, "pass_fib", XT_CLASS_PASS)                                                      \
    /* egress interface xturn does not drive */                                                    \
    X(XT_PASS_OTHER_IFACE, "pass_other_iface", XT_CLASS_PASS)                                      \
    /* more than 3 bytes after the ChannelData payload (userspace cuts) */                         \
    X(XT_PASS_PADDING, "pass_padding", XT_CLASS_PASS)                                              \
    /* bad IPv4 header checksum, or IPv6 UDP without checksum */                                   \
    X(XT_PASS_BAD_CSUM, "pass_bad_csum", XT_CLASS_PASS)                                            \
    /* max_bps set, and the binding has no bucket */                                               \
    X(XT_PASS_NO_RATE, "pass_no_rate", XT_CLASS_PASS)                                              \
    /* ChannelData length field larger than the datagram */                                        \
    X(XT_DROP_CD_LENGTH, "drop_cd_length", XT_CLASS_DROP)                                          \
    /* bpf_xdp_adjust_head/tail failed */                                                          \
    X(XT_DROP_ADJUST, "drop_adjust", XT_CLASS_DROP)                                                \
    /* over max_bps: the allocation's bucket (either one, relaying to self) */                     \
    X(XT_DROP_RATE, "drop_rate", XT_CLASS_DROP)                                                    \
    /* to us from a source the kernel would drop (loopback, multicast, ...) */                     \
    X(XT_DROP_MARTIAN, "drop_martian", XT_CLASS_DROP)                                              \
    /* TTL / hop limit 0: not relayed (RFC 8656 14) */                                             \
    X(XT_DROP_TTL, "drop_ttl", XT_CLASS_DROP)

#define XT_STAT_ENUM(e, name, cls) e,
enum xt_stat { XT_STATS(XT_STAT_ENUM) XT_STAT_COUNT };
#undef XT_STAT_ENUM

/* The counters' names in index order, "c2p_44,c2p_46,...,", after XT_STATS_TAG_PREFIX: a BTF tag
 * on the stats map (maps.h), which a live upgrade to another XT_ABI_VERSION reads to carry each
 * counter over to the one of the same name (xdp_stats_carry_map). */
#define XT_STATS_TAG_PREFIX       "xt_stats:"
#define XT_STAT_CSV(e, name, cls) name ","
#define XT_STATS_TAG              XT_STATS_TAG_PREFIX XT_STATS(XT_STAT_CSV)

/* The program tells the classes apart by position (xturn.bpf.c, relay.h is_path, consts.h):
 * the list must keep each class together, in this order. */
#define XT_STAT_CLASS_AT(s)                                                                        \
    ((s) < XT_C2C_SELF         ? XT_CLASS_PATH                                                     \
     : (s) == XT_C2C_SELF      ? XT_CLASS_SELF                                                     \
     : (s) < XT_DROP_CD_LENGTH ? XT_CLASS_PASS                                                     \
                               : XT_CLASS_DROP)
#define XT_STAT_CLASS_OK(e, name, cls) &&XT_STAT_CLASS_AT(e) == (cls)
_Static_assert(1 XT_STATS(XT_STAT_CLASS_OK), "counters: paths, c2c_self, pass, drop, in order");
#undef XT_STAT_CLASS_OK

#endif
