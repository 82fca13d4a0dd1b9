/* Allocation, permission, channel and reservation state and its expiry. */
#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "turn/port_pool.h"
#include "turn/turn_internal.h"
#include "turn/turn_shared.h"

uint32_t alloc_hash(const struct turn_server *s, const struct xt_addr *client, int listen_handle)
{
    return xt_addr_hash(client, s->seed) ^ (uint32_t)listen_handle * 2654435761u;
}

struct turn_allocation *alloc_find(struct turn_server *s, const struct xt_addr *client,
                                   int listen_handle)
{
    uint32_t h = alloc_hash(s, client, listen_handle);
    for (struct hnode *n = htab_first(&s->allocs, h); n; n = htab_next(n, h)) {
        struct turn_allocation *a = container_of(n, struct turn_allocation, node);
        if (a->listen_handle == listen_handle && xt_addr_equal(&a->client, client))
            return a;
    }
    return NULL;
}

static uint32_t random_u32(void)
{
    uint32_t v = 0;
    if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
        v = (uint32_t)random();
    return v;
}

/* ---- relay sockets ---- */

static const struct xt_addr *relay_bind_addr(const struct turn_config *c, int fam)
{
    return fam == FAM_V4 ? &c->relay_v4 : &c->relay_v6;
}

static const struct xt_addr *relay_public_addr(const struct turn_config *c, int fam)
{
    return fam == FAM_V4 ? &c->public_v4 : &c->public_v6;
}

static int relay_open_port(struct turn_server *s, struct turn_relay *rl, int fam, uint16_t port,
                           bool df)
{
    const struct xt_addr *pub = relay_public_addr(s->cfg, fam);
    rl->addr = *relay_bind_addr(s->cfg, fam);
    rl->addr.port = port;
    rl->handle = s->io.relay_open(s->io.ctx, &rl->addr, df, rl);
    if (rl->handle < 0)
        return rl->handle;
    rl->advertised = pub->family ? *pub : rl->addr;
    rl->advertised.port = port;
    port_pool_mark(turn_shared_ports(s->shared, fam), port);
    turn_shared_set_port_bound(s->shared, fam, port, true);
    s->counters.family[fam].relayed_addrs++;
    return 0;
}

/* Picks a free port and binds it, skipping ports something else on the host holds. */
static int relay_open_any(struct turn_server *s, struct turn_relay *rl, int fam, bool even,
                          bool pair, bool df)
{
    struct port_pool *pool = turn_shared_ports(s->shared, fam);
    uint32_t start = random_u32();
    for (int attempt = 0; attempt < 64; attempt++) {
        uint16_t port = port_pool_find(pool, start, even, pair);
        int err;
        if (port == 0)
            return -EADDRINUSE;
        err = relay_open_port(s, rl, fam, port, df);
        if (err != -EADDRINUSE)
            return err;
        start = (uint32_t)(port - pool->lo) + 1;
    }
    return -EADDRINUSE;
}

static void relay_close(struct turn_server *s, struct turn_relay *rl, int fam)
{
    if (rl->handle < 0)
        return;
    s->io.relay_close(s->io.ctx, rl->handle);
    turn_shared_set_port_bound(s->shared, fam, rl->addr.port, false);
    port_pool_release(turn_shared_ports(s->shared, fam), rl->addr.port);
    s->counters.family[fam].relayed_addrs--;
    rl->handle = -1;
}

/* ---- allocations ---- */

static void alloc_expired(struct tw_timer *t, void *ctx)
{
    alloc_delete(ctx, container_of(t, struct turn_allocation, timer), "expired");
}

static void log_alloc(const char *msg, const struct turn_allocation *a, const char *reason)
{
    char c[XT_ADDR_STRLEN], r4[XT_ADDR_STRLEN] = "", r6[XT_ADDR_STRLEN] = "", life[16];
    if (!log_enabled(LOG_INFO))
        return;
    xt_addr_str(&a->client, c);
    if (a->relay[FAM_V4].handle >= 0)
        xt_addr_str(&a->relay[FAM_V4].advertised, r4);
    if (a->relay[FAM_V6].handle >= 0)
        xt_addr_str(&a->relay[FAM_V6].advertised, r6);
    snprintf(life, sizeof(life), "%u", a->lifetime_s);
    xt_log(LOG_INFO, msg, "client", c, "relayed_ipv4", r4, "relayed_ipv6", r6, "user", a->user,
           "#lifetime", life, "reason", reason ? reason : "", NULL);
}

