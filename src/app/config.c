#include "app/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/config_flags.h"
#include "app/config_values.h"

#define ECHO_MAX   100 /* bytes of a bad value quoted in its error */
#define ENV_PREFIX "XTURN_"

#define flags  config_flags
#define NFLAGS config_nflags

/* Secrets and passwords are wiped so they do not linger in freed heap memory. */
static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void config_usage(FILE *out)
{
    fprintf(out, "Usage: xturn --listen ADDR[:PORT] (--auth-secret SECRET | --auth-secret-file "
                 "FILE | --user NAME:PASSWORD) [FLAG...]\n"
                 "Each flag can also be set by its environment variable (a comma-separated list "
                 "for repeatable flags); the command line wins.\n");
    opt_usage(out, flags, NFLAGS, ENV_PREFIX);
}

/* Applies one value; on failure writes the error naming the flag, the value (unless secret) and,
 * for the environment, the variable it came from. */
static int apply_one(struct xturn_config *cfg, const struct opt *f, const char *val,
                     const char *env, char *err, size_t errlen)
{
    const char *why = opt_apply(f, cfg, val);
    char from[80] = "";
    size_t chars;
    if (!why)
        return 0;
    if (env)
        snprintf(from, sizeof(from), " (from %s)", env);
    /* Secrets are never echoed, nor values that would break the error's one line or bury its
     * reason. */
    if (f->secret || config_check_text(val, &chars) || strlen(val) > ECHO_MAX)
        snprintf(err, errlen, "--%s: %s%s", f->name, why, from);
    else
        snprintf(err, errlen, "--%s: \"%s\": %s%s", f->name, val, why, from);
    return -1;
}

