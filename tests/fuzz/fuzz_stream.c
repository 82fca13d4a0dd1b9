/* libFuzzer harness of the stream framer (src/net/stream_frame.c): the input is a byte stream
 * and the reads it arrives in (fuzz_formats.h). The stream is framed whole, then read by read
 * into a buffer as a connection would (append, frame until the framer needs more or fails,
 * consume): the frames, and where and why the stream fails, must not depend on the reads. Every
 * result is checked against what the header promises. Every invariant violated aborts. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_formats.h"
#include "net/stream_frame.h"
#include "stun/stun.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* The most a framer may ask a connection to hold. */
#define NEED_CAP (STREAM_FRAME_MAX + 4)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct frame {
    size_t off, len; /* in the stream */
};

/* How framing the stream ended: the frames, then ERROR (err) or NEED_MORE (need) at end. */
struct outcome {
    struct frame *frames;
    size_t nframes;
    int rc;
    enum stream_frame_error err;
    size_t end, need;
};

/* A connection's buffer: the header promises need never asks for more. */
static uint8_t conn[NEED_CAP];

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* One call's result against the header, given the pad the framer had before it. */
static void check_result(int rc, uint8_t pad_before, const struct stream_framer *f,
                         const uint8_t *buf, size_t avail, size_t skip, size_t len, size_t need,
                         enum stream_frame_error err)
{
    const uint8_t *m = buf + skip;

    CHECK(pad_before <= 3 && f->pad <= 3);
    if (rc == SF_NEED_MORE) {
        CHECK(need > avail && need <= NEED_CAP);
        CHECK(err == SFE_NONE && f->pad == pad_before);
        return;
    }
    if (rc == SF_ERROR) {
        CHECK(err > SFE_NONE && err < SFE_COUNT && f->pad == pad_before);
        CHECK(stream_frame_error_name(err) != NULL);
        return;
    }
    CHECK(rc == SF_FRAME && err == SFE_NONE);
    CHECK(skip <= 3 && skip <= pad_before);
    CHECK(len >= CHANNELDATA_HEADER_LEN && len <= STREAM_FRAME_MAX && skip + len <= avail);
    /* Padding skipped is zero and followed by what a client sends. */
    for (size_t i = 0; i < skip; i++)
        CHECK(buf[i] == 0);
    if (skip > 0)
        CHECK(m[0] == 0x00 || (m[0] >= 0x40 && m[0] <= 0x7F));
    if ((m[0] & 0xC0) == 0) {
        CHECK(len >= STUN_HEADER_LEN && len == STUN_HEADER_LEN + get16(m + 2) && len % 4 == 0);
        CHECK(m[4] == 0x21 && m[5] == 0x12 && m[6] == 0xA4 && m[7] == 0x42);
        CHECK(f->pad == 0);
    } else {
        uint16_t channel;
        const uint8_t *payload;
        size_t plen;
        CHECK(m[0] >= 0x40 && m[0] <= 0x7F);
        CHECK(channeldata_parse(m, len, &channel, &payload, &plen) == 0);
        CHECK(plen == len - CHANNELDATA_HEADER_LEN && payload == m + CHANNELDATA_HEADER_LEN);
        CHECK(f->pad == (4 - plen % 4) % 4);
    }
}

static int frame_next(struct stream_framer *f, const uint8_t *buf, size_t avail, size_t *skip,
                      size_t *len, size_t *need, enum stream_frame_error *err)
{
    uint8_t pad = f->pad;
    int rc = stream_frame_next(f, buf, avail, skip, len, need, err);
    check_result(rc, pad, f, buf, avail, *skip, *len, *need, *err);
    return rc;
}

/* The reference: all of the stream at once. */
static void frame_whole(const uint8_t *s, size_t n, struct outcome *o)
{
    struct stream_framer f = {0};
    size_t pos = 0, skip, len;

    for (;;) {
        o->rc = frame_next(&f, s + pos, n - pos, &skip, &len, &o->need, &o->err);
        if (o->rc != SF_FRAME)
            break;
        o->frames[o->nframes++] = (struct frame){pos + skip, len};
        pos += skip + len;
    }
    o->end = pos;
}

/* The stream in reads of the cut sizes (one byte each without cuts), each no longer than the
 * framer's need when read_need, into conn; compared with want as it goes. At one position in
 * the stream, need only grows with the bytes, and never beyond where the message ends: a
 * connection that waits for need bytes gets its message. */
static void frame_reads(const uint8_t *s, size_t n, const uint8_t *cuts, size_t ncuts,
                        bool read_need, const struct outcome *want)
{
    struct stream_framer f = {0};
    size_t in = 0, clen = 0, base = 0, nframes = 0, ncut = 0, skip, len, need = 0;
    size_t need_pos = SIZE_MAX, need_end = 0; /* the last NEED_MORE's position and need */
    enum stream_frame_error err = SFE_NONE;
    int rc;

    for (;;) {
        size_t off = 0, chunk;

        while ((rc = frame_next(&f, conn + off, clen - off, &skip, &len, &need, &err)) ==
               SF_FRAME) {
            if (need_pos == base + off)
                CHECK(need_end <= base + off + skip + len);
            need_pos = SIZE_MAX;
            CHECK(nframes < want->nframes);
            CHECK(want->frames[nframes].off == base + off + skip);
            CHECK(want->frames[nframes].len == len);
            nframes++;
            off += skip + len;
        }
        if (rc == SF_NEED_MORE) {
            if (need_pos == base + off)
                CHECK(base + off + need >= need_end);
            need_pos = base + off;
            need_end = base + off + need;
        }
        memmove(conn, conn + off, clen - off);
        clen -= off;
        base += off;
        if (rc == SF_ERROR || in == n)
            break;

        chunk = ncuts > 0 ? (size_t)cuts[ncut++ % ncuts] + 1 : 1;
        if (read_need && chunk > need - clen)
            chunk = need - clen;
        if (chunk > sizeof(conn) - clen)
            chunk = sizeof(conn) - clen;
        if (chunk > n - in)
            chunk = n - in;
        CHECK(chunk > 0); /* need > clen and need <= NEED_CAP leave room */
        memcpy(conn + clen, s + in, chunk);
        clen += chunk;
        in += chunk;
    }
    CHECK(nframes == want->nframes && rc == want->rc && base == want->end);
    if (rc == SF_ERROR)
        CHECK(err == want->err);
    else
        CHECK(need == want->need && clen == n - base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct outcome want = {0};
    size_t ncuts, n;
    const uint8_t *s;

    if (size < 1)
        return 0;
    ncuts = data[0] & FS_CUTS;
    if (size < 1 + ncuts)
        return 0;
    s = data + 1 + ncuts;
    n = size - 1 - ncuts;

    /* Every frame is at least a ChannelData header long. */
    want.frames = malloc((n / CHANNELDATA_HEADER_LEN + 1) * sizeof(*want.frames));
    CHECK(want.frames != NULL);
    frame_whole(s, n, &want);
    frame_reads(s, n, data + 1, ncuts, (data[0] & FS_READ_NEED) != 0, &want);
    free(want.frames);
    return 0;
}
