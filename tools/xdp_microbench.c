/* Micro-benchmark of the XDP program (src/bpf/, loaded through src/xdp/xdp_loader.c) on each
 * relayed path, next to a bare program that only swaps MACs, IP addresses and UDP ports and
 * returns XDP_TX (tools/bpf/xdp_swap.bpf.c): the floor of any XDP relay. A benchmark, not a
 * test: it reports, it asserts no timing. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN).
 *
 * Usage: build/xdp_microbench [--sizes 100,1200] [--repeat N] [--calls N] [--runs R]
 *                             [--bpf-dir build/bpf] [--cpu N]
 * Prints one JSON line per path and size on stdout, notes on stderr.
 *
 * The process moves into a private network namespace with a veth, addresses, routes and
 * PERMANENT neighbours (as tests/unit/test_xdp_prog.c does), so bpf_fib_lookup answers.
 *
 * Two measures, each the median of `runs` runs:
 *
 * hot (ns_per_pkt, bare_ns_per_pkt): bpf_prog_test_run_opts with repeat = N, the program run
 * N times in a loop in the kernel, as a driver runs it over a NAPI batch. It runs them on one
 * buffer, which a relay rewrites: from the second run on it would see its own output and take
 * a short pass path (the tool shows this at start: the path's counter moves by 1, not N). So
 * the harness tools/bpf/xdp_restore.bpf.c runs first each time, puts the original frame back
 * and tail-calls the program under test; its own cost is that of the same harness calling
 * xdp_tx_only (which touches nothing) minus xdp_tx_only's own time, and is subtracted:
 *     hot(P) = T(harness -> P) - T(harness -> xdp_tx_only) + T(xdp_tx_only)
 * The path's counter is checked to have moved by exactly N per run. The bare program does the
 * same work on every run of the same buffer (two swaps are the identity), so it needs no
 * harness: bare_ns_per_pkt is its direct repeat = N time, free of the subtraction's noise;
 * through the harness (bare_harness_ns_per_pkt) it checks the subtraction. The
 * time of a run is the wall clock of the call divided by N when that is within 1 ns of the
 * kernel's own figure (opts.duration, whole ns, which leaves out any time the run was
 * preempted); otherwise the kernel's figure.
 *
 * cold (cold_ns_per_pkt, cold_bare_ns_per_pkt): one run per call (repeat = 1) on a fresh copy
 * of the frame, `calls` calls: one packet at a time, with the syscall between runs evicting
 * caches and predictors. opts.duration of such a call also holds a clock read that repeat = N
 * spreads over N runs: xdp_tx_only is timed the same way in the same run, and
 *     cold(P) = C(P) - C(xdp_tx_only) + T(xdp_tx_only)
 * Per run of calls: the mean of the fastest 99% (a call interrupted by other work on the
 * machine is not the program's cost). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "xdp/xdp_abi.h"
#include "xdp/xdp_loader.h"
#include "xdp/xdp_maps.h"
#include "xdp/xdp_stats.h"
#include "xdp_testnet.h"

#define FRAME_CAP 2048
#define FRAME_MAX 1536 /* struct bench_frame in tools/bpf/xdp_restore.bpf.c */
#define MAX_RUNS  64
#define MAX_SIZES 8

/* ---- the network: tests/support/xdp_testnet.h (xt0 is the ingress) ---- */

static const struct testnet_binding bindings[] = {TESTNET_PATH_BINDINGS};

/* Map and counter names go (ingress family, egress family): p2c_46 is a peer on IPv4 to a
 * client on IPv6. */
struct path {
    const char *name, *label;
    struct tep src, dst;
    uint16_t channel; /* ChannelData from a client; 0: a raw datagram from a peer */
    const uint8_t *smac;
    enum xt_stat stat; /* counter that must move once per run */
    int cross;         /* IPv4<->IPv6 */
};

