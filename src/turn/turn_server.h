/* The TURN protocol core: requests, allocations, permissions, channels, relaying decisions.
 * Pure: it owns no sockets and reads no clock. The event loop passes datagrams and the time in,
 * and the core acts through the turn_io callbacks. */
#ifndef XTURN_TURN_SERVER_H
#define XTURN_TURN_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "turn/turn_config.h"

struct turn_server;

/* Current time: monotonic milliseconds for timers, Unix seconds for REST API usernames. */
struct turn_time {
    uint64_t ms;
    int64_t unix_s;
};

/* A usable channel as the fast path sees it. */
struct turn_channel_info {
    const struct xt_addr *client; /* the client's transport address */
    const struct xt_addr *local;  /* the listen address the client talks to */
    uint16_t channel;
    const struct xt_addr *peer;
    const struct xt_addr *relay; /* the relay socket's bound address of the peer's family */
    uint32_t bucket;             /* the allocation's shared --max-bps word (bucket_get), or 0 */
};

/* The longest head the core passes to send: its largest datagram is a 401 or 438 whose realm
 * has 127 characters of 4 bytes each (592 bytes; src/app/config.c allows no longer realm). */
#define TURN_HEAD_MAX 640

struct turn_io {
    void *ctx;
    /* Open a UDP socket bound to addr (with port). owner comes back with every datagram that
     * arrives on it (turn_on_peer). Returns a handle >= 0 or -errno (-EADDRINUSE: try another
     * port). dont_fragment: set DF on what it sends (IPv4). */
    int (*relay_open)(void *ctx, const struct xt_addr *addr, int dont_fragment, void *owner);
    void (*relay_close)(void *ctx, int handle);
    /* Send one datagram from socket handle to dst: head (copied now, at most TURN_HEAD_MAX
     * bytes), then body (referenced until the event loop's next flush, so it may point into the
     * received datagram), then pad zero bytes. */
    void (*send)(void *ctx, int handle, const struct xt_addr *dst, const void *head,
                 size_t head_len, const void *body, size_t body_len, size_t pad);
    /* Optional (NULL when unused): a channel became usable (bound, and its peer has a
     * permission) or stopped being usable. Lets a fast path mirror exactly the usable
     * channels; channel_up is called before the ChannelBind success response goes out. A
     * failing channel_up only means the fast path does not carry that channel. */
    int (*channel_up)(void *ctx, const struct turn_channel_info *ci);
    void (*channel_down)(void *ctx, const struct turn_channel_info *ci);
    /* Optional (NULL when unused), with --max-bps: the word an allocation's limit lives in
     * (common/gcra.h), shared with a fast path that takes from it too, and its id (> 0) for
     * channel_up; NULL when none is free, and the allocation keeps a word of its own. bucket_put
     * gives it back when the allocation ends. */
    uint64_t *(*bucket_get)(void *ctx, uint32_t *id);
    void (*bucket_put)(void *ctx, uint32_t id);
};

/* Counters, read by the daemon for logs and metrics. */
enum turn_method_stat {
    TM_BINDING,
    TM_ALLOCATE,
    TM_REFRESH,
    TM_CREATE_PERMISSION,
    TM_CHANNEL_BIND,
    TM_OTHER,
    TM_COUNT
};

/* Responses counted by code: turn_stat_codes[i] is 0 for success, an error code, or -1 for
 * the slot of every other code. */
#define TURN_CODE_COUNT 16
extern const int turn_stat_codes[TURN_CODE_COUNT];

enum turn_drop_reason {
    TD_NOT_TURN,      /* neither STUN nor ChannelData */
    TD_MALFORMED,     /* failed parsing, or lacks what it needs */
    TD_UNEXPECTED,    /* a response, or an indication other than Send */
    TD_NO_ALLOCATION, /* data from a client without allocation */
    TD_NO_CHANNEL,    /* ChannelData for an unbound channel */
    TD_NO_RELAY,      /* to a peer of a family the allocation has no address of */
    TD_NO_PERMISSION, /* to or from a peer without permission */
    TD_SELF_PORT,     /* to the relay's own address outside the relay ports */
    TD_TOO_BIG,       /* would not fit a UDP datagram to the peer, or as ChannelData or a Data
                       * indication to the client */
    TD_RATE_LIMITED,  /* over the allocation\'s --max-bps */
    TD_COUNT
};

enum { TURN_TO_PEER = 0, TURN_TO_CLIENT = 1 };

struct turn_counters {
    uint64_t allocations; /* live (a dual allocation has a relayed address per family) */
    struct {
        uint64_t relayed_addrs, permissions, channels; /* live, by family of the address/peer */
    } family[2];                                       /* 0 IPv4, 1 IPv6 */
    uint64_t responses[TM_COUNT][TURN_CODE_COUNT];
    uint64_t auth_failures;
    uint64_t unauth_rate_limited; /* responses not sent to an unauthenticated source */
    /* relayed datagrams and payload bytes by [direction][client family][peer family] */
    uint64_t relayed_pkts[2][2][2];
    uint64_t relayed_bytes[2][2][2];
    uint64_t dropped[TD_COUNT];
};

uint64_t turn_counters_relayed(const struct turn_counters *c, int direction);
/* Live permissions and channels of both families. */
uint64_t turn_counters_permissions(const struct turn_counters *c);
uint64_t turn_counters_channels(const struct turn_counters *c);
uint64_t turn_counters_cross_family(const struct turn_counters *c);
uint64_t turn_counters_dropped(const struct turn_counters *c);
/* Adds every counter of b to a. */
void turn_counters_add(struct turn_counters *a, const struct turn_counters *b);
int turn_code_index(int code);

struct turn_shared;

/* Returns NULL on failure (logged). cfg must outlive the server. shared: the state every
 * worker's server shares (turn_shared.h), or NULL for a server of its own. */
struct turn_server *turn_server_new(const struct turn_config *cfg, const struct turn_io *io,
                                    const struct turn_time *now, struct turn_shared *shared);
/* Deletes every allocation (closing relay sockets) and frees the server. */
void turn_server_free(struct turn_server *s);

/* A datagram from a client arrived on listen socket listen_handle (bound to local). */
void turn_on_client(struct turn_server *s, const struct turn_time *now, int listen_handle,
                    const struct xt_addr *local, const struct xt_addr *client, const uint8_t *data,
                    size_t len);
/* A datagram from a peer arrived on the relay socket opened with this owner. */
void turn_on_peer(struct turn_server *s, const struct turn_time *now, void *owner,
                  const struct xt_addr *peer, const uint8_t *data, size_t len);
/* Expire what is due. Call at least once a second. */
void turn_tick(struct turn_server *s, const struct turn_time *now);

const struct turn_counters *turn_server_counters(const struct turn_server *s);

#endif
