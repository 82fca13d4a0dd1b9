/* Peer policy: CIDR parsing, the default deny list with embedded IPv4 forms, operator allow and
 * deny lists, and the relay's own addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "turn/peer_policy.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct peer_policy empty = {0};
/* The host's addresses that expect_all passes (NULL: none). */
static const struct addr_set *host;

static struct xt_addr addr(const char *s)
{
    struct xt_addr a;
    if (xt_addr_parse(s, 80, &a) != 0)
        fail_msg("bad test address \"%s\"", s);
    return a;
}

static struct cidr cidr(const char *s)
{
    struct cidr c;
    if (cidr_parse(s, &c) != 0)
        fail_msg("bad test CIDR \"%s\"", s);
    return c;
}

static void expect_all(const struct peer_policy *p, const char *const *addrs, size_t n,
                       enum peer_verdict want)
{
    for (size_t i = 0; i < n; i++) {
        struct xt_addr a = addr(addrs[i]);
        enum peer_verdict got = peer_policy_check(p, host, &a);
        if (got != want)
            fail_msg("%s: verdict %d, want %d", addrs[i], got, want);
    }
}

static void test_cidr_parse_good(void **state)
{
    struct cidr c;
    char buf[XT_ADDR_STRLEN];
    (void)state;
    c = cidr("10.0.0.0/8");
    assert_int_equal(c.net.family, AF_INET);
    assert_int_equal(c.prefix, 8);
    c = cidr("10.1.2.3/8"); /* host bits are masked off */
    assert_string_equal(xt_addr_ip_str(&c.net, buf), "10.0.0.0");
    c = cidr("172.31.255.255/12");
    assert_string_equal(xt_addr_ip_str(&c.net, buf), "172.16.0.0");
    c = cidr("2001:db8:ffff::1/32");
    assert_string_equal(xt_addr_ip_str(&c.net, buf), "2001:db8::");
    assert_int_equal(c.prefix, 32);
    c = cidr("fe80::/10");
    assert_int_equal(c.net.ip[1], 0x80);
    c = cidr("192.0.2.1");
    assert_int_equal(c.prefix, 32);
    c = cidr("::1");
    assert_int_equal(c.net.family, AF_INET6);
    assert_int_equal(c.prefix, 128);
    c = cidr("0.0.0.0/0");
    assert_int_equal(c.prefix, 0);
    c = cidr("::/0");
    assert_int_equal(c.prefix, 0);
    c = cidr("2001:db8::1/128");
    assert_int_equal(c.net.ip[15], 1);
}

static void test_cidr_parse_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "/8",
        "10.0.0.0/",
        "10.0.0.0/33",
        "::/129",
        "10.0.0.0/-1",
        "10.0.0.0/+8",
        "10.0.0.0/ 8",
        "10.0.0.0/8x",
        "10.0.0.0/8/9",
        "10.0.0/8",
        "garbage",
        "[::1]/128",
        "10.0.0.0:80/8",
        "10.0.0.0/1000",
        "::1/12 ",
        "example.com/24",
    };
    struct cidr c;
    (void)state;
    for (size_t i = 0; i < N(bad); i++)
        if (cidr_parse(bad[i], &c) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
}

static void test_cidr_contains(void **state)
{
    struct cidr c = cidr("172.16.0.0/12");
    struct xt_addr in = addr("172.31.255.255"), below = addr("172.15.255.255"),
                   above = addr("172.32.0.0"), v6 = addr("::ffff:172.16.0.1");
    (void)state;
    assert_true(cidr_contains(&c, &in));
    assert_false(cidr_contains(&c, &below));
    assert_false(cidr_contains(&c, &above));
    assert_false(cidr_contains(&c, &v6)); /* families never mix here */
    c = cidr("0.0.0.0/0");
    assert_true(cidr_contains(&c, &in));
    assert_false(cidr_contains(&c, &v6));
    c = cidr("2001:db8::/33");
    in = addr("2001:db8:7fff::1");
    above = addr("2001:db8:8000::");
    assert_true(cidr_contains(&c, &in));
    assert_false(cidr_contains(&c, &above));
}

/* First and last address of every default-denied IPv4 range. */
static const char *const denied_v4[] = {
    "0.0.0.0",         "0.255.255.255",  "10.0.0.0",        "10.255.255.255",  "100.64.0.0",
    "100.127.255.255", "127.0.0.1",      "127.255.255.255", "169.254.0.0",     "169.254.255.255",
    "172.16.0.0",      "172.31.255.255", "192.168.0.0",     "192.168.255.255", "224.0.0.1",
    "239.255.255.255", "240.0.0.0",      "255.255.255.255", "168.63.129.16", /* Azure */
};

