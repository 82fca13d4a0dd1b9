/* Authentication of TURN requests: challenges, nonces, static users, REST API secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "turn/auth.h"
#include "turn/ratelimit.h"
#include "turn/turn_shared.h"
#include "turn_mock.h"

static void unauthenticated_allocate_gets_small_401(void **state)
{
    struct mock *m = *state;
    uint8_t buf[256];
    struct stun_builder b;
    struct stun_msg r;
    uint8_t transport[4] = {TURN_TRANSPORT_UDP};

    mock_start(m);
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, transport, 4);
    assert_int_equal(mock_from_client(m, buf, mock_unsigned(&b)), 1);
    assert_int_equal(mock_last_code(m), 401);
    mock_last_response(m, &r);
    assert_non_null(stun_find(&r, STUN_ATTR_REALM));
    assert_non_null(stun_find(&r, STUN_ATTR_NONCE));
    assert_null(stun_find(&r, STUN_ATTR_SOFTWARE));
    assert_int_equal(r.mi, -1);
    /* A reflector must not amplify much: the challenge stays small. */
    assert_true(m->sent[0].len <= 100);
    assert_int_equal(mock_open_sockets(m), 0);
}

static void static_user_allocates_and_response_is_signed(void **state)
{
    struct mock *m = *state;
    struct stun_msg r;
    uint8_t key[16];
    struct xt_addr relayed;

    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, &relayed), 0);
    mock_last_response(m, &r);
    stun_long_term_key("alice", 5, "xturn", 5, "wonderland", 10, key);
    assert_true(r.mi >= 0);
    assert_true(stun_check_integrity(&r, key, sizeof(key)));
    assert_int_equal(relayed.family, AF_INET);
    assert_int_equal(mock_open_sockets(m), 1);
}

static void sha256_integrity_answered_with_sha256(void **state)
{
    struct mock *m = *state;
    struct stun_msg r;
    uint8_t key[16];

    mock_start(m);
    m->use_sha256 = true;
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    mock_last_response(m, &r);
    assert_true(r.mi256 >= 0);
    assert_int_equal(r.mi, -1);
    stun_long_term_key("alice", 5, "xturn", 5, "wonderland", 10, key);
    assert_true(stun_check_integrity(&r, key, sizeof(key)));
}

static void wrong_password_is_401_and_counted(void **state)
{
    struct mock *m = *state;
    mock_start(m);
    m->pass = "wrong";
    assert_int_equal(mock_allocate(m, 0, NULL), 401);
    assert_int_equal(turn_server_counters(m->s)->auth_failures, 1);
    /* The challenge and the rejection, both counted as Allocate 401. */
    assert_int_equal(turn_server_counters(m->s)->responses[TM_ALLOCATE][turn_code_index(401)], 2);
    assert_int_equal(mock_open_sockets(m), 0);
    m->user = "mallory";
    assert_int_equal(mock_allocate(m, 0, NULL), 401);
}

static void missing_username_is_400(void **state)
{
    struct mock *m = *state;
    uint8_t buf[256], key[16] = {0};
    struct stun_builder b;
    uint8_t transport[4] = {TURN_TRANSPORT_UDP};

    mock_start(m);
    mock_req(m, &b, buf, sizeof(buf), TURN_ALLOCATE);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, transport, 4);
    stun_add_integrity(&b, key, sizeof(key));
    mock_from_client(m, buf, mock_unsigned(&b));
    assert_int_equal(mock_last_code(m), 400);
}

static void stale_nonce_is_438_with_a_new_nonce(void **state)
{
    struct mock *m = *state;
    struct stun_msg r;
    const struct stun_attr *n;

    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    assert_int_equal(mock_refresh(m, 3600), 0);
    mock_advance(m, 601 * 1000);
    assert_int_equal(mock_refresh(m, -1), 438);
    mock_last_response(m, &r);
    n = stun_find(&r, STUN_ATTR_NONCE);
    assert_non_null(n);
    assert_memory_not_equal(n->val, m->nonce, n->len);
    memcpy(m->nonce, n->val, n->len);
    assert_int_equal(mock_refresh(m, -1), 0);
}

static void nonce_is_bound_to_the_client_address(void **state)
{
    struct mock *m = *state;
    mock_start(m);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    mock_addr(&m->client, "198.18.1.2:40001");
    assert_int_equal(mock_allocate(m, 0, NULL), 438);
}

static void set_secrets(struct mock *m, const char *a, const char *b)
{
    m->cfg.secrets = calloc(2, sizeof(char *));
    m->cfg.secrets[0] = strdup(a);
    m->cfg.secrets[1] = strdup(b);
    m->cfg.nsecrets = 2;
}

