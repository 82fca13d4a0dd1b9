/* The largest response of each kind fits its buffer and is sent, with the longest realm
 * src/app/config.c accepts: 127 characters of 4 bytes. A response that does not fit is dropped,
 * which for 401 means that no client can authenticate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "turn/turn_shared.h"
#include "turn_mock.h"

#define REALM_CHARS 127
#define EMOJI       "\xf0\x9f\x98\x80" /* U+1F600 */
#define N_UNKNOWN   30                 /* with the other attributes, near STUN_MAX_ATTRS */

static const uint8_t udp[4] = {TURN_TRANSPORT_UDP};

static int setup(void **state)
{
    struct mock *m;

    mock_test_setup(state);
    m = *state;
    free(m->cfg.realm);
    m->cfg.realm = calloc(REALM_CHARS, 4 + 1);
    assert_non_null(m->cfg.realm);
    for (int i = 0; i < REALM_CHARS; i++)
        strcat(m->cfg.realm, EMOJI);
    /* Authenticated responses are largest with both integrity attributes. */
    m->use_both_integrity = true;
    mock_addr(&m->client, "[2001:db8:1::2]:40000");
    return 0;
}

/* The last datagram was one response with this code, carrying the whole realm when it is a
 * challenge and both integrity attributes (verified) when authenticated. */
static void assert_sent(struct mock *m, size_t sent, int code, bool authenticated)
{
    struct stun_msg r;
    const struct stun_attr *realm;
    uint8_t key[16];

    assert_int_equal(sent, 1);
    assert_int_equal(mock_last_code(m), code);
    mock_last_response(m, &r);
    realm = stun_find(&r, STUN_ATTR_REALM);
    if (code == 401 || code == 438) {
        assert_non_null(realm);
        assert_int_equal(realm->len, strlen(m->cfg.realm));
        assert_int_equal(realm->len, REALM_CHARS * 4);
    }
    if (authenticated) {
        assert_true(r.mi >= 0 && r.mi256 >= 0);
        stun_long_term_key(m->user, strlen(m->user), m->cfg.realm, strlen(m->cfg.realm), m->pass,
                           strlen(m->pass), key);
        assert_true(stun_check_integrity(&r, key, sizeof(key)));
    }
}

static void challenge_401(void **state)
{
    struct mock *m = *state;
    uint8_t buf[MOCK_REQ_MAX];
    struct stun_builder b;
    size_t sent;

    mock_start(m);
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    sent = mock_from_client(m, buf, mock_unsigned(&b));
    assert_sent(m, sent, 401, false);
    /* A wrong password is answered with the same challenge. */
    m->pass = "wrong";
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    sent = mock_from_client(m, buf, mock_sign(m, &b));
    assert_sent(m, sent, 401, false);
    /* And the right one works: the realm the client signs with is the whole of it. */
    m->pass = "wonderland";
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
}

static void stale_nonce_438(void **state)
{
    struct mock *m = *state;

    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    assert_int_equal(mock_refresh(m, 3600), 0);
    mock_advance(m, 601 * 1000);
    assert_int_equal(mock_refresh(m, -1), 438);
    assert_sent(m, 1, 438, false);
}

/* Every comprehension-required attribute the request can carry is unknown. */
static void add_unknown(struct stun_builder *b)
{
    uint8_t v[4] = {0};
    for (uint16_t i = 0; i < N_UNKNOWN; i++)
        stun_add_attr(b, (uint16_t)(0x0050 + i), v, sizeof(v));
}

static void unknown_attributes_420(void **state)
{
    struct mock *m = *state;
    uint8_t buf[MOCK_REQ_MAX];
    struct stun_builder b;
    size_t sent;

    mock_start(m);
    /* Binding: unauthenticated. */
    mock_req(m, &b, buf, sizeof(buf), STUN_BINDING);
    add_unknown(&b);
    sent = mock_from_client(m, buf, mock_unsigned(&b));
    assert_sent(m, sent, 420, false);
    /* Allocate: authenticated, signed. */
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    add_unknown(&b);
    sent = mock_from_client(m, buf, mock_sign(m, &b));
    assert_sent(m, sent, 420, true);
}

static void try_alternate_300(void **state)
{
    struct mock *m = *state;
    struct turn_shared *sh;

    mock_addr(&m->cfg.alternate_v6, "[2001:db8:3::9]:65535");
    sh = turn_shared_new(&m->cfg, &m->random);
    mock_start_shared(m, sh);
    turn_shared_set_draining(sh, true);
    assert_int_equal(mock_allocate(m, 0, NULL), 300);
    assert_sent(m, 1, 300, true);
    turn_server_free(m->s);
    m->s = NULL;
    turn_shared_free(sh);
}

/* Every optional attribute at once: RESERVATION-TOKEN, ADDRESS-ERROR-CODE, an IPv6
 * XOR-MAPPED-ADDRESS. */
static void allocate_success(void **state)
{
    struct mock *m = *state;
    uint8_t buf[MOCK_REQ_MAX], r_bit = 0x80, v6[4] = {TURN_FAMILY_IPV6};
    struct stun_builder b;
    struct stun_msg r;
    size_t sent;

    memset(&m->cfg.relay_v6, 0, sizeof(m->cfg.relay_v6));
    mock_start(m);
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, TURN_ATTR_EVEN_PORT, &r_bit, 1);
    stun_add_attr(&b, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY, v6, 4);
    sent = mock_from_client(m, buf, mock_sign(m, &b));
    assert_sent(m, sent, 0, true);
    mock_last_response(m, &r);
    assert_non_null(stun_find(&r, TURN_ATTR_RESERVATION_TOKEN));
    assert_non_null(stun_find(&r, TURN_ATTR_ADDRESS_ERROR_CODE));
}

/* The longest reason phrase, signed. */
static void longest_reason_442(void **state)
{
    struct mock *m = *state;
    uint8_t buf[MOCK_REQ_MAX], sctp[4] = {132};
    struct stun_builder b;
    size_t sent;

    mock_start(m);
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, sctp, 4);
    sent = mock_from_client(m, buf, mock_sign(m, &b));
    assert_sent(m, sent, 442, true);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, mock_test_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(challenge_401),     T(stale_nonce_438),  T(unknown_attributes_420),
        T(try_alternate_300), T(allocate_success), T(longest_reason_442),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
