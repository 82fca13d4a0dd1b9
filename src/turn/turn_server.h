/* The TURN protocol core: requests, allocations, permissions, channels, relaying decisions.
 * Pure: it owns no sockets and reads no clock. The event loop passes datagrams and the time in,
 * and the core acts through the turn_io callbacks. */
#ifndef XTURN_TURN_SERVER_H
#define XTURN_TURN_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "turn/turn_config.h"
#include "turn/turn_counters.h"
#include "turn/turn_random.h"

struct turn_server;

/* How a client reaches the relay: part of its 5-tuple. Relayed addresses are UDP whatever it
 * is, unless a stream client asks for a TCP allocation (RFC 6062). The core pads ChannelData to 4
 * bytes on streams (RFC 8656 §12.5) and counts every transport apart; a fast path decides which
 * transports it can carry. */
enum turn_transport { TURN_UDP, TURN_TCP, TURN_TLS, TURN_DTLS, TURN_TRANSPORT_COUNT };

/* "udp", "tcp", "tls", "dtls": the transport label of metrics and logs. */
const char *turn_transport_name(enum turn_transport t);

static inline int turn_transport_is_stream(enum turn_transport t)
{
    return t == TURN_TCP || t == TURN_TLS;
}

/* Current time: monotonic milliseconds for timers, Unix seconds for REST API usernames. */
struct turn_time {
    uint64_t ms;
    int64_t unix_s;
};

/* A usable channel as the fast path sees it. */
struct turn_channel_info {
    enum turn_transport transport;
    const struct xt_addr *client; /* the client's transport address */
    const struct xt_addr *local;  /* the listen address the client talks to */
    uint16_t channel;
    const struct xt_addr *peer;
    const struct xt_addr *relayed; /* the relayed address (as bound) of the peer's family */
    uint32_t bucket;               /* the allocation's shared --max-bps word (bucket_get), or 0 */
};

/* The longest head the core passes to send: its largest datagram is a 401 or 438 whose realm
 * has 127 characters of 4 bytes each (592 bytes; src/app/config.c allows no longer realm). */
#define TURN_HEAD_MAX 640

struct turn_io {
    void *ctx;
    /* Open a relayed address's UDP socket, bound to addr (with port). owner comes back with
     * every datagram that arrives on it (turn_on_peer). Returns a handle >= 0 or -errno
     * (-EADDRINUSE: try another port). dont_fragment: set DF on what it sends (IPv4). */
    int (*relayed_open)(void *ctx, const struct xt_addr *addr, int dont_fragment, void *owner);
    void (*relayed_close)(void *ctx, int handle);
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
    /* RFC 6062 TCP allocations (turn_tcp_relay.c): all NULL without them (REQUESTED-TRANSPORT
     * TCP then gets 442). Handles share one space with the others. */
    /* Open a TCP allocation's relayed address: a listening socket bound to addr (with port).
     * Connections it accepts come back through turn_on_tcp_accept with owner. A handle >= 0 or
     * -errno (-EADDRINUSE: try another port); closed with relayed_close. */
    int (*tcp_listen)(void *ctx, const struct xt_addr *addr, void *owner);
    /* Start a TCP connection from local (a relayed address: bound to it beside its listener) to
     * peer without waiting; the outcome comes back through turn_on_tcp_connected with owner. A
     * handle >= 0, or -errno when it failed at once. */
    int (*tcp_connect)(void *ctx, const struct xt_addr *local, const struct xt_addr *peer,
                       void *owner);
    /* Close a peer connection (a tcp_connect handle or one turn_on_tcp_accept gave the core) and,
     * once spliced, its client data connection with it. Nothing comes back for it afterwards. */
    void (*tcp_close)(void *ctx, int handle);
    /* Make the stream connection data_handle, whose message (a ConnectionBind) is being handled,
     * a client data connection relaying bytes with peer connection peer_handle both ways, with
     * bounded buffers, after what the core sends data_handle next (the success response). owner
     * comes back with turn_tcp_relayed and turn_on_tcp_closed. 0, or -1 when data_handle cannot
     * become a data connection (nothing changed). */
    int (*tcp_splice)(void *ctx, int data_handle, int peer_handle, void *owner);
    /* Optional: hand the stream connection data_handle, whose message is being handled, to the
     * server whose io ctx is target (another worker): the message is handled there again, as
     * that connection's. 0, or -1 when it cannot be done (the core answers here). */
    int (*tcp_redirect)(void *ctx, int data_handle, void *target);
    /* Hash seeds, relay port choice, and for a server without shared state its nonce key. */
    struct turn_random random;
};

struct turn_shared;

/* Returns NULL on failure (logged). cfg must outlive the server. shared: the state every
 * worker's server shares (turn_shared.h), or NULL for a server of its own. */
struct turn_server *turn_server_new(const struct turn_config *cfg, const struct turn_io *io,
                                    const struct turn_time *now, struct turn_shared *shared);
/* Deletes every allocation (closing their relayed addresses' sockets) and frees the server. */
void turn_server_free(struct turn_server *s);

/* A datagram from a client arrived on listen socket listen_handle (bound to local), or a whole
 * message on a stream connection (listen_handle is then the connection's: replies go there). */
void turn_on_client(struct turn_server *s, const struct turn_time *now,
                    enum turn_transport transport, int listen_handle, const struct xt_addr *local,
                    const struct xt_addr *client, const uint8_t *data, size_t len);
/* A client's connection (listen_handle as in turn_on_client) closed: its allocation ends now,
 * before the handle can name another connection. */
void turn_on_client_closed(struct turn_server *s, int listen_handle, const struct xt_addr *client);
/* Does the client (listen_handle as in turn_on_client) have an allocation now? */
int turn_client_allocated(struct turn_server *s, int listen_handle, const struct xt_addr *client);
/* A datagram from a peer arrived on the relayed address's socket opened with this owner. */
void turn_on_peer(struct turn_server *s, const struct turn_time *now, void *owner,
                  const struct xt_addr *peer, const uint8_t *data, size_t len);
/* RFC 6062 (turn_tcp_relay.c). A connection accepted on the relayed address whose listening
 * socket has owner, from peer, as handle: the core keeps it (a ConnectionAttempt to the client)
 * or closes it at once (tcp_close), as it must without a permission for the peer. */
void turn_on_tcp_accept(struct turn_server *s, const struct turn_time *now, void *owner, int handle,
                        const struct xt_addr *peer);
/* The connection tcp_connect started for owner is established (err 0) or failed (-errno). */
void turn_on_tcp_connected(struct turn_server *s, const struct turn_time *now, void *owner,
                           int err);
/* The I/O layer closed owner's peer connection (and its data connection) itself: one of them
 * ended or failed. */
void turn_on_tcp_closed(struct turn_server *s, void *owner);
/* len bytes of owner's spliced connections went one way (TURN_TO_PEER, TURN_TO_CLIENT): counted,
 * and taken from the allocation's --max-bps. 0, or how many ms that way should rest before
 * reading more: bytes already read are relayed, the next ones wait until the limit allows. */
uint32_t turn_tcp_relayed(struct turn_server *s, const struct turn_time *now, void *owner, int dir,
                          size_t len);

/* Expire what is due. Call at least once a second. */
void turn_tick(struct turn_server *s, const struct turn_time *now);

/* The counters of each transport: an array of TURN_TRANSPORT_COUNT, indexed by transport. */
const struct turn_counters *turn_server_counters(const struct turn_server *s);

#endif
