/* The daemon's state, shared by daemon.c (start, signals, the main loop) and daemon_upgrade.c
 * (the live upgrade, both sides). */
#ifndef XTURN_APP_DAEMON_INTERNAL_H
#define XTURN_APP_DAEMON_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "app/daemon.h"
#include "app/metrics.h"
#include "app/worker.h"
#include "net/event_loop.h"

#define STATS_INTERVAL_MS 60000

struct daemon {
    const struct xturn_config *cfg;
    struct ev_loop *loop; /* signals only: the workers carry the traffic */
    struct ev_handler sig;
    struct ev_handler netwatch; /* rtnetlink: addresses, routes, neighbours, links */
    int stop_signal;
    struct turn_shared *shared;
    struct fastpath *fp; /* NULL without --xdp */
    struct worker **workers;
    size_t nworkers;
    struct conn_limits *conn_limits; /* the stream connections of every worker */
    struct tls_server *tls;          /* NULL without --tls-listen */
    int64_t start_time_unix;
    _Atomic bool draining;
    uint64_t drain_deadline_ms;
    struct metrics *metrics; /* NULL without --metrics */
    int upgrade_ch;          /* the new process of a live upgrade: its channel to the old, or -1 */
    bool handed_over;        /* the old process of a live upgrade: the new one serves now */
};

/* Reads the host's addresses again into the core's and XDP's sets: 0 or -errno (the previous
 * set stays). */
int daemon_refresh_host_addrs(struct daemon *d);

/* daemon_upgrade.c */
/* SIGUSR2: starts the binary at our path and hands over to it. On success d->handed_over is set
 * (the caller stops, exit 0); on failure the workers run again and the reason is logged. */
void daemon_upgrade(struct daemon *d);
/* The new process: receives the old one's state, restores the shared part, and opens the workers
 * on its sockets with their servers restored. 0, or -1 with err. */
int daemon_take_over(struct daemon *d, struct worker_deps *deps, char *err, size_t errlen);
/* The new process's workers run: systemd follows this pid, the old process may go. */
void daemon_took_over(struct daemon *d);

#endif
