/* Updates of the loaded program's state from userspace: channel bindings into the eight binding
 * maps (keys and values packed by xdp_abi.c), the --max-bps buckets, the host's addresses; and
 * the memory the maps take. (Next hops: xdp_nexthop.c.) */
#include "xdp/xdp_maps.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdp/xdp_abi.h"
#include "xdp/xdp_internal.h"

/* ---- bindings ---- */

static int map_errno(int rc)
{
    /* A full hash map answers E2BIG. */
    return rc == -E2BIG ? -ENOSPC : rc;
}

int xdp_prog_bind(struct xdp_prog *prog, const struct xt_addr *client, uint16_t channel,
                  const struct xt_addr *peer, uint16_t relay_port, uint32_t bucket)
{
    struct xdp_abi_binding b;
    union xdp_abi_value old;
    struct bpf_map *c2p, *p2c;
    bool had_old;
    int rc = xdp_abi_binding(&b, client, channel, peer, relay_port, bucket);

    if (rc)
        return rc;
    if (bucket >= prog->nbuckets)
        return -ERANGE;
    c2p = binding_maps(prog->skel, b.c2p);
    p2c = binding_maps(prog->skel, b.p2c);

    pthread_mutex_lock(&prog->bindings_lock);
    /* All or nothing: if the second insert fails, the first map gets back what it had. */
    had_old = bpf_map__lookup_elem(c2p, &b.c2p_key, b.c2p_key_size, &old, b.c2p_value_size, 0) == 0;
    rc = bpf_map__update_elem(c2p, &b.c2p_key, b.c2p_key_size, &b.c2p_value, b.c2p_value_size,
                              BPF_ANY);
    if (rc == 0) {
        rc = bpf_map__update_elem(p2c, &b.p2c_key, b.p2c_key_size, &b.p2c_value, b.p2c_value_size,
                                  BPF_ANY);
        if (rc && had_old)
            bpf_map__update_elem(c2p, &b.c2p_key, b.c2p_key_size, &old, b.c2p_value_size, BPF_ANY);
        else if (rc)
            bpf_map__delete_elem(c2p, &b.c2p_key, b.c2p_key_size, 0);
    }
    pthread_mutex_unlock(&prog->bindings_lock);
    return map_errno(rc);
}

int xdp_prog_unbind(struct xdp_prog *prog, const struct xt_addr *client, uint16_t channel,
                    const struct xt_addr *peer, uint16_t relay_port)
{
    struct xdp_abi_binding b;
    int rc = xdp_abi_binding(&b, client, channel, peer, relay_port, 0);
    int rc2;

    if (rc)
        return rc;
    pthread_mutex_lock(&prog->bindings_lock);
    rc = bpf_map__delete_elem(binding_maps(prog->skel, b.c2p), &b.c2p_key, b.c2p_key_size, 0);
    rc2 = bpf_map__delete_elem(binding_maps(prog->skel, b.p2c), &b.p2c_key, b.p2c_key_size, 0);
    pthread_mutex_unlock(&prog->bindings_lock);
    if (rc == -ENOENT)
        rc = 0;
    if (rc2 == -ENOENT)
        rc2 = 0;
    return rc ? rc : rc2;
}

/* ---- --max-bps buckets ---- */

struct xt_bucket *xdp_prog_buckets(struct xdp_prog *prog, uint32_t *n)
{
    *n = prog->nbuckets;
    return prog->buckets;
}

/* ---- the host's own addresses (martian sources) ---- */

static int host_key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(struct xt_host_addr));
}

/* The map keys of addrs (ports left out), sorted, each once, into keys (n of them). Returns
 * how many, or -EAFNOSUPPORT. */
static int host_keys(const struct xt_addr *addrs, size_t n, struct xt_host_addr *keys)
{
    size_t u = 0;

    for (size_t i = 0; i < n; i++) {
        int rc = xdp_abi_host_key(&keys[i], &addrs[i]);

        if (rc)
            return rc;
    }
    if (n)
        qsort(keys, n, sizeof(*keys), host_key_cmp);
    for (size_t i = 0; i < n; i++)
        if (u == 0 || host_key_cmp(&keys[u - 1], &keys[i]) != 0)
            keys[u++] = keys[i];
    return (int)u;
}

/* Deletes the map's keys that are not among keys (u of them, sorted). They are collected first:
 * deleting the key a walk stands on would restart it. */
static int host_addrs_prune(struct bpf_map *m, const struct xt_host_addr *keys, size_t u)
{
    uint32_t cap = bpf_map__max_entries(m);
    struct xt_host_addr *gone = calloc(cap, sizeof(*gone));
    struct xt_host_addr k, at;
    size_t n = 0;
    int rc;

    if (!gone)
        return -ENOMEM;
    for (rc = bpf_map__get_next_key(m, NULL, &k, sizeof(k)); rc == 0 && n < cap;
         rc = bpf_map__get_next_key(m, &at, &k, sizeof(k))) {
        if (!bsearch(&k, keys, u, sizeof(*keys), host_key_cmp))
            gone[n++] = k;
        at = k;
    }
    if (rc == -ENOENT)
        rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = bpf_map__delete_elem(m, &gone[i], sizeof(gone[i]), 0);
        if (rc == -ENOENT)
            rc = 0;
    }
    free(gone);
    return rc;
}

int xdp_prog_set_host_addrs(struct xdp_prog *prog, const struct xt_addr *addrs, size_t n)
{
    struct bpf_map *m = prog->skel->maps.host_addrs;
    struct xt_host_addr *keys = calloc(n ? n : 1, sizeof(*keys));
    const uint8_t one = 1;
    int u, rc;

    if (!keys)
        return -ENOMEM;
    u = host_keys(addrs, n, keys);
    if (u < 0)
        rc = u;
    else if ((uint32_t)u > bpf_map__max_entries(m))
        rc = -ENOSPC;
    else /* the gone ones first: the new set then fits */
        rc = host_addrs_prune(m, keys, (size_t)u);
    for (int i = 0; i < u && rc == 0; i++) {
        rc = bpf_map__update_elem(m, &keys[i], sizeof(keys[i]), &one, sizeof(one), BPF_NOEXIST);
        if (rc == -EEXIST)
            rc = 0;
    }
    free(keys);
    return map_errno(rc);
}

/* ---- memory ---- */

/* The kernel's own account of a map's memory: "memlock" in the map fd's fdinfo. */
static unsigned long long map_memlock(int fd)
{
    char path[64], line[128];
    unsigned long long v = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
    f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "memlock: %llu", &v) == 1)
            break;
    fclose(f);
    return v;
}

unsigned long long xdp_prog_map_memory(const struct xdp_prog *prog)
{
    unsigned long long total = 0;
    for (int i = 0; i < BINDING_MAPS; i++)
        total += map_memlock(bpf_map__fd(binding_maps(prog->skel, i)));
    return total + map_memlock(bpf_map__fd(prog->skel->maps.buckets));
}
