/* The payload header every generated datagram starts with, so that an echo can be matched to
 * its allocation and send time:
 *
 *   0      1      2      3
 *   magic  index (24 bits, big endian)
 *   sequence number (32 bits, big endian)
 *   send time, CLOCK_MONOTONIC nanoseconds (64 bits, big endian)
 *
 * followed by a constant filler up to --size bytes. */
#include "bench.h"

#define PAYLOAD_MAGIC 0xB5

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void payload_write(uint8_t *p, uint32_t index, uint32_t seq, uint64_t ts)
{
    put32(p, (uint32_t)PAYLOAD_MAGIC << 24 | (index & 0xFFFFFF));
    put32(p + 4, seq);
    put32(p + 8, (uint32_t)(ts >> 32));
    put32(p + 12, (uint32_t)ts);
}

int payload_read(const uint8_t *p, size_t len, struct payload_hdr *h)
{
    uint32_t w;
    if (len < BENCH_MIN_SIZE || p[0] != PAYLOAD_MAGIC)
        return -1;
    w = get32(p);
    h->index = w & 0xFFFFFF;
    h->seq = get32(p + 4);
    h->ts = (uint64_t)get32(p + 8) << 32 | get32(p + 12);
    return 0;
}

void payload_fill(uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)('a' + i % 26);
}
