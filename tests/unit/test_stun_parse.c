/* stun_parse framing and attribute rules, and the attribute decoders on malformed values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stun/stun.h"
#include "stun_test_vectors.h"

static const uint8_t TID[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static const uint8_t KEY[] = "key";

/* A Binding request whose body is the given hex, with a length field matching it. */
static size_t raw_msg(uint8_t *buf, size_t cap, const char *body_hex)
{
    size_t n = hex_decode(body_hex, buf + STUN_HEADER_LEN, cap - STUN_HEADER_LEN);
    memcpy(buf, "\x00\x01\x00\x00\x21\x12\xa4\x42", 8);
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    memcpy(buf + 8, TID, STUN_TID_LEN);
    return STUN_HEADER_LEN + n;
}

static void set_len_field(uint8_t *buf, size_t body)
{
    buf[2] = (uint8_t)(body >> 8);
    buf[3] = (uint8_t)body;
}

static int parse_hex(const char *body_hex, struct stun_msg *m)
{
    static uint8_t buf[512]; /* static: m keeps pointers into it */
    size_t len = raw_msg(buf, sizeof(buf), body_hex);
    return stun_parse(buf, len, m);
}

/* Every attribute kind the relay sends, signed both ways and fingerprinted. */
static size_t rich_msg(uint8_t *buf, size_t cap)
{
    struct stun_builder b;
    struct xt_addr a4, a6;
    assert_int_equal(xt_addr_parse("192.0.2.7:3478", 0, &a4), 0);
    assert_int_equal(xt_addr_parse("[2001:db8::7]:49152", 0, &a6), 0);
    stun_build_init(&b, buf, cap, TURN_ALLOCATE, STUN_SUCCESS, TID);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_RELAYED_ADDRESS, &a6);
    stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &a4);
    stun_add_u32(&b, TURN_ATTR_LIFETIME, 600);
    stun_add_attr(&b, STUN_ATTR_SOFTWARE, "xturn", 5);
    stun_add_integrity(&b, KEY, sizeof(KEY) - 1);
    stun_add_integrity_sha256(&b, KEY, sizeof(KEY) - 1);
    stun_add_fingerprint(&b);
    int n = stun_finish(&b);
    assert_true(n > 0);
    return (size_t)n;
}

static void test_minimal(void **state)
{
    (void)state;
    struct stun_msg m;
    assert_int_equal(parse_hex("", &m), STUN_OK);
    assert_int_equal(m.nattrs, 0);
    assert_int_equal(m.mi, -1);
    assert_int_equal(m.mi256, -1);
    assert_int_equal(m.fingerprint, -1);
    assert_int_equal(m.len, STUN_HEADER_LEN);
    assert_memory_equal(m.tid, TID, STUN_TID_LEN);
    assert_null(stun_find(&m, STUN_ATTR_USERNAME));
    assert_false(stun_check_integrity(&m, KEY, sizeof(KEY) - 1));
}

static void test_rich_ok(void **state)
{
    (void)state;
    uint8_t buf[512];
    struct stun_msg m;
    size_t len = rich_msg(buf, sizeof(buf));
    assert_int_equal(stun_parse(buf, len, &m), STUN_OK);
    assert_int_equal(m.nattrs, 7);
    assert_int_equal(m.mi, 4);
    assert_int_equal(m.mi256, 5);
    assert_int_equal(m.fingerprint, 6);
    assert_true(stun_check_integrity(&m, KEY, sizeof(KEY) - 1));
}

static void test_every_truncation_fails(void **state)
{
    (void)state;
    uint8_t buf[512];
    struct stun_msg m;
    size_t len = rich_msg(buf, sizeof(buf));
    for (size_t n = 0; n < len; n++)
        assert_int_equal(stun_parse(buf, n, &m), STUN_ERR_SHORT);

    const char *vectors[] = {rfc5769_request, rfc5769_response_v4, rfc5769_response_v6,
                             rfc5769_request_long_term};
    for (size_t v = 0; v < 4; v++) {
        len = hex_decode(vectors[v], buf, sizeof(buf));
        for (size_t n = 0; n < len; n++)
            assert_int_equal(stun_parse(buf, n, &m), STUN_ERR_SHORT);
    }
}

