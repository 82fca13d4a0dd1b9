/* What every socket of the relay starts as. */
#ifndef XTURN_NET_SOCKET_OPEN_H
#define XTURN_NET_SOCKET_OPEN_H

/* A non-blocking, close-on-exec socket of type (SOCK_DGRAM, SOCK_STREAM) for family, IPv6-only
 * when IPv6 (IPv4 addresses have sockets of their own), and in an SO_REUSEPORT group when
 * reuseport. The fd or -errno. */
int socket_open(int family, int type, int reuseport);

#endif
