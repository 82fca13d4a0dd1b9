/* Allocations and their relayed addresses' sockets, and their expiry. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "turn/port_pool.h"
#include "turn/turn_internal.h"
#include "turn/turn_shared.h"
#include "turn/turn_snapshot.h"

static uint32_t alloc_hash(const struct turn_server *s, const struct xt_addr *client,
                           int listen_handle)
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

/* Where the search for a free relay port starts; without randomness, at the range's start: any
 * free port will do, chance only spreads them. */
static uint32_t random_u32(struct turn_server *s)
{
    uint32_t v;
    if (turn_random_fill(&s->io.random, &v, sizeof(v)) != 0)
        v = 0;
    return v;
}

/* ---- relayed addresses and their sockets ---- */

/* A relayed address's socket is open (rd->handle, bound to rd->addr): its advertised address, and
 * its port taken. With the shared lock held. */
static void relayed_bound(struct turn_server *s, struct turn_relayed *rd, int fam)
{
    const struct xt_addr *pub = relayed_public_addr(s->cfg, fam);
    uint16_t port = rd->addr.port;

    rd->advertised = pub->family ? *pub : rd->addr;
    rd->advertised.port = port;
    port_pool_mark(turn_shared_ports(s->shared, fam), port);
    turn_shared_set_port_bound(s->shared, rd->alloc->tcp, fam, port, true);
    ctr(s, rd->alloc->transport)->family[fam].relayed_addrs++;
}

static int relayed_open_port(struct turn_server *s, struct turn_relayed *rd, int fam, uint16_t port,
                             bool df)
{
    rd->addr = *relayed_bind_addr(s->cfg, fam);
    rd->addr.port = port;
    rd->handle = rd->alloc->tcp ? s->io.tcp_listen(s->io.ctx, &rd->addr, rd)
                                : s->io.relayed_open(s->io.ctx, &rd->addr, df, rd);
    if (rd->handle < 0)
        return rd->handle;
    relayed_bound(s, rd, fam);
    return 0;
}

/* Picks a free port and binds it, skipping ports something else on the host holds. */
static int relayed_open_any(struct turn_server *s, struct turn_relayed *rd, int fam, bool even,
                            bool pair, bool df)
{
    struct port_pool *pool = turn_shared_ports(s->shared, fam);
    uint32_t start = random_u32(s);
    for (int attempt = 0; attempt < 64; attempt++) {
        uint16_t port = port_pool_find(pool, start, even, pair);
        int err;
        if (port == 0)
            return -EADDRINUSE;
        err = relayed_open_port(s, rd, fam, port, df);
        if (err != -EADDRINUSE)
            return err;
        start = (uint32_t)(port - pool->lo) + 1;
    }
    return -EADDRINUSE;
}

static void relayed_close(struct turn_server *s, struct turn_relayed *rd, int fam)
{
    if (rd->handle < 0)
        return;
    s->io.relayed_close(s->io.ctx, rd->handle);
    turn_shared_set_port_bound(s->shared, rd->alloc->tcp, fam, rd->addr.port, false);
    port_pool_release(turn_shared_ports(s->shared, fam), rd->addr.port);
    ctr(s, rd->alloc->transport)->family[fam].relayed_addrs--;
    rd->handle = -1;
}

/* ---- allocations ---- */

static void alloc_expired(struct tw_timer *t, void *ctx)
{
    alloc_delete(ctx, container_of(t, struct turn_allocation, timer), "expired");
}

static void log_alloc(const char *msg, const struct turn_allocation *a, const char *reason)
{
    char c[XT_ADDR_STRLEN], r4[XT_ADDR_STRLEN] = "", r6[XT_ADDR_STRLEN] = "";
    if (!log_enabled(LOG_INFO))
        return;
    xt_addr_str(&a->client, c);
    if (a->relayed[FAM_V4].handle >= 0)
        xt_addr_str(&a->relayed[FAM_V4].advertised, r4);
    if (a->relayed[FAM_V6].handle >= 0)
        xt_addr_str(&a->relayed[FAM_V6].advertised, r6);
    xt_log(LOG_INFO, msg, "client", c, "transport", turn_transport_name(a->transport),
           "relayed_transport", a->tcp ? "tcp" : "udp", "relayed_ipv4", r4, "relayed_ipv6", r6,
           "user", a->user, XT_NUM("lifetime", a->lifetime_s), "reason", reason ? reason : "",
           NULL);
}

