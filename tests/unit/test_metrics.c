/* The metrics endpoint: the Prometheus text rendering of a snapshot (exact lines, every line
 * well-formed, one HELP/TYPE per family with its samples together, a too-small buffer), and the
 * HTTP server over a raw socket (/metrics, /healthz in both states, 404, 405, HEAD, IPv6, the
 * per-address connection limit, bind errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "app/config.h"
#include "app/metrics.h"
#include "app/metrics_render.h"
#include "common/log.h"

#define PAGE_CAP (256 * 1024)

/* ---- a snapshot with known values ---- */

static void fill_snapshot(struct xturn_snapshot *s, bool xdp)
{
    memset(s, 0, sizeof(*s));
    s->start_time_unix = 1700000000;
    s->workers = 2;
    s->turn[TURN_UDP].allocations = 3;
    s->turn[TURN_UDP].family[0].relayed_addrs = 2;
    s->turn[TURN_UDP].family[1].relayed_addrs = 2;
    s->turn[TURN_UDP].family[0].permissions = 5;
    s->turn[TURN_UDP].family[1].permissions = 1;
    s->turn[TURN_UDP].family[0].channels = 4;
    s->turn[TURN_UDP].responses[TM_ALLOCATE][turn_code_index(0)] = 10;
    s->turn[TURN_UDP].responses[TM_ALLOCATE][turn_code_index(401)] = 12;
    s->turn[TURN_UDP].responses[TM_BINDING][turn_code_index(0)] = 7;
    s->turn[TURN_UDP].responses[TM_CHANNEL_BIND][turn_code_index(400)] = 1;
    s->turn[TURN_UDP].responses[TM_OTHER][TURN_CODE_COUNT - 1] = 1;
    s->turn[TURN_UDP].auth_failures = 4;
    s->turn[TURN_UDP].unauth_rate_limited = 6;
    s->turn[TURN_UDP].relayed_pkts[TURN_TO_PEER][0][1] = 100;
    s->turn[TURN_UDP].relayed_bytes[TURN_TO_PEER][0][1] = 12000;
    s->turn[TURN_UDP].relayed_pkts[TURN_TO_CLIENT][1][0] = 50;
    s->turn[TURN_UDP].relayed_bytes[TURN_TO_CLIENT][1][0] = 6000;
    s->turn[TURN_UDP].dropped[TD_NO_PERMISSION] = 9;
    s->turn[TURN_UDP].dropped[TD_TOO_BIG] = 1;
    s->transport_on[TURN_UDP] = s->transport_on[TURN_TCP] = true;
    s->turn[TURN_TCP].allocations = 2;
    s->turn[TURN_TCP].family[1].channels = 3;
    s->turn[TURN_TCP].relayed_pkts[TURN_TO_CLIENT][0][0] = 40;
    s->turn[TURN_TCP].dropped[TD_MALFORMED] = 5;
    s->streams[TURN_TCP].open = 7;
    s->streams[TURN_TCP].accepted = 30;
    s->streams[TURN_TCP].refused[SR_MAX_PER_IP] = 4;
    s->streams[TURN_TCP].closed[SC_STUN_LENGTH] = 2;
    s->streams[TURN_TCP].slow_reader_drops = 8;
    s->send_failures = 1;
    s->oversized = 2;
    s->relay_family[0] = true;
    s->relay_ports_total = 16384;
    s->relay_ports_free[0] = 16380;
    if (!xdp)
        return;
    s->xdp = true;
    s->xdp_stats[XT_C2P_46] = (struct xt_counter){7, 700};
    s->xdp_stats[XT_P2C_46] = (struct xt_counter){11, 1100};
    s->xdp_stats[XT_C2P_44] = (struct xt_counter){13, 1300};
    s->xdp_stats[XT_C2C_SELF] = (struct xt_counter){3, 300};
    s->xdp_stats[XT_PASS_STUN] = (struct xt_counter){20, 2000};
    s->xdp_stats[XT_PASS_NO_NEIGH] = (struct xt_counter){4, 400};
    s->xdp_stats[XT_DROP_CD_LENGTH] = (struct xt_counter){2, 128};
    s->xdp_bindings = 5;
    s->xdp_map_capacity = 65536;
    s->xdp_map_full = 1;
    s->xdp_map_bytes = 123456;
}

static char *render(const struct xturn_snapshot *s, int *len)
{
    char *page = malloc(PAGE_CAP);
    assert_non_null(page);
    *len = metrics_render(s, page, PAGE_CAP);
    assert_true(*len > 0);
    assert_int_equal(strlen(page), (size_t)*len);
    return page;
}

