/* What client stream connections may take, shared by every worker: a number in total and per
 * source IP, and the bytes all of them may hold in messages not complete yet. SO_REUSEPORT
 * spreads one IP's connections over the workers, so no worker can count them alone. */
#ifndef XTURN_NET_CONN_LIMITS_H
#define XTURN_NET_CONN_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

enum conn_refusal {
    CONN_ADMITTED = 0,
    CONN_REFUSED_TOTAL,  /* --max-tcp-connections reached */
    CONN_REFUSED_PER_IP, /* --max-tcp-per-ip reached for this source */
    CONN_REFUSED_MEMORY, /* out of memory for the bookkeeping */
};

struct conn_limits;

/* NULL when out of memory. partial_budget: bytes of incomplete messages all connections may
 * hold together. */
struct conn_limits *conn_limits_new(uint32_t max_total, uint32_t max_per_ip, size_t partial_budget);
void conn_limits_free(struct conn_limits *l);
/* Counts a new connection from ip, or says why not. */
enum conn_refusal conn_limits_take(struct conn_limits *l, const struct xt_addr *ip);
/* The connection from ip ended. */
void conn_limits_put(struct conn_limits *l, const struct xt_addr *ip);
/* Takes n more bytes of the budget for incomplete messages; false when that would exceed it. */
bool conn_limits_buffer_take(struct conn_limits *l, size_t n);
void conn_limits_buffer_put(struct conn_limits *l, size_t n);

#endif
