/* Requests: Binding, and the authenticated TURN ones: Allocate, Refresh, CreatePermission,
 * ChannelBind, and RFC 6062's Connect and ConnectionBind (turn_tcp_relay.c). */
#include <string.h>

#include "common/log.h"
#include "turn/ratelimit.h"
#include "turn/turn_internal.h"
#include "turn/turn_shared.h"

/* RFC 8656 7.2: the proposed lifetime bounded by the maximum, and never below the default. */
static uint32_t pick_lifetime(const struct turn_config *c, const struct stun_msg *m, int *bad)
{
    const struct stun_attr *la = stun_find(m, TURN_ATTR_LIFETIME);
    uint32_t v = c->default_lifetime_s;
    *bad = 0;
    if (la && stun_attr_u32(la, &v) != 0) {
        *bad = 1;
        return 0;
    }
    if (la && v == 0)
        return 0;
    if (v < c->default_lifetime_s)
        v = c->default_lifetime_s;
    if (v > c->max_lifetime_s)
        v = c->max_lifetime_s;
    return v;
}

static const struct stun_attr *find_additional_family(const struct stun_msg *m)
{
    const struct stun_attr *a = stun_find(m, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY);
    return a ? a : stun_find(m, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY_OLD);
}

/* Family attribute value: 0x01 IPv4, 0x02 IPv6 (one byte, then three reserved); -1 otherwise. */
static int family_value(const struct stun_attr *a)
{
    if (a->len != 4)
        return -1;
    if (a->val[0] == TURN_FAMILY_IPV4)
        return FAM_V4;
    if (a->val[0] == TURN_FAMILY_IPV6)
        return FAM_V6;
    return -1;
}

static void add_address_error(struct stun_builder *b, int fam, int code)
{
    const char *reason = stun_reason(code);
    uint8_t v[4 + 64];
    size_t rlen = strlen(reason);
    if (rlen > 64)
        rlen = 64;
    v[0] = fam == FAM_V4 ? TURN_FAMILY_IPV4 : TURN_FAMILY_IPV6;
    v[1] = 0;
    v[2] = (uint8_t)(code / 100);
    v[3] = (uint8_t)(code % 100);
    memcpy(v + 4, reason, rlen);
    stun_add_attr(b, TURN_ATTR_ADDRESS_ERROR_CODE, v, 4 + rlen);
}

static void send_allocate_success(struct turn_req *r, const struct turn_allocation *a,
                                  uint64_t token, int address_error_fam)
{
    uint8_t buf[RESP_MAX];
    struct stun_builder b;
    req_begin_success(r, &b, buf);
    for (int fam = 0; fam < FAM_COUNT; fam++)
        if (a->relayed[fam].handle >= 0)
            stun_add_xor_addr(&b, TURN_ATTR_XOR_RELAYED_ADDRESS, &a->relayed[fam].advertised);
    stun_add_u32(&b, TURN_ATTR_LIFETIME, a->lifetime_s);
    if (token)
        stun_add_attr(&b, TURN_ATTR_RESERVATION_TOKEN, &token, sizeof(token));
    if (address_error_fam >= 0)
        add_address_error(&b, address_error_fam, 440);
    stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, r->client);
    req_send_success(r, &b);
}

/* Fills which families to allocate from REQUESTED-/ADDITIONAL-ADDRESS-FAMILY. Returns 0 or an
 * error code; *address_error_fam is set when a dual allocation lacks its IPv6 half. */
static int pick_families(struct turn_req *r, struct alloc_request *ar, int *address_error_fam)
{
    const struct turn_config *c = r->s->cfg;
    const struct stun_attr *raf = stun_find(r->msg, TURN_ATTR_REQUESTED_ADDRESS_FAMILY);
    const struct stun_attr *aaf = find_additional_family(r->msg);
    int fam = FAM_V4;

    if (raf && aaf)
        return 400;
    if (raf) {
        fam = family_value(raf);
        if (fam < 0)
            return 440;
    }
    if (!relayed_bind_addr(c, fam)->family)
        return 440;
    ar->want[fam] = true;
    if (aaf) {
        if (family_value(aaf) != FAM_V6)
            return 400;
        if (relayed_bind_addr(c, FAM_V6)->family)
            ar->want[FAM_V6] = true;
        else
            *address_error_fam = FAM_V6;
    }
    return 0;
}

