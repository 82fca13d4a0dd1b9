/* STUN and ChannelData framing on a byte stream (stream_frame.h). */
#include "net/stream_frame.h"

#include <stdbool.h>

#include "stun/stun.h"
#include "stun/stun_internal.h"

/* The bytes a client's next message may start with, once padding has been skipped: 0x00 (STUN
 * request or indication) or 0x40..0x7F (ChannelData). */
static bool client_first_byte(uint8_t b)
{
    return b == 0x00 || (b >= 0x40 && b <= 0x7F);
}

/* The message starting at buf[0], len bytes of it available: SF_FRAME with its length and the
 * padding that may follow it, SF_NEED_MORE with the bytes needed to tell more, or SF_ERROR. */
static int message_at(const uint8_t *buf, size_t len, size_t *frame_len, uint8_t *pad_after,
                      size_t *need, enum stream_frame_error *err)
{
    size_t total;
    uint16_t length;
    bool stun;

    /* 4 bytes give either kind's length, so there is no point in waiting for fewer. */
    if (len == 0) {
        *need = CHANNELDATA_HEADER_LEN;
        return SF_NEED_MORE;
    }
    /* The first byte alone tells the kind, so garbage is refused before a header arrives. */
    stun = (buf[0] & 0xC0) == 0x00;
    /* Every channel number 0x4000..0x7FFF frames alike: which ones are valid is the core's
     * to judge (--strict-channel-range), as for UDP. */
    if (!stun && buf[0] >= 0x80) {
        *err = SFE_NOT_TURN;
        return SF_ERROR;
    }
    if (len < CHANNELDATA_HEADER_LEN) {
        *need = CHANNELDATA_HEADER_LEN;
        return SF_NEED_MORE;
    }
    length = stun_get16(buf + 2);
    if (stun) {
        if (length % 4 != 0) {
            *err = SFE_STUN_LENGTH;
            return SF_ERROR;
        }
        if (len >= 8 && stun_get32(buf + 4) != STUN_MAGIC_COOKIE) {
            *err = SFE_BAD_COOKIE;
            return SF_ERROR;
        }
        total = STUN_HEADER_LEN + (size_t)length;
        *pad_after = 0;
    } else {
        total = CHANNELDATA_HEADER_LEN + (size_t)length;
        *pad_after = (uint8_t)(stun_pad4(length) - length);
    }
    /* Short of a STUN message, its cookie is checked as soon as it is there, but the caller is
     * asked for the whole message: waiting for 8 bytes first would cost a read for nothing. */
    if (len < total) {
        *need = total;
        return SF_NEED_MORE;
    }
    *frame_len = total;
    return SF_FRAME;
}

int stream_frame_next(struct stream_framer *f, const uint8_t *buf, size_t len, size_t *skip,
                      size_t *frame_len, size_t *need, enum stream_frame_error *err)
{
    size_t off = 0, zeros = 0;
    uint8_t pad_after = 0;
    int rc;

    *skip = 0;
    *frame_len = 0;
    *need = 0;
    *err = SFE_NONE;

    /* After a ChannelData message of unaligned length: padding follows if the pad bytes are zero
     * and the byte after them starts a client's message. A nonzero byte among them settles it
     * at once; otherwise the decision waits for pad + 1 bytes, so it never depends on how the
     * stream was cut. */
    if (f->pad > 0) {
        while (zeros < f->pad && zeros < len && buf[zeros] == 0)
            zeros++;
        if (zeros == len && len <= f->pad) {
            *need = (size_t)f->pad + 1;
            return SF_NEED_MORE;
        }
        if (zeros == f->pad && client_first_byte(buf[f->pad]))
            off = f->pad;
    }

    rc = message_at(buf + off, len - off, frame_len, &pad_after, need, err);
    if (rc == SF_NEED_MORE) {
        *need += off;
    } else if (rc == SF_FRAME) {
        *skip = off;
        f->pad = pad_after;
    }
    return rc;
}

const char *stream_frame_error_name(enum stream_frame_error e)
{
    static const char *const names[SFE_COUNT] = {
        [SFE_NONE] = "none",
        [SFE_NOT_TURN] = "not_turn",
        [SFE_BAD_COOKIE] = "bad_cookie",
        [SFE_STUN_LENGTH] = "stun_length",
    };
    return (unsigned)e < SFE_COUNT ? names[e] : "unknown";
}
