/* STUN and ChannelData messages on a byte stream (TCP, TLS; RFC 8656 §12.5). Pure: bytes in,
 * frame boundaries out, no I/O.
 *
 * A STUN message is 20 bytes of header plus the length its header states, which must be a
 * multiple of 4. A ChannelData message is 4 bytes of header plus its length, padded to a
 * multiple of 4 on a stream; some clients (coturn accepts them) leave the padding out. After a
 * ChannelData message whose length is not a multiple of 4 the framer decides whether padding
 * follows by what comes after it: the pad bytes are zero and the byte after them starts a
 * message a client sends (0x00 for every STUN request or indication, 0x40..0x7F for
 * ChannelData), or else the next message starts at once. Clients never send STUN responses, so
 * the two readings cannot both hold. */
#ifndef XTURN_NET_STREAM_FRAME_H
#define XTURN_NET_STREAM_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* The longest message a stream carries: a STUN header and 65532 bytes of attributes. */
#define STREAM_FRAME_MAX (20 + 65532)

enum stream_frame_status {
    SF_ERROR = -1,    /* the stream is not TURN: close the connection (reason in *err) */
    SF_NEED_MORE = 0, /* more bytes are needed before the next message is known */
    SF_FRAME = 1,     /* a whole message: *skip padding bytes, then *frame_len bytes */
};

enum stream_frame_error {
    SFE_NONE,
    SFE_NOT_TURN,    /* a first byte that starts neither STUN nor ChannelData */
    SFE_BAD_COOKIE,  /* a STUN header without the magic cookie */
    SFE_STUN_LENGTH, /* a STUN length that is not a multiple of 4 */
    SFE_COUNT
};

/* Per connection: what the framer remembers between messages. Zero-initialise. */
struct stream_framer {
    uint8_t pad; /* padding that may follow the last message (0..3) */
};

/* Looks at the bytes not consumed yet, buf[0..len). SF_FRAME: the caller handles
 * buf[*skip .. *skip + *frame_len) and consumes *skip + *frame_len bytes (the frame_len of a
 * ChannelData message excludes its padding; the padding is skipped before the next one).
 * SF_NEED_MORE: *need is how many bytes buf must hold before a call can tell more (at most
 * STREAM_FRAME_MAX + 3 + 1), so a caller can size its buffer to the frame announced and no
 * more. SF_ERROR: *err says why. */
int stream_frame_next(struct stream_framer *f, const uint8_t *buf, size_t len, size_t *skip,
                      size_t *frame_len, size_t *need, enum stream_frame_error *err);

/* A name for metrics and logs ("not_turn", "bad_cookie", ...). */
const char *stream_frame_error_name(enum stream_frame_error e);

#endif
