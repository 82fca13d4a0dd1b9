/* Dropping root after start-up: switch to an unprivileged user and group, keeping only the
 * capabilities the running relay still needs. */
#ifndef XTURN_APP_PRIVILEGES_H
#define XTURN_APP_PRIVILEGES_H

#include <stdbool.h>
#include <stddef.h>

#include "app/config.h"

/* What the running daemon needs after start-up (bits of `keep`). */
enum {
    /* XDP is attached: CAP_BPF only on kernels that refuse every bpf() command without it
     * (before 6.5, with kernel.unprivileged_bpf_disabled set): map updates through the fds
     * already held need no capability elsewhere. Not CAP_NET_ADMIN: the program is attached
     * through BPF links, which detach it when the process closes them, capability or not. */
    PRIV_KEEP_XDP = 1u << 0,
    /* Relay sockets (--relay-ports) or the metrics endpoint (--metrics, started after the
     * drop) may bind ports below 1024: CAP_NET_BIND_SERVICE. */
    PRIV_KEEP_LOW_PORTS = 1u << 1,
};

/* Whether the process may load and attach an XDP program (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON,
 * or CAP_SYS_ADMIN for the first and the last): not after privileges_drop. */
bool privileges_can_load_xdp(void);

/* The keep bits for this configuration. */
unsigned privileges_needed(const struct xturn_config *cfg);

/* Call once every listen socket is bound and XDP is attached, and before any thread is
 * started (capabilities are per thread; the call fails if the process has several threads).
 *
 * With user: resolves user (name, or a number with a passwd entry) and group (default: the
 * user's primary group; root and gid 0 are refused), then, keeping the capabilities `keep`
 * asks for (and the process holds): drops every other capability from the bounding set,
 * sets the supplementary groups to just that group, switches real, effective and saved gid and
 * uid, and sets permitted = effective = inheritable = ambient = the kept set (the binary a live
 * upgrade starts keeps it).
 * Without user (NULL): the capability part only, for a daemon already started as its user with
 * capabilities (systemd's AmbientCapabilities=).
 * Either way sets no_new_privs, then verifies: the capability sets are exactly the kept ones and,
 * with user, setuid(0) and setgid(0) fail. Logs "privileges dropped" at info.
 * Returns 0, or -1 with a one-line reason in err (the process must then exit: it may be half
 * way). */
int privileges_drop(const char *user, const char *group, unsigned keep, char *err, size_t errlen);

#endif
