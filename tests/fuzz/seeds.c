/* Seed corpus of the fuzz harnesses, written at build time (never committed):
 *   seeds DIR  writes DIR/<harness>/seed-* for fuzz_stun, fuzz_turn_server, fuzz_xdp, fuzz_stream,
 *   fuzz_tcp_relay, fuzz_snapshot.
 * fuzz_stun: valid messages of every kind the relay handles (Binding, Allocate with each of its
 * attributes, Refresh, CreatePermission with several peers, ChannelBind, Send and Data
 * indications, responses and errors), signed and not, ChannelData with and without padding,
 * and the RFC 5769 vectors. fuzz_turn_server: record sequences (fuzz_formats.h) that allocate,
 * permit, bind, relay both ways, refresh, expire, under each configuration. fuzz_xdp: frames
 * for every binding of the harness, both directions, and the frames it must pass up.
 * fuzz_stream: STUN messages back to back, ChannelData padded and not of every length mod 4,
 * both mixed, and streams that fail, each read a byte at a time, in cuts, and as need asks.
 * fuzz_snapshot: the shared state alone, and with a reservation and two servers holding UDP,
 * dual, IPv6 and RFC 6062 allocations with permissions, channels and a cached response. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_formats.h"
#include "stun/stun.h"
#include "stun_test_vectors.h"
#include "turn/turn_snapshot.h"

static const char *out_dir;
static int written;

static void die(const char *what)
{
    fprintf(stderr, "seeds: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void mkdir_p(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die(path);
}

static void put_file(const char *harness, const char *name, const uint8_t *data, size_t len)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s/seed-%s", out_dir, harness, name);
    f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        die(path);
    written++;
}

/* ---- fuzz_stun ---- */

static const uint8_t key16[16] = {0x84, 0x93, 0xfb, 0xc5, 0x3b, 0xa5, 0x82, 0xfb,
                                  0x4c, 0x04, 0x4c, 0x45, 0x6b, 0xdc, 0x40, 0xeb};

static struct xt_addr addr(const char *s)
{
    struct xt_addr a;
    if (xt_addr_parse(s, 3478, &a) != 0)
        abort();
    return a;
}

static void tid_for(uint8_t tid[STUN_TID_LEN], int n)
{
    for (int i = 0; i < STUN_TID_LEN; i++)
        tid[i] = (uint8_t)(0x31 * (i + 1) + n);
}

enum sign { SIGN_NONE, SIGN_FP, SIGN_MI, SIGN_MI256, SIGN_BOTH };

static void credentials(struct stun_builder *b)
{
    stun_add_attr(b, STUN_ATTR_USERNAME, "alice", 5);
    stun_add_attr(b, STUN_ATTR_REALM, "xturn", 5);
    stun_add_attr(b, STUN_ATTR_NONCE, "6a3e9b10c0ffee00c0ffee00", 24);
}

static void finish_stun(const char *name, struct stun_builder *b, enum sign s)
{
    int n;
    if (s == SIGN_MI || s == SIGN_BOTH)
        stun_add_integrity(b, key16, sizeof(key16));
    if (s == SIGN_MI256 || s == SIGN_BOTH)
        stun_add_integrity_sha256(b, key16, sizeof(key16));
    if (s != SIGN_NONE)
        stun_add_fingerprint(b);
    n = stun_finish(b);
    if (n < 0)
        abort();
    put_file("fuzz_stun", name, b->buf, (size_t)n);
}

