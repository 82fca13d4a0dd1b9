/* The BIOs OpenSSL writes records into and reads them from, instead of a socket: a stream_out
 * for TLS connections (tls_server.c), datagrams handed in and out one at a time for DTLS
 * (dtls_server.c). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/stream_out.h"
#include "net/tls_internal.h"

/* ---- records appended to a stream_out ---- */

/* Write-only: it never blocks, so each tls_conn_write is one record of its own, and the records
 * of a loop round go to the socket in one write. */
static int out_write(BIO *b, const char *data, int len)
{
    BIO_clear_retry_flags(b);
    return stream_out_append(BIO_get_data(b), data, (size_t)len, NULL, 0, 0, SIZE_MAX) == 0 ? len
                                                                                            : -1;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

/* ---- datagrams ---- */

static int dgram_write(BIO *b, const char *data, int len)
{
    struct dgram_io *io = BIO_get_data(b);
    size_t n = (size_t)len;

    BIO_clear_retry_flags(b);
    if (io->nout == DGRAM_OUT_MAX)
        return -1;
    if (io->outlen + n > io->outcap) {
        size_t cap = io->outcap ? io->outcap : 4096;
        uint8_t *p;
        while (cap < io->outlen + n)
            cap *= 2;
        if (!(p = realloc(io->out, cap)))
            return -1;
        io->out = p;
        io->outcap = cap;
    }
    memcpy(io->out + io->outlen, data, n);
    io->outlen += n;
    io->lens[io->nout++] = n;
    return len;
}

static int dgram_read(BIO *b, char *data, int len)
{
    struct dgram_io *io = BIO_get_data(b);
    size_t n;

    BIO_clear_retry_flags(b);
    if (!io->in) {
        BIO_set_retry_read(b);
        return -1;
    }
    /* A datagram is read whole or not at all: a shorter buffer truncates, as recv does. */
    n = io->inlen < (size_t)len ? io->inlen : (size_t)len;
    memcpy(data, io->in, n);
    io->in = NULL;
    return (int)n;
}

static long dgram_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct dgram_io *io = BIO_get_data(b);

    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_DGRAM_SET_CONNECTED:
    case BIO_CTRL_DGRAM_SET_PEER:
    case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
        return 1;
    case BIO_CTRL_PENDING:
        return io->in ? (long)io->inlen : 0;
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
        return 48; /* IPv6 and UDP headers: the larger */
    default:
        return 0; /* no peer address, no MTU queries: the worker knows them */
    }
}

/* ---- the methods, made once per process ---- */

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* on_read: NULL for a write-only BIO. NULL when out of memory. */
static BIO_METHOD *method_new(const char *name, int (*on_write)(BIO *, const char *, int),
                              int (*on_read)(BIO *, char *, int),
                              long (*on_ctrl)(BIO *, int, long, void *))
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, name);

    if (m && BIO_meth_set_write(m, on_write) && (!on_read || BIO_meth_set_read(m, on_read)) &&
        BIO_meth_set_ctrl(m, on_ctrl) && BIO_meth_set_create(m, bio_create))
        return m;
    BIO_meth_free(m);
    return NULL;
}

static BIO_METHOD *out_method, *dgram_method;
static pthread_once_t out_once = PTHREAD_ONCE_INIT, dgram_once = PTHREAD_ONCE_INIT;

static void out_method_init(void)
{
    out_method = method_new("xturn stream_out", out_write, NULL, out_ctrl);
}

static void dgram_method_init(void)
{
    dgram_method = method_new("xturn datagrams", dgram_write, dgram_read, dgram_ctrl);
}

/* A BIO of method whose data is data: NULL when out of memory. */
static BIO *bio_new(BIO_METHOD *method, void *data)
{
    BIO *b = method ? BIO_new(method) : NULL;

    if (b)
        BIO_set_data(b, data);
    return b;
}

BIO *tls_bio_stream_out(struct stream_out *out)
{
    pthread_once(&out_once, out_method_init);
    return bio_new(out_method, out);
}

BIO *tls_bio_datagrams(struct dgram_io *io)
{
    pthread_once(&dgram_once, dgram_method_init);
    return bio_new(dgram_method, io);
}
