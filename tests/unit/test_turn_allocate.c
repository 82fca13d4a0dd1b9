/* Allocate and Refresh: transports, families, dual allocation, EVEN-PORT, retransmissions,
 * quotas, port exhaustion, lifetimes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "turn/turn_shared.h"
#include "turn_mock.h"

static const uint8_t udp[4] = {TURN_TRANSPORT_UDP};

/* Signs and sends an Allocate with extra attributes added by the caller before signing. */
static int allocate_with(struct mock *m, struct stun_builder *b, uint8_t *buf, struct stun_msg *r)
{
    mock_from_client(m, buf, mock_sign(m, b));
    mock_last_response(m, r);
    return mock_last_code(m);
}

/* TCP needs a stream client (RFC 6062 5.1, test_turn_tcp_relay.c); other protocols are 442. */
static void missing_transport_is_400_tcp_over_udp_400_sctp_442(void **state)
{
    struct mock *m = *state;
    uint8_t buf[512], tcp[4] = {TURN_TRANSPORT_TCP}, sctp[4] = {132};
    struct stun_builder b;
    struct stun_msg r;

    mock_start(m);
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    assert_int_equal(allocate_with(m, &b, buf, &r), 400);
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, tcp, 4);
    assert_int_equal(allocate_with(m, &b, buf, &r), 400);
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, sctp, 4);
    assert_int_equal(allocate_with(m, &b, buf, &r), 442);
    /* Errors to authenticated requests are signed too. */
    assert_true(r.mi >= 0);
    assert_int_equal(mock_open_sockets(m), 0);
}

static void success_has_relayed_mapped_lifetime(void **state)
{
    struct mock *m = *state;
    struct stun_msg r;
    struct xt_addr relayed, mapped;
    uint32_t lifetime;

    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, &relayed), 0);
    mock_last_response(m, &r);
    assert_int_equal(stun_attr_xor_addr(&r, stun_find(&r, STUN_ATTR_XOR_MAPPED_ADDRESS), &mapped),
                     0);
    assert_true(xt_addr_equal(&mapped, &m->client));
    assert_int_equal(stun_attr_u32(stun_find(&r, TURN_ATTR_LIFETIME), &lifetime), 0);
    assert_int_equal(lifetime, 600);
    assert_true(relayed.port >= 50000 && relayed.port <= 50099);
    assert_true(xt_addr_ip_equal(&relayed, &m->cfg.relay_v4));
}

static void public_address_is_advertised(void **state)
{
    struct mock *m = *state;
    struct xt_addr relayed, pub;
    int h;

    mock_ip(&m->cfg.public_v4, "203.0.113.7");
    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, &relayed), 0);
    mock_ip(&pub, "203.0.113.7");
    assert_true(xt_addr_ip_equal(&relayed, &pub));
    h = mock_relay_handle(m, AF_INET);
    /* The socket itself binds the interface address. */
    assert_true(xt_addr_ip_equal(&m->socks[h].addr, &m->cfg.relay_v4));
    assert_int_equal(m->socks[h].addr.port, relayed.port);
}

static void retransmission_gets_identical_response(void **state)
{
    struct mock *m = *state;
    uint8_t buf[512];
    struct stun_builder b;
    size_t len;

    mock_start(m);
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    len = mock_sign(m, &b);
    assert_int_equal(mock_from_client(m, buf, len), 1);
    assert_int_equal(mock_last_code(m), 0);
    assert_int_equal(mock_from_client(m, buf, len), 1);
    assert_int_equal(m->sent[m->nsent - 1].len, m->sent[m->nsent - 2].len);
    assert_memory_equal(m->sent[m->nsent - 1].data, m->sent[m->nsent - 2].data,
                        m->sent[m->nsent - 1].len);
    assert_int_equal(mock_open_sockets(m), 1);
    /* A new transaction on the same 5-tuple is a mismatch. */
    assert_int_equal(mock_allocate(m, 0, NULL), 437);
}

static void requested_family_ipv6_and_unknown_family(void **state)
{
    struct mock *m = *state;
    struct xt_addr relayed;

    mock_start(m);
    assert_int_equal(mock_allocate(m, TURN_FAMILY_IPV6, &relayed), 0);
    assert_int_equal(relayed.family, AF_INET6);
    mock_addr(&m->client, "198.18.1.2:40001");
    m->nonce_len = 0;
    assert_int_equal(mock_allocate(m, 0x03, NULL), 440);
}

