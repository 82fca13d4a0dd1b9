/* Batched UDP I/O (src/net/udp_batch.c) on loopback sockets: receive buffers held until
 * released, any datagram received whole with the memory of large ones given back, and a send
 * queue flushed one system call per socket with each socket's order kept. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/udp_batch.h"

/* A UDP socket on 127.0.0.1, any port; its address in *a. */
static int open_sock(struct xt_addr *a)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    assert_int_equal(xt_addr_from_sockaddr((struct sockaddr *)&sin, len, a), 0);
    return fd;
}

/* Every test: a receiving socket r and a sending socket s on loopback, and the queues. */
struct fx {
    struct xt_addr ra, sa;
    int r, s;
    struct udp_rx rx;
    struct udp_tx tx;
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    int buf = 1 << 20;

    if (!f)
        return -1;
    f->r = open_sock(&f->ra);
    f->s = open_sock(&f->sa);
    /* room for a full queue of datagrams */
    assert_int_equal(setsockopt(f->r, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf)), 0);
    assert_int_equal(udp_rx_init(&f->rx), 0);
    udp_tx_init(&f->tx);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;

    close(f->r);
    close(f->s);
    udp_rx_destroy(&f->rx);
    free(f);
    return 0;
}

static void send_text(int from, const struct xt_addr *to, const char *text)
{
    struct sockaddr_storage ss;
    socklen_t len = xt_addr_to_sockaddr(to, &ss);

    assert_int_equal(sendto(from, text, strlen(text), 0, (struct sockaddr *)&ss, len),
                     (ssize_t)strlen(text));
}

/* Datagrams stay in their buffers across reads until released; a read takes only free ones. */
static void rx_holds_buffers_until_released(void **state)
{
    struct fx *f = *state;
    struct udp_rx *rx = &f->rx;
    size_t first;

    send_text(f->s, &f->ra, "one");
    send_text(f->s, &f->ra, "two");
    assert_int_equal(udp_rx_recv(rx, f->r, &first), 2);
    assert_int_equal(first, 0);
    send_text(f->s, &f->ra, "three");
    assert_int_equal(udp_rx_recv(rx, f->r, &first), 1);
    assert_int_equal(first, 2);
    assert_int_equal(udp_rx_free(rx), UDP_SLOTS - 3);
    /* the first two are still there */
    assert_memory_equal(udp_rx_buf(rx, 0), "one", 3);
    assert_int_equal(rx->msgs[0].msg_len, 3);
    assert_memory_equal(udp_rx_buf(rx, 1), "two", 3);
    assert_memory_equal(udp_rx_buf(rx, 2), "three", 5);
    /* nothing waiting: 0, not an error */
    assert_int_equal(udp_rx_recv(rx, f->r, &first), 0);
    udp_rx_release(rx);
    assert_int_equal(udp_rx_free(rx), UDP_SLOTS);
    send_text(f->s, &f->ra, "four");
    assert_int_equal(udp_rx_recv(rx, f->r, &first), 1);
    assert_int_equal(first, 0);
    assert_memory_equal(udp_rx_buf(rx, 0), "four", 4);
}

/* No free buffer: nothing is read (the datagram waits in the socket); one read takes at most
 * UDP_BATCH. */
static void rx_room(void **state)
{
    struct fx *f = *state;
    struct udp_rx *rx = &f->rx;
    size_t first;

    rx->used = UDP_SLOTS;
    assert_int_equal(udp_rx_room(rx), 0);
    send_text(f->s, &f->ra, "wait");
    assert_int_equal(udp_rx_recv(rx, f->r, &first), 0);
    udp_rx_release(rx);
    assert_int_equal(udp_rx_room(rx), UDP_BATCH);
    for (int i = 0; i < UDP_BATCH + 3; i++)
        send_text(f->s, &f->ra, "more");
    assert_int_equal(udp_rx_recv(rx, f->r, &first), UDP_BATCH);
    assert_memory_equal(udp_rx_buf(rx, 0), "wait", 4);
    assert_int_equal(udp_rx_recv(rx, f->r, &first), 4);
    assert_int_equal(first, UDP_BATCH);
}

/* The resident pages of buffer i, page k as bit k. */
static unsigned resident(const struct udp_rx *rx, size_t i)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = UDP_RX_BUF / page;
    unsigned char vec[UDP_RX_BUF / 4096];
    unsigned map = 0;

    assert_int_equal(mincore(udp_rx_buf(rx, i), UDP_RX_BUF, vec), 0);
    for (size_t k = 0; k < n; k++)
        map |= (vec[k] & 1u) << k;
    return map;
}

/* A datagram far beyond a page (up to UDP's 65 527 bytes) arrives whole; once released, its
 * buffer keeps only its first UDP_RX_KEEP bytes resident. */
