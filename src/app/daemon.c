#include "app/daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "app/fastpath.h"
#include "common/container_of.h"
#include "common/log.h"
#include "net/event_loop.h"
#include "net/udp_batch.h"
#include "net/udp_socket.h"
#include "turn/turn_server.h"

#define SOCKET_BUFFER     (4 << 20)
#define RX_BATCHES_PER_EV 4 /* then yield to other sockets: one busy peer cannot starve others */
#define STATS_INTERVAL_MS 60000

struct dsock {
    struct ev_handler ev;
    struct daemon *d;
    int handle;
    void *owner; /* NULL for a listen socket, the core's relay otherwise */
    struct xt_addr local;
    struct dsock *next_dead;
};

struct daemon {
    const struct xturn_config *cfg;
    struct ev_loop *loop;
    struct turn_server *turn;
    struct fastpath *fp;  /* NULL without --xdp */
    struct dsock **socks; /* by handle; NULL = free */
    size_t nsocks;
    struct dsock *dead; /* closed during a dispatch, freed after it */
    struct ev_handler sig;
    int stop_signal;
    struct turn_time now;
    uint64_t rx_truncated;
    struct udp_rx rx;
    struct udp_tx tx;
};

static void update_time(struct daemon *d)
{
    struct timespec mono, real;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &real);
    d->now.ms = (uint64_t)mono.tv_sec * 1000 + (uint64_t)mono.tv_nsec / 1000000;
    d->now.unix_s = real.tv_sec;
}

static void on_readable(struct ev_handler *h, uint32_t events);

/* Returns the new socket's handle or -errno. */
static int sock_add(struct daemon *d, int fd, void *owner, const struct xt_addr *local)
{
    struct dsock *s = calloc(1, sizeof(*s));
    size_t handle = 0;
    int err;

    if (!s)
        return -ENOMEM;
    while (handle < d->nsocks && d->socks[handle])
        handle++;
    if (handle == d->nsocks) {
        size_t n = d->nsocks ? d->nsocks * 2 : 64;
        struct dsock **grown = realloc(d->socks, n * sizeof(*grown));
        if (!grown) {
            free(s);
            return -ENOMEM;
        }
        memset(grown + d->nsocks, 0, (n - d->nsocks) * sizeof(*grown));
        d->socks = grown;
        d->nsocks = n;
    }
    s->ev.fd = fd;
    s->ev.cb = on_readable;
    s->d = d;
    s->handle = (int)handle;
    s->owner = owner;
    s->local = *local;
    err = ev_add(d->loop, &s->ev);
    if (err) {
        free(s);
        return err;
    }
    d->socks[handle] = s;
    return (int)handle;
}

static void sock_close(struct daemon *d, int handle)
{
    struct dsock *s = d->socks[handle];
    /* Queued datagrams name this fd; send them before the fd number can be reused. */
    udp_tx_flush(&d->tx);
    ev_del(d->loop, &s->ev);
    close(s->ev.fd);
    s->ev.fd = -1;
    d->socks[handle] = NULL;
    s->next_dead = d->dead;
    d->dead = s;
}

static void reap_dead(struct daemon *d)
{
    while (d->dead) {
        struct dsock *s = d->dead;
        d->dead = s->next_dead;
        free(s);
    }
}

/* ---- the TURN core's I/O ---- */

static int io_relay_open(void *ctx, const struct xt_addr *addr, int dont_fragment, void *owner)
{
    struct daemon *d = ctx;
    int fd = udp_socket_open(addr, dont_fragment, 0);
    int handle;
    if (fd < 0)
        return fd;
    handle = sock_add(d, fd, owner, addr);
    if (handle < 0)
        close(fd);
    return handle;
}

static void io_relay_close(void *ctx, int handle)
{
    sock_close(ctx, handle);
}

