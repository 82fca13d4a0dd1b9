/* Loader of the XDP fast path: the libbpf skeleton of src/bpf/xturn.bpf.c, configured through
 * .rodata and map sizes before load; attached through BPF links, which the kernel detaches when
 * their last fd closes (exit, crash or SIGKILL alike). */
#include "xdp/xdp_loader.h"

#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/log.h"
#include "xdp/xdp_abi.h"
#include "xdp/xdp_internal.h"
#include "xdp/xdp_log.h"

#define XDP_DEFAULT_ENTRIES 65536

/* ---- load, attach, close ---- */

/* The buckets map in this process's memory: userspace takes from the words the program does. */
/* The first size bytes of a mappable map, shared with the kernel, rounded up to pages: the
 * mapping, or MAP_FAILED. */
static void *map_shared(const struct bpf_map *map, size_t size, size_t *mapped)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    *mapped = (size + page - 1) / page * page;
    return mmap(NULL, *mapped, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);
}

static int map_buckets(struct xdp_prog *prog)
{
    void *p = map_shared(prog->skel->maps.buckets,
                         (size_t)prog->nbuckets * sizeof(struct xt_bucket), &prog->buckets_size);

    if (p == MAP_FAILED)
        return -errno;
    prog->buckets = p;
    return 0;
}

/* A program kept running (not loaded here): its .bss as libbpf maps it for a loaded one. */
static int map_bss(struct xdp_prog *prog)
{
    void *p = map_shared(prog->skel->maps.bss, bpf_map__value_size(prog->skel->maps.bss),
                         &prog->bss_size);

    if (p == MAP_FAILED)
        return -errno;
    prog->bss = p;
    prog->skel->bss = p;
    return 0;
}

int xdp_handover_map(const struct xdp_handover *h, const char *name)
{
    for (size_t i = 0; i < h->nmaps; i++)
        if (strcmp(h->maps[i].name, name) == 0)
            return h->maps[i].fd;
    return -1;
}

/* Every map of the skeleton made the previous process's map of the same name (before load). 0, or
 * -errno with the map named in what. */
static int reuse_maps(struct xdp_prog *prog, const struct xdp_handover *h, char *what,
                      size_t whatlen)
{
    struct bpf_map *map;
    int rc = 0;

    bpf_object__for_each_map(map, prog->skel->obj)
    {
        const char *name = bpf_map__name(map);
        int fd = xdp_handover_map(h, name);

        rc = fd >= 0 ? bpf_map__reuse_fd(map, fd) : -ENOENT;
        if (rc) {
            snprintf(what, whatlen, "map %s of the previous process%s", name,
                     rc == -ENOENT ? " not passed" : "");
            return rc;
        }
    }
    return 0;
}

struct xdp_prog *xdp_prog_load(const struct xdp_options *opt, char *err, size_t errlen)
{
    struct xdp_prog *prog = calloc(1, sizeof(*prog));
    uint32_t entries = opt->map_entries ? opt->map_entries : XDP_DEFAULT_ENTRIES;
    bool reuse = opt->reuse && opt->reuse->abi == XT_ABI_VERSION;
    bool keep = reuse && opt->reuse->keep_program;
    libbpf_print_fn_t prev;
    char what[128] = "";
    int rc = 0;

    if (!prog) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&prog->bindings_lock, NULL);
    prev = xdp_log_begin();
    prog->skel = xturn_bpf__open();
    if (!prog->skel) {
        rc = -errno;
        goto fail;
    }
    prog->cfg = opt->cfg;
    prog->skel->rodata->xt_cfg = opt->cfg;
    for (int i = 0; i < BINDING_MAPS && rc == 0; i++)
        rc = bpf_map__set_max_entries(binding_maps(prog->skel, i), entries);
    /* one bucket per allocation a binding map could name, index 0 unused; never used without
     * max_bps: the smallest map */
    prog->nbuckets = opt->cfg.max_bps ? entries + 1 : 1;
    if (rc == 0)
        rc = bpf_map__set_max_entries(prog->skel->maps.buckets, prog->nbuckets);
    if (rc == 0 && reuse)
        rc = reuse_maps(prog, opt->reuse, what, sizeof(what));
    if (rc == 0)
        rc = keep ? map_bss(prog) : xturn_bpf__load(prog->skel);
    if (rc == 0)
        rc = map_buckets(prog);
    prog->kept = keep;
    if (rc)
        goto fail;
    xdp_log_end(prev);
    /* Turns the next-hop cache on (0 keeps it off); a reused .bss goes on with its generation
     * (going back could make stale next hops current again). */
    if (!reuse)
        __atomic_store_n(&prog->skel->bss->xt_route_gen, 1, __ATOMIC_RELEASE);
    return prog;

