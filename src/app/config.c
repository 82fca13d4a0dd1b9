#include "app/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OOM      "out of memory"
#define WILDCARD "needs a specific address, not a wildcard"
#define ECHO_MAX 100 /* bytes of a bad value quoted in its error */

/* Applies one value of a flag to cfg: NULL if fine, else why the value is wrong. */
typedef const char *apply_fn(struct xturn_config *cfg, const char *val);

struct flag {
    const char *name;
    const char *metavar; /* NULL: the flag takes no value */
    bool repeatable;
    bool secret;     /* never echo the value in an error message */
    apply_fn *apply; /* NULL: --help and --version, which have no environment variable */
    const char *help;
};

/* Appends the size-byte *val to the n-element array arr. Returns the grown array, or NULL when
 * out of memory (then arr and *n are untouched). */
static void *push(void *arr, size_t *n, const void *val, size_t size)
{
    char *p = realloc(arr, (*n + 1) * size);
    if (!p)
        return NULL;
    memcpy(p + *n * size, val, size);
    (*n)++;
    return p;
}

/* Secrets and passwords are wiped so they do not linger in freed heap memory. */
static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static const char *push_string(char ***arr, size_t *n, const char *val)
{
    char *dup = strdup(val);
    char **p = dup ? push(*arr, n, &dup, sizeof(dup)) : NULL;
    if (!p) {
        free(dup);
        return OOM;
    }
    *arr = p;
    return NULL;
}

/* Strict decimal: digits only (strtoul alone would take a sign and spaces), within [min, max].
 * *end is set to the first byte after the number. */
