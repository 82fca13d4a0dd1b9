/* The TURN core's entry points: datagram demultiplexing, timers. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "turn/turn_internal.h"
#include "turn/turn_shared.h"

struct turn_server *turn_server_new(const struct turn_config *cfg, const struct turn_io *io,
                                    const struct turn_time *now, struct turn_shared *shared)
{
    struct turn_server *s = calloc(1, sizeof(*s));

    if (!s)
        goto fail;
    s->cfg = cfg;
    s->io = *io;
    s->slot = -1;
    s->shared = shared;
    if (!s->shared) {
        s->shared = turn_shared_new(cfg, &io->random);
        s->own_shared = true;
    }
    if (!s->shared || turn_random_fill(&io->random, &s->seed, sizeof(s->seed)) != 0)
        goto fail;
    if (auth_init(&s->auth, cfg, s->shared) != 0)
        goto fail;
    if (htab_init(&s->allocs, 1024) || htab_init(&s->perms, 1024) ||
        htab_init(&s->chan_numbers, 1024) || htab_init(&s->chan_ips, 1024) ||
        htab_init(&s->tcp_ids, 64))
        goto fail;
    /* Without a slot (more servers than connection ids can tell apart), no TCP allocations. */
    if (io->tcp_listen)
        s->slot = turn_shared_slot_take(s->shared, io->ctx);
    s->host_gen = turn_shared_host_generation(s->shared);
    tw_init(&s->wheel, now->ms);
    txcache_init(&s->txcache, s->seed);
    return s;
fail:
    xt_log(LOG_ERROR, "cannot create the TURN server state", NULL);
    turn_server_free(s);
    return NULL;
}

void turn_server_free(struct turn_server *s)
{
    if (!s)
        return;
    if (s->allocs.buckets)
        alloc_delete_all(s, "shutdown");
    htab_free(&s->allocs);
    htab_free(&s->perms);
    htab_free(&s->chan_numbers);
    htab_free(&s->chan_ips);
    htab_free(&s->tcp_ids);
    if (s->slot >= 0)
        turn_shared_slot_put(s->shared, s->slot);
    if (s->own_shared)
        turn_shared_free(s->shared);
    auth_free(&s->auth);
    free(s);
}

const struct turn_counters *turn_server_counters(const struct turn_server *s)
{
    return s->counters;
}

const char *turn_transport_name(enum turn_transport t)
{
    static const char *const names[TURN_TRANSPORT_COUNT] = {"udp", "tcp", "tls", "dtls"};
    return (unsigned)t < TURN_TRANSPORT_COUNT ? names[t] : "unknown";
}

void turn_tick(struct turn_server *s, const struct turn_time *now)
{
    uint32_t host_gen = turn_shared_host_generation(s->shared);

    tw_advance(&s->wheel, now->ms, s);
    if (host_gen != s->host_gen) {
        s->host_gen = host_gen;
        perm_rejudge(s);
    }
    /* The shared lock is for the control path: the workers' loops come here after every
     * batch, so reservations are expired once a second, not on every call. */
    if (now->ms >= s->next_shared_expire_ms) {
        turn_shared_lock(s->shared);
        turn_shared_expire(s->shared, now->ms);
        turn_shared_unlock(s->shared);
        s->next_shared_expire_ms = now->ms + 1000;
    }
}

/* ---- demultiplexing ---- */

static void handle_stun(struct turn_server *s, const struct turn_time *now, enum turn_transport t,
                        int listen_handle, const struct xt_addr *local,
                        const struct xt_addr *client, const uint8_t *data, size_t len)
{
    struct stun_msg m;
    struct turn_req r;
    const struct txcache_entry *cached;

    if (stun_parse(data, len, &m) != STUN_OK) {
        ctr(s, t)->dropped[TD_MALFORMED]++;
        return;
    }
    if (m.cls == STUN_INDICATION && m.method == TURN_SEND) {
        data_on_send_indication(s, now->ms, t, listen_handle, client, &m);
        return;
    }
    if (m.cls != STUN_REQUEST) {
        ctr(s, t)->dropped[TD_UNEXPECTED]++;
        return;
    }
    cached = txcache_get(&s->txcache, client, listen_handle, m.tid, now->ms);
    if (cached) {
        s->io.send(s->io.ctx, listen_handle, client, cached->resp, cached->len, NULL, 0, 0);
        return;
    }
    memset(&r, 0, sizeof(r));
    r.s = s;
    r.now = now;
    r.transport = t;
    r.listen_handle = listen_handle;
    r.local = local;
    r.client = client;
    r.msg = &m;
    turn_handle_request(&r);
}

void turn_on_peer(struct turn_server *s, const struct turn_time *now, void *owner,
                  const struct xt_addr *peer, const uint8_t *data, size_t len)
{
    data_on_peer(s, now->ms, owner, peer, data, len);
}

void turn_on_client(struct turn_server *s, const struct turn_time *now,
                    enum turn_transport transport, int listen_handle, const struct xt_addr *local,
                    const struct xt_addr *client, const uint8_t *data, size_t len)
{
    if (channeldata_is(data, len))
        data_on_channeldata(s, now->ms, transport, listen_handle, client, data, len);
    else if (stun_is_message(data, len))
        handle_stun(s, now, transport, listen_handle, local, client, data, len);
    else
        ctr(s, transport)->dropped[TD_NOT_TURN]++;
}

void turn_on_client_closed(struct turn_server *s, int listen_handle, const struct xt_addr *client)
{
    struct turn_allocation *a = alloc_find(s, client, listen_handle);
    if (a)
        alloc_delete(s, a, "connection closed");
}

int turn_client_allocated(struct turn_server *s, int listen_handle, const struct xt_addr *client)
{
    return alloc_find(s, client, listen_handle) != NULL;
}
