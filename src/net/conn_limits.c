#include "net/conn_limits.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/htab.h"

struct ip_count {
    struct hnode node;
    struct xt_addr ip; /* port zero */
    uint32_t n;
};

struct conn_limits {
    pthread_mutex_t lock; /* accepts and closes only: not on the data path */
    struct htab by_ip;
    uint32_t max_total, max_per_ip, total;
    uint32_t seed;
    _Atomic size_t partial_left;
};

struct conn_limits *conn_limits_new(uint32_t max_total, uint32_t max_per_ip, size_t partial_budget)
{
    struct conn_limits *l = calloc(1, sizeof(*l));

    if (!l)
        return NULL;
    if (htab_init(&l->by_ip, 256) != 0) {
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->lock, NULL);
    l->max_total = max_total;
    l->max_per_ip = max_per_ip;
    /* The table's hash needs no secret seed: a source can only add its own IP to it. */
    l->seed = 0x9E3779B9u;
    atomic_init(&l->partial_left, partial_budget);
    return l;
}

void conn_limits_free(struct conn_limits *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->by_ip.nbuckets; i++)
        while (l->by_ip.buckets[i]) {
            struct hnode *n = l->by_ip.buckets[i];
            htab_remove(&l->by_ip, n);
            free(container_of(n, struct ip_count, node));
        }
    htab_free(&l->by_ip);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static struct ip_count *find(struct conn_limits *l, const struct xt_addr *ip, uint32_t h)
{
    for (struct hnode *n = htab_first(&l->by_ip, h); n; n = htab_next(n, h)) {
        struct ip_count *c = container_of(n, struct ip_count, node);
        if (xt_addr_ip_equal(&c->ip, ip))
            return c;
    }
    return NULL;
}

enum conn_refusal conn_limits_take(struct conn_limits *l, const struct xt_addr *ip)
{
    uint32_t h = xt_addr_ip_hash(ip, l->seed);
    enum conn_refusal r = CONN_ADMITTED;
    struct ip_count *c;

    pthread_mutex_lock(&l->lock);
    c = find(l, ip, h);
    if (l->total >= l->max_total)
        r = CONN_REFUSED_TOTAL;
    else if (c && c->n >= l->max_per_ip)
        r = CONN_REFUSED_PER_IP;
    else if (!c && !(c = calloc(1, sizeof(*c))))
        r = CONN_REFUSED_MEMORY;
    else {
        if (c->n++ == 0) {
            c->ip = *ip;
            c->ip.port = 0;
            htab_insert(&l->by_ip, &c->node, h);
        }
        l->total++;
    }
    pthread_mutex_unlock(&l->lock);
    return r;
}

void conn_limits_put(struct conn_limits *l, const struct xt_addr *ip)
{
    uint32_t h = xt_addr_ip_hash(ip, l->seed);
    struct ip_count *c;

    pthread_mutex_lock(&l->lock);
    c = find(l, ip, h);
    if (c) {
        l->total--;
        if (--c->n == 0) {
            htab_remove(&l->by_ip, &c->node);
            free(c);
        }
    }
    pthread_mutex_unlock(&l->lock);
}

bool conn_limits_buffer_take(struct conn_limits *l, size_t n)
{
    size_t left = atomic_load_explicit(&l->partial_left, memory_order_relaxed);

    do {
        if (left < n)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&l->partial_left, &left, left - n,
                                                    memory_order_relaxed, memory_order_relaxed));
    return true;
}

void conn_limits_buffer_put(struct conn_limits *l, size_t n)
{
    atomic_fetch_add_explicit(&l->partial_left, n, memory_order_relaxed);
}
