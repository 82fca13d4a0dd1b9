/* A set of IP addresses (ports ignored), kept sorted so that a lookup is a bisection. */
#ifndef XTURN_COMMON_ADDR_SET_H
#define XTURN_COMMON_ADDR_SET_H

#include <stdbool.h>
#include <stddef.h>

#include "common/addr.h"

struct addr_set {
    struct xt_addr *ip; /* sorted, unique, ports zero */
    size_t n;
};

/* Builds the set from n addresses (copied; ports dropped, duplicates merged). 0, or -1 when out
 * of memory (then s is empty). */
int addr_set_init(struct addr_set *s, const struct xt_addr *addrs, size_t n);
void addr_set_free(struct addr_set *s);
bool addr_set_contains(const struct addr_set *s, const struct xt_addr *ip);

#endif
