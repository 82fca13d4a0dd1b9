/* The loaded program's maps from userspace: channel bindings, the --max-bps buckets, the host's
 * addresses, the memory they take. (The next hops it caches: xdp_nexthop.h.) */
#ifndef XTURN_XDP_XDP_MAPS_H
#define XTURN_XDP_XDP_MAPS_H

#include <stddef.h>
#include <stdint.h>

#include "bpf/xdp_shared.h"
#include "common/addr.h"

struct xdp_prog;

/* One channel binding: client (transport address + channel) <-> peer (transport address) via
 * the allocation's relay port of the peer's family, drawing from the allocation's --max-bps
 * bucket (an index into xdp_prog_buckets; 0: none, which with cfg.max_bps passes the binding's
 * packets to userspace). Inserts both directions. Returns 0, -ENOSPC when a map is full (nothing
 * inserted), -ERANGE for a bucket beyond the array, or another -errno. */
int xdp_prog_bind(struct xdp_prog *prog, const struct xt_addr *client, uint16_t channel,
                  const struct xt_addr *peer, uint16_t relay_port, uint32_t bucket);
/* Removes both directions (missing entries are not an error). */
int xdp_prog_unbind(struct xdp_prog *prog, const struct xt_addr *client, uint16_t channel,
                    const struct xt_addr *peer, uint16_t relay_port);

/* The --max-bps buckets, mapped into this process's memory: *n of them, index 0 never named by a
 * binding (with cfg.max_bps 0, *n is 1). The program and userspace take from the same words
 * (src/common/gcra.h); who owns which index is the caller's business. */
struct xt_bucket *xdp_prog_buckets(struct xdp_prog *prog, uint32_t *n);

/* The host's own addresses (family and ip of each; ports ignored, duplicates allowed): the
 * program drops packets to the relay from them, as the kernel drops martian sources
 * (XT_DROP_MARTIAN). The map is made to hold exactly this set: the missing are added, the gone
 * deleted. Call at start and whenever the host's addresses change; the configured listen and
 * relay addresses are the host's without it. Returns 0, -ENOSPC with more than
 * XT_HOST_ADDRS_MAX distinct addresses (nothing changed), -EAFNOSUPPORT, or another -errno. */
int xdp_prog_set_host_addrs(struct xdp_prog *prog, const struct xt_addr *addrs, size_t n);

/* Memory the kernel accounts to the binding maps and the rate map, in bytes. */
unsigned long long xdp_prog_map_memory(const struct xdp_prog *prog);

#endif
