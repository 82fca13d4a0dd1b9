/* The TURN control plane of `xturn-bench client`: for every allocation (each its own socket)
 * Allocate (401 challenge, then with long-term credentials), then ChannelBind or
 * CreatePermission for its peer (--burst: CreatePermission, then ChannelBind); pipelined over a
 * window of allocations in flight (--burst: a fixed one), requests
 * retransmitted on timeout, 438 answered with the new nonce. Refreshes during long runs, and
 * deletion (Refresh lifetime 0) at the end. */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define SETUP_WINDOW    64  /* allocations being set up at once (without --burst) */
#define TEARDOWN_WINDOW 256 /* deletions in flight at once */
#define RTO_NS          200000000ull
#define MAX_TRIES       5  /* ... unless the server visibly answers others (rate limits) */
#define MAX_TRIES_BUSY  50 /* 10 s: the absolute limit */
#define DELETE_TRIES    3
#define MAX_STALE       3 /* 438s in a row for one transaction */
#define KA_LIFETIME     600
_Static_assert(TEARDOWN_WINDOW <= BENCH_MAX_WINDOW, "run() holds a window of at most this");

enum req {
    REQ_ALLOC_UNAUTH,
    REQ_ALLOC,
    REQ_PERM, /* --burst: CreatePermission before ChannelBind */
    REQ_BIND,
    REQ_REFRESH, /* keepalive */
    REQ_DELETE,
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void turn_init(struct turn_ctx *t, const struct client_opts *o, struct bench_alloc *allocs,
               uint32_t n, int ep, bool tty, volatile sig_atomic_t *stop)
{
    memset(t, 0, sizeof(*t));
    t->o = o;
    t->allocs = allocs;
    t->n = n;
    t->ep = ep;
    t->tty = tty;
    t->stop = stop;
    if (o->have_realm) {
        t->realm_len = strlen(o->realm);
        memcpy(t->realm, o->realm, t->realm_len);
        stun_long_term_key(o->user, strlen(o->user), t->realm, t->realm_len, o->pass,
                           strlen(o->pass), t->key);
        t->have_key = true;
    }
}

static int relay_family(const struct client_opts *o, const struct bench_alloc *a)
{
    if (o->relay_family)
        return o->relay_family;
    return a->peer.family == AF_INET6 ? 6 : 4;
}

static int build(const struct turn_ctx *t, const struct bench_alloc *a, enum req r,
                 const uint8_t tid[STUN_TID_LEN], uint8_t *buf, size_t cap)
{
    static const uint16_t methods[] = {TURN_ALLOCATE, TURN_ALLOCATE, TURN_CREATE_PERMISSION, 0,
                                       TURN_REFRESH,  TURN_REFRESH};
    const struct client_opts *o = t->o;
    struct stun_builder b;
    uint16_t method = methods[r];

    if (r == REQ_BIND)
        method = o->mode == MODE_CHANNEL ? TURN_CHANNEL_BIND : TURN_CREATE_PERMISSION;
    stun_build_init(&b, buf, cap, method, STUN_REQUEST, tid);
    switch (r) {
    case REQ_ALLOC_UNAUTH:
    case REQ_ALLOC:
        stun_add_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, (uint32_t)TURN_TRANSPORT_UDP << 24);
        /* Without the attribute the relayed address is IPv4 (RFC 8656 7.1). */
        if (o->relay_family || relay_family(o, a) == 6)
            stun_add_u32(&b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY,
                         (uint32_t)(relay_family(o, a) == 6 ? TURN_FAMILY_IPV6 : TURN_FAMILY_IPV4)
                             << 24);
        break;
    case REQ_PERM:
    case REQ_BIND:
        if (r == REQ_BIND && o->mode == MODE_CHANNEL)
            stun_add_u32(&b, TURN_ATTR_CHANNEL_NUMBER, (uint32_t)BENCH_CHANNEL << 16);
        stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &a->peer);
        break;
    case REQ_REFRESH:
        stun_add_u32(&b, TURN_ATTR_LIFETIME, KA_LIFETIME);
        break;
    case REQ_DELETE:
        stun_add_u32(&b, TURN_ATTR_LIFETIME, 0);
        break;
    }
    if (r != REQ_ALLOC_UNAUTH && t->have_key) { /* no key: a server without authentication */
        stun_add_attr(&b, STUN_ATTR_USERNAME, o->user, strlen(o->user));
        stun_add_attr(&b, STUN_ATTR_REALM, t->realm, t->realm_len);
        stun_add_attr(&b, STUN_ATTR_NONCE, a->nonce, a->nonce_len);
        stun_add_integrity(&b, t->key, sizeof(t->key));
    }
    return stun_finish(&b);
}

