/* The values of xturn's flags that need more than a type says (config_values.h). */
#include "app/config_values.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/config.h"
#include "app/options.h"

#define WILDCARD "needs a specific address, not a wildcard"

/* A listen address for one of the lists of them. */
static const char *push_listen(struct xt_addr **list, size_t *n, const char *val,
                               uint16_t default_port)
{
    struct xt_addr a, *grown;

    if (xt_addr_parse(val, default_port, &a) != 0)
        return "expected ADDR, ADDR:PORT or [IPV6]:PORT";
    if (xt_addr_is_any(&a))
        return WILDCARD;
    grown = opt_push(*list, n, &a, sizeof(a));
    if (!grown)
        return OPT_OOM;
    *list = grown;
    return NULL;
}

const char *apply_listen(void *base, const char *val)
{
    struct xturn_config *cfg = base;
    return push_listen(&cfg->listen, &cfg->nlisten, val, XTURN_DEFAULT_PORT);
}

const char *apply_tls_listen(void *base, const char *val)
{
    struct xturn_config *cfg = base;
    return push_listen(&cfg->tls_listen, &cfg->ntls_listen, val, XTURN_TLS_PORT);
}

const char *config_check_text(const char *s, size_t *chars)
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
        /* shortest form only, no surrogates, at most U+10FFFF */
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
const char *apply_realm(void *base, const char *val)
{
    struct xturn_config *cfg = base;
    size_t chars;
    const char *why = config_check_text(val, &chars);
    char *dup;

    if (!*val)
        return "must not be empty";
    if (why)
        return why;
    if (strchr(val, '"'))
        return "contains a double quote";
    if (chars >= 128)
        return "must be fewer than 128 characters (RFC 8489)";
    dup = strdup(val);
    if (!dup)
        return OPT_OOM;
    free(cfg->turn.realm);
    cfg->turn.realm = dup;
    return NULL;
}

const char *apply_user(void *base, const char *val)
{
    struct xturn_config *cfg = base;
    const char *colon = strchr(val, ':');
    struct turn_static_user u, *grown = NULL;

    if (!colon || colon == val || colon[1] == '\0')
        return "expected NAME:PASSWORD with a non-empty name and password";
    u.name = strndup(val, (size_t)(colon - val));
    u.password = strdup(colon + 1);
    if (u.name && u.password)
        grown = opt_push(cfg->turn.users, &cfg->turn.nusers, &u, sizeof(u));
    if (!grown) {
        free(u.name);
        if (u.password)
            explicit_bzero(u.password, strlen(u.password));
        free(u.password);
        return OPT_OOM;
    }
    cfg->turn.users = grown;
    return NULL;
}

