#include "net/udp_batch.h"

#include <errno.h>
#include <string.h>

void udp_rx_init(struct udp_rx *rx)
{
    for (int i = 0; i < UDP_BATCH; i++) {
        rx->iov[i].iov_base = rx->buf[i];
        rx->iov[i].iov_len = UDP_RX_BUF;
    }
}

int udp_rx_recv(struct udp_rx *rx, int fd)
{
    int n;
    for (int i = 0; i < UDP_BATCH; i++) {
        struct msghdr *h = &rx->msgs[i].msg_hdr;
        memset(h, 0, sizeof(*h));
        h->msg_name = &rx->src[i];
        h->msg_namelen = sizeof(rx->src[i]);
        h->msg_iov = &rx->iov[i];
        h->msg_iovlen = 1;
    }
    n = recvmmsg(fd, rx->msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
    return n;
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
    if (tx->n == UDP_BATCH)
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

/* Sends entries [i, j) of one socket; a message the kernel refuses is skipped, not retried. */
static void send_run(struct udp_tx *tx, size_t i, size_t j)
{
    while (i < j) {
        int n = sendmmsg(tx->e[i].fd, &tx->msgs[i], (unsigned)(j - i), MSG_DONTWAIT);
        if (n > 0) {
            tx->sent += (uint64_t)n;
            i += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            tx->failed++;
            i++;
        }
    }
}

void udp_tx_flush(struct udp_tx *tx)
{
    size_t i = 0;
    while (i < tx->n) {
        size_t j = i + 1;
        while (j < tx->n && tx->e[j].fd == tx->e[i].fd)
            j++;
        send_run(tx, i, j);
        i = j;
    }
    tx->n = 0;
}
