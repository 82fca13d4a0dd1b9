/* The network the XDP program is run in by the table tests, the fuzzer and the micro-benchmark
 * (bpf_prog_test_run needs routes and neighbours for bpf_fib_lookup to answer). Addresses only
 * from 198.18.0.0/15 and 2001:db8::/32:
 * xt0  02:00:00:00:00:01  198.18.0.1/24 2001:db8::1/64    listen and relay address, ingress
 *      clients 198.18.10.0/24, 2001:db8:10::/48 via .254 / ::fe  (testnet_gw_c)
 *      peers   198.18.20.0/24, 2001:db8:20::/48 via .253 / ::fd  (testnet_gw_p)
 *      198.18.50.0/24 via 198.18.0.250, no neighbour entry
 * xt1  02:00:00:00:00:02  198.18.1.1/24 2001:db8:1::1/64  a redirect target
 *      198.18.30.0/24, 2001:db8:30::/48 via .254 / ::fe  (testnet_gw_r)
 * xt2  02:00:00:00:00:03  198.18.2.1/24
 *      198.18.40.0/24 via 198.18.2.254
 * xtd0 a bridge: no native XDP
 * 198.18.60.0/24 has no route. */
#ifndef XTURN_TESTS_XDP_TESTNET_H
#define XTURN_TESTS_XDP_TESTNET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h> /* AF_INET, AF_INET6 */

/* Transport addresses on this network for tables of frames and bindings: the listen and relay
 * address of xt0, clients behind testnet_gw_c, peers behind testnet_gw_p. */
struct tep {
    int fam;
    const char *ip;
    uint16_t port;
};

#define LISTEN4                                                                                    \
    {                                                                                              \
        AF_INET, "198.18.0.1", 3478                                                                \
    }
#define LISTEN6                                                                                    \
    {                                                                                              \
        AF_INET6, "2001:db8::1", 3478                                                              \
    }
#define RELAY4(port)                                                                               \
    {                                                                                              \
        AF_INET, "198.18.0.1", port                                                                \
    }
#define RELAY6(port)                                                                               \
    {                                                                                              \
        AF_INET6, "2001:db8::1", port                                                              \
    }
#define C4                                                                                         \
    {                                                                                              \
        AF_INET, "198.18.10.2", 40000                                                              \
    }
#define C6                                                                                         \
    {                                                                                              \
        AF_INET6, "2001:db8:10::2", 40000                                                          \
    }
#define P4                                                                                         \
    {                                                                                              \
        AF_INET, "198.18.20.2", 5000                                                               \
    }
#define P6                                                                                         \
    {                                                                                              \
        AF_INET6, "2001:db8:20::2", 5000                                                           \
    }
#define CA4                                                                                        \
    {                                                                                              \
        AF_INET, "198.18.10.3", 40001                                                              \
    }
#define CB4                                                                                        \
    {                                                                                              \
        AF_INET, "198.18.10.4", 40002                                                              \
    }

/* A channel binding to mirror into the program's maps (xdp_prog_bind). */
struct testnet_binding {
    struct tep client;
    uint16_t channel;
    struct tep peer;
    uint16_t relay_port;
};

/* The bindings of the relayed paths: client and peer in the four family pairs, and two
 * allocations of this relay talking to each other (4-4). */
#define TESTNET_PATH_BINDINGS                                                                      \
    {C4, 0x4001, P4, 50001}, {C4, 0x4002, P6, 50002}, {C6, 0x4003, P4, 50003},                     \
        {C6, 0x4004, P6, 50004}, {CA4, 0x4010, RELAY4(50011), 50010},                              \
    {                                                                                              \
        CB4, 0x4011, RELAY4(50010), 50011                                                          \
    }

extern const uint8_t testnet_mac_xt0[6], testnet_mac_xt1[6];
extern const uint8_t testnet_gw_c[6], testnet_gw_p[6], testnet_gw_r[6];

/* Moves the calling process into a new network namespace and builds the network there (root
 * only). 0, or -1 with the step that failed in err. The namespace goes with the process. */
int xdp_testnet_enter(char *err, size_t errlen);

#endif
