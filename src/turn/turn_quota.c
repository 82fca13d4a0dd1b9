/* Users' quotas (--user-quota: live allocations and reservations per user) and EVEN-PORT
 * reservations (RFC 8656 section 7.2: the next port kept 30 s for a token), in the state all
 * workers share, under its lock. */
#include <stdlib.h>
#include <string.h>

#include "turn/turn_shared_internal.h"

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
