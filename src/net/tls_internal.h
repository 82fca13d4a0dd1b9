/* What tls_server.c, dtls_server.c and tls_bio.c share: the OpenSSL side of a struct tls_server,
 * and the BIOs its connections use instead of a socket. */
#ifndef XTURN_NET_TLS_INTERNAL_H
#define XTURN_NET_TLS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "net/tls_server.h"

#define DGRAM_OUT_MAX 32 /* datagrams one call can leave to send (a handshake flight) */

/* A new SSL of the current TLS or DTLS context (a reload may replace it; the SSL keeps its own
 * reference). NULL when out of memory. */
SSL *tls_server_new_ssl(struct tls_server *t, bool dtls);
/* The reason of the oldest error in the thread's queue (the cause; later ones are its
 * consequences) after prefix, then an empty queue. */
void take_openssl_error(char *buf, size_t len, const char *prefix);
/* dtls_server.c: what a DTLS context needs beyond a TLS one (cookie exchange). 0 or -1. */
int dtls_ctx_setup(SSL_CTX *ctx);

/* tls_bio.c */
/* A write-only BIO that appends every record to out (a TLS connection's queue). NULL when out
 * of memory. */
BIO *tls_bio_stream_out(struct stream_out *out);

/* What a DTLS connection's BIO reads from and writes to. */
struct dgram_io {
    const uint8_t *in; /* the datagram being read, NULL once read */
    size_t inlen;
    uint8_t *out; /* the datagrams written, back to back */
    size_t outlen, outcap;
    size_t lens[DGRAM_OUT_MAX];
    size_t nout, next; /* datagrams written; the next one to hand out */
};
/* A BIO of datagrams through io, one at a time each way. NULL when out of memory. */
BIO *tls_bio_datagrams(struct dgram_io *io);

#endif
