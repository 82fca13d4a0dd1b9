/* libFuzzer harness of the STUN codec (src/stun/): the input is one datagram. It is parsed as
 * STUN and as ChannelData; what parses is decoded attribute by attribute, checked for integrity
 * with a fixed key, and rebuilt with the builder, which must give a message that parses to the
 * same attributes (and verifies, when signed). Every invariant violated traps. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "stun/stun.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fixed_key[16] = {0x84, 0x93, 0xfb, 0xc5, 0x3b, 0xa5, 0x82, 0xfb,
                                      0x4c, 0x04, 0x4c, 0x45, 0x6b, 0xdc, 0x40, 0xeb};

/* Every attribute type the codec or the TURN core knows, and a few it does not. */
static const uint16_t known_types[] = {
    0x0001, 0x0006, 0x0008, 0x0009, 0x000A, 0x000C, 0x000D, 0x0012, 0x0013, 0x0014,
    0x0015, 0x0016, 0x0017, 0x0018, 0x0019, 0x001A, 0x001C, 0x001D, 0x001E, 0x0020,
    0x0022, 0x0024, 0x0025, 0x8000, 0x8001, 0x8002, 0x8003, 0x8004, 0x8022, 0x8023,
    0x8028, 0x8029, 0x802A, 0x8032, 0x0000, 0x0002, 0x7FFF, 0xFFFF};

#define HDR 20

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* The structural promises of stun_parse about a message it accepted. */
static void check_structure(const struct stun_msg *m, const uint8_t *data, size_t size)
{
    size_t prev_end = HDR;
    CHECK(m->raw == data && m->len == size);
    CHECK(size >= HDR && size % 4 == 0 && size <= 0xFFFF);
    CHECK(get16(data + 2) == size - HDR);
    CHECK(m->type == (get16(data) & 0x3FFF));
    CHECK(m->cls <= 3 && m->method <= 0xFFF);
    CHECK(memcmp(m->tid, data + 8, 12) == 0);
    CHECK(m->nattrs <= STUN_MAX_ATTRS);
    CHECK(m->nunknown <= sizeof(m->unknown) / sizeof(m->unknown[0]));
    for (size_t i = 0; i < m->nattrs; i++) {
        const struct stun_attr *a = &m->attrs[i];
        /* in order, not overlapping (ignored attributes may lie between) */
        CHECK(a->offset >= prev_end && a->offset % 4 == 0);
        CHECK((size_t)a->offset + 4 + a->len <= size);
        CHECK(a->val == data + a->offset + 4);
        CHECK(get16(data + a->offset) == a->type && get16(data + a->offset + 2) == a->len);
        prev_end = (size_t)a->offset + 4 + ((a->len + 3u) & ~3u);
        CHECK(prev_end <= size);
    }
    CHECK(m->mi < (int)m->nattrs && m->mi256 < (int)m->nattrs && m->fingerprint < (int)m->nattrs);
    if (m->mi >= 0)
        CHECK(m->attrs[m->mi].type == 0x0008 && m->attrs[m->mi].len == 20);
    if (m->mi256 >= 0)
        CHECK(m->attrs[m->mi256].type == 0x001C && m->attrs[m->mi256].len >= 16 &&
              m->attrs[m->mi256].len <= 32 && m->attrs[m->mi256].len % 4 == 0);
    if (m->mi >= 0 && m->mi256 >= 0)
        CHECK(m->mi < m->mi256);
    if (m->fingerprint >= 0) {
        const struct stun_attr *fp = &m->attrs[m->fingerprint];
        CHECK(fp->type == 0x8028 && fp->len == 4);
        CHECK((size_t)m->fingerprint == m->nattrs - 1 && (size_t)fp->offset + 8 == size);
    }
    /* Only stored attributes after the integrity attributes: the ones RFC 8489 allows. */
    for (size_t i = 0; i < m->nattrs; i++) {
        uint16_t t = m->attrs[i].type;
        if (m->mi256 >= 0 && (int)i > m->mi256)
            CHECK(t == 0x8028);
        if (m->mi >= 0 && (int)i > m->mi)
            CHECK(t == 0x8028 || t == 0x001C);
    }
    for (size_t i = 0; i < m->nunknown; i++)
        CHECK(m->unknown[i] < 0x8000);
}

/* RFC 8489 14.5/14.6, computed here: the HMAC over the message up to the attribute, with the
 * header length field covering the message up to and including it. */
