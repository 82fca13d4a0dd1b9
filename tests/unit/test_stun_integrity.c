/* MESSAGE-INTEGRITY(-SHA256) against an independent HMAC computation, truncated MI-256,
 * tampering, and the long-term key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "stun/stun.h"

static const uint8_t TID[STUN_TID_LEN] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
static const uint8_t KEY[] = "correct horse";
#define KEY_LEN (sizeof(KEY) - 1)

/* RFC 8489 14.5 done the obvious way: patch the length field in a copy and HMAC the prefix. */
static void oracle(const EVP_MD *md, const uint8_t *key, size_t keylen, const uint8_t *msg,
                   size_t attr_off, size_t attr_end, uint8_t *out)
{
    uint8_t copy[1024];
    memcpy(copy, msg, attr_off);
    copy[2] = (uint8_t)((attr_end - STUN_HEADER_LEN) >> 8);
    copy[3] = (uint8_t)(attr_end - STUN_HEADER_LEN);
    unsigned int n;
    assert_non_null(HMAC(md, key, (int)keylen, copy, attr_off, out, &n));
}

static int build_signed(uint8_t *buf, size_t cap, const uint8_t *key, size_t keylen)
{
    struct stun_builder b;
    stun_build_init(&b, buf, cap, TURN_REFRESH, STUN_REQUEST, TID);
    stun_add_attr(&b, STUN_ATTR_USERNAME, "alice", 5);
    stun_add_u32(&b, TURN_ATTR_LIFETIME, 0);
    stun_add_integrity(&b, key, keylen);
    stun_add_integrity_sha256(&b, key, keylen);
    stun_add_fingerprint(&b);
    return stun_finish(&b);
}

static void test_matches_oracle(void **state)
{
    (void)state;
    uint8_t buf[256], want[32];
    int len = build_signed(buf, sizeof(buf), KEY, KEY_LEN);
    struct stun_msg m;
    assert_int_equal(stun_parse(buf, (size_t)len, &m), STUN_OK);

    const struct stun_attr *mi = &m.attrs[m.mi];
    oracle(EVP_sha1(), KEY, KEY_LEN, buf, mi->offset, mi->offset + 24u, want);
    assert_memory_equal(mi->val, want, 20);

    const struct stun_attr *mi256 = &m.attrs[m.mi256];
    oracle(EVP_sha256(), KEY, KEY_LEN, buf, mi256->offset, mi256->offset + 36u, want);
    assert_memory_equal(mi256->val, want, 32);
    assert_true(stun_check_integrity(&m, KEY, KEY_LEN));
}

static void test_empty_key(void **state)
{
    (void)state;
    uint8_t buf[256], want[32];
    int len = build_signed(buf, sizeof(buf), (const uint8_t *)"", 0);
    assert_true(len > 0);
    struct stun_msg m;
    assert_int_equal(stun_parse(buf, (size_t)len, &m), STUN_OK);
    const struct stun_attr *mi = &m.attrs[m.mi];
    oracle(EVP_sha1(), (const uint8_t *)"", 0, buf, mi->offset, mi->offset + 24u, want);
    assert_memory_equal(mi->val, want, 20);
    assert_true(stun_check_integrity(&m, NULL, 0));
    assert_false(stun_check_integrity(&m, KEY, KEY_LEN));
}

/* RFC 8489 14.6: MESSAGE-INTEGRITY-SHA256 may be truncated to 16, 20, 24 or 28 bytes. */
static void test_truncated_sha256(void **state)
{
    (void)state;
    for (size_t tlen = 16; tlen <= 32; tlen += 4) {
        uint8_t buf[256], mac[32];
        struct stun_builder b;
        stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, TID);
        stun_add_attr(&b, STUN_ATTR_USERNAME, "bob", 3);
        size_t off = (size_t)stun_finish(&b);
        oracle(EVP_sha256(), KEY, KEY_LEN, buf, off, off + 4 + tlen, mac);
        stun_add_attr(&b, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, mac, tlen);
        int len = stun_finish(&b);

        struct stun_msg m;
        assert_int_equal(stun_parse(buf, (size_t)len, &m), STUN_OK);
        assert_int_equal(m.attrs[m.mi256].len, tlen);
        assert_true(stun_check_integrity(&m, KEY, KEY_LEN));
        assert_false(stun_check_integrity(&m, KEY, KEY_LEN - 1));
        buf[len - 1] ^= 1; /* the last byte that is compared */
        assert_false(stun_check_integrity(&m, KEY, KEY_LEN));
    }
}

/* Both attributes are checked: either one being wrong fails the message. */
static void test_each_attribute_checked(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct stun_msg m;
    int len = build_signed(buf, sizeof(buf), KEY, KEY_LEN);
    assert_int_equal(stun_parse(buf, (size_t)len, &m), STUN_OK);
    const uint8_t *vals[] = {m.attrs[m.mi].val, m.attrs[m.mi256].val};
    for (size_t i = 0; i < 2; i++) {
        uint8_t *v = buf + (vals[i] - buf);
        v[0] ^= 1;
        assert_false(stun_check_integrity(&m, KEY, KEY_LEN));
        v[0] ^= 1;
    }
    assert_true(stun_check_integrity(&m, KEY, KEY_LEN));

    /* Without either attribute there is nothing to verify, which is not a success. */
    struct stun_builder b;
    stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, TID);
    stun_add_fingerprint(&b);
    assert_int_equal(stun_parse(buf, (size_t)stun_finish(&b), &m), STUN_OK);
    assert_false(stun_check_integrity(&m, KEY, KEY_LEN));
}

/* The message buffer is const: parse and verify it from a read-only page. */
static void test_input_not_written(void **state)
{
    (void)state;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    int len = build_signed(p, page, KEY, KEY_LEN);
    assert_int_equal(mprotect(p, page, PROT_READ), 0);
    struct stun_msg m;
    assert_int_equal(stun_parse(p, (size_t)len, &m), STUN_OK);
    assert_true(stun_check_integrity(&m, KEY, KEY_LEN));
    munmap(p, page);
}

static void test_long_term_key(void **state)
{
    (void)state;
    uint8_t key[16];
    stun_long_term_key("user", 4, "realm", 5, "pass", 4, key);
    assert_memory_equal(key, "\x84\x93\xfb\xc5\x3b\xa5\x82\xfb\x4c\x04\x4c\x45\x6b\xdc\x40\xeb",
                        16);
    stun_long_term_key("", 0, "", 0, "", 0, key); /* MD5("::") */
    assert_memory_equal(key, "\x45\x01\xc0\x91\xb0\x36\x6d\x76\xea\x32\x18\xb6\xcf\xdd\x80\x97",
                        16);
    /* Lengths, not NUL terminators, delimit the fields. */
    stun_long_term_key("userX", 4, "realmX", 5, "passX", 4, key);
    assert_memory_equal(key, "\x84\x93\xfb\xc5\x3b\xa5\x82\xfb\x4c\x04\x4c\x45\x6b\xdc\x40\xeb",
                        16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_oracle),    cmocka_unit_test(test_empty_key),
        cmocka_unit_test(test_truncated_sha256),  cmocka_unit_test(test_each_attribute_checked),
        cmocka_unit_test(test_input_not_written), cmocka_unit_test(test_long_term_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
