/* The live upgrade's state: capture from a running core, restore into a fresh one. What is not
 * carried, and why, is in docs/UPGRADE_STATE.md. */
#include "turn/turn_snapshot.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "turn/turn_internal.h"

#define NS_PER_MS 1000000ull

void *turn_snapshot_push(void *arrp, size_t *n, size_t size)
{
    char *arr;

    memcpy(&arr, arrp, sizeof(arr));
    /* Capacity is the next power of two: the array grows when its count reaches one. */
    if ((*n & (*n - 1)) == 0) {
        char *next = realloc(arr, (*n ? 2 * *n : 1) * size);
        if (!next)
            return NULL;
        arr = next;
        memcpy(arrp, &arr, sizeof(arr));
    }
    memset(arr + *n * size, 0, size);
    return arr + (*n)++ * size;
}

void turn_snapshot_free(struct turn_snapshot *snap)
{
    for (size_t i = 0; i < snap->nservers; i++) {
        struct turn_snapshot_server *sv = &snap->servers[i];
        for (size_t j = 0; j < sv->nallocs; j++) {
            free(sv->allocs[j].perms);
            free(sv->allocs[j].chans);
        }
        free(sv->allocs);
        free(sv->txs);
    }
    free(snap->servers);
    free(snap->reservations);
    OPENSSL_cleanse(snap->nonce_key, sizeof(snap->nonce_key));
    memset(snap, 0, sizeof(*snap));
}

/* ---- capture ---- */

static uint64_t remaining_ms(const struct tw_timer *t, uint64_t now_ms)
{
    return t->due_ms > now_ms ? t->due_ms - now_ms : 0;
}

struct reservations_ctx {
    struct turn_snapshot *snap;
    uint64_t now_ms;
};

static int capture_reservation(void *ctx, const struct turn_shared_reservation *r)
{
    struct reservations_ctx *rc = ctx;
    struct turn_snapshot_reservation *sr;

    if (r->expires_ms <= rc->now_ms)
        return 0;
    sr = turn_snapshot_push(&rc->snap->reservations, &rc->snap->nreservations, sizeof(*sr));
    if (!sr)
        return -1;
    sr->token = r->token;
    sr->addr.family = r->family;
    sr->addr.port = r->port;
    sr->remaining_ms = r->expires_ms - rc->now_ms;
    snprintf(sr->user, sizeof(sr->user), "%s", r->user);
    return 0;
}

int turn_snapshot_capture_shared(struct turn_snapshot *snap, struct turn_shared *sh,
                                 const struct turn_time *now)
{
    struct reservations_ctx rc = {.snap = snap, .now_ms = now->ms};
    size_t keylen;
    int err;

    memset(snap, 0, sizeof(*snap));
    snap->minor = TURN_SNAPSHOT_MINOR;
    snap->saved_ms = now->ms;
    memcpy(snap->nonce_key, turn_shared_nonce_key(sh, &keylen), sizeof(snap->nonce_key));
    turn_shared_lock(sh);
    err = turn_shared_reservations_each(sh, capture_reservation, &rc);
    turn_shared_unlock(sh);
    return err ? -1 : 0;
}

/* What only grows: the gauges are counted again by what restore creates. */
static void monotonic_counters(struct turn_counters *out, const struct turn_counters *in)
{
    *out = *in;
    out->allocations = 0;
    memset(out->family, 0, sizeof(out->family));
    out->tcp_peer_conns = 0;
}

static int capture_perms(struct turn_snapshot_alloc *sa, const struct turn_allocation *a,
                         uint64_t now_ms)
{
    for (struct list_node *e = a->perms; e; e = e->next) {
        const struct turn_permission *p = container_of(e, struct turn_permission, entry);
        struct turn_snapshot_perm *sp;

        if (!remaining_ms(&p->timer, now_ms))
            continue;
        if (!(sp = turn_snapshot_push(&sa->perms, &sa->nperms, sizeof(*sp))))
            return -1;
        sp->ip = p->ip;
        sp->remaining_ms = remaining_ms(&p->timer, now_ms);
    }
    return 0;
}

static int capture_chans(struct turn_snapshot_alloc *sa, const struct turn_allocation *a,
                         uint64_t now_ms)
{
    for (struct list_node *e = a->chans; e; e = e->next) {
        const struct turn_channel *c = container_of(e, struct turn_channel, entry);
        struct turn_snapshot_chan *sc;

        if (!remaining_ms(&c->timer, now_ms))
            continue;
        if (!(sc = turn_snapshot_push(&sa->chans, &sa->nchans, sizeof(*sc))))
            return -1;
        sc->number = c->number;
        sc->peer = c->peer;
        sc->remaining_ms = remaining_ms(&c->timer, now_ms);
    }
    return 0;
}

