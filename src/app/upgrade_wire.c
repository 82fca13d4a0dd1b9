/* The hand-over's manifest as bytes (upgrade.h): which of the fds passed beside it is which
 * worker's listen socket or client connection, then the state snapshot (docs/UPGRADE_STATE.md).
 * Big-endian throughout:
 *   "XTURNUPG", version (2), nfds (4), nworkers (4),
 *   per worker: first_listen (4), nlisten (4), nconns (4),
 *     per connection: index (4), pad (1), client (19), local (19), partial length (4), partial,
 *     counters: how many (2), each (8) in the order of counter_slots (a reader takes those it
 *     knows and leaves the rest 0),
 *   XDP (version 2 on): maps (1), each: name length (1), name, index (4); links (1), each:
 *     index (4),
 *   DTLS clients that stay (version 3 on; 4 says the sockets may carry UDP GRO), per worker:
 * forwarding socket (4: index, or 0xffffffff), clients (4), each: listen socket's position (4),
 * address (19), snapshot length (4), snapshot. An address is its family (1: 4 or 6), port (2), IP
 * (16). The version changes with any change here: a reader refuses another, but reads versions 1
 * (without XDP), 2 (without DTLS clients) and 3 (without GRO) as well. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/upgrade.h"

#define MAGIC     "XTURNUPG"
#define MAGIC_LEN 8
/* 4: the UDP sockets may carry UDP_GRO, which a reader of 3 or less does not handle (it would
 * take coalesced datagrams for one): such a build refuses the hand-over. */
#define WIRE_VERSION 4
#define WIRE_NO_XDP  1 /* the version before the XDP part: still read */
#define WIRE_NO_DTLS 2 /* the version before the DTLS clients: still read */
#define WIRE_NO_GRO  3 /* the version before UDP GRO, the same bytes: still read */
#define NO_FWD       0xffffffffu
#define ADDR_LEN     19
#define CONN_LEN     (4 + 1 + 2 * ADDR_LEN + 4) /* and the partial message */
_Static_assert(UPGRADE_FWD_HEADER == 4 + ADDR_LEN, "a forwarded datagram's header");

/* The daemon's counters of a worker in their order on the wire: per transport, stream_counters
 * but for the open gauge, then send failures and oversized datagrams. Appending is compatible;
 * any other change takes a new WIRE_VERSION (hence the assertion on the enums' sizes). */
#define NCOUNTERS (TURN_TRANSPORT_COUNT * (2 + SR_COUNT + SC_COUNT) + 2)
_Static_assert(SR_COUNT == 5 && SC_COUNT == 12, "the counters' wire order changed");

static size_t counter_slots(struct upgrade_worker *w, uint64_t *slot[NCOUNTERS])
{
    size_t n = 0;

    for (int t = 0; t < TURN_TRANSPORT_COUNT; t++) {
        struct stream_counters *c = &w->streams[t];
        slot[n++] = &c->accepted;
        for (int r = 0; r < SR_COUNT; r++)
            slot[n++] = &c->refused[r];
        for (int k = 0; k < SC_COUNT; k++)
            slot[n++] = &c->closed[k];
        slot[n++] = &c->slow_reader_drops;
    }
    slot[n++] = &w->send_failures;
    slot[n++] = &w->oversized;
    return n;
}

int upgrade_push_fd(struct upgrade_manifest *m, int fd)
{
    int *slot = turn_snapshot_push(&m->fds, &m->nfds, sizeof(*slot));

    if (!slot)
        return -1;
    *slot = fd;
    return (int)(m->nfds - 1);
}

void upgrade_manifest_free(struct upgrade_manifest *m, bool close_fds)
{
    for (size_t i = 0; close_fds && i < m->nfds; i++)
        if (m->fds[i] >= 0)
            close(m->fds[i]);
    for (size_t i = 0; i < m->nworkers; i++) {
        for (size_t k = 0; k < m->workers[i].nconns; k++)
            free(m->workers[i].conns[k].partial);
        free(m->workers[i].conns);
        free(m->workers[i].dtls);
    }
    free(m->workers);
    free(m->fds);
    turn_snapshot_free(&m->snap);
    memset(m, 0, sizeof(*m));
}

/* ---- writing ---- */

static uint8_t *put(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
    return p + n;
}

