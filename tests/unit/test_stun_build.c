/* Builder: type encoding, every attribute kind round-tripped through the parser, overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stun/stun.h"

static const uint8_t TID[STUN_TID_LEN] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5,
                                          0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab};

static uint8_t buf[1024];
static struct stun_builder b;
static struct stun_msg m;

static void start(void)
{
    stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, TID);
}

/* Finishes the message and parses it back into m. */
static void finish_and_parse(void)
{
    int len = stun_finish(&b);
    assert_true(len >= STUN_HEADER_LEN);
    assert_int_equal(len % 4, 0);
    assert_int_equal(buf[2] << 8 | buf[3], len - STUN_HEADER_LEN);
    assert_int_equal(stun_parse(buf, (size_t)len, &m), STUN_OK);
}

static void test_header(void **state)
{
    (void)state;
    start();
    assert_int_equal(stun_finish(&b), STUN_HEADER_LEN);
    assert_memory_equal(buf, "\x00\x01\x00\x00\x21\x12\xa4\x42", 8);
    assert_memory_equal(buf + 8, TID, STUN_TID_LEN);
}

/* Wire values from RFC 8489 5 and RFC 8656 (e.g. Allocate error 0x0113, Data indication
 * 0x0017). */
static void test_type_encoding(void **state)
{
    (void)state;
    static const struct {
        uint16_t method;
        uint8_t cls;
        uint16_t wire;
    } cases[] = {
        {STUN_BINDING, STUN_REQUEST, 0x0001},
        {STUN_BINDING, STUN_INDICATION, 0x0011},
        {STUN_BINDING, STUN_SUCCESS, 0x0101},
        {STUN_BINDING, STUN_ERROR, 0x0111},
        {TURN_ALLOCATE, STUN_ERROR, 0x0113},
        {TURN_REFRESH, STUN_SUCCESS, 0x0104},
        {TURN_SEND, STUN_INDICATION, 0x0016},
        {TURN_DATA, STUN_INDICATION, 0x0017},
        {TURN_CREATE_PERMISSION, STUN_REQUEST, 0x0008},
        {TURN_CHANNEL_BIND, STUN_SUCCESS, 0x0109},
        {0xFFF, STUN_ERROR, 0x3FFF},
        {0x080, STUN_REQUEST, 0x0200}, /* M7 sits above C1 */
        {0x010, STUN_REQUEST, 0x0020}, /* M4 sits above C0 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        stun_build_init(&b, buf, sizeof(buf), cases[i].method, cases[i].cls, TID);
        assert_int_equal(buf[0] << 8 | buf[1], cases[i].wire);
    }

    for (uint16_t method = 0; method <= 0xFFF; method++) {
        for (uint8_t cls = 0; cls < 4; cls++) {
            stun_build_init(&b, buf, sizeof(buf), method, cls, TID);
            finish_and_parse();
            assert_int_equal(m.method, method);
            assert_int_equal(m.cls, cls);
            assert_int_equal(m.type, buf[0] << 8 | buf[1]);
        }
    }
}

static void test_raw_attr_padding(void **state)
{
    (void)state;
    for (size_t len = 0; len <= 9; len++) {
        start();
        memset(buf + STUN_HEADER_LEN, 0xEE, 32); /* padding must be rewritten as zero */
        stun_add_attr(&b, STUN_ATTR_SOFTWARE, "abcdefghi", len);
        stun_add_attr(&b, STUN_ATTR_USERNAME, "u", 1);
        finish_and_parse();
        assert_int_equal(m.nattrs, 2);
        assert_int_equal(m.attrs[0].len, len);
        assert_memory_equal(m.attrs[0].val, "abcdefghi", len);
        for (size_t i = len; i % 4 != 0; i++)
            assert_int_equal(m.attrs[0].val[i], 0);
        assert_int_equal(m.attrs[1].offset, STUN_HEADER_LEN + 4 + ((len + 3) & ~3u));
    }
}

static void test_u32(void **state)
{
    (void)state;
    start();
    stun_add_u32(&b, TURN_ATTR_LIFETIME, 0xDEADBEEF);
    stun_add_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, TURN_TRANSPORT_UDP << 24);
    finish_and_parse();
    uint32_t v;
    assert_int_equal(stun_attr_u32(stun_find(&m, TURN_ATTR_LIFETIME), &v), 0);
    assert_int_equal(v, 0xDEADBEEF);
    assert_int_equal(stun_attr_u32(stun_find(&m, TURN_ATTR_REQUESTED_TRANSPORT), &v), 0);
    assert_int_equal(v >> 24, TURN_TRANSPORT_UDP);
}

