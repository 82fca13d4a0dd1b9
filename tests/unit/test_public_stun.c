/* --public-ipv4 stun:...: which datagrams answer our Binding request, and what they tell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <string.h>

#include "app/public_stun.h"
#include "stun/stun.h"

static const uint8_t tid[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static uint8_t buf[512];
static char err[256];

/* A Binding response of class cls with transaction id t and, if a is not NULL, attribute type
 * holding a; its length. */
static size_t response(uint8_t cls, const uint8_t *t, uint16_t type, const char *a)
{
    struct stun_builder b;
    struct xt_addr addr;
    int n;

    stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, cls, t);
    if (a) {
        assert_int_equal(xt_addr_parse(a, 0, &addr), 0);
        if (type == STUN_ATTR_XOR_MAPPED_ADDRESS)
            stun_add_xor_addr(&b, type, &addr);
        else
            stun_add_addr(&b, type, &addr);
    }
    if (cls == STUN_ERROR)
        stun_add_error(&b, 400);
    stun_add_fingerprint(&b);
    n = stun_finish(&b);
    assert_true(n > 0);
    return (size_t)n;
}

static int answer(size_t len, int family, struct xt_addr *out)
{
    err[0] = '\0';
    return public_stun_answer(buf, len, tid, family, out, err, sizeof(err));
}

static void test_mapped_address(void **state)
{
    struct xt_addr out, want;
    (void)state;
    assert_int_equal(
        answer(response(STUN_SUCCESS, tid, STUN_ATTR_XOR_MAPPED_ADDRESS, "203.0.113.7:4000"),
               AF_INET, &out),
        0);
    assert_int_equal(xt_addr_parse("203.0.113.7:4000", 0, &want), 0);
    assert_true(xt_addr_equal(&out, &want));
    assert_int_equal(
        answer(response(STUN_SUCCESS, tid, STUN_ATTR_XOR_MAPPED_ADDRESS, "[2001:db8::7]:9"),
               AF_INET6, &out),
        0);
    assert_int_equal(xt_addr_parse("[2001:db8::7]:9", 0, &want), 0);
    assert_true(xt_addr_equal(&out, &want));
    /* RFC 3489 servers answer with MAPPED-ADDRESS only */
    assert_int_equal(answer(response(STUN_SUCCESS, tid, STUN_ATTR_MAPPED_ADDRESS, "198.51.100.1:1"),
                            AF_INET, &out),
                     0);
    assert_int_equal(xt_addr_parse("198.51.100.1:1", 0, &want), 0);
    assert_true(xt_addr_equal(&out, &want));
}

/* Not our answer: waited past, not an error. */
static void test_ignored(void **state)
{
    static const uint8_t other[STUN_TID_LEN] = {9};
    struct xt_addr out;
    (void)state;
    assert_int_equal(
        answer(response(STUN_SUCCESS, other, STUN_ATTR_XOR_MAPPED_ADDRESS, "203.0.113.7:4000"),
               AF_INET, &out),
        1);
    memset(buf, 0xAB, 40);
    assert_int_equal(answer(40, AF_INET, &out), 1);
    assert_int_equal(answer(0, AF_INET, &out), 1);
    assert_int_equal(answer(response(STUN_REQUEST, tid, 0, NULL), AF_INET, &out), 1);
}

static void test_refused(void **state)
{
    struct xt_addr out;
    (void)state;
    assert_int_equal(answer(response(STUN_ERROR, tid, 0, NULL), AF_INET, &out), -1);
    assert_string_equal(err, "error response 400 Bad Request");
    assert_int_equal(answer(response(STUN_SUCCESS, tid, 0, NULL), AF_INET, &out), -1);
    assert_string_equal(err, "success response without XOR-MAPPED-ADDRESS");
    assert_int_equal(
        answer(response(STUN_SUCCESS, tid, STUN_ATTR_XOR_MAPPED_ADDRESS, "[2001:db8::7]:9"),
               AF_INET, &out),
        -1);
    assert_string_equal(err, "mapped address [2001:db8::7]:9 is not a usable IPv4 address");
    assert_int_equal(answer(response(STUN_SUCCESS, tid, STUN_ATTR_XOR_MAPPED_ADDRESS, "0.0.0.0:9"),
                            AF_INET, &out),
                     -1);
    assert_string_equal(err, "mapped address 0.0.0.0:9 is not a usable IPv4 address");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mapped_address),
        cmocka_unit_test(test_ignored),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
