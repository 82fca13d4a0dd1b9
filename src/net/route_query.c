/* Route, neighbour and link queries over rtnetlink (route_query.h): one request, one answer, on a
 * blocking socket of its own. The kernel answers a request within the sendmsg that carries it,
 * so a query takes microseconds. */
#include "net/route_query.h"

#include <errno.h>
#include <linux/if_arp.h>
#include <linux/ipv6.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/log.h"

/* A link's answer with its IPv6 settings is a few KiB. */
#define QUERY_BUF (32 * 1024)

/* The kernel's NUD_VALID: states in which a neighbour's address is used. */
#define NEIGH_USABLE (NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY)

struct request {
    struct nlmsghdr h;
    union {
        struct rtmsg rt;
        struct ndmsg nd;
        struct ifinfomsg ifi;
    } m;
    char attrs[128];
};

static void request_init(struct request *r, uint16_t type, uint16_t flags, size_t msg_len)
{
    memset(r, 0, sizeof(*r));
    r->h.nlmsg_len = NLMSG_LENGTH(msg_len);
    r->h.nlmsg_type = type;
    r->h.nlmsg_flags = NLM_F_REQUEST | flags;
}

/* Every request here fits attrs: a few addresses and numbers. */
static void add_attr(struct request *r, uint16_t type, const void *data, size_t len)
{
    /* from r, not &r->h: the attributes are past the header (h is r's first member) */
    struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));

    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(a), data, len);
    r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