static const struct path paths[] = {
    {"c2p_44", "c2p 4→4", C4, LISTEN4, 0x4001, testnet_gw_c, XT_C2P_44, 0},
    {"c2p_66", "c2p 6→6", C6, LISTEN6, 0x4004, testnet_gw_c, XT_C2P_66, 0},
    {"c2p_46", "c2p 4→6", C4, LISTEN4, 0x4002, testnet_gw_c, XT_C2P_46, 1},
    {"c2p_64", "c2p 6→4", C6, LISTEN6, 0x4003, testnet_gw_c, XT_C2P_64, 1},
    {"p2c_44", "p2c 4→4", P4, RELAY4(50001), 0, testnet_gw_p, XT_P2C_44, 0},
    {"p2c_66", "p2c 6→6", P6, RELAY6(50004), 0, testnet_gw_p, XT_P2C_66, 0},
    {"p2c_46", "p2c 4→6", P4, RELAY4(50003), 0, testnet_gw_p, XT_P2C_46, 1},
    {"p2c_64", "p2c 6→4", P6, RELAY6(50002), 0, testnet_gw_p, XT_P2C_64, 1},
    {"c2c_self", "c2c self 4→4", CA4, LISTEN4, 0x4010, testnet_gw_c, XT_C2C_SELF, 0},
};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

static int ifindex_xt0;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("xdp_microbench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static size_t ep_ip(const struct tep *e, uint8_t ip[16])
{
    memset(ip, 0, 16);
    if (inet_pton(e->fam, e->ip, ip) != 1)
        die("bad address %s", e->ip);
    return e->fam == AF_INET ? 4 : 16;
}

static void ep_addr(const struct tep *e, struct xt_addr *a)
{
    uint8_t ip[16];

    ep_ip(e, ip);
    if (e->fam == AF_INET)
        xt_addr_v4(a, ip, e->port);
    else
        xt_addr_v6(a, ip, e->port);
}

/* ---- frames ---- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

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

/* A UDP datagram with `size` application bytes from path->src to path->dst, as ChannelData
 * when the path has a channel; valid IPv4 and UDP checksums. Returns the frame length. */
static size_t build_frame(uint8_t *buf, const struct path *pa, size_t size)
{
    uint8_t sip[16], dip[16];
    size_t alen = ep_ip(&pa->src, sip);
    size_t iph = pa->src.fam == AF_INET ? 20 : 40;
    uint8_t *ip = buf + 14, *udp = ip + iph, *pl = udp + 8;
    size_t n = 0, ulen;
    uint32_t sum;

    ep_ip(&pa->dst, dip);
    if (14 + iph + 8 + 4 + size > FRAME_CAP)
        die("size %zu too large", size);
    memset(buf, 0, FRAME_CAP);
    memcpy(buf, testnet_mac_xt0, 6);
    memcpy(buf + 6, pa->smac, 6);
    put16(buf + 12, pa->src.fam == AF_INET ? 0x0800 : 0x86dd);
    if (pa->channel) {
        put16(pl, pa->channel);
        put16(pl + 2, (uint16_t)size);
        n = 4;
    }
    for (size_t i = 0; i < size; i++)
        pl[n + i] = (uint8_t)(i * 131 + 17);
    n += size;
    while (pa->channel && n % 4) /* ChannelData padding, as clients send it */
        pl[n++] = 0;
    ulen = 8 + n;
    put16(udp, pa->src.port);
    put16(udp + 2, pa->dst.port);
    put16(udp + 4, (uint16_t)ulen);
    if (pa->src.fam == AF_INET) {
        ip[0] = 0x45;
        put16(ip + 2, (uint16_t)(20 + ulen));
        put16(ip + 4, 0x1234);
        ip[8] = 64;
        ip[9] = 17;
        memcpy(ip + 12, sip, 4);
        memcpy(ip + 16, dip, 4);
        put16(ip + 10, (uint16_t)~fold(sum16(ip, 20, 0)));
    } else {
        ip[0] = 0x60;
        put16(ip + 4, (uint16_t)ulen);
        ip[6] = 17;
        ip[7] = 64;
        memcpy(ip + 8, sip, 16);
        memcpy(ip + 24, dip, 16);
    }
    sum = sum16(sip, alen, 0);
    sum = sum16(dip, alen, sum);
    sum += 17 + (uint32_t)ulen;
    sum = (uint16_t)~fold(sum16(udp, ulen, sum));
    put16(udp + 6, sum ? (uint16_t)sum : 0xffff);
    return 14 + iph + ulen;
}

/* ---- running ---- */

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One bpf_prog_test_run_opts call; *ns: time per run (see the top comment). */
static uint32_t test_run(int fd, const uint8_t *frame, size_t len, uint32_t repeat, double *ns,
                         const char *what)
{
    struct xdp_md ctx = {.data_end = (uint32_t)len, .ingress_ifindex = (uint32_t)ifindex_xt0};
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)len,
                .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = repeat);
    double t0 = now_ns(), wall;
    int rc = bpf_prog_test_run_opts(fd, &opts);

    wall = (now_ns() - t0) / repeat;
    if (rc != 0)
        die("%s: bpf_prog_test_run_opts: %s", what, strerror(-rc));
    if (ns)
        *ns = repeat > 1 && wall >= opts.duration && wall < opts.duration + 1.0 ? wall
                                                                                : opts.duration;
    return opts.retval;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Hot: one call with repeat = n, which must end in XDP_TX; ns per run. */
