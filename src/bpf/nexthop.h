/* The next hop of the output, before anything in the packet changes (so that every failure can
 * still pass it up unchanged): from the binding's cache (struct xt_nexthop in its map value),
 * else from bpf_fib_lookup where forwarding is on, else from userspace, asked through the ring
 * buffer nh_requests: bpf_fib_lookup answers only for an ingress interface that forwards, and
 * userspace resolves the next hop over rtnetlink instead (src/app/nexthop_resolver.c), writing
 * its answer in the binding's cache. */
#ifndef XTURN_BPF_NEXTHOP_H
#define XTURN_BPF_NEXTHOP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "bpf/consts.h"
#include "bpf/maps.h"
#include "bpf/pkt.h"
#include "bpf/xdp_shared.h"

#define xt_barrier() asm volatile("" ::: "memory")

/* The output's IP length (header and UDP; fits in 16 bits: out_check). */
static __always_inline __u32 out_ip_len(const struct xt_out *o)
{
    return (o->family == XT_AF_INET ? XT_IP4_HLEN : XT_IP6_HLEN) + out_ulen(o);
}

/* bpf_fib_lookup for the output datagram, with tot_len as the IP length the kernel checks
 * against the egress MTU. */
static __always_inline int fib_lookup(struct xdp_md *ctx, const struct xt_pkt *p,
                                      const struct xt_out *o, struct bpf_fib_lookup *fib,
                                      __u16 tot_len)
{
    __builtin_memset(fib, 0, sizeof(*fib));
    fib->l4_protocol = IPPROTO_UDP;
    fib->sport = o->sport;
    fib->dport = o->dport;
    fib->ifindex = ctx->ingress_ifindex;
    fib->tot_len = tot_len;
    if (o->family == XT_AF_INET) {
        fib->family = XT_AF_INET;
        fib->tos = p->tos;
        fib->ipv4_src = o->saddr[0];
        fib->ipv4_dst = o->daddr[0];
    } else {
        fib->family = XT_AF_INET6;
        __builtin_memcpy(fib->ipv6_src, o->saddr, 16);
        __builtin_memcpy(fib->ipv6_dst, o->daddr, 16);
    }
    return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
}

/* The next hop from the FIB, into o->hop (XT_PASS_RESOLVING where forwarding is off). The route's
 * MTU comes from a first lookup for the largest IP packet (FRAG_NEEDED returns it, before any
 * neighbour is looked at); when that is below 0xffff, a second lookup for this packet gives the
 * MACs. Two lookups, once per binding and route generation. */
static __always_inline int route_lookup(struct xdp_md *ctx, const struct xt_pkt *p,
                                        struct xt_out *o, __u32 ip_len)
{
    struct bpf_fib_lookup fib;
    __u16 mtu = 0xffff;
    int rc;

    rc = fib_lookup(ctx, p, o, &fib, 0xffff);
    if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
        mtu = fib.mtu_result;
        if (ip_len > mtu)
            return XT_PASS_MTU;
        rc = fib_lookup(ctx, p, o, &fib, (__u16)ip_len);
    }
    switch (rc) {
    case BPF_FIB_LKUP_RET_SUCCESS:
        break;
    case BPF_FIB_LKUP_RET_FRAG_NEEDED:
        return XT_PASS_MTU;
    case BPF_FIB_LKUP_RET_NO_NEIGH:
        return XT_PASS_NO_NEIGH;
    case BPF_FIB_LKUP_RET_FWD_DISABLED:
        return XT_PASS_RESOLVING; /* userspace is asked: request_nexthop */
    default:
        return XT_PASS_FIB;
    }
    o->hop.flags = bpf_map_lookup_elem(&tx_ports, &fib.ifindex) ? XT_NH_TX_PORT : 0;
    if (fib.ifindex != ctx->ingress_ifindex && !o->hop.flags)
        return XT_PASS_OTHER_IFACE;
    __builtin_memcpy(o->hop.dmac, fib.dmac, ETH_ALEN);
    __builtin_memcpy(o->hop.smac, fib.smac, ETH_ALEN);
    o->hop.ifindex = fib.ifindex;
    o->hop.mtu = mtu;
    o->hop.pass = 0; /* a failed cache_read may have left one */
    return XT_NEXT;
}

/* ---- the next-hop cache (struct xt_nexthop in a binding's value) ----
 * CPUs may fill one entry at once (a binding's packets on several RX queues), under different
 * generations. A writer first takes the entry: gen from its old value to XT_NH_GEN_BUSY by
 * compare-and-swap, which one CPU wins; then it writes the fields and publishes its generation,
 * last. Generations only move forward in an entry: a writer whose generation is not newer than
 * the entry's (serial-number order, as the counter wraps) leaves it alone. A reader copies the
 * fields between two reads of gen and keeps the copy only if both are its generation: any write
 * in between published a newer one, so gen cannot have come back to the reader's. Userspace
 * never writes in place: its answers (forwarding off) replace the whole map value.
 * Memory ordering: BPF atomics are fully ordered, on every JIT. On x86-64 (TSO) loads are not
 * reordered with loads nor stores with stores, so the reader's plain loads need only compiler
 * barriers; elsewhere it reads gen with an atomic add of 0. Atomics need clang's -mcpu=v3
 * (mk/bpf.mk) and Linux 5.12. */