static uint8_t *put_addr(uint8_t *p, const struct xt_addr *a)
{
    p = put(p, a->family == AF_INET6 ? 6 : 4, 1);
    p = put(p, a->port, 2);
    memcpy(p, a->ip, 16);
    return p + 16;
}

int upgrade_encode(const struct upgrade_manifest *m, uint8_t **out, size_t *len)
{
    uint8_t *snap = NULL, *p;
    size_t snap_len, n = MAGIC_LEN + 2 + 4 + 4 + 4;

    if (turn_snapshot_encode(&m->snap, &snap, &snap_len) != 0)
        return -1;
    n += 2 + 4 * m->xdp.nlinks;
    for (size_t i = 0; i < m->xdp.nmaps; i++)
        n += 1 + strlen(m->xdp.maps[i].name) + 4;
    for (size_t i = 0; i < m->nworkers; i++) {
        n += 12 + m->workers[i].nconns * CONN_LEN + 2 + 8 * NCOUNTERS;
        n += 8 + m->workers[i].ndtls * (4 + ADDR_LEN);
        for (size_t k = 0; k < m->workers[i].nconns; k++)
            n += m->workers[i].conns[k].plen;
    }
    *len = n + snap_len;
    *out = p = malloc(*len);
    if (!p) {
        free(snap);
        return -1;
    }
    memcpy(p, MAGIC, MAGIC_LEN);
    p = put(p + MAGIC_LEN, WIRE_VERSION, 2);
    p = put(p, m->nfds, 4);
    p = put(p, m->nworkers, 4);
    for (size_t i = 0; i < m->nworkers; i++) {
        struct upgrade_worker copy = m->workers[i], *w = &copy;
        uint64_t *slot[NCOUNTERS];
        size_t nslots = counter_slots(w, slot);

        p = put(put(put(p, w->first_listen, 4), w->nlisten, 4), w->nconns, 4);
        for (size_t k = 0; k < w->nconns; k++) {
            p = put(put(p, w->conns[k].index, 4), w->conns[k].pad, 1);
            p = put_addr(put_addr(p, &w->conns[k].client), &w->conns[k].local);
            p = put(p, w->conns[k].plen, 4);
            if (w->conns[k].plen)
                memcpy(p, w->conns[k].partial, w->conns[k].plen);
            p += w->conns[k].plen;
        }
        p = put(p, nslots, 2);
        for (size_t k = 0; k < nslots; k++)
            p = put(p, *slot[k], 8);
    }
    p = put(p, m->xdp.nmaps, 1);
    for (size_t i = 0; i < m->xdp.nmaps; i++) {
        size_t nl = strlen(m->xdp.maps[i].name);
        p = put(p, nl, 1);
        memcpy(p, m->xdp.maps[i].name, nl);
        p = put(p + nl, (uint64_t)m->xdp.maps[i].fd, 4);
    }
    p = put(p, m->xdp.nlinks, 1);
    for (size_t i = 0; i < m->xdp.nlinks; i++)
        p = put(p, (uint64_t)m->xdp.links[i], 4);
    for (size_t i = 0; i < m->nworkers; i++) {
        const struct upgrade_worker *w = &m->workers[i];
        p = put(p, w->dtls_fwd < 0 ? NO_FWD : (uint32_t)w->dtls_fwd, 4);
        p = put(p, w->ndtls, 4);
        for (size_t k = 0; k < w->ndtls; k++)
            p = put_addr(put(p, w->dtls[k].listen, 4), &w->dtls[k].client);
    }
    p = put(p, snap_len, 4);
    memcpy(p, snap, snap_len);
    free(snap);
    return 0;
}

/* ---- reading ---- */

struct reader {
    const uint8_t *p, *end;
    bool short_read;
};

static uint64_t get(struct reader *r, int n)
{
    uint64_t v = 0;

    if (r->end - r->p < n) {
        r->short_read = true;
        r->p = r->end;
        return 0;
    }
    for (int i = 0; i < n; i++)
        v = v << 8 | *r->p++;
    return v;
}

static int get_addr(struct reader *r, struct xt_addr *a)
{
    uint64_t fam = get(r, 1);

    a->port = (uint16_t)get(r, 2);
    if (r->end - r->p < 16)
        r->short_read = true;
    else
        memcpy(a->ip, r->p, 16);
    r->p += r->end - r->p < 16 ? r->end - r->p : 16;
    a->family = fam == 6 ? AF_INET6 : AF_INET;
    return fam == 4 || fam == 6 ? 0 : -1;
}