int route_query_open(struct route_query *q)
{
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    /* A bound on a wait that does not happen (the kernel answers at once). */
    struct timeval tv = {.tv_sec = 1};
    int rc = 0;

    memset(q, 0, sizeof(*q));
    q->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    q->buf = malloc(QUERY_BUF);
    if (q->fd < 0 || !q->buf)
        rc = q->fd < 0 ? -errno : -ENOMEM;
    else if (bind(q->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
             setsockopt(q->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
        rc = -errno;
    if (rc)
        route_query_close(q);
    return rc;
}

void route_query_close(struct route_query *q)
{
    if (q->fd >= 0)
        close(q->fd);
    free(q->buf);
    q->fd = -1;
    q->buf = NULL;
}

/* Sends r and waits for its answer: 1 with *reply pointing at it, 0 for an acknowledgement, or
 * the kernel's -errno. Answers to earlier requests (one that timed out) are skipped. */
static int transact(struct route_query *q, struct request *r, struct nlmsghdr **reply)
{
    r->h.nlmsg_seq = ++q->seq;
    if (send(q->fd, r, r->h.nlmsg_len, 0) < 0)
        return -errno;
    for (;;) {
        ssize_t n = recv(q->fd, q->buf, QUERY_BUF, MSG_TRUNC);
        int len = (int)n;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? -ETIMEDOUT : -errno;
        if (n > QUERY_BUF)
            return -EMSGSIZE;
        for (struct nlmsghdr *h = (void *)q->buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_seq != q->seq)
                continue;
            if (h->nlmsg_type == NLMSG_ERROR)
                return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
            *reply = h;
            return 1;
        }
    }
}

/* ---- the route ---- */

struct route {
    uint32_t oif;
    int gw_family; /* 0: the destination is on link */
    uint8_t gw[16];
    uint32_t mtu; /* 0: none on the route */
};

static void route_metrics(struct route *rt, struct rtattr *nest)
{
    int len = (int)RTA_PAYLOAD(nest);

    for (struct rtattr *a = RTA_DATA(nest); RTA_OK(a, len); a = RTA_NEXT(a, len))
        if (a->rta_type == RTAX_MTU && RTA_PAYLOAD(a) >= 4)
            memcpy(&rt->mtu, RTA_DATA(a), 4);
}

/* Parses a route answer; ROUTE_HOP_OK, or ROUTE_HOP_UNUSABLE with why. */
static int route_parse(struct nlmsghdr *h, size_t alen, struct route *rt, const char **why)
{
    struct rtmsg *m = NLMSG_DATA(h);
    int len = (int)RTM_PAYLOAD(h);

    if (m->rtm_type == RTN_LOCAL) {
        *why = "the destination is this host";
        return ROUTE_HOP_UNUSABLE;
    }
    if (m->rtm_type != RTN_UNICAST) {
        *why = "not a unicast route";
        return ROUTE_HOP_UNUSABLE;
    }
    for (struct rtattr *a = RTM_RTA(m); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        size_t n = RTA_PAYLOAD(a);

        if (a->rta_type == RTA_OIF && n >= 4) {
            memcpy(&rt->oif, RTA_DATA(a), 4);
        } else if (a->rta_type == RTA_GATEWAY && n == alen) {
            rt->gw_family = m->rtm_family;
            memcpy(rt->gw, RTA_DATA(a), alen);
        } else if (a->rta_type == RTA_VIA && n >= sizeof(struct rtvia)) {
            /* an IPv4 route through an IPv6 gateway (RFC 5549) */
            struct rtvia *v = RTA_DATA(a);
            size_t vlen = n - sizeof(*v);

            if (v->rtvia_family != AF_INET6 || vlen != 16) {
                *why = "a gateway of an unknown family";
                return ROUTE_HOP_UNUSABLE;
            }
            rt->gw_family = AF_INET6;
            memcpy(rt->gw, v->rtvia_addr, 16);
        } else if (a->rta_type == RTA_METRICS) {
            route_metrics(rt, a);
        } else if (a->rta_type == RTA_ENCAP) {
            *why = "the route encapsulates (lightweight tunnel)";
            return ROUTE_HOP_UNUSABLE;
        }
    }
    if (!rt->oif) {
        *why = "the route has no egress interface";
        return ROUTE_HOP_UNUSABLE;
    }
    return ROUTE_HOP_OK;
}

static int get_route(struct route_query *q, const struct xt_addr *src, const struct xt_addr *dst,
                     uint8_t tos, struct route *rt, const char **why)
{
    struct request r;
    struct nlmsghdr *h;
    size_t alen = xt_addr_iplen(dst);
    uint8_t proto = IPPROTO_UDP;
    uint16_t sport = htons(src->port), dport = htons(dst->port);
    int rc;

    request_init(&r, RTM_GETROUTE, 0, sizeof(r.m.rt));
    r.m.rt.rtm_family = (unsigned char)dst->family;
    r.m.rt.rtm_dst_len = (unsigned char)(alen * 8);
    r.m.rt.rtm_src_len = (unsigned char)(alen * 8);
    r.m.rt.rtm_tos = tos & 0xfc; /* DSCP: routing does not look at ECN */
    add_attr(&r, RTA_DST, dst->ip, alen);
    add_attr(&r, RTA_SRC, src->ip, alen);
    /* the flow as a socket sends it (a multipath hash may use the ports) */
    add_attr(&r, RTA_IP_PROTO, &proto, 1);
    add_attr(&r, RTA_SPORT, &sport, 2);
    add_attr(&r, RTA_DPORT, &dport, 2);
    memset(rt, 0, sizeof(*rt));
    rc = transact(q, &r, &h);
    if (rc == 1 && h->nlmsg_type == RTM_NEWROUTE)
        return route_parse(h, alen, rt, why);
    switch (rc) {
    case -ENETUNREACH:
    case -EHOSTUNREACH:
        *why = "no route (unreachable)";
        return ROUTE_HOP_UNUSABLE;
    case -EACCES:
    case -EPERM:
        *why = "the route prohibits it";
        return ROUTE_HOP_UNUSABLE;
    case -EINVAL:
        *why = "a blackhole route, or the source is not this host's";
        return ROUTE_HOP_UNUSABLE;
    default:
        return rc < 0 ? rc : -EPROTO;
    }
}

/* ---- the egress interface ---- */

/* The IPv6 MTU of the interface (net.ipv6.conf.DEV.mtu, lowered by router advertisements): in
 * IFLA_AF_SPEC, AF_INET6, IFLA_INET6_CONF[DEVCONF_MTU6]. */
static void link_mtu6(struct route_query_link *l, struct rtattr *spec)
{
    int len = (int)RTA_PAYLOAD(spec);

    for (struct rtattr *af = RTA_DATA(spec); RTA_OK(af, len); af = RTA_NEXT(af, len)) {
        int alen = (int)RTA_PAYLOAD(af);

        if (af->rta_type != AF_INET6)
            continue;
        for (struct rtattr *a = RTA_DATA(af); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
            int32_t conf[DEVCONF_MTU6 + 1];

            if (a->rta_type == IFLA_INET6_CONF && RTA_PAYLOAD(a) >= sizeof(conf)) {
                memcpy(conf, RTA_DATA(a), sizeof(conf));
                l->mtu6 = conf[DEVCONF_MTU6] > 0 ? (uint32_t)conf[DEVCONF_MTU6] : 0;
            }
        }
    }
}

static int query_link(struct route_query *q, uint32_t ifindex, struct route_query_link *l)
{
    struct request r;
    struct nlmsghdr *h;
    struct ifinfomsg *m;
    uint32_t mask = RTEXT_FILTER_SKIP_STATS;
    int rc, len, have_mac = 0;

    request_init(&r, RTM_GETLINK, 0, sizeof(r.m.ifi));
    r.m.ifi.ifi_family = AF_UNSPEC;
    r.m.ifi.ifi_index = (int)ifindex;
    add_attr(&r, IFLA_EXT_MASK, &mask, sizeof(mask));
    rc = transact(q, &r, &h);
    if (rc != 1 || h->nlmsg_type != RTM_NEWLINK)
        return rc < 0 ? rc : -EPROTO;
    memset(l, 0, sizeof(*l));
    m = NLMSG_DATA(h);
    l->ifindex = ifindex;
    l->type = m->ifi_type;
    len = (int)IFLA_PAYLOAD(h);
    for (struct rtattr *a = IFLA_RTA(m); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == IFLA_ADDRESS && RTA_PAYLOAD(a) == 6) {
            memcpy(l->mac, RTA_DATA(a), 6);
            have_mac = 1;
        } else if (a->rta_type == IFLA_MTU && RTA_PAYLOAD(a) >= 4) {
            memcpy(&l->mtu, RTA_DATA(a), 4);
        } else if (a->rta_type == IFLA_AF_SPEC) {
            link_mtu6(l, a);
        }
    }
    if (!have_mac)
        l->type = 0; /* not usable as Ethernet */
    return 0;
}

/* The interface, remembered or looked up (and remembered, while there is room). */
static int get_link(struct route_query *q, uint32_t ifindex, struct route_query_link *l)
{
    int rc;

    for (unsigned i = 0; i < q->nlinks; i++) {
        if (q->links[i].ifindex == ifindex) {
            *l = q->links[i];
            return 0;
        }
    }
    rc = query_link(q, ifindex, l);
    if (rc == 0 && q->nlinks < ROUTE_QUERY_LINKS)
        q->links[q->nlinks++] = *l;
    return rc;
}

void route_query_forget(struct route_query *q)
{
    q->nlinks = 0;
}

/* ---- the neighbour ---- */

/* 1 with its state (and MAC, when it has one), 0 when there is no entry, or -errno. */
static int get_neigh(struct route_query *q, int family, const uint8_t *addr, uint32_t ifindex,
                     uint16_t *state, uint8_t mac[6], int *have_mac)
{
    struct request r;
    struct nlmsghdr *h;
    struct ndmsg *m;
    int rc, len;

    request_init(&r, RTM_GETNEIGH, 0, sizeof(r.m.nd));
    r.m.nd.ndm_family = (uint8_t)family;
    r.m.nd.ndm_ifindex = (int)ifindex;
    add_attr(&r, NDA_DST, addr, family == AF_INET ? 4 : 16);
    rc = transact(q, &r, &h);
    if (rc == -ENOENT)
        return 0;
    if (rc != 1 || h->nlmsg_type != RTM_NEWNEIGH)
        return rc < 0 ? rc : -EPROTO;
    m = NLMSG_DATA(h);
    *state = m->ndm_state;
    *have_mac = 0;
    len = (int)NLMSG_PAYLOAD(h, sizeof(*m));
    for (struct rtattr *a = (struct rtattr *)((char *)m + NLMSG_ALIGN(sizeof(*m))); RTA_OK(a, len);
         a = RTA_NEXT(a, len)) {
        if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) {
            memcpy(mac, RTA_DATA(a), 6);
            *have_mac = 1;
        }
    }
    return 1;
}

