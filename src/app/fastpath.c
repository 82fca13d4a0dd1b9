#include "app/fastpath.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/nexthop_resolver.h"
#include "common/log.h"
#include "xdp/xdp_abi.h"
#include "xdp/xdp_loader.h"
#include "xdp/xdp_maps.h"
#include "xdp/xdp_nexthop.h"
#include "xdp/xdp_stats.h"

#define FULL_WARNINGS   10 /* then one per FULL_WARN_EVERY */
#define FULL_WARN_EVERY 1000

#define CROSS_FAMILY_FIRST_LOGS   10    /* log lines at once, then */
#define CROSS_FAMILY_LOG_EVERY_MS 60000 /* at most one a minute */

/* Cached next hops are refreshed this often even without events; with the daemon's loop waking
 * at least once a second, one lives at most about two seconds. */
#define ROUTE_REFRESH_MS 1000

struct fastpath {
    struct xdp_prog *prog;
    struct nexthop_resolver *resolver; /* next hops where forwarding is off */
    struct xt_cfg kcfg;
    _Atomic uint64_t bound, unbound, full, failed; /* bumped by every worker */
    uint32_t map_entries;
    uint64_t cross_seen, cross_logs, cross_logged_ms;
    uint64_t routes_refreshed_ms;
    /* --max-bps: the program's buckets, and a stack of the free indices (workers take and give
     * them back as allocations come and go) */
    pthread_mutex_t buckets_lock;
    struct xt_bucket *buckets;
    uint32_t *free_buckets;
    uint32_t nfree_buckets;
    bool released; /* the maps' bindings are another process's (fastpath_release) */
};

void fastpath_routes_changed(struct fastpath *fp)
{
    xdp_prog_routes_changed(fp->prog);
}

void fastpath_host_addrs(struct fastpath *fp, const struct xt_addr *addrs, size_t n)
{
    int rc = xdp_prog_set_host_addrs(fp->prog, addrs, n);

    if (rc != 0)
        xt_log(LOG_ERROR,
               rc == -ENOSPC ? "xdp: more host addresses than its map holds: datagrams spoofed "
                               "from the others are not dropped in the kernel"
                             : "xdp: cannot update the host's addresses",
               "error", strerror(-rc), NULL);
}

void fastpath_tick(struct fastpath *fp, uint64_t now_ms)
{
    if (now_ms - fp->routes_refreshed_ms < ROUTE_REFRESH_MS)
        return;
    xdp_prog_routes_changed(fp->prog);
    fp->routes_refreshed_ms = now_ms;
}

/* The kernel serves the first listen address of each family (xdp_abi_cfg); clients of another
 * listen address are relayed in userspace. */
static struct xt_cfg kernel_cfg(const struct xturn_config *cfg)
{
    const struct xt_addr relay[2] = {cfg->turn.relay_v4, cfg->turn.relay_v6};
    const struct xdp_abi_settings s = {
        .listen = cfg->listen,
        .nlisten = cfg->nlisten,
        .relay = relay,
        .nrelay = 2,
        .relay_port_lo = cfg->turn.relay_port_lo,
        .relay_port_hi = cfg->turn.relay_port_hi,
        .strict_channel_range = cfg->turn.strict_channel_range,
        .cross_family = cfg->xdp_cross_family,
        .max_bps = cfg->turn.max_bps,
    };

    return xdp_abi_cfg(&s);
}

/* --xdp-mode in the loader's terms: auto is native with the generic fallback. */
static enum xdp_attach_mode attach_mode(enum xdp_mode m)
{
    return m == XDP_MODE_GENERIC ? XDP_ATTACH_GENERIC : XDP_ATTACH_NATIVE;
}

/* Every bucket but index 0 (which a binding names for "none") is free at first. */
static int init_buckets(struct fastpath *fp)
{
    uint32_t n;

    fp->buckets = xdp_prog_buckets(fp->prog, &n);
    fp->free_buckets = calloc(n, sizeof(*fp->free_buckets));
    if (!fp->free_buckets)
        return -1;
    for (uint32_t i = n - 1; i > 0; i--)
        fp->free_buckets[fp->nfree_buckets++] = i;
    return 0;
}

