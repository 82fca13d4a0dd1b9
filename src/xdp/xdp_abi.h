/* The contract between the XDP program and userspace, userspace's side, in one place: how the
 * daemon's addresses and limits become the program's configuration (struct xt_cfg), how a
 * channel binding becomes keys and values of its maps, which map and counter a direction and
 * pair of families is, and what each counter is called. The daemon, the unit tests, the fuzzer
 * and the tools all go through these functions. The types are src/bpf/xdp_shared.h's. Pure: no
 * libbpf, no system calls. */
#ifndef XTURN_XDP_XDP_ABI_H
#define XTURN_XDP_XDP_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/xdp_shared.h"
#include "common/addr.h"

/* The program's name in the kernel (bpf_prog_info.name): how xturn recognizes its own. */
#define XDP_PROG_NAME "xturn_xdp"

/* ---- configuration ---- */

/* What the program is configured with, in the daemon's terms. */
struct xdp_abi_settings {
    /* The program serves the first address of each family in each list (their other addresses
     * are left to userspace); a relay address's port is not used. */
    const struct xt_addr *listen;
    size_t nlisten;
    const struct xt_addr *relay; /* where relay sockets bind (never the public address) */
    size_t nrelay;
    uint16_t relay_port_lo, relay_port_hi; /* --relay-ports, inclusive */
    bool strict_channel_range;             /* channels 0x4000-0x4FFF, else 0x4000-0x7FFF */
    bool cross_family;                     /* translate IPv4<->IPv6 */
    uint64_t max_bps;                      /* per allocation, 0: unlimited */
};

/* The program's .rodata configuration (network byte order where xdp_shared.h says so). */
struct xt_cfg xdp_abi_cfg(const struct xdp_abi_settings *s);
/* Whether the program serves clients of this listen address (address and port). */
bool xdp_abi_serves_listen(const struct xt_cfg *k, const struct xt_addr *local);
/* Whether the program has a listen or relay address of this family (AF_INET, AF_INET6). */
bool xdp_abi_serves_family(const struct xt_cfg *k, int family);

/* ---- binding maps and path counters ---- */

enum xdp_abi_dir { XDP_ABI_TO_PEER, XDP_ABI_TO_CLIENT };

/* The index of an address family in map and counter names: 0 for AF_INET ("4"), 1 for AF_INET6
 * ("6"), -1 for any other. */
int xdp_abi_family(int af);

/* The path a binding's packets take in direction dir, by the family indices of client and peer:
 * its counter, c2p_<client><peer> or p2c_<peer><client>. The eight binding maps are named and
 * ordered as these counters, so it is the index of the map too. */
enum xt_stat xdp_abi_path(enum xdp_abi_dir dir, int client_family, int peer_family);

/* Keys and values of the binding maps, of either family. Keys, client or peer, have the layout
 * {ip, port, aux}; values add the allocation's bucket and the next-hop cache. */
union xdp_abi_key {
    struct xt_client4 c4;
    struct xt_client6 c6;
    struct xt_peer4 p4;
    struct xt_peer6 p6;
};

union xdp_abi_value {
    struct xt_to_peer4 p4;
    struct xt_to_peer6 p6;
    struct xt_to_client4 c4;
    struct xt_to_client6 c6;
};

/* One channel binding as the maps hold it, both directions: client (address, channel) -> peer
 * in map c2p, peer (address, relay port) -> client in map p2c. */
struct xdp_abi_binding {
    enum xt_stat c2p, p2c; /* the maps, by index (xdp_abi_path) */
    union xdp_abi_key c2p_key, p2c_key;
    union xdp_abi_value c2p_value, p2c_value; /* next-hop caches empty: the program fills them */
    size_t c2p_key_size, p2c_key_size, c2p_value_size, p2c_value_size;
};

/* Packs a binding: the client's transport address and channel, the peer's, the allocation's
 * relay port of the peer's family and --max-bps bucket. 0, or -EAFNOSUPPORT. */
int xdp_abi_binding(struct xdp_abi_binding *b, const struct xt_addr *client, uint16_t channel,
                    const struct xt_addr *peer, uint16_t relay_port, uint32_t bucket);

/* The host_addrs key of a's address (the port left out). 0, or -EAFNOSUPPORT. */
int xdp_abi_host_key(struct xt_host_addr *k, const struct xt_addr *a);

/* ---- next hops resolved by userspace (forwarding off) ---- */

/* A request of the program for a binding's next hop (struct xt_nh_request), unpacked: the
 * binding's map and key, and the datagram that goes there. */
struct xdp_abi_nh_request {
    enum xt_stat map; /* XT_C2P_44..XT_P2C_66 (xdp_abi_path) */
    union xdp_abi_key key;
    size_t key_size, value_size;
    struct xt_addr src, dst; /* the datagram's addresses and ports */
    uint8_t tos;             /* IPv4 TOS; 0 for IPv6 */
};

/* Unpacks a record of the ring buffer: 0, or -EINVAL when it is not a request. */
int xdp_abi_nh_request(struct xdp_abi_nh_request *out, const void *rec, size_t len);

/* Userspace's answer: the next hop (egress interface, MACs, MTU, whether the interface is a
 * redirect target), or pass, a pass reason under which the binding's packets go up. */
struct xdp_abi_hop {
    uint32_t ifindex;
    uint8_t dmac[6], smac[6];
    uint32_t mtu; /* kept to 0xffff */
    bool tx_port;
    enum xt_stat pass; /* 0: none (0 is a path, never a pass reason) */
};

/* The answer as the binding's cache holds it, valid under generation gen. */
struct xt_nexthop xdp_abi_nexthop(const struct xdp_abi_hop *h, uint32_t gen);
/* The next hop in a value of the binding map map (its layout: the map's egress family). */
struct xt_nexthop *xdp_abi_value_nexthop(union xdp_abi_value *v, enum xt_stat map);

/* ---- counters (XT_STATS in xdp_shared.h) ---- */

/* A counter's name for logs, `xturn stats` and metrics, e.g. "c2p_44", "pass_no_channel"
 * ("unknown" beyond the list). */
const char *xdp_stat_name(enum xt_stat s);
/* What counter s (< XT_STAT_COUNT) counts: a path, c2c_self, a pass or a drop reason. */
enum xt_stat_class xdp_stat_class(enum xt_stat s);
/* A pass or drop reason's name without its class ("no_channel" for pass_no_channel), for the
 * metrics' reason label; the name of any other counter. */
const char *xdp_stat_reason(enum xt_stat s);

#endif
