/* Loads the XDP program (src/bpf/) with its configuration and attaches it to interfaces; its
 * maps are xdp_maps.h's, its counters xdp_stats.h's, its configuration is packed by
 * xdp_abi.h. */
#ifndef XTURN_XDP_LOADER_H
#define XTURN_XDP_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/xdp_shared.h"

/* The loaded XDP program and its maps. */
struct xdp_prog;

/* Where the kernel runs the program on an interface: in the driver (native), or on the generic
 * path once the stack has built an skb (slower, any interface). */
enum xdp_attach_mode { XDP_ATTACH_NATIVE, XDP_ATTACH_GENERIC };

struct xdp_options {
    struct xt_cfg cfg;    /* from xdp_abi_cfg; with cfg.max_bps (--max-bps) the program limits
                             each allocation through its bucket (xdp_prog_buckets) */
    uint32_t map_entries; /* capacity of each binding map; as many buckets, plus one */
};

/* Opens and loads (verifies) the program. NULL on failure with the reason in err. */
struct xdp_prog *xdp_prog_load(const struct xdp_options *opt, char *err, size_t errlen);
/* Attaches to an interface by name through a BPF link this process holds: the kernel detaches
 * the program when the process ends, however it ends. With fallback_generic, a failed native
 * attach is tried again in generic mode (warning logged). An xturn program found attached without a
 * link (the leftover of an older xturn that died) is detached first, with a warning; any other
 * program there, or one a link holds, is an error. Returns 0 or -1 with the reason in err.
 * Interfaces attached are added to the redirect devmap. */
int xdp_prog_attach(struct xdp_prog *prog, const char *ifname, enum xdp_attach_mode mode,
                    bool fallback_generic, char *err, size_t errlen);
/* Closes the links (which detaches the program from every interface) and frees everything. */
void xdp_prog_close(struct xdp_prog *prog);

/* Program fd, for bpf_prog_test_run_opts in tests. */
int xdp_prog_fd(const struct xdp_prog *prog);

#endif
