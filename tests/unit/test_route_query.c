/* The next-hop queries over rtnetlink (src/net/route_query.c) in a private network namespace
 * with forwarding off (a new namespace's default): routes through a gateway, on link, with an
 * MTU, chosen by the source address, IPv4 through an IPv6 gateway; a neighbour that is missing
 * (solicited, or not without CAP_NET_ADMIN), and one that only the solicitation resolves (a
 * host in a second namespace that nothing else sends to); routes XDP cannot send by. Root
 * only. */
#include <arpa/inet.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/route_query.h"

static const uint8_t mac_self[6] = {2, 0, 0, 0, 0, 0x11};
static const uint8_t mac_gw[6] = {2, 0, 0, 0, 1, 0xfe};
static const uint8_t mac_gw2[6] = {2, 0, 0, 0, 1, 0xfd};
static const uint8_t mac_onlink[6] = {2, 0, 0, 0, 1, 0x07};
static const uint8_t mac_far[6] = {2, 0, 0, 0, 0, 0x60}; /* xtq1, in the second namespace */
static char far_ns[32];

/* NS: the second namespace's name. */
static const char *const setup[] = {
    /* no DAD: a neighbour solicitation of the kernel's own goes out from the link-local
     * address, which is not used while tentative */
    "sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0",
    "ip link set lo up",
    "ip link add xtq0 address 02:00:00:00:00:11 type veth peer name xtq1 address "
    "02:00:00:00:00:60",
    "ip netns add NS",
    "ip link set xtq1 netns NS",
    "ip -n NS link set xtq1 up",
    "ip -n NS addr add 198.18.0.60/24 dev xtq1",
    "ip -n NS -6 addr add 2001:db8::60/64 dev xtq1 nodad",
    "ip link set xtq0 up",
    "ip addr add 198.18.0.1/24 dev xtq0",
    "ip addr add 198.18.0.9/24 dev xtq0",
    "ip -6 addr add 2001:db8::1/64 dev xtq0 nodad",
    "ip neigh add 198.18.0.254 lladdr 02:00:00:00:01:fe dev xtq0 nud permanent",
    "ip neigh add 198.18.0.253 lladdr 02:00:00:00:01:fd dev xtq0 nud permanent",
    "ip neigh add 198.18.0.7 lladdr 02:00:00:00:01:07 dev xtq0 nud permanent",
    "ip -6 neigh add 2001:db8::fe lladdr 02:00:00:00:01:fe dev xtq0 nud permanent",
    "ip route add 198.18.10.0/24 via 198.18.0.254",
    "ip route add 198.18.11.0/24 via 198.18.0.254 mtu 1400",
    "ip route add 198.18.12.0/24 via inet6 2001:db8::fe dev xtq0",
    "ip route add 198.18.13.0/24 via 198.18.0.250",
    "ip route add 198.18.14.0/24 via 198.18.0.251",
    "ip route add blackhole 198.18.15.0/24",
    "ip route add unreachable 198.18.16.0/24",
    "ip -6 route add 2001:db8:10::/48 via 2001:db8::fe",
    "ip route add 198.18.17.0/24 via 198.18.0.60",
    "ip -6 route add 2001:db8:17::/48 via 2001:db8::60",
    /* by source: from 198.18.0.9 the gateway is .253 */
    "ip rule add from 198.18.0.9 table 100",
    "ip route add 198.18.10.0/24 via 198.18.0.253 table 100",
};

static struct route_query q;
static uint32_t ifindex_xtq0;

