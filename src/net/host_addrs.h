/* The addresses configured on this host (its network namespace), every interface. */
#ifndef XTURN_NET_HOST_ADDRS_H
#define XTURN_NET_HOST_ADDRS_H

#include <stddef.h>

#include "common/addr.h"

/* Every IPv4 and IPv6 address of every interface, ports zero, into a new array (*out, to free).
 * 0 or -errno. */
int host_addrs_read(struct xt_addr **out, size_t *n);

#endif
