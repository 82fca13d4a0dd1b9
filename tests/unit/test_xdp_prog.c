/* The XDP fast path (src/bpf/xturn.bpf.c) through its loader (src/xdp/xdp_loader.c):
 * bpf_prog_test_run_opts on crafted frames, as in the kernel's prog_tests/xdp*.c. The process
 * first moves into a private network namespace with veth interfaces, static routes and
 * PERMANENT neighbours, so bpf_fib_lookup's answers are deterministic; the namespace goes away
 * with the process. Expected frames are built here independently of the program, checksums by
 * a plain RFC 1071 sum over the whole datagram. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "app/nexthop_resolver.h"
#include "common/gcra.h"
#include "net/event_loop.h"
#include "xdp/xdp_abi.h"
#include "xdp/xdp_loader.h"
#include "xdp/xdp_maps.h"
#include "xdp/xdp_nexthop.h"
#include "xdp/xdp_stats.h"
#include "xdp_testnet.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the test network: tests/support/xdp_testnet.h ---- */

/* ---- endpoints ---- */

#define CC4                                                                                        \
    {                                                                                              \
        AF_INET, "198.18.10.5", 40003                                                              \
    }
#define CD6                                                                                        \
    {                                                                                              \
        AF_INET6, "2001:db8:10::3", 40004                                                          \
    }
#define CE6                                                                                        \
    {                                                                                              \
        AF_INET6, "2001:db8:10::4", 40005                                                          \
    }
#define CF6                                                                                        \
    {                                                                                              \
        AF_INET6, "2001:db8:10::5", 40006                                                          \
    }
#define P_REDIR4                                                                                   \
    {                                                                                              \
        AF_INET, "198.18.30.2", 5000                                                               \
    }
#define P_REDIR6                                                                                   \
    {                                                                                              \
        AF_INET6, "2001:db8:30::2", 5000                                                           \
    }
#define P_OTHER4                                                                                   \
    {                                                                                              \
        AF_INET, "198.18.40.2", 5000                                                               \
    }
#define P_NONEIGH4                                                                                 \
    {                                                                                              \
        AF_INET, "198.18.50.2", 5000                                                               \
    }
#define P_NOROUTE4                                                                                 \
    {                                                                                              \
        AF_INET, "198.18.60.2", 5000                                                               \
    }

static size_t tep_ip(const struct tep *t, uint8_t ip[16])
{
    memset(ip, 0, 16);
    assert_int_equal(inet_pton(t->fam, t->ip, ip), 1);
    return t->fam == AF_INET ? 4 : 16;
}

static void tep_addr(const struct tep *t, struct xt_addr *a)
{
    uint8_t ip[16];

    tep_ip(t, ip);
    if (t->fam == AF_INET)
        xt_addr_v4(a, ip, t->port);
    else
        xt_addr_v6(a, ip, t->port);
}

static const struct testnet_binding bindings[] = {
    TESTNET_PATH_BINDINGS,
    /* more allocations of this relay talking to each other: 4-6 (and 6-4), 6-6 */
    {CC4, 0x4020, RELAY6(50021), 50020},
    {CD6, 0x4021, RELAY6(50020), 50021},
    {CE6, 0x4030, RELAY6(50031), 50030},
    {CF6, 0x4031, RELAY6(50030), 50031},
    /* next hop cases */
    {C4, 0x4040, P_REDIR4, 50040},
    {C4, 0x4041, P_OTHER4, 50041},
    {C4, 0x4042, P_NONEIGH4, 50042},
    {C4, 0x4043, P_NOROUTE4, 50043},
    {C6, 0x4044, P_REDIR6, 50044},
    /* a relayed address of this relay that no allocation binds back */
    {C4, 0x4045, RELAY4(50099), 50045},
    /* bound, but beyond channel_hi (0x4FFF) */
    {C4, 0x5000, P4, 50050},
};

/* ---- frames, built independently of the program ---- */

/* A UDP datagram carrying len application bytes, raw or as ChannelData, then pad bytes
 * (ChannelData padding, non-zero) inside the datagram and eth_pad bytes after it. */
struct spec {
    struct tep src, dst;
    uint16_t channel; /* ChannelData with this channel number; 0: raw payload */
    uint16_t len;
    uint8_t pad;
    uint8_t eth_pad;
    uint8_t zero_csum; /* UDP checksum 0 (IPv4 "none") */
};

/* IP fields that are not addresses. */
struct l3 {
    uint8_t tos, ttl;
    uint16_t id, frag_off; /* IPv4 */
    uint32_t flow;         /* IPv6 flow label */
};

/* Incoming: DSCP EF + ECT(1), an ID, no DF, a flow label. Outgoing: TOS carried over, TTL one
 * less (RFC 8656 14), ID 0, DF, flow label 0. */
static const struct l3 L3_IN = {
    .tos = 0xb9, .ttl = 57, .id = 0x1234, .frag_off = 0, .flow = 0xabcde};
static const struct l3 L3_OUT = {.tos = 0xb9, .ttl = 56, .id = 0, .frag_off = 0x4000, .flow = 0};

#define FRAME_CAP 4096

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* RFC 1071: 16-bit big-endian words, an odd last byte padded with zero. */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* Sum over pseudo-header and the whole UDP datagram as it is (checksum field included). */
static uint16_t udp_sum(int fam, const uint8_t *sip, const uint8_t *dip, const uint8_t *udp,
                        size_t ulen)
{
    size_t alen = fam == AF_INET ? 4 : 16;
    uint32_t sum = sum16(sip, alen, 0);

    sum = sum16(dip, alen, sum);
    sum += 17 + (uint32_t)ulen;
    return fold(sum16(udp, ulen, sum));
}

static void fill_payload(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 131 + 17);
}

static size_t build_frame(uint8_t *buf, const uint8_t dmac[6], const uint8_t smac[6],
                          const struct spec *s, const struct l3 *l3)
{
    uint8_t sip[16], dip[16];
    size_t alen = tep_ip(&s->src, sip);
    size_t iph = s->src.fam == AF_INET ? 20 : 40;
    uint8_t *ip = buf + 14, *udp = ip + iph, *pl = udp + 8;
    size_t n = 0, ulen;

    assert_int_equal(s->src.fam, s->dst.fam);
    tep_ip(&s->dst, dip);
    memset(buf, 0, FRAME_CAP);
    memcpy(buf, dmac, 6);
    memcpy(buf + 6, smac, 6);
    put16(buf + 12, s->src.fam == AF_INET ? 0x0800 : 0x86dd);

    if (s->channel) {
        put16(pl, s->channel);
        put16(pl + 2, s->len);
        n = 4;
    }
    fill_payload(pl + n, s->len);
    n += s->len;
    for (unsigned i = 0; i < s->pad; i++)
        pl[n++] = (uint8_t)(0xa1 + i); /* never zero: padding must really be subtracted */
    ulen = 8 + n;
    assert_true(14 + iph + ulen + s->eth_pad <= FRAME_CAP);
    put16(udp, s->src.port);
    put16(udp + 2, s->dst.port);
    put16(udp + 4, (uint16_t)ulen);

    if (s->src.fam == AF_INET) {
        ip[0] = 0x45;
        ip[1] = l3->tos;
        put16(ip + 2, (uint16_t)(20 + ulen));
        put16(ip + 4, l3->id);
        put16(ip + 6, l3->frag_off);
        ip[8] = l3->ttl;
        ip[9] = 17;
        memcpy(ip + 12, sip, 4);
        memcpy(ip + 16, dip, 4);
        put16(ip + 10, (uint16_t)~fold(sum16(ip, 20, 0)));
    } else {
        uint32_t w = 6u << 28 | (uint32_t)l3->tos << 20 | (l3->flow & 0xfffff);

        ip[0] = (uint8_t)(w >> 24);
        ip[1] = (uint8_t)(w >> 16);
        ip[2] = (uint8_t)(w >> 8);
        ip[3] = (uint8_t)w;
        put16(ip + 4, (uint16_t)ulen);
        ip[6] = 17;
        ip[7] = l3->ttl;
        memcpy(ip + 8, sip, 16);
        memcpy(ip + 24, dip, 16);
    }
    if (!s->zero_csum) {
        uint16_t c = (uint16_t)~udp_sum(s->src.fam, sip, dip, udp, ulen);

        put16(udp + 6, c ? c : 0xffff);
    }
    (void)alen;
    for (unsigned i = 0; i < s->eth_pad; i++)
        udp[ulen + i] = (uint8_t)(0x5a + i);
    return 14 + iph + ulen + s->eth_pad;
}

/* Independent checks of an output frame: IPv4 header checksum, UDP checksum over the whole
 * datagram (or 0 for IPv4 "none" when allowed), lengths consistent with the frame. */
static void verify_checksums(const uint8_t *f, size_t len, int allow_zero)
{
    uint16_t et = get16(f + 12);
    const uint8_t *ip = f + 14, *udp;
    size_t ulen;

    if (et == 0x0800) {
        assert_int_equal(ip[0], 0x45);
        assert_int_equal(fold(sum16(ip, 20, 0)), 0xffff);
        assert_int_equal(get16(ip + 2) + 14, len);
        udp = ip + 20;
        ulen = get16(udp + 4);
        assert_int_equal(ulen + 20, get16(ip + 2));
        if (get16(udp + 6) == 0) {
            assert_true(allow_zero);
            return;
        }
        assert_int_equal(udp_sum(AF_INET, ip + 12, ip + 16, udp, ulen), 0xffff);
    } else {
        assert_int_equal(et, 0x86dd);
        udp = ip + 40;
        ulen = get16(udp + 4);
        assert_int_equal(get16(ip + 4), ulen);
        assert_int_equal(ulen + 54, len);
        assert_int_not_equal(get16(udp + 6), 0);
        assert_int_equal(udp_sum(AF_INET6, ip + 8, ip + 24, udp, ulen), 0xffff);
    }
}

/* ---- running the program ---- */

struct inst {
    struct xdp_prog *prog;
    int fd;
    int ingress; /* ifindex the frames come in by; 0: xt0 */
};

static struct inst main_inst;
static int ifindex_xt0, ifindex_xt1;

static uint32_t run(const struct inst *in, const uint8_t *frame, size_t len, uint8_t *out,
                    size_t *out_len)
{
    struct xdp_md ctx = {.data_end = (uint32_t)len,
                         .ingress_ifindex = (uint32_t)(in->ingress ? in->ingress : ifindex_xt0)};
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)len,
                .data_out = out, .data_size_out = FRAME_CAP, .ctx_in = &ctx,
                .ctx_size_in = sizeof(ctx), .repeat = 1);

    assert_int_equal(bpf_prog_test_run_opts(in->fd, &opts), 0);
    *out_len = opts.data_size_out;
    return opts.retval;
}

static void snapshot(const struct inst *in, struct xt_counter *c)
{
    assert_int_equal(xdp_prog_stats(in->prog, c), 0);
}

/* Every counter moved by exactly what is expected: want[k] packets, bytes[k] bytes. */
static void expect_deltas(const struct xt_counter *before, const struct xt_counter *after,
                          const uint64_t *want_packets, const uint64_t *want_bytes)
{
    for (int k = 0; k < XT_STAT_COUNT; k++) {
        uint64_t dp = after[k].packets - before[k].packets;
        uint64_t db = after[k].bytes - before[k].bytes;

        if (dp != want_packets[k] || db != want_bytes[k])
            fail_msg("counter %s: +%llu packets +%llu bytes, expected +%llu +%llu",
                     xdp_stat_name((enum xt_stat)k), (unsigned long long)dp, (unsigned long long)db,
                     (unsigned long long)want_packets[k], (unsigned long long)want_bytes[k]);
    }
}

/* Every binding of the table; with buckets, each allocation's --max-bps bucket is numbered by
 * its relay port (50001: bucket 1), as if every relayed address were an allocation of its own. */
static void bind_all(struct xdp_prog *prog, bool buckets)
{
    for (size_t i = 0; i < sizeof(bindings) / sizeof(bindings[0]); i++) {
        struct xt_addr c, p;
        uint32_t bucket = buckets ? bindings[i].relay_port - 50000u : 0;

        tep_addr(&bindings[i].client, &c);
        tep_addr(&bindings[i].peer, &p);
        assert_int_equal(
            xdp_prog_bind(prog, &c, bindings[i].channel, &p, bindings[i].relay_port, bucket), 0);
    }
}