/* Asks the kernel to resolve the neighbour (NTF_USE: as a packet waiting for it would), creating
 * the entry when there is none. Refused without CAP_NET_ADMIN: said once, not tried again (nor
 * after any other failure: the datagrams relayed meanwhile resolve it as well). */
static void solicit(struct route_query *q, int family, const uint8_t *addr, uint32_t ifindex)
{
    struct request r;
    struct nlmsghdr *h;
    int rc;

    if (q->cannot_solicit)
        return;
    request_init(&r, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_ACK, sizeof(r.m.nd));
    r.m.nd.ndm_family = (uint8_t)family;
    r.m.nd.ndm_ifindex = (int)ifindex;
    r.m.nd.ndm_state = NUD_NONE;
    r.m.nd.ndm_flags = NTF_USE;
    add_attr(&r, NDA_DST, addr, family == AF_INET ? 4 : 16);
    rc = transact(q, &r, &h);
    if (rc < 0) {
        q->cannot_solicit = true;
        xt_log(rc == -EPERM ? LOG_INFO : LOG_WARN,
               "xdp next hops: neighbours are left to resolve as userspace relays (soliciting "
               "them failed; it needs CAP_NET_ADMIN)",
               "error", strerror(-rc), NULL);
    }
}

/* ---- all three ---- */

