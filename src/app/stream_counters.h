/* Counters of client stream connections (TCP, TLS), per worker and summed for metrics. */
#ifndef XTURN_APP_STREAM_COUNTERS_H
#define XTURN_APP_STREAM_COUNTERS_H

#include <stdint.h>

/* Why a connection was not accepted. */
enum stream_refusal {
    SR_MAX_TOTAL,  /* --max-tcp-connections */
    SR_MAX_PER_IP, /* --max-tcp-per-ip */
    SR_NO_FD,      /* the process is out of file descriptors */
    SR_NO_MEMORY,
    SR_UNKNOWN_SOURCE, /* DTLS: a datagram without connection that starts none (no ClientHello
                        * with a valid cookie), or one beyond the handshakes in progress */
    SR_COUNT
};

/* Why a connection ended. The malformed-stream reasons mirror stream_frame_error. */
enum stream_close {
    SC_CLIENT_CLOSED,         /* the client closed or reset it */
    SC_FIRST_MESSAGE_TIMEOUT, /* no whole message in time after connecting */
    SC_IDLE_TIMEOUT,          /* no message in time, and no allocation */
    SC_NOT_TURN,              /* bytes that start neither STUN nor ChannelData */
    SC_BAD_COOKIE,            /* a STUN header without the magic cookie */
    SC_STUN_LENGTH,           /* a STUN length not a multiple of 4 */
    SC_BUFFER_BUDGET,         /* incomplete messages of all connections took their budget */
    SC_TLS_ERROR,             /* a failed TLS handshake or a bad record */
    SC_READ_ERROR,
    SC_WRITE_ERROR,
    SC_SHUTDOWN,    /* the worker stopped */
    SC_HANDED_OVER, /* became an RFC 6062 data connection, or went to the worker it belongs to */
    SC_COUNT
};

struct stream_counters {
    uint64_t open; /* now */
    uint64_t accepted;
    uint64_t refused[SR_COUNT];
    uint64_t closed[SC_COUNT];
    uint64_t slow_reader_drops; /* messages not queued: the client does not read fast enough */
};

void stream_counters_add(struct stream_counters *a, const struct stream_counters *b);
extern const char *const stream_refusal_names[SR_COUNT];
extern const char *const stream_close_names[SC_COUNT];

#endif
