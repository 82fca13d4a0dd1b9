/* The XDP program's contract, userspace's side (src/xdp/xdp_abi.c), without loading anything:
 * the configuration the daemon's settings become, binding keys and values byte for byte, the
 * path index of each direction and family pair against the counters' names, host keys, the
 * program's requests for next hops and userspace's answers. The program's reading of the same
 * bytes is tests/unit/test_xdp_prog.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xdp/xdp_abi.h"

static struct xt_addr addr(const char *ip, uint16_t port)
{
    struct xt_addr a;

    assert_int_equal(xt_addr_parse_ip(ip, &a), 0);
    a.port = port;
    return a;
}

/* The first listen and relay address of each family, ports in network order. */
static void test_cfg_addresses(void **state)
{
    const struct xt_addr listen[] = {addr("2001:db8::1", 3478), addr("198.18.0.1", 3478),
                                     addr("198.18.0.2", 3479), addr("2001:db8::2", 3479)};
    const struct xt_addr relay[] = {addr("198.18.0.9", 0), {0}};
    const struct xdp_abi_settings s = {.listen = listen,
                                       .nlisten = 4,
                                       .relay = relay,
                                       .nrelay = 2,
                                       .relay_port_lo = 49152,
                                       .relay_port_hi = 65535};
    const uint8_t listen6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}, zero[16] = {0};
    struct xt_cfg k = xdp_abi_cfg(&s);

    (void)state;
    assert_int_equal(k.listen_v4, htonl(0xC6120001));
    assert_int_equal(k.listen_port_v4, htons(3478));
    assert_memory_equal(k.listen_v6, listen6, 16);
    assert_int_equal(k.listen_port_v6, htons(3478));
    assert_int_equal(k.relay_v4, htonl(0xC6120009));
    assert_memory_equal(k.relay_v6, zero, 16); /* no IPv6 relay address: not relayed */
    assert_int_equal(k.relay_port_lo, 49152);  /* host order */
    assert_int_equal(k.relay_port_hi, 65535);
    assert_true(xdp_abi_serves_family(&k, AF_INET));
    assert_true(xdp_abi_serves_family(&k, AF_INET6));
    assert_true(xdp_abi_serves_listen(&k, &listen[0]));
    assert_true(xdp_abi_serves_listen(&k, &listen[1]));
    assert_false(xdp_abi_serves_listen(&k, &listen[2])); /* a second listen address */
    assert_false(xdp_abi_serves_listen(&k, &listen[3]));
}

/* Channel range, translation and the rate: every field but the addresses; no address, no
 * family served. */
static void test_cfg_limits(void **state)
{
    struct xdp_abi_settings s = {.cross_family = true, .max_bps = 125000};
    struct xt_cfg k = xdp_abi_cfg(&s);

    (void)state;
    assert_int_equal(k.channel_hi, 0x7FFF);
    assert_int_equal(k.cross_family, 1);
    assert_int_equal(k.max_bps, 125000);
    assert_false(xdp_abi_serves_family(&k, AF_INET));
    assert_false(xdp_abi_serves_family(&k, AF_INET6));
    s.strict_channel_range = true;
    s.cross_family = false;
    s.max_bps = 0;
    k = xdp_abi_cfg(&s);
    assert_int_equal(k.channel_hi, 0x4FFF);
    assert_int_equal(k.cross_family, 0);
    assert_int_equal(k.max_bps, 0);
}