/* Whether every socket of the allocation travels (take: put them in the array, their indexes
 * in client and relayed). */
static bool alloc_travels(const struct turn_allocation *a, const struct turn_snapshot_export *ex,
                          bool take, int *client, int relayed[FAM_COUNT])
{
    if ((*client = ex->sock_index(ex->ctx, a->listen_handle, false, take)) < 0)
        return false;
    for (int fam = 0; fam < FAM_COUNT; fam++)
        if (a->relayed[fam].handle >= 0 &&
            (relayed[fam] = ex->sock_index(ex->ctx, a->relayed[fam].handle, true, take)) < 0)
            return false;
    return true;
}

/* An allocation whose sockets all travel; one due already would expire at the next tick. */
static int capture_alloc(struct turn_snapshot_server *sv, const struct turn_allocation *a,
                         uint64_t now_ms, const struct turn_snapshot_export *ex)
{
    struct turn_snapshot_alloc *sa;
    int client, relayed[FAM_COUNT] = {0, 0};

    if (!remaining_ms(&a->timer, now_ms))
        return 0;
    /* Asked first, so that nothing of one that stays travels without it. */
    if (!alloc_travels(a, ex, false, &client, relayed)) {
        if (ex->stays)
            ex->stays(ex->ctx, a->listen_handle);
        return 0;
    }
    if (!alloc_travels(a, ex, true, &client, relayed) ||
        !(sa = turn_snapshot_push(&sv->allocs, &sv->nallocs, sizeof(*sa))))
        return -1;
    sa->transport = a->transport;
    sa->tcp = a->tcp;
    sa->client_sock = (uint32_t)client;
    sa->client = a->client;
    sa->local = a->local;
    for (int fam = 0; fam < FAM_COUNT; fam++)
        if (a->relayed[fam].handle >= 0) {
            sa->relayed[fam] = a->relayed[fam].addr;
            sa->relayed_sock[fam] = (uint32_t)relayed[fam];
        }
    sa->lifetime_s = a->lifetime_s;
    sa->remaining_ms = remaining_ms(&a->timer, now_ms);
    sa->rate_ahead_ns = *a->tat > now_ms * NS_PER_MS ? *a->tat - now_ms * NS_PER_MS : 0;
    memcpy(sa->create_tid, a->create_tid, STUN_TID_LEN);
    memcpy(sa->user, a->user, sizeof(sa->user));
    return capture_perms(sa, a, now_ms) || capture_chans(sa, a, now_ms) ? -1 : 0;
}

static int capture_txcache(struct turn_snapshot_server *sv, const struct txcache *c,
                           uint64_t now_ms, const struct turn_snapshot_export *ex)
{
    for (size_t i = 0; i < TXCACHE_SLOTS; i++) {
        const struct txcache_entry *e = &c->slots[i];
        struct turn_snapshot_tx *tx;
        int sock;

        if (!txcache_live(e, now_ms) ||
            ex->sock_index(ex->ctx, e->listen_handle, false, false) < 0 ||
            (sock = ex->sock_index(ex->ctx, e->listen_handle, false, true)) < 0)
            continue;
        if (!(tx = turn_snapshot_push(&sv->txs, &sv->ntxs, sizeof(*tx))))
            return -1;
        tx->client_sock = (uint32_t)sock;
        tx->client = e->client;
        memcpy(tx->tid, e->tid, STUN_TID_LEN);
        tx->age_ms = now_ms - e->at_ms;
        tx->len = e->len;
        memcpy(tx->resp, e->resp, e->len);
    }
    return 0;
}

int turn_snapshot_capture_server(struct turn_snapshot *snap, struct turn_server *s,
                                 const struct turn_time *now, const struct turn_snapshot_export *ex)
{
    struct turn_snapshot_server *sv =
        turn_snapshot_push(&snap->servers, &snap->nservers, sizeof(*sv));
    int err = 0;

    if (!sv)
        return -1;
    for (int t = 0; t < TURN_TRANSPORT_COUNT; t++)
        monotonic_counters(&sv->counters[t], &s->counters[t]);
    for (size_t i = 0; i < s->allocs.nbuckets && !err; i++)
        for (struct hnode *n = s->allocs.buckets[i]; n && !err; n = n->next)
            err = capture_alloc(sv, container_of(n, struct turn_allocation, node), now->ms, ex);
    return err || capture_txcache(sv, &s->txcache, now->ms, ex) ? -1 : 0;
}