static void stun_seeds(void)
{
    uint8_t buf[1024], tid[STUN_TID_LEN], v4[4] = {TURN_FAMILY_IPV4}, v6[4] = {TURN_FAMILY_IPV6};
    uint8_t udp[4] = {TURN_TRANSPORT_UDP}, tcp[4] = {6}, even_r[1] = {0x80}, even[1] = {0};
    uint8_t token[8] = {1, 2, 3, 4, 5, 6, 7, 8}, cn[4] = {0x40, 0x01, 0, 0};
    uint16_t unknown[2] = {0x0031, 0x7001};
    struct stun_builder b;
    struct xt_addr a4 = addr("198.18.20.2:5000"), a6 = addr("[2001:db8:20::2]:5000");
    struct xt_addr a4b = addr("198.18.20.3:5001"), m4 = addr("198.18.1.2:40000");
    int n = 0;

#define START(method, cls)                                                                         \
    (tid_for(tid, n++), stun_build_init(&b, buf, sizeof(buf), method, cls, tid))

    START(STUN_BINDING, STUN_REQUEST);
    finish_stun("binding", &b, SIGN_NONE);
    START(STUN_BINDING, STUN_REQUEST);
    finish_stun("binding-fp", &b, SIGN_FP);
    START(STUN_BINDING, STUN_SUCCESS);
    stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &m4);
    finish_stun("binding-success-v4", &b, SIGN_FP);
    START(STUN_BINDING, STUN_SUCCESS);
    stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &a6);
    stun_add_attr(&b, STUN_ATTR_MAPPED_ADDRESS, (uint8_t[8]){0, 1, 0x13, 0x88, 198, 18, 20, 2}, 8);
    finish_stun("binding-success-v6", &b, SIGN_NONE);

    START(TURN_ALLOCATE, STUN_REQUEST);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    finish_stun("allocate-unsigned", &b, SIGN_FP);
    START(TURN_ALLOCATE, STUN_REQUEST);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, tcp, 4);
    credentials(&b);
    finish_stun("allocate-tcp", &b, SIGN_MI);
    START(TURN_ALLOCATE, STUN_REQUEST);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_u32(&b, TURN_ATTR_LIFETIME, 1200);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, v6, 4);
    stun_add_attr(&b, TURN_ATTR_DONT_FRAGMENT, NULL, 0);
    credentials(&b);
    finish_stun("allocate-v6-lifetime-df", &b, SIGN_MI);
    START(TURN_ALLOCATE, STUN_REQUEST);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, v4, 4);
    stun_add_attr(&b, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY, v6, 4);
    credentials(&b);
    finish_stun("allocate-dual", &b, SIGN_MI256);
    START(TURN_ALLOCATE, STUN_REQUEST);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY_OLD, v6, 4);
    credentials(&b);
    finish_stun("allocate-dual-old", &b, SIGN_BOTH);
    START(TURN_ALLOCATE, STUN_REQUEST);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, TURN_ATTR_EVEN_PORT, even_r, 1);
    credentials(&b);
    finish_stun("allocate-even-port-r", &b, SIGN_MI);
    START(TURN_ALLOCATE, STUN_REQUEST);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, TURN_ATTR_EVEN_PORT, even, 1);
    credentials(&b);
    finish_stun("allocate-even-port", &b, SIGN_MI);
    START(TURN_ALLOCATE, STUN_REQUEST);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    stun_add_attr(&b, TURN_ATTR_RESERVATION_TOKEN, token, 8);
    credentials(&b);
    finish_stun("allocate-token", &b, SIGN_MI);
    START(TURN_ALLOCATE, STUN_SUCCESS);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_RELAYED_ADDRESS, &a4);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_RELAYED_ADDRESS, &a6);
    stun_add_u32(&b, TURN_ATTR_LIFETIME, 600);
    stun_add_attr(&b, TURN_ATTR_RESERVATION_TOKEN, token, 8);
    stun_add_attr(&b, TURN_ATTR_ADDRESS_ERROR_CODE, (uint8_t[8]){2, 0, 4, 40, 'A', 'd', 'd', 'r'},
                  8);
    stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &m4);
    finish_stun("allocate-success", &b, SIGN_MI);
    START(TURN_ALLOCATE, STUN_ERROR);
    stun_add_error(&b, 401);
    stun_add_attr(&b, STUN_ATTR_REALM, "xturn", 5);
    stun_add_attr(&b, STUN_ATTR_NONCE, "6a3e9b10c0ffee00c0ffee00", 24);
    finish_stun("error-401", &b, SIGN_FP);
    START(TURN_ALLOCATE, STUN_ERROR);
    stun_add_error(&b, 420);
    stun_add_unknown_attrs(&b, unknown, 2);
    finish_stun("error-420", &b, SIGN_FP);
    START(TURN_REFRESH, STUN_ERROR);
    stun_add_error(&b, 438);
    finish_stun("error-438", &b, SIGN_NONE);

    START(TURN_REFRESH, STUN_REQUEST);
    stun_add_u32(&b, TURN_ATTR_LIFETIME, 0);
    credentials(&b);
    finish_stun("refresh-0", &b, SIGN_MI);
    START(TURN_REFRESH, STUN_REQUEST);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, v6, 4);
    credentials(&b);
    finish_stun("refresh-v6", &b, SIGN_MI256);
    START(TURN_CREATE_PERMISSION, STUN_REQUEST);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &a4);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &a4b);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &a6);
    credentials(&b);
    finish_stun("create-permission-3", &b, SIGN_MI);
    START(TURN_CHANNEL_BIND, STUN_REQUEST);
    stun_add_attr(&b, TURN_ATTR_CHANNEL_NUMBER, cn, 4);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &a6);
    credentials(&b);
    finish_stun("channel-bind", &b, SIGN_MI);
    START(TURN_SEND, STUN_INDICATION);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &a4);
    stun_add_attr(&b, TURN_ATTR_DATA, "hello peer", 10);
    finish_stun("send-indication", &b, SIGN_NONE);
    START(TURN_DATA, STUN_INDICATION);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &a6);
    stun_add_attr(&b, TURN_ATTR_DATA, "hello client!", 13);
    finish_stun("data-indication", &b, SIGN_NONE);
    /* integrity variants: a truncated SHA256 one, attributes after MESSAGE-INTEGRITY */
    START(STUN_BINDING, STUN_REQUEST);
    credentials(&b);
    stun_add_integrity_sha256(&b, key16, sizeof(key16));
    b.len -= 16;
    buf[2] = (uint8_t)((b.len - 20) >> 8);
    buf[3] = (uint8_t)(b.len - 20);
    buf[b.len - 16 - 4 + 3] = 16;
    put_file("fuzz_stun", "mi256-truncated", buf, b.len);
    START(STUN_BINDING, STUN_REQUEST);
    credentials(&b);
    stun_add_integrity(&b, key16, sizeof(key16));
    stun_add_attr(&b, STUN_ATTR_SOFTWARE, "ignored", 7);
    stun_add_integrity_sha256(&b, key16, sizeof(key16));
    stun_add_attr(&b, STUN_ATTR_PRIORITY, "\0\0\0\1", 4);
    finish_stun("after-integrity", &b, SIGN_FP);
    START(TURN_ALLOCATE, STUN_REQUEST);
    stun_add_attr(&b, 0x0031, "x", 1);
    stun_add_attr(&b, 0x8050, "yy", 2);
    stun_add_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp, 4);
    finish_stun("unknown-attributes", &b, SIGN_FP);

    /* ChannelData: no padding, padding to 4, length beyond the datagram */
    {
        uint8_t cd[16] = {0x40, 0x01, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o', 0, 0, 0};
        put_file("fuzz_stun", "channeldata", cd, 9);
        put_file("fuzz_stun", "channeldata-padded", cd, 12);
        cd[3] = 0x0d;
        put_file("fuzz_stun", "channeldata-long", cd, 12);
    }
    /* RFC 5769 */
    {
        static const char *const vec[] = {rfc5769_request, rfc5769_response_v4, rfc5769_response_v6,
                                          rfc5769_request_long_term};
        static const char *const names[] = {"rfc5769-request", "rfc5769-response-v4",
                                            "rfc5769-response-v6", "rfc5769-long-term"};
        for (int i = 0; i < 4; i++)
            put_file("fuzz_stun", names[i], buf, hex_decode(vec[i], buf, sizeof(buf)));
    }
#undef START
}

/* ---- fuzz_turn_server ---- */

struct rec {
    uint8_t buf[32768];
    size_t len;
};

static void rec_start(struct rec *r, uint8_t config)
{
    r->buf[0] = config;
    r->buf[1] = 0;
    r->len = FT_CONFIG_LEN;
}

/* The same records, with two servers sharing their state. */
static void put_rec_workers(const char *name, struct rec *r)
{
    char n[128];
    snprintf(n, sizeof(n), "%s-workers", name);
    r->buf[1] |= FT_CFG2_WORKERS;
    put_file("fuzz_turn_server", n, r->buf, r->len);
    r->buf[1] &= (uint8_t)~FT_CFG2_WORKERS;
}

static void rec_add(struct rec *r, uint8_t kind, uint8_t arg, uint16_t field, const void *body,
                    size_t len)
{
    if (r->len + FT_HDR_LEN + len > sizeof(r->buf))
        abort();
    r->buf[r->len] = kind;
    r->buf[r->len + 1] = arg;
    fz_put16(r->buf + r->len + 2, field);
    if (len)
        memcpy(r->buf + r->len + FT_HDR_LEN, body, len);
    r->len += FT_HDR_LEN + len;
}

/* An FT_SIGNED body: method index, user, integrity, flags, then TLVs given as
 * (type, length, value) triples ending with type 0. */
