#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "app/openssl_random.h"
#include "app/worker_internal.h"
#include "common/clock.h"
#include "common/container_of.h"
#include "common/log.h"
#include "net/udp_socket.h"

_Static_assert(UDP_TX_HEAD >= TURN_HEAD_MAX, "the send queue must take every head the core sends");

#define LISTEN_BUFFER     (4 << 20)
#define RX_BATCHES_PER_EV 4  /* then yield to other sockets: one busy peer cannot starve others */
#define RX_MIN_ROOM       16 /* free receive buffers below which a read sends what is queued first */

void worker_update_time(struct worker *w)
{
    w->now.ms = xt_mono_ms();
    w->now.unix_s = time(NULL);
}

static void on_readable(struct ev_handler *h, uint32_t events);

/* Sends what is queued, then frees the receive buffers the queue pointed into. */
static void flush(struct worker *w)
{
    udp_tx_flush(&w->tx);
    /* (any flush may have been the one refused) */
    if (w->tx.gso_off && !w->gso_off_known) {
        w->gso_off_known = true;
        xt_log(LOG_WARN,
               "the kernel refused UDP segmentation offload (an egress device without transmit "
               "checksum offload?): this worker sends datagrams one by one from now on",
               NULL);
    }
    udp_rx_release(&w->rx);
    dtls_flushed(w);
    streams_flush(w);
}

/* ---- the TURN core's I/O ---- */

static const struct udp_filter *filter_of(const struct worker *w, int family)
{
    return spoof_filters_of(&w->filters, family);
}

static int io_relayed_open(void *ctx, const struct xt_addr *addr, int dont_fragment, void *owner)
{
    struct worker *w = ctx;
    struct udp_socket_opts o = {.dont_fragment = dont_fragment,
                                .gro = !w->cfg->no_udp_gro,
                                .filter = filter_of(w, addr->family)};
    int fd = udp_socket_open(addr, &o);
    int handle;
    if (fd < 0)
        return fd;
    handle = worker_sock_add(w, fd, WS_RELAYED, owner, addr, on_readable);
    if (handle < 0)
        close(fd);
    return handle;
}

int worker_relayed_adopt(struct worker *w, int fd, const struct xt_addr *addr, void *owner)
{
    /* Its filter against spoofed sources is the old process's, for the same host addresses
     * (attaching one costs a compilation: too slow for thousands); a change of the addresses
     * gives every socket the new one (refresh_filters). */
    return worker_sock_add(w, fd, WS_RELAYED, owner, addr, on_readable);
}

static void io_relayed_close(void *ctx, int handle)
{
    worker_sock_close(ctx, handle);
}

static void io_send(void *ctx, int handle, const struct xt_addr *dst, const void *head,
                    size_t head_len, const void *body, size_t body_len, size_t pad)
{
    struct worker *w = ctx;
    struct wsock *s = w->socks[handle];

    if (s->kind == WS_CONN)
        streams_send(w, handle, head, head_len, body, body_len, pad);
    else if (s->kind == WS_DTLS_CONN)
        dtls_send(w, handle, head, head_len, body, body_len, pad);
    else if (s->kind == WS_TCP_DATA)
        tcp_relay_send(w, handle, head, head_len, body, body_len, pad);
    else if (s->kind == WS_UDP_LISTEN || s->kind == WS_RELAYED)
        udp_tx_queue(&w->tx, s->ev.fd, dst, head, head_len, body, body_len, pad);
}

static int io_channel_up(void *ctx, const struct turn_channel_info *ci)
{
    return fastpath_channel_up(((struct worker *)ctx)->fp, ci);
}

static void io_channel_down(void *ctx, const struct turn_channel_info *ci)
{
    fastpath_channel_down(((struct worker *)ctx)->fp, ci);
}

static uint64_t *io_bucket_get(void *ctx, uint32_t *id)
{
    return fastpath_bucket_get(((struct worker *)ctx)->fp, id);
}

static void io_bucket_put(void *ctx, uint32_t id)
{
    fastpath_bucket_put(((struct worker *)ctx)->fp, id);
}

/* ---- events ---- */

