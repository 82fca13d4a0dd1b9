/* Attribute value decoders (RFC 8489 14, RFC 8656 18). */
#include "stun/stun.h"
#include "stun/stun_internal.h"

#include <string.h>

/* MAPPED-ADDRESS layout, shared by the XOR variants: the value is XORed with mask (all zero for
 * the plain form). */
static int decode_addr(const struct stun_attr *a, const uint8_t mask[16], struct xt_addr *out)
{
    const uint8_t *v = a->val;
    size_t iplen;
    if (a->len == STUN_ADDR4_LEN && v[1] == STUN_FAMILY_IPV4)
        iplen = 4;
    else if (a->len == STUN_ADDR6_LEN && v[1] == STUN_FAMILY_IPV6)
        iplen = 16;
    else
        return -1;

    memset(out, 0, sizeof(*out));
    out->family = iplen == 4 ? AF_INET : AF_INET6;
    out->port = stun_get16(v + 2) ^ stun_get16(mask);
    for (size_t i = 0; i < iplen; i++)
        out->ip[i] = v[4 + i] ^ mask[i];
    return 0;
}

int stun_attr_xor_addr(const struct stun_msg *m, const struct stun_attr *a, struct xt_addr *out)
{
    uint8_t mask[16];
    stun_xor_mask(m->tid, mask);
    return decode_addr(a, mask, out);
}

int stun_attr_addr(const struct stun_attr *a, struct xt_addr *out)
{
    static const uint8_t no_mask[16];
    return decode_addr(a, no_mask, out);
}

int stun_attr_u32(const struct stun_attr *a, uint32_t *out)
{
    if (a->len != 4)
        return -1;
    *out = stun_get32(a->val);
    return 0;
}

int stun_attr_error_code(const struct stun_attr *a, int *code, const uint8_t **reason,
                         size_t *reason_len)
{
    if (a->len < 4)
        return -1;
    /* The 21 bits before the class are reserved and ignored by receivers. */
    int cls = a->val[2] & 0x07;
    int number = a->val[3];
    if (cls < 3 || cls > 6 || number > 99)
        return -1;
    *code = cls * 100 + number;
    *reason = a->val + 4;
    *reason_len = a->len - 4u;
    return 0;
}
