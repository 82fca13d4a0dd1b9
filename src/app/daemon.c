#include "app/daemon.h"

#include <errno.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "app/daemon_internal.h"
#include "app/daemon_listen.h"
#include "app/fastpath.h"
#include "app/metrics.h"
#include "app/openssl_random.h"
#include "app/privileges.h"
#include "app/service.h"
#include "app/worker.h"
#include "common/clock.h"
#include "common/container_of.h"
#include "common/log.h"
#include "net/event_loop.h"
#include "net/host_addrs.h"
#include "net/route_watch.h"
#include "turn/turn_shared.h"

/* SIGTERM with --drain-timeout: stop granting allocations, relay on until they end or the time
 * is up. A second SIGTERM, or SIGINT, stops at once. */
static void begin_drain(struct daemon *d)
{
    d->draining = true;
    d->drain_deadline_ms = xt_mono_ms() + (uint64_t)d->cfg->drain_timeout_s * 1000;
    turn_shared_set_draining(d->shared, true);
    service_stopping(); /* systemd: draining counts as stopping */
    xt_log(LOG_INFO, "draining: no new allocations, relaying until the existing ones end",
           XT_NUM("allocations", turn_shared_allocations(d->shared)),
           XT_NUM("timeout_s", d->cfg->drain_timeout_s), NULL);
}

/* SIGHUP: the TLS certificate and key for new connections (established ones keep theirs); a bad
 * file keeps the old ones. */
static void reload_tls(struct daemon *d)
{
    char err[512];

    if (!d->tls)
        return;
    if (tls_server_reload(d->tls, err, sizeof(err)) != 0)
        xt_log(LOG_ERROR, "TLS reload failed: keeping the certificate in use", "error", err, NULL);
    else
        xt_log(LOG_INFO, "reloaded: TLS certificate and key", "cert", d->cfg->tls_cert, "key",
               d->cfg->tls_key, NULL);
}

/* SIGHUP: the secret file again (rotation without dropping allocations), the log file and the
 * TLS certificate. */
static void reload(struct daemon *d)
{
    const struct xturn_config *cfg = d->cfg;
    char **secrets = NULL, err[512];
    size_t nsecrets = 0;

    if (cfg->log_file && log_open_file(cfg->log_file) != 0)
        xt_log(LOG_ERROR, "cannot reopen the log file", "file", cfg->log_file, NULL);
    reload_tls(d);
    if (!cfg->auth_secret_file) {
        xt_log(LOG_INFO, "reloaded (no secret file to re-read)", NULL);
        return;
    }
    /* The flags' secrets first, then the file's, as at start. */
    for (size_t i = 0; i < cfg->nflag_secrets; i++)
        if (config_push_secret(&secrets, &nsecrets, cfg->turn.secrets[i]) != 0)
            goto fail_oom;
    if (config_read_secret_file(cfg->auth_secret_file, &secrets, &nsecrets, err, sizeof(err)) !=
        0) {
        xt_log(LOG_ERROR, "reload failed: secrets unchanged", "error", err, NULL);
        goto out;
    }
    if (turn_shared_set_secrets(d->shared, secrets, nsecrets) != 0)
        goto fail_oom;
    xt_log(LOG_INFO, "reloaded: secrets re-read", "file", cfg->auth_secret_file,
           XT_NUM("secrets", nsecrets), NULL);
    goto out;
fail_oom:
    xt_log(LOG_ERROR, "reload failed: out of memory; secrets unchanged", NULL);
out:
    config_free_secrets(secrets, nsecrets);
}

/* The host's addresses are "self" for the peer policy (src/turn/turn_self.c) and martian sources
 * for XDP, read at start and again whenever one comes or goes. On failure the previous set
 * stays. */
int daemon_refresh_host_addrs(struct daemon *d)
{
    struct xt_addr *addrs;
    size_t n;
    int rc = host_addrs_read(&addrs, &n);

    if (rc == 0 && turn_shared_set_host_addrs(d->shared, addrs, n) != 0)
        rc = -ENOMEM;
    if (rc == 0 && d->fp)
        fastpath_host_addrs(d->fp, addrs, n);
    if (rc == 0)
        xt_log(LOG_DEBUG, "host addresses read", XT_NUM("addresses", n), NULL);
    free(addrs);
    return rc;
}

