/* systemd integration: readiness, status, stopping and watchdog notifications (sd_notify).
 * Every call is a no-op when the daemon was not started by a service manager that listens for
 * them (NOTIFY_SOCKET unset), so the daemon calls them unconditionally. */
#ifndef XTURN_APP_SERVICE_H
#define XTURN_APP_SERVICE_H

#include <stdint.h>

/* READY=1 with STATUS=status (may be NULL): the relay serves. Call once the listen sockets are
 * bound and the workers run. */
void service_ready(const char *status);
/* MAINPID=this pid and READY=1, with STATUS=status: a live upgrade's new process, which systemd
 * follows from now on (NotifyAccess=all lets it tell). */
void service_ready_main(const char *status);
/* STATUS=status: a one-line, human-readable state (shown by `systemctl status`; a newline in it
 * becomes a blank). */
void service_status(const char *status);
/* STOPPING=1: shutdown (or draining) has begun. */
void service_stopping(void);
/* The interval at which the watchdog wants WATCHDOG=1, in milliseconds: half the manager's
 * WatchdogSec=, as sd_watchdog_enabled(3) recommends. 0 when there is no watchdog. */
uint64_t service_watchdog_interval_ms(void);
/* WATCHDOG=1: the main loop is alive. */
void service_watchdog_ping(void);

#endif
