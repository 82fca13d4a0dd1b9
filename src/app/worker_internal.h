/* The worker's state, shared by its files: worker.c (loop, datagram sockets, the core's I/O),
 * worker_socks.c (its sockets by handle),
 * worker_stream.c (client stream connections), worker_tcp_relay.c and worker_tcp_pump.c (RFC 6062
 * TCP allocations: their sockets, and the bytes relayed between data and peer connections). */
#ifndef XTURN_APP_WORKER_INTERNAL_H
#define XTURN_APP_WORKER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "app/spoof_filters.h"
#include "app/worker.h"
#include "common/list.h"
#include "common/htab.h"
#include "net/conn_limits.h"
#include "net/dtls_server.h"
#include "net/event_loop.h"
#include "net/stream_out.h"
#include "net/udp_batch.h"

enum wsock_kind {
    WS_UDP_LISTEN,  /* a --listen address's UDP socket */
    WS_RELAYED,     /* a relayed address's socket; owner is the core's */
    WS_TCP_LISTEN,  /* a --listen address's TCP socket */
    WS_TLS_LISTEN,  /* a --tls-listen address's TCP socket: TLS, or plain TCP */
    WS_CONN,        /* a client's stream connection; conn says more */
    WS_DTLS_LISTEN, /* a --tls-listen address's UDP socket: DTLS */
    WS_DTLS_CONN,   /* a DTLS client: a handle without a descriptor of its own; dconn says more */
    /* RFC 6062 (worker_tcp_relay.c) */
    WS_TCP_RELAY_LISTEN, /* a TCP allocation's relayed address; owner is the core's relay */
    WS_TCP_PEER,         /* a peer connection; owner is its struct tcp_pair */
    WS_TCP_DATA,         /* a client data connection, once spliced; owner is its tcp_pair */
    WS_HANDOFF,          /* a WS_CONN going to another worker; owner is that worker */
};

struct wconn;
struct wdconn;
struct tcp_relay;
struct tls_conn;
struct dtls_forwarding;

/* Every file descriptor of the worker, by handle (the core's listen_handle and relay handle). */
struct wsock {
    struct ev_handler ev;
    struct worker *w;
    int handle;
    enum wsock_kind kind;
    void *owner;          /* WS_RELAYED: the core's relay */
    struct xt_addr local; /* the address it is bound to; a connection's listen address */
    struct wconn *conn;   /* WS_CONN */
    struct wdconn *dconn; /* WS_DTLS_CONN */
    struct wsock *next_dead;
};

/* The worker's stream connections (worker_stream.c). */
struct worker_streams {
    struct list_node *all;   /* every connection, for the timeouts */
    struct list_node *dirty; /* connections with bytes to write this round */
    struct list_node *ready; /* TLS connections holding decrypted bytes the socket won't signal */
    uint8_t *scratch;        /* the TCP relay's reads, written out at once */
    /* The round's reads, framed in place: the core's datagrams towards peers point into them
     * until the round's flush, so that one sendmmsg carries those of every connection. */
    uint8_t *reads;
    size_t reads_used;
    uint8_t *msg; /* a message assembled for TLS to encrypt as one record */
    struct conn_limits *limits;
    struct tls_server *tls;
    int spare_fd; /* given up to accept and close a connection when out of fds */
    uint64_t next_sweep_ms;
    uint64_t last_refusal_log_ms;
};

/* The worker's DTLS clients (worker_dtls.c). */
struct worker_dtls {
    struct dtls_listener *listener;
    struct htab by_addr;   /* struct wdconn by client address */
    struct list_node *all; /* for the timers */
    uint32_t handshaking;  /* connections whose handshake has not finished */
    uint8_t *msg;          /* a message assembled for encryption */
    uint8_t *arena;        /* datagrams queued to send until the round's flush */
    size_t arena_len;
    uint64_t next_tick_ms;
    struct dtls_forwarding *fwd; /* a live upgrade's new side: the old process's clients */
    _Atomic bool forwarding;     /* fwd is set: read by the daemon's thread */
};

