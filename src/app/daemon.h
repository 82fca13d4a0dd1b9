/* The running relay: listen and relay sockets in an epoll loop, feeding the TURN core. */
#ifndef XTURN_APP_DAEMON_H
#define XTURN_APP_DAEMON_H

#include "app/config.h"
#include "app/snapshot.h"

struct daemon;

/* Opens the listen sockets and creates the TURN core; with upgrade_ch >= 0 (the new process of a
 * live upgrade, app/upgrade.h), takes over the old process's sockets and state through that
 * channel instead (daemon_run closes it once it said DONE; a failure is the caller's to
 * report there). On failure, returns NULL with a one-line reason in
 * err. */
struct daemon *daemon_new(const struct xturn_config *cfg, int upgrade_ch, char *err, size_t errlen);
/* Runs until SIGINT or SIGTERM, or until SIGUSR2 handed over to a new process. Returns 0, 1 when
 * handed over (the caller exits at once, freeing nothing: the state lives on in the new
 * process), or -1 on a fatal loop error (logged). */
int daemon_run(struct daemon *d);
/* Everything the metrics endpoint shows; callable from any thread (a snapshot_fn). */
void daemon_snapshot(void *d, struct xturn_snapshot *out);
/* Deletes all allocations, closes every socket. */
void daemon_free(struct daemon *d);

#endif
