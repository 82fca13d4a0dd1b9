/* MESSAGE-INTEGRITY(-SHA256), FINGERPRINT and the long-term credential key. */
#include "stun/stun.h"
#include "stun/stun_internal.h"

#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <zlib.h>

int stun_integrity_hmac(const char *digest, const uint8_t *key, size_t keylen, const uint8_t *msg,
                        size_t prefix_len, uint16_t body_len, uint8_t *out, size_t outlen)
{
    /* Fed in three pieces so the caller's (possibly const) buffer is never patched. */
    uint8_t len_field[2];
    stun_put16(len_field, body_len);

    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0),
        OSSL_PARAM_construct_end(),
    };
    /* HMAC rejects a NULL key, but an empty password is a valid (if weak) short-term key. */
    static const uint8_t empty_key[1];
    if (keylen == 0)
        key = empty_key;

    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    size_t n = 0;
    int ok = ctx && EVP_MAC_init(ctx, key, keylen, params) && EVP_MAC_update(ctx, msg, 2) &&
             EVP_MAC_update(ctx, len_field, 2) && EVP_MAC_update(ctx, msg + 4, prefix_len - 4) &&
             EVP_MAC_final(ctx, out, &n, outlen);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok && n == outlen ? 0 : -1;
}

uint32_t stun_fingerprint(const uint8_t *msg, size_t prefix_len)
{
    return (uint32_t)crc32(0L, msg, (uInt)prefix_len) ^ STUN_FINGERPRINT_XOR;
}

/* Verifies one integrity attribute; a truncated MESSAGE-INTEGRITY-SHA256 is compared on its
 * length only. */
static bool check_one(const struct stun_msg *m, const struct stun_attr *a, const char *digest,
                      size_t full_len, const uint8_t *key, size_t keylen)
{
    uint8_t mac[STUN_MI256_MAX];
    size_t end = (size_t)a->offset + STUN_ATTR_HDR_LEN + a->len;
    if (a->len > full_len ||
        stun_integrity_hmac(digest, key, keylen, m->raw, a->offset,
                            (uint16_t)(end - STUN_HEADER_LEN), mac, full_len) != 0)
        return false;
    return CRYPTO_memcmp(mac, a->val, a->len) == 0;
}

bool stun_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t keylen)
{
    if (m->mi < 0 && m->mi256 < 0)
        return false;
    if (m->mi >= 0 && !check_one(m, &m->attrs[m->mi], "SHA1", STUN_MI_LEN, key, keylen))
        return false;
    if (m->mi256 >= 0 && !check_one(m, &m->attrs[m->mi256], "SHA256", STUN_MI256_MAX, key, keylen))
        return false;
    return true;
}

void stun_long_term_key(const char *user, size_t user_len, const char *realm, size_t realm_len,
                        const char *pass, size_t pass_len, uint8_t key[16])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) &&
             EVP_DigestUpdate(ctx, user, user_len) && EVP_DigestUpdate(ctx, ":", 1) &&
             EVP_DigestUpdate(ctx, realm, realm_len) && EVP_DigestUpdate(ctx, ":", 1) &&
             EVP_DigestUpdate(ctx, pass, pass_len) && EVP_DigestFinal_ex(ctx, key, &n);
    EVP_MD_CTX_free(ctx);
    /* The signature cannot report failure (e.g. MD5 disabled by a FIPS policy), and any fallback
     * key would be one every attacker knows: stop rather than authenticate with it. */
    if (!ok || n != 16)
        abort();
}
