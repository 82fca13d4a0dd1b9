/* Types shared by the files of the TURN core; not part of its public interface. */
#ifndef XTURN_TURN_INTERNAL_H
#define XTURN_TURN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/htab.h"
#include "common/list.h"
#include "stun/stun.h"
#include "turn/auth.h"
#include "turn/timer_wheel.h"
#include "turn/turn_server.h"
#include "turn/txcache.h"

#define RESP_MAX TURN_HEAD_MAX

/* Indexes of per-family arrays, as xt_family_index gives them. */
enum { FAM_V4 = 0, FAM_V6 = 1, FAM_COUNT = 2 };

/* The address relayed addresses of a family bind to (family 0: that family is not relayed),
 * and the one they are advertised at (family 0: the same). */
static inline const struct xt_addr *relayed_bind_addr(const struct turn_config *c, int fam)
{
    return fam == FAM_V4 ? &c->relay_v4 : &c->relay_v6;
}

static inline const struct xt_addr *relayed_public_addr(const struct turn_config *c, int fam)
{
    return fam == FAM_V4 ? &c->public_v4 : &c->public_v6;
}

struct turn_allocation;

/* One relayed transport address: a socket of the I/O layer. Its address is what the socket is
 * bound to; the advertised one may differ behind 1:1 NAT. */
struct turn_relayed {
    struct turn_allocation *alloc;
    int handle; /* -1: this family is not allocated */
    struct xt_addr addr;
    struct xt_addr advertised;
};

struct turn_permission {
    struct hnode node;      /* in turn_server.perms, by (allocation, IP) */
    struct list_node entry; /* in the allocation's perms */
    struct turn_allocation *alloc;
    struct xt_addr ip; /* port zero */
    /* the relay host's own address: only other allocations' relayed addresses are reached
     * there, checked per datagram (self_reachable) */
    bool self;
    struct tw_timer timer;
};

struct turn_channel {
    struct hnode by_number; /* in turn_server.chan_numbers, by (allocation, number) */
    struct hnode by_ip;     /* in turn_server.chan_ips, by (allocation, peer IP) */
    struct list_node entry; /* in the allocation's chans */
    struct turn_allocation *alloc;
    uint16_t number;
    bool mirrored; /* announced through channel_up */
    struct xt_addr peer;
    struct tw_timer timer;
};

struct turn_allocation {
    struct hnode node; /* in turn_server.allocs, by 5-tuple */
    enum turn_transport transport;
    struct xt_addr client;
    struct xt_addr local;
    int listen_handle;
    struct turn_relayed relayed[FAM_COUNT];
    char user[AUTH_MAX_USERNAME + 1];
    uint8_t key[16];
    uint8_t create_tid[STUN_TID_LEN];
    uint32_t lifetime_s;
    struct turn_user_count *quota;
    struct list_node *perms, *chans;
    uint32_t nperms, nchans; /* against --max-permissions, --max-channels */
    struct tw_timer timer;
    /* --max-bps, both directions together (common/gcra.h): *tat is own_tat, or a word shared
     * with the fast path (bucket, from turn_io.bucket_get; 0 without) */
    uint64_t *tat;
    uint64_t own_tat;
    uint32_t bucket;
    /* RFC 6062: relayed addresses are TCP listening sockets; peers are reached by Connect and
     * reach it by connecting, each connection relayed over a data connection of its own */
    bool tcp;
    struct list_node *tcp_conns; /* its peer connections (turn_tcp_relay.c) */
    uint32_t ntcp_conns;
};

struct turn_server {
    const struct turn_config *cfg;
    struct turn_io io;
    uint32_t seed;
    struct auth auth;
    struct htab allocs;
    /* Permissions and channels of every allocation, hashed with the allocation: a lookup per
     * datagram costs the same with one permission or thousands. */
    struct htab perms, chan_numbers, chan_ips;
    uint32_t host_gen; /* turn_shared_host_generation the permissions were judged under */
    struct turn_shared *shared;
    bool own_shared; /* created for this server alone (one worker, tests) */
    struct timer_wheel wheel;
    struct txcache txcache;
    struct turn_counters counters[TURN_TRANSPORT_COUNT];
    uint64_t indication_seq;        /* Data indications sent: their transaction ids */
    uint64_t next_shared_expire_ms; /* when turn_tick next expires shared reservations */
    /* RFC 6062: peer connections of the TCP allocations by connection id, whose low byte is this
     * server's slot in the shared state (-1: none, and no TCP allocations) */
    struct htab tcp_ids;
    int slot;
};