/* Marks index as used: -1 when out of range or used already. */
static int claim(uint8_t *used, size_t nfds, uint64_t index)
{
    if (index >= nfds || used[index])
        return -1;
    used[index] = 1;
    return 0;
}

/* Those this build knows; a cut is caught by the snapshot's length after them. */
static void read_counters(struct reader *r, struct upgrade_worker *w)
{
    uint64_t *slot[NCOUNTERS];
    size_t nslots = counter_slots(w, slot);
    uint64_t n = get(r, 2);

    for (uint64_t k = 0; k < n && !r->short_read; k++) {
        uint64_t v = get(r, 8);
        if (k < nslots)
            *slot[k] = v;
    }
}

static int read_workers(struct reader *r, struct upgrade_manifest *m, size_t nfds, uint8_t *used,
                        char *err, size_t errlen)
{
    for (size_t i = 0; i < m->nworkers; i++) {
        struct upgrade_worker *w = &m->workers[i];
        uint64_t nconns;

        w->dtls_fwd = -1;
        w->first_listen = (uint32_t)get(r, 4);
        w->nlisten = (uint32_t)get(r, 4);
        nconns = get(r, 4);
        if (r->short_read || nconns > (size_t)(r->end - r->p) / CONN_LEN) {
            snprintf(err, errlen, "hand-over: worker %zu cut short", i);
            return -1;
        }
        for (uint64_t k = 0; k < w->nlisten; k++)
            if (claim(used, nfds, (uint64_t)w->first_listen + k) != 0) {
                snprintf(err, errlen,
                         "hand-over: worker %zu: listen socket %llu not passed or "
                         "named twice",
                         i, (unsigned long long)(w->first_listen + k));
                return -1;
            }
        w->conns = calloc(nconns + 1, sizeof(*w->conns));
        if (!w->conns) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        w->nconns = nconns;
        for (size_t k = 0; k < nconns; k++) {
            struct upgrade_conn *c = &w->conns[k];
            c->index = (uint32_t)get(r, 4);
            c->pad = (uint8_t)get(r, 1);
            bool bad = get_addr(r, &c->client) != 0 || get_addr(r, &c->local) != 0 || c->pad > 3 ||
                       claim(used, nfds, c->index) != 0;
            c->plen = (uint32_t)get(r, 4);
            if (bad || c->plen > UPGRADE_PARTIAL_MAX || c->plen > (size_t)(r->end - r->p) ||
                (c->plen && !(c->partial = malloc(c->plen)))) {
                snprintf(err, errlen,
                         "hand-over: worker %zu, connection %zu: bad address, padding, socket "
                         "or partial message",
                         i, k);
                return -1;
            }
            if (c->plen)
                memcpy(c->partial, r->p, c->plen);
            r->p += c->plen;
        }
        read_counters(r, w);
    }
    return 0;
}

/* The XDP maps and links: each index passed, and used once. */
static int read_xdp(struct reader *r, struct xdp_handover *x, size_t nfds, uint8_t *used, char *err,
                    size_t errlen)
{
    uint64_t nl;

    x->nmaps = get(r, 1);
    if (x->nmaps > XDP_HANDOVER_MAPS)
        goto bad;
    for (size_t i = 0; i < x->nmaps && !r->short_read; i++) {
        nl = get(r, 1);
        if (nl >= XDP_MAP_NAME_LEN || nl > (size_t)(r->end - r->p))
            goto bad;
        memcpy(x->maps[i].name, r->p, nl);
        x->maps[i].name[nl] = '\0';
        r->p += nl;
        x->maps[i].fd = (int)get(r, 4);
        if (claim(used, nfds, (uint64_t)x->maps[i].fd) != 0)
            goto bad;
    }
    x->nlinks = get(r, 1);
    if (x->nlinks > XDP_MAX_IFACES)
        goto bad;
    for (size_t i = 0; i < x->nlinks && !r->short_read; i++) {
        x->links[i] = (int)get(r, 4);
        if (claim(used, nfds, (uint64_t)x->links[i]) != 0)
            goto bad;
    }
    if (!r->short_read)
        return 0;
bad:
    snprintf(err, errlen, "hand-over: bad XDP map or link");
    return -1;
}

