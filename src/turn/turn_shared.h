/* State shared by every worker's TURN server: relay port pools, EVEN-PORT reservations,
 * allocation counts for quotas, the nonce key, the limit of unauthenticated responses, and the
 * relay host's own addresses. Allocations themselves belong to one worker; only their creation
 * and deletion come here, under one lock, never the data path. */
#ifndef XTURN_TURN_SHARED_H
#define XTURN_TURN_SHARED_H

#include <stdbool.h>
#include <stdint.h>

#include "common/addr_set.h"
#include "turn/turn_config.h"
#include "turn/turn_random.h"

struct ratelimit;
struct turn_shared;
struct turn_user_count;

/* random (copied) makes the nonce key, hash seeds and reservation tokens. */
struct turn_shared *turn_shared_new(const struct turn_config *cfg,
                                    const struct turn_random *random);
void turn_shared_free(struct turn_shared *sh);

/* The key nonces are made with, the same for every worker; the live upgrade carries it over
 * (set before any worker runs), so that the nonces clients hold stay good. */
#define TURN_NONCE_KEY_LEN 32
const uint8_t *turn_shared_nonce_key(const struct turn_shared *sh, size_t *len);
void turn_shared_set_nonce_key(struct turn_shared *sh, const uint8_t key[TURN_NONCE_KEY_LEN]);

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

/* The relay host's addresses (every address configured in its network namespace; the daemon
 * replaces them as they come and go). Readers hold a read lock between begin and end; each
 * replacement bumps a generation, which workers compare to re-judge their permissions. */
int turn_shared_set_host_addrs(struct turn_shared *sh, const struct xt_addr *addrs, size_t n);
const struct addr_set *turn_shared_host_begin(struct turn_shared *sh);
void turn_shared_host_end(struct turn_shared *sh);
uint32_t turn_shared_host_generation(const struct turn_shared *sh);

/* Whether a relay socket of a protocol (tcp: an RFC 6062 TCP allocation's listening socket, else
 * UDP) is bound to this port of a family (0 IPv4, 1 IPv6) now: the relayed transport addresses a
 * client may reach on the relay's own address. Read without the lock. */
bool turn_shared_port_bound(const struct turn_shared *sh, bool tcp, int fam, uint16_t port);

/* The servers (workers) sharing this state, by slot: RFC 6062 connection ids carry the slot of
 * the server that holds them, so a ConnectionBind reaching another worker is handed over
 * (turn_io.tcp_redirect). A slot (0..TURN_SHARED_SLOTS-1) for ctx, or -1 when all are taken. */
#define TURN_SHARED_SLOTS 256
int turn_shared_slot_take(struct turn_shared *sh, void *ctx);
void turn_shared_slot_put(struct turn_shared *sh, int slot);
/* The ctx of a slot, NULL when free. */
void *turn_shared_slot_ctx(struct turn_shared *sh, int slot);

void turn_shared_lock(struct turn_shared *sh);
void turn_shared_unlock(struct turn_shared *sh);

/* ---- everything below: with the lock held ---- */

struct port_pool *turn_shared_ports(struct turn_shared *sh, int fam);
/* A relay socket was bound to, or closed on, a port (turn_shared_port_bound). */
void turn_shared_set_port_bound(struct turn_shared *sh, bool tcp, int fam, uint16_t port,
                                bool bound);
/* Free relay ports of a family (0 IPv4, 1 IPv6). */
uint32_t turn_shared_ports_free(struct turn_shared *sh, int fam);

/* Counts a new allocation for user against --max-allocations and --user-quota (reservations
 * count as allocations there). Returns 0 and the user's count entry (NULL without a user quota),
 * or 486. */
int turn_shared_quota_take(struct turn_shared *sh, const char *user, struct turn_user_count **out);
/* The same for an allocation the live upgrade restores: counted whatever the limits say now,
 * since it exists already. 0, or 500 without memory. */
int turn_shared_quota_restore(struct turn_shared *sh, const char *user,
                              struct turn_user_count **out);
void turn_shared_quota_put(struct turn_shared *sh, struct turn_user_count *u);

/* Reserves port (marked in the pool) for RESERVATION_LIFETIME, counted against user's quota
 * until redeemed or expired, as an allocation would be; returns 0 and the token, 486 over quota,
 * or 500 (no memory, or no randomness for the token). */
int turn_shared_reserve(struct turn_shared *sh, const char *user, uint16_t family, uint16_t port,
                        uint64_t now_ms, uint64_t *token);
/* Redeems a token: 0 with its family and port (released from the pool, for the caller to
 * bind), or -1 when unknown or expired. */
int turn_shared_redeem(struct turn_shared *sh, uint64_t token, uint64_t now_ms, uint16_t *family,
                       uint16_t *port);
/* Ends expired reservations; cheap when none is due. */
void turn_shared_expire(struct turn_shared *sh, uint64_t now_ms);

/* A reservation as the live upgrade carries it (turn_snapshot.c); user: the name its quota
 * counts against. */
struct turn_shared_reservation {
    uint64_t token;
    uint16_t family;
    uint16_t port;
    uint64_t expires_ms;
    const char *user;
};
/* Calls fn for every live reservation, oldest first, until it returns non-zero; returns that. */
int turn_shared_reservations_each(struct turn_shared *sh,
                                  int (*fn)(void *ctx, const struct turn_shared_reservation *r),
                                  void *ctx);
/* Puts a reservation back, after those put back before it (not expiring before them), counted
 * against its user's quota whatever the limits say now. 0, or -1 when it cannot be: a family
 * not relayed, a token of 0 or taken already, a port outside the range or in use, an expiry out
 * of order or further from now_ms than a reservation lives, no memory. */
int turn_shared_reservation_restore(struct turn_shared *sh, const struct turn_shared_reservation *r,
                                    uint64_t now_ms);

#endif
