/* `xturn-bench client`: sockets, TURN setup (turn_client.c; --burst ends there: burst.c), then a
 * sender thread (paced bursts, sendmmsg per allocation) and a receiver thread (epoll + recvmmsg
 * over every socket: matching echoes, loss, reordering, round-trip times), a drain, deletion of
 * the allocations and one JSON object on stdout. Shared state is split by owner: the sender
 * writes only tx[] and its totals, the receiver only rx[], the histogram and its totals; the
 * main thread reads their totals after joining them (atomics only for the progress line and the
 * drain). */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define TX_HEAD_MAX 64 /* ChannelData header or Send indication up to the DATA value */
#ifndef BENCH_KEEPALIVE_S
#define BENCH_KEEPALIVE_S 120 /* refreshes while traffic runs: permissions last 300 s */
#endif
#define KEEPALIVE_NS ((uint64_t)BENCH_KEEPALIVE_S * NS_PER_S)
#define RX_ROUNDS    4 /* recvmmsg calls per ready socket before looking at the others */
#define MAX_SLEEP_NS 100000000ull

struct tx_alloc {
    int fd;
    struct bench_stream *stream; /* NULL: UDP */
    uint32_t index;
    uint32_t seq;
    uint8_t head_len, pad;
    uint8_t head[TX_HEAD_MAX];
};

struct rx_alloc {
    uint32_t max_seq;
    bool seen;
};

struct client {
    const struct client_opts *o;
    struct bench_alloc *allocs;
    uint32_t n;
    uint32_t *ready; /* indices of usable allocations */
    uint32_t nready;
    struct tx_alloc *tx; /* by index */
    struct rx_alloc *rx; /* by index */
    int ep;
    bool turn_mode;
    struct turn_ctx turn;
    uint8_t *filler; /* payload after the header, plus room for padding */
    size_t filler_len;
    uint64_t t0, warm_end, t_end;

    atomic_bool stop_send, stop_recv, sender_done;
    _Atomic uint64_t prog_sent, prog_recv, prog_recv_counted;

    /* sender-owned */
    uint64_t sent, sent_all, send_errors, send_end;
    /* receiver-owned */
    uint64_t received, reordered, duplicates, invalid, stun_msgs, closed;
    struct hist hist;
};

static volatile sig_atomic_t client_stop;

static void on_signal(int sig)
{
    (void)sig;
    client_stop = 1;
}

/* ---- sender ---- */

struct txbuf {
    struct mmsghdr msgs[BENCH_BATCH];
    struct iovec iov[BENCH_BATCH][2];
    uint8_t head[BENCH_BATCH][TX_HEAD_MAX + BENCH_MIN_SIZE];
};

/* cnt datagrams on one allocation, in sendmmsg batches. */
static void send_alloc(struct client *c, struct txbuf *b, struct tx_alloc *ta, uint64_t cnt)
{
    size_t tail = c->o->size - BENCH_MIN_SIZE + ta->pad;

    while (cnt > 0) {
        unsigned k = cnt < BENCH_BATCH ? (unsigned)cnt : BENCH_BATCH, i = 0;
        uint64_t now = now_ns(), ok = 0;
        for (unsigned j = 0; j < k; j++) {
            uint8_t *h = b->head[j];
            uint32_t seq = ta->seq++;
            memcpy(h, ta->head, ta->head_len);
            payload_write(h + ta->head_len, ta->index, seq, now);
            b->iov[j][0] = (struct iovec){h, ta->head_len + BENCH_MIN_SIZE};
            b->iov[j][1] = (struct iovec){c->filler, tail};
            memset(&b->msgs[j], 0, sizeof(b->msgs[j]));
            b->msgs[j].msg_hdr.msg_iov = b->iov[j];
            b->msgs[j].msg_hdr.msg_iovlen = tail ? 2 : 1;
        }
        if (ta->stream) {
            /* The run's messages in one write (a stream's sendmmsg); a broken connection
             * refuses them all. */
            if (stream_writev(ta->stream, &b->iov[0][0], 2 * (int)k) == 0)
                ok = k;
            else
                c->send_errors += k;
            i = k;
        }
        while (i < k) {
            int r = sendmmsg(ta->fd, &b->msgs[i], k - i, 0);
            if (r > 0) {
                ok += (uint64_t)r;
                i += (unsigned)r;
            } else if (r < 0 && errno == EINTR) {
                continue;
            } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                /* Still no room after SO_SNDTIMEO: drop the rest of this batch. */
                c->send_errors += k - i;
                break;
            } else {
                c->send_errors++; /* ECONNREFUSED (an ICMP error, once), ENOBUFS...: skip it */
                i++;
            }
        }
        c->sent_all += ok;
        if (now >= c->warm_end)
            c->sent += ok;
        atomic_fetch_add_explicit(&c->prog_sent, ok, memory_order_relaxed);
        cnt -= k;
    }
}

