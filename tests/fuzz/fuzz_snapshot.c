/* libFuzzer harness of the live upgrade's state (src/turn/turn_snapshot*.c, docs/UPGRADE_STATE.md):
 * the input is a snapshot whose header the harness gives the input's body length and CRC-32, so
 * that mutations reach the records. Decoding never crashes or leaks, and what it accepts
 * re-encodes to the input byte for byte when nothing was skipped and the minor version is this
 * build's, and otherwise to bytes that decode again to the same encoding. Then it is restored, as
 * the new process would, into a fresh shared state and two fresh servers with a fake I/O layer
 * (sockets by index) a few seconds after its capture: refused or not, every relayed socket the
 * servers took is closed once, by expiry or when they are freed, channel up and down calls pair
 * up, and LeakSanitizer sees nothing left. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define FUZZ_TURN_CORE
#include "common/log.h"
#include "fuzz_common.h"
#include "turn/turn_shared.h"
#include "turn/turn_snapshot.h"

#define HEADER_LEN 20
#define NSOCK      64
#define GAP_MS     5000

struct fsock {
    bool open;
    void *owner;
};

static struct {
    struct turn_config cfg;
    struct fsock socks[NSOCK];
    int mirrored;
} F;

static int relayed_open(void *ctx, const struct xt_addr *addr, int df, void *owner)
{
    (void)ctx;
    (void)addr;
    (void)df;
    (void)owner;
    return -1; /* a restore opens nothing: it imports */
}

static void relayed_close(void *ctx, int handle)
{
    (void)ctx;
    CHECK(handle >= 0 && handle < NSOCK && F.socks[handle].open);
    F.socks[handle].open = false;
}

static void send_nothing(void *ctx, int handle, const struct xt_addr *dst, const void *head,
                         size_t head_len, const void *body, size_t body_len, size_t pad)
{
    (void)ctx;
    (void)handle;
    (void)dst;
    (void)head;
    (void)head_len;
    (void)body;
    (void)body_len;
    (void)pad;
    CHECK(0); /* restoring and expiring send nothing */
}

static int channel_up(void *ctx, const struct turn_channel_info *ci)
{
    (void)ctx;
    CHECK(ci->peer->family == ci->relayed->family);
    F.mirrored++;
    return 0;
}

static void channel_down(void *ctx, const struct turn_channel_info *ci)
{
    (void)ctx;
    (void)ci;
    CHECK(--F.mirrored >= 0);
}

static int client_handle(void *ctx, uint32_t index)
{
    (void)ctx;
    return index < 1000 ? (int)(10000 + index) : -1;
}

static int relayed_handle(void *ctx, uint32_t index, const struct xt_addr *addr, bool tcp,
                          void *owner)
{
    (void)ctx;
    (void)index;
    (void)tcp;
    CHECK(addr->family == AF_INET || addr->family == AF_INET6);
    CHECK(addr->port >= FT_PORT_LO && addr->port <= FT_PORT_HI);
    for (int h = 0; h < NSOCK; h++)
        if (!F.socks[h].open) {
            F.socks[h] = (struct fsock){.open = true, .owner = owner};
            return h;
        }
    return -1;
}

static bool counters_zero(const struct turn_server *s)
{
    static const struct turn_counters zero[TURN_TRANSPORT_COUNT];
    return memcmp(turn_server_counters(s), zero, sizeof(zero)) == 0;
}

static int open_socks(void)
{
    int n = 0;
    for (int h = 0; h < NSOCK; h++)
        n += F.socks[h].open;
    return n;
}

/* Restores snap into a fresh shared state and two servers, expires everything, frees them. */
static void restore(const struct turn_snapshot *snap)
{
    struct turn_io io = {.relayed_open = relayed_open,
                         .relayed_close = relayed_close,
                         .send = send_nothing,
                         .channel_up = channel_up,
                         .channel_down = channel_down,
                         .random = fuzz_random};
    struct turn_snapshot_import im = {.client_handle = client_handle,
                                      .relayed_handle = relayed_handle};
    struct turn_time now = {.ms = snap->saved_ms + GAP_MS, .unix_s = FT_START_UNIX_S};
    struct turn_shared *sh = turn_shared_new(&F.cfg, &fuzz_random);
    struct turn_server *s[2] = {NULL, NULL};
    char err[256];

    CHECK(sh != NULL);
    if (now.ms < snap->saved_ms)
        now.ms = snap->saved_ms;
    /* Refused or not, the servers go on: what a refusal leaves must be nothing. */
    turn_snapshot_restore_shared(snap, sh, &now, err, sizeof(err));
    for (size_t i = 0; i < 2; i++) {
        s[i] = turn_server_new(&F.cfg, &io, &now, sh);
        CHECK(s[i] != NULL);
        if (turn_snapshot_restore_server(snap, i, s[i], &now, &im, err, sizeof(err)) != 0)
            CHECK(counters_zero(s[i]));
    }
    /* Nothing restored outlives the longest lifetime a snapshot can hold (unless the clock
     * would wrap first: a capture at the end of time). */
    if (now.ms + (uint64_t)UINT32_MAX * 1000 + 1 > now.ms) {
        now.ms += (uint64_t)UINT32_MAX * 1000 + 1;
        for (size_t i = 0; i < 2; i++)
            turn_tick(s[i], &now);
        CHECK(open_socks() == 0 && F.mirrored == 0);
        CHECK(turn_shared_allocations(sh) == 0);
    }
    for (size_t i = 0; i < 2; i++)
        turn_server_free(s[i]);
    CHECK(open_socks() == 0 && F.mirrored == 0);
    turn_shared_free(sh);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_setup(getenv("FUZZ_LOG") ? LOG_DEBUG : LOG_ERROR, LOG_JSON);
    fuzz_turn_config(&F.cfg);
    CHECK(xt_addr_parse_ip(FT_RELAY_V4, &F.cfg.relay_v4) == 0);
    CHECK(xt_addr_parse_ip(FT_RELAY_V6, &F.cfg.relay_v6) == 0);
    F.cfg.user_quota = 2;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct turn_snapshot snap, again;
    uint8_t *buf = malloc(size ? size : 1), *out = NULL, *out2 = NULL;
    size_t len = 0, len2 = 0;
    char err[256];

    CHECK(buf != NULL);
    memcpy(buf, data, size);
    if (size >= HEADER_LEN) {
        uint32_t body = (uint32_t)(size - HEADER_LEN),
                 crc = (uint32_t)crc32(0L, buf + HEADER_LEN, (uInt)body);
        for (int i = 0; i < 4; i++) {
            buf[12 + i] = (uint8_t)(body >> (8 * (3 - i)));
            buf[16 + i] = (uint8_t)(crc >> (8 * (3 - i)));
        }
    }
    fuzz_random_reset();
    if (turn_snapshot_decode(buf, size, &snap, err, sizeof(err)) == 0) {
        CHECK(turn_snapshot_encode(&snap, &out, &len) == 0);
        if (snap.skipped == 0 && snap.minor == TURN_SNAPSHOT_MINOR)
            CHECK(len == size && memcmp(out, buf, size) == 0);
        CHECK(turn_snapshot_decode(out, len, &again, err, sizeof(err)) == 0);
        CHECK(again.skipped == 0);
        CHECK(turn_snapshot_encode(&again, &out2, &len2) == 0);
        CHECK(len2 == len && memcmp(out2, out, len) == 0);
        restore(&again);
        turn_snapshot_free(&again);
        turn_snapshot_free(&snap);
    }
    free(out2);
    free(out);
    free(buf);
    return 0;
}