int route_query_hop(struct route_query *q, const struct xt_addr *src, const struct xt_addr *dst,
                    uint8_t tos, struct route_hop *hop)
{
    struct route rt;
    struct route_query_link l;
    int nfamily, have_mac = 0, rc;
    const uint8_t *naddr;
    uint16_t state = 0;

    memset(hop, 0, sizeof(*hop));
    rc = get_route(q, src, dst, tos, &rt, &hop->why);
    if (rc != ROUTE_HOP_OK)
        return rc;
    rc = get_link(q, rt.oif, &l);
    if (rc < 0)
        return rc;
    if (l.type != ARPHRD_ETHER) {
        hop->why = "the egress interface is not Ethernet";
        return ROUTE_HOP_UNUSABLE;
    }
    nfamily = rt.gw_family ? rt.gw_family : dst->family;
    naddr = rt.gw_family ? rt.gw : dst->ip;
    rc = get_neigh(q, nfamily, naddr, rt.oif, &state, hop->dmac, &have_mac);
    if (rc < 0)
        return rc;
    if (rc == 0 || !(state & NEIGH_USABLE)) {
        solicit(q, nfamily, naddr, rt.oif);
        return ROUTE_HOP_NO_NEIGH;
    }
    if (!have_mac) {
        hop->why = "the neighbour has no Ethernet address";
        return ROUTE_HOP_UNUSABLE;
    }
    hop->ifindex = rt.oif;
    memcpy(hop->smac, l.mac, 6);
    /* as the kernel: the route's MTU, else the interface's (for IPv6, its IPv6 MTU) */
    hop->mtu = rt.mtu ? rt.mtu : dst->family == AF_INET6 && l.mtu6 ? l.mtu6 : l.mtu;
    return ROUTE_HOP_OK;
}
