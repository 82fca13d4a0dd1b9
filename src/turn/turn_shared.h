/* State shared by every worker's TURN server: relay port pools, EVEN-PORT reservations,
 * allocation counts for quotas, the nonce key, and the limit of unauthenticated responses.
 * Allocations themselves belong to one worker; only their creation and deletion come here, under
 * one lock, never the data path. */
#ifndef XTURN_TURN_SHARED_H
#define XTURN_TURN_SHARED_H

#include <stdbool.h>
#include <stdint.h>

#include "turn/turn_config.h"

struct ratelimit;
struct turn_shared;
struct turn_user_count;

struct turn_shared *turn_shared_new(const struct turn_config *cfg);
void turn_shared_free(struct turn_shared *sh);

/* The key nonces are made with, the same for every worker. */
const uint8_t *turn_shared_nonce_key(const struct turn_shared *sh, size_t *len);

/* TURN REST API secrets, replaceable while running (SIGHUP re-reads the secret file). Readers
 * hold a read lock between begin and end; the list is copied in. */
int turn_shared_set_secrets(struct turn_shared *sh, char *const *secrets, size_t n);
void turn_shared_secrets_begin(struct turn_shared *sh, char *const **secrets, size_t *n);
void turn_shared_secrets_end(struct turn_shared *sh);

/* Unauthenticated responses per source IP, across every worker: SO_REUSEPORT spreads one
 * address's source ports over the workers, so per-worker limits would add up. Used without the
 * lock (it has its own, per slot). */
struct ratelimit *turn_shared_unauth_limit(struct turn_shared *sh);

/* Draining: no new allocations (300 or 508); read by every worker without the lock. */
void turn_shared_set_draining(struct turn_shared *sh, bool draining);
bool turn_shared_draining(const struct turn_shared *sh);
/* Allocations alive in every worker. */
uint64_t turn_shared_allocations(struct turn_shared *sh);

void turn_shared_lock(struct turn_shared *sh);
void turn_shared_unlock(struct turn_shared *sh);

/* ---- everything below: with the lock held ---- */

struct port_pool *turn_shared_ports(struct turn_shared *sh, int fam);
/* Free relay ports of a family (0 IPv4, 1 IPv6). */
uint32_t turn_shared_ports_free(struct turn_shared *sh, int fam);

/* Counts a new allocation for user against --max-allocations and --user-quota. Returns 0 and
 * the user's count entry (NULL without a user quota), or 486. */
int turn_shared_quota_take(struct turn_shared *sh, const char *user, struct turn_user_count **out);
void turn_shared_quota_put(struct turn_shared *sh, struct turn_user_count *u);

/* Reserves port (marked in the pool) for RESERVATION_LIFETIME; returns 0 and the token. */
int turn_shared_reserve(struct turn_shared *sh, uint16_t family, uint16_t port, uint64_t now_ms,
                        uint64_t *token);
/* Redeems a token: 0 with its family and port (released from the pool, for the caller to
 * bind), or -1 when unknown or expired. */
int turn_shared_redeem(struct turn_shared *sh, uint64_t token, uint64_t now_ms, uint16_t *family,
                       uint16_t *port);
/* Ends expired reservations; cheap when none is due. */
void turn_shared_expire(struct turn_shared *sh, uint64_t now_ms);

#endif
