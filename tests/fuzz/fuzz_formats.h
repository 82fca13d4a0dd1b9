/* Input formats of the fuzz harnesses, shared with the seed generator (seeds.c), so seeds and
 * harnesses cannot drift apart. Nothing here depends on libFuzzer.
 *
 * fuzz_stun: the input is one datagram.
 *
 * fuzz_turn_server: two configuration bytes, then records:
 *   config byte: bits 0-1 log level (error..debug), bit 2 text log format, bit 3 strict channel
 *     range, bit 4 user quota 2, bit 5 at most 3 allocations, bit 6 no IPv6 relay address,
 *     bit 7 public (1:1 NAT) addresses advertised;
 *   second byte: bit 0 two servers sharing their state (the daemon's workers), clients 0 and 2
 *     on the first, 1 and 3 on the second; bit 1 a --max-bps limit; bit 2 alternate servers
 *     (300 while draining); bit 3 one server with state of its own (no FT_CONTROL draining or
 *     secrets then).
 *   record: kind, arg, len (2 bytes, big endian), then len bytes of body (fewer at the end of the
 *     input). kind & 7 is one of enum ft_kind; the other bits and arg are per kind (below).
 *
 * fuzz_xdp: two bytes of fix-up flags (enum fx_flags, then eth/ChannelData padding counts), then
 *   the Ethernet frame.
 *
 * fuzz_stream: a flags byte (enum fs_flags), its FS_CUTS count of cut bytes, then the byte
 *   stream a TCP/TLS client sends.
 *
 * fuzz_tcp_relay: a configuration byte (enum fr_config), then records as fuzz_turn_server's
 *   (kind, arg, a 2-byte big-endian length, the body; enum fr_kind). */
#ifndef XTURN_FUZZ_FORMATS_H
#define XTURN_FUZZ_FORMATS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- fuzz_stream ---- */

/* How the stream arrives: in reads of the cut bytes' sizes (each cut + 1 bytes), in turn and
 * over again; none: one byte at a time. */
enum fs_flags {
    FS_CUTS = 0x0F,      /* how many cut bytes follow */
    FS_READ_NEED = 0x10, /* a read takes no more than the framer's need asks for */
};

/* ---- fuzz_turn_server ---- */

enum ft_config {
    FT_CFG_LOG_LEVEL = 0x03,
    FT_CFG_LOG_TEXT = 0x04,
    FT_CFG_STRICT_CHANNELS = 0x08,
    FT_CFG_USER_QUOTA = 0x10,
    FT_CFG_MAX_ALLOCS = 0x20,
    FT_CFG_NO_IPV6 = 0x40,
    FT_CFG_PUBLIC = 0x80,
};

enum ft_config2 {
    FT_CFG2_WORKERS = 0x01,
    FT_CFG2_MAX_BPS = 0x02,
    FT_CFG2_ALTERNATE = 0x04,
    FT_CFG2_PRIVATE = 0x08,
};
#define FT_MAX_BPS 3000

#define FT_CONFIG_LEN 2
#define FT_HDR_LEN    4

enum ft_kind {
    /* A datagram from a client. arg: FT_ARG_CLIENT, FT_ARG_LISTEN2. */
    FT_RAW = 0,
    /* A request the harness signs with valid long-term credentials. arg as FT_RAW. Body:
     * [0] FT_SIG_METHOD (index into ft_methods), FT_SIG_USER, FT_SIG_INTEGRITY,
     *     FT_SIG_SECRET2;
     * [1] enum ft_sig_flags; then attributes as TLVs (type, length, value; padding optional,
     *     a TLV that does not fit is dropped), where the FT_MACRO_* types are replaced. */
    FT_SIGNED = 1,
    /* A datagram from a peer to a relay socket. arg: bits 0-3 which open relay socket (in
     * handle order, modulo how many are open), bits 4-7 the peer (ft_peer). Body: payload. */
    FT_PEER = 2,
    /* Time passes: the length field is the amount (no body), in seconds, or milliseconds when
     * arg bit 0 is set; then the server's timers run. */
    FT_TIME = 3,
    /* ChannelData from a client. arg: FT_ARG_CLIENT, FT_ARG_LISTEN2, bits 3-7 channel
     * 0x4000 + n. kind bits 3-4: padding bytes after the payload; kind bit 5: the length field
     * says one byte more than there is. Body: payload. */
    FT_CHANNELDATA = 4,
    /* Send indication from a client. arg: FT_ARG_CLIENT, FT_ARG_LISTEN2, bits 4-7 the peer.
     * kind bit 3: FINGERPRINT; kind bit 4: no DATA attribute. Body: the data. */
    FT_SEND = 5,
    /* The operator's doing, by arg & 7 (enum ft_control); the length field is the argument.
     * No body. */
    FT_CONTROL = 6,
    /* The last datagram from a client again, from the same client (a retransmission). */
    FT_RESEND = 7,
};
/* The kinds whose length field is a body's, as bits (1 << kind). */
#define FT_BODY_KINDS (0xFFu & ~(1u << FT_TIME | 1u << FT_CONTROL))

