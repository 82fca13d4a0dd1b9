/* ChannelData framing (RFC 8656 12.4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stun/stun.h"

static void test_demux(void **state)
{
    (void)state;
    assert_false(channeldata_is(NULL, 0));
    for (unsigned b0 = 0; b0 < 256; b0++) {
        uint8_t byte = (uint8_t)b0;
        assert_int_equal(channeldata_is(&byte, 1), b0 >= 0x40 && b0 <= 0x7F);
    }
}

static void test_header_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[CHANNELDATA_HEADER_LEN + 8];
    channeldata_header(buf, 0x4ABC, 5);
    assert_memory_equal(buf, "\x4a\xbc\x00\x05", 4);
    channeldata_header(buf, 0x7FFF, 0xFFFF);
    assert_memory_equal(buf, "\x7f\xff\xff\xff", 4);

    channeldata_header(buf, 0x4001, 5);
    memcpy(buf + 4, "hello\0\0\0", 8);
    uint16_t ch;
    const uint8_t *payload;
    size_t plen;
    assert_int_equal(channeldata_parse(buf, 9, &ch, &payload, &plen), 0);
    assert_int_equal(ch, 0x4001);
    assert_ptr_equal(payload, buf + 4);
    assert_int_equal(plen, 5);
    /* Padding (TCP pads to 4; over UDP it is optional) is not part of the payload. */
    assert_int_equal(channeldata_parse(buf, 12, &ch, &payload, &plen), 0);
    assert_int_equal(plen, 5);
}

static void test_lengths(void **state)
{
    (void)state;
    uint8_t buf[64] = {0x40, 0x00};
    uint16_t ch;
    const uint8_t *payload;
    size_t plen;
    for (size_t field = 0; field <= 40; field++) {
        buf[2] = 0;
        buf[3] = (uint8_t)field;
        for (size_t len = 0; len <= sizeof(buf); len++) {
            int want = len >= 4 && field <= len - 4 ? 0 : -1;
            assert_int_equal(channeldata_parse(buf, len, &ch, &payload, &plen), want);
            if (want == 0)
                assert_int_equal(plen, field);
        }
    }
    /* Empty payloads are legal. */
    buf[3] = 0;
    assert_int_equal(channeldata_parse(buf, 4, &ch, &payload, &plen), 0);
    assert_int_equal(plen, 0);
    /* A length field far beyond the datagram. */
    buf[2] = 0xFF;
    assert_int_equal(channeldata_parse(buf, sizeof(buf), &ch, &payload, &plen), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demux),
        cmocka_unit_test(test_header_roundtrip),
        cmocka_unit_test(test_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