static void family_not_configured_is_440(void **state)
{
    struct mock *m = *state;
    memset(&m->cfg.relay_v6, 0, sizeof(m->cfg.relay_v6));
    mock_start(m);
    assert_int_equal(mock_allocate(m, TURN_FAMILY_IPV6, NULL), 440);
}

static void dual_allocation(uint16_t attr, void **state)
{
    struct mock *m = *state;
    uint8_t buf[512], v6[4] = {TURN_FAMILY_IPV6};
    struct stun_builder b;
    struct stun_msg r;
    size_t relayed = 0;

    mock_start(m);
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, attr, v6, 4);
    assert_int_equal(allocate_with(m, &b, buf, &r), 0);
    for (size_t i = 0; i < r.nattrs; i++)
        relayed += r.attrs[i].type == TURN_ATTR_XOR_RELAYED_ADDRESS;
    assert_int_equal(relayed, 2);
    assert_true(mock_relay_handle(m, AF_INET) >= 0);
    assert_true(mock_relay_handle(m, AF_INET6) >= 0);
}

static void dual_allocation_rfc_codepoint(void **state)
{
    dual_allocation(TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY, state);
}

static void dual_allocation_coturn_codepoint(void **state)
{
    dual_allocation(TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY_OLD, state);
}

static void dual_allocation_without_ipv6_reports_address_error(void **state)
{
    struct mock *m = *state;
    uint8_t buf[512], v6[4] = {TURN_FAMILY_IPV6};
    struct stun_builder b;
    struct stun_msg r;
    const struct stun_attr *ae;

    memset(&m->cfg.relay_v6, 0, sizeof(m->cfg.relay_v6));
    mock_start(m);
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY, v6, 4);
    assert_int_equal(allocate_with(m, &b, buf, &r), 0);
    ae = stun_find(&r, TURN_ATTR_ADDRESS_ERROR_CODE);
    assert_non_null(ae);
    assert_int_equal(ae->val[0], TURN_FAMILY_IPV6);
    assert_int_equal(ae->val[2] * 100 + ae->val[3], 440);
    assert_int_equal(mock_open_sockets(m), 1);
}

static void both_family_attributes_is_400(void **state)
{
    struct mock *m = *state;
    uint8_t buf[512], v4[4] = {TURN_FAMILY_IPV4}, v6[4] = {TURN_FAMILY_IPV6};
    struct stun_builder b;
    struct stun_msg r;

    mock_start(m);
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, v4, 4);
    stun_add_attr(&b, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY, v6, 4);
    assert_int_equal(allocate_with(m, &b, buf, &r), 400);
    /* ADDITIONAL-ADDRESS-FAMILY may only ask for IPv6. */
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY, v4, 4);
    assert_int_equal(allocate_with(m, &b, buf, &r), 400);
}

static void even_port_with_reservation(void **state)
{
    struct mock *m = *state;
    uint8_t buf[512], r_bit = 0x80;
    struct stun_builder b;
    struct stun_msg r;
    const struct stun_attr *tok;
    uint8_t token[8];
    struct xt_addr first, second;

    mock_start(m);
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, TURN_ATTR_EVEN_PORT, &r_bit, 1);
    assert_int_equal(allocate_with(m, &b, buf, &r), 0);
    assert_int_equal(stun_attr_xor_addr(&r, stun_find(&r, TURN_ATTR_XOR_RELAYED_ADDRESS), &first),
                     0);
    assert_int_equal(first.port % 2, 0);
    tok = stun_find(&r, TURN_ATTR_RESERVATION_TOKEN);
    assert_non_null(tok);
    assert_int_equal(tok->len, 8);
    memcpy(token, tok->val, 8);

    /* Another client redeems the token and gets the next port. */
    mock_addr(&m->client, "198.18.1.2:40010");
    m->nonce_len = 0;
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, TURN_ATTR_RESERVATION_TOKEN, token, 8);
    assert_int_equal(allocate_with(m, &b, buf, &r), 0);
    assert_int_equal(stun_attr_xor_addr(&r, stun_find(&r, TURN_ATTR_XOR_RELAYED_ADDRESS), &second),
                     0);
    assert_int_equal(second.port, first.port + 1);

    /* A token works once. */
    mock_addr(&m->client, "198.18.1.2:40011");
    m->nonce_len = 0;
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, TURN_ATTR_RESERVATION_TOKEN, token, 8);
    assert_int_equal(allocate_with(m, &b, buf, &r), 508);
}