static void io_send(void *ctx, int handle, const struct xt_addr *dst, const void *head,
                    size_t head_len, const void *body, size_t body_len, size_t pad)
{
    struct daemon *d = ctx;
    udp_tx_queue(&d->tx, d->socks[handle]->ev.fd, dst, head, head_len, body, body_len, pad);
}

static int io_channel_up(void *ctx, const struct turn_channel_info *ci)
{
    return fastpath_channel_up(((struct daemon *)ctx)->fp, ci);
}

static void io_channel_down(void *ctx, const struct turn_channel_info *ci)
{
    fastpath_channel_down(((struct daemon *)ctx)->fp, ci);
}

/* ---- events ---- */

static void on_readable(struct ev_handler *h, uint32_t events)
{
    struct dsock *s = (struct dsock *)h;
    struct daemon *d = s->d;

    (void)events;
    for (int batch = 0; batch < RX_BATCHES_PER_EV && s->ev.fd >= 0; batch++) {
        int n = udp_rx_recv(&d->rx, s->ev.fd);
        if (n <= 0)
            break;
        update_time(d);
        for (int i = 0; i < n && s->ev.fd >= 0; i++) {
            struct msghdr *mh = &d->rx.msgs[i].msg_hdr;
            struct xt_addr src;
            if ((mh->msg_flags & MSG_TRUNC) ||
                xt_addr_from_sockaddr((struct sockaddr *)mh->msg_name, mh->msg_namelen, &src)) {
                d->rx_truncated++;
                continue;
            }
            if (s->owner)
                turn_on_peer(d->turn, &d->now, s->owner, &src, d->rx.buf[i], d->rx.msgs[i].msg_len);
            else
                turn_on_client(d->turn, &d->now, s->handle, &s->local, &src, d->rx.buf[i],
                               d->rx.msgs[i].msg_len);
        }
        udp_tx_flush(&d->tx);
        if (n < UDP_BATCH)
            break;
    }
}

static void on_signal(struct ev_handler *h, uint32_t events)
{
    struct daemon *d = container_of(h, struct daemon, sig);
    struct signalfd_siginfo si;
    (void)events;
    while (read(h->fd, &si, sizeof(si)) == sizeof(si))
        d->stop_signal = (int)si.ssi_signo;
}

/* ---- life cycle ---- */