static void test_xor_addr(void **state)
{
    (void)state;
    /* A bare IP takes port 0 from xt_addr_parse's default. */
    static const char *addrs[] = {"192.0.2.1:32853",
                                  "0.0.0.0",
                                  "255.255.255.255:65535",
                                  "[2001:db8:1234:5678:11:2233:4455:6677]:32853",
                                  "::",
                                  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"};
    static const uint16_t types[] = {STUN_ATTR_XOR_MAPPED_ADDRESS, TURN_ATTR_XOR_PEER_ADDRESS,
                                     TURN_ATTR_XOR_RELAYED_ADDRESS};
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        struct xt_addr want, got;
        assert_int_equal(xt_addr_parse(addrs[i], 0, &want), 0);
        start();
        for (size_t t = 0; t < 3; t++)
            stun_add_xor_addr(&b, types[t], &want);
        finish_and_parse();
        for (size_t t = 0; t < 3; t++) {
            const struct stun_attr *a = stun_find(&m, types[t]);
            assert_non_null(a);
            assert_int_equal(a->len, want.family == AF_INET ? 8 : 20);
            assert_int_equal(stun_attr_xor_addr(&m, a, &got), 0);
            assert_true(xt_addr_equal(&got, &want));
        }
    }
}

/* The same address XORed under another transaction id must not decode to the original. */
static void test_xor_uses_tid(void **state)
{
    (void)state;
    struct xt_addr want, got;
    assert_int_equal(xt_addr_parse("[2001:db8::1]:5000", 0, &want), 0);
    start();
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &want);
    buf[STUN_HEADER_LEN - 1] ^= 1;
    finish_and_parse();
    assert_int_equal(stun_attr_xor_addr(&m, &m.attrs[0], &got), 0);
    assert_int_equal(got.port, want.port);
    assert_false(xt_addr_ip_equal(&got, &want));
}

static void test_error_code(void **state)
{
    (void)state;
    static const int codes[] = {300, 400, 401, 403, 420, 437, 438, 440,
                                441, 442, 443, 446, 447, 486, 500, 508};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *phrase = stun_reason(codes[i]);
        assert_true(strlen(phrase) > 0);
        start();
        stun_add_error(&b, codes[i]);
        finish_and_parse();
        int code;
        const uint8_t *reason;
        size_t rlen;
        assert_int_equal(
            stun_attr_error_code(stun_find(&m, STUN_ATTR_ERROR_CODE), &code, &reason, &rlen), 0);
        assert_int_equal(code, codes[i]);
        assert_int_equal(rlen, strlen(phrase));
        assert_memory_equal(reason, phrase, rlen);
    }
    assert_string_equal(stun_reason(401), "Unauthenticated");
    assert_string_equal(stun_reason(438), "Stale Nonce");
    assert_string_equal(stun_reason(599), "");
    assert_string_equal(stun_reason(-1), "");

    start();
    stun_add_error(&b, 599); /* unregistered but encodable: empty phrase */
    finish_and_parse();
    assert_int_equal(m.attrs[0].len, 4);
}

static void test_unknown_attrs(void **state)
{
    (void)state;
    static const uint16_t types[] = {0x0042, 0x7fff, 0x0002};
    for (size_t n = 0; n <= 3; n++) {
        start();
        stun_add_unknown_attrs(&b, types, n);
        finish_and_parse();
        const struct stun_attr *a = stun_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES);
        assert_non_null(a);
        assert_int_equal(a->len, 2 * n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(a->val[2 * i] << 8 | a->val[2 * i + 1], types[i]);
    }
}

static void test_trailers(void **state)
{
    (void)state;
    static const uint8_t key[] = "secret";
    start();
    stun_add_attr(&b, STUN_ATTR_USERNAME, "user", 4);
    stun_add_integrity(&b, key, 6);
    stun_add_integrity_sha256(&b, key, 6);
    stun_add_fingerprint(&b);
    finish_and_parse();
    assert_int_equal(m.mi, 1);
    assert_int_equal(m.mi256, 2);
    assert_int_equal(m.fingerprint, 3);
    assert_int_equal(m.attrs[m.mi].len, 20);
    assert_int_equal(m.attrs[m.mi256].len, 32);
    assert_true(stun_check_integrity(&m, key, 6));
    assert_false(stun_check_integrity(&m, key, 5));
}

