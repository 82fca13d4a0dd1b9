/* Loader of the XDP fast path: the libbpf skeleton of src/bpf/xturn.bpf.c, configured through
 * .rodata and map sizes before load; attached through BPF links, which the kernel detaches when
 * their last fd closes (exit, crash or SIGKILL alike); bindings mirrored into the program's
 * maps. */
#include "xdp/xdp_loader.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/log.h"
#include "xturn.skel.h"

#define XDP_MAX_IFACES      64 /* tx_ports' capacity in the program */
#define XDP_DEFAULT_ENTRIES 65536

struct xdp_iface {
    int ifindex;
    int link_fd; /* the BPF link attaching the program: held only by this process */
};

struct xdp_prog {
    struct xturn_bpf *skel;
    struct xt_cfg cfg;
    struct xt_bucket *buckets; /* map buckets, mapped into memory */
    size_t buckets_size;
    uint32_t nbuckets;
    struct xdp_iface ifaces[XDP_MAX_IFACES];
    int n_ifaces;
};

/* ---- libbpf's messages, kept to explain a failed load ---- */

#define LIBBPF_LOG_CAP 65536
static char libbpf_log[LIBBPF_LOG_CAP];
static size_t libbpf_log_len;

/* Keeps the last LIBBPF_LOG_CAP - 1 bytes: a verifier log ends with its verdict. */
static int capture_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    char *msg = NULL;
    int n;

    if (level == LIBBPF_DEBUG)
        return 0;
    n = vasprintf(&msg, fmt, ap);
    if (n <= 0) {
        free(msg);
        return 0;
    }
    if ((size_t)n >= LIBBPF_LOG_CAP - 1) {
        memcpy(libbpf_log, msg + (size_t)n - (LIBBPF_LOG_CAP - 1), LIBBPF_LOG_CAP - 1);
        libbpf_log_len = LIBBPF_LOG_CAP - 1;
    } else {
        size_t keep = LIBBPF_LOG_CAP - 1 - (size_t)n;

        if (libbpf_log_len > keep) {
            memmove(libbpf_log, libbpf_log + libbpf_log_len - keep, keep);
            libbpf_log_len = keep;
        }
        memcpy(libbpf_log + libbpf_log_len, msg, (size_t)n);
        libbpf_log_len += (size_t)n;
    }
    libbpf_log[libbpf_log_len] = '\0';
    free(msg);
    return n;
}

/* libbpf prints to stderr by default; while the loader works, its messages are kept instead
 * and end up in err when something fails. */
static libbpf_print_fn_t capture_begin(void)
{
    libbpf_log_len = 0;
    libbpf_log[0] = '\0';
    return libbpf_set_print(capture_print);
}

static void capture_end(libbpf_print_fn_t prev)
{
    libbpf_set_print(prev);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A verifier instruction line: "1394: (79) r5 = ...". */
static bool is_insn_line(const char *l, const char *end)
{
    const char *p = l;

    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p > l && p < end && *p == ':';
}

/* The most telling part of libbpf's output, on one line (" | " between lines): for a rejected
 * program, the source line and the instruction the verifier stopped at (without its register
 * dump), then its verdict; else libbpf's last messages. */
static void log_tail(char *out, size_t outlen)
{
    const char *log = libbpf_log;
    const char *end = log + libbpf_log_len;
    const char *mark = strstr(log, "-- END PROG LOAD LOG --");
    const char *start;
    const char *part_s[3] = {NULL, NULL, NULL}, *part_e[3] = {NULL, NULL, NULL};
    size_t n = 0;

    if (outlen == 0)
        return;
    if (mark)
        end = mark;
    while (end > log && (end[-1] == '\n' || end[-1] == ' '))
        end--;
    start = end;
    /* back over at most 6 lines, stopping at an instruction line */
    for (int lines = 0; start > log && lines < 6; lines++) {
        const char *ls = start - 1;

        while (ls > log && ls[-1] != '\n')
            ls--;
        if (mark && is_insn_line(ls, end)) {
            const char *semi = memchr(ls, ';', (size_t)(start - ls));

            part_s[1] = ls;
            part_e[1] = semi ? semi : start - 1;
            /* the source line the verifier printed shortly before ("; code @ file:line") */
            for (const char *pe = ls; pe > log && lines < 12; lines++) {
                const char *ps = pe - 1;

                while (ps > log && ps[-1] != '\n')
                    ps--;
                if (ps[0] == ';' && ps[1] == ' ') {
                    part_s[0] = ps + 2;
                    part_e[0] = pe - 1;
                    break;
                }
                pe = ps;
            }
            break;
        }
        start = ls;
    }
    part_s[2] = start;
    part_e[2] = end;
    for (int part = 0; part < 3; part++) {
        const char *s = part_s[part];

        if (!s || s >= part_e[part])
            continue;
        if (n > 0 && n + 4 < outlen) {
            memcpy(out + n, " | ", 3);
            n += 3;
        }
        for (; s < part_e[part] && n + 1 < outlen; s++) {
            if (strncmp(s, "libbpf: ", 8) == 0 && (s == log || s[-1] == '\n'))
                s += 8;
            if (*s == '\n') {
                if (n + 4 >= outlen)
                    break;
                memcpy(out + n, " | ", 3);
                n += 3;
            } else {
                out[n++] = *s;
            }
        }
    }
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '|'))
        n--;
    out[n] = '\0';
}

