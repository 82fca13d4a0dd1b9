/* What the fuzz harnesses share: the check that crashes (a trap libFuzzer reports with the
 * input), libFuzzer's entry points, and for the harnesses of the TURN core (fuzz_turn_server,
 * fuzz_tcp_relay) a random source reset for every input, so an input replays identically, and
 * the configuration of fuzz_formats.h's realm, users, secret and relay ports. */
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
#include "fuzz_formats.h"
#include "turn/turn_config.h"
#include "turn/turn_random.h"

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
#endif

#endif