static bool parse_u32(const char *s, char **end, uint32_t min, uint32_t max, uint32_t *out)
{
    unsigned long v;
    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    v = strtoul(s, end, 10);
    if (errno == ERANGE || v < min || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

static const char *apply_listen(struct xturn_config *cfg, const char *val)
{
    struct xt_addr a;
    if (xt_addr_parse(val, XTURN_DEFAULT_PORT, &a) != 0)
        return "expected ADDR, ADDR:PORT or [IPV6]:PORT";
    if (xt_addr_is_any(&a))
        return WILDCARD;
    struct xt_addr *p = push(cfg->listen, &cfg->nlisten, &a, sizeof(a));
    if (!p)
        return OOM;
    cfg->listen = p;
    return NULL;
}

static const char *replace_string(char **dst, const char *val)
{
    char *dup = strdup(val);
    if (!dup)
        return OOM;
    free(*dst);
    *dst = dup;
    return NULL;
}

/* NULL if s is valid UTF-8 (RFC 3629: shortest form, no surrogates, at most U+10FFFF) without
 * control characters (C0, DEL, C1), with its length in characters in *chars; else why not. */
static const char *check_text(const char *s, size_t *chars)
{
    static const uint32_t min_of_len[] = {0, 0, 0x80, 0x800, 0x10000};
    const uint8_t *p = (const uint8_t *)s;

    for (*chars = 0; *p; (*chars)++) {
        size_t len = *p < 0x80   ? 1
                     : *p < 0xC0 ? 0
                     : *p < 0xE0 ? 2
                     : *p < 0xF0 ? 3
                     : *p < 0xF8 ? 4
                                 : 0;
        uint32_t cp;
        if (len == 0)
            return "not valid UTF-8";
        cp = len == 1 ? *p : *p & (0x7F >> len);
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return "not valid UTF-8";
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if (cp < min_of_len[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return "not valid UTF-8";
        if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
            return "contains a control character";
        p += len;
    }
    return NULL;
}

/* RFC 8489 14.9: a quoted-string's content of fewer than 128 characters. Longer ones would also
 * make every 401 too big to send, leaving no client able to authenticate. */
static const char *apply_realm(struct xturn_config *cfg, const char *val)
{
    size_t chars;
    const char *why = check_text(val, &chars);

    if (!*val)
        return "must not be empty";
    if (why)
        return why;
    if (strchr(val, '"'))
        return "contains a double quote";
    if (chars >= 128)
        return "must be fewer than 128 characters (RFC 8489)";
    return replace_string(&cfg->turn.realm, val);
}

static const char *apply_auth_secret(struct xturn_config *cfg, const char *val)
{
    if (!*val)
        return "empty secret";
    return push_string(&cfg->turn.secrets, &cfg->turn.nsecrets, val);
}

static const char *apply_auth_secret_file(struct xturn_config *cfg, const char *val)
{
    return *val ? replace_string(&cfg->auth_secret_file, val) : "expected a file name";
}

static const char *apply_user(struct xturn_config *cfg, const char *val)
{
    const char *colon = strchr(val, ':');
    struct turn_static_user u;
    if (!colon || colon == val || colon[1] == '\0')
        return "expected NAME:PASSWORD with a non-empty name and password";
    u.name = strndup(val, (size_t)(colon - val));
    u.password = strdup(colon + 1);
    struct turn_static_user *p =
        u.name && u.password ? push(cfg->turn.users, &cfg->turn.nusers, &u, sizeof(u)) : NULL;
    if (!p) {
        free(u.name);
        free_secret(u.password);
        return OOM;
    }
    cfg->turn.users = p;
    return NULL;
}

static const char *apply_relay_ports(struct xturn_config *cfg, const char *val)
{
    char *end;
    uint32_t lo, hi;
    if (!parse_u32(val, &end, 1, 65535, &lo) || *end != '-' ||
        !parse_u32(end + 1, &end, 1, 65535, &hi) || *end != '\0' || lo > hi)
        return "expected LO-HI with 1 <= LO <= HI <= 65535";
    cfg->turn.relay_port_lo = (uint16_t)lo;
    cfg->turn.relay_port_hi = (uint16_t)hi;
    return NULL;
}

static const char *set_ip(struct xt_addr *dst, const char *val, int family)
{
    struct xt_addr a;
    if (xt_addr_parse_ip(val, &a) != 0 || a.family != family)
        return family == AF_INET ? "expected an IPv4 address" : "expected an IPv6 address";
    if (xt_addr_is_any(&a))
        return WILDCARD;
    *dst = a;
    return NULL;
}

static const char *apply_relay_ipv4(struct xturn_config *cfg, const char *val)
{
    return set_ip(&cfg->turn.relay_v4, val, AF_INET);
}

static const char *apply_relay_ipv6(struct xturn_config *cfg, const char *val)
{
    return set_ip(&cfg->turn.relay_v6, val, AF_INET6);
}

static const char *apply_public_ipv4(struct xturn_config *cfg, const char *val)
{
    return set_ip(&cfg->turn.public_v4, val, AF_INET);
}

static const char *apply_public_ipv6(struct xturn_config *cfg, const char *val)
{
    return set_ip(&cfg->turn.public_v6, val, AF_INET6);
}

static const char *push_cidr(struct cidr **arr, size_t *n, const char *val)
{
    struct cidr c;
    if (cidr_parse(val, &c) != 0)
        return "expected ADDR/PREFIX or ADDR";
    struct cidr *p = push(*arr, n, &c, sizeof(c));
    if (!p)
        return OOM;
    *arr = p;
    return NULL;
}

static const char *apply_allow_peer(struct xturn_config *cfg, const char *val)
{
    return push_cidr(&cfg->turn.policy.allow, &cfg->turn.policy.nallow, val);
}

static const char *apply_deny_peer(struct xturn_config *cfg, const char *val)
{
    return push_cidr(&cfg->turn.policy.deny, &cfg->turn.policy.ndeny, val);
}

static const char *apply_log_format(struct xturn_config *cfg, const char *val)
{
    return log_format_parse(val, &cfg->log_format) == 0 ? NULL : "expected json or text";
}

static const char *apply_log_level(struct xturn_config *cfg, const char *val)
{
    return log_level_parse(val, &cfg->log_level) == 0 ? NULL
                                                      : "expected error, warn, info or debug";
}

static const char *set_bool(bool *dst, const char *val)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(val, yes[i]) == 0 || strcmp(val, no[i]) == 0) {
            *dst = strcmp(val, yes[i]) == 0;
            return NULL;
        }
    }
    return "expected true or false (1/0, yes/no, on/off)";
}

/* On the command line the flag alone means true; the environment variable spells it out. */
static const char *apply_strict_channel_range(struct xturn_config *cfg, const char *val)
{
    return set_bool(&cfg->turn.strict_channel_range, val);
}

static const char *apply_xdp(struct xturn_config *cfg, const char *val)
{
    if (!*val || strlen(val) >= 16)
        return "expected an interface name";
    return push_string(&cfg->xdp_ifaces, &cfg->nxdp_ifaces, val);
}

static const char *apply_xdp_mode(struct xturn_config *cfg, const char *val)
{
    static const char *const names[] = {"auto", "native", "generic"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(val, names[i]) == 0) {
            cfg->xdp_mode = (enum xdp_mode)i;
            return NULL;
        }
    }
    return "expected auto, native or generic";
}