static void test_overflow(void **state)
{
    (void)state;
    uint8_t small[64];

    stun_build_init(&b, small, STUN_HEADER_LEN - 1, STUN_BINDING, STUN_REQUEST, TID);
    assert_true(b.overflow);
    stun_add_u32(&b, TURN_ATTR_LIFETIME, 1);
    assert_int_equal(stun_finish(&b), -1);

    /* Exactly full is fine; one more byte of value is not, and nothing after it is written. */
    stun_build_init(&b, small, 28, STUN_BINDING, STUN_REQUEST, TID);
    stun_add_u32(&b, TURN_ATTR_LIFETIME, 1);
    assert_int_equal(stun_finish(&b), 28);
    stun_build_init(&b, small, 28, STUN_BINDING, STUN_REQUEST, TID);
    stun_add_attr(&b, STUN_ATTR_SOFTWARE, "abcde", 5);
    assert_true(b.overflow);
    assert_int_equal(b.len, STUN_HEADER_LEN);
    assert_int_equal(small[3], 0);
    stun_add_attr(&b, STUN_ATTR_SOFTWARE, NULL, 0); /* would fit, but the message is lost */
    assert_int_equal(b.len, STUN_HEADER_LEN);
    assert_int_equal(stun_finish(&b), -1);

    static const uint8_t key[] = "k";
    stun_build_init(&b, small, STUN_HEADER_LEN + 23, STUN_BINDING, STUN_REQUEST, TID);
    stun_add_integrity(&b, key, 1);
    assert_int_equal(stun_finish(&b), -1);
    stun_build_init(&b, small, STUN_HEADER_LEN + 35, STUN_BINDING, STUN_REQUEST, TID);
    stun_add_integrity_sha256(&b, key, 1);
    assert_int_equal(stun_finish(&b), -1);
    stun_build_init(&b, small, STUN_HEADER_LEN + 7, STUN_BINDING, STUN_REQUEST, TID);
    stun_add_fingerprint(&b);
    assert_int_equal(stun_finish(&b), -1);

    struct xt_addr v6;
    assert_int_equal(xt_addr_parse("[::1]:1", 0, &v6), 0);
    stun_build_init(&b, small, STUN_HEADER_LEN + 23, STUN_BINDING, STUN_REQUEST, TID);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &v6);
    assert_int_equal(stun_finish(&b), -1);
}

/* The 16-bit length field (and the parser's 16-bit offsets) bound a message at 65535 bytes,
 * whatever the buffer. */
static void test_overflow_length_field(void **state)
{
    (void)state;
    static uint8_t big[70000];
    static uint8_t val[70000];
    stun_build_init(&b, big, sizeof(big), STUN_BINDING, STUN_REQUEST, TID);
    stun_add_attr(&b, TURN_ATTR_DATA, val, 0x10000);
    assert_int_equal(stun_finish(&b), -1);

    stun_build_init(&b, big, sizeof(big), STUN_BINDING, STUN_REQUEST, TID);
    stun_add_attr(&b, TURN_ATTR_DATA, val, 0xFFFF - STUN_HEADER_LEN - 4 - 3);
    int len = stun_finish(&b);
    assert_int_equal(len, 0xFFFC);
    assert_int_equal(stun_parse(big, (size_t)len, &m), STUN_OK);
    stun_add_attr(&b, STUN_ATTR_SOFTWARE, NULL, 0);
    assert_int_equal(stun_finish(&b), -1);
}

static void test_unencodable(void **state)
{
    (void)state;
    struct xt_addr bad = {0};
    start();
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &bad);
    assert_int_equal(stun_finish(&b), -1);

    start();
    stun_add_error(&b, 299);
    assert_int_equal(stun_finish(&b), -1);
    start();
    stun_add_error(&b, 700);
    assert_int_equal(stun_finish(&b), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_type_encoding),
        cmocka_unit_test(test_raw_attr_padding),
        cmocka_unit_test(test_u32),
        cmocka_unit_test(test_xor_addr),
        cmocka_unit_test(test_xor_uses_tid),
        cmocka_unit_test(test_error_code),
        cmocka_unit_test(test_unknown_attrs),
        cmocka_unit_test(test_trailers),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_overflow_length_field),
        cmocka_unit_test(test_unencodable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
