#include "app/privileges.h"

#include <errno.h>
#include <grp.h>
#include <linux/bpf.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"

#define NAME_BUF 16384 /* getpwnam_r/getgrnam_r scratch: large groups have long member lists */

unsigned privileges_needed(const struct xturn_config *cfg)
{
    unsigned keep = 0;

    if (cfg->nxdp_ifaces > 0)
        keep |= PRIV_KEEP_XDP;
    /* Relay sockets are opened by the workers while they run (listen sockets are bound before
     * the drop). */
    if (cfg->turn.relay_port_lo < 1024)
        keep |= PRIV_KEEP_LOW_PORTS;
    /* The metrics endpoint runs on its own thread, so it starts after the drop. */
    if (cfg->metrics.family != 0 && cfg->metrics.port < 1024)
        keep |= PRIV_KEEP_LOW_PORTS;
    return keep;
}

static bool parse_id(const char *s, unsigned long *out)
{
    char *end;

    if (!*s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return errno == 0 && *end == '\0' && *out < (unsigned long)(uid_t)-1;
}

static int resolve_user(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
    static char buf[NAME_BUF];
    struct passwd pw, *res = NULL;
    unsigned long n;
    int rc;

    rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
    if (!res && rc == 0 && parse_id(user, &n))
        rc = getpwuid_r((uid_t)n, &pw, buf, sizeof(buf), &res);
    if (!res) {
        snprintf(err, errlen, "--run-as-user: \"%s\": %s", user,
                 rc ? strerror(rc) : "no such user");
        return -1;
    }
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    return 0;
}

static int resolve_group(const char *group, gid_t *gid, char *err, size_t errlen)
{
    static char buf[NAME_BUF];
    struct group gr, *res = NULL;
    unsigned long n;
    int rc;

    rc = getgrnam_r(group, &gr, buf, sizeof(buf), &res);
    if (res) {
        *gid = gr.gr_gid;
        return 0;
    }
    if (rc == 0 && parse_id(group, &n)) { /* a bare gid needs no group entry */
        *gid = (gid_t)n;
        return 0;
    }
    snprintf(err, errlen, "--run-as-group: \"%s\": %s", group, rc ? strerror(rc) : "no such group");
    return -1;
}

/* Capabilities are per thread: a thread started before the drop would keep them all. */
static int thread_count(void)
{
    char line[128];
    int n = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

static bool holds(cap_t caps, cap_value_t c)
{
    cap_flag_value_t v = CAP_CLEAR;
    return CAP_IS_SUPPORTED(c) && cap_get_flag(caps, c, CAP_PERMITTED, &v) == 0 && v == CAP_SET;
}

bool privileges_can_load_xdp(void)
{
    cap_t caps = cap_get_proc();
    bool admin, ok;

    if (!caps)
        return false;
    admin = holds(caps, CAP_SYS_ADMIN);
    ok = (admin || holds(caps, CAP_BPF)) && holds(caps, CAP_NET_ADMIN) &&
         (admin || holds(caps, CAP_PERFMON));
    cap_free(caps);
    return ok;
}

/* Before Linux 6.5, with kernel.unprivileged_bpf_disabled set, every bpf() command needs CAP_BPF
 * (or CAP_SYS_ADMIN), even a map update through an fd the process holds; later kernels check
 * capabilities only where objects are created. Asked of the kernel directly: a lookup on fd -1
 * with neither capability effective fails with EPERM on the former and EBADF on the latter. */
static bool bpf_needs_cap(cap_t held)
{
    const cap_value_t bpf_caps[] = {CAP_BPF, CAP_SYS_ADMIN};
    cap_t probe = cap_dup(held);
    union bpf_attr attr;
    bool needs = true; /* when in doubt, keep it */
    long rc;

    if (!probe)
        return true;
    if (cap_set_flag(probe, CAP_EFFECTIVE, 2, bpf_caps, CAP_CLEAR) == 0 &&
        cap_set_proc(probe) == 0) {
        memset(&attr, 0, sizeof(attr));
        attr.map_fd = (__u32)-1;
        rc = syscall(SYS_bpf, BPF_MAP_LOOKUP_ELEM, &attr, sizeof(attr));
        needs = rc < 0 && errno == EPERM;
        (void)cap_set_proc(held);
    }
    cap_free(probe);
    return needs;
}

/* "cap_bpf,cap_net_bind_service", or "none". */
static void caps_text(const cap_value_t *v, int n, char *out, size_t len)
{
    size_t used = 0;

    out[0] = '\0';
    for (int i = 0; i < n && used < len; i++) {
        char *name = cap_to_name(v[i]);
        used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "", name ? name : "?");
        cap_free(name);
    }
    if (n == 0)
        snprintf(out, len, "none");
}

/* Removes every capability but keep[] from the bounding set (needs CAP_SETPCAP, which only root
 * has here; without it the bounding set is left to whoever started us, e.g. systemd's
 * CapabilityBoundingSet=). */
static int drop_bounding(cap_t held, const cap_value_t *keep, int nkeep, char *err, size_t errlen)
{
    if (!holds(held, CAP_SETPCAP))
        return 0;
    for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
        bool kept = false;
        for (int i = 0; i < nkeep; i++)
            kept |= keep[i] == c;
        if (!kept && cap_get_bound(c) == 1 && cap_drop_bound(c) != 0) {
            char *name = cap_to_name(c);
            snprintf(err, errlen, "cannot drop %s from the bounding set: %s", name ? name : "?",
                     strerror(errno));
            cap_free(name);
            return -1;
        }
    }
    return 0;
}

