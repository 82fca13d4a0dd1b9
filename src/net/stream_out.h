/* The bytes waiting to be written to one stream connection: whole messages appended, written
 * as far as the socket takes them, bounded so that a client that does not read costs at most
 * max bytes (further messages are refused, never cut). */
#ifndef XTURN_NET_STREAM_OUT_H
#define XTURN_NET_STREAM_OUT_H

#include <stddef.h>
#include <stdint.h>

struct stream_out {
    uint8_t *buf;
    size_t off, len, cap; /* buf[off..len) waits */
};

/* Appends one message made of up to three parts (a, then b, then pad zero bytes): 0, or
 * -ENOBUFS when what waits would exceed max, -ENOMEM; nothing is appended then. */
int stream_out_append(struct stream_out *o, const void *a, size_t alen, const void *b, size_t blen,
                      size_t pad, size_t max);

static inline size_t stream_out_pending(const struct stream_out *o)
{
    return o->len - o->off;
}

static inline const uint8_t *stream_out_data(const struct stream_out *o)
{
    return o->buf + o->off;
}

/* n bytes were written. Memory beyond a small buffer is given back once all is written. */
void stream_out_consume(struct stream_out *o, size_t n);
void stream_out_free(struct stream_out *o);

#endif