/* due datagrams spread round-robin over the ready allocations, one run per allocation. */
static void send_burst(struct client *c, struct txbuf *b, uint64_t due, uint32_t *cursor)
{
    uint32_t n = c->nready, pos = *cursor;
    uint64_t q = due / n, r = due % n, runs = q ? n : r;

    for (uint64_t j = 0; j < runs; j++) {
        send_alloc(c, b, &c->tx[c->ready[pos]], q + (j < r));
        if (++pos == n)
            pos = 0;
        if ((j & 63) == 63 && (atomic_load(&c->stop_send) || now_ns() >= c->t_end))
            break;
    }
    *cursor = (uint32_t)((*cursor + r) % n);
}

static void *sender_main(void *arg)
{
    struct client *c = arg;
    struct txbuf *b = calloc(1, sizeof(*b));
    uint64_t rate = c->o->rate;
    uint32_t cursor = 0;

    pthread_setname_np(pthread_self(), "xtb-send");
    (void)prctl(PR_SET_TIMERSLACK, 1UL); /* precise wake-ups for pacing */
    if (!b) {
        c->send_end = now_ns();
        atomic_store(&c->sender_done, true);
        return NULL;
    }
    sleep_until_ns(c->t0);
    if (rate > 0) {
        /* Bursts at least 50 us apart; a backlog (a stall) of more than 50 ms is dropped
         * rather than sent in one go. */
        uint64_t sched = 0, min_burst = rate / 20000 ? rate / 20000 : 1;
        uint64_t cap = rate / 20 > min_burst ? rate / 20 : min_burst;
        for (;;) {
            uint64_t now = now_ns(), target, next;
            if (now >= c->t_end || atomic_load(&c->stop_send))
                break;
            target = (uint64_t)((long double)(now - c->t0) * rate / 1e9L);
            if (target > sched) {
                uint64_t due = target - sched;
                if (due > cap) {
                    sched += due - cap;
                    due = cap;
                }
                send_burst(c, b, due, &cursor);
                sched += due;
            }
            next = c->t0 + (uint64_t)((long double)(sched + min_burst) * 1e9L / rate);
            now = now_ns();
            if (next > now + MAX_SLEEP_NS)
                next = now + MAX_SLEEP_NS;
            if (next > c->t_end)
                next = c->t_end;
            if (next > now)
                sleep_until_ns(next);
        }
    } else {
        uint64_t per = c->nready >= 64 ? 8 : 64;
        while (now_ns() < c->t_end && !atomic_load(&c->stop_send))
            send_burst(c, b, per * c->nready, &cursor);
    }
    c->send_end = now_ns();
    atomic_store(&c->sender_done, true);
    free(b);
    return NULL;
}

/* ---- receiver ---- */

struct rxbuf {
    struct mmsghdr msgs[BENCH_BATCH];
    struct iovec iov[BENCH_BATCH];
    uint8_t *buf;
    size_t bufsz;
};

/* Finds the application payload of a datagram from the server (or from the peer, direct):
 * 1 with *payload set, 0 for a STUN message (handled here), -1 for anything else. */
static int unwrap(struct client *c, struct bench_alloc *a, const uint8_t *p, size_t len,
                  const uint8_t **payload, size_t *plen)
{
    uint16_t ch;
    struct stun_msg m;
    const struct stun_attr *d;

    if (c->o->mode == MODE_DIRECT) {
        *payload = p;
        *plen = len;
        return 1;
    }
    if (c->o->mode == MODE_CHANNEL && channeldata_is(p, len)) {
        if (channeldata_parse(p, len, &ch, payload, plen) != 0 || ch != BENCH_CHANNEL)
            return -1;
        return 1;
    }
    if (!stun_is_message(p, len) || stun_parse(p, len, &m) != STUN_OK)
        return -1;
    if (m.cls == STUN_INDICATION && m.method == TURN_DATA) {
        d = stun_find(&m, TURN_ATTR_DATA);
        if (!d)
            return -1;
        *payload = d->val;
        *plen = d->len;
        return 1;
    }
    c->stun_msgs++;
    if (c->turn_mode && a->state == AS_READY)
        turn_keepalive_response(&c->turn, a, p, len);
    return 0;
}