/* The page holds exactly this line. */
static bool has_line(const char *page, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = page; (p = strstr(p, line)) != NULL; p++)
        if ((p == page || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

#define assert_line(page, line)                                                                    \
    do {                                                                                           \
        if (!has_line(page, line))                                                                 \
            fail_msg("missing line: %s", line);                                                    \
    } while (0)
#define assert_no_line(page, line)                                                                 \
    do {                                                                                           \
        if (has_line(page, line))                                                                  \
            fail_msg("unexpected line: %s", line);                                                 \
    } while (0)

/* Lines starting with prefix. */
static int count_prefix(const char *page, const char *prefix)
{
    int n = 0;
    size_t plen = strlen(prefix);
    for (const char *p = page; *p;) {
        if (strncmp(p, prefix, plen) == 0)
            n++;
        p = strchr(p, '\n');
        if (!p)
            break;
        p++;
    }
    return n;
}

/* ---- a tiny parser of the text exposition format 0.0.4 ---- */

#define MAX_FAMILIES 128
#define MAX_SERIES   1024

struct parsed {
    char families[MAX_FAMILIES][96];
    char types[MAX_FAMILIES][16];
    int help_count[MAX_FAMILIES], type_count[MAX_FAMILIES], samples[MAX_FAMILIES];
    int nfamilies;
    char *series[MAX_SERIES];
    int nseries;
};

static bool name_char(char c, bool first)
{
    return isalpha((unsigned char)c) || c == '_' || c == ':' ||
           (!first && isdigit((unsigned char)c));
}

/* A metric name at *p (snake_case, as xturn writes them: lower case, digits, '_'); advances. */
static bool parse_name(const char **p, char *out, size_t cap)
{
    size_t n = 0;
    if (!name_char(**p, true))
        return false;
    while (name_char(**p, n == 0)) {
        if (isupper((unsigned char)**p) || n + 1 >= cap)
            return false;
        out[n++] = *(*p)++;
    }
    out[n] = '\0';
    return true;
}

static int family_index(struct parsed *ps, const char *name, bool add)
{
    for (int i = 0; i < ps->nfamilies; i++)
        if (strcmp(ps->families[i], name) == 0)
            return i;
    if (!add || ps->nfamilies == MAX_FAMILIES)
        return -1;
    snprintf(ps->families[ps->nfamilies], sizeof(ps->families[0]), "%s", name);
    return ps->nfamilies++;
}

/* Labels {a="x",b="y"} at *p: names well-formed and not repeated, values with only the escapes
 * \\ \" \n. */
static bool parse_labels(const char **p)
{
    char seen[16][64];
    int nseen = 0;

    if (**p != '{')
        return true;
    (*p)++;
    while (**p != '}') {
        char name[64];
        if (!parse_name(p, name, sizeof(name)) || strchr(name, ':') || nseen == 16)
            return false;
        for (int i = 0; i < nseen; i++)
            if (strcmp(seen[i], name) == 0)
                return false;
        snprintf(seen[nseen++], sizeof(seen[0]), "%s", name);
        if (*(*p)++ != '=' || *(*p)++ != '"')
            return false;
        while (**p != '"') {
            if (**p == '\n' || **p == '\0')
                return false;
            if (**p == '\\') {
                (*p)++;
                if (**p != '\\' && **p != '"' && **p != 'n')
                    return false;
            }
            (*p)++;
        }
        (*p)++;
        if (**p == ',')
            (*p)++;
        else if (**p != '}')
            return false;
    }
    (*p)++;
    return true;
}

/* Checks one line (without its '\n'); current: the family of the last # TYPE. */
static void check_line(struct parsed *ps, const char *line, int *current)
{
    char name[96];
    const char *p = line;

    if (strncmp(p, "# HELP ", 7) == 0 || strncmp(p, "# TYPE ", 7) == 0) {
        bool help = p[2] == 'H';
        int f;
        p += 7;
        if (!parse_name(&p, name, sizeof(name)) || *p++ != ' ' || *p == '\0')
            fail_msg("bad comment line: %s", line);
        f = family_index(ps, name, true);
        assert_true(f >= 0);
        if (help) {
            ps->help_count[f]++;
            /* HELP text: no raw newline (it is one line), backslashes only as \\ or \n */
            for (; *p; p++)
                if (*p == '\\' && p[1] != '\\' && p[1] != 'n')
                    fail_msg("bad escape in HELP: %s", line);
                else if (*p == '\\')
                    p++;
            return;
        }
        if (strcmp(p, "counter") != 0 && strcmp(p, "gauge") != 0)
            fail_msg("unexpected type: %s", line);
        if (ps->help_count[f] != 1 || ps->samples[f] != 0)
            fail_msg("TYPE not right after its HELP, or after samples: %s", line);
        snprintf(ps->types[f], sizeof(ps->types[0]), "%s", p);
        ps->type_count[f]++;
        *current = f;
        return;
    }
    if (line[0] == '#')
        fail_msg("unknown comment: %s", line);
    {
        const char *start = p, *value;
        char *end, key[512];
        double v;
        int f;
        if (!parse_name(&p, name, sizeof(name)))
            fail_msg("bad metric name: %s", line);
        if (strncmp(name, "xturn_", 6) != 0)
            fail_msg("metric without the xturn_ prefix: %s", line);
        if (!parse_labels(&p))
            fail_msg("bad labels: %s", line);
        if (*p++ != ' ')
            fail_msg("no value: %s", line);
        value = p;
        errno = 0;
        v = strtod(value, &end);
        if (end == value || *end != '\0' || errno)
            fail_msg("bad value (or a timestamp): %s", line);
        f = family_index(ps, name, false);
        if (f < 0 || f != *current)
            fail_msg("sample not right after its family's HELP/TYPE: %s", line);
        if (strcmp(ps->types[f], "counter") == 0) {
            size_t n = strlen(name);
            if (n < 6 || strcmp(name + n - 6, "_total") != 0)
                fail_msg("counter not named *_total: %s", line);
            if (v < 0)
                fail_msg("negative counter: %s", line);
        } else if (strlen(name) > 6 && strcmp(name + strlen(name) - 6, "_total") == 0) {
            fail_msg("gauge named *_total: %s", line);
        }
        ps->samples[f]++;
        snprintf(key, sizeof(key), "%.*s", (int)(value - 1 - start), start);
        for (int i = 0; i < ps->nseries; i++)
            if (strcmp(ps->series[i], key) == 0)
                fail_msg("series twice: %s", key);
        assert_true(ps->nseries < MAX_SERIES);
        ps->series[ps->nseries++] = strdup(key);
    }
}

/* Parses a whole page; fails the test on anything malformed. Returns the families found. */
static int check_exposition(const char *page)
{
    struct parsed *ps = calloc(1, sizeof(*ps));
    int current = -1, n;
    const char *p = page;

    assert_non_null(ps);
    assert_true(strlen(page) > 0);
    assert_int_equal(page[strlen(page) - 1], '\n');
    while (*p) {
        const char *nl = strchr(p, '\n');
        char line[1024];
        assert_non_null(nl);
        assert_true((size_t)(nl - p) < sizeof(line));
        if (nl == p)
            fail_msg("empty line");
        memcpy(line, p, (size_t)(nl - p));
        line[nl - p] = '\0';
        for (const char *c = line; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
                fail_msg("control or non-ASCII character in: %s", line);
        check_line(ps, line, &current);
        p = nl + 1;
    }
    for (int f = 0; f < ps->nfamilies; f++) {
        if (ps->help_count[f] != 1 || ps->type_count[f] != 1)
            fail_msg("family %s: %d HELP and %d TYPE lines", ps->families[f], ps->help_count[f],
                     ps->type_count[f]);
    }
    n = ps->nfamilies;
    for (int i = 0; i < ps->nseries; i++)
        free(ps->series[i]);
    free(ps);
    return n;
}

/* ---- rendering ---- */

static void test_render_values(void **state)
{
    struct xturn_snapshot s;
    int len;
    char *page;
    (void)state;

    fill_snapshot(&s, true);
    page = render(&s, &len);
    check_exposition(page);
    assert_line(page, "# HELP xturn_build_info Always 1; the version of the running xturn.");
    assert_line(page, "# TYPE xturn_build_info gauge");
    assert_line(page, "xturn_build_info{version=\"" XTURN_VERSION "\"} 1");
    assert_line(page, "# TYPE xturn_process_start_time_seconds gauge");
    assert_line(page, "xturn_process_start_time_seconds 1700000000");
    assert_line(page, "xturn_workers 2");
    assert_line(page, "xturn_draining 0");
    assert_line(page, "xturn_allocations{transport=\"udp\"} 3");
    assert_line(page, "xturn_allocations{transport=\"tcp\"} 2");
    assert_int_equal(count_prefix(page, "xturn_allocations{"), 2); /* neither tls nor dtls */
    assert_line(page, "xturn_relayed_addresses{transport=\"udp\",family=\"ipv4\"} 2");
    assert_line(page, "xturn_relayed_addresses{transport=\"udp\",family=\"ipv6\"} 2");
    assert_line(page, "xturn_permissions{transport=\"udp\",family=\"ipv4\"} 5");
    assert_line(page, "xturn_permissions{transport=\"udp\",family=\"ipv6\"} 1");
    assert_line(page, "xturn_channels{transport=\"udp\",family=\"ipv4\"} 4");
    assert_line(page, "xturn_channels{transport=\"udp\",family=\"ipv6\"} 0");
    assert_line(page, "xturn_channels{transport=\"tcp\",family=\"ipv6\"} 3");

    /* responses: a success row for every method, error rows once non-zero */
    assert_line(page, "# TYPE xturn_responses_total counter");
    assert_line(page,
                "xturn_responses_total{transport=\"udp\",method=\"allocate\",code=\"success\"} 10");
    assert_line(page,
                "xturn_responses_total{transport=\"udp\",method=\"allocate\",code=\"401\"} 12");
    assert_line(page,
                "xturn_responses_total{transport=\"udp\",method=\"binding\",code=\"success\"} 7");
    assert_line(page,
                "xturn_responses_total{transport=\"udp\",method=\"refresh\",code=\"success\"} 0");
    assert_line(
        page,
        "xturn_responses_total{transport=\"udp\",method=\"create_permission\",code=\"success\"} 0");
    assert_line(
        page,
        "xturn_responses_total{transport=\"udp\",method=\"channel_bind\",code=\"success\"} 0");
    assert_line(page,
                "xturn_responses_total{transport=\"udp\",method=\"channel_bind\",code=\"400\"} 1");
    assert_line(page,
                "xturn_responses_total{transport=\"udp\",method=\"other\",code=\"success\"} 0");
    assert_line(page, "xturn_responses_total{transport=\"udp\",method=\"other\",code=\"other\"} 1");
    assert_no_line(page,
                   "xturn_responses_total{transport=\"udp\",method=\"refresh\",code=\"401\"} 0");
    assert_int_equal(count_prefix(page, "xturn_responses_total{"), 2 * TM_COUNT + 3);
    assert_line(page, "xturn_authentication_failures_total{transport=\"udp\"} 4");
    assert_line(page, "xturn_unauthenticated_responses_suppressed_total{transport=\"udp\"} 6");

    /* relayed, userspace: [direction][client family][peer family] */
    assert_line(page, "# TYPE xturn_relayed_packets_total counter");
    assert_line(
        page,
        "xturn_relayed_packets_total{path=\"userspace\",transport=\"udp\",direction=\"to_peer\","
        "client_family=\"ipv4\",peer_family=\"ipv6\"} 100");
    assert_line(
        page,
        "xturn_relayed_bytes_total{path=\"userspace\",transport=\"udp\",direction=\"to_peer\","
        "client_family=\"ipv4\",peer_family=\"ipv6\"} 12000");
    assert_line(
        page,
        "xturn_relayed_packets_total{path=\"userspace\",transport=\"udp\",direction=\"to_client\","
        "client_family=\"ipv6\",peer_family=\"ipv4\"} 50");
    assert_line(
        page,
        "xturn_relayed_packets_total{path=\"userspace\",transport=\"udp\",direction=\"to_client\","
        "client_family=\"ipv4\",peer_family=\"ipv6\"} 0");
    /* relayed, XDP: c2p_46 is client IPv4 to peer IPv6; p2c_46 is peer IPv4 to client IPv6 */
    assert_line(page,
                "xturn_relayed_packets_total{path=\"xdp\",transport=\"udp\",direction=\"to_peer\","
                "client_family=\"ipv4\",peer_family=\"ipv6\"} 7");
    assert_line(page,
                "xturn_relayed_bytes_total{path=\"xdp\",transport=\"udp\",direction=\"to_peer\","
                "client_family=\"ipv4\",peer_family=\"ipv6\"} 700");
    assert_line(
        page, "xturn_relayed_packets_total{path=\"xdp\",transport=\"udp\",direction=\"to_client\","
              "client_family=\"ipv6\",peer_family=\"ipv4\"} 11");
    assert_line(
        page, "xturn_relayed_packets_total{path=\"xdp\",transport=\"udp\",direction=\"to_client\","
              "client_family=\"ipv4\",peer_family=\"ipv6\"} 0");
    assert_line(page,
                "xturn_relayed_packets_total{path=\"xdp\",transport=\"udp\",direction=\"to_peer\","
                "client_family=\"ipv4\",peer_family=\"ipv4\"} 13");
    assert_line(page, "xturn_relayed_packets_total{path=\"userspace\",transport=\"tcp\","
                      "direction=\"to_client\",client_family=\"ipv4\",peer_family=\"ipv4\"} 40");
    /* userspace: udp and tcp; XDP: udp only */
    assert_int_equal(count_prefix(page, "xturn_relayed_packets_total{"), 24);
    assert_int_equal(count_prefix(page, "xturn_relayed_bytes_total{"), 24);
    assert_line(page, "xturn_xdp_client_to_client_packets_total 3");
    assert_line(page, "xturn_xdp_client_to_client_bytes_total 300");

    assert_line(page, "xturn_dropped_packets_total{path=\"userspace\",transport=\"udp\",reason="
                      "\"no_permission\"} 9");
    assert_line(
        page,
        "xturn_dropped_packets_total{path=\"userspace\",transport=\"udp\",reason=\"too_big\"} 1");
    assert_line(
        page,
        "xturn_dropped_packets_total{path=\"userspace\",transport=\"udp\",reason=\"not_turn\"} 0");
    assert_line(page, "xturn_dropped_packets_total{path=\"userspace\",transport=\"tcp\","
                      "reason=\"malformed\"} 5");
    assert_int_equal(count_prefix(page, "xturn_dropped_packets_total{"), 2 * TD_COUNT);

    /* stream connections: tcp only, never udp */
    assert_line(page, "xturn_client_connections{transport=\"tcp\"} 7");
    assert_line(page, "xturn_client_connections_accepted_total{transport=\"tcp\"} 30");
    assert_line(page, "xturn_client_connections_refused_total{transport=\"tcp\","
                      "reason=\"max_per_ip\"} 4");
    assert_line(page, "xturn_client_connections_closed_total{transport=\"tcp\","
                      "reason=\"stun_length\"} 2");
    assert_line(page, "xturn_client_slow_reader_drops_total{transport=\"tcp\"} 8");
    assert_int_equal(count_prefix(page, "xturn_client_connections{"), 1);
    assert_int_equal(count_prefix(page, "xturn_client_connections_closed_total{"), SC_COUNT);
    assert_line(page, "xturn_send_failures_total 1");
    assert_line(page, "xturn_oversized_datagrams_total 2");
    assert_line(page, "xturn_relay_ports{family=\"ipv4\"} 16384");
    assert_line(page, "xturn_relay_ports_free{family=\"ipv4\"} 16380");
    assert_int_equal(count_prefix(page, "xturn_relay_ports{family=\"ipv6\"}"), 0);
    assert_int_equal(count_prefix(page, "xturn_relay_ports_free{family=\"ipv6\"}"), 0);

    /* every XDP pass and drop reason, prefix stripped */
    assert_line(page, "# TYPE xturn_xdp_passed_packets_total counter");
    assert_line(page, "xturn_xdp_passed_packets_total{transport=\"udp\",reason=\"stun\"} 20");
    assert_line(page, "xturn_xdp_passed_bytes_total{transport=\"udp\",reason=\"stun\"} 2000");
    assert_line(page, "xturn_xdp_passed_packets_total{transport=\"udp\",reason=\"no_neigh\"} 4");
    assert_line(page, "xturn_xdp_passed_packets_total{transport=\"udp\",reason=\"not_ip\"} 0");
    assert_line(page, "xturn_xdp_passed_packets_total{transport=\"udp\",reason=\"bad_csum\"} 0");
    assert_int_equal(count_prefix(page, "xturn_xdp_passed_packets_total{"),
                     XT_DROP_CD_LENGTH - XT_PASS_NOT_IP);
    assert_line(page, "xturn_xdp_dropped_packets_total{transport=\"udp\",reason=\"cd_length\"} 2");
    assert_line(page, "xturn_xdp_dropped_bytes_total{transport=\"udp\",reason=\"cd_length\"} 128");
    assert_line(page, "xturn_xdp_dropped_packets_total{transport=\"udp\",reason=\"adjust\"} 0");
    assert_int_equal(count_prefix(page, "xturn_xdp_dropped_packets_total{"),
                     XT_STAT_COUNT - XT_DROP_CD_LENGTH);
    assert_line(page, "xturn_xdp_map_bindings 5");
    assert_line(page, "xturn_xdp_map_capacity_bindings 65536");
    assert_line(page, "xturn_xdp_map_full_total 1");
    assert_line(page, "xturn_xdp_map_memory_bytes 123456");
    free(page);
}

static void test_render_without_xdp(void **state)
{
    struct xturn_snapshot s;
    int len;
    char *page;
    (void)state;

    fill_snapshot(&s, false);
    s.draining = true;
    s.relay_family[1] = true;
    s.relay_ports_free[1] = 16000;
    page = render(&s, &len);
    check_exposition(page);
    assert_null(strstr(page, "xturn_xdp_"));
    assert_null(strstr(page, "path=\"xdp\""));
    assert_int_equal(count_prefix(page, "xturn_relayed_packets_total{"), 16);
    assert_line(page, "xturn_draining 1");
    assert_line(page, "xturn_relay_ports{family=\"ipv6\"} 16384");
    assert_line(page, "xturn_relay_ports_free{family=\"ipv6\"} 16000");
    free(page);
}

static void test_render_zero_and_max(void **state)
{
    struct xturn_snapshot s;
    int len;
    char *page;
    (void)state;

    memset(&s, 0, sizeof(s));
    page = render(&s, &len);
    check_exposition(page);
    free(page);
    /* the largest counters still print as integers */
    memset(&s, 0xff, sizeof(s));
    s.xdp = true;
    s.draining = true;
    s.relay_family[0] = s.relay_family[1] = true;
    for (int t = 0; t < TURN_TRANSPORT_COUNT; t++)
        s.transport_on[t] = true;
    s.start_time_unix = 1700000000;
    page = render(&s, &len);
    check_exposition(page);
    assert_line(page, "xturn_allocations{transport=\"dtls\"} 18446744073709551615");
    assert_null(strstr(page, "unnamed_")); /* every method and drop reason has its label */
    assert_int_equal(count_prefix(page, "xturn_responses_total{"),
                     TURN_TRANSPORT_COUNT * TM_COUNT * TURN_CODE_COUNT);
    free(page);
}

static void test_render_too_small(void **state)
{
    struct xturn_snapshot s;
    int len;
    char *page, *small;
    (void)state;

    fill_snapshot(&s, true);
    page = render(&s, &len);
    small = malloc((size_t)len + 1);
    assert_non_null(small);
    /* exactly enough (with the NUL), then one byte short, then much less */
    assert_int_equal(metrics_render(&s, small, (size_t)len + 1), len);
    assert_memory_equal(small, page, (size_t)len + 1);
    assert_int_equal(metrics_render(&s, small, (size_t)len), -1);
    assert_int_equal(metrics_render(&s, small, (size_t)len / 2), -1);
    assert_int_equal(metrics_render(&s, small, 1), -1);
    assert_int_equal(metrics_render(&s, small, 0), -1);
    free(small);
    free(page);
}

/* ---- the HTTP server ---- */

struct fake {
    struct xturn_snapshot s;
    atomic_bool draining;
    atomic_int calls;
};

static void fake_snapshot(void *ctx, struct xturn_snapshot *out)
{
    struct fake *f = ctx;
    *out = f->s;
    out->draining = atomic_load(&f->draining);
    atomic_fetch_add(&f->calls, 1);
}

struct reply {
    int status;
    char headers[2048];
    char *body;
    size_t body_len;
};

static int connect_to(int family, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        a->sin6_addr = in6addr_loopback;
        sl = sizeof(*a);
    }
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&ss, sl), 0);
    return fd;
}