/* Each direction and family pair is the counter, and the map, named after it. */
static void test_paths(void **state)
{
    (void)state;
    assert_int_equal(xdp_abi_family(AF_INET), 0);
    assert_int_equal(xdp_abi_family(AF_INET6), 1);
    assert_int_equal(xdp_abi_family(AF_UNIX), -1);
    for (int cf = 0; cf < 2; cf++) {
        for (int pf = 0; pf < 2; pf++) {
            char c2p[8], p2c[8];

            snprintf(c2p, sizeof(c2p), "c2p_%d%d", 4 + 2 * cf, 4 + 2 * pf);
            snprintf(p2c, sizeof(p2c), "p2c_%d%d", 4 + 2 * pf, 4 + 2 * cf);
            assert_string_equal(xdp_stat_name(xdp_abi_path(XDP_ABI_TO_PEER, cf, pf)), c2p);
            assert_string_equal(xdp_stat_name(xdp_abi_path(XDP_ABI_TO_CLIENT, cf, pf)), p2c);
        }
    }
}

/* An IPv4 client on channel 0x4001 with an IPv6 peer through relay port 50002, bucket 7. */
static void test_binding_cross_family(void **state)
{
    const struct xt_addr client = addr("198.18.10.2", 40000), peer = addr("2001:db8:20::2", 5000);
    const struct xt_client4 ck = {
        .ip = htonl(0xC6120A02), .port = htons(40000), .channel = htons(0x4001)};
    const struct xt_peer6 pk = {.ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0x20, [15] = 2},
                                .port = htons(5000),
                                .relay_port = htons(50002)};
    struct xt_to_peer6 pv = {.peer = pk, .bucket = 7};
    struct xt_to_client4 cv = {.client = ck, .bucket = 7};
    struct xdp_abi_binding b;

    (void)state;
    memset(&b, 0xAA, sizeof(b)); /* every byte that matters is written */
    assert_int_equal(xdp_abi_binding(&b, &client, 0x4001, &peer, 50002, 7), 0);
    assert_int_equal(b.c2p, XT_C2P_46);
    assert_int_equal(b.p2c, XT_P2C_64);
    assert_int_equal(b.c2p_key_size, sizeof(ck));
    assert_memory_equal(&b.c2p_key, &ck, sizeof(ck));
    assert_int_equal(b.p2c_key_size, sizeof(pk));
    assert_memory_equal(&b.p2c_key, &pk, sizeof(pk));
    /* values: the far side, the bucket, an empty next-hop cache */
    assert_int_equal(b.c2p_value_size, sizeof(pv));
    assert_memory_equal(&b.c2p_value, &pv, sizeof(pv));
    assert_int_equal(b.p2c_value_size, sizeof(cv));
    assert_memory_equal(&b.p2c_value, &cv, sizeof(cv));
}

static void test_binding_errors_and_host_keys(void **state)
{
    const struct xt_addr v4 = addr("198.18.0.1", 3478), v6 = addr("2001:db8::1", 3478);
    struct xt_addr none = {0};
    struct xt_host_addr k, want4 = {.family = AF_INET, .ip = {198, 18, 0, 1}};
    struct xdp_abi_binding b;

    (void)state;
    assert_int_equal(xdp_abi_binding(&b, &none, 0x4001, &v4, 50000, 0), -EAFNOSUPPORT);
    assert_int_equal(xdp_abi_binding(&b, &v6, 0x4001, &none, 50000, 0), -EAFNOSUPPORT);
    assert_int_equal(xdp_abi_binding(&b, &v6, 0x4001, &v6, 50000, 0), 0);
    assert_int_equal(b.c2p, XT_C2P_66);
    assert_int_equal(b.p2c, XT_P2C_66);
    memset(&k, 0xAA, sizeof(k));
    assert_int_equal(xdp_abi_host_key(&k, &v4), 0); /* the port is not part of it */
    assert_memory_equal(&k, &want4, sizeof(k));
    assert_int_equal(xdp_abi_host_key(&k, &v6), 0);
    assert_int_equal(k.family, AF_INET6);
    assert_memory_equal(k.ip, v6.ip, 16);
    assert_int_equal(xdp_abi_host_key(&k, &none), -EAFNOSUPPORT);
}

/* The program's request for the next hop of that binding's peer-to-client side (map p2c_64):
 * the key it names is the one xdp_abi_binding made, the datagram's addresses are IPv4. */