static void on_data(struct client *c, uint32_t idx, const uint8_t *p, size_t len, uint64_t now)
{
    struct bench_alloc *a = &c->allocs[idx];
    struct rx_alloc *ra = &c->rx[idx];
    struct payload_hdr h;
    const uint8_t *payload = NULL;
    size_t plen = 0;
    bool counted;
    int u = unwrap(c, a, p, len, &payload, &plen);

    if (u == 0)
        return;
    if (u < 0 || payload_read(payload, plen, &h) != 0 || h.index != idx || h.ts < c->t0 ||
        h.ts > now) {
        c->invalid++;
        return;
    }
    counted = h.ts >= c->warm_end;
    if (ra->seen && h.seq == ra->max_seq) {
        c->duplicates += counted;
        return;
    }
    if (ra->seen && h.seq < ra->max_seq) {
        c->reordered += counted;
    } else {
        ra->max_seq = h.seq;
        ra->seen = true;
    }
    atomic_fetch_add_explicit(&c->prog_recv, 1, memory_order_relaxed);
    if (counted) {
        c->received++;
        hist_add(&c->hist, now - h.ts);
        atomic_fetch_add_explicit(&c->prog_recv_counted, 1, memory_order_relaxed);
    }
}

struct rx_msg_ctx {
    struct client *c;
    uint32_t idx;
};

static void on_stream_msg(void *arg, const uint8_t *msg, size_t len)
{
    struct rx_msg_ctx *x = arg;
    on_data(x->c, x->idx, msg, len, now_ns());
}

/* Everything that has arrived on a stream; a connection that ended leaves the epoll set. */
static void receive_stream(struct client *c, uint32_t idx)
{
    struct rx_msg_ctx x = {c, idx};
    struct bench_alloc *a = &c->allocs[idx];
    if (stream_read(a->stream, on_stream_msg, &x) != 0) {
        (void)epoll_ctl(c->ep, EPOLL_CTL_DEL, a->fd, NULL);
        c->closed++;
    }
}

static void rx_reset(struct rxbuf *r)
{
    for (int i = 0; i < BENCH_BATCH; i++) {
        r->iov[i] = (struct iovec){r->buf + (size_t)i * r->bufsz, r->bufsz};
        memset(&r->msgs[i], 0, sizeof(r->msgs[i]));
        r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
        r->msgs[i].msg_hdr.msg_iovlen = 1;
    }
}

static void *receiver_main(void *arg)
{
    struct client *c = arg;
    struct rxbuf r;
    struct epoll_event evs[256];
    uint64_t next_ka = c->t0 + KEEPALIVE_NS;

    pthread_setname_np(pthread_self(), "xtb-recv");
    r.bufsz = (c->o->size + 128 + 63) & ~(size_t)63;
    r.buf = malloc((size_t)BENCH_BATCH * r.bufsz);
    if (!r.buf)
        return NULL;
    while (!atomic_load(&c->stop_recv)) {
        int n = epoll_wait(c->ep, evs, 256, 20);
        for (int k = 0; k < n; k++) {
            uint32_t idx = evs[k].data.u32;
            int fd = c->allocs[idx].fd;
            if (c->allocs[idx].stream) {
                receive_stream(c, idx);
                continue;
            }
            for (int round = 0; round < RX_ROUNDS; round++) {
                int m;
                uint64_t now;
                rx_reset(&r);
                m = recvmmsg(fd, r.msgs, BENCH_BATCH, MSG_DONTWAIT, NULL);
                if (m <= 0) {
                    /* ECONNREFUSED (an ICMP error) is reported once; the data may follow. */
                    if (m < 0 && errno == ECONNREFUSED)
                        continue;
                    break;
                }
                now = now_ns();
                for (int j = 0; j < m; j++)
                    on_data(c, idx, r.buf + (size_t)j * r.bufsz, r.msgs[j].msg_len, now);
                if (m < BENCH_BATCH)
                    break;
            }
        }
        if (c->turn_mode && now_ns() >= next_ka) {
            for (uint32_t i = 0; i < c->nready; i++)
                turn_keepalive(&c->turn, &c->allocs[c->ready[i]]);
            next_ka += KEEPALIVE_NS;
        }
    }
    free(r.buf);
    return NULL;
}

