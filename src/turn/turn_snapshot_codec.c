/* The live upgrade's bytes (docs/UPGRADE_STATE.md): a header, then TLV records. Each record's
 * layout is written once, as field calls that either write the struct or read into it, so the
 * writer and the reader cannot disagree; only reading checks and fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "turn/turn_snapshot.h"
#include "turn/turn_snapshot_cursor.h"

#define MAGIC      "XTURNSNP"
#define HEADER_LEN 20
#define REC_HEAD   6 /* type u16, length u32 */

enum rec_type {
    REC_SHARED = 1,
    REC_RESERVATION = 2,
    REC_SERVER = 3,
    REC_ALLOCATION = 4,
    REC_PERMISSION = 5,
    REC_CHANNEL = 6,
    REC_TXCACHE = 7,
    REC_COUNT
};

static const char *const rec_names[REC_COUNT] = {"",        "shared",         "reservation",
                                                 "server",  "allocation",     "permission",
                                                 "channel", "cached response"};

/* Which records each may follow (bit 0: the start of the records): the shared state and its
 * reservations, then each server, its allocations (each with its permissions, then its
 * channels), then its cached responses. */
#define AFTER(t) (1u << (t))
static const unsigned may_follow[REC_COUNT] = {
    [REC_SHARED] = AFTER(0),
    [REC_RESERVATION] = AFTER(REC_SHARED) | AFTER(REC_RESERVATION),
    [REC_SERVER] = AFTER(REC_SHARED) | AFTER(REC_RESERVATION) | AFTER(REC_SERVER) |
                   AFTER(REC_ALLOCATION) | AFTER(REC_PERMISSION) | AFTER(REC_CHANNEL) |
                   AFTER(REC_TXCACHE),
    [REC_ALLOCATION] =
        AFTER(REC_SERVER) | AFTER(REC_ALLOCATION) | AFTER(REC_PERMISSION) | AFTER(REC_CHANNEL),
    [REC_PERMISSION] = AFTER(REC_ALLOCATION) | AFTER(REC_PERMISSION),
    [REC_CHANNEL] = AFTER(REC_ALLOCATION) | AFTER(REC_PERMISSION) | AFTER(REC_CHANNEL),
    [REC_TXCACHE] = AFTER(REC_SERVER) | AFTER(REC_ALLOCATION) | AFTER(REC_PERMISSION) |
                    AFTER(REC_CHANNEL) | AFTER(REC_TXCACHE),
};

/* The counters are written as arrays of these dimensions, in their enums' order: a change to
 * them is a change of the format (docs/UPGRADE_STATE.md, and its version). */
_Static_assert(TURN_TRANSPORT_COUNT == 4 && TM_COUNT == 8 && TURN_CODE_COUNT == 18 &&
                   TD_COUNT == 10 && TTR_COUNT == 4,
               "the counters' dimensions are the snapshot format's");

/* ---- the records ---- */

static void rec_shared(struct cur *c, struct turn_snapshot *s)
{
    uint8_t keylen = TURN_NONCE_KEY_LEN;

    f_u64(c, &s->saved_ms);
    f_u32(c, &s->xdp_abi);
    f_u8(c, &keylen);
    cur_check(c, keylen == TURN_NONCE_KEY_LEN, "a nonce key of another length");
    f_raw(c, s->nonce_key, TURN_NONCE_KEY_LEN);
}

static void rec_reservation(struct cur *c, struct turn_snapshot_reservation *r)
{
    f_u64(c, &r->token);
    f_addr(c, &r->addr, false);
    f_u64(c, &r->remaining_ms);
    f_str(c, r->user, sizeof(r->user), 0);
}

static void rec_server(struct cur *c, struct turn_snapshot_server *sv)
{
    static const uint8_t dims[5] = {TURN_TRANSPORT_COUNT, TM_COUNT, TURN_CODE_COUNT, TD_COUNT,
                                    TTR_COUNT};
    uint8_t in[5];

    memcpy(in, dims, sizeof(in));
    f_raw(c, in, sizeof(in));
    cur_check(c, memcmp(in, dims, sizeof(in)) == 0, "counters of other dimensions");
    f_counters(c, sv->counters);
}

static void rec_allocation(struct cur *c, struct turn_snapshot_alloc *a)
{
    uint8_t transport = (uint8_t)a->transport, flags = a->tcp;

    f_u8(c, &transport);
    cur_check(c, transport < TURN_TRANSPORT_COUNT, "an unknown transport");
    f_u8(c, &flags);
    cur_check(c, flags <= 1, "unknown allocation flags");
    f_u32(c, &a->client_sock);
    f_addr(c, &a->client, false);
    f_addr(c, &a->local, false);
    for (int fam = 0; fam < 2; fam++) {
        f_addr(c, &a->relayed[fam], true);
        f_u32(c, &a->relayed_sock[fam]);
        cur_check(c,
                  a->relayed[fam].family == (fam ? AF_INET6 : AF_INET) ||
                      (!a->relayed[fam].family && !a->relayed_sock[fam]),
                  "a relayed address in the other family's place");
    }
    f_u32(c, &a->lifetime_s);
    f_u64(c, &a->remaining_ms);
    f_u64(c, &a->rate_ahead_ns);
    f_raw(c, a->create_tid, STUN_TID_LEN);
    f_str(c, a->user, sizeof(a->user), 1);
    if (!c->write) {
        a->transport = (enum turn_transport)transport;
        a->tcp = flags;
    }
}