static void on_netlink(struct ev_handler *h, uint32_t events)
{
    struct daemon *d = container_of(h, struct daemon, netwatch);
    int what = route_watch_drain(h->fd), rc;

    (void)events;
    /* A failed read may have lost an event: act as if everything changed. */
    if (what < 0) {
        xt_log(LOG_WARN, "reading rtnetlink notifications failed", "error", strerror(-what), NULL);
        what = ROUTE_WATCH_CHANGED | ROUTE_WATCH_ADDRESSES;
    }
    if ((what & ROUTE_WATCH_ADDRESSES) && (rc = daemon_refresh_host_addrs(d)) != 0)
        xt_log(LOG_ERROR, "cannot read the host's addresses: the previous ones stay", "error",
               strerror(-rc), NULL);
    if (what && d->fp)
        fastpath_routes_changed(d->fp);
}

/* Opened before the addresses are first read, so no change between the two is missed. */
static int watch_netlink(struct daemon *d, char *err, size_t errlen)
{
    int rc = route_watch_open();

    if (rc < 0) {
        snprintf(err, errlen, "cannot watch the host's addresses and routes (rtnetlink): %s",
                 strerror(-rc));
        return -1;
    }
    d->netwatch.fd = rc;
    d->netwatch.cb = on_netlink;
    rc = ev_add(d->loop, &d->netwatch);
    if (rc == 0)
        rc = daemon_refresh_host_addrs(d);
    if (rc != 0) {
        snprintf(err, errlen, "cannot read the host's addresses: %s", strerror(-rc));
        return -1;
    }
    return 0;
}

static void on_signal(struct ev_handler *h, uint32_t events)
{
    struct daemon *d = container_of(h, struct daemon, sig);
    struct signalfd_siginfo si;
    (void)events;
    while (read(h->fd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP)
            reload(d);
        else if (si.ssi_signo == SIGUSR2) {
            daemon_upgrade(d);
            /* Unless what could not move is served on here, draining. */
            if (d->handed_over && !d->draining)
                d->stop_signal = SIGUSR2;
        } else if (si.ssi_signo == SIGTERM && d->cfg->drain_timeout_s && !d->draining)
            begin_drain(d);
        else
            d->stop_signal = (int)si.ssi_signo;
    }
}

/* Blocked in every thread (workers inherit the mask) and read here through a signalfd, so
 * shutdown happens between batches, never inside one. */
