/* xturn: a TURN relay. Parses the configuration, runs the daemon, exits 0 after a clean
 * shutdown and 2 on any configuration or start-up error. */
#include <signal.h>
#include <stdio.h>

#include "app/config.h"
#include "app/daemon.h"
#include "common/log.h"

int main(int argc, char **argv)
{
    struct xturn_config cfg;
    struct daemon *d = NULL;
    char err[512];
    int rc = 2, parsed;

    signal(SIGPIPE, SIG_IGN);
    parsed = config_parse(argc, argv, &cfg, err, sizeof(err));
    if (parsed != 0) {
        if (parsed < 0)
            fprintf(stderr, "xturn: %s\n", err);
        config_free(&cfg);
        return parsed > 0 ? 0 : 2;
    }
    log_setup(cfg.log_level, cfg.log_format);
    d = daemon_new(&cfg, err, sizeof(err));
    if (!d) {
        fprintf(stderr, "xturn: %s\n", err);
        xt_log(LOG_ERROR, "start-up failed", "error", err, NULL);
        goto out;
    }
    xt_log(LOG_INFO, "xturn started", "version", XTURN_VERSION, "realm", cfg.turn.realm, NULL);
    rc = daemon_run(d) == 0 ? 0 : 1;
out:
    daemon_free(d);
    config_free(&cfg);
    xt_log(LOG_INFO, "xturn stopped", NULL);
    return rc;
}
