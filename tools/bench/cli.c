/* Command-line parsing of `xturn-bench client` and `xturn-bench sink`. */
#include "bench.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "turn/auth.h"

void bench_usage(FILE *f)
{
    fputs(
        "usage: xturn-bench client --server ADDR[:PORT] --peer ADDR:PORT... (--secret S | --user "
        "N:P)\n"
        "                          [options]\n"
        "       xturn-bench client --direct --peer ADDR:PORT... [options]\n"
        "       xturn-bench sink --listen ADDR:PORT... [--echo] [--duration S] [--json]\n"
        "\n"
        "client: a TURN load generator (any TURN server); each allocation has its own UDP socket\n"
        "  (or TCP/TLS connection) to the server.\n"
        "  --server ADDR[:PORT]   TURN server (default port 3478, 5349 for TLS; IPv6 as\n"
        "                         [ADDR]:PORT)\n"
        "  --transport udp|tcp|tls  to the server (default udp): tcp and tls carry the same\n"
        "                         messages on one connection per allocation (RFC 8656 12.5);\n"
        "                         tls: no certificate verification, ALPN stun.turn. The\n"
        "                         relayed side (to the peers) is UDP\n"
        "  --sni NAME             TLS server name indication (default: none)\n"
        "  --peer ADDR:PORT       peer (the sink), repeatable: allocations spread round-robin\n"
        "  --secret SECRET        TURN REST API credentials (user \"<now+86400>:bench\")\n"
        "  --user NAME:PASS       static long-term credentials\n"
        "  --realm REALM          realm for the key (default: the server's, from its 401)\n"
        "  --allocations N        allocations (= client sockets), default 1\n"
        "  --relay-family 4|6     REQUESTED-ADDRESS-FAMILY (default: each peer's family)\n"
        "  --local ADDR           bind address of the client sockets, repeatable: round-robin\n"
        "                         (some servers rate-limit unauthenticated requests per IP)\n"
        "  --mode channel|send    ChannelData after ChannelBind (default), or Send indications\n"
        "  --direct               no TURN: plain UDP straight to the peers (the baseline)\n"
        "  --burst W              allocation burst, no traffic: the allocations set up with W in\n"
        "                         flight (401, Allocate, CreatePermission, ChannelBind), then\n"
        "                         deleted; reports allocations per second, failures and the\n"
        "                         relay's RSS per live allocation (W: 1 to 4096)\n"
        "  --relay-pid PID        --burst: the relay process whose RSS is read (default: the one\n"
        "                         process holding a UDP socket bound to --server, if only one)\n"
        "  --hold S               --burst: keep the allocations up S seconds before deleting them\n"
        "                         (\"burst: N allocations up\" on stderr when they are)\n"
        "  --rate PPS             datagrams per second over all allocations; 0 = at full speed\n"
        "  --size BYTES           application payload, 16..65000, default 100\n"
        "  --duration S           measured time, default 10 (fractions allowed)\n"
        "  --warmup S             traffic before the measurement, not counted; default 0.5\n"
        "  --drain S              wait for the last echoes, at most; default 0.5\n"
        "  --echo                 the sink echoes: measure loss, reordering, round-trip time\n"
        "  --json                 only the final JSON object on stdout (no progress line)\n"
        "sink: counts every datagram arriving on its --listen addresses; --echo sends each back "
        "to\n"
        "  its source; --duration 0 (default) runs until SIGINT/SIGTERM. Both print one JSON\n"
        "  object on stdout at the end; errors are one line on stderr and exit status 2.\n",
        f);
}

static const char *const transport_names[] = {"udp", "tcp", "tls", NULL}; /* bench_transport */

const char *transport_name(enum bench_transport t)
{
    return transport_names[t];
}

static int set_user(struct client_opts *o, const char *s)
{
    const char *colon = strchr(s, ':');
    size_t ul = colon ? (size_t)(colon - s) : 0;
    if (!colon || ul == 0 || ul >= sizeof(o->user) || strlen(colon + 1) >= sizeof(o->pass)) {
        bench_err("bad --user (want NAME:PASSWORD)");
        return -1;
    }
    memcpy(o->user, s, ul);
    o->user[ul] = '\0';
    strcpy(o->pass, colon + 1);
    o->have_creds = true;
    return 0;
}

