#include "common/htab.h"

#include <stdlib.h>

int htab_init(struct htab *t, size_t nbuckets)
{
    size_t n = 1;
    while (n < nbuckets)
        n <<= 1;
    t->buckets = calloc(n, sizeof(*t->buckets));
    t->nbuckets = t->buckets ? n : 0;
    t->count = 0;
    return t->buckets ? 0 : -1;
}

void htab_free(struct htab *t)
{
    free(t->buckets);
    t->buckets = NULL;
    t->nbuckets = 0;
    t->count = 0;
}

static void grow(struct htab *t)
{
    size_t nb = t->nbuckets * 2;
    struct hnode **b = calloc(nb, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct hnode *n = t->buckets[i];
        while (n) {
            struct hnode *next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

void htab_insert(struct htab *t, struct hnode *n, uint32_t hash)
{
    if (t->count >= t->nbuckets)
        grow(t);
    n->hash = hash;
    n->next = t->buckets[hash & (t->nbuckets - 1)];
    t->buckets[hash & (t->nbuckets - 1)] = n;
    t->count++;
}

void htab_remove(struct htab *t, struct hnode *n)
{
    struct hnode **pp = &t->buckets[n->hash & (t->nbuckets - 1)];
    while (*pp && *pp != n)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = n->next;
        t->count--;
    }
    n->next = NULL;
}

struct hnode *htab_first(const struct htab *t, uint32_t hash)
{
    struct hnode *n = t->buckets[hash & (t->nbuckets - 1)];
    while (n && n->hash != hash)
        n = n->next;
    return n;
}

struct hnode *htab_next(const struct hnode *n, uint32_t hash)
{
    struct hnode *m = n->next;
    while (m && m->hash != hash)
        m = m->next;
    return m;
}