static bool independent_mac_ok(const struct stun_msg *m, const struct stun_attr *a,
                               const EVP_MD *md, const uint8_t *key, size_t keylen)
{
    uint8_t copy[0x10000], mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    size_t end = (size_t)a->offset + 4 + a->len;

    memcpy(copy, m->raw, a->offset);
    copy[2] = (uint8_t)((end - HDR) >> 8);
    copy[3] = (uint8_t)(end - HDR);
    CHECK(HMAC(md, key, (int)keylen, copy, a->offset, mac, &maclen) != NULL);
    return a->len <= maclen && memcmp(mac, a->val, a->len) == 0;
}

/* stun_check_integrity and the parser's FINGERPRINT check against computations made here. */
static void check_integrity_differential(const struct stun_msg *m)
{
    bool want = m->mi >= 0 || m->mi256 >= 0;
    if (m->mi >= 0)
        want = want && independent_mac_ok(m, &m->attrs[m->mi], EVP_sha1(), fixed_key, 16);
    if (m->mi256 >= 0)
        want = want && independent_mac_ok(m, &m->attrs[m->mi256], EVP_sha256(), fixed_key, 16);
    CHECK(stun_check_integrity(m, fixed_key, sizeof(fixed_key)) == want);
    if (m->fingerprint >= 0) {
        const struct stun_attr *fp = &m->attrs[m->fingerprint];
        uint32_t crc = (uint32_t)crc32(0L, m->raw, fp->offset) ^ 0x5354554Eu;
        CHECK(crc == ((uint32_t)get16(fp->val) << 16 | get16(fp->val + 2)));
    }
}

static void check_find(const struct stun_msg *m)
{
    for (size_t k = 0; k < sizeof(known_types) / sizeof(known_types[0]); k++) {
        const struct stun_attr *a = stun_find(m, known_types[k]);
        size_t first = m->nattrs;
        for (size_t i = 0; i < m->nattrs; i++)
            if (m->attrs[i].type == known_types[k]) {
                first = i;
                break;
            }
        CHECK(first == m->nattrs ? a == NULL : a == &m->attrs[first]);
    }
}

/* Decoded addresses re-encode to the same bytes (the reserved first byte aside). */
static void check_addr_roundtrip(const struct stun_msg *m, const struct stun_attr *a,
                                 const struct xt_addr *addr, bool xored)
{
    uint8_t buf[64];
    struct stun_builder b;
    struct stun_msg r;
    struct xt_addr again;
    int n;

    CHECK(addr->family == AF_INET || addr->family == AF_INET6);
    CHECK(a->len == (addr->family == AF_INET ? 8 : 20));
    if (addr->family == AF_INET)
        for (int i = 4; i < 16; i++)
            CHECK(addr->ip[i] == 0);
    stun_build_init(&b, buf, sizeof(buf), m->method, m->cls, m->tid);
    if (xored) {
        stun_add_xor_addr(&b, a->type, addr);
    } else {
        uint8_t v[20] = {0, addr->family == AF_INET ? 1 : 2, (uint8_t)(addr->port >> 8),
                         (uint8_t)addr->port};
        memcpy(v + 4, addr->ip, addr->family == AF_INET ? 4 : 16);
        stun_add_attr(&b, a->type, v, addr->family == AF_INET ? 8 : 20);
    }
    n = stun_finish(&b);
    CHECK(n == HDR + 4 + a->len);
    CHECK(memcmp(buf + HDR + 4 + 1, a->val + 1, a->len - 1u) == 0);
    CHECK(stun_parse(buf, (size_t)n, &r) == STUN_OK && r.nattrs == 1);
    if (xored)
        CHECK(stun_attr_xor_addr(&r, &r.attrs[0], &again) == 0);
    else
        CHECK(stun_attr_addr(&r.attrs[0], &again) == 0);
    CHECK(xt_addr_equal(&again, addr));
}

static void check_decoders(const struct stun_msg *m)
{
    for (size_t i = 0; i < m->nattrs; i++) {
        const struct stun_attr *a = &m->attrs[i];
        struct xt_addr addr;
        uint32_t u;
        int code;
        const uint8_t *reason;
        size_t rlen;

        if (stun_attr_xor_addr(m, a, &addr) == 0)
            check_addr_roundtrip(m, a, &addr, true);
        if (stun_attr_addr(a, &addr) == 0)
            check_addr_roundtrip(m, a, &addr, false);
        if (stun_attr_u32(a, &u) == 0)
            CHECK(a->len == 4 && u == ((uint32_t)get16(a->val) << 16 | get16(a->val + 2)));
        else
            CHECK(a->len != 4);
        if (stun_attr_error_code(a, &code, &reason, &rlen) == 0) {
            uint8_t buf[600];
            struct stun_builder b;
            struct stun_msg r;
            int again;
            const char *phrase = stun_reason(code);
            CHECK(code >= 300 && code <= 699);
            CHECK(a->len >= 4 && reason == a->val + 4 && rlen == a->len - 4u);
            CHECK(phrase != NULL && strlen(phrase) < 256);
            /* the standard phrase re-encodes to the same code */
            stun_build_init(&b, buf, sizeof(buf), m->method, m->cls, m->tid);
            stun_add_error(&b, code);
            CHECK(stun_finish(&b) > 0);
            CHECK(stun_parse(buf, b.len, &r) == STUN_OK && r.nattrs == 1);
            CHECK(stun_attr_error_code(&r.attrs[0], &again, &reason, &rlen) == 0 && again == code);
        }
    }
}