static void rec_signed(struct rec *r, uint8_t client, int method_i, int user, int integ, int flags,
                       ...)
{
    uint8_t body[512];
    size_t n = 2;
    va_list ap;

    body[0] = (uint8_t)(method_i | user << 3 | integ << 5);
    body[1] = (uint8_t)flags;
    va_start(ap, flags);
    for (;;) {
        int type = va_arg(ap, int);
        int len;
        const uint8_t *val;
        if (!type)
            break;
        len = va_arg(ap, int);
        val = va_arg(ap, const uint8_t *);
        fz_put16(body + n, (uint16_t)type);
        fz_put16(body + n + 2, (uint16_t)len);
        if (len)
            memcpy(body + n + 4, val, (size_t)len);
        n += 4 + (size_t)len;
    }
    va_end(ap);
    rec_add(r, FT_SIGNED, client, (uint16_t)n, body, n);
}

enum { M_ALLOCATE, M_REFRESH, M_PERMISSION, M_BIND, M_BINDING, M_SEND };

static const uint8_t UDP[4] = {17}, FAM4[4] = {1}, FAM6[4] = {2}, EVEN_R[1] = {0x80};
static const uint8_t NONE[1] = {0};

#define TRANSPORT TURN_ATTR_REQUESTED_TRANSPORT, 4, UDP
#define PEER(i)                                                                                    \
    FT_MACRO_PEER, 1, (const uint8_t[1])                                                           \
    {                                                                                              \
        i                                                                                          \
    }
#define CHANNEL(c)                                                                                 \
    TURN_ATTR_CHANNEL_NUMBER, 4, (const uint8_t[4])                                                \
    {                                                                                              \
        (c) >> 8, (c)&0xff                                                                         \
    }
#define LIFETIME(s)                                                                                \
    TURN_ATTR_LIFETIME, 4, (const uint8_t[4])                                                      \
    {                                                                                              \
        0, 0, (s) >> 8, (s)&0xff                                                                   \
    }

static void put_rec(const char *name, struct rec *r)
{
    put_file("fuzz_turn_server", name, r->buf, r->len);
    put_rec_workers(name, r);
}