/* Each worker's DTLS clients that stay: the forwarding socket passed and used once, each client
 * on one of its listen sockets. */
static int read_dtls(struct reader *r, struct upgrade_manifest *m, size_t nfds, uint8_t *used,
                     char *err, size_t errlen)
{
    for (size_t i = 0; i < m->nworkers; i++) {
        struct upgrade_worker *w = &m->workers[i];
        uint64_t fwd = get(r, 4), n = get(r, 4);

        w->dtls_fwd = fwd == NO_FWD ? -1 : (int32_t)fwd;
        if (r->short_read || (fwd != NO_FWD && claim(used, nfds, fwd) != 0) ||
            (n && fwd == NO_FWD) || n > (size_t)(r->end - r->p) / (4 + ADDR_LEN) ||
            !(w->dtls = calloc(n + 1, sizeof(*w->dtls)))) {
            snprintf(err, errlen, "hand-over: worker %zu: bad DTLS forwarding", i);
            return -1;
        }
        w->ndtls = n;
        for (size_t k = 0; k < n; k++) {
            w->dtls[k].listen = (uint32_t)get(r, 4);
            if (get_addr(r, &w->dtls[k].client) != 0 || w->dtls[k].listen >= w->nlisten) {
                snprintf(err, errlen, "hand-over: worker %zu: bad DTLS client %zu", i, k);
                return -1;
            }
        }
    }
    return 0;
}

void upgrade_fwd_header(uint8_t out[UPGRADE_FWD_HEADER], uint32_t listen,
                        const struct xt_addr *client)
{
    put_addr(put(out, listen, 4), client);
}

int upgrade_fwd_parse(const uint8_t *msg, size_t len, uint32_t *listen, struct xt_addr *client)
{
    struct reader r = {.p = msg, .end = msg + len};

    *listen = (uint32_t)get(&r, 4);
    return get_addr(&r, client) == 0 && !r.short_read ? 0 : -1;
}

int upgrade_decode(const uint8_t *buf, size_t len, size_t nfds, struct upgrade_manifest *m,
                   char *err, size_t errlen)
{
    struct reader r = {.p = buf, .end = buf + len};
    uint8_t *used = calloc(nfds + 1, 1);
    uint64_t version, n, nworkers, snap_len;
    int rc = -1;

    memset(m, 0, sizeof(*m));
    if (!used) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (len < MAGIC_LEN || memcmp(buf, MAGIC, MAGIC_LEN) != 0) {
        snprintf(err, errlen, "hand-over: not an xturn hand-over");
        goto out;
    }
    r.p += MAGIC_LEN;
    version = get(&r, 2);
    n = get(&r, 4);
    nworkers = get(&r, 4);
    if (r.short_read || version < WIRE_NO_XDP || version > WIRE_VERSION) {
        snprintf(err, errlen, "hand-over version %llu, this build reads %d",
                 (unsigned long long)version, WIRE_VERSION);
        goto out;
    }
    if (n != nfds || nworkers == 0 || nworkers > (size_t)(r.end - r.p) / 12) {
        snprintf(err, errlen, "hand-over: %llu sockets announced, %zu passed; %llu workers",
                 (unsigned long long)n, nfds, (unsigned long long)nworkers);
        goto out;
    }
    m->workers = calloc(nworkers, sizeof(*m->workers));
    if (!m->workers) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    m->nworkers = nworkers;
    if (read_workers(&r, m, nfds, used, err, errlen) != 0 ||
        (version != WIRE_NO_XDP && read_xdp(&r, &m->xdp, nfds, used, err, errlen) != 0) ||
        (version >= WIRE_NO_GRO && read_dtls(&r, m, nfds, used, err, errlen) != 0))
        goto out;
    snap_len = get(&r, 4);
    if (r.short_read || snap_len != (size_t)(r.end - r.p)) {
        snprintf(err, errlen, "hand-over: the snapshot's length is not what follows");
        goto out;
    }
    if (turn_snapshot_decode(r.p, snap_len, &m->snap, err, errlen) != 0)
        goto out;
    if (m->snap.nservers != m->nworkers) {
        snprintf(err, errlen, "hand-over: %zu workers but %zu servers in the snapshot", m->nworkers,
                 m->snap.nservers);
        goto out;
    }
    rc = 0;
out:
    free(used);
    if (rc != 0)
        upgrade_manifest_free(m, false);
    return rc;
}