static const char *apply_xdp_cross_family(struct xturn_config *cfg, const char *val)
{
    return set_bool(&cfg->xdp_cross_family, val);
}

static const char *set_u32(uint32_t *dst, const char *val, uint32_t min, const char *why)
{
    char *end;
    return parse_u32(val, &end, min, UINT32_MAX, dst) && *end == '\0' ? NULL : why;
}

static const char *apply_max_allocations(struct xturn_config *cfg, const char *val)
{
    return set_u32(&cfg->turn.max_allocations, val, 0, "expected a count, 0 for unlimited");
}

static const char *apply_user_quota(struct xturn_config *cfg, const char *val)
{
    return set_u32(&cfg->turn.user_quota, val, 0, "expected a count, 0 for unlimited");
}

static const char *apply_max_permissions(struct xturn_config *cfg, const char *val)
{
    return set_u32(&cfg->turn.max_permissions, val, 1, "expected a count, at least 1");
}

static const char *apply_max_channels(struct xturn_config *cfg, const char *val)
{
    return set_u32(&cfg->turn.max_channels, val, 1, "expected a count, at least 1");
}

static const char *apply_max_lifetime(struct xturn_config *cfg, const char *val)
{
    return set_u32(&cfg->turn.max_lifetime_s, val, 60, "expected seconds, at least 60");
}

/* Lifetimes below the RFC's defaults are for tests and soak runs; the ceiling is a day. */
static const char *set_lifetime(uint32_t *dst, const char *val)
{
    const char *why = set_u32(dst, val, 1, "expected seconds, 1 to 86400");
    return why ? why : *dst > 86400 ? "expected seconds, 1 to 86400" : NULL;
}

static const char *apply_default_lifetime(struct xturn_config *cfg, const char *val)
{
    return set_lifetime(&cfg->turn.default_lifetime_s, val);
}

static const char *apply_permission_lifetime(struct xturn_config *cfg, const char *val)
{
    return set_lifetime(&cfg->turn.permission_lifetime_s, val);
}

static const char *apply_channel_lifetime(struct xturn_config *cfg, const char *val)
{
    return set_lifetime(&cfg->turn.channel_lifetime_s, val);
}

static const char *apply_workers(struct xturn_config *cfg, const char *val)
{
    const char *why = set_u32(&cfg->workers, val, 0, "expected a count, 0 for one per CPU");
    return why ? why : cfg->workers > 256 ? "at most 256" : NULL;
}

static const char *apply_metrics(struct xturn_config *cfg, const char *val)
{
    struct xt_addr a;
    if (xt_addr_parse(val, 9641, &a) != 0)
        return "expected ADDR[:PORT] or [IPV6]:PORT";
    cfg->metrics = a;
    return NULL;
}