static void rest_api_credentials_and_rotation(void **state)
{
    struct mock *m = *state;
    char user[64], pass[29];

    set_secrets(m, "new-secret", "old-secret");
    mock_start(m);
    snprintf(user, sizeof(user), "%lld:bob", (long long)m->now.unix_s + 3600);
    m->user = user;
    m->pass = pass;
    /* A credential made with the previous secret still works during rotation. */
    auth_rest_password("old-secret", user, pass);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    mock_addr(&m->client, "198.18.1.2:40002");
    m->nonce_len = 0;
    auth_rest_password("unknown-secret", user, pass);
    assert_int_equal(mock_allocate(m, 0, NULL), 401);
}

static void secrets_replaced_while_running(void **state)
{
    struct mock *m = *state;
    struct turn_shared *sh;
    char user[64], pass[29];
    char *rotated[] = {"next-secret"};

    set_secrets(m, "s1", "s2");
    sh = turn_shared_new(&m->cfg, &m->random);
    mock_start_shared(m, sh);
    snprintf(user, sizeof(user), "%lld:bob", (long long)m->now.unix_s + 3600);
    auth_rest_password("next-secret", user, pass);
    m->user = user;
    m->pass = pass;
    assert_int_equal(mock_allocate(m, 0, NULL), 401);
    /* What SIGHUP does after re-reading the secret file. */
    assert_int_equal(turn_shared_set_secrets(sh, rotated, 1), 0);
    assert_int_equal(mock_allocate(m, 0, NULL), 0);
    turn_server_free(m->s);
    m->s = NULL;
    turn_shared_free(sh);
}

static void rest_api_expired_username_is_401(void **state)
{
    struct mock *m = *state;
    char user[64], pass[29];

    set_secrets(m, "s1", "s2");
    mock_start(m);
    snprintf(user, sizeof(user), "%lld:bob", (long long)m->now.unix_s - 1);
    auth_rest_password("s1", user, pass);
    m->user = user;
    m->pass = pass;
    assert_int_equal(mock_allocate(m, 0, NULL), 401);
    /* A username that is not a timestamp is no REST API username. */
    m->user = "bob";
    auth_rest_password("s1", "bob", pass);
    assert_int_equal(mock_allocate(m, 0, NULL), 401);
}

static void rest_password_matches_known_value(void **state)
{
    char pass[29];
    (void)state;
    /* base64(HMAC-SHA1("secret", "1700000000:alice")), computed with openssl dgst -hmac. */
    assert_int_equal(auth_rest_password("secret", "1700000000:alice", pass), 28);
    assert_string_equal(pass, "d8soP47RbdIKLDUOpnJPVQyq5Ts=");
}

static void unauthenticated_responses_are_rate_limited(void **state)
{
    struct mock *m = *state;
    uint8_t buf[256];
    struct stun_builder b;
    size_t answered = 0;

    m->cfg.unauth_rate = 2;
    m->cfg.unauth_burst = 10;
    mock_start(m);
    for (int i = 0; i < 50; i++) {
        mock_req(m, &b, buf, sizeof(buf), STUN_BINDING);
        answered += mock_from_client(m, buf, mock_unsigned(&b));
    }
    assert_int_equal(answered, 10); /* the burst */
    assert_int_equal(turn_server_counters(m->s)->unauth_rate_limited, 40);
    assert_int_equal(turn_server_counters(m->s)->responses[TM_BINDING][turn_code_index(0)], 10);
    mock_advance(m, 1000);
    mock_req(m, &b, buf, sizeof(buf), STUN_BINDING);
    assert_int_equal(mock_from_client(m, buf, mock_unsigned(&b)), 1);
}

/* Workers share the limit: SO_REUSEPORT hands one address's source ports to different
 * workers, which together answer it no more than one would. */
static void rate_limit_is_shared_by_workers(void **state)
{
    struct mock *m = *state, *m2 = calloc(1, sizeof(*m2));
    struct turn_shared *sh;
    struct mock *w[2] = {m, m2};
    uint8_t buf[256];
    struct stun_builder b;
    size_t answered = 0;

    assert_non_null(m2);
    m->cfg.unauth_rate = 2;
    m->cfg.unauth_burst = 10;
    sh = turn_shared_new(&m->cfg, &m->random);
    assert_non_null(sh);
    mock_start_shared(m, sh);
    mock_setup(m2);
    m2->cfg.unauth_rate = 2;
    m2->cfg.unauth_burst = 10;
    mock_start_shared(m2, sh);
    for (int i = 0; i < 50; i++) {
        struct mock *t = w[i % 2];
        mock_addr(&t->client, i % 2 ? "198.18.1.2:40001" : "198.18.1.2:40002");
        mock_req(t, &b, buf, sizeof(buf), STUN_BINDING);
        answered += mock_from_client(t, buf, mock_unsigned(&b));
    }
    assert_int_equal(answered, 10); /* one burst, not one per worker */
    assert_int_equal(turn_server_counters(m->s)->unauth_rate_limited +
                         turn_server_counters(m2->s)->unauth_rate_limited,
                     40);
    mock_teardown(m2);
    free(m2);
    turn_server_free(m->s);
    m->s = NULL;
    turn_shared_free(sh);
}

