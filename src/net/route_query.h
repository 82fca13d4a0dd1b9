/* The next hop the host's own stack would send a datagram by, asked of the kernel over
 * rtnetlink: the output route from the datagram's source (RTM_GETROUTE, as `ip route get DST
 * from SRC`), the neighbour of the route's gateway, or of the destination on link (RTM_GETNEIGH),
 * and the egress interface's address and MTU (RTM_GETLINK). A neighbour not resolved yet is
 * solicited: RTM_NEWNEIGH with NTF_USE and NUD_NONE (`ip neigh replace ADDR dev DEV use nud
 * none`) makes the kernel create the entry if needed and resolve it as if a packet used it. That
 * needs CAP_NET_ADMIN; without it (after the daemon drops its privileges) the resolution is left
 * to the datagrams userspace relays meanwhile, whose sending resolves the same neighbour. */
#ifndef XTURN_NET_ROUTE_QUERY_H
#define XTURN_NET_ROUTE_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/addr.h"

enum route_hop_status {
    ROUTE_HOP_OK,
    ROUTE_HOP_NO_NEIGH, /* the neighbour is not resolved yet (solicited where allowed) */
    ROUTE_HOP_UNUSABLE, /* no next hop a frame can be sent to: hop->why */
};

struct route_hop {
    uint32_t ifindex; /* egress */
    uint8_t dmac[6], smac[6];
    uint32_t mtu;    /* the route's (a path MTU learnt included), else the interface's */
    const char *why; /* ROUTE_HOP_UNUSABLE: why, a static string */
};

/* An egress interface as looked up: its type, MAC address and MTUs. */
struct route_query_link {
    uint32_t ifindex;
    unsigned short type; /* ARPHRD_*; 0 without an Ethernet address */
    uint8_t mac[6];
    uint32_t mtu, mtu6; /* mtu6: its IPv6 MTU, 0 when not given */
};

#define ROUTE_QUERY_LINKS 8

struct route_query {
    int fd;
    uint32_t seq;
    char *buf;           /* for the kernel's answers */
    bool cannot_solicit; /* RTM_NEWNEIGH failed (no CAP_NET_ADMIN): not tried again */
    /* Interfaces looked up since route_query_forget (a host sends by few): the link query is
     * half the cost of a next hop. */
    struct route_query_link links[ROUTE_QUERY_LINKS];
    unsigned nlinks;
};

/* 0, or -errno. */
int route_query_open(struct route_query *q);
void route_query_close(struct route_query *q);
/* Forgets the interfaces looked up so far: for when a link may have changed. */
void route_query_forget(struct route_query *q);

/* The next hop of a datagram from src to dst (addresses and ports, one family; src an address of
 * this host), with the IPv4 TOS tos (0 for IPv6). Returns an enum route_hop_status, or -errno
 * when rtnetlink itself fails. */
int route_query_hop(struct route_query *q, const struct xt_addr *src, const struct xt_addr *dst,
                    uint8_t tos, struct route_hop *hop);

#endif