/* With the shared lock held: ports are picked and bound atomically across workers. A redeemed
 * reservation (reserved_port != 0) gives the port. */
static int open_relayed(struct turn_server *s, struct turn_allocation *a,
                        const struct alloc_request *ar, uint16_t reserved_family,
                        uint16_t reserved_port, uint64_t now_ms, uint64_t *token_out)
{
    bool first = true;
    if (reserved_port) {
        int fam = xt_family_index(reserved_family);
        bool df = ar->dont_fragment;
        return relayed_open_port(s, &a->relayed[fam], fam, reserved_port, df) < 0 ? 508 : 0;
    }
    for (int fam = 0; fam < FAM_COUNT; fam++) {
        /* EVEN-PORT applies to the first relayed address only. */
        bool even = first && ar->even_port, pair = even && ar->reserve_next;
        if (!ar->want[fam])
            continue;
        if (relayed_open_any(s, &a->relayed[fam], fam, even, pair, ar->dont_fragment) < 0)
            return 508;
        if (pair) {
            int code =
                turn_shared_reserve(s->shared, a->user, a->relayed[fam].addr.family,
                                    (uint16_t)(a->relayed[fam].addr.port + 1), now_ms, token_out);
            if (code)
                return code;
        }
        first = false;
    }
    return 0;
}

/* A new allocation, not counted anywhere yet. */
static struct turn_allocation *alloc_new(enum turn_transport transport, bool tcp,
                                         const struct xt_addr *client, const struct xt_addr *local,
                                         int listen_handle, const char *user,
                                         const uint8_t create_tid[STUN_TID_LEN])
{
    struct turn_allocation *a = calloc(1, sizeof(*a));

    if (!a)
        return NULL;
    a->transport = transport;
    a->tcp = tcp;
    a->client = *client;
    a->local = *local;
    a->listen_handle = listen_handle;
    snprintf(a->user, sizeof(a->user), "%s", user);
    memcpy(a->create_tid, create_tid, STUN_TID_LEN);
    tw_timer_init(&a->timer, alloc_expired);
    for (int fam = 0; fam < FAM_COUNT; fam++) {
        a->relayed[fam].alloc = a;
        a->relayed[fam].handle = -1;
    }
    return a;
}

/* Makes an allocation whose quota is taken findable, counted, rate-limited, due at due_ms. */
static void alloc_add(struct turn_server *s, struct turn_allocation *a, uint32_t lifetime_s,
                      uint64_t due_ms)
{
    htab_insert(&s->allocs, &a->node, alloc_hash(s, &a->client, a->listen_handle));
    ctr(s, a->transport)->allocations++;
    a->lifetime_s = lifetime_s;
    a->tat = s->cfg->max_bps && s->io.bucket_get ? s->io.bucket_get(s->io.ctx, &a->bucket) : NULL;
    if (!a->tat) {
        a->tat = &a->own_tat;
        a->bucket = 0;
    }
    tw_schedule(&s->wheel, &a->timer, due_ms);
}