/* With the shared lock held: ports are picked and bound atomically across workers. A redeemed
 * reservation (reserved_port != 0) gives the port. */
static int open_relays(struct turn_server *s, struct turn_allocation *a,
                       const struct alloc_request *ar, uint16_t reserved_family,
                       uint16_t reserved_port, uint64_t now_ms, uint64_t *token_out)
{
    bool first = true;
    if (reserved_port) {
        int fam = fam_index(reserved_family);
        return relay_open_port(s, &a->relay[fam], fam, reserved_port, ar->dont_fragment) < 0 ? 508
                                                                                             : 0;
    }
    for (int fam = 0; fam < FAM_COUNT; fam++) {
        /* EVEN-PORT applies to the first relayed address only. */
        bool even = first && ar->even_port, pair = even && ar->reserve_next;
        if (!ar->want[fam])
            continue;
        if (relay_open_any(s, &a->relay[fam], fam, even, pair, ar->dont_fragment) < 0)
            return 508;
        if (pair) {
            int code =
                turn_shared_reserve(s->shared, a->user, a->relay[fam].addr.family,
                                    (uint16_t)(a->relay[fam].addr.port + 1), now_ms, token_out);
            if (code)
                return code;
        }
        first = false;
    }
    return 0;
}

int alloc_create(struct turn_req *r, const struct alloc_request *ar, struct turn_allocation **out,
                 uint64_t *token_out)
{
    struct turn_server *s = r->s;
    struct turn_allocation *a;
    uint16_t reserved_family = 0, reserved_port = 0;
    int code;

    a = calloc(1, sizeof(*a));
    if (!a)
        return 500;
    a->client = *r->client;
    a->local = *r->local;
    a->listen_handle = r->listen_handle;
    memcpy(a->user, r->user, sizeof(a->user));
    memcpy(a->key, r->key, sizeof(a->key));
    memcpy(a->create_tid, r->msg->tid, STUN_TID_LEN);
    tw_timer_init(&a->timer, alloc_expired);
    for (int fam = 0; fam < FAM_COUNT; fam++) {
        a->relay[fam].alloc = a;
        a->relay[fam].handle = -1;
    }
    *token_out = 0;
    turn_shared_lock(s->shared);
    /* A reservation counts against its user's quota until redeemed: it is handed back before
     * the allocation that takes its place is counted. */
    code = ar->reservation && turn_shared_redeem(s->shared, ar->reservation, r->now->ms,
                                                 &reserved_family, &reserved_port) != 0
               ? 508
               : turn_shared_quota_take(s->shared, r->user, &a->quota);
    if (code == 0) {
        code = open_relays(s, a, ar, reserved_family, reserved_port, r->now->ms, token_out);
        if (code) {
            uint16_t family, port;
            for (int fam = 0; fam < FAM_COUNT; fam++)
                relay_close(s, &a->relay[fam], fam);
            /* A reservation made before a later family failed: nobody will get its token. */
            if (*token_out)
                turn_shared_redeem(s->shared, *token_out, r->now->ms, &family, &port);
            *token_out = 0;
            turn_shared_quota_put(s->shared, a->quota);
        }
    }
    turn_shared_unlock(s->shared);
    if (code) {
        free(a);
        return code;
    }
    htab_insert(&s->allocs, &a->node, alloc_hash(s, &a->client, a->listen_handle));
    s->counters.allocations++;
    a->lifetime_s = ar->lifetime_s;
    a->tat = s->cfg->max_bps && s->io.bucket_get ? s->io.bucket_get(s->io.ctx, &a->bucket) : NULL;
    if (!a->tat) {
        a->tat = &a->own_tat;
        a->bucket = 0;
    }
    tw_schedule(&s->wheel, &a->timer, r->now->ms + (uint64_t)ar->lifetime_s * 1000);
    log_alloc("allocation created", a, NULL);
    *out = a;
    return 0;
}

/* ---- permissions and channels, hashed with their allocation ---- */

static uint32_t alloc_mix(const struct turn_allocation *a)
{
    return (uint32_t)((uintptr_t)a >> 4) * 2654435761u;
}