#define FT_ARG_CLIENT  0x03 /* ft_clients index */
#define FT_ARG_LISTEN2 0x04 /* the second listen socket of the client's family */

#define FT_SIG_METHOD    0x07
#define FT_SIG_USER      0x18 /* >> 3: 0 alice, 1 carol, 2 REST "<expiry>:bob", 3 REST "<expiry>" */
#define FT_SIG_INTEGRITY 0x60 /* >> 5: 0 MI, 1 MI-SHA256, 2 both, 3 none */
#define FT_SIG_SECRET2   0x80 /* REST passwords from the second secret */

enum ft_control {
    FT_CTL_BUSY = 0,      /* relay port lo + n % range: EADDRINUSE from now on, or no more */
    FT_CTL_DRAIN = 1,     /* draining on / off */
    FT_CTL_SECRETS21 = 2, /* REST secrets: the second, then the first (rotation) */
    FT_CTL_SECRET2 = 3,   /* the second only */
    FT_CTL_SECRET1 = 4,   /* the first only */
    FT_CTL_NO_SECRET = 5, /* none */
    FT_CTL_HOST = 6,      /* the peer FT_HOST_TOGGLED is one of the host's addresses, or no more */
};

enum ft_sig_flags {
    FT_SIG_FINGERPRINT = 0x01,
    FT_SIG_WRONG_PASSWORD = 0x02,
    FT_SIG_REUSE_TID = 0x04, /* the transaction id of the previous signed request */
    FT_SIG_BAD_REALM = 0x08,
    FT_SIG_BAD_NONCE = 0x10,
    FT_SIG_NO_USERNAME = 0x20,
    FT_SIG_EXPIRED = 0x40, /* REST usernames: an expiry in the past */
    FT_SIG_INDICATION = 0x80,
};

/* Attribute types replaced by the harness in FT_SIGNED bodies. */
#define FT_MACRO_PEER  0xFFF1 /* XOR-PEER-ADDRESS of ft_peer value[0] (0 without value) */
#define FT_MACRO_TOKEN 0xFFF2 /* RESERVATION-TOKEN: the last one an Allocate success carried */

/* Methods of FT_SIGNED: the TURN ones first, then some the server must refuse. */
static const uint16_t ft_methods[8] = {0x003, 0x004, 0x008, 0x009, 0x001, 0x006, 0x007, 0x00B};

static const char *const ft_clients[4] = {"198.18.1.2:40000", "198.18.1.3:40001",
                                          "[2001:db8:1::2]:40000", "[2001:db8:1::3]:40002"};
#define FT_LISTEN_V4                   "198.18.3.2:3478"
#define FT_LISTEN_V6                   "[2001:db8:3::2]:3478"
#define FT_RELAY_V4                    "198.18.3.2"
#define FT_RELAY_V6                    "2001:db8:3::2"
#define FT_PUBLIC_V4                   "203.0.113.7"
#define FT_PUBLIC_V6                   "2001:db8:ffff::7"
#define FT_PORT_LO                     50000
#define FT_PORT_HI                     50007
#define FT_LISTEN_HANDLE(fam6, second) (1000 + 2 * (fam6) + (second))

/* Peers: allowed, denied, the relay itself on its listen port, and (FT_PEER_DYNAMIC on) the
 * relayed address of the n-th open relay socket (client to client through the relay). */
static const char *const ft_peers[10] = {
    "198.18.20.2:5000", "[2001:db8:20::2]:5000", "198.18.20.3:5001",       "[2001:db8:20::3]:5001",
    "10.0.0.1:5000",    "127.0.0.1:3478",        "[::ffff:10.0.0.1]:5000", "[::1]:5000",
    "198.18.3.2:3478",  "[2001:db8:3::2]:3478",
};
#define FT_PEER_DYNAMIC 10
/* A peer address that FT_CTL_HOST makes the relay host's own (and back). */
#define FT_HOST_TOGGLED "198.18.20.3"

