/* The live upgrade, both sides (app/upgrade.h). The old process starts the new binary, pauses
 * its workers once the new one is READY (packets wait in the sockets' buffers), hands over the
 * state and the sockets and goes once the new one says DONE; on any failure it kills the new one
 * and resumes. The new process restores the state into fresh workers that take over the
 * sockets, starts them, then says DONE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/daemon_internal.h"
#include "app/fastpath.h"
#include "app/privileges.h"
#include "app/service.h"
#include "app/upgrade.h"
#include "bpf/xdp_shared.h"
#include "common/clock.h"
#include "common/log.h"
#include "turn/turn_shared.h"

static struct turn_time time_now(void)
{
    return (struct turn_time){.ms = xt_mono_ms(), .unix_s = time(NULL)};
}

/* The XDP program's maps and links join the passed fds: the new process's program uses the
 * same maps (the bindings stay, the kernel relays on), or new ones with the counters carried from
 * these when the layout differs, and takes the links over. */
static int export_xdp(struct fastpath *fp, struct upgrade_manifest *m)
{
    struct xdp_handover *x = &m->xdp;

    if (fastpath_export(fp, x) != 0)
        return -1;
    for (size_t i = 0; i < x->nmaps; i++)
        if ((x->maps[i].fd = upgrade_push_fd(m, x->maps[i].fd)) < 0)
            return -1;
    for (size_t i = 0; i < x->nlinks; i++)
        if ((x->links[i] = upgrade_push_fd(m, x->links[i])) < 0)
            return -1;
    return 0;
}

/* The workers are stopped: nothing changes the state while it is read. */
static int capture(struct daemon *d, struct upgrade_manifest *m)
{
    struct turn_time now = time_now();

    if (turn_snapshot_capture_shared(&m->snap, d->shared, &now) != 0)
        return -1;
    m->snap.xdp_abi = XT_ABI_VERSION;
    if (d->fp && export_xdp(d->fp, m) != 0)
        return -1;
    for (size_t i = 0; i < d->nworkers; i++)
        if (worker_export(d->workers[i], m) != 0)
            return -1;
    return 0;
}

static void resume_workers(struct daemon *d)
{
    for (size_t i = 0; i < d->nworkers; i++) {
        int rc = worker_start(d->workers[i]);
        if (rc != 0)
            xt_log(LOG_ERROR, "cannot restart a worker thread", "error", strerror(-rc), NULL);
    }
}

static void resume(struct daemon *d)
{
    char err[512];

    resume_workers(d);
    if (d->cfg->metrics.family != 0 &&
        !(d->metrics = metrics_start(&d->cfg->metrics, daemon_snapshot, d, err, sizeof(err))))
        xt_log(LOG_ERROR, "cannot restart the metrics endpoint", "error", err, NULL);
}

/* Handed over: the new process serves every client that moved. What could not move (TLS, DTLS
 * and RFC 6062 clients, connections in the middle of a write) is served on here, draining, until
 * it ends or --drain-timeout passes; with nothing of the kind, or no --drain-timeout, this
 * process goes at once. */
static void retire(struct daemon *d, const struct upgrade_child *c,
                   const struct upgrade_manifest *m, size_t len, uint64_t paused_at)
{
    uint64_t stayed;
    int rc = 0;

    for (size_t i = 0; i < d->nworkers && rc == 0; i++)
        rc = worker_retire(d->workers[i]);
    /* The program, its maps and links are the new process's: this one's copies go. */
    fastpath_stop(d->fp);
    d->fp = NULL;
    stayed = turn_shared_allocations(d->shared);
    if (rc == 0 && stayed && d->cfg->drain_timeout_s) {
        d->draining = true;
        d->drain_deadline_ms = xt_mono_ms() + (uint64_t)d->cfg->drain_timeout_s * 1000;
        turn_shared_set_draining(d->shared, true);
        resume_workers(d);
    }
    xt_log(LOG_INFO,
           d->draining ? "live upgrade: handed over, serving what stayed until it ends"
                       : "live upgrade: handed over, exiting",
           XT_NUM("new_pid", c->pid), XT_NUM("allocations_stayed", stayed),
           XT_NUM("sockets", m->nfds), XT_NUM("state_bytes", len),
           XT_NUM("paused_ms", xt_mono_ms() - paused_at), "error", rc ? strerror(-rc) : "",
           XT_NUM("timeout_s", d->draining ? d->cfg->drain_timeout_s : 0), NULL);
}

