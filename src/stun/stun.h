/* STUN codec: parse, read attributes, build, integrity and fingerprint. Pure: no I/O, no state. */
#ifndef XTURN_STUN_H
#define XTURN_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "stun/stun_types.h"

/* ---- parsing ---- */

/* True if buf could be a STUN message (top two bits 00, magic cookie): a cheap demux test. */
bool stun_is_message(const uint8_t *buf, size_t len);

/* Strict parse of a complete datagram. The length field must equal len - 20 and be a multiple of
 * 4; every attribute (with padding) must lie inside the message. If FINGERPRINT is present it is
 * verified and must be the last attribute. Attributes that follow MESSAGE-INTEGRITY are ignored
 * except MESSAGE-INTEGRITY-SHA256 and FINGERPRINT; those after MESSAGE-INTEGRITY-SHA256 except
 * FINGERPRINT (RFC 8489 14.5, 14.6). Messages over 65535 bytes (attribute offsets are 16-bit) are
 * STUN_ERR_LENGTH. Returns STUN_OK or an enum stun_parse_err value. */
int stun_parse(const uint8_t *buf, size_t len, struct stun_msg *m);

/* First attribute of that type, or NULL. */
const struct stun_attr *stun_find(const struct stun_msg *m, uint16_t type);

/* Decoders: return 0, or -1 if the value is malformed. */
int stun_attr_xor_addr(const struct stun_msg *m, const struct stun_attr *a, struct xt_addr *out);
int stun_attr_addr(const struct stun_attr *a, struct xt_addr *out); /* plain MAPPED-ADDRESS */
int stun_attr_u32(const struct stun_attr *a, uint32_t *out);
int stun_attr_error_code(const struct stun_attr *a, int *code, const uint8_t **reason,
                         size_t *reason_len);

/* Verifies MESSAGE-INTEGRITY (HMAC-SHA1) when present and MESSAGE-INTEGRITY-SHA256 when present
 * (at least one must be present) with the given key. Constant-time compare. */
bool stun_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t keylen);

/* The long-term credential key, MD5(username ":" realm ":" password) (RFC 8489 9.2.2). */
void stun_long_term_key(const char *user, size_t user_len, const char *realm, size_t realm_len,
                        const char *pass, size_t pass_len, uint8_t key[16]);

/* Reason phrase for an error code (RFC 8489, RFC 8656), "" for unknown codes. */
const char *stun_reason(int code);

/* ---- building ---- */

struct stun_builder {
    uint8_t *buf;
    size_t cap;
    size_t len;
    /* Set when an append did not fit (messages are capped at 65535 bytes) or its input cannot be
     * encoded (address family other than AF_INET/AF_INET6, error code outside 300..699) or
     * OpenSSL failed computing an HMAC; stun_finish() then fails. */
    bool overflow;
};

/* Starts a message of the given method and class with the given transaction id. */
void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls,
                     const uint8_t tid[STUN_TID_LEN]);
void stun_add_attr(struct stun_builder *b, uint16_t type, const void *val, size_t len);
void stun_add_u32(struct stun_builder *b, uint16_t type, uint32_t v);
void stun_add_xor_addr(struct stun_builder *b, uint16_t type, const struct xt_addr *a);
/* Plain address (MAPPED-ADDRESS, ALTERNATE-SERVER). */
void stun_add_addr(struct stun_builder *b, uint16_t type, const struct xt_addr *a);
/* ERROR-CODE with the standard reason phrase. */
void stun_add_error(struct stun_builder *b, int code);
void stun_add_unknown_attrs(struct stun_builder *b, const uint16_t *types, size_t n);
/* Appends MESSAGE-INTEGRITY / MESSAGE-INTEGRITY-SHA256 over everything before it (length field
 * adjusted as RFC 8489 requires). */
void stun_add_integrity(struct stun_builder *b, const uint8_t *key, size_t keylen);
void stun_add_integrity_sha256(struct stun_builder *b, const uint8_t *key, size_t keylen);
void stun_add_fingerprint(struct stun_builder *b);
/* Returns the message length, or -1 on overflow. */
int stun_finish(struct stun_builder *b);

/* ---- ChannelData (RFC 8656 12.4) ---- */

#define CHANNELDATA_HEADER_LEN 4

/* True if the first two bits are 01. */
bool channeldata_is(const uint8_t *buf, size_t len);
/* Parses the header: channel number and the length-field bytes of payload (padding after them is
 * tolerated). Returns 0, or -1 when shorter than the header or the length exceeds the datagram. */
int channeldata_parse(const uint8_t *buf, size_t len, uint16_t *channel, const uint8_t **payload,
                      size_t *payload_len);
/* len is the payload length without padding, at most 65535. */
void channeldata_header(uint8_t hdr[CHANNELDATA_HEADER_LEN], uint16_t channel, size_t len);

#endif