static void test_default_deny_ipv4(void **state)
{
    static const char *const allowed[] = {
        "1.0.0.0",     "9.255.255.255",   "11.0.0.0",      "100.63.255.255",
        "100.128.0.0", "126.255.255.255", "128.0.0.0",     "169.253.255.255",
        "169.255.0.0", "172.15.255.255",  "172.32.0.0",    "192.167.255.255",
        "192.169.0.0", "223.255.255.255", "198.18.0.1",    "198.19.255.255",
        "192.0.2.1",   "8.8.8.8",         "168.63.129.15", "168.63.129.17",
    };
    (void)state;
    expect_all(&empty, denied_v4, N(denied_v4), PEER_DENIED);
    expect_all(&empty, allowed, N(allowed), PEER_ALLOWED);
}

static void test_default_deny_ipv6(void **state)
{
    static const char *const denied[] = {
        "::",      "::1",          "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "fe80::1", "febf::1",      "ff00::", "ff02::1",
        "ff0e::1", "fd12:3456::1",
    };
    static const char *const allowed[] = {
        "2001:db8::1", "2001:db8:ffff::1", "2606:4700::1111",  "fec0::1",
        "fbff::1",     "::2:0:0:0:1",      "64:ff9b::8.8.8.8", "2001:1::1",
    };
    (void)state;
    expect_all(&empty, denied, N(denied), PEER_DENIED);
    expect_all(&empty, allowed, N(allowed), PEER_ALLOWED);
}

static void test_embedded_ipv4_forms(void **state)
{
    static const char *const denied[] = {
        /* IPv4-mapped */
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:255.255.255.255",
        "::ffff:0.0.0.0",
        /* IPv4-compatible */
        "::10.0.0.1",
        "::127.0.0.1",
        "::192.168.1.1",
        "::224.0.0.1",
        "::0.0.0.2",
        /* 6to4: IPv4 in bytes 2..5 */
        "2002:a00:1::",
        "2002:7f00:1::1",
        "2002:c0a8:101:1::1",
        "2002:a9fe:a9fe::",
        /* Teredo client (bytes 12..15 inverted): 10.0.0.1 -> f5ff:fffe, 127.0.0.1 -> 80ff:fffe */
        "2001:0:808:808::f5ff:fffe",
        "2001:0:808:808:8000:ffff:80ff:fffe",
        /* Teredo server (bytes 4..7): 192.168.0.1 with client 8.8.8.8 */
        "2001:0:c0a8:1::f7f7:f7f7",
    };
    static const char *const allowed[] = {
        "::ffff:8.8.8.8", "::ffff:198.18.0.1",         "::8.8.8.8",       "2002:808:808::1",
        "2002:c612:1::1", "2001:0:808:808::f7f7:f7f7", "2001:db8::a00:1", "::1:ffff:10.0.0.1",
    };
    (void)state;
    expect_all(&empty, denied, N(denied), PEER_DENIED);
    expect_all(&empty, allowed, N(allowed), PEER_ALLOWED);
}

static void test_allow_overrides_default(void **state)
{
    struct cidr allow[] = {cidr("10.0.0.0/8"), cidr("fd00::/8"), cidr("127.0.0.1")};
    struct peer_policy p = empty;
    static const char *const allowed[] = {"10.1.2.3", "::ffff:10.1.2.3", "2002:a01:203::1",
                                          "fd00::1",  "127.0.0.1",       "::127.0.0.1"};
    static const char *const denied[] = {"192.168.1.1", "fc00::1", "127.0.0.2", "::1",
                                         "::ffff:192.168.1.1"};
    (void)state;
    p.allow = allow;
    p.nallow = N(allow);
    expect_all(&p, allowed, N(allowed), PEER_ALLOWED);
    expect_all(&p, denied, N(denied), PEER_DENIED);
}

/* :: and ::1 are not IPv4-compatible forms of 0.0.0.0 and 0.0.0.1: allowing 0/8 keeps them out. */
static void test_v6_unspecified_loopback_not_embedded(void **state)
{
    struct cidr allow[] = {cidr("0.0.0.0/8")};
    struct peer_policy p = empty;
    (void)state;
    p.allow = allow;
    p.nallow = N(allow);
    expect_all(&p, (const char *const[]){"::", "::1"}, 2, PEER_DENIED);
    expect_all(&p, (const char *const[]){"0.0.0.1", "::0.0.0.2", "::ffff:0.0.0.1"}, 3,
               PEER_ALLOWED);
}

static void test_deny_overrides_allow(void **state)
{
    struct cidr allow[] = {cidr("10.0.0.0/8"), cidr("2001:db8::/32")};
    struct cidr deny[] = {cidr("10.1.0.0/16"), cidr("198.18.0.0/15"), cidr("2001:db8:bad::/48")};
    struct peer_policy p = empty;
    static const char *const allowed[] = {"10.2.0.1", "2001:db8::1", "198.20.0.1"};
    static const char *const denied[] = {
        "10.1.2.3",
        "::ffff:10.1.2.3",
        "198.18.0.1",
        "::ffff:198.19.0.1",
        "::198.18.0.1",
        "2002:c612:1::1",
        "2001:0:808:808::39ed:fffe", /* client 198.18.0.1 */
        "2001:db8:bad::1",
    };
    (void)state;
    p.allow = allow;
    p.nallow = N(allow);
    p.deny = deny;
    p.ndeny = N(deny);
    expect_all(&p, allowed, N(allowed), PEER_ALLOWED);
    expect_all(&p, denied, N(denied), PEER_DENIED);
}