static void test_not_stun(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct stun_msg m;
    size_t len = raw_msg(buf, sizeof(buf), "");
    assert_true(stun_is_message(buf, len));
    assert_false(stun_is_message(buf, len - 1));

    for (uint8_t top = 0x40; top != 0; top = (uint8_t)(top + 0x40)) {
        buf[0] = top;
        assert_false(stun_is_message(buf, len));
        assert_int_equal(stun_parse(buf, len, &m), STUN_ERR_NOT_STUN);
    }
    buf[0] = 0;
    buf[7] ^= 1; /* magic cookie */
    assert_false(stun_is_message(buf, len));
    assert_int_equal(stun_parse(buf, len, &m), STUN_ERR_NOT_STUN);
}

static void test_length_field(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct stun_msg m;
    size_t len = raw_msg(buf, sizeof(buf), "80 22 00 04 61 62 63 64");

    set_len_field(buf, 6); /* not a multiple of 4, whatever the datagram */
    assert_int_equal(stun_parse(buf, len, &m), STUN_ERR_LENGTH);
    assert_int_equal(stun_parse(buf, STUN_HEADER_LEN + 6, &m), STUN_ERR_LENGTH);

    set_len_field(buf, 12); /* beyond the datagram */
    assert_int_equal(stun_parse(buf, len, &m), STUN_ERR_SHORT);

    set_len_field(buf, 4); /* datagram carries trailing bytes */
    assert_int_equal(stun_parse(buf, len, &m), STUN_ERR_LENGTH);
    set_len_field(buf, 0);
    assert_int_equal(stun_parse(buf, len, &m), STUN_ERR_LENGTH);

    set_len_field(buf, 8);
    assert_int_equal(stun_parse(buf, len, &m), STUN_OK);
}

/* struct stun_attr keeps 16-bit offsets, so longer (TCP-sized) messages are refused whole. */
static void test_too_long(void **state)
{
    (void)state;
    size_t len = STUN_HEADER_LEN + 0xFFFC;
    uint8_t *buf = calloc(1, len);
    assert_non_null(buf);
    raw_msg(buf, len, "");
    set_len_field(buf, 0xFFFC);
    for (size_t off = STUN_HEADER_LEN; off < len; off += 4)
        memcpy(buf + off, "\x80\x22\x00\x00", 4);
    struct stun_msg m;
    assert_int_equal(stun_parse(buf, len, &m), STUN_ERR_LENGTH);

    /* The longest accepted message: one big attribute, then one at the highest offset. */
    len = 0xFFFF & ~3u;
    set_len_field(buf, len - STUN_HEADER_LEN);
    buf[STUN_HEADER_LEN + 2] = (uint8_t)((len - STUN_HEADER_LEN - 8) >> 8);
    buf[STUN_HEADER_LEN + 3] = (uint8_t)(len - STUN_HEADER_LEN - 8);
    assert_int_equal(stun_parse(buf, len, &m), STUN_OK);
    assert_int_equal(m.nattrs, 2);
    assert_int_equal(m.attrs[1].offset, len - 4);
    free(buf);
}

static void test_attr_overrun(void **state)
{
    (void)state;
    struct stun_msg m;
    assert_int_equal(parse_hex("00 06 00 08 61 62 63 64", &m), STUN_ERR_ATTR);
    assert_int_equal(parse_hex("00 06 ff ff 61 62 63 64", &m), STUN_ERR_ATTR);
    /* The value fits but its padding does not. */
    assert_int_equal(parse_hex("00 06 00 05 61 62 63 64", &m), STUN_ERR_ATTR);
    assert_int_equal(parse_hex("00 06 00 01 61 00 00 00 00 06 00 08 61 62 63 64", &m),
                     STUN_ERR_ATTR);
    /* An attribute that overruns after the integrity is still an error, though ignored. */
    assert_int_equal(parse_hex("00 08 00 14 00000000 00000000 00000000 00000000 00000000"
                               "80 22 00 09 61 62 63 64 65 66 67 68",
                               &m),
                     STUN_ERR_ATTR);
}

static void test_padding(void **state)
{
    (void)state;
    struct stun_msg m;
    /* Senders may pad with anything (RFC 5769 pads with spaces); receivers ignore it. */
    assert_int_equal(parse_hex("00 06 00 05 61 62 63 64 65 ff ff ff 00 15 00 00", &m), STUN_OK);
    assert_int_equal(m.nattrs, 2);
    assert_int_equal(m.attrs[0].len, 5);
    assert_memory_equal(m.attrs[0].val, "abcde", 5);
    assert_int_equal(m.attrs[1].type, STUN_ATTR_NONCE);
    assert_int_equal(m.attrs[1].offset, STUN_HEADER_LEN + 12);
    assert_int_equal(m.attrs[1].len, 0);
}