static void on_readable(struct ev_handler *h, uint32_t events)
{
    struct wsock *s = container_of(h, struct wsock, ev);
    struct worker *w = s->w;

    (void)events;
    for (int batch = 0; batch < RX_BATCHES_PER_EV && s->ev.fd >= 0; batch++) {
        size_t first, room;
        int n;

        if (udp_rx_free(&w->rx) < RX_MIN_ROOM)
            flush(w);
        room = udp_rx_room(&w->rx);
        n = udp_rx_recv(&w->rx, s->ev.fd, &first);
        if (n <= 0)
            break;
        worker_update_time(w);
        for (size_t i = first; i < first + (size_t)n && s->ev.fd >= 0; i++) {
            struct msghdr *mh = &w->rx.msgs[i].msg_hdr;
            struct xt_addr src;
            size_t off, len;
            if ((mh->msg_flags & MSG_TRUNC) ||
                xt_addr_from_sockaddr((struct sockaddr *)mh->msg_name, mh->msg_namelen, &src)) {
                w->oversized++;
                continue;
            }
            /* Several datagrams of src when the kernel coalesced them (UDP GRO). */
            off = 0;
            do {
                const uint8_t *dg = udp_rx_buf(&w->rx, i) + off;
                len = udp_rx_len_at(&w->rx, i, off);
                off += len;
                if (s->kind == WS_RELAYED)
                    turn_on_peer(w->turn, &w->now, s->owner, &src, dg, len);
                else if (s->kind == WS_DTLS_LISTEN)
                    dtls_on_datagram(w, s, &src, dg, len);
                else
                    turn_on_client(w->turn, &w->now, TURN_UDP, s->handle, &s->local, &src, dg, len);
            } while (len && off < w->rx.msgs[i].msg_len && s->ev.fd >= 0);
        }
        if ((size_t)n < room)
            break;
    }
}

static void on_stop(struct ev_handler *h, uint32_t events)
{
    struct worker *w = container_of(h, struct worker, stop);
    uint64_t v;
    (void)events;
    if (read(h->fd, &v, sizeof(v)) == sizeof(v))
        w->stopping = true;
}

void worker_publish(struct worker *w)
{
    pthread_mutex_lock(&w->published_lock);
    memcpy(w->published.turn, turn_server_counters(w->turn), sizeof(w->published.turn));
    memcpy(w->published.streams, w->streams_ctr, sizeof(w->published.streams));
    w->published.send_failures = w->tx.failed;
    w->published.oversized = w->oversized;
    pthread_mutex_unlock(&w->published_lock);
}

/* The host's addresses changed (or first): new filters, for every socket. */
static int refresh_filters(struct worker *w)
{
    int rc = spoof_filters_refresh(&w->filters, w->shared);

    for (size_t i = 0; rc > 0 && i < w->nsocks; i++) {
        struct wsock *s = w->socks[i];
        int err;

        if (s && (s->kind == WS_UDP_LISTEN || s->kind == WS_RELAYED || s->kind == WS_DTLS_LISTEN) &&
            (err = udp_filter_attach(s->ev.fd, filter_of(w, s->local.family))) != 0)
            xt_log(LOG_ERROR, "cannot give a socket its filter against spoofed sources", "error",
                   strerror(-err), NULL);
    }
    return rc < 0 ? rc : 0;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    uint64_t next_publish = 0;

    while (!w->stopping) {
        /* Wake at the next second so expiries happen on time even when idle. */
        int n = ev_run_once(w->loop, streams_ready(w) ? 0 : (int)(1000 - w->now.ms % 1000));
        worker_reap_dead(w);
        streams_read_ready(w);
        if (n < 0) {
            xt_log(LOG_ERROR, "event loop failed", "error", strerror(-n), NULL);
            break;
        }
        worker_update_time(w);
        turn_tick(w->turn, &w->now);
        streams_tick(w);
        dtls_tick(w);
        refresh_filters(w);
        /* Once per round: replies and relayed datagrams of every socket read in it. */
        flush(w);
        worker_reap_dead(w);
        if (w->now.ms >= next_publish) {
            worker_publish(w);
            next_publish = w->now.ms + 1000;
        }
    }
    worker_publish(w);
    return NULL;
}

/* ---- life cycle ---- */

/* The UDP sockets of the --listen addresses, and of the --tls-listen ones for DTLS. */
static int open_listeners(struct worker *w, bool reuseport, char *err, size_t errlen)
{
    struct udp_socket_opts o = {
        .bufsize = LISTEN_BUFFER, .reuseport = reuseport, .gro = !w->cfg->no_udp_gro};
    const struct xturn_config *cfg = w->cfg;

    for (size_t i = 0; i < cfg->nlisten + cfg->ntls_listen; i++) {
        bool dtls = i >= cfg->nlisten;
        const struct xt_addr *a = dtls ? &cfg->tls_listen[i - cfg->nlisten] : &cfg->listen[i];
        const char *what = dtls ? " (DTLS)" : "";
        char as[XT_ADDR_STRLEN];
        int fd, handle;

        o.filter = filter_of(w, a->family);
        fd = w->adopt.fds ? worker_adopt_listen(w, a, SOCK_DGRAM, o.filter, err, errlen)
                          : udp_socket_open(a, &o);
        if (fd < 0) {
            if (!w->adopt.fds)
                snprintf(err, errlen, "cannot listen on %s%s: %s", xt_addr_str(a, as), what,
                         strerror(-fd));
            return -1;
        }
        handle =
            worker_sock_add(w, fd, dtls ? WS_DTLS_LISTEN : WS_UDP_LISTEN, NULL, a, on_readable);
        if (handle < 0) {
            close(fd);
            snprintf(err, errlen, "cannot watch %s%s: %s", xt_addr_str(a, as), what,
                     strerror(-handle));
            return -1;
        }
    }
    return 0;
}