/* Draining: new clients go to the alternate server of their family if there is one (300,
 * RFC 8489 10), else they are told there is no capacity here (508). */
static void send_try_alternate(struct turn_req *r)
{
    const struct turn_config *c = r->s->cfg;
    const struct xt_addr *alt = r->client->family == AF_INET ? &c->alternate_v4 : &c->alternate_v6;
    uint8_t buf[RESP_MAX];
    struct stun_builder b;

    if (!alt->family) {
        req_send_error(r, 508);
        return;
    }
    req_begin_error(r, &b, buf, 300);
    stun_add_addr(&b, STUN_ATTR_ALTERNATE_SERVER, alt);
    req_send_built_error(r, &b, 300);
}

static void handle_allocate(struct turn_req *r, struct turn_allocation *a)
{
    const struct stun_msg *m = r->msg;
    const struct stun_attr *rt, *ep, *tok;
    struct alloc_request ar;
    uint64_t token = 0;
    int address_error_fam = -1, bad, code;

    if (a) {
        /* A retransmission of the request that created it gets the same success again. */
        if (memcmp(a->create_tid, m->tid, STUN_TID_LEN) == 0)
            send_allocate_success(r, a, 0, -1);
        else
            req_send_error(r, 437);
        return;
    }
    if (turn_shared_draining(r->s->shared)) {
        send_try_alternate(r);
        return;
    }
    memset(&ar, 0, sizeof(ar));
    rt = stun_find(m, TURN_ATTR_REQUESTED_TRANSPORT);
    if (!rt || rt->len != 4) {
        req_send_error(r, 400);
        return;
    }
    ep = stun_find(m, TURN_ATTR_EVEN_PORT);
    tok = stun_find(m, TURN_ATTR_RESERVATION_TOKEN);
    ar.dont_fragment = stun_find(m, TURN_ATTR_DONT_FRAGMENT) != NULL;
    ar.tcp = rt->val[0] == TURN_TRANSPORT_TCP;
    /* RFC 6062 5.1: a TCP allocation needs a TCP or TLS control connection, and has no use for
     * these attributes. */
    if (ar.tcp && (!turn_transport_is_stream(r->transport) || ep || tok || ar.dont_fragment)) {
        req_send_error(r, 400);
        return;
    }
    if ((!ar.tcp && rt->val[0] != TURN_TRANSPORT_UDP) || (ar.tcp && !tcp_relay_available(r->s))) {
        req_send_error(r, 442);
        return;
    }
    if ((ep && ep->len != 1) || (tok && tok->len != 8) ||
        (tok && (ep || stun_find(m, TURN_ATTR_REQUESTED_ADDRESS_FAMILY)))) {
        req_send_error(r, 400);
        return;
    }
    ar.lifetime_s = pick_lifetime(r->s->cfg, m, &bad);
    if (bad) {
        req_send_error(r, 400);
        return;
    }
    if (ar.lifetime_s == 0)
        ar.lifetime_s = r->s->cfg->default_lifetime_s;
    if (tok) {
        memcpy(&ar.reservation, tok->val, 8);
        if (ar.reservation == 0) {
            req_send_error(r, 508);
            return;
        }
    } else {
        code = pick_families(r, &ar, &address_error_fam);
        if (code) {
            req_send_error(r, code);
            return;
        }
        ar.even_port = ep != NULL;
        ar.reserve_next = ep && (ep->val[0] & 0x80);
    }
    code = alloc_create(r, &ar, &a, &token);
    if (code) {
        req_send_error(r, code);
        return;
    }
    send_allocate_success(r, a, token, address_error_fam);
}