static void turn_seeds(void)
{
    struct rec r;
    uint8_t stun[256], tid[STUN_TID_LEN] = {9, 9, 9};
    struct stun_builder b;
    int n;

    /* Binding from every client, over both listen sockets */
    rec_start(&r, 0);
    stun_build_init(&b, stun, sizeof(stun), STUN_BINDING, STUN_REQUEST, tid);
    stun_add_fingerprint(&b);
    n = stun_finish(&b);
    for (uint8_t c = 0; c < 8; c++)
        rec_add(&r, FT_RAW, c, (uint16_t)n, stun, (size_t)n);
    rec_add(&r, FT_RESEND, 0, 0, NULL, 0);
    put_rec("binding", &r);

    /* alice over IPv4: allocate, permit, bind, relay both ways, refresh, delete */
    for (int cfg = 0; cfg < 2; cfg++) {
        rec_start(&r, cfg ? (uint8_t)(3 | FT_CFG_PUBLIC) : 0);
        rec_signed(&r, 0, M_ALLOCATE, 0, 0, 0, TRANSPORT, 0);
        rec_signed(&r, 0, M_PERMISSION, 0, 0, FT_SIG_FINGERPRINT, PEER(0), PEER(2), 0);
        rec_signed(&r, 0, M_BIND, 0, 0, 0, CHANNEL(0x4001), PEER(0), 0);
        rec_add(&r, FT_CHANNELDATA, 0 | 1 << 3, 5, "hello", 5);
        rec_add(&r, FT_CHANNELDATA | 3 << 3, 0 | 1 << 3, 5, "hello", 5);
        rec_add(&r, FT_PEER, 0x00, 6, "answer", 6);
        rec_add(&r, FT_SEND, 0x00, 4, "sent", 4);
        rec_add(&r, FT_SEND | 0x08, 0x40, 4, "deny", 4);
        rec_add(&r, FT_PEER, 0x20, 7, "nothing", 7);
        rec_add(&r, FT_TIME, 0, 299, NULL, 0);
        rec_signed(&r, 0, M_REFRESH, 0, 1, 0, LIFETIME(1800), 0);
        rec_add(&r, FT_TIME, 0, 301, NULL, 0);
        rec_add(&r, FT_PEER, 0x00, 5, "stale", 5);
        rec_signed(&r, 0, M_REFRESH, 0, 2, FT_SIG_FINGERPRINT, LIFETIME(0), 0);
        rec_add(&r, FT_RESEND, 0, 0, NULL, 0);
        put_rec(cfg ? "ipv4-flow-public" : "ipv4-flow", &r);
    }

    /* IPv6 client, dual allocation, both peer families, Data indications without a channel */
    rec_start(&r, 2);
    rec_signed(&r, 2, M_ALLOCATE, 2, 0, 0, TRANSPORT, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY, 4, FAM6,
               TURN_ATTR_DONT_FRAGMENT, 0, NONE, 0);
    rec_signed(&r, 2, M_PERMISSION, 2, 1, 0, PEER(0), PEER(1), 0);
    rec_signed(&r, 2, M_BIND, 2, 1, 0, CHANNEL(0x401f), PEER(1), 0);
    rec_add(&r, FT_PEER, 0x10, 3, "abc", 3); /* socket 0 (v4) from the v6 peer: ignored */
    rec_add(&r, FT_PEER, 0x11, 3, "abc", 3);
    rec_add(&r, FT_PEER, 0x00, 9, "via data", 9);
    rec_add(&r, FT_CHANNELDATA, 2 | 31 << 3, 1, "x", 1);
    rec_signed(&r, 2, M_REFRESH, 2, 0, 0, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, 4, FAM6, 0);
    rec_add(&r, FT_TIME, 0, 700, NULL, 0);
    rec_signed(&r, 2, M_REFRESH, 2, 0, 0, 0);
    put_rec("ipv6-dual", &r);

    /* client to client through the relay */
    rec_start(&r, 0);
    rec_signed(&r, 0, M_ALLOCATE, 0, 0, 0, TRANSPORT, 0);
    rec_signed(&r, 3, M_ALLOCATE, 1, 0, 0, TRANSPORT, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, 4, FAM4,
               0);
    rec_signed(&r, 0, M_PERMISSION, 0, 0, 0, PEER(11), 0);
    rec_signed(&r, 3, M_PERMISSION, 1, 0, 0, PEER(10), 0);
    rec_signed(&r, 0, M_BIND, 0, 0, 0, CHANNEL(0x4002), PEER(11), 0);
    rec_signed(&r, 3, M_BIND, 1, 0, 0, CHANNEL(0x4003), PEER(10), 0);
    rec_add(&r, FT_CHANNELDATA, 0 | 2 << 3, 4, "ping", 4);
    rec_add(&r, FT_CHANNELDATA, 3 | 3 << 3, 4, "pong", 4);
    rec_add(&r, FT_SEND, 0xb0, 3, "via", 3);
    put_rec("client-to-client", &r);

    /* EVEN-PORT with a reservation, taken by another client; busy ports; ports running out */
    rec_start(&r, 0);
    rec_add(&r, FT_CONTROL, 0, 2, NULL, 0);
    rec_signed(&r, 0, M_ALLOCATE, 0, 0, 0, TRANSPORT, TURN_ATTR_EVEN_PORT, 1, EVEN_R, 0);
    rec_signed(&r, 1, M_ALLOCATE, 3, 0, 0, TRANSPORT, FT_MACRO_TOKEN, 0, NONE, 0);
    rec_signed(&r, 2, M_ALLOCATE, 0, 0, 0, TRANSPORT, 0);
    rec_signed(&r, 3, M_ALLOCATE, 0, 0, 0, TRANSPORT, 0);
    rec_signed(&r, 0 | FT_ARG_LISTEN2, M_ALLOCATE, 1, 0, 0, TRANSPORT, 0);
    rec_signed(&r, 1 | FT_ARG_LISTEN2, M_ALLOCATE, 2, 0, 0, TRANSPORT, 0);
    rec_signed(&r, 2 | FT_ARG_LISTEN2, M_ALLOCATE, 2, 0, 0, TRANSPORT, 0);
    rec_signed(&r, 3 | FT_ARG_LISTEN2, M_ALLOCATE, 2, 0, 0, TRANSPORT, 0);
    rec_add(&r, FT_TIME, 0, 31, NULL, 0);
    rec_signed(&r, 1, M_ALLOCATE, 3, 0, FT_SIG_REUSE_TID, TRANSPORT, FT_MACRO_TOKEN, 0, NONE, 0);
    put_rec("even-port-token", &r);

    /* authentication: another user on alice's allocation, wrong password, stale nonce,
     * expired REST user, bad realm, no username, retransmissions */
    rec_start(&r, 3);
    rec_signed(&r, 0, M_ALLOCATE, 0, 0, 0, TRANSPORT, 0);
    rec_signed(&r, 0, M_ALLOCATE, 0, 0, FT_SIG_REUSE_TID, TRANSPORT, 0);
    rec_signed(&r, 0, M_ALLOCATE, 0, 0, 0, TRANSPORT, 0);
    rec_signed(&r, 0, M_REFRESH, 1, 0, 0, 0);
    rec_signed(&r, 0, M_REFRESH, 0, 0, FT_SIG_WRONG_PASSWORD, 0);
    rec_signed(&r, 0, M_REFRESH, 0, 0, FT_SIG_BAD_NONCE, 0);
    rec_signed(&r, 0, M_REFRESH, 0, 0, FT_SIG_BAD_REALM, 0);
    rec_signed(&r, 0, M_REFRESH, 0, 0, FT_SIG_NO_USERNAME, 0);
    rec_signed(&r, 1, M_ALLOCATE, 2, 0, FT_SIG_EXPIRED, TRANSPORT, 0);
    rec_signed(&r, 1, M_ALLOCATE, 3, 3, 0, TRANSPORT, 0);
    rec_signed(&r, 0, M_BINDING, 0, 0, 0, 0);
    rec_signed(&r, 0, M_SEND, 0, 0, FT_SIG_INDICATION, PEER(0), TURN_ATTR_DATA, 2, "hi", 0);
    rec_signed(&r, 0, 7, 0, 0, 0, 0);
    rec_add(&r, FT_TIME, 0, 601, NULL, 0);
    rec_signed(&r, 0, M_REFRESH, 0, 0, 0, 0);
    rec_add(&r, FT_TIME, 1, 999, NULL, 0);
    rec_add(&r, FT_TIME, 0, 5000, NULL, 0);
    put_rec("auth", &r);

    /* configurations: strict channels, quota, allocation limit, no IPv6 */
    rec_start(&r, FT_CFG_STRICT_CHANNELS | FT_CFG_USER_QUOTA | FT_CFG_MAX_ALLOCS | FT_CFG_NO_IPV6 |
                      FT_CFG_LOG_TEXT | 3);
    rec_signed(&r, 0, M_ALLOCATE, 0, 0, 0, TRANSPORT, 0);
    rec_signed(&r, 1, M_ALLOCATE, 0, 0, 0, TRANSPORT, 0);
    rec_signed(&r, 2, M_ALLOCATE, 0, 0, 0, TRANSPORT, 0);
    rec_signed(&r, 3, M_ALLOCATE, 1, 0, 0, TRANSPORT, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY, 4, FAM6,
               0);
    rec_signed(&r, 0, M_BIND, 0, 0, 0, CHANNEL(0x5000), PEER(0), 0);
    rec_signed(&r, 0, M_BIND, 0, 0, 0, CHANNEL(0x4000), PEER(4), 0);
    rec_signed(&r, 0, M_BIND, 0, 0, 0, CHANNEL(0x4000), PEER(1), 0);
    rec_signed(&r, 0, M_BIND, 0, 0, 0, CHANNEL(0x4000), PEER(0), 0);
    rec_signed(&r, 0, M_BIND, 0, 0, 0, CHANNEL(0x4001), PEER(0), 0);
    rec_signed(&r, 0, M_PERMISSION, 0, 0, 0, PEER(8), 0);
    rec_signed(&r, 0, M_PERMISSION, 0, 0, 0, PEER(10), 0);
    rec_add(&r, FT_SEND, 0x80, 2, "me", 2);
    put_rec("config-limits", &r);

    /* the host's addresses change under a channel (revoked), caps on permissions and channels */
    rec_start(&r, 0);
    rec_signed(&r, 0, M_ALLOCATE, 0, 0, 0, TRANSPORT, 0);
    rec_signed(&r, 0, M_BIND, 0, 0, 0, CHANNEL(0x4000), PEER(2), 0);
    rec_add(&r, FT_CHANNELDATA, 0, 2, "hi", 2);
    rec_add(&r, FT_CONTROL, FT_CTL_HOST, 0, NULL, 0);
    rec_add(&r, FT_TIME, 0, 1000, NULL, 0);
    rec_add(&r, FT_CHANNELDATA, 0, 2, "hi", 2);
    rec_signed(&r, 0, M_PERMISSION, 0, 0, 0, PEER(2), 0);
    rec_add(&r, FT_CONTROL, FT_CTL_HOST, 0, NULL, 0);
    rec_add(&r, FT_TIME, 0, 1000, NULL, 0);
    rec_signed(&r, 0, M_PERMISSION, 0, 0, 0, PEER(2), PEER(0), PEER(1), PEER(3), 0);
    rec_signed(&r, 0, M_BIND, 0, 0, 0, CHANNEL(0x4001), PEER(0), 0);
    rec_signed(&r, 0, M_BIND, 0, 0, 0, CHANNEL(0x4002), PEER(1), 0);
    rec_signed(&r, 1, M_ALLOCATE, 0, 0, 0, TRANSPORT, 0);
    rec_signed(&r, 0, M_PERMISSION, 0, 0, 0, PEER(10), 0);
    put_rec("host-addresses-and-caps", &r);

    /* operations: --max-bps, secret rotation, draining with alternate servers */
    {
        static uint8_t big[2000];
        rec_start(&r, 0);
        r.buf[1] = FT_CFG2_MAX_BPS | FT_CFG2_ALTERNATE;
        rec_signed(&r, 0, M_ALLOCATE, 0, 0, 0, TRANSPORT, 0);
        rec_signed(&r, 0, M_BIND, 0, 0, 0, CHANNEL(0x4000), PEER(0), 0);
        for (int i = 0; i < 3; i++)
            rec_add(&r, FT_CHANNELDATA, 0, sizeof(big), big, sizeof(big));
        rec_add(&r, FT_PEER, 0x00, sizeof(big), big, sizeof(big));
        rec_add(&r, FT_TIME, 1, 700, NULL, 0);
        rec_add(&r, FT_PEER, 0x00, sizeof(big), big, sizeof(big));
        rec_signed(&r, 1, M_ALLOCATE, 2, 0, 0, TRANSPORT, 0);
        rec_add(&r, FT_CONTROL, FT_CTL_SECRETS21, 0, NULL, 0);
        rec_signed(&r, 2, M_ALLOCATE | FT_SIG_SECRET2, 2, 0, 0, TRANSPORT, 0);
        rec_add(&r, FT_CONTROL, FT_CTL_SECRET2, 0, NULL, 0);
        rec_signed(&r, 1, M_REFRESH, 2, 0, 0, 0);
        rec_add(&r, FT_CONTROL, FT_CTL_DRAIN, 0, NULL, 0);
        rec_signed(&r, 3, M_ALLOCATE, 0, 0, 0, TRANSPORT, 0);
        rec_signed(&r, 1, M_ALLOCATE, 0, 0, 0, TRANSPORT, 0);
        rec_signed(&r, 0, M_REFRESH, 0, 0, 0, 0);
        rec_add(&r, FT_CONTROL, FT_CTL_NO_SECRET, 0, NULL, 0);
        rec_add(&r, FT_CONTROL, FT_CTL_DRAIN, 0, NULL, 0);
        rec_signed(&r, 3, M_ALLOCATE, 3, 0, 0, TRANSPORT, 0);
        put_rec("operations", &r);
        r.buf[1] = FT_CFG2_PRIVATE;
        put_file("fuzz_turn_server", "operations-private", r.buf, r.len);
    }
}

