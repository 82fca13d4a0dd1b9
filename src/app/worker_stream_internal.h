/* What the parts of the worker's stream connections share: worker_stream.c (reading, framing,
 * closing), worker_stream_write.c (queueing and writing), worker_stream_tls.c (the TLS side of a
 * connection) and worker_stream_accept.c (accepting under the limits, listening). */
#ifndef XTURN_APP_WORKER_STREAM_INTERNAL_H
#define XTURN_APP_WORKER_STREAM_INTERNAL_H

#include "app/worker_internal.h"
#include "net/stream_frame.h"
#include "net/stream_out.h"

#define SCRATCH_SIZE   (128u << 10)
#define READ_MAX       (128u << 10) /* one read of a connection */
#define READS_SIZE     (512u << 10) /* a round's reads, until the flush */
#define STREAM_OUT_MAX (256u << 10) /* waiting for a client that does not read */

_Static_assert(READ_MAX > STREAM_FRAME_MAX + 4, "a whole message fits one read");
_Static_assert(READS_SIZE >= READ_MAX, "a read fits the round's buffer");

struct wconn {
    struct wsock *sock;
    struct list_node entry;       /* in streams.all */
    struct list_node dirty_entry; /* in streams.dirty while it has bytes to write this round */
    struct list_node ready_entry; /* in streams.ready while TLS holds bytes to read */
    struct tls_conn *tls;         /* NULL: plain TCP */
    enum turn_transport transport;
    struct xt_addr client;
    struct stream_framer framer;
    uint8_t *partial; /* an incomplete message: plen bytes of pcap, need to go on */
    size_t plen, pcap, need;
    struct stream_out out;
    uint64_t last_msg_ms; /* the last whole message; until the first, when it connected */
    bool got_message;
    bool detecting;    /* on a TLS port, before the first byte */
    bool tls_wanted;   /* TLS, whose first record has not all come yet (c->tls still NULL) */
    uint32_t rcvlowat; /* SO_RCVLOWAT set while a handshake record is incomplete; 0: not set */
    bool dirty, ready;
    bool write_blocked; /* the socket was full: EPOLLOUT tells when it takes more */
    bool write_watched;
};

static inline struct stream_counters *wconn_counters(struct worker *w, const struct wconn *c)
{
    return &w->streams_ctr[c->transport];
}

/* worker_stream.c */
/* Ends the connection and its allocation; the wconn is freed after the current dispatch. */
void wconn_close(struct worker *w, struct wconn *c, enum stream_close why);
/* Hands every whole message in buf[0..len) to the core and keeps the incomplete rest. kept: buf
 * stays as it is until the round's flush. false: the connection was closed. */
bool wconn_process(struct worker *w, struct wconn *c, uint8_t *buf, size_t len, bool kept);
/* On the list read again next round without an event (TLS holding bytes), or off it. */
void wconn_set_ready(struct worker *w, struct wconn *c, bool ready);
/* The connection's epoll callback. */
void wconn_on_event(struct ev_handler *h, uint32_t events);

/* worker_stream_write.c */
/* Writes what waits, as far as the socket takes it. false: the connection was closed. */
bool wconn_write(struct worker *w, struct wconn *c);
/* On the queue for the round's write (unless a full socket waits for EPOLLOUT). */
void wconn_mark_dirty(struct worker *w, struct wconn *c);

/* worker_stream_tls.c */
/* On a TLS port, the first byte decides TLS or plain TCP. false: closed, or not there yet. */
bool wconn_detect(struct worker *w, struct wconn *c);
/* Whether OpenSSL may read now: during the handshake only whole records. false: wait (or the
 * connection was closed). */
bool wconn_handshake_record_ready(struct worker *w, struct wconn *c, uint32_t events);
/* One message as one TLS record into the connection's output. 0, or -1 when it does not fit. */
int wconn_tls_send(struct worker *w, struct wconn *c, const void *a, size_t alen, const void *b,
                   size_t blen, size_t pad);
/* One TLS read: bytes, 0 when nothing more is there now, -1 when the connection ended (*why). */
ssize_t wconn_tls_recv(struct wconn *c, uint8_t *buf, size_t len, enum stream_close *why);

#endif