static const char *apply_drain_timeout(struct xturn_config *cfg, const char *val)
{
    return set_u32(&cfg->drain_timeout_s, val, 0, "expected seconds, 0 to exit at once");
}

static const char *apply_alternate_server(struct xturn_config *cfg, const char *val)
{
    struct xt_addr a;
    if (xt_addr_parse(val, XTURN_DEFAULT_PORT, &a) != 0 || xt_addr_is_any(&a))
        return "expected ADDR[:PORT] or [IPV6]:PORT";
    if (a.family == AF_INET)
        cfg->turn.alternate_v4 = a;
    else
        cfg->turn.alternate_v6 = a;
    return NULL;
}

static const char *apply_log_file(struct xturn_config *cfg, const char *val)
{
    return *val ? replace_string(&cfg->log_file, val) : "expected a file name";
}

static const char *apply_run_as_user(struct xturn_config *cfg, const char *val)
{
    return *val ? replace_string(&cfg->run_as_user, val) : "expected a user name";
}

static const char *apply_run_as_group(struct xturn_config *cfg, const char *val)
{
    return *val ? replace_string(&cfg->run_as_group, val) : "expected a group name";
}

static const char *apply_max_bps(struct xturn_config *cfg, const char *val)
{
    uint32_t v;
    const char *why = set_u32(&v, val, 0, "expected bytes per second, 0 for unlimited");
    if (!why)
        cfg->turn.max_bps = v;
    return why;
}

static const char *apply_xdp_map_size(struct xturn_config *cfg, const char *val)
{
    return set_u32(&cfg->xdp_map_size, val, 16, "expected a count, at least 16");
}

