/* DTLS 1.2 (RFC 7350, TURN over DTLS) for datagram clients on the --tls-listen ports, over
 * OpenSSL. The worker's UDP socket is shared by every client, so OpenSSL gets no socket: each
 * datagram is handed in, and what it answers comes back as datagrams to send.
 *
 * Nothing is kept for a source before it proves that it receives at its address: its first
 * ClientHello is answered with a HelloVerifyRequest whose cookie is an HMAC of its address and
 * the minute (DTLSv1_listen), and only a ClientHello that returns a valid cookie makes a
 * connection. Anything else from an unknown source is dropped. Like tls_server.c, nothing here
 * logs or blocks, and OpenSSL's error queue is left empty. */
#ifndef XTURN_NET_DTLS_SERVER_H
#define XTURN_NET_DTLS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "net/tls_server.h"

/* The largest datagram a connection hands back to send. */
#define DTLS_DATAGRAM_MAX (16384 + 256)

/* Per worker: what answers unknown sources. */
struct dtls_listener;
struct dtls_conn;

struct dtls_listener *dtls_listener_new(struct tls_server *t);
void dtls_listener_free(struct dtls_listener *l);

enum dtls_first {
    DTLS_DROPPED,  /* not a ClientHello, or not a valid one: nothing to do */
    DTLS_ANSWERED, /* a HelloVerifyRequest to send back (out, *outlen) */
    DTLS_NEW,      /* the cookie came back: *conn goes on with the handshake */
};

/* A datagram from src, which has no connection. out has room for DTLS_DATAGRAM_MAX bytes. */
enum dtls_first dtls_listen(struct dtls_listener *l, const struct xt_addr *src, const uint8_t *dg,
                            size_t len, uint8_t *out, size_t *outlen, struct dtls_conn **conn);

/* A datagram from the connection's client: each record of application data goes to
 * fn(arg, data, len). 0, or -1 when the connection is over (closed by the client, or failed:
 * dtls_conn_error). */
int dtls_conn_input(struct dtls_conn *c, const uint8_t *dg, size_t len,
                    void (*fn)(void *arg, const uint8_t *msg, size_t len), void *arg);
/* Encrypts one message into one record. 0, or -1 (before the handshake ends, or too long). */
int dtls_conn_write(struct dtls_conn *c, const void *msg, size_t len);
/* The next datagram to send to the client (valid until the next call on c): its length, or 0
 * when there is none. */
size_t dtls_conn_next_out(struct dtls_conn *c, const uint8_t **dg);
/* Retransmits the handshake when its timer ran out: call at least once a second. -1 when the
 * handshake gave up. */
int dtls_conn_tick(struct dtls_conn *c);
bool dtls_conn_established(const struct dtls_conn *c);
/* Did it end because the client closed it (close_notify)? */
bool dtls_conn_closed(const struct dtls_conn *c);
const char *dtls_conn_error(const struct dtls_conn *c);
/* Queues close_notify (take it with dtls_conn_next_out before freeing) when the connection is
 * sound. */
void dtls_conn_shutdown(struct dtls_conn *c);
void dtls_conn_free(struct dtls_conn *c);

/* Can a datagram whose first byte this is be DTLS (RFC 7983: 20..63)? */
bool dtls_first_byte(uint8_t b);
/* Does the datagram begin with a record of epoch 0 holding a ClientHello: a client starting
 * over (RFC 6347 4.2.8), not a retransmission inside a running association's epoch? */
bool dtls_starts_client_hello(const uint8_t *dg, size_t len);

#endif
