/* xturn-bench: a TURN load generator (client) and a UDP sink/echo (sink). Shared declarations. */
#ifndef XTURN_BENCH_H
#define XTURN_BENCH_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/uio.h>

#include "common/addr.h"
#include "stun/stun.h"

#define BENCH_MAX_PEERS    64
#define BENCH_MAX_LISTEN   16
#define BENCH_MAX_LOCAL    64
#define BENCH_MAX_ALLOCS   (1u << 20)
#define BENCH_MIN_SIZE     16 /* the payload header */
#define BENCH_MAX_SIZE     65000
#define BENCH_BATCH        64
#define BENCH_MAX_WINDOW   4096 /* --burst: allocations being set up at once */
#define BENCH_DEFAULT_PORT 3478
#define BENCH_TLS_PORT     5349
#define BENCH_CHANNEL      0x4000 /* every allocation has its own socket: one number for all */
#define BENCH_NONCE_MAX    256
#define BENCH_REALM_MAX    256
#define BENCH_CRED_MAX     256
#define NS_PER_S           1000000000ull

/* ---- util.c ---- */

uint64_t now_ns(void); /* CLOCK_MONOTONIC */
void sleep_until_ns(uint64_t t);
/* Prints "xturn-bench: <msg>" as one line on stderr. */
void bench_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parses seconds ("10", "0.5"); -1 when malformed or negative. */
int parse_seconds(const char *s, double *out);
/* Parses an unsigned decimal in [lo, hi]; -1 when malformed or out of range. */
int parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/* A UDP socket of the family of `remote` (or `local` when remote is NULL), bound to local (when
 * given and not NULL) and connected to remote (when not NULL), large buffers. -errno on failure;
 * err receives a description. */
int bench_udp_socket(const struct xt_addr *local, const struct xt_addr *remote, int bufsize,
                     char *err, size_t errlen);
/* Raises the open-file limit to at least need (up to the hard limit); 0 or -1. */
int raise_nofile(uint64_t need);
/* Random bytes (getrandom, with a fallback to a time-seeded generator). */
void random_bytes(void *buf, size_t len);

/* ---- payload.c: the first BENCH_MIN_SIZE bytes of every datagram's application payload ---- */

struct payload_hdr {
    uint32_t index; /* allocation (socket) index, 24 bits */
    uint32_t seq;   /* per allocation */
    uint64_t ts;    /* send time, CLOCK_MONOTONIC ns */
};

void payload_write(uint8_t *p, uint32_t index, uint32_t seq, uint64_t ts);
/* 0, or -1 when the bytes do not carry the magic. */
int payload_read(const uint8_t *p, size_t len, struct payload_hdr *h);
/* The constant part after the header: a recognisable pattern. */
void payload_fill(uint8_t *p, size_t len);

/* ---- stats.c: a log-linear histogram of nanosecond values (relative error < 0.4%) ---- */

#define HIST_SUB_BITS 7
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_BUCKETS  (HIST_SUB + (64 - HIST_SUB_BITS) * HIST_SUB)

