/* The socket filter against datagrams spoofed from the host's addresses (src/net/udp_filter.c),
 * in a private network namespace (root): frames injected on one end of a veth pair with
 * AF_PACKET arrive at the other end, where the host's addresses are, as datagrams from outside
 * do; the host's own datagrams come through loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/udp_filter.h"
#include "net/udp_socket.h"

#define PORT 5555

static int in_own_netns(void **state)
{
    (void)state;
    if (unshare(CLONE_NEWNET) != 0)
        return -1;
    /* accept_local: the kernel's own IPv4 martian check off, so that the filter is what drops */
    return system("ip link set lo up && ip link add xtf0 type veth peer name xtf1 && "
                  "ip link set xtf0 up && ip link set xtf1 up && "
                  "ip link set xtf1 address 02:00:00:00:00:11 && "
                  "ip addr add 198.18.0.1/24 dev xtf1 && ip -6 addr add 2001:db8::1/64 dev xtf1 "
                  "nodad && sysctl -qw net.ipv4.conf.all.rp_filter=0 "
                  "net.ipv4.conf.xtf1.rp_filter=0 net.ipv4.conf.xtf1.accept_local=1") == 0
               ? 0
               : -1;
}

static struct xt_addr ip(const char *s, uint16_t port)
{
    struct xt_addr a;
    assert_int_equal(xt_addr_parse_ip(s, &a), 0);
    a.port = port;
    return a;
}

static uint16_t csum(const uint8_t *p, size_t n, uint32_t sum)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* A UDP datagram from src to dst with payload "x", as a frame sent out of xtf0 (arriving at
 * xtf1, whose MAC is the destination). */
static void inject(const struct xt_addr *src, const struct xt_addr *dst)
{
    uint8_t f[128] = {0x02, 0, 0, 0, 0, 0x11, 0x02, 0, 0, 0, 0, 0x10};
    bool v4 = src->family == AF_INET;
    size_t ip_len = v4 ? 20 : 40, n = 14 + ip_len + 9;
    uint8_t *iph = f + 14, *udp = iph + ip_len, pseudo[40];
    struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_halen = 6};
    int fd = socket(AF_PACKET, SOCK_RAW, 0);

    assert_true(fd >= 0);
    f[12] = v4 ? 0x08 : 0x86;
    f[13] = v4 ? 0x00 : 0xdd;
    udp[0] = (uint8_t)(src->port >> 8), udp[1] = (uint8_t)src->port;
    udp[2] = (uint8_t)(dst->port >> 8), udp[3] = (uint8_t)dst->port;
    udp[5] = 9;
    udp[8] = 'x';
    if (v4) {
        iph[0] = 0x45, iph[3] = (uint8_t)(20 + 9), iph[8] = 64, iph[9] = 17;
        memcpy(iph + 12, src->ip, 4);
        memcpy(iph + 16, dst->ip, 4);
        uint16_t c = csum(iph, 20, 0);
        iph[10] = (uint8_t)(c >> 8), iph[11] = (uint8_t)c; /* UDP checksum 0: none */
    } else {
        iph[0] = 0x60, iph[5] = 9, iph[6] = 17, iph[7] = 64;
        memcpy(iph + 8, src->ip, 16);
        memcpy(iph + 24, dst->ip, 16);
        memset(pseudo, 0, sizeof(pseudo));
        memcpy(pseudo, src->ip, 16);
        memcpy(pseudo + 16, dst->ip, 16);
        uint32_t sum = 0;
        for (int i = 0; i < 32; i += 2)
            sum += (uint32_t)pseudo[i] << 8 | pseudo[i + 1];
        uint16_t c = csum(udp, 9, sum + 17 + 9);
        udp[6] = (uint8_t)(c >> 8), udp[7] = (uint8_t)c;
    }
    to.sll_ifindex = (int)if_nametoindex("xtf0");
    memcpy(to.sll_addr, f, 6);
    assert_int_equal(sendto(fd, f, n, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)n);
    close(fd);
}

/* A datagram from the host itself: through loopback. */
static void send_local(const struct xt_addr *src, const struct xt_addr *dst)
{
    struct udp_socket_opts o = {0};
    struct sockaddr_storage ss;
    socklen_t sl = xt_addr_to_sockaddr(dst, &ss);
    int fd = udp_socket_open(src, &o);

    assert_true(fd >= 0);
    assert_int_equal(sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, sl), 1);
    close(fd);
}

