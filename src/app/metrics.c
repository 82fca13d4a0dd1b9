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

#include "app/config.h"
#include "common/log.h"
#include "xdp/xdp_abi.h"

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

/* ---- rendering ---- */

struct out {
    char *buf;
    size_t cap, len;
    bool overflow;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) {
        o->overflow = true;
        return;
    }
    o->len += (size_t)n;
}

/* # HELP and # TYPE of one metric family; its samples follow right after. */
static void family(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(struct out *o, const char *name, uint64_t v)
{
    put(o, "%s %llu\n", name, (unsigned long long)v);
}

/* A label value, escaped as the exposition format wants (backslash, quote, newline). */
static void put_label_value(struct out *o, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            put(o, "\\\\");
        else if (*v == '"')
            put(o, "\\\"");
        else if (*v == '\n')
            put(o, "\\n");
        else
            put(o, "%c", *v);
    }
}

static const char *const family_names[2] = {"ipv4", "ipv6"};
static const char *const direction_names[2] = {"to_peer", "to_client"};

static const char *const method_names[TM_COUNT] = {
    [TM_BINDING] = "binding",           [TM_ALLOCATE] = "allocate",
    [TM_REFRESH] = "refresh",           [TM_CREATE_PERMISSION] = "create_permission",
    [TM_CHANNEL_BIND] = "channel_bind", [TM_OTHER] = "other",
};

static const char *const drop_names[TD_COUNT] = {
    [TD_NOT_TURN] = "not_turn",
    [TD_MALFORMED] = "malformed",
    [TD_UNEXPECTED] = "unexpected",
    [TD_NO_ALLOCATION] = "no_allocation",
    [TD_NO_CHANNEL] = "no_channel",
    [TD_NO_RELAY] = "no_relay",
    [TD_NO_PERMISSION] = "no_permission",
    [TD_SELF_PORT] = "self_port",
    [TD_TOO_BIG] = "too_big",
    [TD_RATE_LIMITED] = "rate_limited",
};

/* A reason or method added to the core without a label here still shows, as "unnamed_N" (the unit
 * test fails on that). */
static void put_name(struct out *o, const char *const *names, int i)
{
    if (names[i])
        put(o, "%s", names[i]);
    else
        put(o, "unnamed_%d", i);
}

/* A gauge per address family; only the families in shown when it is not NULL. */
static void by_family(struct out *o, const char *name, const char *help, const uint64_t v[2],
                      const bool *shown)
{
    family(o, name, "gauge", help);
    for (int f = 0; f < 2; f++)
        if (!shown || shown[f])
            put(o, "%s{family=\"%s\"} %llu\n", name, family_names[f], (unsigned long long)v[f]);
}

static void render_state(struct out *o, const struct xturn_snapshot *s)
{
    uint64_t v[2];

    family(o, "xturn_build_info", "gauge", "Always 1; the version of the running xturn.");
    put(o, "xturn_build_info{version=\"");
    put_label_value(o, XTURN_VERSION);
    put(o, "\"} 1\n");
    family(o, "xturn_process_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch, in seconds.");
    put(o, "xturn_process_start_time_seconds %lld\n", (long long)s->start_time_unix);
    family(o, "xturn_workers", "gauge", "Relay worker threads.");
    sample(o, "xturn_workers", s->workers);
    family(o, "xturn_draining", "gauge", "1 while draining (no new allocations), else 0.");
    sample(o, "xturn_draining", s->draining ? 1 : 0);

    family(o, "xturn_allocations", "gauge",
           "Live allocations (a dual allocation counts once here, and once per family in "
           "xturn_relayed_addresses).");
    sample(o, "xturn_allocations", s->turn.allocations);
    for (int f = 0; f < 2; f++)
        v[f] = s->turn.family[f].relayed_addrs;
    by_family(o, "xturn_relayed_addresses", "Live relayed transport addresses by family.", v, NULL);
    for (int f = 0; f < 2; f++)
        v[f] = s->turn.family[f].permissions;
    by_family(o, "xturn_permissions", "Live permissions by family of the peer.", v, NULL);
    for (int f = 0; f < 2; f++)
        v[f] = s->turn.family[f].channels;
    by_family(o, "xturn_channels", "Live channel bindings by family of the peer.", v, NULL);
}