/* Unsigned Bindings from client: how many were answered. */
static size_t unsigned_bindings(struct mock *m, const char *client, int n)
{
    uint8_t buf[256];
    struct stun_builder b;
    struct xt_addr a;
    size_t answered = 0;

    mock_addr(&a, client);
    for (int i = 0; i < n; i++) {
        m->nsent = 0; /* only the count matters */
        mock_req(m, &b, buf, sizeof(buf), STUN_BINDING);
        answered += mock_from_client_at(m, &a, buf, mock_unsigned(&b));
    }
    return answered;
}

/* A gateway opening allocations from one address, each from a port of its own with its own 401:
 * after its first authenticated request the address is not held to the budget, other addresses
 * still are; a minute after its last authenticated request it is held again. */
static void authenticated_address_gets_every_challenge(void **state)
{
    struct mock *m = *state;
    char client[32];

    m->cfg.unauth_rate = 2;
    m->cfg.unauth_burst = 2;
    mock_start(m);
    for (int i = 0; i < 40; i++) {
        snprintf(client, sizeof(client), "198.18.1.2:%d", 41000 + i);
        m->nsent = 0;
        assert_int_equal(mock_allocate_from(m, client, NULL), 0);
    }
    assert_int_equal(mock_open_sockets(m), 40);
    assert_int_equal(unsigned_bindings(m, "198.18.1.2:42000", 100), 100);
    assert_int_equal(unsigned_bindings(m, "198.18.1.99:42000", 10), 2);
    assert_int_equal(turn_server_counters(m->s)->unauth_rate_limited, 8);
    mock_advance(m, RATELIMIT_PROVEN_MS);
    assert_int_equal(unsigned_bindings(m, "198.18.1.2:42001", 10), 2); /* the burst, refilled */
}

/* A valid nonce with wrong credentials proves nothing: password guessing from one address stays
 * held to the budget. */
static void rejected_credentials_do_not_lift_the_limit(void **state)
{
    struct mock *m = *state;

    m->cfg.unauth_rate = 2;
    m->cfg.unauth_burst = 2;
    mock_start(m);
    m->pass = "wrong";
    assert_int_equal(mock_allocate_from(m, "198.18.1.50:40000", NULL), 401); /* both tokens */
    assert_int_equal(turn_server_counters(m->s)->auth_failures, 1);
    assert_int_equal(unsigned_bindings(m, "198.18.1.50:40001", 10), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(unauthenticated_allocate_gets_small_401, mock_test_setup,
                                        mock_test_teardown),
        cmocka_unit_test_setup_teardown(static_user_allocates_and_response_is_signed,
                                        mock_test_setup, mock_test_teardown),
        cmocka_unit_test_setup_teardown(sha256_integrity_answered_with_sha256, mock_test_setup,
                                        mock_test_teardown),
        cmocka_unit_test_setup_teardown(wrong_password_is_401_and_counted, mock_test_setup,
                                        mock_test_teardown),
        cmocka_unit_test_setup_teardown(missing_username_is_400, mock_test_setup,
                                        mock_test_teardown),
        cmocka_unit_test_setup_teardown(stale_nonce_is_438_with_a_new_nonce, mock_test_setup,
                                        mock_test_teardown),
        cmocka_unit_test_setup_teardown(nonce_is_bound_to_the_client_address, mock_test_setup,
                                        mock_test_teardown),
        cmocka_unit_test_setup_teardown(rest_api_credentials_and_rotation, mock_test_setup,
                                        mock_test_teardown),
        cmocka_unit_test_setup_teardown(rest_api_expired_username_is_401, mock_test_setup,
                                        mock_test_teardown),
        cmocka_unit_test(rest_password_matches_known_value),
        cmocka_unit_test_setup_teardown(secrets_replaced_while_running, mock_test_setup,
                                        mock_test_teardown),
        cmocka_unit_test_setup_teardown(unauthenticated_responses_are_rate_limited, mock_test_setup,
                                        mock_test_teardown),
        cmocka_unit_test_setup_teardown(rate_limit_is_shared_by_workers, mock_test_setup,
                                        mock_test_teardown),
        cmocka_unit_test_setup_teardown(authenticated_address_gets_every_challenge, mock_test_setup,
                                        mock_test_teardown),
        cmocka_unit_test_setup_teardown(rejected_credentials_do_not_lift_the_limit, mock_test_setup,
                                        mock_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
