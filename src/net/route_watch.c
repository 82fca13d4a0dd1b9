#include "net/route_watch.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

/* Notifications come in bursts (a link going down takes its routes and neighbours with it): a
 * large buffer keeps overflows rare, and an overflow only means "changed". */
#define WATCH_RCVBUF (1 << 20)

static const unsigned watch_groups[] = {
    RTNLGRP_LINK,       RTNLGRP_NEIGH,      RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR,
    RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV4_RULE,   RTNLGRP_IPV6_RULE,
};

int route_watch_open(void)
{
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    int buf = WATCH_RCVBUF;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    int rc = 0;

    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        rc = -errno;
    for (size_t i = 0; rc == 0 && i < sizeof(watch_groups) / sizeof(watch_groups[0]); i++)
        if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &watch_groups[i],
                       sizeof(watch_groups[i])) != 0)
            rc = -errno;
    /* A smaller buffer than asked is not an error: overflows are handled. */
    if (rc == 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    if (rc != 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* What one datagram of notifications says changed. */
static int classify(char *buf, int len)
{
    int what = ROUTE_WATCH_CHANGED;

    for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
        if (h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR)
            what |= ROUTE_WATCH_ADDRESSES;
    return what;
}

int route_watch_drain(int fd)
{
    /* 8 KiB: the kernel's notifications fit one page (NLMSG_GOODSIZE). */
    _Alignas(struct nlmsghdr) char buf[8192];
    int changed = 0;

    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

        if (n > 0) {
            changed |= classify(buf, (int)n);
            continue;
        }
        if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
            return changed;
        if (errno == ENOBUFS) {
            changed |= ROUTE_WATCH_CHANGED | ROUTE_WATCH_ADDRESSES;
            continue;
        }
        if (errno != EINTR)
            return -errno;
    }
}
