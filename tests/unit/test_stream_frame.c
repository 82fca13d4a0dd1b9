/* STUN and ChannelData framing on a byte stream (src/net/stream_frame.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/stream_frame.h"
#include "stun/stun.h"

#define NEED_CAP (STREAM_FRAME_MAX + 4)

struct frame {
    size_t skip, len;
};

/* A stream under test: its bytes and the frames a framer must find in it, in order. */
struct stream {
    uint8_t buf[4 * STREAM_FRAME_MAX + 64];
    size_t len;
    struct frame frames[64];
    size_t nframes;
    uint8_t pad;     /* the framer's pad after the last frame */
    size_t pad_left; /* padding written after the last frame: the next frame's skip */
};

static struct stream s_stream;

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static struct stream *stream_new(void)
{
    memset(&s_stream, 0, sizeof(s_stream));
    return &s_stream;
}

static void add_frame(struct stream *s, size_t len, uint8_t pad)
{
    assert_true(s->nframes < sizeof(s->frames) / sizeof(s->frames[0]));
    s->frames[s->nframes++] = (struct frame){s->pad_left, len};
    s->pad = pad;
    s->pad_left = 0;
}

/* A STUN message of type type with body_len bytes of (unparsed) attributes. The types used
 * after ChannelData are requests and indications, as a client's are. */
static void add_stun(struct stream *s, uint16_t type, size_t body_len)
{
    uint8_t *p = s->buf + s->len;
    assert_true(s->len + STUN_HEADER_LEN + body_len <= sizeof(s->buf));
    put16(p, type);
    put16(p + 2, (uint16_t)body_len);
    memcpy(p + 4, "\x21\x12\xa4\x42", 4);
    for (size_t i = 0; i < STUN_TID_LEN; i++)
        p[8 + i] = (uint8_t)(0xA0 + i);
    for (size_t i = 0; i < body_len; i++)
        p[STUN_HEADER_LEN + i] = (uint8_t)(i * 7 + 1);
    s->len += STUN_HEADER_LEN + body_len;
    add_frame(s, STUN_HEADER_LEN + body_len, 0);
}

/* A ChannelData message; padded: followed by the zero bytes that align it to 4, which the
 * framer skips before the next message. */
static void add_cd(struct stream *s, uint16_t channel, size_t len, bool padded)
{
    uint8_t *p = s->buf + s->len;
    size_t pad = (4 - len % 4) % 4;
    assert_true(s->len + CHANNELDATA_HEADER_LEN + len + pad <= sizeof(s->buf));
    channeldata_header(p, channel, len);
    for (size_t i = 0; i < len; i++)
        p[CHANNELDATA_HEADER_LEN + i] = (uint8_t)(i * 13 + 5);
    s->len += CHANNELDATA_HEADER_LEN + len;
    add_frame(s, CHANNELDATA_HEADER_LEN + len, (uint8_t)pad);
    if (padded) {
        memset(s->buf + s->len, 0, pad);
        s->len += pad;
        s->pad_left = pad;
    }
}

/* What *need must be with k bytes of the segment at p (skip, frame) after a message that may be
 * followed by pad bytes of padding: pad + 1 until the padding is decided (a nonzero byte among
 * the pad decides it early), then 4 until the header's length is there, then the whole frame. */
static size_t expected_need(uint8_t pad, const uint8_t *p, const struct frame *fr, size_t k)
{
    if (pad > 0) {
        bool decided = k >= (size_t)pad + 1;
        for (size_t i = 0; i < k && i < pad; i++)
            decided = decided || p[i] != 0;
        if (!decided)
            return (size_t)pad + 1;
    }
    if (k < fr->skip + CHANNELDATA_HEADER_LEN)
        return fr->skip + CHANNELDATA_HEADER_LEN;
    return fr->skip + fr->len;
}

