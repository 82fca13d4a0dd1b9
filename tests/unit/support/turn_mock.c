#include "turn_mock.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"

static int sock_new(struct mock *m, const struct mock_sock *ms)
{
    for (int h = 0; h < MOCK_MAX_SOCKS; h++) {
        if (m->socks[h].open)
            continue;
        m->socks[h] = *ms;
        m->socks[h].open = true;
        m->socks[h].spliced = -1;
        return h;
    }
    return -EMFILE;
}

static bool port_busy(const struct mock *m, uint16_t port)
{
    for (size_t i = 0; i < m->nbusy; i++)
        if (m->busy_ports[i] == port)
            return true;
    return false;
}

static int mock_relayed_open(void *ctx, const struct xt_addr *addr, int df, void *owner)
{
    struct mock *m = ctx;
    if (port_busy(m, addr->port))
        return -EADDRINUSE;
    return sock_new(m, &(struct mock_sock){.addr = *addr, .owner = owner, .dont_fragment = df});
}

static void mock_relayed_close(void *ctx, int handle)
{
    struct mock *m = ctx;
    assert_true(handle >= 0 && handle < MOCK_MAX_SOCKS && m->socks[handle].open);
    assert_false(m->socks[handle].conn);
    m->socks[handle].open = false;
}

static int mock_tcp_listen(void *ctx, const struct xt_addr *addr, void *owner)
{
    struct mock *m = ctx;
    if (port_busy(m, addr->port))
        return -EADDRINUSE;
    return mock_sock_adopt(m, addr, true, owner);
}

static int mock_tcp_connect(void *ctx, const struct xt_addr *local, const struct xt_addr *peer,
                            void *owner)
{
    struct mock *m = ctx;
    if (port_busy(m, peer->port))
        return -ECONNREFUSED;
    return sock_new(m,
                    &(struct mock_sock){
                        .addr = *local, .owner = owner, .tcp = true, .conn = true, .peer = *peer});
}

int mock_sock_adopt(struct mock *m, const struct xt_addr *addr, bool tcp, void *owner)
{
    return sock_new(m, &(struct mock_sock){.addr = *addr, .owner = owner, .tcp = tcp});
}

static void mock_tcp_close(void *ctx, int handle)
{
    struct mock *m = ctx;
    assert_true(handle >= 0 && handle < MOCK_MAX_SOCKS && m->socks[handle].open);
    assert_true(m->socks[handle].conn);
    m->socks[handle].open = false;
}

static int mock_tcp_splice(void *ctx, int data_handle, int peer_handle, void *owner)
{
    struct mock *m = ctx;
    struct mock_sock *p = &m->socks[peer_handle];

    assert_true(peer_handle >= 0 && peer_handle < MOCK_MAX_SOCKS && p->open && p->conn);
    /* A connection from a peer gets its owner here; one of tcp_connect's had it already. */
    if (!p->owner)
        p->owner = owner;
    assert_ptr_equal(p->owner, owner);
    assert_int_equal(p->spliced, -1);
    m->splices++;
    if (m->fail_splice)
        return -1;
    m->last_splice_data = data_handle;
    m->last_splice_peer = peer_handle;
    p->spliced = data_handle;
    return 0;
}

static int mock_tcp_redirect(void *ctx, int data_handle, void *target)
{
    struct mock *m = ctx;
    assert_ptr_not_equal(target, ctx);
    m->redirects++;
    m->last_redirect_target = target;
    m->last_redirect_handle = data_handle;
    return 0;
}

int mock_tcp_accept(struct mock *m, int listen_handle, const struct xt_addr *peer)
{
    struct mock_sock *l = &m->socks[listen_handle];
    int h;

    assert_true(l->open && l->tcp && !l->conn);
    h = sock_new(m, &(struct mock_sock){.addr = l->addr, .tcp = true, .conn = true, .peer = *peer});
    assert_true(h >= 0);
    turn_on_tcp_accept(m->s, &m->now, l->owner, h, peer);
    return h;
}

