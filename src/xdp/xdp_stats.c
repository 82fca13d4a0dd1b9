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

/* ---- `xturn stats` ---- */

#define STATS_MAP "stats"
#define MAX_MAPS  16

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