static const char *const ft_users[2][2] = {{"alice", "wonderland"}, {"carol", "looking-glass"}};
#define FT_REST_SECRET  "fuzz-rest-secret"
#define FT_REST_SECRET2 "fuzz-rest-secret-2"
#define FT_ALTERNATE_V4 "203.0.113.99:3478"
#define FT_ALTERNATE_V6 "[2001:db8:ffff::99]:3478"
#define FT_REST_USER    "bob"
#define FT_REALM        "xturn"

/* Monotonic and Unix time when an input starts. */
#define FT_START_MS     1000000ull
#define FT_START_UNIX_S 1800000000ll

/* ---- fuzz_tcp_relay (RFC 6062) ---- */

enum fr_config {
    FR_CFG_WORKERS = 0x01, /* two servers sharing their state: connections hand over */
    FR_CFG_TLS = 0x02,     /* the clients' connections are TLS (else TCP) */
    FR_CFG_MAX_BPS = 0x04, /* --max-bps FT_MAX_BPS */
    FR_CFG_CAP = 0x08,     /* --max-tcp-peer-connections 2 (else the default) */
    FR_CFG_LOG = 0x30,     /* >> 4: log level (error..debug) */
};
#define FR_CONFIG_LEN 1

/* FR_CONNS client stream connections: connection i (handle FR_CONN_HANDLE(i)) comes from client
 * i & 1 (ft_clients) and reaches server (i >> 1) & 1 (0 with one server), until the server hands
 * it over to the other. */
#define FR_CONNS          8
#define FR_CONN_HANDLE(i) (2000 + (i))

enum fr_kind {
    /* Bytes on a connection, handled as one message. arg & 7: the connection. */
    FR_RAW = 0,
    /* A request (or with FR_SIG_INDICATION an indication) the harness signs. arg & 7: the
     * connection. Body: [0] bits 0-2 method (fr_methods), bits 3-4 user (0 alice, 1 carol,
     * 2 REST "<expiry>:bob"); [1] enum fr_sig_flags; then TLVs as FT_SIGNED's, with the
     * FR_MACRO_* types replaced. */
    FR_SIGNED = 1,
    /* A peer connects to an open relayed address. arg bits 0-3: which listening socket (in
     * handle order, modulo how many), bits 4-7: the peer (fr_peer). */
    FR_ACCEPT = 2,
    /* A Connect's connection is made, or fails (arg bit 4). arg bits 0-3: which connecting one. */
    FR_CONNECTED = 3,
    /* A spliced pair ends on the network side. arg bits 0-3: which. */
    FR_CLOSED = 4,
    /* A spliced pair relays bytes. arg bits 0-3: which, bit 4: the direction; the length field
     * is the byte count (no body). */
    FR_RELAYED = 5,
    /* Time passes: the length field, in seconds (ms with arg bit 0); no body. */
    FR_TIME = 6,
    /* The client closes a connection. arg & 7: which. No body. */
    FR_HANGUP = 7,
};
#define FR_BODY_KINDS (1u << FR_RAW | 1u << FR_SIGNED)

enum fr_sig_flags {
    FR_SIG_WRONG_PASSWORD = 0x01,
    FR_SIG_OTHER_NONCE = 0x02, /* the other client's nonce (a data connection reusing it) */
    FR_SIG_FAIL_SPLICE = 0x04, /* the I/O layer refuses to make it a data connection */
    FR_SIG_UNSIGNED = 0x08,
    FR_SIG_SHA256 = 0x10,
    FR_SIG_INDICATION = 0x20,
};

#define FR_MACRO_PEER   FT_MACRO_PEER /* XOR-PEER-ADDRESS of fr_peer value[0] */
#define FR_MACRO_CONNID 0xFFF2 /* CONNECTION-ID: the value[0]-th id seen (modulo), or value */
#define FR_MACRO_TCP    0xFFF3 /* REQUESTED-TRANSPORT TCP */

/* Allocate, Refresh, CreatePermission, Connect, ConnectionBind, then ones it refuses or
 * ignores on TCP allocations. */
static const uint16_t fr_methods[8] = {0x003, 0x004, 0x008, 0x00A, 0x00B, 0x009, 0x001, 0x006};

