#include "net/tcp_socket.h"

#include "net/socket_open.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

static int tcp_socket_bound(const struct xt_addr *addr, int reuseport)
{
    int one = 1, fd = socket_open(addr->family, SOCK_STREAM, reuseport);

    if (fd < 0)
        return fd;
    /* A restart must not wait for the old connections' TIME_WAIT. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
        return socket_fail(fd);
    return socket_bind(fd, addr);
}

int tcp_listen_open(const struct xt_addr *addr, int reuseport, int backlog)
{
    int fd = tcp_socket_bound(addr, reuseport);

    if (fd >= 0 && listen(fd, backlog) != 0)
        return socket_fail(fd);
    return fd;
}

int tcp_connect_from(const struct xt_addr *local, const struct xt_addr *peer)
{
    struct sockaddr_storage ss;
    socklen_t sl = xt_addr_to_sockaddr(peer, &ss);
    int one = 1, fd = tcp_socket_bound(local, 1);

    if (fd < 0)
        return fd;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS)
        return socket_fail(fd);
    return fd;
}

int tcp_address_free(const struct xt_addr *addr)
{
    int err, fd = tcp_socket_bound(addr, 0);

    if (fd < 0)
        return fd;
    /* SO_REUSEADDR lets bind succeed beside a listener on Linux; listen does not. */
    err = listen(fd, 1) == 0 ? 0 : -errno;
    close(fd);
    return err;
}

int tcp_accept(int listen_fd, struct xt_addr *peer)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int one = 1;
    int fd = accept4(listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    if (xt_addr_from_sockaddr((struct sockaddr *)&ss, sl, peer) != 0) {
        close(fd);
        return -EAFNOSUPPORT;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}