static double time_hot(int fd, const uint8_t *frame, size_t len, uint32_t n, const char *what)
{
    double ns;
    uint32_t ret = test_run(fd, frame, len, n, &ns, what);

    if (ret != XDP_TX)
        die("%s: returned %u, not XDP_TX (%u)", what, ret, XDP_TX);
    return ns;
}

/* Cold: `calls` calls with repeat = 1, each ending in XDP_TX; the mean duration of the fastest
 * 99%, in ns. */
static double time_cold(int fd, const uint8_t *frame, size_t len, double *durs, size_t calls,
                        const char *what)
{
    size_t keep = calls - calls / 100;
    double sum = 0;

    for (size_t i = 0; i < calls; i++) {
        if (test_run(fd, frame, len, 1, &durs[i], what) != XDP_TX)
            die("%s: did not return XDP_TX", what);
    }
    qsort(durs, calls, sizeof(*durs), cmp_double);
    for (size_t i = 0; i < keep; i++)
        sum += durs[i];
    return sum / (double)keep;
}

static uint64_t counter(struct xdp_prog *prog, enum xt_stat s)
{
    struct xt_counter c[XT_STAT_COUNT];

    if (xdp_prog_stats(prog, c) != 0)
        die("cannot read the XDP counters");
    return c[s].packets;
}

static struct bpf_object *open_obj(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct bpf_object *obj;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    obj = bpf_object__open_file(path, NULL);
    if (!obj || libbpf_get_error(obj))
        die("cannot open %s (`make all` builds it)", path);
    if (bpf_object__load(obj) != 0)
        die("cannot load %s", path);
    return obj;
}

static int prog_fd(struct bpf_object *obj, const char *name)
{
    struct bpf_program *p = bpf_object__find_program_by_name(obj, name);

    if (!p)
        die("no program %s", name);
    return bpf_program__fd(p);
}

static int map_fd(struct bpf_object *obj, const char *name)
{
    int fd = bpf_object__find_map_fd_by_name(obj, name);

    if (fd < 0)
        die("no map %s", name);
    return fd;
}

static void setup_netns(void)
{
    char err[256];

    if (xdp_testnet_enter(err, sizeof(err)) != 0)
        die("%s", err);
    ifindex_xt0 = (int)if_nametoindex("xt0");
    if (!ifindex_xt0)
        die("no interface xt0");
}

static struct xdp_prog *load_prog(void)
{
    const struct tep l4 = LISTEN4, l6 = LISTEN6;
    struct xt_addr addrs[2];
    const struct xdp_abi_settings s = {.listen = addrs,
                                       .nlisten = 2,
                                       .relay = addrs,
                                       .nrelay = 2,
                                       .relay_port_lo = 49152,
                                       .relay_port_hi = 65535,
                                       .cross_family = true};
    struct xdp_options o;
    struct xdp_prog *prog;
    char err[1024] = "";

    ep_addr(&l4, &addrs[0]);
    ep_addr(&l6, &addrs[1]);
    memset(&o, 0, sizeof(o));
    o.cfg = xdp_abi_cfg(&s);
    o.map_entries = 1024;
    prog = xdp_prog_load(&o, err, sizeof(err));
    if (!prog)
        die("xdp_prog_load: %s", err);
    for (size_t i = 0; i < sizeof(bindings) / sizeof(bindings[0]); i++) {
        struct xt_addr c, p;
        int rc;

        ep_addr(&bindings[i].client, &c);
        ep_addr(&bindings[i].peer, &p);
        rc = xdp_prog_bind(prog, &c, bindings[i].channel, &p, bindings[i].relay_port, 0);
        if (rc != 0)
            die("xdp_prog_bind: %s", strerror(-rc));
    }
    return prog;
}

