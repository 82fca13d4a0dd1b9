/* RFC 5769 test vectors: parsing, addresses, MESSAGE-INTEGRITY, FINGERPRINT, long-term key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stun/stun.h"
#include "stun_test_vectors.h"

#define PW     ((const uint8_t *)RFC5769_PASSWORD)
#define PW_LEN (sizeof(RFC5769_PASSWORD) - 1)

static void lt_key(uint8_t key[16])
{
    stun_long_term_key(RFC5769_LT_USER, sizeof(RFC5769_LT_USER) - 1, RFC5769_LT_REALM,
                       sizeof(RFC5769_LT_REALM) - 1, RFC5769_LT_PASS, sizeof(RFC5769_LT_PASS) - 1,
                       key);
}

static void assert_attr(const struct stun_msg *m, uint16_t type, const void *val, size_t len)
{
    const struct stun_attr *a = stun_find(m, type);
    assert_non_null(a);
    assert_int_equal(a->len, len);
    assert_memory_equal(a->val, val, len);
}

static void test_request(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len = hex_decode(rfc5769_request, buf, sizeof(buf));
    assert_int_equal(len, 108);

    struct stun_msg m;
    assert_int_equal(stun_parse(buf, len, &m), STUN_OK);
    assert_true(stun_is_message(buf, len));
    assert_int_equal(m.method, STUN_BINDING);
    assert_int_equal(m.cls, STUN_REQUEST);
    assert_memory_equal(m.tid, "\xb7\xe7\xa7\x01\xbc\x34\xd6\x86\xfa\x87\xdf\xae", 12);
    assert_int_equal(m.nattrs, 6);
    assert_int_equal(m.nunknown, 0);
    assert_int_equal(m.mi, 4);
    assert_int_equal(m.mi256, -1);
    assert_int_equal(m.fingerprint, 5);

    assert_attr(&m, STUN_ATTR_SOFTWARE, "STUN test client", 16);
    assert_attr(&m, STUN_ATTR_USERNAME, "evtj:h6vY", 9);
    assert_attr(&m, STUN_ATTR_ICE_CONTROLLED, "\x93\x2f\xf9\xb1\x51\x26\x3b\x36", 8);
    uint32_t prio;
    assert_int_equal(stun_attr_u32(stun_find(&m, STUN_ATTR_PRIORITY), &prio), 0);
    assert_int_equal(prio, 0x6e0001ff);

    /* Short-term credential: the key is the password itself (RFC 8489 9.1.1). */
    assert_true(stun_check_integrity(&m, PW, PW_LEN));
    assert_false(stun_check_integrity(&m, PW, PW_LEN - 1));
}

static void check_response(const char *hex, const struct xt_addr *want)
{
    uint8_t buf[256];
    size_t len = hex_decode(hex, buf, sizeof(buf));
    struct stun_msg m;
    assert_int_equal(stun_parse(buf, len, &m), STUN_OK);
    assert_int_equal(m.method, STUN_BINDING);
    assert_int_equal(m.cls, STUN_SUCCESS);
    assert_int_equal(m.fingerprint, 3);
    assert_attr(&m, STUN_ATTR_SOFTWARE, "test vector", 11);

    struct xt_addr got;
    assert_int_equal(stun_attr_xor_addr(&m, stun_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS), &got), 0);
    assert_true(xt_addr_equal(&got, want));
    assert_true(stun_check_integrity(&m, PW, PW_LEN));
}

static void test_response_v4(void **state)
{
    (void)state;
    struct xt_addr want;
    xt_addr_v4(&want, (const uint8_t[]){192, 0, 2, 1}, 32853);
    check_response(rfc5769_response_v4, &want);
}

static void test_response_v6(void **state)
{
    (void)state;
    struct xt_addr want;
    assert_int_equal(xt_addr_parse("[2001:db8:1234:5678:11:2233:4455:6677]:32853", 0, &want), 0);
    check_response(rfc5769_response_v6, &want);
}

