#include "net/udp_filter.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* The loopback interface is number 1 in every network namespace (the kernel's
 * LOOPBACK_IFINDEX). */
#define LO_IFINDEX 1
#define ACCEPT     0xffffffffu
#define DROP       0u

/* A UDP socket's filter runs with the UDP header at offset 0 and the IP header at SKF_NET_OFF. */
#define SRC4 (SKF_NET_OFF + 12)
#define SRC6 (SKF_NET_OFF + 8)

static uint32_t word(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The program for the first m addresses of the family. Conditional jumps reach 255 instructions
 * at most: every address gets its own drop right after its compares, and a mismatch goes on to
 * the next address.
 *   ld ifindex; jeq lo ? next : +1; ret accept
 *   IPv4: ld src; per address: jeq a ? next : +1; ret drop
 *   IPv6: per address: (ld word w; jeq a[w] ? next : to the next address) x 4; ret drop
 *   ret accept */
static int build(struct udp_filter *f, int family, const struct xt_addr *host, size_t n, size_t m,
                 size_t *covered)
{
    bool v4 = family == AF_INET;
    size_t per = v4 ? 2 : 9, k = 0;
    struct sock_filter *p = calloc(5 + m * per, sizeof(*p));

    *covered = 0;
    f->insns = p;
    f->len = 0;
    if (!p)
        return -ENOMEM;
    p[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_IFINDEX);
    p[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, LO_IFINDEX, 0, 1);
    p[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, ACCEPT);
    if (v4)
        p[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SRC4);
    for (size_t i = 0; i < n && *covered < m; i++) {
        if (host[i].family != family)
            continue;
        if (v4) {
            p[k++] =
                (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, word(host[i].ip), 0, 1);
        } else {
            for (unsigned w = 0; w < 4; w++) {
                p[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SRC6 + 4 * w);
                p[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                                      word(host[i].ip + 4 * w), 0, 7 - 2 * w);
            }
        }
        p[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, DROP);
        (*covered)++;
    }
    p[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, ACCEPT);
    f->len = (unsigned short)k;
    return 0;
}

/* The kernel charges a filter to its socket's option memory (net.core.optmem_max, 20 KiB on older
 * kernels, 128 KiB on newer ones), after converting it to eBPF: a scratch socket tells. */
static int fits(const struct udp_filter *f, int family)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

    if (fd < 0)
        return -errno;
    rc = udp_filter_attach(fd, f);
    close(fd);
    return rc;
}

int udp_filter_build(struct udp_filter *f, int family, const struct xt_addr *host, size_t n,
                     size_t *covered)
{
    size_t max = family == AF_INET ? UDP_FILTER_MAX_V4 : UDP_FILTER_MAX_V6, total = 0, m;
    int rc;

    for (size_t i = 0; i < n; i++)
        total += host[i].family == family;
    m = total < max ? total : max;
    for (;;) {
        rc = build(f, family, host, n, m, covered);
        if (rc == 0)
            rc = fits(f, family);
        if (rc != -ENOMEM || m == 0 || !f->insns)
            break;
        udp_filter_free(f);
        m = m * 3 / 4;
    }
    if (rc != 0) {
        udp_filter_free(f);
        *covered = 0;
        return rc;
    }
    return *covered < total ? -E2BIG : 0;
}

void udp_filter_free(struct udp_filter *f)
{
    free(f->insns);
    f->insns = NULL;
    f->len = 0;
}

int udp_filter_attach(int fd, const struct udp_filter *f)
{
    struct sock_fprog prog = {.len = f->len, .filter = f->insns};

    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) == 0 ? 0 : -errno;
}