/* The harness's frame (struct bench_frame: u32 length, then the bytes) and target. */
static void harness_set(int frame_map, int target_map, const uint8_t *frame, size_t len,
                        int target_fd)
{
    static uint8_t value[4 + FRAME_MAX];
    uint32_t k = 0, l = (uint32_t)len;

    if (len > FRAME_MAX)
        die("frame of %zu bytes: the harness holds at most %d", len, FRAME_MAX);
    memset(value, 0, sizeof(value));
    memcpy(value, &l, 4);
    memcpy(value + 4, frame, len);
    if (bpf_map_update_elem(frame_map, &k, value, BPF_ANY) != 0)
        die("harness frame: %s", strerror(errno));
    if (bpf_map_update_elem(target_map, &k, &target_fd, BPF_ANY) != 0)
        die("harness target: %s", strerror(errno));
}

static void usage(void)
{
    fprintf(stderr, "usage: xdp_microbench [--sizes 100,1200] [--repeat N] [--calls N] "
                    "[--runs R] [--bpf-dir DIR] [--cpu N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"sizes", required_argument, NULL, 's'},   {"calls", required_argument, NULL, 'c'},
        {"runs", required_argument, NULL, 'r'},    {"repeat", required_argument, NULL, 'n'},
        {"bpf-dir", required_argument, NULL, 'b'}, {"cpu", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    size_t sizes[MAX_SIZES] = {100}, nsizes = 1, calls = 50000, runs = 5;
    uint32_t repeat = 1000000;
    int cpu = -1, opt, relay_fd, swap_fd, tx_fd, harness_fd, frame_map, target_map;
    char dir[PATH_MAX], self[PATH_MAX];
    ssize_t sl;
    struct xdp_prog *prog;
    struct bpf_object *bare_obj, *harness_obj;
    uint8_t frame[FRAME_CAP];
    double *durs, timer_ns, tx_hot, a[MAX_RUNS], b[MAX_RUNS];

    sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (sl <= 0)
        die("readlink /proc/self/exe: %s", strerror(errno));
    self[sl] = 0;
    snprintf(dir, sizeof(dir), "%s/bpf", dirname(self));
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 's': {
            char *save = NULL, *tok;

            nsizes = 0;
            for (tok = strtok_r(optarg, ",", &save); tok && nsizes < MAX_SIZES;
                 tok = strtok_r(NULL, ",", &save))
                sizes[nsizes++] = strtoul(tok, NULL, 10);
            break;
        }
        case 'c':
            calls = strtoul(optarg, NULL, 10);
            break;
        case 'r':
            runs = strtoul(optarg, NULL, 10);
            break;
        case 'n':
            repeat = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'b':
            snprintf(dir, sizeof(dir), "%s", optarg);
            break;
        case 'p':
            cpu = atoi(optarg);
            break;
        default:
            usage();
        }
    }
    if (optind != argc || nsizes == 0 || calls < 100 || runs < 1 || runs > MAX_RUNS || repeat < 2)
        usage();
    /* The harness knows how far the head moved from the length alone: no ChannelData padding
     * (which the relay cuts from the tail). */
    for (size_t i = 0; i < nsizes; i++) {
        if (sizes[i] % 4 || sizes[i] > 1400)
            die("sizes must be multiples of 4, at most 1400 (got %zu)", sizes[i]);
    }
    if (cpu >= 0) {
        cpu_set_t set;

        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) != 0)
            die("sched_setaffinity(%d): %s", cpu, strerror(errno));
    }
    durs = calloc(calls, sizeof(*durs));
    if (!durs)
        die("out of memory");

    setup_netns();
    prog = load_prog();
    relay_fd = xdp_prog_fd(prog);
    bare_obj = open_obj(dir, "xdp_swap.bpf.o");
    swap_fd = prog_fd(bare_obj, "xdp_swap");
    tx_fd = prog_fd(bare_obj, "xdp_tx_only");
    harness_obj = open_obj(dir, "xdp_restore.bpf.o");
    harness_fd = prog_fd(harness_obj, "xdp_restore");
    frame_map = map_fd(harness_obj, "bench_frame");
    target_map = map_fd(harness_obj, "bench_target");

    /* Why repeat = N alone cannot time the relay. */
    {
        size_t len = build_frame(frame, &paths[0], 100);
        uint64_t before = counter(prog, paths[0].stat);

        test_run(relay_fd, frame, len, 1000, NULL, "repeat check");
        fprintf(stderr,
                "xdp_microbench: repeat=1000 on one %s frame without the harness relayed %llu "
                "of 1000 runs (the program rewrites the buffer it then runs on again)\n",
                paths[0].name, (unsigned long long)(counter(prog, paths[0].stat) - before));
    }

    /* xdp_tx_only: its time per run (hot), and the clock read a repeat = 1 call adds (cold). */
    {
        size_t len = build_frame(frame, &paths[0], 100);

        for (size_t r = 0; r < runs; r++) {
            a[r] = time_cold(tx_fd, frame, len, durs, calls, "xdp_tx_only");
            b[r] = time_hot(tx_fd, frame, len, repeat, "xdp_tx_only");
        }
        tx_hot = median(b, runs);
        timer_ns = median(a, runs) - tx_hot;
        fprintf(stderr,
                "xdp_microbench: xdp_tx_only %.1f ns per run (repeat=%u), %.1f ns per call "
                "(repeat=1): %.1f ns of timer per cold call\n",
                tx_hot, repeat, median(a, runs), timer_ns);
    }

    for (size_t si = 0; si < nsizes; si++) {
        for (size_t pi = 0; pi < NPATHS; pi++) {
            const struct path *pa = &paths[pi];
            size_t len = build_frame(frame, pa, sizes[si]);
            double h_relay[MAX_RUNS], h_swap[MAX_RUNS], h_tx[MAX_RUNS], d_swap[MAX_RUNS];
            double c_relay[MAX_RUNS], c_swap[MAX_RUNS], c_tx[MAX_RUNS];
            double hot, bhot, bdirect, cold, bcold, target;
            uint64_t before, moved;

            /* The frame takes the path: 100 single runs, counted. */
            before = counter(prog, pa->stat);
            time_cold(relay_fd, frame, len, durs, 100, pa->name);
            moved = counter(prog, pa->stat) - before;
            if (moved != 100)
                die("%s: the frame did not take the path (counter moved by %llu of 100)", pa->name,
                    (unsigned long long)moved);

            before = counter(prog, pa->stat);
            for (size_t r = 0; r < runs; r++) {
                harness_set(frame_map, target_map, frame, len, relay_fd);
                h_relay[r] = time_hot(harness_fd, frame, len, repeat, pa->name);
                harness_set(frame_map, target_map, frame, len, swap_fd);
                h_swap[r] = time_hot(harness_fd, frame, len, repeat, "harness xdp_swap");
                harness_set(frame_map, target_map, frame, len, tx_fd);
                h_tx[r] = time_hot(harness_fd, frame, len, repeat, "harness xdp_tx_only");
                d_swap[r] = time_hot(swap_fd, frame, len, repeat, "xdp_swap");
                c_relay[r] = time_cold(relay_fd, frame, len, durs, calls, pa->name);
                c_swap[r] = time_cold(swap_fd, frame, len, durs, calls, "xdp_swap");
                c_tx[r] = time_cold(tx_fd, frame, len, durs, calls, "xdp_tx_only");
            }
            moved = counter(prog, pa->stat) - before;
            if (moved != ((uint64_t)repeat + calls) * runs)
                die("%s: counter moved by %llu, expected %llu: not every run took the path",
                    pa->name, (unsigned long long)moved,
                    (unsigned long long)((uint64_t)repeat + calls) * runs);
            {
                double tx = median(h_tx, runs);

                hot = median(h_relay, runs) - tx + tx_hot;
                bhot = median(h_swap, runs) - tx + tx_hot;
            }
            cold = median(c_relay, runs) - median(c_tx, runs) + tx_hot;
            bcold = median(c_swap, runs) - median(c_tx, runs) + tx_hot;
            bdirect = median(d_swap, runs);
            target = pa->cross ? 2.0 : 1.5;
            printf("{\"path\":\"%s\",\"label\":\"%s\",\"size\":%zu,\"frame_bytes\":%zu,"
                   "\"ns_per_pkt\":%.1f,\"bare_ns_per_pkt\":%.1f,\"ratio\":%.2f,"
                   "\"target_ratio\":%.1f,\"met\":%s,\"bare_harness_ns_per_pkt\":%.1f,"
                   "\"harness_ns\":%.1f,\"cold_ns_per_pkt\":%.1f,\"cold_bare_ns_per_pkt\":%.1f,"
                   "\"repeat\":%u,\"calls\":%zu,\"runs\":%zu}\n",
                   pa->name, pa->label, sizes[si], len, hot, bdirect, hot / bdirect, target,
                   hot / bdirect <= target ? "true" : "false", bhot, median(h_tx, runs) - tx_hot,
                   cold, bcold, repeat, calls, runs);
            fflush(stdout);
        }
    }
    bpf_object__close(harness_obj);
    bpf_object__close(bare_obj);
    xdp_prog_close(prog);
    free(durs);
    return 0;
}
