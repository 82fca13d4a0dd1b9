/* `xturn-bench sink`: counts every datagram that arrives on its listen addresses (recvmmsg) and
 * with --echo sends each straight back to its source (sendmmsg from the same buffers). Used as
 * the peer behind a relay, and as the target of `client --direct` for the baseline. */
#include "bench.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define SINK_BUF     65536 /* the largest UDP payload fits: nothing is truncated */
#define SINK_SOCKBUF (8 << 20)

static volatile sig_atomic_t sink_stop;

static void on_signal(int sig)
{
    (void)sig;
    sink_stop = 1;
}

struct sink {
    struct mmsghdr msgs[BENCH_BATCH];
    struct iovec iov[BENCH_BATCH];
    struct sockaddr_storage src[BENCH_BATCH];
    uint8_t *buf; /* BENCH_BATCH * SINK_BUF */
    uint64_t received, bytes, echoed, echo_errors, truncated;
    uint64_t first_ns, last_ns;
};

static void rx_reset(struct sink *s)
{
    for (int i = 0; i < BENCH_BATCH; i++) {
        struct msghdr *h = &s->msgs[i].msg_hdr;
        s->iov[i].iov_base = s->buf + (size_t)i * SINK_BUF;
        s->iov[i].iov_len = SINK_BUF;
        memset(h, 0, sizeof(*h));
        h->msg_name = &s->src[i];
        h->msg_namelen = sizeof(s->src[i]);
        h->msg_iov = &s->iov[i];
        h->msg_iovlen = 1;
    }
}

static void echo_batch(struct sink *s, int fd, int n)
{
    int i = 0;
    for (int k = 0; k < n; k++)
        s->iov[k].iov_len = s->msgs[k].msg_len;
    while (i < n) {
        int r = sendmmsg(fd, &s->msgs[i], (unsigned)(n - i), 0);
        if (r > 0) {
            s->echoed += (uint64_t)r;
            i += r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else {
            s->echo_errors++; /* that one is lost; go on with the rest */
            i++;
        }
    }
}

/* Reads what waits on fd, a few batches at most (other sockets get their turn). */
static void drain_socket(struct sink *s, int fd, bool echo)
{
    for (int round = 0; round < 8; round++) {
        int n;
        rx_reset(s);
        n = recvmmsg(fd, s->msgs, BENCH_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        uint64_t t = now_ns();
        if (!s->first_ns)
            s->first_ns = t;
        s->last_ns = t;
        s->received += (uint64_t)n;
        for (int k = 0; k < n; k++) {
            s->bytes += s->msgs[k].msg_len;
            if (s->msgs[k].msg_hdr.msg_flags & MSG_TRUNC)
                s->truncated++;
        }
        if (echo)
            echo_batch(s, fd, n);
        if (n < BENCH_BATCH)
            return;
    }
}

static void progress(const struct sink *s, uint64_t *last_rx, double elapsed)
{
    printf("\r%8.1f s  received %llu  (%llu/s)  echoed %llu   ", elapsed,
           (unsigned long long)s->received, (unsigned long long)(s->received - *last_rx),
           (unsigned long long)s->echoed);
    fflush(stdout);
    *last_rx = s->received;
}

int sink_main(const struct sink_opts *o)
{
    static struct sink s;
    int fds[BENCH_MAX_LISTEN], ep, rc = 0;
    size_t nfd = 0;
    struct sigaction sa;
    uint64_t t0, deadline, next_progress, last_rx = 0;
    bool tty = !o->json && isatty(STDOUT_FILENO);
    double wall, active;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    s.buf = malloc((size_t)BENCH_BATCH * SINK_BUF);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!s.buf || ep < 0) {
        bench_err("sink: out of memory or no epoll");
        return 2;
    }
    for (size_t i = 0; i < o->nlisten; i++) {
        char err[256];
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        int fd = bench_udp_socket(&o->listen[i], NULL, SINK_SOCKBUF, err, sizeof(err));
        if (fd < 0) {
            bench_err("sink: %s", err);
            rc = 2;
            goto out;
        }
        fds[nfd++] = fd;
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }

    t0 = now_ns();
    deadline = o->duration > 0 ? t0 + (uint64_t)(o->duration * 1e9) : 0;
    next_progress = t0 + NS_PER_S;
    while (!sink_stop) {
        struct epoll_event evs[BENCH_MAX_LISTEN];
        uint64_t t = now_ns();
        int timeout = 200, n;
        if (deadline) {
            if (t >= deadline)
                break;
            if (deadline - t < 200000000ull)
                timeout = (int)((deadline - t + 999999) / 1000000);
        }
        if (tty && t >= next_progress) {
            progress(&s, &last_rx, (double)(t - t0) / 1e9);
            next_progress += NS_PER_S;
        }
        n = epoll_wait(ep, evs, BENCH_MAX_LISTEN, timeout);
        for (int k = 0; k < n; k++)
            drain_socket(&s, fds[evs[k].data.u32], o->echo);
    }
    if (tty)
        printf("\n");

    wall = (double)(now_ns() - t0) / 1e9;
    active = s.received > 1 ? (double)(s.last_ns - s.first_ns) / 1e9 : 0;
    printf("{\"received\":%llu,\"bytes\":%llu,\"echoed\":%llu,\"echo_errors\":%llu,"
           "\"truncated\":%llu,\"duration_s\":%.3f,\"active_s\":%.3f,\"pps\":%.1f}\n",
           (unsigned long long)s.received, (unsigned long long)s.bytes,
           (unsigned long long)s.echoed, (unsigned long long)s.echo_errors,
           (unsigned long long)s.truncated, wall, active,
           active > 0 ? (double)s.received / active : 0.0);
    fflush(stdout);
out:
    for (size_t i = 0; i < nfd; i++)
        close(fds[i]);
    close(ep);
    free(s.buf);
    return rc;
}