const char *apply_relay_ports(void *base, const char *val)
{
    struct xturn_config *cfg = base;
    uint64_t lo, hi;
    char *end;

    if (!opt_parse_u64(val, &end, 1, 65535, &lo) || *end != '-' ||
        !opt_parse_u64(end + 1, &end, 1, 65535, &hi) || *end != '\0' || lo > hi)
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

const char *apply_relay_ipv4(void *base, const char *val)
{
    return set_ip(&((struct xturn_config *)base)->turn.relay_v4, val, AF_INET);
}

const char *apply_relay_ipv6(void *base, const char *val)
{
    return set_ip(&((struct xturn_config *)base)->turn.relay_v6, val, AF_INET6);
}

#define STUN_FORM "expected stun:HOST, stun:HOST:PORT or stun:[IPV6]:PORT"

/* stun:HOST[:PORT] (HOST a name, an IPv4 address or a bracketed IPv6 one; a bare IPv6 address
 * has no port): the STUN server that tells the public address at start. */
static const char *set_stun(struct public_stun *s, const char *val)
{
    const char *end, *colon;
    uint64_t port = XTURN_DEFAULT_PORT;
    char *host, *pend;

    if (*val == '[') {
        val++;
        end = strchr(val, ']');
        if (!end || (end[1] != '\0' && end[1] != ':'))
            return STUN_FORM;
        colon = end[1] ? end + 1 : NULL;
    } else {
        colon = strchr(val, ':');
        if (colon && strchr(colon + 1, ':'))
            colon = NULL; /* a bare IPv6 address */
        end = colon ? colon : val + strlen(val);
    }
    if (end == val || end - val > 253)
        return "stun: needs a host name or address of at most 253 characters";
    for (const char *p = val; p < end; p++)
        if (*p <= ' ' || *p == '/' || *p == '[' || *p == ']' || (unsigned char)*p >= 0x7F)
            return "stun: host contains a character no host name or address has";
    if (colon && (!opt_parse_u64(colon + 1, &pend, 1, 65535, &port) || *pend != '\0'))
        return "stun: expected a port from 1 to 65535 after the host";
    host = strndup(val, (size_t)(end - val));
    if (!host)
        return OPT_OOM;
    free(s->host);
    s->host = host;
    s->port = (uint16_t)port;
    return NULL;
}

/* ADDR, or stun:HOST[:PORT] to ask a STUN server at start; the last one given counts. */
static const char *apply_public(struct xturn_config *cfg, const char *val, int family)
{
    bool v4 = family == AF_INET;
    struct xt_addr *pub = v4 ? &cfg->turn.public_v4 : &cfg->turn.public_v6;
    struct public_stun *stun = &cfg->public_stun[v4 ? 0 : 1];
    const char *why;

    if (strncmp(val, "stun:", 5) == 0) {
        why = set_stun(stun, val + 5);
        if (!why)
            memset(pub, 0, sizeof(*pub));
        return why;
    }
    why = set_ip(pub, val, family);
    if (!why) {
        free(stun->host);
        stun->host = NULL;
    }
    return why;
}

const char *apply_public_ipv4(void *base, const char *val)
{
    return apply_public(base, val, AF_INET);
}

const char *apply_public_ipv6(void *base, const char *val)
{
    return apply_public(base, val, AF_INET6);
}

static const char *push_cidr(struct cidr **arr, size_t *n, const char *val)
{
    struct cidr c, *grown;

    if (cidr_parse(val, &c) != 0)
        return "expected ADDR/PREFIX or ADDR";
    grown = opt_push(*arr, n, &c, sizeof(c));
    if (!grown)
        return OPT_OOM;
    *arr = grown;
    return NULL;
}

const char *apply_allow_peer(void *base, const char *val)
{
    struct peer_policy *p = &((struct xturn_config *)base)->turn.policy;
    return push_cidr(&p->allow, &p->nallow, val);
}

const char *apply_deny_peer(void *base, const char *val)
{
    struct peer_policy *p = &((struct xturn_config *)base)->turn.policy;
    return push_cidr(&p->deny, &p->ndeny, val);
}

const char *apply_xdp(void *base, const char *val)
{
    struct xturn_config *cfg = base;
    char *dup, **grown;

    if (!*val || strlen(val) >= 16) /* IFNAMSIZ */
        return "expected an interface name";
    dup = strdup(val);
    grown = dup ? opt_push(cfg->xdp_ifaces, &cfg->nxdp_ifaces, &dup, sizeof(dup)) : NULL;
    if (!grown) {
        free(dup);
        return OPT_OOM;
    }
    cfg->xdp_ifaces = grown;
    return NULL;
}

const char *apply_metrics(void *base, const char *val)
{
    struct xt_addr a;

    if (xt_addr_parse(val, XTURN_METRICS_PORT, &a) != 0)
        return "expected ADDR[:PORT] or [IPV6]:PORT";
    ((struct xturn_config *)base)->metrics = a;
    return NULL;
}

const char *apply_alternate_server(void *base, const char *val)
{
    struct turn_config *t = &((struct xturn_config *)base)->turn;
    struct xt_addr a;

    if (xt_addr_parse(val, XTURN_DEFAULT_PORT, &a) != 0 || xt_addr_is_any(&a))
        return "expected ADDR[:PORT] or [IPV6]:PORT";
    if (a.family == AF_INET)
        t->alternate_v4 = a;
    else
        t->alternate_v6 = a;
    return NULL;
}