/* A request being answered: what every handler needs to respond. */
struct turn_req {
    struct turn_server *s;
    const struct turn_time *now;
    enum turn_transport transport;
    int listen_handle;
    const struct xt_addr *local;
    const struct xt_addr *client;
    const struct stun_msg *msg;
    bool authenticated;
    uint8_t key[16];
    char user[AUTH_MAX_USERNAME + 1];
};

/* The counters of a transport. */
static inline struct turn_counters *ctr(struct turn_server *s, enum turn_transport t)
{
    return &s->counters[t];
}

/* turn_response.c */
/* Unauthenticated sources get a limited number of responses: no use as a reflector. */
bool req_unauth_allowed(struct turn_req *r);
void req_send_error(struct turn_req *r, int code);
/* An error response with attributes of the caller's: begin, add them, then send. */
void req_begin_error(struct turn_req *r, struct stun_builder *b, uint8_t *buf, int code);
void req_send_built_error(struct turn_req *r, struct stun_builder *b, int code);
/* Starts a success response; add attributes, then req_send_success(). */
void req_begin_success(struct turn_req *r, struct stun_builder *b, uint8_t *buf);
void req_send_success(struct turn_req *r, struct stun_builder *b);

/* turn_alloc.c: state */
struct turn_allocation *alloc_find(struct turn_server *s, const struct xt_addr *client,
                                   int listen_handle);
/* Creates the allocation and opens its relayed addresses' sockets for the requested families.
 * Returns 0 or a STUN error code (508 no port, 486 quota, 440 family). */
struct alloc_request {
    bool want[FAM_COUNT];
    bool even_port;
    bool reserve_next;
    uint64_t reservation; /* 0: none */
    bool dont_fragment;
    bool tcp; /* RFC 6062: TCP listening sockets */
    uint32_t lifetime_s;
};
int alloc_create(struct turn_req *r, const struct alloc_request *ar, struct turn_allocation **out,
                 uint64_t *token_out);
/* reason NULL: it lives on in the process a live upgrade handed it to; nothing logged. */
void alloc_delete(struct turn_server *s, struct turn_allocation *a, const char *reason);
void alloc_delete_all(struct turn_server *s, const char *reason);
void alloc_refresh(struct turn_server *s, struct turn_allocation *a, uint32_t lifetime_s,
                   uint64_t now_ms);
/* The live upgrade (turn_snapshot.c): an allocation of a snapshot, client on listen_handle, due at
 * due_ms, its relayed addresses' sockets imported through im. NULL, or why it cannot be (then
 * nothing of it is left). */
struct turn_snapshot_alloc;
struct turn_snapshot_import;
const char *alloc_restore(struct turn_server *s, const struct turn_snapshot_alloc *sa,
                          int listen_handle, uint64_t due_ms, const struct turn_snapshot_import *im,
                          struct turn_allocation **out);

/* turn_perm.c: permissions and channels */
/* Frees every channel and permission of an allocation (channels first). */
void perm_free_all(struct turn_server *s, struct turn_allocation *a);
struct turn_permission *perm_find(struct turn_server *s, const struct turn_allocation *a,
                                  const struct xt_addr *peer);
/* Installs or refreshes permissions for n peers, all or nothing: 0, or 508 when the new ones
 * would exceed --max-permissions, or 500. */
int perm_install(struct turn_server *s, struct turn_allocation *a, const struct xt_addr *peers,
                 size_t n, uint64_t now_ms);
struct turn_channel *chan_by_number(struct turn_server *s, const struct turn_allocation *a,
                                    uint16_t number);
struct turn_channel *chan_by_peer(struct turn_server *s, const struct turn_allocation *a,
                                  const struct xt_addr *peer);