struct worker {
    const struct xturn_config *cfg;
    struct turn_shared *shared;
    struct fastpath *fp;
    struct ev_loop *loop;
    struct turn_server *turn;
    struct wsock **socks; /* by handle; NULL = free */
    size_t nsocks;
    int *free_handles; /* stack of free handles below nsocks */
    size_t nfree;
    struct wsock *dead;     /* closed during a dispatch, freed after it */
    struct ev_handler stop; /* eventfd */
    bool stopping;
    pthread_t thread;
    bool running;
    struct turn_time now;
    uint64_t oversized;
    struct stream_counters streams_ctr[TURN_TRANSPORT_COUNT];
    pthread_mutex_t published_lock;
    struct worker_counters published;
    struct udp_rx rx;
    struct udp_tx tx;
    bool gso_off_known;           /* the kernel's refusal of UDP GSO logged (or --no-udp-gso) */
    struct spoof_filters filters; /* every socket's, against sources spoofed from the host */
    struct worker_streams streams;
    struct worker_dtls dtls;
    struct tcp_relay *tcp;            /* worker_tcp_relay.c */
    struct worker_adopt adopt;        /* a live upgrade's listen sockets; fds NULL: open our own */
    struct worker_handover *handover; /* a live upgrade's old side (worker_upgrade.c) */
    size_t adopted;                   /* of adopt.fds, taken */
};

/* worker_socks.c */
/* Watches fd under a new handle: the handle or -errno. */
int worker_sock_add(struct worker *w, int fd, enum wsock_kind kind, void *owner,
                    const struct xt_addr *local, ev_cb cb);
/* Stops watching and closes the handle's fd; the handle is free again at once. */
void worker_sock_close(struct worker *w, int handle);
/* The same without closing: the fd is returned, the caller's now. */
int worker_sock_detach(struct worker *w, int handle);
/* Frees the structs of the sockets closed during the last dispatch. */
void worker_reap_dead(struct worker *w);

/* worker.c */
void worker_update_time(struct worker *w);
/* Copies the counters for worker_counters (the loop does it once a second). */
void worker_publish(struct worker *w);
/* A relayed address's socket handed over by a live upgrade, watched for owner: the handle or
 * -errno (fd then still the caller's). */
int worker_relayed_adopt(struct worker *w, int fd, const struct xt_addr *addr, void *owner);

/* worker_upgrade.c */
/* The next listen socket to take over, checked to be of type bound to a, given filter (a UDP
 * socket's; NULL: none): the fd, or -1 with err. */
int worker_adopt_listen(struct worker *w, const struct xt_addr *a, int type,
                        const struct udp_filter *filter, char *err, size_t errlen);

/* worker_dtls.c */
/* Prepares for DTLS clients when there are --tls-listen addresses. 0, or -1 with err. */
int dtls_open(struct worker *w, char *err, size_t errlen);
/* A datagram on a DTLS socket. */
void dtls_on_datagram(struct worker *w, struct wsock *ls, const struct xt_addr *src,
                      const uint8_t *dg, size_t len);
/* Encrypts one message to the DTLS client of handle and queues it. */
void dtls_send(struct worker *w, int handle, const void *a, size_t alen, const void *b, size_t blen,
               size_t pad);
/* The round's datagrams went out: their buffer is free again. */
void dtls_flushed(struct worker *w);
/* Handshake retransmissions and timeouts, about once a second. */
void dtls_tick(struct worker *w);
void dtls_close_all(struct worker *w);
/* Calls each(ctx, fd of its shared socket, address) for every DTLS client: 0, or the first
 * non-zero each returned. */
int dtls_each_client(struct worker *w, int (*each)(void *ctx, int fd, const struct xt_addr *client),
                     void *ctx);

/* worker_dtls_forward.c: the new process of a live upgrade forwards the datagrams of the DTLS
 * clients that stayed with the old one over fd (taken: closed with the worker). 0 or -errno. */
int dtls_forward_start(struct worker *w, int fd);
/* A client that stayed, on listen socket listen_handle (its position among the worker's listen
 * sockets: listen). 0 or -errno. */
int dtls_forward_add(struct worker *w, int listen_handle, uint32_t listen,
                     const struct xt_addr *client);
/* Whether the datagram from src on ls is a stayed client's, and went to the old process: false
 * for a ClientHello (the client starts over here). */
bool dtls_forwarded(struct worker *w, const struct wsock *ls, const struct xt_addr *src,
                    const uint8_t *dg, size_t len);
/* src starts over here: its datagrams are ours now. */
void dtls_forward_end(struct worker *w, const struct xt_addr *src);
void dtls_forward_free(struct worker *w);