static void rx_large_datagram_whole_then_released(void **state)
{
    struct fx *f = *state;
    struct udp_rx *rx = &f->rx;
    struct sockaddr_storage ss;
    socklen_t sl = xt_addr_to_sockaddr(&f->ra, &ss);
    size_t page = (size_t)sysconf(_SC_PAGESIZE), first;
    enum { LEN = 60000 };
    uint8_t *big = malloc(LEN);

    assert_non_null(big);
    for (size_t i = 0; i < LEN; i++)
        big[i] = (uint8_t)(i * 7 + i / 251);
    assert_int_equal(sendto(f->s, big, LEN, 0, (struct sockaddr *)&ss, sl), LEN);
    send_text(f->s, &f->ra, "small");
    assert_int_equal(udp_rx_recv(rx, f->r, &first), 2);
    assert_false(rx->msgs[0].msg_hdr.msg_flags & MSG_TRUNC);
    assert_int_equal(rx->msgs[0].msg_len, LEN);
    assert_memory_equal(udp_rx_buf(rx, 0), big, LEN);
    assert_int_equal(rx->msgs[1].msg_len, 5);
    /* Only the pages the datagram filled became resident. */
    assert_int_equal(resident(rx, 0), (1u << (LEN + page - 1) / page) - 1);
    assert_int_equal(resident(rx, 1), 1);
    udp_rx_release(rx);
    assert_int_equal(resident(rx, 0), (1u << rx->keep / page) - 1);
    assert_int_equal(resident(rx, 1), 1);
    /* The buffer is as good as new. */
    send_text(f->s, &f->ra, "again");
    assert_int_equal(udp_rx_recv(rx, f->r, &first), 1);
    assert_memory_equal(udp_rx_buf(rx, 0), "again", 5);
    free(big);
}

/* Reads every datagram waiting on fd into out (NUL-terminated strings), in arrival order, with
 * the sender's port. */
static size_t drain(int fd, char out[][16], uint16_t *ports, size_t cap)
{
    size_t n = 0;

    while (n < cap) {
        struct sockaddr_in from;
        socklen_t len = sizeof(from);
        ssize_t k = recvfrom(fd, out[n], 15, MSG_DONTWAIT, (struct sockaddr *)&from, &len);
        if (k < 0)
            break;
        out[n][k] = '\0';
        ports[n++] = ntohs(from.sin_port);
    }
    return n;
}

/* Entries of two sockets queued interleaved: all sent, each socket's in its order, head + body
 * + padding assembled. */
static void tx_groups_by_socket_in_order(void **state)
{
    struct fx *f = *state;
    struct udp_tx *tx = &f->tx;
    struct xt_addr ba;
    int a = f->s, b = open_sock(&ba);
    static const char *const seq[] = {"a1", "b1", "a2", "a3", "b2", "a4", "b3"};
    static const char *const want_a[] = {"a1", "a2", "a3", "a4"};
    static const char *const want_b[] = {"b1", "b2", "b3"};
    char got[16][16];
    uint16_t ports[16];
    size_t n, na = 0, nb = 0;

    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
        udp_tx_queue(tx, seq[i][0] == 'a' ? a : b, &f->ra, seq[i], 1, seq[i] + 1, 1, 0);
    udp_tx_queue(tx, a, &f->ra, "h", 1, "body", 4, 3);
    assert_int_equal(tx->n, 8);
    udp_tx_flush(tx);
    assert_int_equal(tx->n, 0);
    assert_int_equal(tx->sent, 8);
    assert_int_equal(tx->failed, 0);

    n = drain(f->r, got, ports, 16);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++) {
        if (ports[i] == f->sa.port) {
            if (na < 4)
                assert_string_equal(got[i], want_a[na]);
            else
                assert_memory_equal(got[i], "hbody\0\0\0", 8);
            na++;
        } else {
            assert_int_equal(ports[i], ba.port);
            assert_string_equal(got[i], want_b[nb++]);
        }
    }
    assert_int_equal(na, 5);
    assert_int_equal(nb, 3);
    close(b);
}

/* A socket the kernel refuses (closed) costs its own datagrams, not the others'. */
static void tx_failure_is_counted_and_skipped(void **state)
{
    struct fx *f = *state;
    struct udp_tx *tx = &f->tx;
    struct xt_addr da;
    int dead = open_sock(&da);
    char got[16][16];
    uint16_t ports[16];

    close(dead);
    udp_tx_queue(tx, dead, &f->ra, NULL, 0, "x", 1, 0);
    udp_tx_queue(tx, f->s, &f->ra, NULL, 0, "ok", 2, 0);
    udp_tx_queue(tx, dead, &f->ra, NULL, 0, "y", 1, 0);
    udp_tx_flush(tx);
    assert_int_equal(tx->sent, 1);
    assert_int_equal(tx->failed, 2);
    assert_int_equal(drain(f->r, got, ports, 16), 1);
    assert_string_equal(got[0], "ok");
}

/* A full queue sends before taking more: nothing is lost past UDP_SLOTS. */
static void tx_full_queue_flushes(void **state)
{
    struct fx *f = *state;
    struct udp_tx *tx = &f->tx;

    for (int i = 0; i < UDP_SLOTS + 5; i++)
        udp_tx_queue(tx, f->s, &f->ra, NULL, 0, "d", 1, 0);
    assert_int_equal(tx->n, 5);
    udp_tx_flush(tx);
    assert_int_equal(tx->sent, UDP_SLOTS + 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rx_holds_buffers_until_released, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(rx_room, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(rx_large_datagram_whole_then_released, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(tx_groups_by_socket_in_order, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(tx_failure_is_counted_and_skipped, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(tx_full_queue_flushes, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
