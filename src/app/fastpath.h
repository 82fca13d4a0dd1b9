/* The daemon's use of the XDP fast path: load and attach from the configuration, mirror usable
 * channels into the kernel, report its counters. */
#ifndef XTURN_APP_FASTPATH_H
#define XTURN_APP_FASTPATH_H

#include <stddef.h>
#include <stdint.h>

#include "app/config.h"
#include "app/snapshot.h"
#include "turn/turn_server.h"
#include "xdp/xdp_loader.h"

struct fastpath;

struct ev_loop;

/* Loads the program and attaches it to every --xdp interface; the next hops it asks for where
 * forwarding is off are answered in loop. Returns NULL when XDP is not configured (err empty)
 * or on failure (reason in err; nothing stays attached). With reuse (a live upgrade's, its
 * descriptors), the program attaches nowhere: fastpath_adopt takes the links over once the state
 * is restored; of this XT_ABI_VERSION it uses the previous process's maps, bindings included,
 * else new ones, which the restore fills. */
struct fastpath *fastpath_start(const struct xturn_config *cfg, struct ev_loop *loop,
                                const struct xdp_handover *reuse, char *err, size_t errlen);
/* Makes the previous process's links run this program, one per --xdp interface (the links taken
 * are -1 in h then, this process's); on new maps, first adds the previous program's counters to
 * this one's. 0, or -1 with the reason in err. */
int fastpath_adopt(struct fastpath *fp, const struct xturn_config *cfg, struct xdp_handover *h,
                   char *err, size_t errlen);
void fastpath_stop(struct fastpath *fp);

/* The program's maps and links for a live upgrade (descriptors fp keeps). 0, or -errno. */
int fastpath_export(struct fastpath *fp, struct xdp_handover *out);
/* The bindings are another process's from now on (a live upgrade handed over, or this new
 * process gave up taking over): channel_down leaves them in the maps. */
void fastpath_release(struct fastpath *fp);

/* turn_io.channel_up / channel_down, with fp as ctx. */
int fastpath_channel_up(struct fastpath *fp, const struct turn_channel_info *ci);
void fastpath_channel_down(struct fastpath *fp, const struct turn_channel_info *ci);

/* A route, neighbour, address or link changed (net/route_watch.h): the program's cached next
 * hops are dropped. From one thread, the one that calls fastpath_tick. */
void fastpath_routes_changed(struct fastpath *fp);

/* The host's addresses (all of them, as they are now): XDP drops datagrams that come from
 * outside with one of them as their source (spoofed), as the kernel does martians. */
void fastpath_host_addrs(struct fastpath *fp, const struct xt_addr *addrs, size_t n);

/* Called at least once a second: the program's cached next hops are refreshed about once a
 * second whatever happened, for what no event announces (a path MTU learnt from ICMP). */
void fastpath_tick(struct fastpath *fp, uint64_t now_ms);

/* Called from the event loop with the core's count of cross-family packets relayed in userspace:
 * with cross-family translation off in XDP, says so in a dedicated, rate-limited log line. */
void fastpath_note_cross_family(struct fastpath *fp, uint64_t relayed, uint64_t now_ms);

/* turn_io.bucket_get / bucket_put with --max-bps: an allocation's word in the program's buckets
 * (full), or NULL when all are taken; and back. From any worker. */
uint64_t *fastpath_bucket_get(struct fastpath *fp, uint32_t *id);
void fastpath_bucket_put(struct fastpath *fp, uint32_t id);

/* The fast path's part of a snapshot (xdp_* fields). */
void fastpath_snapshot(struct fastpath *fp, struct xturn_snapshot *out);

/* Logs the kernel's counters (non-zero ones) at info. */
void fastpath_log_stats(struct fastpath *fp);

#endif