static enum req state_req(const struct bench_alloc *a)
{
    switch (a->state) {
    case AS_ALLOC_UNAUTH:
        return REQ_ALLOC_UNAUTH;
    case AS_ALLOC:
        return REQ_ALLOC;
    case AS_PERM:
        return REQ_PERM;
    case AS_BIND:
        return REQ_BIND;
    default: /* AS_DELETE, AS_RESET */
        return REQ_DELETE;
    }
}

static void send_req(struct turn_ctx *t, struct bench_alloc *a, enum req r,
                     const uint8_t tid[STUN_TID_LEN])
{
    uint8_t buf[1024];
    int len = build(t, a, r, tid, buf, sizeof(buf));
    if (len < 0)
        return; /* cannot happen with these sizes; the timeout fails the allocation */
    if (a->stream) {
        if (stream_write(a->stream, buf, (size_t)len) != 0)
            t->last_errno = errno ? errno : EPIPE;
    } else if (send(a->fd, buf, (size_t)len, MSG_DONTWAIT) < 0) {
        t->last_errno = errno;
    }
}

/* (Re)sends the request of the allocation's current state; a new transaction when fresh. A
 * stream delivers or breaks: a request on it is never sent twice (RFC 8489 6.2.2), its
 * "retransmissions" only wait longer. */
static void transmit(struct turn_ctx *t, struct bench_alloc *a, bool fresh, uint64_t now)
{
    if (fresh) {
        random_bytes(a->tid, sizeof(a->tid));
        a->tries = 0;
    }
    a->tries++;
    a->deadline = now + RTO_NS;
    if (a->state == AS_ALLOC)
        a->maybe_allocated = true;
    if (fresh || !a->stream) {
        t->retransmissions += !fresh;
        send_req(t, a, state_req(a), a->tid);
    }
}

static void fail(struct turn_ctx *t, struct bench_alloc *a, int code)
{
    bool deleting = a->state == AS_DELETE;
    a->error = code;
    a->state = AS_FAILED;
    if (deleting)
        return; /* teardown is best effort: not a setup failure */
    t->failed++;
    if (code == -1)
        t->timeouts++;
    else if (code == -3)
        t->closed++;
    else if (code >= 300 && code < 700)
        t->codes[code]++;
    else
        t->local_errors++;
}

static int take_nonce(struct bench_alloc *a, const struct stun_msg *m)
{
    const struct stun_attr *n = stun_find(m, STUN_ATTR_NONCE);
    if (!n || n->len == 0 || n->len > sizeof(a->nonce))
        return -1;
    memcpy(a->nonce, n->val, n->len);
    a->nonce_len = n->len;
    return 0;
}

static void take_realm(struct turn_ctx *t, const struct stun_msg *m)
{
    const struct stun_attr *r = stun_find(m, STUN_ATTR_REALM);
    const struct client_opts *o = t->o;
    if (t->have_key || !r || r->len == 0 || r->len >= sizeof(t->realm))
        return;
    memcpy(t->realm, r->val, r->len);
    t->realm_len = r->len;
    stun_long_term_key(o->user, strlen(o->user), t->realm, t->realm_len, o->pass, strlen(o->pass),
                       t->key);
    t->have_key = true;
}

static int error_code(const struct stun_msg *m)
{
    const struct stun_attr *e = stun_find(m, STUN_ATTR_ERROR_CODE);
    const uint8_t *reason;
    size_t rlen;
    int code;
    if (!e || stun_attr_error_code(e, &code, &reason, &rlen) != 0)
        return 0;
    return code;
}

static uint16_t expected_method(const struct turn_ctx *t, const struct bench_alloc *a)
{
    switch (a->state) {
    case AS_ALLOC_UNAUTH:
    case AS_ALLOC:
        return TURN_ALLOCATE;
    case AS_PERM:
        return TURN_CREATE_PERMISSION;
    case AS_BIND:
        return t->o->mode == MODE_CHANNEL ? TURN_CHANNEL_BIND : TURN_CREATE_PERMISSION;
    default:
        return TURN_REFRESH;
    }
}