/* ---- fuzz_xdp ---- */

static size_t ip_of(const char *s, uint8_t ip[16])
{
    int fam = strchr(s, ':') ? AF_INET6 : AF_INET;
    memset(ip, 0, 16);
    if (inet_pton(fam, s, ip) != 1)
        abort();
    return fam == AF_INET ? 4 : 16;
}

static void xdp_frame(const char *name, uint8_t flags, uint8_t pads, const struct fx_ep *src,
                      const struct fx_ep *dst, const uint8_t *payload, size_t plen,
                      void (*mutate)(uint8_t *f, size_t *len))
{
    uint8_t buf[FX_HDR_LEN + 2048], sip[16], dip[16];
    size_t alen = ip_of(src->ip, sip), len;

    if (ip_of(dst->ip, dip) != alen)
        abort();
    buf[0] = flags;
    buf[1] = pads;
    len = fz_udp_frame(buf + FX_HDR_LEN, fx_mac_xt0, fx_mac_gw_c, alen, sip, src->port, dip,
                       dst->port, payload, plen);
    for (size_t i = 0; i < (pads & 0x0fu); i++)
        buf[FX_HDR_LEN + len++] = (uint8_t)(0x5a + i);
    if (mutate)
        mutate(buf + FX_HDR_LEN, &len);
    put_file("fuzz_xdp", name, buf, FX_HDR_LEN + len);
}

static void m_ip_options(uint8_t *f, size_t *len)
{
    memmove(f + 14 + 24, f + 14 + 20, *len - 34);
    memset(f + 34, 1, 4);
    f[14] = 0x46;
    fz_put16(f + 16, (uint16_t)(fz_get16(f + 16) + 4));
    *len += 4;
    fz_ip4_set_csum(f + 14, 24);
}

static void m_fragment(uint8_t *f, size_t *len)
{
    (void)len;
    fz_put16(f + 14 + 6, 0x2000);
    fz_ip4_set_csum(f + 14, 20);
}

static void m_ttl_0(uint8_t *f, size_t *len)
{
    (void)len;
    f[14 + 8] = 0;
    fz_ip4_set_csum(f + 14, 20);
}

static void m_hop_by_hop(uint8_t *f, size_t *len)
{
    const uint8_t hbh[8] = {17, 0, 1, 4, 0, 0, 0, 0};
    memmove(f + 14 + 48, f + 14 + 40, *len - 54);
    memcpy(f + 14 + 40, hbh, 8);
    f[14 + 6] = 0;
    fz_put16(f + 14 + 4, (uint16_t)(fz_get16(f + 14 + 4) + 8));
    *len += 8;
}

static void m_arp(uint8_t *f, size_t *len)
{
    (void)len;
    fz_put16(f + 12, 0x0806);
}