static int next(struct stream_framer *f, const uint8_t *buf, size_t len, size_t *skip,
                size_t *frame_len, size_t *need, enum stream_frame_error *err)
{
    int rc = stream_frame_next(f, buf, len, skip, frame_len, need, err);
    if (rc == SF_NEED_MORE) {
        assert_true(*need > len);
        assert_true(*need <= NEED_CAP);
        assert_int_equal(*err, SFE_NONE);
    } else if (rc == SF_FRAME) {
        assert_true(*skip <= 3);
        assert_true(*frame_len >= CHANNELDATA_HEADER_LEN && *frame_len <= STREAM_FRAME_MAX);
        assert_true(*skip + *frame_len <= len);
    }
    return rc;
}

/* The whole stream at once, then every prefix of each message: NEED_MORE with the right need
 * and the framer's state untouched, until the message is complete and comes out the same. */
static void check_stream(struct stream *s)
{
    struct stream_framer f = {0};
    size_t pos = 0, skip, len, need;
    enum stream_frame_error err;

    for (size_t i = 0; i < s->nframes; i++) {
        assert_int_equal(next(&f, s->buf + pos, s->len - pos, &skip, &len, &need, &err), SF_FRAME);
        assert_int_equal(skip, s->frames[i].skip);
        assert_int_equal(len, s->frames[i].len);
        pos += skip + len;
    }
    /* Padding at the end stays until what follows it is known. */
    assert_int_equal(pos + s->pad_left, s->len);
    assert_int_equal(f.pad, s->pad);
    assert_int_equal(next(&f, s->buf + pos, s->pad_left, &skip, &len, &need, &err), SF_NEED_MORE);
    assert_int_equal(need, s->pad > 0 ? (size_t)s->pad + 1 : 4);

    memset(&f, 0, sizeof(f));
    pos = 0;
    for (size_t i = 0; i < s->nframes; i++) {
        const struct frame *fr = &s->frames[i];
        uint8_t pad = f.pad;
        for (size_t k = 0; k < fr->skip + fr->len; k++) {
            assert_int_equal(next(&f, s->buf + pos, k, &skip, &len, &need, &err), SF_NEED_MORE);
            assert_int_equal(need, expected_need(pad, s->buf + pos, fr, k));
            assert_int_equal(f.pad, pad);
        }
        assert_int_equal(next(&f, s->buf + pos, fr->skip + fr->len, &skip, &len, &need, &err),
                         SF_FRAME);
        assert_int_equal(skip, fr->skip);
        assert_int_equal(len, fr->len);
        pos += skip + len;
    }
}

static void test_stun_whole(void **state)
{
    (void)state;
    struct stream *s = stream_new();
    add_stun(s, 0x0001, 0);  /* Binding request */
    add_stun(s, 0x0003, 36); /* Allocate request */
    add_stun(s, 0x0016, 8);  /* Send indication */
    add_stun(s, 0x0101, 12); /* a Binding success is still STUN */
    check_stream(s);
}

/* Every ChannelData length mod 4, padded and not, followed by STUN and by ChannelData. */
static void test_channeldata_then_next(void **state)
{
    (void)state;
    for (size_t l = 0; l < 12; l++) {
        for (int padded = 0; padded < 2; padded++) {
            for (int then_stun = 0; then_stun < 2; then_stun++) {
                struct stream *s = stream_new();
                add_cd(s, 0x4001, l, padded);
                if (then_stun)
                    add_stun(s, 0x0016, 12);
                else
                    add_cd(s, 0x4FFF, 3, padded);
                add_cd(s, 0x4000, l + 1, padded);
                add_stun(s, 0x0001, 0);
                add_cd(s, 0x4ABC, l + 2, padded);
                check_stream(s);
            }
        }
    }
}

/* Padded and unpadded messages mixed on one stream. */
static void test_mixed_padding(void **state)
{
    (void)state;
    struct stream *s = stream_new();
    add_cd(s, 0x4001, 1, true);
    add_cd(s, 0x4001, 1, false);
    add_cd(s, 0x4002, 2, true);
    add_stun(s, 0x0004, 4);
    add_cd(s, 0x4003, 3, false);
    add_stun(s, 0x0009, 0);
    add_cd(s, 0x4004, 5, true);
    add_cd(s, 0x4004, 0, false);
    add_cd(s, 0x4005, 6, false);
    add_cd(s, 0x4006, 7, true);
    check_stream(s);
}

