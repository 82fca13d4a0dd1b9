/* ChannelData framing (RFC 8656 12.4). */
#include "stun/stun.h"
#include "stun/stun_internal.h"

bool channeldata_is(const uint8_t *buf, size_t len)
{
    return len >= 1 && (buf[0] & 0xC0) == 0x40;
}

int channeldata_parse(const uint8_t *buf, size_t len, uint16_t *channel, const uint8_t **payload,
                      size_t *payload_len)
{
    if (len < CHANNELDATA_HEADER_LEN)
        return -1;
    size_t n = stun_get16(buf + 2);
    /* Over TCP the message is padded to 4; over UDP padding is optional. Either way only the
     * length field says where the application data ends. */
    if (n > len - CHANNELDATA_HEADER_LEN)
        return -1;
    *channel = stun_get16(buf);
    *payload = buf + CHANNELDATA_HEADER_LEN;
    *payload_len = n;
    return 0;
}

void channeldata_header(uint8_t hdr[CHANNELDATA_HEADER_LEN], uint16_t channel, size_t len)
{
    stun_put16(hdr, channel);
    stun_put16(hdr + 2, (uint16_t)len);
}