fail:
    xdp_log_end(prev);
    {
        char tail[1024];

        xdp_log_summary(tail, sizeof(tail));
        snprintf(err, errlen, "loading the XDP program failed: %s%s%s%s%s", what,
                 what[0] ? ": " : "", strerror(-rc), tail[0] ? ": " : "", tail);
    }
    xturn_bpf__destroy(prog->skel);
    pthread_mutex_destroy(&prog->bindings_lock);
    free(prog);
    return NULL;
}

int xdp_prog_fd(const struct xdp_prog *prog)
{
    return bpf_program__fd(prog->skel->progs.xturn_xdp);
}

/* A link fd, or -errno. The link is the process's: nothing detaches it but its last close. */
static int attach_mode(struct xdp_prog *prog, int ifindex, uint32_t flags)
{
    LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);

    return bpf_link_create(xdp_prog_fd(prog), ifindex, BPF_XDP, &opts);
}

/* bpf() has no extended ack: what netlink would have said for the errors an attach meets. */
static const char *attach_hint(int rc)
{
    switch (rc) {
    case -EOPNOTSUPP:
        return ": the driver does not support XDP in this mode";
    case -EBUSY:
    case -EEXIST:
        return ": another XDP program is attached";
    default:
        return "";
    }
}

/* An XDP program already on the interface (native or generic mode). A leftover of an older xturn
 * that attached by netlink and died without detaching would relay for allocations that no longer
 * exist: it is removed (that program only), with a warning. Anything else is refused: another
 * program, or an xturn holding the interface through its link (a running one). */
static int clear_leftover(const char *ifname, int ifindex, char *err, size_t errlen)
{
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    LIBBPF_OPTS(bpf_xdp_attach_opts, only);
    struct bpf_prog_info info;
    uint32_t len = sizeof(info), id, mode;
    char why[512];
    int fd, rc;

    rc = bpf_xdp_query(ifindex, 0, &q);
    if (rc) {
        snprintf(err, errlen, "%s: querying its XDP program failed: %s", ifname, strerror(-rc));
        return -1;
    }
    id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
    if (id == 0)
        return 0;
    mode = q.drv_prog_id ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
    fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) {
        snprintf(err, errlen,
                 "%s: another XDP program (id %u) is attached; telling whether it is an xturn "
                 "leftover failed: %s%s",
                 ifname, id, strerror(-fd), fd == -EPERM ? " (needs CAP_SYS_ADMIN)" : "");
        return -1;
    }
    memset(&info, 0, sizeof(info));
    rc = bpf_obj_get_info_by_fd(fd, &info, &len);
    if (rc || strcmp(info.name, XDP_PROG_NAME) != 0) {
        snprintf(err, errlen, "%s: another XDP program is attached (id %u, name %s)", ifname, id,
                 rc ? "unknown" : info.name);
        close(fd);
        return -1;
    }
    /* Only that program: XDP_FLAGS_REPLACE with its fd. The kernel refuses (EBUSY) to detach one
     * a link holds. */
    only.old_prog_fd = fd;
    rc = bpf_xdp_detach(ifindex, mode | XDP_FLAGS_REPLACE, &only);
    close(fd);
    if (rc == -EBUSY) {
        snprintf(err, errlen,
                 "%s: another program holds the interface: xturn XDP program id %u, attached "
                 "through a BPF link (another xturn is running)",
                 ifname, id);
        return -1;
    }
    if (rc) {
        xdp_log_summary(why, sizeof(why));
        snprintf(err, errlen, "%s: removing the leftover xturn XDP program (id %u) failed: %s%s%s",
                 ifname, id, strerror(-rc), why[0] ? ": " : "", why);
        return -1;
    }
    xt_log(LOG_WARN,
           "removed a leftover xturn XDP program (attached without a link by an xturn that did "
           "not exit cleanly)",
           "interface", ifname, XT_NUM("program_id", id), NULL);
    return 0;
}