static void render_requests(struct out *o, const struct xturn_snapshot *s)
{
    family(o, "xturn_responses_total", "counter",
           "STUN/TURN responses sent, by request method and response code (success, the "
           "error code, or other). Success rows always; error rows once they occurred.");
    for (int m = 0; m < TM_COUNT; m++) {
        for (int c = 0; c < TURN_CODE_COUNT; c++) {
            uint64_t n = s->turn.responses[m][c];
            int code = turn_stat_codes[c];
            if (code != 0 && n == 0)
                continue;
            put(o, "xturn_responses_total{method=\"");
            put_name(o, method_names, m);
            if (code == 0)
                put(o, "\",code=\"success\"} %llu\n", (unsigned long long)n);
            else if (code < 0)
                put(o, "\",code=\"other\"} %llu\n", (unsigned long long)n);
            else
                put(o, "\",code=\"%d\"} %llu\n", code, (unsigned long long)n);
        }
    }
    family(o, "xturn_authentication_failures_total", "counter",
           "Requests that failed authentication (bad or missing credentials, stale nonce, "
           "expired REST API username).");
    sample(o, "xturn_authentication_failures_total", s->turn.auth_failures);
    family(o, "xturn_unauthenticated_responses_suppressed_total", "counter",
           "Responses to unauthenticated sources not sent because of the per-source rate "
           "limit.");
    sample(o, "xturn_unauthenticated_responses_suppressed_total", s->turn.unauth_rate_limited);
}

static void relayed(struct out *o, const struct xturn_snapshot *s, bool bytes)
{
    const char *name = bytes ? "xturn_relayed_bytes_total" : "xturn_relayed_packets_total";

    family(o, name, "counter",
           bytes ? "Application payload bytes relayed, by data path, direction and the families "
                   "of client and peer."
                 : "Datagrams relayed, by data path, direction and the families of client and "
                   "peer.");
    for (int path = 0; path < (s->xdp ? 2 : 1); path++) {
        for (int dir = 0; dir < 2; dir++) {
            for (int cf = 0; cf < 2; cf++) {
                for (int pf = 0; pf < 2; pf++) {
                    uint64_t n;
                    if (path == 0) {
                        n = bytes ? s->turn.relayed_bytes[dir][cf][pf]
                                  : s->turn.relayed_pkts[dir][cf][pf];
                    } else {
                        enum xt_stat k = xdp_abi_path(
                            dir == TURN_TO_PEER ? XDP_ABI_TO_PEER : XDP_ABI_TO_CLIENT, cf, pf);
                        const struct xt_counter *c = &s->xdp_stats[k];
                        n = bytes ? c->bytes : c->packets;
                    }
                    put(o,
                        "%s{path=\"%s\",direction=\"%s\",client_family=\"%s\",peer_family=\"%s\"}"
                        " %llu\n",
                        name, path == 0 ? "userspace" : "xdp", direction_names[dir],
                        family_names[cf], family_names[pf], (unsigned long long)n);
                }
            }
        }
    }
}

static void render_userspace(struct out *o, const struct xturn_snapshot *s)
{
    relayed(o, s, false);
    relayed(o, s, true);
    family(o, "xturn_dropped_packets_total", "counter",
           "Datagrams dropped by the userspace relay, by reason.");
    for (int r = 0; r < TD_COUNT; r++) {
        put(o, "xturn_dropped_packets_total{path=\"userspace\",reason=\"");
        put_name(o, drop_names, r);
        put(o, "\"} %llu\n", (unsigned long long)s->turn.dropped[r]);
    }
    family(o, "xturn_send_failures_total", "counter",
           "Datagrams the kernel refused to send (sendmmsg errors).");
    sample(o, "xturn_send_failures_total", s->send_failures);
    family(o, "xturn_oversized_datagrams_total", "counter",
           "Received datagrams larger than the receive buffers (truncated, dropped).");
    sample(o, "xturn_oversized_datagrams_total", s->oversized);

    uint64_t total[2] = {s->relay_ports_total, s->relay_ports_total};
    uint64_t free_ports[2] = {s->relay_ports_free[0], s->relay_ports_free[1]};
    by_family(o, "xturn_relay_ports", "UDP ports of the relay range, per relayed address family.",
              total, s->relay_family);
    by_family(o, "xturn_relay_ports_free",
              "Relay ports not in use (nor reserved), per relayed address family.", free_ports,
              s->relay_family);
}

