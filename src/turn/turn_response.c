/* Responses to requests: built, signed with the request's key, sent, counted, and cached for
 * retransmissions; unauthenticated ones limited per source. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "turn/ratelimit.h"
#include "turn/turn_internal.h"
#include "turn/turn_shared.h"

static void req_begin(struct turn_req *r, struct stun_builder *b, uint8_t *buf, uint8_t cls)
{
    stun_build_init(b, buf, RESP_MAX, r->msg->method, cls, r->msg->tid);
}

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
    case TURN_CONNECT:
        return TM_CONNECT;
    case TURN_CONNECTION_BIND:
        return TM_CONNECTION_BIND;
    default:
        return TM_OTHER;
    }
}

bool req_unauth_allowed(struct turn_req *r)
{
    if (r->authenticated ||
        ratelimit_take(turn_shared_unauth_limit(r->s->shared), r->client, r->now->ms))
        return true;
    ctr(r->s, r->transport)->unauth_rate_limited++;
    return false;
}

/* Signs (when authenticated) with the integrity attribute(s) the request used, adds
 * FINGERPRINT, sends, and caches the response for retransmissions. code: 0 for success. */
static void req_finish(struct turn_req *r, struct stun_builder *b, int code)
{
    int len;
    ctr(r->s, r->transport)->responses[method_stat(r->msg->method)][turn_code_index(code)]++;
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
        char c[XT_ADDR_STRLEN];
        xt_log(LOG_DEBUG, "request rejected", "client", xt_addr_str(r->client, c),
               XT_NUM("code", code), "user", r->user, NULL);
    }
    req_finish(r, b, code);
}

void req_send_error(struct turn_req *r, int code)
{
    uint8_t buf[RESP_MAX];
    struct stun_builder b;

    if (!req_unauth_allowed(r))
        return;
    req_begin_error(r, &b, buf, code);
    req_send_built_error(r, &b, code);
}