static void handle_refresh(struct turn_req *r, struct turn_allocation *a)
{
    const struct stun_attr *raf = stun_find(r->msg, TURN_ATTR_REQUESTED_ADDRESS_FAMILY);
    uint8_t buf[RESP_MAX];
    struct stun_builder b;
    uint32_t lifetime;
    int bad;

    if (raf) {
        int fam = family_value(raf);
        if (fam < 0 || a->relayed[fam].handle < 0) {
            req_send_error(r, 443);
            return;
        }
    }
    lifetime = pick_lifetime(r->s->cfg, r->msg, &bad);
    if (bad) {
        req_send_error(r, 400);
        return;
    }
    req_begin_success(r, &b, buf);
    stun_add_u32(&b, TURN_ATTR_LIFETIME, lifetime);
    req_send_success(r, &b);
    if (lifetime == 0)
        alloc_delete(r->s, a, "refresh with lifetime 0");
    else
        alloc_refresh(r->s, a, lifetime, r->now->ms);
}

/* Family and policy checks shared by CreatePermission, ChannelBind and Connect. On
 * the relay host only another allocation's relayed address is a peer; a permission is for an IP
 * (and checked per datagram), but its XOR-PEER-ADDRESS must name such an address all the same,
 * so a mistaken or hostile request fails at once. */
int req_check_peer(struct turn_req *r, const struct turn_allocation *a, const struct xt_addr *peer)
{
    struct turn_server *s = r->s;
    const struct addr_set *host;
    enum peer_verdict v;
    bool ok;

    if (a->relayed[xt_family_index(peer->family)].handle < 0)
        return 443;
    host = turn_shared_host_begin(s->shared);
    v = peer_policy_check(&s->cfg->policy, host, peer);
    turn_shared_host_end(s->shared);
    if (v == PEER_SELF)
        ok = self_reachable(s, a, peer);
    else
        ok = v == PEER_ALLOWED;
    if (!ok) {
        if (log_enabled(LOG_INFO)) {
            char c[XT_ADDR_STRLEN], p[XT_ADDR_STRLEN];
            xt_log(LOG_INFO, "peer address denied", "client", xt_addr_str(r->client, c), "peer",
                   xt_addr_str(peer, p), "user", r->user, NULL);
        }
        return 403;
    }
    return 0;
}

static void send_empty_success(struct turn_req *r)
{
    uint8_t buf[RESP_MAX];
    struct stun_builder b;
    req_begin_success(r, &b, buf);
    req_send_success(r, &b);
}

static void handle_create_permission(struct turn_req *r, struct turn_allocation *a)
{
    const struct stun_msg *m = r->msg;
    struct xt_addr peers[STUN_MAX_ATTRS];
    size_t n = 0;
    int code;

    for (size_t i = 0; i < m->nattrs; i++) {
        if (m->attrs[i].type != TURN_ATTR_XOR_PEER_ADDRESS)
            continue;
        if (stun_attr_xor_addr(m, &m->attrs[i], &peers[n]) != 0) {
            req_send_error(r, 400);
            return;
        }
        code = req_check_peer(r, a, &peers[n]);
        if (code) {
            req_send_error(r, code);
            return;
        }
        n++;
    }
    if (n == 0) {
        req_send_error(r, 400);
        return;
    }
    /* All or nothing: every address was checked before any permission is installed. */
    code = perm_install(r->s, a, peers, n, r->now->ms);
    if (code) {
        req_send_error(r, code);
        return;
    }
    send_empty_success(r);
}

static void handle_channel_bind(struct turn_req *r, struct turn_allocation *a)
{
    const struct stun_msg *m = r->msg;
    const struct stun_attr *cn = stun_find(m, TURN_ATTR_CHANNEL_NUMBER);
    const struct stun_attr *pa = stun_find(m, TURN_ATTR_XOR_PEER_ADDRESS);
    uint16_t hi = r->s->cfg->strict_channel_range ? 0x4FFF : 0x7FFF, number;
    struct turn_channel *by_num, *by_peer;
    struct xt_addr peer;
    int code;

    /* RFC 6062 TCP allocations have no channels: their data goes over connections. */
    if (a->tcp || !cn || cn->len != 4 || !pa || stun_attr_xor_addr(m, pa, &peer) != 0) {
        req_send_error(r, 400);
        return;
    }
    number = (uint16_t)(cn->val[0] << 8 | cn->val[1]);
    if (number < 0x4000 || number > hi) {
        req_send_error(r, 400);
        return;
    }
    code = req_check_peer(r, a, &peer);
    if (code) {
        req_send_error(r, code);
        return;
    }
    /* RFC 8656 11.2: a channel stays bound to one peer and a peer to one channel until expiry. */
    by_num = chan_by_number(r->s, a, number);
    by_peer = chan_by_peer(r->s, a, &peer);
    if ((by_num && !xt_addr_equal(&by_num->peer, &peer)) ||
        (by_peer && by_peer->number != number)) {
        req_send_error(r, 400);
        return;
    }
    code = chan_bind(r->s, a, number, &peer, r->now->ms);
    if (code) {
        req_send_error(r, code);
        return;
    }
    send_empty_success(r);
}

