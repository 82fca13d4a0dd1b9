/* What the two halves of the worker's RFC 6062 TCP allocations share: worker_tcp_relay.c (the
 * sockets behind the core's turn_io.tcp_*, connections handed over between workers) and
 * worker_tcp_pump.c (the bytes relayed between the two connections of a pair).
 *
 * A pair is one peer connection and, once a ConnectionBind spliced them, one client data
 * connection (plain TCP or TLS: the stream connection the ConnectionBind came on, taken over from
 * worker_stream.c). */
#ifndef XTURN_APP_WORKER_TCP_INTERNAL_H
#define XTURN_APP_WORKER_TCP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "app/worker_internal.h"

#define TCP_RELAY_BUFFER (64u << 10) /* bytes waiting for one side of a pair, at most */

enum pair_state { TP_CONNECTING, TP_PENDING, TP_SPLICED };
enum { END_CLIENT = 0, END_PEER = 1 };

/* One side of a pair. */
struct tr_end {
    struct wsock *sock;      /* NULL: not there (yet) */
    struct tls_conn *tls;    /* the client side over TLS */
    struct stream_out out;   /* bytes for this side, not written yet */
    bool readable, writable; /* as far as we know: cleared by EAGAIN, set by events */
    bool eof;                /* it ended: nothing more to read */
    bool shut;               /* its write side is shut: it has all it will get */
};

struct tcp_pair {
    struct list_node entry;      /* in tcp_relay.pairs */
    struct list_node wait_entry; /* in tcp_relay.waiting while wake_ms is set */
    void *owner;                 /* the core's connection */
    enum pair_state state;
    struct tr_end end[2];  /* END_CLIENT, END_PEER */
    uint64_t resume_ms[2]; /* by direction (TURN_TO_PEER...): no reading before */
    uint64_t wake_ms;      /* 0: not waiting */
    struct xt_addr client; /* the data connection's client, for the connection limits */
    bool holds_client;
};

struct handoff;

struct tcp_relay {
    struct worker *w;
    struct ev_handler timer;   /* timerfd: pairs waiting for their rate or their turn */
    struct ev_handler mailbox; /* eventfd: connections other workers handed over */
    pthread_mutex_t lock;      /* of the mailbox */
    struct handoff *head, **tail;
    struct list_node *pairs;
    struct list_node *waiting;
    uint64_t armed_ms; /* when the timer fires, 0: not armed */
};

/* worker_tcp_pump.c */
/* A pair in state (owner: the core's connection, NULL until the core takes it), with neither
 * side yet. NULL when out of memory. */
struct tcp_pair *tcp_pair_new(struct worker *w, enum pair_state state, void *owner);
/* Closes both sides; tell: the core does not know yet (it did not ask for it). */
void tcp_pair_close(struct worker *w, struct tcp_pair *p, bool tell, const char *why);
/* Relays what can be relayed now, both ways. false: the pair was closed. */
bool tcp_pair_pump(struct worker *w, struct tcp_pair *p);
/* Events of a pair's sockets (watched edge-triggered). */
void tcp_pair_on_event(struct ev_handler *h, uint32_t events);
/* The relay's timer: pairs resting for their rate or waiting for their turn. */
void tcp_pairs_on_timer(struct ev_handler *h, uint32_t events);

#endif
