/* STUN/TURN wire constants (RFC 8489, RFC 8656) and the parsed-message type. */
#ifndef XTURN_STUN_TYPES_H
#define XTURN_STUN_TYPES_H

#include <stddef.h>
#include <stdint.h>

#define STUN_HEADER_LEN   20
#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_TID_LEN      12
#define STUN_MAX_ATTRS    40

/* Classes */
enum stun_class {
    STUN_REQUEST = 0,
    STUN_INDICATION = 1,
    STUN_SUCCESS = 2,
    STUN_ERROR = 3,
};

/* Methods */
enum stun_method {
    STUN_BINDING = 0x001,
    TURN_ALLOCATE = 0x003,
    TURN_REFRESH = 0x004,
    TURN_SEND = 0x006,
    TURN_DATA = 0x007,
    TURN_CREATE_PERMISSION = 0x008,
    TURN_CHANNEL_BIND = 0x009,
    /* RFC 6062: TCP allocations */
    TURN_CONNECT = 0x00A,
    TURN_CONNECTION_BIND = 0x00B,
    TURN_CONNECTION_ATTEMPT = 0x00C,
};

/* Attributes */
enum stun_attr_type {
    STUN_ATTR_MAPPED_ADDRESS = 0x0001,
    STUN_ATTR_USERNAME = 0x0006,
    STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
    STUN_ATTR_ERROR_CODE = 0x0009,
    STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
    TURN_ATTR_CHANNEL_NUMBER = 0x000C,
    TURN_ATTR_LIFETIME = 0x000D,
    TURN_ATTR_XOR_PEER_ADDRESS = 0x0012,
    TURN_ATTR_DATA = 0x0013,
    STUN_ATTR_REALM = 0x0014,
    STUN_ATTR_NONCE = 0x0015,
    TURN_ATTR_XOR_RELAYED_ADDRESS = 0x0016,
    TURN_ATTR_REQUESTED_ADDRESS_FAMILY = 0x0017,
    TURN_ATTR_EVEN_PORT = 0x0018,
    TURN_ATTR_REQUESTED_TRANSPORT = 0x0019,
    TURN_ATTR_DONT_FRAGMENT = 0x001A,
    STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
    STUN_ATTR_PASSWORD_ALGORITHM = 0x001D,
    STUN_ATTR_USERHASH = 0x001E,
    STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
    TURN_ATTR_RESERVATION_TOKEN = 0x0022,
    TURN_ATTR_CONNECTION_ID = 0x002A, /* RFC 6062 */
    STUN_ATTR_PRIORITY = 0x0024,
    STUN_ATTR_USE_CANDIDATE = 0x0025,
    /* comprehension-optional range starts at 0x8000 */
    TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY = 0x8000,
    TURN_ATTR_ADDRESS_ERROR_CODE = 0x8001,
    STUN_ATTR_PASSWORD_ALGORITHMS = 0x8002,
    STUN_ATTR_ALTERNATE_DOMAIN = 0x8003,
    TURN_ATTR_ICMP = 0x8004,
    STUN_ATTR_SOFTWARE = 0x8022,
    STUN_ATTR_ALTERNATE_SERVER = 0x8023,
    STUN_ATTR_FINGERPRINT = 0x8028,
    STUN_ATTR_ICE_CONTROLLED = 0x8029,
    STUN_ATTR_ICE_CONTROLLING = 0x802A,
    /* Pre-RFC codepoint for ADDITIONAL-ADDRESS-FAMILY still sent by coturn's client. */
    TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY_OLD = 0x8032,
};

/* REQUESTED-ADDRESS-FAMILY / ADDITIONAL-ADDRESS-FAMILY values */
#define TURN_FAMILY_IPV4 0x01
#define TURN_FAMILY_IPV6 0x02

/* REQUESTED-TRANSPORT values (IANA protocol numbers) */
#define TURN_TRANSPORT_UDP 17
#define TURN_TRANSPORT_TCP 6 /* RFC 6062 */

#define STUN_FINGERPRINT_XOR 0x5354554Eu

/* One attribute as found in a parsed message; val points into the message buffer. */
struct stun_attr {
    uint16_t type;
    uint16_t len;    /* value length without padding */
    uint16_t offset; /* offset of the attribute header from the start of the message */
    const uint8_t *val;
};

/* A parsed STUN message. Pointers reference the caller's buffer, which must outlive it. */
struct stun_msg {
    uint16_t type;   /* raw 14-bit message type */
    uint16_t method; /* enum stun_method */
    uint8_t cls;     /* enum stun_class */
    uint8_t tid[STUN_TID_LEN];
    const uint8_t *raw; /* the whole message */
    size_t len;         /* header + body length */
    size_t nattrs;
    struct stun_attr attrs[STUN_MAX_ATTRS];
    /* Index into attrs, or -1 when absent. Attributes after MESSAGE-INTEGRITY(-SHA256) other
     * than the ones RFC 8489 allows there are not stored at all. */
    int mi;
    int mi256;
    int fingerprint;
    /* Comprehension-required attributes (type < 0x8000) this codec does not know. */
    size_t nunknown;
    uint16_t unknown[8];
};

/* stun_parse() results */
enum stun_parse_err {
    STUN_OK = 0,
    STUN_ERR_SHORT = -1,      /* shorter than a header, or length field beyond the datagram */
    STUN_ERR_NOT_STUN = -2,   /* top bits not 00, or bad magic cookie */
    STUN_ERR_LENGTH = -3,     /* length not a multiple of 4 or not equal to the datagram */
    STUN_ERR_ATTR = -4,       /* an attribute overruns the message */
    STUN_ERR_TOO_MANY = -5,   /* more than STUN_MAX_ATTRS attributes */
    STUN_ERR_FINGERPRINT = -6 /* FINGERPRINT present but wrong, or not last */
};

#endif
