/* libFuzzer harness of the XDP program (src/bpf/) through its loader (src/xdp/): each input is
 * one Ethernet frame (format: fuzz_formats.h), optionally repaired (lengths, checksums) so that
 * mutations still reach the relay paths, run with bpf_prog_test_run_opts. Needs root: at start
 * the process moves into its own network namespace with veths, routes and permanent neighbours
 * (as tests/unit/test_xdp_prog.c), loads the program twice (cross-family on, channels up to
 * 0x7FFF, attached to xt1 as the redirect target; cross-family off, strict range) and binds
 * fx_bindings in both.
 *
 * Checked: the verdict is PASS, DROP, TX or REDIRECT; a passed frame is unchanged; a relayed
 * one is a well-formed IPv4/IPv6 UDP frame within the MTU, with a correct IPv4 header checksum
 * and (when the input's was correct) a correct UDP checksum, both computed here; it carries the
 * input's payload, from and to the addresses the bindings say, with TOS carried over and the
 * TTL one less (0 is never relayed), from a source the kernel would not drop as martian.
 *
 * The program's branches are invisible to libFuzzer's coverage, so the counters it keeps (pass
 * and drop reasons, relay paths) are fed back as extra coverage counters. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "fuzz_common.h"
#include "fuzz_formats.h"
#include "xdp/xdp_abi.h"
#include "xdp/xdp_loader.h"
#include "xdp/xdp_maps.h"
#include "xdp/xdp_stats.h"
#include "xdp_testnet.h"

#define FRAME_MAX 8192
#define MTU       1500

struct inst {
    struct xdp_prog *prog;
    int prog_fd;
    int stats_fd;
    bool strict;
    uint64_t last[XT_STAT_COUNT];
};

static struct inst insts[2];
static int ifindex_xt0, ifindex_xt1, ncpus;
static struct xt_counter *stat_vals;
static uint8_t *in_frame, *out_frame;
static bool trace; /* FUZZ_TRACE=1: verdict and counters of every run on stderr */

/* libFuzzer's extra coverage counters: (instance, ingress, counter that moved), and for
 * relayed frames (instance, verdict, output length - input length), which tells header
 * rewrites and cut padding apart. */
__attribute__((
    section("__libfuzzer_extra_counters"))) static uint8_t extra_counters[2][2][XT_STAT_COUNT];
__attribute__((section("__libfuzzer_extra_counters"))) static uint8_t extra_lengths[2][2][128];

/* ---- endpoints of the model ---- */

struct ep {
    int fam; /* AF_INET, AF_INET6 */
    uint8_t ip[16];
    uint16_t port;
};

static void ep_of(const struct fx_ep *e, struct ep *out)
{
    memset(out, 0, sizeof(*out));
    out->fam = strchr(e->ip, ':') ? AF_INET6 : AF_INET;
    CHECK(inet_pton(out->fam, e->ip, out->ip) == 1);
    out->port = e->port;
}

static bool ep_eq(const struct ep *a, const struct ep *b)
{
    return a->fam == b->fam && a->port == b->port && memcmp(a->ip, b->ip, 16) == 0;
}

static struct ep listen_ep[2]; /* per family: [0] IPv4, [1] IPv6; also the relay addresses */

static int fam_i(int fam)
{
    return fam == AF_INET6;
}

static bool is_relayed(const struct ep *e)
{
    struct ep me = listen_ep[fam_i(e->fam)];
    return memcmp(me.ip, e->ip, 16) == 0 && e->port >= FX_RELAY_LO && e->port <= FX_RELAY_HI;
}

/* A source the kernel drops (no host_addrs are set: the listen addresses are the host's). */
static bool is_martian(const struct ep *e)
{
    static const uint8_t zero[12], mapped[12] = {[10] = 0xff, [11] = 0xff};
    const uint8_t *a = e->ip;

    if (memcmp(a, listen_ep[fam_i(e->fam)].ip, 16) == 0)
        return true;
    if (e->fam == AF_INET)
        return a[0] == 0 || a[0] == 127 || (a[0] & 0xf0) == 0xe0 ||
               (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255);
    return a[0] == 0xff || memcmp(a, mapped, 12) == 0 ||
           (memcmp(a, zero, 12) == 0 && a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] <= 1);
}

/* ---- setup ---- */

static void fail_setup(const char *what, const char *why)
{
    fprintf(stderr, "fuzz_xdp: %s: %s (needs root, a kernel with XDP and veth)\n", what, why);
    exit(1);
}