struct hist {
    uint64_t count;
    uint64_t min, max;
    long double sum;
    uint64_t b[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
void hist_merge(struct hist *dst, const struct hist *src);
/* The value at quantile q in [0, 1] (a bucket's midpoint, clamped to [min, max]); 0 if empty. */
uint64_t hist_quantile(const struct hist *h, double q);

/* ---- cli.c ---- */

enum bench_mode { MODE_CHANNEL, MODE_SEND, MODE_DIRECT };
enum bench_transport { TRANSPORT_UDP, TRANSPORT_TCP, TRANSPORT_TLS };

struct client_opts {
    struct xt_addr server;
    bool have_server;
    struct xt_addr peers[BENCH_MAX_PEERS];
    size_t npeers;
    char user[BENCH_CRED_MAX];
    char pass[BENCH_CRED_MAX];
    bool have_creds;
    char realm[BENCH_REALM_MAX];
    bool have_realm;
    uint32_t allocations;
    int relay_family;                      /* 0 (the peer's family), 4 or 6 */
    struct xt_addr local[BENCH_MAX_LOCAL]; /* round-robin over the client sockets */
    size_t nlocal;
    enum bench_mode mode;
    enum bench_transport transport; /* to the server; the peer side is UDP */
    char sni[256];                  /* TLS server name, "" for none */
    uint64_t rate;                  /* 0: as fast as possible */
    uint32_t burst;                 /* --burst W: set up and delete, W in flight, no traffic */
    int relay_pid;                  /* --relay-pid (0: looked up by --server's socket) */
    double hold;                    /* --burst: seconds the allocations stay up, measured */
    uint32_t size;
    double duration, warmup, drain;
    bool echo, json;
};

struct sink_opts {
    struct xt_addr listen[BENCH_MAX_LISTEN];
    size_t nlisten;
    bool echo, json;
    double duration; /* 0: until SIGINT/SIGTERM */
};

/* Parse argv (after the subcommand). 0, 1 for --help (usage printed), or -1 (error printed). */
int client_parse(int argc, char **argv, struct client_opts *o);
int sink_parse(int argc, char **argv, struct sink_opts *o);
void bench_usage(FILE *f);
const char *transport_name(enum bench_transport t); /* "udp", "tcp" or "tls" */

/* The subcommands (client.c, sink.c): the process exit status. */
int client_main(const struct client_opts *o);
int sink_main(const struct sink_opts *o);

/* ---- client state shared by turn_client.c and client.c ---- */

enum alloc_state {
    AS_IDLE,
    AS_ALLOC_UNAUTH, /* Allocate without credentials sent, expecting 401 */
    AS_ALLOC,        /* authenticated Allocate sent */
    AS_PERM,         /* --burst: CreatePermission sent, ChannelBind next */
    AS_BIND,         /* ChannelBind or CreatePermission sent */
    AS_READY,
    AS_FAILED,
    AS_DELETE, /* Refresh lifetime 0 sent */
    AS_DELETED,
    AS_RESET, /* 437 to Allocate: a stale allocation of this 5-tuple is being deleted first */
};

struct bench_alloc {
    int fd;
    struct bench_stream *stream; /* --transport tcp|tls: the connection (fd is its socket) */
    uint32_t index;
    struct xt_addr peer;
    struct xt_addr relayed, mapped;
    uint8_t state;
    uint8_t tries, stale;
    bool maybe_allocated; /* an authenticated Allocate was sent: delete at the end */
    bool reset_done;
    bool was_ready;
    int error; /* STUN error code, or -1 for a timeout, -2 for a local error, -3 closed */
    uint64_t deadline;
    uint8_t tid[STUN_TID_LEN];
    /* Refreshes while traffic runs (long runs): allocation and channel/permission. */
    uint8_t ka_tid[2][STUN_TID_LEN];
    uint8_t ka_stale[2];
    uint16_t nonce_len;
    char nonce[BENCH_NONCE_MAX];
};

/* ---- stream.c: TCP and TLS connections to the server, messages framed by length ---- */

struct bench_stream;
typedef void (*stream_frame_fn)(void *arg, const uint8_t *msg, size_t len);

/* Once, before stream_open(): the TLS context when the transport is TLS. 0 or -1 (err set). */
int stream_init(const struct client_opts *o, char *err, size_t errlen);
void stream_cleanup(void);
/* A connection to o->server (bound to local when not NULL), TLS handshake done; NULL with err
 * set on failure. Non-blocking. */
struct bench_stream *stream_open(const struct client_opts *o, const struct xt_addr *local,
                                 char *err, size_t errlen);
int stream_fd(const struct bench_stream *s);
void stream_close(struct bench_stream *s);
/* Writes whole messages, waiting for room when needed (thread-safe). 0, or -1 when the
 * connection is broken or stalled (then every later call fails too). The iovecs may be
 * changed. */
int stream_writev(struct bench_stream *s, struct iovec *iov, int iovcnt);
int stream_write(struct bench_stream *s, const void *buf, size_t len);
/* Reads what has arrived and calls fn for every whole message (ChannelData without its
 * padding). 0, or -1 when the connection ended or broke. */
int stream_read(struct bench_stream *s, stream_frame_fn fn, void *arg);

/* ---- turn_client.c: the TURN control plane of the client ---- */

struct turn_ctx {
    const struct client_opts *o;
    struct bench_alloc *allocs;
    uint32_t n;
    int ep; /* epoll over every allocation's socket, data.u32 = index */
    bool tty;
    volatile sig_atomic_t *stop; /* set by SIGINT/SIGTERM: setup ends early */
    char realm[BENCH_REALM_MAX];
    size_t realm_len;
    uint8_t key[16];
    bool have_key;
    bool any_rx;              /* the server answered anything at all */
    uint64_t last_rx_ns;      /* when it last did */
    int last_errno;           /* the last local send/receive error (ECONNREFUSED: nobody there) */
    uint32_t answers;         /* responses to current transactions */
    uint32_t retransmissions; /* requests sent again (UDP) */
    uint32_t ready, failed, deleted;
    uint32_t timeouts, local_errors, closed; /* closed: connections the server ended */
    uint32_t codes[700];                     /* STUN error codes that failed an allocation */
};

void turn_init(struct turn_ctx *t, const struct client_opts *o, struct bench_alloc *allocs,
               uint32_t n, int ep, bool tty, volatile sig_atomic_t *stop);
/* Allocate + ChannelBind/CreatePermission for every allocation, pipelined. Returns the number
 * ready, or -1 when the server never answered at all. */
int turn_setup(struct turn_ctx *t);
/* Refresh with lifetime 0 for every ready allocation, best effort, bounded. */
void turn_teardown(struct turn_ctx *t);
/* A one-line description of why allocations failed (the most frequent reason). */
void turn_failure_reason(const struct turn_ctx *t, char *out, size_t len);
/* "{\"timeout\":N,\"401\":M}" of the failures. */
void turn_errors_json(const struct turn_ctx *t, FILE *f);
/* While traffic runs (receiver thread): refresh the allocation and its channel or permission;
 * and handle a STUN message that arrived on the allocation's socket (438: retried with the new
 * nonce). */
void turn_keepalive(struct turn_ctx *t, struct bench_alloc *a);
void turn_keepalive_response(struct turn_ctx *t, struct bench_alloc *a, const uint8_t *buf,
                             size_t len);
/* The bytes in front of the application payload: a ChannelData header or a Send indication up
 * to the DATA value; *pad receives the padding after the payload. Returns the length. */
size_t turn_data_prefix(const struct client_opts *o, const struct bench_alloc *a, uint8_t out[64],
                        uint8_t *pad);

/* ---- burst.c: the allocation burst (--burst): the relay's memory and the report ---- */

/* The relay's resident memory around the burst: pid (0: unknown), VmRSS in kB (-1: unknown). */
struct burst_mem {
    int pid;
    long before_kb, after_kb;
};

/* Before the burst: the relay's pid (--relay-pid, else the one process holding a UDP socket
 * bound to --server, in any network namespace) and its RSS. 0, or -1 (error printed) when
 * --relay-pid names no readable process. */
int burst_mem_before(const struct client_opts *o, struct burst_mem *m);
/* After the setup (setup_s: its TURN exchanges): the RSS with every allocation live, then every
 * allocation deleted and the JSON report on stdout. */
void burst_finish(struct turn_ctx *t, struct burst_mem *m, double setup_s);

#endif
