/* Types shared by the files of the TURN core; not part of its public interface. */
#ifndef XTURN_TURN_INTERNAL_H
#define XTURN_TURN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/htab.h"
#include "stun/stun.h"
#include "turn/auth.h"
#include "turn/timer_wheel.h"
#include "turn/turn_server.h"
#include "turn/txcache.h"

#define RESP_MAX TURN_HEAD_MAX

enum { FAM_V4 = 0, FAM_V6 = 1, FAM_COUNT = 2 };

static inline int fam_index(uint16_t family)
{
    return family == AF_INET ? FAM_V4 : FAM_V6;
}

struct turn_allocation;

/* One relayed transport address: a socket of the I/O layer. Its address is what the socket is
 * bound to; the advertised one may differ behind 1:1 NAT. */
struct turn_relay {
    struct turn_allocation *alloc;
    int handle; /* -1: this family is not allocated */
    struct xt_addr addr;
    struct xt_addr advertised;
};

struct turn_permission {
    struct turn_permission *next;
    struct turn_allocation *alloc;
    struct xt_addr ip; /* port zero */
    bool self;         /* the relay's own address: sends are checked against the relay range */
    struct tw_timer timer;
};

struct turn_channel {
    struct turn_channel *next;
    struct turn_allocation *alloc;
    uint16_t number;
    bool mirrored; /* announced through channel_up */
    struct xt_addr peer;
    struct tw_timer timer;
};

struct turn_allocation {
    struct hnode node; /* in turn_server.allocs, by 5-tuple */
    struct xt_addr client;
    struct xt_addr local;
    int listen_handle;
    struct turn_relay relay[FAM_COUNT];
    char user[AUTH_MAX_USERNAME + 1];
    uint8_t key[16];
    uint8_t create_tid[STUN_TID_LEN];
    uint32_t lifetime_s;
    struct turn_user_count *quota;
    struct turn_permission *perms;
    struct turn_channel *chans;
    struct tw_timer timer;
    /* --max-bps token bucket (bytes, one second's worth at most), both directions together */
    uint64_t tokens;
    uint64_t tokens_ms;
};

struct turn_server {
    const struct turn_config *cfg;
    struct turn_io io;
    uint32_t seed;
    struct auth auth;
    struct htab allocs;
    struct turn_shared *shared;
    bool own_shared; /* created for this server alone (one worker, tests) */
    struct timer_wheel wheel;
    struct txcache txcache;
    struct turn_counters counters;
    uint64_t indication_seq;        /* Data indications sent: their transaction ids */
    uint64_t next_shared_expire_ms; /* when turn_tick next expires shared reservations */
};

/* A request being answered: what every handler needs to respond. */
struct turn_req {
    struct turn_server *s;
    const struct turn_time *now;
    int listen_handle;
    const struct xt_addr *local;
    const struct xt_addr *client;
    const struct stun_msg *msg;
    bool authenticated;
    uint8_t key[16];
    char user[AUTH_MAX_USERNAME + 1];
};

/* turn_server.c: responses */
void req_send_error(struct turn_req *r, int code);
/* An error response with attributes of the caller's: begin, add them, then send. */
void req_begin_error(struct turn_req *r, struct stun_builder *b, uint8_t *buf, int code);
void req_send_built_error(struct turn_req *r, struct stun_builder *b, int code);
/* Starts a success response; add attributes, then req_send_success(). */
void req_begin_success(struct turn_req *r, struct stun_builder *b, uint8_t *buf);
void req_send_success(struct turn_req *r, struct stun_builder *b);

/* turn_alloc.c: state */
uint32_t alloc_hash(const struct turn_server *s, const struct xt_addr *client, int listen_handle);
struct turn_allocation *alloc_find(struct turn_server *s, const struct xt_addr *client,
                                   int listen_handle);
/* Creates the allocation and opens relay sockets for the requested families. Returns 0 or a
 * STUN error code (508 no port, 486 quota, 440 family). */
struct alloc_request {
    bool want[FAM_COUNT];
    bool even_port;
    bool reserve_next;
    uint64_t reservation; /* 0: none */
    bool dont_fragment;
    uint32_t lifetime_s;
};
int alloc_create(struct turn_req *r, const struct alloc_request *ar, struct turn_allocation **out,
                 uint64_t *token_out);
void alloc_delete(struct turn_server *s, struct turn_allocation *a, const char *reason);
void alloc_refresh(struct turn_server *s, struct turn_allocation *a, uint32_t lifetime_s,
                   uint64_t now_ms);
struct turn_permission *perm_find(struct turn_allocation *a, const struct xt_addr *peer);
int perm_install(struct turn_server *s, struct turn_allocation *a, const struct xt_addr *peer,
                 uint64_t now_ms);
struct turn_channel *chan_by_number(struct turn_allocation *a, uint16_t number);
struct turn_channel *chan_by_peer(struct turn_allocation *a, const struct xt_addr *peer);
int chan_bind(struct turn_server *s, struct turn_allocation *a, uint16_t number,
              const struct xt_addr *peer, uint64_t now_ms);

/* turn_request.c */
void turn_handle_request(struct turn_req *r);

/* turn_relay.c */
void relay_send_indication(struct turn_server *s, uint64_t now_ms, int listen_handle,
                           const struct xt_addr *client, const struct stun_msg *m);
void relay_channeldata(struct turn_server *s, uint64_t now_ms, int listen_handle,
                       const struct xt_addr *client, const uint8_t *data, size_t len);

#endif
