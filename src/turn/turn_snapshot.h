/* The live upgrade's state (issue 13): what the TURN core hands to the process that replaces it.
 * Three steps, each pure: capture (a worker's server and the shared state, as plain data), the
 * codec (that data to bytes and back: docs/UPGRADE_STATE.md is the format), restore (the data
 * into a fresh shared state and fresh servers). Sockets travel beside the bytes in an fd array;
 * the snapshot names them by their index in it, and the I/O layer maps handles to indexes
 * (turn_snapshot_export) and back (turn_snapshot_import). Times are durations remaining at
 * capture, against the capture's monotonic clock (saved_ms): the two processes share
 * CLOCK_MONOTONIC, so restore subtracts what passed in between. */
#ifndef XTURN_TURN_SNAPSHOT_H
#define XTURN_TURN_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "stun/stun_types.h"
#include "turn/auth.h"
#include "turn/turn_counters.h"
#include "turn/turn_server.h"
#include "turn/turn_shared.h"
#include "turn/txcache.h"

/* The format's version (docs/UPGRADE_STATE.md): a reader takes any minor of its major, skipping
 * what it does not know, and refuses other majors. Bump the minor for additions an older reader
 * may skip, the major for anything else. */
#define TURN_SNAPSHOT_MAJOR 1
#define TURN_SNAPSHOT_MINOR 0

struct turn_snapshot_perm {
    struct xt_addr ip; /* port zero */
    uint64_t remaining_ms;
};

struct turn_snapshot_chan {
    uint16_t number;
    struct xt_addr peer;
    uint64_t remaining_ms;
};

struct turn_snapshot_alloc {
    enum turn_transport transport;
    bool tcp;             /* RFC 6062: relayed addresses are listening sockets */
    uint32_t client_sock; /* the listen socket or connection the client talks to */
    struct xt_addr client, local;
    /* per family (0 IPv4, 1 IPv6): the bound address (family 0: none) and its socket */
    struct xt_addr relayed[2];
    uint32_t relayed_sock[2];
    uint32_t lifetime_s; /* as granted, repeated to a retransmitted Allocate */
    uint64_t remaining_ms;
    uint64_t rate_ahead_ns; /* --max-bps: how far the bucket's word was ahead of the clock */
    uint8_t create_tid[STUN_TID_LEN];
    char user[AUTH_MAX_USERNAME + 1];
    struct turn_snapshot_perm *perms;
    size_t nperms;
    struct turn_snapshot_chan *chans;
    size_t nchans;
};

/* An EVEN-PORT reservation (RESERVATION-TOKEN) of the shared state; user: the name its quota
 * counts against (a REST API username's user part). */
struct turn_snapshot_reservation {
    uint64_t token;
    struct xt_addr addr; /* the reserved port of a family, IP zero */
    uint64_t remaining_ms;
    char user[AUTH_MAX_USERNAME + 1];
};

/* A cached response to an authenticated request (txcache.h). */
struct turn_snapshot_tx {
    uint32_t client_sock;
    struct xt_addr client;
    uint8_t tid[STUN_TID_LEN];
    uint64_t age_ms;
    uint16_t len;
    uint8_t resp[TXCACHE_MAX_RESP];
};

/* One worker's server. counters: only those Prometheus expects to be monotonic; the gauges
 * (live allocations, relayed addresses, permissions, channels, peer connections) are zero here
 * and count again what restore creates. */
struct turn_snapshot_server {
    struct turn_counters counters[TURN_TRANSPORT_COUNT];
    struct turn_snapshot_alloc *allocs;
    size_t nallocs;
    struct turn_snapshot_tx *txs;
    size_t ntxs;
};

struct turn_snapshot {
    uint16_t minor;    /* the writer's (TURN_SNAPSHOT_MINOR when captured here) */
    size_t skipped;    /* bytes decode passed over: unknown records and fields */
    uint64_t saved_ms; /* the capture's monotonic clock */
    uint32_t xdp_abi;  /* the writer's XT_ABI_VERSION (src/bpf/xdp_shared.h), set by it */
    uint8_t nonce_key[TURN_NONCE_KEY_LEN];
    struct turn_snapshot_reservation *reservations; /* oldest first */
    size_t nreservations;
    struct turn_snapshot_server *servers; /* in the order of the workers */
    size_t nservers;
};

