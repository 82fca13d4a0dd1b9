/* The live upgrade's hand-over (issue 13): SIGUSR2 starts the binary now at the path this one
 * was started from, with the same arguments and environment and a control channel (a unix
 * SOCK_SEQPACKET socket whose fd is in XTURN_UPGRADE_FD). The new process says READY once it
 * has what needs no state; the old one pauses its workers and sends the state (a memfd holding
 * the manifest below, then the sockets in chunks); the new one answers DONE once its workers
 * run, or FAIL with the reason. upgrade.c: the processes and the channel; upgrade_wire.c: the
 * manifest's bytes. The state's own format is docs/UPGRADE_STATE.md. */
#ifndef XTURN_APP_UPGRADE_H
#define XTURN_APP_UPGRADE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "app/stream_counters.h"
#include "common/addr.h"
#include "turn/turn_snapshot.h"
#include "xdp/xdp_loader.h"

#define UPGRADE_ENV        "XTURN_UPGRADE_FD"
#define UPGRADE_TIMEOUT_MS 10000 /* for READY, then for DONE */

/* A plain TCP client connection that moves: its socket and what its wconn knew. */
struct upgrade_conn {
    uint32_t index; /* in fds */
    uint8_t pad;    /* ChannelData padding still to skip (the framer's state) */
    struct xt_addr client, local;
    uint8_t *partial; /* the start of a message read already (malloc'd), plen bytes */
    uint32_t plen;
};

/* The most bytes of an incomplete message a connection carries over (a whole message is less). */
#define UPGRADE_PARTIAL_MAX (1u << 17)

/* A DTLS client that stays with the old process: its association is OpenSSL's there. The new
 * process forwards its datagrams (upgrade_fwd_*). listen: which of the worker's listen sockets
 * it talks to, by position (0 .. nlisten). */
struct upgrade_dtls_client {
    uint32_t listen;
    struct xt_addr client;
};

/* One worker's sockets: its listen sockets are fds[first_listen .. first_listen + nlisten), in the
 * order the worker opens them; then its moving connections; and the daemon's own counters of the
 * worker that Prometheus expects to be monotonic (the core's are in the snapshot). */
struct upgrade_worker {
    uint32_t first_listen, nlisten;
    struct upgrade_conn *conns;
    size_t nconns;
    /* The DTLS clients that stay, and the socket (index in fds; -1: none) their datagrams go to
     * the old process over. */
    int32_t dtls_fwd;
    struct upgrade_dtls_client *dtls;
    size_t ndtls;
    struct stream_counters streams[TURN_TRANSPORT_COUNT]; /* open: not carried (a gauge) */
    uint64_t send_failures, oversized;
};

/* Everything the new process gets. fds: the sockets, and with --xdp the program's maps and links
 * (-1 once taken by their new owner). */
struct upgrade_manifest {
    struct upgrade_worker *workers;
    size_t nworkers;
    int *fds;
    size_t nfds;
    struct xdp_handover xdp; /* its fds are indices in fds; none without --xdp */
    struct turn_snapshot snap;
};

/* Appends fd to m->fds: its index, or -1 without memory. */
int upgrade_push_fd(struct upgrade_manifest *m, int fd);
/* Frees what m holds, closing the fds still in it when they are this process's (close_fds). */
void upgrade_manifest_free(struct upgrade_manifest *m, bool close_fds);

/* ---- the manifest's bytes (upgrade_wire.c) ---- */

/* m without its fds, the snapshot encoded in it: 0, or -1 without memory. */
int upgrade_encode(const struct upgrade_manifest *m, uint8_t **out, size_t *len);
/* Reads the bytes into m (zeroed first), for nfds sockets received: 0, or -1 with the reason in
 * err and nothing in m. Every index is checked against nfds and used once. */
int upgrade_decode(const uint8_t *buf, size_t len, size_t nfds, struct upgrade_manifest *m,
                   char *err, size_t errlen);

/* A datagram of a DTLS client that stayed, forwarded by the new process to the old over a unix
 * datagram socket: this header, then the datagram. Between two builds, hence here. */
#define UPGRADE_FWD_HEADER 23
void upgrade_fwd_header(uint8_t out[UPGRADE_FWD_HEADER], uint32_t listen,
                        const struct xt_addr *client);
/* Reads the header of a forwarded message of len bytes: 0, or -1 when it is not one. */
int upgrade_fwd_parse(const uint8_t *msg, size_t len, uint32_t *listen, struct xt_addr *client);

/* ---- the processes and the channel (upgrade.c) ---- */

/* At start, before argv is changed: the binary's path and a copy of the arguments. 0, or -1
 * with the reason in err. */
int upgrade_remember(int argc, char **argv, char *err, size_t errlen);
void upgrade_forget(void);

struct upgrade_child {
    pid_t pid;
    int ch; /* our end of the channel */
};

/* Starts the binary now at the remembered path. 0, or -1 with the reason in err. */
int upgrade_spawn(struct upgrade_child *c, char *err, size_t errlen);
/* Waits up to UPGRADE_TIMEOUT_MS for the message want ("READY", "DONE"): 0, or -1 with the reason
 * (the child's FAIL, its exit, the timeout) in err. */
int upgrade_wait(struct upgrade_child *c, const char *want, char *err, size_t errlen);
/* Sends the bytes (in a memfd) and the fds. 0, or -1 with the reason in err. */
int upgrade_send(struct upgrade_child *c, const uint8_t *bytes, size_t len, const int *fds,
                 size_t nfds, char *err, size_t errlen);
/* Ends a failed attempt: kills the child, reaps it, closes the channel. */
void upgrade_abort(struct upgrade_child *c);

/* In the new process: the channel's fd from the environment (the variable is removed), -1 when
 * this is no upgrade, or -2 with the reason in err. */
int upgrade_channel(char *err, size_t errlen);
/* Says READY, then receives the state: bytes (malloc'd) and fds. 0, or -1 with err. */
int upgrade_receive(int ch, uint8_t **bytes, size_t *len, int **fds, size_t *nfds, char *err,
                    size_t errlen);
/* Sends "DONE", or "FAIL" with the reason. */
void upgrade_say(int ch, const char *what, const char *reason);

#endif
