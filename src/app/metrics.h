/* The metrics endpoint: Prometheus text exposition at /metrics and a health check at /healthz,
 * served by libmicrohttpd on its own thread from snapshots of the running relay. */
#ifndef XTURN_APP_METRICS_H
#define XTURN_APP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "app/snapshot.h"
#include "common/addr.h"

struct metrics;

/* Starts the HTTP server (libmicrohttpd, its own thread) bound to exactly addr (IPv4 or IPv6;
 * port 0: any free port, see metrics_port). fn(ctx, ...) is called from that thread for every
 * /metrics and /healthz request. Returns NULL with a one-line reason in err. */
struct metrics *metrics_start(const struct xt_addr *addr, snapshot_fn fn, void *ctx, char *err,
                              size_t errlen);
/* Stops the server (waits for its thread) and frees it. NULL is fine. */
void metrics_stop(struct metrics *m);
/* The port the server listens on (the actual one when started with port 0). */
uint16_t metrics_port(const struct metrics *m);

#endif