void daemon_upgrade(struct daemon *d)
{
    struct upgrade_child c = {.pid = 0, .ch = -1};
    struct upgrade_manifest m;
    uint8_t *bytes = NULL;
    size_t len = 0;
    char err[512] = "";
    uint64_t paused_at = 0;

    memset(&m, 0, sizeof(m));
    if (d->draining) {
        xt_log(LOG_ERROR, "live upgrade refused: keeping on serving", "reason", "draining", NULL);
        return;
    }
    /* The previous process's DTLS clients reach it through this one, which could not pass them
     * on: they would be cut off. */
    for (size_t i = 0; i < d->nworkers; i++)
        if (worker_forwarding(d->workers[i])) {
            xt_log(LOG_ERROR, "live upgrade refused: keeping on serving", "reason",
                   "the previous process still serves DTLS clients through this one (until they "
                   "end or its --drain-timeout passes)",
                   NULL);
            return;
        }
    xt_log(LOG_INFO, "live upgrade: starting the new binary", NULL);
    if (upgrade_spawn(&c, err, sizeof(err)) != 0 || upgrade_wait(&c, "READY", err, sizeof(err)))
        goto fail;
    /* The new process binds the metrics address itself. */
    metrics_stop(d->metrics);
    d->metrics = NULL;
    paused_at = xt_mono_ms();
    for (size_t i = 0; i < d->nworkers; i++)
        worker_stop(d->workers[i]);
    if (capture(d, &m) != 0 || upgrade_encode(&m, &bytes, &len) != 0) {
        snprintf(err, sizeof(err), "out of memory capturing the state");
        goto fail;
    }
    if (upgrade_send(&c, bytes, len, m.fds, m.nfds, err, sizeof(err)) != 0 ||
        upgrade_wait(&c, "DONE", err, sizeof(err)) != 0)
        goto fail;
    d->handed_over = true;
    close(c.ch);
    retire(d, &c, &m, len, paused_at);
    goto out;
fail:
    xt_log(LOG_ERROR, "live upgrade failed: keeping on serving", "error", err, NULL);
    upgrade_abort(&c);
    for (size_t i = 0; i < d->nworkers; i++)
        worker_handover_free(d->workers[i]);
    if (paused_at)
        resume(d);
out:
    free(bytes);
    upgrade_manifest_free(&m, false);
}

/* ---- the new process ---- */

