/* Which peer addresses a client may reach through the relay (deny/allow CIDR lists). */
#ifndef XTURN_TURN_PEER_POLICY_H
#define XTURN_TURN_PEER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/addr_set.h"

struct cidr {
    struct xt_addr net; /* port unused */
    uint8_t prefix;     /* 0..32 or 0..128 */
};

/* Parse "198.18.0.0/15", "2001:db8::/32", or a bare address (full-length prefix). 0 or -1. */
int cidr_parse(const char *s, struct cidr *out);
bool cidr_contains(const struct cidr *c, const struct xt_addr *a);

struct peer_policy {
    struct cidr *allow; /* operator --allow-peer */
    size_t nallow;
    struct cidr *deny; /* operator --deny-peer */
    size_t ndeny;
    /* the relay's configured listen, relay and public addresses (ports ignored); the host's
     * other addresses come and go, and are passed to each check */
    struct xt_addr *self;
    size_t nself;
};

enum peer_verdict {
    PEER_ALLOWED = 0,
    PEER_DENIED = 1, /* by the default deny list or --deny-peer */
    PEER_SELF = 2    /* the relay host itself: only other allocations' relayed addresses, which
                        the caller knows, may be reached there */
};

/* Decision for a peer transport address. Order: --deny-peer, then the relay host's own
 * addresses (the configured ones, and every address in host: PEER_SELF), then
 * --allow-peer, then the default deny list (loopback, unspecified, link-local, multicast,
 * broadcast, RFC 1918, 100.64/10, 0/8, 240/4, Azure's host address 168.63.129.16, fc00::/7,
 * fe80::/10, ff00::/8, ::, ::1, 64:ff9b:1::/48, and IPv4-mapped, IPv4-compatible,
 * IPv4-translated (SIIT), NAT64 64:ff9b::/96, 6to4 and Teredo forms of denied IPv4 addresses),
 * else allowed. Each IPv6 form embedding an IPv4 address is judged as that IPv4 address as
 * well. host may be NULL. */
enum peer_verdict peer_policy_check(const struct peer_policy *p, const struct addr_set *host,
                                    const struct xt_addr *peer);

/* True if the IP (port ignored) is one of the relay's configured addresses or in host, in any
 * embedded form. host may be NULL. */
bool peer_policy_is_self(const struct peer_policy *p, const struct addr_set *host,
                         const struct xt_addr *peer);

#endif
