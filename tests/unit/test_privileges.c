/* Privilege dropping: which capabilities a configuration keeps, the refusals (unknown user or
 * group, root, threads already running), and real drops. Every privileges_drop call runs in a
 * forked child, which reports by its exit status (0, or the number of the failed check, with a
 * line on stderr), so the test process keeps its credentials. The real drops need root and are
 * skipped otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/privileges.h"
#include "common/log.h"

#define CHECK(n, cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "check %d failed: %s (err: %s)\n", n, #cond, err);                     \
            return n;                                                                              \
        }                                                                                          \
    } while (0)

typedef int child_fn(void);

static int in_child(child_fn *fn)
{
    int status = 0;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn());
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void need_root(void)
{
    if (geteuid() != 0)
        skip();
}

static char err[256];

static bool cap_is(cap_t c, cap_value_t v, cap_flag_t flag)
{
    cap_flag_value_t f = CAP_CLEAR;
    return cap_get_flag(c, v, flag, &f) == 0 && f == CAP_SET;
}

/* Exactly the given capabilities permitted, effective, inheritable and ambient (what a live
 * upgrade's new binary starts with). */
static bool caps_are(const cap_value_t *want, int n)
{
    cap_t c = cap_get_proc();
    bool ok = c != NULL;

    for (cap_value_t v = 0; ok && v < (cap_value_t)cap_max_bits(); v++) {
        bool w = false;
        for (int i = 0; i < n; i++)
            w |= want[i] == v;
        ok = cap_is(c, v, CAP_PERMITTED) == w && cap_is(c, v, CAP_EFFECTIVE) == w &&
             cap_is(c, v, CAP_INHERITABLE) == w && (cap_get_ambient(v) == 1) == w;
    }
    cap_free(c);
    return ok;
}

/* bind() to a free port below 1024 on loopback: 0, or the errno. */
static int bind_low_port(void)
{
    int rc = EADDRINUSE;
    for (int port = 1023; port > 900 && rc == EADDRINUSE; port--) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : errno;
        close(fd);
    }
    return rc;
}

/* A program started now (as a live upgrade starts the new binary) holds CAP_NET_BIND_SERVICE
 * alone, effective: 0, or not. */
static int exec_keeps_bind_service(void)
{
    int status = -1;
    pid_t pid = fork();

    if (pid == 0) {
        execl("/bin/grep", "grep", "-q", "^CapEff:[[:space:]]*0000000000000400$",
              "/proc/self/status", (char *)NULL);
        _exit(127);
    }
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? WEXITSTATUS(status)
                                                                           : -1;
}

static bool is_nobody(void)
{
    struct passwd *pw = getpwnam("nobody");
    uid_t r, e, s;
    gid_t rg, eg, sg, groups[4];
    int n = getgroups(4, groups);

    return pw && getresuid(&r, &e, &s) == 0 && getresgid(&rg, &eg, &sg) == 0 && r == pw->pw_uid &&
           e == pw->pw_uid && s == pw->pw_uid && rg == pw->pw_gid && eg == pw->pw_gid &&
           sg == pw->pw_gid && n == 1 && groups[0] == pw->pw_gid;
}

static void test_needed(void **state)
{
    struct xturn_config cfg;
    (void)state;

    memset(&cfg, 0, sizeof(cfg));
    cfg.turn.relay_port_lo = 49152;
    assert_int_equal(privileges_needed(&cfg), 0);
    cfg.nxdp_ifaces = 1;
    assert_int_equal(privileges_needed(&cfg), PRIV_KEEP_XDP);
    cfg.turn.relay_port_lo = 1000;
    assert_int_equal(privileges_needed(&cfg), PRIV_KEEP_XDP | PRIV_KEEP_LOW_PORTS);
    cfg.nxdp_ifaces = 0;
    cfg.turn.relay_port_lo = 1024;
    cfg.metrics.family = AF_INET;
    cfg.metrics.port = 9641;
    assert_int_equal(privileges_needed(&cfg), 0);
    cfg.metrics.port = 80;
    assert_int_equal(privileges_needed(&cfg), PRIV_KEEP_LOW_PORTS);
}

static int unknown_user(void)
{
    uid_t before = geteuid();
    CHECK(1, privileges_drop("xt-no-such-user", NULL, 0, err, sizeof(err)) == -1);
    CHECK(2, strstr(err, "--run-as-user") && strstr(err, "no such user"));
    CHECK(3, geteuid() == before);
    CHECK(4, privileges_drop("nobody", "xt-no-such-group", 0, err, sizeof(err)) == -1);
    CHECK(5, strstr(err, "--run-as-group") && strstr(err, "no such group"));
    CHECK(6, geteuid() == before);
    return 0;
}

static void test_unknown_user_or_group(void **state)
{
    (void)state;
    assert_int_equal(in_child(unknown_user), 0);
}