/* What every instance is configured with (listen and relay address: xt0's; strict channel
 * range), packed by the daemon's own xdp_abi_cfg. */
static struct xdp_abi_settings base_settings(void)
{
    static struct xt_addr addrs[2];
    const struct tep l4 = LISTEN4, l6 = LISTEN6;

    tep_addr(&l4, &addrs[0]);
    tep_addr(&l6, &addrs[1]);
    return (struct xdp_abi_settings){.listen = addrs,
                                     .nlisten = 2,
                                     .relay = addrs,
                                     .nrelay = 2,
                                     .relay_port_lo = 49152,
                                     .relay_port_hi = 65535,
                                     .strict_channel_range = true,
                                     .cross_family = true};
}

static void options(struct xdp_options *o, const struct xdp_abi_settings *s)
{
    memset(o, 0, sizeof(*o));
    o->cfg = xdp_abi_cfg(s);
    o->map_entries = 1024;
}

static void base_options(struct xdp_options *o)
{
    const struct xdp_abi_settings s = base_settings();

    options(o, &s);
}

static void load(struct inst *in, const struct xdp_options *o)
{
    char err[1024] = "";

    in->prog = xdp_prog_load(o, err, sizeof(err));
    if (!in->prog)
        fail_msg("xdp_prog_load: %s", err);
    in->fd = xdp_prog_fd(in->prog);
    assert_true(in->fd >= 0);
}

/* ---- relayed cases: exact output frames ---- */

struct relay_case {
    const char *name;
    struct spec in;
    struct tep osrc, odst;
    uint16_t ochannel; /* output ChannelData channel; 0: raw */
    const uint8_t *dmac, *smac;
    uint32_t retval;
    int stats[3]; /* counters going up by one packet and in.len bytes; unused: 0 (c2p_44 never
                     appears after another entry) */
};

#define TX XDP_TX
static const struct relay_case relay_cases[] = {
    /* client -> peer, the four family pairs; odd and even lengths, padding, trailing bytes */
    {"c2p_44",
     {C4, LISTEN4, 0x4001, 37, 3, 0, 0},
     RELAY4(50001),
     P4,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_44}},
    {"c2p_46",
     {C4, LISTEN4, 0x4002, 41, 3, 0, 0},
     RELAY6(50002),
     P6,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_46}},
    {"c2p_64",
     {C6, LISTEN6, 0x4003, 100, 0, 0, 0},
     RELAY4(50003),
     P4,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_64}},
    {"c2p_66",
     {C6, LISTEN6, 0x4004, 333, 3, 0, 0},
     RELAY6(50004),
     P6,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_66}},
    /* peer -> client */
    {"p2c_44",
     {P4, RELAY4(50001), 0, 25, 0, 0, 0},
     LISTEN4,
     C4,
     0x4001,
     testnet_gw_c,
     testnet_mac_xt0,
     TX,
     {XT_P2C_44}},
    {"p2c_64",
     {P6, RELAY6(50002), 0, 26, 0, 0, 0},
     LISTEN4,
     C4,
     0x4002,
     testnet_gw_c,
     testnet_mac_xt0,
     TX,
     {XT_P2C_64}},
    {"p2c_46",
     {P4, RELAY4(50003), 0, 27, 0, 0, 0},
     LISTEN6,
     C6,
     0x4003,
     testnet_gw_c,
     testnet_mac_xt0,
     TX,
     {XT_P2C_46}},
    {"p2c_66",
     {P6, RELAY6(50004), 0, 1400, 0, 0, 0},
     LISTEN6,
     C6,
     0x4004,
     testnet_gw_c,
     testnet_mac_xt0,
     TX,
     {XT_P2C_66}},
    /* client -> client through two allocations of this relay, one pass */
    {"c2c_44",
     {CA4, LISTEN4, 0x4010, 50, 2, 0, 0},
     LISTEN4,
     CB4,
     0x4011,
     testnet_gw_c,
     testnet_mac_xt0,
     TX,
     {XT_C2P_44, XT_P2C_44, XT_C2C_SELF}},
    {"c2c_46",
     {CC4, LISTEN4, 0x4020, 51, 1, 0, 0},
     LISTEN6,
     CD6,
     0x4021,
     testnet_gw_c,
     testnet_mac_xt0,
     TX,
     {XT_C2P_46, XT_P2C_66, XT_C2C_SELF}},
    {"c2c_64",
     {CD6, LISTEN6, 0x4021, 52, 0, 0, 0},
     LISTEN4,
     CC4,
     0x4020,
     testnet_gw_c,
     testnet_mac_xt0,
     TX,
     {XT_C2P_66, XT_P2C_64, XT_C2C_SELF}},
    {"c2c_66",
     {CE6, LISTEN6, 0x4030, 53, 3, 0, 0},
     LISTEN6,
     CF6,
     0x4031,
     testnet_gw_c,
     testnet_mac_xt0,
     TX,
     {XT_C2P_66, XT_P2C_66, XT_C2C_SELF}},
    /* ChannelData lengths and padding: 0..3 padding bytes (non-zero), odd and even L */
    {"c2p_44 L=0",
     {C4, LISTEN4, 0x4001, 0, 0, 0, 0},
     RELAY4(50001),
     P4,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_44}},
    {"c2p_44 L=0 pad 3",
     {C4, LISTEN4, 0x4001, 0, 3, 0, 0},
     RELAY4(50001),
     P4,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_44}},
    {"c2p_44 L=1 pad 3",
     {C4, LISTEN4, 0x4001, 1, 3, 0, 0},
     RELAY4(50001),
     P4,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_44}},
    {"c2p_44 L=2 pad 2",
     {C4, LISTEN4, 0x4001, 2, 2, 0, 0},
     RELAY4(50001),
     P4,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_44}},
    {"c2p_44 L=3 pad 1",
     {C4, LISTEN4, 0x4001, 3, 1, 0, 0},
     RELAY4(50001),
     P4,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_44}},
    {"c2p_44 L=6 pad 1",
     {C4, LISTEN4, 0x4001, 6, 1, 0, 0},
     RELAY4(50001),
     P4,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_44}},
    {"c2p_44 L=7 pad 2",
     {C4, LISTEN4, 0x4001, 7, 2, 0, 0},
     RELAY4(50001),
     P4,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_44}},
    {"c2p_46 L=5 pad 3",
     {C4, LISTEN4, 0x4002, 5, 3, 0, 0},
     RELAY6(50002),
     P6,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_46}},
    {"c2p_64 L=9 pad 1",
     {C6, LISTEN6, 0x4003, 9, 1, 0, 0},
     RELAY4(50003),
     P4,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_64}},
    {"c2p_66 L=10 pad 2",
     {C6, LISTEN6, 0x4004, 10, 2, 0, 0},
     RELAY6(50004),
     P6,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_66}},
    /* Ethernet padding after the IP datagram (short frames padded to 60 bytes) */
    {"c2p_44 eth padding",
     {C4, LISTEN4, 0x4001, 1, 3, 10, 0},
     RELAY4(50001),
     P4,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_44}},
    {"p2c_44 eth padding",
     {P4, RELAY4(50001), 0, 3, 0, 15, 0},
     LISTEN4,
     C4,
     0x4001,
     testnet_gw_c,
     testnet_mac_xt0,
     TX,
     {XT_P2C_44}},
    {"p2c_64 eth padding",
     {P6, RELAY6(50002), 0, 1, 0, 7, 0},
     LISTEN4,
     C4,
     0x4002,
     testnet_gw_c,
     testnet_mac_xt0,
     TX,
     {XT_P2C_64}},
    /* IPv4 without UDP checksum, IPv4 out: relayed with checksum 0 */
    {"c2p_44 zero csum",
     {C4, LISTEN4, 0x4001, 21, 3, 0, 1},
     RELAY4(50001),
     P4,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_44}},
    {"p2c_44 zero csum",
     {P4, RELAY4(50001), 0, 21, 0, 0, 1},
     LISTEN4,
     C4,
     0x4001,
     testnet_gw_c,
     testnet_mac_xt0,
     TX,
     {XT_P2C_44}},
    /* exactly the egress MTU (1500): the IPv6 output is 1500 bytes */
    {"c2p_46 at MTU",
     {C4, LISTEN4, 0x4002, 1452, 0, 0, 0},
     RELAY6(50002),
     P6,
     0,
     testnet_gw_p,
     testnet_mac_xt0,
     TX,
     {XT_C2P_46}},
    {"p2c_44 at MTU",
     {P4, RELAY4(50001), 0, 1468, 0, 0, 0},
     LISTEN4,
     C4,
     0x4001,
     testnet_gw_c,
     testnet_mac_xt0,
     TX,
     {XT_P2C_44}},
    /* egress on another interface the program is attached to */
    {"c2p_44 redirect",
     {C4, LISTEN4, 0x4040, 30, 0, 0, 0},
     RELAY4(50040),
     P_REDIR4,
     0,
     testnet_gw_r,
     testnet_mac_xt1,
     XDP_REDIRECT,
     {XT_C2P_44}},
    {"c2p_66 redirect",
     {C6, LISTEN6, 0x4044, 31, 1, 0, 0},
     RELAY6(50044),
     P_REDIR6,
     0,
     testnet_gw_r,
     testnet_mac_xt1,
     XDP_REDIRECT,
     {XT_C2P_66}},
};

/* The case's frame with the IP fields l3_in: the output must have l3_out. */
static void run_relay_case_l3(const struct inst *in, const struct relay_case *c,
                              const struct l3 *l3_in, const struct l3 *l3_out)
{
    uint8_t frame[FRAME_CAP], out[FRAME_CAP], want[FRAME_CAP];
    size_t len, out_len, want_len;
    struct xt_counter before[XT_STAT_COUNT], after[XT_STAT_COUNT];
    uint64_t wp[XT_STAT_COUNT] = {0}, wb[XT_STAT_COUNT] = {0};
    struct spec o = {c->osrc, c->odst, c->ochannel, c->in.len, 0, 0, 0};
    uint32_t rv;

    /* "no checksum" stays so only IPv4 to IPv4 */
    o.zero_csum = c->in.zero_csum && c->osrc.fam == AF_INET;
    len = build_frame(frame, testnet_mac_xt0, testnet_gw_c, &c->in, l3_in);
    want_len = build_frame(want, c->dmac, c->smac, &o, l3_out);

    snapshot(in, before);
    rv = run(in, frame, len, out, &out_len);
    snapshot(in, after);

    if (rv != c->retval)
        fail_msg("%s: retval %u, expected %u", c->name, rv, c->retval);
    if (out_len != want_len || memcmp(out, want, want_len) != 0) {
        for (size_t i = 0; i < want_len && i < out_len; i++)
            if (out[i] != want[i]) {
                print_error("%s: first difference at byte %zu: %02x, expected %02x\n", c->name, i,
                            out[i], want[i]);
                break;
            }
        fail_msg("%s: output frame differs (%zu bytes, expected %zu)", c->name, out_len, want_len);
    }
    verify_checksums(out, out_len, o.zero_csum);

    for (int i = 0; i < 3; i++) {
        if (i > 0 && c->stats[i] == 0)
            break;
        wp[c->stats[i]]++;
        wb[c->stats[i]] += c->in.len;
    }
    expect_deltas(before, after, wp, wb);
}

static void run_relay_case(const struct inst *in, const struct relay_case *c)
{
    run_relay_case_l3(in, c, &L3_IN, &L3_OUT);
}

static const struct relay_case *relay_case(const char *name)
{
    for (size_t i = 0; i < sizeof(relay_cases) / sizeof(relay_cases[0]); i++)
        if (strcmp(relay_cases[i].name, name) == 0)
            return &relay_cases[i];
    fail_msg("no relay case %s", name);
    return NULL;
}

/* One cmocka test per table row: *state is the row. */
static void test_relay_case(void **state)
{
    run_relay_case(&main_inst, *state);
}

/* ---- passed up (byte-identical) or dropped ---- */

static uint8_t *udp_of(uint8_t *f)
{
    return f + 14 + (get16(f + 12) == 0x0800 ? 20 : 40);
}

static void fix_ip4_csum(uint8_t *f)
{
    uint8_t *ip = f + 14;
    size_t hl = (size_t)(ip[0] & 0xf) * 4;

    put16(ip + 10, 0);
    put16(ip + 10, (uint16_t)~fold(sum16(ip, hl, 0)));
}

