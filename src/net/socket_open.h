/* What every socket of the relay starts as, and how its setup ends: bound, or closed. */
#ifndef XTURN_NET_SOCKET_OPEN_H
#define XTURN_NET_SOCKET_OPEN_H

#include "common/addr.h"

/* A non-blocking, close-on-exec socket of type (SOCK_DGRAM, SOCK_STREAM) for family, IPv6-only
 * when IPv6 (IPv4 addresses have sockets of their own), and in an SO_REUSEPORT group when
 * reuseport. The fd or -errno. */
int socket_open(int family, int type, int reuseport);
/* Binds fd to addr: fd, or -errno with fd closed. */
int socket_bind(int fd, const struct xt_addr *addr);
/* A call on fd failed: closes fd and returns -errno as that call left it. */
int socket_fail(int fd);

#endif
