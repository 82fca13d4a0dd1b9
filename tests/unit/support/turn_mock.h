/* Test support for the TURN core: a fake I/O layer that records sockets and datagrams, and a
 * client that builds (and authenticates) requests. */
#ifndef XTURN_TESTS_TURN_MOCK_H
#define XTURN_TESTS_TURN_MOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun/stun.h"
#include "turn/turn_config.h"
#include "turn/turn_random.h"
#include "turn/turn_server.h"

#define MOCK_MAX_SOCKS 64
#define MOCK_MAX_SENT  64
#define MOCK_LISTEN    1000 /* listen handle used by tests */
#define MOCK_REQ_MAX   1024 /* requests: room for the longest realm (508 bytes) */

/* A socket the core opened: a relayed address's (UDP, or an RFC 6062 TCP listening socket) or
 * an RFC 6062 peer connection (tcp_connect's, or one a test made arrive with mock_tcp_accept). */
struct mock_sock {
    bool open;
    struct xt_addr addr; /* bound to (a connection: its relayed address, if known) */
    void *owner;
    int dont_fragment;
    bool tcp; /* TCP: listening (conn false) or a peer connection (conn true) */
    bool conn;
    struct xt_addr peer; /* a connection's peer */
    int spliced;         /* a connection spliced with this client data connection, else -1 */
};

struct mock_dgram {
    int handle;
    struct xt_addr dst;
    size_t len;
    uint8_t data[65536];
};

struct mock {
    struct turn_config cfg;
    struct turn_server *s;
    struct turn_time now;
    struct mock_sock socks[MOCK_MAX_SOCKS];
    uint32_t busy_ports[8]; /* relayed_open fails with EADDRINUSE on these */
    size_t nbusy;
    struct mock_dgram sent[MOCK_MAX_SENT];
    size_t nsent;
    enum turn_transport transport; /* of every client's messages (TURN_UDP unless set) */
    int listen;                    /* their listen handle (MOCK_LISTEN unless set) */
    struct xt_addr local;          /* listen address */
    struct xt_addr client;         /* default client address */
    /* credentials the client uses */
    const char *user, *pass;
    char nonce[64];
    size_t nonce_len;
    bool use_sha256;
    bool use_both_integrity; /* MESSAGE-INTEGRITY and -SHA256: responses then carry both */
    /* channel_up/channel_down: calls, live mirrored channels, what was sent before the last
     * channel_up, and whether channel_up should fail (a full fast-path map) */
    int ups, downs, mirrored;
    size_t sent_at_last_up;
    bool fail_up;
    struct xt_addr last_up_relayed;
    enum turn_transport last_up_transport;
    uint32_t last_up_bucket;
    /* bucket_get hands out this word as bucket_id (none when NULL); bucket_put calls */
    uint64_t *bucket_word;
    uint32_t bucket_id;
    int bucket_puts;
    /* RFC 6062: tcp_splice calls (failing while fail_splice) and tcp_redirect calls, with the
     * last ones' arguments; without_tcp: the server gets no tcp_* callbacks */
    int splices, redirects;
    bool fail_splice, without_tcp;
    int last_splice_data, last_splice_peer;
    void *last_redirect_target;
    int last_redirect_handle;
    uint32_t tid_counter;
    /* The core's randomness (for servers and the shared state tests create): a fixed sequence,
     * so runs repeat; none at all while random_fails. */
    struct turn_random random;
    uint64_t random_state;
    bool random_fails;
};

/* A config with static user alice:wonderland, realm "xturn", relays 198.18.3.2 and
 * 2001:db8:3::2, ports 50000-50099; then the server. */
void mock_setup(struct mock *m);
void mock_start(struct mock *m); /* creates the server from m->cfg (after tweaks) */
/* The same with state shared with other servers (workers). */
void mock_start_shared(struct mock *m, struct turn_shared *shared);
/* cmocka setup/teardown: a mock_setup() mock in *state, torn down and freed after the test. */
int mock_test_setup(void **state);
int mock_test_teardown(void **state);
void mock_teardown(struct mock *m);
int mock_open_sockets(const struct mock *m);