static void reservation_expires_after_30s(void **state)
{
    struct mock *m = *state;
    uint8_t buf[512], r_bit = 0x80, token[8];
    struct stun_builder b;
    struct stun_msg r;

    m->cfg.relay_port_lo = 50000;
    m->cfg.relay_port_hi = 50001;
    mock_start(m);
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, TURN_ATTR_EVEN_PORT, &r_bit, 1);
    assert_int_equal(allocate_with(m, &b, buf, &r), 0);
    memcpy(token, stun_find(&r, TURN_ATTR_RESERVATION_TOKEN)->val, 8);
    assert_int_equal(mock_refresh(m, 3600), 0);
    /* While reserved, the only other port is taken. */
    mock_addr(&m->client, "198.18.1.2:40001");
    m->nonce_len = 0;
    assert_int_equal(mock_allocate(m, 0, NULL), 508);
    /* After 30 s the reservation is gone: the port is free and the token worthless. */
    mock_advance(m, 30 * 1000);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    mock_addr(&m->client, "198.18.1.2:40002");
    m->nonce_len = 0;
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, TURN_ATTR_RESERVATION_TOKEN, token, 8);
    assert_int_equal(allocate_with(m, &b, buf, &r), 508);
}

/* Issue 10, finding 6: Allocate(EVEN-PORT R=1) then Refresh(0) left the reservation outside
 * every quota. A reservation counts as one of its user's allocations until it is redeemed or
 * expires, and against --max-allocations. */
static void reservations_count_against_quotas(void **state)
{
    struct mock *m = *state;

    m->cfg.user_quota = 3;
    mock_start(m);
    /* allocation + reservation: 2 of 3; then the allocation goes, the reservation stays */
    assert_int_equal(mock_allocate_reserving(m), 0);
    assert_int_equal(mock_refresh(m, 0), 0);
    assert_int_equal(mock_allocate_reserving(m), 0); /* 1 + 2 */
    assert_int_equal(mock_refresh(m, 0), 0);
    assert_int_equal(mock_allocate_reserving(m), 486); /* 2 reservations + 2 would be 4 */
    assert_int_equal(mock_open_sockets(m), 0);         /* nothing half made */
    assert_int_equal(mock_allocate(m, 0, NULL), 0);    /* 2 + 1 */
    assert_int_equal(mock_refresh(m, 0), 0);
    /* Reservations expire after 30 s and give their share back. */
    mock_advance(m, 30 * 1000);
    assert_int_equal(mock_allocate_reserving(m), 0);
    assert_int_equal(mock_refresh(m, 0), 0);
    turn_server_free(m->s);

    m->cfg.user_quota = 0;
    m->cfg.max_allocations = 2;
    m->nonce_len = 0;
    mock_start(m);
    assert_int_equal(mock_allocate_reserving(m), 0);
    assert_int_equal(mock_refresh(m, 0), 0);
    assert_int_equal(mock_allocate_reserving(m), 486); /* 1 reservation + 2 */
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
}

static void servers_sharing_state_share_ports_and_quotas(void **state)
{
    struct mock *m = *state, *m2 = calloc(1, sizeof(*m2));
    struct turn_shared *sh;

    m->cfg.relay_port_lo = 50000;
    m->cfg.relay_port_hi = 50001;
    m->cfg.user_quota = 2;
    sh = turn_shared_new(&m->cfg, &m->random);
    assert_non_null(sh);
    mock_start_shared(m, sh);
    mock_setup(m2);
    m2->cfg.relay_port_lo = 50000;
    m2->cfg.relay_port_hi = 50001;
    mock_start_shared(m2, sh);
    mock_addr(&m2->client, "198.18.1.2:40005");
    /* One allocation on each "worker": the two ports are used, and the user's quota too. */
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    assert_int_equal(mock_allocate(m2, 0, NULL), 0);
    assert_int_not_equal(m->socks[mock_relay_handle(m, AF_INET)].addr.port,
                         m2->socks[mock_relay_handle(m2, AF_INET)].addr.port);
    mock_addr(&m2->client, "198.18.1.2:40001");
    m2->nonce_len = 0;
    assert_int_equal(mock_allocate(m2, 0, NULL), 486);
    /* A nonce made by one server is good at the other. */
    memcpy(m2->nonce, m->nonce, sizeof(m->nonce));
    m2->nonce_len = m->nonce_len;
    m2->client = m->client;
    assert_int_equal(mock_refresh(m2, 600), 437); /* authenticated: no allocation there */
    mock_teardown(m2);
    free(m2);
    turn_server_free(m->s);
    m->s = NULL;
    turn_shared_free(sh);
}