static int one(const uint8_t *buf, size_t len, uint8_t pad, size_t *skip, size_t *frame_len,
               size_t *need, enum stream_frame_error *err)
{
    struct stream_framer f = {.pad = pad};
    return next(&f, buf, len, skip, frame_len, need, err);
}

/* The examples of the contract, spelled out. */
static void test_need_values(void **state)
{
    (void)state;
    static const uint8_t stun28[8] = {0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42};
    static const uint8_t cd5[4] = {0x40, 0x01, 0x00, 0x05};
    static const uint8_t padded_cd[8] = {0, 0, 0, 0x40, 0x02, 0x00, 0x00};
    static const uint8_t unpadded_stun[4] = {0x00, 0x01, 0x00, 0x00};
    size_t skip, len, need;
    enum stream_frame_error err;

    assert_int_equal(one(stun28, 0, 0, &skip, &len, &need, &err), SF_NEED_MORE);
    assert_int_equal(need, 4);
    assert_int_equal(one(stun28, 3, 0, &skip, &len, &need, &err), SF_NEED_MORE);
    assert_int_equal(need, 4);
    assert_int_equal(one(stun28, 4, 0, &skip, &len, &need, &err), SF_NEED_MORE);
    assert_int_equal(need, 28);
    assert_int_equal(one(stun28, 8, 0, &skip, &len, &need, &err), SF_NEED_MORE);
    assert_int_equal(need, 28);
    assert_int_equal(one(cd5, 4, 0, &skip, &len, &need, &err), SF_NEED_MORE);
    assert_int_equal(need, 9);

    /* 3 bytes of padding may be pending: zeros leave it open until the fourth byte. */
    for (size_t k = 0; k <= 3; k++) {
        assert_int_equal(one(padded_cd, k, 3, &skip, &len, &need, &err), SF_NEED_MORE);
        assert_int_equal(need, 4);
    }
    assert_int_equal(one(padded_cd, 4, 3, &skip, &len, &need, &err), SF_NEED_MORE);
    assert_int_equal(need, 3 + 4);
    assert_int_equal(one(padded_cd, 7, 3, &skip, &len, &need, &err), SF_FRAME);
    assert_int_equal(skip, 3);
    assert_int_equal(len, 4);
    /* The same zeros when one byte of padding is pending: 00 00 is padding then STUN. */
    assert_int_equal(one(padded_cd, 2, 1, &skip, &len, &need, &err), SF_NEED_MORE);
    assert_int_equal(need, 1 + 4);

    /* A STUN request right after: its second byte is not zero, which settles it early. */
    assert_int_equal(one(unpadded_stun, 1, 3, &skip, &len, &need, &err), SF_NEED_MORE);
    assert_int_equal(need, 4);
    assert_int_equal(one(unpadded_stun, 2, 3, &skip, &len, &need, &err), SF_NEED_MORE);
    assert_int_equal(need, 4);
    assert_int_equal(one(unpadded_stun, 4, 3, &skip, &len, &need, &err), SF_NEED_MORE);
    assert_int_equal(need, 20);
    assert_int_equal(one(unpadded_stun, 2, 1, &skip, &len, &need, &err), SF_NEED_MORE);
    assert_int_equal(need, 4);
    /* ChannelData right after: its first byte settles it. */
    assert_int_equal(one(cd5, 1, 2, &skip, &len, &need, &err), SF_NEED_MORE);
    assert_int_equal(need, 4);
}

/* What a framer sets pad to: ChannelData's padding, 0 after STUN. */
static void test_framer_state(void **state)
{
    (void)state;
    uint8_t buf[32] = {0};
    struct stream_framer f = {.pad = 2};
    size_t skip, len, need;
    enum stream_frame_error err;

    for (size_t l = 0; l < 8; l++) {
        channeldata_header(buf, 0x4100, l);
        assert_int_equal(next(&f, buf, 4 + l, &skip, &len, &need, &err), SF_FRAME);
        assert_int_equal(skip, 0);
        assert_int_equal(f.pad, (4 - l % 4) % 4);
    }
    f.pad = 3;
    memset(buf, 0, sizeof(buf));
    memcpy(buf + 3, "\x00\x01\x00\x00\x21\x12\xa4\x42", 8);
    assert_int_equal(next(&f, buf, 23, &skip, &len, &need, &err), SF_FRAME);
    assert_int_equal(skip, 3);
    assert_int_equal(len, 20);
    assert_int_equal(f.pad, 0);
}

