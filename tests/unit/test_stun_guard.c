/* Over-read detection in the style of picohttpparser's tests: every input is placed so that its
 * last byte is the last byte before a PROT_NONE page, so reading one byte too far crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "stun/stun.h"
#include "stun_test_vectors.h"

static const uint8_t KEY[] = "guard";
#define KEY_LEN (sizeof(KEY) - 1)

static uint8_t *region;
static size_t page;

static int setup(void **state)
{
    (void)state;
    page = (size_t)sysconf(_SC_PAGESIZE);
    region = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED || mprotect(region + page, page, PROT_NONE) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return munmap(region, 2 * page);
}

/* Copies msg to end right at the guard page. */
static const uint8_t *at_guard(const uint8_t *msg, size_t len)
{
    assert_true(len <= page);
    uint8_t *p = region + page - len;
    memcpy(p, msg, len);
    return p;
}

/* Everything a caller may do with a parsed message, so that decoders and the integrity check are
 * exercised on the same edge-placed input. */
static void use(const struct stun_msg *m)
{
    struct xt_addr addr;
    uint32_t v;
    int code;
    const uint8_t *reason;
    size_t rlen;
    for (size_t i = 0; i < m->nattrs; i++) {
        const struct stun_attr *a = &m->attrs[i];
        (void)stun_attr_xor_addr(m, a, &addr);
        (void)stun_attr_addr(a, &addr);
        (void)stun_attr_u32(a, &v);
        (void)stun_attr_error_code(a, &code, &reason, &rlen);
    }
    (void)stun_check_integrity(m, KEY, KEY_LEN);
}

/* Each prefix as is (the length field then overstates it), and with the length field rewritten
 * to fit the prefix, which drives the attribute walk into the truncated tail. */
static void parse_prefixes(const uint8_t *msg, size_t len)
{
    uint8_t copy[1024];
    assert_true(len <= sizeof(copy));
    memcpy(copy, msg, len);
    struct stun_msg m;
    for (size_t n = 0; n <= len; n++) {
        const uint8_t *p = at_guard(copy, n);
        (void)stun_is_message(p, n);
        if (stun_parse(p, n, &m) == STUN_OK)
            use(&m);

        if (n >= STUN_HEADER_LEN) {
            copy[2] = (uint8_t)((n - STUN_HEADER_LEN) >> 8);
            copy[3] = (uint8_t)(n - STUN_HEADER_LEN);
            p = at_guard(copy, n);
            if (stun_parse(p, n, &m) == STUN_OK)
                use(&m);
            memcpy(copy + 2, msg + 2, 2);
        }
    }
}

static void test_rfc5769_vectors(void **state)
{
    (void)state;
    const char *vectors[] = {rfc5769_request, rfc5769_response_v4, rfc5769_response_v6,
                             rfc5769_request_long_term};
    for (size_t i = 0; i < 4; i++) {
        uint8_t buf[256];
        parse_prefixes(buf, hex_decode(vectors[i], buf, sizeof(buf)));
    }
}

static void test_built_messages(void **state)
{
    (void)state;
    static const uint8_t tid[STUN_TID_LEN] = {1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144};
    static const uint16_t unknown[] = {0x0042, 0x0043, 0x0044};
    struct xt_addr a4, a6;
    assert_int_equal(xt_addr_parse("203.0.113.9:40000", 0, &a4), 0);
    assert_int_equal(xt_addr_parse("[2001:db8::9]:40001", 0, &a6), 0);

    uint8_t buf[512];
    struct stun_builder b;
    stun_build_init(&b, buf, sizeof(buf), TURN_ALLOCATE, STUN_ERROR, tid);
    stun_add_error(&b, 420);
    stun_add_unknown_attrs(&b, unknown, 3);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_RELAYED_ADDRESS, &a4);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &a6);
    stun_add_attr(&b, STUN_ATTR_MAPPED_ADDRESS, "\x00\x01\x9c\x40\xcb\x00\x71\x09", 8);
    stun_add_u32(&b, TURN_ATTR_LIFETIME, 3600);
    stun_add_attr(&b, STUN_ATTR_NONCE, "abcdefg", 7);
    stun_add_integrity(&b, KEY, KEY_LEN);
    stun_add_integrity_sha256(&b, KEY, KEY_LEN);
    stun_add_fingerprint(&b);
    int len = stun_finish(&b);
    assert_true(len > 0);
    parse_prefixes(buf, (size_t)len);

    stun_build_init(&b, buf, sizeof(buf), TURN_SEND, STUN_INDICATION, tid);
    stun_add_attr(&b, TURN_ATTR_DATA, "x", 1);
    len = stun_finish(&b);
    parse_prefixes(buf, (size_t)len);
}

static void test_channeldata(void **state)
{
    (void)state;
    uint8_t msg[12] = {0x40, 0x00, 0x00, 0x07, 'p', 'a', 'y', 'l', 'o', 'a', 'd', 0};
    uint16_t ch;
    const uint8_t *payload;
    size_t plen;
    for (size_t n = 0; n <= sizeof(msg); n++) {
        const uint8_t *p = at_guard(msg, n);
        (void)channeldata_is(p, n);
        if (channeldata_parse(p, n, &ch, &payload, &plen) == 0)
            assert_true(payload + plen <= p + n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5769_vectors),
        cmocka_unit_test(test_built_messages),
        cmocka_unit_test(test_channeldata),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