void mock_tcp_connected(struct mock *m, int handle, int err)
{
    assert_true(m->socks[handle].open && m->socks[handle].conn);
    turn_on_tcp_connected(m->s, &m->now, m->socks[handle].owner, err);
}

int mock_tcp_conn_to(const struct mock *m, const struct xt_addr *peer)
{
    for (int h = 0; h < MOCK_MAX_SOCKS; h++)
        if (m->socks[h].open && m->socks[h].conn && xt_addr_equal(&m->socks[h].peer, peer))
            return h;
    return -1;
}

static void mock_send(void *ctx, int handle, const struct xt_addr *dst, const void *head,
                      size_t head_len, const void *body, size_t body_len, size_t pad)
{
    struct mock *m = ctx;
    struct mock_dgram *d;
    assert_true(m->nsent < MOCK_MAX_SENT);
    assert_true(head_len <= TURN_HEAD_MAX);
    assert_true(head_len + body_len + pad <= sizeof(d->data));
    assert_true(pad < 4);
    d = &m->sent[m->nsent++];
    d->handle = handle;
    d->dst = *dst;
    if (head_len)
        memcpy(d->data, head, head_len);
    if (body_len)
        memcpy(d->data + head_len, body, body_len);
    memset(d->data + head_len + body_len, 0, pad);
    d->len = head_len + body_len + pad;
}

static int mock_channel_up(void *ctx, const struct turn_channel_info *ci)
{
    struct mock *m = ctx;
    m->ups++;
    m->sent_at_last_up = m->nsent;
    m->last_up_relayed = *ci->relayed;
    m->last_up_transport = ci->transport;
    m->last_up_bucket = ci->bucket;
    assert_int_equal(ci->relayed->family, ci->peer->family);
    if (m->fail_up)
        return -1;
    m->mirrored++;
    return 0;
}

static void mock_channel_down(void *ctx, const struct turn_channel_info *ci)
{
    struct mock *m = ctx;
    (void)ci;
    m->downs++;
    m->mirrored--;
    assert_true(m->mirrored >= 0);
}

static uint64_t *mock_bucket_get(void *ctx, uint32_t *id)
{
    struct mock *m = ctx;
    *id = m->bucket_word ? m->bucket_id : 0;
    return m->bucket_word;
}

static void mock_bucket_put(void *ctx, uint32_t id)
{
    struct mock *m = ctx;
    assert_int_equal(id, m->bucket_id);
    m->bucket_puts++;
}

/* splitmix64: a fixed sequence from a fixed start. */
static int mock_random_fill(void *ctx, void *buf, size_t len)
{
    struct mock *m = ctx;
    uint8_t *out = buf;

    if (m->random_fails)
        return -1;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t z = m->random_state += 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        memcpy(out + i, &z, len - i < 8 ? len - i : 8);
    }
    return 0;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

void mock_addr(struct xt_addr *a, const char *s)
{
    assert_int_equal(xt_addr_parse(s, 3478, a), 0);
}

void mock_ip(struct xt_addr *a, const char *s)
{
    assert_int_equal(xt_addr_parse_ip(s, a), 0);
}

void mock_setup(struct mock *m)
{
    struct turn_config *c = &m->cfg;
    memset(m, 0, sizeof(*m));
    log_setup(LOG_ERROR, LOG_JSON);
    c->realm = xstrdup("xturn");
    c->users = calloc(1, sizeof(*c->users));
    c->users[0].name = xstrdup("alice");
    c->users[0].password = xstrdup("wonderland");
    c->nusers = 1;
    c->relay_port_lo = 50000;
    c->relay_port_hi = 50099;
    mock_ip(&c->relay_v4, "198.18.3.2");
    mock_ip(&c->relay_v6, "2001:db8:3::2");
    c->default_lifetime_s = 600;
    c->max_lifetime_s = 3600;
    c->permission_lifetime_s = 300;
    c->channel_lifetime_s = 600;
    c->nonce_lifetime_s = 600;
    c->unauth_rate = 0;
    c->max_permissions = 1000;
    c->max_channels = 1000;
    c->policy.self = calloc(2, sizeof(struct xt_addr));
    c->policy.self[0] = c->relay_v4;
    c->policy.self[1] = c->relay_v6;
    c->policy.nself = 2;
    mock_addr(&m->local, "198.18.3.2:3478");
    mock_addr(&m->client, "198.18.1.2:40000");
    m->listen = MOCK_LISTEN;
    m->user = "alice";
    m->pass = "wonderland";
    m->now.ms = 1000000;
    m->now.unix_s = 1800000000;
    m->random = (struct turn_random){.fill = mock_random_fill, .ctx = m};
}

