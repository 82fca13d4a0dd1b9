/* The program's next-hop cache from userspace: its generation, the program's requests where
 * forwarding is off (a libbpf ring buffer over nh_requests) and the answers (xdp_nexthop.h). */
#include "xdp/xdp_nexthop.h"

#include <errno.h>
#include <stdlib.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdp/xdp_internal.h"

void xdp_prog_routes_changed(struct xdp_prog *prog)
{
    uint32_t *gen = &prog->skel->bss->xt_route_gen;
    uint32_t next = __atomic_load_n(gen, __ATOMIC_RELAXED) + 1;

    /* 0 turns the cache off, XT_NH_GEN_BUSY marks an entry being written: never generations. */
    if (next == 0 || next == XT_NH_GEN_BUSY)
        next = 1;
    /* Only this thread writes it. */
    __atomic_store_n(gen, next, __ATOMIC_RELEASE);
}

uint32_t xdp_prog_route_gen(const struct xdp_prog *prog)
{
    return __atomic_load_n(&prog->skel->bss->xt_route_gen, __ATOMIC_ACQUIRE);
}

bool xdp_prog_drives(const struct xdp_prog *prog, uint32_t ifindex)
{
    for (int i = 0; i < prog->n_ifaces; i++)
        if ((uint32_t)prog->ifaces[i].ifindex == ifindex)
            return true;
    return false;
}

/* ---- requests ---- */

struct xdp_nh_requests {
    struct ring_buffer *rb;
    xdp_nh_request_cb cb;
    void *ctx;
};

static int on_record(void *ctx, void *data, size_t len)
{
    struct xdp_nh_requests *q = ctx;
    struct xdp_abi_nh_request req;

    if (xdp_abi_nh_request(&req, data, len) == 0)
        q->cb(q->ctx, &req);
    return 0;
}

struct xdp_nh_requests *xdp_nh_requests_open(struct xdp_prog *prog, xdp_nh_request_cb cb, void *ctx)
{
    struct xdp_nh_requests *q = calloc(1, sizeof(*q));

    if (!q)
        return NULL;
    q->cb = cb;
    q->ctx = ctx;
    q->rb = ring_buffer__new(bpf_map__fd(prog->skel->maps.nh_requests), on_record, q, NULL);
    if (!q->rb) {
        int e = errno;

        free(q);
        errno = e;
        return NULL;
    }
    return q;
}

void xdp_nh_requests_close(struct xdp_nh_requests *q)
{
    if (!q)
        return;
    ring_buffer__free(q->rb);
    free(q);
}

int xdp_nh_requests_fd(const struct xdp_nh_requests *q)
{
    return ring_buffer__epoll_fd(q->rb);
}

int xdp_nh_requests_read(struct xdp_nh_requests *q)
{
    return ring_buffer__consume(q->rb);
}

/* ---- answers ---- */

int xdp_prog_answer_nexthop(struct xdp_prog *prog, const struct xdp_abi_nh_request *req,
                            const struct xt_nexthop *nh)
{
    struct bpf_map *m = binding_maps(prog->skel, req->map);
    union xdp_abi_value v;
    int rc;

    /* Under the lock: a binding removed and bound again in between would otherwise get its
     * old value back. */
    pthread_mutex_lock(&prog->bindings_lock);
    rc = bpf_map__lookup_elem(m, &req->key, req->key_size, &v, req->value_size, 0);
    if (rc == 0) {
        *xdp_abi_value_nexthop(&v, req->map) = *nh;
        rc = bpf_map__update_elem(m, &req->key, req->key_size, &v, req->value_size, BPF_EXIST);
    }
    pthread_mutex_unlock(&prog->bindings_lock);
    return rc == -ENOENT ? 0 : rc;
}