static void m_cut(uint8_t *f, size_t *len, int arg)
{
    (void)f;
    *len = (size_t)arg;
}

static void m_ip_options(uint8_t *f, size_t *len, int arg)
{
    uint8_t *ip = f + 14;

    (void)arg;
    memmove(ip + 24, ip + 20, *len - 34);
    memset(ip + 20, 1, 4); /* NOPs */
    ip[0] = 0x46;
    put16(ip + 2, (uint16_t)(get16(ip + 2) + 4));
    *len += 4;
    fix_ip4_csum(f);
}

static void m_frag_off(uint8_t *f, size_t *len, int arg)
{
    (void)len;
    put16(f + 14 + 6, (uint16_t)arg);
    fix_ip4_csum(f);
}

static void m_protocol(uint8_t *f, size_t *len, int arg)
{
    (void)len;
    f[14 + 9] = (uint8_t)arg;
    fix_ip4_csum(f);
}

static void m_ethertype(uint8_t *f, size_t *len, int arg)
{
    (void)len;
    put16(f + 12, (uint16_t)arg);
}

/* VLAN tags after the MAC addresses, the frame's IP datagram unchanged after them: an 802.1Q
 * tag (VLAN 5), then with arg 2 an 802.1ad one around it (QinQ). */
static void m_vlan(uint8_t *f, size_t *len, int arg)
{
    for (int i = 0; i < arg; i++) {
        memmove(f + 16, f + 12, *len - 12);
        put16(f + 12, i == 0 ? 0x8100 : 0x88a8);
        put16(f + 14, (uint16_t)(5 + i));
        *len += 4;
    }
}

static void m_bad_ip_csum(uint8_t *f, size_t *len, int arg)
{
    (void)len;
    (void)arg;
    f[14 + 10] ^= 0x40;
}

/* TTL / hop limit = arg. */
static void m_ttl(uint8_t *f, size_t *len, int arg)
{
    (void)len;
    if (get16(f + 12) == 0x0800) {
        f[14 + 8] = (uint8_t)arg;
        fix_ip4_csum(f);
    } else {
        f[14 + 7] = (uint8_t)arg;
    }
}

/* IPv6: a hop-by-hop header (PadN) before UDP. */
static void m_ip6_hbh(uint8_t *f, size_t *len, int arg)
{
    uint8_t *ip = f + 14;
    const uint8_t hbh[8] = {17, 0, 1, 4, 0, 0, 0, 0};

    (void)arg;
    memmove(ip + 48, ip + 40, *len - 54);
    memcpy(ip + 40, hbh, 8);
    ip[6] = 0;
    put16(ip + 4, (uint16_t)(get16(ip + 4) + 8));
    *len += 8;
}

static void m_udp_csum(uint8_t *f, size_t *len, int arg)
{
    (void)len;
    put16(udp_of(f) + 6, (uint16_t)arg);
}

static void m_udp_len_delta(uint8_t *f, size_t *len, int arg)
{
    uint8_t *udp = udp_of(f);

    (void)len;
    put16(udp + 4, (uint16_t)(get16(udp + 4) + arg));
}

/* ChannelData length field = UDP payload - 4 + arg. */
static void m_cd_len(uint8_t *f, size_t *len, int arg)
{
    uint8_t *udp = udp_of(f);

    (void)len;
    put16(udp + 10, (uint16_t)(get16(udp + 4) - 12 + arg));
}

static void m_first_bytes(uint8_t *f, size_t *len, int arg)
{
    uint8_t *udp = udp_of(f);

    (void)len;
    put16(udp + 8, (uint16_t)arg);
}

struct pass_case {
    const char *name;
    struct spec in;
    void (*mutate)(uint8_t *f, size_t *len, int arg);
    int arg;
    uint32_t retval;
    int stat;
};

#define PASS XDP_PASS
static const struct pass_case pass_cases[] = {
    /* truncated at every header boundary: the IP length says more than there is */
    {"eth only", {C4, LISTEN4, 0x4001, 10, 0, 0, 0}, m_cut, 14, PASS, XT_PASS_TRUNCATED},
    {"half IPv4 header", {C4, LISTEN4, 0x4001, 10, 0, 0, 0}, m_cut, 24, PASS, XT_PASS_TRUNCATED},
    {"IPv4 header only", {C4, LISTEN4, 0x4001, 10, 0, 0, 0}, m_cut, 34, PASS, XT_PASS_TRUNCATED},
    {"half UDP header", {C4, LISTEN4, 0x4001, 10, 0, 0, 0}, m_cut, 38, PASS, XT_PASS_TRUNCATED},
    {"UDP header only", {C4, LISTEN4, 0x4001, 10, 0, 0, 0}, m_cut, 42, PASS, XT_PASS_TRUNCATED},
    {"half ChannelData header",
     {C4, LISTEN4, 0x4001, 10, 0, 0, 0},
     m_cut,
     44,
     PASS,
     XT_PASS_TRUNCATED},
    {"ChannelData header only",
     {C4, LISTEN4, 0x4001, 10, 0, 0, 0},
     m_cut,
     46,
     PASS,
     XT_PASS_TRUNCATED},
    {"payload cut", {C4, LISTEN4, 0x4001, 10, 0, 0, 0}, m_cut, 55, PASS, XT_PASS_TRUNCATED},
    {"half IPv6 header", {C6, LISTEN6, 0x4003, 10, 0, 0, 0}, m_cut, 34, PASS, XT_PASS_TRUNCATED},
    {"IPv6 header only", {C6, LISTEN6, 0x4003, 10, 0, 0, 0}, m_cut, 54, PASS, XT_PASS_TRUNCATED},
    {"IPv6 half UDP header",
     {C6, LISTEN6, 0x4003, 10, 0, 0, 0},
     m_cut,
     58,
     PASS,
     XT_PASS_TRUNCATED},
    {"IPv6 UDP header only",
     {C6, LISTEN6, 0x4003, 10, 0, 0, 0},
     m_cut,
     62,
     PASS,
     XT_PASS_TRUNCATED},
    {"IPv6 half ChannelData header",
     {C6, LISTEN6, 0x4003, 10, 0, 0, 0},
     m_cut,
     64,
     PASS,
     XT_PASS_TRUNCATED},
    {"IPv6 payload cut", {C6, LISTEN6, 0x4003, 10, 0, 0, 0}, m_cut, 75, PASS, XT_PASS_TRUNCATED},
    {"p2c payload cut", {P4, RELAY4(50001), 0, 10, 0, 0, 0}, m_cut, 51, PASS, XT_PASS_TRUNCATED},
    /* lengths consistent, but the datagram is shorter than a ChannelData header */
    {"ChannelData header in 2 bytes",
     {C4, LISTEN4, 0, 2, 0, 0, 0},
     m_first_bytes,
     0x4001,
     PASS,
     XT_PASS_TRUNCATED},
    {"UDP length > IP",
     {C4, LISTEN4, 0x4001, 10, 0, 0, 0},
     m_udp_len_delta,
     2,
     PASS,
     XT_PASS_TRUNCATED},
    {"UDP length < IP",
     {C4, LISTEN4, 0x4001, 10, 0, 0, 0},
     m_udp_len_delta,
     -2,
     PASS,
     XT_PASS_TRUNCATED},
    {"IPv6 UDP length > IP",
     {C6, LISTEN6, 0x4003, 10, 0, 0, 0},
     m_udp_len_delta,
     2,
     PASS,
     XT_PASS_TRUNCATED},
    /* ChannelData length beyond the datagram: dropped, as userspace would */
    {"CD length +1", {C4, LISTEN4, 0x4001, 10, 0, 0, 0}, m_cd_len, 1, XDP_DROP, XT_DROP_CD_LENGTH},
    {"CD length +1 with padding",
     {C4, LISTEN4, 0x4001, 10, 3, 0, 0},
     m_cd_len,
     1,
     XDP_DROP,
     XT_DROP_CD_LENGTH},
    {"IPv6 CD length +256",
     {C6, LISTEN6, 0x4003, 10, 0, 0, 0},
     m_cd_len,
     256,
     XDP_DROP,
     XT_DROP_CD_LENGTH},
    {"CD padding 4 bytes", {C4, LISTEN4, 0x4001, 10, 4, 0, 0}, NULL, 0, PASS, XT_PASS_PADDING},
    /* channels and peers */
    {"unbound channel", {C4, LISTEN4, 0x4fff, 10, 0, 0, 0}, NULL, 0, PASS, XT_PASS_NO_CHANNEL},
    {"unbound channel IPv6", {C6, LISTEN6, 0x4001, 10, 0, 0, 0}, NULL, 0, PASS, XT_PASS_NO_CHANNEL},
    {"channel > channel_hi", {C4, LISTEN4, 0x5000, 10, 0, 0, 0}, NULL, 0, PASS, XT_PASS_NO_CHANNEL},
    {"channel 0x7fff", {C4, LISTEN4, 0x7fff, 10, 0, 0, 0}, NULL, 0, PASS, XT_PASS_NO_CHANNEL},
    {"other client, bound channel",
     {CA4, LISTEN4, 0x4001, 10, 0, 0, 0},
     NULL,
     0,
     PASS,
     XT_PASS_NO_CHANNEL},
    {"unknown peer port",
     {{AF_INET, "198.18.20.2", 5001}, RELAY4(50001), 0, 10, 0, 0, 0},
     NULL,
     0,
     PASS,
     XT_PASS_NO_PEER},
    {"unknown relay port", {P4, RELAY4(50009), 0, 10, 0, 0, 0}, NULL, 0, PASS, XT_PASS_NO_PEER},
    {"unknown peer IPv6",
     {{AF_INET6, "2001:db8:20::9", 5000}, RELAY6(50004), 0, 10, 0, 0, 0},
     NULL,
     0,
     PASS,
     XT_PASS_NO_PEER},
    {"self, not bound back", {C4, LISTEN4, 0x4045, 10, 0, 0, 0}, NULL, 0, PASS, XT_PASS_NO_PEER},
    /* not for the relay */
    {"other port",
     {C4, {AF_INET, "198.18.0.1", 53}, 0, 10, 0, 0, 0},
     NULL,
     0,
     PASS,
     XT_PASS_NOT_RELAY},
    {"below the relay range",
     {P4, RELAY4(40000), 0, 10, 0, 0, 0},
     NULL,
     0,
     PASS,
     XT_PASS_NOT_RELAY},
    {"other address",
     {C4, {AF_INET, "198.18.0.9", 3478}, 0x4001, 10, 0, 0, 0},
     NULL,
     0,
     PASS,
     XT_PASS_NOT_RELAY},
    {"other address IPv6",
     {C6, {AF_INET6, "2001:db8::9", 3478}, 0x4003, 10, 0, 0, 0},
     NULL,
     0,
     PASS,
     XT_PASS_NOT_RELAY},
    /* control traffic */
    {"STUN to the listen port",
     {C4, LISTEN4, 0, 20, 0, 0, 0},
     m_first_bytes,
     0x0001,
     PASS,
     XT_PASS_STUN},
    {"STUN IPv6", {C6, LISTEN6, 0, 20, 0, 0, 0}, m_first_bytes, 0x0101, PASS, XT_PASS_STUN},
    {"empty datagram to the listen port",
     {C4, LISTEN4, 0, 0, 0, 0, 0},
     NULL,
     0,
     PASS,
     XT_PASS_STUN},
    /* IP features left to the kernel */
    {"IPv4 options", {C4, LISTEN4, 0x4001, 10, 0, 0, 0}, m_ip_options, 0, PASS, XT_PASS_IP_OPTIONS},
    {"first fragment (MF)",
     {C4, LISTEN4, 0x4001, 10, 0, 0, 0},
     m_frag_off,
     0x2000,
     PASS,
     XT_PASS_FRAGMENT},
    {"later fragment",
     {C4, LISTEN4, 0x4001, 10, 0, 0, 0},
     m_frag_off,
     0x0010,
     PASS,
     XT_PASS_FRAGMENT},
    {"IPv6 hop-by-hop header",
     {C6, LISTEN6, 0x4003, 10, 0, 0, 0},
     m_ip6_hbh,
     0,
     PASS,
     XT_PASS_NOT_UDP},
    {"TCP", {C4, LISTEN4, 0x4001, 10, 0, 0, 0}, m_protocol, 6, PASS, XT_PASS_NOT_UDP},
    {"ARP", {C4, LISTEN4, 0x4001, 10, 0, 0, 0}, m_ethertype, 0x0806, PASS, XT_PASS_NOT_IP},
    /* tagged ChannelData of bound channels: the kernel's VLAN device takes them */
    {"VLAN 802.1Q", {C4, LISTEN4, 0x4001, 10, 0, 0, 0}, m_vlan, 1, PASS, XT_PASS_VLAN},
    {"VLAN 802.1Q IPv6 peer", {P6, RELAY6(50004), 0, 10, 0, 0, 0}, m_vlan, 1, PASS, XT_PASS_VLAN},
    {"VLAN 802.1ad (QinQ)", {C6, LISTEN6, 0x4004, 10, 0, 0, 0}, m_vlan, 2, PASS, XT_PASS_VLAN},
    /* checksums */
    {"bad IPv4 header checksum",
     {C4, LISTEN4, 0x4001, 10, 0, 0, 0},
     m_bad_ip_csum,
     0,
     PASS,
     XT_PASS_BAD_CSUM},
    {"IPv6 UDP checksum 0",
     {C6, LISTEN6, 0x4003, 10, 0, 0, 0},
     m_udp_csum,
     0,
     PASS,
     XT_PASS_BAD_CSUM},
    {"IPv6 UDP checksum 0 from a peer",
     {P6, RELAY6(50004), 0, 10, 0, 0, 0},
     m_udp_csum,
     0,
     PASS,
     XT_PASS_BAD_CSUM},
    {"zero csum c2p 4 -> 6", {C4, LISTEN4, 0x4002, 10, 0, 0, 1}, NULL, 0, PASS, XT_PASS_ZERO_CSUM},
    {"zero csum p2c 4 -> 6", {P4, RELAY4(50003), 0, 10, 0, 0, 1}, NULL, 0, PASS, XT_PASS_ZERO_CSUM},
    {"zero csum c2c 4 -> 6", {CC4, LISTEN4, 0x4020, 10, 0, 0, 1}, NULL, 0, PASS, XT_PASS_ZERO_CSUM},
    /* next hop */
    {"over the MTU c2p 4 -> 6", {C4, LISTEN4, 0x4002, 1453, 0, 0, 0}, NULL, 0, PASS, XT_PASS_MTU},
    {"over the MTU p2c 4 -> 4", {P4, RELAY4(50001), 0, 1469, 0, 0, 0}, NULL, 0, PASS, XT_PASS_MTU},
    {"no neighbour", {C4, LISTEN4, 0x4042, 10, 0, 0, 0}, NULL, 0, PASS, XT_PASS_NO_NEIGH},
    {"no route", {C4, LISTEN4, 0x4043, 10, 0, 0, 0}, NULL, 0, PASS, XT_PASS_FIB},
    {"interface not driven",
     {C4, LISTEN4, 0x4041, 10, 0, 0, 0},
     NULL,
     0,
     PASS,
     XT_PASS_OTHER_IFACE},
};

