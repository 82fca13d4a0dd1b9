/* Permissions and channels of allocations, hashed with their allocation, and their expiry. */
#include <stdlib.h>

#include "turn/turn_internal.h"
#include "turn/turn_shared.h"

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
    ctr(s, p->alloc->transport)->family[xt_family_index(p->ip.family)].permissions--;
    free(p);
}

static void chan_mirror(struct turn_server *s, struct turn_channel *c, bool up)
{
    struct turn_allocation *a = c->alloc;
    struct turn_channel_info ci = {.transport = a->transport,
                                   .client = &a->client,
                                   .local = &a->local,
                                   .channel = c->number,
                                   .peer = &c->peer,
                                   .relayed = &a->relayed[xt_family_index(c->peer.family)].addr,
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
    ctr(s, c->alloc->transport)->family[xt_family_index(c->peer.family)].channels--;
    free(c);
}

void perm_free_all(struct turn_server *s, struct turn_allocation *a)
{
    while (a->chans)
        chan_free(s, container_of(a->chans, struct turn_channel, entry));
    while (a->perms)
        perm_free(s, container_of(a->perms, struct turn_permission, entry));
}

/* ---- permissions ---- */

/* Ends a permission before its time (its channels stop being usable). */
static void perm_revoke(struct turn_server *s, struct turn_permission *p)
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

/* A new permission for peer's IP, not scheduled yet; NULL without memory. */
static struct turn_permission *perm_new(struct turn_server *s, struct turn_allocation *a,
                                        const struct xt_addr *peer)
{
    struct turn_permission *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->alloc = a;
    p->ip = *peer;
    p->ip.port = 0;
    p->self = self_is_host(s, peer);
    tw_timer_init(&p->timer, perm_expired);
    htab_insert(&s->perms, &p->node, ip_key(s, a, &p->ip));
    list_push(&a->perms, &p->entry);
    a->nperms++;
    ctr(s, a->transport)->family[xt_family_index(peer->family)].permissions++;
    return p;
}

static int perm_install_one(struct turn_server *s, struct turn_allocation *a,
                            const struct xt_addr *peer, uint64_t now_ms)
{
    struct turn_permission *p = perm_find(s, a, peer);

    if (!p && !(p = perm_new(s, a, peer)))
        return 500;
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

/* A new channel, not scheduled yet; NULL without memory. */
static struct turn_channel *chan_new(struct turn_server *s, struct turn_allocation *a,
                                     uint16_t number, const struct xt_addr *peer)
{
    struct turn_channel *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->alloc = a;
    c->number = number;
    c->peer = *peer;
    tw_timer_init(&c->timer, chan_expired);
    htab_insert(&s->chan_numbers, &c->by_number, number_key(a, number));
    htab_insert(&s->chan_ips, &c->by_ip, ip_key(s, a, peer));
    list_push(&a->chans, &c->entry);
    a->nchans++;
    ctr(s, a->transport)->family[xt_family_index(peer->family)].channels++;
    return c;
}

int chan_bind(struct turn_server *s, struct turn_allocation *a, uint16_t number,
              const struct xt_addr *peer, uint64_t now_ms)
{
    struct turn_channel *c = chan_by_number(s, a, number);

    if (!c && over_cap(a->nchans, 1, s->cfg->max_channels))
        return 508;
    if (over_cap(a->nperms, perms_missing(s, a, peer, 1), s->cfg->max_permissions))
        return 508;
    if (!c && !(c = chan_new(s, a, number, peer)))
        return 500;
    tw_schedule(&s->wheel, &c->timer, now_ms + (uint64_t)s->cfg->channel_lifetime_s * 1000);
    return perm_install_one(s, a, peer, now_ms);
}

/* ---- the live upgrade (turn_snapshot.c) ---- */

const char *perm_restore(struct turn_server *s, struct turn_allocation *a, const struct xt_addr *ip,
                         uint64_t due_ms)
{
    struct turn_permission *p;

    if (ip->port != 0 || a->relayed[xt_family_index(ip->family)].handle < 0)
        return "a permission for an address the allocation cannot reach";
    if (perm_find(s, a, ip))
        return "two permissions for one address";
    if (!(p = perm_new(s, a, ip)))
        return "out of memory";
    tw_schedule(&s->wheel, &p->timer, due_ms);
    return NULL;
}

const char *chan_restore(struct turn_server *s, struct turn_allocation *a, uint16_t number,
                         const struct xt_addr *peer, uint64_t due_ms)
{
    struct turn_channel *c;

    if (a->tcp || a->relayed[xt_family_index(peer->family)].handle < 0)
        return "a channel the allocation cannot have";
    /* RFC 8656 11.2's rule holds in a snapshot too: one peer per channel, one channel per peer. */
    if (chan_by_number(s, a, number) || chan_by_peer(s, a, peer))
        return "a channel number or peer bound twice";
    if (!(c = chan_new(s, a, number, peer)))
        return "out of memory";
    tw_schedule(&s->wheel, &c->timer, due_ms);
    /* Usable at once when its peer's permission came with it: the fast path carries it again. */
    if (perm_find(s, a, peer))
        chan_mirror(s, c, true);
    return NULL;
}

void perm_rejudge(struct turn_server *s)
{
    const struct addr_set *host = turn_shared_host_begin(s->shared);

    for (size_t i = 0; i < s->allocs.nbuckets; i++) {
        for (struct hnode *n = s->allocs.buckets[i]; n; n = n->next) {
            struct turn_allocation *a = container_of(n, struct turn_allocation, node);
            struct list_node *e = a->perms;

            while (e) {
                struct turn_permission *p = container_of(e, struct turn_permission, entry);

                e = e->next;
                p->self = peer_policy_is_self(&s->cfg->policy, host, &p->ip);
                if (p->self && !self_relayed_ip(s->cfg, &p->ip))
                    perm_revoke(s, p);
            }
        }
    }
    turn_shared_host_end(s->shared);
}
