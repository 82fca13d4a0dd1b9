/* The new process of a live upgrade and the DTLS clients that stayed with the old one (their
 * associations are OpenSSL state there): their datagrams arrive on the listen socket this process
 * took over, and go on to the old process over a unix datagram socket it passed, with a header
 * naming the listen socket and the client (upgrade.h). A ClientHello is not forwarded: the
 * client starts over, here. Once the old process has gone, the socket hangs up and the
 * forwarding ends. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "app/upgrade.h"
#include "app/worker_internal.h"
#include "common/log.h"

struct dtls_forwarding {
    struct ev_handler ev; /* the socket to the old process: only its hang-up is read */
    struct worker *w;
    struct htab clients; /* struct stayed by address */
};

struct stayed {
    struct hnode node;
    struct xt_addr client;
    int listen_handle;
    uint32_t listen; /* its position, as the old process knows the socket */
};

static uint32_t addr_hash(const struct xt_addr *a)
{
    return xt_addr_hash(a, 0x6b43a9b5u);
}

static struct stayed *find(const struct dtls_forwarding *f, const struct xt_addr *a)
{
    uint32_t h = addr_hash(a);

    for (struct hnode *n = htab_first(&f->clients, h); n; n = htab_next(n, h)) {
        struct stayed *s = container_of(n, struct stayed, node);
        if (xt_addr_equal(&s->client, a))
            return s;
    }
    return NULL;
}

/* The old process has gone (its last client ended, or its --drain-timeout passed). */
static void on_hangup(struct ev_handler *h, uint32_t events)
{
    struct dtls_forwarding *f = container_of(h, struct dtls_forwarding, ev);

    (void)events;
    xt_log(LOG_INFO, "live upgrade: the previous process has gone; its DTLS clients start over",
           NULL);
    dtls_forward_free(f->w);
}

int dtls_forward_start(struct worker *w, int fd)
{
    struct dtls_forwarding *f = calloc(1, sizeof(*f));
    int rc;

    if (!f || htab_init(&f->clients, 64) != 0) {
        free(f);
        return -ENOMEM;
    }
    f->ev.fd = fd;
    f->ev.cb = on_hangup;
    f->w = w;
    if ((rc = ev_add(w->loop, &f->ev)) != 0) {
        htab_free(&f->clients);
        free(f);
        return rc;
    }
    w->dtls.fwd = f;
    w->dtls.forwarding = true;
    return 0;
}

int dtls_forward_add(struct worker *w, int listen_handle, uint32_t listen,
                     const struct xt_addr *client)
{
    struct stayed *s;

    if (listen_handle < 0 || !w->socks[listen_handle] ||
        w->socks[listen_handle]->kind != WS_DTLS_LISTEN)
        return -EINVAL;
    if (!(s = calloc(1, sizeof(*s))))
        return -ENOMEM;
    s->client = *client;
    s->listen_handle = listen_handle;
    s->listen = listen;
    htab_insert(&w->dtls.fwd->clients, &s->node, addr_hash(client));
    return 0;
}

void dtls_forward_free(struct worker *w)
{
    struct dtls_forwarding *f = w->dtls.fwd;

    if (!f)
        return;
    for (size_t i = 0; i < f->clients.nbuckets; i++)
        while (f->clients.buckets[i]) {
            struct hnode *n = f->clients.buckets[i];
            htab_remove(&f->clients, n);
            free(container_of(n, struct stayed, node));
        }
    htab_free(&f->clients);
    ev_del(w->loop, &f->ev);
    close(f->ev.fd);
    free(f);
    w->dtls.fwd = NULL;
    w->dtls.forwarding = false;
}

void dtls_forward_end(struct worker *w, const struct xt_addr *src)
{
    struct stayed *s = w->dtls.fwd ? find(w->dtls.fwd, src) : NULL;

    if (s) {
        htab_remove(&w->dtls.fwd->clients, &s->node);
        free(s);
    }
}

bool dtls_forwarded(struct worker *w, const struct wsock *ls, const struct xt_addr *src,
                    const uint8_t *dg, size_t len)
{
    struct dtls_forwarding *f = w->dtls.fwd;
    uint8_t head[UPGRADE_FWD_HEADER];
    struct iovec iov[2] = {{head, sizeof(head)}, {(void *)dg, len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
    struct stayed *s;

    if (!f || !(s = find(f, src)) || s->listen_handle != ls->handle ||
        dtls_starts_client_hello(dg, len))
        return false;
    upgrade_fwd_header(head, s->listen, src);
    /* A full socket drops it, as a full network would; a closed one is the hang-up's to see. */
    (void)sendmsg(f->ev.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    return true;
}
