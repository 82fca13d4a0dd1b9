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

bool worker_forwarding(struct worker *w)
{
    return w->dtls.forwarding;
}

/* From export to retire (or to a failed upgrade): what travelled, and what stays. */
struct worker_handover {
    int *index;  /* by handle: in m->fds, or -1 */
    bool *stays; /* by handle: a connection whose allocation stays here */
    size_t n;    /* handles covered (w->nsocks at export) */
    int *listen; /* the listen sockets' handles, in the manifest's order */
    size_t nlisten;
    int fwd_peer;          /* the forwarding socket's end passed to the new process, or -1 */
    struct ev_handler fwd; /* ours: the stayed DTLS clients' datagrams, forwarded; fd -1: none */
    struct worker *w;
    struct upgrade_manifest *m; /* during export */
    struct upgrade_worker *uw;
    bool failed;
};

void worker_handover_free(struct worker *w)
{
    struct worker_handover *ho = w->handover;

    if (!ho)
        return;
    if (ho->fwd.fd >= 0) {
        ev_del(w->loop, &ho->fwd);
        close(ho->fwd.fd);
    }
    if (ho->fwd_peer >= 0)
        close(ho->fwd_peer);
    free(ho->index);
    free(ho->stays);
    free(ho->listen);
    free(ho);
    w->handover = NULL;
}

/* A plain TCP connection into the array, with what its wconn knew: its index, or -1. */
static int push_conn(struct worker_handover *ho, struct wsock *s)
{
    struct upgrade_conn *c;
    struct xt_addr client;
    const uint8_t *partial;
    size_t plen;
    uint8_t pad;

    streams_conn_peer(s->conn, &pad, &client, &partial, &plen);
    if (!(c = turn_snapshot_push(&ho->uw->conns, &ho->uw->nconns, sizeof(*c))) ||
        (plen && !(c->partial = malloc(plen))) ||
        (ho->index[s->handle] = upgrade_push_fd(ho->m, s->ev.fd)) < 0) {
        ho->failed = true;
        return -1;
    }
    c->index = (uint32_t)ho->index[s->handle];
    c->pad = pad;
    c->client = client;
    c->local = s->local;
    c->plen = (uint32_t)plen;
    if (plen)
        memcpy(c->partial, partial, plen);
    return c->index;
}

/* Whether a client connection can travel: plain TCP at a message boundary with nothing left to
 * write, its incomplete message small, and no allocation of it stays. */
static bool conn_travels(const struct worker_handover *ho, const struct wsock *s)
{
    struct xt_addr client;
    const uint8_t *partial;
    size_t plen;
    uint8_t pad;

    if (s->kind != WS_CONN || !streams_conn_movable(s->conn) || ho->stays[s->handle])
        return false;
    streams_conn_peer(s->conn, &pad, &client, &partial, &plen);
    return plen <= UPGRADE_PARTIAL_MAX;
}

/* The listen sockets are in the array already; a client's connection and a relayed socket join
 * it when capture takes them; the rest (TLS, DTLS, RFC 6062 sockets) stays. */
static int export_index(void *ctx, int handle, bool relayed, bool take)
{
    struct worker_handover *ho = ctx;
    struct wsock *s;

    if (handle < 0 || (size_t)handle >= ho->n || !(s = ho->w->socks[handle]) ||
        relayed != (s->kind == WS_RELAYED))
        return -1;
    if (ho->index[handle] >= 0)
        return ho->index[handle];
    if (!relayed && !conn_travels(ho, s))
        return -1;
    if (!take)
        return 0;
    if (!relayed)
        return push_conn(ho, s);
    if ((ho->index[handle] = upgrade_push_fd(ho->m, s->ev.fd)) < 0)
        ho->failed = true;
    return ho->index[handle];
}

static void export_stays(void *ctx, int handle)
{
    struct worker_handover *ho = ctx;

    if (handle >= 0 && (size_t)handle < ho->n)
        ho->stays[handle] = true;
}

/* A stayed DTLS client: listed with the position of the listen socket it came on. */
static int export_dtls_client(void *ctx, int listen_fd, const struct xt_addr *client)
{
    struct worker_handover *ho = ctx;
    struct upgrade_dtls_client *dc;

    for (size_t k = 0; k < ho->nlisten; k++)
        if (ho->w->socks[ho->listen[k]]->ev.fd == listen_fd) {
            if (!(dc = turn_snapshot_push(&ho->uw->dtls, &ho->uw->ndtls, sizeof(*dc))))
                return -1;
            dc->listen = (uint32_t)k;
            dc->client = *client;
            return 0;
        }
    return 0;
}

/* With DTLS clients: the pair of sockets their datagrams will come back to us over. */
static int export_dtls(struct worker_handover *ho)
{
    int sv[2];

    if (dtls_each_client(ho->w, export_dtls_client, ho) != 0)
        return -1;
    if (ho->uw->ndtls == 0)
        return 0;
    /* Datagrams, and a hang-up each side sees when the other goes. */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    ho->fwd.fd = sv[0];
    ho->fwd_peer = sv[1];
    return (ho->uw->dtls_fwd = upgrade_push_fd(ho->m, sv[1])) < 0 ? -1 : 0;
}

static struct worker_handover *handover_new(struct worker *w, struct upgrade_manifest *m,
                                            struct upgrade_worker *uw)
{
    struct worker_handover *ho = calloc(1, sizeof(*ho));

