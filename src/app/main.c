/* xturn: a TURN relay. Parses the configuration, runs the daemon, exits 0 after a clean
 * shutdown and 2 on any configuration or start-up error. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app/config.h"
#include "app/daemon.h"
#include "app/public_stun.h"
#include "app/upgrade.h"
#include "common/log.h"
#include "xdp/xdp_stats.h"

/* `xturn stats [--interface IFACE]`: the counters of the running relays' XDP programs (or of
 * the one on IFACE), as JSON lines. */
static int print_stats(int argc, char **argv)
{
    const char *ifname = NULL;
    int n;

    if (argc == 4 && strcmp(argv[2], "--interface") == 0)
        ifname = argv[3];
    else if (argc != 2) {
        fprintf(stderr, "usage: xturn stats [--interface IFACE]\n");
        return 2;
    }
    n = xdp_stats_print_running(stdout, ifname);
    if (n < 0) {
        fprintf(stderr, "xturn stats: %s: %s\n", ifname ? ifname : "cannot list BPF programs",
                strerror(-n));
        return 2;
    }
    if (n == 0) {
        fprintf(stderr, "xturn stats: no xturn XDP program is loaded%s%s\n", ifname ? " on " : "",
                ifname ? ifname : "");
        return 1;
    }
    return 0;
}

/* Secrets given on the command line would show in ps and /proc/PID/cmdline: once parsed, the
 * values of --auth-secret and --user are overwritten in place. */
static void hide_secrets(int argc, char **argv)
{
    static const char *const flags[] = {"--auth-secret", "--user"};
    for (int i = 1; i < argc; i++) {
        for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
            size_t n = strlen(flags[f]);
            char *v = NULL;
            if (strncmp(argv[i], flags[f], n) != 0)
                continue;
            if (argv[i][n] == '=')
                v = argv[i] + n + 1;
            else if (argv[i][n] == '\0' && i + 1 < argc)
                v = argv[i + 1];
            if (v)
                memset(v, 'x', strlen(v));
        }
    }
}

int main(int argc, char **argv)
{
    struct xturn_config cfg;
    struct daemon *d = NULL;
    char err[512];
    int rc = 2, parsed, upgrade_ch;

    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "stats") == 0)
        return print_stats(argc, argv);
    parsed = config_parse(argc, argv, &cfg, err, sizeof(err));
    if (parsed != 0) {
        if (parsed < 0)
            fprintf(stderr, "xturn: %s\n", err);
        config_free(&cfg);
        return parsed > 0 ? 0 : 2;
    }
    /* A live upgrade (SIGUSR2) starts this path again with these arguments, secrets included. */
    upgrade_ch = upgrade_channel(err, sizeof(err));
    if (upgrade_ch == -2 || upgrade_remember(argc, argv, err, sizeof(err)) != 0) {
        fprintf(stderr, "xturn: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    hide_secrets(argc, argv);
    log_setup(cfg.log_level, cfg.log_format);
    if (cfg.log_file && (parsed = log_open_file(cfg.log_file)) != 0) {
        fprintf(stderr, "xturn: --log-file: \"%s\": %s\n", cfg.log_file, strerror(-parsed));
        config_free(&cfg);
        return 2;
    }
    if (public_stun_discover(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "xturn: %s\n", err);
        xt_log(LOG_ERROR, "start-up failed", "error", err, NULL);
        goto out;
    }
    d = daemon_new(&cfg, upgrade_ch, err, sizeof(err));
    if (!d) {
        fprintf(stderr, "xturn: %s\n", err);
        xt_log(LOG_ERROR, "start-up failed", "error", err, NULL);
        /* the old process logs it too, and serves on */
        if (upgrade_ch >= 0) {
            upgrade_say(upgrade_ch, "FAIL", err);
            rc = 1;
        }
        goto out;
    }
    xt_log(LOG_INFO, "xturn started", "version", XTURN_VERSION, "realm", cfg.turn.realm, NULL);
    rc = daemon_run(d);
    if (rc == 1) {
        /* Handed over: every allocation lives on in the new process, which holds the sockets
         * too. Nothing to delete or close here (that would log deletions that did not happen):
         * the kernel closes this process's copies. */
        xt_log(LOG_INFO, "xturn stopped", "reason", "handed over to the new process", NULL);
        _exit(0);
    }
    rc = rc == 0 ? 0 : 1;
out:
    daemon_free(d);
    upgrade_forget();
    config_free(&cfg);
    xt_log(LOG_INFO, "xturn stopped", NULL);
    return rc;
}