/* A flag not on the command line takes its environment variable; unset or empty means absent. */
static int apply_env(struct xturn_config *cfg, const struct opt *f, char *err, size_t errlen)
{
    char env[64];
    opt_env_name(f, ENV_PREFIX, env, sizeof(env));
    const char *val = getenv(env);
    if (!val || !*val)
        return 0;
    if (!f->repeatable)
        return apply_one(cfg, f, val, env, err, errlen);
    char *copy = strdup(val), *rest = copy, *item;
    int rc = 0;
    if (!copy) {
        snprintf(err, errlen, "%s: %s", env, OPT_OOM);
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
        snprintf(err, errlen, "%s: missing value", arg);
    else if (optopt >= 256)
        snprintf(err, errlen, "--%s takes no value: \"%s\"", flags[optopt - 256].name, arg);
    else if (optopt)
        snprintf(err, errlen, "unknown flag \"-%c\" (see --help)", optopt);
    else
        snprintf(err, errlen, "unknown or ambiguous flag \"%s\" (see --help)", arg);
}

int config_push_secret(char ***secrets, size_t *n, const char *secret)
{
    char *dup = strdup(secret), **grown = dup ? opt_push(*secrets, n, &dup, sizeof(dup)) : NULL;

    if (!grown) {
        free(dup);
        return -1;
    }
    *secrets = grown;
    return 0;
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
        snprintf(err, errlen, "--auth-secret-file: \"%s\": %s", path, strerror(errno));
        return -1;
    }
    while (!why && (len = getline(&line, &cap, f)) >= 0) {
        char *s = line, *e = line + len;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        *e = '\0';
        if (*s && *s != '#' && config_push_secret(secrets, nsecrets, s) != 0)
            why = OPT_OOM;
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
    snprintf(err, errlen, "--auth-secret-file: \"%s\": %s", path, why);
    return -1;
}

/* The flags' defaults (config_flags.c), and the values no flag sets. */
static void set_defaults(struct xturn_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->turn.nonce_lifetime_s = 600;
    if (opt_defaults(flags, NFLAGS, cfg))
        abort(); /* a default the table's own reader refuses: a bug, caught by every test */
}

/* Relay address of one family: given, else the first listen address of it (port 0), else none.
 * A public address needs a relay address of its family to stand for. */
static int settle_family(struct xturn_config *cfg, int family, char *err, size_t errlen)
{
    bool v4 = family == AF_INET;
    struct xt_addr *relay = v4 ? &cfg->turn.relay_v4 : &cfg->turn.relay_v6;
    const struct xt_addr *pub = v4 ? &cfg->turn.public_v4 : &cfg->turn.public_v6;
    const char *stun = cfg->public_stun[v4 ? 0 : 1].host;
    const struct xt_addr *first = xt_addr_first_of(cfg->listen, cfg->nlisten, family);
    char buf[XT_ADDR_STRLEN];

    if (relay->family == 0 && first) {
        *relay = *first;
        relay->port = 0;
    }
    if ((pub->family != 0 || stun) && relay->family == 0) {
        snprintf(err, errlen,
                 "--public-%s: \"%s%s\": no %s relay address (give --relay-%s or an %s "
                 "--listen)",
                 v4 ? "ipv4" : "ipv6", stun ? "stun:" : "", stun ? stun : xt_addr_ip_str(pub, buf),
                 v4 ? "IPv4" : "IPv6", v4 ? "ipv4" : "ipv6", v4 ? "IPv4" : "IPv6");
        return -1;
    }
    return 0;
}

/* The relay's configured addresses: on them, and on every other address of the host, peers are
 * reachable only at other allocations' relayed addresses (src/turn/turn_self.c). Room for all
 * four extra addresses is kept, for a public one found by STUN later (config_set_public). */
static int fill_self(struct xturn_config *cfg)
{
    struct peer_policy *pol = &cfg->turn.policy;
    const struct xt_addr *extra[] = {&cfg->turn.relay_v4, &cfg->turn.relay_v6, &cfg->turn.public_v4,
                                     &cfg->turn.public_v6};
    size_t n = cfg->nlisten + cfg->ntls_listen;

    pol->self = calloc(n + 4, sizeof(*pol->self));
    if (!pol->self)
        return -1;
    memcpy(pol->self, cfg->listen, cfg->nlisten * sizeof(*cfg->listen));
    if (cfg->ntls_listen) /* memcpy from NULL is undefined even for 0 bytes */
        memcpy(pol->self + cfg->nlisten, cfg->tls_listen,
               cfg->ntls_listen * sizeof(*cfg->tls_listen));
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

    for (size_t i = 0; i < cfg->nlisten + cfg->ntls_listen; i++) {
        bool tls = i >= cfg->nlisten;
        const struct xt_addr *a = tls ? &cfg->tls_listen[i - cfg->nlisten] : &cfg->listen[i];
        if (a->port >= lo && a->port <= hi) {
            snprintf(err, errlen, "--%s: \"%s\": port inside --relay-ports %u-%u",
                     tls ? "tls-listen" : "listen", xt_addr_str(a, as), lo, hi);
            return -1;
        }
    }
    if (cfg->metrics.family && cfg->metrics.port >= lo && cfg->metrics.port <= hi) {
        snprintf(err, errlen, "--metrics: \"%s\": port inside --relay-ports %u-%u",
                 xt_addr_str(&cfg->metrics, as), lo, hi);
        return -1;
    }
    return 0;
}

/* TLS needs its certificate and key, and they need a TLS address; a TLS address serves TCP and
 * DTLS, so it cannot also be a --listen address (UDP and TCP there). */
static int check_tls(const struct xturn_config *cfg, char *err, size_t errlen)
{
    char as[XT_ADDR_STRLEN];

    if (cfg->ntls_listen && (!cfg->tls_cert || !cfg->tls_key)) {
        snprintf(err, errlen, "--tls-listen needs --tls-cert and --tls-key");
        return -1;
    }
    if (!cfg->ntls_listen && (cfg->tls_cert || cfg->tls_key)) {
        snprintf(err, errlen, "--tls-cert and --tls-key need a --tls-listen address");
        return -1;
    }
    for (size_t i = 0; i < cfg->ntls_listen; i++)
        for (size_t j = 0; j < cfg->nlisten; j++)
            if (xt_addr_equal(&cfg->tls_listen[i], &cfg->listen[j])) {
                snprintf(err, errlen, "--tls-listen: \"%s\": also a --listen address",
                         xt_addr_str(&cfg->tls_listen[i], as));
                return -1;
            }
    return 0;
}

void config_set_public(struct xturn_config *cfg, const struct xt_addr *ip)
{
    struct xt_addr *pub = ip->family == AF_INET ? &cfg->turn.public_v4 : &cfg->turn.public_v6;
    struct peer_policy *pol = &cfg->turn.policy;

    *pub = *ip;
    pub->port = 0;
    pol->self[pol->nself++] = *pub;
}

/* Cross-flag rules and derived values, once every flag is in. */
static int finish(struct xturn_config *cfg, char *err, size_t errlen)
{
    cfg->nflag_secrets = cfg->turn.nsecrets;
    if (cfg->auth_secret_file && config_read_secret_file(cfg->auth_secret_file, &cfg->turn.secrets,
                                                         &cfg->turn.nsecrets, err, errlen) != 0)
        return -1;
    if (cfg->nlisten == 0) {
        snprintf(err, errlen, "no --listen address");
        return -1;
    }
    if (cfg->turn.nsecrets == 0 && cfg->turn.nusers == 0) {
        snprintf(err, errlen, "no credentials: give --auth-secret, --auth-secret-file or --user");
        return -1;
    }
    if (settle_family(cfg, AF_INET, err, errlen) != 0 ||
        settle_family(cfg, AF_INET6, err, errlen) != 0)
        return -1;
    if (cfg->turn.default_lifetime_s > cfg->turn.max_lifetime_s)
        cfg->turn.default_lifetime_s = cfg->turn.max_lifetime_s;
    if (check_ports_outside_relay_range(cfg, err, errlen) != 0 || check_tls(cfg, err, errlen) != 0)
        return -1;
    if (fill_self(cfg) != 0) {
        snprintf(err, errlen, "%s", OPT_OOM);
        return -1;
    }
    return 0;
}

/* Command-line values first (recording which flags were given), then the environment for the
 * rest, then cross-flag checks. */
static int parse(int argc, char **argv, struct xturn_config *cfg, char *err, size_t errlen)
{
    struct option longopts[CONFIG_MAX_FLAGS + 1];
    bool given[CONFIG_MAX_FLAGS];
    int c;

    memset(given, 0, sizeof(given));
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
        const struct opt *f = &flags[c - 256];
        if (f->type == OPT_ACTION) {
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
        snprintf(err, errlen, "unexpected argument \"%s\" (flags start with --)", argv[optind]);
        return -1;
    }
    for (size_t i = 0; i < NFLAGS; i++)
        if (flags[i].type != OPT_ACTION && !given[i] && apply_env(cfg, &flags[i], err, errlen) != 0)
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
    free(cfg->tls_listen);
    free(cfg->auth_secret_file);
    free(cfg->log_file);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->run_as_user);
    free(cfg->run_as_group);
    free(cfg->public_stun[0].host);
    free(cfg->public_stun[1].host);
    for (size_t i = 0; i < cfg->nxdp_ifaces; i++)
        free(cfg->xdp_ifaces[i]);
    free(cfg->xdp_ifaces);
    memset(cfg, 0, sizeof(*cfg));
}
