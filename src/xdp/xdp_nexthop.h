/* The next hops the loaded program caches in its binding values (struct xt_nexthop): their
 * generation, and, where forwarding is off, the program's requests for them (ring buffer
 * nh_requests) and userspace's answers. */
#ifndef XTURN_XDP_XDP_NEXTHOP_H
#define XTURN_XDP_XDP_NEXTHOP_H

#include <stdbool.h>
#include <stdint.h>

#include "bpf/xdp_shared.h"
#include "xdp/xdp_abi.h"

struct xdp_prog;

/* Invalidates every next hop the program has cached in the binding maps: each binding's next
 * packet looks its route up again (or asks userspace again). For routing, neighbour, address and
 * link changes (net/route_watch.h), and periodically for what no event announces (path MTU).
 * Call from one thread. */
void xdp_prog_routes_changed(struct xdp_prog *prog);
/* The generation of the cached next hops now. An answer is written under the generation read
 * before its lookups: a change after them makes it stale, never the reverse. */
uint32_t xdp_prog_route_gen(const struct xdp_prog *prog);
/* Whether ifindex is an interface the program is attached to (a redirect target). */
bool xdp_prog_drives(const struct xdp_prog *prog, uint32_t ifindex);

/* The reader of the program's requests. cb is called for each request read; a record that is
 * not one is skipped. */
typedef void (*xdp_nh_request_cb)(void *ctx, const struct xdp_abi_nh_request *req);
struct xdp_nh_requests;

/* NULL with errno set on failure. */
struct xdp_nh_requests *xdp_nh_requests_open(struct xdp_prog *prog, xdp_nh_request_cb cb,
                                             void *ctx);
void xdp_nh_requests_close(struct xdp_nh_requests *q);
/* Readable when requests wait (for an event loop). */
int xdp_nh_requests_fd(const struct xdp_nh_requests *q);
/* Reads every waiting request, calling cb for each. Returns how many were read, or -errno. */
int xdp_nh_requests_read(struct xdp_nh_requests *q);

/* Writes an answer (xdp_abi_nexthop) into the value of the request's binding, unless the binding
 * is gone. 0 (gone included), or -errno. */
int xdp_prog_answer_nexthop(struct xdp_prog *prog, const struct xdp_abi_nh_request *req,
                            const struct xt_nexthop *nh);

#endif
