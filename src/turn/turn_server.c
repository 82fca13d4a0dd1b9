/* The TURN core's entry points: datagram demultiplexing, responses, timers. */
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "turn/ratelimit.h"
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
    s->shared = shared;
    if (!s->shared) {
        s->shared = turn_shared_new(cfg);
        s->own_shared = true;
    }
    if (!s->shared || RAND_bytes((unsigned char *)&s->seed, sizeof(s->seed)) != 1)
        goto fail;
    if (auth_init(&s->auth, cfg, s->shared) != 0)
        goto fail;
    if (htab_init(&s->allocs, 1024) || htab_init(&s->perms, 1024) ||
        htab_init(&s->chan_numbers, 1024) || htab_init(&s->chan_ips, 1024))
        goto fail;
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
    if (s->allocs.buckets) {
        for (size_t i = 0; i < s->allocs.nbuckets; i++)
            while (s->allocs.buckets[i])
                alloc_delete(s, container_of(s->allocs.buckets[i], struct turn_allocation, node),
                             "shutdown");
    }
    htab_free(&s->allocs);
    htab_free(&s->perms);
    htab_free(&s->chan_numbers);
    htab_free(&s->chan_ips);
    if (s->own_shared)
        turn_shared_free(s->shared);
    auth_free(&s->auth);
    free(s);
}

const struct turn_counters *turn_server_counters(const struct turn_server *s)
{
    return &s->counters;
}

void turn_tick(struct turn_server *s, const struct turn_time *now)
{
    uint32_t host_gen = turn_shared_host_generation(s->shared);

    tw_advance(&s->wheel, now->ms, s);
    if (host_gen != s->host_gen) {
        s->host_gen = host_gen;
        self_rejudge(s);
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

/* ---- responses ---- */

static void req_begin(struct turn_req *r, struct stun_builder *b, uint8_t *buf, uint8_t cls)
{
    stun_build_init(b, buf, RESP_MAX, r->msg->method, cls, r->msg->tid);
}

/* Signs (when authenticated) with the integrity attribute(s) the request used, adds
 * FINGERPRINT, sends, and caches the response for retransmissions. */
static int method_stat(uint16_t method)
{
    switch (method) {
    case STUN_BINDING:
        return TM_BINDING;
    case TURN_ALLOCATE:
        return TM_ALLOCATE;
    case TURN_REFRESH:
        return TM_REFRESH;
    case TURN_CREATE_PERMISSION:
        return TM_CREATE_PERMISSION;
    case TURN_CHANNEL_BIND:
        return TM_CHANNEL_BIND;
    default:
        return TM_OTHER;
    }
}

/* Unauthenticated sources get a limited number of responses: no use as a reflector. */
static bool unauth_allowed(struct turn_req *r)
{
    if (r->authenticated ||
        ratelimit_take(turn_shared_unauth_limit(r->s->shared), r->client, r->now->ms))
        return true;
    r->s->counters.unauth_rate_limited++;
    return false;
}

/* code: 0 for success. */
static void req_finish(struct turn_req *r, struct stun_builder *b, int code)
{
    int len;
    r->s->counters.responses[method_stat(r->msg->method)][turn_code_index(code)]++;
    if (r->authenticated) {
        if (r->msg->mi >= 0)
            stun_add_integrity(b, r->key, sizeof(r->key));
        if (r->msg->mi256 >= 0)
            stun_add_integrity_sha256(b, r->key, sizeof(r->key));
    }
    stun_add_fingerprint(b);
    len = stun_finish(b);
    if (len < 0) {
        xt_log(LOG_ERROR, "response does not fit its buffer", NULL);
        return;
    }
    r->s->io.send(r->s->io.ctx, r->listen_handle, r->client, b->buf, (size_t)len, NULL, 0, 0);
    if (r->authenticated)
        txcache_put(&r->s->txcache, r->client, r->listen_handle, r->msg->tid, b->buf, (size_t)len,
                    r->now->ms);
}

void req_begin_success(struct turn_req *r, struct stun_builder *b, uint8_t *buf)
{
    req_begin(r, b, buf, STUN_SUCCESS);
}

void req_send_success(struct turn_req *r, struct stun_builder *b)
{
    req_finish(r, b, 0);
}

static void add_challenge(struct turn_req *r, struct stun_builder *b)
{
    char nonce[AUTH_NONCE_LEN];
    const char *realm = r->s->cfg->realm;
    auth_make_nonce(&r->s->auth, r->client, r->now->unix_s, nonce);
    stun_add_attr(b, STUN_ATTR_REALM, realm, strlen(realm));
    stun_add_attr(b, STUN_ATTR_NONCE, nonce, sizeof(nonce));
}

void req_begin_error(struct turn_req *r, struct stun_builder *b, uint8_t *buf, int code)
{
    req_begin(r, b, buf, STUN_ERROR);
    stun_add_error(b, code);
    if (code == 401 || code == 438)
        add_challenge(r, b);
    if (code == 420)
        stun_add_unknown_attrs(b, r->msg->unknown, r->msg->nunknown);
}

void req_send_built_error(struct turn_req *r, struct stun_builder *b, int code)
{
    if (log_enabled(LOG_DEBUG)) {
        char c[XT_ADDR_STRLEN], code_s[8];
        snprintf(code_s, sizeof(code_s), "%d", code);
        xt_log(LOG_DEBUG, "request rejected", "client", xt_addr_str(r->client, c), "#code", code_s,
               "user", r->user, NULL);
    }
    req_finish(r, b, code);
}

void req_send_error(struct turn_req *r, int code)
{
    uint8_t buf[RESP_MAX];
    struct stun_builder b;

    if (!unauth_allowed(r))
        return;
    req_begin_error(r, &b, buf, code);
    req_send_built_error(r, &b, code);
}

/* ---- demultiplexing ---- */

static void handle_binding(struct turn_req *r)
{
    uint8_t buf[RESP_MAX];
    struct stun_builder b;

    if (r->msg->nunknown) {
        req_send_error(r, 420);
        return;
    }
    if (!unauth_allowed(r))
        return;
    req_begin_success(r, &b, buf);
    stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, r->client);
    req_finish(r, &b, 0);
}

static void handle_stun(struct turn_server *s, const struct turn_time *now, int listen_handle,
                        const struct xt_addr *local, const struct xt_addr *client,
                        const uint8_t *data, size_t len)
{
    struct stun_msg m;
    struct turn_req r;
    const struct txcache_entry *cached;

    if (stun_parse(data, len, &m) != STUN_OK) {
        s->counters.dropped[TD_MALFORMED]++;
        return;
    }
    if (m.cls == STUN_INDICATION && m.method == TURN_SEND) {
        relay_send_indication(s, now->ms, listen_handle, client, &m);
        return;
    }
    if (m.cls != STUN_REQUEST) {
        s->counters.dropped[TD_UNEXPECTED]++;
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
    r.listen_handle = listen_handle;
    r.local = local;
    r.client = client;
    r.msg = &m;
    if (m.method == STUN_BINDING)
        handle_binding(&r);
    else
        turn_handle_request(&r);
}

void turn_on_client(struct turn_server *s, const struct turn_time *now, int listen_handle,
                    const struct xt_addr *local, const struct xt_addr *client, const uint8_t *data,
                    size_t len)
{
    if (channeldata_is(data, len))
        relay_channeldata(s, now->ms, listen_handle, client, data, len);
    else if (stun_is_message(data, len))
        handle_stun(s, now, listen_handle, local, client, data, len);
    else
        s->counters.dropped[TD_NOT_TURN]++;
}