static void run_pass_case(const struct inst *in, const struct pass_case *c)
{
    uint8_t frame[FRAME_CAP], out[FRAME_CAP];
    size_t len, out_len;
    struct xt_counter before[XT_STAT_COUNT], after[XT_STAT_COUNT];
    uint64_t wp[XT_STAT_COUNT] = {0}, wb[XT_STAT_COUNT] = {0};
    uint32_t rv;

    len = build_frame(frame, testnet_mac_xt0, testnet_gw_c, &c->in, &L3_IN);
    if (c->mutate)
        c->mutate(frame, &len, c->arg);

    snapshot(in, before);
    rv = run(in, frame, len, out, &out_len);
    snapshot(in, after);

    if (rv != c->retval)
        fail_msg("%s: retval %u, expected %u", c->name, rv, c->retval);
    if (rv == XDP_PASS && (out_len != len || memcmp(out, frame, len) != 0))
        fail_msg("%s: the frame passed up was changed", c->name);
    wp[c->stat] = 1;
    wb[c->stat] = len;
    expect_deltas(before, after, wp, wb);
}

static const struct pass_case *pass_case_named(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(pass_cases); i++)
        if (strcmp(pass_cases[i].name, name) == 0)
            return &pass_cases[i];
    fail_msg("no pass case %s", name);
    return NULL;
}

static void test_pass_case(void **state)
{
    run_pass_case(&main_inst, *state);
}

/* ---- TTL / hop limit (RFC 8656 14): 0 dropped, any other one less ---- */

struct ttl_case {
    char name[32];
    const char *path; /* the relay case whose frame arrives with this TTL */
    uint8_t ttl;
};

/* Every family pair both ways, and relay to self (one hop: decremented once). */
static const char *const ttl_paths[] = {"c2p_44", "c2p_46", "c2p_64", "c2p_66", "p2c_44",
                                        "p2c_46", "p2c_64", "p2c_66", "c2c_44", "c2c_66"};
static const uint8_t ttl_values[] = {0, 1, 64};
static struct ttl_case ttl_cases[ARRAY_LEN(ttl_paths) * ARRAY_LEN(ttl_values)];

static void ttl_cases_fill(void)
{
    for (size_t i = 0; i < ARRAY_LEN(ttl_cases); i++) {
        struct ttl_case *t = &ttl_cases[i];

        t->path = ttl_paths[i / ARRAY_LEN(ttl_values)];
        t->ttl = ttl_values[i % ARRAY_LEN(ttl_values)];
        snprintf(t->name, sizeof(t->name), "%s TTL %u", t->path, t->ttl);
    }
}

static void test_ttl_case(void **state)
{
    const struct ttl_case *t = *state;
    const struct relay_case *c = relay_case(t->path);
    struct l3 l3_in = L3_IN, l3_out = L3_OUT;

    if (t->ttl == 0) {
        const struct pass_case drop = {t->name, c->in, m_ttl, 0, XDP_DROP, XT_DROP_TTL};

        run_pass_case(&main_inst, &drop);
        return;
    }
    l3_in.ttl = t->ttl;
    l3_out.ttl = (uint8_t)(t->ttl - 1);
    run_relay_case_l3(&main_inst, c, &l3_in, &l3_out);
}

/* ---- martian sources: dropped when addressed to us, as the kernel would ---- */

/* The test network's addresses other than the listen and relay address (xt1's, xt2's), put in
 * host_addrs by group_setup as the daemon would. */
static const struct tep host_addrs_setup[] = {
    {AF_INET, "198.18.1.1", 0}, {AF_INET6, "2001:db8:1::1", 0}, {AF_INET, "198.18.2.1", 0}};

static const char *const martian4[] = {"198.18.0.1", /* the listen and relay address */
                                       "198.18.1.1", /* another of the host's, in host_addrs */
                                       "127.0.0.1",       "127.1.2.3", "224.0.0.1",
                                       "239.255.255.250", "0.0.0.0",   "0.1.2.3",
                                       "255.255.255.255"};
static const char *const martian6[] = {
    "2001:db8::1",   /* the listen and relay address */
    "2001:db8:1::1", /* another of the host's, in host_addrs */
    "::1",           "ff02::1", "ff0e::101", "::", "::ffff:198.18.20.2"};

/* A martian source instead of the source of a relay case's frame: c2p_xx (ChannelData to the
 * listen port) or p2c_xx (to a relayed address with a channel bound to the peer). */
struct martian_case {
    char name[64];
    const char *src;
    const char *path;
};

static struct martian_case martian_cases[2 * (ARRAY_LEN(martian4) + ARRAY_LEN(martian6))];

static void martian_cases_fill(void)
{
    for (size_t i = 0; i < ARRAY_LEN(martian_cases); i++) {
        struct martian_case *m = &martian_cases[i];
        size_t k = i / 2;
        bool v6 = k >= ARRAY_LEN(martian4), to_listen = i % 2 == 0;

        m->src = v6 ? martian6[k - ARRAY_LEN(martian4)] : martian4[k];
        m->path = to_listen ? (v6 ? "c2p_66" : "c2p_44") : (v6 ? "p2c_66" : "p2c_44");
        snprintf(m->name, sizeof(m->name), "martian %s to %s", m->src,
                 to_listen ? "the listen port" : "a relayed address");
    }
}

/* The frame from the martian source is dropped and counted, the same frame from the binding's
 * own source is relayed. */
static void test_martian_case(void **state)
{
    const struct martian_case *m = *state;
    const struct relay_case *c = relay_case(m->path);
    struct pass_case drop = {m->name, c->in, NULL, 0, XDP_DROP, XT_DROP_MARTIAN};

    drop.in.src.ip = m->src;
    run_pass_case(&main_inst, &drop);
    run_relay_case(&main_inst, c);
}

/* Shorter than an Ethernet header: bpf_prog_test_run refuses such input (EINVAL), drivers do
 * not deliver it, so the program's check for it cannot be run here. */
static void test_runt_frame(void **state)
{
    uint8_t frame[13] = {0}, out[FRAME_CAP];
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = sizeof(frame),
                .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

    (void)state;
    assert_int_equal(bpf_prog_test_run_opts(main_inst.fd, &opts), -EINVAL);
}

/* ---- a second instance with translation off ---- */

static void test_cross_family_off(void **state)
{
    struct xdp_abi_settings settings = base_settings();
    struct xdp_options o;
    struct inst in = {0};
    static const struct pass_case cross[] = {
        {"c2p 4 -> 6", {C4, LISTEN4, 0x4002, 10, 0, 0, 0}, NULL, 0, PASS, XT_PASS_CROSS_FAMILY},
        {"c2p 6 -> 4", {C6, LISTEN6, 0x4003, 10, 0, 0, 0}, NULL, 0, PASS, XT_PASS_CROSS_FAMILY},
        {"p2c 6 -> 4", {P6, RELAY6(50002), 0, 10, 0, 0, 0}, NULL, 0, PASS, XT_PASS_CROSS_FAMILY},
        {"p2c 4 -> 6", {P4, RELAY4(50003), 0, 10, 0, 0, 0}, NULL, 0, PASS, XT_PASS_CROSS_FAMILY},
        {"c2c 4 -> 6", {CC4, LISTEN4, 0x4020, 10, 0, 0, 0}, NULL, 0, PASS, XT_PASS_CROSS_FAMILY},
    };

    (void)state;
    settings.cross_family = false;
    options(&o, &settings);
    load(&in, &o);
    bind_all(in.prog, false);
    for (size_t i = 0; i < sizeof(cross) / sizeof(cross[0]); i++)
        run_pass_case(&in, &cross[i]);
    /* same family still relayed */
    run_relay_case(&in, relay_case("c2p_44"));
    run_relay_case(&in, relay_case("p2c_44"));
    run_relay_case(&in, relay_case("c2c_44"));
    xdp_prog_close(in.prog);
}

/* ---- loader: bindings ---- */

static void test_unbind(void **state)
{
    const struct tep client = {AF_INET, "198.18.10.77", 41000}, peer = P6;
    const struct relay_case c2p = {"c2p",
                                   {client, LISTEN4, 0x4077, 12, 0, 0, 0},
                                   RELAY6(50077),
                                   P6,
                                   0,
                                   testnet_gw_p,
                                   testnet_mac_xt0,
                                   TX,
                                   {XT_C2P_46}};
    const struct relay_case p2c = {"p2c",           {P6, RELAY6(50077), 0, 12, 0, 0, 0},
                                   LISTEN4,         client,
                                   0x4077,          testnet_gw_c,
                                   testnet_mac_xt0, TX,
                                   {XT_P2C_64}};
    const struct pass_case gone[] = {
        {"c2p after unbind",
         {client, LISTEN4, 0x4077, 12, 0, 0, 0},
         NULL,
         0,
         PASS,
         XT_PASS_NO_CHANNEL},
        {"p2c after unbind", {P6, RELAY6(50077), 0, 12, 0, 0, 0}, NULL, 0, PASS, XT_PASS_NO_PEER},
    };
    struct xt_addr c, p;

    (void)state;
    tep_addr(&client, &c);
    tep_addr(&peer, &p);
    assert_int_equal(xdp_prog_bind(main_inst.prog, &c, 0x4077, &p, 50077, 0), 0);
    run_relay_case(&main_inst, &c2p);
    run_relay_case(&main_inst, &p2c);
    assert_int_equal(xdp_prog_unbind(main_inst.prog, &c, 0x4077, &p, 50077), 0);
    run_pass_case(&main_inst, &gone[0]);
    run_pass_case(&main_inst, &gone[1]);
    /* missing entries are not an error */
    assert_int_equal(xdp_prog_unbind(main_inst.prog, &c, 0x4077, &p, 50077), 0);
    /* bad family */
    c.family = 0;
    assert_int_equal(xdp_prog_bind(main_inst.prog, &c, 0x4077, &p, 50077, 0), -EAFNOSUPPORT);
}

