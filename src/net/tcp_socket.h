/* TCP sockets for stream clients: listening (non-blocking, SO_REUSEPORT groups like the UDP
 * listen sockets) and accepted connections. */
#ifndef XTURN_NET_TCP_SOCKET_H
#define XTURN_NET_TCP_SOCKET_H

#include "common/addr.h"

/* A listening socket bound to addr: the fd or -errno. reuseport: join a group of sockets the
 * kernel spreads new connections over. */
int tcp_listen_open(const struct xt_addr *addr, int reuseport, int backlog);

/* A connection from local to peer, started without waiting for it (RFC 6062 Connect): bound to
 * local with SO_REUSEADDR and SO_REUSEPORT, so beside a listening socket opened on it with
 * reuseport; Nagle off. The fd, whose writability tells the outcome (SO_ERROR), or -errno. */
int tcp_connect_from(const struct xt_addr *local, const struct xt_addr *peer);

/* 0 if nothing listens on or is bound to addr (TCP), else -errno (-EADDRINUSE). */
int tcp_address_free(const struct xt_addr *addr);

/* The next connection waiting on a listening socket: its fd (non-blocking, close-on-exec,
 * Nagle off: every frame is a message someone waits for), with the client's address in *peer.
 * -EAGAIN when none is waiting, another -errno on failure. */
int tcp_accept(int listen_fd, struct xt_addr *peer);

#endif