/* Rebuilds every stored attribute with the builder, signs with the fixed key (the integrity
 * attributes the input had) and parses the result: the same message must come back. */
static void check_rebuild(const struct stun_msg *m)
{
    size_t cap = 0xFFFF + 64, expect = HDR;
    uint8_t *buf = malloc(cap);
    struct stun_builder b;
    struct stun_msg *r = malloc(sizeof(*r));
    int n;
    size_t j = 0;

    CHECK(buf && r);
    stun_build_init(&b, buf, cap, m->method, m->cls, m->tid);
    for (size_t i = 0; i < m->nattrs; i++) {
        const struct stun_attr *a = &m->attrs[i];
        if ((int)i == m->mi || (int)i == m->mi256 || (int)i == m->fingerprint)
            continue;
        stun_add_attr(&b, a->type, a->val, a->len);
        expect += 4 + ((a->len + 3u) & ~3u);
    }
    if (m->mi >= 0) {
        stun_add_integrity(&b, fixed_key, sizeof(fixed_key));
        expect += 24;
    }
    if (m->mi256 >= 0) {
        stun_add_integrity_sha256(&b, fixed_key, sizeof(fixed_key));
        expect += 36;
    }
    if (m->fingerprint >= 0) {
        stun_add_fingerprint(&b);
        expect += 8;
    }
    n = stun_finish(&b);
    if (expect > 0xFFFF) {
        CHECK(n < 0); /* a full-size SHA256-truncated input no longer fits */
        goto out;
    }
    CHECK(n >= 0 && (size_t)n == expect);
    CHECK(stun_parse(buf, (size_t)n, r) == STUN_OK);
    CHECK(r->type == m->type && r->method == m->method && r->cls == m->cls);
    CHECK(memcmp(r->tid, m->tid, sizeof(m->tid)) == 0);
    CHECK(r->nattrs == m->nattrs);
    CHECK((r->mi >= 0) == (m->mi >= 0) && (r->mi256 >= 0) == (m->mi256 >= 0) &&
          (r->fingerprint >= 0) == (m->fingerprint >= 0));
    for (size_t i = 0; i < m->nattrs; i++) {
        const struct stun_attr *a = &m->attrs[i];
        if ((int)i == m->mi || (int)i == m->mi256 || (int)i == m->fingerprint)
            continue;
        CHECK(r->attrs[j].type == a->type && r->attrs[j].len == a->len);
        CHECK(memcmp(r->attrs[j].val, a->val, a->len) == 0);
        j++;
    }
    CHECK(r->nunknown == m->nunknown);
    CHECK(memcmp(r->unknown, m->unknown, m->nunknown * sizeof(m->unknown[0])) == 0);
    if (m->mi >= 0 || m->mi256 >= 0) {
        static const uint8_t other_key[16] = {1};
        CHECK(stun_check_integrity(r, fixed_key, sizeof(fixed_key)));
        CHECK(!stun_check_integrity(r, other_key, sizeof(other_key)));
    } else {
        CHECK(!stun_check_integrity(r, fixed_key, sizeof(fixed_key)));
    }
out:
    free(r);
    free(buf);
}

static void fuzz_channeldata(const uint8_t *data, size_t size)
{
    uint16_t channel;
    const uint8_t *payload;
    size_t plen;
    bool is = channeldata_is(data, size);

    CHECK(is == (size >= 1 && (data[0] & 0xC0) == 0x40));
    if (channeldata_parse(data, size, &channel, &payload, &plen) == 0) {
        uint8_t hdr[CHANNELDATA_HEADER_LEN];
        CHECK(size >= 4 && payload == data + 4 && plen <= size - 4);
        CHECK(channel == get16(data) && plen == get16(data + 2));
        channeldata_header(hdr, channel, plen);
        CHECK(memcmp(hdr, data, 4) == 0);
    } else {
        CHECK(size < 4 || get16(data + 2) > size - 4);
    }
}