static void test_map_full(void **state)
{
    struct xdp_options o;
    struct inst in = {0};
    struct xt_addr c, p;
    const struct tep client = C4;
    char ip[32];

    (void)state;
    base_options(&o);
    o.map_entries = 4;
    load(&in, &o);
    tep_addr(&client, &c);

    /* p2c_44 fills first: four peers for the same (client, channel) */
    for (int i = 0; i < 4; i++) {
        const struct tep peer = {AF_INET, ip, 5000};

        snprintf(ip, sizeof(ip), "198.18.20.%d", 10 + i);
        tep_addr(&peer, &p);
        assert_int_equal(xdp_prog_bind(in.prog, &c, 0x4001, &p, 50001, 0), 0);
    }
    {
        const struct tep peer = {AF_INET, "198.18.20.99", 5000};
        const struct pass_case none = {
            "rolled back", {C4, LISTEN4, 0x4002, 10, 0, 0, 0}, NULL, 0, PASS, XT_PASS_NO_CHANNEL};

        tep_addr(&peer, &p);
        /* c2p_44 has room (one entry), p2c_44 is full: the c2p insert is undone */
        assert_int_equal(xdp_prog_bind(in.prog, &c, 0x4002, &p, 50002, 0), -ENOSPC);
        run_pass_case(&in, &none);
        /* an update of an existing binding still works */
        snprintf(ip, sizeof(ip), "198.18.20.%d", 10);
        {
            const struct tep again = {AF_INET, ip, 5000};

            tep_addr(&again, &p);
            assert_int_equal(xdp_prog_bind(in.prog, &c, 0x4001, &p, 50001, 0), 0);
        }
    }
    /* c2p_44 full: four more clients */
    for (int i = 0; i < 3; i++) {
        const struct tep cl = {AF_INET, "198.18.10.2", (uint16_t)(41000 + i)};
        const struct tep peer = {AF_INET, "198.18.20.10", 5000};

        tep_addr(&cl, &c);
        tep_addr(&peer, &p);
        assert_int_equal(xdp_prog_bind(in.prog, &c, 0x4001, &p, 50001, 0), 0);
    }
    {
        const struct tep cl = {AF_INET, "198.18.10.2", 42000};

        tep_addr(&cl, &c);
        assert_int_equal(xdp_prog_bind(in.prog, &c, 0x4001, &p, 50001, 0), -ENOSPC);
    }
    xdp_prog_close(in.prog);
}

/* ---- --max-bps: a bucket per allocation (src/common/gcra.h) ----
 * Each test gets a fresh instance with max_bps = RATE_BPS (rate_setup), every channel bound with
 * its allocation's bucket (bind_all). A bucket is a time: how full it is follows from the clock,
 * so the tests set it relative to now (bucket_fill) and check its word by exact differences,
 * while it stays ahead of now; at 200 bytes/s a byte is 5 ms, far more than a test step. */

#define RATE_BPS 200
#define NS_PER_S 1000000000ULL

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts); /* bpf_ktime_get_ns's clock */
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* The program's map named `name`, found through the maps it uses (the loader keeps its own). */
static int prog_map_fd(const struct inst *in, const char *name)
{
    uint32_t ids[32];
    struct bpf_prog_info info = {0};
    uint32_t len = sizeof(info);

    info.nr_map_ids = 32;
    info.map_ids = (uint64_t)(uintptr_t)ids;
    assert_int_equal(bpf_obj_get_info_by_fd(in->fd, &info, &len), 0);
    for (uint32_t i = 0; i < info.nr_map_ids && i < 32; i++) {
        struct bpf_map_info mi = {0};
        uint32_t mlen = sizeof(mi);
        int fd = bpf_map_get_fd_by_id(ids[i]);

        assert_true(fd >= 0);
        if (bpf_obj_get_info_by_fd(fd, &mi, &mlen) == 0 && strcmp(mi.name, name) == 0)
            return fd;
        close(fd);
    }
    fail_msg("no map %s", name);
    return -1;
}

/* A relay case of the table with another payload length (and no ChannelData padding). */
static struct relay_case sized(const char *name, uint16_t len)
{
    struct relay_case c = *relay_case(name);

    c.in.len = len;
    c.in.pad = 0;
    return c;
}

/* The same frame as sized(name, len), expected passed up or dropped for `stat`. */
static struct pass_case sized_pass(const char *name, uint16_t len, uint32_t retval, int stat)
{
    struct pass_case p = {name, relay_case(name)->in, NULL, 0, retval, stat};

    p.in.len = len;
    p.in.pad = 0;
    return p;
}

#define DROPPED(name, len) sized_pass(name, len, XDP_DROP, XT_DROP_RATE)
#define NO_RATE(name, len) sized_pass(name, len, XDP_PASS, XT_PASS_NO_RATE)

static struct inst rate_inst;

/* Bucket i's word, in the mapping the daemon uses too. */
static uint64_t *bucket(uint32_t i)
{
    uint32_t n;
    struct xt_bucket *b = xdp_prog_buckets(rate_inst.prog, &n);

    assert_true(i < n);
    return (uint64_t *)&b[i].tat;
}

/* Bucket i holding `bytes` right now. */
static void bucket_fill(uint32_t i, uint64_t bytes)
{
    *bucket(i) = mono_ns() + NS_PER_S - gcra_cost(bytes, RATE_BPS);
}

static int rate_setup(void **state)
{
    static int printed;
    struct xdp_abi_settings settings = base_settings();
    struct xdp_options o;
    struct bpf_prog_info info = {0};
    uint32_t info_len = sizeof(info);

    (void)state;
    settings.max_bps = RATE_BPS;
    options(&o, &settings);
    load(&rate_inst, &o);
    if (!printed && bpf_obj_get_info_by_fd(rate_inst.fd, &info, &info_len) == 0 && ++printed)
        print_message("xturn_xdp with max_bps: %u instructions verified, %u translated\n",
                      info.verified_insns, info.xlated_prog_len / 8);
    bind_all(rate_inst.prog, true);
    return 0;
}

static int rate_teardown(void **state)
{
    (void)state;
    xdp_prog_close(rate_inst.prog);
    return 0;
}

/* One bucket per binding map entry and one more (index 0 is "none"); a binding cannot name one
 * beyond them; without max_bps there is only index 0. */
static void test_rate_buckets(void **state)
{
    const struct tep c = C4, p = P4;
    struct xt_addr ca, pa;
    uint32_t n;

    (void)state;
    assert_non_null(xdp_prog_buckets(rate_inst.prog, &n));
    assert_int_equal(n, 1024 + 1);
    tep_addr(&c, &ca);
    tep_addr(&p, &pa);
    assert_int_equal(xdp_prog_bind(rate_inst.prog, &ca, 0x4001, &pa, 50001, n), -ERANGE);
    assert_non_null(xdp_prog_buckets(main_inst.prog, &n));
    assert_int_equal(n, 1);
    assert_int_equal(xdp_prog_bind(main_inst.prog, &ca, 0x4001, &pa, 50001, 1), -ERANGE);
}

/* Both directions of an allocation draw from its bucket until it is empty. */
static void test_rate_both_directions(void **state)
{
    struct relay_case c50 = sized("c2p_44", 50), p50 = sized("p2c_44", 50);
    struct relay_case c0 = sized("c2p_44", 0), c99 = sized("c2p_44", 99);
    struct pass_case p1 = DROPPED("p2c_44", 1), c60d = DROPPED("c2p_44", 60);
    struct pass_case c100d = DROPPED("c2p_44", 100);
    uint64_t t;

    (void)state;
    bucket_fill(1, 150);
    t = *bucket(1);
    run_relay_case(&rate_inst, &c50);
    assert_int_equal(*bucket(1), t + gcra_cost(50, RATE_BPS));
    run_relay_case(&rate_inst, &p50);
    assert_int_equal(*bucket(1), t + 2 * gcra_cost(50, RATE_BPS));
    /* 50 left: 60 dropped (counted as drop_rate with the frame's bytes), nothing taken */
    run_pass_case(&rate_inst, &c60d);
    assert_int_equal(*bucket(1), t + 2 * gcra_cost(50, RATE_BPS));
    run_relay_case(&rate_inst, &c50);
    /* empty: dropped either direction; an empty payload costs nothing */
    run_pass_case(&rate_inst, &p1);
    run_relay_case(&rate_inst, &c0);
    /* exactly as many bytes as the datagram: relayed; one fewer: dropped */
    bucket_fill(1, 99);
    run_pass_case(&rate_inst, &c100d);
    run_relay_case(&rate_inst, &c99);
    /* other allocations are not affected */
    assert_int_equal(*bucket(4), 0);
}

/* An IPv6 client's allocation, and the cross-family paths: the same word. */
static void test_rate_ipv6(void **state)
{
    struct relay_case p140 = sized("p2c_66", 140), c50 = sized("c2p_66", 50);
    struct pass_case c61 = DROPPED("c2p_66", 61);

    (void)state;
    bucket_fill(4, 200);
    run_relay_case(&rate_inst, &p140);
    run_pass_case(&rate_inst, &c61);
    run_relay_case(&rate_inst, &c50);
    assert_int_equal(*bucket(2), 0);
}

/* Issue 10, finding 12: one limit per allocation, whichever relayed address and path carry its
 * bytes. An allocation with an IPv4 and an IPv6 relayed address (channels to P4 through 50001
 * and to P6 through 50002, one bucket) gets its limit once, not once per relayed address; and
 * what userspace takes from the word (as the TURN core does) counts for XDP too. */
static void test_rate_one_limit_per_allocation(void **state)
{
    const struct tep c = C4, p6 = P6;
    struct relay_case to4 = sized("c2p_44", 80), to6 = sized("c2p_46", 80);
    struct pass_case to6d = DROPPED("c2p_46", 80), to4d = DROPPED("c2p_44", 80);
    struct xt_addr ca, pa;

    (void)state;
    tep_addr(&c, &ca);
    tep_addr(&p6, &pa);
    assert_int_equal(xdp_prog_bind(rate_inst.prog, &ca, 0x4002, &pa, 50002, 1), 0);
    bucket_fill(1, 120);
    run_relay_case(&rate_inst, &to4);
    run_pass_case(&rate_inst, &to6d); /* 40 left, whichever relayed address */
    bucket_fill(1, 120);
    run_relay_case(&rate_inst, &to6);
    run_pass_case(&rate_inst, &to4d);
    /* userspace relays 100 bytes of the allocation: XDP has 20 left */
    bucket_fill(1, 120);
    assert_true(gcra_take(bucket(1), mono_ns(), gcra_cost(100, RATE_BPS)));
    run_pass_case(&rate_inst, &to4d);
}

/* Relay to self in one pass: the sender's allocation (50010) and the receiver's (50011) both
 * pay; the sender pays even when the receiver's bucket drops it, as in userspace. */
static void test_rate_self(void **state)
{
    struct relay_case c50 = sized("c2c_44", 50);
    struct pass_case d50 = DROPPED("c2c_44", 50);
    uint64_t t10, t11;

    (void)state;
    bucket_fill(10, 150);
    bucket_fill(11, 150);
    t10 = *bucket(10);
    t11 = *bucket(11);
    run_relay_case(&rate_inst, &c50);
    assert_int_equal(*bucket(10), t10 + gcra_cost(50, RATE_BPS));
    assert_int_equal(*bucket(11), t11 + gcra_cost(50, RATE_BPS));
    /* the receiver's bucket is short */
    bucket_fill(11, 10);
    t10 = *bucket(10);
    t11 = *bucket(11);
    run_pass_case(&rate_inst, &d50);
    assert_int_equal(*bucket(10), t10 + gcra_cost(50, RATE_BPS));
    assert_int_equal(*bucket(11), t11);
    /* the sender's is: neither pays */
    bucket_fill(10, 10);
    bucket_fill(11, 150);
    t10 = *bucket(10);
    t11 = *bucket(11);
    run_pass_case(&rate_inst, &d50);
    assert_int_equal(*bucket(10), t10);
    assert_int_equal(*bucket(11), t11);
}