/* The command with NS replaced by the second namespace's name. */
static int run(const char *cmd)
{
    char buf[256], *at;

    snprintf(buf, sizeof(buf), "%s", cmd);
    at = strstr(buf, "NS");
    if (at) {
        char rest[256];

        snprintf(rest, sizeof(rest), "%s", at + 2);
        snprintf(at, sizeof(buf) - (size_t)(at - buf), "%s%s", far_ns, rest);
    }
    return system(buf);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(far_ns, sizeof(far_ns), "xtq%d", (int)getpid());
    if (unshare(CLONE_NEWNET) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
        if (run(setup[i]) != 0) {
            print_error("setup failed: %s\n", setup[i]);
            return -1;
        }
    ifindex_xtq0 = if_nametoindex("xtq0");
    return ifindex_xtq0 && route_query_open(&q) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    route_query_close(&q);
    run("ip netns del NS 2>/dev/null");
    return 0;
}

static struct xt_addr addr(const char *ip, uint16_t port)
{
    struct xt_addr a;

    assert_int_equal(xt_addr_parse_ip(ip, &a), 0);
    a.port = port;
    return a;
}

static int hop_of(const char *src, const char *dst, struct route_hop *hop)
{
    struct xt_addr s = addr(src, 50000), d = addr(dst, 5000);

    return route_query_hop(&q, &s, &d, 0, hop);
}

static void expect_hop(const char *src, const char *dst, const uint8_t dmac[6], uint32_t mtu)
{
    struct route_hop hop;

    assert_int_equal(hop_of(src, dst, &hop), ROUTE_HOP_OK);
    assert_int_equal(hop.ifindex, ifindex_xtq0);
    assert_memory_equal(hop.dmac, dmac, 6);
    assert_memory_equal(hop.smac, mac_self, 6);
    assert_int_equal(hop.mtu, mtu);
}

static void test_gateway_and_on_link(void **state)
{
    (void)state;
    expect_hop("198.18.0.1", "198.18.10.5", mac_gw, 1500);
    expect_hop("198.18.0.1", "198.18.0.7", mac_onlink, 1500);
    expect_hop("2001:db8::1", "2001:db8:10::5", mac_gw, 1500);
}

/* The route's MTU, else the interface's; for IPv6 the interface's IPv6 MTU. Interfaces are
 * remembered until forgotten. */
static void test_mtu(void **state)
{
    (void)state;
    expect_hop("198.18.0.1", "198.18.11.5", mac_gw, 1400);
    assert_int_equal(system("sysctl -q -w net.ipv6.conf.xtq0.mtu=1380"), 0);
    expect_hop("2001:db8::1", "2001:db8:10::5", mac_gw, 1500);
    route_query_forget(&q);
    expect_hop("2001:db8::1", "2001:db8:10::5", mac_gw, 1380);
    expect_hop("198.18.0.1", "198.18.10.5", mac_gw, 1500);
    assert_int_equal(system("sysctl -q -w net.ipv6.conf.xtq0.mtu=1500"), 0);
    route_query_forget(&q);
}

/* The lookup is the one a socket bound to the source makes: rules by source apply. */
static void test_by_source(void **state)
{
    (void)state;
    expect_hop("198.18.0.9", "198.18.10.5", mac_gw2, 1500);
    expect_hop("198.18.0.1", "198.18.10.5", mac_gw, 1500);
}

/* An IPv4 route through an IPv6 gateway (RTA_VIA): its IPv6 neighbour. */
static void test_ipv4_via_ipv6(void **state)
{
    (void)state;
    expect_hop("198.18.0.1", "198.18.12.5", mac_gw, 1500);
}

/* A missing neighbour: not resolved yet, and solicited (the kernel now has an entry for it). */
static void test_missing_neighbour_solicited(void **state)
{
    struct route_hop hop;

    (void)state;
    assert_int_not_equal(system("ip neigh get 198.18.0.250 dev xtq0 >/dev/null 2>&1"), 0);
    assert_int_equal(hop_of("198.18.0.1", "198.18.13.5", &hop), ROUTE_HOP_NO_NEIGH);
    assert_int_equal(system("ip neigh get 198.18.0.250 dev xtq0 >/dev/null 2>&1"), 0);
    /* still unanswered (nobody has that address) */
    assert_int_equal(hop_of("198.18.0.1", "198.18.13.5", &hop), ROUTE_HOP_NO_NEIGH);
    assert_false(q.cannot_solicit);
}

/* A neighbour nothing else resolves: the solicitation does, and the next query has it. */
static void test_solicitation_resolves(void **state)
{
    static const char *const dsts[] = {"198.18.17.5", "2001:db8:17::5"};
    static const char *const srcs[] = {"198.18.0.1", "2001:db8::1"};

    (void)state;
    for (int i = 0; i < 2; i++) {
        struct route_hop hop;
        int rc, tries = 0;

        assert_int_equal(hop_of(srcs[i], dsts[i], &hop), ROUTE_HOP_NO_NEIGH);
        while ((rc = hop_of(srcs[i], dsts[i], &hop)) == ROUTE_HOP_NO_NEIGH && ++tries < 100)
            usleep(10000);
        assert_int_equal(rc, ROUTE_HOP_OK);
        assert_memory_equal(hop.dmac, mac_far, 6);
        print_message("%s resolved after %d ms\n", dsts[i], tries * 10);
    }
}

/* Without CAP_NET_ADMIN the solicitation is refused: not resolved yet all the same, and not
 * tried again. */
static void test_missing_neighbour_unprivileged(void **state)
{
    cap_t caps = cap_get_proc(), less = cap_dup(caps);
    const cap_value_t admin = CAP_NET_ADMIN;
    struct route_hop hop;

    (void)state;
    assert_non_null(caps);
    assert_int_equal(cap_set_flag(less, CAP_EFFECTIVE, 1, &admin, CAP_CLEAR), 0);
    assert_int_equal(cap_set_proc(less), 0);
    assert_int_equal(hop_of("198.18.0.1", "198.18.14.5", &hop), ROUTE_HOP_NO_NEIGH);
    assert_true(q.cannot_solicit);
    assert_int_equal(cap_set_proc(caps), 0);
    assert_int_not_equal(system("ip neigh get 198.18.0.251 dev xtq0 >/dev/null 2>&1"), 0);
    assert_int_equal(hop_of("198.18.0.1", "198.18.14.5", &hop), ROUTE_HOP_NO_NEIGH);
    assert_int_not_equal(system("ip neigh get 198.18.0.251 dev xtq0 >/dev/null 2>&1"), 0);
    q.cannot_solicit = false;
    cap_free(less);
    cap_free(caps);
}

/* Nothing XDP can send by: each says why. */
static void test_unusable(void **state)
{
    static const char *const dsts[] = {"198.18.15.5", "198.18.16.5", "198.19.0.5", "198.18.0.9",
                                       "198.18.0.1"};
    struct route_hop hop;

    (void)state;
    for (size_t i = 0; i < sizeof(dsts) / sizeof(dsts[0]); i++) {
        assert_int_equal(hop_of("198.18.0.1", dsts[i], &hop), ROUTE_HOP_UNUSABLE);
        assert_non_null(hop.why);
        print_message("%s: %s\n", dsts[i], hop.why);
    }
    assert_int_equal(hop_of("2001:db8::1", "2001:db8:99::1", &hop), ROUTE_HOP_UNUSABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gateway_and_on_link),
        cmocka_unit_test(test_mtu),
        cmocka_unit_test(test_by_source),
        cmocka_unit_test(test_ipv4_via_ipv6),
        cmocka_unit_test(test_missing_neighbour_solicited),
        cmocka_unit_test(test_solicitation_resolves),
        cmocka_unit_test(test_missing_neighbour_unprivileged),
        cmocka_unit_test(test_unusable),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
