/* Batched UDP I/O (src/net/udp_batch.c) on loopback sockets: receive buffers held until
 * released, any datagram received whole with the memory of large ones given back, and a send
 * queue flushed one system call per socket with each socket's order kept, runs to one
 * destination sent as one (UDP GSO) and sent apart where the kernel refuses that. */
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
#include "net/udp_socket.h"

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

/* Reads every datagram waiting on fd whole (up to 2 KiB each): their lengths and contents. */
static size_t drain_sized(int fd, uint8_t out[][2048], size_t *lens, size_t cap)
{
    size_t n = 0;

    while (n < cap) {
        ssize_t k = recv(fd, out[n], sizeof(out[n]), MSG_DONTWAIT);
        if (k < 0)
            break;
        lens[n++] = (size_t)k;
    }
    return n;
}

/* Datagram i of a run: size bytes, each (i + j) & 0xff, so that order and boundaries show. */
static void fill(uint8_t *b, size_t size, size_t i)
{
    for (size_t j = 0; j < size; j++)
        b[j] = (uint8_t)(i + j);
}

/* Queues count datagrams of size bytes (the last last_size) from fd to dst. The bodies are
 * referenced until the flush: they live in bodies. */
static void queue_run(struct udp_tx *tx, int fd, const struct xt_addr *dst, uint8_t bodies[][2048],
                      size_t first, size_t count, size_t size, size_t last_size)
{
    for (size_t i = first; i < first + count; i++) {
        size_t n = i == first + count - 1 ? last_size : size;
        fill(bodies[i], n, i);
        /* a 4-byte head of its own, as the relay's ChannelData header */
        udp_tx_queue(tx, fd, dst, bodies[i], 4, bodies[i] + 4, n - 4, 0);
    }
}

static void expect_run(uint8_t got[][2048], const size_t *lens, size_t first, size_t count,
                       size_t size, size_t last_size)
{
    for (size_t i = first; i < first + count; i++) {
        uint8_t want[2048];
        size_t n = i == first + count - 1 ? last_size : size;
        fill(want, n, i);
        assert_int_equal(lens[i], n);
        assert_memory_equal(got[i], want, n);
    }
}

static uint8_t bodies[UDP_SLOTS][2048], got[UDP_SLOTS][2048];

/* Datagrams of one socket to one destination, one size and a shorter last: one send the kernel
 * cuts, every datagram arriving whole and in order. */
static void tx_run_goes_as_one(void **state)
{
    struct fx *f = *state;
    size_t lens[UDP_SLOTS];

    queue_run(&f->tx, f->s, &f->ra, bodies, 0, 11, 1200, 50);
    udp_tx_flush(&f->tx);
    assert_int_equal(f->tx.sent, 11);
    assert_int_equal(f->tx.failed, 0);
    assert_int_equal(f->tx.gso_sends, 1);
    assert_false(f->tx.gso_off);
    assert_int_equal(drain_sized(f->r, got, lens, UDP_SLOTS), 11);
    expect_run(got, lens, 0, 11, 1200, 50);
}

/* A receiving socket with UDP GRO gets a run of one source coalesced (loopback hands a GSO send
 * to such a socket whole): one buffer, cut back into the datagrams in order by udp_rx_len_at;
 * an empty datagram is one of length 0. */
static void rx_gro_run_cut_back(void **state)
{
    struct fx *f = *state;
    struct xt_addr bind = f->ra, ga;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    struct udp_socket_opts o = {.gro = 1, .bufsize = 1 << 20};
    size_t first, off = 0, k = 0, lens[UDP_SLOTS];
    int g;

    bind.port = 0;
    g = udp_socket_open(&bind, &o);
    assert_true(g >= 0);
    assert_int_equal(getsockname(g, (struct sockaddr *)&ss, &sl), 0);
    assert_int_equal(xt_addr_from_sockaddr((struct sockaddr *)&ss, sl, &ga), 0);
    queue_run(&f->tx, f->s, &ga, bodies, 0, 11, 1200, 50);
    udp_tx_flush(&f->tx);
    assert_int_equal(f->tx.gso_sends, 1);
    assert_int_equal(udp_rx_recv(&f->rx, g, &first), 1);
    assert_int_equal(f->rx.seg[first], 1200);
    assert_int_equal(f->rx.msgs[first].msg_len, 10 * 1200 + 50);
    while (off < f->rx.msgs[first].msg_len) {
        lens[k] = udp_rx_len_at(&f->rx, first, off);
        memcpy(got[k], udp_rx_buf(&f->rx, first) + off, lens[k]);
        off += lens[k++];
    }
    assert_int_equal(k, 11);
    expect_run(got, lens, 0, 11, 1200, 50);
    udp_rx_release(&f->rx);
    send_text(f->s, &ga, "");
    assert_int_equal(udp_rx_recv(&f->rx, g, &first), 1);
    assert_int_equal(f->rx.msgs[first].msg_len, 0);
    assert_int_equal(udp_rx_len_at(&f->rx, first, 0), 0);
    close(g);
}

