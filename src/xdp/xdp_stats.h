/* The program's counters (enum xt_stat; names and classes: xdp_abi.h): of the program this
 * process loaded, and of every xturn program on the host for `xturn stats`. */
#ifndef XTURN_XDP_XDP_STATS_H
#define XTURN_XDP_XDP_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bpf/xdp_shared.h"
#include "xdp/xdp_loader.h"

struct xdp_prog;

/* Sums the per-CPU counters. out has XT_STAT_COUNT entries. */
int xdp_prog_stats(struct xdp_prog *prog, struct xt_counter *out);
/* The same from the fd of a stats map (also one found in another process's program). */
int xdp_stats_read_fd(int map_fd, struct xt_counter *out);
/* A live upgrade from another XT_ABI_VERSION (h: the previous process's maps): adds the counters
 * of its stats map to this program's, per CPU, each to this build's counter xdp_stats_carry_map
 * says (*by_name: whether by their names). Before this program runs (its counters are written
 * whole). 0, or -errno. */
int xdp_prog_stats_carry(struct xdp_prog *prog, const struct xdp_handover *h, bool *by_name);
/* Where each of the n_old counters of another build's stats map goes: to[i], the index of this
 * build's counter of the same name, or -1 when it has none; true. tag: that map's XT_STATS_TAG,
 * or NULL when it has none (an older build, or its BTF unreadable); without a tag naming exactly
 * n_old counters, by position: the first min(n_old, XT_STAT_COUNT) to the same index; false. */
bool xdp_stats_carry_map(const char *tag, uint32_t n_old, int *to);
/* The stats map of the program prog_fd, when it is xturn's (XDP_PROG_NAME): a new fd, or -1. */
int xdp_stats_map_of(int prog_fd);
/* `xturn stats`: prints one JSON line with the counters of each xturn XDP program loaded on
 * this host (whichever process and namespace), or only of the one attached to ifname (in this
 * network namespace) when ifname is not NULL. Returns the number printed, or -errno. */
int xdp_stats_print_running(FILE *out, const char *ifname);

#endif