static const struct flag flags[] = {
    {"listen", "ADDR[:PORT]", true, false, apply_listen,
     "address to serve TURN on, [IPV6]:PORT for IPv6, default port 3478; at least one"},
    {"realm", "REALM", false, false, apply_realm, "authentication realm (default xturn)"},
    {"auth-secret", "SECRET", true, true, apply_auth_secret,
     "TURN REST API shared secret; several are accepted, for rotation"},
    {"auth-secret-file", "FILE", false, false, apply_auth_secret_file,
     "file with one shared secret per line ('#' starts a comment line)"},
    {"user", "NAME:PASSWORD", true, true, apply_user, "static long-term credential"},
    {"relay-ports", "LO-HI", false, false, apply_relay_ports,
     "UDP port range for relayed addresses (default 49152-65535)"},
    {"relay-ipv4", "ADDR", false, false, apply_relay_ipv4,
     "IPv4 address relay sockets bind to (default: first IPv4 --listen)"},
    {"relay-ipv6", "ADDR", false, false, apply_relay_ipv6,
     "IPv6 address relay sockets bind to (default: first IPv6 --listen)"},
    {"public-ipv4", "ADDR", false, false, apply_public_ipv4,
     "IPv4 address advertised for relays behind 1:1 NAT (default: the relay address)"},
    {"public-ipv6", "ADDR", false, false, apply_public_ipv6,
     "IPv6 address advertised for relays (default: the relay address)"},
    {"allow-peer", "CIDR", true, false, apply_allow_peer,
     "let clients reach these peers despite the default deny list"},
    {"deny-peer", "CIDR", true, false, apply_deny_peer, "never let clients reach these peers"},
    {"log-format", "json|text", false, false, apply_log_format, "log line format (default json)"},
    {"log-level", "LEVEL", false, false, apply_log_level,
     "error, warn, info or debug (default info)"},
    {"strict-channel-range", NULL, false, false, apply_strict_channel_range,
     "accept channel numbers 0x4000-0x4FFF only (RFC 8656) instead of 0x4000-0x7FFF"},
    {"max-allocations", "N", false, false, apply_max_allocations,
     "most allocations at once (default 0: unlimited)"},
    {"user-quota", "N", false, false, apply_user_quota,
     "most allocations per username (default 0: unlimited)"},
    {"max-permissions", "N", false, false, apply_max_permissions,
     "most permissions (peer IPs) per allocation (default 1000; 508 beyond)"},
    {"max-channels", "N", false, false, apply_max_channels,
     "most channels per allocation (default 1000; 508 beyond)"},
    {"max-lifetime", "SECONDS", false, false, apply_max_lifetime,
     "longest allocation lifetime granted, at least 60 (default 3600)"},
    {"default-lifetime", "SECONDS", false, false, apply_default_lifetime,
     "allocation lifetime when the client asks for less or nothing (default 600)"},
    {"permission-lifetime", "SECONDS", false, false, apply_permission_lifetime,
     "permission lifetime (default 300)"},
    {"channel-lifetime", "SECONDS", false, false, apply_channel_lifetime,
     "channel binding lifetime (default 600)"},
    {"workers", "N", false, false, apply_workers,
     "relay threads sharing the listen addresses (default 0: one per CPU)"},
    {"xdp", "IFACE", true, false, apply_xdp,
     "relay ChannelData in the kernel with XDP on this interface"},
    {"xdp-mode", "MODE", false, false, apply_xdp_mode,
     "auto (native, else generic), native or generic (default auto)"},
    {"xdp-cross-family", "on|off", false, false, apply_xdp_cross_family,
     "translate IPv4<->IPv6 in XDP; off passes such packets to userspace (default on)"},
    {"xdp-map-size", "N", false, false, apply_xdp_map_size,
     "channel bindings the XDP maps hold, per family pair (default 65536)"},
    {"metrics", "ADDR[:PORT]", false, false, apply_metrics,
     "serve Prometheus /metrics and /healthz here (default off; port 9641; keep it private)"},
    {"drain-timeout", "SECONDS", false, false, apply_drain_timeout,
     "on SIGTERM refuse new allocations and keep relaying up to this long (default 0: exit)"},
    {"alternate-server", "ADDR[:PORT]", true, false, apply_alternate_server,
     "while draining, send new clients here (300 Try Alternate), one per family"},
    {"log-file", "FILE", false, false, apply_log_file,
     "append the log here instead of stdout; reopened on SIGHUP"},
    {"run-as-user", "USER", false, false, apply_run_as_user,
     "after start-up, switch to this user, keeping only the capabilities still needed"},
    {"run-as-group", "GROUP", false, false, apply_run_as_group,
     "the group for --run-as-user (default: the user's primary group)"},
    {"max-bps", "BYTES", false, false, apply_max_bps,
     "relayed bytes per second per allocation, in userspace and XDP (default 0: unlimited)"},
    {"help", NULL, false, false, NULL, "print this help and exit"},
    {"version", NULL, false, false, NULL, "print the version and exit"},
};

#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

