/* A worker's part of the live upgrade (app/upgrade.h): what a stopped worker hands over, and a
 * new worker taking it over. Both sides walk the listen sockets in handle order, which is the
 * order a fresh worker opens them in (the configuration is the same: the same arguments). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/upgrade.h"
#include "app/worker_internal.h"
#include "net/udp_filter.h"

static bool is_listen(enum wsock_kind k)
{
    return k == WS_UDP_LISTEN || k == WS_DTLS_LISTEN || k == WS_TCP_LISTEN || k == WS_TLS_LISTEN;
}

/* Whether fd is a socket of type bound to local (and, peer given, connected to it). */
static bool sock_is(int fd, int type, const struct xt_addr *local, const struct xt_addr *peer)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    struct xt_addr a;
    int t = 0;
    socklen_t tl = sizeof(t);

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &tl) != 0 || t != type ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
        xt_addr_from_sockaddr((struct sockaddr *)&ss, len, &a) != 0 || !xt_addr_equal(&a, local))
        return false;
    len = sizeof(ss);
    return !peer ||
           (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
            xt_addr_from_sockaddr((struct sockaddr *)&ss, len, &a) == 0 && xt_addr_equal(&a, peer));
}

int worker_adopt_listen(struct worker *w, const struct xt_addr *a, int type,
                        const struct udp_filter *filter, char *err, size_t errlen)
{
    char as[XT_ADDR_STRLEN];
    int fd, rc;

    if (w->adopted >= w->adopt.n) {
        snprintf(err, errlen,
                 "the old process passed %zu listen sockets for a worker, this "
                 "configuration has more (%s)",
                 w->adopt.n, xt_addr_str(a, as));
        return -1;
    }
    fd = w->adopt.fds[w->adopted];
    if (!sock_is(fd, type, a, NULL)) {
        snprintf(err, errlen, "listen socket %zu of the old process is not %s over %s", w->adopted,
                 xt_addr_str(a, as), type == SOCK_DGRAM ? "UDP" : "TCP");
        return -1;
    }
    if (filter && (rc = udp_filter_attach(fd, filter)) != 0) {
        snprintf(err, errlen, "cannot filter %s against spoofed sources: %s", xt_addr_str(a, as),
                 strerror(-rc));
        return -1;
    }
    w->adopt.fds[w->adopted++] = -1;
    return fd;
}

/* ---- the old side ---- */

struct export_ctx {
    struct worker *w;
    struct upgrade_manifest *m;
    int *index; /* by handle: in m->fds, or -1 */
    bool failed;
};

/* Listen sockets and moving connections are in the array already; relayed sockets join it when
 * capture asks; the rest (TLS, DTLS, RFC 6062 sockets) stays. */
static int export_index(void *ctx, int handle, bool relayed)
{
    struct export_ctx *x = ctx;
    struct wsock *s;

    if (handle < 0 || (size_t)handle >= x->w->nsocks || !(s = x->w->socks[handle]) ||
        relayed != (s->kind == WS_RELAYED))
        return -1;
    if (x->index[handle] < 0 && relayed && (x->index[handle] = upgrade_push_fd(x->m, s->ev.fd)) < 0)
        x->failed = true;
    return x->index[handle];
}

/* The listen sockets, then the connections that can move, into the array. */
static int export_socks(struct worker *w, struct upgrade_manifest *m, struct upgrade_worker *uw,
                        int *index)
{
    struct xt_addr client;
    uint8_t pad;

    uw->first_listen = (uint32_t)m->nfds;
    for (size_t h = 0; h < w->nsocks; h++) {
        struct wsock *s = w->socks[h];
        if (!s || !is_listen(s->kind))
            continue;
        if ((index[h] = upgrade_push_fd(m, s->ev.fd)) < 0)
            return -1;
        uw->nlisten++;
    }
    for (size_t h = 0; h < w->nsocks; h++) {
        struct wsock *s = w->socks[h];
        struct upgrade_conn *c;
        const uint8_t *partial;
        size_t plen;
        if (!s || s->kind != WS_CONN || !streams_conn_movable(s->conn))
            continue;
        streams_conn_peer(s->conn, &pad, &client, &partial, &plen);
        if (plen > UPGRADE_PARTIAL_MAX)
            continue;
        if (!(c = turn_snapshot_push(&uw->conns, &uw->nconns, sizeof(*c))) ||
            (plen && !(c->partial = malloc(plen))) || (index[h] = upgrade_push_fd(m, s->ev.fd)) < 0)
            return -1;
        c->index = (uint32_t)index[h];
        c->pad = pad;
        c->client = client;
        c->local = s->local;
        c->plen = (uint32_t)plen;
        if (plen)
            memcpy(c->partial, partial, plen);
    }
    return 0;
}

