#include "turn/port_pool.h"

#include <stdlib.h>

int port_pool_init(struct port_pool *p, uint16_t lo, uint16_t hi)
{
    uint32_t n = (uint32_t)hi - lo + 1;
    p->lo = lo;
    p->hi = hi;
    p->used = 0;
    p->bits = calloc((n + 63) / 64, sizeof(uint64_t));
    return p->bits ? 0 : -1;
}

void port_pool_free(struct port_pool *p)
{
    free(p->bits);
    p->bits = NULL;
}

bool port_pool_is_used(const struct port_pool *p, uint16_t port)
{
    uint32_t i;
    if (port < p->lo || port > p->hi)
        return true;
    i = (uint32_t)port - p->lo;
    return (p->bits[i / 64] >> (i % 64)) & 1;
}

void port_pool_mark(struct port_pool *p, uint16_t port)
{
    uint32_t i = (uint32_t)port - p->lo;
    if (port_pool_is_used(p, port))
        return;
    p->bits[i / 64] |= 1ull << (i % 64);
    p->used++;
}

void port_pool_release(struct port_pool *p, uint16_t port)
{
    uint32_t i = (uint32_t)port - p->lo;
    if (port < p->lo || port > p->hi || !port_pool_is_used(p, port))
        return;
    p->bits[i / 64] &= ~(1ull << (i % 64));
    p->used--;
}

uint32_t port_pool_free_count(const struct port_pool *p)
{
    return (uint32_t)p->hi - p->lo + 1 - p->used;
}

uint16_t port_pool_find(const struct port_pool *p, uint32_t start, bool even, bool pair)
{
    uint32_t n = (uint32_t)p->hi - p->lo + 1;
    for (uint32_t k = 0; k < n; k++) {
        uint16_t port = (uint16_t)(p->lo + (start + k) % n);
        if (even && (port & 1))
            continue;
        if (port_pool_is_used(p, port))
            continue;
        if (pair && (port == p->hi || port_pool_is_used(p, (uint16_t)(port + 1))))
            continue;
        return port;
    }
    return 0;
}