/* ---- load, attach, close ---- */

#define BINDING_MAPS 8

/* The binding maps by index, in the order of their path counters (xdp_abi_path). */
static struct bpf_map *binding_maps(struct xturn_bpf *s, int i)
{
    struct bpf_map *m[] = {s->maps.c2p_44, s->maps.c2p_46, s->maps.c2p_64, s->maps.c2p_66,
                           s->maps.p2c_44, s->maps.p2c_46, s->maps.p2c_64, s->maps.p2c_66};
    return m[i];
}

/* The buckets map in this process's memory: userspace takes from the words the program does. */
static int map_buckets(struct xdp_prog *prog)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *p;

    prog->buckets_size =
        ((size_t)prog->nbuckets * sizeof(struct xt_bucket) + page - 1) / page * page;
    p = mmap(NULL, prog->buckets_size, PROT_READ | PROT_WRITE, MAP_SHARED,
             bpf_map__fd(prog->skel->maps.buckets), 0);
    if (p == MAP_FAILED)
        return -errno;
    prog->buckets = p;
    return 0;
}

struct xdp_prog *xdp_prog_load(const struct xdp_options *opt, char *err, size_t errlen)
{
    struct xdp_prog *prog = calloc(1, sizeof(*prog));
    uint32_t entries = opt->map_entries ? opt->map_entries : XDP_DEFAULT_ENTRIES;
    libbpf_print_fn_t prev;
    int rc = 0;

    if (!prog) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    prev = capture_begin();
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
    if (rc == 0)
        rc = xturn_bpf__load(prog->skel);
    if (rc == 0)
        rc = map_buckets(prog);
    if (rc)
        goto fail;
    capture_end(prev);
    /* Turns the next-hop cache on (0 keeps it off). */
    __atomic_store_n(&prog->skel->bss->xt_route_gen, 1, __ATOMIC_RELEASE);
    return prog;

fail:
    capture_end(prev);
    {
        char tail[1024];

        log_tail(tail, sizeof(tail));
        set_err(err, errlen, "loading the XDP program failed: %s%s%s", strerror(-rc),
                tail[0] ? ": " : "", tail);
    }
    xturn_bpf__destroy(prog->skel);
    free(prog);
    return NULL;
}