/* Binds or refreshes a channel and its peer's permission: 0, or 508 when a new channel or
 * permission would exceed its cap, or 500. */
int chan_bind(struct turn_server *s, struct turn_allocation *a, uint16_t number,
              const struct xt_addr *peer, uint64_t now_ms);
/* The live upgrade (turn_snapshot.c): a permission for ip, or a channel, due at due_ms, of a
 * restored allocation. NULL, or why it cannot be (nothing changed). */
const char *perm_restore(struct turn_server *s, struct turn_allocation *a, const struct xt_addr *ip,
                         uint64_t due_ms);
const char *chan_restore(struct turn_server *s, struct turn_allocation *a, uint16_t number,
                         const struct xt_addr *peer, uint64_t due_ms);
/* When the host's addresses changed: permissions are judged again; those to addresses that are
 * now the host's and cannot hold a relayed address are revoked. */
void perm_rejudge(struct turn_server *s);

/* turn_request.c */
/* Family, policy and self checks of a peer of allocation a (CreatePermission, ChannelBind,
 * Connect): 0, or 443, or 403 (logged). */
int req_check_peer(struct turn_req *r, const struct turn_allocation *a, const struct xt_addr *peer);

/* turn_self.c: the relay host as a peer. */
/* Is peer (or an IPv4 address it embeds) the relay host's: a configured address or any address
 * of the host now? */
bool self_is_host(struct turn_server *s, const struct xt_addr *peer);
/* May allocation a exchange datagrams (or, a TCP allocation, connections) with peer, an address
 * of the relay host? Only when peer is the relayed transport address of another allocation of
 * the same relayed transport, live now: the relay (or advertised) address of its family, on a
 * port a relayed address's socket of that protocol is bound to, not a's own. */
bool self_reachable(struct turn_server *s, const struct turn_allocation *a,
                    const struct xt_addr *peer);
/* For a permission (IP only): could a relayed transport address be there? */
bool self_relayed_ip(const struct turn_config *c, const struct xt_addr *ip);

/* turn_tcp_relay.c: RFC 6062 TCP allocations */
/* Whether the I/O layer and the shared state allow TCP allocations. */
bool tcp_relay_available(const struct turn_server *s);
/* Connect (on the allocation's control connection) and ConnectionBind (on a connection of its
 * own, authenticated, without allocation). */
void tcp_handle_connect(struct turn_req *r, struct turn_allocation *a);
void tcp_handle_connection_bind(struct turn_req *r);
/* Before a ConnectionBind is authenticated: true when it went to the worker its connection id
 * belongs to (turn_io.tcp_redirect), which authenticates and answers it; signed requests only. */
bool tcp_bind_redirected(struct turn_req *r);
/* The other client address a ConnectionBind's nonce may be bound to: its connection's
 * allocation's (clients reuse their control connection's nonce), or NULL. */
const struct xt_addr *tcp_bind_nonce_client(struct turn_server *s, const struct stun_msg *m);
/* Closes every peer (and data) connection of an allocation that is being deleted. */
void tcp_close_all(struct turn_server *s, struct turn_allocation *a);

/* turn_request.c: every request, Binding included */
void turn_handle_request(struct turn_req *r);

/* turn_data.c: the data path, client to peer (Send indications, ChannelData) and back (Data
 * indications, ChannelData) */
void data_on_send_indication(struct turn_server *s, uint64_t now_ms, enum turn_transport t,
                             int listen_handle, const struct xt_addr *client,
                             const struct stun_msg *m);
void data_on_channeldata(struct turn_server *s, uint64_t now_ms, enum turn_transport t,
                         int listen_handle, const struct xt_addr *client, const uint8_t *data,
                         size_t len);
/* A fresh transaction id for an indication the server sends. */
void data_indication_tid(struct turn_server *s, uint8_t tid[STUN_TID_LEN]);
/* A peer's datagram to the relayed address whose socket was opened with owner. */
void data_on_peer(struct turn_server *s, uint64_t now_ms, void *owner, const struct xt_addr *peer,
                  const uint8_t *data, size_t len);

#endif