static void test_long_term(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len = hex_decode(rfc5769_request_long_term, buf, sizeof(buf));
    struct stun_msg m;
    assert_int_equal(stun_parse(buf, len, &m), STUN_OK);
    assert_int_equal(m.fingerprint, -1);
    assert_int_equal(m.mi, 3);
    assert_attr(&m, STUN_ATTR_USERNAME, RFC5769_LT_USER, sizeof(RFC5769_LT_USER) - 1);
    assert_attr(&m, STUN_ATTR_REALM, RFC5769_LT_REALM, sizeof(RFC5769_LT_REALM) - 1);
    assert_attr(&m, STUN_ATTR_NONCE, RFC5769_LT_NONCE, sizeof(RFC5769_LT_NONCE) - 1);

    uint8_t key[16];
    lt_key(key);
    assert_memory_equal(key, "\xe8\xca\x7a\xd5\x9d\x5e\xb0\x51\x8e\x31\x29\x11\xd2\xda\xb2\xa9",
                        16);
    assert_true(stun_check_integrity(&m, key, sizeof(key)));
    /* The SASLprep'd password is the key input; the un-prepped one must not verify. */
    stun_long_term_key(RFC5769_LT_USER, sizeof(RFC5769_LT_USER) - 1, RFC5769_LT_REALM,
                       sizeof(RFC5769_LT_REALM) - 1, "TheMatrix", 9, key);
    assert_false(stun_check_integrity(&m, key, sizeof(key)));
}

/* 2.4 is the only sample with zero padding, which is what the builder writes: rebuilding it must
 * reproduce every byte, MESSAGE-INTEGRITY included. */
static void test_long_term_rebuild(void **state)
{
    (void)state;
    uint8_t want[256], out[256];
    size_t len = hex_decode(rfc5769_request_long_term, want, sizeof(want));
    uint8_t key[16];
    lt_key(key);

    struct stun_builder b;
    stun_build_init(&b, out, sizeof(out), STUN_BINDING, STUN_REQUEST, want + 8);
    stun_add_attr(&b, STUN_ATTR_USERNAME, RFC5769_LT_USER, sizeof(RFC5769_LT_USER) - 1);
    stun_add_attr(&b, STUN_ATTR_NONCE, RFC5769_LT_NONCE, sizeof(RFC5769_LT_NONCE) - 1);
    stun_add_attr(&b, STUN_ATTR_REALM, RFC5769_LT_REALM, sizeof(RFC5769_LT_REALM) - 1);
    stun_add_integrity(&b, key, sizeof(key));
    assert_int_equal(stun_finish(&b), (int)len);
    assert_memory_equal(out, want, len);
}

/* No single-byte change may leave a message that still parses with its FINGERPRINT (when the
 * original had one) and passes its integrity check. */
static void flip_every_byte(const char *hex, const uint8_t *key, size_t keylen)
{
    uint8_t orig[256], buf[256];
    size_t len = hex_decode(hex, orig, sizeof(orig));
    struct stun_msg m;
    assert_int_equal(stun_parse(orig, len, &m), STUN_OK);
    bool had_fp = m.fingerprint >= 0;

    for (size_t i = 0; i < len; i++) {
        for (unsigned x = 1; x < 256; x++) {
            memcpy(buf, orig, len);
            buf[i] ^= (uint8_t)x;
            if (stun_parse(buf, len, &m) != STUN_OK)
                continue;
            bool accepted =
                (!had_fp || m.fingerprint >= 0) && stun_check_integrity(&m, key, keylen);
            if (accepted)
                fail_msg("byte %zu ^ 0x%02x still accepted", i, x);
        }
    }
}

static void test_flips(void **state)
{
    (void)state;
    flip_every_byte(rfc5769_request, PW, PW_LEN);
    flip_every_byte(rfc5769_response_v4, PW, PW_LEN);
    flip_every_byte(rfc5769_response_v6, PW, PW_LEN);
    uint8_t key[16];
    lt_key(key);
    flip_every_byte(rfc5769_request_long_term, key, sizeof(key));
}

/* With FINGERPRINT present, stun_parse itself must catch every change to the bytes it covers. */
static void test_fingerprint_catches_flips(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len = hex_decode(rfc5769_request, buf, sizeof(buf));
    struct stun_msg m;
    for (size_t i = 0; i < len - 8; i++) {
        buf[i] ^= 0x01;
        assert_int_not_equal(stun_parse(buf, len, &m), STUN_OK);
        buf[i] ^= 0x01;
    }
    buf[len - 1] ^= 0x01; /* the CRC value itself */
    assert_int_equal(stun_parse(buf, len, &m), STUN_ERR_FINGERPRINT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_response_v4),
        cmocka_unit_test(test_response_v6),
        cmocka_unit_test(test_long_term),
        cmocka_unit_test(test_long_term_rebuild),
        cmocka_unit_test(test_flips),
        cmocka_unit_test(test_fingerprint_catches_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