static int set_secret(struct client_opts *o, const char *secret)
{
    /* TURN REST API: "<expiry>:<user>", password base64(HMAC-SHA1(secret, username)). */
    char pass[29];
    snprintf(o->user, sizeof(o->user), "%lld:bench", (long long)time(NULL) + 86400);
    auth_rest_password(secret, o->user, pass);
    snprintf(o->pass, sizeof(o->pass), "%s", pass);
    o->have_creds = true;
    return 0;
}

enum {
    OPT_SERVER = 256,
    OPT_PEER,
    OPT_SECRET,
    OPT_USER,
    OPT_REALM,
    OPT_ALLOCATIONS,
    OPT_RELAY_FAMILY,
    OPT_LOCAL,
    OPT_MODE,
    OPT_TRANSPORT,
    OPT_SNI,
    OPT_DIRECT,
    OPT_BURST,
    OPT_RELAY_PID,
    OPT_HOLD,
    OPT_RATE,
    OPT_SIZE,
    OPT_DURATION,
    OPT_WARMUP,
    OPT_DRAIN,
    OPT_ECHO,
    OPT_JSON,
    OPT_LISTEN,
    OPT_HELP,
};

static const struct option client_longopts[] = {
    {"server", required_argument, NULL, OPT_SERVER},
    {"peer", required_argument, NULL, OPT_PEER},
    {"secret", required_argument, NULL, OPT_SECRET},
    {"user", required_argument, NULL, OPT_USER},
    {"realm", required_argument, NULL, OPT_REALM},
    {"allocations", required_argument, NULL, OPT_ALLOCATIONS},
    {"relay-family", required_argument, NULL, OPT_RELAY_FAMILY},
    {"local", required_argument, NULL, OPT_LOCAL},
    {"mode", required_argument, NULL, OPT_MODE},
    {"transport", required_argument, NULL, OPT_TRANSPORT},
    {"sni", required_argument, NULL, OPT_SNI},
    {"direct", no_argument, NULL, OPT_DIRECT},
    {"burst", required_argument, NULL, OPT_BURST},
    {"relay-pid", required_argument, NULL, OPT_RELAY_PID},
    {"hold", required_argument, NULL, OPT_HOLD},
    {"rate", required_argument, NULL, OPT_RATE},
    {"size", required_argument, NULL, OPT_SIZE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"drain", required_argument, NULL, OPT_DRAIN},
    {"echo", no_argument, NULL, OPT_ECHO},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int bad_value(const char *flag, const char *v, const char *want)
{
    bench_err("bad %s '%s' (%s)", flag, v, want);
    return -1;
}

/* The index of v in names (NULL-terminated), or -1 with the error printed. */
static int choice(const char *flag, const char *v, const char *const *names, const char *want)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    return bad_value(flag, v, want);
}

#define ADDR_PORT    1 /* the address must have a port */
#define ADDR_NOT_ANY 2 /* and must not be the unspecified address */

/* Appends the value of a repeatable address flag to list (n entries, at most max). */
static int add_addr(struct xt_addr *list, size_t *n, size_t max, const char *flag, const char *s,
                    unsigned need, const char *want)
{
    struct xt_addr a;

    if (*n == max) {
        bench_err("at most %zu %s", max, flag);
        return -1;
    }
    memset(&a, 0, sizeof(a));
    if (xt_addr_parse(s, 0, &a) != 0 || ((need & ADDR_PORT) && a.port == 0) ||
        ((need & ADDR_NOT_ANY) && xt_addr_is_any(&a)))
        return bad_value(flag, s, want);
    list[(*n)++] = a;
    return 0;
}

static int no_extra_args(int argc, char **argv)
{
    if (optind >= argc)
        return 0;
    bench_err("unexpected argument '%s'", argv[optind]);
    return -1;
}

/* getopt_long with its own messages silenced: ours are one line each. */
static int next_opt(int argc, char **argv, const struct option *opts)
{
    opterr = 0;
    return getopt_long(argc, argv, "+", opts, NULL);
}

static int unknown_opt(char **argv)
{
    const char *arg = argv[optind - 1];
    if (optopt)
        bench_err("option '%s' needs a value", arg ? arg : "?");
    else
        bench_err("unknown option '%s'", arg ? arg : "?");
    return -1;
}

