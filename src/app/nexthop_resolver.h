/* Next hops for the XDP fast path where forwarding is off (bpf_fib_lookup answers only where it
 * is on): the program's requests (xdp/xdp_nexthop.h) answered from the kernel's routes and
 * neighbours over rtnetlink (net/route_query.h), in the daemon's event loop. */
#ifndef XTURN_APP_NEXTHOP_RESOLVER_H
#define XTURN_APP_NEXTHOP_RESOLVER_H

#include <stddef.h>

struct ev_loop;
struct xdp_prog;
struct nexthop_resolver;

/* Watches prog's requests in loop. NULL on failure, with the reason in err. */
struct nexthop_resolver *nexthop_resolver_new(struct xdp_prog *prog, struct ev_loop *loop,
                                              char *err, size_t errlen);
void nexthop_resolver_free(struct nexthop_resolver *r);

#endif
