/* A consistent-enough copy of everything an operator watches, for the metrics endpoint. Taken
 * from any thread: worker counters are published under their own locks, the rest is read with
 * the locks or atomics that guard it. */
#ifndef XTURN_APP_SNAPSHOT_H
#define XTURN_APP_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "app/stream_counters.h"
#include "bpf/xdp_shared.h"
#include "turn/turn_server.h"

struct xturn_snapshot {
    int64_t start_time_unix; /* process start, seconds */
    bool draining;
    uint32_t workers;
    /* userspace, summed over the workers, by transport (only those on are shown) */
    bool transport_on[TURN_TRANSPORT_COUNT];
    struct turn_counters turn[TURN_TRANSPORT_COUNT];
    struct stream_counters streams[TURN_TRANSPORT_COUNT];
    uint64_t send_failures;
    uint64_t oversized; /* datagrams larger than the receive buffers */
    /* relay ports per family (0 IPv4, 1 IPv6): free of the configured range */
    uint32_t relay_ports_free[2];
    uint32_t relay_ports_total;
    bool relay_family[2]; /* that family is relayed */
    /* XDP (all zero unless xdp is set) */
    bool xdp;
    struct xt_counter xdp_stats[XT_STAT_COUNT];
    uint64_t xdp_bindings;     /* channels mirrored in the maps now */
    uint64_t xdp_map_full;     /* bindings that did not fit, total */
    uint64_t xdp_map_capacity; /* entries per map */
    uint64_t xdp_map_bytes;    /* kernel memory of the binding maps */
};

typedef void (*snapshot_fn)(void *ctx, struct xturn_snapshot *out);

#endif