void turn_snapshot_release_server(struct turn_server *s, const struct turn_snapshot_export *ex)
{
    s->io.channel_up = NULL;
    s->io.channel_down = NULL;
    s->io.bucket_get = NULL;
    s->io.bucket_put = NULL;
    for (size_t i = 0; i < s->allocs.nbuckets; i++) {
        struct hnode *n = s->allocs.buckets[i], *next;
        for (; n; n = next) {
            struct turn_allocation *a = container_of(n, struct turn_allocation, node);
            int client, relayed[FAM_COUNT];
            next = n->next;
            if (alloc_travels(a, ex, false, &client, relayed)) {
                alloc_delete(s, a, NULL);
                continue;
            }
            a->own_tat = *a->tat;
            a->tat = &a->own_tat;
            a->bucket = 0;
        }
    }
    for (size_t i = 0; i < TXCACHE_SLOTS; i++)
        if (s->txcache.slots[i].len &&
            ex->sock_index(ex->ctx, s->txcache.slots[i].listen_handle, false, false) >= 0)
            memset(&s->txcache.slots[i], 0, sizeof(s->txcache.slots[i]));
}

/* ---- restore ---- */

int turn_snapshot_restore_shared(const struct turn_snapshot *snap, struct turn_shared *sh,
                                 const struct turn_time *now, char *err, size_t errlen)
{
    const char *why = NULL;
    size_t i = 0;

    if (now->ms < snap->saved_ms)
        why = "the clock is behind the snapshot's (not the same boot)";
    turn_shared_lock(sh);
    for (; !why && i < snap->nreservations; i++) {
        const struct turn_snapshot_reservation *r = &snap->reservations[i];
        uint64_t elapsed = now->ms - snap->saved_ms;
        struct turn_shared_reservation sr = {.token = r->token,
                                             .family = r->addr.family,
                                             .port = r->addr.port,
                                             .expires_ms = now->ms + r->remaining_ms - elapsed,
                                             .user = r->user};

        /* Expired in between: gone, as it would be here. */
        if (r->remaining_ms <= elapsed)
            continue;
        if (!xt_addr_is_any(&r->addr) || turn_shared_reservation_restore(sh, &sr, now->ms) != 0)
            why = "a reservation that cannot be (family, port, token, expiry or memory)";
    }
    /* On failure, those put back end, giving back their ports and quotas. */
    if (why)
        turn_shared_expire(sh, UINT64_MAX);
    turn_shared_unlock(sh);
    if (why) {
        snprintf(err, errlen, "reservation %zu: %s", i - 1, why);
        return -1;
    }
    turn_shared_set_nonce_key(sh, snap->nonce_key);
    return 0;
}

/* How much of a duration is left after elapsed, as a due time; 0 when none is (expired in
 * between), UINT64_MAX when it is longer than max_ms (nothing here lives that long). */
static uint64_t due_after(uint64_t remaining, uint64_t elapsed, uint64_t max_ms, uint64_t now_ms)
{
    if (remaining > max_ms)
        return UINT64_MAX;
    return remaining > elapsed ? now_ms + remaining - elapsed : 0;
}

static const char *restore_perms(struct turn_server *s, struct turn_allocation *a,
                                 const struct turn_snapshot_alloc *sa, uint64_t elapsed,
                                 uint64_t now_ms)
{
    uint64_t max = (uint64_t)s->cfg->permission_lifetime_s * 1000;
    const char *why = NULL;

    for (size_t i = 0; i < sa->nperms && !why; i++) {
        uint64_t due = due_after(sa->perms[i].remaining_ms, elapsed, max, now_ms);
        if (due == UINT64_MAX)
            why = "a permission longer than this configuration grants";
        else if (due)
            why = perm_restore(s, a, &sa->perms[i].ip, due);
    }
    return why;
}