/* ---- main ---- */

static const char *mode_name(enum bench_mode m)
{
    return m == MODE_CHANNEL ? "channel" : m == MODE_SEND ? "send" : "direct";
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static void report(struct client *c, double setup_s)
{
    const struct client_opts *o = c->o;
    double dur = c->send_end > c->warm_end ? (double)(c->send_end - c->warm_end) / 1e9 : 0;
    uint64_t lost = c->sent > c->received ? c->sent - c->received : 0;
    char a[XT_ADDR_STRLEN];
    int fam = 0;
    FILE *f = stdout;

    for (uint32_t i = 0; i < c->nready; i++) {
        const struct bench_alloc *al = &c->allocs[c->ready[i]];
        const struct xt_addr *x = c->turn_mode ? &al->relayed : &al->peer;
        int this = x->family == AF_INET6 ? 6 : 4;
        fam = i == 0 ? this : fam == this ? fam : -1;
    }
    fprintf(f, "{\"mode\":\"%s\",\"transport\":\"%s\",", mode_name(o->mode),
            transport_name(o->transport));
    if (c->turn_mode)
        fprintf(f, "\"server\":\"%s\",", xt_addr_str(&o->server, a));
    else
        fprintf(f, "\"server\":null,");
    fprintf(f, "\"peers\":[");
    for (size_t i = 0; i < o->npeers; i++)
        fprintf(f, "%s\"%s\"", i ? "," : "", xt_addr_str(&o->peers[i], a));
    fprintf(f, "],");
    if (c->turn_mode && fam > 0)
        fprintf(f, "\"relay_family\":%d,", fam);
    else
        fprintf(f, "\"relay_family\":null,");
    fprintf(f, "\"allocations\":%u,\"setup_failures\":%u,\"setup_errors\":", c->n,
            c->n - c->nready);
    if (c->turn_mode)
        turn_errors_json(&c->turn, f);
    else
        fprintf(f, "{}");
    fprintf(f, ",\"setup_s\":%.3f,\"deleted\":%u,", setup_s, c->turn_mode ? c->turn.deleted : 0);
    fprintf(f, "\"size\":%u,\"rate\":%llu,\"echo\":%s,\"warmup_s\":%.3f,\"duration_s\":%.3f,",
            o->size, (unsigned long long)o->rate, o->echo ? "true" : "false", o->warmup, dur);
    fprintf(f, "\"sent\":%llu,\"send_errors\":%llu,\"offered_pps\":%.1f,\"closed\":%llu,",
            (unsigned long long)c->sent, (unsigned long long)c->send_errors,
            dur > 0 ? (double)c->sent / dur : 0.0, (unsigned long long)c->closed);
    if (o->echo) {
        fprintf(f,
                "\"received\":%llu,\"lost\":%llu,\"loss_pct\":%.4f,\"reordered\":%llu,"
                "\"duplicates\":%llu,\"invalid\":%llu,\"delivered_pps\":%.1f,",
                (unsigned long long)c->received, (unsigned long long)lost,
                c->sent ? 100.0 * (double)lost / (double)c->sent : 0.0,
                (unsigned long long)c->reordered, (unsigned long long)c->duplicates,
                (unsigned long long)c->invalid, dur > 0 ? (double)c->received / dur : 0.0);
        if (c->hist.count)
            fprintf(f,
                    "\"rtt_us\":{\"min\":%.1f,\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,"
                    "\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}}\n",
                    us(c->hist.min), us((uint64_t)(c->hist.sum / c->hist.count)),
                    us(hist_quantile(&c->hist, 0.5)), us(hist_quantile(&c->hist, 0.9)),
                    us(hist_quantile(&c->hist, 0.99)), us(hist_quantile(&c->hist, 0.999)),
                    us(c->hist.max));
        else
            fprintf(f, "\"rtt_us\":null}\n");
    } else {
        fprintf(f,
                "\"received\":null,\"lost\":null,\"loss_pct\":null,\"reordered\":null,"
                "\"duplicates\":null,\"invalid\":%llu,\"delivered_pps\":null,\"rtt_us\":null}\n",
                (unsigned long long)c->invalid);
    }
    fflush(f);
}

static void progress(struct client *c, uint64_t now, uint64_t *last_tx, uint64_t *last_rx)
{
    uint64_t tx = atomic_load(&c->prog_sent), rx = atomic_load(&c->prog_recv);
    double t = now > c->t0 ? (double)(now - c->t0) / 1e9 : 0;
    printf("\r%6.1f s %s  sent %llu/s  ", t, now < c->warm_end ? "warmup" : "      ",
           (unsigned long long)(tx - *last_tx));
    if (c->o->echo)
        printf("received %llu/s  total sent %llu received %llu   ",
               (unsigned long long)(rx - *last_rx), (unsigned long long)tx, (unsigned long long)rx);
    else
        printf("total sent %llu   ", (unsigned long long)tx);
    fflush(stdout);
    *last_tx = tx;
    *last_rx = rx;
}

static int open_sockets(struct client *c)
{
    const struct client_opts *o = c->o;
    int bufsize = c->n <= 16 ? 4 << 20 : c->n <= 256 ? 1 << 20 : 256 << 10;

    for (uint32_t i = 0; i < c->n; i++) {
        struct bench_alloc *a = &c->allocs[i];
        const struct xt_addr *local = o->nlocal ? &o->local[i % o->nlocal] : NULL;
        char err[256];
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        a->fd = -1;
        a->index = i;
        a->peer = o->peers[i % o->npeers];
        if (c->turn_mode && o->transport != TRANSPORT_UDP) {
            a->stream = stream_open(o, local, err, sizeof(err));
            a->fd = a->stream ? stream_fd(a->stream) : -1;
        } else {
            a->fd = bench_udp_socket(local, c->turn_mode ? &o->server : &a->peer, bufsize, err,
                                     sizeof(err));
        }
        if (a->fd < 0) {
            bench_err("client: socket %u of %u: %s", i + 1, c->n, err);
            return -1;
        }
        if (epoll_ctl(c->ep, EPOLL_CTL_ADD, a->fd, &ev) != 0) {
            bench_err("client: epoll_ctl: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int run_traffic(struct client *c, bool tty)
{
    const struct client_opts *o = c->o;
    pthread_t snd, rcv;
    sigset_t block, old;
    uint64_t next_progress, last_tx = 0, last_rx = 0, drain_end;

    c->t0 = now_ns() + 10000000ull;
    c->warm_end = c->t0 + (uint64_t)(o->warmup * 1e9);
    c->t_end = c->warm_end + (uint64_t)(o->duration * 1e9);
    hist_init(&c->hist);

    /* The workers never take SIGINT/SIGTERM: the main thread does, and tells them. */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    if (pthread_create(&rcv, NULL, receiver_main, c) != 0) {
        bench_err("client: cannot start a thread");
        return -1;
    }
    if (pthread_create(&snd, NULL, sender_main, c) != 0) {
        bench_err("client: cannot start a thread");
        atomic_store(&c->stop_recv, true);
        pthread_join(rcv, NULL);
        return -1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    next_progress = c->t0 + NS_PER_S;
    while (!atomic_load(&c->sender_done)) {
        uint64_t now = now_ns();
        if (client_stop)
            atomic_store(&c->stop_send, true);
        if (tty && now >= next_progress) {
            progress(c, now, &last_tx, &last_rx);
            next_progress += NS_PER_S;
        }
        sleep_until_ns(now + 20000000ull);
    }
    pthread_join(snd, NULL);

    /* Drain: wait for the last echoes, at most o->drain seconds. */
    drain_end = now_ns() + (uint64_t)(o->drain * 1e9);
    while (o->echo && now_ns() < drain_end && atomic_load(&c->prog_recv_counted) < c->sent)
        sleep_until_ns(now_ns() + 1000000ull);
    atomic_store(&c->stop_recv, true);
    pthread_join(rcv, NULL);
    if (tty) {
        progress(c, now_ns(), &last_tx, &last_rx);
        printf("\n");
    }
    return 0;
}

int client_main(const struct client_opts *o)
{
    static struct client c;
    struct sigaction sa;
    bool tty = !o->json && isatty(STDOUT_FILENO);
    struct burst_mem mem;
    uint64_t t_setup, t_turn;
    double setup_s = 0;
    int rc = 2;
    char why[256];

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    c.o = o;
    c.n = o->allocations;
    c.turn_mode = o->mode != MODE_DIRECT;
    if (raise_nofile((uint64_t)c.n + 64) != 0) {
        bench_err("client: %u allocations need %u open files (ulimit -n)", c.n, c.n + 64);
        return 2;
    }
    /* A connection the server closed fails the next write (EPIPE), it does not kill us. */
    signal(SIGPIPE, SIG_IGN);
    if (stream_init(o, why, sizeof(why)) != 0) {
        bench_err("client: %s", why);
        return 2;
    }
    c.allocs = calloc(c.n, sizeof(*c.allocs));
    c.ready = calloc(c.n, sizeof(*c.ready));
    c.tx = calloc(c.n, sizeof(*c.tx));
    c.rx = calloc(c.n, sizeof(*c.rx));
    c.filler_len = o->size - BENCH_MIN_SIZE + 4;
    c.filler = calloc(1, c.filler_len);
    c.ep = epoll_create1(EPOLL_CLOEXEC);
    if (!c.allocs || !c.ready || !c.tx || !c.rx || !c.filler || c.ep < 0) {
        bench_err("client: out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < c.n; i++)
        c.allocs[i].fd = -1;
    payload_fill(c.filler, o->size - BENCH_MIN_SIZE);
    t_setup = now_ns(); /* with the connections (TCP, TLS handshakes) */
    if (open_sockets(&c) != 0)
        goto out;
    if (c.turn_mode) {
        char a[XT_ADDR_STRLEN];
        if (o->burst && burst_mem_before(o, &mem) != 0)
            goto out;
        t_turn = now_ns(); /* a burst is timed without the sockets (connections) */
        turn_init(&c.turn, o, c.allocs, c.n, c.ep, tty, &client_stop);
        if (turn_setup(&c.turn) < 0) {
            if (tty)
                printf("\n");
            bench_err("client: no response from server %s%s%s", xt_addr_str(&o->server, a),
                      c.turn.last_errno ? ": " : "",
                      c.turn.last_errno ? strerror(c.turn.last_errno) : "");
            goto out;
        }
        if (c.turn.ready == 0) {
            turn_teardown(&c.turn); /* allocations whose ChannelBind failed, say */
            turn_failure_reason(&c.turn, why, sizeof(why));
            if (client_stop)
                bench_err("client: interrupted during setup");
            else
                bench_err("client: every allocation failed on %s: %s", xt_addr_str(&o->server, a),
                          why);
            goto out;
        }
        if (o->burst) {
            burst_finish(&c.turn, &mem, (double)(now_ns() - t_turn) / 1e9);
            rc = 0;
            goto out;
        }
        for (uint32_t i = 0; i < c.n; i++)
            if (c.allocs[i].state == AS_READY)
                c.ready[c.nready++] = i;
    } else {
        for (uint32_t i = 0; i < c.n; i++) {
            c.allocs[i].state = AS_READY;
            c.ready[c.nready++] = i;
        }
    }
    setup_s = (double)(now_ns() - t_setup) / 1e9;

    for (uint32_t i = 0; i < c.nready; i++) {
        struct bench_alloc *a = &c.allocs[c.ready[i]];
        struct tx_alloc *ta = &c.tx[a->index];
        ta->fd = a->fd;
        ta->stream = a->stream;
        ta->index = a->index;
        ta->head_len = c.turn_mode ? (uint8_t)turn_data_prefix(o, a, ta->head, &ta->pad) : 0;
    }

    if (!client_stop && run_traffic(&c, tty) != 0)
        goto out;
    if (c.turn_mode)
        turn_teardown(&c.turn);
    report(&c, setup_s);
    rc = 0;
out:
    for (uint32_t i = 0; c.allocs && i < c.n; i++) {
        if (c.allocs[i].stream)
            stream_close(c.allocs[i].stream);
        else if (c.allocs[i].fd >= 0)
            close(c.allocs[i].fd);
    }
    stream_cleanup();
    if (c.ep >= 0)
        close(c.ep);
    free(c.allocs);
    free(c.ready);
    free(c.tx);
    free(c.rx);
    free(c.filler);
    return rc;
}