int mock_test_setup(void **state)
{
    struct mock *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    mock_setup(m);
    *state = m;
    return 0;
}

int mock_test_teardown(void **state)
{
    mock_teardown(*state);
    free(*state);
    return 0;
}

void mock_start(struct mock *m)
{
    mock_start_shared(m, NULL);
}

void mock_start_shared(struct mock *m, struct turn_shared *shared)
{
    struct turn_io io = {.ctx = m,
                         .relayed_open = mock_relayed_open,
                         .relayed_close = mock_relayed_close,
                         .send = mock_send,
                         .random = m->random,
                         .channel_up = mock_channel_up,
                         .channel_down = mock_channel_down,
                         .bucket_get = mock_bucket_get,
                         .bucket_put = mock_bucket_put};
    if (!m->without_tcp) {
        io.tcp_listen = mock_tcp_listen;
        io.tcp_connect = mock_tcp_connect;
        io.tcp_close = mock_tcp_close;
        io.tcp_splice = mock_tcp_splice;
        io.tcp_redirect = mock_tcp_redirect;
    }
    m->s = turn_server_new(&m->cfg, &io, &m->now, shared);
    assert_non_null(m->s);
}

void mock_teardown(struct mock *m)
{
    struct turn_config *c = &m->cfg;
    turn_server_free(m->s);
    assert_int_equal(mock_open_sockets(m), 0);
    assert_int_equal(m->mirrored, 0);
    for (size_t i = 0; i < c->nusers; i++) {
        free(c->users[i].name);
        free(c->users[i].password);
    }
    for (size_t i = 0; i < c->nsecrets; i++)
        free(c->secrets[i]);
    free(c->secrets);
    free(c->users);
    free(c->realm);
    free(c->policy.self);
    free(c->policy.allow);
    free(c->policy.deny);
}

int mock_open_sockets(const struct mock *m)
{
    int n = 0;
    for (int h = 0; h < MOCK_MAX_SOCKS; h++)
        n += m->socks[h].open;
    return n;
}

int mock_relay_handle(const struct mock *m, uint16_t family)
{
    for (int h = 0; h < MOCK_MAX_SOCKS; h++)
        if (m->socks[h].open && !m->socks[h].conn && m->socks[h].addr.family == family)
            return h;
    return -1;
}

void mock_advance(struct mock *m, uint64_t ms)
{
    m->now.ms += ms;
    m->now.unix_s += (int64_t)(ms / 1000);
    turn_tick(m->s, &m->now);
}

void mock_req(struct mock *m, struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method)
{
    uint8_t tid[STUN_TID_LEN] = {0x7e, 0x57};
    uint32_t n = ++m->tid_counter;
    /* unique over many requests: a repeated id is answered from the retransmission cache */
    memcpy(tid + 4, &n, sizeof(n));
    tid[10] = (uint8_t)method;
    stun_build_init(b, buf, cap, method, STUN_REQUEST, tid);
}

size_t mock_unsigned(struct stun_builder *b)
{
    int n;
    stun_add_fingerprint(b);
    n = stun_finish(b);
    assert_true(n > 0);
    return (size_t)n;
}

