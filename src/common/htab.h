/* Intrusive chained hash table; the caller hashes keys and compares entries itself. */
#ifndef XTURN_COMMON_HTAB_H
#define XTURN_COMMON_HTAB_H

#include <stddef.h>
#include <stdint.h>

#include "common/container_of.h"

struct hnode {
    struct hnode *next;
    uint32_t hash;
};

struct htab {
    struct hnode **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
};

int htab_init(struct htab *t, size_t nbuckets);
void htab_free(struct htab *t);
/* Grows the table (doubling) when it gets fuller than one entry per bucket; if that allocation
 * fails the table simply stays longer-chained. */
void htab_insert(struct htab *t, struct hnode *n, uint32_t hash);
void htab_remove(struct htab *t, struct hnode *n);
/* Entries whose hash equals hash, in chain order: first, then next until NULL. */
struct hnode *htab_first(const struct htab *t, uint32_t hash);
struct hnode *htab_next(const struct hnode *n, uint32_t hash);

#endif
