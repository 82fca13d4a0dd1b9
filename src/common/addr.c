#include "common/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void xt_addr_v4(struct xt_addr *a, const uint8_t ip[4], uint16_t port)
{
    memset(a, 0, sizeof(*a));
    a->family = AF_INET;
    a->port = port;
    memcpy(a->ip, ip, 4);
}

void xt_addr_v6(struct xt_addr *a, const uint8_t ip[16], uint16_t port)
{
    memset(a, 0, sizeof(*a));
    a->family = AF_INET6;
    a->port = port;
    memcpy(a->ip, ip, 16);
}

size_t xt_addr_iplen(const struct xt_addr *a)
{
    return a->family == AF_INET ? 4 : 16;
}

bool xt_addr_equal(const struct xt_addr *a, const struct xt_addr *b)
{
    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, 16) == 0;
}

bool xt_addr_ip_equal(const struct xt_addr *a, const struct xt_addr *b)
{
    return a->family == b->family && memcmp(a->ip, b->ip, 16) == 0;
}

/* FNV-1a: tables hash attacker-chosen addresses, so the seed is random per process. */
static uint32_t fnv1a(uint32_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

uint32_t xt_addr_ip_hash(const struct xt_addr *a, uint32_t seed)
{
    uint32_t h = fnv1a(2166136261u ^ seed, (const uint8_t *)&a->family, sizeof(a->family));
    return fnv1a(h, a->ip, xt_addr_iplen(a));
}

uint32_t xt_addr_hash(const struct xt_addr *a, uint32_t seed)
{
    uint32_t h = xt_addr_ip_hash(a, seed);
    return fnv1a(h, (const uint8_t *)&a->port, sizeof(a->port));
}

int xt_addr_parse_ip(const char *s, struct xt_addr *out)
{
    uint8_t buf[16];
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, s, buf) == 1) {
        xt_addr_v4(out, buf, 0);
        return 0;
    }
    if (inet_pton(AF_INET6, s, buf) == 1) {
        xt_addr_v6(out, buf, 0);
        return 0;
    }
    return -1;
}

static int parse_port(const char *s, uint16_t *port)
{
    char *end;
    long v;
    if (*s == '\0')
        return -1;
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < 1 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

int xt_addr_parse(const char *s, uint16_t default_port, struct xt_addr *out)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port_str = NULL;
    size_t n;
    uint16_t port = default_port;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return -1;
        n = (size_t)(close - s - 1);
        if (close[1] == ':')
            port_str = close + 2;
        else if (close[1] != '\0')
            return -1;
        s++;
    } else {
        const char *colon = strchr(s, ':');
        /* Exactly one colon: IPv4 with a port. Several: a bare IPv6 literal. */
        if (colon && !strchr(colon + 1, ':')) {
            n = (size_t)(colon - s);
            port_str = colon + 1;
        } else {
            n = strlen(s);
        }
    }
    if (n == 0 || n >= sizeof(host))
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    if (xt_addr_parse_ip(host, out) != 0)
        return -1;
    if (port_str && parse_port(port_str, &port) != 0)
        return -1;
    out->port = port;
    return 0;
}

const char *xt_addr_ip_str(const struct xt_addr *a, char buf[XT_ADDR_STRLEN])
{
    if (!inet_ntop(a->family == AF_INET ? AF_INET : AF_INET6, a->ip, buf, XT_ADDR_STRLEN))
        snprintf(buf, XT_ADDR_STRLEN, "?");
    return buf;
}

const char *xt_addr_str(const struct xt_addr *a, char buf[XT_ADDR_STRLEN])
{
    char ip[INET6_ADDRSTRLEN];
    if (!inet_ntop(a->family == AF_INET ? AF_INET : AF_INET6, a->ip, ip, sizeof(ip)))
        snprintf(ip, sizeof(ip), "?");
    if (a->family == AF_INET)
        snprintf(buf, XT_ADDR_STRLEN, "%s:%u", ip, a->port);
    else
        snprintf(buf, XT_ADDR_STRLEN, "[%s]:%u", ip, a->port);
    return buf;
}

socklen_t xt_addr_to_sockaddr(const struct xt_addr *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(a->port);
        memcpy(&in->sin_addr, a->ip, 4);
        return sizeof(*in);
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(a->port);
    memcpy(&in6->sin6_addr, a->ip, 16);
    return sizeof(*in6);
}

int xt_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct xt_addr *out)
{
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        xt_addr_v4(out, (const uint8_t *)&in->sin_addr, ntohs(in->sin_port));
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        xt_addr_v6(out, (const uint8_t *)&in6->sin6_addr, ntohs(in6->sin6_port));
        return 0;
    }
    return -1;
}

bool xt_addr_is_any(const struct xt_addr *a)
{
    static const uint8_t zero[16];
    return memcmp(a->ip, zero, xt_addr_iplen(a)) == 0;
}

const struct xt_addr *xt_addr_first_of(const struct xt_addr *a, size_t n, int family)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].family == family)
            return &a[i];
    return NULL;
}