static void rec_permission(struct cur *c, struct turn_snapshot_perm *p)
{
    f_addr(c, &p->ip, false);
    cur_check(c, p->ip.port == 0, "a permission with a port");
    f_u64(c, &p->remaining_ms);
}

static void rec_channel(struct cur *c, struct turn_snapshot_chan *ch)
{
    f_u16(c, &ch->number);
    cur_check(c, ch->number >= 0x4000 && ch->number <= 0x7FFF, "a channel number out of range");
    f_addr(c, &ch->peer, false);
    f_u64(c, &ch->remaining_ms);
}

static void rec_txcache(struct cur *c, struct turn_snapshot_tx *tx)
{
    f_u32(c, &tx->client_sock);
    f_addr(c, &tx->client, false);
    f_raw(c, tx->tid, STUN_TID_LEN);
    f_u64(c, &tx->age_ms);
    f_u16(c, &tx->len);
    cur_check(c, tx->len >= STUN_HEADER_LEN && tx->len <= TXCACHE_MAX_RESP,
              "a cached response of a wrong length");
    f_raw(c, tx->resp, tx->len);
}

/* ---- writing ---- */

struct header {
    uint8_t magic[8];
    uint16_t major, minor;
    uint32_t body_len, crc;
};

static void f_header(struct cur *c, struct header *h)
{
    f_raw(c, h->magic, sizeof(h->magic));
    f_u16(c, &h->major);
    f_u16(c, &h->minor);
    f_u32(c, &h->body_len);
    f_u32(c, &h->crc);
}

/* Starts a record: its type and room for its length, which rec_end fills. */
static size_t rec_begin(struct cur *c, uint16_t type)
{
    uint32_t len = 0;

    f_u16(c, &type);
    f_u32(c, &len);
    return c->len;
}

static void rec_end(struct cur *c, size_t start)
{
    uint64_t len = c->len - start;

    if (c->oom)
        return;
    for (int i = 0; i < 4; i++)
        c->buf[start - 4 + i] = (uint8_t)(len >> (8 * (3 - i)));
}

#define RECORD(c, type, fn, obj)                                                                   \
    do {                                                                                           \
        size_t start_ = rec_begin(c, type);                                                        \
        fn(c, obj);                                                                                \
        rec_end(c, start_);                                                                        \
    } while (0)

static void write_server(struct cur *c, struct turn_snapshot_server *sv)
{
    RECORD(c, REC_SERVER, rec_server, sv);
    for (size_t i = 0; i < sv->nallocs; i++) {
        struct turn_snapshot_alloc *a = &sv->allocs[i];
        RECORD(c, REC_ALLOCATION, rec_allocation, a);
        for (size_t j = 0; j < a->nperms; j++)
            RECORD(c, REC_PERMISSION, rec_permission, &a->perms[j]);
        for (size_t j = 0; j < a->nchans; j++)
            RECORD(c, REC_CHANNEL, rec_channel, &a->chans[j]);
    }
    for (size_t i = 0; i < sv->ntxs; i++)
        RECORD(c, REC_TXCACHE, rec_txcache, &sv->txs[i]);
}

int turn_snapshot_encode(const struct turn_snapshot *snap, uint8_t **out, size_t *len)
{
    /* Written, never changed: the field calls only read the struct when writing. */
    struct turn_snapshot *s = (struct turn_snapshot *)snap;
    struct header h = {.major = TURN_SNAPSHOT_MAJOR, .minor = TURN_SNAPSHOT_MINOR};
    struct cur c = {.write = true}, head = {.write = true};

    f_header(&c, &h);
    RECORD(&c, REC_SHARED, rec_shared, s);
    for (size_t i = 0; i < s->nreservations; i++)
        RECORD(&c, REC_RESERVATION, rec_reservation, &s->reservations[i]);
    for (size_t i = 0; i < s->nservers; i++)
        write_server(&c, &s->servers[i]);
    if (!c.oom && c.len - HEADER_LEN <= UINT32_MAX) {
        memcpy(h.magic, MAGIC, sizeof(h.magic));
        h.body_len = (uint32_t)(c.len - HEADER_LEN);
        h.crc = (uint32_t)crc32(0L, c.buf + HEADER_LEN, (uInt)h.body_len);
        f_header(&head, &h);
        if (!head.oom)
            memcpy(c.buf, head.buf, HEADER_LEN);
    }
    free(head.buf);
    if (c.oom || head.oom || c.len - HEADER_LEN > UINT32_MAX) {
        free(c.buf);
        return -1;
    }
    *out = c.buf;
    *len = c.len;
    return 0;
}

