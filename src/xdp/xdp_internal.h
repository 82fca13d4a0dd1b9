/* The loaded program's state, shared by the files of src/xdp/ (loader, maps, counters) and by no
 * one else: users see struct xdp_prog only as a pointer. Includes the generated skeleton. */
#ifndef XTURN_XDP_XDP_INTERNAL_H
#define XTURN_XDP_XDP_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/xdp_shared.h"
#include "xdp/xdp_loader.h"
#include "xturn.skel.h"

#define BINDING_MAPS 8

struct xdp_iface {
    int ifindex;
    int link_fd; /* the BPF link attaching the program: held only by this process */
};

struct xdp_prog {
    struct xturn_bpf *skel;
    struct xt_cfg cfg;
    /* Held while a binding's values are written: by the workers' bind and unbind, and by the
     * next hops userspace answers (xdp_nexthop.c), which read a value and write it back whole. */
    pthread_mutex_t bindings_lock;
    struct xt_bucket *buckets; /* map buckets, mapped into memory */
    size_t buckets_size;
    void *bss; /* a kept program's .bss, mapped here (a loaded one's is libbpf's) */
    size_t bss_size;
    bool kept; /* a live upgrade's: the previous process's program runs on, not loaded here */
    uint32_t nbuckets;
    struct xdp_iface ifaces[XDP_MAX_IFACES];
    int n_ifaces;
};

/* The descriptor of the map a live upgrade passed under name, or -1. */
int xdp_handover_map(const struct xdp_handover *h, const char *name);

/* The binding maps by index, in the order of their path counters (xdp_abi_path). */
static inline struct bpf_map *binding_maps(struct xturn_bpf *s, int i)
{
    struct bpf_map *m[] = {s->maps.c2p_44, s->maps.c2p_46, s->maps.c2p_64, s->maps.c2p_66,
                           s->maps.p2c_44, s->maps.p2c_46, s->maps.p2c_64, s->maps.p2c_66};
    return m[i];
}

#endif
