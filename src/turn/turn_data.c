/* The userspace data path: Send indications and ChannelData from clients to peers, peers'
 * datagrams to clients as ChannelData or Data indications. */
#include <string.h>

#include "common/gcra.h"
#include "turn/turn_internal.h"

static void drop(struct turn_server *s, enum turn_transport t, enum turn_drop_reason why)
{
    ctr(s, t)->dropped[why]++;
}

/* The most a UDP datagram to this address can carry: 65 535 bytes less the IPv4 and UDP headers,
 * or less the UDP header in IPv6's payload length (jumbograms aside). */
static size_t udp_payload_max(const struct xt_addr *to)
{
    return to->family == AF_INET ? 65535 - 20 - 8 : 65535 - 8;
}

/* The longest message to an allocation's client: a datagram's payload, on a stream the longest
 * STUN message (a 16-bit length that is a multiple of 4), over DTLS a record's plaintext. */
static size_t client_message_max(const struct turn_allocation *a)
{
    if (a->transport == TURN_DTLS)
        return 16384;
    return turn_transport_is_stream(a->transport) ? STUN_HEADER_LEN + 65532
                                                  : udp_payload_max(&a->client);
}

static void count_relayed(struct turn_server *s, int dir, const struct turn_allocation *a,
                          const struct xt_addr *peer, size_t len)
{
    int c = xt_family_index(a->client.family), p = xt_family_index(peer->family);
    ctr(s, a->transport)->relayed_pkts[dir][c][p]++;
    ctr(s, a->transport)->relayed_bytes[dir][c][p] += len;
}

/* --max-bps: the allocation's word (common/gcra.h), shared with XDP when it carries the
 * allocation's channels too. The core's clock has millisecond steps: a step behind the
 * program's, which only makes userspace a little stricter. */
static bool within_rate(struct turn_server *s, struct turn_allocation *a, uint64_t now_ms,
                        size_t len)
{
    uint64_t max = s->cfg->max_bps;

    if (!max || gcra_take(a->tat, now_ms * 1000000ull, gcra_cost(len, max)))
        return true;
    drop(s, a->transport, TD_RATE_LIMITED);
    return false;
}

static void to_peer(struct turn_server *s, uint64_t now_ms, struct turn_allocation *a,
                    const struct xt_addr *peer, const uint8_t *payload, size_t len)
{
    const struct turn_relayed *rd = &a->relayed[xt_family_index(peer->family)];
    const struct turn_permission *p;

    /* A TCP allocation (RFC 6062) relays over connections, not Send indications. */
    if (rd->handle < 0 || a->tcp) {
        drop(s, a->transport, TD_NO_RELAY);
        return;
    }
    if (!(p = perm_find(s, a, peer))) {
        drop(s, a->transport, TD_NO_PERMISSION);
        return;
    }
    if (p->self && !self_reachable(s, a, peer)) {
        drop(s, a->transport, TD_SELF_PORT);
        return;
    }
    /* An IPv6 client's ChannelData can carry more than an IPv4 peer can be sent. */
    if (len > udp_payload_max(peer)) {
        drop(s, a->transport, TD_TOO_BIG);
        return;
    }
    if (!within_rate(s, a, now_ms, len))
        return;
    s->io.send(s->io.ctx, rd->handle, peer, NULL, 0, payload, len, 0);
    count_relayed(s, TURN_TO_PEER, a, peer, len);
}

void data_on_send_indication(struct turn_server *s, uint64_t now_ms, enum turn_transport t,
                             int listen_handle, const struct xt_addr *client,
                             const struct stun_msg *m)
{
    struct turn_allocation *a = alloc_find(s, client, listen_handle);
    const struct stun_attr *pa = stun_find(m, TURN_ATTR_XOR_PEER_ADDRESS);
    const struct stun_attr *data = stun_find(m, TURN_ATTR_DATA);
    struct xt_addr peer;

    if (!a) {
        drop(s, t, TD_NO_ALLOCATION);
        return;
    }
    if (!pa || !data || stun_attr_xor_addr(m, pa, &peer) != 0) {
        drop(s, t, TD_MALFORMED);
        return;
    }
    to_peer(s, now_ms, a, &peer, data->val, data->len);
}