/* A binding without a bucket: passed up unchanged (userspace applies the limit), nothing
 * charged, not even the other allocation's when relaying to self. */
static void test_rate_missing(void **state)
{
    const struct tep c = C4, p = P4, cb = CB4, r10 = RELAY4(50010);
    struct pass_case c2p = NO_RATE("c2p_44", 10), p2c = NO_RATE("p2c_44", 10);
    struct pass_case self = NO_RATE("c2c_44", 50);
    struct xt_addr ca, pa;
    uint64_t t10;

    (void)state;
    tep_addr(&c, &ca);
    tep_addr(&p, &pa);
    assert_int_equal(xdp_prog_bind(rate_inst.prog, &ca, 0x4001, &pa, 50001, 0), 0);
    run_pass_case(&rate_inst, &c2p);
    run_pass_case(&rate_inst, &p2c);
    tep_addr(&cb, &ca);
    tep_addr(&r10, &pa);
    assert_int_equal(xdp_prog_bind(rate_inst.prog, &ca, 0x4011, &pa, 50011, 0), 0);
    bucket_fill(10, 150);
    t10 = *bucket(10);
    run_pass_case(&rate_inst, &self);
    assert_int_equal(*bucket(10), t10);
}

/* Full after a second or more without traffic, never fuller; refilled by elapsed time with
 * nothing lost to rounding (an 8-byte datagram costs 40 ms: ten of them at 1 ms intervals
 * still refill the 10 ms that passed). */
static void test_rate_refill(void **state)
{
    struct relay_case c200 = sized("c2p_44", 200), c10 = sized("c2p_44", 10);
    struct pass_case d1 = DROPPED("c2p_44", 1), d30 = DROPPED("c2p_44", 30);
    uint64_t t0;

    (void)state;
    *bucket(1) = 0; /* long ago */
    run_relay_case(&rate_inst, &c200);
    run_pass_case(&rate_inst, &d1);
    /* 100 ms later at least 20 bytes are back: 10 pass, and not 30 more at once */
    *bucket(1) = mono_ns() + NS_PER_S; /* empty now */
    t0 = mono_ns();
    usleep(100 * 1000);
    run_relay_case(&rate_inst, &c10);
    if (mono_ns() - t0 < 150 * 1000 * 1000) /* unless this process stalled */
        run_pass_case(&rate_inst, &d30);
}

/* ---- loader: attach, detach, errors, names ---- */

static uint32_t attached_id(const char *ifname, int mode_flag)
{
    uint32_t id = 0;

    assert_int_equal(bpf_xdp_query_id((int)if_nametoindex(ifname), mode_flag, &id), 0);
    return id;
}

static void test_attach_detach(void **state)
{
    struct xdp_options o;
    struct inst in = {0};
    struct bpf_prog_info info = {0};
    uint32_t info_len = sizeof(info);
    char err[256] = "";

    (void)state;
    base_options(&o);
    load(&in, &o);
    assert_int_equal(bpf_obj_get_info_by_fd(in.fd, &info, &info_len), 0);

    /* a bridge has no native XDP: native with the fallback ends generic (with a warning) */
    assert_int_equal(xdp_prog_attach(in.prog, "xtd0", XDP_ATTACH_NATIVE, true, err, sizeof(err)),
                     0);
    assert_int_equal(attached_id("xtd0", XDP_FLAGS_SKB_MODE), info.id);
    assert_int_equal(xdp_prog_attach(in.prog, "xt2", XDP_ATTACH_GENERIC, false, err, sizeof(err)),
                     0);
    assert_int_equal(attached_id("xt2", XDP_FLAGS_SKB_MODE), info.id);
    /* errors */
    assert_int_equal(xdp_prog_attach(in.prog, "xt2", XDP_ATTACH_GENERIC, false, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "xt2"));
    assert_int_equal(
        xdp_prog_attach(in.prog, "nosuchif0", XDP_ATTACH_NATIVE, true, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "nosuchif0"));
    assert_int_equal(xdp_prog_attach(in.prog, "xtd0", XDP_ATTACH_NATIVE, false, err, sizeof(err)),
                     -1);
    /* the main instance holds xt1 through its link: refused, and left to it */
    assert_int_equal(xdp_prog_attach(in.prog, "xt1", XDP_ATTACH_NATIVE, false, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "another program holds the interface"));

    xdp_prog_close(in.prog);
    assert_int_equal(attached_id("xtd0", 0), 0);
    assert_int_equal(attached_id("xt2", 0), 0);
    /* the main instance is still attached natively to xt1 */
    memset(&info, 0, sizeof(info));
    assert_int_equal(bpf_obj_get_info_by_fd(main_inst.fd, &info, &info_len), 0);
    assert_int_equal(attached_id("xt1", XDP_FLAGS_DRV_MODE), info.id);
}

static void test_load_error(void **state)
{
    struct xdp_options o;
    char err[512] = "";

    (void)state;
    base_options(&o);
    o.map_entries = UINT32_MAX; /* no hash map that large */
    assert_null(xdp_prog_load(&o, err, sizeof(err)));
    assert_true(strlen(err) > 0);
    print_message("load error reported: %s\n", err);
}

