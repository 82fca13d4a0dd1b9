/* Long-term credentials: stateless nonces, static users and TURN REST API usernames. */
#ifndef XTURN_TURN_AUTH_H
#define XTURN_TURN_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "stun/stun.h"
#include "turn/turn_config.h"
#include "turn/turn_shared.h"

#define AUTH_NONCE_LEN    24 /* 8 hex digits of time + 16 hex digits of MAC: small 401s */
#define AUTH_MAX_USERNAME 128

struct auth_user {
    char *name;
    uint8_t key[16];
};

struct auth {
    const struct turn_config *cfg;
    struct turn_shared *shared; /* nonce key and REST API secrets, the same in every worker */
    struct auth_user *users;    /* static users with precomputed keys */
    size_t nusers;
};

int auth_init(struct auth *a, const struct turn_config *cfg, struct turn_shared *shared);
void auth_free(struct auth *a);

/* A nonce bound to the client's transport address and the current time. */
void auth_make_nonce(const struct auth *a, const struct xt_addr *client, int64_t now_unix,
                     char out[AUTH_NONCE_LEN]);

enum auth_result {
    AUTH_OK = 0,
    AUTH_MISSING = 1,     /* no MESSAGE-INTEGRITY at all: challenge with 401 */
    AUTH_BAD_REQUEST = 2, /* integrity without USERNAME, REALM or NONCE: 400 */
    AUTH_STALE_NONCE = 3, /* 438 */
    AUTH_REJECTED = 4,    /* unknown or expired user, wrong realm, wrong password: 401 */
};

/* Checks the request's credentials. On AUTH_OK, key receives the HMAC key to sign the
 * response with and user the username (NUL-terminated). */
enum auth_result auth_check(const struct auth *a, const struct stun_msg *m,
                            const struct xt_addr *client, int64_t now_unix, uint8_t key[16],
                            char user[AUTH_MAX_USERNAME + 1]);

/* The TURN REST API password for a username: base64(HMAC-SHA1(secret, username)). out must
 * hold 29 bytes; returns its length. */
size_t auth_rest_password(const char *secret, const char *username, char out[29]);

#endif
