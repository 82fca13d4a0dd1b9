/* Route, neighbour, address and link changes of this network namespace, heard on rtnetlink's
 * multicast groups. Each is a reason to drop the next hops the XDP program caches
 * (xdp_relay_routes_changed): only whether something changed matters, not what. */
#ifndef XTURN_XDP_ROUTE_WATCH_H
#define XTURN_XDP_ROUTE_WATCH_H

/* A non-blocking NETLINK_ROUTE socket subscribed to the link, neighbour, address, route and
 * rule groups of IPv4 and IPv6. Returns its fd, or -errno. */
int route_watch_open(void);

/* Reads every pending message. Returns 1 when something changed (or messages were lost: the
 * socket's buffer overflowed), 0 when nothing was pending, or -errno. */
int route_watch_drain(int fd);

#endif