/* A message the core hands in parts (a, then b, then pad zero bytes) in one piece at dst, to
 * be encrypted as one record. Either part may be empty (NULL). */
static inline void worker_assemble(uint8_t *dst, const void *a, size_t alen, const void *b,
                                   size_t blen, size_t pad)
{
    if (alen)
        memcpy(dst, a, alen);
    if (blen)
        memcpy(dst + alen, b, blen);
    memset(dst + alen + blen, 0, pad);
}

/* worker_stream.c */
/* Opens a TCP listen socket per --listen address (unless --no-tcp). 0, or -1 with err. */
int streams_open(struct worker *w, bool reuseport, char *err, size_t errlen);
/* Queues one message to the connection of handle (a, then b, then pad zero bytes). */
void streams_send(struct worker *w, int handle, const void *a, size_t alen, const void *b,
                  size_t blen, size_t pad);
/* Writes what the round queued for each connection. */
void streams_flush(struct worker *w);
/* Once a second or so: closes connections past their time. */
void streams_tick(struct worker *w);
/* Closes every connection (the worker stops) and frees the rest. */
void streams_close_all(struct worker *w);
/* Whether connections have bytes to read that no event will announce: the loop must not wait. */
bool streams_ready(const struct worker *w);
/* Reads what those connections hold. */
void streams_read_ready(struct worker *w);

/* A stream connection that stops being one while its message is handled (a ConnectionBind):
 * what it hands over. The fd stays with its wsock; the client's place in the connection limits
 * goes along (conn_limits_put when it closes). */
struct stream_handover {
    struct tls_conn *tls; /* NULL: plain TCP */
    enum turn_transport transport;
    struct xt_addr client;
    struct stream_out out; /* queued for the client, not written yet (the taker's to free) */
    const uint8_t *msg;    /* the message being handled, then rest_len bytes that followed it */
    size_t msg_len, rest_len;
};
/* A connection handed over by another worker (worker_tcp_relay.c): watched here, its bytes
 * (len, its message first) handled as if just read. Takes everything in h. */
void streams_adopt(struct worker *w, int fd, const struct xt_addr *local, struct stream_handover *h,
                   uint8_t *bytes, size_t len);

/* A live upgrade (worker_stream_accept.c): whether the connection can move (plain TCP, nothing
 * left to write); what the new process needs of it beside its socket (the framer's state, the
 * client, the incomplete message it holds); taking one over (fd included, even on failure): its
 * handle or -errno; and handing the taken-over connection its incomplete message (false: that
 * closed it). */
bool streams_conn_movable(const struct wconn *c);
/* A connection the new process of a live upgrade took over: gone from here, silently. */
void streams_conn_release(struct worker *w, struct wconn *c);
void streams_conn_peer(const struct wconn *c, uint8_t *pad, struct xt_addr *client,
                       const uint8_t **partial, size_t *plen);
int streams_adopt_conn(struct worker *w, int fd, const struct xt_addr *local,
                       const struct xt_addr *client, uint8_t pad);
bool streams_adopt_input(struct worker *w, int handle, uint8_t *bytes, size_t len);

/* worker_tcp_relay.c: RFC 6062 TCP allocations */
int tcp_relay_new(struct worker *w, char *err, size_t errlen);
/* After the core is gone: what other workers handed over and nobody took, and the rest. */
void tcp_relay_free(struct worker *w);
/* turn_io.tcp_* */
int tcp_relay_listen(void *ctx, const struct xt_addr *addr, void *owner);
int tcp_relay_connect(void *ctx, const struct xt_addr *local, const struct xt_addr *peer,
                      void *owner);
void tcp_relay_close(void *ctx, int handle);
int tcp_relay_splice(void *ctx, int data_handle, int peer_handle, void *owner);
int tcp_relay_redirect(void *ctx, int data_handle, void *target);
/* turn_io.send to a WS_TCP_DATA handle (the ConnectionBind response). */
void tcp_relay_send(struct worker *w, int handle, const void *a, size_t alen, const void *b,
                    size_t blen, size_t pad);
/* A WS_CONN turned WS_TCP_DATA or WS_HANDOFF while its message was handled: takes it over. */
void tcp_relay_take(struct worker *w, struct wsock *s, struct stream_handover *h);

#endif