static void expect_error(const uint8_t *buf, size_t len, uint8_t pad, enum stream_frame_error want)
{
    struct stream_framer f = {.pad = pad};
    size_t skip, frame_len, need;
    enum stream_frame_error err;
    assert_int_equal(next(&f, buf, len, &skip, &frame_len, &need, &err), SF_ERROR);
    assert_int_equal(err, want);
    assert_int_equal(f.pad, pad);
}

static void test_stun_length_not_multiple_of_4(void **state)
{
    (void)state;
    uint8_t buf[64] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
    size_t skip, len, need;
    enum stream_frame_error err;

    for (unsigned l = 1; l < 0x10000; l += (l % 4 == 3) ? 2 : 1) {
        put16(buf + 2, (uint16_t)l);
        assert_int_equal(one(buf, 3, 0, &skip, &len, &need, &err), SF_NEED_MORE);
        assert_int_equal(need, 4);
        expect_error(buf, 4, 0, SFE_STUN_LENGTH);
        expect_error(buf, sizeof(buf), 0, SFE_STUN_LENGTH);
    }
    /* ... also after a ChannelData message, padded or not. */
    put16(buf + 2, 6);
    expect_error(buf, sizeof(buf), 2, SFE_STUN_LENGTH);
    memmove(buf + 2, buf, 8);
    buf[0] = buf[1] = 0;
    expect_error(buf, sizeof(buf), 2, SFE_STUN_LENGTH);
}

static void test_bad_cookie(void **state)
{
    (void)state;
    uint8_t buf[40] = {0x00, 0x01, 0x00, 0x14, 0x21, 0x12, 0xa4, 0x43};
    size_t skip, len, need;
    enum stream_frame_error err;

    for (size_t k = 4; k < 8; k++) {
        assert_int_equal(one(buf, k, 0, &skip, &len, &need, &err), SF_NEED_MORE);
        assert_int_equal(need, 40);
    }
    for (size_t k = 8; k <= sizeof(buf); k++)
        expect_error(buf, k, 0, SFE_BAD_COOKIE);
    /* RFC 3489's STUN, without a cookie, is not spoken here either. */
    memset(buf + 4, 0x5a, 4);
    expect_error(buf, sizeof(buf), 0, SFE_BAD_COOKIE);
    expect_error(buf, sizeof(buf), 1, SFE_BAD_COOKIE);
}

static void test_garbage_first_byte(void **state)
{
    (void)state;
    /* A TLS ClientHello (record header, then the handshake header): its first byte 0x16 has
     * STUN's top two bits, and the cookie is what refuses it. */
    static const uint8_t tls[16] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01,
                                    0xfc, 0x03, 0x03, 0x5b, 0x1e, 0x7c, 0x00, 0x11};
    static const uint8_t tls_len4[16] = {0x16, 0x03, 0x01, 0x00, 0xf8, 0x01, 0x00, 0x00,
                                         0xf4, 0x03, 0x03, 0x5b, 0x1e, 0x7c, 0x00, 0x11};
    uint8_t b;

    b = 0x80;
    expect_error(&b, 1, 0, SFE_NOT_TURN);
    b = 0xFF;
    expect_error(&b, 1, 0, SFE_NOT_TURN);
    for (unsigned v = 0x80; v <= 0xFF; v++) {
        uint8_t buf[8] = {(uint8_t)v, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
        for (size_t k = 1; k <= sizeof(buf); k++) {
            expect_error(buf, k, 0, SFE_NOT_TURN);
            /* after ChannelData, a nonzero byte cannot be padding */
            expect_error(buf, k, 3, SFE_NOT_TURN);
        }
    }
    /* Zeros then garbage are no padding: they start a STUN header, which fails. */
    expect_error((const uint8_t[]){0, 0, 0x80, 0x01}, 4, 2, SFE_STUN_LENGTH);
    expect_error((const uint8_t[]){0, 0, 0x80, 0x00, 0, 0, 0, 0}, 8, 2, SFE_BAD_COOKIE);

    expect_error(tls, sizeof(tls), 0, SFE_STUN_LENGTH); /* length 0x0102 */
    for (size_t k = 8; k <= sizeof(tls_len4); k++)
        expect_error(tls_len4, k, 0, SFE_BAD_COOKIE); /* length 0x0100 */
    assert_string_equal(stream_frame_error_name(SFE_NOT_TURN), "not_turn");
}

