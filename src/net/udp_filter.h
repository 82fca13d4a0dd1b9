/* A classic BPF socket filter against datagrams spoofed from the host's own addresses. Such a
 * datagram from outside is one the kernel lets through for IPv6 (it has no martian-source check
 * there) and for IPv4 with accept_local: the filter drops every datagram whose source is one of
 * the host's addresses unless it came in through the loopback interface, where the host's own
 * datagrams (relay to self) arrive. Classic BPF needs no privilege, and each socket can be given
 * a new program at any time. */
#ifndef XTURN_NET_UDP_FILTER_H
#define XTURN_NET_UDP_FILTER_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/addr.h"

/* Addresses one program can hold (classic BPF has at most BPF_MAXINSNS = 4096 instructions; an
 * IPv6 address takes 9, an IPv4 one 2). */
#define UDP_FILTER_MAX_V6 450
#define UDP_FILTER_MAX_V4 2000

struct udp_filter {
    struct sock_filter *insns;
    unsigned short len;
};

/* The program for sockets of one family, from the host's addresses (those of other families are
 * skipped), as many of them as a socket takes (the kernel charges a filter to the socket's
 * option memory, net.core.optmem_max). Returns 0; -E2BIG when there were more addresses than
 * fit (the program holds the first *covered); another -errno (f is then empty). */
int udp_filter_build(struct udp_filter *f, int family, const struct xt_addr *host, size_t n,
                     size_t *covered);
void udp_filter_free(struct udp_filter *f);
/* Gives the socket this program (replacing any it had); 0 or -errno. */
int udp_filter_attach(int fd, const struct udp_filter *f);

#endif