int alloc_create(struct turn_req *r, const struct alloc_request *ar, struct turn_allocation **out,
                 uint64_t *token_out)
{
    struct turn_server *s = r->s;
    struct turn_allocation *a;
    uint16_t reserved_family = 0, reserved_port = 0;
    int code;

    a = alloc_new(r->transport, ar->tcp, r->client, r->local, r->listen_handle, r->user,
                  r->msg->tid);
    if (!a)
        return 500;
    memcpy(a->key, r->key, sizeof(a->key));
    *token_out = 0;
    turn_shared_lock(s->shared);
    /* A reservation counts against its user's quota until redeemed: it is handed back before
     * the allocation that takes its place is counted. */
    code = ar->reservation && turn_shared_redeem(s->shared, ar->reservation, r->now->ms,
                                                 &reserved_family, &reserved_port) != 0
               ? 508
               : turn_shared_quota_take(s->shared, r->user, &a->quota);
    if (code == 0) {
        code = open_relayed(s, a, ar, reserved_family, reserved_port, r->now->ms, token_out);
        if (code) {
            uint16_t family, port;
            for (int fam = 0; fam < FAM_COUNT; fam++)
                relayed_close(s, &a->relayed[fam], fam);
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
    alloc_add(s, a, ar->lifetime_s, r->now->ms + (uint64_t)ar->lifetime_s * 1000);
    log_alloc("allocation created", a, NULL);
    *out = a;
    return 0;
}

void alloc_delete(struct turn_server *s, struct turn_allocation *a, const char *reason)
{
    if (reason)
        log_alloc("allocation deleted", a, reason);
    tw_cancel(&a->timer);
    tcp_close_all(s, a);
    perm_free_all(s, a);
    turn_shared_lock(s->shared);
    for (int fam = 0; fam < FAM_COUNT; fam++)
        relayed_close(s, &a->relayed[fam], fam);
    turn_shared_quota_put(s->shared, a->quota);
    turn_shared_unlock(s->shared);
    if (a->bucket)
        s->io.bucket_put(s->io.ctx, a->bucket);
    htab_remove(&s->allocs, &a->node);
    ctr(s, a->transport)->allocations--;
    free(a);
}

void alloc_delete_all(struct turn_server *s, const char *reason)
{
    for (size_t i = 0; i < s->allocs.nbuckets; i++)
        while (s->allocs.buckets[i])
            alloc_delete(s, container_of(s->allocs.buckets[i], struct turn_allocation, node),
                         reason);
}

void alloc_refresh(struct turn_server *s, struct turn_allocation *a, uint32_t lifetime_s,
                   uint64_t now_ms)
{
    a->lifetime_s = lifetime_s;
    tw_schedule(&s->wheel, &a->timer, now_ms + (uint64_t)lifetime_s * 1000);
    log_alloc("allocation refreshed", a, NULL);
}

/* ---- the live upgrade (turn_snapshot.c) ---- */

/* Imports the socket of a restored allocation's relayed address addr. */
static const char *relayed_restore(struct turn_server *s, struct turn_relayed *rd, int fam,
                                   const struct xt_addr *addr, uint32_t sock,
                                   const struct turn_snapshot_import *im)
{
    const struct xt_addr *bind = relayed_bind_addr(s->cfg, fam);
    const char *why = NULL;

    if (!bind->family || !xt_addr_ip_equal(addr, bind))
        return "a relayed address this configuration does not bind";
    turn_shared_lock(s->shared);
    if (port_pool_is_used(turn_shared_ports(s->shared, fam), addr->port))
        why = "a relayed port outside the range, or taken twice";
    else if ((rd->handle = im->relayed_handle(im->ctx, sock, addr, rd->alloc->tcp, rd)) < 0)
        why = "the socket of a relayed address cannot be imported";
    else {
        rd->addr = *addr;
        relayed_bound(s, rd, fam);
    }
    turn_shared_unlock(s->shared);
    return why;
}

const char *alloc_restore(struct turn_server *s, const struct turn_snapshot_alloc *sa,
                          int listen_handle, uint64_t due_ms, const struct turn_snapshot_import *im,
                          struct turn_allocation **out)
{
    struct turn_allocation *a;
    const char *why = NULL;
    int code;

    if (sa->tcp && !turn_transport_is_stream(sa->transport))
        return "an RFC 6062 allocation of a client not on a stream";
    if (!sa->relayed[FAM_V4].family && !sa->relayed[FAM_V6].family)
        return "an allocation without a relayed address";
    if (sa->client.family != sa->local.family)
        return "an allocation whose client and listen address differ in family";
    if (alloc_find(s, &sa->client, listen_handle))
        return "two allocations of one 5-tuple";
    a = alloc_new(sa->transport, sa->tcp, &sa->client, &sa->local, listen_handle, sa->user,
                  sa->create_tid);
    if (!a)
        return "out of memory";
    turn_shared_lock(s->shared);
    code = turn_shared_quota_restore(s->shared, a->user, &a->quota);
    turn_shared_unlock(s->shared);
    if (code) {
        free(a);
        return "out of memory";
    }
    alloc_add(s, a, sa->lifetime_s, due_ms);
    for (int fam = 0; fam < FAM_COUNT && !why; fam++)
        if (sa->relayed[fam].family)
            why = relayed_restore(s, &a->relayed[fam], fam, &sa->relayed[fam],
                                  sa->relayed_sock[fam], im);
    if (why)
        alloc_delete(s, a, "restore failed");
    else {
        log_alloc("allocation restored", a, NULL);
        *out = a;
    }
    return why;
}