/* Sends a raw request, reads the reply until the server closes, splits it. */
static void http(int family, uint16_t port, const char *request, struct reply *r)
{
    int fd = connect_to(family, port);
    size_t len = 0, cap = 4096;
    char *raw = malloc(cap), *sep;

    assert_non_null(raw);
    assert_int_equal(send(fd, request, strlen(request), MSG_NOSIGNAL), (ssize_t)strlen(request));
    for (;;) {
        ssize_t n;
        if (len + 1 == cap) {
            cap *= 2;
            raw = realloc(raw, cap);
            assert_non_null(raw);
        }
        n = recv(fd, raw + len, cap - len - 1, 0);
        assert_true(n >= 0); /* not a timeout */
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    raw[len] = '\0';
    sep = strstr(raw, "\r\n\r\n");
    assert_non_null(sep);
    assert_true((size_t)(sep - raw) < sizeof(r->headers));
    memcpy(r->headers, raw, (size_t)(sep - raw) + 2);
    r->headers[sep - raw + 2] = '\0';
    assert_int_equal(sscanf(raw, "HTTP/1.%*d %d ", &r->status), 1);
    r->body_len = len - (size_t)(sep + 4 - raw);
    r->body = malloc(r->body_len + 1);
    assert_non_null(r->body);
    memcpy(r->body, sep + 4, r->body_len);
    r->body[r->body_len] = '\0';
    free(raw);
}

/* The header's value (case-insensitive name), or NULL. Points into r->headers. */
static const char *header(struct reply *r, const char *name)
{
    static char value[256];
    size_t n = strlen(name);
    for (const char *p = strstr(r->headers, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *l = p + 2, *e = strstr(l, "\r\n");
        if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
            l += n + 1;
            while (*l == ' ')
                l++;
            snprintf(value, sizeof(value), "%.*s", (int)(e - l), l);
            return value;
        }
    }
    return NULL;
}

/* ip: a bare IP literal; port 0: any free one. */
static struct metrics *start_on(const char *ip, uint16_t port, struct fake *f, char *err,
                                size_t errlen)
{
    struct xt_addr a;
    assert_int_equal(xt_addr_parse_ip(ip, &a), 0);
    a.port = port;
    err[0] = '\0';
    return metrics_start(&a, fake_snapshot, f, err, errlen);
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"

static void test_server(void **state)
{
    struct fake f;
    struct metrics *m;
    struct reply r;
    char err[256], *page;
    int len;
    uint16_t port;
    (void)state;

    memset(&f, 0, sizeof(f));
    fill_snapshot(&f.s, true);
    m = start_on("127.0.0.1", 0, &f, err, sizeof(err));
    if (!m)
        fail_msg("metrics_start: %s", err);
    port = metrics_port(m);
    assert_true(port != 0);

    http(AF_INET, port, GET("/metrics"), &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    page = render(&f.s, &len);
    assert_int_equal(r.body_len, (size_t)len);
    assert_string_equal(r.body, page);
    check_exposition(r.body);
    free(page);
    free(r.body);

    /* a query string does not change the path */
    http(AF_INET, port, GET("/metrics?x=1"), &r);
    assert_int_equal(r.status, 200);
    free(r.body);

    http(AF_INET, port, GET("/healthz"), &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    free(r.body);
    atomic_store(&f.draining, true);
    http(AF_INET, port, GET("/healthz"), &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "draining\n");
    free(r.body);
    http(AF_INET, port, GET("/metrics"), &r); /* metrics still served while draining */
    assert_int_equal(r.status, 200);
    assert_true(has_line(r.body, "xturn_draining 1"));
    free(r.body);
    atomic_store(&f.draining, false);
    http(AF_INET, port, GET("/healthz"), &r);
    assert_int_equal(r.status, 200);
    free(r.body);

    http(AF_INET, port, GET("/nope"), &r);
    assert_int_equal(r.status, 404);
    free(r.body);
    http(AF_INET, port, GET("/metrics/"), &r);
    assert_int_equal(r.status, 404);
    free(r.body);

    http(AF_INET, port,
         "POST /metrics HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
         "hello",
         &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(header(&r, "Allow"), "GET, HEAD");
    free(r.body);
    http(AF_INET, port, "DELETE /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", &r);
    assert_int_equal(r.status, 405);
    free(r.body);

    http(AF_INET, port, "HEAD /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    free(r.body);

    /* HTTP/1.0 without Host */
    http(AF_INET, port, "GET /healthz HTTP/1.0\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    free(r.body);

    metrics_stop(m);
}

/* Reads one response of a kept-alive connection: headers, then Content-Length bytes. Returns
 * the status; the body (NUL-terminated) in body. */
static int read_one(int fd, char *body, size_t cap)
{
    char head[2048], *cl;
    size_t len = 0, blen, have;
    int status = 0;

    for (;;) {
        ssize_t n;
        assert_true(len < sizeof(head) - 1);
        n = recv(fd, head + len, 1, 0); /* byte by byte: nothing of the body is consumed */
        assert_int_equal(n, 1);
        len++;
        head[len] = '\0';
        if (len >= 4 && memcmp(head + len - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    assert_int_equal(sscanf(head, "HTTP/1.1 %d ", &status), 1);
    cl = strcasestr(head, "\r\nContent-Length:");
    assert_non_null(cl);
    blen = strtoul(cl + 17, NULL, 10);
    assert_true(blen < cap);
    for (have = 0; have < blen;) {
        ssize_t n = recv(fd, body + have, blen - have, 0);
        assert_true(n > 0);
        have += (size_t)n;
    }
    body[blen] = '\0';
    return status;
}

/* Scrapers keep the connection: several requests on one, a GET body discarded. */
static void test_server_keep_alive(void **state)
{
    struct fake f;
    struct metrics *m;
    char err[256], *body = malloc(PAGE_CAP);
    const char *req = "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";
    const char *with_body = "GET /healthz HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\n\r\nabcd";
    const char *metrics = "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n";
    int fd;
    (void)state;

    assert_non_null(body);
    memset(&f, 0, sizeof(f));
    fill_snapshot(&f.s, true);
    m = start_on("127.0.0.1", 0, &f, err, sizeof(err));
    if (!m)
        fail_msg("metrics_start: %s", err);
    fd = connect_to(AF_INET, metrics_port(m));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
        assert_int_equal(read_one(fd, body, PAGE_CAP), 200);
        assert_string_equal(body, "ok\n");
    }
    assert_int_equal(send(fd, with_body, strlen(with_body), MSG_NOSIGNAL),
                     (ssize_t)strlen(with_body));
    assert_int_equal(read_one(fd, body, PAGE_CAP), 200);
    assert_string_equal(body, "ok\n");
    assert_int_equal(send(fd, metrics, strlen(metrics), MSG_NOSIGNAL), (ssize_t)strlen(metrics));
    assert_int_equal(read_one(fd, body, PAGE_CAP), 200);
    check_exposition(body);
    close(fd);
    free(body);
    metrics_stop(m);
}

/* One address cannot hold more than its share of connections; the rest still get served. */
static void test_server_per_address_limit(void **state)
{
    struct fake f;
    struct metrics *m;
    struct reply r;
    char err[256], c;
    int fds[8], extra;
    struct pollfd pfd;
    (void)state;

    memset(&f, 0, sizeof(f));
    m = start_on("127.0.0.1", 0, &f, err, sizeof(err));
    if (!m)
        fail_msg("metrics_start: %s", err);
    for (int i = 0; i < 8; i++)
        fds[i] = connect_to(AF_INET, metrics_port(m));
    extra = connect_to(AF_INET, metrics_port(m));
    /* the ninth is accepted by the kernel, then closed by the server at once */
    pfd = (struct pollfd){.fd = extra, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    assert_true(recv(extra, &c, 1, 0) <= 0);
    close(extra);
    for (int i = 0; i < 8; i++)
        close(fds[i]);
    /* the server notices the closed connections on its next round */
    for (int i = 0; i < 50; i++) {
        int fd = connect_to(AF_INET, metrics_port(m));
        pfd = (struct pollfd){.fd = fd, .events = POLLIN};
        send(fd, GET("/healthz"), strlen(GET("/healthz")), MSG_NOSIGNAL);
        if (poll(&pfd, 1, 2000) == 1 && recv(fd, &c, 1, MSG_PEEK) == 1) {
            close(fd);
            break;
        }
        close(fd);
        usleep(20000);
    }
    http(AF_INET, metrics_port(m), GET("/healthz"), &r);
    assert_int_equal(r.status, 200);
    free(r.body);
    metrics_stop(m);
}

static bool ipv6_loopback_usable(void)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;
    if (fd < 0)
        return false;
    ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static void test_server_ipv6(void **state)
{
    struct fake f;
    struct metrics *m;
    struct reply r;
    char err[256];
    int fd;
    struct sockaddr_in a = {.sin_family = AF_INET};
    (void)state;

    if (!ipv6_loopback_usable())
        skip();
    memset(&f, 0, sizeof(f));
    m = start_on("::1", 0, &f, err, sizeof(err));
    if (!m)
        fail_msg("metrics_start: %s", err);
    http(AF_INET6, metrics_port(m), GET("/healthz"), &r);
    assert_int_equal(r.status, 200);
    free(r.body);
    /* bound to exactly [::1]: nothing listens on 127.0.0.1 at that port */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_port = htons(metrics_port(m));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(fd);
    metrics_stop(m);
}

static void test_server_bind_errors(void **state)
{
    struct fake f;
    struct metrics *m, *m2;
    struct xt_addr none;
    char err[256], want[64];
    (void)state;

    memset(&f, 0, sizeof(f));
    m = start_on("127.0.0.1", 0, &f, err, sizeof(err));
    assert_non_null(m);
    m2 = start_on("127.0.0.1", metrics_port(m), &f, err, sizeof(err));
    assert_null(m2);
    snprintf(want, sizeof(want), "cannot serve metrics on 127.0.0.1:%u: ", metrics_port(m));
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, "in use"))
        fail_msg("unexpected error: %s", err);
    metrics_stop(m);

    /* an address this host does not have */
    assert_null(start_on("192.0.2.1", 9641, &f, err, sizeof(err)));
    if (!strstr(err, "192.0.2.1:9641") || !strstr(err, "assign"))
        fail_msg("unexpected error: %s", err);

    memset(&none, 0, sizeof(none));
    assert_null(metrics_start(&none, fake_snapshot, &f, err, sizeof(err)));
    assert_true(err[0] != '\0');
    metrics_stop(NULL);
}

static int quiet(void **state)
{
    (void)state;
    log_setup(LOG_ERROR, LOG_JSON);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_values),
        cmocka_unit_test(test_render_without_xdp),
        cmocka_unit_test(test_render_zero_and_max),
        cmocka_unit_test(test_render_too_small),
        cmocka_unit_test(test_server),
        cmocka_unit_test(test_server_keep_alive),
        cmocka_unit_test(test_server_per_address_limit),
        cmocka_unit_test(test_server_ipv6),
        cmocka_unit_test(test_server_bind_errors),
    };
    return cmocka_run_group_tests(tests, quiet, NULL);
}
