/* What the fuzz harnesses share: the check that crashes (a trap libFuzzer reports with the
 * input), libFuzzer's entry points, and for the harnesses of the TURN core (fuzz_turn_server,
 * fuzz_tcp_relay) a random source reset for every input, so an input replays identically, the
 * configuration of fuzz_formats.h's realm, users, secret and relay ports, their inputs' records,
 * and the requests they sign. */
#ifndef XTURN_FUZZ_COMMON_H
#define XTURN_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef FUZZ_TURN_CORE
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_formats.h"
#include "stun/stun.h"
#include "turn/auth.h"
#include "turn/turn_config.h"
#include "turn/turn_random.h"
#include "turn/turn_server.h"
#include "turn/turn_shared.h"

static uint64_t rng_state;

/* xorshift64 from a fixed start (fuzz_random_reset before each input). */
static int fuzz_random_fill(void *ctx, void *buf, size_t len)
{
    uint8_t *out = buf;
    (void)ctx;
    for (size_t i = 0; i < len; i++) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        out[i] = (uint8_t)(rng_state >> 24);
    }
    return 0;
}

static const struct turn_random fuzz_random = {.fill = fuzz_random_fill, .ctx = NULL};

static inline void fuzz_random_reset(void)
{
    rng_state = 0x9E3779B97F4A7C15ull;
}

/* The realm, the REST API secret, the static users alice and carol, the relay port range and
 * the default lifetimes; the rest is the harness's. */
static inline void fuzz_turn_config(struct turn_config *c)
{
    static char realm[] = FT_REALM, secret[] = FT_REST_SECRET;
    static char *secrets[] = {secret};
    static char u0[] = "alice", p0[] = "wonderland", u1[] = "carol", p1[] = "looking-glass";
    static struct turn_static_user users[] = {{u0, p0}, {u1, p1}};

    c->realm = realm;
    c->secrets = secrets;
    c->nsecrets = 1;
    c->users = users;
    c->nusers = 2;
    c->relay_port_lo = FT_PORT_LO;
    c->relay_port_hi = FT_PORT_HI;
    c->default_lifetime_s = 600;
    c->max_lifetime_s = 3600;
    c->permission_lifetime_s = 300;
    c->channel_lifetime_s = 600;
    c->nonce_lifetime_s = 600;
}

/* One record of the input: kind, arg and the length field as they are (kind & 7 says which),
 * and the body that follows for the kinds that have one. */
struct fuzz_record {
    uint8_t kind, arg;
    uint16_t field;
    const uint8_t *body;
    size_t len; /* the length field, cut to what is left of the input; 0 without a body */
};

/* The records of an input from off (past its configuration bytes), at most max of them, each to
 * on_record; with trace, each on stderr first. body_kinds: a bit (1 << (kind & 7)) for each kind
 * whose length field is its body's. */
static inline void fuzz_records(const uint8_t *data, size_t size, size_t off, unsigned body_kinds,
                                int max, bool trace, void (*on_record)(const struct fuzz_record *r))
{
    for (int n = 0; n < max && off + FT_HDR_LEN <= size; n++) {
        struct fuzz_record r = {.kind = data[off],
                                .arg = data[off + 1],
                                .field = fz_get16(data + off + 2),
                                .body = data + off + FT_HDR_LEN};

        off += FT_HDR_LEN;
        if (body_kinds & (1u << (r.kind & 7))) {
            r.len = r.field < size - off ? r.field : size - off;
            off += r.len;
        }
        if (trace)
            fprintf(stderr, "record kind %d arg 0x%02x field %u\n", r.kind & 7, r.arg, r.field);
        on_record(&r);
    }
}

/* A transaction id of the harness's own: fill, with n in bytes 8 to 11. */
static inline void fuzz_tid(uint8_t tid[STUN_TID_LEN], uint8_t fill, uint32_t n)
{
    memset(tid, fill, STUN_TID_LEN);
    memcpy(tid + 8, &n, 4);
}

/* An unsigned Allocate asking for transport (TURN_TRANSPORT_*), which the server answers with
 * 401 and a nonce. Its length. */
