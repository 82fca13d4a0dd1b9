/* STUN message builder: header, TLVs with zero padding, integrity and fingerprint trailers. */
#include "stun/stun.h"
#include "stun/stun_internal.h"

#include <string.h>

/* RFC 8489 5: the method bits M11..M0 are interleaved with the class bits C1 (bit 8) and C0
 * (bit 4). */
static uint16_t encode_type(uint16_t method, uint8_t cls)
{
    return (uint16_t)((method & 0x000F) | (method & 0x0070) << 1 | (method & 0x0F80) << 2 |
                      (cls & 1) << 4 | (cls & 2) << 7);
}

void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls,
                     const uint8_t tid[STUN_TID_LEN])
{
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    b->overflow = cap < STUN_HEADER_LEN;
    if (b->overflow)
        return;
    stun_put16(buf, encode_type(method, cls));
    stun_put16(buf + 2, 0);
    stun_put32(buf + 4, STUN_MAGIC_COOKIE);
    memcpy(buf + 8, tid, STUN_TID_LEN);
    b->len = STUN_HEADER_LEN;
}

/* Appends an attribute header and its zeroed, padded value area and updates the header length
 * field. Returns the value area, or NULL (and marks the builder failed) if it does not fit. */
static uint8_t *append(struct stun_builder *b, uint16_t type, size_t len)
{
    if (b->overflow)
        return NULL;
    size_t room = b->cap < STUN_MAX_MSG_LEN ? b->cap : STUN_MAX_MSG_LEN;
    size_t total = STUN_ATTR_HDR_LEN + stun_pad4(len);
    if (len > UINT16_MAX || total > room - b->len) {
        b->overflow = true;
        return NULL;
    }
    uint8_t *p = b->buf + b->len;
    stun_put16(p, type);
    stun_put16(p + 2, (uint16_t)len);
    memset(p + STUN_ATTR_HDR_LEN, 0, total - STUN_ATTR_HDR_LEN);
    b->len += total;
    stun_put16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN));
    return p + STUN_ATTR_HDR_LEN;
}

void stun_add_attr(struct stun_builder *b, uint16_t type, const void *val, size_t len)
{
    uint8_t *p = append(b, type, len);
    if (p && len > 0)
        memcpy(p, val, len);
}

void stun_add_u32(struct stun_builder *b, uint16_t type, uint32_t v)
{
    uint8_t *p = append(b, type, 4);
    if (p)
        stun_put32(p, v);
}

/* MAPPED-ADDRESS layout; xor: the XOR- variants (port and address masked with cookie and tid). */
static void add_addr(struct stun_builder *b, uint16_t type, const struct xt_addr *a, bool xor)
{
    if (a->family != AF_INET && a->family != AF_INET6) {
        b->overflow = true; /* not encodable: fail the message rather than send garbage */
        return;
    }
    size_t iplen = a->family == AF_INET ? 4 : 16;
    uint8_t *p = append(b, type, 4 + iplen);
    if (!p)
        return;
    uint8_t mask[16] = {0};
    if (xor)
        stun_xor_mask(b->buf + 8, mask);
    p[1] = iplen == 4 ? STUN_FAMILY_IPV4 : STUN_FAMILY_IPV6;
    stun_put16(p + 2, a->port ^ stun_get16(mask));
    for (size_t i = 0; i < iplen; i++)
        p[4 + i] = a->ip[i] ^ mask[i];
}

void stun_add_xor_addr(struct stun_builder *b, uint16_t type, const struct xt_addr *a)
{
    add_addr(b, type, a, true);
}

void stun_add_addr(struct stun_builder *b, uint16_t type, const struct xt_addr *a)
{
    add_addr(b, type, a, false);
}

void stun_add_error(struct stun_builder *b, int code)
{
    if (code < 300 || code > 699) {
        b->overflow = true; /* class must be 3..6 (RFC 8489 14.8) */
        return;
    }
    const char *reason = stun_reason(code);
    size_t rlen = strlen(reason);
    uint8_t *p = append(b, STUN_ATTR_ERROR_CODE, 4 + rlen);
    if (!p)
        return;
    p[2] = (uint8_t)(code / 100);
    p[3] = (uint8_t)(code % 100);
    memcpy(p + 4, reason, rlen);
}

void stun_add_unknown_attrs(struct stun_builder *b, const uint16_t *types, size_t n)
{
    if (n > UINT16_MAX / 2) {
        b->overflow = true;
        return;
    }
    uint8_t *p = append(b, STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n);
    for (size_t i = 0; p && i < n; i++)
        stun_put16(p + 2 * i, types[i]);
}

/* The HMAC covers everything before the attribute with the length field already counting it,
 * which append() has set by the time the value is computed. */
static void add_hmac(struct stun_builder *b, uint16_t type, const char *digest, size_t maclen,
                     const uint8_t *key, size_t keylen)
{
    uint8_t *p = append(b, type, maclen);
    if (!p)
        return;
    size_t prefix = (size_t)(p - STUN_ATTR_HDR_LEN - b->buf);
    if (stun_integrity_hmac(digest, key, keylen, b->buf, prefix, stun_get16(b->buf + 2), p,
                            maclen) != 0)
        b->overflow = true;
}

void stun_add_integrity(struct stun_builder *b, const uint8_t *key, size_t keylen)
{
    add_hmac(b, STUN_ATTR_MESSAGE_INTEGRITY, "SHA1", STUN_MI_LEN, key, keylen);
}

void stun_add_integrity_sha256(struct stun_builder *b, const uint8_t *key, size_t keylen)
{
    add_hmac(b, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, "SHA256", STUN_MI256_MAX, key, keylen);
}

void stun_add_fingerprint(struct stun_builder *b)
{
    uint8_t *p = append(b, STUN_ATTR_FINGERPRINT, STUN_FP_LEN);
    if (p)
        stun_put32(p, stun_fingerprint(b->buf, (size_t)(p - STUN_ATTR_HDR_LEN - b->buf)));
}

int stun_finish(struct stun_builder *b)
{
    return b->overflow ? -1 : (int)b->len;
}
