/* A worker's socket filters against datagrams spoofed from the host's own addresses
 * (net/udp_filter.h), one per family, kept in step with the host's addresses. */
#ifndef XTURN_APP_SPOOF_FILTERS_H
#define XTURN_APP_SPOOF_FILTERS_H

#include <stdbool.h>
#include <stdint.h>

#include "net/udp_filter.h"
#include "turn/turn_shared.h"

struct spoof_filters {
    struct udp_filter f[2]; /* IPv4, IPv6 */
    uint32_t gen;           /* turn_shared_host_generation they were built for */
    bool built;
};

/* Builds the filters again when the host's addresses in sh changed (or for the first time):
 * 1 when new ones are in place (the caller gives them to its sockets), 0 when nothing changed,
 * -errno when they could not be built (the old ones stay; logged). Addresses beyond what a
 * filter holds are logged too. */
int spoof_filters_refresh(struct spoof_filters *sf, struct turn_shared *sh);
const struct udp_filter *spoof_filters_of(const struct spoof_filters *sf, int family);
void spoof_filters_free(struct spoof_filters *sf);

#endif
