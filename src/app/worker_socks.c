/* The worker's sockets by handle (worker_internal.h): the handle is what the core knows a listen
 * socket, a relayed socket or a connection by. Freed handles are reused lowest first; a closed
 * socket's struct lives until the current dispatch is over (worker_reap_dead). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "app/worker_internal.h"

static int grow_socks(struct worker *w)
{
    size_t n = w->nsocks ? w->nsocks * 2 : 64;
    struct wsock **socks = realloc(w->socks, n * sizeof(*socks));
    int *free_handles;
    if (!socks)
        return -ENOMEM;
    w->socks = socks;
    free_handles = realloc(w->free_handles, n * sizeof(*free_handles));
    if (!free_handles)
        return -ENOMEM;
    w->free_handles = free_handles;
    /* Lowest handles on top of the stack. */
    for (size_t i = n; i > w->nsocks; i--) {
        w->socks[i - 1] = NULL;
        w->free_handles[w->nfree++] = (int)(i - 1);
    }
    w->nsocks = n;
    return 0;
}

int worker_sock_add(struct worker *w, int fd, enum wsock_kind kind, void *owner,
                    const struct xt_addr *local, ev_cb cb)
{
    struct wsock *s;
    int handle, err;

    if (w->nfree == 0 && (err = grow_socks(w)) != 0)
        return err;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    handle = w->free_handles[w->nfree - 1];
    s->ev.fd = fd;
    s->ev.cb = cb;
    s->w = w;
    s->handle = handle;
    s->kind = kind;
    s->owner = owner;
    s->local = *local;
    err = fd >= 0 ? ev_add(w->loop, &s->ev) : 0;
    if (err) {
        free(s);
        return err;
    }
    w->nfree--;
    w->socks[handle] = s;
    return handle;
}

int worker_sock_detach(struct worker *w, int handle)
{
    struct wsock *s = w->socks[handle];
    int fd = s->ev.fd;

    /* A DTLS client's handle has no descriptor of its own (worker_dtls.c). */
    if (fd >= 0)
        ev_del(w->loop, &s->ev);
    s->ev.fd = -1;
    w->socks[handle] = NULL;
    w->free_handles[w->nfree++] = handle;
    s->next_dead = w->dead;
    w->dead = s;
    return fd;
}

void worker_sock_close(struct worker *w, int handle)
{
    /* Queued datagrams name this fd; send them before the fd number can be reused. */
    int fd;

    udp_tx_flush(&w->tx);
    fd = worker_sock_detach(w, handle);
    if (fd >= 0)
        close(fd);
}

void worker_reap_dead(struct worker *w)
{
    while (w->dead) {
        struct wsock *s = w->dead;
        w->dead = s->next_dead;
        free(s->conn);
        free(s);
    }
}
