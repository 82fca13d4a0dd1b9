/* Accepting the worker's stream connections under the limits all workers share (counted and
 * logged refusals, a spare descriptor for when they run out), connections adopted from the TCP
 * relay, and the listening sockets. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/worker_stream_internal.h"
#include "common/log.h"
#include "net/tcp_socket.h"
#include "net/tls_server.h"

#define STREAM_BACKLOG       1024
#define ACCEPTS_PER_EVENT    64 /* then other sockets get their turn */
#define REFUSAL_LOG_INTERVAL 1000u

/* ---- refusing ---- */

static void log_refusal(struct worker *w, enum stream_refusal why, const struct xt_addr *client)
{
    char c[XT_ADDR_STRLEN] = "";

    /* A flood of refusals must not become a flood of log lines. */
    if (w->now.ms < w->streams.last_refusal_log_ms + REFUSAL_LOG_INTERVAL)
        return;
    w->streams.last_refusal_log_ms = w->now.ms;
    if (client)
        xt_addr_str(client, c);
    xt_log(LOG_WARN, "stream connection refused (logged at most once a second per worker)",
           "reason", stream_refusal_names[why], "client", c, NULL);
}

static void refuse(struct worker *w, enum turn_transport t, enum stream_refusal why,
                   const struct xt_addr *client)
{
    w->streams_ctr[t].refused[why]++;
    log_refusal(w, why, client);
}

/* Out of file descriptors: the waiting connection would keep the listen socket readable for
 * ever. The spare descriptor makes room to accept it and close it at once. */
