/* What turn_shared.c (secrets, nonce key, host addresses, ports, slots) and turn_quota.c
 * (users' quotas and EVEN-PORT reservations) share: the state all workers share. */
#ifndef XTURN_TURN_SHARED_INTERNAL_H
#define XTURN_TURN_SHARED_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "common/htab.h"
#include "turn/port_pool.h"
#include "turn/ratelimit.h"
#include "turn/turn_shared.h"

#define RESERVATION_LIFETIME_MS 30000

struct turn_user_count {
    struct hnode node;
    uint32_t count;
    char name[];
};

/* Reservations all live 30 s, so a FIFO is also expiry order. */
struct reservation {
    struct hnode node;
    struct reservation *next;
    struct turn_user_count *quota;
    uint64_t token;
    uint64_t expires_ms;
    uint16_t family;
    uint16_t port;
    char user[]; /* its quota's name, kept for the live upgrade whatever the quotas are */
};

struct turn_shared {
    const struct turn_config *cfg;
    struct turn_random random;
    pthread_mutex_t lock;
    pthread_rwlock_t secrets_lock;
    char **secrets;
    size_t nsecrets;
    atomic_bool draining;
    uint32_t seed;
    uint8_t nonce_key[TURN_NONCE_KEY_LEN];
    struct port_pool ports[2];
    struct htab users;
    uint64_t allocations;
    uint64_t nreservations; /* live, counted with allocations against the quotas */
    struct htab reservations;
    struct reservation *fifo_head, **fifo_tail;
    pthread_rwlock_t host_lock;
    struct addr_set host;
    atomic_uint host_gen;
    /* one bit per protocol (UDP, TCP), family and port: a relay socket is bound there */
    _Atomic uint64_t bound[2][2][65536 / 64];
    void *slots[TURN_SHARED_SLOTS]; /* every server's io ctx (RFC 6062 connection ids) */
    struct ratelimit unauth_limit;
};

#endif