static void fetch_nonce(struct mock *m)
{
    uint8_t buf[256];
    struct stun_builder b;
    struct stun_msg r;
    const struct stun_attr *n;
    uint8_t transport[4] = {TURN_TRANSPORT_UDP};

    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, transport, 4);
    assert_int_equal(mock_from_client(m, buf, mock_unsigned(&b)), 1);
    mock_last_response(m, &r);
    assert_int_equal(mock_last_code(m), 401);
    n = stun_find(&r, STUN_ATTR_NONCE);
    assert_non_null(n);
    assert_true(n->len < sizeof(m->nonce));
    memcpy(m->nonce, n->val, n->len);
    m->nonce_len = n->len;
}

size_t mock_sign(struct mock *m, struct stun_builder *b)
{
    uint8_t key[16];
    int n;
    if (!m->nonce_len)
        fetch_nonce(m);
    stun_add_attr(b, STUN_ATTR_USERNAME, m->user, strlen(m->user));
    stun_add_attr(b, STUN_ATTR_REALM, m->cfg.realm, strlen(m->cfg.realm));
    stun_add_attr(b, STUN_ATTR_NONCE, m->nonce, m->nonce_len);
    stun_long_term_key(m->user, strlen(m->user), m->cfg.realm, strlen(m->cfg.realm), m->pass,
                       strlen(m->pass), key);
    if (!m->use_sha256 || m->use_both_integrity)
        stun_add_integrity(b, key, sizeof(key));
    if (m->use_sha256 || m->use_both_integrity)
        stun_add_integrity_sha256(b, key, sizeof(key));
    stun_add_fingerprint(b);
    n = stun_finish(b);
    assert_true(n > 0);
    return (size_t)n;
}

size_t mock_from_client_on(struct mock *m, int handle, const struct xt_addr *client,
                           const uint8_t *data, size_t len)
{
    size_t before = m->nsent;
    /* Copy into an exactly-sized heap block so ASan catches any read past the datagram. */
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, data, len);
    turn_on_client(m->s, &m->now, m->transport, handle, &m->local, client, copy, len);
    free(copy);
    return m->nsent - before;
}

size_t mock_from_client_at(struct mock *m, const struct xt_addr *client, const uint8_t *data,
                           size_t len)
{
    return mock_from_client_on(m, m->listen, client, data, len);
}

size_t mock_from_client(struct mock *m, const uint8_t *data, size_t len)
{
    return mock_from_client_at(m, &m->client, data, len);
}

size_t mock_send_indication(struct mock *m, const uint8_t *data, size_t len,
                            const struct xt_addr *peer)
{
    uint8_t buf[256], tid[STUN_TID_LEN] = {9};
    struct stun_builder b;
    int n;

    stun_build_init(&b, buf, sizeof(buf), TURN_SEND, STUN_INDICATION, tid);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, peer);
    stun_add_attr(&b, TURN_ATTR_DATA, data, len);
    n = stun_finish(&b);
    assert_true(n > 0);
    return mock_from_client(m, buf, (size_t)n);
}

size_t mock_from_peer(struct mock *m, int relay_handle, const struct xt_addr *peer,
                      const uint8_t *data, size_t len)
{
    size_t before = m->nsent;
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, data, len);
    assert_true(m->socks[relay_handle].open);
    turn_on_peer(m->s, &m->now, m->socks[relay_handle].owner, peer, copy, len);
    free(copy);
    return m->nsent - before;
}

void mock_last_response(struct mock *m, struct stun_msg *msg)
{
    struct mock_dgram *d;
    assert_true(m->nsent > 0);
    d = &m->sent[m->nsent - 1];
    assert_int_equal(stun_parse(d->data, d->len, msg), STUN_OK);
    /* Every response carries FINGERPRINT (stun_parse verified it). */
    assert_true(msg->fingerprint >= 0);
}

int mock_last_code(struct mock *m)
{
    struct stun_msg r;
    const struct stun_attr *e;
    const uint8_t *reason;
    size_t rlen;
    int code;
    mock_last_response(m, &r);
    if (r.cls == STUN_SUCCESS)
        return 0;
    assert_int_equal(r.cls, STUN_ERROR);
    e = stun_find(&r, STUN_ATTR_ERROR_CODE);
    assert_non_null(e);
    assert_int_equal(stun_attr_error_code(e, &code, &reason, &rlen), 0);
    return code;
}

