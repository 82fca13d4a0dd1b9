#include "app/daemon_listen.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "common/log.h"
#include "net/tcp_socket.h"
#include "net/udp_socket.h"

/* The workers' listen sockets share their addresses through SO_REUSEPORT, which would as
 * well join a group another program made: make sure nobody holds the addresses first. */
static int check_free(const struct xt_addr *a, bool udp, bool tcp, const char *what, char *err,
                      size_t errlen)
{
    char as[XT_ADDR_STRLEN];
    int rc = udp ? udp_address_free(a) : 0;
    const char *transport = "UDP";

    if (rc == 0 && tcp) {
        rc = tcp_address_free(a);
        transport = "TCP";
    }
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s (%s%s): %s", xt_addr_str(a, as), what, transport,
                 strerror(-rc));
        return -1;
    }
    return 0;
}

int daemon_check_listen_free(const struct xturn_config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->nlisten; i++)
        if (check_free(&cfg->listen[i], true, !cfg->no_tcp, "", err, errlen) != 0)
            return -1;
    for (size_t i = 0; i < cfg->ntls_listen; i++)
        if (check_free(&cfg->tls_listen[i], true, true, "TLS, DTLS: ", err, errlen) != 0)
            return -1;
    return 0;
}

/* Every client connection is a descriptor: take all the kernel allows this process (its soft
 * limit, often 1024, is meant for programs that never need many). */
void daemon_raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            xt_log(LOG_WARN, "cannot raise the file descriptor limit", "error", strerror(errno),
                   NULL);
    }
}

void daemon_log_listening(const struct xturn_config *cfg, size_t nworkers)
{
    char as[XT_ADDR_STRLEN];

    for (size_t i = 0; i < cfg->nlisten; i++)
        xt_log(LOG_INFO, "listening", "address", xt_addr_str(&cfg->listen[i], as), "transport",
               cfg->no_tcp ? "udp" : "udp,tcp", XT_NUM("workers", nworkers), NULL);
    for (size_t i = 0; i < cfg->ntls_listen; i++)
        xt_log(LOG_INFO, "listening", "address", xt_addr_str(&cfg->tls_listen[i], as), "transport",
               "tls,tcp,dtls", XT_NUM("workers", nworkers), NULL);
}