/* "auth-secret" -> "XTURN_AUTH_SECRET" */
static void env_name(const struct flag *f, char *buf, size_t len)
{
    size_t i = (size_t)snprintf(buf, len, "XTURN_");
    for (const char *p = f->name; *p && i + 1 < len; p++)
        buf[i++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    buf[i] = '\0';
}

void config_usage(FILE *out)
{
    fprintf(out, "Usage: xturn --listen ADDR[:PORT] (--auth-secret SECRET | --auth-secret-file "
                 "FILE | --user NAME:PASSWORD) [FLAG...]\n"
                 "Each flag can also be set by its environment variable (a comma-separated list "
                 "for repeatable flags); the command line wins.\n");
    for (size_t i = 0; i < NFLAGS; i++) {
        const struct flag *f = &flags[i];
        char left[64], env[64];
        snprintf(left, sizeof(left), "--%s%s%s", f->name, f->metavar ? " " : "",
                 f->metavar ? f->metavar : "");
        fprintf(out, "  %-36s %s%s", left, f->help, f->repeatable ? " (repeatable)" : "");
        if (f->apply) {
            env_name(f, env, sizeof(env));
            fprintf(out, " [%s]", env);
        }
        fputc('\n', out);
    }
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Applies one value; on failure writes the error naming the flag, the value (unless secret) and,
 * for the environment, the variable it came from. */
static int apply_one(struct xturn_config *cfg, const struct flag *f, const char *val,
                     const char *env, char *err, size_t errlen)
{
    const char *why = f->apply(cfg, val);
    char from[80] = "";
    size_t chars;
    if (!why)
        return 0;
    if (env)
        snprintf(from, sizeof(from), " (from %s)", env);
    /* Secrets are never echoed, nor values that would break the error's one line or bury its
     * reason. */
    if (f->secret || check_text(val, &chars) || strlen(val) > ECHO_MAX)
        set_err(err, errlen, "--%s: %s%s", f->name, why, from);
    else
        set_err(err, errlen, "--%s: \"%s\": %s%s", f->name, val, why, from);
    return -1;
}

/* A flag not on the command line takes its environment variable; unset or empty means absent. */
static int apply_env(struct xturn_config *cfg, const struct flag *f, char *err, size_t errlen)
{
    char env[64];
    env_name(f, env, sizeof(env));
    const char *val = getenv(env);
    if (!val || !*val)
        return 0;
    if (!f->repeatable)
        return apply_one(cfg, f, val, env, err, errlen);
    char *copy = strdup(val), *rest = copy, *item;
    int rc = 0;
    if (!copy) {
        set_err(err, errlen, "%s: %s", env, OOM);
        return -1;
    }
    while (rc == 0 && (item = strsep(&rest, ",")) != NULL)
        rc = apply_one(cfg, f, item, env, err, errlen);
    free_secret(copy);
    return rc;
}

/* Reports a getopt failure: the option is argv[optind - 1] for long options, optopt for short;
 * optopt is our value for a known flag given a value it does not take. */
static void getopt_error(int c, char **argv, char *err, size_t errlen)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        set_err(err, errlen, "%s: missing value", arg);
    else if (optopt >= 256)
        set_err(err, errlen, "--%s takes no value: \"%s\"", flags[optopt - 256].name, arg);
    else if (optopt)
        set_err(err, errlen, "unknown flag \"-%c\" (see --help)", optopt);
    else
        set_err(err, errlen, "unknown or ambiguous flag \"%s\" (see --help)", arg);
}

int config_push_secret(char ***secrets, size_t *n, const char *secret)
{
    return push_string(secrets, n, secret) ? -1 : 0;
}

void config_free_secrets(char **secrets, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free_secret(secrets[i]);
    free(secrets);
}

int config_read_secret_file(const char *path, char ***secrets, size_t *nsecrets, char *err,
                            size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, before = *nsecrets;
    ssize_t len;
    const char *why = NULL;

    if (!f) {
        set_err(err, errlen, "--auth-secret-file: \"%s\": %s", path, strerror(errno));
        return -1;
    }
    while (!why && (len = getline(&line, &cap, f)) >= 0) {
        char *s = line, *e = line + len;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        *e = '\0';
        if (*s && *s != '#')
            why = push_string(secrets, nsecrets, s);
    }
    if (!why && ferror(f))
        why = strerror(errno);
    else if (!why && *nsecrets == before)
        why = "no secret in the file";
    if (line)
        explicit_bzero(line, cap);
    free(line);
    fclose(f);
    if (!why)
        return 0;
    while (*nsecrets > before)
        free_secret((*secrets)[--*nsecrets]);
    set_err(err, errlen, "--auth-secret-file: \"%s\": %s", path, why);
    return -1;
}

static void set_defaults(struct xturn_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->log_level = LOG_INFO;
    cfg->log_format = LOG_JSON;
    cfg->turn.relay_port_lo = 49152;
    cfg->turn.relay_port_hi = 65535;
    cfg->turn.default_lifetime_s = 600;
    cfg->turn.max_lifetime_s = 3600;
    cfg->turn.permission_lifetime_s = 300;
    cfg->turn.channel_lifetime_s = 600;
    cfg->turn.nonce_lifetime_s = 600;
    cfg->turn.unauth_rate = 20;
    cfg->turn.max_permissions = 1000;
    cfg->turn.max_channels = 1000;
    cfg->xdp_cross_family = true;
    cfg->xdp_map_size = 65536;
}

static const struct xt_addr *first_of_family(const struct xturn_config *cfg, int family)
{
    for (size_t i = 0; i < cfg->nlisten; i++)
        if (cfg->listen[i].family == family)
            return &cfg->listen[i];
    return NULL;
}

/* Relay address of one family: given, else the first listen address of it (port 0), else none.
 * A public address needs a relay address of its family to stand for. */
static int settle_family(struct xturn_config *cfg, int family, char *err, size_t errlen)
{
    bool v4 = family == AF_INET;
    struct xt_addr *relay = v4 ? &cfg->turn.relay_v4 : &cfg->turn.relay_v6;
    const struct xt_addr *pub = v4 ? &cfg->turn.public_v4 : &cfg->turn.public_v6;
    const struct xt_addr *first = first_of_family(cfg, family);
    char buf[XT_ADDR_STRLEN];

    if (relay->family == 0 && first) {
        *relay = *first;
        relay->port = 0;
    }
    if (pub->family != 0 && relay->family == 0) {
        set_err(err, errlen,
                "--public-%s: \"%s\": no %s relay address (give --relay-%s or an %s "
                "--listen)",
                v4 ? "ipv4" : "ipv6", xt_addr_ip_str(pub, buf), v4 ? "IPv4" : "IPv6",
                v4 ? "ipv4" : "ipv6", v4 ? "IPv4" : "IPv6");
        return -1;
    }
    return 0;
}

/* The relay's configured addresses: on them, and on every other address of the host, peers are
 * reachable only at other allocations' relayed addresses (src/turn/turn_self.c). */
static int fill_self(struct xturn_config *cfg)
{
    struct peer_policy *pol = &cfg->turn.policy;
    const struct xt_addr *extra[] = {&cfg->turn.relay_v4, &cfg->turn.relay_v6, &cfg->turn.public_v4,
                                     &cfg->turn.public_v6};
    size_t n = cfg->nlisten;

    pol->self = calloc(n + 4, sizeof(*pol->self));
    if (!pol->self)
        return -1;
    memcpy(pol->self, cfg->listen, n * sizeof(*cfg->listen));
    for (size_t i = 0; i < 4; i++)
        if (extra[i]->family != 0)
            pol->self[n++] = *extra[i];
    pol->nself = n;
    return 0;
}

/* A relay socket could take a listen or metrics port inside the relay range (or the other way
 * round), and a client could then reach that service as a relayed address: refused. */
static int check_ports_outside_relay_range(const struct xturn_config *cfg, char *err, size_t errlen)
{
    uint16_t lo = cfg->turn.relay_port_lo, hi = cfg->turn.relay_port_hi;
    char as[XT_ADDR_STRLEN];

    for (size_t i = 0; i < cfg->nlisten; i++) {
        if (cfg->listen[i].port >= lo && cfg->listen[i].port <= hi) {
            set_err(err, errlen, "--listen: \"%s\": port inside --relay-ports %u-%u",
                    xt_addr_str(&cfg->listen[i], as), lo, hi);
            return -1;
        }
    }
    if (cfg->metrics.family && cfg->metrics.port >= lo && cfg->metrics.port <= hi) {
        set_err(err, errlen, "--metrics: \"%s\": port inside --relay-ports %u-%u",
                xt_addr_str(&cfg->metrics, as), lo, hi);
        return -1;
    }
    return 0;
}

/* Cross-flag rules and derived values, once every flag is in. */
static int finish(struct xturn_config *cfg, char *err, size_t errlen)
{
    if (!cfg->turn.realm && !(cfg->turn.realm = strdup("xturn"))) {
        set_err(err, errlen, "%s", OOM);
        return -1;
    }
    cfg->nflag_secrets = cfg->turn.nsecrets;
    if (cfg->auth_secret_file && config_read_secret_file(cfg->auth_secret_file, &cfg->turn.secrets,
                                                         &cfg->turn.nsecrets, err, errlen) != 0)
        return -1;
    if (cfg->nlisten == 0) {
        set_err(err, errlen, "no --listen address");
        return -1;
    }
    if (cfg->turn.nsecrets == 0 && cfg->turn.nusers == 0) {
        set_err(err, errlen, "no credentials: give --auth-secret, --auth-secret-file or --user");
        return -1;
    }
    if (settle_family(cfg, AF_INET, err, errlen) != 0 ||
        settle_family(cfg, AF_INET6, err, errlen) != 0)
        return -1;
    if (cfg->turn.default_lifetime_s > cfg->turn.max_lifetime_s)
        cfg->turn.default_lifetime_s = cfg->turn.max_lifetime_s;
    if (check_ports_outside_relay_range(cfg, err, errlen) != 0)
        return -1;
    if (fill_self(cfg) != 0) {
        set_err(err, errlen, "%s", OOM);
        return -1;
    }
    return 0;
}

/* Command-line values first (recording which flags were given), then the environment for the
 * rest, then cross-flag checks. */
static int parse(int argc, char **argv, struct xturn_config *cfg, char *err, size_t errlen)
{
    struct option longopts[NFLAGS + 1];
    bool given[NFLAGS] = {false};
    int c;

    for (size_t i = 0; i < NFLAGS; i++)
        longopts[i] =
            (struct option){flags[i].name, flags[i].metavar ? required_argument : no_argument, NULL,
                            (int)(256 + i)};
    memset(&longopts[NFLAGS], 0, sizeof(longopts[NFLAGS]));
    optind = 0; /* glibc: a full re-initialisation, so repeated calls start afresh */
    opterr = 0;
    /* '+': stop at the first non-flag instead of reordering argv; ':': report missing values. */
    while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
        if (c < 256) {
            getopt_error(c, argv, err, errlen);
            return -1;
        }
        const struct flag *f = &flags[c - 256];
        if (!f->apply) {
            if (strcmp(f->name, "help") == 0)
                config_usage(stdout);
            else
                printf("xturn %s\n", XTURN_VERSION);
            return 1;
        }
        given[c - 256] = true;
        if (apply_one(cfg, f, optarg ? optarg : "true", NULL, err, errlen) != 0)
            return -1;
    }
    if (optind < argc) {
        set_err(err, errlen, "unexpected argument \"%s\" (flags start with --)", argv[optind]);
        return -1;
    }
    for (size_t i = 0; i < NFLAGS; i++)
        if (flags[i].apply && !given[i] && apply_env(cfg, &flags[i], err, errlen) != 0)
            return -1;
    return finish(cfg, err, errlen);
}

int config_parse(int argc, char **argv, struct xturn_config *cfg, char *err, size_t errlen)
{
    set_defaults(cfg);
    if (errlen)
        err[0] = '\0';
    int rc = parse(argc, argv, cfg, err, errlen);
    if (rc != 0)
        config_free(cfg);
    return rc;
}

void config_free(struct xturn_config *cfg)
{
    struct turn_config *t = &cfg->turn;
    config_free_secrets(t->secrets, t->nsecrets);
    for (size_t i = 0; i < t->nusers; i++) {
        free(t->users[i].name);
        free_secret(t->users[i].password);
    }
    free(t->users);
    free(t->realm);
    free(t->policy.allow);
    free(t->policy.deny);
    free(t->policy.self);
    free(cfg->listen);
    free(cfg->auth_secret_file);
    free(cfg->log_file);
    free(cfg->run_as_user);
    free(cfg->run_as_group);
    for (size_t i = 0; i < cfg->nxdp_ifaces; i++)
        free(cfg->xdp_ifaces[i]);
    free(cfg->xdp_ifaces);
    memset(cfg, 0, sizeof(*cfg));
}
