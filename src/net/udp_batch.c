#include "net/udp_batch.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int udp_rx_init(struct udp_rx *rx)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *buf = mmap(NULL, (size_t)UDP_SLOTS * UDP_RX_BUF, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (buf == MAP_FAILED)
        return -errno;
    rx->used = 0;
    rx->keep = (UDP_RX_KEEP + page - 1) / page * page;
    rx->buf = buf;
    for (size_t i = 0; i < UDP_SLOTS; i++) {
        rx->iov[i].iov_base = udp_rx_buf(rx, i);
        rx->iov[i].iov_len = UDP_RX_BUF;
        /* The part of each buffer that stays resident is made so now: memory does not creep
         * up the first time a burst fills more buffers in one round than any before. */
        memset(udp_rx_buf(rx, i), 0, rx->keep);
    }
    return 0;
}

void udp_rx_destroy(struct udp_rx *rx)
{
    if (rx->buf)
        munmap(rx->buf, (size_t)UDP_SLOTS * UDP_RX_BUF);
    rx->buf = NULL;
}

int udp_rx_recv(struct udp_rx *rx, int fd, size_t *first)
{
    size_t room = udp_rx_room(rx);
    int n;

    *first = rx->used;
    if (room == 0)
        return 0;
    for (size_t i = rx->used; i < rx->used + room; i++) {
        struct msghdr *h = &rx->msgs[i].msg_hdr;
        memset(h, 0, sizeof(*h));
        h->msg_name = &rx->src[i];
        h->msg_namelen = sizeof(rx->src[i]);
        h->msg_iov = &rx->iov[i];
        h->msg_iovlen = 1;
        h->msg_control = rx->ctl[i].buf;
        h->msg_controllen = sizeof(rx->ctl[i].buf);
    }
    n = recvmmsg(fd, &rx->msgs[rx->used], (unsigned)room, MSG_DONTWAIT, NULL);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
    for (size_t i = rx->used; i < rx->used + (size_t)n; i++) {
        struct msghdr *h = &rx->msgs[i].msg_hdr;
        struct cmsghdr *c = CMSG_FIRSTHDR(h);
        int seg = 0;
        if (c && c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO)
            memcpy(&seg, CMSG_DATA(c), sizeof(seg));
        rx->seg[i] = seg > 0 && seg <= UINT16_MAX ? (uint16_t)seg : 0;
    }
    rx->used += (size_t)n;
    return n;
}

void udp_rx_release(struct udp_rx *rx)
{
    for (size_t i = 0; i < rx->used; i++)
        if (rx->msgs[i].msg_len > rx->keep)
            madvise(udp_rx_buf(rx, i) + rx->keep, rx->msgs[i].msg_len - rx->keep, MADV_DONTNEED);
    rx->used = 0;
}

void udp_tx_init(struct udp_tx *tx)
{
    memset(tx, 0, sizeof(*tx));
}

void udp_tx_queue(struct udp_tx *tx, int fd, const struct xt_addr *dst, const void *head,
                  size_t head_len, const void *body, size_t body_len, size_t pad)
{
    static const uint8_t zeros[4];
    struct udp_tx_entry *e;
    int k = 0;

    if (head_len > UDP_TX_HEAD || pad > sizeof(zeros)) {
        tx->failed++;
        return;
    }
    if (tx->n == UDP_SLOTS)
        udp_tx_flush(tx);
    e = &tx->e[tx->n++];
    e->fd = fd;
    e->dstlen = xt_addr_to_sockaddr(dst, &e->dst);
    if (head_len) {
        memcpy(e->head, head, head_len);
        e->iov[k++] = (struct iovec){e->head, head_len};
    }
    if (body_len)
        e->iov[k++] = (struct iovec){(void *)body, body_len};
    if (pad)
        e->iov[k++] = (struct iovec){(void *)zeros, pad};
    memset(&tx->msgs[tx->n - 1], 0, sizeof(tx->msgs[0]));
    tx->msgs[tx->n - 1].msg_hdr.msg_name = &e->dst;
    tx->msgs[tx->n - 1].msg_hdr.msg_namelen = e->dstlen;
    tx->msgs[tx->n - 1].msg_hdr.msg_iov = e->iov;
    tx->msgs[tx->n - 1].msg_hdr.msg_iovlen = (size_t)k;
}

struct fd_order {
    int fd;
    unsigned idx;
};

/* A message of the group: queued datagrams [first, first + count) in fd order. */
struct run {
    unsigned first, count;
};

static void send_socket(struct udp_tx *tx, int fd, struct mmsghdr *msgs, const struct run *runs,
                        const struct fd_order *order, size_t m);

/* A run the kernel refused as one: its datagrams one by one; no more runs when the refusal was
 * the device's (EIO: no checksum offload), not this run's (EINVAL: a segment larger than the
 * route's MTU allows, or the socket's options). */
static void send_run_apart(struct udp_tx *tx, int fd, const struct run *r,
                           const struct fd_order *order, int err)
{
    struct mmsghdr one[UDP_GSO_SEGS];
    struct run single[UDP_GSO_SEGS];

    if (err == EIO)
        tx->gso_off = true;
    for (unsigned k = 0; k < r->count; k++) {
        one[k] = tx->msgs[order[r->first + k].idx];
        single[k] = (struct run){r->first + k, 1};
    }
    send_socket(tx, fd, one, single, order, r->count);
}

