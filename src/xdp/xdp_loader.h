/* Userspace side of the XDP fast path: load the program with its configuration, attach it to
 * interfaces, mirror channel bindings into its maps, read its counters. */
#ifndef XTURN_XDP_LOADER_H
#define XTURN_XDP_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bpf/xdp_shared.h"
#include "common/addr.h"
#include "xdp/xdp_abi.h"

/* The loaded XDP program and its maps. */
struct xdp_prog;

enum xdp_mode { XDP_MODE_AUTO = 0, XDP_MODE_NATIVE, XDP_MODE_GENERIC };

struct xdp_options {
    struct xt_cfg cfg;    /* from xdp_abi_cfg; with cfg.max_bps (--max-bps) the program limits
                             each allocation through its bucket (xdp_prog_buckets) */
    uint32_t map_entries; /* capacity of each binding map; as many buckets, plus one */
};

/* Opens and loads (verifies) the program. NULL on failure with the reason in err. */
struct xdp_prog *xdp_prog_load(const struct xdp_options *opt, char *err, size_t errlen);
/* Attaches to an interface by name through a BPF link this process holds: the kernel detaches
 * the program when the process ends, however it ends. AUTO tries native, then generic (warning
 * logged). An xturn program found attached without a link (the leftover of an older xturn that
 * died) is detached first, with a warning; any other program there, or one a link holds, is an
 * error. Returns 0 or -1 with the reason in err. Interfaces attached are added to the redirect
 * devmap. */
int xdp_prog_attach(struct xdp_prog *prog, const char *ifname, enum xdp_mode mode, char *err,
                    size_t errlen);
/* Closes the links (which detaches the program from every interface) and frees everything. */
void xdp_prog_close(struct xdp_prog *prog);

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

/* Invalidates every next hop the program has cached in the binding maps (struct xt_nexthop):
 * each binding's next packet looks its route up again. For routing, neighbour, address and link
 * changes (xdp/route_watch.h), and periodically for what no event announces (path MTU). Call
 * from one thread. */
void xdp_prog_routes_changed(struct xdp_prog *prog);

/* Sums the per-CPU counters. out has XT_STAT_COUNT entries. */
int xdp_prog_stats(struct xdp_prog *prog, struct xt_counter *out);
/* The same from the fd of a stats map (also one found in another process's program). */
int xdp_stats_read_fd(int map_fd, struct xt_counter *out);
/* `xturn stats`: prints one JSON line with the counters of each xturn XDP program loaded on
 * this host (whichever process and namespace), or only of the one attached to ifname (in this
 * network namespace) when ifname is not NULL. Returns the number printed, or -errno. */
int xdp_stats_print_running(FILE *out, const char *ifname);
/* Memory the kernel accounts to the binding maps and the rate map, in bytes. */
unsigned long long xdp_prog_map_memory(const struct xdp_prog *prog);

/* Program fd, for bpf_prog_test_run_opts in tests. */
int xdp_prog_fd(const struct xdp_prog *prog);

#endif