struct fastpath *fastpath_start(const struct xturn_config *cfg, struct ev_loop *loop,
                                const struct xdp_handover *reuse, char *err, size_t errlen)
{
    struct xdp_options opt;
    struct fastpath *fp;

    err[0] = '\0';
    if (cfg->nxdp_ifaces == 0)
        return NULL;
    fp = calloc(1, sizeof(*fp));
    if (!fp) {
        snprintf(err, errlen, "xdp: out of memory");
        return NULL;
    }
    memset(&opt, 0, sizeof(opt));
    opt.cfg = kernel_cfg(cfg);
    fp->kcfg = opt.cfg;
    opt.map_entries = cfg->xdp_map_size;
    opt.reuse = reuse;
    fp->map_entries = cfg->xdp_map_size;
    pthread_mutex_init(&fp->buckets_lock, NULL);
    fp->prog = xdp_prog_load(&opt, err, errlen);
    if (!fp->prog || init_buckets(fp) != 0)
        goto fail;
    for (size_t i = 0; !reuse && i < cfg->nxdp_ifaces; i++) {
        if (xdp_prog_attach(fp->prog, cfg->xdp_ifaces[i], attach_mode(cfg->xdp_mode),
                            cfg->xdp_mode == XDP_MODE_AUTO, err, errlen) != 0)
            goto fail;
        xt_log(LOG_INFO, "xdp attached", "interface", cfg->xdp_ifaces[i], "cross_family",
               cfg->xdp_cross_family ? "on" : "off", NULL);
    }
    fp->resolver = nexthop_resolver_new(fp->prog, loop, err, errlen);
    if (!fp->resolver)
        goto fail;
    return fp;
fail:
    if (fp->prog && !fp->free_buckets)
        snprintf(err, errlen, "xdp: out of memory");
    fastpath_stop(fp);
    return NULL;
}