void xdp_prog_routes_changed(struct xdp_prog *prog)
{
    uint32_t *gen = &prog->skel->bss->xt_route_gen;
    uint32_t next = __atomic_load_n(gen, __ATOMIC_RELAXED) + 1;

    /* 0 turns the cache off, XT_NH_GEN_BUSY marks an entry being written: never generations. */
    if (next == 0 || next == XT_NH_GEN_BUSY)
        next = 1;
    /* Only this thread writes it. */
    __atomic_store_n(gen, next, __ATOMIC_RELEASE);
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
    char ids[16], why[512];
    int fd, rc;

    rc = bpf_xdp_query(ifindex, 0, &q);
    if (rc) {
        set_err(err, errlen, "%s: querying its XDP program failed: %s", ifname, strerror(-rc));
        return -1;
    }
    id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
    if (id == 0)
        return 0;
    mode = q.drv_prog_id ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
    fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) {
        set_err(err, errlen,
                "%s: another XDP program (id %u) is attached; telling whether it is an xturn "
                "leftover failed: %s%s",
                ifname, id, strerror(-fd), fd == -EPERM ? " (needs CAP_SYS_ADMIN)" : "");
        return -1;
    }
    memset(&info, 0, sizeof(info));
    rc = bpf_obj_get_info_by_fd(fd, &info, &len);
    if (rc || strcmp(info.name, XDP_PROG_NAME) != 0) {
        set_err(err, errlen, "%s: another XDP program is attached (id %u, name %s)", ifname, id,
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
        set_err(err, errlen,
                "%s: another program holds the interface: xturn XDP program id %u, attached "
                "through a BPF link (another xturn is running)",
                ifname, id);
        return -1;
    }
    if (rc) {
        log_tail(why, sizeof(why));
        set_err(err, errlen, "%s: removing the leftover xturn XDP program (id %u) failed: %s%s%s",
                ifname, id, strerror(-rc), why[0] ? ": " : "", why);
        return -1;
    }
    snprintf(ids, sizeof(ids), "%u", id);
    xt_log(LOG_WARN,
           "removed a leftover xturn XDP program (attached without a link by an xturn that did "
           "not exit cleanly)",
           "interface", ifname, "#program_id", ids, NULL);
    return 0;
}

/* bpf_fib_lookup answers BPF_FIB_LKUP_RET_FWD_DISABLED (so: pass_fib, every packet) unless
 * forwarding is on for the ingress interface, whatever its flags. */
static void check_forwarding(const struct xdp_prog *prog, const char *ifname)
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
            xt_log(LOG_WARN, "forwarding is off: the XDP fast path passes every packet up",
                   "interface", ifname, "sysctl", path + strlen("/proc/sys/"), NULL);
    }
}

int xdp_prog_attach(struct xdp_prog *prog, const char *ifname, enum xdp_mode mode, char *err,
                    size_t errlen)
{
    int ifindex = (int)if_nametoindex(ifname);
    libbpf_print_fn_t prev;
    uint32_t flags;
    uint32_t key;
    int rc;

    if (ifindex == 0) {
        set_err(err, errlen, "%s: %s", ifname, strerror(errno));
        return -1;
    }
    for (int i = 0; i < prog->n_ifaces; i++) {
        if (prog->ifaces[i].ifindex == ifindex) {
            set_err(err, errlen, "%s: already attached", ifname);
            return -1;
        }
    }
    if (prog->n_ifaces == XDP_MAX_IFACES) {
        set_err(err, errlen, "%s: more than %d interfaces", ifname, XDP_MAX_IFACES);
        return -1;
    }

    prev = capture_begin();
    rc = clear_leftover(ifname, ifindex, err, errlen);
    capture_end(prev);
    if (rc)
        return -1;
    flags = mode == XDP_MODE_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
    rc = attach_mode(prog, ifindex, flags);
    if (rc < 0 && mode == XDP_MODE_AUTO) {
        char why[128];

        snprintf(why, sizeof(why), "%s%s", strerror(-rc), attach_hint(rc));
        xt_log(LOG_WARN, "native XDP not available, using generic XDP (slower)", "interface",
               ifname, "reason", why, NULL);
        flags = XDP_FLAGS_SKB_MODE;
        rc = attach_mode(prog, ifindex, flags);
    }
    if (rc < 0) {
        set_err(err, errlen, "%s: attaching XDP (%s mode) failed: %s%s", ifname,
                flags == XDP_FLAGS_SKB_MODE ? "generic" : "native", strerror(-rc), attach_hint(rc));
        return -1;
    }
    prog->ifaces[prog->n_ifaces].link_fd = rc;

    key = (uint32_t)ifindex;
    rc = bpf_map__update_elem(prog->skel->maps.tx_ports, &key, sizeof(key), &key, sizeof(key),
                              BPF_ANY);
    if (rc) {
        close(prog->ifaces[prog->n_ifaces].link_fd);
        set_err(err, errlen, "%s: adding to the redirect map failed: %s", ifname, strerror(-rc));
        return -1;
    }
    prog->ifaces[prog->n_ifaces].ifindex = ifindex;
    prog->n_ifaces++;
    check_forwarding(prog, ifname);
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
    xturn_bpf__destroy(prog->skel);
    free(prog);
}