/* Whether a datagram waits on fd (within 300 ms), read it if so. */
static bool got(int fd)
{
    char b[16];
    for (int i = 0; i < 30; i++) {
        if (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0)
            return true;
        usleep(10000);
    }
    return false;
}

static void spoofed_dropped_local_and_others_pass(int family, const char *self,
                                                  const char *other_host, const char *stranger)
{
    struct xt_addr host[3] = {ip(self, 0), ip(other_host, 0), ip("198.18.9.9", 0)};
    struct xt_addr dst = ip(self, PORT), from_self = ip(self, 7777);
    struct xt_addr from_stranger = ip(stranger, 7777), from_other = ip(other_host, 7777);
    struct udp_filter f;
    struct udp_socket_opts o = {0};
    size_t covered;
    int fd;

    assert_int_equal(udp_filter_build(&f, family, host, 3, &covered), 0);
    assert_int_equal(covered, family == AF_INET ? 3 : 1);
    /* without the filter the spoofed datagram arrives (that is the hole) */
    fd = udp_socket_open(&dst, &o);
    assert_true(fd >= 0);
    inject(&from_self, &dst);
    assert_true(got(fd));
    close(fd);

    o.filter = &f;
    fd = udp_socket_open(&dst, &o);
    assert_true(fd >= 0);
    inject(&from_self, &dst);
    assert_false(got(fd));
    if (family == AF_INET) {
        inject(&from_other, &dst); /* the second host address */
        assert_false(got(fd));
    }
    inject(&from_stranger, &dst);
    assert_true(got(fd));
    send_local(&from_self, &dst);
    assert_true(got(fd));
    close(fd);
    udp_filter_free(&f);
}

static void test_ipv4(void **state)
{
    (void)state;
    assert_int_equal(system("ip addr add 198.18.0.77/24 dev xtf1"), 0);
    spoofed_dropped_local_and_others_pass(AF_INET, "198.18.0.1", "198.18.0.77", "198.18.0.2");
}

static void test_ipv6(void **state)
{
    (void)state;
    spoofed_dropped_local_and_others_pass(AF_INET6, "2001:db8::1", "198.18.0.1", "2001:db8::2");
}

/* More addresses than a program holds: the first ones, said so, and the kernel takes it. */
static void test_largest_programs(void **state)
{
    static struct xt_addr many[UDP_FILTER_MAX_V4 + 1];
    struct xt_addr dst6 = ip("2001:db8::1", PORT + 1), dst4 = ip("198.18.0.1", PORT + 1);
    struct udp_socket_opts o = {0};
    struct udp_filter f;
    size_t covered;
    int fd;

    (void)state;
    for (size_t i = 0; i <= UDP_FILTER_MAX_V4; i++) {
        uint8_t a[16] = {
            0x20, 0x01, 0x0d, 0xb8, 0, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};
        xt_addr_v6(&many[i], a, 0);
    }
    assert_int_equal(udp_filter_build(&f, AF_INET6, many, UDP_FILTER_MAX_V6 + 1, &covered), -E2BIG);
    /* as many as the instruction limit and the socket's option memory allow */
    assert_true(covered > 0 && covered <= UDP_FILTER_MAX_V6);
    o.filter = &f;
    fd = udp_socket_open(&dst6, &o);
    assert_true(fd >= 0);
    close(fd);
    udp_filter_free(&f);
    for (size_t i = 0; i <= UDP_FILTER_MAX_V4; i++) {
        uint8_t a[4] = {198, 19, (uint8_t)(i >> 8), (uint8_t)i};
        xt_addr_v4(&many[i], a, 0);
    }
    assert_int_equal(udp_filter_build(&f, AF_INET, many, UDP_FILTER_MAX_V4 + 1, &covered), -E2BIG);
    assert_true(covered > 0 && covered <= UDP_FILTER_MAX_V4);
    fd = udp_socket_open(&dst4, &o);
    assert_true(fd >= 0);
    close(fd);
    udp_filter_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_largest_programs),
    };
    return cmocka_run_group_tests(tests, in_own_netns, NULL);
}