static int root_refused(void)
{
    CHECK(1, privileges_drop("root", NULL, 0, err, sizeof(err)) == -1);
    CHECK(2, strstr(err, "refusing to run as root") != NULL);
    CHECK(3, privileges_drop("nobody", "0", 0, err, sizeof(err)) == -1);
    CHECK(4, strstr(err, "gid 0") != NULL);
    return 0;
}

static void test_root_refused(void **state)
{
    (void)state;
    assert_int_equal(in_child(root_refused), 0);
}

static void *idle(void *arg)
{
    int fd = *(int *)arg;
    char c;
    (void)!read(fd, &c, 1); /* until the pipe closes */
    return NULL;
}

static int threads_refused(void)
{
    pthread_t t;
    int p[2];
    uid_t before = geteuid();

    CHECK(1, pipe(p) == 0 && pthread_create(&t, NULL, idle, &p[0]) == 0);
    CHECK(2, privileges_drop("nobody", NULL, 0, err, sizeof(err)) == -1);
    CHECK(3, strstr(err, "threads") != NULL);
    CHECK(4, geteuid() == before);
    close(p[1]);
    pthread_join(t, NULL);
    return 0;
}

static void test_threads_refused(void **state)
{
    (void)state;
    assert_int_equal(in_child(threads_refused), 0);
}

static int drop_keep_low_ports(void)
{
    const cap_value_t want[] = {CAP_NET_BIND_SERVICE};
    CHECK(1, privileges_drop("nobody", NULL, PRIV_KEEP_LOW_PORTS, err, sizeof(err)) == 0);
    CHECK(2, is_nobody());
    CHECK(3, caps_are(want, 1));
    CHECK(4, cap_get_bound(CAP_NET_BIND_SERVICE) == 1 && cap_get_bound(CAP_SYS_ADMIN) == 0 &&
                 cap_get_bound(CAP_SETUID) == 0);
    CHECK(5, prctl(PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L) == 1);
    CHECK(6, setuid(0) == -1 && seteuid(0) == -1 && setgid(0) == -1);
    CHECK(7, bind_low_port() == 0);
    CHECK(8, exec_keeps_bind_service() == 0);
    return 0;
}

static void test_drop_keeps_low_ports(void **state)
{
    (void)state;
    need_root();
    assert_int_equal(in_child(drop_keep_low_ports), 0);
}

static int drop_all(void)
{
    CHECK(1, privileges_drop("65534", NULL, 0, err, sizeof(err)) == 0); /* numeric: nobody */
    CHECK(2, is_nobody());
    CHECK(3, caps_are(NULL, 0));
    CHECK(4, bind_low_port() == EACCES);
    CHECK(5, setuid(0) == -1);
    return 0;
}

static void test_drop_all(void **state)
{
    (void)state;
    need_root();
    assert_int_equal(in_child(drop_all), 0);
}

static int drop_xdp(void)
{
    const cap_value_t with_bpf[] = {CAP_BPF};
    cap_t c;
    bool bpf;
    CHECK(1, privileges_drop("nobody", "nogroup", PRIV_KEEP_XDP, err, sizeof(err)) == 0);
    c = cap_get_proc();
    bpf = cap_is(c, CAP_BPF, CAP_PERMITTED);
    cap_free(c);
    /* CAP_BPF only where the kernel gates every bpf() command on it; no CAP_NET_ADMIN: closing
     * the BPF links detaches XDP without it. */
    CHECK(2, caps_are(with_bpf, bpf ? 1 : 0));
    CHECK(3, setuid(0) == -1);
    return 0;
}

static void test_drop_for_xdp_keeps_no_net_admin(void **state)
{
    (void)state;
    need_root();
    assert_int_equal(in_child(drop_xdp), 0);
}

/* No user: the capability part only (a daemon started by systemd as its user). */
static int caps_only(void)
{
    uid_t before = geteuid();
    CHECK(1, privileges_drop(NULL, NULL, PRIV_KEEP_LOW_PORTS, err, sizeof(err)) == 0);
    CHECK(2, geteuid() == before);
    {
        const cap_value_t want[] = {CAP_NET_BIND_SERVICE};
        CHECK(3, caps_are(want, 1));
    }
    CHECK(4, prctl(PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L) == 1);
    return 0;
}

static void test_capabilities_only(void **state)
{
    (void)state;
    need_root();
    assert_int_equal(in_child(caps_only), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_needed),
        cmocka_unit_test(test_unknown_user_or_group),
        cmocka_unit_test(test_root_refused),
        cmocka_unit_test(test_threads_refused),
        cmocka_unit_test(test_drop_keeps_low_ports),
        cmocka_unit_test(test_drop_all),
        cmocka_unit_test(test_drop_for_xdp_keeps_no_net_admin),
        cmocka_unit_test(test_capabilities_only),
    };
    log_setup(LOG_ERROR, LOG_JSON); /* no "privileges dropped" lines among cmocka's */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