/* bpf_fib_lookup answers BPF_FIB_LKUP_RET_FWD_DISABLED unless forwarding is on for the ingress
 * interface, whatever its flags: the program then asks userspace for next hops (xdp_nexthop.h).
 * Said once at start, since it costs each binding's first packets of every generation a trip
 * through userspace. */
static void log_forwarding(const struct xdp_prog *prog, const char *ifname)
{
    const char *fam[2] = {"ipv4", "ipv6"};
    bool served[2] = {xdp_abi_serves_family(&prog->cfg, AF_INET),
                      xdp_abi_serves_family(&prog->cfg, AF_INET6)};

    for (int i = 0; i < 2; i++) {
        char path[128];
        int c = EOF;
        FILE *f;

        if (!served[i])
            continue;
        snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/forwarding", fam[i], ifname);
        f = fopen(path, "r");
        if (f) {
            c = fgetc(f);
            fclose(f);
        }
        if (c == '0')
            xt_log(LOG_INFO,
                   "forwarding is off: XDP next hops are resolved by xturn over rtnetlink, not by "
                   "bpf_fib_lookup",
                   "interface", ifname, "sysctl", path + strlen("/proc/sys/"), NULL);
    }
}

static bool has_iface(const struct xdp_prog *prog, int ifindex)
{
    for (int i = 0; i < prog->n_ifaces; i++)
        if (prog->ifaces[i].ifindex == ifindex)
            return true;
    return false;
}

/* An interface the program is attached to through link_fd: into the redirect devmap and the list
 * of links. 0 or -errno. */
static int add_iface(struct xdp_prog *prog, int ifindex, int link_fd)
{
    uint32_t key = (uint32_t)ifindex;
    int rc = bpf_map__update_elem(prog->skel->maps.tx_ports, &key, sizeof(key), &key, sizeof(key),
                                  BPF_ANY);

    if (rc)
        return rc;
    prog->ifaces[prog->n_ifaces].ifindex = ifindex;
    prog->ifaces[prog->n_ifaces].link_fd = link_fd;
    prog->n_ifaces++;
    return 0;
}

int xdp_prog_attach(struct xdp_prog *prog, const char *ifname, enum xdp_attach_mode mode,
                    bool fallback_generic, char *err, size_t errlen)
{
    int ifindex = (int)if_nametoindex(ifname);
    libbpf_print_fn_t prev;
    uint32_t flags;
    int rc, link_fd;

    if (ifindex == 0) {
        snprintf(err, errlen, "%s: %s", ifname, strerror(errno));
        return -1;
    }
    if (has_iface(prog, ifindex)) {
        snprintf(err, errlen, "%s: already attached", ifname);
        return -1;
    }
    if (prog->n_ifaces == XDP_MAX_IFACES) {
        snprintf(err, errlen, "%s: more than %d interfaces", ifname, XDP_MAX_IFACES);
        return -1;
    }

    prev = xdp_log_begin();
    rc = clear_leftover(ifname, ifindex, err, errlen);
    xdp_log_end(prev);
    if (rc)
        return -1;
    flags = mode == XDP_ATTACH_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
    rc = attach_mode(prog, ifindex, flags);
    if (rc < 0 && flags == XDP_FLAGS_DRV_MODE && fallback_generic) {
        char why[128];

        snprintf(why, sizeof(why), "%s%s", strerror(-rc), attach_hint(rc));
        xt_log(LOG_WARN, "native XDP not available, using generic XDP (slower)", "interface",
               ifname, "reason", why, NULL);
        flags = XDP_FLAGS_SKB_MODE;
        rc = attach_mode(prog, ifindex, flags);
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: attaching XDP (%s mode) failed: %s%s", ifname,
                 flags == XDP_FLAGS_SKB_MODE ? "generic" : "native", strerror(-rc),
                 attach_hint(rc));
        return -1;
    }
    link_fd = rc;
    rc = add_iface(prog, ifindex, link_fd);
    if (rc) {
        close(link_fd);
        snprintf(err, errlen, "%s: adding to the redirect map failed: %s", ifname, strerror(-rc));
        return -1;
    }
    log_forwarding(prog, ifname);
    return 0;
}