static int switch_ids(uid_t uid, gid_t gid, char *err, size_t errlen)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg;

    if (getresuid(&ru, &eu, &su) == 0 && getresgid(&rg, &eg, &sg) == 0 && ru == uid && eu == uid &&
        su == uid && rg == gid && eg == gid && sg == gid)
        return 0; /* started as that user already */
    /* Keep the permitted set across the uid change; the final capset trims it. */
    if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0) {
        snprintf(err, errlen, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
        return -1;
    }
    if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0) {
        snprintf(err, errlen, "cannot switch to group %u: %s", (unsigned)gid, strerror(errno));
        return -1;
    }
    if (setresuid(uid, uid, uid) != 0) {
        snprintf(err, errlen, "cannot switch to user %u: %s", (unsigned)uid, strerror(errno));
        return -1;
    }
    (void)prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
    return 0;
}

/* The process holds exactly keep[] (permitted, effective, inheritable and ambient) and, after a
 * user switch, cannot become root again. */
static int verify(const cap_value_t *keep, int nkeep, bool switched, char *err, size_t errlen)
{
    cap_t want = cap_init(), now = cap_get_proc();
    int rc = 0;

    if (!want || !now ||
        (nkeep && (cap_set_flag(want, CAP_PERMITTED, nkeep, keep, CAP_SET) != 0 ||
                   cap_set_flag(want, CAP_EFFECTIVE, nkeep, keep, CAP_SET) != 0 ||
                   cap_set_flag(want, CAP_INHERITABLE, nkeep, keep, CAP_SET) != 0))) {
        snprintf(err, errlen, "cannot read the capabilities back: %s", strerror(errno));
        rc = -1;
    } else if (cap_compare(want, now) != 0) {
        char *t = cap_to_text(now, NULL);
        snprintf(err, errlen, "capabilities are \"%s\" after the drop", t ? t : "?");
        cap_free(t);
        rc = -1;
    }
    for (cap_value_t c = 0; rc == 0 && c < (cap_value_t)cap_max_bits(); c++) {
        bool kept = false;
        for (int i = 0; i < nkeep; i++)
            kept |= keep[i] == c;
        if ((cap_get_ambient(c) == 1) != kept) {
            snprintf(err, errlen, "the ambient capabilities are not the kept ones after the drop");
            rc = -1;
        }
    }
    if (rc == 0 && switched && (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)) {
        snprintf(err, errlen, "the process could become root again after the drop");
        rc = -1;
    }
    cap_free(want);
    cap_free(now);
    return rc;
}

int privileges_drop(const char *user, const char *group, unsigned keep_bits, char *err,
                    size_t errlen)
{
    cap_value_t keep[2];
    int nkeep = 0, threads;
    uid_t uid = 0;
    gid_t gid = 0;
    cap_t held = NULL, want = NULL;
    char kept[128];
    int rc = -1;

    err[0] = '\0';
    threads = thread_count();
    if (threads > 1) {
        snprintf(err, errlen, "cannot drop privileges: %d threads already run", threads);
        return -1;
    }
    if (user) {
        if (resolve_user(user, &uid, &gid, err, errlen) != 0 ||
            (group && resolve_group(group, &gid, err, errlen) != 0))
            return -1;
        if (uid == 0 || gid == 0) {
            snprintf(err, errlen, "--run-as-user/--run-as-group: refusing to run as root (%s 0)",
                     uid == 0 ? "uid" : "gid");
            return -1;
        }
    }
    held = cap_get_proc();
    want = cap_init();
    if (!held || !want) {
        snprintf(err, errlen, "cannot read capabilities: %s", strerror(errno));
        goto out;
    }
    /* Keep only what is held: a capability the process lacks cannot be needed later either
     * (start-up, which needed it, is over). */
    if ((keep_bits & PRIV_KEEP_XDP) && holds(held, CAP_BPF) && bpf_needs_cap(held))
        keep[nkeep++] = CAP_BPF;
    if ((keep_bits & PRIV_KEEP_LOW_PORTS) && holds(held, CAP_NET_BIND_SERVICE))
        keep[nkeep++] = CAP_NET_BIND_SERVICE;

    if (drop_bounding(held, keep, nkeep, err, errlen) != 0)
        goto out;
    if (user && switch_ids(uid, gid, err, errlen) != 0)
        goto out;
    /* Inheritable and ambient too: the binary a live upgrade starts runs with the same set. */
    if (nkeep && (cap_set_flag(want, CAP_PERMITTED, nkeep, keep, CAP_SET) != 0 ||
                  cap_set_flag(want, CAP_EFFECTIVE, nkeep, keep, CAP_SET) != 0 ||
                  cap_set_flag(want, CAP_INHERITABLE, nkeep, keep, CAP_SET) != 0)) {
        snprintf(err, errlen, "cannot build the capability set: %s", strerror(errno));
        goto out;
    }
    if (cap_set_proc(want) != 0 || cap_reset_ambient() != 0) {
        snprintf(err, errlen, "cannot set capabilities: %s", strerror(errno));
        goto out;
    }
    for (int i = 0; i < nkeep; i++)
        if (cap_set_ambient(keep[i], CAP_SET) != 0) {
            snprintf(err, errlen, "cannot make a capability ambient: %s", strerror(errno));
            goto out;
        }
    /* Nothing executed from here on can gain privileges (set-uid binaries, file capabilities). */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0) {
        snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
        goto out;
    }
    if (verify(keep, nkeep, user != NULL, err, errlen) != 0)
        goto out;
    caps_text(keep, nkeep, kept, sizeof(kept));
    xt_log(LOG_INFO, "privileges dropped", "user", user ? user : "(unchanged)",
           XT_NUM("uid", getuid()), XT_NUM("gid", getgid()), "capabilities", kept, NULL);
    rc = 0;
out:
    cap_free(held);
    cap_free(want);
    return rc;
}
