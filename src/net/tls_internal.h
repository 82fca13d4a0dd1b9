/* What tls_server.c shares with dtls_server.c: the OpenSSL side of a struct tls_server. */
#ifndef XTURN_NET_TLS_INTERNAL_H
#define XTURN_NET_TLS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "net/tls_server.h"

/* A new SSL of the current TLS or DTLS context (a reload may replace it; the SSL keeps its own
 * reference). NULL when out of memory. */
SSL *tls_server_new_ssl(struct tls_server *t, bool dtls);
/* The reason of the oldest error in the thread's queue (the cause; later ones are its
 * consequences) after prefix, then an empty queue. */
void take_openssl_error(char *buf, size_t len, const char *prefix);
/* dtls_server.c: what a DTLS context needs beyond a TLS one (cookie exchange). 0 or -1. */
int dtls_ctx_setup(SSL_CTX *ctx);

#endif