/* The index in h->links of the link attaching a program to ifindex, or -1. */
static int find_link(const struct xdp_handover *h, int ifindex)
{
    for (size_t i = 0; i < h->nlinks; i++) {
        struct bpf_link_info info;
        uint32_t len = sizeof(info);

        memset(&info, 0, sizeof(info));
        if (h->links[i] >= 0 && bpf_obj_get_info_by_fd(h->links[i], &info, &len) == 0 &&
            info.type == BPF_LINK_TYPE_XDP && (int)info.xdp.ifindex == ifindex)
            return (int)i;
    }
    return -1;
}

int xdp_prog_adopt(struct xdp_prog *prog, char *const *ifnames, size_t n, struct xdp_handover *h,
                   char *err, size_t errlen)
{
    int first = prog->n_ifaces, which[XDP_MAX_IFACES], rc = 0;
    size_t i, switched;

    if (n > (size_t)(XDP_MAX_IFACES - first)) {
        snprintf(err, errlen, "more than %d interfaces", XDP_MAX_IFACES);
        return -1;
    }
    /* Every check, and the redirect devmap, before the first link switches. */
    for (i = 0; i < n && rc == 0; i++) {
        int ifindex = (int)if_nametoindex(ifnames[i]);

        which[i] = ifindex ? find_link(h, ifindex) : -1;
        rc = -1;
        if (ifindex == 0)
            snprintf(err, errlen, "%s: %s", ifnames[i], strerror(errno));
        else if (has_iface(prog, ifindex))
            snprintf(err, errlen, "%s: already attached", ifnames[i]);
        else if (which[i] < 0)
            snprintf(err, errlen, "%s: the previous process passed no XDP link for it", ifnames[i]);
        else if ((rc = add_iface(prog, ifindex, h->links[which[i]])) != 0)
            snprintf(err, errlen, "%s: adding to the redirect map failed: %s", ifnames[i],
                     strerror(-rc));
    }
    for (switched = 0; switched < n && rc == 0; switched++) {
        /* Kept: the links go on running the program they run. */
        rc = prog->kept ? 0 : bpf_link_update(h->links[which[switched]], xdp_prog_fd(prog), NULL);
        if (rc) {
            snprintf(err, errlen, "%s: taking over the previous process's XDP link failed: %s",
                     ifnames[switched], strerror(-rc));
            break;
        }
        h->links[which[switched]] = -1;
        log_forwarding(prog, ifnames[switched]);
    }
    /* Only the links switched are this process's; the others stay the caller's (the manifest
     * closes them). */
    prog->n_ifaces = first + (int)switched;
    return rc ? -1 : 0;
}

int xdp_prog_export(const struct xdp_prog *prog, struct xdp_handover *out)
{
    struct bpf_map *map;

    memset(out, 0, sizeof(*out));
    bpf_object__for_each_map(map, prog->skel->obj)
    {
        if (out->nmaps == XDP_HANDOVER_MAPS)
            return -ENOSPC;
        snprintf(out->maps[out->nmaps].name, XDP_MAP_NAME_LEN, "%s", bpf_map__name(map));
        out->maps[out->nmaps++].fd = bpf_map__fd(map);
    }
    for (int i = 0; i < prog->n_ifaces; i++)
        out->links[out->nlinks++] = prog->ifaces[i].link_fd;
    return 0;
}

void xdp_prog_close(struct xdp_prog *prog)
{
    if (!prog)
        return;
    /* The last close of a link detaches its program. */
    for (int i = 0; i < prog->n_ifaces; i++)
        close(prog->ifaces[i].link_fd);
    if (prog->buckets)
        munmap(prog->buckets, prog->buckets_size);
    if (prog->bss)
        munmap(prog->bss, prog->bss_size);
    xturn_bpf__destroy(prog->skel);
    pthread_mutex_destroy(&prog->bindings_lock);
    free(prog);
}
