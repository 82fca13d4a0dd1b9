/* Which relay ports of one family are in use or reserved, as a bitmap over the range. */
#ifndef XTURN_TURN_PORT_POOL_H
#define XTURN_TURN_PORT_POOL_H

#include <stdbool.h>
#include <stdint.h>

struct port_pool {
    uint16_t lo, hi;
    uint32_t used;
    uint64_t *bits;
};

int port_pool_init(struct port_pool *p, uint16_t lo, uint16_t hi);
void port_pool_free(struct port_pool *p);
bool port_pool_is_used(const struct port_pool *p, uint16_t port);
void port_pool_mark(struct port_pool *p, uint16_t port);
void port_pool_release(struct port_pool *p, uint16_t port);
uint32_t port_pool_free_count(const struct port_pool *p);
/* Finds a free port at or after a start offset (wrapping). even: only even ports; pair: the
 * next port must be free as well. Returns the port, or 0 when none fits. Does not mark it. */
uint16_t port_pool_find(const struct port_pool *p, uint32_t start, bool even, bool pair);

#endif
