#include "common/addr_set.h"

#include <stdlib.h>
#include <string.h>

static int cmp_ip(const void *x, const void *y)
{
    const struct xt_addr *a = x, *b = y;

    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    return memcmp(a->ip, b->ip, sizeof(a->ip));
}

int addr_set_init(struct addr_set *s, const struct xt_addr *addrs, size_t n)
{
    size_t kept = 0;

    s->ip = NULL;
    s->n = 0;
    if (n == 0)
        return 0;
    s->ip = malloc(n * sizeof(*s->ip));
    if (!s->ip)
        return -1;
    for (size_t i = 0; i < n; i++) {
        s->ip[i] = addrs[i];
        s->ip[i].port = 0;
    }
    qsort(s->ip, n, sizeof(*s->ip), cmp_ip);
    for (size_t i = 0; i < n; i++)
        if (kept == 0 || cmp_ip(&s->ip[kept - 1], &s->ip[i]) != 0)
            s->ip[kept++] = s->ip[i];
    s->n = kept;
    return 0;
}

void addr_set_free(struct addr_set *s)
{
    free(s->ip);
    s->ip = NULL;
    s->n = 0;
}

bool addr_set_contains(const struct addr_set *s, const struct xt_addr *ip)
{
    struct xt_addr key = *ip;

    key.port = 0;
    return s->n && bsearch(&key, s->ip, s->n, sizeof(*s->ip), cmp_ip) != NULL;
}
