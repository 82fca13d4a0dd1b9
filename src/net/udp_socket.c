#include "net/udp_socket.h"

#include "net/socket_open.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

int udp_socket_open(const struct xt_addr *bind_addr, const struct udp_socket_opts *o)
{
    int err, fd = socket_open(bind_addr->family, SOCK_DGRAM, o->reuseport);

    if (fd < 0)
        return fd;
    if (o->dont_fragment) {
        int v = IP_PMTUDISC_DO;
        int level = bind_addr->family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
        int opt = bind_addr->family == AF_INET ? IP_MTU_DISCOVER : IPV6_MTU_DISCOVER;
        if (setsockopt(fd, level, opt, &v, sizeof(v)) != 0)
            return socket_fail(fd);
    }
    /* Best effort: a kernel without it delivers datagrams one by one. */
    if (o->gro)
        setsockopt(fd, SOL_UDP, UDP_GRO, &o->gro, sizeof(o->gro));
    /* Best effort: bigger buffers absorb bursts; the kernel caps them at rmem_max/wmem_max. */
    if (o->bufsize > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o->bufsize, sizeof(o->bufsize));
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o->bufsize, sizeof(o->bufsize));
    }
    /* Before bind: no datagram arrives unfiltered. */
    if (o->filter && (err = udp_filter_attach(fd, o->filter)) != 0) {
        close(fd);
        return err;
    }
    return socket_bind(fd, bind_addr);
}

int udp_address_free(const struct xt_addr *addr)
{
    struct udp_socket_opts plain = {0};
    int fd = udp_socket_open(addr, &plain);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}