/* The relay's own addresses are PEER_SELF on every port: whether a relayed address is there is
 * the TURN core's to judge (turn_self.c). */
static void test_self_on_every_port(void **state)
{
    struct xt_addr self[] = {addr("198.18.0.10:3478"), addr("[2001:db8::10]:3478"),
                             addr("127.0.0.1:3478")};
    struct peer_policy p = empty;
    static const char *const ports[] = {
        "198.18.0.10:49152", "198.18.0.10:65535", "[2001:db8::10]:50000", "127.0.0.1:50000",
        "198.18.0.10:3478",  "198.18.0.10:22",    "[2001:db8::10]:3478",  "127.0.0.1:80"};
    (void)state;
    p.self = self;
    p.nself = N(self);
    expect_all(&p, ports, N(ports), PEER_SELF);
}

static void test_self_in_embedded_forms(void **state)
{
    struct xt_addr self[] = {addr("198.18.0.10:3478")};
    struct peer_policy p = empty;
    static const char *const forms[] = {
        "[::ffff:198.18.0.10]:3478",        "[::198.18.0.10]:50000", "[2002:c612:a::1]:3478",
        "[2001:0:c612:a::f7f7:f7f7]:3478",  /* Teredo server */
        "[2001:0:808:808::39ed:fff5]:3478", /* Teredo client */
    };
    (void)state;
    p.self = self;
    p.nself = N(self);
    expect_all(&p, forms, N(forms), PEER_SELF);
    for (size_t i = 0; i < N(forms); i++) {
        struct xt_addr a = addr(forms[i]);
        assert_true(peer_policy_is_self(&p, NULL, &a));
    }
    struct xt_addr other = addr("198.18.0.11");
    assert_false(peer_policy_is_self(&p, NULL, &other));
}

/* Every address of the host is self, not only the configured ones: a second address on the
 * interface, a SLAAC one, a management one, loopback (issue 10, finding 1). */
static void test_host_addresses_are_self(void **state)
{
    struct xt_addr self[] = {addr("198.18.3.2:3478")};
    struct xt_addr on_host[] = {addr("198.18.3.77"), addr("[2001:db8:3::abcd]"), addr("10.0.0.5"),
                                addr("198.18.3.77")};
    struct addr_set set;
    struct peer_policy p = empty;
    static const char *const host_peers[] = {
        "198.18.3.77:9999",          "198.18.3.77:50000", "[2001:db8:3::abcd]:9999",
        "[::ffff:198.18.3.77]:9999", "10.0.0.5:22",
    };
    static const char *const others[] = {"198.18.3.78:9999", "[2001:db8:3::abce]:9999"};
    (void)state;
    p.self = self;
    p.nself = N(self);
    assert_int_equal(addr_set_init(&set, on_host, N(on_host)), 0);
    assert_int_equal(set.n, 3); /* duplicates merged */
    host = &set;
    expect_all(&p, host_peers, N(host_peers), PEER_SELF);
    expect_all(&p, others, N(others), PEER_ALLOWED);
    host = NULL;
    /* without the host's set, the second address is just a peer */
    expect_all(&p, (const char *const[]){"198.18.3.77:9999"}, 1, PEER_ALLOWED);
    addr_set_free(&set);
    assert_int_equal(addr_set_init(&set, NULL, 0), 0);
    struct xt_addr a = addr("198.18.3.77");
    assert_false(addr_set_contains(&set, &a));
}

static void test_deny_beats_self(void **state)
{
    struct xt_addr self[] = {addr("198.18.0.10:3478")};
    struct cidr deny[] = {cidr("198.18.0.10")};
    struct peer_policy p = empty;
    (void)state;
    p.self = self;
    p.nself = N(self);
    p.deny = deny;
    p.ndeny = N(deny);
    expect_all(&p, (const char *const[]){"198.18.0.10:50000", "[::ffff:198.18.0.10]:50000"}, 2,
               PEER_DENIED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_parse_good),
        cmocka_unit_test(test_cidr_parse_bad),
        cmocka_unit_test(test_cidr_contains),
        cmocka_unit_test(test_default_deny_ipv4),
        cmocka_unit_test(test_default_deny_ipv6),
        cmocka_unit_test(test_embedded_ipv4_forms),
        cmocka_unit_test(test_allow_overrides_default),
        cmocka_unit_test(test_v6_unspecified_loopback_not_embedded),
        cmocka_unit_test(test_deny_overrides_allow),
        cmocka_unit_test(test_self_on_every_port),
        cmocka_unit_test(test_self_in_embedded_forms),
        cmocka_unit_test(test_host_addresses_are_self),
        cmocka_unit_test(test_deny_beats_self),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
