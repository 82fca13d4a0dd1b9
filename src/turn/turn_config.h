/* Configuration of the TURN protocol core (filled by src/app/config.c from flags/environment). */
#ifndef XTURN_TURN_CONFIG_H
#define XTURN_TURN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "turn/peer_policy.h"

struct turn_static_user {
    char *name;
    char *password;
};

#define TURN_TCP_PEER_CONNS_DEFAULT 64

struct turn_config {
    char *realm;
    /* TURN REST API shared secrets (several for rotation); may be empty. */
    char **secrets;
    size_t nsecrets;
    struct turn_static_user *users;
    size_t nusers;

    uint16_t relay_port_lo, relay_port_hi;
    /* Address relay sockets bind to, per family; family 0 means that family is not relayed. */
    struct xt_addr relay_v4, relay_v6;
    /* Address advertised in XOR-RELAYED-ADDRESS (1:1 NAT); family 0 means "same as relay". */
    struct xt_addr public_v4, public_v6;

    uint32_t default_lifetime_s;
    uint32_t max_lifetime_s;
    uint32_t permission_lifetime_s;
    uint32_t channel_lifetime_s;
    uint32_t nonce_lifetime_s;
    bool strict_channel_range; /* 0x4000-0x4FFF instead of 0x4000-0x7FFF */
    uint32_t max_allocations;  /* 0: unlimited */
    uint32_t user_quota;       /* allocations per username, 0: unlimited */
    uint32_t max_permissions;  /* per allocation, 0: unlimited */
    uint32_t max_channels;     /* per allocation, 0: unlimited */
    /* RFC 6062 peer connections per TCP allocation at once; 0: TURN_TCP_PEER_CONNS_DEFAULT */
    uint32_t max_tcp_peer_conns;
    /* Responses to unauthenticated requests per source IP: per second (0: unlimited) and at
     * once; a source that authenticated recently is not limited (ratelimit.h). */
    uint32_t unauth_rate, unauth_burst;
    uint64_t max_bps; /* relayed bytes per second per allocation, 0: unlimited */
    /* Offered in 300 (Try Alternate) while draining, per family; family 0: none (508). */
    struct xt_addr alternate_v4, alternate_v6;

    struct peer_policy policy;
};

#endif