int worker_export(struct worker *w, struct upgrade_manifest *m)
{
    struct upgrade_worker *uw = turn_snapshot_push(&m->workers, &m->nworkers, sizeof(*uw));
    struct export_ctx x = {.w = w, .m = m, .index = malloc((w->nsocks + 1) * sizeof(int))};
    struct turn_snapshot_export ex = {.ctx = &x, .sock_index = export_index};
    int rc = -1;

    if (!uw || !x.index)
        goto out;
    for (size_t h = 0; h < w->nsocks; h++)
        x.index[h] = -1;
    memcpy(uw->streams, w->streams_ctr, sizeof(uw->streams));
    uw->send_failures = w->tx.failed;
    uw->oversized = w->oversized;
    worker_update_time(w);
    if (export_socks(w, m, uw, x.index) == 0 &&
        turn_snapshot_capture_server(&m->snap, w->turn, &w->now, &ex) == 0 && !x.failed)
        rc = 0;
out:
    free(x.index);
    return rc;
}

/* ---- the new side ---- */

struct import_ctx {
    struct worker *w;
    struct upgrade_manifest *m;
    int *handle; /* by index in m->fds: a client's listen socket or connection here, or -1 */
};

static int import_client(void *ctx, uint32_t index)
{
    struct import_ctx *x = ctx;

    return index < x->m->nfds ? x->handle[index] : -1;
}

static int import_relayed(void *ctx, uint32_t index, const struct xt_addr *addr, bool tcp,
                          void *owner)
{
    struct import_ctx *x = ctx;
    int fd, handle;

    /* RFC 6062 relayed sockets stay with the old process: export never names one. */
    if (tcp || index >= x->m->nfds || (fd = x->m->fds[index]) < 0 ||
        !sock_is(fd, SOCK_DGRAM, addr, NULL))
        return -1;
    handle = worker_relayed_adopt(x->w, fd, addr, owner);
    if (handle >= 0)
        x->m->fds[index] = -1;
    return handle;
}

/* The connections of worker i, watched here under the handles import_client gives. */
static int adopt_conns(struct import_ctx *x, const struct upgrade_worker *uw, char *err,
                       size_t errlen)
{
    for (size_t k = 0; k < uw->nconns; k++) {
        const struct upgrade_conn *c = &uw->conns[k];
        int fd = x->m->fds[c->index], handle;
        char cs[XT_ADDR_STRLEN];

        if (!sock_is(fd, SOCK_STREAM, &c->local, &c->client)) {
            snprintf(err, errlen, "connection %zu is not TCP from %s", k,
                     xt_addr_str(&c->client, cs));
            return -1;
        }
        x->m->fds[c->index] = -1;
        handle = streams_adopt_conn(x->w, fd, &c->local, &c->client, c->pad);
        if (handle < 0) {
            snprintf(err, errlen, "cannot take over the connection of %s: %s",
                     xt_addr_str(&c->client, cs), strerror(-handle));
            return -1;
        }
        x->handle[c->index] = handle;
    }
    return 0;
}

int worker_restore(struct worker *w, struct upgrade_manifest *m, size_t i, char *err, size_t errlen)
{
    const struct upgrade_worker *uw = &m->workers[i];
    struct import_ctx x = {.w = w, .m = m, .handle = malloc((m->nfds + 1) * sizeof(int))};
    struct turn_snapshot_import im = {
        .ctx = &x, .client_handle = import_client, .relayed_handle = import_relayed};
    size_t k = uw->first_listen;
    int rc = -1;

    if (!x.handle) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t j = 0; j < m->nfds; j++)
        x.handle[j] = -1;
    for (size_t h = 0; h < w->nsocks; h++)
        if (w->socks[h] && is_listen(w->socks[h]->kind))
            x.handle[k++] = (int)h;
    worker_update_time(w);
    if (adopt_conns(&x, uw, err, errlen) == 0 &&
        turn_snapshot_restore_server(&m->snap, i, w->turn, &w->now, &im, err, errlen) == 0)
        rc = 0;
    for (int t = 0; rc == 0 && t < TURN_TRANSPORT_COUNT; t++) {
        struct stream_counters c = uw->streams[t];
        c.open = 0; /* counted as the connections were taken over */
        stream_counters_add(&w->streams_ctr[t], &c);
    }
    w->tx.failed += uw->send_failures;
    w->oversized += uw->oversized;
    /* A scrape before the loop's first round must not see the counters start again at 0. */
    worker_publish(w);
    /* Once the allocations are back: a message completed by the next read finds its own. */
    for (size_t c = 0; rc == 0 && c < uw->nconns; c++)
        if (uw->conns[c].plen)
            streams_adopt_input(w, x.handle[uw->conns[c].index], uw->conns[c].partial,
                                uw->conns[c].plen);
    free(x.handle);
    return rc;
}