struct worker *worker_new(const struct xturn_config *cfg, const struct worker_deps *deps,
                          bool reuseport, const struct worker_adopt *adopt, char *err,
                          size_t errlen)
{
    struct worker *w = calloc(1, sizeof(*w));
    struct turn_io io;
    int rc;

    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->cfg = cfg;
    w->shared = deps->shared;
    w->fp = deps->fp;
    w->stop.fd = -1;
    w->streams.limits = deps->limits;
    w->streams.tls = deps->tls;
    w->streams.spare_fd = -1;
    if (adopt)
        w->adopt = *adopt;
    pthread_mutex_init(&w->published_lock, NULL);
    udp_tx_init(&w->tx);
    w->tx.gso_off = w->gso_off_known = cfg->no_udp_gso;
    worker_update_time(w);
    w->loop = ev_loop_new();
    w->stop.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->stop.cb = on_stop;
    if (!w->loop || w->stop.fd < 0 || ev_add(w->loop, &w->stop) != 0) {
        snprintf(err, errlen, "cannot create an event loop: %s", strerror(errno));
        goto fail;
    }
    rc = udp_rx_init(&w->rx);
    if (rc != 0) {
        snprintf(err, errlen, "cannot map the receive buffers: %s", strerror(-rc));
        goto fail;
    }
    rc = refresh_filters(w);
    if (rc != 0) {
        snprintf(err, errlen, "cannot build the socket filters against spoofed sources: %s",
                 strerror(-rc));
        goto fail;
    }
    if (open_listeners(w, reuseport, err, errlen) != 0 ||
        streams_open(w, reuseport, err, errlen) != 0 || dtls_open(w, err, errlen) != 0 ||
        tcp_relay_new(w, err, errlen) != 0)
        goto fail;
    if (w->adopted != w->adopt.n) {
        snprintf(err, errlen,
                 "the old process passed %zu listen sockets for a worker, this "
                 "configuration has %zu",
                 w->adopt.n, w->adopted);
        goto fail;
    }
    io = (struct turn_io){.ctx = w,
                          .relayed_open = io_relayed_open,
                          .relayed_close = io_relayed_close,
                          .send = io_send,
                          .random = openssl_random,
                          .channel_up = w->fp ? io_channel_up : NULL,
                          .channel_down = w->fp ? io_channel_down : NULL,
                          .bucket_get = w->fp && cfg->turn.max_bps ? io_bucket_get : NULL,
                          .bucket_put = w->fp && cfg->turn.max_bps ? io_bucket_put : NULL,
                          .tcp_listen = tcp_relay_listen,
                          .tcp_connect = tcp_relay_connect,
                          .tcp_close = tcp_relay_close,
                          .tcp_splice = tcp_relay_splice,
                          .tcp_redirect = tcp_relay_redirect};
    w->turn = turn_server_new(&cfg->turn, &io, &w->now, w->shared);
    if (!w->turn) {
        snprintf(err, errlen, "cannot create the TURN server state");
        goto fail;
    }
    return w;
fail:
    worker_free(w);
    return NULL;
}

int worker_start(struct worker *w)
{
    int rc;

    w->stopping = false;
    rc = pthread_create(&w->thread, NULL, run, w);
    w->running = rc == 0;
    return -rc;
}

void worker_stop(struct worker *w)
{
    uint64_t one = 1;
    if (!w || !w->running)
        return;
    if (write(w->stop.fd, &one, sizeof(one)) != sizeof(one))
        xt_log(LOG_ERROR, "cannot wake a worker to stop it", "error", strerror(errno), NULL);
    pthread_join(w->thread, NULL);
    w->running = false;
}

void worker_free(struct worker *w)
{
    if (!w)
        return;
    worker_handover_free(w);
    streams_close_all(w);
    dtls_close_all(w);
    turn_server_free(w->turn);
    tcp_relay_free(w);
    udp_tx_flush(&w->tx);
    for (size_t i = 0; i < w->nsocks; i++)
        if (w->socks[i])
            worker_sock_close(w, (int)i);
    worker_reap_dead(w);
    free(w->socks);
    free(w->free_handles);
    if (w->stop.fd >= 0)
        close(w->stop.fd);
    ev_loop_free(w->loop);
    udp_rx_destroy(&w->rx);
    spoof_filters_free(&w->filters);
    pthread_mutex_destroy(&w->published_lock);
    free(w);
}

void worker_counters(struct worker *w, struct worker_counters *out)
{
    pthread_mutex_lock(&w->published_lock);
    *out = w->published;
    pthread_mutex_unlock(&w->published_lock);
}