/* ---- reading ---- */

/* Reads one known record of type into snap, whose order was checked: NULL, or why not. */
static const char *read_record(struct cur *r, uint16_t type, struct turn_snapshot *snap)
{
    struct turn_snapshot_server *sv = snap->nservers ? &snap->servers[snap->nservers - 1] : NULL;
    struct turn_snapshot_alloc *a = sv && sv->nallocs ? &sv->allocs[sv->nallocs - 1] : NULL;
    void *obj = NULL;

    switch (type) {
    case REC_SHARED:
        rec_shared(r, snap);
        return r->err;
    case REC_RESERVATION:
        if ((obj = turn_snapshot_push(&snap->reservations, &snap->nreservations,
                                      sizeof(struct turn_snapshot_reservation))))
            rec_reservation(r, obj);
        break;
    case REC_SERVER:
        if ((obj = turn_snapshot_push(&snap->servers, &snap->nservers,
                                      sizeof(struct turn_snapshot_server))))
            rec_server(r, obj);
        break;
    case REC_ALLOCATION:
        if ((obj =
                 turn_snapshot_push(&sv->allocs, &sv->nallocs, sizeof(struct turn_snapshot_alloc))))
            rec_allocation(r, obj);
        break;
    case REC_PERMISSION:
        if ((obj = turn_snapshot_push(&a->perms, &a->nperms, sizeof(struct turn_snapshot_perm))))
            rec_permission(r, obj);
        break;
    case REC_CHANNEL:
        if ((obj = turn_snapshot_push(&a->chans, &a->nchans, sizeof(struct turn_snapshot_chan))))
            rec_channel(r, obj);
        break;
    default:
        if ((obj = turn_snapshot_push(&sv->txs, &sv->ntxs, sizeof(struct turn_snapshot_tx))))
            rec_txcache(r, obj);
        break;
    }
    return obj ? r->err : "out of memory";
}

/* The records of the body: NULL, or why not, with *at the offset of the record at fault. */
static const char *read_records(const uint8_t *body, size_t len, struct turn_snapshot *snap,
                                size_t *at, uint16_t *type)
{
    struct cur c = {.in = body, .end = len};
    uint16_t last = 0;
    const char *why = NULL;

    while (!why && c.pos < c.end) {
        uint32_t rlen = 0;
        struct cur r = {.in = body};

        *at = HEADER_LEN + c.pos;
        *type = 0;
        f_u16(&c, type);
        f_u32(&c, &rlen);
        cur_check(&c, c.end - c.pos >= rlen, "a record longer than what follows it");
        if ((why = c.err))
            break;
        r.pos = c.pos;
        r.end = c.pos + rlen;
        c.pos += rlen;
        /* A record of a later minor version: what it adds, this build does without. */
        if (*type == 0 || *type >= REC_COUNT) {
            snap->skipped += REC_HEAD + rlen;
            continue;
        }
        if (!(may_follow[*type] & AFTER(last)))
            why = "out of order";
        else if (!(why = read_record(&r, *type, snap))) {
            /* Fields a later minor version appended to a record this build knows. */
            snap->skipped += r.end - r.pos;
            last = *type;
        }
    }
    if (!why && !last) {
        *at = HEADER_LEN + len;
        *type = 0;
        why = "no shared state record";
    }
    return why;
}

int turn_snapshot_decode(const uint8_t *buf, size_t len, struct turn_snapshot *snap, char *err,
                         size_t errlen)
{
    struct cur c = {.in = buf, .end = len};
    struct header h;
    char version[64];
    const char *why = NULL;
    size_t at = 0; /* the offset of the record at fault; 0: the header is */
    uint16_t type = 0;

    memset(snap, 0, sizeof(*snap));
    memset(&h, 0, sizeof(h));
    f_header(&c, &h);
    if (c.err)
        why = "shorter than the header";
    else if (memcmp(h.magic, MAGIC, sizeof(h.magic)) != 0)
        why = "not an xturn state snapshot (magic)";
    else if (h.major != TURN_SNAPSHOT_MAJOR) {
        snprintf(version, sizeof(version), "format %u.%u, this build reads %u.x", h.major, h.minor,
                 TURN_SNAPSHOT_MAJOR);
        why = version;
    } else if (h.body_len != len - HEADER_LEN)
        why = "truncated, or longer than its header says";
    else if (crc32(0L, buf + HEADER_LEN, h.body_len) != h.crc)
        why = "corrupt (CRC-32 of the records)";
    else
        why = read_records(buf + HEADER_LEN, h.body_len, snap, &at, &type);
    if (why) {
        turn_snapshot_free(snap);
        if (at)
            snprintf(err, errlen, "%s record at byte %zu: %s",
                     type && type < REC_COUNT ? rec_names[type] : "a", at, why);
        else
            snprintf(err, errlen, "%s", why);
        return -1;
    }
    snap->minor = h.minor;
    return 0;
}