int fastpath_adopt(struct fastpath *fp, const struct xturn_config *cfg, struct xdp_handover *h,
                   char *err, size_t errlen)
{
    /* New maps: the counters just before the links switch, since the old program counts on
     * until then (what it counts in between is not carried). */
    if (h->abi != XT_ABI_VERSION) {
        bool by_name = false;
        int rc = xdp_prog_stats_carry(fp->prog, h, &by_name);

        if (rc != 0) {
            snprintf(err, errlen, "xdp: carrying the previous program's counters over failed: %s",
                     strerror(-rc));
            return -1;
        }
        xt_log(LOG_INFO, "xdp counters carried over", "by", by_name ? "name" : "position", NULL);
    }
    if (xdp_prog_adopt(fp->prog, cfg->xdp_ifaces, cfg->nxdp_ifaces, h, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < cfg->nxdp_ifaces; i++)
        xt_log(LOG_INFO, "xdp taken over", "interface", cfg->xdp_ifaces[i], "cross_family",
               cfg->xdp_cross_family ? "on" : "off", NULL);
    return 0;
}

int fastpath_export(struct fastpath *fp, struct xdp_handover *out)
{
    return xdp_prog_export(fp->prog, out);
}

void fastpath_release(struct fastpath *fp)
{
    fp->released = true;
}

void fastpath_stop(struct fastpath *fp)
{
    if (!fp)
        return;
    nexthop_resolver_free(fp->resolver);
    xdp_prog_close(fp->prog);
    free(fp->free_buckets);
    pthread_mutex_destroy(&fp->buckets_lock);
    free(fp);
}

uint64_t *fastpath_bucket_get(struct fastpath *fp, uint32_t *id)
{
    uint64_t *word;

    pthread_mutex_lock(&fp->buckets_lock);
    *id = fp->nfree_buckets ? fp->free_buckets[--fp->nfree_buckets] : 0;
    pthread_mutex_unlock(&fp->buckets_lock);
    if (!*id)
        return NULL;
    /* The word's address in the shared mapping; 0 is a full bucket. */
    word = (uint64_t *)&fp->buckets[*id].tat;
    __atomic_store_n(word, 0, __ATOMIC_RELAXED);
    return word;
}

void fastpath_bucket_put(struct fastpath *fp, uint32_t id)
{
    pthread_mutex_lock(&fp->buckets_lock);
    fp->free_buckets[fp->nfree_buckets++] = id;
    pthread_mutex_unlock(&fp->buckets_lock);
}

int fastpath_channel_up(struct fastpath *fp, const struct turn_channel_info *ci)
{
    int rc;
    /* The program reads UDP datagrams in the clear: a stream or DTLS client's ChannelData, and
     * what its peers send it, stay in userspace, which frames or encrypts them. */
    if (ci->transport != TURN_UDP || !xdp_abi_serves_listen(&fp->kcfg, ci->local))
        return -1;
    /* With --max-bps, only an allocation with a bucket the program shares can be relayed there:
     * without one, userspace carries it (and applies the limit). A live upgrade's restore binds
     * channels the reused maps hold already (the update overwrites them with this process's
     * bucket), or fills new maps. */
    rc = fp->kcfg.max_bps && !ci->bucket ? -ENOSPC
                                         : xdp_prog_bind(fp->prog, ci->client, ci->channel,
                                                         ci->peer, ci->relayed->port, ci->bucket);
    if (rc == 0) {
        fp->bound++;
        return 0;
    }
    /* Not relayed in the kernel: not even by the previous process's binding, whose bucket index
     * is no longer its allocation's. */
    xdp_prog_unbind(fp->prog, ci->client, ci->channel, ci->peer, ci->relayed->port);
    if (rc == -ENOSPC)
        fp->full++;
    else
        fp->failed++;
    if (fp->full + fp->failed <= FULL_WARNINGS || (fp->full + fp->failed) % FULL_WARN_EVERY == 0) {
        char c[XT_ADDR_STRLEN], p[XT_ADDR_STRLEN];
        xt_log(LOG_WARN,
               rc == -ENOSPC ? "xdp map full: channel relayed in userspace"
                             : "xdp map update failed: channel relayed in userspace",
               "client", xt_addr_str(ci->client, c), "peer", xt_addr_str(ci->peer, p), "error",
               strerror(-rc), XT_NUM("count", fp->full + fp->failed), NULL);
    }
    return rc;
}

void fastpath_channel_down(struct fastpath *fp, const struct turn_channel_info *ci)
{
    /* The process that took over relays this channel, through the same maps or its own. */
    if (fp->released)
        return;
    xdp_prog_unbind(fp->prog, ci->client, ci->channel, ci->peer, ci->relayed->port);
    fp->unbound++;
}

void fastpath_snapshot(struct fastpath *fp, struct xturn_snapshot *out)
{
    out->xdp = true;
    if (xdp_prog_stats(fp->prog, out->xdp_stats) != 0)
        memset(out->xdp_stats, 0, sizeof(out->xdp_stats));
    out->xdp_bindings = fp->bound - fp->unbound;
    out->xdp_map_full = fp->full;
    out->xdp_map_capacity = fp->map_entries;
    out->xdp_map_bytes = xdp_prog_map_memory(fp->prog);
}

void fastpath_note_cross_family(struct fastpath *fp, uint64_t relayed, uint64_t now_ms)
{
    if (fp->kcfg.cross_family || relayed == fp->cross_seen)
        return;
    if (fp->cross_logs >= CROSS_FAMILY_FIRST_LOGS &&
        now_ms - fp->cross_logged_ms < CROSS_FAMILY_LOG_EVERY_MS)
        return;
    xt_log(LOG_INFO, "cross-family packets relayed in userspace (--xdp-cross-family off)",
           XT_NUM("packets_total", relayed), NULL);
    fp->cross_seen = relayed;
    fp->cross_logs++;
    fp->cross_logged_ms = now_ms;
}

void fastpath_log_stats(struct fastpath *fp)
{
    struct xt_counter c[XT_STAT_COUNT];
    char line[2048];
    size_t n = 0;

    if (xdp_prog_stats(fp->prog, c) != 0)
        return;
    /* One JSON object in one field keeps the log line's keys stable. */
    n += (size_t)snprintf(line + n, sizeof(line) - n, "{");
    for (int i = 0; i < XT_STAT_COUNT && n < sizeof(line); i++) {
        if (!c[i].packets)
            continue;
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s\"%s\":%llu", n > 1 ? "," : "",
                              xdp_stat_name((enum xt_stat)i), (unsigned long long)c[i].packets);
    }
    if (n < sizeof(line))
        snprintf(line + n, sizeof(line) - n, "}");
    xt_log(LOG_INFO, "xdp stats", "packets", line, XT_NUM("bindings_mirrored", fp->bound),
           XT_NUM("bindings_map_full", fp->full), NULL);
}