/* A datagram on an allocation's socket during setup or teardown. */
static void on_datagram(struct turn_ctx *t, struct bench_alloc *a, const uint8_t *buf, size_t len,
                        uint64_t now)
{
    struct stun_msg m;
    int code;

    if (!stun_is_message(buf, len) || stun_parse(buf, len, &m) != STUN_OK)
        return;
    if (m.cls != STUN_SUCCESS && m.cls != STUN_ERROR)
        return;
    t->any_rx = true;
    t->last_rx_ns = now;
    if (memcmp(m.tid, a->tid, STUN_TID_LEN) != 0 || m.method != expected_method(t, a))
        return; /* a late answer to an earlier transaction */
    if (a->state != AS_ALLOC_UNAUTH && t->have_key && (m.mi >= 0 || m.mi256 >= 0) &&
        !stun_check_integrity(&m, t->key, sizeof(t->key)))
        return; /* forged or corrupt: discard (RFC 8489 9.2.5) */
    t->answers++;

    if (m.cls == STUN_ERROR) {
        code = error_code(&m);
        if (code == 401 && a->state == AS_ALLOC_UNAUTH) {
            take_realm(t, &m);
            if (!t->have_key || take_nonce(a, &m) != 0) {
                fail(t, a, code);
                return;
            }
            a->state = AS_ALLOC;
            a->stale = 0;
            transmit(t, a, true, now);
        } else if (code == 438 && a->state != AS_ALLOC_UNAUTH && a->stale < MAX_STALE &&
                   take_nonce(a, &m) == 0) {
            a->stale++;
            transmit(t, a, true, now);
        } else if (a->state == AS_DELETE && code == 437) {
            a->state = AS_DELETED; /* already gone (expired) */
            t->deleted += a->was_ready;
        } else if (a->state == AS_ALLOC && code == 437 && !a->reset_done) {
            /* This 5-tuple has an allocation already: left over from an earlier run that
             * used the same local port, or ours with every success response lost. Delete
             * it and allocate again, once. */
            a->reset_done = true;
            a->state = AS_RESET;
            transmit(t, a, true, now);
        } else if (a->state == AS_RESET && code == 437) {
            a->state = AS_ALLOC;
            transmit(t, a, true, now);
        } else {
            fail(t, a, code ? code : 400);
        }
        return;
    }

    switch (a->state) {
    case AS_ALLOC_UNAUTH: /* a server without authentication */
    case AS_ALLOC: {
        const struct stun_attr *r = stun_find(&m, TURN_ATTR_XOR_RELAYED_ADDRESS);
        const struct stun_attr *x = stun_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS);
        if (!r || stun_attr_xor_addr(&m, r, &a->relayed) != 0) {
            fail(t, a, -2);
            return;
        }
        if (x)
            (void)stun_attr_xor_addr(&m, x, &a->mapped);
        a->state = t->o->burst ? AS_PERM : AS_BIND;
        a->stale = 0;
        transmit(t, a, true, now);
        break;
    }
    case AS_PERM:
        a->state = AS_BIND;
        a->stale = 0;
        transmit(t, a, true, now);
        break;
    case AS_BIND:
        a->state = AS_READY;
        a->was_ready = true;
        t->ready++;
        break;
    case AS_DELETE:
        a->state = AS_DELETED;
        t->deleted++; /* counts the stray ones too: they existed */
        break;
    case AS_RESET:
        a->state = AS_ALLOC;
        a->stale = 0;
        transmit(t, a, true, now);
        break;
    default:
        break;
    }
}

struct stream_msg_ctx {
    struct turn_ctx *t;
    struct bench_alloc *a;
    uint64_t now;
};

static void on_stream_msg(void *arg, const uint8_t *msg, size_t len)
{
    struct stream_msg_ctx *x = arg;
    on_datagram(x->t, x->a, msg, len, x->now);
}

static bool in_flight(const struct bench_alloc *a);

/* The server closed the connection (or it broke): its allocation is gone. */
static void stream_lost(struct turn_ctx *t, struct bench_alloc *a)
{
    (void)epoll_ctl(t->ep, EPOLL_CTL_DEL, a->fd, NULL);
    t->last_errno = ECONNRESET;
    if (a->state == AS_READY) {
        t->ready--;
        a->state = AS_BIND; /* for fail(): a setup failure */
    }
    if (in_flight(a))
        fail(t, a, -3);
}

static void read_socket(struct turn_ctx *t, struct bench_alloc *a, uint64_t now)
{
    uint8_t buf[4096];
    if (a->stream) {
        struct stream_msg_ctx x = {t, a, now};
        if (stream_read(a->stream, on_stream_msg, &x) != 0)
            stream_lost(t, a);
        return;
    }
    for (int i = 0; i < 16; i++) {
        ssize_t n = recv(a->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno != EINTR)
                t->last_errno = errno; /* e.g. ECONNREFUSED: ICMP port unreachable */
            continue;
        }
        on_datagram(t, a, buf, (size_t)n, now);
    }
}