/* ---- bindings ---- */

static int map_errno(int rc)
{
    /* A full hash map answers E2BIG. */
    return rc == -E2BIG ? -ENOSPC : rc;
}

int xdp_prog_bind(struct xdp_prog *prog, const struct xt_addr *client, uint16_t channel,
                  const struct xt_addr *peer, uint16_t relay_port, uint32_t bucket)
{
    struct xdp_abi_binding b;
    union xdp_abi_value old;
    struct bpf_map *c2p, *p2c;
    bool had_old;
    int rc = xdp_abi_binding(&b, client, channel, peer, relay_port, bucket);

    if (rc)
        return rc;
    if (bucket >= prog->nbuckets)
        return -ERANGE;
    c2p = binding_maps(prog->skel, b.c2p);
    p2c = binding_maps(prog->skel, b.p2c);

    /* All or nothing: if the second insert fails, the first map gets back what it had. */
    had_old = bpf_map__lookup_elem(c2p, &b.c2p_key, b.c2p_key_size, &old, b.c2p_value_size, 0) == 0;
    rc = bpf_map__update_elem(c2p, &b.c2p_key, b.c2p_key_size, &b.c2p_value, b.c2p_value_size,
                              BPF_ANY);
    if (rc)
        return map_errno(rc);
    rc = bpf_map__update_elem(p2c, &b.p2c_key, b.p2c_key_size, &b.p2c_value, b.p2c_value_size,
                              BPF_ANY);
    if (rc) {
        if (had_old)
            bpf_map__update_elem(c2p, &b.c2p_key, b.c2p_key_size, &old, b.c2p_value_size, BPF_ANY);
        else
            bpf_map__delete_elem(c2p, &b.c2p_key, b.c2p_key_size, 0);
        return map_errno(rc);
    }
    return 0;
}

int xdp_prog_unbind(struct xdp_prog *prog, const struct xt_addr *client, uint16_t channel,
                    const struct xt_addr *peer, uint16_t relay_port)
{
    struct xdp_abi_binding b;
    int rc = xdp_abi_binding(&b, client, channel, peer, relay_port, 0);
    int rc2;

    if (rc)
        return rc;
    rc = bpf_map__delete_elem(binding_maps(prog->skel, b.c2p), &b.c2p_key, b.c2p_key_size, 0);
    rc2 = bpf_map__delete_elem(binding_maps(prog->skel, b.p2c), &b.p2c_key, b.p2c_key_size, 0);
    if (rc == -ENOENT)
        rc = 0;
    if (rc2 == -ENOENT)
        rc2 = 0;
    return rc ? rc : rc2;
}

/* ---- --max-bps buckets ---- */

struct xt_bucket *xdp_prog_buckets(struct xdp_prog *prog, uint32_t *n)
{
    *n = prog->nbuckets;
    return prog->buckets;
}

/* ---- the host's own addresses (martian sources) ---- */

static int host_key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(struct xt_host_addr));
}

/* The map keys of addrs (ports left out), sorted, each once, into keys (n of them). Returns
 * how many, or -EAFNOSUPPORT. */
static int host_keys(const struct xt_addr *addrs, size_t n, struct xt_host_addr *keys)
{
    size_t u = 0;

    for (size_t i = 0; i < n; i++) {
        int rc = xdp_abi_host_key(&keys[i], &addrs[i]);

        if (rc)
            return rc;
    }
    if (n)
        qsort(keys, n, sizeof(*keys), host_key_cmp);
    for (size_t i = 0; i < n; i++)
        if (u == 0 || host_key_cmp(&keys[u - 1], &keys[i]) != 0)
            keys[u++] = keys[i];
    return (int)u;
}

