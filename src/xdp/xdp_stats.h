/* The program's counters (enum xt_stat; names and classes: xdp_abi.h): of the program this
 * process loaded, and of every xturn program on the host for `xturn stats`. */
#ifndef XTURN_XDP_XDP_STATS_H
#define XTURN_XDP_XDP_STATS_H

#include <stdio.h>

#include "bpf/xdp_shared.h"

struct xdp_prog;

/* Sums the per-CPU counters. out has XT_STAT_COUNT entries. */
int xdp_prog_stats(struct xdp_prog *prog, struct xt_counter *out);
/* The same from the fd of a stats map (also one found in another process's program). */
int xdp_stats_read_fd(int map_fd, struct xt_counter *out);
/* The stats map of the program prog_fd, when it is xturn's (XDP_PROG_NAME): a new fd, or -1. */
int xdp_stats_map_of(int prog_fd);
/* `xturn stats`: prints one JSON line with the counters of each xturn XDP program loaded on
 * this host (whichever process and namespace), or only of the one attached to ifname (in this
 * network namespace) when ifname is not NULL. Returns the number printed, or -errno. */
int xdp_stats_print_running(FILE *out, const char *ifname);

#endif