static void xdp_seeds(void)
{
    uint8_t data[1600];
    const struct fx_ep listen4 = {FX_LISTEN_V4, FX_PORT}, listen6 = {FX_LISTEN_V6, FX_PORT};
    char name[64];

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 131 + 17);
    for (size_t i = 0; i < FX_NBINDINGS; i++) {
        const struct fx_binding *b = &fx_bindings[i];
        bool v6 = strchr(b->client.ip, ':') != NULL;
        uint8_t cd[4 + 128 + 3];
        size_t plen = 17 + i * 3, pad = i % 4;
        struct fx_ep relay = {strchr(b->peer.ip, ':') ? FX_LISTEN_V6 : FX_LISTEN_V4, b->relay_port};

        fz_put16(cd, b->channel);
        fz_put16(cd + 2, (uint16_t)plen);
        memcpy(cd + 4, data, plen);
        memset(cd + 4 + plen, 0, pad);
        snprintf(name, sizeof(name), "c2p-%zu", i);
        xdp_frame(name, FX_ALL_FIXES, (uint8_t)(pad << 4), &b->client, v6 ? &listen6 : &listen4, cd,
                  4 + plen + pad, NULL);
        snprintf(name, sizeof(name), "c2p-%zu-strict", i);
        xdp_frame(name, FX_ALL_FIXES | FX_STRICT, (uint8_t)(pad << 4), &b->client,
                  v6 ? &listen6 : &listen4, cd, 4 + plen + pad, NULL);
        snprintf(name, sizeof(name), "p2c-%zu", i);
        xdp_frame(name, FX_ALL_FIXES, (uint8_t)(i % 16), &b->peer, &relay, data, plen + i, NULL);
    }
    /* sizes: the MTU (1500 out), beyond it; zero checksum; arriving on xt1 */
    {
        const struct fx_binding *b = &fx_bindings[1]; /* 4 -> 6 */
        uint8_t cd[4 + 1500];
        fz_put16(cd, b->channel);
        fz_put16(cd + 2, 1452);
        memcpy(cd + 4, data, 1452);
        xdp_frame("c2p-46-mtu", FX_ALL_FIXES, 0, &b->client, &listen4, cd, 4 + 1452, NULL);
        fz_put16(cd + 2, 1453);
        memcpy(cd + 4, data, 1453);
        xdp_frame("c2p-46-over-mtu", FX_ALL_FIXES, 0, &b->client, &listen4, cd, 4 + 1453, NULL);
        xdp_frame("c2p-46-zero-csum", FX_ALL_FIXES | FX_ZERO_CSUM, 0, &b->client, &listen4, cd,
                  4 + 100, NULL);
        b = &fx_bindings[0];
        fz_put16(cd, b->channel);
        fz_put16(cd + 2, 100);
        xdp_frame("c2p-44-zero-csum", FX_ALL_FIXES | FX_ZERO_CSUM, 0, &b->client, &listen4, cd,
                  4 + 100, NULL);
        xdp_frame("c2p-44-xt1", FX_ALL_FIXES | FX_INGRESS_XT1, 0, &b->client, &listen4, cd, 4 + 100,
                  NULL);
        xdp_frame("c2p-44-no-fixes", 0, 0, &b->client, &listen4, cd, 4 + 100, NULL);
        xdp_frame("ip-options", FX_FIX_UDP_CSUM | FX_FIX_CD_LEN, 0, &b->client, &listen4, cd, 104,
                  m_ip_options);
        xdp_frame("fragment", 0, 0, &b->client, &listen4, cd, 104, m_fragment);
        xdp_frame("ttl-0", FX_ALL_FIXES, 0, &b->client, &listen4, cd, 104, m_ttl_0);
        xdp_frame("arp", 0, 0, &b->client, &listen4, cd, 104, m_arp);
        b = &fx_bindings[3];
        fz_put16(cd, b->channel);
        xdp_frame("hop-by-hop", 0, 0, &b->client, &listen6, cd, 104, m_hop_by_hop);
        /* STUN to the listen port */
        memset(cd, 0, 20);
        cd[1] = 1;
        cd[4] = 0x21, cd[5] = 0x12, cd[6] = 0xa4, cd[7] = 0x42;
        xdp_frame("stun", FX_ALL_FIXES & ~FX_FIX_CD_LEN, 0, &b->client, &listen6, cd, 20, NULL);
    }
}

/* ---- fuzz_stream ---- */

struct stream_seed {
    uint8_t buf[2048];
    size_t len;
};

/* A STUN message with FINGERPRINT and, when data_len, a DATA attribute (Send indications). */
static void ss_stun(struct stream_seed *s, uint16_t method, uint8_t cls, size_t data_len)
{
    struct stun_builder b;
    uint8_t tid[STUN_TID_LEN], data[64];
    int n;

    if (data_len > sizeof(data))
        abort();
    tid_for(tid, (int)s->len);
    stun_build_init(&b, s->buf + s->len, sizeof(s->buf) - s->len, method, cls, tid);
    memset(data, 0x5a, data_len);
    if (data_len > 0)
        stun_add_attr(&b, TURN_ATTR_DATA, data, data_len);
    stun_add_fingerprint(&b);
    n = stun_finish(&b);
    if (n < 0)
        abort();
    s->len += (size_t)n;
}

/* ChannelData; padded: with the zero bytes that align it to 4. */
static void ss_cd(struct stream_seed *s, uint16_t channel, size_t len, bool padded)
{
    size_t pad = padded ? (4 - len % 4) % 4 : 0;

    if (s->len + CHANNELDATA_HEADER_LEN + len + pad > sizeof(s->buf))
        abort();
    channeldata_header(s->buf + s->len, channel, len);
    memset(s->buf + s->len + CHANNELDATA_HEADER_LEN, 0xc3, len);
    memset(s->buf + s->len + CHANNELDATA_HEADER_LEN + len, 0, pad);
    s->len += CHANNELDATA_HEADER_LEN + len + pad;
}

static void ss_raw(struct stream_seed *s, const void *bytes, size_t len)
{
    if (s->len + len > sizeof(s->buf))
        abort();
    memcpy(s->buf + s->len, bytes, len);
    s->len += len;
}

/* The stream three ways: a byte at a time, in reads of 3, 7 and 19 bytes, and in reads of what
 * the framer needs (at most 256 bytes). */
static void put_stream(const char *name, const struct stream_seed *s)
{
    static const struct {
        const char *how;
        uint8_t head[4];
        size_t head_len;
    } reads[] = {
        {"bytes", {0}, 1},
        {"cuts", {3, 2, 6, 18}, 4},
        {"need", {FS_READ_NEED | 1, 255}, 2},
    };
    uint8_t out[sizeof(s->buf) + 4];
    char full[128];

    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        memcpy(out, reads[i].head, reads[i].head_len);
        memcpy(out + reads[i].head_len, s->buf, s->len);
        snprintf(full, sizeof(full), "%s-%s", name, reads[i].how);
        put_file("fuzz_stream", full, out, reads[i].head_len + s->len);
    }
}

