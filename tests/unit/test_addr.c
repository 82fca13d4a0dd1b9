/* xt_addr parsing, formatting and comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <string.h>

#include "common/addr.h"

static void expect_parse(const char *s, uint16_t default_port, int family, const char *ip,
                         uint16_t port)
{
    struct xt_addr a;
    char buf[XT_ADDR_STRLEN];
    assert_int_equal(xt_addr_parse(s, default_port, &a), 0);
    assert_int_equal(a.family, family);
    assert_int_equal(a.port, port);
    assert_string_equal(xt_addr_ip_str(&a, buf), ip);
}

static void test_parse_ipv4(void **state)
{
    (void)state;
    expect_parse("192.0.2.1", 3478, AF_INET, "192.0.2.1", 3478);
    expect_parse("192.0.2.1:5349", 3478, AF_INET, "192.0.2.1", 5349);
    expect_parse("0.0.0.0:1", 3478, AF_INET, "0.0.0.0", 1);
    expect_parse("255.255.255.255:65535", 0, AF_INET, "255.255.255.255", 65535);
}

static void test_parse_ipv6(void **state)
{
    (void)state;
    expect_parse("::1", 3478, AF_INET6, "::1", 3478);
    expect_parse("2001:db8::5", 7, AF_INET6, "2001:db8::5", 7);
    expect_parse("[2001:db8::5]", 3478, AF_INET6, "2001:db8::5", 3478);
    expect_parse("[2001:db8::5]:5349", 3478, AF_INET6, "2001:db8::5", 5349);
    expect_parse("[::ffff:192.0.2.1]:9", 3478, AF_INET6, "::ffff:192.0.2.1", 9);
}

static void test_parse_bad(void **state)
{
    static const char *const bad[] = {
        "",
        ":3478",
        "192.0.2.1:",
        "192.0.2.1:0",
        "192.0.2.1:65536",
        "192.0.2.1:-1",
        "192.0.2.1:12x",
        "192.0.2.256",
        "192.0.2",
        "host.example:3478",
        "[2001:db8::5",
        "[2001:db8::5]x",
        "[2001:db8::5]:",
        "[]:3478",
        "[192.0.2.1:3478",
        "2001:db8::5:",
        "::1]:5",
        " 192.0.2.1",
        "[2001:db8:0000:0000:0000:0000:0000:0000:0000:0001]:1",
    };
    struct xt_addr a;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (xt_addr_parse(bad[i], 3478, &a) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
}

static void test_parse_ip_bare_only(void **state)
{
    struct xt_addr a;
    (void)state;
    assert_int_equal(xt_addr_parse_ip("198.51.100.7", &a), 0);
    assert_int_equal(a.family, AF_INET);
    assert_int_equal(a.port, 0);
    assert_int_equal(xt_addr_parse_ip("fe80::1", &a), 0);
    assert_int_equal(a.family, AF_INET6);
    assert_int_equal(xt_addr_parse_ip("198.51.100.7:1", &a), -1);
    assert_int_equal(xt_addr_parse_ip("[::1]", &a), -1);
    assert_int_equal(xt_addr_parse_ip("", &a), -1);
}

static void test_format_round_trip(void **state)
{
    static const char *const addrs[] = {
        "192.0.2.1:3478",           "10.0.0.255:1",      "[2001:db8::1]:65535", "[::1]:3478",
        "[::ffff:192.0.2.9]:40000", "[fe80::1:2:3:4]:5",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        struct xt_addr a, b;
        char buf[XT_ADDR_STRLEN];
        assert_int_equal(xt_addr_parse(addrs[i], 1, &a), 0);
        assert_string_equal(xt_addr_str(&a, buf), addrs[i]);
        assert_int_equal(xt_addr_parse(buf, 1, &b), 0);
        assert_true(xt_addr_equal(&a, &b));
    }
}

static void test_ipv4_is_zero_padded(void **state)
{
    struct xt_addr a, b;
    (void)state;
    memset(&a, 0xaa, sizeof(a));
    assert_int_equal(xt_addr_parse("192.0.2.1:5", 0, &a), 0);
    for (size_t i = 4; i < 16; i++)
        assert_int_equal(a.ip[i], 0);
    xt_addr_v4(&b, (const uint8_t[]){192, 0, 2, 1}, 5);
    assert_memory_equal(&a, &b, sizeof(a));
}

static void test_equality_and_hash(void **state)
{
    struct xt_addr a, b, c;
    (void)state;
    assert_int_equal(xt_addr_parse("192.0.2.1:5", 0, &a), 0);
    assert_int_equal(xt_addr_parse("192.0.2.1:6", 0, &b), 0);
    assert_int_equal(xt_addr_parse("[::ffff:192.0.2.1]:5", 0, &c), 0);
    assert_false(xt_addr_equal(&a, &b));
    assert_true(xt_addr_ip_equal(&a, &b));
    assert_false(xt_addr_ip_equal(&a, &c)); /* different families */
    assert_int_equal(xt_addr_ip_hash(&a, 7), xt_addr_ip_hash(&b, 7));
    assert_int_equal(xt_addr_hash(&a, 7), xt_addr_hash(&a, 7));
    assert_int_not_equal(xt_addr_hash(&a, 7), xt_addr_hash(&b, 7));
}

static void test_sockaddr_round_trip(void **state)
{
    static const char *const addrs[] = {"192.0.2.1:3478", "[2001:db8::1]:443"};
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        struct xt_addr a, b;
        struct sockaddr_storage ss;
        assert_int_equal(xt_addr_parse(addrs[i], 1, &a), 0);
        socklen_t len = xt_addr_to_sockaddr(&a, &ss);
        assert_int_equal(xt_addr_from_sockaddr((struct sockaddr *)&ss, len, &b), 0);
        assert_true(xt_addr_equal(&a, &b));
        assert_int_equal(xt_addr_from_sockaddr((struct sockaddr *)&ss, len - 1, &b), -1);
    }
}

static void test_is_any(void **state)
{
    struct xt_addr a;
    (void)state;
    assert_int_equal(xt_addr_parse("0.0.0.0", 1, &a), 0);
    assert_true(xt_addr_is_any(&a));
    assert_int_equal(xt_addr_parse("[::]:1", 1, &a), 0);
    assert_true(xt_addr_is_any(&a));
    assert_int_equal(xt_addr_parse("0.0.0.1", 1, &a), 0);
    assert_false(xt_addr_is_any(&a));
    assert_int_equal(xt_addr_parse("::1", 1, &a), 0);
    assert_false(xt_addr_is_any(&a));
}

/* Per-family arrays in every layer are indexed IPv4 0, IPv6 1. */
static void test_family_index(void **state)
{
    struct xt_addr a;
    (void)state;
    assert_int_equal(xt_addr_parse("198.18.0.1", 1, &a), 0);
    assert_int_equal(xt_family_index(a.family), 0);
    assert_int_equal(xt_addr_parse("2001:db8::1", 1, &a), 0);
    assert_int_equal(xt_family_index(a.family), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ipv4),
        cmocka_unit_test(test_parse_ipv6),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_parse_ip_bare_only),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_ipv4_is_zero_padded),
        cmocka_unit_test(test_equality_and_hash),
        cmocka_unit_test(test_sockaddr_round_trip),
        cmocka_unit_test(test_is_any),
        cmocka_unit_test(test_family_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
