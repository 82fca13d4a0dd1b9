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

#define XDP_MAX_IFACES    64 /* tx_ports' capacity in the program */
#define XDP_HANDOVER_MAPS 32
#define XDP_MAP_NAME_LEN  64

/* The program's maps and links as a live upgrade hands them to the next process: each map by its
 * name in the skeleton, each link attaching it to an interface. fd: a descriptor, or its index in
 * the upgrade's list of passed descriptors. abi: the passing build's XT_ABI_VERSION (not in the
 * manifest: the receiver sets it from the snapshot); the maps are reused only when it is this
 * build's. */
struct xdp_handover {
    unsigned abi;
    /* Set by the receiver without the capabilities to load a program (privileges dropped): of
     * the same abi, the previous process's program runs on, on its maps; the links are taken
     * over as they are. */
    bool keep_program;
    size_t nmaps, nlinks;
    struct {
        char name[XDP_MAP_NAME_LEN];
        int fd;
    } maps[XDP_HANDOVER_MAPS];
    int links[XDP_MAX_IFACES];
};

struct xdp_options {
    struct xt_cfg cfg;    /* from xdp_abi_cfg; with cfg.max_bps (--max-bps) the program limits
                             each allocation through its bucket (xdp_prog_buckets) */
    uint32_t map_entries; /* capacity of each binding map; as many buckets, plus one */
    /* A live upgrade's: of this XT_ABI_VERSION, every map of the program is that map (the same
     * name), bindings and counters included, instead of a new one; of another (or NULL): new
     * maps. */
    const struct xdp_handover *reuse;
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
/* Takes over the interfaces ifnames[n] from the previous process of a live upgrade: the link of
 * h->links (descriptors) attaching its program to each now runs this one, atomically
 * (bpf_link_update: no packet meets no program; each runs on the old program and maps or on the
 * new ones). Every interface is checked (a link passed for it) and put in the redirect devmap
 * before the first link switches. The links switched are this process's (-1 in h: the caller
 * forgets them). No leftover is looked for: the program there is the link's, the one taken over.
 * 0, or -1 with the reason in err (then only a bpf_link_update after others can have left some
 * switched). */
int xdp_prog_adopt(struct xdp_prog *prog, char *const *ifnames, size_t n, struct xdp_handover *h,
                   char *err, size_t errlen);
/* The program's maps and links for a live upgrade (descriptors this process keeps: the next
 * process gets copies). 0, or -ENOSPC with more maps than XDP_HANDOVER_MAPS. */
int xdp_prog_export(const struct xdp_prog *prog, struct xdp_handover *out);
/* Closes the links (which detaches the program from every interface) and frees everything. */
void xdp_prog_close(struct xdp_prog *prog);

/* Program fd, for bpf_prog_test_run_opts in tests. */
int xdp_prog_fd(const struct xdp_prog *prog);

#endif
