/* UDP sockets as the relay uses them: non-blocking, bound, IPv6-only where IPv6. */
#ifndef XTURN_NET_UDP_SOCKET_H
#define XTURN_NET_UDP_SOCKET_H

#include "common/addr.h"

/* Returns the fd or -errno. dont_fragment sets DF on IPv4 (path MTU discovery "do"). */
int udp_socket_open(const struct xt_addr *bind_addr, int dont_fragment, int bufsize);

#endif