static int open_signals(struct daemon *d, char *err, size_t errlen)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR2);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
        (d->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        snprintf(err, errlen, "cannot set up signal handling: %s", strerror(errno));
        return -1;
    }
    d->sig.cb = on_signal;
    if (ev_add(d->loop, &d->sig) != 0) {
        snprintf(err, errlen, "cannot watch signals: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static size_t worker_count(const struct xturn_config *cfg)
{
    long n = cfg->workers ? (long)cfg->workers : sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

struct daemon *daemon_new(const struct xturn_config *cfg, int upgrade_ch, char *err, size_t errlen)
{
    struct daemon *d = calloc(1, sizeof(*d));
    struct worker_deps deps;

    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->cfg = cfg;
    d->sig.fd = -1;
    d->netwatch.fd = -1;
    d->upgrade_ch = upgrade_ch;
    d->start_time_unix = time(NULL);
    daemon_raise_fd_limit();
    d->loop = ev_loop_new();
    if (!d->loop) {
        snprintf(err, errlen, "cannot create the event loop: %s", strerror(errno));
        goto fail;
    }
    /* A live upgrade's listen sockets are the old process's: in use, and taken over. */
    if (open_signals(d, err, errlen) != 0 ||
        (upgrade_ch < 0 && daemon_check_listen_free(cfg, err, errlen) != 0))
        goto fail;
    /* The fast path is in place before the first client can reach a listen socket; a live
     * upgrade's once the previous process's maps are here (daemon_take_over). */
    if (upgrade_ch < 0 && !(d->fp = fastpath_start(cfg, d->loop, NULL, err, errlen)) && err[0])
        goto fail;
    d->shared = turn_shared_new(&cfg->turn, &openssl_random);
    d->conn_limits = conn_limits_new(cfg->max_stream_conns, cfg->max_stream_conns_per_ip,
                                     WORKER_STREAM_PARTIAL_BUDGET);
    d->nworkers = worker_count(cfg);
    d->workers = calloc(d->nworkers, sizeof(*d->workers));
    if (!d->shared || !d->conn_limits || !d->workers) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (watch_netlink(d, err, errlen) != 0)
        goto fail;
    if (cfg->ntls_listen && !(d->tls = tls_server_new(cfg->tls_cert, cfg->tls_key, err, errlen)))
        goto fail;
    deps = (struct worker_deps){
        .shared = d->shared, .fp = d->fp, .limits = d->conn_limits, .tls = d->tls};
    if (upgrade_ch >= 0 && daemon_take_over(d, &deps, err, errlen) != 0)
        goto fail;
    for (size_t i = 0; upgrade_ch < 0 && i < d->nworkers; i++) {
        d->workers[i] = worker_new(cfg, &deps, d->nworkers > 1, NULL, err, errlen);
        if (!d->workers[i])
            goto fail;
    }
    daemon_log_listening(cfg, d->nworkers);
    /* Privileges (app/privileges.h): XDP is attached and every listen socket bound; no thread
     * runs yet (capabilities are per thread). As root only with --run-as-user; started without
     * root (systemd's User= with AmbientCapabilities=), trims the capabilities all the same. */
    if (cfg->run_as_user || geteuid() != 0) {
        unsigned keep = privileges_needed(cfg);
        if (privileges_drop(cfg->run_as_user, cfg->run_as_group, keep, err, errlen) != 0)
            goto fail;
    }
    /* Metrics endpoint (app/metrics.h): after the privilege drop, so its thread holds none. */
    if (cfg->metrics.family != 0) {
        d->metrics = metrics_start(&cfg->metrics, daemon_snapshot, d, err, errlen);
        if (!d->metrics)
            goto fail;
    }
    return d;
fail:
    daemon_free(d);
    return NULL;
}

static void sum_counters(struct daemon *d, struct worker_counters *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (size_t i = 0; i < d->nworkers; i++) {
        struct worker_counters c;
        worker_counters(d->workers[i], &c);
        for (int t = 0; t < TURN_TRANSPORT_COUNT; t++) {
            turn_counters_add(&sum->turn[t], &c.turn[t]);
            stream_counters_add(&sum->streams[t], &c.streams[t]);
        }
        sum->send_failures += c.send_failures;
        sum->oversized += c.oversized;
    }
}

void daemon_snapshot(void *ctx, struct xturn_snapshot *out)
{
    struct daemon *d = ctx;
    struct worker_counters c;
    const struct turn_config *t = &d->cfg->turn;

    memset(out, 0, sizeof(*out));
    out->start_time_unix = d->start_time_unix;
    out->draining = d->draining;
    out->workers = (uint32_t)d->nworkers;
    sum_counters(d, &c);
    memcpy(out->turn, c.turn, sizeof(out->turn));
    memcpy(out->streams, c.streams, sizeof(out->streams));
    out->transport_on[TURN_UDP] = true;
    out->transport_on[TURN_TCP] = !d->cfg->no_tcp || d->cfg->ntls_listen;
    out->transport_on[TURN_TLS] = d->cfg->ntls_listen > 0;
    out->transport_on[TURN_DTLS] = d->cfg->ntls_listen > 0;
    out->send_failures = c.send_failures;
    out->oversized = c.oversized;
    out->relay_ports_total = (uint32_t)t->relay_port_hi - t->relay_port_lo + 1;
    out->relay_family[0] = t->relay_v4.family != 0;
    out->relay_family[1] = t->relay_v6.family != 0;
    turn_shared_lock(d->shared);
    for (int fam = 0; fam < 2; fam++)
        out->relay_ports_free[fam] = turn_shared_ports_free(d->shared, fam);
    turn_shared_unlock(d->shared);
    if (d->fp)
        fastpath_snapshot(d->fp, out);
}

static void log_stats(struct daemon *d)
{
    struct worker_counters c;
    struct turn_counters all = {0};
    uint64_t conns = 0;
    sum_counters(d, &c);
    for (int t = 0; t < TURN_TRANSPORT_COUNT; t++) {
        turn_counters_add(&all, &c.turn[t]);
        conns += c.streams[t].open;
    }
    xt_log(LOG_INFO, "stats", XT_NUM("allocations", all.allocations),
           XT_NUM("permissions", turn_counters_permissions(&all)),
           XT_NUM("channels", turn_counters_channels(&all)),
           XT_NUM("to_peer_packets", turn_counters_relayed(&all, TURN_TO_PEER)),
           XT_NUM("to_client_packets", turn_counters_relayed(&all, TURN_TO_CLIENT)),
           XT_NUM("dropped_packets", turn_counters_dropped(&all)),
           XT_NUM("stream_connections", conns), XT_NUM("send_failures", c.send_failures),
           XT_NUM("oversized_datagrams", c.oversized), NULL);
    if (d->fp)
        fastpath_log_stats(d->fp);
}

int daemon_run(struct daemon *d)
{
    uint64_t next_stats = xt_mono_ms() + STATS_INTERVAL_MS;
    int rc = 0;

    for (size_t i = 0; i < d->nworkers; i++) {
        int err = worker_start(d->workers[i]);
        if (err) {
            xt_log(LOG_ERROR, "cannot start a worker thread", "error", strerror(-err), NULL);
            d->stop_signal = SIGTERM;
            rc = -1;
        }
    }
    /* systemd (app/service.h): ready once the workers run; watchdog pings from this loop. */
    uint64_t watchdog_ms = service_watchdog_interval_ms(), next_watchdog = 0;
    if (rc == 0 && d->upgrade_ch >= 0)
        daemon_took_over(d);
    else if (rc == 0)
        service_ready("relaying");
    while (!d->stop_signal) {
        int n = ev_run_once(d->loop, 1000);
        uint64_t t = xt_mono_ms();
        if (n < 0) {
            xt_log(LOG_ERROR, "event loop failed", "error", strerror(-n), NULL);
            rc = -1;
            break;
        }
        if (d->fp) {
            struct worker_counters c;
            fastpath_tick(d->fp, t);
            sum_counters(d, &c);
            /* Only UDP clients' datagrams can be translated by XDP. */
            fastpath_note_cross_family(d->fp, turn_counters_cross_family(&c.turn[TURN_UDP]), t);
        }
        if (watchdog_ms && t >= next_watchdog && !d->handed_over) {
            service_watchdog_ping();
            next_watchdog = t + watchdog_ms;
        }
        if (t >= next_stats) {
            log_stats(d);
            next_stats = t + STATS_INTERVAL_MS;
        }
        if (d->draining && !d->stop_signal) {
            if (turn_shared_allocations(d->shared) == 0) {
                xt_log(LOG_INFO, "drained: no allocation left", NULL);
                d->stop_signal = SIGTERM;
            } else if (t >= d->drain_deadline_ms) {
                xt_log(LOG_INFO, "drain timeout: stopping with allocations left", NULL);
                d->stop_signal = SIGTERM;
            }
        }
    }
    /* Handed over: systemd follows the new process, which serves on. */
    if (!d->handed_over)
        service_stopping();
    if (d->stop_signal && !d->handed_over)
        xt_log(LOG_INFO, "shutting down", "signal", strsignal(d->stop_signal), NULL);
    for (size_t i = 0; i < d->nworkers; i++)
        worker_stop(d->workers[i]);
    log_stats(d);
    return d->handed_over ? 1 : rc;
}

void daemon_free(struct daemon *d)
{
    if (!d)
        return;
    metrics_stop(d->metrics); /* first: its thread reads the workers and the fast path */
    for (size_t i = 0; i < d->nworkers && d->workers; i++) {
        worker_stop(d->workers[i]);
        worker_free(d->workers[i]);
    }
    free(d->workers);
    conn_limits_free(d->conn_limits);
    tls_server_free(d->tls);
    turn_shared_free(d->shared);
    fastpath_stop(d->fp);
    if (d->netwatch.fd >= 0)
        close(d->netwatch.fd);
    if (d->sig.fd >= 0)
        close(d->sig.fd);
    ev_loop_free(d->loop);
    free(d);
}