static __always_inline __u32 gen_read(struct xt_nexthop *c)
{
#if defined(__TARGET_ARCH_x86)
    return *(const volatile __u32 *)&c->gen;
#else
    return __sync_fetch_and_add(&c->gen, 0);
#endif
}

/* The cached next hop, when it is of this generation (gen 0: the cache is off). */
static __always_inline int cache_read(struct xt_nexthop *c, __u32 gen, struct xt_nexthop *hop)
{
    if (!gen || gen_read(c) != gen)
        return 0;
    xt_barrier();
    __builtin_memcpy(hop, c, sizeof(*hop));
    xt_barrier();
    return gen_read(c) == gen;
}

/* Fills the cache (a next hop found, or the mark of one asked for), unless it holds this
 * generation already or another CPU is writing it. */
static __always_inline void cache_write(struct xt_nexthop *c, __u32 gen,
                                        const struct xt_nexthop *hop)
{
    __u32 cur;

    if (!gen)
        return;
    cur = gen_read(c);
    /* Being written, or already of this generation or a newer one. */
    if (cur == XT_NH_GEN_BUSY || (cur && (__s32)(gen - cur) <= 0))
        return;
    if (__sync_val_compare_and_swap(&c->gen, cur, XT_NH_GEN_BUSY) != cur)
        return;
    __builtin_memcpy(c->dmac, hop->dmac, ETH_ALEN);
    __builtin_memcpy(c->smac, hop->smac, ETH_ALEN);
    c->ifindex = hop->ifindex;
    c->mtu = hop->mtu;
    c->flags = hop->flags;
    c->pass = hop->pass;
    /* an atomic: ordered after the fields on every architecture */
    __sync_val_compare_and_swap(&c->gen, XT_NH_GEN_BUSY, gen);
}

/* Forwarding is off on the ingress interface: userspace is asked for the binding's next hop, and
 * the binding marked as waiting for this generation, so that its next packets go up without
 * asking again. Submitted first: an answer that comes before the mark is of this generation,
 * which the mark does not overwrite. With the ring buffer full, the next packet asks. */
static __always_inline int request_nexthop(const struct xt_pkt *p, struct xt_out *o, __u32 gen)
{
    const struct xt_nexthop waiting = {.pass = XT_PASS_RESOLVING};
    struct xt_nh_request *r = bpf_ringbuf_reserve(&nh_requests, sizeof(*r), 0);

    if (!r)
        return XT_PASS_RESOLVING;
    r->map = o->nh_map;
    r->family = o->family;
    r->tos = o->family == XT_AF_INET ? p->tos : 0;
    r->pad = 0;
    __builtin_memcpy(r->key_ip, o->nh_ip, 16);
    r->key_port = o->nh_port;
    r->key_aux = o->nh_aux;
    __builtin_memcpy(r->saddr, o->saddr, 16);
    __builtin_memcpy(r->daddr, o->daddr, 16);
    r->sport = o->sport;
    r->dport = o->dport;
    bpf_ringbuf_submit(r, 0);
    cache_write(o->nh, gen, &waiting);
    return XT_PASS_RESOLVING;
}

/* The next hop of the output datagram: from the binding's cache, or the FIB, or userspace. The
 * egress MTU is checked either way. Sets o->hop and o->action. */
static __always_inline int xt_route(struct xdp_md *ctx, const struct xt_pkt *p, struct xt_out *o)
{
    __u32 gen = *(const volatile __u32 *)&xt_route_gen;
    __u32 ip_len = out_ip_len(o);
    int r;

    if (cache_read(o->nh, gen, &o->hop)) {
        /* userspace's answer that XDP cannot send them, or its answer awaited */
        if (o->hop.pass)
            return o->hop.pass;
        if (ip_len > o->hop.mtu)
            return XT_PASS_MTU;
    } else {
        r = route_lookup(ctx, p, o, ip_len);
        if (r == XT_PASS_RESOLVING)
            return request_nexthop(p, o, gen);
        if (r != XT_NEXT)
            return r;
        cache_write(o->nh, gen, &o->hop);
    }
    /* The packets of a binding may come in by another interface than the one that filled the
     * cache: one that is not a redirect target then means userspace. */
    if (o->hop.ifindex == ctx->ingress_ifindex)
        o->action = XDP_TX;
    else if (o->hop.flags & XT_NH_TX_PORT)
        o->action = XDP_REDIRECT;
    else
        return XT_PASS_OTHER_IFACE;
    return XT_NEXT;
}

#endif
