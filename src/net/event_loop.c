#include "net/event_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define EV_BATCH 64

struct ev_loop {
    int epfd;
};

struct ev_loop *ev_loop_new(void)
{
    struct ev_loop *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    return l;
}

void ev_loop_free(struct ev_loop *l)
{
    if (!l)
        return;
    close(l->epfd);
    free(l);
}

int ev_add(struct ev_loop *l, struct ev_handler *h)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = h};
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, h->fd, &ev) == 0 ? 0 : -errno;
}

int ev_watch_write(struct ev_loop *l, struct ev_handler *h, bool on)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0), .data.ptr = h};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, h->fd, &ev) == 0 ? 0 : -errno;
}

int ev_watch_edge(struct ev_loop *l, struct ev_handler *h)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = h};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, h->fd, &ev) == 0 ? 0 : -errno;
}

void ev_del(struct ev_loop *l, struct ev_handler *h)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, h->fd, NULL);
}

int ev_run_once(struct ev_loop *l, int timeout_ms)
{
    struct epoll_event evs[EV_BATCH];
    int n = epoll_wait(l->epfd, evs, EV_BATCH, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        struct ev_handler *h = evs[i].data.ptr;
        h->cb(h, evs[i].events);
    }
    return n;
}