/* Frees what the snapshot holds (not the struct itself) and zeroes it, the nonce key too. */
void turn_snapshot_free(struct turn_snapshot *snap);
/* Appends a zeroed element of size bytes to an array of *n, grown by this function alone, whose
 * pointer is at arrp (as capture and decode grow theirs): the new element, or NULL without
 * memory (the array unchanged). */
void *turn_snapshot_push(void *arrp, size_t *n, size_t size);

/* ---- the codec (turn_snapshot_codec.c) ---- */

/* The bytes of snap, in a buffer of malloc's for the caller to free: 0, or -1 without memory. */
int turn_snapshot_encode(const struct turn_snapshot *snap, uint8_t **out, size_t *len);
/* Reads len bytes into snap (zeroed first): 0, or -1 with the reason in err and nothing in snap.
 * Every read is bounds-checked; records and fields this build does not know are skipped
 * (snap->skipped counts their bytes). */
int turn_snapshot_decode(const uint8_t *buf, size_t len, struct turn_snapshot *snap, char *err,
                         size_t errlen);

/* ---- capture and restore (turn_snapshot.c) ---- */

/* The I/O layer's side of capture. sock_index: the index in the fd array of the socket behind
 * handle (the same index for the same handle every time), or -1 when it does not travel (a TLS
 * or DTLS client, whose state is OpenSSL's): what needs it is left out, to go on in the old
 * process. take false only asks: >= 0 when it would travel, and nothing is put in the array.
 * relayed: whether capture wants a relayed address's socket or a client's listen socket or
 * connection (a cached response may name the handle of a closed connection that a relayed
 * socket has now: that one must not travel as a client's). stays (may be NULL): the client
 * handle of an allocation that stays (its connection must stay with it). */
struct turn_snapshot_export {
    void *ctx;
    int (*sock_index)(void *ctx, int handle, bool relayed, bool take);
    void (*stays)(void *ctx, int handle);
};

/* The I/O layer's side of restore: the handle here of the socket at index of the fd array, a
 * client's listen socket or connection (client_handle) or a relayed address's socket, UDP or
 * (tcp) an RFC 6062 listening socket, bound to addr, for owner as relayed_open and tcp_listen
 * take it (relayed_handle; closed with turn_io.relayed_close). A handle >= 0, or -1: the
 * restore fails. */
struct turn_snapshot_import {
    void *ctx;
    int (*client_handle)(void *ctx, uint32_t index);
    int (*relayed_handle)(void *ctx, uint32_t index, const struct xt_addr *addr, bool tcp,
                          void *owner);
};

/* Starts a snapshot (zeroed first) with the shared state: the nonce key and the EVEN-PORT
 * reservations. 0, or -1 without memory. */
int turn_snapshot_capture_shared(struct turn_snapshot *snap, struct turn_shared *sh,
                                 const struct turn_time *now);
/* Adds a worker's server (its loop not running): its unexpired allocations with their
 * permissions and channels, its cached responses, its monotonic counters. 0, or -1 without
 * memory. */
int turn_snapshot_capture_server(struct turn_snapshot *snap, struct turn_server *s,
                                 const struct turn_time *now,
                                 const struct turn_snapshot_export *ex);

/* The old process once the new one has taken over what capture_server gave it (the same
 * export, asked again without taking): those allocations and cached responses leave s without a
 * trace (no log, no I/O but closing their relayed sockets' handles: the new process holds its
 * own), and s lets go of the fast path (the new process's now): no more bindings, and each
 * allocation that stays keeps its --max-bps word to itself. */
void turn_snapshot_release_server(struct turn_server *s, const struct turn_snapshot_export *ex);

/* Restores the shared state into sh, fresh from turn_shared_new: 0, or -1 with the reason in err
 * (sh then holds none of it: free it). */
int turn_snapshot_restore_shared(const struct turn_snapshot *snap, struct turn_shared *sh,
                                 const struct turn_time *now, char *err, size_t errlen);
/* Restores server i of the snapshot into s, fresh from turn_server_new on a shared state that
 * restore_shared filled: what has not expired by now, channels mirrored through channel_up. 0, or
 * -1 with the reason in err, and s holds nothing of it (the relayed sockets it imported are
 * closed): free it. */
int turn_snapshot_restore_server(const struct turn_snapshot *snap, size_t i, struct turn_server *s,
                                 const struct turn_time *now, const struct turn_snapshot_import *im,
                                 char *err, size_t errlen);

#endif
