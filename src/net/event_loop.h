/* A small epoll loop: file descriptors with callbacks, and a stop flag. */
#ifndef XTURN_NET_EVENT_LOOP_H
#define XTURN_NET_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct ev_loop;
struct ev_handler;
typedef void (*ev_cb)(struct ev_handler *h, uint32_t events);

struct ev_handler {
    int fd;
    ev_cb cb;
};

struct ev_loop *ev_loop_new(void);
void ev_loop_free(struct ev_loop *l);
/* Watches h->fd for readability; h must stay valid until ev_del. Returns 0 or -errno. */
int ev_add(struct ev_loop *l, struct ev_handler *h);
void ev_del(struct ev_loop *l, struct ev_handler *h);
/* Also watches h->fd for writability (on), or no longer (off). Returns 0 or -errno. */
int ev_watch_write(struct ev_loop *l, struct ev_handler *h, bool on);
/* Watches h->fd edge-triggered for reading and writing both (EPOLLET): the callback is called
 * when either becomes possible again, so it reads or writes until EAGAIN, or remembers that it
 * did not. Returns 0 or -errno. */
int ev_watch_edge(struct ev_loop *l, struct ev_handler *h);
/* Waits up to timeout_ms and dispatches what is ready. Returns the number of events or -errno
 * (EINTR is reported as 0). */
int ev_run_once(struct ev_loop *l, int timeout_ms);

#endif