/* Advances time by ms and ticks the server. */
void mock_advance(struct mock *m, uint64_t ms);

/* Starts a request with a fresh transaction id. */
void mock_req(struct mock *m, struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method);
/* Adds USERNAME, REALM, NONCE (fetching a nonce with a 401 first if needed), MESSAGE-INTEGRITY
 * (or -SHA256), FINGERPRINT; returns the length. */
size_t mock_sign(struct mock *m, struct stun_builder *b);
/* Finishes with FINGERPRINT only. */
size_t mock_unsigned(struct stun_builder *b);

/* A relayed address's socket the core takes over (a snapshot's, turn_snapshot_import): its
 * handle, as relayed_open or tcp_listen would have given it. */
int mock_sock_adopt(struct mock *m, const struct xt_addr *addr, bool tcp, void *owner);

/* Sends from the client; returns the number of datagrams the server sent in response. */
size_t mock_from_client(struct mock *m, const uint8_t *data, size_t len);
size_t mock_from_client_at(struct mock *m, const struct xt_addr *client, const uint8_t *data,
                           size_t len);
/* The same on a listen handle (a connection) of the test's choosing. */
size_t mock_from_client_on(struct mock *m, int handle, const struct xt_addr *client,
                           const uint8_t *data, size_t len);
/* A Send indication of data to peer from the client; returns the datagrams the server sent. */
size_t mock_send_indication(struct mock *m, const uint8_t *data, size_t len,
                            const struct xt_addr *peer);
size_t mock_from_peer(struct mock *m, int relay_handle, const struct xt_addr *peer,
                      const uint8_t *data, size_t len);

/* Parses the last datagram sent (asserting it is a valid STUN message) into msg. */
void mock_last_response(struct mock *m, struct stun_msg *msg);
/* Error code of the last response, or 0 for a success response. */
int mock_last_code(struct mock *m);

/* Full exchanges; return the error code (0 on success). */
int mock_allocate(struct mock *m, uint8_t family /* 0: none */, struct xt_addr *relayed);
/* Allocate with EVEN-PORT R=1 (a reservation of the next port). */
int mock_allocate_reserving(struct mock *m);
/* Starts the server, allocates a relayed address of the peer's family and binds channel 0x4001
 * to the peer (parsed from peer_s); returns the relay socket's handle. */
int mock_bound(struct mock *m, const char *peer_s, struct xt_addr *peer);
/* A ChannelData datagram into out: header, len bytes of data, pad zero bytes; returns its size. */
size_t mock_channeldata(uint8_t *out, uint16_t channel, const uint8_t *data, size_t len,
                        size_t pad);
/* An allocation for another client address (m->client stays), e.g. a relay-to-self peer. */
int mock_allocate_from(struct mock *m, const char *client, struct xt_addr *relayed);
int mock_create_permission(struct mock *m, const struct xt_addr *peer);
int mock_channel_bind(struct mock *m, uint16_t channel, const struct xt_addr *peer);
int mock_refresh(struct mock *m, int lifetime /* -1: none */);

/* The handle of the open relay socket bound to this family (-1 if none). */
int mock_relay_handle(const struct mock *m, uint16_t family);

/* RFC 6062. A connection from peer arrives at the TCP listening socket listen_handle: its handle
 * (still open if the core kept it). */
int mock_tcp_accept(struct mock *m, int listen_handle, const struct xt_addr *peer);
/* The connection tcp_connect opened as handle is established (err 0) or failed. */
void mock_tcp_connected(struct mock *m, int handle, int err);
/* The open peer connection to peer (-1 if none). */
int mock_tcp_conn_to(const struct mock *m, const struct xt_addr *peer);

void mock_addr(struct xt_addr *a, const char *s); /* parse or fail the test */
void mock_ip(struct xt_addr *a, const char *s);   /* an IP without port */

#endif
