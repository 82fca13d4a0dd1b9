/* The program's requests for next hops, answered one by one as they are read
 * (nexthop_resolver.h). */
#include "app/nexthop_resolver.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/container_of.h"
#include "common/log.h"
#include "net/event_loop.h"
#include "net/route_query.h"
#include "xdp/xdp_abi.h"
#include "xdp/xdp_nexthop.h"

/* Log lines about next hops XDP cannot use, or lookups that failed: the first ones, then one in
 * this many (each binding with traffic asks again at every generation, about once a second). */
#define FIRST_LOGS 10
#define LOG_EVERY  1000

struct nexthop_resolver {
    struct xdp_prog *prog;
    struct ev_loop *loop;
    struct ev_handler watch;
    struct xdp_nh_requests *requests;
    struct route_query query;
    uint32_t gen; /* of the last answer: the interfaces the query remembers are of it */
    uint64_t unusable, failed;
};

static bool worth_logging(uint64_t count)
{
    return count <= FIRST_LOGS || count % LOG_EVERY == 0;
}

/* A datagram XDP cannot send without forwarding either: where to, and why. */
static void note_unusable(struct nexthop_resolver *r, const struct xdp_abi_nh_request *req,
                          const char *why)
{
    char src[XT_ADDR_STRLEN], dst[XT_ADDR_STRLEN];

    if (!worth_logging(++r->unusable))
        return;
    xt_log(LOG_INFO, "xdp next hop not usable: the binding is relayed in userspace", "source",
           xt_addr_str(&req->src, src), "destination", xt_addr_str(&req->dst, dst), "reason", why,
           XT_NUM("count", r->unusable), NULL);
}

/* A request left unanswered (req: which one, or NULL): its binding's packets go up until the
 * next generation asks again. */
static void note_failure(struct nexthop_resolver *r, const char *what,
                         const struct xdp_abi_nh_request *req, int rc)
{
    char dst[XT_ADDR_STRLEN];

    /* without req, its key NULL ends the fields */
    if (worth_logging(++r->failed))
        xt_log(LOG_WARN, what, "error", strerror(-rc), XT_NUM("count", r->failed),
               req ? "destination" : NULL, req ? xt_addr_str(&req->dst, dst) : NULL, NULL);
}

static void answer(void *ctx, const struct xdp_abi_nh_request *req)
{
    struct nexthop_resolver *r = ctx;
    /* read before the lookups: a change after them makes the answer stale, never the reverse */
    uint32_t gen = xdp_prog_route_gen(r->prog);
    struct xdp_abi_hop a = {0};
    struct route_hop hop;
    struct xt_nexthop nh;
    int rc;

    if (gen != r->gen) {
        route_query_forget(&r->query);
        r->gen = gen;
    }
    rc = route_query_hop(&r->query, &req->src, &req->dst, req->tos, &hop);
    switch (rc) {
    case ROUTE_HOP_OK:
        a.ifindex = hop.ifindex;
        memcpy(a.dmac, hop.dmac, 6);
        memcpy(a.smac, hop.smac, 6);
        a.mtu = hop.mtu;
        a.tx_port = xdp_prog_drives(r->prog, hop.ifindex);
        break;
    case ROUTE_HOP_NO_NEIGH:
        /* until the neighbour's resolution changes the generation */
        a.pass = XT_PASS_NO_NEIGH;
        break;
    case ROUTE_HOP_UNUSABLE:
        a.pass = XT_PASS_FIB;
        note_unusable(r, req, hop.why);
        break;
    default:
        note_failure(r, "xdp next hops: the route lookup failed (rtnetlink)", req, rc);
        return;
    }
    nh = xdp_abi_nexthop(&a, gen);
    rc = xdp_prog_answer_nexthop(r->prog, req, &nh);
    if (rc < 0)
        note_failure(r, "xdp next hops: writing a next hop failed", req, rc);
}

static void on_requests(struct ev_handler *h, uint32_t events)
{
    struct nexthop_resolver *r = container_of(h, struct nexthop_resolver, watch);
    int rc = xdp_nh_requests_read(r->requests);

    (void)events;
    if (rc < 0)
        note_failure(r, "xdp next hops: reading the program's requests failed", NULL, rc);
}

struct nexthop_resolver *nexthop_resolver_new(struct xdp_prog *prog, struct ev_loop *loop,
                                              char *err, size_t errlen)
{
    struct nexthop_resolver *r = calloc(1, sizeof(*r));
    int rc;

    if (!r) {
        snprintf(err, errlen, "xdp: out of memory");
        return NULL;
    }
    r->prog = prog;
    r->loop = loop;
    r->query.fd = -1;
    r->watch.fd = -1;
    rc = route_query_open(&r->query);
    if (rc == 0) {
        r->requests = xdp_nh_requests_open(prog, answer, r);
        rc = r->requests ? 0 : -errno;
    }
    if (rc == 0) {
        r->watch.fd = xdp_nh_requests_fd(r->requests);
        r->watch.cb = on_requests;
        rc = ev_add(loop, &r->watch);
    }
    if (rc != 0) {
        snprintf(err, errlen, "xdp: cannot resolve next hops from userspace: %s", strerror(-rc));
        r->watch.fd = -1;
        nexthop_resolver_free(r);
        return NULL;
    }
    return r;
}

void nexthop_resolver_free(struct nexthop_resolver *r)
{
    if (!r)
        return;
    if (r->watch.fd >= 0)
        ev_del(r->loop, &r->watch);
    xdp_nh_requests_close(r->requests);
    if (r->query.fd >= 0)
        route_query_close(&r->query);
    free(r);
}