void data_on_channeldata(struct turn_server *s, uint64_t now_ms, enum turn_transport t,
                         int listen_handle, const struct xt_addr *client, const uint8_t *data,
                         size_t len)
{
    struct turn_allocation *a;
    struct turn_channel *c;
    const uint8_t *payload;
    size_t plen;
    uint16_t number;

    if (channeldata_parse(data, len, &number, &payload, &plen) != 0) {
        drop(s, t, TD_MALFORMED);
        return;
    }
    if (!(a = alloc_find(s, client, listen_handle))) {
        drop(s, t, TD_NO_ALLOCATION);
        return;
    }
    if (!(c = chan_by_number(s, a, number))) {
        drop(s, t, TD_NO_CHANNEL);
        return;
    }
    to_peer(s, now_ms, a, &c->peer, payload, plen);
}

void data_indication_tid(struct turn_server *s, uint8_t tid[STUN_TID_LEN])
{
    /* Indications need unique ids, not secret ones: a counter from a random start. */
    memcpy(tid, &s->seed, sizeof(s->seed));
    memcpy(tid + 4, &s->indication_seq, 8);
    s->indication_seq++;
}

/* A Data indication's header up to the DATA attribute's value; the payload and its padding
 * follow as the body. No FINGERPRINT: it would have to come after the payload. */
static size_t data_indication_head(struct turn_server *s, uint8_t *buf, size_t cap,
                                   const struct xt_addr *peer, size_t len, size_t pad)
{
    struct stun_builder b;
    uint8_t tid[STUN_TID_LEN];
    uint16_t total;
    int n;

    data_indication_tid(s, tid);
    stun_build_init(&b, buf, cap, TURN_DATA, STUN_INDICATION, tid);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, peer);
    n = stun_finish(&b);
    if (n < 0 || (size_t)n + 4 > cap)
        return 0;
    buf[n] = TURN_ATTR_DATA >> 8;
    buf[n + 1] = TURN_ATTR_DATA & 0xff;
    buf[n + 2] = (uint8_t)(len >> 8);
    buf[n + 3] = (uint8_t)len;
    total = (uint16_t)(n - STUN_HEADER_LEN + 4 + len + pad);
    buf[2] = (uint8_t)(total >> 8);
    buf[3] = (uint8_t)total;
    return (size_t)n + 4;
}

void data_on_peer(struct turn_server *s, uint64_t now_ms, void *owner, const struct xt_addr *peer,
                  const uint8_t *data, size_t len)
{
    struct turn_relayed *rd = owner;
    struct turn_allocation *a = rd->alloc;
    const struct turn_permission *p = perm_find(s, a, peer);
    const struct turn_channel *c;
    uint8_t head[64];
    size_t head_len, pad = 0;

    if (!p) {
        drop(s, a->transport, TD_NO_PERMISSION);
        return;
    }
    /* The same rule as towards the host: its other sockets cannot talk to a client either. */
    if (p->self && !self_reachable(s, a, peer)) {
        drop(s, a->transport, TD_SELF_PORT);
        return;
    }
    c = chan_by_peer(s, a, peer);
    if (c) {
        channeldata_header(head, c->number, len);
        head_len = CHANNELDATA_HEADER_LEN;
        /* Padding is optional on UDP and required on a stream (RFC 8656 §12.5). */
        if (turn_transport_is_stream(a->transport))
            pad = (4 - len % 4) % 4;
    } else {
        pad = (4 - len % 4) % 4;
        head_len = data_indication_head(s, head, sizeof(head), peer, len, pad);
    }
    /* A peer's datagram with a header in front can be too big for UDP to the client (an IPv6
     * peer's even as ChannelData to an IPv4 client): dropped here, not refused by the kernel. */
    if (head_len == 0 || head_len + len + pad > client_message_max(a)) {
        drop(s, a->transport, TD_TOO_BIG);
        return;
    }
    if (!within_rate(s, a, now_ms, len))
        return;
    s->io.send(s->io.ctx, a->listen_handle, &a->client, head, head_len, data, len, pad);
    count_relayed(s, TURN_TO_CLIENT, a, peer, len);
}