static void handle_binding(struct turn_req *r)
{
    uint8_t buf[RESP_MAX];
    struct stun_builder b;

    if (r->msg->nunknown) {
        req_send_error(r, 420);
        return;
    }
    if (!req_unauth_allowed(r))
        return;
    req_begin_success(r, &b, buf);
    stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, r->client);
    req_send_success(r, &b);
}

/* Binding needs no authentication; the others are authenticated, then unknown attributes and
 * the allocation are checked, then they are dispatched. */
void turn_handle_request(struct turn_req *r)
{
    struct turn_server *s = r->s;
    uint16_t method = r->msg->method;
    const struct xt_addr *nonce_client;
    struct turn_allocation *a;
    enum auth_result res;

    if (method == STUN_BINDING) {
        handle_binding(r);
        return;
    }
    if (method != TURN_ALLOCATE && method != TURN_REFRESH && method != TURN_CREATE_PERMISSION &&
        method != TURN_CHANNEL_BIND && method != TURN_CONNECT && method != TURN_CONNECTION_BIND) {
        req_send_error(r, 400);
        return;
    }
    if (method == TURN_CONNECTION_BIND && tcp_bind_redirected(r))
        return;
    res = auth_check(&s->auth, r->msg, r->client, r->now->unix_s, r->key, r->user);
    /* RFC 6062: a data connection may come with its control connection's nonce. */
    if (res == AUTH_STALE_NONCE && method == TURN_CONNECTION_BIND &&
        (nonce_client = tcp_bind_nonce_client(s, r->msg)))
        res = auth_check(&s->auth, r->msg, nonce_client, r->now->unix_s, r->key, r->user);
    switch (res) {
    case AUTH_OK:
        break;
    case AUTH_MISSING:
        req_send_error(r, 401);
        return;
    case AUTH_BAD_REQUEST:
        req_send_error(r, 400);
        return;
    case AUTH_STALE_NONCE:
        req_send_error(r, 438);
        return;
    case AUTH_REJECTED:
        ctr(s, r->transport)->auth_failures++;
        if (log_enabled(LOG_INFO)) {
            char c[XT_ADDR_STRLEN];
            xt_log(LOG_INFO, "authentication failed", "client", xt_addr_str(r->client, c), "user",
                   r->user, NULL);
        }
        req_send_error(r, 401);
        return;
    }
    r->authenticated = true;
    /* The nonce is bound to this address: the source is real, and not held to the budget of
     * unauthenticated responses meant for spoofed ones (its next allocations' 401s). */
    ratelimit_prove(turn_shared_unauth_limit(s->shared), r->client, r->now->ms);
    if (r->msg->nunknown) {
        req_send_error(r, 420);
        return;
    }
    /* A ConnectionBind comes on a connection without allocation: its own checks. */
    if (method == TURN_CONNECTION_BIND) {
        tcp_handle_connection_bind(r);
        return;
    }
    a = alloc_find(s, r->client, r->listen_handle);
    if (method != TURN_ALLOCATE) {
        if (!a) {
            req_send_error(r, 437);
            return;
        }
        /* Another user's valid credentials do not give access to this allocation. */
        if (strcmp(a->user, r->user) != 0) {
            req_send_error(r, 441);
            return;
        }
    }
    switch (method) {
    case TURN_ALLOCATE:
        handle_allocate(r, a);
        break;
    case TURN_REFRESH:
        handle_refresh(r, a);
        break;
    case TURN_CREATE_PERMISSION:
        handle_create_permission(r, a);
        break;
    case TURN_CONNECT:
        tcp_handle_connect(r, a);
        break;
    default:
        handle_channel_bind(r, a);
        break;
    }
}
