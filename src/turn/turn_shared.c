#include "turn/turn_shared.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/htab.h"
#include "turn/port_pool.h"
#include "turn/ratelimit.h"

#define RESERVATION_LIFETIME_MS 30000

struct turn_user_count {
    struct hnode node;
    uint32_t count;
    char name[];
};

/* Reservations all live 30 s, so a FIFO is also expiry order. */
struct reservation {
    struct hnode node;
    struct reservation *next;
    struct turn_user_count *quota;
    uint64_t token;
    uint64_t expires_ms;
    uint16_t family;
    uint16_t port;
    char user[]; /* its quota's name, kept for the live upgrade whatever the quotas are */
};

struct turn_shared {
    const struct turn_config *cfg;
    struct turn_random random;
    pthread_mutex_t lock;
    pthread_rwlock_t secrets_lock;
    char **secrets;
    size_t nsecrets;
    atomic_bool draining;
    uint32_t seed;
    uint8_t nonce_key[TURN_NONCE_KEY_LEN];
    struct port_pool ports[2];
    struct htab users;
    uint64_t allocations;
    uint64_t nreservations; /* live, counted with allocations against the quotas */
    struct htab reservations;
    struct reservation *fifo_head, **fifo_tail;
    pthread_rwlock_t host_lock;
    struct addr_set host;
    atomic_uint host_gen;
    /* one bit per protocol (UDP, TCP), family and port: a relay socket is bound there */
    _Atomic uint64_t bound[2][2][65536 / 64];
    void *slots[TURN_SHARED_SLOTS]; /* every server's io ctx (RFC 6062 connection ids) */
    struct ratelimit unauth_limit;
};

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

/* ---- quotas ---- */

/* REST API usernames carry an expiry that changes with every credential: count the user part. */
static const char *quota_name(const char *user)
{
    const char *colon = strchr(user, ':');
    return colon ? colon + 1 : user;
}

static uint32_t str_hash(const char *str, uint32_t seed)
{
    uint32_t h = 2166136261u ^ seed;
    for (; *str; str++)
        h = (h ^ (uint8_t)*str) * 16777619u;
    return h;
}

static struct turn_user_count *user_get(struct turn_shared *sh, const char *name)
{
    uint32_t h = str_hash(name, sh->seed);
    struct turn_user_count *u;
    for (struct hnode *n = htab_first(&sh->users, h); n; n = htab_next(n, h)) {
        u = container_of(n, struct turn_user_count, node);
        if (strcmp(u->name, name) == 0)
            return u;
    }
    u = calloc(1, sizeof(*u) + strlen(name) + 1);
    if (!u)
        return NULL;
    strcpy(u->name, name);
    htab_insert(&sh->users, &u->node, h);
    return u;
}

static void user_put(struct turn_shared *sh, struct turn_user_count *u)
{
    if (u->count > 0)
        return;
    htab_remove(&sh->users, &u->node);
    free(u);
}

/* One more allocation or reservation (*live) for the user whose quota is name; limited: only
 * within the quotas. */
static int quota_take(struct turn_shared *sh, const char *name, bool limited,
                      struct turn_user_count **out, uint64_t *live)
{
    const struct turn_config *c = sh->cfg;
    struct turn_user_count *u = NULL;

    *out = NULL;
    if (limited && c->max_allocations && sh->allocations + sh->nreservations >= c->max_allocations)
        return 486;
    if (c->user_quota) {
        u = user_get(sh, name);
        if (!u)
            return 486;
        if (limited && u->count >= c->user_quota) {
            user_put(sh, u);
            return 486;
        }
        u->count++;
    }
    (*live)++;
    *out = u;
    return 0;
}

static void quota_put(struct turn_shared *sh, struct turn_user_count *u, uint64_t *live)
{
    (*live)--;
    if (u) {
        u->count--;
        user_put(sh, u);
    }
}

int turn_shared_quota_take(struct turn_shared *sh, const char *user, struct turn_user_count **out)
{
    return quota_take(sh, quota_name(user), true, out, &sh->allocations);
}

int turn_shared_quota_restore(struct turn_shared *sh, const char *user,
                              struct turn_user_count **out)
{
    return quota_take(sh, quota_name(user), false, out, &sh->allocations);
}

void turn_shared_quota_put(struct turn_shared *sh, struct turn_user_count *u)
{
    quota_put(sh, u, &sh->allocations);
}

/* ---- reservations (EVEN-PORT with the R bit) ---- */

static uint32_t token_hash(uint64_t token)
{
    return (uint32_t)(token ^ (token >> 32));
}