static void stream_seeds(void)
{
    static const uint8_t tls_hello[16] = {0x16, 0x03, 0x01, 0x00, 0xf8, 0x01, 0x00, 0x00,
                                          0xf4, 0x03, 0x03, 0x5b, 0x1e, 0x7c, 0x00, 0x11};
    static const uint8_t channel_5000[8] = {0x50, 0x00, 0x00, 0x04, 1, 2, 3, 4};
    struct stream_seed s;

    memset(&s, 0, sizeof(s));
    ss_stun(&s, STUN_BINDING, STUN_REQUEST, 0);
    ss_stun(&s, TURN_ALLOCATE, STUN_REQUEST, 0);
    ss_stun(&s, TURN_SEND, STUN_INDICATION, 5);
    ss_stun(&s, TURN_CHANNEL_BIND, STUN_REQUEST, 0);
    ss_stun(&s, TURN_REFRESH, STUN_REQUEST, 0);
    put_stream("stun-back-to-back", &s);

    for (int padded = 0; padded < 2; padded++) {
        memset(&s, 0, sizeof(s));
        for (size_t len = 0; len < 8; len++) {
            ss_cd(&s, 0x4001, len, padded);
            ss_cd(&s, 0x4FFF, len + 1, padded);
            ss_stun(&s, TURN_SEND, STUN_INDICATION, len);
        }
        put_stream(padded ? "channeldata-padded" : "channeldata-unpadded", &s);
    }

    memset(&s, 0, sizeof(s));
    ss_cd(&s, 0x4000, 1, true);
    ss_cd(&s, 0x4000, 1, false);
    ss_stun(&s, STUN_BINDING, STUN_REQUEST, 0);
    ss_cd(&s, 0x4abc, 6, false);
    ss_cd(&s, 0x4abc, 7, true);
    ss_stun(&s, TURN_SEND, STUN_INDICATION, 3);
    ss_cd(&s, 0x4002, 3, true);
    put_stream("mixed", &s);

    /* Streams that fail: TLS on the plain port, a reserved channel, after good messages. */
    memset(&s, 0, sizeof(s));
    ss_raw(&s, tls_hello, sizeof(tls_hello));
    put_stream("tls", &s);
    memset(&s, 0, sizeof(s));
    ss_cd(&s, 0x4001, 5, true);
    ss_raw(&s, channel_5000, sizeof(channel_5000));
    put_stream("channel-5000", &s);
}

/* ---- fuzz_tcp_relay ---- */

enum { R_ALLOCATE, R_REFRESH, R_PERMISSION, R_CONNECT, R_CONNECTION_BIND };

#define R_TCP FR_MACRO_TCP, 0, NONE
#define R_PEER(i)                                                                                  \
    FR_MACRO_PEER, 1, (const uint8_t[1])                                                           \
    {                                                                                              \
        i                                                                                          \
    }
#define R_ID(i)                                                                                    \
    FR_MACRO_CONNID, 1, (const uint8_t[1])                                                         \
    {                                                                                              \
        i                                                                                          \
    }

static void tr_start(struct rec *r, uint8_t config)
{
    r->buf[0] = config;
    r->len = FR_CONFIG_LEN;
}

/* The records under every configuration worth a seed of its own. */
static void put_tr(const char *name, struct rec *r)
{
    static const uint8_t configs[] = {0, FR_CFG_WORKERS, FR_CFG_TLS | FR_CFG_MAX_BPS,
                                      FR_CFG_WORKERS | FR_CFG_CAP, 0x30};
    char n[128];

    for (size_t i = 0; i < sizeof(configs); i++) {
        r->buf[0] = configs[i];
        snprintf(n, sizeof(n), "%s-%02x", name, configs[i]);
        put_file("fuzz_tcp_relay", n, r->buf, r->len);
    }
}

static void tcp_seeds(void)
{
    struct rec r;

    /* Connect, made, bound from another connection (another worker with two), bytes, end. */
    tr_start(&r, 0);
    rec_signed(&r, 0, R_ALLOCATE, 0, 0, 0, R_TCP, 0);
    rec_signed(&r, 0, R_PERMISSION, 0, 0, 0, R_PEER(0), 0);
    rec_signed(&r, 0, R_CONNECT, 0, 0, 0, R_PEER(0), 0);
    rec_add(&r, FR_CONNECTED, 0, 0, NULL, 0);
    rec_signed(&r, 2, R_CONNECTION_BIND, 0, 0, 0, R_ID(0), 0);
    rec_add(&r, FR_RELAYED, 0, 4000, NULL, 0);
    rec_add(&r, FR_RELAYED, 0x10, 4000, NULL, 0);
    rec_signed(&r, 0, R_REFRESH, 0, 0, 0, LIFETIME(0), 0);
    put_tr("connect-bind", &r);

    /* Connections from peers: one with a permission for its IP, one without; bound with the
     * other client's nonce; a second bind refused; the pair ends. */
    tr_start(&r, 0);
    rec_signed(&r, 0, R_ALLOCATE, 0, 0, 0, R_TCP, 0);
    rec_signed(&r, 0, R_PERMISSION, 0, 0, 0, R_PEER(0), 0);
    rec_add(&r, FR_ACCEPT, 0x10, 0, NULL, 0);
    rec_add(&r, FR_ACCEPT, 0x20, 0, NULL, 0);
    rec_signed(&r, 3, R_CONNECTION_BIND, 0, 0, FR_SIG_OTHER_NONCE, R_ID(0), 0);
    rec_signed(&r, 5, R_CONNECTION_BIND, 0, 0, 0, R_ID(0), 0);
    rec_add(&r, FR_CLOSED, 0, 0, NULL, 0);
    rec_add(&r, FR_HANGUP, 0, 0, NULL, 0);
    put_tr("accept-bind", &r);

    /* Two TCP allocations through the relay to each other (relay to self). */
    tr_start(&r, 0);
    rec_signed(&r, 0, R_ALLOCATE, 0, 0, 0, R_TCP, 0);
    rec_signed(&r, 1, R_ALLOCATE, 0, 0, 0, R_TCP, 0);
    rec_signed(&r, 0, R_PERMISSION, 0, 0, 0, R_PEER(9), 0);
    rec_signed(&r, 1, R_PERMISSION, 0, 0, 0, R_PEER(8), 0);
    rec_signed(&r, 0, R_CONNECT, 0, 0, 0, R_PEER(9), 0);
    rec_add(&r, FR_CONNECTED, 0, 0, NULL, 0);
    rec_add(&r, FR_ACCEPT, 0x81, 0, NULL, 0);
    rec_signed(&r, 2, R_CONNECTION_BIND, 0, 0, 0, R_ID(0), 0);
    rec_signed(&r, 3, R_CONNECTION_BIND, 0, 0, 0, R_ID(1), 0);
    rec_add(&r, FR_RELAYED, 0, 2000, NULL, 0);
    rec_add(&r, FR_HANGUP, 1, 0, NULL, 0);
    put_tr("self", &r);

    /* Refusals, failures and timeouts: Connect without permission, to a denied peer, failing,
     * timing out; a connection from a peer never bound; a ConnectionBind that cannot splice. */
    tr_start(&r, 0);
    rec_signed(&r, 0, R_ALLOCATE, 0, 0, 0, R_TCP, 0);
    rec_signed(&r, 0, R_CONNECT, 0, 0, 0, R_PEER(0), 0);
    rec_signed(&r, 0, R_PERMISSION, 0, 0, 0, R_PEER(4), 0);
    rec_signed(&r, 0, R_PERMISSION, 0, 0, 0, R_PEER(1), 0);
    rec_signed(&r, 0, R_CONNECT, 0, 0, 0, R_PEER(1), 0);
    rec_signed(&r, 0, R_CONNECT, 0, 0, 0, R_PEER(0), 0);
    rec_add(&r, FR_CONNECTED, 0x10, 0, NULL, 0);
    rec_signed(&r, 0, R_CONNECT, 0, 0, 0, R_PEER(0), 0);
    rec_add(&r, FR_ACCEPT, 0x00, 0, NULL, 0);
    rec_signed(&r, 4, R_CONNECTION_BIND, 0, 0, FR_SIG_FAIL_SPLICE, R_ID(0), 0);
    rec_add(&r, FR_TIME, 0, 31, NULL, 0);
    rec_signed(&r, 4, R_CONNECTION_BIND, 0, 0, 0, R_ID(0), 0);
    rec_add(&r, FR_TIME, 0, 700, NULL, 0);
    put_tr("refusals", &r);
}

