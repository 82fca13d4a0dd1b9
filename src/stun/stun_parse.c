/* Strict STUN message parsing (RFC 8489 5, 14): framing, attribute walk, FINGERPRINT check. */
#include "stun/stun.h"
#include "stun/stun_internal.h"

bool stun_is_message(const uint8_t *buf, size_t len)
{
    return len >= STUN_HEADER_LEN && (buf[0] & 0xC0) == 0 &&
           stun_get32(buf + 4) == STUN_MAGIC_COOKIE;
}

/* Comprehension-required types this codec knows; anything else below 0x8000 must be reported
 * in UNKNOWN-ATTRIBUTES (RFC 8489 14). */
static bool known_required(uint16_t type)
{
    switch (type) {
    case STUN_ATTR_MAPPED_ADDRESS:
    case STUN_ATTR_USERNAME:
    case STUN_ATTR_MESSAGE_INTEGRITY:
    case STUN_ATTR_ERROR_CODE:
    case STUN_ATTR_UNKNOWN_ATTRIBUTES:
    case TURN_ATTR_CHANNEL_NUMBER:
    case TURN_ATTR_LIFETIME:
    case TURN_ATTR_XOR_PEER_ADDRESS:
    case TURN_ATTR_DATA:
    case STUN_ATTR_REALM:
    case STUN_ATTR_NONCE:
    case TURN_ATTR_XOR_RELAYED_ADDRESS:
    case TURN_ATTR_REQUESTED_ADDRESS_FAMILY:
    case TURN_ATTR_EVEN_PORT:
    case TURN_ATTR_REQUESTED_TRANSPORT:
    case TURN_ATTR_DONT_FRAGMENT:
    case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
    case STUN_ATTR_PASSWORD_ALGORITHM:
    case STUN_ATTR_USERHASH:
    case STUN_ATTR_XOR_MAPPED_ADDRESS:
    case TURN_ATTR_RESERVATION_TOKEN:
    case STUN_ATTR_PRIORITY:
    case STUN_ATTR_USE_CANDIDATE:
    case TURN_ATTR_CONNECTION_ID:
        return true;
    default:
        return false;
    }
}

static void note_unknown(struct stun_msg *m, uint16_t type)
{
    if (type >= 0x8000 || known_required(type))
        return;
    for (size_t i = 0; i < m->nunknown; i++)
        if (m->unknown[i] == type)
            return;
    if (m->nunknown < sizeof(m->unknown) / sizeof(m->unknown[0]))
        m->unknown[m->nunknown++] = type;
}

/* RFC 8489 14.5-14.7: only these value lengths can be verified. */
static bool valid_len(uint16_t type, uint16_t len)
{
    switch (type) {
    case STUN_ATTR_MESSAGE_INTEGRITY:
        return len == STUN_MI_LEN;
    case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
        return len >= STUN_MI256_MIN && len <= STUN_MI256_MAX && len % 4 == 0;
    case STUN_ATTR_FINGERPRINT:
        return len == STUN_FP_LEN;
    default:
        return true;
    }
}

/* RFC 8489 14.5, 14.6: what an agent must ignore once the message has been signed. */
static bool ignored_after_integrity(const struct stun_msg *m, uint16_t type)
{
    if (m->mi256 >= 0)
        return type != STUN_ATTR_FINGERPRINT;
    if (m->mi >= 0)
        return type != STUN_ATTR_FINGERPRINT && type != STUN_ATTR_MESSAGE_INTEGRITY_SHA256;
    return false;
}

/* RFC 8489 5: the method bits M11..M0 are interleaved with the class bits C1 (bit 8) and C0
 * (bit 4). */
static uint16_t type_method(uint16_t t)
{
    return (uint16_t)((t & 0x000F) | (t & 0x00E0) >> 1 | (t & 0x3E00) >> 2);
}

static uint8_t type_class(uint16_t t)
{
    return (uint8_t)((t >> 4 & 1) | (t >> 7 & 2));
}

static void parse_header(const uint8_t *buf, size_t len, struct stun_msg *m)
{
    m->type = stun_get16(buf) & 0x3FFF;
    m->method = type_method(m->type);
    m->cls = type_class(m->type);
    for (size_t i = 0; i < STUN_TID_LEN; i++)
        m->tid[i] = buf[8 + i];
    m->raw = buf;
    m->len = len;
    m->nattrs = 0;
    m->mi = m->mi256 = m->fingerprint = -1;
    m->nunknown = 0;
}

int stun_parse(const uint8_t *buf, size_t len, struct stun_msg *m)
{
    if (len < STUN_HEADER_LEN)
        return STUN_ERR_SHORT;
    if (!stun_is_message(buf, len))
        return STUN_ERR_NOT_STUN;
    size_t body = stun_get16(buf + 2);
    if (body % 4 != 0)
        return STUN_ERR_LENGTH;
    if (body > len - STUN_HEADER_LEN)
        return STUN_ERR_SHORT;
    /* UDP carries exactly one message: trailing bytes mean a framing error. */
    if (body < len - STUN_HEADER_LEN || len > STUN_MAX_MSG_LEN)
        return STUN_ERR_LENGTH;

    parse_header(buf, len, m);
    /* off and len stay multiples of 4, so an attribute header always fits; only the value (with
     * its padding) can overrun. */
    for (size_t off = STUN_HEADER_LEN; off < len;) {
        uint16_t type = stun_get16(buf + off);
        uint16_t alen = stun_get16(buf + off + 2);
        size_t next = off + STUN_ATTR_HDR_LEN + stun_pad4(alen);
        if (next > len)
            return STUN_ERR_ATTR;
        if (m->fingerprint >= 0)
            return STUN_ERR_FINGERPRINT; /* something follows it */
        if (!ignored_after_integrity(m, type)) {
            if (!valid_len(type, alen))
                return STUN_ERR_ATTR;
            if (m->nattrs == STUN_MAX_ATTRS)
                return STUN_ERR_TOO_MANY;
            int idx = (int)m->nattrs++;
            m->attrs[idx] = (struct stun_attr){
                .type = type, .len = alen, .offset = (uint16_t)off, .val = buf + off + 4};
            if (type == STUN_ATTR_MESSAGE_INTEGRITY)
                m->mi = idx;
            else if (type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
                m->mi256 = idx;
            else if (type == STUN_ATTR_FINGERPRINT)
                m->fingerprint = idx;
            else
                note_unknown(m, type);
        }
        off = next;
    }

    if (m->fingerprint >= 0) {
        const struct stun_attr *fp = &m->attrs[m->fingerprint];
        if (stun_get32(fp->val) != stun_fingerprint(buf, fp->offset))
            return STUN_ERR_FINGERPRINT;
    }
    return STUN_OK;
}

const struct stun_attr *stun_find(const struct stun_msg *m, uint16_t type)
{
    for (size_t i = 0; i < m->nattrs; i++)
        if (m->attrs[i].type == type)
            return &m->attrs[i];
    return NULL;
}
