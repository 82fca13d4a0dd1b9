/* One relay worker: a thread with its own epoll loop, listen sockets (SO_REUSEPORT, so the
 * kernel spreads clients over workers by their addresses), relay sockets and TURN server.
 * An allocation lives in the worker its client reached; the data path takes no lock. */
#ifndef XTURN_APP_WORKER_H
#define XTURN_APP_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/config.h"
#include "app/fastpath.h"
#include "app/stream_counters.h"
#include "net/conn_limits.h"
#include "net/tls_server.h"
#include "turn/turn_server.h"
#include "turn/turn_shared.h"

struct worker;

/* Bytes that incomplete messages of all stream connections may hold together: a client that
 * announces a long message and never ends it keeps at most that message, and all of them at most
 * this. */
#define WORKER_STREAM_PARTIAL_BUDGET (32u << 20)

struct worker_counters {
    struct turn_counters turn[TURN_TRANSPORT_COUNT];
    struct stream_counters streams[TURN_TRANSPORT_COUNT];
    uint64_t send_failures;
    uint64_t oversized; /* datagrams larger than the receive buffers, dropped */
};

/* What all workers share, owned by the daemon. */
struct worker_deps {
    struct turn_shared *shared;
    struct fastpath *fp;        /* NULL without XDP */
    struct conn_limits *limits; /* what stream connections of every worker may take together */
    struct tls_server *tls;     /* NULL without --tls-listen */
};

/* A live upgrade's listen sockets for a worker to take over instead of opening them (app/
 * upgrade.h): fds[0..n) in the order the worker opens its own; each one taken becomes -1. */
struct worker_adopt {
    int *fds;
    size_t n;
};

struct upgrade_manifest;

/* Opens the worker's listen sockets (reuseport: join a group shared with the other workers), or
 * takes over adopt's (NULL: none), and creates its TURN server. NULL with the reason in err. */
struct worker *worker_new(const struct xturn_config *cfg, const struct worker_deps *deps,
                          bool reuseport, const struct worker_adopt *adopt, char *err,
                          size_t errlen);
/* Runs the worker's loop in a new thread. 0 or -errno. */
int worker_start(struct worker *w);
/* Asks the loop to end and waits for the thread: after a round's flush, so worker_start may run
 * it again (a failed upgrade resumes a paused worker). */
void worker_stop(struct worker *w);
/* Deletes the worker's allocations, closes its sockets. Call after worker_stop. */
void worker_free(struct worker *w);
/* worker_upgrade.c. Stopped worker: adds its listen sockets, its plain TCP connections at a
 * message boundary with nothing left to write, its relayed sockets and its server's state to m,
 * and the DTLS clients that stay with a socket to forward their datagrams over. 0, or -1 without
 * memory. */
int worker_export(struct worker *w, struct upgrade_manifest *m);
/* The new process took over what worker_export gave it: the stopped worker lets go of it (closes
 * its copies, forgets those allocations without a trace) and of the fast path, and keeps what
 * stayed (TLS, DTLS and RFC 6062 clients, connections that could not move) to serve it on. DTLS
 * clients' datagrams now come forwarded by the new process. 0, or -errno. */
int worker_retire(struct worker *w);
/* Whether the worker still forwards DTLS datagrams to the process it took over from (which serves
 * those clients on): any thread. */
bool worker_forwarding(struct worker *w);
/* What worker_export kept for worker_retire, after a failed upgrade. */
void worker_handover_free(struct worker *w);
/* A new worker that took over the listen sockets of worker i of m: takes over its connections
 * and restores server i. 0, or -1 with the reason in err. */
int worker_restore(struct worker *w, struct upgrade_manifest *m, size_t i, char *err,
                   size_t errlen);
/* A copy of the counters as the worker last published them (once a second). */
void worker_counters(struct worker *w, struct worker_counters *out);

#endif