static size_t n_software(uint8_t *buf, size_t cap, size_t before_mi, size_t after_mi)
{
    struct stun_builder b;
    stun_build_init(&b, buf, cap, STUN_BINDING, STUN_REQUEST, TID);
    for (size_t i = 0; i < before_mi; i++)
        stun_add_attr(&b, STUN_ATTR_SOFTWARE, NULL, 0);
    if (after_mi > 0)
        stun_add_integrity(&b, KEY, sizeof(KEY) - 1);
    for (size_t i = 0; i < after_mi; i++)
        stun_add_attr(&b, STUN_ATTR_SOFTWARE, NULL, 0);
    int n = stun_finish(&b);
    assert_true(n > 0);
    return (size_t)n;
}

static void test_too_many(void **state)
{
    (void)state;
    uint8_t buf[1024];
    struct stun_msg m;
    size_t len = n_software(buf, sizeof(buf), STUN_MAX_ATTRS, 0);
    assert_int_equal(stun_parse(buf, len, &m), STUN_OK);
    assert_int_equal(m.nattrs, STUN_MAX_ATTRS);

    len = n_software(buf, sizeof(buf), STUN_MAX_ATTRS + 1, 0);
    assert_int_equal(stun_parse(buf, len, &m), STUN_ERR_TOO_MANY);

    /* Ignored attributes are not stored, so they do not count. */
    len = n_software(buf, sizeof(buf), STUN_MAX_ATTRS - 1, 100);
    assert_int_equal(stun_parse(buf, len, &m), STUN_OK);
    assert_int_equal(m.nattrs, STUN_MAX_ATTRS);
    assert_int_equal(m.mi, STUN_MAX_ATTRS - 1);
    assert_true(stun_check_integrity(&m, KEY, sizeof(KEY) - 1));
}

static void test_after_mi_ignored(void **state)
{
    (void)state;
    uint8_t buf[512];
    struct stun_builder b;
    stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, TID);
    stun_add_attr(&b, STUN_ATTR_USERNAME, "u", 1);
    stun_add_integrity(&b, KEY, sizeof(KEY) - 1);
    stun_add_attr(&b, STUN_ATTR_REALM, "r", 1);
    stun_add_attr(&b, 0x0042, "?", 1); /* unknown comprehension-required */
    stun_add_integrity(&b, KEY, sizeof(KEY) - 1);
    stun_add_integrity_sha256(&b, KEY, sizeof(KEY) - 1);
    stun_add_attr(&b, STUN_ATTR_NONCE, "n", 1);
    stun_add_attr(&b, 0x0043, "?", 1);
    stun_add_integrity_sha256(&b, KEY, sizeof(KEY) - 1);
    stun_add_fingerprint(&b);
    int len = stun_finish(&b);
    assert_true(len > 0);

    struct stun_msg m;
    assert_int_equal(stun_parse(buf, (size_t)len, &m), STUN_OK);
    assert_int_equal(m.nattrs, 4);
    assert_int_equal(m.attrs[0].type, STUN_ATTR_USERNAME);
    assert_int_equal(m.mi, 1);
    assert_int_equal(m.mi256, 2);
    assert_int_equal(m.fingerprint, 3);
    assert_null(stun_find(&m, STUN_ATTR_REALM));
    assert_null(stun_find(&m, STUN_ATTR_NONCE));
    assert_int_equal(m.nunknown, 0);
    /* MI-256 was computed over the ignored attributes too, and that is what gets verified. */
    assert_true(stun_check_integrity(&m, KEY, sizeof(KEY) - 1));
}

static void test_after_mi256_ignored(void **state)
{
    (void)state;
    uint8_t buf[512];
    struct stun_builder b;
    stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, TID);
    stun_add_integrity_sha256(&b, KEY, sizeof(KEY) - 1);
    stun_add_integrity(&b, KEY, sizeof(KEY) - 1);
    stun_add_attr(&b, 0x0042, "?", 1);
    int len = stun_finish(&b);
    assert_true(len > 0);

    struct stun_msg m;
    assert_int_equal(stun_parse(buf, (size_t)len, &m), STUN_OK);
    assert_int_equal(m.nattrs, 1);
    assert_int_equal(m.mi256, 0);
    assert_int_equal(m.mi, -1);
    assert_int_equal(m.nunknown, 0);
    assert_true(stun_check_integrity(&m, KEY, sizeof(KEY) - 1));
}