static void load(struct inst *in, bool strict)
{
    struct xt_addr addrs[2];
    struct xdp_abi_settings s = {.listen = addrs,
                                 .nlisten = 2,
                                 .relay = addrs,
                                 .nrelay = 2,
                                 .relay_port_lo = FX_RELAY_LO,
                                 .relay_port_hi = FX_RELAY_HI,
                                 .strict_channel_range = strict,
                                 .cross_family = !strict};
    struct xdp_options o;
    char err[1024] = "";

    CHECK(xt_addr_parse_ip(FX_LISTEN_V4, &addrs[0]) == 0);
    CHECK(xt_addr_parse_ip(FX_LISTEN_V6, &addrs[1]) == 0);
    addrs[0].port = addrs[1].port = FX_PORT;
    memset(&o, 0, sizeof(o));
    /* the daemon's packer: the model's channel ranges must be what it makes */
    o.cfg = xdp_abi_cfg(&s);
    CHECK(o.cfg.channel_hi == (strict ? FX_STRICT_HI : FX_CHANNEL_HI));
    o.map_entries = 256;
    in->prog = xdp_prog_load(&o, err, sizeof(err));
    if (!in->prog)
        fail_setup("xdp_prog_load", err);
    in->prog_fd = xdp_prog_fd(in->prog);
    in->stats_fd = xdp_stats_map_of(in->prog_fd);
    if (in->stats_fd < 0)
        fail_setup("stats map", strerror(errno));
    in->strict = strict;
    for (size_t i = 0; i < FX_NBINDINGS; i++) {
        const struct fx_binding *b = &fx_bindings[i];
        struct xt_addr c, p;
        CHECK(xt_addr_parse_ip(b->client.ip, &c) == 0);
        c.port = b->client.port;
        CHECK(xt_addr_parse_ip(b->peer.ip, &p) == 0);
        p.port = b->peer.port;
        CHECK(xdp_prog_bind(in->prog, &c, b->channel, &p, b->relay_port, 0) == 0);
    }
}