static inline size_t fuzz_unsigned_allocate(uint8_t buf[64], const uint8_t tid[STUN_TID_LEN],
                                            uint8_t transport)
{
    uint8_t value[4] = {transport};
    struct stun_builder b;
    int n;

    stun_build_init(&b, buf, 64, TURN_ALLOCATE, STUN_REQUEST, tid);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, value, 4);
    n = stun_finish(&b);
    CHECK(n > 0);
    return (size_t)n;
}

/* The long-term credentials of user which: 0 alice, 1 carol, 2 REST "<expiry>:bob", 3 REST
 * "<expiry>", whose password comes from secret; with wrong, a password off by a bit. The
 * username into user, the key into key. */
static inline void fuzz_credentials(unsigned which, long long expiry, const char *secret,
                                    bool wrong, char user[64], uint8_t key[16])
{
    char pass[64];

    if (which < 2) {
        snprintf(user, 64, "%s", ft_users[which][0]);
        snprintf(pass, sizeof(pass), "%s", ft_users[which][1]);
    } else {
        if (which == 2)
            snprintf(user, 64, "%lld:%s", expiry, FT_REST_USER);
        else
            snprintf(user, 64, "%lld", expiry);
        auth_rest_password(secret, user, pass);
    }
    if (wrong)
        pass[0] ^= 1;
    stun_long_term_key(user, strlen(user), FT_REALM, strlen(FT_REALM), pass, strlen(pass), key);
}

/* The attributes of a signed request's body into b: TLVs (type, 2-byte length, value; padding
 * optional, a TLV that does not fit ends them). With arg the value's first byte (0 without one),
 * FT_MACRO_PEER (FR_MACRO_PEER) is XOR-PEER-ADDRESS of resolve_peer(arg), and macro adds what the
 * harness's other macro types stand for, saying whether type was one. */
static inline void fuzz_add_tlvs(struct stun_builder *b, const uint8_t *tlvs, size_t len,
                                 void (*resolve_peer)(unsigned i, struct xt_addr *out),
                                 bool (*macro)(struct stun_builder *b, uint16_t type, uint8_t arg))
{
    size_t off = 0;

    while (off + 4 <= len) {
        uint16_t type = fz_get16(tlvs + off), alen = fz_get16(tlvs + off + 2);
        const uint8_t *val = tlvs + off + 4;
        if (off + 4 + alen > len)
            break;
        if (type == FT_MACRO_PEER) {
            struct xt_addr peer;
            resolve_peer(alen ? val[0] : 0, &peer);
            stun_add_xor_addr(b, TURN_ATTR_XOR_PEER_ADDRESS, &peer);
        } else if (!macro(b, type, alen ? val[0] : 0)) {
            stun_add_attr(b, type, val, alen);
        }
        off += 4u + alen;
    }
}

/* A server in the place of one of the daemon's workers; the fake I/O layer's ctx. */
struct fuzz_worker {
    int id;
    struct turn_server *s;
};

/* n servers of configuration c on shared (NULL: with state of their own), each with io and its
 * fuzz_worker as io's ctx. */
static inline void fuzz_servers_new(struct fuzz_worker *w, int n, const struct turn_config *c,
                                    struct turn_io io, const struct turn_time *now,
                                    struct turn_shared *shared)
{
    for (int i = 0; i < n; i++) {
        w[i].id = i;
        io.ctx = &w[i];
        w[i].s = turn_server_new(c, &io, now, shared);
        CHECK(w[i].s != NULL);
    }
}

/* The servers, then what they shared. */
static inline void fuzz_servers_free(struct fuzz_worker *w, int n, struct turn_shared *shared)
{
    for (int i = 0; i < n; i++)
        turn_server_free(w[i].s);
    turn_shared_free(shared);
}

/* Time passes (FT_TIME, FR_TIME): amount seconds, or milliseconds with arg bit 0; the wall clock
 * follows from the input's start; then the servers' timers run. */
static inline void fuzz_advance(struct turn_time *now, uint8_t arg, uint16_t amount,
                                struct fuzz_worker *w, int n)
{
    now->ms += arg & 1 ? amount : (uint64_t)amount * 1000;
    now->unix_s = FT_START_UNIX_S + (int64_t)((now->ms - FT_START_MS) / 1000);
    for (int i = 0; i < n; i++)
        turn_tick(w[i].s, now);
}
#endif

#endif