static void draining_refuses_new_allocations(void **state)
{
    struct mock *m = *state;
    struct turn_shared *sh = turn_shared_new(&m->cfg, &m->random);
    mock_start_shared(m, sh);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    turn_shared_set_draining(sh, true);
    /* Existing allocations live on... */
    assert_int_equal(mock_refresh(m, 600), 0);
    /* ...new ones are refused (no alternate server configured). */
    mock_addr(&m->client, "198.18.1.2:40001");
    m->nonce_len = 0;
    assert_int_equal(mock_allocate(m, 0, NULL), 508);
    assert_int_equal(turn_shared_allocations(sh), 1);
    turn_server_free(m->s);
    m->s = NULL;
    turn_shared_free(sh);
}

static void draining_sends_clients_to_the_alternate_server(void **state)
{
    struct mock *m = *state;
    struct turn_shared *sh;
    struct stun_msg r;
    struct xt_addr alt;
    uint8_t key[16];

    mock_addr(&m->cfg.alternate_v4, "198.18.3.9:3478");
    sh = turn_shared_new(&m->cfg, &m->random);
    mock_start_shared(m, sh);
    turn_shared_set_draining(sh, true);
    assert_int_equal(mock_allocate(m, 0, NULL), 300);
    mock_last_response(m, &r);
    assert_int_equal(stun_attr_addr(stun_find(&r, STUN_ATTR_ALTERNATE_SERVER), &alt), 0);
    assert_true(xt_addr_equal(&alt, &m->cfg.alternate_v4));
    /* Authenticated: the client can trust where it is sent. */
    stun_long_term_key("alice", 5, "xturn", 5, "wonderland", 10, key);
    assert_true(stun_check_integrity(&r, key, sizeof(key)));
    assert_int_equal(mock_open_sockets(m), 0);
    turn_server_free(m->s);
    m->s = NULL;
    turn_shared_free(sh);
}

static void reservation_token_with_even_port_is_400(void **state)
{
    struct mock *m = *state;
    uint8_t buf[512], zero = 0, token[8] = {1};
    struct stun_builder b;
    struct stun_msg r;

    mock_start(m);
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, TURN_ATTR_EVEN_PORT, &zero, 1);
    stun_add_attr(&b, TURN_ATTR_RESERVATION_TOKEN, token, 8);
    assert_int_equal(allocate_with(m, &b, buf, &r), 400);
}

static void no_free_port_is_508(void **state)
{
    struct mock *m = *state;
    m->cfg.relay_port_lo = 50000;
    m->cfg.relay_port_hi = 50001;
    m->busy_ports[m->nbusy++] = 50000; /* held by another program on the host */
    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    mock_addr(&m->client, "198.18.1.2:40001");
    m->nonce_len = 0;
    assert_int_equal(mock_allocate(m, 0, NULL), 508);
}

static void user_quota_is_486(void **state)
{
    struct mock *m = *state;
    m->cfg.user_quota = 1;
    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    mock_addr(&m->client, "198.18.1.2:40001");
    m->nonce_len = 0;
    assert_int_equal(mock_allocate(m, 0, NULL), 486);
    /* Deleting the first frees the quota. */
    mock_addr(&m->client, "198.18.1.2:40000");
    m->nonce_len = 0;
    assert_int_equal(mock_refresh(m, 0), 0);
    mock_addr(&m->client, "198.18.1.2:40001");
    m->nonce_len = 0;
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
}

static void unknown_comprehension_required_is_420(void **state)
{
    struct mock *m = *state;
    uint8_t buf[512], v[4] = {0};
    struct stun_builder b;
    struct stun_msg r;
    const struct stun_attr *ua;

    mock_start(m);
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, 0x0055, v, 4);
    assert_int_equal(allocate_with(m, &b, buf, &r), 420);
    ua = stun_find(&r, STUN_ATTR_UNKNOWN_ATTRIBUTES);
    assert_non_null(ua);
    assert_int_equal(ua->len, 2);
    assert_int_equal(ua->val[0] << 8 | ua->val[1], 0x0055);
}