/* ---- fuzz_snapshot ---- */

static void put_snapshot(const char *name, const struct turn_snapshot *snap)
{
    uint8_t *b;
    size_t len;

    if (turn_snapshot_encode(snap, &b, &len) != 0)
        die("encode");
    put_file("fuzz_snapshot", name, b, len);
    free(b);
}

static struct turn_snapshot_alloc *snap_alloc(struct turn_snapshot_server *sv, const char *client,
                                              enum turn_transport t, int fam, uint16_t port)
{
    struct turn_snapshot_alloc *a = turn_snapshot_push(&sv->allocs, &sv->nallocs, sizeof(*a));

    if (!a)
        die("memory");
    a->transport = t;
    a->client = addr(client);
    a->local = addr(a->client.family == AF_INET ? FT_LISTEN_V4 : FT_LISTEN_V6);
    a->client_sock = (uint32_t)sv->nallocs;
    a->relayed[fam] = addr(fam ? "[" FT_RELAY_V6 "]" : FT_RELAY_V4);
    a->relayed[fam].port = port;
    a->relayed_sock[fam] = 100 + port - FT_PORT_LO;
    a->lifetime_s = 600;
    a->remaining_ms = 400000;
    tid_for(a->create_tid, (int)port);
    strcpy(a->user, "alice");
    return a;
}

static void snap_perm(struct turn_snapshot_alloc *a, const char *ip, uint64_t ms)
{
    struct turn_snapshot_perm *p = turn_snapshot_push(&a->perms, &a->nperms, sizeof(*p));

    if (!p)
        die("memory");
    p->ip = addr(ip);
    p->ip.port = 0;
    p->remaining_ms = ms;
}

static void snap_chan(struct turn_snapshot_alloc *a, uint16_t number, const char *peer)
{
    struct turn_snapshot_chan *c = turn_snapshot_push(&a->chans, &a->nchans, sizeof(*c));

    if (!c)
        die("memory");
    c->number = number;
    c->peer = addr(peer);
    c->remaining_ms = 500000;
}

static void snapshot_seeds(void)
{
    struct turn_snapshot snap = {.minor = TURN_SNAPSHOT_MINOR, .saved_ms = FT_START_MS};
    struct turn_snapshot_reservation *r;
    struct turn_snapshot_server *sv;
    struct turn_snapshot_alloc *a;
    struct turn_snapshot_tx *tx;

    memcpy(snap.nonce_key, key16, sizeof(key16));
    put_snapshot("shared", &snap);
    r = turn_snapshot_push(&snap.reservations, &snap.nreservations, sizeof(*r));
    sv = turn_snapshot_push(&snap.servers, &snap.nservers, sizeof(*sv));
    if (!r || !sv)
        die("memory");
    r->token = 0x1122334455667788ull;
    r->addr.family = AF_INET;
    r->addr.port = FT_PORT_LO + 1;
    r->remaining_ms = 20000;
    strcpy(r->user, "alice");
    sv->counters[TURN_UDP].relayed_pkts[TURN_TO_PEER][0][0] = 7;
    sv->counters[TURN_UDP].responses[TM_ALLOCATE][0] = 3;
    a = snap_alloc(sv, "198.18.1.2:40000", TURN_UDP, 0, FT_PORT_LO);
    a->rate_ahead_ns = 250000000;
    snap_perm(a, "198.18.2.2", 200000);
    snap_chan(a, 0x4001, "198.18.2.2:3480");
    a = snap_alloc(sv, "[2001:db8:1::2]:40001", TURN_UDP, 1, FT_PORT_LO + 2);
    a->relayed[0] = addr(FT_RELAY_V4);
    a->relayed[0].port = FT_PORT_LO + 2;
    a->relayed_sock[0] = 50;
    snap_perm(a, "2001:db8:2::2", 100000);
    snap_perm(a, "198.18.2.3", 100000);
    snap_chan(a, 0x4001, "[2001:db8:2::2]:3480");
    snap_chan(a, 0x7FFF, "198.18.2.3:3480");
    a = snap_alloc(sv, "198.18.1.3:40002", TURN_TCP, 0, FT_PORT_LO + 3);
    a->tcp = true;
    snap_perm(a, "198.18.2.5", 280000);
    tx = turn_snapshot_push(&sv->txs, &sv->ntxs, sizeof(*tx));
    if (!tx)
        die("memory");
    tx->client = addr("198.18.1.2:40000");
    tid_for(tx->tid, 9);
    tx->age_ms = 1000;
    tx->len = 20;
    tx->resp[0] = 0x01;
    tx->resp[1] = 0x04;
    put_snapshot("full", &snap);
    sv = turn_snapshot_push(&snap.servers, &snap.nservers, sizeof(*sv));
    if (!sv)
        die("memory");
    snap_alloc(sv, "[2001:db8:1::5]:40005", TURN_DTLS, 1, FT_PORT_LO + 4);
    put_snapshot("two-servers", &snap);
    turn_snapshot_free(&snap);
}

int main(int argc, char **argv)
{
    char path[512];
    static const char *const harnesses[] = {"fuzz_stun",   "fuzz_turn_server", "fuzz_xdp",
                                            "fuzz_stream", "fuzz_tcp_relay",   "fuzz_snapshot"};

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    mkdir_p(out_dir);
    for (size_t i = 0; i < sizeof(harnesses) / sizeof(harnesses[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", out_dir, harnesses[i]);
        mkdir_p(path);
    }
    stun_seeds();
    turn_seeds();
    xdp_seeds();
    stream_seeds();
    tcp_seeds();
    snapshot_seeds();
    printf("seeds: %d files in %s\n", written, out_dir);
    return 0;
}