/* What ends a run: a longer datagram after a shorter one, another destination, the segment
 * limit; singles stay single. */
static void tx_runs_break(void **state)
{
    struct fx *f = *state;
    struct xt_addr oa;
    int other = open_sock(&oa);
    size_t lens[UDP_SLOTS], n = 0;
    int buf = 4 << 20;

    assert_int_equal(setsockopt(f->r, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf)), 0);
    queue_run(&f->tx, f->s, &f->ra, bodies, 0, 3, 100, 60);  /* run 1: 100, 100, 60 */
    queue_run(&f->tx, f->s, &f->ra, bodies, 3, 2, 100, 100); /* run 2: a longer one began it */
    queue_run(&f->tx, f->s, &oa, bodies, 5, 1, 100, 100);    /* another destination */
    queue_run(&f->tx, f->s, &f->ra, bodies, 6, UDP_GSO_SEGS + 2, 20, 20); /* two runs */
    udp_tx_flush(&f->tx);
    assert_int_equal(f->tx.sent, 6 + UDP_GSO_SEGS + 2);
    assert_int_equal(f->tx.failed, 0);
    assert_int_equal(f->tx.gso_sends, 4);
    n = drain_sized(f->r, got, lens, UDP_SLOTS);
    assert_int_equal(n, 5 + UDP_GSO_SEGS + 2);
    expect_run(got, lens, 0, 3, 100, 60);
    expect_run(got, lens, 3, 2, 100, 100);
    /* the rest moved up by one: datagram 5 went elsewhere */
    for (size_t i = 5; i < n; i++) {
        uint8_t want[20];
        fill(want, 20, i + 1);
        assert_int_equal(lens[i], 20);
        assert_memory_equal(got[i], want, 20);
    }
    assert_int_equal(drain_sized(other, got, lens, 4), 1);
    assert_int_equal(lens[0], 100);
    close(other);
}

/* A run the kernel refuses as one (here SO_NO_CHECK: EINVAL, as for a segment larger than the
 * route's MTU allows): it goes one by one, nothing is lost, and the next run is tried again (only
 * a device's refusal, EIO, stops that; integration tests' veths without checksum offload). */
static void tx_run_refused_goes_apart(void **state)
{
    struct fx *f = *state;
    size_t lens[UDP_SLOTS];
    int one = 1;

    assert_int_equal(setsockopt(f->s, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one)), 0);
    queue_run(&f->tx, f->s, &f->ra, bodies, 0, 5, 300, 300);
    udp_tx_flush(&f->tx);
    assert_false(f->tx.gso_off);
    assert_int_equal(f->tx.sent, 5);
    assert_int_equal(f->tx.failed, 0);
    assert_int_equal(f->tx.gso_sends, 0);
    assert_int_equal(drain_sized(f->r, got, lens, UDP_SLOTS), 5);
    expect_run(got, lens, 0, 5, 300, 300);
    queue_run(&f->tx, f->s, &f->ra, bodies, 0, 5, 300, 300);
    udp_tx_flush(&f->tx);
    assert_int_equal(f->tx.sent, 10);
    assert_int_equal(f->tx.gso_sends, 0);
    assert_int_equal(drain_sized(f->r, got, lens, UDP_SLOTS), 5);
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
        cmocka_unit_test_setup_teardown(tx_run_goes_as_one, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(rx_gro_run_cut_back, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(tx_runs_break, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(tx_run_refused_goes_apart, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
