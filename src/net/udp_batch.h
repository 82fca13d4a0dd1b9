/* Batched UDP I/O: recvmmsg into a fixed set of buffers, and a send queue flushed with
 * sendmmsg. Nothing here allocates per packet. */
#ifndef XTURN_NET_UDP_BATCH_H
#define XTURN_NET_UDP_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/addr.h"

#define UDP_BATCH   64    /* datagrams per recvmmsg */
#define UDP_SLOTS   256   /* receive buffers, and queued sends, held over one event-loop round */
#define UDP_RX_BUF  65536 /* any UDP datagram (65 527 bytes of payload at most, over IPv6) */
#define UDP_RX_KEEP 4096  /* bytes of each receive buffer left resident from round to round */
#define UDP_TX_HEAD 640   /* room for the largest response or relay header */

/* Datagrams stay in their buffers until released, so that sends queued with them as bodies can
 * wait for one flush per event-loop round instead of one per socket read.
 *
 * The buffers are address space, not memory: one mapping without swap reservation, of which a
 * datagram makes resident only the pages it fills. Releasing gives back what a datagram took
 * beyond the first UDP_RX_KEEP bytes of its buffer, so resident memory stays about UDP_SLOTS x
 * UDP_RX_KEEP and a burst of large datagrams costs memory for one round only. */
struct udp_rx {
    size_t used;  /* buffers [0, used) hold datagrams not released yet */
    size_t keep;  /* UDP_RX_KEEP in whole pages */
    uint8_t *buf; /* UDP_SLOTS buffers of UDP_RX_BUF bytes */
    struct mmsghdr msgs[UDP_SLOTS];
    struct iovec iov[UDP_SLOTS];
    struct sockaddr_storage src[UDP_SLOTS];
    /* A socket with UDP_GRO (udp_socket_opts.gro) may receive several datagrams of one source
     * coalesced in one buffer, all of seg[i] bytes but the last; 0: one datagram. */
    uint16_t seg[UDP_SLOTS];
    union {
        struct cmsghdr h;
        uint8_t buf[CMSG_SPACE(sizeof(int))];
    } ctl[UDP_SLOTS];
};

/* 0, or -errno when the buffers cannot be mapped. */
int udp_rx_init(struct udp_rx *rx);
void udp_rx_destroy(struct udp_rx *rx);
/* Buffer i: the datagram msgs[i] received. */
static inline uint8_t *udp_rx_buf(const struct udp_rx *rx, size_t i)
{
    return rx->buf + i * UDP_RX_BUF;
}
/* Receives into the free buffers, at most UDP_BATCH datagrams and no more than there are free
 * buffers; they are msgs/buf [*first, *first + n) (each possibly several coalesced ones:
 * udp_rx_len_at). Returns n (0 when none wait) or -errno. */
int udp_rx_recv(struct udp_rx *rx, int fd, size_t *first);
/* The length of the datagram at offset off (< msg_len, or 0) of buffer i. */
static inline size_t udp_rx_len_at(const struct udp_rx *rx, size_t i, size_t off)
{
    size_t left = rx->msgs[i].msg_len - off;

    return rx->seg[i] && rx->seg[i] < left ? rx->seg[i] : left;
}
static inline size_t udp_rx_free(const struct udp_rx *rx)
{
    return UDP_SLOTS - rx->used;
}
/* How many datagrams the next udp_rx_recv may read: when it reads that many, more may wait. */
static inline size_t udp_rx_room(const struct udp_rx *rx)
{
    return udp_rx_free(rx) < UDP_BATCH ? udp_rx_free(rx) : UDP_BATCH;
}
/* Every buffer free again: only once nothing queued for sending points into them. Gives back the
 * pages large datagrams took. */
void udp_rx_release(struct udp_rx *rx);

struct udp_tx_entry {
    int fd;
    socklen_t dstlen;
    struct sockaddr_storage dst;
    struct iovec iov[3];
    uint8_t head[UDP_TX_HEAD];
};

/* At most this many datagrams in one segmentation offload (UDP_SEGMENT) send, and bytes. */
#define UDP_GSO_SEGS  64
#define UDP_GSO_BYTES 65000

struct udp_tx {
    size_t n;
    uint64_t sent, failed;
    uint64_t gso_sends; /* sends that carried several datagrams, cut by the kernel or the NIC */
    bool gso_off;       /* the kernel refused one for its device (no checksum offload) */
    struct udp_tx_entry e[UDP_SLOTS];
    struct mmsghdr msgs[UDP_SLOTS];
    /* flush's room for runs of datagrams to one destination sent as one */
    struct iovec run_iov[UDP_SLOTS * 3];
    union {
        struct cmsghdr h;
        uint8_t buf[CMSG_SPACE(sizeof(uint16_t))];
    } run_cmsg[UDP_SLOTS];
};

void udp_tx_init(struct udp_tx *tx);
/* Queues head (copied) + body (referenced until the next flush) + pad zero bytes. Flushes first
 * when the queue is full. A head larger than UDP_TX_HEAD is counted as failed. The order of the
 * datagrams of one socket is kept; those of different sockets may be reordered. */
void udp_tx_queue(struct udp_tx *tx, int fd, const struct xt_addr *dst, const void *head,
                  size_t head_len, const void *body, size_t body_len, size_t pad);
/* Sends everything queued, one sendmmsg per socket. A run of datagrams of one socket to one
 * destination, all of one size but the last, goes as one message the kernel (or the NIC)
 * segments (UDP GSO): one route lookup and one trip down the stack for the run. Where the kernel
 * refuses that, the run's datagrams go one by one; when the refusal is the device's, gso_off
 * keeps the rest from trying. */
void udp_tx_flush(struct udp_tx *tx);

#endif