static void refresh_rules(void **state)
{
    struct mock *m = *state;
    struct stun_msg r;
    uint32_t lifetime;

    mock_start(m);
    assert_int_equal(mock_refresh(m, 600), 437);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    assert_int_equal(mock_refresh(m, 100000), 0);
    mock_last_response(m, &r);
    assert_int_equal(stun_attr_u32(stun_find(&r, TURN_ATTR_LIFETIME), &lifetime), 0);
    assert_int_equal(lifetime, 3600);
    assert_int_equal(mock_refresh(m, 10), 0);
    mock_last_response(m, &r);
    assert_int_equal(stun_attr_u32(stun_find(&r, TURN_ATTR_LIFETIME), &lifetime), 0);
    assert_int_equal(lifetime, 600);
    assert_int_equal(mock_refresh(m, 0), 0);
    assert_int_equal(mock_open_sockets(m), 0);
    assert_int_equal(turn_server_counters(m->s)->allocations, 0);
}

static void refresh_by_another_user_is_441(void **state)
{
    struct mock *m = *state;
    m->cfg.users = realloc(m->cfg.users, 2 * sizeof(*m->cfg.users));
    m->cfg.users[1].name = strdup("eve");
    m->cfg.users[1].password = strdup("pw");
    m->cfg.nusers = 2;
    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    m->user = "eve";
    m->pass = "pw";
    assert_int_equal(mock_refresh(m, 0), 441);
    assert_int_equal(mock_open_sockets(m), 1);
}

static void allocation_expires_on_time(void **state)
{
    struct mock *m = *state;
    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    mock_advance(m, 599 * 1000);
    assert_int_equal(mock_open_sockets(m), 1);
    mock_advance(m, 1000);
    assert_int_equal(mock_open_sockets(m), 0);
    assert_int_equal(turn_server_counters(m->s)->allocations, 0);
}

static void refresh_extends_lifetime(void **state)
{
    struct mock *m = *state;
    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    mock_advance(m, 500 * 1000);
    assert_int_equal(mock_refresh(m, 1200), 0);
    mock_advance(m, 1199 * 1000);
    assert_int_equal(mock_open_sockets(m), 1);
    mock_advance(m, 1000);
    assert_int_equal(mock_open_sockets(m), 0);
}

static void binding_answers_with_mapped_address(void **state)
{
    struct mock *m = *state;
    uint8_t buf[128];
    struct stun_builder b;
    struct stun_msg r;
    struct xt_addr mapped;

    mock_start(m);
    mock_req(m, &b, buf, sizeof(buf), STUN_BINDING);
    assert_int_equal(mock_from_client(m, buf, mock_unsigned(&b)), 1);
    assert_int_equal(mock_last_code(m), 0);
    mock_last_response(m, &r);
    assert_int_equal(stun_attr_xor_addr(&r, stun_find(&r, STUN_ATTR_XOR_MAPPED_ADDRESS), &mapped),
                     0);
    assert_true(xt_addr_equal(&mapped, &m->client));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, mock_test_setup, mock_test_teardown)
    const struct CMUnitTest tests[] = {
        T(missing_transport_is_400_tcp_over_udp_400_sctp_442),
        T(success_has_relayed_mapped_lifetime),
        T(public_address_is_advertised),
        T(retransmission_gets_identical_response),
        T(requested_family_ipv6_and_unknown_family),
        T(family_not_configured_is_440),
        T(dual_allocation_rfc_codepoint),
        T(dual_allocation_coturn_codepoint),
        T(dual_allocation_without_ipv6_reports_address_error),
        T(both_family_attributes_is_400),
        T(even_port_with_reservation),
        T(reservation_token_with_even_port_is_400),
        T(reservation_expires_after_30s),
        T(reservations_count_against_quotas),
        T(draining_refuses_new_allocations),
        T(draining_sends_clients_to_the_alternate_server),
        T(servers_sharing_state_share_ports_and_quotas),
        T(no_free_port_is_508),
        T(user_quota_is_486),
        T(unknown_comprehension_required_is_420),
        T(refresh_rules),
        T(refresh_by_another_user_is_441),
        T(allocation_expires_on_time),
        T(refresh_extends_lifetime),
        T(binding_answers_with_mapped_address),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
