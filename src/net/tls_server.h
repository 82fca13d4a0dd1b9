/* The server side of TLS on the relay's stream connections (TURN over TLS, `turns:`, RFC 8656
 * and RFC 7065), on non-blocking sockets driven by an epoll loop: no call here blocks, sleeps or
 * logs; failures come back as return codes and reasons.
 *
 * TLS 1.2 and 1.3 only, OpenSSL's default ciphers in the server's order, no compression, no
 * renegotiation, stateless session tickets. ALPN "stun.turn" (RFC 7443) is selected when a
 * client offers it; clients offering only other protocols, or none, are served all the same.
 *
 * Writes go to the socket with write(2): the process ignores SIGPIPE (src/app/main.c). OpenSSL's
 * error queue is per thread: every call leaves the calling thread's queue empty. */
#ifndef XTURN_NET_TLS_SERVER_H
#define XTURN_NET_TLS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TLS_ALPN_TURN "stun.turn"

/* A certificate chain and its key in an SSL_CTX, replaceable while connections are made. */
struct tls_server;

/* Loads cert_file (PEM: the leaf first, then any chain) and key_file (PEM, unencrypted), and
 * checks that the key is the certificate's. NULL with the reason in err on failure. */
struct tls_server *tls_server_new(const char *cert_file, const char *key_file, char *err,
                                  size_t errlen);
/* Loads the same files again (SIGHUP): connections made afterwards use them, established ones
 * keep what they started with. On failure nothing changes and err says why. 0 or -1. Safe to
 * call from one thread while others call tls_conn_new. */
int tls_server_reload(struct tls_server *t, char *err, size_t errlen);
/* Connections made from t may outlive it. */
void tls_server_free(struct tls_server *t);

enum tls_io {
    TLS_IO_OK,         /* bytes were read or written */
    TLS_IO_WANT_READ,  /* retry the same call once the socket is readable */
    TLS_IO_WANT_WRITE, /* retry the same call once the socket is writable */
    TLS_IO_CLOSED,     /* the peer closed: close_notify, or end of stream */
    TLS_IO_ERROR,      /* fatal: tls_conn_error says why; only tls_conn_free is left to do */
};

struct tls_conn;

struct stream_out;

/* The server side of an accepted connection on the non-blocking socket fd, which stays the
 * caller's to close (after tls_conn_free). With out, what TLS sends (every record, handshake
 * ones too) is appended there for the caller to write to fd: writes never block then, and each
 * tls_conn_write is a record of its own (clients that take a record for a message get what
 * they expect). Without, records go to fd as they are made. NULL when out of memory. The caller
 * bounds how long a handshake may take: nothing here keeps time. */
struct tls_conn *tls_conn_new(struct tls_server *t, int fd, struct stream_out *out);
/* Advances the handshake and reads application data into buf (len > 0). Returns the number of
 * bytes read, with *st TLS_IO_OK, or -1 with *st saying why not. A record may be read only in
 * part: read until it returns -1, the rest is not signalled by the socket again. */
ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len, enum tls_io *st);
/* Writes at most len bytes, a record at a time: returns how many (> 0; 0 when len is 0), with
 * *st TLS_IO_OK, or -1 with *st WANT_READ, WANT_WRITE, CLOSED or ERROR. After WANT_*, call again
 * with the same bytes (their buffer may move) and at least the same length. */
ssize_t tls_conn_write(struct tls_conn *c, const void *buf, size_t len, enum tls_io *st);
/* The epoll events (EPOLLIN, EPOLLOUT) the connection waits for: what reading waits for (EPOLLIN,
 * or EPOLLOUT when the last read returned WANT_WRITE: a handshake flight or a TLS 1.3 key update
 * still to be sent), and what a write that returned WANT_* waits for, until it completes. 0 once
 * the connection has failed or been closed by the peer. */
uint32_t tls_conn_events(const struct tls_conn *c);
/* From now on records go to the socket fd as they are made, not into the stream_out given to
 * tls_conn_new (which the caller has written out and may free). 0 or -1. */
int tls_conn_write_to_socket(struct tls_conn *c, int fd);
/* Whether the handshake has completed. */
bool tls_conn_established(const struct tls_conn *c);
/* TLS_ALPN_TURN when the client asked for it, NULL otherwise. */
const char *tls_conn_alpn(const struct tls_conn *c);
/* Why the connection failed or closed, for one log line; "" while nothing went wrong. */
const char *tls_conn_error(const struct tls_conn *c);
/* Sends close_notify when that cannot block and the connection is still sound, and frees. */
void tls_conn_free(struct tls_conn *c);

/* Whether bytes read from the socket wait inside the connection: the socket will not signal
 * them. */
bool tls_conn_pending(const struct tls_conn *c);
/* After a tls_conn_read that returned bytes: the socket was found empty and nothing waits inside
 * the connection, so another read now would only say TLS_IO_WANT_READ. */
bool tls_conn_drained(const struct tls_conn *c);

/* Does a new stream whose first byte this is start with a TLS record (RFC 7983: 20..63; a
 * ClientHello is 22, and any other record first is refused by the handshake)? STUN starts with
 * 0..3 and ChannelData with 64..127: those are plain TURN, which the stream framer judges. */
bool tls_starts_record(uint8_t first_byte);

#endif
