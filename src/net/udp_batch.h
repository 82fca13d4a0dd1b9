/* Batched UDP I/O: recvmmsg into a fixed set of buffers, and a send queue flushed with
 * sendmmsg. Nothing here allocates per packet. */
#ifndef XTURN_NET_UDP_BATCH_H
#define XTURN_NET_UDP_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/addr.h"

#define UDP_BATCH   64
#define UDP_RX_BUF  4096 /* larger datagrams are counted and dropped */
#define UDP_TX_HEAD 512  /* room for the largest response or relay header */

struct udp_rx {
    struct mmsghdr msgs[UDP_BATCH];
    struct iovec iov[UDP_BATCH];
    struct sockaddr_storage src[UDP_BATCH];
    uint8_t buf[UDP_BATCH][UDP_RX_BUF];
};

void udp_rx_init(struct udp_rx *rx);
/* Receives up to UDP_BATCH datagrams; returns how many (0 when none wait) or -errno. */
int udp_rx_recv(struct udp_rx *rx, int fd);

struct udp_tx_entry {
    int fd;
    socklen_t dstlen;
    struct sockaddr_storage dst;
    struct iovec iov[3];
    uint8_t head[UDP_TX_HEAD];
};

struct udp_tx {
    size_t n;
    uint64_t sent, failed;
    struct udp_tx_entry e[UDP_BATCH];
    struct mmsghdr msgs[UDP_BATCH];
};

void udp_tx_init(struct udp_tx *tx);
/* Queues head (copied) + body (referenced until the next flush) + pad zero bytes. Flushes first
 * when the queue is full. A head larger than UDP_TX_HEAD is counted as failed. */
void udp_tx_queue(struct udp_tx *tx, int fd, const struct xt_addr *dst, const void *head,
                  size_t head_len, const void *body, size_t body_len, size_t pad);
/* Sends everything queued, one sendmmsg per run of entries for the same socket. */
void udp_tx_flush(struct udp_tx *tx);

#endif
