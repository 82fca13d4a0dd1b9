/* The TURN core's counters, read by the daemon for logs and metrics. */
#ifndef XTURN_TURN_COUNTERS_H
#define XTURN_TURN_COUNTERS_H

#include <stdint.h>

enum turn_method_stat {
    TM_BINDING,
    TM_ALLOCATE,
    TM_REFRESH,
    TM_CREATE_PERMISSION,
    TM_CHANNEL_BIND,
    TM_CONNECT,         /* RFC 6062 */
    TM_CONNECTION_BIND, /* RFC 6062 */
    TM_OTHER,
    TM_COUNT
};

/* Responses counted by code: turn_stat_codes[i] is 0 for success, an error code, or -1 for
 * the slot of every other code. */
#define TURN_CODE_COUNT 18
extern const int turn_stat_codes[TURN_CODE_COUNT];

enum turn_drop_reason {
    TD_NOT_TURN,      /* neither STUN nor ChannelData */
    TD_MALFORMED,     /* failed parsing, or lacks what it needs */
    TD_UNEXPECTED,    /* a response, or an indication other than Send */
    TD_NO_ALLOCATION, /* data from a client without allocation */
    TD_NO_CHANNEL,    /* ChannelData for an unbound channel */
    TD_NO_RELAY,      /* to a peer of a family the allocation has no UDP address of */
    TD_NO_PERMISSION, /* to or from a peer without permission */
    TD_SELF_PORT,     /* to the relay's own address outside the relay ports */
    TD_TOO_BIG,       /* would not fit a UDP datagram to the peer, or as ChannelData or a Data
                       * indication to the client */
    TD_RATE_LIMITED,  /* over the allocation's --max-bps */
    TD_COUNT
};

enum { TURN_TO_PEER = 0, TURN_TO_CLIENT = 1 };

/* Why a connection from a peer to a TCP allocation's relayed address was closed at once. */
enum turn_tcp_refusal {
    TTR_NO_PERMISSION, /* no permission for the peer's IP: RFC 6062 5.3 */
    TTR_SELF,          /* from the relay host, not from another allocation's relayed address */
    TTR_LIMIT,         /* the allocation has --max-tcp-peer-connections already */
    TTR_NO_MEMORY,
    TTR_COUNT
};

struct turn_counters {
    uint64_t allocations; /* live (a dual allocation has a relayed address per family) */
    struct turn_family_counters {
        uint64_t relayed_addrs, permissions, channels; /* live, by family of the address/peer */
    } family[2];                                       /* 0 IPv4, 1 IPv6 */
    uint64_t responses[TM_COUNT][TURN_CODE_COUNT];
    uint64_t auth_failures;
    uint64_t unauth_rate_limited; /* responses not sent to an unauthenticated source */
    /* relayed datagrams and payload bytes by [direction][client family][peer family] */
    uint64_t relayed_pkts[2][2][2];
    uint64_t relayed_bytes[2][2][2];
    uint64_t dropped[TD_COUNT];
    /* RFC 6062 TCP allocations (by their client's transport) */
    uint64_t tcp_peer_conns;         /* peer connections now: connecting, pending or relaying */
    uint64_t tcp_refused[TTR_COUNT]; /* peer connections closed as soon as accepted */
    uint64_t tcp_bind_timeouts;      /* peer connections closed without a ConnectionBind */
    uint64_t tcp_relayed_bytes[2];   /* by direction, both families */
};

uint64_t turn_counters_relayed(const struct turn_counters *c, int direction);
/* Live permissions and channels of both families. */
uint64_t turn_counters_permissions(const struct turn_counters *c);
uint64_t turn_counters_channels(const struct turn_counters *c);
uint64_t turn_counters_cross_family(const struct turn_counters *c);
uint64_t turn_counters_dropped(const struct turn_counters *c);
/* Adds every counter of b to a. */
void turn_counters_add(struct turn_counters *a, const struct turn_counters *b);
/* The index of a response code in turn_counters.responses[method]. */
int turn_code_index(int code);

#endif
