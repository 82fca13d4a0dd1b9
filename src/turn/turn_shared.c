#include "turn/turn_shared.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "turn/turn_shared_internal.h"

static void free_secrets(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        OPENSSL_cleanse(v[i], strlen(v[i]));
        free(v[i]);
    }
    free(v);
}

struct turn_shared *turn_shared_new(const struct turn_config *cfg, const struct turn_random *random)
{
    struct turn_shared *sh = calloc(1, sizeof(*sh));
    if (!sh)
        return NULL;
    sh->cfg = cfg;
    sh->random = *random;
    sh->fifo_tail = &sh->fifo_head;
    pthread_mutex_init(&sh->lock, NULL);
    pthread_rwlock_init(&sh->secrets_lock, NULL);
    pthread_rwlock_init(&sh->host_lock, NULL);
    if (turn_random_fill(random, sh->nonce_key, sizeof(sh->nonce_key)) != 0 ||
        turn_random_fill(random, &sh->seed, sizeof(sh->seed)) != 0 ||
        htab_init(&sh->users, 64) != 0 || htab_init(&sh->reservations, 64) != 0 ||
        port_pool_init(&sh->ports[0], cfg->relay_port_lo, cfg->relay_port_hi) != 0 ||
        port_pool_init(&sh->ports[1], cfg->relay_port_lo, cfg->relay_port_hi) != 0 ||
        turn_shared_set_secrets(sh, cfg->secrets, cfg->nsecrets) != 0) {
        turn_shared_free(sh);
        return NULL;
    }
    ratelimit_init(&sh->unauth_limit, cfg->unauth_rate, cfg->unauth_burst, sh->seed);
    return sh;
}

void turn_shared_free(struct turn_shared *sh)
{
    if (!sh)
        return;
    turn_shared_expire(sh, UINT64_MAX);
    /* Users are counted by live allocations, which are gone by now. */
    htab_free(&sh->users);
    htab_free(&sh->reservations);
    port_pool_free(&sh->ports[0]);
    port_pool_free(&sh->ports[1]);
    OPENSSL_cleanse(sh->nonce_key, sizeof(sh->nonce_key));
    free_secrets(sh->secrets, sh->nsecrets);
    addr_set_free(&sh->host);
    pthread_rwlock_destroy(&sh->host_lock);
    pthread_rwlock_destroy(&sh->secrets_lock);
    pthread_mutex_destroy(&sh->lock);
    free(sh);
}

const uint8_t *turn_shared_nonce_key(const struct turn_shared *sh, size_t *len)
{
    *len = sizeof(sh->nonce_key);
    return sh->nonce_key;
}

void turn_shared_set_nonce_key(struct turn_shared *sh, const uint8_t key[TURN_NONCE_KEY_LEN])
{
    memcpy(sh->nonce_key, key, sizeof(sh->nonce_key));
}

int turn_shared_set_secrets(struct turn_shared *sh, char *const *secrets, size_t n)
{
    char **copy = calloc(n ? n : 1, sizeof(*copy)), **old;
    size_t nold;
    if (!copy)
        return -1;
    for (size_t i = 0; i < n; i++) {
        copy[i] = strdup(secrets[i]);
        if (!copy[i]) {
            free_secrets(copy, i);
            return -1;
        }
    }
    pthread_rwlock_wrlock(&sh->secrets_lock);
    old = sh->secrets;
    nold = sh->nsecrets;
    sh->secrets = copy;
    sh->nsecrets = n;
    pthread_rwlock_unlock(&sh->secrets_lock);
    if (old)
        free_secrets(old, nold);
    return 0;
}

void turn_shared_secrets_begin(struct turn_shared *sh, char *const **secrets, size_t *n)
{
    pthread_rwlock_rdlock(&sh->secrets_lock);
    *secrets = sh->secrets;
    *n = sh->nsecrets;
}

void turn_shared_secrets_end(struct turn_shared *sh)
{
    pthread_rwlock_unlock(&sh->secrets_lock);
}

struct ratelimit *turn_shared_unauth_limit(struct turn_shared *sh)
{
    return &sh->unauth_limit;
}

void turn_shared_set_draining(struct turn_shared *sh, bool draining)
{
    atomic_store(&sh->draining, draining);
}

bool turn_shared_draining(const struct turn_shared *sh)
{
    return atomic_load(&((struct turn_shared *)sh)->draining);
}

uint64_t turn_shared_allocations(struct turn_shared *sh)
{
    uint64_t n;
    pthread_mutex_lock(&sh->lock);
    n = sh->allocations;
    pthread_mutex_unlock(&sh->lock);
    return n;
}

int turn_shared_set_host_addrs(struct turn_shared *sh, const struct xt_addr *addrs, size_t n)
{
    struct addr_set next, old;

    if (addr_set_init(&next, addrs, n) != 0)
        return -1;
    pthread_rwlock_wrlock(&sh->host_lock);
    old = sh->host;
    sh->host = next;
    atomic_fetch_add(&sh->host_gen, 1);
    pthread_rwlock_unlock(&sh->host_lock);
    addr_set_free(&old);
    return 0;
}

const struct addr_set *turn_shared_host_begin(struct turn_shared *sh)
{
    pthread_rwlock_rdlock(&sh->host_lock);
    return &sh->host;
}

void turn_shared_host_end(struct turn_shared *sh)
{
    pthread_rwlock_unlock(&sh->host_lock);
}

uint32_t turn_shared_host_generation(const struct turn_shared *sh)
{
    return atomic_load(&((struct turn_shared *)sh)->host_gen);
}

bool turn_shared_port_bound(const struct turn_shared *sh, bool tcp, int fam, uint16_t port)
{
    uint64_t w = atomic_load_explicit(&((struct turn_shared *)sh)->bound[tcp][fam][port / 64],
                                      memory_order_relaxed);
    return (w >> (port % 64)) & 1;
}

void turn_shared_set_port_bound(struct turn_shared *sh, bool tcp, int fam, uint16_t port,
                                bool bound)
{
    _Atomic uint64_t *w = &sh->bound[tcp][fam][port / 64];
    uint64_t bit = 1ull << (port % 64);

    if (bound)
        atomic_fetch_or_explicit(w, bit, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(w, ~bit, memory_order_relaxed);
}

int turn_shared_slot_take(struct turn_shared *sh, void *ctx)
{
    int slot = -1;

    pthread_mutex_lock(&sh->lock);
    for (int i = 0; i < TURN_SHARED_SLOTS && slot < 0; i++)
        if (!sh->slots[i]) {
            sh->slots[i] = ctx;
            slot = i;
        }
    pthread_mutex_unlock(&sh->lock);
    return slot;
}

void turn_shared_slot_put(struct turn_shared *sh, int slot)
{
    pthread_mutex_lock(&sh->lock);
    sh->slots[slot] = NULL;
    pthread_mutex_unlock(&sh->lock);
}

void *turn_shared_slot_ctx(struct turn_shared *sh, int slot)
{
    void *ctx;

    pthread_mutex_lock(&sh->lock);
    ctx = sh->slots[slot];
    pthread_mutex_unlock(&sh->lock);
    return ctx;
}

void turn_shared_lock(struct turn_shared *sh)
{
    pthread_mutex_lock(&sh->lock);
}

void turn_shared_unlock(struct turn_shared *sh)
{
    pthread_mutex_unlock(&sh->lock);
}

struct port_pool *turn_shared_ports(struct turn_shared *sh, int fam)
{
    return &sh->ports[fam];
}

uint32_t turn_shared_ports_free(struct turn_shared *sh, int fam)
{
    return port_pool_free_count(&sh->ports[fam]);
}