static int open_signals(struct daemon *d, char *err, size_t errlen)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* Delivered through the loop, so shutdown happens between batches, never inside one. */
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
        (d->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        snprintf(err, errlen, "cannot set up signal handling: %s", strerror(errno));
        return -1;
    }
    d->sig.cb = on_signal;
    if (ev_add(d->loop, &d->sig) != 0) {
        snprintf(err, errlen, "cannot watch signals: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int open_listeners(struct daemon *d, char *err, size_t errlen)
{
    for (size_t i = 0; i < d->cfg->nlisten; i++) {
        const struct xt_addr *a = &d->cfg->listen[i];
        char as[XT_ADDR_STRLEN];
        int fd = udp_socket_open(a, 0, SOCKET_BUFFER), handle;
        if (fd < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", xt_addr_str(a, as), strerror(-fd));
            return -1;
        }
        handle = sock_add(d, fd, NULL, a);
        if (handle < 0) {
            close(fd);
            snprintf(err, errlen, "cannot watch %s: %s", xt_addr_str(a, as), strerror(-handle));
            return -1;
        }
        xt_log(LOG_INFO, "listening", "address", xt_addr_str(a, as), "transport", "udp", NULL);
    }
    return 0;
}

struct daemon *daemon_new(const struct xturn_config *cfg, char *err, size_t errlen)
{
    struct daemon *d = calloc(1, sizeof(*d));
    struct turn_io io;

    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->cfg = cfg;
    d->sig.fd = -1;
    udp_rx_init(&d->rx);
    udp_tx_init(&d->tx);
    update_time(d);
    d->loop = ev_loop_new();
    if (!d->loop) {
        snprintf(err, errlen, "cannot create the event loop: %s", strerror(errno));
        goto fail;
    }
    if (open_signals(d, err, errlen) != 0)
        goto fail;
    /* The fast path is in place before the first client can reach a listen socket. */
    d->fp = fastpath_start(cfg, err, errlen);
    if ((!d->fp && err[0]) || open_listeners(d, err, errlen) != 0)
        goto fail;
    io = (struct turn_io){.ctx = d,
                          .relay_open = io_relay_open,
                          .relay_close = io_relay_close,
                          .send = io_send,
                          .channel_up = d->fp ? io_channel_up : NULL,
                          .channel_down = d->fp ? io_channel_down : NULL};
    d->turn = turn_server_new(&cfg->turn, &io, &d->now, NULL);
    if (!d->turn) {
        snprintf(err, errlen, "cannot create the TURN server state");
        goto fail;
    }
    return d;
fail:
    daemon_free(d);
    return NULL;
}

static void log_stats(const struct daemon *d)
{
    const struct turn_counters *c = turn_server_counters(d->turn);
    char v[8][24];
    snprintf(v[0], sizeof(v[0]), "%llu", (unsigned long long)c->allocations);
    snprintf(v[1], sizeof(v[1]), "%llu", (unsigned long long)c->permissions);
    snprintf(v[2], sizeof(v[2]), "%llu", (unsigned long long)c->channels);
    snprintf(v[3], sizeof(v[3]), "%llu", (unsigned long long)c->relayed_to_peer_pkts);
    snprintf(v[4], sizeof(v[4]), "%llu", (unsigned long long)c->relayed_to_client_pkts);
    snprintf(v[5], sizeof(v[5]), "%llu", (unsigned long long)c->dropped_pkts);
    snprintf(v[6], sizeof(v[6]), "%llu", (unsigned long long)d->tx.failed);
    snprintf(v[7], sizeof(v[7]), "%llu", (unsigned long long)d->rx_truncated);
    xt_log(LOG_INFO, "stats", "#allocations", v[0], "#permissions", v[1], "#channels", v[2],
           "#to_peer_packets", v[3], "#to_client_packets", v[4], "#dropped_packets", v[5],
           "#send_failures", v[6], "#oversized_datagrams", v[7], NULL);
    if (d->fp)
        fastpath_log_stats(d->fp);
}

int daemon_run(struct daemon *d)
{
    uint64_t next_stats;

    update_time(d);
    next_stats = d->now.ms + STATS_INTERVAL_MS;
    while (!d->stop_signal) {
        /* Wake at the next second so expiries happen on time even when idle. */
        int timeout = (int)(1000 - d->now.ms % 1000);
        int n = ev_run_once(d->loop, timeout);
        reap_dead(d);
        if (n < 0) {
            xt_log(LOG_ERROR, "event loop failed", "error", strerror(-n), NULL);
            return -1;
        }
        update_time(d);
        turn_tick(d->turn, &d->now);
        if (d->fp)
            fastpath_note_cross_family(d->fp, turn_server_counters(d->turn)->cross_family_pkts,
                                       d->now.ms);
        udp_tx_flush(&d->tx);
        reap_dead(d);
        if (d->now.ms >= next_stats) {
            log_stats(d);
            next_stats = d->now.ms + STATS_INTERVAL_MS;
        }
    }
    xt_log(LOG_INFO, "shutting down", "signal", strsignal(d->stop_signal), NULL);
    log_stats(d);
    return 0;
}

void daemon_free(struct daemon *d)
{
    if (!d)
        return;
    turn_server_free(d->turn);
    fastpath_stop(d->fp);
    udp_tx_flush(&d->tx);
    for (size_t i = 0; i < d->nsocks; i++)
        if (d->socks[i])
            sock_close(d, (int)i);
    reap_dead(d);
    free(d->socks);
    if (d->sig.fd >= 0)
        close(d->sig.fd);
    ev_loop_free(d->loop);
    free(d);
}