/* Peers: allowed (two IPs), IPv6, denied, the relay on its listen port; from FR_PEER_DYNAMIC on,
 * the relayed address of the n-th open listening socket (another allocation's, or its own). */
static const char *const fr_peers[8] = {
    "198.18.20.2:5000", "198.18.20.2:5001", "198.18.20.3:5000", "[2001:db8:20::2]:5000",
    "10.0.0.1:5000",    "127.0.0.1:3478",   "198.18.3.2:3478",  "198.18.3.2:41000",
};
#define FR_PEER_DYNAMIC 8

/* ---- fuzz_xdp ---- */

enum fx_flags {
    FX_FIX_IP_CSUM = 0x01,  /* recompute the IPv4 header checksum */
    FX_FIX_IP_LEN = 0x02,   /* IPv4 total length / IPv6 payload length from the frame */
    FX_FIX_UDP_LEN = 0x04,  /* UDP length from the IP length */
    FX_FIX_UDP_CSUM = 0x08, /* a correct UDP checksum */
    FX_FIX_CD_LEN = 0x10,   /* ChannelData length from the UDP length (minus its padding) */
    FX_INGRESS_XT1 = 0x20,  /* arrives on xt1 instead of xt0 */
    FX_STRICT = 0x40,       /* the second program: cross-family off, channels up to 0x4FFF */
    FX_ZERO_CSUM = 0x80,    /* IPv4: UDP checksum 0 ("none"); wins over FX_FIX_UDP_CSUM */
};
#define FX_ALL_FIXES                                                                               \
    (FX_FIX_IP_CSUM | FX_FIX_IP_LEN | FX_FIX_UDP_LEN | FX_FIX_UDP_CSUM | FX_FIX_CD_LEN)
/* Second byte: bits 0-3 Ethernet padding (bytes after the IP datagram, not counted in its
 * length), bits 4-5 ChannelData padding (for FX_FIX_CD_LEN). */
#define FX_HDR_LEN 2

/* The test network of fuzz_xdp (a copy of tests/unit/test_xdp_prog.c's, 198.18.0.0/15 and
 * 2001:db8::/32 only). xt0 is the ingress; xt1 has the program attached (redirect target). */
#define FX_LISTEN_V4  "198.18.0.1"
#define FX_LISTEN_V6  "2001:db8::1"
#define FX_PORT       3478
#define FX_RELAY_LO   50000
#define FX_RELAY_HI   50099
#define FX_CHANNEL_HI 0x7FFF
#define FX_STRICT_HI  0x4FFF

struct fx_ep {
    const char *ip;
    uint16_t port;
};

struct fx_binding {
    struct fx_ep client;
    uint16_t channel;
    struct fx_ep peer;
    uint16_t relay_port;
};