static void test_nh_request(void **state)
{
    const struct xt_addr client = addr("198.18.10.2", 40000), peer = addr("2001:db8:20::2", 5000);
    struct xt_nh_request r = {.map = XT_P2C_64, .family = AF_INET, .tos = 0xb8};
    struct xdp_abi_nh_request q;
    struct xdp_abi_binding b;
    struct xt_addr listen = addr("198.18.0.1", 3478);

    (void)state;
    assert_int_equal(xdp_abi_binding(&b, &client, 0x4001, &peer, 50002, 7), 0);
    memcpy(r.key_ip, peer.ip, 16);
    r.key_port = htons(5000);
    r.key_aux = htons(50002);
    memcpy(r.saddr, listen.ip, 4);
    r.sport = htons(3478);
    memcpy(r.daddr, client.ip, 4);
    r.dport = htons(40000);
    memset(&q, 0xAA, sizeof(q));
    assert_int_equal(xdp_abi_nh_request(&q, &r, sizeof(r)), 0);
    assert_int_equal(q.map, XT_P2C_64);
    assert_int_equal(q.key_size, b.p2c_key_size);
    assert_memory_equal(&q.key, &b.p2c_key, q.key_size);
    assert_int_equal(q.value_size, b.p2c_value_size);
    assert_true(xt_addr_equal(&q.src, &listen));
    assert_true(xt_addr_equal(&q.dst, &client));
    assert_int_equal(q.tos, 0xb8);

    /* not requests: too short, no such map, a family that is not the map's egress family */
    assert_int_equal(xdp_abi_nh_request(&q, &r, sizeof(r) - 1), -EINVAL);
    r.map = XT_C2C_SELF;
    assert_int_equal(xdp_abi_nh_request(&q, &r, sizeof(r)), -EINVAL);
    r.map = XT_P2C_66;
    assert_int_equal(xdp_abi_nh_request(&q, &r, sizeof(r)), -EINVAL);
}

/* Userspace's answers as the cache holds them, and where a value holds its cache. */
static void test_nexthop_answer(void **state)
{
    const struct xt_addr client = addr("198.18.10.2", 40000), peer = addr("2001:db8:20::2", 5000);
    struct xdp_abi_hop hop = {.ifindex = 7,
                              .dmac = {2, 0, 0, 0, 1, 0xfe},
                              .smac = {2, 0, 0, 0, 0, 1},
                              .mtu = 70000,
                              .tx_port = true};
    const struct xt_nexthop want = {.dmac = {2, 0, 0, 0, 1, 0xfe},
                                    .smac = {2, 0, 0, 0, 0, 1},
                                    .ifindex = 7,
                                    .mtu = 0xffff,
                                    .flags = XT_NH_TX_PORT,
                                    .gen = 42},
                            pass = {.pass = XT_PASS_NO_NEIGH, .gen = 43};
    struct xdp_abi_binding b;
    struct xt_nexthop nh;

    (void)state;
    nh = xdp_abi_nexthop(&hop, 42);
    assert_memory_equal(&nh, &want, sizeof(nh));
    hop.pass = XT_PASS_NO_NEIGH;
    nh = xdp_abi_nexthop(&hop, 43);
    assert_memory_equal(&nh, &pass, sizeof(nh));

    assert_int_equal(xdp_abi_binding(&b, &client, 0x4001, &peer, 50002, 7), 0);
    assert_ptr_equal(xdp_abi_value_nexthop(&b.c2p_value, b.c2p), &b.c2p_value.p6.nh);
    assert_ptr_equal(xdp_abi_value_nexthop(&b.p2c_value, b.p2c), &b.p2c_value.c4.nh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_addresses),
        cmocka_unit_test(test_cfg_limits),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_binding_cross_family),
        cmocka_unit_test(test_binding_errors_and_host_keys),
        cmocka_unit_test(test_nh_request),
        cmocka_unit_test(test_nexthop_answer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