static const char *restore_chans(struct turn_server *s, struct turn_allocation *a,
                                 const struct turn_snapshot_alloc *sa, uint64_t elapsed,
                                 uint64_t now_ms)
{
    uint64_t max = (uint64_t)s->cfg->channel_lifetime_s * 1000;
    const char *why = NULL;

    for (size_t i = 0; i < sa->nchans && !why; i++) {
        uint64_t due = due_after(sa->chans[i].remaining_ms, elapsed, max, now_ms);
        if (due == UINT64_MAX)
            why = "a channel longer than this configuration grants";
        else if (due)
            why = chan_restore(s, a, sa->chans[i].number, &sa->chans[i].peer, due);
    }
    return why;
}

static const char *restore_alloc(struct turn_server *s, const struct turn_snapshot_alloc *sa,
                                 uint64_t elapsed, uint64_t now_ms,
                                 const struct turn_snapshot_import *im)
{
    uint64_t due = due_after(sa->remaining_ms, elapsed, (uint64_t)sa->lifetime_s * 1000, now_ms);
    uint64_t ahead_ns = sa->rate_ahead_ns, elapsed_ns = elapsed * NS_PER_MS;
    struct turn_allocation *a = NULL;
    const char *why;
    int handle;

    if (due == UINT64_MAX)
        return "a remaining lifetime longer than the lifetime granted";
    if (!due)
        return NULL;
    if ((handle = im->client_handle(im->ctx, sa->client_sock)) < 0)
        return "the socket of a client cannot be imported";
    why = alloc_restore(s, sa, handle, due, im, &a);
    if (!why) {
        *a->tat = ahead_ns > elapsed_ns ? now_ms * NS_PER_MS + ahead_ns - elapsed_ns : 0;
        why = restore_perms(s, a, sa, elapsed, now_ms);
    }
    return why ? why : restore_chans(s, a, sa, elapsed, now_ms);
}

static const char *restore_tx(struct turn_server *s, const struct turn_snapshot_tx *tx,
                              uint64_t elapsed, uint64_t now_ms,
                              const struct turn_snapshot_import *im)
{
    int handle;

    /* Too old for a retransmission by now: gone, as it would be here. */
    if (tx->age_ms > TXCACHE_TTL_MS || elapsed > TXCACHE_TTL_MS - tx->age_ms)
        return NULL;
    if ((handle = im->client_handle(im->ctx, tx->client_sock)) < 0)
        return "the socket of a client cannot be imported";
    txcache_put(&s->txcache, &tx->client, handle, tx->tid, tx->resp, tx->len,
                now_ms - tx->age_ms - elapsed);
    return NULL;
}

/* Everything of a server's snapshot into s: NULL, or why not, with what and which one failed. */
static const char *restore_all(struct turn_server *s, const struct turn_snapshot_server *sv,
                               uint64_t elapsed, uint64_t now_ms,
                               const struct turn_snapshot_import *im, const char **what,
                               size_t *which)
{
    const char *why = NULL;

    for (int t = 0; t < TURN_TRANSPORT_COUNT; t++)
        turn_counters_add(&s->counters[t], &sv->counters[t]);
    *what = "allocation";
    for (*which = 0; *which < sv->nallocs && !why; ++*which)
        why = restore_alloc(s, &sv->allocs[*which], elapsed, now_ms, im);
    if (why)
        return why;
    *what = "cached response";
    for (*which = 0; *which < sv->ntxs && !why; ++*which)
        why = restore_tx(s, &sv->txs[*which], elapsed, now_ms, im);
    return why;
}

int turn_snapshot_restore_server(const struct turn_snapshot *snap, size_t i, struct turn_server *s,
                                 const struct turn_time *now, const struct turn_snapshot_import *im,
                                 char *err, size_t errlen)
{
    const char *why = NULL, *what = NULL;
    size_t which = 0;

    if (i >= snap->nservers)
        why = "not in the snapshot";
    else if (now->ms < snap->saved_ms)
        why = "the clock is behind the snapshot's (not the same boot)";
    else if (s->allocs.count)
        why = "restored into a server that has allocations";
    else if ((why = restore_all(s, &snap->servers[i], now->ms - snap->saved_ms, now->ms, im, &what,
                                &which))) {
        /* Back to fresh: what was made is deleted, its sockets closed, its quotas given back. */
        alloc_delete_all(s, "restore failed");
        memset(s->counters, 0, sizeof(s->counters));
        txcache_init(&s->txcache, s->seed);
    }
    if (!why)
        return 0;
    if (what)
        snprintf(err, errlen, "server %zu, %s %zu: %s", i, what, which - 1, why);
    else
        snprintf(err, errlen, "server %zu: %s", i, why);
    return -1;
}