/* The pass or drop reasons (cls), each labelled by its reason. */
static void xdp_reasons(struct out *o, const struct xturn_snapshot *s, enum xt_stat_class cls,
                        const char *name, bool bytes, const char *help)
{
    family(o, name, "counter", help);
    for (int i = 0; i < XT_STAT_COUNT; i++) {
        if (xdp_stat_class((enum xt_stat)i) != cls)
            continue;
        put(o, "%s{reason=\"%s\"} %llu\n", name, xdp_stat_reason((enum xt_stat)i),
            (unsigned long long)(bytes ? s->xdp_stats[i].bytes : s->xdp_stats[i].packets));
    }
}

static void render_xdp(struct out *o, const struct xturn_snapshot *s)
{
    const struct xt_counter *self = &s->xdp_stats[XT_C2C_SELF];

    family(o, "xturn_xdp_client_to_client_packets_total", "counter",
           "Datagrams relayed by XDP from a client to another client of this relay in one pass "
           "(also counted in both directions of xturn_relayed_packets_total).");
    sample(o, "xturn_xdp_client_to_client_packets_total", self->packets);
    family(o, "xturn_xdp_client_to_client_bytes_total", "counter",
           "Payload bytes of xturn_xdp_client_to_client_packets_total.");
    sample(o, "xturn_xdp_client_to_client_bytes_total", self->bytes);
    xdp_reasons(o, s, XT_CLASS_PASS, "xturn_xdp_passed_packets_total", false,
                "Packets the XDP program passed to the kernel stack (and so to userspace), by "
                "reason.");
    xdp_reasons(o, s, XT_CLASS_PASS, "xturn_xdp_passed_bytes_total", true,
                "Frame bytes of xturn_xdp_passed_packets_total.");
    xdp_reasons(o, s, XT_CLASS_DROP, "xturn_xdp_dropped_packets_total", false,
                "Packets the XDP program dropped, by reason.");
    xdp_reasons(o, s, XT_CLASS_DROP, "xturn_xdp_dropped_bytes_total", true,
                "Frame bytes of xturn_xdp_dropped_packets_total.");
    family(o, "xturn_xdp_map_bindings", "gauge",
           "Channel bindings mirrored in the XDP maps (each in both directions).");
    sample(o, "xturn_xdp_map_bindings", s->xdp_bindings);
    family(o, "xturn_xdp_map_capacity_bindings", "gauge",
           "Entries each XDP binding map holds (--xdp-map-size).");
    sample(o, "xturn_xdp_map_capacity_bindings", s->xdp_map_capacity);
    family(o, "xturn_xdp_map_full_total", "counter",
           "Channel bindings that did not fit in the XDP maps (relayed in userspace instead).");
    sample(o, "xturn_xdp_map_full_total", s->xdp_map_full);
    family(o, "xturn_xdp_map_memory_bytes", "gauge",
           "Kernel memory of the XDP binding maps, in bytes.");
    sample(o, "xturn_xdp_map_memory_bytes", s->xdp_map_bytes);
}

int metrics_render(const struct xturn_snapshot *s, char *buf, size_t cap)
{
    struct out o = {.buf = buf, .cap = cap};

    if (cap == 0 || cap > INT32_MAX)
        return -1;
    buf[0] = '\0';
    render_state(&o, s);
    render_requests(&o, s);
    render_userspace(&o, s);
    if (s->xdp)
        render_xdp(&o, s);
    return o.overflow ? -1 : (int)o.len;
}

/* ---- HTTP server ---- */

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
    char msg[sizeof(m->start_err)], sup[24];
    struct timespec t;
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
    clock_gettime(CLOCK_MONOTONIC, &t);
    now = (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
    if (m->logged_ms && now - m->logged_ms < METRICS_LOG_EVERY_MS) {
        m->suppressed++;
        return;
    }
    snprintf(sup, sizeof(sup), "%llu", (unsigned long long)m->suppressed);
    xt_log(LOG_WARN, "metrics endpoint", "error", msg, "#suppressed_before", sup, NULL);
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
