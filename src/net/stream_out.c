#include "net/stream_out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_OUT_MIN  4096
#define STREAM_OUT_KEEP 16384 /* kept when empty; larger buffers are freed */

int stream_out_append(struct stream_out *o, const void *a, size_t alen, const void *b, size_t blen,
                      size_t pad, size_t max)
{
    size_t n = alen + blen + pad;

    if (stream_out_pending(o) + n > max)
        return -ENOBUFS;
    if (o->len + n > o->cap && o->off > 0) {
        memmove(o->buf, o->buf + o->off, o->len - o->off);
        o->len -= o->off;
        o->off = 0;
    }
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : STREAM_OUT_MIN;
        uint8_t *buf;
        while (cap < o->len + n)
            cap *= 2;
        buf = realloc(o->buf, cap);
        if (!buf)
            return -ENOMEM;
        o->buf = buf;
        o->cap = cap;
    }
    if (alen)
        memcpy(o->buf + o->len, a, alen);
    if (blen)
        memcpy(o->buf + o->len + alen, b, blen);
    memset(o->buf + o->len + alen + blen, 0, pad);
    o->len += n;
    return 0;
}

void stream_out_consume(struct stream_out *o, size_t n)
{
    o->off += n;
    if (o->off < o->len)
        return;
    o->off = o->len = 0;
    if (o->cap > STREAM_OUT_KEEP)
        stream_out_free(o);
}

void stream_out_free(struct stream_out *o)
{
    free(o->buf);
    o->buf = NULL;
    o->off = o->len = o->cap = 0;
}