static void test_stat_names(void **state)
{
    (void)state;
    for (int i = 0; i < XT_STAT_COUNT; i++) {
        const char *n = xdp_stat_name((enum xt_stat)i);

        assert_string_not_equal(n, "unknown");
        for (const char *s = n; *s; s++)
            assert_true((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_');
        for (int j = 0; j < i; j++)
            assert_string_not_equal(n, xdp_stat_name((enum xt_stat)j));
    }
    assert_string_equal(xdp_stat_name(XT_C2P_44), "c2p_44");
    assert_string_equal(xdp_stat_name(XT_PASS_NO_CHANNEL), "pass_no_channel");
    assert_string_equal(xdp_stat_name(XT_STAT_COUNT), "unknown");
}

/* The class of every counter, and the metrics' reason label of pass and drop reasons. */
static void test_stat_classes(void **state)
{
    static const char *const prefix[] = {[XT_CLASS_PASS] = "pass_", [XT_CLASS_DROP] = "drop_"};

    (void)state;
    for (int i = 0; i < XT_STAT_COUNT; i++) {
        enum xt_stat_class c = xdp_stat_class((enum xt_stat)i);
        const char *n = xdp_stat_name((enum xt_stat)i), *r = xdp_stat_reason((enum xt_stat)i);

        if (i <= XT_P2C_66)
            assert_int_equal(c, XT_CLASS_PATH);
        else if (i == XT_C2C_SELF)
            assert_int_equal(c, XT_CLASS_SELF);
        if (c == XT_CLASS_PASS || c == XT_CLASS_DROP) {
            assert_int_equal(strncmp(n, prefix[c], 5), 0);
            assert_string_equal(r, n + 5);
        } else {
            assert_string_equal(r, n);
        }
    }
    assert_int_equal(xdp_stat_class(XT_PASS_NO_RATE), XT_CLASS_PASS);
    assert_int_equal(xdp_stat_class(XT_DROP_CD_LENGTH), XT_CLASS_DROP);
    assert_string_equal(xdp_stat_reason(XT_PASS_NO_CHANNEL), "no_channel");
    assert_string_equal(xdp_stat_reason(XT_DROP_TTL), "ttl");
    assert_string_equal(xdp_stat_reason(XT_STAT_COUNT), "unknown");
}

/* ---- fixture ---- */

/* ---- the next-hop cache in the binding values ---- */

/* The c2p_44 binding's value (C4, channel 0x4001), as the program sees it. */
static void c2p44_value(int fd, struct xt_to_peer4 *v)
{
    struct xt_client4 k = {.port = htons(40000), .channel = htons(0x4001)};

    assert_int_equal(inet_pton(AF_INET, "198.18.10.2", &k.ip), 1);
    assert_int_equal(bpf_map_lookup_elem(fd, &k, v), 0);
}

static void c2p44_set(int fd, const struct xt_to_peer4 *v)
{
    struct xt_client4 k = {.port = htons(40000), .channel = htons(0x4001)};

    assert_int_equal(inet_pton(AF_INET, "198.18.10.2", &k.ip), 1);
    assert_int_equal(bpf_map_update_elem(fd, &k, v, BPF_EXIST), 0);
}

/* The first relayed packet fills the binding's cache; later ones use it, whatever the FIB says,
 * until userspace bumps the generation. */
static void test_nexthop_cache(void **state)
{
    static const uint8_t fake[6] = {2, 0, 0, 0, 9, 9};
    const struct relay_case *c = relay_case("c2p_44");
    struct relay_case cached = *c;
    int fd = prog_map_fd(&main_inst, "c2p_44");
    struct xt_to_peer4 v, forged;
    uint32_t gen;

    (void)state;
    run_relay_case(&main_inst, c);
    c2p44_value(fd, &v);
    assert_int_not_equal(v.nh.gen, 0);
    assert_memory_equal(v.nh.dmac, testnet_gw_p, 6);
    assert_memory_equal(v.nh.smac, testnet_mac_xt0, 6);
    assert_int_equal(v.nh.ifindex, ifindex_xt0);
    assert_int_equal(v.nh.mtu, 1500); /* veth's */
    gen = v.nh.gen;

    /* A next hop in the cache that the FIB would never give: the packet goes there. */
    forged = v;
    memcpy(forged.nh.dmac, fake, 6);
    c2p44_set(fd, &forged);
    cached.dmac = fake;
    run_relay_case(&main_inst, &cached);

    /* A new generation: the FIB again, and the cache refilled. */
    xdp_prog_routes_changed(main_inst.prog);
    run_relay_case(&main_inst, c);
    c2p44_value(fd, &v);
    assert_int_not_equal(v.nh.gen, gen);
    assert_int_not_equal(v.nh.gen, 0);
    assert_memory_equal(v.nh.dmac, testnet_gw_p, 6);

    /* An empty entry (gen 0) or one of an old generation is not used. */
    forged = v;
    memcpy(forged.nh.dmac, fake, 6);
    forged.nh.gen = 0;
    c2p44_set(fd, &forged);
    run_relay_case(&main_inst, c);
    forged.nh.gen = gen;
    c2p44_set(fd, &forged);
    run_relay_case(&main_inst, c);
    close(fd);
}

/* The cached MTU is checked as the FIB would: too long for it, the packet goes up unchanged. */
static void test_nexthop_cache_mtu(void **state)
{
    const struct pass_case too_long = {"c2p_44 over the cached MTU",
                                       {C4, LISTEN4, 0x4001, 100, 0, 0, 0},
                                       NULL,
                                       0,
                                       PASS,
                                       XT_PASS_MTU};
    int fd = prog_map_fd(&main_inst, "c2p_44");
    struct xt_to_peer4 v;

    (void)state;
    run_relay_case(&main_inst, relay_case("c2p_44"));
    c2p44_value(fd, &v);
    v.nh.mtu = 20 + 8 + 99; /* IP + UDP + one byte less than the payload */
    c2p44_set(fd, &v);
    run_pass_case(&main_inst, &too_long);
    v.nh.mtu = 20 + 8 + 100;
    c2p44_set(fd, &v);
    {
        struct relay_case fits = *relay_case("c2p_44");

        fits.in.len = 100;
        fits.in.pad = 0;
        run_relay_case(&main_inst, &fits);
    }
    xdp_prog_routes_changed(main_inst.prog);
    close(fd);
}

/* A redirect is cached like XDP_TX: the second packet leaves by the same interface. */
static void test_nexthop_cache_redirect(void **state)
{
    (void)state;
    xdp_prog_routes_changed(main_inst.prog);
    run_relay_case(&main_inst, relay_case("c2p_44 redirect"));
    run_relay_case(&main_inst, relay_case("c2p_44 redirect"));
    run_relay_case(&main_inst, relay_case("c2p_66 redirect"));
    run_relay_case(&main_inst, relay_case("c2p_66 redirect"));
}

/* A binding's packets coming in by an interface that is neither the cached egress nor a
 * redirect target go up, as a fresh lookup would send them (tx_ports: xt1 only). */
static void test_nexthop_cache_other_ingress(void **state)
{
    const struct pass_case other = {
        "c2p_44 in by xt2", {C4, LISTEN4, 0x4001, 10, 0, 0, 0}, NULL, 0, PASS, XT_PASS_OTHER_IFACE};
    struct inst via_xt2 = main_inst;

    (void)state;
    run_relay_case(&main_inst, relay_case("c2p_44")); /* cached: out by xt0, XDP_TX */
    via_xt2.ingress = (int)if_nametoindex("xt2");
    assert_true(via_xt2.ingress > 0);
    run_pass_case(&via_xt2, &other);
    run_relay_case(&main_inst, relay_case("c2p_44"));
}

/* Another CPU is writing the entry (gen XT_NH_GEN_BUSY, its fields half written): the program
 * neither uses it (the FIB's next hop) nor writes over it. */
static void test_nexthop_cache_busy(void **state)
{
    static const uint8_t junk[6] = {2, 0, 0, 0, 9, 9};
    int fd = prog_map_fd(&main_inst, "c2p_44");
    struct xt_to_peer4 busy, v;

    (void)state;
    run_relay_case(&main_inst, relay_case("c2p_44"));
    c2p44_value(fd, &busy);
    memcpy(busy.nh.dmac, junk, 6);
    memcpy(busy.nh.smac, junk, 6);
    busy.nh.ifindex = 0x7fffffff;
    busy.nh.mtu = 9000;
    busy.nh.gen = XT_NH_GEN_BUSY;
    c2p44_set(fd, &busy);
    run_relay_case(&main_inst, relay_case("c2p_44"));
    c2p44_value(fd, &v);
    assert_memory_equal(&v, &busy, sizeof(v));
    /* emptied again, as the other tests expect: the next packet fills it */
    busy.nh.gen = 0;
    c2p44_set(fd, &busy);
    run_relay_case(&main_inst, relay_case("c2p_44"));
    close(fd);
}

/* Generations only move forward in an entry: one filled under a newer generation than the
 * program's (by a CPU that read the counter after it was bumped) is neither used nor overwritten
 * with an older one, so a reader can never see gen come back to its own across a write. */
static void test_nexthop_cache_newer(void **state)
{
    static const uint8_t junk[6] = {2, 0, 0, 0, 8, 8};
    int fd = prog_map_fd(&main_inst, "c2p_44"), bss = prog_map_fd(&main_inst, "xturn_bp.bss");
    struct xt_to_peer4 newer, v;
    uint32_t k = 0, gen;

    (void)state;
    run_relay_case(&main_inst, relay_case("c2p_44"));
    assert_int_equal(bpf_map_lookup_elem(bss, &k, &gen), 0);
    c2p44_value(fd, &newer);
    assert_int_equal(newer.nh.gen, gen);
    memcpy(newer.nh.dmac, junk, 6);
    newer.nh.ifindex = 0x7ffffff0;
    newer.nh.gen = gen + 1;
    c2p44_set(fd, &newer);
    run_relay_case(&main_inst, relay_case("c2p_44")); /* from the FIB, not the newer entry */
    c2p44_value(fd, &v);
    assert_memory_equal(&v, &newer, sizeof(v));
    newer.nh.gen = 0;
    c2p44_set(fd, &newer);
    run_relay_case(&main_inst, relay_case("c2p_44"));
    close(bss);
    close(fd);
}

/* The generation counter never takes the value that marks an entry being written. */
static void test_route_gen_skips_busy(void **state)
{
    int fd = prog_map_fd(&main_inst, "xturn_bp.bss"); /* .bss: xt_route_gen alone */
    uint32_t k = 0, gen = XT_NH_GEN_BUSY - 1;

    (void)state;
    assert_int_equal(bpf_map_update_elem(fd, &k, &gen, BPF_ANY), 0);
    run_relay_case(&main_inst, relay_case("c2p_44"));
    xdp_prog_routes_changed(main_inst.prog);
    assert_int_equal(bpf_map_lookup_elem(fd, &k, &gen), 0);
    assert_int_equal(gen, 1);
    run_relay_case(&main_inst, relay_case("c2p_44"));
    close(fd);
}

/* ---- the host's own addresses (xdp_prog_set_host_addrs) ---- */

static int set_host_addrs(const struct tep *t, size_t n)
{
    struct xt_addr a[8];

    assert_true(n <= ARRAY_LEN(a));
    for (size_t i = 0; i < n; i++)
        tep_addr(&t[i], &a[i]);
    return xdp_prog_set_host_addrs(main_inst.prog, a, n);
}

/* Entries in host_addrs, and whether t's address is one of them. */
static unsigned host_addrs_count(int fd)
{
    struct xt_host_addr k, at;
    unsigned n = 0;

    for (int rc = bpf_map_get_next_key(fd, NULL, &k); rc == 0;
         rc = bpf_map_get_next_key(fd, &at, &k)) {
        n++;
        at = k;
    }
    return n;
}

static bool host_addrs_has(int fd, const struct tep *t)
{
    struct xt_host_addr k = {.family = (uint8_t)t->fam};
    uint8_t v;

    tep_ip(t, k.ip);
    return bpf_map_lookup_elem(fd, &k, &v) == 0;
}

/* A datagram from src:5000 to the relayed address of p2c_44's binding. */
static struct pass_case from_src(const char *name, const char *src, uint32_t retval, int stat)
{
    struct pass_case c = {name, relay_case("p2c_44")->in, NULL, 0, retval, stat};

    c.in.src.ip = src;
    return c;
}

/* The map holds exactly the last set given: the gone are deleted (no longer dropped), ports
 * and duplicates do not count, more than its capacity is refused with nothing changed. */
static void test_host_addrs_set(void **state)
{
    const struct tep next[] = {
        {AF_INET6, "2001:db8:1::1", 1}, {AF_INET, "198.18.2.1", 0}, {AF_INET6, "2001:db8:1::1", 2}};
    const struct tep xt1_4 = host_addrs_setup[0], xt2_4 = next[1];
    const struct pass_case gone = from_src("198.18.1.1 gone", "198.18.1.1", PASS, XT_PASS_NO_PEER);
    const struct pass_case kept =
        from_src("198.18.2.1 kept", "198.18.2.1", XDP_DROP, XT_DROP_MARTIAN);
    const struct pass_case cfg =
        from_src("listen address", "198.18.0.1", XDP_DROP, XT_DROP_MARTIAN);
    int fd = prog_map_fd(&main_inst, "host_addrs");
    struct xt_addr *many = calloc(XT_HOST_ADDRS_MAX + 2, sizeof(*many));

    (void)state;
    assert_non_null(many);
    assert_int_equal(host_addrs_count(fd), ARRAY_LEN(host_addrs_setup));
    assert_true(host_addrs_has(fd, &xt1_4));

    assert_int_equal(set_host_addrs(next, ARRAY_LEN(next)), 0);
    assert_int_equal(host_addrs_count(fd), 2);
    assert_false(host_addrs_has(fd, &xt1_4));
    assert_true(host_addrs_has(fd, &next[0]) && host_addrs_has(fd, &xt2_4));
    run_pass_case(&main_inst, &gone);
    run_pass_case(&main_inst, &kept);

    /* empty: the configured addresses are the host's all the same */
    assert_int_equal(xdp_prog_set_host_addrs(main_inst.prog, NULL, 0), 0);
    assert_int_equal(host_addrs_count(fd), 0);
    run_pass_case(&main_inst, &cfg);

    /* capacity: distinct addresses count, ports do not */
    for (uint32_t i = 0; i < XT_HOST_ADDRS_MAX + 1; i++) {
        uint8_t ip[4] = {198, 19, (uint8_t)(i >> 8), (uint8_t)i};

        xt_addr_v4(&many[i], ip, 0);
    }
    many[XT_HOST_ADDRS_MAX + 1] = many[0];
    many[XT_HOST_ADDRS_MAX + 1].port = 7;
    assert_int_equal(xdp_prog_set_host_addrs(main_inst.prog, many, XT_HOST_ADDRS_MAX + 1), -ENOSPC);
    assert_int_equal(host_addrs_count(fd), 0);
    many[XT_HOST_ADDRS_MAX] = many[XT_HOST_ADDRS_MAX + 1]; /* a duplicate of the first */
    assert_int_equal(xdp_prog_set_host_addrs(main_inst.prog, many, XT_HOST_ADDRS_MAX + 1), 0);
    assert_int_equal(host_addrs_count(fd), XT_HOST_ADDRS_MAX);
    many[0].family = 0;
    assert_int_equal(xdp_prog_set_host_addrs(main_inst.prog, many, 1), -EAFNOSUPPORT);
    assert_int_equal(host_addrs_count(fd), XT_HOST_ADDRS_MAX);

    assert_int_equal(set_host_addrs(host_addrs_setup, ARRAY_LEN(host_addrs_setup)), 0);
    assert_int_equal(host_addrs_count(fd), ARRAY_LEN(host_addrs_setup));
    free(many);
    close(fd);
}

/* The attack of the security review (issue 10, finding 3): from the relay address:port of one
 * allocation to the relayed address of another, whose channel is to the first (c2c_44's
 * bindings). Without the check it left as ChannelData to that allocation's client. */
static void test_martian_relay_to_self(void **state)
{
    const struct pass_case spoofed = {
        "spoofed relay to self", {RELAY4(50010), RELAY4(50011), 0, 10, 0, 0, 0}, NULL, 0, XDP_DROP,
        XT_DROP_MARTIAN};

    (void)state;
    run_pass_case(&main_inst, &spoofed);
    run_relay_case(&main_inst, relay_case("c2c_44"));
}

/* ---- forwarding off: next hops from userspace ----
 * bpf_fib_lookup answers only where forwarding is on. With it off the program asks userspace,
 * here the daemon's own resolver (src/app/nexthop_resolver.c) in an event loop of the test's,
 * which answers from the test network's routes and neighbours over rtnetlink. */

static struct ev_loop *fwd_loop;
static struct nexthop_resolver *fwd_resolver;

/* Forwarding on or off on every interface, IPv4 and IPv6; a new generation: no next hop cached
 * before counts. */
static void set_forwarding(bool on)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd),
             "sysctl -q -w net.ipv4.conf.all.forwarding=%d net.ipv6.conf.all.forwarding=%d", on,
             on);
    assert_int_equal(system(cmd), 0);
    xdp_prog_routes_changed(main_inst.prog);
}

static int fwd_off_setup(void **state)
{
    char err[256];

    (void)state;
    set_forwarding(false);
    /* bound afresh, caches empty (test_route_gen_skips_busy left generations "newer" than the
     * counter, which no one would overwrite for a while) */
    bind_all(main_inst.prog, false);
    fwd_loop = ev_loop_new();
    fwd_resolver = fwd_loop ? nexthop_resolver_new(main_inst.prog, fwd_loop, err, sizeof(err)) : 0;
    return fwd_resolver ? 0 : -1;
}

static int fwd_off_teardown(void **state)
{
    (void)state;
    nexthop_resolver_free(fwd_resolver);
    ev_loop_free(fwd_loop);
    set_forwarding(true);
    return 0;
}

/* The resolver answers what the program asked. */
static void resolve(void)
{
    assert_true(ev_run_once(fwd_loop, 1000) >= 1);
}

/* The first frame of the case goes up (pass_resolving) and asks; the second too, without asking
 * again; once answered, the case's frame is relayed exactly as with forwarding on. */
static void relay_after_resolving(const struct relay_case *c)
{
    const struct pass_case first = {c->name, c->in, NULL, 0, PASS, XT_PASS_RESOLVING};

    run_pass_case(&main_inst, &first);
    run_pass_case(&main_inst, &first);
    resolve();
    assert_int_equal(ev_run_once(fwd_loop, 0), 0); /* one request only */
    run_relay_case(&main_inst, c);
    run_relay_case(&main_inst, c);
}

struct captured {
    int n;
    struct xdp_abi_nh_request req;
};

static void capture(void *ctx, const struct xdp_abi_nh_request *req)
{
    struct captured *c = ctx;

    c->req = *req;
    c->n++;
}

/* What the program asks: the binding (map and key, as the daemon bound it) and the datagram's
 * addresses; relay to self names the second leg's binding. Read here, not by the resolver. */
