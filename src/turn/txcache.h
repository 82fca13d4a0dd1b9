/* Recent responses by (client, transaction id), so a retransmitted request is answered with
 * the identical response instead of being executed twice. Fixed size; old entries are
 * overwritten. */
#ifndef XTURN_TURN_TXCACHE_H
#define XTURN_TURN_TXCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "stun/stun_types.h"

#define TXCACHE_SLOTS    1024
#define TXCACHE_MAX_RESP 320
#define TXCACHE_TTL_MS   40000 /* RFC 8489's default transaction timeout is 39.5 s */

struct txcache_entry {
    struct xt_addr client;
    int listen_handle;
    uint8_t tid[STUN_TID_LEN];
    uint16_t len; /* 0: empty */
    uint64_t at_ms;
    uint8_t resp[TXCACHE_MAX_RESP];
};

struct txcache {
    uint32_t seed;
    struct txcache_entry slots[TXCACHE_SLOTS];
};

void txcache_init(struct txcache *c, uint32_t seed);
/* Responses larger than TXCACHE_MAX_RESP are not cached. */
void txcache_put(struct txcache *c, const struct xt_addr *client, int listen_handle,
                 const uint8_t tid[STUN_TID_LEN], const uint8_t *resp, size_t len, uint64_t now_ms);
/* Whether an entry holds a response still good at now_ms. */
bool txcache_live(const struct txcache_entry *e, uint64_t now_ms);
/* The cached response or NULL. */
const struct txcache_entry *txcache_get(const struct txcache *c, const struct xt_addr *client,
                                        int listen_handle, const uint8_t tid[STUN_TID_LEN],
                                        uint64_t now_ms);

#endif
