/* The metrics page: Prometheus text from a snapshot of the running relay (app/snapshot.h), served
 * by app/metrics.h's HTTP server. */
#ifndef XTURN_APP_METRICS_RENDER_H
#define XTURN_APP_METRICS_RENDER_H

#include <stddef.h>

#include "app/snapshot.h"

/* Renders the Prometheus text exposition (format 0.0.4) of a snapshot into buf; returns the
 * length (buf is NUL-terminated) or -1 if it did not fit in cap bytes. Pure, for tests. */
int metrics_render(const struct xturn_snapshot *s, char *buf, size_t cap);

#endif