/* Sums the per-CPU counters of an instance (one syscall). */
static void read_stats(const struct inst *in, uint64_t *packets)
{
    uint32_t out_batch = 0, count = XT_STAT_COUNT;
    uint32_t keys[XT_STAT_COUNT];
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    int rc = bpf_map_lookup_batch(in->stats_fd, NULL, &out_batch, keys, stat_vals, &count, &opts);

    CHECK(rc == 0 || errno == ENOENT);
    memset(packets, 0, XT_STAT_COUNT * sizeof(*packets));
    for (uint32_t i = 0; i < count; i++) {
        CHECK(keys[i] < XT_STAT_COUNT);
        for (int c = 0; c < ncpus; c++)
            packets[keys[i]] += stat_vals[(size_t)i * (size_t)ncpus + (size_t)c].packets;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct ep e;
    char err[256] = "";
    (void)argc;
    (void)argv;

    if (xdp_testnet_enter(err, sizeof(err)) != 0)
        fail_setup("test network", err);
    ifindex_xt0 = (int)if_nametoindex("xt0");
    ifindex_xt1 = (int)if_nametoindex("xt1");
    if (!ifindex_xt0 || !ifindex_xt1)
        fail_setup("if_nametoindex", strerror(errno));
    trace = getenv("FUZZ_TRACE") != NULL;
    ncpus = libbpf_num_possible_cpus();
    CHECK(ncpus > 0);
    stat_vals = calloc((size_t)ncpus * XT_STAT_COUNT, sizeof(*stat_vals));
    in_frame = malloc(FRAME_MAX);
    out_frame = malloc(FRAME_MAX + 512);
    CHECK(stat_vals && in_frame && out_frame);

    load(&insts[0], false);
    if (xdp_prog_attach(insts[0].prog, "xt1", XDP_ATTACH_NATIVE, false, err, sizeof(err)) != 0)
        fail_setup("attach xt1", err);
    load(&insts[1], true);
    for (int i = 0; i < 2; i++)
        read_stats(&insts[i], insts[i].last);

    e = (struct ep){0};
    ep_of(&(struct fx_ep){FX_LISTEN_V4, FX_PORT}, &e);
    listen_ep[0] = e;
    ep_of(&(struct fx_ep){FX_LISTEN_V6, FX_PORT}, &e);
    listen_ep[1] = e;
    return 0;
}

/* ---- a frame's headers ---- */

struct l3 {
    int fam;
    size_t l4;       /* UDP header offset */
    size_t ip_total; /* IP header + payload as the IP header says */
    uint8_t tos, ttl;
    const uint8_t *sip, *dip;
    size_t alen;
};

/* Parses what the program would accept as IPv4/IPv6 + UDP (no options, no extension headers);
 * false otherwise. */
static bool parse_l3(const uint8_t *f, size_t len, struct l3 *o)
{
    uint16_t et;
    if (len < 14)
        return false;
    et = fz_get16(f + 12);
    if (et == 0x0800) {
        const uint8_t *ip = f + 14;
        if (len < 14 + 20 + 8 || ip[0] != 0x45 || ip[9] != 17)
            return false;
        o->fam = AF_INET;
        o->l4 = 34;
        o->ip_total = fz_get16(ip + 2);
        o->tos = ip[1];
        o->ttl = ip[8];
        o->sip = ip + 12;
        o->dip = ip + 16;
        o->alen = 4;
    } else if (et == 0x86dd) {
        const uint8_t *ip = f + 14;
        if (len < 14 + 40 + 8 || ip[0] >> 4 != 6 || ip[6] != 17)
            return false;
        o->fam = AF_INET6;
        o->l4 = 54;
        o->ip_total = 40u + fz_get16(ip + 4);
        o->tos = (uint8_t)(ip[0] << 4 | ip[1] >> 4);
        o->ttl = ip[7];
        o->sip = ip + 8;
        o->dip = ip + 24;
        o->alen = 16;
    } else {
        return false;
    }
    return true;
}

static void endpoints(const uint8_t *f, const struct l3 *h, struct ep *src, struct ep *dst)
{
    memset(src, 0, sizeof(*src));
    memset(dst, 0, sizeof(*dst));
    src->fam = dst->fam = h->fam;
    memcpy(src->ip, h->sip, h->alen);
    memcpy(dst->ip, h->dip, h->alen);
    src->port = fz_get16(f + h->l4);
    dst->port = fz_get16(f + h->l4 + 2);
}

/* ---- input repairs ---- */

static void fixup(uint8_t *f, size_t len, uint8_t flags, uint8_t pads)
{
    size_t eth_pad = pads & 0x0f, cd_pad = (pads >> 4) & 3;
    uint16_t et;
    uint8_t *ip = f + 14, *udp;
    size_t ihl, ip_total, ulen;
    bool v4;

    if (len < 14 + 20)
        return;
    et = fz_get16(f + 12);
    v4 = et == 0x0800;
    if (!v4 && et != 0x86dd)
        return;
    if (v4) {
        ihl = (size_t)(ip[0] & 0xf) * 4;
        if (ihl < 20 || 14 + ihl > len)
            return;
        if (flags & FX_FIX_IP_LEN && len >= 14 + ihl + eth_pad)
            fz_put16(ip + 2, (uint16_t)(len - 14 - eth_pad));
        ip_total = fz_get16(ip + 2);
    } else {
        ihl = 40;
        if (14 + ihl > len)
            return;
        if (flags & FX_FIX_IP_LEN && len >= 14 + ihl + eth_pad)
            fz_put16(ip + 4, (uint16_t)(len - 14 - 40 - eth_pad));
        ip_total = 40u + fz_get16(ip + 4);
    }
    udp = ip + ihl;
    if ((v4 ? ip[9] : ip[6]) == 17 && 14 + ihl + 8 <= len && ip_total >= ihl + 8 &&
        14 + ip_total <= len) {
        if (flags & FX_FIX_UDP_LEN)
            fz_put16(udp + 4, (uint16_t)(ip_total - ihl));
        ulen = fz_get16(udp + 4);
        if (ulen >= 8 && 14 + ihl + ulen <= len) {
            if (flags & FX_FIX_CD_LEN && ulen >= 12 + cd_pad)
                fz_put16(udp + 10, (uint16_t)(ulen - 12 - cd_pad));
            if (flags & FX_ZERO_CSUM && v4)
                fz_put16(udp + 6, 0);
            else if (flags & FX_FIX_UDP_CSUM)
                fz_udp_set_csum(v4 ? 4 : 16, v4 ? ip + 12 : ip + 8, v4 ? ip + 16 : ip + 24, udp,
                                ulen);
        }
    }
    if (v4 && flags & FX_FIX_IP_CSUM)
        fz_ip4_set_csum(ip, ihl);
}

/* ---- checks of a relayed frame ---- */

static const struct fx_binding *find_c2p(const struct ep *client, uint16_t channel)
{
    for (size_t i = 0; i < FX_NBINDINGS; i++) {
        struct ep c;
        ep_of(&fx_bindings[i].client, &c);
        if (ep_eq(&c, client) && fx_bindings[i].channel == channel)
            return &fx_bindings[i];
    }
    return NULL;
}

static const struct fx_binding *find_p2c(const struct ep *peer, uint16_t relay_port)
{
    for (size_t i = 0; i < FX_NBINDINGS; i++) {
        struct ep p;
        ep_of(&fx_bindings[i].peer, &p);
        if (ep_eq(&p, peer) && fx_bindings[i].relay_port == relay_port)
            return &fx_bindings[i];
    }
    return NULL;
}

static void check_relayed(const struct inst *in, const uint8_t *f, size_t len, const uint8_t *o,
                          size_t olen)
{
    struct l3 hi, ho;
    struct ep isrc, idst, osrc, odst, want_src, want_dst;
    const uint8_t *ipay, *opay, *oudp;
    size_t iplen, oplen, iulen, oulen;
    uint16_t icsum, want_channel = 0;
    bool to_client, from_client;
    int legs_cross = 0;

    /* the input: what the program accepted */
    CHECK(parse_l3(f, len, &hi));
    iulen = fz_get16(f + hi.l4 + 4);
    CHECK(iulen >= 8 && hi.l4 + iulen <= len);
    endpoints(f, &hi, &isrc, &idst);
    CHECK(!is_martian(&isrc));
    icsum = fz_get16(f + hi.l4 + 6);

    /* the output: a well-formed frame, nothing after the IP datagram, within the MTU */
    CHECK(parse_l3(o, olen, &ho));
    CHECK(14 + ho.ip_total == olen && ho.ip_total <= MTU);
    if (ho.fam == AF_INET) {
        CHECK(fz_fold(fz_sum16(o + 14, 20, 0)) == 0xffff);
        CHECK(fz_get16(o + 14 + 6) == 0x4000); /* DF, not a fragment */
    } else {
        CHECK(fz_get16(o + 14 + 2) == 0 && (o[14 + 1] & 0x0f) == 0); /* flow label 0 */
    }
    CHECK(hi.ttl != 0 && ho.ttl == hi.ttl - 1 && ho.tos == hi.tos); /* RFC 8656 14 */
    oudp = o + ho.l4;
    oulen = fz_get16(oudp + 4);
    CHECK(oulen == ho.ip_total - (ho.fam == AF_INET ? 20 : 40));
    endpoints(o, &ho, &osrc, &odst);

    /* the UDP checksum, recomputed over the whole output datagram */
    if (hi.fam == AF_INET && icsum == 0) {
        CHECK(ho.fam == AF_INET); /* cannot leave as IPv6 without summing the payload */
        CHECK(fz_get16(oudp + 6) == 0 || fz_udp_sum(4, ho.sip, ho.dip, oudp, oulen) == 0xffff);
    } else if (fz_udp_sum(hi.alen, hi.sip, hi.dip, f + hi.l4, iulen) == 0xffff) {
        CHECK(fz_get16(oudp + 6) != 0);
        CHECK(fz_udp_sum(ho.alen, ho.sip, ho.dip, oudp, oulen) == 0xffff);
    }

    /* where it came from and where it must go, by the bindings */
    from_client = ep_eq(&idst, &listen_ep[fam_i(isrc.fam)]);
    if (from_client) {
        const struct fx_binding *b;
        struct ep peer;
        CHECK(iulen >= 12);
        b = find_c2p(&isrc, fz_get16(f + hi.l4 + 8));
        CHECK(b != NULL);
        ipay = f + hi.l4 + 12;
        iplen = fz_get16(f + hi.l4 + 10);
        CHECK(12 + iplen <= iulen && iulen - 12 - iplen <= 3); /* padding at most 3 */
        ep_of(&b->peer, &peer);
        legs_cross += peer.fam != isrc.fam;
        if (is_relayed(&peer)) {
            /* to another allocation of this relay: arrives from b's relay port there */
            struct ep me = listen_ep[fam_i(peer.fam)];
            const struct fx_binding *b2;
            me.port = b->relay_port;
            b2 = find_p2c(&me, peer.port);
            CHECK(b2 != NULL);
            ep_of(&b2->client, &want_dst);
            legs_cross += want_dst.fam != peer.fam;
            want_channel = b2->channel;
        } else {
            want_dst = peer;
        }
    } else {
        const struct fx_binding *b;
        CHECK(is_relayed(&idst));
        b = find_p2c(&isrc, idst.port);
        CHECK(b != NULL);
        ipay = f + hi.l4 + 8;
        iplen = iulen - 8;
        ep_of(&b->client, &want_dst);
        legs_cross += want_dst.fam != isrc.fam;
        want_channel = b->channel;
    }
    if (in->strict) {
        CHECK(legs_cross == 0);
        if (from_client)
            CHECK(fz_get16(f + hi.l4 + 8) <= FX_STRICT_HI);
    }
    to_client = want_channel != 0;
    if (to_client) {
        want_src = listen_ep[fam_i(want_dst.fam)];
    } else {
        const struct fx_binding *b = find_c2p(&isrc, fz_get16(f + hi.l4 + 8));
        want_src = listen_ep[fam_i(want_dst.fam)];
        want_src.port = b->relay_port;
    }
    CHECK(ep_eq(&osrc, &want_src) && ep_eq(&odst, &want_dst));

    /* the payload, unchanged, framed as ChannelData towards clients */
    if (to_client) {
        CHECK(oulen >= 12 && fz_get16(oudp + 8) == want_channel);
        opay = oudp + 12;
        oplen = fz_get16(oudp + 10);
        CHECK(oplen == oulen - 12);
    } else {
        opay = oudp + 8;
        oplen = oulen - 8;
    }
    CHECK(oplen == iplen && memcmp(opay, ipay, iplen) == 0);
}

/* ---- the run ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t flags, pads;
    size_t len;
    struct inst *in;
    bool xt1;
    uint64_t now[XT_STAT_COUNT];
    struct xdp_md ctx = {0};
    LIBBPF_OPTS(bpf_test_run_opts, opts);
    int rc;

    if (size < FX_HDR_LEN + 14 || size > FX_HDR_LEN + FRAME_MAX)
        return -1; /* not added to the corpus */
    flags = data[0];
    pads = data[1];
    len = size - FX_HDR_LEN;
    memcpy(in_frame, data + FX_HDR_LEN, len);
    fixup(in_frame, len, flags, pads);
    in = &insts[(flags & FX_STRICT) != 0];
    xt1 = flags & FX_INGRESS_XT1;

    ctx.data_end = (uint32_t)len;
    ctx.ingress_ifindex = (uint32_t)(xt1 ? ifindex_xt1 : ifindex_xt0);
    opts.data_in = in_frame;
    opts.data_size_in = (uint32_t)len;
    opts.data_out = out_frame;
    opts.data_size_out = FRAME_MAX + 512;
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof(ctx);
    opts.repeat = 1;
    rc = bpf_prog_test_run_opts(in->prog_fd, &opts);
    if (rc != 0)
        return 0; /* a frame the kernel's test runner does not take */

    CHECK(opts.retval == XDP_PASS || opts.retval == XDP_DROP || opts.retval == XDP_TX ||
          opts.retval == XDP_REDIRECT);

    /* feedback: which counters moved */
    read_stats(in, now);
    if (trace)
        fprintf(stderr, "retval %u, %u -> %u bytes:", opts.retval, (unsigned)len,
                opts.data_size_out);
    for (int k = 0; k < XT_STAT_COUNT; k++) {
        if (now[k] != in->last[k]) {
            extra_counters[in->strict][xt1][k]++;
            if (trace)
                fprintf(stderr, " %s", xdp_stat_name((enum xt_stat)k));
        }
        in->last[k] = now[k];
    }
    if (trace)
        fprintf(stderr, "\n");

    if (opts.retval == XDP_PASS) {
        CHECK(opts.data_size_out == len && memcmp(out_frame, in_frame, len) == 0);
    } else if (opts.retval == XDP_TX || opts.retval == XDP_REDIRECT) {
        long delta = (long)opts.data_size_out - (long)len + 64;
        CHECK(opts.data_size_out <= FRAME_MAX + 512);
        extra_lengths[in->strict][opts.retval == XDP_TX][delta < 0     ? 0
                                                         : delta > 127 ? 127
                                                                       : delta]++;
        check_relayed(in, in_frame, len, out_frame, opts.data_size_out);
    }
    return 0;
}
