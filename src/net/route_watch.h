/* Route, neighbour, address and link changes of this network namespace, heard on rtnetlink's
 * multicast groups. Any of them is a reason to drop the next hops the XDP program caches
 * (xdp_prog_routes_changed); address changes also change which addresses are the relay host's
 * own (the peer policy's "self"). */
#ifndef XTURN_NET_ROUTE_WATCH_H
#define XTURN_NET_ROUTE_WATCH_H

#define ROUTE_WATCH_CHANGED   1 /* something changed */
#define ROUTE_WATCH_ADDRESSES 2 /* an address came or went (or messages were lost) */

/* A non-blocking NETLINK_ROUTE socket subscribed to the link, neighbour, address, route and
 * rule groups of IPv4 and IPv6. Returns its fd, or -errno. */
int route_watch_open(void);

/* Reads every pending message. Returns ROUTE_WATCH_* flags of what changed (both when messages
 * were lost: the socket's buffer overflowed), 0 when nothing was pending, or -errno. */
int route_watch_drain(int fd);

#endif