static const uint8_t fx_mac_xt0[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t fx_mac_gw_c[6] = {2, 0, 0, 0, 1, 0xfe};

static const struct fx_binding fx_bindings[] = {
    {{"198.18.10.2", 40000}, 0x4001, {"198.18.20.2", 5000}, 50001},
    {{"198.18.10.2", 40000}, 0x4002, {"2001:db8:20::2", 5000}, 50002},
    {{"2001:db8:10::2", 40000}, 0x4003, {"198.18.20.2", 5000}, 50003},
    {{"2001:db8:10::2", 40000}, 0x4004, {"2001:db8:20::2", 5000}, 50004},
    /* two allocations of this relay talking to each other: 4-4, 4-6, 6-6 */
    {{"198.18.10.3", 40001}, 0x4010, {"198.18.0.1", 50011}, 50010},
    {{"198.18.10.4", 40002}, 0x4011, {"198.18.0.1", 50010}, 50011},
    {{"198.18.10.5", 40003}, 0x4020, {"2001:db8::1", 50021}, 50020},
    {{"2001:db8:10::3", 40004}, 0x4021, {"2001:db8::1", 50020}, 50021},
    {{"2001:db8:10::4", 40005}, 0x4030, {"2001:db8::1", 50031}, 50030},
    {{"2001:db8:10::5", 40006}, 0x4031, {"2001:db8::1", 50030}, 50031},
    /* next hops: redirect to xt1, an interface without the program, no neighbour, no route */
    {{"198.18.10.2", 40000}, 0x4040, {"198.18.30.2", 5000}, 50040},
    {{"198.18.10.2", 40000}, 0x4041, {"198.18.40.2", 5000}, 50041},
    {{"198.18.10.2", 40000}, 0x4042, {"198.18.50.2", 5000}, 50042},
    {{"198.18.10.2", 40000}, 0x4043, {"198.18.60.2", 5000}, 50043},
    {{"2001:db8:10::2", 40000}, 0x4044, {"2001:db8:30::2", 5000}, 50044},
    /* a relayed address of this relay that no allocation binds back */
    {{"198.18.10.2", 40000}, 0x4045, {"198.18.0.1", 50099}, 50045},
    /* beyond the strict channel range */
    {{"198.18.10.2", 40000}, 0x5000, {"198.18.20.2", 5000}, 50050},
    {{"2001:db8:10::2", 40000}, 0x7fff, {"2001:db8:20::2", 5001}, 50051},
};
#define FX_NBINDINGS (sizeof(fx_bindings) / sizeof(fx_bindings[0]))

/* ---- checksums and frames (RFC 1071), independent of the code under test ---- */

static inline uint16_t fz_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void fz_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline uint32_t fz_sum16(const uint8_t *p, size_t n, uint32_t sum)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

static inline uint16_t fz_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* Ones' complement sum of pseudo-header and UDP datagram (checksum field as it is): 0xffff when
 * the checksum is right. alen 4 or 16. */
static inline uint16_t fz_udp_sum(size_t alen, const uint8_t *sip, const uint8_t *dip,
                                  const uint8_t *udp, size_t ulen)
{
    uint32_t sum = fz_sum16(sip, alen, 0);
    sum = fz_sum16(dip, alen, sum);
    sum += 17 + (uint32_t)ulen;
    return fz_fold(fz_sum16(udp, ulen, sum));
}

/* Fills in a correct UDP checksum (0 is sent as 0xffff). */
static inline void fz_udp_set_csum(size_t alen, const uint8_t *sip, const uint8_t *dip,
                                   uint8_t *udp, size_t ulen)
{
    uint16_t c;
    fz_put16(udp + 6, 0);
    c = (uint16_t)~fz_udp_sum(alen, sip, dip, udp, ulen);
    fz_put16(udp + 6, c ? c : 0xffff);
}

static inline void fz_ip4_set_csum(uint8_t *ip, size_t hlen)
{
    fz_put16(ip + 10, 0);
    fz_put16(ip + 10, (uint16_t)~fz_fold(fz_sum16(ip, hlen, 0)));
}

/* An Ethernet frame carrying one UDP datagram (addresses of alen bytes: 4 or 16). Returns its
 * length; buf must hold 14 + 40 + 8 + plen. */
static inline size_t fz_udp_frame(uint8_t *buf, const uint8_t dmac[6], const uint8_t smac[6],
                                  size_t alen, const uint8_t *sip, uint16_t sport,
                                  const uint8_t *dip, uint16_t dport, const uint8_t *payload,
                                  size_t plen)
{
    size_t iph = alen == 4 ? 20 : 40, ulen = 8 + plen;
    uint8_t *ip = buf + 14, *udp = ip + iph;

    memset(buf, 0, 14 + iph + 8);
    memcpy(buf, dmac, 6);
    memcpy(buf + 6, smac, 6);
    fz_put16(buf + 12, alen == 4 ? 0x0800 : 0x86dd);
    if (alen == 4) {
        ip[0] = 0x45;
        ip[1] = 0xb9;
        fz_put16(ip + 2, (uint16_t)(20 + ulen));
        fz_put16(ip + 4, 0x1234);
        ip[8] = 57;
        ip[9] = 17;
        memcpy(ip + 12, sip, 4);
        memcpy(ip + 16, dip, 4);
        fz_ip4_set_csum(ip, 20);
    } else {
        ip[0] = 0x6b;
        ip[1] = 0x9a;
        ip[2] = 0xbc;
        ip[3] = 0xde;
        fz_put16(ip + 4, (uint16_t)ulen);
        ip[6] = 17;
        ip[7] = 57;
        memcpy(ip + 8, sip, 16);
        memcpy(ip + 24, dip, 16);
    }
    fz_put16(udp, sport);
    fz_put16(udp + 2, dport);
    fz_put16(udp + 4, (uint16_t)ulen);
    memcpy(udp + 8, payload, plen);
    fz_udp_set_csum(alen, ip + (alen == 4 ? 12 : 8), ip + (alen == 4 ? 16 : 24), udp, ulen);
    return 14 + iph + ulen;
}

#endif