/* Every number 0x4000..0x7FFF frames (the core judges which are valid, as for UDP: RFC 8656
 * allows 0x4000..0x4FFF, RFC 5766 clients such as coturn's use up to 0x7FFF); 0x8000 and up
 * start no message at all. */
static void test_channel_ranges(void **state)
{
    (void)state;
    uint8_t buf[8] = {0};
    size_t skip, len, need;
    enum stream_frame_error err;

    for (unsigned ch = 0x4000; ch <= 0xFFFF; ch += 0x100) {
        channeldata_header(buf, (uint16_t)ch, 4);
        if (ch <= 0x7FFF) {
            assert_int_equal(one(buf, sizeof(buf), 0, &skip, &len, &need, &err), SF_FRAME);
            assert_int_equal(len, 8);
        } else {
            for (size_t k = 1; k <= sizeof(buf); k++)
                expect_error(buf, k, 0, SFE_NOT_TURN);
        }
    }
}

/* The longest messages, cut everywhere, and the largest need: 3 bytes of padding, then a STUN
 * message of STREAM_FRAME_MAX. */
static void test_longest(void **state)
{
    (void)state;
    struct stream *s = stream_new();
    add_stun(s, 0x0016, 0xFFFC);
    assert_int_equal(s->len, STREAM_FRAME_MAX);
    add_cd(s, 0x4FFF, 0xFFFF, true);
    add_cd(s, 0x4000, 0xFFFD, true);
    add_stun(s, 0x0016, 0xFFFC);
    check_stream(s);

    s = stream_new();
    add_cd(s, 0x4001, 0xFFFF, false);
    add_stun(s, 0x0001, 0xFFFC);
    add_cd(s, 0x4001, 1, true);
    check_stream(s);

    s = stream_new();
    add_cd(s, 0x4001, 1, true);
    add_stun(s, 0x0001, 0xFFFC);
    {
        struct stream_framer f = {0};
        size_t skip, len, need;
        enum stream_frame_error err;
        assert_int_equal(next(&f, s->buf, s->len, &skip, &len, &need, &err), SF_FRAME);
        assert_int_equal(next(&f, s->buf + 5, 8, &skip, &len, &need, &err), SF_NEED_MORE);
        assert_int_equal(need, STREAM_FRAME_MAX + 3);
    }
}

static void test_error_names(void **state)
{
    (void)state;
    assert_string_equal(stream_frame_error_name(SFE_NONE), "none");
    assert_string_equal(stream_frame_error_name(SFE_BAD_COOKIE), "bad_cookie");
    assert_string_equal(stream_frame_error_name(SFE_STUN_LENGTH), "stun_length");
    for (int e = 0; e < SFE_COUNT; e++)
        assert_non_null(stream_frame_error_name((enum stream_frame_error)e));
    assert_string_equal(stream_frame_error_name(SFE_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stun_whole),     cmocka_unit_test(test_channeldata_then_next),
        cmocka_unit_test(test_mixed_padding),  cmocka_unit_test(test_need_values),
        cmocka_unit_test(test_framer_state),   cmocka_unit_test(test_stun_length_not_multiple_of_4),
        cmocka_unit_test(test_bad_cookie),     cmocka_unit_test(test_garbage_first_byte),
        cmocka_unit_test(test_channel_ranges), cmocka_unit_test(test_longest),
        cmocka_unit_test(test_error_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