static void refuse_without_fd(struct worker *w, int listen_fd, enum turn_transport t)
{
    struct xt_addr client;
    int fd;

    refuse(w, t, SR_NO_FD, NULL);
    if (w->streams.spare_fd < 0)
        return;
    close(w->streams.spare_fd);
    fd = tcp_accept(listen_fd, &client);
    if (fd >= 0)
        close(fd);
    w->streams.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* A connection watched under a new handle, counted open; NULL when out of memory (the caller
 * still owns fd and the client's place in the limits). */
static struct wconn *conn_new(struct worker *w, int fd, const struct xt_addr *local,
                              const struct xt_addr *client, enum turn_transport t)
{
    struct wconn *c = calloc(1, sizeof(*c));
    int handle = c ? worker_sock_add(w, fd, WS_CONN, NULL, local, wconn_on_event) : -ENOMEM;

    if (handle < 0) {
        free(c);
        return NULL;
    }
    c->sock = w->socks[handle];
    c->sock->conn = c;
    c->transport = t;
    c->client = *client;
    c->last_msg_ms = w->now.ms;
    list_push(&w->streams.all, &c->entry);
    w->streams_ctr[t].open++;
    return c;
}

static void conn_accept(struct worker *w, struct wsock *ls, int fd, const struct xt_addr *client,
                        enum turn_transport t)
{
    struct wconn *c;
    enum conn_refusal r = conn_limits_take(w->streams.limits, client);

    if (r != CONN_ADMITTED) {
        close(fd);
        refuse(w, t,
               r == CONN_REFUSED_TOTAL    ? SR_MAX_TOTAL
               : r == CONN_REFUSED_PER_IP ? SR_MAX_PER_IP
                                          : SR_NO_MEMORY,
               client);
        return;
    }
    c = conn_new(w, fd, &ls->local, client, t);
    if (!c) {
        close(fd);
        conn_limits_put(w->streams.limits, client);
        refuse(w, t, SR_NO_MEMORY, client);
        return;
    }
    c->detecting = t == TURN_TLS;
    w->streams_ctr[t].accepted++;
}

void streams_adopt(struct worker *w, int fd, const struct xt_addr *local, struct stream_handover *h,
                   uint8_t *bytes, size_t len)
{
    struct wconn *c = conn_new(w, fd, local, &h->client, h->transport);

    if (!c) {
        if (h->tls)
            tls_conn_free(h->tls);
        close(fd);
        stream_out_free(&h->out);
        conn_limits_put(w->streams.limits, &h->client);
        refuse(w, h->transport, SR_NO_MEMORY, &h->client);
        return;
    }
    c->tls = h->tls;
    c->out = h->out;
    if (stream_out_pending(&c->out)) {
        list_push(&w->streams.dirty, &c->dirty_entry);
        c->dirty = true;
    }
    if (!wconn_process(w, c, bytes, len, false))
        return;
    wconn_set_ready(w, c, c->tls && tls_conn_pending(c->tls));
}

bool streams_conn_movable(const struct wconn *c)
{
    return !c->tls && !c->tls_wanted && !c->detecting && c->transport == TURN_TCP &&
           !stream_out_pending(&c->out);
}

void streams_conn_peer(const struct wconn *c, uint8_t *pad, struct xt_addr *client,
                       const uint8_t **partial, size_t *plen)
{
    *pad = c->framer.pad;
    *client = c->client;
    *partial = c->partial;
    *plen = c->plen;
}

int streams_adopt_conn(struct worker *w, int fd, const struct xt_addr *local,
                       const struct xt_addr *client, uint8_t pad)
{
    struct wconn *c;

    if (conn_limits_take(w->streams.limits, client) != CONN_ADMITTED) {
        close(fd);
        return -EMFILE;
    }
    c = conn_new(w, fd, local, client, TURN_TCP);
    if (!c) {
        close(fd);
        conn_limits_put(w->streams.limits, client);
        return -ENOMEM;
    }
    c->framer.pad = pad;
    c->got_message = true; /* its first-message time passed in the old process */
    return c->sock->handle;
}

bool streams_adopt_input(struct worker *w, int handle, uint8_t *bytes, size_t len)
{
    return wconn_process(w, w->socks[handle]->conn, bytes, len, false);
}

static void on_accept(struct ev_handler *h, uint32_t events)
{
    struct wsock *ls = container_of(h, struct wsock, ev);
    struct worker *w = ls->w;
    enum turn_transport t = ls->kind == WS_TLS_LISTEN ? TURN_TLS : TURN_TCP;

    (void)events;
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        struct xt_addr client;
        int fd = tcp_accept(h->fd, &client);

        if (fd == -EAGAIN)
            return;
        if (fd == -EMFILE || fd == -ENFILE) {
            refuse_without_fd(w, h->fd, t);
            continue;
        }
        if (fd < 0) /* the client gave up already (ECONNABORTED) or similar */
            continue;
        conn_accept(w, ls, fd, &client, t);
    }
}

static int listen_on(struct worker *w, const struct xt_addr *a, enum wsock_kind kind,
                     bool reuseport, char *err, size_t errlen)
{
    const char *what = kind == WS_TLS_LISTEN ? "TLS over TCP" : "TCP";
    char as[XT_ADDR_STRLEN];
    int fd = w->adopt.fds ? worker_adopt_listen(w, a, SOCK_STREAM, NULL, err, errlen)
                          : tcp_listen_open(a, reuseport, STREAM_BACKLOG),
        handle;

    if (fd < 0) {
        if (!w->adopt.fds)
            snprintf(err, errlen, "cannot listen on %s (%s): %s", xt_addr_str(a, as), what,
                     strerror(-fd));
        return -1;
    }
    handle = worker_sock_add(w, fd, kind, NULL, a, on_accept);
    if (handle < 0) {
        close(fd);
        snprintf(err, errlen, "cannot watch %s (%s): %s", xt_addr_str(a, as), what,
                 strerror(-handle));
        return -1;
    }
    return 0;
}

int streams_open(struct worker *w, bool reuseport, char *err, size_t errlen)
{
    const struct xturn_config *cfg = w->cfg;

    if (cfg->no_tcp && cfg->ntls_listen == 0)
        return 0;
    w->streams.scratch = malloc(SCRATCH_SIZE);
    w->streams.reads = malloc(READS_SIZE);
    w->streams.msg = malloc(STREAM_FRAME_MAX);
    w->streams.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (!w->streams.scratch || !w->streams.reads || !w->streams.msg) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; !cfg->no_tcp && i < cfg->nlisten; i++)
        if (listen_on(w, &cfg->listen[i], WS_TCP_LISTEN, reuseport, err, errlen) != 0)
            return -1;
    for (size_t i = 0; i < cfg->ntls_listen; i++)
        if (listen_on(w, &cfg->tls_listen[i], WS_TLS_LISTEN, reuseport, err, errlen) != 0)
            return -1;
    return 0;
}
