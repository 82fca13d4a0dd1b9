#include "turn/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

int auth_init(struct auth *a, const struct turn_config *cfg, struct turn_shared *shared)
{
    const char *realm = cfg->realm;
    memset(a, 0, sizeof(*a));
    a->cfg = cfg;
    a->shared = shared;
    if (cfg->nusers) {
        a->users = calloc(cfg->nusers, sizeof(*a->users));
        if (!a->users)
            return -1;
    }
    for (size_t i = 0; i < cfg->nusers; i++) {
        const struct turn_static_user *u = &cfg->users[i];
        a->users[i].name = u->name;
        stun_long_term_key(u->name, strlen(u->name), realm, strlen(realm), u->password,
                           strlen(u->password), a->users[i].key);
    }
    a->nusers = cfg->nusers;
    return 0;
}

void auth_free(struct auth *a)
{
    free(a->users);
    a->users = NULL;
}

static void nonce_mac(const struct auth *a, const struct xt_addr *client, uint32_t ts, char out[16])
{
    uint8_t msg[4 + sizeof(*client)];
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    static const char hex[] = "0123456789abcdef";
    size_t keylen;
    const uint8_t *key = turn_shared_nonce_key(a->shared, &keylen);

    memcpy(msg, &ts, 4);
    memcpy(msg + 4, client, sizeof(*client));
    HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof(msg), mac, &maclen);
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
}

void auth_make_nonce(const struct auth *a, const struct xt_addr *client, int64_t now_unix,
                     char out[AUTH_NONCE_LEN])
{
    char ts[9];
    snprintf(ts, sizeof(ts), "%08x", (uint32_t)now_unix);
    memcpy(out, ts, 8);
    nonce_mac(a, client, (uint32_t)now_unix, out + 8);
}

static enum auth_result check_nonce(const struct auth *a, const struct stun_attr *n,
                                    const struct xt_addr *client, int64_t now_unix)
{
    char ts_hex[9], mac[16];
    char *end;
    uint32_t ts;

    if (n->len != AUTH_NONCE_LEN)
        return AUTH_STALE_NONCE;
    memcpy(ts_hex, n->val, 8);
    ts_hex[8] = '\0';
    ts = (uint32_t)strtoul(ts_hex, &end, 16);
    if (*end != '\0')
        return AUTH_STALE_NONCE;
    nonce_mac(a, client, ts, mac);
    if (CRYPTO_memcmp(mac, n->val + 8, 16) != 0)
        return AUTH_STALE_NONCE;
    /* Unsigned difference: a nonce from the future (clock stepped back) counts as stale too. */
    if ((uint32_t)now_unix - ts > a->cfg->nonce_lifetime_s)
        return AUTH_STALE_NONCE;
    return AUTH_OK;
}

size_t auth_rest_password(const char *secret, const char *username, char out[29])
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    HMAC(EVP_sha1(), secret, (int)strlen(secret), (const uint8_t *)username, strlen(username), mac,
         &maclen);
    return (size_t)EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
}

/* REST API usernames are "<unix-expiry>[:<user>]"; true if the expiry is a number in the future. */
static bool rest_username_valid(const char *user, int64_t now_unix)
{
    char *end;
    long long expiry = strtoll(user, &end, 10);
    if (end == user || (*end != '\0' && *end != ':'))
        return false;
    return expiry > now_unix;
}

static bool try_key(const struct stun_msg *m, const uint8_t cand[16], uint8_t key[16])
{
    if (!stun_check_integrity(m, cand, 16))
        return false;
    memcpy(key, cand, 16);
    return true;
}

/* Several secrets during rotation: the first that verifies wins. */
static enum auth_result check_rest(const struct auth *a, const struct stun_msg *m, const char *user,
                                   size_t user_len, uint8_t key[16])
{
    const char *realm = a->cfg->realm;
    enum auth_result r = AUTH_REJECTED;
    char *const *secrets;
    size_t n;

    turn_shared_secrets_begin(a->shared, &secrets, &n);
    for (size_t i = 0; i < n && r != AUTH_OK; i++) {
        char pass[29];
        uint8_t cand[16];
        size_t plen = auth_rest_password(secrets[i], user, pass);
        stun_long_term_key(user, user_len, realm, strlen(realm), pass, plen, cand);
        if (try_key(m, cand, key))
            r = AUTH_OK;
    }
    turn_shared_secrets_end(a->shared);
    return r;
}

enum auth_result auth_check(const struct auth *a, const struct stun_msg *m,
                            const struct xt_addr *client, int64_t now_unix, uint8_t key[16],
                            char user[AUTH_MAX_USERNAME + 1])
{
    const struct turn_config *cfg = a->cfg;
    const struct stun_attr *un, *realm, *nonce;
    enum auth_result r;

    if (m->mi < 0 && m->mi256 < 0)
        return AUTH_MISSING;
    un = stun_find(m, STUN_ATTR_USERNAME);
    realm = stun_find(m, STUN_ATTR_REALM);
    nonce = stun_find(m, STUN_ATTR_NONCE);
    if (!un || !realm || !nonce)
        return AUTH_BAD_REQUEST;
    r = check_nonce(a, nonce, client, now_unix);
    if (r != AUTH_OK)
        return r;
    if (realm->len != strlen(cfg->realm) || memcmp(realm->val, cfg->realm, realm->len) != 0)
        return AUTH_REJECTED;
    if (un->len == 0 || un->len > AUTH_MAX_USERNAME || memchr(un->val, '\0', un->len))
        return AUTH_REJECTED;
    memcpy(user, un->val, un->len);
    user[un->len] = '\0';

    for (size_t i = 0; i < a->nusers; i++) {
        if (strcmp(a->users[i].name, user) == 0)
            return try_key(m, a->users[i].key, key) ? AUTH_OK : AUTH_REJECTED;
    }
    if (!rest_username_valid(user, now_unix))
        return AUTH_REJECTED;
    return check_rest(a, m, user, un->len, key);
}