static int restore(struct daemon *d, struct worker_deps *deps, struct upgrade_manifest *m,
                   char *err, size_t errlen)
{
    struct turn_time now = time_now();

    if (m->nworkers != d->nworkers) {
        snprintf(err, errlen,
                 "the old process ran %zu workers, this one would run %zu "
                 "(--workers must stay the same)",
                 m->nworkers, d->nworkers);
        return -1;
    }
    if (turn_snapshot_restore_shared(&m->snap, d->shared, &now, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < d->nworkers; i++) {
        struct worker_adopt adopt = {.fds = m->fds + m->workers[i].first_listen,
                                     .n = m->workers[i].nlisten};
        d->workers[i] = worker_new(d->cfg, deps, d->nworkers > 1, &adopt, err, errlen);
        if (!d->workers[i] || worker_restore(d->workers[i], m, i, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* With --xdp: when the old process passed its maps and links (x: them as descriptors), the
 * program loaded on those maps, or on new ones when their layout version is another (the
 * restore binds every channel into them while the old program relays on), to take the links
 * over after the restore; else loaded and attached anew (the old process ran without --xdp). */
static int start_xdp(struct daemon *d, struct worker_deps *deps, const struct upgrade_manifest *m,
                     struct xdp_handover *x, char *err, size_t errlen)
{
    int rc;

    *x = m->xdp;
    x->abi = m->snap.xdp_abi;
    if (d->cfg->nxdp_ifaces == 0)
        return 0;
    /* Started by a process that dropped its privileges: this one cannot load a program, but can
     * take the running one over with its maps, as long as their layout is this build's. */
    x->keep_program = x->nlinks && !privileges_can_load_xdp();
    if (x->keep_program && x->abi != XT_ABI_VERSION) {
        snprintf(err, errlen,
                 "the XDP maps' layout changed (version %u, this build's %u) and this process "
                 "cannot load its program (no CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON: privileges "
                 "were dropped): restart instead",
                 x->abi, XT_ABI_VERSION);
        return -1;
    }
    if (x->keep_program)
        xt_log(LOG_WARN,
               "live upgrade: no privileges to load this build's XDP program; the running one "
               "goes on with its maps (restart to run this build's)",
               NULL);
    else if (x->nlinks && x->abi != XT_ABI_VERSION)
        xt_log(LOG_INFO, "live upgrade: the XDP maps' layout changed, moving to new maps",
               XT_NUM("old_version", x->abi), XT_NUM("version", XT_ABI_VERSION), NULL);
    for (size_t i = 0; i < x->nmaps; i++)
        x->maps[i].fd = m->fds[m->xdp.maps[i].fd];
    for (size_t i = 0; i < x->nlinks; i++)
        x->links[i] = m->fds[m->xdp.links[i]];
    d->fp = fastpath_start(d->cfg, d->loop, x->nlinks ? x : NULL, err, errlen);
    if (!d->fp)
        return -1;
    deps->fp = d->fp;
    rc = daemon_refresh_host_addrs(d);
    if (rc != 0)
        xt_log(LOG_WARN, "cannot read the host's addresses for XDP", "error", strerror(-rc), NULL);
    return 0;
}

/* The links the old process passed run this process's program from now on; they are this
 * process's (not closed with the manifest). Should one fail after others (only its
 * bpf_link_update can), the old process goes on with those running the new program: on the same
 * maps, the same relaying; on new maps (another layout version), bindings its channels no longer
 * change, which this process cannot undo (the old program is not among what it was passed). */
static int adopt_xdp(struct daemon *d, struct upgrade_manifest *m, struct xdp_handover *x,
                     char *err, size_t errlen)
{
    int rc = fastpath_adopt(d->fp, d->cfg, x, err, errlen);

    for (size_t i = 0; i < x->nlinks; i++)
        if (x->links[i] < 0)
            m->fds[m->xdp.links[i]] = -1;
    return rc;
}

int daemon_take_over(struct daemon *d, struct worker_deps *deps, char *err, size_t errlen)
{
    struct upgrade_manifest m;
    struct xdp_handover x;
    uint8_t *bytes = NULL;
    size_t len = 0, nfds = 0;
    int *fds = NULL, rc;
    uint64_t t0;

    if (upgrade_receive(d->upgrade_ch, &bytes, &len, &fds, &nfds, err, errlen) != 0)
        return -1;
    t0 = xt_mono_ms();
    rc = upgrade_decode(bytes, len, nfds, &m, err, errlen);
    free(bytes);
    if (rc != 0) {
        for (size_t i = 0; i < nfds; i++)
            close(fds[i]);
        free(fds);
        return -1;
    }
    m.fds = fds;
    m.nfds = nfds;
    rc = start_xdp(d, deps, &m, &x, err, errlen);
    if (rc == 0)
        rc = restore(d, deps, &m, err, errlen);
    if (rc == 0 && d->fp && x.nlinks)
        rc = adopt_xdp(d, &m, &x, err, errlen);
    /* Giving up: the old process resumes with the bindings restore wrote over (on its maps),
     * which this process's exit must leave. */
    if (rc != 0 && d->fp && x.nlinks)
        fastpath_release(d->fp);
    if (rc == 0)
        xt_log(LOG_INFO, "live upgrade: state taken over",
               XT_NUM("allocations", turn_shared_allocations(d->shared)), XT_NUM("sockets", nfds),
               XT_NUM("state_bytes", len), XT_NUM("skipped_bytes", m.snap.skipped),
               XT_NUM("restore_ms", xt_mono_ms() - t0), NULL);
    upgrade_manifest_free(&m, true);
    return rc;
}

void daemon_took_over(struct daemon *d)
{
    service_ready_main("relaying");
    upgrade_say(d->upgrade_ch, "DONE", NULL);
    close(d->upgrade_ch);
    d->upgrade_ch = -1;
}