/* Deletes the map's keys that are not among keys (u of them, sorted). They are collected first:
 * deleting the key a walk stands on would restart it. */
static int host_addrs_prune(struct bpf_map *m, const struct xt_host_addr *keys, size_t u)
{
    uint32_t cap = bpf_map__max_entries(m);
    struct xt_host_addr *gone = calloc(cap, sizeof(*gone));
    struct xt_host_addr k, at;
    size_t n = 0;
    int rc;

    if (!gone)
        return -ENOMEM;
    for (rc = bpf_map__get_next_key(m, NULL, &k, sizeof(k)); rc == 0 && n < cap;
         rc = bpf_map__get_next_key(m, &at, &k, sizeof(k))) {
        if (!bsearch(&k, keys, u, sizeof(*keys), host_key_cmp))
            gone[n++] = k;
        at = k;
    }
    if (rc == -ENOENT)
        rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = bpf_map__delete_elem(m, &gone[i], sizeof(gone[i]), 0);
        if (rc == -ENOENT)
            rc = 0;
    }
    free(gone);
    return rc;
}

int xdp_prog_set_host_addrs(struct xdp_prog *prog, const struct xt_addr *addrs, size_t n)
{
    struct bpf_map *m = prog->skel->maps.host_addrs;
    struct xt_host_addr *keys = calloc(n ? n : 1, sizeof(*keys));
    const uint8_t one = 1;
    int u, rc;

    if (!keys)
        return -ENOMEM;
    u = host_keys(addrs, n, keys);
    if (u < 0)
        rc = u;
    else if ((uint32_t)u > bpf_map__max_entries(m))
        rc = -ENOSPC;
    else /* the gone ones first: the new set then fits */
        rc = host_addrs_prune(m, keys, (size_t)u);
    for (int i = 0; i < u && rc == 0; i++) {
        rc = bpf_map__update_elem(m, &keys[i], sizeof(keys[i]), &one, sizeof(one), BPF_NOEXIST);
        if (rc == -EEXIST)
            rc = 0;
    }
    free(keys);
    return map_errno(rc);
}

/* ---- counters ---- */

int xdp_stats_read_fd(int map_fd, struct xt_counter *out)
{
    int ncpu = libbpf_num_possible_cpus();
    struct xt_counter *per;
    int rc = 0;

    if (ncpu <= 0)
        return ncpu < 0 ? ncpu : -EINVAL;
    per = calloc((size_t)ncpu, sizeof(*per));
    if (!per)
        return -ENOMEM;
    for (uint32_t k = 0; k < XT_STAT_COUNT && rc == 0; k++) {
        rc = bpf_map_lookup_elem(map_fd, &k, per) ? -errno : 0;
        out[k].packets = out[k].bytes = 0;
        for (int c = 0; c < ncpu && rc == 0; c++) {
            out[k].packets += per[c].packets;
            out[k].bytes += per[c].bytes;
        }
    }
    free(per);
    return rc;
}

/* The kernel's own account of a map's memory: "memlock" in the map fd's fdinfo. */
static unsigned long long map_memlock(int fd)
{
    char path[64], line[128];
    unsigned long long v = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
    f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "memlock: %llu", &v) == 1)
            break;
    fclose(f);
    return v;
}

unsigned long long xdp_prog_map_memory(const struct xdp_prog *prog)
{
    unsigned long long total = 0;
    for (int i = 0; i < BINDING_MAPS; i++)
        total += map_memlock(bpf_map__fd(binding_maps(prog->skel, i)));
    return total + map_memlock(bpf_map__fd(prog->skel->maps.buckets));
}

int xdp_prog_stats(struct xdp_prog *prog, struct xt_counter *out)
{
    return xdp_stats_read_fd(bpf_map__fd(prog->skel->maps.stats), out);
}
