/* UDP sockets as the relay uses them: non-blocking, bound, IPv6-only where IPv6. */
#ifndef XTURN_NET_UDP_SOCKET_H
#define XTURN_NET_UDP_SOCKET_H

#include "common/addr.h"
#include "net/udp_filter.h"

struct udp_socket_opts {
    int dont_fragment; /* DF on IPv4, no fragmentation on IPv6 (path MTU discovery "do") */
    int bufsize;       /* SO_RCVBUF/SO_SNDBUF when > 0 (best effort) */
    int reuseport;     /* SO_REUSEPORT: one of a group of sockets the kernel balances over */
    int gro; /* UDP_GRO: datagrams of one source may come coalesced (udp_rx_len_at splits them) */
    const struct udp_filter *filter; /* given before the socket is bound, when not NULL */
};

/* Returns the fd or -errno. */
int udp_socket_open(const struct xt_addr *bind_addr, const struct udp_socket_opts *o);

/* 0 if nothing is bound to the address (a plain bind succeeds), else -errno (-EADDRINUSE).
 * SO_REUSEPORT would join another program's group silently: this is checked first. */
int udp_address_free(const struct xt_addr *addr);

#endif
