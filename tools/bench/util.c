/* Clock, number parsing, sockets and other small helpers of xturn-bench. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

void sleep_until_ns(uint64_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / NS_PER_S), .tv_nsec = (long)(t % NS_PER_S)};
    /* Interrupted by a signal: return early; the caller's loop checks its stop flag. */
    (void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

void bench_err(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "xturn-bench: %s\n", msg);
}

int parse_seconds(const char *s, double *out)
{
    char *end;
    double v;
    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < 0 || v > 1e7)
        return -1;
    *out = v;
    return 0;
}

int parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static void set_buf(int fd, int opt_force, int opt, int size)
{
    /* As root the FORCE variants pass net.core.[rw]mem_max; otherwise the capped value. */
    if (setsockopt(fd, SOL_SOCKET, opt_force, &size, sizeof(size)) != 0)
        (void)setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size));
}

int bench_udp_socket(const struct xt_addr *local, const struct xt_addr *remote, int bufsize,
                     char *err, size_t errlen)
{
    const struct xt_addr *fam_src = remote ? remote : local;
    struct sockaddr_storage ss;
    socklen_t sl;
    char a[XT_ADDR_STRLEN];
    int fd, e, one = 1;
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};

    fd = socket(fam_src->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        e = errno;
        snprintf(err, errlen, "socket: %s", strerror(e));
        return -e;
    }
    if (fam_src->family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bufsize > 0) {
        set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, bufsize);
        set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, bufsize);
    }
    /* Blocking sends (the natural back-pressure of "as fast as possible") but never for long. */
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (local) {
        sl = xt_addr_to_sockaddr(local, &ss);
        if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
            e = errno;
            snprintf(err, errlen, "bind %s: %s", xt_addr_str(local, a), strerror(e));
            close(fd);
            return -e;
        }
    }
    if (remote) {
        sl = xt_addr_to_sockaddr(remote, &ss);
        if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
            e = errno;
            snprintf(err, errlen, "connect %s: %s", xt_addr_str(remote, a), strerror(e));
            close(fd);
            return -e;
        }
    }
    return fd;
}

int raise_nofile(uint64_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            return -1;
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need ? 0 : -1;
}

void random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        p += n;
        len -= (size_t)n;
    }
    if (len > 0) {
        /* No getrandom: transaction ids need only be unpredictable enough for a benchmark. */
        uint64_t x = now_ns() ^ ((uint64_t)getpid() << 32);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            p[i] = (uint8_t)x;
        }
    }
}
