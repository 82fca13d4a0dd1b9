#include "xdp_testnet.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint8_t testnet_mac_xt0[6] = {2, 0, 0, 0, 0, 1};
const uint8_t testnet_mac_xt1[6] = {2, 0, 0, 0, 0, 2};
const uint8_t testnet_gw_c[6] = {2, 0, 0, 0, 1, 0xfe};
const uint8_t testnet_gw_p[6] = {2, 0, 0, 0, 1, 0xfd};
const uint8_t testnet_gw_r[6] = {2, 0, 0, 0, 2, 0xfe};

static const char *const setup[] = {
    "ip link set lo up",
    "ip link add xt0 address 02:00:00:00:00:01 type veth peer name xt0p",
    "ip link add xt1 address 02:00:00:00:00:02 type veth peer name xt1p",
    "ip link add xt2 address 02:00:00:00:00:03 type veth peer name xt2p",
    "ip link add xtd0 type bridge", /* no native XDP (dummy may not be built) */
    /* the far ends send nothing (router solicitations would only add noise to the counters) */
    "sysctl -q -w net.ipv6.conf.xt0p.disable_ipv6=1",
    "sysctl -q -w net.ipv6.conf.xt1p.disable_ipv6=1",
    "sysctl -q -w net.ipv6.conf.xt2p.disable_ipv6=1",
    "ip link set xt0 up",
    "ip link set xt0p up",
    "ip link set xt1 up",
    "ip link set xt1p up",
    "ip link set xt2 up",
    "ip link set xt2p up",
    "ip link set xtd0 up",
    "ip addr add 198.18.0.1/24 dev xt0",
    "ip -6 addr add 2001:db8::1/64 dev xt0 nodad",
    "ip addr add 198.18.1.1/24 dev xt1",
    "ip -6 addr add 2001:db8:1::1/64 dev xt1 nodad",
    "ip addr add 198.18.2.1/24 dev xt2",
    "ip neigh add 198.18.0.254 lladdr 02:00:00:00:01:fe dev xt0 nud permanent",
    "ip neigh add 198.18.0.253 lladdr 02:00:00:00:01:fd dev xt0 nud permanent",
    "ip -6 neigh add 2001:db8::fe lladdr 02:00:00:00:01:fe dev xt0 nud permanent",
    "ip -6 neigh add 2001:db8::fd lladdr 02:00:00:00:01:fd dev xt0 nud permanent",
    "ip neigh add 198.18.1.254 lladdr 02:00:00:00:02:fe dev xt1 nud permanent",
    "ip -6 neigh add 2001:db8:1::fe lladdr 02:00:00:00:02:fe dev xt1 nud permanent",
    "ip neigh add 198.18.2.254 lladdr 02:00:00:00:03:fe dev xt2 nud permanent",
    "ip route add 198.18.10.0/24 via 198.18.0.254",
    "ip route add 198.18.20.0/24 via 198.18.0.253",
    "ip -6 route add 2001:db8:10::/48 via 2001:db8::fe",
    "ip -6 route add 2001:db8:20::/48 via 2001:db8::fd",
    "ip route add 198.18.30.0/24 via 198.18.1.254",
    "ip -6 route add 2001:db8:30::/48 via 2001:db8:1::fe",
    "ip route add 198.18.40.0/24 via 198.18.2.254",
    "ip route add 198.18.50.0/24 via 198.18.0.250",
    /* bpf_fib_lookup answers only for interfaces that forward */
    "sysctl -q -w net.ipv4.conf.all.forwarding=1",
    "sysctl -q -w net.ipv6.conf.all.forwarding=1",
};

int xdp_testnet_enter(char *err, size_t errlen)
{
    if (unshare(CLONE_NEWNET) != 0) {
        snprintf(err, errlen, "unshare(CLONE_NEWNET): %s (needs root)", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++) {
        if (system(setup[i]) != 0) {
            snprintf(err, errlen, "network setup failed: %s", setup[i]);
            return -1;
        }
    }
    return 0;
}
