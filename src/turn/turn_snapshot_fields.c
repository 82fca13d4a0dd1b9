/* The snapshot codec's field types (turn_snapshot_cursor.h). */
#include "turn/turn_snapshot_cursor.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void cur_check(struct cur *c, bool ok, const char *why)
{
    if (!c->write && !c->err && !ok)
        c->err = why;
}

/* n bytes at v, as they are. */
void f_raw(struct cur *c, void *v, size_t n)
{
    if (c->write) {
        if (c->cap - c->len < n) {
            size_t cap = c->cap ? c->cap : 4096;
            uint8_t *next;
            while (cap - c->len < n)
                cap *= 2;
            next = realloc(c->buf, cap);
            if (!next) {
                c->oom = true;
                return;
            }
            c->buf = next;
            c->cap = cap;
        }
        memcpy(c->buf + c->len, v, n);
        c->len += n;
        return;
    }
    cur_check(c, c->end - c->pos >= n, "a record shorter than its fields");
    if (c->err)
        return;
    memcpy(v, c->in + c->pos, n);
    c->pos += n;
}

/* An unsigned integer of n bytes, most significant first. */
static void f_uint(struct cur *c, uint64_t *v, size_t n)
{
    uint8_t b[8];

    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(*v >> (8 * (n - 1 - i)));
    f_raw(c, b, n);
    if (c->write || c->err)
        return;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v = *v << 8 | b[i];
}

/* The struct is only written to when reading: a snapshot being encoded stays as it is. */
#define F_UINT(name, type, n)                                                                      \
    void name(struct cur *c, type *v)                                                              \
    {                                                                                              \
        uint64_t x = *v;                                                                           \
        f_uint(c, &x, n);                                                                          \
        if (!c->write)                                                                             \
            *v = (type)x;                                                                          \
    }
F_UINT(f_u8, uint8_t, 1)
F_UINT(f_u16, uint16_t, 2)
F_UINT(f_u32, uint32_t, 4)
F_UINT(f_u64, uint64_t, 8)

/* An address: family (4, 6; 0 where none may be), a zero byte, port, 16 bytes of IP (IPv4 in
 * the first 4, the rest zero). One way to write each: none is all zero. */
void f_addr(struct cur *c, struct xt_addr *a, bool none_ok)
{
    static const uint8_t zero[16];
    uint8_t fam = a->family == AF_INET ? 4 : a->family == AF_INET6 ? 6 : 0, pad = 0;
    struct xt_addr in = *a;

    f_u8(c, &fam);
    f_u8(c, &pad);
    f_u16(c, &in.port);
    f_raw(c, in.ip, sizeof(in.ip));
    if (c->write)
        return;
    in.family = fam == 4 ? AF_INET : fam == 6 ? AF_INET6 : 0;
    cur_check(c, fam == 4 || fam == 6 || (none_ok && fam == 0), "an address of an unknown family");
    cur_check(c, pad == 0, "an address with its reserved byte set");
    cur_check(c, fam != 4 || memcmp(in.ip + 4, zero, 12) == 0,
              "an IPv4 address longer than 4 bytes");
    cur_check(c, fam != 0 || (in.port == 0 && memcmp(in.ip, zero, 16) == 0),
              "an empty address set");
    *a = in;
}

/* A name: its length (a byte, min..cap-1), then its bytes, without NUL. */
void f_str(struct cur *c, char *s, size_t cap, size_t min)
{
    uint8_t len = c->write ? (uint8_t)strlen(s) : 0;

    f_u8(c, &len);
    cur_check(c, len >= min && len < cap, "a name of a wrong length");
    f_raw(c, s, len);
    if (c->write || c->err)
        return;
    s[len] = '\0';
    cur_check(c, strlen(s) == len, "a name with a NUL byte");
}

/* The monotonic counters of one transport, in the order the format numbers them. */
#define MONOTONIC (TM_COUNT * TURN_CODE_COUNT + 2 + 16 + TD_COUNT + TTR_COUNT + 1 + 2)
/* Every counter is one of these or one of the 8 gauges turn_snapshot.c leaves out. */
_Static_assert(sizeof(struct turn_counters) == 8 * (MONOTONIC + 8),
               "a new counter needs a place in the snapshot format");

static void counter_slots(struct turn_counters *k, uint64_t *slot[MONOTONIC])
{
    struct {
        uint64_t *p;
        size_t n;
    } spans[] = {{&k->responses[0][0], TM_COUNT * TURN_CODE_COUNT},
                 {&k->auth_failures, 1},
                 {&k->unauth_rate_limited, 1},
                 {&k->relayed_pkts[0][0][0], 8},
                 {&k->relayed_bytes[0][0][0], 8},
                 {k->dropped, TD_COUNT},
                 {k->tcp_refused, TTR_COUNT},
                 {&k->tcp_bind_timeouts, 1},
                 {k->tcp_relayed_bytes, 2}};
    size_t at = 0;

    for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++)
        for (size_t j = 0; j < spans[i].n; j++)
            slot[at++] = &spans[i].p[j];
}

/* Every transport's monotonic counters, numbered transport * MONOTONIC + their slot: how many
 * are not zero (u16), then each of those as its number (u16, increasing) and value (u64). */
void f_counters(struct cur *c, struct turn_counters k[TURN_TRANSPORT_COUNT])
{
    uint64_t *slot[TURN_TRANSPORT_COUNT * MONOTONIC];
    uint16_t n = 0, at = 0;

    for (int t = 0; t < TURN_TRANSPORT_COUNT; t++)
        counter_slots(&k[t], &slot[t * MONOTONIC]);
    for (size_t i = 0; c->write && i < TURN_TRANSPORT_COUNT * MONOTONIC; i++)
        n += *slot[i] != 0;
    f_u16(c, &n);
    for (size_t i = 0; c->write && i < TURN_TRANSPORT_COUNT * MONOTONIC; i++)
        if (*slot[i]) {
            at = (uint16_t)i;
            f_u16(c, &at);
            f_u64(c, slot[i]);
        }
    for (uint16_t j = 0; !c->write && !c->err && j < n; j++) {
        uint16_t prev = at;
        uint64_t v = 0;

        f_u16(c, &at);
        f_u64(c, &v);
        cur_check(c, at < TURN_TRANSPORT_COUNT * MONOTONIC && (j == 0 || at > prev) && v != 0,
                  "counters out of order, unknown or zero");
        if (!c->err)
            *slot[at] = v;
    }
}
