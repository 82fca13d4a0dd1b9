#include "app/spoof_filters.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"

int spoof_filters_refresh(struct spoof_filters *sf, struct turn_shared *sh)
{
    uint32_t gen = turn_shared_host_generation(sh);
    const struct addr_set *host;
    struct udp_filter next[2];
    size_t covered[2];
    int rc[2];

    if (sf->built && gen == sf->gen)
        return 0;
    host = turn_shared_host_begin(sh);
    for (int f = 0; f < 2; f++)
        rc[f] = udp_filter_build(&next[f], f ? AF_INET6 : AF_INET, host->ip, host->n, &covered[f]);
    turn_shared_host_end(sh);
    for (int f = 0; f < 2; f++) {
        if (rc[f] == -E2BIG)
            xt_log(LOG_ERROR,
                   "more host addresses than a socket filter holds: datagrams spoofed from the "
                   "others are not dropped",
                   "family", f ? "ipv6" : "ipv4", XT_NUM("covered", covered[f]), NULL);
        else if (rc[f] != 0) {
            xt_log(LOG_ERROR, "cannot build the socket filter against spoofed sources", "error",
                   strerror(-rc[f]), NULL);
            udp_filter_free(&next[0]);
            udp_filter_free(&next[1]);
            return rc[f];
        }
    }
    spoof_filters_free(sf);
    memcpy(sf->f, next, sizeof(next));
    sf->gen = gen;
    sf->built = true;
    return 1;
}

const struct udp_filter *spoof_filters_of(const struct spoof_filters *sf, int family)
{
    return &sf->f[xt_family_index((uint16_t)family)];
}

void spoof_filters_free(struct spoof_filters *sf)
{
    udp_filter_free(&sf->f[0]);
    udp_filter_free(&sf->f[1]);
}
