#include "net/host_addrs.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>

int host_addrs_read(struct xt_addr **out, size_t *n)
{
    struct ifaddrs *list, *i;
    size_t count = 0;

    *out = NULL;
    *n = 0;
    if (getifaddrs(&list) != 0)
        return -errno;
    for (i = list; i; i = i->ifa_next)
        count += i->ifa_addr != NULL;
    *out = calloc(count ? count : 1, sizeof(**out));
    if (!*out) {
        freeifaddrs(list);
        return -ENOMEM;
    }
    for (i = list; i; i = i->ifa_next) {
        struct xt_addr a;
        socklen_t len = i->ifa_addr && i->ifa_addr->sa_family == AF_INET
                            ? sizeof(struct sockaddr_in)
                            : sizeof(struct sockaddr_in6);

        if (!i->ifa_addr || xt_addr_from_sockaddr(i->ifa_addr, len, &a) != 0)
            continue; /* AF_PACKET entries and the like */
        a.port = 0;
        (*out)[(*n)++] = a;
    }
    freeifaddrs(list);
    return 0;
}
