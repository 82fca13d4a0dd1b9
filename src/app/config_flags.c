/* Every flag of xturn, stated once: name, the field it fills, how its value is read, its default
 * and its help (src/app/options.h). Flags whose value needs more than a type says are read by
 * config_values.c. */
#include "app/config_flags.h"

#include <stddef.h>

#include "app/config.h"
#include "app/config_values.h"

#define FIELD(f) offsetof(struct xturn_config, f)

static const char *const log_formats[] = {"json", "text", NULL}; /* enum log_format */
static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL}; /* log_level */
static const char *const xdp_modes[] = {"auto", "native", "generic", NULL};       /* xdp_mode */

#define FUNC(n, mv, fn, d, h)                                                                      \
    {                                                                                              \
        .name = n, .metavar = mv, .type = OPT_FUNC, .apply = fn, .def = d, .help = h               \
    }
#define FUNCS(n, mv, fn, h)                                                                        \
    {                                                                                              \
        .name = n, .metavar = mv, .type = OPT_FUNC, .apply = fn, .repeatable = true, .help = h     \
    }
#define U32(n, mv, f, lo, hi, d, w, h)                                                             \
    {                                                                                              \
        .name = n, .metavar = mv, .type = OPT_U32, .off = FIELD(f), .min = lo, .max = hi,          \
        .def = d, .why = w, .help = h                                                              \
    }
#define STRING(n, mv, f, w, h)                                                                     \
    {                                                                                              \
        .name = n, .metavar = mv, .type = OPT_STRING, .off = FIELD(f), .why = w, .help = h         \
    }
#define ENUM(n, mv, f, names_, d, w, h)                                                            \
    {                                                                                              \
        .name = n, .metavar = mv, .type = OPT_ENUM, .off = FIELD(f), .names = names_, .def = d,    \
        .why = w, .help = h                                                                        \
    }
#define BOOL(n, mv, f, d, h)                                                                       \
    {                                                                                              \
        .name = n, .metavar = mv, .type = OPT_BOOL, .off = FIELD(f), .def = d, .help = h           \
    }

#define COUNT    "expected a count"
#define LIFETIME "expected seconds, 1 to 86400"

