/* The XDP program's contract, userspace's side: configuration, binding keys and values, path
 * indices, counter names (xdp_abi.h). */
#include "xdp/xdp_abi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/* ---- configuration ---- */

struct xt_cfg xdp_abi_cfg(const struct xdp_abi_settings *s)
{
    const struct xt_addr *l4 = xt_addr_first_of(s->listen, s->nlisten, AF_INET);
    const struct xt_addr *l6 = xt_addr_first_of(s->listen, s->nlisten, AF_INET6);
    const struct xt_addr *r4 = xt_addr_first_of(s->relay, s->nrelay, AF_INET);
    const struct xt_addr *r6 = xt_addr_first_of(s->relay, s->nrelay, AF_INET6);
    struct xt_cfg k;

    /* all of it, padding included: it is copied into the program's .rodata as it is */
    memset(&k, 0, sizeof(k));
    if (l4) {
        memcpy(&k.listen_v4, l4->ip, 4);
        k.listen_port_v4 = htons(l4->port);
    }
    if (l6) {
        memcpy(k.listen_v6, l6->ip, 16);
        k.listen_port_v6 = htons(l6->port);
    }
    if (r4)
        memcpy(&k.relay_v4, r4->ip, 4);
    if (r6)
        memcpy(k.relay_v6, r6->ip, 16);
    k.relay_port_lo = s->relay_port_lo;
    k.relay_port_hi = s->relay_port_hi;
    k.channel_hi = s->strict_channel_range ? 0x4FFF : 0x7FFF;
    k.cross_family = s->cross_family;
    k.max_bps = s->max_bps;
    return k;
}

bool xdp_abi_serves_listen(const struct xt_cfg *k, const struct xt_addr *local)
{
    if (local->family == AF_INET)
        return memcmp(&k->listen_v4, local->ip, 4) == 0 && k->listen_port_v4 == htons(local->port);
    return memcmp(k->listen_v6, local->ip, 16) == 0 && k->listen_port_v6 == htons(local->port);
}

bool xdp_abi_serves_family(const struct xt_cfg *k, int family)
{
    static const uint8_t zero[16];

    if (family == AF_INET)
        return k->listen_v4 != 0 || k->relay_v4 != 0;
    return memcmp(k->listen_v6, zero, 16) != 0 || memcmp(k->relay_v6, zero, 16) != 0;
}

/* ---- binding maps and path counters ---- */

int xdp_abi_family(int af)
{
    return af == AF_INET ? 0 : af == AF_INET6 ? 1 : -1;
}

_Static_assert(XT_C2P_44 == 0 && XT_C2P_46 == 1 && XT_C2P_64 == 2 && XT_C2P_66 == 3 &&
                   XT_P2C_44 == 4 && XT_P2C_46 == 5 && XT_P2C_64 == 6 && XT_P2C_66 == 7,
               "path counters: direction, then ingress family, then egress family");

enum xt_stat xdp_abi_path(enum xdp_abi_dir dir, int client_family, int peer_family)
{
    /* named by (ingress family, egress family) */
    if (dir == XDP_ABI_TO_PEER)
        return (enum xt_stat)(XT_C2P_44 + client_family * 2 + peer_family);
    return (enum xt_stat)(XT_P2C_44 + peer_family * 2 + client_family);
}

static size_t key_make(union xdp_abi_key *k, const struct xt_addr *a, uint16_t aux)
{
    /* client and peer keys share the layout: the peer variants stand for both */
    memset(k, 0, sizeof(*k));
    if (a->family == AF_INET) {
        memcpy(&k->p4.ip, a->ip, 4);
        k->p4.port = htons(a->port);
        k->p4.relay_port = htons(aux);
        return sizeof(k->p4);
    }
    memcpy(k->p6.ip, a->ip, 16);
    k->p6.port = htons(a->port);
    k->p6.relay_port = htons(aux);
    return sizeof(k->p6);
}

static size_t value_make(union xdp_abi_value *v, const struct xt_addr *a, uint16_t aux,
                         uint32_t bucket)
{
    union xdp_abi_key k;

    /* as keys, values share the layout: the to_peer variants stand for both */
    memset(v, 0, sizeof(*v));
    key_make(&k, a, aux);
    if (a->family == AF_INET) {
        v->p4.peer = k.p4;
        v->p4.bucket = bucket;
        return sizeof(v->p4);
    }
    v->p6.peer = k.p6;
    v->p6.bucket = bucket;
    return sizeof(v->p6);
}