static uint32_t ip_key(const struct turn_server *s, const struct turn_allocation *a,
                       const struct xt_addr *ip)
{
    return xt_addr_ip_hash(ip, s->seed) ^ alloc_mix(a);
}

static uint32_t number_key(const struct turn_allocation *a, uint16_t number)
{
    return alloc_mix(a) ^ (uint32_t)number * 0x9E3779B1u;
}

static void perm_free(struct turn_server *s, struct turn_permission *p)
{
    tw_cancel(&p->timer);
    htab_remove(&s->perms, &p->node);
    list_unlink(&p->entry);
    p->alloc->nperms--;
    s->counters.family[fam_index(p->ip.family)].permissions--;
    free(p);
}

static void chan_mirror(struct turn_server *s, struct turn_channel *c, bool up)
{
    struct turn_allocation *a = c->alloc;
    struct turn_channel_info ci = {.client = &a->client,
                                   .local = &a->local,
                                   .channel = c->number,
                                   .peer = &c->peer,
                                   .relay = &a->relay[fam_index(c->peer.family)].addr,
                                   .bucket = a->bucket};
    if (c->mirrored == up)
        return;
    if (up)
        c->mirrored = s->io.channel_up && s->io.channel_up(s->io.ctx, &ci) == 0;
    else {
        if (s->io.channel_down)
            s->io.channel_down(s->io.ctx, &ci);
        c->mirrored = false;
    }
}

/* A channel is usable while both it and a permission for its peer's IP exist. */
static void mirror_channels_of(struct turn_server *s, struct turn_allocation *a,
                               const struct xt_addr *ip, bool up)
{
    uint32_t h = ip_key(s, a, ip);
    for (struct hnode *n = htab_first(&s->chan_ips, h); n; n = htab_next(n, h)) {
        struct turn_channel *c = container_of(n, struct turn_channel, by_ip);
        if (c->alloc == a && xt_addr_ip_equal(&c->peer, ip))
            chan_mirror(s, c, up);
    }
}

static void chan_free(struct turn_server *s, struct turn_channel *c)
{
    chan_mirror(s, c, false);
    tw_cancel(&c->timer);
    htab_remove(&s->chan_numbers, &c->by_number);
    htab_remove(&s->chan_ips, &c->by_ip);
    list_unlink(&c->entry);
    c->alloc->nchans--;
    s->counters.family[fam_index(c->peer.family)].channels--;
    free(c);
}

void alloc_delete(struct turn_server *s, struct turn_allocation *a, const char *reason)
{
    log_alloc("allocation deleted", a, reason);
    tw_cancel(&a->timer);
    while (a->chans)
        chan_free(s, container_of(a->chans, struct turn_channel, entry));
    while (a->perms)
        perm_free(s, container_of(a->perms, struct turn_permission, entry));
    turn_shared_lock(s->shared);
    for (int fam = 0; fam < FAM_COUNT; fam++)
        relay_close(s, &a->relay[fam], fam);
    turn_shared_quota_put(s->shared, a->quota);
    turn_shared_unlock(s->shared);
    if (a->bucket)
        s->io.bucket_put(s->io.ctx, a->bucket);
    htab_remove(&s->allocs, &a->node);
    s->counters.allocations--;
    free(a);
}

void alloc_refresh(struct turn_server *s, struct turn_allocation *a, uint32_t lifetime_s,
                   uint64_t now_ms)
{
    a->lifetime_s = lifetime_s;
    tw_schedule(&s->wheel, &a->timer, now_ms + (uint64_t)lifetime_s * 1000);
    log_alloc("allocation refreshed", a, NULL);
}

/* ---- permissions ---- */

void perm_revoke(struct turn_server *s, struct turn_permission *p)
{
    mirror_channels_of(s, p->alloc, &p->ip, false);
    perm_free(s, p);
}

static void perm_expired(struct tw_timer *t, void *ctx)
{
    perm_revoke(ctx, container_of(t, struct turn_permission, timer));
}

struct turn_permission *perm_find(struct turn_server *s, const struct turn_allocation *a,
                                  const struct xt_addr *peer)
{
    uint32_t h = ip_key(s, a, peer);
    for (struct hnode *n = htab_first(&s->perms, h); n; n = htab_next(n, h)) {
        struct turn_permission *p = container_of(n, struct turn_permission, node);
        if (p->alloc == a && xt_addr_ip_equal(&p->ip, peer))
            return p;
    }
    return NULL;
}

