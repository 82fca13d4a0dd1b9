/* The rtnetlink watcher (src/net/route_watch.c) and the host's addresses
 * (src/net/host_addrs.c), in a private network namespace with a veth interface (root). */
#include <sched.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/host_addrs.h"
#include "net/route_watch.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int in_own_netns(void **state)
{
    (void)state;
    if (unshare(CLONE_NEWNET) != 0)
        return -1;
    /* No DAD: a link-local address finishing it later is an address event in the middle of
     * another change's (seen on a loaded machine). */
    return system("sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 && "
                  "ip link set lo up && ip link add xtw0 type veth peer name xtw1 && ip link set "
                  "xtw0 up && ip link set xtw1 up && "
                  "ip addr add 198.18.0.1/24 dev xtw0 && "
                  "ip -6 addr add 2001:db8::1/64 dev xtw0 nodad") == 0
               ? 0
               : -1;
}

/* Each kind of change is heard as it is made, and address changes are told apart. */
static void test_changes_heard(void **state)
{
    static const struct {
        const char *cmd;
        int want;
    } changes[] = {
        {"ip neigh add 198.18.0.200 lladdr 02:00:00:00:09:09 dev xtw0 nud permanent",
         ROUTE_WATCH_CHANGED},
        {"ip neigh del 198.18.0.200 dev xtw0", ROUTE_WATCH_CHANGED},
        {"ip route add 198.18.70.0/24 via 198.18.0.254", ROUTE_WATCH_CHANGED},
        {"ip route del 198.18.70.0/24", ROUTE_WATCH_CHANGED},
        {"ip -6 route add 2001:db8:70::/48 via 2001:db8::fe", ROUTE_WATCH_CHANGED},
        {"ip -6 route del 2001:db8:70::/48", ROUTE_WATCH_CHANGED},
        {"ip rule add from 198.18.9.0/24 table 100", ROUTE_WATCH_CHANGED},
        {"ip rule del from 198.18.9.0/24 table 100", ROUTE_WATCH_CHANGED},
        {"ip addr add 198.18.0.9/24 dev xtw0", ROUTE_WATCH_CHANGED | ROUTE_WATCH_ADDRESSES},
        {"ip addr del 198.18.0.9/24 dev xtw0", ROUTE_WATCH_CHANGED | ROUTE_WATCH_ADDRESSES},
        {"ip -6 addr add 2001:db8::9/64 dev xtw0 nodad",
         ROUTE_WATCH_CHANGED | ROUTE_WATCH_ADDRESSES},
        {"ip -6 addr del 2001:db8::9/64 dev xtw0", ROUTE_WATCH_CHANGED | ROUTE_WATCH_ADDRESSES},
    };
    int fd = route_watch_open();

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(route_watch_drain(fd), 0);
    for (size_t i = 0; i < ARRAY_LEN(changes); i++) {
        int got;

        assert_int_equal(system(changes[i].cmd), 0);
        got = route_watch_drain(fd);
        /* an address brings its routes along: what matters is that it is told apart */
        if (changes[i].want & ROUTE_WATCH_ADDRESSES ? !(got & ROUTE_WATCH_ADDRESSES)
                                                    : got != changes[i].want)
            fail_msg("%s: flags %d, want %d", changes[i].cmd, got, changes[i].want);
        assert_int_equal(route_watch_drain(fd), 0);
    }
    close(fd);
}

static bool has(const struct xt_addr *a, size_t n, const char *ip)
{
    struct xt_addr want;

    assert_int_equal(xt_addr_parse_ip(ip, &want), 0);
    for (size_t i = 0; i < n; i++)
        if (xt_addr_equal(&a[i], &want))
            return true;
    return false;
}

/* Every address of every interface, loopback included, and none that is gone. */
static void test_host_addrs(void **state)
{
    struct xt_addr *a;
    size_t n;

    (void)state;
    assert_int_equal(system("ip addr add 198.18.0.77/24 dev xtw0"), 0);
    assert_int_equal(host_addrs_read(&a, &n), 0);
    assert_true(has(a, n, "198.18.0.1"));
    assert_true(has(a, n, "198.18.0.77"));
    assert_true(has(a, n, "2001:db8::1"));
    assert_true(has(a, n, "127.0.0.1"));
    assert_true(has(a, n, "::1"));
    free(a);
    assert_int_equal(system("ip addr del 198.18.0.77/24 dev xtw0"), 0);
    assert_int_equal(host_addrs_read(&a, &n), 0);
    assert_false(has(a, n, "198.18.0.77"));
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changes_heard),
        cmocka_unit_test(test_host_addrs),
    };
    return cmocka_run_group_tests(tests, in_own_netns, NULL);
}