/* The input as a program for the builder: capacity, method and class, then operations. Built
 * into a heap block of exactly that capacity (ASan sees any write past it). What finishes must
 * fit and, when well-formed by construction (integrity and fingerprint last, at most
 * STUN_MAX_ATTRS attributes, no raw integrity/fingerprint types), parse and verify. */
static void check_builder(const uint8_t *data, size_t size)
{
    size_t cap, off = 5, nattrs = 0;
    uint8_t *buf, tid[STUN_TID_LEN] = {0};
    struct stun_builder b;
    struct stun_msg *m;
    bool wellformed = true, signed_mi = false, signed_256 = false, trailer = false;
    int n;

    if (size < 5)
        return;
    cap = get16(data) % 1500;
    buf = malloc(cap ? cap : 1);
    m = malloc(sizeof(*m));
    CHECK(buf && m);
    memcpy(tid, data + 2, 3);
    stun_build_init(&b, buf, cap, get16(data + 2) & 0xFFF, data[4] & 3, tid);
    while (off < size) {
        uint8_t op = data[off++];
        size_t len = off < size ? data[off++] : 0;
        const uint8_t *val = data + off;
        if (len > size - off)
            len = size - off;
        switch (op % 8) {
        case 0: {
            uint16_t type = (uint16_t)(op << 8 | len);
            if (type == 0x0008 || type == 0x001C || type == 0x8028)
                type = 0x8022; /* raw integrity/fingerprint values would not verify */
            stun_add_attr(&b, type, val, len);
            off += len;
            break;
        }
        case 1:
            stun_add_u32(&b, 0x000D, (uint32_t)len << 8 | op);
            break;
        case 2: {
            struct xt_addr a;
            memset(&a, 0, sizeof(a));
            a.family = len & 1 ? AF_INET6 : AF_INET;
            if (len & 2)
                a.family = (uint16_t)len; /* not encodable: the builder must refuse */
            a.port = (uint16_t)(op << 8 | len);
            memcpy(a.ip, val, len < 16 ? len : 16);
            stun_add_xor_addr(&b, 0x0012, &a);
            break;
        }
        case 3:
            stun_add_error(&b, (int)(op << 2 | len)); /* also outside 300..699 */
            break;
        case 4: {
            uint16_t types[64];
            for (size_t i = 0; i < len % 64; i++)
                types[i] = (uint16_t)(op * 31 + i);
            stun_add_unknown_attrs(&b, types, len % 64);
            break;
        }
        case 5:
            if (!signed_mi && !signed_256 && !trailer)
                signed_mi = true;
            else
                wellformed = false;
            stun_add_integrity(&b, fixed_key, sizeof(fixed_key));
            break;
        case 6:
            if (!signed_256 && !trailer)
                signed_256 = true;
            else
                wellformed = false;
            stun_add_integrity_sha256(&b, fixed_key, sizeof(fixed_key));
            break;
        default:
            if (trailer)
                wellformed = false;
            trailer = true;
            stun_add_fingerprint(&b);
            break;
        }
        if ((op % 8) < 5 && (signed_mi || signed_256 || trailer))
            wellformed = false; /* attributes after integrity are ignored, after FP an error */
        nattrs++;
    }
    n = stun_finish(&b);
    if (n >= 0) {
        CHECK((size_t)n <= cap && (size_t)n == b.len && n >= HDR && n % 4 == 0);
        CHECK(get16(buf + 2) == n - HDR);
        if (wellformed && nattrs <= STUN_MAX_ATTRS) {
            CHECK(stun_parse(buf, (size_t)n, m) == STUN_OK && m->nattrs == nattrs);
            if (signed_mi || signed_256)
                CHECK(stun_check_integrity(m, fixed_key, sizeof(fixed_key)));
        }
    }
    free(m);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stun_msg *m = malloc(sizeof(*m));
    int rc;

    CHECK(m);
    check_builder(data, size);
    fuzz_channeldata(data, size);
    rc = stun_parse(data, size, m);
    if (rc == STUN_OK) {
        CHECK(stun_is_message(data, size));
        check_structure(m, data, size);
        check_find(m);
        check_decoders(m);
        check_integrity_differential(m);
        check_rebuild(m);
    } else {
        CHECK(rc >= STUN_ERR_FINGERPRINT && rc <= STUN_ERR_SHORT);
        if (!stun_is_message(data, size))
            CHECK(rc == STUN_ERR_SHORT || rc == STUN_ERR_NOT_STUN);
    }
    free(m);
    return 0;
}
