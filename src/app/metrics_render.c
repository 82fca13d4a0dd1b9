/* The Prometheus text exposition (format 0.0.4) of a snapshot: pure, no I/O. */
#include "app/metrics_render.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "app/config.h" /* XTURN_VERSION */
#include "xdp/xdp_abi.h"

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

/* A metric family of one sample without labels. */
static void single(struct out *o, const char *name, const char *type, const char *help, uint64_t v)
{
    family(o, name, type, help);
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
    [TM_BINDING] = "binding",
    [TM_ALLOCATE] = "allocate",
    [TM_REFRESH] = "refresh",
    [TM_CREATE_PERMISSION] = "create_permission",
    [TM_CHANNEL_BIND] = "channel_bind",
    [TM_CONNECT] = "connect",
    [TM_CONNECTION_BIND] = "connection_bind",
    [TM_OTHER] = "other",
};

static const char *const tcp_refusal_names[TTR_COUNT] = {
    [TTR_NO_PERMISSION] = "no_permission",
    [TTR_SELF] = "self",
    [TTR_LIMIT] = "max_peer_connections",
    [TTR_NO_MEMORY] = "no_memory",
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

/* The client transports served, in label order. */
#define FOR_TRANSPORT(s, t)                                                                        \
    for (int t = 0; t < TURN_TRANSPORT_COUNT; t++)                                                 \
        if ((s)->transport_on[t])

static const char *tname(int t)
{
    return turn_transport_name((enum turn_transport)t);
}

/* A metric family of one sample per transport. */
static void by_transport(struct out *o, const struct xturn_snapshot *s, const char *name,
                         const char *type, const char *help, size_t field)
{
    family(o, name, type, help);
    FOR_TRANSPORT(s, t)
    {
        const uint64_t *v = (const uint64_t *)((const char *)&s->turn[t] + field);
        put(o, "%s{transport=\"%s\"} %llu\n", name, tname(t), (unsigned long long)*v);
    }
}

/* A gauge per transport and address family of a live count in turn_counters.family[]. */
static void by_transport_family(struct out *o, const struct xturn_snapshot *s, const char *name,
                                const char *help, size_t field)
{
    family(o, name, "gauge", help);
    FOR_TRANSPORT(s, t)
    for (int f = 0; f < 2; f++) {
        const uint64_t *v = (const uint64_t *)((const char *)&s->turn[t].family[f] + field);
        put(o, "%s{transport=\"%s\",family=\"%s\"} %llu\n", name, tname(t), family_names[f],
            (unsigned long long)*v);
    }
}

#define TC_FIELD(f) offsetof(struct turn_counters, f)
#define TF_FIELD(f) offsetof(struct turn_family_counters, f)

static void render_state(struct out *o, const struct xturn_snapshot *s)
{
    family(o, "xturn_build_info", "gauge", "Always 1; the version of the running xturn.");
    put(o, "xturn_build_info{version=\"");
    put_label_value(o, XTURN_VERSION);
    put(o, "\"} 1\n");
    family(o, "xturn_process_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch, in seconds.");
    put(o, "xturn_process_start_time_seconds %lld\n", (long long)s->start_time_unix);
    single(o, "xturn_workers", "gauge", "Relay worker threads.", s->workers);
    single(o, "xturn_draining", "gauge", "1 while draining (no new allocations), else 0.",
           s->draining ? 1 : 0);

    by_transport(o, s, "xturn_allocations", "gauge",
                 "Live allocations by client transport (a dual allocation counts once here, and "
                 "once per family in xturn_relayed_addresses).",
                 TC_FIELD(allocations));
    by_transport_family(o, s, "xturn_relayed_addresses",
                        "Live relayed transport addresses by client transport and family.",
                        TF_FIELD(relayed_addrs));
    by_transport_family(o, s, "xturn_permissions",
                        "Live permissions by client transport and family of the peer.",
                        TF_FIELD(permissions));
    by_transport_family(o, s, "xturn_channels",
                        "Live channel bindings by client transport and family of the peer.",
                        TF_FIELD(channels));
}

static void render_requests(struct out *o, const struct xturn_snapshot *s)
{
    family(o, "xturn_responses_total", "counter",
           "STUN/TURN responses sent, by request method and response code (success, the "
           "error code, or other), by client transport. Success rows always; error rows once "
           "they occurred.");
    FOR_TRANSPORT(s, t)
    for (int m = 0; m < TM_COUNT; m++) {
        for (int c = 0; c < TURN_CODE_COUNT; c++) {
            uint64_t n = s->turn[t].responses[m][c];
            int code = turn_stat_codes[c];
            if (code != 0 && n == 0)
                continue;
            put(o, "xturn_responses_total{transport=\"%s\",method=\"", tname(t));
            put_name(o, method_names, m);
            if (code == 0)
                put(o, "\",code=\"success\"} %llu\n", (unsigned long long)n);
            else if (code < 0)
                put(o, "\",code=\"other\"} %llu\n", (unsigned long long)n);
            else
                put(o, "\",code=\"%d\"} %llu\n", code, (unsigned long long)n);
        }
    }
    by_transport(o, s, "xturn_authentication_failures_total", "counter",
                 "Requests that failed authentication (bad or missing credentials, stale nonce, "
                 "expired REST API username).",
                 TC_FIELD(auth_failures));
    by_transport(o, s, "xturn_unauthenticated_responses_suppressed_total", "counter",
                 "Responses to unauthenticated sources not sent because of the per-source rate "
                 "limit.",
                 TC_FIELD(unauth_rate_limited));
}

static void relayed(struct out *o, const struct xturn_snapshot *s, bool bytes)
{
    const char *name = bytes ? "xturn_relayed_bytes_total" : "xturn_relayed_packets_total";

    family(o, name, "counter",
           bytes ? "Application payload bytes relayed, by data path, client transport, direction "
                   "and the families of client and peer."
                 : "Messages relayed, by data path, client transport, direction and the families "
                   "of client and peer.");
    for (int path = 0; path < (s->xdp ? 2 : 1); path++) {
        FOR_TRANSPORT(s, t)
        for (int dir = 0; dir < 2; dir++) {
            /* XDP carries UDP clients only. */
            if (path == 1 && t != TURN_UDP)
                continue;
            for (int cf = 0; cf < 2; cf++) {
                for (int pf = 0; pf < 2; pf++) {
                    uint64_t n;
                    if (path == 0) {
                        n = bytes ? s->turn[t].relayed_bytes[dir][cf][pf]
                                  : s->turn[t].relayed_pkts[dir][cf][pf];
                    } else {
                        enum xt_stat k = xdp_abi_path(
                            dir == TURN_TO_PEER ? XDP_ABI_TO_PEER : XDP_ABI_TO_CLIENT, cf, pf);
                        const struct xt_counter *c = &s->xdp_stats[k];
                        n = bytes ? c->bytes : c->packets;
                    }
                    put(o,
                        "%s{path=\"%s\",transport=\"%s\",direction=\"%s\",client_family=\"%s\","
                        "peer_family=\"%s\"} %llu\n",
                        name, path == 0 ? "userspace" : "xdp", tname(t), direction_names[dir],
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
           "Messages dropped by the userspace relay, by client transport and reason.");
    FOR_TRANSPORT(s, t)
    for (int r = 0; r < TD_COUNT; r++) {
        put(o, "xturn_dropped_packets_total{path=\"userspace\",transport=\"%s\",reason=\"",
            tname(t));
        put_name(o, drop_names, r);
        put(o, "\"} %llu\n", (unsigned long long)s->turn[t].dropped[r]);
    }
    single(o, "xturn_send_failures_total", "counter",
           "Datagrams the kernel refused to send (sendmmsg errors).", s->send_failures);
    single(o, "xturn_oversized_datagrams_total", "counter",
           "Received datagrams larger than the receive buffers (truncated, dropped).",
           s->oversized);

    uint64_t total[2] = {s->relay_ports_total, s->relay_ports_total};
    uint64_t free_ports[2] = {s->relay_ports_free[0], s->relay_ports_free[1]};
    by_family(o, "xturn_relay_ports", "UDP ports of the relay range, per relayed address family.",
              total, s->relay_family);
    by_family(o, "xturn_relay_ports_free",
              "Relay ports not in use (nor reserved), per relayed address family.", free_ports,
              s->relay_family);
}

/* A field of per-transport counters (an array by transport from base, stride bytes apart) per
 * connection transport (TCP, TLS, and DTLS when dtls): one value, or an array of n labelled
 * label="names[i]". */
static void stream_series(struct out *o, const struct xturn_snapshot *s, const char *name,
                          const char *type, const char *help, bool dtls, const void *base,
                          size_t stride, size_t field, int n, const char *label,
                          const char *const *names)
{
    family(o, name, type, help);
    FOR_TRANSPORT(s, t)
    if (t != TURN_UDP && (dtls || t != TURN_DTLS)) {
        const uint64_t *v = (const uint64_t *)((const char *)base + (size_t)t * stride + field);
        for (int r = 0; r < (names ? n : 1); r++) {
            put(o, "%s{transport=\"%s\"", name, tname(t));
            if (names) {
                put(o, ",%s=\"", label);
                put_name(o, names, r);
                put(o, "\"");
            }
            put(o, "} %llu\n", (unsigned long long)v[r]);
        }
    }
}

/* Client connections: every transport but UDP. TCP allocations: stream clients only. */
#define SC_FIELD(f)  true, s->streams, sizeof(s->streams[0]), offsetof(struct stream_counters, f)
#define TCP_FIELD(f) false, s->turn, sizeof(s->turn[0]), offsetof(struct turn_counters, f)

static void render_streams(struct out *o, const struct xturn_snapshot *s)
{
    stream_series(o, s, "xturn_client_connections", "gauge",
                  "Open client connections by transport.", SC_FIELD(open), 1, NULL, NULL);
    stream_series(o, s, "xturn_client_connections_accepted_total", "counter",
                  "Client connections accepted, by transport.", SC_FIELD(accepted), 1, NULL, NULL);
    stream_series(o, s, "xturn_client_connections_refused_total", "counter",
                  "Client connections closed at once by a limit, by transport and reason.",
                  SC_FIELD(refused), SR_COUNT, "reason", stream_refusal_names);
    stream_series(o, s, "xturn_client_connections_closed_total", "counter",
                  "Client connections closed, by transport and reason.", SC_FIELD(closed), SC_COUNT,
                  "reason", stream_close_names);
    stream_series(o, s, "xturn_client_slow_reader_drops_total", "counter",
                  "Messages not sent to a client connection, by transport: it does not read fast "
                  "enough (TCP, TLS), or its message could not be encrypted (DTLS).",
                  SC_FIELD(slow_reader_drops), 1, NULL, NULL);
}

/* RFC 6062 TCP allocations, by the transport of their clients (TCP or TLS). */
static void render_tcp_allocations(struct out *o, const struct xturn_snapshot *s)
{
    stream_series(o, s, "xturn_tcp_peer_connections", "gauge",
                  "Peer connections of TCP allocations (RFC 6062): connecting, waiting for their "
                  "ConnectionBind or relaying, by client transport.",
                  TCP_FIELD(tcp_peer_conns), 1, NULL, NULL);
    stream_series(o, s, "xturn_tcp_peer_connections_refused_total", "counter",
                  "Connections from peers to TCP allocations' relayed addresses closed as soon as "
                  "accepted, by client transport and reason.",
                  TCP_FIELD(tcp_refused), TTR_COUNT, "reason", tcp_refusal_names);
    stream_series(o, s, "xturn_tcp_peer_bind_timeouts_total", "counter",
                  "Peer connections closed because no ConnectionBind came within 30 s, by client "
                  "transport.",
                  TCP_FIELD(tcp_bind_timeouts), 1, NULL, NULL);
    stream_series(o, s, "xturn_tcp_relayed_bytes_total", "counter",
                  "Bytes relayed between TCP allocations' data and peer connections, by client "
                  "transport and direction.",
                  TCP_FIELD(tcp_relayed_bytes), 2, "direction", direction_names);
}

/* The pass or drop reasons (cls), each labelled by its reason. */
static void xdp_reasons(struct out *o, const struct xturn_snapshot *s, enum xt_stat_class cls,
                        const char *name, bool bytes, const char *help)
{
    family(o, name, "counter", help);
    for (int i = 0; i < XT_STAT_COUNT; i++) {
        if (xdp_stat_class((enum xt_stat)i) != cls)
            continue;
        put(o, "%s{transport=\"udp\",reason=\"%s\"} %llu\n", name, xdp_stat_reason((enum xt_stat)i),
            (unsigned long long)(bytes ? s->xdp_stats[i].bytes : s->xdp_stats[i].packets));
    }
}

static void render_xdp(struct out *o, const struct xturn_snapshot *s)
{
    const struct xt_counter *self = &s->xdp_stats[XT_C2C_SELF];

    single(o, "xturn_xdp_client_to_client_packets_total", "counter",
           "Datagrams relayed by XDP from a client to another client of this relay in one pass "
           "(also counted in both directions of xturn_relayed_packets_total).",
           self->packets);
    single(o, "xturn_xdp_client_to_client_bytes_total", "counter",
           "Payload bytes of xturn_xdp_client_to_client_packets_total.", self->bytes);
    xdp_reasons(o, s, XT_CLASS_PASS, "xturn_xdp_passed_packets_total", false,
                "Packets the XDP program passed to the kernel stack (and so to userspace), by "
                "reason.");
    xdp_reasons(o, s, XT_CLASS_PASS, "xturn_xdp_passed_bytes_total", true,
                "Frame bytes of xturn_xdp_passed_packets_total.");
    xdp_reasons(o, s, XT_CLASS_DROP, "xturn_xdp_dropped_packets_total", false,
                "Packets the XDP program dropped, by reason.");
    xdp_reasons(o, s, XT_CLASS_DROP, "xturn_xdp_dropped_bytes_total", true,
                "Frame bytes of xturn_xdp_dropped_packets_total.");
    single(o, "xturn_xdp_map_bindings", "gauge",
           "Channel bindings mirrored in the XDP maps (each in both directions).", s->xdp_bindings);
    single(o, "xturn_xdp_map_capacity_bindings", "gauge",
           "Entries each XDP binding map holds (--xdp-map-size).", s->xdp_map_capacity);
    single(o, "xturn_xdp_map_full_total", "counter",
           "Channel bindings that did not fit in the XDP maps (relayed in userspace instead).",
           s->xdp_map_full);
    single(o, "xturn_xdp_map_memory_bytes", "gauge",
           "Kernel memory of the XDP binding maps, in bytes.", s->xdp_map_bytes);
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
    render_streams(&o, s);
    render_tcp_allocations(&o, s);
    if (s->xdp)
        render_xdp(&o, s);
    return o.overflow ? -1 : (int)o.len;
}