int client_parse(int argc, char **argv, struct client_opts *o)
{
    uint64_t v;
    int c, k;

    memset(o, 0, sizeof(*o));
    o->allocations = 1;
    o->mode = MODE_CHANNEL;
    o->size = 100;
    o->duration = 10;
    o->warmup = 0.5;
    o->drain = 0.5;
    optind = 1;
    while ((c = next_opt(argc, argv, client_longopts)) != -1) {
        const char *arg = optarg;
        switch (c) {
        case OPT_SERVER:
            memset(&o->server, 0, sizeof(o->server));
            /* No port: the transport's default, set once every flag is known. */
            if (xt_addr_parse(arg, 0, &o->server) != 0 || xt_addr_is_any(&o->server))
                return bad_value("--server", arg, "want ADDR[:PORT], IPv6 as [ADDR]:PORT");
            o->have_server = true;
            break;
        case OPT_PEER:
            if (add_addr(o->peers, &o->npeers, BENCH_MAX_PEERS, "--peer", arg,
                         ADDR_PORT | ADDR_NOT_ANY, "want ADDR:PORT, IPv6 as [ADDR]:PORT") != 0)
                return -1;
            break;
        case OPT_SECRET:
            if (!*arg)
                return bad_value("--secret", arg, "empty");
            set_secret(o, arg);
            break;
        case OPT_USER:
            if (set_user(o, arg) != 0)
                return -1;
            break;
        case OPT_REALM:
            if (!*arg || strlen(arg) >= sizeof(o->realm))
                return bad_value("--realm", arg, "empty or too long");
            strcpy(o->realm, arg);
            o->have_realm = true;
            break;
        case OPT_ALLOCATIONS:
            if (parse_uint(arg, 1, BENCH_MAX_ALLOCS, &v) != 0)
                return bad_value("--allocations", arg, "1 to 1048576");
            o->allocations = (uint32_t)v;
            break;
        case OPT_RELAY_FAMILY:
            if (strcmp(arg, "4") == 0)
                o->relay_family = 4;
            else if (strcmp(arg, "6") == 0)
                o->relay_family = 6;
            else
                return bad_value("--relay-family", arg, "4 or 6");
            break;
        case OPT_LOCAL:
            if (add_addr(o->local, &o->nlocal, BENCH_MAX_LOCAL, "--local", arg, 0,
                         "want an IP address") != 0)
                return -1;
            break;
        case OPT_MODE: /* in the order of enum bench_mode */
            if ((k = choice("--mode", arg, (const char *const[]){"channel", "send", "direct", NULL},
                            "channel or send")) < 0)
                return -1;
            o->mode = (enum bench_mode)k;
            break;
        case OPT_TRANSPORT:
            if ((k = choice("--transport", arg, transport_names, "udp, tcp or tls")) < 0)
                return -1;
            o->transport = (enum bench_transport)k;
            break;
        case OPT_SNI:
            if (!*arg || strlen(arg) >= sizeof(o->sni))
                return bad_value("--sni", arg, "empty or too long");
            strcpy(o->sni, arg);
            break;
        case OPT_DIRECT:
            o->mode = MODE_DIRECT;
            break;
        case OPT_BURST:
            if (parse_uint(arg, 1, BENCH_MAX_WINDOW, &v) != 0)
                return bad_value("--burst", arg, "allocations in flight, 1 to 4096");
            o->burst = (uint32_t)v;
            break;
        case OPT_RELAY_PID:
            if (parse_uint(arg, 1, INT32_MAX, &v) != 0)
                return bad_value("--relay-pid", arg, "a process id");
            o->relay_pid = (int)v;
            break;
        case OPT_HOLD:
            if (parse_seconds(arg, &o->hold) != 0 || o->hold < 0)
                return bad_value("--hold", arg, "seconds");
            break;
        case OPT_RATE:
            if (parse_uint(arg, 0, 100000000, &v) != 0)
                return bad_value("--rate", arg, "datagrams per second, 0 = unlimited");
            o->rate = v;
            break;
        case OPT_SIZE:
            if (parse_uint(arg, BENCH_MIN_SIZE, BENCH_MAX_SIZE, &v) != 0)
                return bad_value("--size", arg, "16 to 65000 bytes");
            o->size = (uint32_t)v;
            break;
        case OPT_DURATION:
            if (parse_seconds(arg, &o->duration) != 0 || o->duration <= 0)
                return bad_value("--duration", arg, "seconds > 0");
            break;
        case OPT_WARMUP:
            if (parse_seconds(arg, &o->warmup) != 0)
                return bad_value("--warmup", arg, "seconds >= 0");
            break;
        case OPT_DRAIN:
            if (parse_seconds(arg, &o->drain) != 0 || o->drain > 60)
                return bad_value("--drain", arg, "0 to 60 seconds");
            break;
        case OPT_ECHO:
            o->echo = true;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_HELP:
            bench_usage(stdout);
            return 1;
        default:
            return unknown_opt(argv);
        }
    }
    if (no_extra_args(argc, argv) != 0)
        return -1;
    if (o->npeers == 0) {
        bench_err("client: at least one --peer ADDR:PORT is required");
        return -1;
    }
    if (o->have_server && o->server.port == 0)
        o->server.port = o->transport == TRANSPORT_TLS ? BENCH_TLS_PORT : BENCH_DEFAULT_PORT;
    if (o->mode == MODE_DIRECT && o->transport != TRANSPORT_UDP) {
        bench_err("client: --direct sends UDP to the peers: no --transport");
        return -1;
    }
    if (o->burst && o->mode != MODE_CHANNEL) {
        bench_err("client: --burst sets up channels: no --mode send or --direct");
        return -1;
    }
    if ((o->relay_pid || o->hold > 0) && !o->burst) {
        bench_err("client: --relay-pid and --hold need --burst");
        return -1;
    }
    if (o->sni[0] && o->transport != TRANSPORT_TLS) {
        bench_err("client: --sni needs --transport tls");
        return -1;
    }
    if (o->mode != MODE_DIRECT) {
        if (!o->have_server) {
            bench_err("client: --server is required (or --direct)");
            return -1;
        }
        if (!o->have_creds) {
            bench_err("client: --secret or --user is required");
            return -1;
        }
        for (size_t i = 0; i < o->nlocal; i++) {
            if (o->local[i].family != o->server.family) {
                bench_err("client: --local and --server are of different address families");
                return -1;
            }
        }
    }
    for (size_t i = 0; i < o->npeers; i++) {
        const struct xt_addr *p = &o->peers[i];
        char a[XT_ADDR_STRLEN];
        int fam = p->family == AF_INET ? 4 : 6;
        if (o->mode != MODE_DIRECT && o->relay_family && o->relay_family != fam) {
            bench_err("client: peer %s is IPv%d but --relay-family is %d", xt_addr_str(p, a), fam,
                      o->relay_family);
            return -1;
        }
        for (size_t j = 0; o->mode == MODE_DIRECT && j < o->nlocal; j++) {
            if (o->local[j].family != p->family) {
                bench_err("client: --local and peer %s are of different address families",
                          xt_addr_str(p, a));
                return -1;
            }
        }
    }
    for (size_t i = 0; i < o->nlocal; i++) {
        if (o->local[i].port && o->allocations > o->nlocal) {
            bench_err("client: --local with a port allows one allocation per --local");
            return -1;
        }
    }
    return 0;
}

static const struct option sink_longopts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"echo", no_argument, NULL, OPT_ECHO},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

int sink_parse(int argc, char **argv, struct sink_opts *o)
{
    int c;

    memset(o, 0, sizeof(*o));
    optind = 1;
    while ((c = next_opt(argc, argv, sink_longopts)) != -1) {
        const char *arg = optarg;
        switch (c) {
        case OPT_LISTEN:
            if (add_addr(o->listen, &o->nlisten, BENCH_MAX_LISTEN, "--listen", arg, ADDR_PORT,
                         "want ADDR:PORT, IPv6 as [ADDR]:PORT") != 0)
                return -1;
            break;
        case OPT_ECHO:
            o->echo = true;
            break;
        case OPT_DURATION:
            if (parse_seconds(arg, &o->duration) != 0)
                return bad_value("--duration", arg, "seconds, 0 = until SIGINT/SIGTERM");
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_HELP:
            bench_usage(stdout);
            return 1;
        default:
            return unknown_opt(argv);
        }
    }
    if (no_extra_args(argc, argv) != 0)
        return -1;
    if (o->nlisten == 0) {
        bench_err("sink: at least one --listen ADDR:PORT is required");
        return -1;
    }
    return 0;
}