    if (!ho)
        return NULL;
    w->handover = ho;
    ho->w = w;
    ho->m = m;
    ho->uw = uw;
    ho->n = w->nsocks;
    ho->fwd.fd = ho->fwd_peer = -1;
    ho->index = malloc((w->nsocks + 1) * sizeof(int));
    ho->stays = calloc(w->nsocks + 1, sizeof(bool));
    ho->listen = calloc(w->nsocks + 1, sizeof(int));
    if (!ho->index || !ho->stays || !ho->listen)
        return NULL;
    for (size_t h = 0; h < w->nsocks; h++)
        ho->index[h] = -1;
    return ho;
}

int worker_export(struct worker *w, struct upgrade_manifest *m)
{
    struct upgrade_worker *uw = turn_snapshot_push(&m->workers, &m->nworkers, sizeof(*uw));
    struct worker_handover *ho;
    struct turn_snapshot_export ex = {.sock_index = export_index, .stays = export_stays};

    worker_handover_free(w);
    if (!uw || !(ho = handover_new(w, m, uw)))
        return -1;
    ex.ctx = ho;
    uw->dtls_fwd = -1;
    memcpy(uw->streams, w->streams_ctr, sizeof(uw->streams));
    uw->send_failures = w->tx.failed;
    uw->oversized = w->oversized;
    worker_update_time(w);
    uw->first_listen = (uint32_t)m->nfds;
    for (size_t h = 0; h < w->nsocks; h++) {
        struct wsock *s = w->socks[h];
        if (!s || !is_listen(s->kind))
            continue;
        if ((ho->index[h] = upgrade_push_fd(m, s->ev.fd)) < 0)
            return -1;
        ho->listen[ho->nlisten++] = (int)h;
    }
    uw->nlisten = (uint32_t)ho->nlisten;
    if (turn_snapshot_capture_server(&m->snap, w->turn, &w->now, &ex) != 0 || ho->failed)
        return -1;
    /* The connections without an allocation (yet) travel too. */
    for (size_t h = 0; h < w->nsocks; h++)
        if (w->socks[h] && ho->index[h] < 0 && conn_travels(ho, w->socks[h]) &&
            push_conn(ho, w->socks[h]) < 0)
            return -1;
    return export_dtls(ho);
}

/* A datagram of a stayed DTLS client, forwarded by the new process. */
static void on_forwarded(struct ev_handler *h, uint32_t events)
{
    struct worker_handover *ho = container_of(h, struct worker_handover, fwd);
    struct worker *w = ho->w;
    static _Thread_local uint8_t buf[UPGRADE_FWD_HEADER + 65536];

    (void)events;
    worker_update_time(w);
    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(h->fd, buf, sizeof(buf), MSG_DONTWAIT);
        struct xt_addr src;
        uint32_t k;

        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            /* The new process has gone: its clients cannot reach these ones any more. */
            ev_del(w->loop, h);
            close(h->fd);
            h->fd = -1;
        }
        if (n <= 0)
            break;
        if (upgrade_fwd_parse(buf, (size_t)n, &k, &src) != 0 || k >= ho->nlisten ||
            !w->socks[ho->listen[k]] || w->socks[ho->listen[k]]->kind != WS_DTLS_LISTEN)
            continue;
        dtls_on_datagram(w, w->socks[ho->listen[k]], &src, buf + UPGRADE_FWD_HEADER,
                         (size_t)n - UPGRADE_FWD_HEADER);
    }
}

int worker_retire(struct worker *w)
{
    struct worker_handover *ho = w->handover;
    struct turn_snapshot_export ex = {.ctx = ho, .sock_index = export_index};

    turn_snapshot_release_server(w->turn, &ex);
    w->fp = NULL;
    for (size_t h = 0; h < ho->n; h++) {
        struct wsock *s = w->socks[h];
        if (!s)
            continue;
        if (s->kind == WS_CONN && ho->index[h] >= 0)
            streams_conn_release(w, s->conn);
        /* A DTLS listen socket still carries what the stayed clients are sent. */
        else if (s->kind == WS_DTLS_LISTEN && ho->fwd.fd >= 0)
            ev_del(w->loop, &s->ev);
        else if (is_listen(s->kind))
            worker_sock_close(w, (int)h);
    }
    if (ho->fwd_peer >= 0)
        close(ho->fwd_peer);
    ho->fwd_peer = -1;
    ho->fwd.cb = on_forwarded;
    return ho->fwd.fd >= 0 ? ev_add(w->loop, &ho->fwd) : 0;
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

/* The DTLS clients that stayed with the old process: their datagrams go there. */
static int import_dtls(struct import_ctx *x, const struct upgrade_worker *uw, char *err,
                       size_t errlen)
{
    int rc = dtls_forward_start(x->w, x->m->fds[uw->dtls_fwd]);

    if (rc == 0)
        x->m->fds[uw->dtls_fwd] = -1;
    for (size_t k = 0; rc == 0 && k < uw->ndtls; k++)
        rc = dtls_forward_add(x->w, x->handle[uw->first_listen + uw->dtls[k].listen],
                              uw->dtls[k].listen, &uw->dtls[k].client);
    if (rc != 0)
        snprintf(err, errlen, "cannot forward the old process's DTLS clients: %s", strerror(-rc));
    return rc;
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
    if (rc == 0 && uw->dtls_fwd >= 0 && import_dtls(&x, uw, err, errlen) != 0)
        rc = -1;
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