static void test_unknown_collected(void **state)
{
    (void)state;
    struct stun_msg m;
    assert_int_equal(parse_hex("00 02 00 00" /* RESPONSE-ADDRESS: not known here */
                               "7f ff 00 00"
                               "80 42 00 00" /* comprehension-optional: never reported */
                               "00 42 00 00"
                               "00 02 00 00" /* duplicate: reported once */
                               "00 20 00 00" /* known, even though malformed */
                               "c0 57 00 04 00 00 00 32",
                               &m),
                     STUN_OK);
    assert_int_equal(m.nattrs, 7);
    assert_int_equal(m.nunknown, 3);
    assert_int_equal(m.unknown[0], 0x0002);
    assert_int_equal(m.unknown[1], 0x7fff);
    assert_int_equal(m.unknown[2], 0x0042);

    /* Only eight fit; the rest are still stored as attributes. */
    assert_int_equal(parse_hex("00 40 00 00 00 41 00 00 00 42 00 00 00 43 00 00 00 44 00 00"
                               "00 45 00 00 00 46 00 00 00 47 00 00 00 48 00 00 00 49 00 00",
                               &m),
                     STUN_OK);
    assert_int_equal(m.nattrs, 10);
    assert_int_equal(m.nunknown, 8);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(m.unknown[i], 0x40 + i);
}

static int parse_sized(uint16_t type, size_t len, struct stun_msg *m)
{
    static uint8_t buf[256];
    struct stun_builder b;
    uint8_t zero[64] = {0};
    stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, TID);
    stun_add_attr(&b, type, zero, len);
    return stun_parse(buf, (size_t)stun_finish(&b), m);
}

static void test_integrity_lengths(void **state)
{
    (void)state;
    struct stun_msg m;
    for (size_t len = 0; len <= 40; len++) {
        int want = len == 20 ? STUN_OK : STUN_ERR_ATTR;
        assert_int_equal(parse_sized(STUN_ATTR_MESSAGE_INTEGRITY, len, &m), want);
        want = len >= 16 && len <= 32 && len % 4 == 0 ? STUN_OK : STUN_ERR_ATTR;
        assert_int_equal(parse_sized(STUN_ATTR_MESSAGE_INTEGRITY_SHA256, len, &m), want);
        if (len != 4)
            assert_int_equal(parse_sized(STUN_ATTR_FINGERPRINT, len, &m), STUN_ERR_ATTR);
    }
}

static void test_fingerprint(void **state)
{
    (void)state;
    uint8_t buf[512];
    struct stun_msg m;
    size_t len = rich_msg(buf, sizeof(buf));
    buf[len - 1] ^= 0x80;
    assert_int_equal(stun_parse(buf, len, &m), STUN_ERR_FINGERPRINT);

    /* Not last, even when what follows would be ignored and the CRC is right. */
    struct stun_builder b;
    stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, TID);
    stun_add_fingerprint(&b);
    stun_add_attr(&b, STUN_ATTR_SOFTWARE, "x", 1);
    assert_int_equal(stun_parse(buf, (size_t)stun_finish(&b), &m), STUN_ERR_FINGERPRINT);

    stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, TID);
    stun_add_integrity(&b, KEY, sizeof(KEY) - 1);
    stun_add_fingerprint(&b);
    stun_add_attr(&b, STUN_ATTR_SOFTWARE, "x", 1);
    assert_int_equal(stun_parse(buf, (size_t)stun_finish(&b), &m), STUN_ERR_FINGERPRINT);

    stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, TID);
    stun_add_fingerprint(&b);
    stun_add_fingerprint(&b);
    assert_int_equal(stun_parse(buf, (size_t)stun_finish(&b), &m), STUN_ERR_FINGERPRINT);

    /* A zero CRC value is only correct by accident. */
    assert_int_equal(parse_hex("80 28 00 04 00 00 00 00", &m), STUN_ERR_FINGERPRINT);
}