static int exchange(struct mock *m, struct stun_builder *b, uint8_t *buf)
{
    mock_from_client(m, buf, mock_sign(m, b));
    return mock_last_code(m);
}

int mock_allocate(struct mock *m, uint8_t family, struct xt_addr *relayed)
{
    uint8_t buf[MOCK_REQ_MAX];
    struct stun_builder b;
    uint8_t transport[4] = {TURN_TRANSPORT_UDP}, fam[4] = {family};
    int code;

    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, transport, 4);
    if (family)
        stun_add_attr(&b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, fam, 4);
    code = exchange(m, &b, buf);
    if (code == 0 && relayed) {
        struct stun_msg r;
        mock_last_response(m, &r);
        assert_int_equal(
            stun_attr_xor_addr(&r, stun_find(&r, TURN_ATTR_XOR_RELAYED_ADDRESS), relayed), 0);
    }
    return code;
}

int mock_allocate_reserving(struct mock *m)
{
    uint8_t buf[MOCK_REQ_MAX], r_bit = 0x80;
    struct stun_builder b;
    uint8_t transport[4] = {TURN_TRANSPORT_UDP};

    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, transport, 4);
    stun_add_attr(&b, TURN_ATTR_EVEN_PORT, &r_bit, 1);
    return exchange(m, &b, buf);
}

int mock_bound(struct mock *m, const char *peer_s, struct xt_addr *peer)
{
    mock_addr(peer, peer_s);
    mock_start(m);
    assert_int_equal(mock_allocate(m, peer->family == AF_INET ? 0 : TURN_FAMILY_IPV6, NULL), 0);
    assert_int_equal(mock_channel_bind(m, 0x4001, peer), 0);
    return mock_relay_handle(m, peer->family);
}

size_t mock_channeldata(uint8_t *out, uint16_t channel, const uint8_t *data, size_t len, size_t pad)
{
    channeldata_header(out, channel, len);
    memcpy(out + 4, data, len);
    memset(out + 4 + len, 0, pad);
    return 4 + len + pad;
}

int mock_allocate_from(struct mock *m, const char *client, struct xt_addr *relayed)
{
    struct xt_addr saved = m->client;
    char nonce[sizeof(m->nonce)];
    size_t nonce_len = m->nonce_len;
    int code;

    memcpy(nonce, m->nonce, sizeof(nonce));
    mock_addr(&m->client, client);
    m->nonce_len = 0; /* nonces are bound to the client's address */
    code = mock_allocate(m, 0, relayed);
    m->client = saved;
    memcpy(m->nonce, nonce, sizeof(nonce));
    m->nonce_len = nonce_len;
    return code;
}

int mock_create_permission(struct mock *m, const struct xt_addr *peer)
{
    uint8_t buf[MOCK_REQ_MAX];
    struct stun_builder b;
    mock_req(m, &b, buf, sizeof(buf), TURN_CREATE_PERMISSION);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, peer);
    return exchange(m, &b, buf);
}

int mock_channel_bind(struct mock *m, uint16_t channel, const struct xt_addr *peer)
{
    uint8_t buf[MOCK_REQ_MAX];
    struct stun_builder b;
    uint8_t cn[4] = {(uint8_t)(channel >> 8), (uint8_t)channel};
    mock_req(m, &b, buf, sizeof(buf), TURN_CHANNEL_BIND);
    stun_add_attr(&b, TURN_ATTR_CHANNEL_NUMBER, cn, 4);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, peer);
    return exchange(m, &b, buf);
}

int mock_refresh(struct mock *m, int lifetime)
{
    uint8_t buf[MOCK_REQ_MAX];
    struct stun_builder b;
    mock_req(m, &b, buf, sizeof(buf), TURN_REFRESH);
    if (lifetime >= 0)
        stun_add_u32(&b, TURN_ATTR_LIFETIME, (uint32_t)lifetime);
    return exchange(m, &b, buf);
}