const struct opt config_flags[] = {
    FUNCS("listen", "ADDR[:PORT]", apply_listen,
          "address to serve TURN on, [IPV6]:PORT for IPv6, default port 3478; at least one"),
    BOOL("no-tcp", NULL, no_tcp, NULL, "serve --listen addresses over UDP only, not TCP too"),
    FUNCS("tls-listen", "ADDR[:PORT]", apply_tls_listen,
          "address to serve TURN over TLS on (and plain TCP), default port 5349; needs --tls-cert "
          "and --tls-key"),
    STRING("tls-cert", "FILE", tls_cert, "expected a file name",
           "PEM certificate for --tls-listen, chain after it; read again on SIGHUP"),
    STRING("tls-key", "FILE", tls_key, "expected a file name",
           "PEM private key of --tls-cert; read again on SIGHUP"),
    U32("max-tcp-connections", "N", max_stream_conns, 1, 1000000, "16384",
        COUNT " from 1 to 1000000", "most client TCP and TLS connections at once"),
    U32("max-tcp-per-ip", "N", max_stream_conns_per_ip, 1, 1000000, "512",
        COUNT " from 1 to 1000000", "most client TCP and TLS connections from one IP address"),
    U32("tcp-first-message-timeout", "SECONDS", stream_first_message_s, 1, 3600, "10",
        "expected seconds, 1 to 3600",
        "close a TCP or TLS connection without a whole message (or TLS handshake) this long"),
    U32("tcp-idle-timeout", "SECONDS", stream_idle_s, 1, 86400, "60", LIFETIME,
        "close a TCP or TLS connection without allocation after this long without a message"),
    FUNC("realm", "REALM", apply_realm, "xturn", "authentication realm"),
    {.name = "auth-secret",
     .metavar = "SECRET",
     .type = OPT_STRINGS,
     .off = FIELD(turn.secrets),
     .count_off = FIELD(turn.nsecrets),
     .why = "empty secret",
     .repeatable = true,
     .secret = true,
     .help = "TURN REST API shared secret; several are accepted, for rotation"},
    STRING("auth-secret-file", "FILE", auth_secret_file, "expected a file name",
           "file with one shared secret per line ('#' starts a comment line)"),
    {.name = "user",
     .metavar = "NAME:PASSWORD",
     .type = OPT_FUNC,
     .apply = apply_user,
     .repeatable = true,
     .secret = true,
     .help = "static long-term credential"},
    FUNC("relay-ports", "LO-HI", apply_relay_ports, "49152-65535",
         "UDP port range for relayed addresses"),
    FUNC("relay-ipv4", "ADDR", apply_relay_ipv4, NULL,
         "IPv4 address relay sockets bind to (without it: the first IPv4 --listen)"),
    FUNC("relay-ipv6", "ADDR", apply_relay_ipv6, NULL,
         "IPv6 address relay sockets bind to (without it: the first IPv6 --listen)"),
    FUNC("public-ipv4", "ADDR|stun:HOST[:PORT]", apply_public_ipv4, NULL,
         "IPv4 address advertised for relays behind 1:1 NAT, or the STUN server to ask for it "
         "once at start (without it: the relay address)"),
    FUNC("public-ipv6", "ADDR|stun:HOST[:PORT]", apply_public_ipv6, NULL,
         "IPv6 address advertised for relays, or the STUN server to ask for it once at start "
         "(without it: the relay address)"),
    FUNCS("allow-peer", "CIDR", apply_allow_peer,
          "let clients reach these peers despite the default deny list"),
    FUNCS("deny-peer", "CIDR", apply_deny_peer, "never let clients reach these peers"),
    U32("unauth-rate", "N", turn.unauth_rate, 0, 1000000, "20",
        COUNT " up to 1000000, 0 for unlimited",
        "answers per second to unauthenticated requests from one IP address (against reflection "
        "to spoofed sources); an address that authenticated in the last minute is not limited; 0 "
        "for unlimited"),
    U32("unauth-burst", "N", turn.unauth_burst, 1, 1000000, "100", COUNT " from 1 to 1000000",
        "answers to unauthenticated requests from one IP address at once, before --unauth-rate "
        "applies"),
    ENUM("log-format", "json|text", log_format, log_formats, "json", "expected json or text",
         "log line format"),
    ENUM("log-level", "LEVEL", log_level, log_levels, "info", "expected error, warn, info or debug",
         "error, warn, info or debug"),
    BOOL("strict-channel-range", NULL, turn.strict_channel_range, NULL,
         "accept channel numbers 0x4000-0x4FFF only (RFC 8656) instead of 0x4000-0x7FFF"),
    U32("max-allocations", "N", turn.max_allocations, 0, UINT32_MAX, "0", COUNT ", 0 for unlimited",
        "most allocations at once, 0 for unlimited"),
    U32("user-quota", "N", turn.user_quota, 0, UINT32_MAX, "0", COUNT ", 0 for unlimited",
        "most allocations per username, 0 for unlimited"),
    U32("max-permissions", "N", turn.max_permissions, 1, UINT32_MAX, "1000", COUNT ", at least 1",
        "most permissions (peer IPs) per allocation; 508 beyond"),
    U32("max-channels", "N", turn.max_channels, 1, UINT32_MAX, "1000", COUNT ", at least 1",
        "most channels per allocation; 508 beyond"),
    U32("max-tcp-peer-connections", "N", turn.max_tcp_peer_conns, 1, 65535, "64",
        COUNT " from 1 to 65535",
        "most peer connections of a TCP allocation (RFC 6062) at once, both ways; beyond, Connect "
        "gets 508 and connections from peers are closed"),
    U32("max-lifetime", "SECONDS", turn.max_lifetime_s, 60, UINT32_MAX, "3600",
        "expected seconds, at least 60", "longest allocation lifetime granted, at least 60"),
    U32("default-lifetime", "SECONDS", turn.default_lifetime_s, 1, 86400, "600", LIFETIME,
        "allocation lifetime when the client asks for less or nothing"),
    U32("permission-lifetime", "SECONDS", turn.permission_lifetime_s, 1, 86400, "300", LIFETIME,
        "permission lifetime"),
    U32("channel-lifetime", "SECONDS", turn.channel_lifetime_s, 1, 86400, "600", LIFETIME,
        "channel binding lifetime"),
    U32("workers", "N", workers, 0, 256, "0", COUNT " up to 256, 0 for one per CPU",
        "relay threads sharing the listen addresses, 0 for one per CPU"),
    BOOL("no-udp-gso", NULL, no_udp_gso, NULL,
         "send UDP datagrams one by one, never a run to one destination as one (UDP GSO)"),
    BOOL("no-udp-gro", NULL, no_udp_gro, NULL,
         "receive UDP datagrams one by one, never several of one source coalesced (UDP GRO)"),
    FUNCS("xdp", "IFACE", apply_xdp, "relay ChannelData in the kernel with XDP on this interface"),
    ENUM("xdp-mode", "MODE", xdp_mode, xdp_modes, "auto", "expected auto, native or generic",
         "auto (native, else generic), native or generic"),
    BOOL("xdp-cross-family", "on|off", xdp_cross_family, "on",
         "translate IPv4<->IPv6 in XDP; off passes such packets to userspace"),
    U32("xdp-map-size", "N", xdp_map_size, 16, UINT32_MAX, "65536", COUNT ", at least 16",
        "channel bindings the XDP maps hold, per family pair"),
    FUNC("metrics", "ADDR[:PORT]", apply_metrics, NULL,
         "serve Prometheus /metrics and /healthz here (off without it; port 9641; keep it "
         "private)"),
    U32("drain-timeout", "SECONDS", drain_timeout_s, 0, UINT32_MAX, "0",
        "expected seconds, 0 to exit at once",
        "on SIGTERM refuse new allocations and keep relaying up to this long, 0 to exit at once"),
    {.name = "alternate-server",
     .metavar = "ADDR[:PORT]",
     .type = OPT_FUNC,
     .apply = apply_alternate_server,
     .repeatable = true,
     .help = "while draining, send new clients here (300 Try Alternate), one per family"},
    STRING("log-file", "FILE", log_file, "expected a file name",
           "append the log here instead of stdout; reopened on SIGHUP"),
    STRING("run-as-user", "USER", run_as_user, "expected a user name",
           "after start-up, switch to this user, keeping only the capabilities still needed"),
    STRING("run-as-group", "GROUP", run_as_group, "expected a group name",
           "the group for --run-as-user (without it: the user's primary group)"),
    {.name = "max-bps",
     .metavar = "BYTES",
     .type = OPT_U64,
     .off = FIELD(turn.max_bps),
     .min = 0,
     .max = UINT32_MAX,
     .def = "0",
     .why = "expected bytes per second, 0 for unlimited",
     .help = "relayed bytes per second per allocation, in userspace and XDP, 0 for unlimited"},
    {.name = "help", .type = OPT_ACTION, .help = "print this help and exit"},
    {.name = "version", .type = OPT_ACTION, .help = "print the version and exit"},
};

const size_t config_nflags = sizeof(config_flags) / sizeof(config_flags[0]);
_Static_assert(sizeof(config_flags) / sizeof(config_flags[0]) <= CONFIG_MAX_FLAGS,
               "CONFIG_MAX_FLAGS too small");
