/* The program's state: its .rodata configuration, its maps (list and key/value types in
 * xdp_shared.h) and the counter helper. The loader sets the configuration and the capacity of
 * the binding maps (bpf_map__set_max_entries) through the skeleton before load. */
#ifndef XTURN_BPF_MAPS_H
#define XTURN_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpf/consts.h"
#include "bpf/xdp_shared.h"

/* Frozen after load: the verifier sees the values, unused branches are dead code. */
const volatile struct xt_cfg xt_cfg = {};

#define XT_MAP_DEFAULT_ENTRIES 1024
#define XT_TX_PORTS_MAX        64

/* Not preallocated: eight maps sized for the largest deployment would otherwise pin memory for
 * family pairs that may never be used; entries are allocated when userspace binds. */
#define XT_BINDING_MAP(name, key_t, value_t)                                                       \
    struct {                                                                                       \
        __uint(type, BPF_MAP_TYPE_HASH);                                                           \
        __uint(map_flags, BPF_F_NO_PREALLOC);                                                      \
        __uint(max_entries, XT_MAP_DEFAULT_ENTRIES);                                               \
        __type(key, key_t);                                                                        \
        __type(value, value_t);                                                                    \
    } name SEC(".maps")

/* Client -> peer: (client, channel) -> (peer, relay port) and the next hop to the peer. */
XT_BINDING_MAP(c2p_44, struct xt_client4, struct xt_to_peer4);
XT_BINDING_MAP(c2p_46, struct xt_client4, struct xt_to_peer6);
XT_BINDING_MAP(c2p_64, struct xt_client6, struct xt_to_peer4);
XT_BINDING_MAP(c2p_66, struct xt_client6, struct xt_to_peer6);
/* Peer -> client: (peer, relay port) -> (client, channel) and the next hop to the client. */
XT_BINDING_MAP(p2c_44, struct xt_peer4, struct xt_to_client4);
XT_BINDING_MAP(p2c_46, struct xt_peer4, struct xt_to_client6);
XT_BINDING_MAP(p2c_64, struct xt_peer6, struct xt_to_client4);
XT_BINDING_MAP(p2c_66, struct xt_peer6, struct xt_to_client6);

/* Generation of the next hops cached in the binding values (struct xt_nexthop): userspace
 * bumps it through the skeleton's mmapped .bss when routes, neighbours, addresses or links
 * change. Read once per packet: a plain load. */
__u32 xt_route_gen = 0;

/* --max-bps state by allocation (xdp_shared.h, struct xt_bucket). The loader sizes it and maps
 * it into userspace memory, where the daemon takes from the same words. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct xt_bucket);
} buckets SEC(".maps");

/* The host's own addresses (martian sources, with the configured ones: relay.h). Preallocated:
 * small, and looked up for every packet to us. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, XT_HOST_ADDRS_MAX);
    __type(key, struct xt_host_addr);
    __type(value, __u8);
} host_addrs SEC(".maps");

/* Interfaces the program is attached to: redirect targets (ifindex -> ifindex). */
struct {
    __uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
    __uint(max_entries, XT_TX_PORTS_MAX);
    __type(key, __u32);
    __type(value, __u32);
} tx_ports SEC(".maps");

/* Next hops the program asks userspace for, where forwarding is off (struct xt_nh_request). */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, XT_NH_REQUESTS_BYTES);
} nh_requests SEC(".maps");

/* Tagged with the counters' names: a live upgrade to another build carries them over by name. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, XT_STAT_COUNT);
    __type(key, __u32);
    __type(value, struct xt_counter);
} stats SEC(".maps") __attribute__((btf_decl_tag(XT_STATS_TAG)));

static __always_inline void xt_count(__u32 stat, __u64 bytes)
{
    struct xt_counter *c = bpf_map_lookup_elem(&stats, &stat);

    if (c) {
        c->packets++;
        c->bytes += bytes;
    }
}

#endif
