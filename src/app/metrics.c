/* The metrics endpoint's HTTP server: libmicrohttpd on its own thread, /metrics rendered by
 * metrics_render.c from a fresh snapshot, /healthz from the draining flag. */
#include "app/metrics.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/metrics_render.h"
#include "common/clock.h"
#include "common/log.h"

/* Limits of the HTTP server: a scraper or two and a health checker, never more. */
#define METRICS_MAX_CONNECTIONS 32u
#define METRICS_MAX_PER_IP      8u
#define METRICS_TIMEOUT_S       10u    /* idle or slow connections are closed after this */
#define METRICS_CONN_MEMORY     16384u /* per connection: request line and headers */
#define METRICS_BACKLOG         16u
#define METRICS_PAGE_FIRST      (64u * 1024)
#define METRICS_PAGE_MAX        (4u * 1024 * 1024)
#define METRICS_LOG_EVERY_MS    10000u /* at most one line of libmicrohttpd's complaints */

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_TEXT    "text/plain; charset=utf-8"

struct metrics {
    struct MHD_Daemon *mhd;
    snapshot_fn fn;
    void *ctx;
    uint16_t port;
    atomic_bool running; /* MHD's messages: into start_err before, to the log after */
    char start_err[256];
    uint64_t logged_ms, suppressed; /* the log, from MHD's thread only */
};

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct metrics *m = cls;
    char msg[sizeof(m->start_err)];
    uint64_t now;
    size_t n;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == '.'))
        msg[--n] = '\0';
    if (!atomic_load(&m->running)) {
        memcpy(m->start_err, msg, sizeof(m->start_err));
        return;
    }
    /* Rejected or malformed connections are the client's doing: no flood of log lines. */
    now = xt_mono_ms();
    if (m->logged_ms && now - m->logged_ms < METRICS_LOG_EVERY_MS) {
        m->suppressed++;
        return;
    }
    xt_log(LOG_WARN, "metrics endpoint", "error", msg, XT_NUM("suppressed_before", m->suppressed),
           NULL);
    m->logged_ms = now;
    m->suppressed = 0;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int status,
                               struct MHD_Response *r, const char *content_type)
{
    enum MHD_Result ret;

    if (!r)
        return MHD_NO; /* out of memory: MHD closes the connection */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned int status,
                                    const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    return respond(conn, status, r, CONTENT_TYPE_TEXT);
}

static enum MHD_Result serve_metrics(struct metrics *m, struct MHD_Connection *conn)
{
    struct xturn_snapshot s;
    struct MHD_Response *r;
    size_t cap = METRICS_PAGE_FIRST;

    m->fn(m->ctx, &s);
    for (;;) {
        char *page = malloc(cap);
        int len;
        if (!page)
            return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        len = metrics_render(&s, page, cap);
        if (len >= 0) {
            r = MHD_create_response_from_buffer((size_t)len, page, MHD_RESPMEM_MUST_FREE);
            if (!r)
                free(page);
            return respond(conn, MHD_HTTP_OK, r, CONTENT_TYPE_METRICS);
        }
        free(page);
        if (cap >= METRICS_PAGE_MAX)
            return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "page too large\n");
        cap *= 2;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct metrics *m = cls;
    static int headers_seen;
    (void)version;
    (void)upload_data;

    /* Other methods are answered at once, with the headers: their body is never read (MHD
     * closes the connection after such an early response). */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    /* GET and HEAD once the request is complete (a body, if any, discarded), so the
     * connection can be kept alive for the next scrape. */
    if (!*con_cls) {
        *con_cls = &headers_seen;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(m, conn);
    if (strcmp(url, "/healthz") == 0) {
        struct xturn_snapshot s;
        m->fn(m->ctx, &s);
        if (s.draining)
            return respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "draining\n");
        return respond_text(conn, MHD_HTTP_OK, "ok\n");
    }
    return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

struct metrics *metrics_start(const struct xt_addr *addr, snapshot_fn fn, void *ctx, char *err,
                              size_t errlen)
{
    struct metrics *m;
    struct sockaddr_storage ss;
    char as[XT_ADDR_STRLEN], url[XT_ADDR_STRLEN + 16];
    unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    const union MHD_DaemonInfo *info;
    struct xt_addr bound;

    if (addr->family != AF_INET && addr->family != AF_INET6) {
        snprintf(err, errlen, "metrics: no address to listen on");
        return NULL;
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->fn = fn;
    m->ctx = ctx;
    xt_addr_to_sockaddr(addr, &ss);
    if (addr->family == AF_INET6)
        flags |= MHD_USE_IPv6; /* and not MHD_USE_DUAL_STACK: exactly this address */
    errno = 0;
    m->mhd = MHD_start_daemon(flags, addr->port, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR,
                              (const struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
                              METRICS_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                              METRICS_MAX_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT, METRICS_TIMEOUT_S,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_CONN_MEMORY,
                              MHD_OPTION_LISTEN_BACKLOG_SIZE, METRICS_BACKLOG,
                              MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, m, MHD_OPTION_END);
    if (!m->mhd) {
        int e = errno;
        const char *why = m->start_err[0] ? m->start_err : e ? strerror(e) : "libmicrohttpd failed";
        /* "Failed to bind to port N: Address already in use": the address is said already */
        const char *colon = strrchr(why, ':');
        if (strncmp(why, "Failed to bind", 14) == 0 && colon && colon[1] == ' ' && colon[2])
            why = colon + 2;
        snprintf(err, errlen, "cannot serve metrics on %s: %s", xt_addr_str(addr, as), why);
        free(m);
        return NULL;
    }
    atomic_store(&m->running, true);
    info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_BIND_PORT);
    m->port = info && info->port ? info->port : addr->port;
    bound = *addr;
    bound.port = m->port;
    snprintf(url, sizeof(url), "http://%s/metrics", xt_addr_str(&bound, as));
    xt_log(LOG_INFO, "metrics endpoint listening", "url", url, NULL);
    if (xt_addr_is_any(addr))
        xt_log(LOG_WARN, "metrics endpoint on every address: keep it firewalled", "address", as,
               NULL);
    return m;
}

uint16_t metrics_port(const struct metrics *m)
{
    return m->port;
}

void metrics_stop(struct metrics *m)
{
    if (!m)
        return;
    MHD_stop_daemon(m->mhd);
    free(m);
}
