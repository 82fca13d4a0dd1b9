/* What the daemon does before its workers open the listen sockets: makes sure nobody else holds
 * the addresses, and takes all the descriptors the kernel allows for the connections to come;
 * then says where it listens. */
#ifndef XTURN_APP_DAEMON_LISTEN_H
#define XTURN_APP_DAEMON_LISTEN_H

#include <stddef.h>

#include "app/config.h"

/* 0 if every --listen and --tls-listen address is free for each transport it serves, else -1
 * with the first one taken in err. */
int daemon_check_listen_free(const struct xturn_config *cfg, char *err, size_t errlen);
/* Raises the soft limit of open descriptors to the hard one; a failure is logged. */
void daemon_raise_fd_limit(void);
/* One log line per listen address, with its transports and the workers sharing it. */
void daemon_log_listening(const struct xturn_config *cfg, size_t nworkers);

#endif
