#include "turn/txcache.h"

#include <string.h>

void txcache_init(struct txcache *c, uint32_t seed)
{
    memset(c, 0, sizeof(*c));
    c->seed = seed;
}

static struct txcache_entry *slot(const struct txcache *c, const struct xt_addr *client,
                                  const uint8_t tid[STUN_TID_LEN])
{
    uint32_t h = xt_addr_hash(client, c->seed);
    for (int i = 0; i < STUN_TID_LEN; i++)
        h = (h ^ tid[i]) * 16777619u;
    return (struct txcache_entry *)&c->slots[h % TXCACHE_SLOTS];
}

void txcache_put(struct txcache *c, const struct xt_addr *client, int listen_handle,
                 const uint8_t tid[STUN_TID_LEN], const uint8_t *resp, size_t len, uint64_t now_ms)
{
    struct txcache_entry *e = slot(c, client, tid);
    if (len > TXCACHE_MAX_RESP)
        return;
    e->client = *client;
    e->listen_handle = listen_handle;
    memcpy(e->tid, tid, STUN_TID_LEN);
    e->len = (uint16_t)len;
    e->at_ms = now_ms;
    memcpy(e->resp, resp, len);
}

bool txcache_live(const struct txcache_entry *e, uint64_t now_ms)
{
    return e->len != 0 && now_ms - e->at_ms <= TXCACHE_TTL_MS;
}

const struct txcache_entry *txcache_get(const struct txcache *c, const struct xt_addr *client,
                                        int listen_handle, const uint8_t tid[STUN_TID_LEN],
                                        uint64_t now_ms)
{
    const struct txcache_entry *e = slot(c, client, tid);
    if (!txcache_live(e, now_ms) || e->listen_handle != listen_handle ||
        memcmp(e->tid, tid, STUN_TID_LEN) != 0 || !xt_addr_equal(&e->client, client))
        return NULL;
    return e;
}
