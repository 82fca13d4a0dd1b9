/* Helpers shared by the STUN parser, builder and integrity code; not part of the public API. */
#ifndef XTURN_STUN_INTERNAL_H
#define XTURN_STUN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "stun/stun_types.h"

/* Attribute offsets are stored as uint16_t (struct stun_attr), so neither side handles messages
 * longer than this. UDP payloads cannot exceed it anyway. */
#define STUN_MAX_MSG_LEN 0xFFFFu

#define STUN_ATTR_HDR_LEN 4
#define STUN_MI_LEN       20 /* HMAC-SHA1 */
#define STUN_MI256_MIN    16 /* RFC 8489 14.6: may be truncated to 16 bytes */
#define STUN_MI256_MAX    32 /* HMAC-SHA256 */
#define STUN_FP_LEN       4
#define STUN_ADDR4_LEN    8 /* reserved, family, port, IPv4 */
#define STUN_ADDR6_LEN    20
#define STUN_FAMILY_IPV4  0x01
#define STUN_FAMILY_IPV6  0x02

static inline size_t stun_pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

static inline uint16_t stun_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t stun_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void stun_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void stun_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The XOR-*-ADDRESS mask, magic cookie || transaction id (RFC 8489 14.2): its first two bytes
 * mask the port, its first four an IPv4 address, all sixteen an IPv6 address. */
static inline void stun_xor_mask(const uint8_t tid[STUN_TID_LEN], uint8_t mask[16])
{
    stun_put32(mask, STUN_MAGIC_COOKIE);
    for (size_t i = 0; i < STUN_TID_LEN; i++)
        mask[4 + i] = tid[i];
}

/* HMAC over msg[0, prefix_len) as RFC 8489 14.5/14.6 define it: the header length field is
 * replaced by body_len, the length the message has once the integrity attribute is appended.
 * digest is an OpenSSL digest name ("SHA1", "SHA256"); out receives the full digest
 * (outlen bytes). Returns 0, or -1 if OpenSSL failed. */
int stun_integrity_hmac(const char *digest, const uint8_t *key, size_t keylen, const uint8_t *msg,
                        size_t prefix_len, uint16_t body_len, uint8_t *out, size_t outlen);

/* FINGERPRINT value over msg[0, prefix_len): CRC-32 XOR 0x5354554E (RFC 8489 14.7). */
uint32_t stun_fingerprint(const uint8_t *msg, size_t prefix_len);

#endif