static void reservation_unlink(struct turn_shared *sh, struct reservation *r)
{
    struct reservation **pp = &sh->fifo_head;
    while (*pp != r)
        pp = &(*pp)->next;
    *pp = r->next;
    if (sh->fifo_tail == &r->next)
        sh->fifo_tail = pp;
    htab_remove(&sh->reservations, &r->node);
}

/* Frees a reservation that is over (redeemed or expired): its port and quota go back. */
static void reservation_end(struct turn_shared *sh, struct reservation *r)
{
    port_pool_release(&sh->ports[xt_family_index(r->family)], r->port);
    quota_put(sh, r->quota, &sh->nreservations);
    reservation_unlink(sh, r);
    free(r);
}

static struct reservation *reservation_find(struct turn_shared *sh, uint64_t token)
{
    uint32_t h = token_hash(token);
    for (struct hnode *n = htab_first(&sh->reservations, h); n; n = htab_next(n, h)) {
        struct reservation *r = container_of(n, struct reservation, node);
        if (r->token == token)
            return r;
    }
    return NULL;
}

/* Adds a reservation at the FIFO's end, its port marked, counted against its user's quota
 * (limited: only within the quotas): 0, 486 or 500. */
static int reservation_add(struct turn_shared *sh, const struct turn_shared_reservation *in,
                           bool limited)
{
    struct reservation *r = calloc(1, sizeof(*r) + strlen(in->user) + 1);
    int code;

    if (!r)
        return 500;
    strcpy(r->user, in->user);
    code = quota_take(sh, r->user, limited, &r->quota, &sh->nreservations);
    if (code) {
        free(r);
        return code;
    }
    r->token = in->token;
    r->family = in->family;
    r->port = in->port;
    r->expires_ms = in->expires_ms;
    *sh->fifo_tail = r;
    sh->fifo_tail = &r->next;
    htab_insert(&sh->reservations, &r->node, token_hash(r->token));
    port_pool_mark(&sh->ports[xt_family_index(r->family)], r->port);
    return 0;
}

int turn_shared_reserve(struct turn_shared *sh, const char *user, uint16_t family, uint16_t port,
                        uint64_t now_ms, uint64_t *token)
{
    struct turn_shared_reservation r = {.family = family,
                                        .port = port,
                                        .expires_ms = now_ms + RESERVATION_LIFETIME_MS,
                                        .user = quota_name(user)};
    int code;

    /* Zero is never handed out: the request handler reads it as "no token". */
    if (turn_random_fill(&sh->random, &r.token, sizeof(r.token)) != 0 || r.token == 0)
        return 500;
    code = reservation_add(sh, &r, true);
    if (code == 0)
        *token = r.token;
    return code;
}

int turn_shared_redeem(struct turn_shared *sh, uint64_t token, uint64_t now_ms, uint16_t *family,
                       uint16_t *port)
{
    struct reservation *r;

    turn_shared_expire(sh, now_ms);
    r = reservation_find(sh, token);
    if (!r)
        return -1;
    *family = r->family;
    *port = r->port;
    reservation_end(sh, r);
    return 0;
}

int turn_shared_reservations_each(struct turn_shared *sh,
                                  int (*fn)(void *ctx, const struct turn_shared_reservation *r),
                                  void *ctx)
{
    int rc = 0;

    for (struct reservation *r = sh->fifo_head; r && rc == 0; r = r->next)
        rc = fn(ctx, &(struct turn_shared_reservation){.token = r->token,
                                                       .family = r->family,
                                                       .port = r->port,
                                                       .expires_ms = r->expires_ms,
                                                       .user = r->user});
    return rc;
}

int turn_shared_reservation_restore(struct turn_shared *sh, const struct turn_shared_reservation *r,
                                    uint64_t now_ms)
{
    const struct xt_addr *relay = r->family == AF_INET ? &sh->cfg->relay_v4 : &sh->cfg->relay_v6;
    /* The FIFO is in expiry order: turn_shared_expire looks at its head only. */
    const struct reservation *last =
        sh->fifo_head ? container_of(sh->fifo_tail, struct reservation, next) : NULL;

    if ((r->family != AF_INET && r->family != AF_INET6) || relay->family != r->family ||
        r->token == 0 || reservation_find(sh, r->token) ||
        port_pool_is_used(&sh->ports[xt_family_index(r->family)], r->port) ||
        (last && last->expires_ms > r->expires_ms) ||
        r->expires_ms - now_ms > RESERVATION_LIFETIME_MS)
        return -1;
    return reservation_add(sh, r, false) ? -1 : 0;
}

void turn_shared_expire(struct turn_shared *sh, uint64_t now_ms)
{
    while (sh->fifo_head && sh->fifo_head->expires_ms <= now_ms)
        reservation_end(sh, sh->fifo_head);
}
