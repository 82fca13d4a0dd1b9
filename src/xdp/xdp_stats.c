/* The program's counters: summed over the CPUs, of the program this process loaded or, for
 * `xturn stats` while daemons run, of every xturn program found on the host (no pinning, so it
 * works whatever namespace a daemon runs in). */
#include "xdp/xdp_stats.h"

#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "xdp/xdp_abi.h"
#include "xdp/xdp_internal.h"

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

int xdp_prog_stats(struct xdp_prog *prog, struct xt_counter *out)
{
    return xdp_stats_read_fd(bpf_map__fd(prog->skel->maps.stats), out);
}

#define STATS_MAP "stats"

/* ---- a live upgrade's counters ---- */

bool xdp_stats_carry_map(const char *tag, uint32_t n_old, int *to)
{
    size_t plen = strlen(XT_STATS_TAG_PREFIX);
    const char *p = tag && strncmp(tag, XT_STATS_TAG_PREFIX, plen) == 0 ? tag + plen : NULL;
    uint32_t n = 0;

    for (; p && *p && n < n_old; n++) {
        size_t len = strcspn(p, ",");

        to[n] = -1;
        for (int k = 0; k < XT_STAT_COUNT; k++) {
            const char *ours = xdp_stat_name((enum xt_stat)k);
            if (strlen(ours) == len && memcmp(ours, p, len) == 0)
                to[n] = k;
        }
        p += len + (p[len] == ',');
    }
    if (p && !*p && n == n_old)
        return true;
    for (n = 0; n < n_old; n++)
        to[n] = n < XT_STAT_COUNT ? (int)n : -1;
    return false;
}

/* to[] for the stats map described by info, from the XT_STATS_TAG among its BTF's tags (reading
 * a BTF object by id needs CAP_SYS_ADMIN: without it, or without the tag, by position). */
static bool carry_map_of(const struct bpf_map_info *info, int *to)
{
    struct btf *btf = info->btf_id ? btf__load_from_kernel_by_id(info->btf_id) : NULL;
    const char *tag = NULL;
    bool by_name;

    for (uint32_t id = 1; btf && !tag && id < btf__type_cnt(btf); id++) {
        const struct btf_type *t = btf__type_by_id(btf, id);
        const char *name = btf_is_decl_tag(t) ? btf__name_by_offset(btf, t->name_off) : NULL;
        if (name && strncmp(name, XT_STATS_TAG_PREFIX, strlen(XT_STATS_TAG_PREFIX)) == 0)
            tag = name;
    }
    by_name = xdp_stats_carry_map(tag, info->max_entries, to);
    btf__free(btf);
    return by_name;
}

int xdp_prog_stats_carry(struct xdp_prog *prog, const struct xdp_handover *h, bool *by_name)
{
    int from_fd = xdp_handover_map(h, STATS_MAP), into_fd = bpf_map__fd(prog->skel->maps.stats);
    int ncpu = libbpf_num_possible_cpus(), *to = NULL, rc;
    struct xt_counter *from = NULL, *into = NULL;
    struct bpf_map_info info;
    uint32_t len = sizeof(info);

    memset(&info, 0, sizeof(info));
    if (from_fd < 0)
        return -ENOENT;
    if (bpf_obj_get_info_by_fd(from_fd, &info, &len) != 0)
        return -errno;
    if (info.type != BPF_MAP_TYPE_PERCPU_ARRAY || info.key_size != sizeof(uint32_t) ||
        info.value_size != sizeof(struct xt_counter))
        return -EPROTO;
    if (ncpu <= 0)
        return ncpu < 0 ? ncpu : -EINVAL;
    to = calloc(info.max_entries ? info.max_entries : 1, sizeof(*to));
    from = calloc((size_t)ncpu, sizeof(*from));
    into = calloc((size_t)ncpu, sizeof(*into));
    rc = to && from && into ? 0 : -ENOMEM;
    if (rc == 0)
        *by_name = carry_map_of(&info, to);
    for (uint32_t i = 0; i < info.max_entries && rc == 0; i++) {
        uint32_t k = (uint32_t)to[i];

        if (to[i] < 0)
            continue;
        if (bpf_map_lookup_elem(from_fd, &i, from) != 0 ||
            bpf_map_lookup_elem(into_fd, &k, into) != 0)
            rc = -errno;
        for (int c = 0; c < ncpu && rc == 0; c++) {
            into[c].packets += from[c].packets;
            into[c].bytes += from[c].bytes;
        }
        if (rc == 0 && bpf_map_update_elem(into_fd, &k, into, BPF_EXIST) != 0)
            rc = -errno;
    }
    free(to);
    free(from);
    free(into);
    return rc;
}

/* ---- `xturn stats` ---- */

#define MAX_MAPS 16

int xdp_stats_map_of(int prog_fd)
{
    struct bpf_prog_info info;
    __u32 len = sizeof(info), ids[MAX_MAPS];

    memset(&info, 0, sizeof(info));
    info.nr_map_ids = MAX_MAPS;
    info.map_ids = (__u64)(unsigned long)ids;
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0 || strcmp(info.name, XDP_PROG_NAME) != 0)
        return -1;
    for (__u32 i = 0; i < info.nr_map_ids && i < MAX_MAPS; i++) {
        struct bpf_map_info mi;
        __u32 mlen = sizeof(mi);
        int fd = bpf_map_get_fd_by_id(ids[i]);
        if (fd < 0)
            continue;
        memset(&mi, 0, sizeof(mi));
        if (bpf_obj_get_info_by_fd(fd, &mi, &mlen) == 0 && strcmp(mi.name, STATS_MAP) == 0 &&
            mi.max_entries == XT_STAT_COUNT)
            return fd;
        close(fd);
    }
    return -1;
}

static void print_counters(FILE *out, __u32 prog_id, const struct xt_counter *c)
{
    fprintf(out, "{\"program_id\":%u,\"counters\":{", prog_id);
    for (int i = 0; i < XT_STAT_COUNT; i++)
        fprintf(out, "%s\"%s\":{\"packets\":%llu,\"bytes\":%llu}", i ? "," : "",
                xdp_stat_name((enum xt_stat)i), (unsigned long long)c[i].packets,
                (unsigned long long)c[i].bytes);
    fprintf(out, "}}\n");
}

int xdp_stats_print_running(FILE *out, const char *ifname)
{
    __u32 id = 0, only = 0;
    int printed = 0;

    if (ifname) {
        int ifindex = (int)if_nametoindex(ifname);
        if (ifindex == 0)
            return -ENODEV;
        if (bpf_xdp_query_id(ifindex, 0, &only) != 0 || only == 0)
            return 0;
    }
    while (bpf_prog_get_next_id(id, &id) == 0) {
        struct xt_counter c[XT_STAT_COUNT];
        int prog_fd, map_fd;
        if (only && id != only)
            continue;
        prog_fd = bpf_prog_get_fd_by_id(id);
        if (prog_fd < 0)
            continue;
        map_fd = xdp_stats_map_of(prog_fd);
        close(prog_fd);
        if (map_fd < 0)
            continue;
        if (xdp_stats_read_fd(map_fd, c) == 0) {
            print_counters(out, id, c);
            printed++;
        }
        close(map_fd);
    }
    if (errno == EPERM)
        return -EPERM;
    return printed;
}