static bool in_flight(const struct bench_alloc *a)
{
    return a->state == AS_ALLOC_UNAUTH || a->state == AS_ALLOC || a->state == AS_PERM ||
           a->state == AS_BIND || a->state == AS_DELETE || a->state == AS_RESET;
}

static void progress(const struct turn_ctx *t, bool teardown, bool last)
{
    if (!t->tty)
        return;
    if (teardown)
        printf("\rdelete: %u deleted   %s", t->deleted, last ? "\n" : "");
    else
        printf("\rsetup: %u of %u ready, %u failed   %s", t->ready, t->n, t->failed,
               last ? "\n" : "");
    fflush(stdout);
}

/* Runs transactions over the selected allocations with at most `window` in flight. The window
 * adapts like TCP's: halved (once per timeout period) when a request has to be retransmitted,
 * grown by one per answer before that and by 1/window after. A server that rate-limits its
 * answers to unauthenticated requests per source IP is then asked about as fast as it answers,
 * and no allocation starves behind others' retransmissions. A burst's setup keeps its window:
 * it measures the server with that many in flight. */
static int run(struct turn_ctx *t, bool teardown)
{
    bool fixed = !teardown && t->o->burst;
    uint32_t window = teardown ? TEARDOWN_WINDOW : fixed ? t->o->burst : SETUP_WINDOW;
    uint32_t active[BENCH_MAX_WINDOW], nactive = 0, next = 0;
    uint32_t first_window = t->n < window ? t->n : window, answers = t->answers;
    uint64_t next_progress = now_ns(), last_cut = 0;
    double cwnd = window;
    bool congested = false;
    struct epoll_event evs[256];

    for (;;) {
        uint64_t now = now_ns(), earliest = UINT64_MAX;
        int n, timeout;

        if (!teardown && *t->stop)
            next = t->n; /* interrupted: finish what is in flight, start nothing new */
        while (nactive < (uint32_t)cwnd && next < t->n) {
            struct bench_alloc *a = &t->allocs[next++];
            if (teardown) {
                /* Also those that failed after an authenticated Allocate: the server may
                 * hold an allocation we never heard of. */
                if (a->state != AS_READY && !(a->state == AS_FAILED && a->maybe_allocated))
                    continue;
                a->state = AS_DELETE;
                a->stale = 0;
            } else {
                a->state = AS_ALLOC_UNAUTH;
            }
            transmit(t, a, true, now);
            active[nactive++] = a->index;
        }
        if (nactive == 0)
            break;
        for (uint32_t i = 0; i < nactive; i++)
            if (t->allocs[active[i]].deadline < earliest)
                earliest = t->allocs[active[i]].deadline;
        timeout = earliest > now ? (int)((earliest - now + 999999) / 1000000) : 0;
        n = epoll_wait(t->ep, evs, 256, timeout);
        now = now_ns();
        for (int k = 0; k < n; k++)
            read_socket(t, &t->allocs[evs[k].data.u32], now);
        for (; answers != t->answers; answers++)
            cwnd = cwnd + (congested ? 1.0 / cwnd : 1.0) > window
                       ? window
                       : cwnd + (congested ? 1.0 / cwnd : 1.0);
        for (uint32_t i = 0; i < nactive;) {
            struct bench_alloc *a = &t->allocs[active[i]];
            if (in_flight(a) && now >= a->deadline) {
                uint8_t limit = teardown ? DELETE_TRIES : MAX_TRIES;
                bool busy = t->any_rx && now - t->last_rx_ns < NS_PER_S;
                if (!fixed && now - last_cut >= RTO_NS) {
                    cwnd = cwnd / 2 < 4 ? 4 : cwnd / 2;
                    congested = true;
                    last_cut = now;
                }
                if (a->tries < limit || (busy && !teardown && a->tries < MAX_TRIES_BUSY))
                    transmit(t, a, false, now);
                else
                    fail(t, a, -1);
            }
            if (in_flight(a))
                i++;
            else
                active[i] = active[--nactive];
        }
        if (!teardown && !t->any_rx && t->timeouts >= first_window)
            return -1; /* nobody answers */
        if (now >= next_progress) {
            progress(t, teardown, false);
            next_progress = now + 250000000ull;
        }
    }
    progress(t, teardown, true);
    return 0;
}

int turn_setup(struct turn_ctx *t)
{
    if (run(t, false) != 0)
        return -1;
    return (int)t->ready;
}