static void test_find_first(void **state)
{
    (void)state;
    struct stun_msg m;
    assert_int_equal(parse_hex("80 22 00 01 61 00 00 00 80 22 00 01 62 00 00 00", &m), STUN_OK);
    const struct stun_attr *a = stun_find(&m, STUN_ATTR_SOFTWARE);
    assert_ptr_equal(a, &m.attrs[0]);
    assert_int_equal(a->val[0], 'a');
}

static void test_decoders_malformed(void **state)
{
    (void)state;
    struct stun_msg m;
    struct xt_addr addr;
    assert_int_equal(parse_hex("00 20 00 08 00 01 a1 47 e1 12 a6 43" /* good IPv4 */
                               "00 20 00 08 00 02 a1 47 e1 12 a6 43" /* IPv6 family, 8 bytes */
                               "00 20 00 04 00 01 a1 47"             /* short */
                               "00 20 00 0c 00 01 a1 47 e1 12 a6 43 00 00 00 00" /* long */
                               "00 20 00 14 00 01 a1 47 00000000 00000000 00000000 00000000"
                               "00 20 00 08 00 03 a1 47 e1 12 a6 43" /* unknown family */
                               "00 20 00 00",
                               &m),
                     STUN_OK);
    assert_int_equal(stun_attr_xor_addr(&m, &m.attrs[0], &addr), 0);
    assert_int_equal(stun_attr_addr(&m.attrs[0], &addr), 0);
    for (size_t i = 1; i < m.nattrs; i++) {
        assert_int_equal(stun_attr_xor_addr(&m, &m.attrs[i], &addr), -1);
        assert_int_equal(stun_attr_addr(&m.attrs[i], &addr), -1);
    }

    uint32_t v;
    assert_int_equal(
        parse_hex("00 0d 00 03 00 00 01 00 00 0d 00 05 00 00 00 01 02 00 00 00 00 0d 00 00", &m),
        STUN_OK);
    for (size_t i = 0; i < m.nattrs; i++)
        assert_int_equal(stun_attr_u32(&m.attrs[i], &v), -1);

    int code;
    const uint8_t *reason;
    size_t rlen;
    assert_int_equal(parse_hex("00 09 00 03 00 00 04 00"
                               "00 09 00 04 00 00 02 00"  /* class 2 */
                               "00 09 00 04 00 00 07 00"  /* class 7 */
                               "00 09 00 04 00 00 04 64", /* number 100 */
                               &m),
                     STUN_OK);
    for (size_t i = 0; i < m.nattrs; i++)
        assert_int_equal(stun_attr_error_code(&m.attrs[i], &code, &reason, &rlen), -1);

    /* Reserved bits are ignored; an empty reason is fine. */
    assert_int_equal(parse_hex("00 09 00 04 ff ff fe 63", &m), STUN_OK);
    assert_int_equal(stun_attr_error_code(&m.attrs[0], &code, &reason, &rlen), 0);
    assert_int_equal(code, 699);
    assert_int_equal(rlen, 0);
}

static void test_plain_mapped_address(void **state)
{
    (void)state;
    struct stun_msg m;
    struct xt_addr addr, want;
    assert_int_equal(parse_hex("00 01 00 08 00 01 0d 96 c0 00 02 01"
                               "00 01 00 14 00 02 ff ff 20 01 0d b8 00000000 00000000 00000001",
                               &m),
                     STUN_OK);
    assert_int_equal(stun_attr_addr(&m.attrs[0], &addr), 0);
    assert_int_equal(xt_addr_parse("192.0.2.1:3478", 0, &want), 0);
    assert_true(xt_addr_equal(&addr, &want));
    assert_int_equal(stun_attr_addr(&m.attrs[1], &addr), 0);
    assert_int_equal(xt_addr_parse("[2001:db8::1]:65535", 0, &want), 0);
    assert_true(xt_addr_equal(&addr, &want));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_rich_ok),
        cmocka_unit_test(test_every_truncation_fails),
        cmocka_unit_test(test_not_stun),
        cmocka_unit_test(test_length_field),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_attr_overrun),
        cmocka_unit_test(test_padding),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_after_mi_ignored),
        cmocka_unit_test(test_after_mi256_ignored),
        cmocka_unit_test(test_unknown_collected),
        cmocka_unit_test(test_integrity_lengths),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_find_first),
        cmocka_unit_test(test_decoders_malformed),
        cmocka_unit_test(test_plain_mapped_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