static void test_fwd_off_request(void **state)
{
    static const struct {
        const char *path;
        enum xt_stat map;
        struct tep client, peer;
        uint16_t channel, relay_port;
    } want[] = {
        {"c2p_44", XT_C2P_44, C4, P4, 0x4001, 50001},
        {"p2c_46", XT_P2C_46, C6, P4, 0x4003, 50003},
        {"c2c_44", XT_P2C_44, CB4, RELAY4(50010), 0x4011, 50011},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(want); i++) {
        const struct relay_case *c = relay_case(want[i].path);
        const struct pass_case first = {c->name, c->in, NULL, 0, PASS, XT_PASS_RESOLVING};
        struct captured got = {0};
        struct xdp_nh_requests *q = xdp_nh_requests_open(main_inst.prog, capture, &got);
        struct xt_addr client, peer, osrc, odst;
        struct xdp_abi_binding b;
        bool to_peer = want[i].map <= XT_C2P_66;

        assert_non_null(q);
        run_pass_case(&main_inst, &first);
        assert_int_equal(xdp_nh_requests_read(q), 1);
        xdp_nh_requests_close(q);
        tep_addr(&want[i].client, &client);
        tep_addr(&want[i].peer, &peer);
        tep_addr(&c->osrc, &osrc);
        tep_addr(&c->odst, &odst);
        assert_int_equal(
            xdp_abi_binding(&b, &client, want[i].channel, &peer, want[i].relay_port, 0), 0);
        assert_int_equal(got.req.map, want[i].map);
        assert_int_equal(got.req.key_size, to_peer ? b.c2p_key_size : b.p2c_key_size);
        assert_memory_equal(&got.req.key, to_peer ? &b.c2p_key : &b.p2c_key, got.req.key_size);
        assert_true(xt_addr_equal(&got.req.src, &osrc));
        assert_true(xt_addr_equal(&got.req.dst, &odst));
        assert_int_equal(got.req.tos, c->osrc.fam == AF_INET ? L3_IN.tos : 0);
        /* the binding waits for this generation's answer: no second request */
        run_pass_case(&main_inst, &first);
    }
}

/* Every family pair both ways, relay to self, and redirects to another interface. */
static void test_fwd_off_paths(void **state)
{
    static const char *const paths[] = {
        "c2p_44", "c2p_46", "c2p_64", "c2p_66", "p2c_44",          "p2c_46",         "p2c_64",
        "p2c_66", "c2c_44", "c2c_46", "c2c_64", "c2p_44 redirect", "c2p_66 redirect"};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(paths); i++)
        relay_after_resolving(relay_case(paths[i]));
}

/* Forwarding on for IPv4 only (a half-done setup): the FIB answers for IPv4 outputs at once,
 * userspace for IPv6 ones, whatever family the packet came in as. */
static void test_fwd_ipv4_only(void **state)
{
    static const char *const fib[] = {"c2p_44", "c2p_64", "p2c_44", "p2c_64"};
    static const char *const asked[] = {"c2p_46", "c2p_66", "p2c_46", "p2c_66"};

    (void)state;
    assert_int_equal(system("sysctl -q -w net.ipv4.conf.all.forwarding=1"), 0);
    xdp_prog_routes_changed(main_inst.prog);
    for (size_t i = 0; i < ARRAY_LEN(fib); i++)
        run_relay_case(&main_inst, relay_case(fib[i]));
    for (size_t i = 0; i < ARRAY_LEN(asked); i++)
        relay_after_resolving(relay_case(asked[i]));
}

/* Next hops XDP cannot send to go up, under the reason bpf_fib_lookup's answer would have
 * given (the pass cases of the same names), until the generation changes. */
static void test_fwd_off_unusable(void **state)
{
    static const char *const names[] = {"no neighbour", "no route", "interface not driven"};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        const struct pass_case *c = pass_case_named(names[i]);
        struct pass_case first = *c;

        first.stat = XT_PASS_RESOLVING;
        run_pass_case(&main_inst, &first);
        resolve();
        run_pass_case(&main_inst, c);
        run_pass_case(&main_inst, c);
    }
}

/* An answer holds for its generation only: after a change the binding asks again, and an answer
 * written under an older generation is not used. */
static void test_fwd_off_generation(void **state)
{
    const struct relay_case *c = relay_case("c2p_44");
    const struct pass_case asks = {c->name, c->in, NULL, 0, PASS, XT_PASS_RESOLVING};
    struct captured got = {0};
    struct xdp_nh_requests *q;
    struct xdp_abi_hop hop = {.ifindex = (uint32_t)ifindex_xt0};
    struct xt_nexthop nh;

    (void)state;
    relay_after_resolving(c);
    xdp_prog_routes_changed(main_inst.prog);
    q = xdp_nh_requests_open(main_inst.prog, capture, &got);
    assert_non_null(q);
    run_pass_case(&main_inst, &asks);
    assert_int_equal(xdp_nh_requests_read(q), 1);
    /* an answer of the generation before */
    memcpy(hop.dmac, testnet_gw_p, 6);
    memcpy(hop.smac, testnet_mac_xt0, 6);
    hop.mtu = 1500;
    nh = xdp_abi_nexthop(&hop, xdp_prog_route_gen(main_inst.prog) - 1);
    assert_int_equal(xdp_prog_answer_nexthop(main_inst.prog, &got.req, &nh), 0);
    run_pass_case(&main_inst, &asks);
    assert_int_equal(xdp_nh_requests_read(q), 1);
    /* this generation's */
    nh.gen = xdp_prog_route_gen(main_inst.prog);
    assert_int_equal(xdp_prog_answer_nexthop(main_inst.prog, &got.req, &nh), 0);
    run_relay_case(&main_inst, c);
    xdp_nh_requests_close(q);
}

/* An answer for a binding removed meanwhile is dropped: nothing is created. */
static void test_fwd_off_binding_gone(void **state)
{
    const struct relay_case *c = relay_case("c2p_44");
    const struct pass_case asks = {c->name, c->in, NULL, 0, PASS, XT_PASS_RESOLVING};
    const struct tep client = C4, peer = P4;
    struct captured got = {0};
    struct xdp_nh_requests *q = xdp_nh_requests_open(main_inst.prog, capture, &got);
    struct xt_addr ca, pa;
    struct xt_nexthop nh = {.gen = xdp_prog_route_gen(main_inst.prog)};
    union xdp_abi_value v;
    int fd = prog_map_fd(&main_inst, "c2p_44");

    (void)state;
    assert_non_null(q);
    run_pass_case(&main_inst, &asks);
    assert_int_equal(xdp_nh_requests_read(q), 1);
    tep_addr(&client, &ca);
    tep_addr(&peer, &pa);
    assert_int_equal(xdp_prog_unbind(main_inst.prog, &ca, 0x4001, &pa, 50001), 0);
    assert_int_equal(xdp_prog_answer_nexthop(main_inst.prog, &got.req, &nh), 0);
    assert_int_equal(bpf_map_lookup_elem(fd, &got.req.key, &v), -ENOENT);
    assert_int_equal(xdp_prog_bind(main_inst.prog, &ca, 0x4001, &pa, 50001, 0), 0);
    xdp_nh_requests_close(q);
    close(fd);
}

static int group_setup(void **state)
{
    struct xdp_options o;
    struct bpf_prog_info info = {0};
    uint32_t info_len = sizeof(info);
    char err[256] = "";

    (void)state;
    if (xdp_testnet_enter(err, sizeof(err)) != 0) {
        print_error("%s\n", err);
        return -1;
    }
    ifindex_xt0 = (int)if_nametoindex("xt0");
    ifindex_xt1 = (int)if_nametoindex("xt1");
    if (!ifindex_xt0 || !ifindex_xt1)
        return -1;

    /* The load is the verifier's acceptance of the program on this kernel. */
    base_options(&o);
    main_inst.prog = xdp_prog_load(&o, err, sizeof(err));
    if (!main_inst.prog) {
        print_error("xdp_prog_load: %s\n", err);
        return -1;
    }
    main_inst.fd = xdp_prog_fd(main_inst.prog);
    if (bpf_obj_get_info_by_fd(main_inst.fd, &info, &info_len) == 0)
        print_message("xturn_xdp: %u instructions verified, %u translated\n", info.verified_insns,
                      info.xlated_prog_len / 8);
    bind_all(main_inst.prog, false);
    if (set_host_addrs(host_addrs_setup, ARRAY_LEN(host_addrs_setup)) != 0) {
        print_error("xdp_prog_set_host_addrs failed\n");
        return -1;
    }
    if (xdp_prog_attach(main_inst.prog, "xt1", XDP_ATTACH_NATIVE, false, err, sizeof(err)) != 0) {
        print_error("attach xt1: %s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    xdp_prog_close(main_inst.prog);
    return 0;
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_runt_frame),
        cmocka_unit_test(test_cross_family_off),
        cmocka_unit_test(test_nexthop_cache),
        cmocka_unit_test(test_nexthop_cache_mtu),
        cmocka_unit_test(test_nexthop_cache_redirect),
        cmocka_unit_test(test_nexthop_cache_other_ingress),
        cmocka_unit_test(test_nexthop_cache_busy),
        cmocka_unit_test(test_nexthop_cache_newer),
        cmocka_unit_test(test_route_gen_skips_busy),
        cmocka_unit_test(test_host_addrs_set),
        cmocka_unit_test(test_martian_relay_to_self),
        cmocka_unit_test(test_unbind),
        cmocka_unit_test(test_map_full),
        cmocka_unit_test(test_attach_detach),
        cmocka_unit_test(test_load_error),
        cmocka_unit_test(test_stat_names),
        cmocka_unit_test(test_stat_classes),
        cmocka_unit_test_setup_teardown(test_fwd_off_request, fwd_off_setup, fwd_off_teardown),
        cmocka_unit_test_setup_teardown(test_fwd_off_paths, fwd_off_setup, fwd_off_teardown),
        cmocka_unit_test_setup_teardown(test_fwd_off_unusable, fwd_off_setup, fwd_off_teardown),
        cmocka_unit_test_setup_teardown(test_fwd_ipv4_only, fwd_off_setup, fwd_off_teardown),
        cmocka_unit_test_setup_teardown(test_fwd_off_generation, fwd_off_setup, fwd_off_teardown),
        cmocka_unit_test_setup_teardown(test_fwd_off_binding_gone, fwd_off_setup, fwd_off_teardown),
        cmocka_unit_test_setup_teardown(test_rate_buckets, rate_setup, rate_teardown),
        cmocka_unit_test_setup_teardown(test_rate_both_directions, rate_setup, rate_teardown),
        cmocka_unit_test_setup_teardown(test_rate_ipv6, rate_setup, rate_teardown),
        cmocka_unit_test_setup_teardown(test_rate_one_limit_per_allocation, rate_setup,
                                        rate_teardown),
        cmocka_unit_test_setup_teardown(test_rate_self, rate_setup, rate_teardown),
        cmocka_unit_test_setup_teardown(test_rate_missing, rate_setup, rate_teardown),
        cmocka_unit_test_setup_teardown(test_rate_refill, rate_setup, rate_teardown),
    };
    size_t n = 0, cap = ARRAY_LEN(relay_cases) + ARRAY_LEN(pass_cases) + ARRAY_LEN(ttl_cases) +
                        ARRAY_LEN(martian_cases) + ARRAY_LEN(fixed);
    struct CMUnitTest *tests = calloc(cap, sizeof(*tests));
    int rc;

    if (!tests)
        return 1;
    ttl_cases_fill();
    martian_cases_fill();
    for (size_t i = 0; i < ARRAY_LEN(relay_cases); i++)
        tests[n++] = (struct CMUnitTest){.name = relay_cases[i].name,
                                         .test_func = test_relay_case,
                                         .initial_state = (void *)&relay_cases[i]};
    for (size_t i = 0; i < ARRAY_LEN(pass_cases); i++)
        tests[n++] = (struct CMUnitTest){.name = pass_cases[i].name,
                                         .test_func = test_pass_case,
                                         .initial_state = (void *)&pass_cases[i]};
    for (size_t i = 0; i < ARRAY_LEN(ttl_cases); i++)
        tests[n++] = (struct CMUnitTest){.name = ttl_cases[i].name,
                                         .test_func = test_ttl_case,
                                         .initial_state = (void *)&ttl_cases[i]};
    for (size_t i = 0; i < ARRAY_LEN(martian_cases); i++)
        tests[n++] = (struct CMUnitTest){.name = martian_cases[i].name,
                                         .test_func = test_martian_case,
                                         .initial_state = (void *)&martian_cases[i]};
    for (size_t i = 0; i < ARRAY_LEN(fixed); i++)
        tests[n++] = fixed[i];
    rc = _cmocka_run_group_tests("test_xdp_prog", tests, n, group_setup, group_teardown);
    free(tests);
    return rc;
}