/* Sends m messages of one socket; a message the kernel refuses is skipped, not retried (a run
 * refused as one is sent apart). */
static void send_socket(struct udp_tx *tx, int fd, struct mmsghdr *msgs, const struct run *runs,
                        const struct fd_order *order, size_t m)
{
    size_t i = 0;

    while (i < m) {
        int n = sendmmsg(fd, &msgs[i], (unsigned)(m - i), MSG_DONTWAIT);
        if (n > 0) {
            for (int k = 0; k < n; k++) {
                tx->sent += runs[i + (size_t)k].count;
                tx->gso_sends += runs[i + (size_t)k].count > 1;
            }
            i += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (runs[i].count > 1 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT)) {
            send_run_apart(tx, fd, &runs[i], order, errno);
            i++;
        } else {
            tx->failed += runs[i].count;
            i++;
        }
    }
}

static size_t msg_bytes(const struct msghdr *h)
{
    size_t n = 0;

    for (size_t k = 0; k < h->msg_iovlen; k++)
        n += h->msg_iov[k].iov_len;
    return n;
}

static bool same_dst(const struct udp_tx_entry *a, const struct udp_tx_entry *b)
{
    return a->dstlen == b->dstlen && memcmp(&a->dst, &b->dst, a->dstlen) == 0;
}

/* How many datagrams from order[i] on (all of fd, end at most) go as one run: same destination,
 * the size of the first (the last may be shorter), within the offload's limits. */
static size_t run_length(const struct udp_tx *tx, const struct fd_order *order, size_t i,
                         size_t end)
{
    const struct udp_tx_entry *first = &tx->e[order[i].idx];
    size_t size = msg_bytes(&tx->msgs[order[i].idx].msg_hdr), total = size, k = 1;

    if (tx->gso_off || size == 0)
        return 1;
    while (i + k < end && k < UDP_GSO_SEGS) {
        size_t next = msg_bytes(&tx->msgs[order[i + k].idx].msg_hdr);
        if (!same_dst(first, &tx->e[order[i + k].idx]) || next > size || next == 0 ||
            total + next > UDP_GSO_BYTES)
            break;
        total += next;
        k++;
        if (next < size) /* only the last may be shorter */
            break;
    }
    return k;
}

/* One message for the run of count datagrams at order[i]: their pieces in a row, and the
 * segment size for the kernel. */
static struct mmsghdr run_msg(struct udp_tx *tx, const struct fd_order *order, size_t i,
                              size_t count, size_t *iov_used, size_t slot)
{
    struct mmsghdr m = tx->msgs[order[i].idx];
    struct iovec *iov = &tx->run_iov[*iov_used];
    size_t k = 0;
    struct cmsghdr *c;

    if (count == 1)
        return m;
    for (size_t j = 0; j < count; j++) {
        const struct msghdr *h = &tx->msgs[order[i + j].idx].msg_hdr;
        for (size_t p = 0; p < h->msg_iovlen; p++)
            iov[k++] = h->msg_iov[p];
    }
    *iov_used += k;
    m.msg_hdr.msg_iov = iov;
    m.msg_hdr.msg_iovlen = k;
    c = &tx->run_cmsg[slot].h;
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    *(uint16_t *)CMSG_DATA(c) = (uint16_t)msg_bytes(&tx->msgs[order[i].idx].msg_hdr);
    m.msg_hdr.msg_control = tx->run_cmsg[slot].buf;
    m.msg_hdr.msg_controllen = sizeof(tx->run_cmsg[slot].buf);
    return m;
}

static int by_fd_then_queue_order(const void *a, const void *b)
{
    const struct fd_order *x = a, *y = b;

    if (x->fd != y->fd)
        return x->fd < y->fd ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void udp_tx_flush(struct udp_tx *tx)
{
    struct fd_order order[UDP_SLOTS];
    struct mmsghdr group[UDP_SLOTS];
    struct run runs[UDP_SLOTS];
    size_t iov_used = 0;

    /* Gathered by socket, in queue order within each: packets for several relay sockets arrive
     * mixed in one read of the listen socket, and each socket's share goes in one system
     * call. */
    for (size_t i = 0; i < tx->n; i++)
        order[i] = (struct fd_order){tx->e[i].fd, (unsigned)i};
    qsort(order, tx->n, sizeof(order[0]), by_fd_then_queue_order);
    for (size_t i = 0; i < tx->n;) {
        size_t m = 0;
        int fd = order[i].fd;

        size_t end = i;

        while (end < tx->n && order[end].fd == fd)
            end++;
        while (i < end) {
            size_t count = run_length(tx, order, i, end);
            runs[m] = (struct run){(unsigned)i, (unsigned)count};
            group[m] = run_msg(tx, order, i, count, &iov_used, m);
            m++;
            i += count;
        }
        send_socket(tx, fd, group, runs, order, m);
    }
    tx->n = 0;
}