/* How many of peers[0..n) have no permission yet, each IP counted once. */
static uint32_t perms_missing(struct turn_server *s, const struct turn_allocation *a,
                              const struct xt_addr *peers, size_t n)
{
    uint32_t missing = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = perm_find(s, a, &peers[i]) != NULL;
        for (size_t j = 0; j < i && !seen; j++)
            seen = xt_addr_ip_equal(&peers[j], &peers[i]);
        missing += !seen;
    }
    return missing;
}

static bool over_cap(uint32_t have, uint32_t more, uint32_t cap)
{
    return cap && more && (uint64_t)have + more > cap;
}

static int perm_install_one(struct turn_server *s, struct turn_allocation *a,
                            const struct xt_addr *peer, uint64_t now_ms)
{
    struct turn_permission *p = perm_find(s, a, peer);

    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p)
            return 500;
        p->alloc = a;
        p->ip = *peer;
        p->ip.port = 0;
        p->self = self_is_host(s, peer);
        tw_timer_init(&p->timer, perm_expired);
        htab_insert(&s->perms, &p->node, ip_key(s, a, &p->ip));
        list_push(&a->perms, &p->entry);
        a->nperms++;
        s->counters.family[fam_index(peer->family)].permissions++;
    }
    tw_schedule(&s->wheel, &p->timer, now_ms + (uint64_t)s->cfg->permission_lifetime_s * 1000);
    /* Also on a refresh: a channel the fast path could not take before may fit now. */
    mirror_channels_of(s, a, &p->ip, true);
    return 0;
}

int perm_install(struct turn_server *s, struct turn_allocation *a, const struct xt_addr *peers,
                 size_t n, uint64_t now_ms)
{
    if (over_cap(a->nperms, perms_missing(s, a, peers, n), s->cfg->max_permissions))
        return 508;
    for (size_t i = 0; i < n; i++) {
        int code = perm_install_one(s, a, &peers[i], now_ms);
        if (code)
            return code;
    }
    return 0;
}

/* ---- channels ---- */

static void chan_expired(struct tw_timer *t, void *ctx)
{
    chan_free(ctx, container_of(t, struct turn_channel, timer));
}

struct turn_channel *chan_by_number(struct turn_server *s, const struct turn_allocation *a,
                                    uint16_t number)
{
    uint32_t h = number_key(a, number);
    for (struct hnode *n = htab_first(&s->chan_numbers, h); n; n = htab_next(n, h)) {
        struct turn_channel *c = container_of(n, struct turn_channel, by_number);
        if (c->alloc == a && c->number == number)
            return c;
    }
    return NULL;
}

struct turn_channel *chan_by_peer(struct turn_server *s, const struct turn_allocation *a,
                                  const struct xt_addr *peer)
{
    uint32_t h = ip_key(s, a, peer);
    for (struct hnode *n = htab_first(&s->chan_ips, h); n; n = htab_next(n, h)) {
        struct turn_channel *c = container_of(n, struct turn_channel, by_ip);
        if (c->alloc == a && xt_addr_equal(&c->peer, peer))
            return c;
    }
    return NULL;
}

int chan_bind(struct turn_server *s, struct turn_allocation *a, uint16_t number,
              const struct xt_addr *peer, uint64_t now_ms)
{
    struct turn_channel *c = chan_by_number(s, a, number);

    if (!c && over_cap(a->nchans, 1, s->cfg->max_channels))
        return 508;
    if (over_cap(a->nperms, perms_missing(s, a, peer, 1), s->cfg->max_permissions))
        return 508;
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (!c)
            return 500;
        c->alloc = a;
        c->number = number;
        c->peer = *peer;
        tw_timer_init(&c->timer, chan_expired);
        htab_insert(&s->chan_numbers, &c->by_number, number_key(a, number));
        htab_insert(&s->chan_ips, &c->by_ip, ip_key(s, a, peer));
        list_push(&a->chans, &c->entry);
        a->nchans++;
        s->counters.family[fam_index(peer->family)].channels++;
    }
    tw_schedule(&s->wheel, &c->timer, now_ms + (uint64_t)s->cfg->channel_lifetime_s * 1000);
    return perm_install_one(s, a, peer, now_ms);
}