void turn_teardown(struct turn_ctx *t)
{
    (void)run(t, true);
}

void turn_failure_reason(const struct turn_ctx *t, char *out, size_t len)
{
    uint32_t best = 0;
    int code = 0;
    for (int c = 300; c < 700; c++) {
        if (t->codes[c] > best) {
            best = t->codes[c];
            code = c;
        }
    }
    if (t->timeouts > best) {
        if (t->last_errno)
            snprintf(out, len, "no response (%u timeouts; %s)", t->timeouts,
                     strerror(t->last_errno));
        else
            snprintf(out, len, "no response (%u timeouts)", t->timeouts);
    } else if (code) {
        const char *r = stun_reason(code);
        snprintf(out, len, "error %d%s%s (%u of %u allocations)", code, *r ? " " : "", r, best,
                 t->n);
    } else if (t->closed) {
        snprintf(out, len, "connection closed by the server (%u)", t->closed);
    } else if (t->local_errors) {
        snprintf(out, len, "malformed responses (%u)", t->local_errors);
    } else {
        snprintf(out, len, "unknown");
    }
}

void turn_errors_json(const struct turn_ctx *t, FILE *f)
{
    const char *sep = "";
    fputc('{', f);
    if (t->timeouts) {
        fprintf(f, "\"timeout\":%u", t->timeouts);
        sep = ",";
    }
    if (t->closed) {
        fprintf(f, "%s\"closed\":%u", sep, t->closed);
        sep = ",";
    }
    if (t->local_errors) {
        fprintf(f, "%s\"malformed\":%u", sep, t->local_errors);
        sep = ",";
    }
    for (int c = 300; c < 700; c++) {
        if (t->codes[c]) {
            fprintf(f, "%s\"%d\":%u", sep, c, t->codes[c]);
            sep = ",";
        }
    }
    fputc('}', f);
}

void turn_keepalive(struct turn_ctx *t, struct bench_alloc *a)
{
    for (int k = 0; k < 2; k++) {
        random_bytes(a->ka_tid[k], STUN_TID_LEN);
        a->ka_stale[k] = 0;
        send_req(t, a, k == 0 ? REQ_REFRESH : REQ_BIND, a->ka_tid[k]);
    }
}

void turn_keepalive_response(struct turn_ctx *t, struct bench_alloc *a, const uint8_t *buf,
                             size_t len)
{
    struct stun_msg m;
    if (stun_parse(buf, len, &m) != STUN_OK || m.cls != STUN_ERROR)
        return;
    for (int k = 0; k < 2; k++) {
        if (memcmp(m.tid, a->ka_tid[k], STUN_TID_LEN) != 0)
            continue;
        if (error_code(&m) == 438 && a->ka_stale[k] < MAX_STALE && take_nonce(a, &m) == 0) {
            a->ka_stale[k]++;
            random_bytes(a->ka_tid[k], STUN_TID_LEN);
            send_req(t, a, k == 0 ? REQ_REFRESH : REQ_BIND, a->ka_tid[k]);
        }
    }
}

size_t turn_data_prefix(const struct client_opts *o, const struct bench_alloc *a, uint8_t out[64],
                        uint8_t *pad)
{
    struct stun_builder b;
    uint8_t tid[STUN_TID_LEN];
    size_t len, padded = (o->size + 3u) & ~3u;

    if (o->mode == MODE_CHANNEL) {
        /* Over UDP the padding is optional (RFC 8656 12.5): none is sent. On a stream it is
         * required: zero bytes. */
        channeldata_header(out, BENCH_CHANNEL, o->size);
        *pad = o->transport == TRANSPORT_UDP ? 0 : (uint8_t)(padded - o->size);
        return CHANNELDATA_HEADER_LEN;
    }
    /* A Send indication: header, XOR-PEER-ADDRESS, and the DATA attribute's header; the
     * length field counts the payload and its padding that follow. One transaction id per
     * allocation: an IPv6 XOR-PEER-ADDRESS is masked with it, so it cannot vary cheaply. */
    random_bytes(tid, sizeof(tid));
    stun_build_init(&b, out, 64, TURN_SEND, STUN_INDICATION, tid);
    stun_add_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &a->peer);
    len = (size_t)stun_finish(&b);
    put16(out + len, TURN_ATTR_DATA);
    put16(out + len + 2, (uint16_t)o->size);
    len += 4;
    put16(out + 2, (uint16_t)(len - STUN_HEADER_LEN + padded));
    *pad = (uint8_t)(padded - o->size);
    return len;
}
