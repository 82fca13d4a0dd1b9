#include "turn/peer_policy.h"

#include <netinet/in.h>
#include <string.h>

#define V4(a, b, c, d, len)                                                                        \
    {                                                                                              \
        .net = {.family = AF_INET, .ip = {a, b, c, d}}, .prefix = len                              \
    }
#define V6(b0, b1, len)                                                                            \
    {                                                                                              \
        .net = {.family = AF_INET6, .ip = {b0, b1}}, .prefix = len                                 \
    }

/* Addresses a relay must not reach on a client's behalf unless the operator allows them:
 * the relay host itself, private networks, and addresses that are not unicast. */
static const struct cidr default_deny[] = {
    V4(0, 0, 0, 0, 8),        /* "this network"; 0.0.0.0 reaches the relay host itself */
    V4(10, 0, 0, 0, 8),       /* RFC 1918 */
    V4(100, 64, 0, 0, 10),    /* carrier-grade NAT */
    V4(127, 0, 0, 0, 8),      /* loopback */
    V4(168, 63, 129, 16, 32), /* Azure's host-internal services (wire server, DNS) */
    V4(169, 254, 0, 0, 16),   /* link-local, including cloud metadata services */
    V4(172, 16, 0, 0, 12),    /* RFC 1918 */
    V4(192, 168, 0, 0, 16),   /* RFC 1918 */
    V4(224, 0, 0, 0, 4),      /* multicast */
    V4(240, 0, 0, 0, 4),      /* reserved, and 255.255.255.255 broadcast */
    V6(0, 0, 127),            /* :: and ::1 */
    V6(0xfc, 0, 7),           /* unique local */
    V6(0xfe, 0x80, 10),       /* link-local */
    V6(0xff, 0, 8),           /* multicast */
    /* NAT64 local-use prefix (RFC 8215): where the IPv4 address sits depends on the site */
    {.net = {.family = AF_INET6, .ip = {0, 0x64, 0xff, 0x9b, 0, 1}}, .prefix = 48},
};

int cidr_parse(const char *s, struct cidr *out)
{
    char host[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    unsigned prefix = 0, max;

    if (n >= sizeof(host))
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    memset(out, 0, sizeof(*out));
    if (xt_addr_parse_ip(host, &out->net) != 0)
        return -1;
    max = out->net.family == AF_INET ? 32 : 128;
    if (!slash) {
        out->prefix = (uint8_t)max;
        return 0;
    }
    /* Digits only, at most three: no sign, spaces or leading garbage that strtoul would take. */
    const char *p = slash + 1;
    if (*p == '\0' || strlen(p) > 3)
        return -1;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        prefix = prefix * 10 + (unsigned)(*p - '0');
    }
    if (prefix > max)
        return -1;
    out->prefix = (uint8_t)prefix;
    /* Host bits are allowed in the input ("10.1.2.3/8") but cleared so matching is plain. */
    for (unsigned bit = prefix; bit < max; bit++)
        out->net.ip[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    return 0;
}

bool cidr_contains(const struct cidr *c, const struct xt_addr *a)
{
    unsigned full = c->prefix / 8, rest = c->prefix % 8;
    if (c->net.family != a->family)
        return false;
    if (memcmp(c->net.ip, a->ip, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (c->net.ip[full] & mask) == (a->ip[full] & mask);
}

/* IPv4 addresses an IPv6 address carries, which a translator or tunnel may deliver to: the
 * IPv4-mapped and IPv4-compatible forms, 6to4, and both Teredo server and (obfuscated) client.
 * Returns how many were written to out. */
static size_t embedded_v4(const struct xt_addr *a, struct xt_addr out[2])
{
    static const uint8_t zero[15];
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    /* SIIT's IPv4-translated ::ffff:0:a.b.c.d, and NAT64's well-known 64:ff9b::a.b.c.d */
    static const uint8_t translated[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
    uint8_t client[4];

    if (a->family != AF_INET6)
        return 0;
    /* :: and ::1 are IPv6 addresses of their own, not IPv4-compatible ones. */
    bool compatible =
        memcmp(a->ip, zero, 12) == 0 && !(memcmp(a->ip, zero, 15) == 0 && a->ip[15] <= 1);
    if (memcmp(a->ip, mapped, 12) == 0 || memcmp(a->ip, translated, 12) == 0 ||
        memcmp(a->ip, nat64, 12) == 0 || compatible) {
        xt_addr_v4(&out[0], a->ip + 12, 0);
        return 1;
    }
    if (a->ip[0] == 0x20 && a->ip[1] == 0x02) {
        xt_addr_v4(&out[0], a->ip + 2, 0);
        return 1;
    }
    if (a->ip[0] == 0x20 && a->ip[1] == 0x01 && a->ip[2] == 0 && a->ip[3] == 0) {
        for (int i = 0; i < 4; i++)
            client[i] = a->ip[12 + i] ^ 0xff;
        xt_addr_v4(&out[0], a->ip + 4, 0);
        xt_addr_v4(&out[1], client, 0);
        return 2;
    }
    return 0;
}

/* True if a, or an IPv4 address embedded in it, is inside one of the n CIDRs. */
static bool list_matches(const struct cidr *list, size_t n, const struct xt_addr *a)
{
    struct xt_addr v4[2];
    size_t nv4 = embedded_v4(a, v4);
    for (size_t i = 0; i < n; i++) {
        if (cidr_contains(&list[i], a))
            return true;
        for (size_t j = 0; j < nv4; j++)
            if (cidr_contains(&list[i], &v4[j]))
                return true;
    }
    return false;
}

static bool ip_is_self(const struct peer_policy *p, const struct addr_set *host,
                       const struct xt_addr *ip)
{
    for (size_t i = 0; i < p->nself; i++)
        if (xt_addr_ip_equal(&p->self[i], ip))
            return true;
    return host && addr_set_contains(host, ip);
}

bool peer_policy_is_self(const struct peer_policy *p, const struct addr_set *host,
                         const struct xt_addr *peer)
{
    struct xt_addr v4[2];
    size_t nv4 = embedded_v4(peer, v4);

    if (ip_is_self(p, host, peer))
        return true;
    for (size_t j = 0; j < nv4; j++)
        if (ip_is_self(p, host, &v4[j]))
            return true;
    return false;
}

enum peer_verdict peer_policy_check(const struct peer_policy *p, const struct addr_set *host,
                                    const struct xt_addr *peer)
{
    if (list_matches(p->deny, p->ndeny, peer))
        return PEER_DENIED;
    if (peer_policy_is_self(p, host, peer))
        return PEER_SELF;
    if (list_matches(p->allow, p->nallow, peer))
        return PEER_ALLOWED;
    if (list_matches(default_deny, sizeof(default_deny) / sizeof(default_deny[0]), peer))
        return PEER_DENIED;
    return PEER_ALLOWED;
}
