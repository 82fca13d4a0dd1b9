#include "net/socket_open.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

int socket_open(int family, int type, int reuseport)
{
    int one = 1;
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    if ((family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0))
        return socket_fail(fd);
    return fd;
}

int socket_bind(int fd, const struct xt_addr *addr)
{
    struct sockaddr_storage ss;
    socklen_t sl = xt_addr_to_sockaddr(addr, &ss);

    return bind(fd, (struct sockaddr *)&ss, sl) == 0 ? fd : socket_fail(fd);
}

int socket_fail(int fd)
{
    int err = -errno;

    close(fd);
    return err;
}