int xdp_abi_binding(struct xdp_abi_binding *b, const struct xt_addr *client, uint16_t channel,
                    const struct xt_addr *peer, uint16_t relay_port, uint32_t bucket)
{
    int cf = xdp_abi_family(client->family), pf = xdp_abi_family(peer->family);

    if (cf < 0 || pf < 0)
        return -EAFNOSUPPORT;
    b->c2p = xdp_abi_path(XDP_ABI_TO_PEER, cf, pf);
    b->p2c = xdp_abi_path(XDP_ABI_TO_CLIENT, cf, pf);
    b->c2p_key_size = key_make(&b->c2p_key, client, channel);
    b->p2c_key_size = key_make(&b->p2c_key, peer, relay_port);
    b->c2p_value_size = value_make(&b->c2p_value, peer, relay_port, bucket);
    b->p2c_value_size = value_make(&b->p2c_value, client, channel, bucket);
    return 0;
}

int xdp_abi_host_key(struct xt_host_addr *k, const struct xt_addr *a)
{
    if (xdp_abi_family(a->family) < 0)
        return -EAFNOSUPPORT;
    memset(k, 0, sizeof(*k));
    k->family = (uint8_t)a->family; /* AF_INET / AF_INET6: the program's XT_AF_* */
    memcpy(k->ip, a->ip, a->family == AF_INET ? 4 : 16);
    return 0;
}

/* ---- next hops resolved by userspace ---- */

/* The families of a binding map's key and value: its ingress and egress family (the two digits
 * of its name), by index (xdp_abi_family). */
static int map_ingress(enum xt_stat map)
{
    return (map - XT_C2P_44) % 4 / 2;
}

static int map_egress(enum xt_stat map)
{
    return (map - XT_C2P_44) % 2;
}

static void nh_addr(struct xt_addr *a, int fam_index, const __be32 *ip, __be16 port)
{
    if (fam_index == 0)
        xt_addr_v4(a, (const uint8_t *)ip, ntohs(port));
    else
        xt_addr_v6(a, (const uint8_t *)ip, ntohs(port));
}

int xdp_abi_nh_request(struct xdp_abi_nh_request *out, const void *rec, size_t len)
{
    struct xt_nh_request r;
    struct xt_addr key_addr;
    int egress;

    if (len < sizeof(r))
        return -EINVAL;
    memcpy(&r, rec, sizeof(r));
    if (r.map > XT_P2C_66)
        return -EINVAL;
    egress = map_egress((enum xt_stat)r.map);
    if (r.family != (egress == 0 ? AF_INET : AF_INET6))
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->map = (enum xt_stat)r.map;
    nh_addr(&key_addr, map_ingress(out->map), r.key_ip, r.key_port);
    out->key_size = key_make(&out->key, &key_addr, ntohs(r.key_aux));
    out->value_size = egress == 0 ? sizeof(struct xt_to_peer4) : sizeof(struct xt_to_peer6);
    nh_addr(&out->src, egress, r.saddr, r.sport);
    nh_addr(&out->dst, egress, r.daddr, r.dport);
    out->tos = r.tos;
    return 0;
}

struct xt_nexthop xdp_abi_nexthop(const struct xdp_abi_hop *h, uint32_t gen)
{
    struct xt_nexthop nh;

    memset(&nh, 0, sizeof(nh));
    nh.gen = gen;
    if (h->pass) {
        nh.pass = (uint8_t)h->pass;
        return nh;
    }
    memcpy(nh.dmac, h->dmac, 6);
    memcpy(nh.smac, h->smac, 6);
    nh.ifindex = h->ifindex;
    nh.mtu = (uint16_t)(h->mtu < 0xffff ? h->mtu : 0xffff);
    nh.flags = h->tx_port ? XT_NH_TX_PORT : 0;
    return nh;
}

struct xt_nexthop *xdp_abi_value_nexthop(union xdp_abi_value *v, enum xt_stat map)
{
    /* to_peer and to_client values share the layout */
    return map_egress(map) == 0 ? &v->p4.nh : &v->p6.nh;
}

/* ---- counters ---- */

#define XT_STAT_ROW(e, name, cls) [e] = {name, cls},
static const struct {
    const char *name;
    enum xt_stat_class cls;
} stat_rows[XT_STAT_COUNT] = {XT_STATS(XT_STAT_ROW)};
#undef XT_STAT_ROW

const char *xdp_stat_name(enum xt_stat s)
{
    return (unsigned)s < XT_STAT_COUNT ? stat_rows[s].name : "unknown";
}

enum xt_stat_class xdp_stat_class(enum xt_stat s)
{
    return stat_rows[s].cls;
}

const char *xdp_stat_reason(enum xt_stat s)
{
    static const char *const prefix[] = {[XT_CLASS_PATH] = "",
                                         [XT_CLASS_SELF] = "",
                                         [XT_CLASS_PASS] = "pass_",
                                         [XT_CLASS_DROP] = "drop_"};
    const char *name = xdp_stat_name(s);
    size_t n;

    if ((unsigned)s >= XT_STAT_COUNT)
        return name;
    n = strlen(prefix[stat_rows[s].cls]);
    return strncmp(name, prefix[stat_rows[s].cls], n) == 0 ? name + n : name;
}
