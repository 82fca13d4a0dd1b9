/* The live upgrade's processes and control channel (upgrade.h): starting the new binary, the
 * READY / state / DONE exchange, and the sockets passed with SCM_RIGHTS. */
#include "app/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

#define FDS_PER_MSG   250        /* the kernel takes at most 253 per message (SCM_MAX_FD) */
#define MAX_STATE     (1u << 30) /* bytes of manifest and snapshot */
#define MAX_FDS       (1u << 22)
#define REAP_TRIES    100 /* 10 ms apart: how long an exiting child gets to be reaped */
#define MSG_TEXT_SIZE 512

extern char **environ;

static char *exe_path;
static char **saved_argv;

int upgrade_remember(int argc, char **argv, char *err, size_t errlen)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

    if (n < 0) {
        snprintf(err, errlen, "cannot read /proc/self/exe: %s", strerror(errno));
        return -1;
    }
    path[n] = '\0';
    exe_path = strdup(path);
    saved_argv = calloc((size_t)argc + 1, sizeof(*saved_argv));
    for (int i = 0; saved_argv && i < argc; i++)
        if (!(saved_argv[i] = strdup(argv[i]))) {
            upgrade_forget();
            break;
        }
    if (!exe_path || !saved_argv) {
        upgrade_forget();
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void upgrade_forget(void)
{
    for (size_t i = 0; saved_argv && saved_argv[i]; i++)
        free(saved_argv[i]);
    free(saved_argv);
    free(exe_path);
    saved_argv = NULL;
    exe_path = NULL;
}

/* Our environment plus var, without a variable of a previous upgrade, and without systemd's
 * WATCHDOG_PID when it names us: the watchdog follows MAINPID to the new process, which then
 * pings (sd_watchdog_enabled would ignore it, another pid's). NULL without memory. */
static char **child_environ(char *var)
{
    size_t n = 0, k = 0, plen = strlen(UPGRADE_ENV);
    char **envp, watchdog_pid[64];

    snprintf(watchdog_pid, sizeof(watchdog_pid), "WATCHDOG_PID=%ld", (long)getpid());
    while (environ[n])
        n++;
    envp = calloc(n + 2, sizeof(*envp));
    for (size_t i = 0; envp && i < n; i++)
        if ((strncmp(environ[i], UPGRADE_ENV, plen) != 0 || environ[i][plen] != '=') &&
            strcmp(environ[i], watchdog_pid) != 0)
            envp[k++] = environ[i];
    if (envp)
        envp[k] = var;
    return envp;
}

int upgrade_spawn(struct upgrade_child *c, char *err, size_t errlen)
{
    struct timeval tv = {.tv_sec = UPGRADE_TIMEOUT_MS / 1000};
    char var[64], **envp = NULL;
    int sv[2] = {-1, -1}, rc = -1;

    c->pid = 0;
    c->ch = -1;
    if (!exe_path) {
        snprintf(err, errlen, "the binary's path is not known");
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 ||
        setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
        snprintf(err, errlen, "cannot create the control channel: %s", strerror(errno));
        goto out;
    }
    snprintf(var, sizeof(var), "%s=%d", UPGRADE_ENV, sv[1]);
    envp = child_environ(var);
    if (!envp) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    c->pid = fork();
    if (c->pid == 0) {
        /* Only async-signal-safe calls until execve: other threads' locks may be held. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (fcntl(sv[1], F_SETFD, 0) == 0)
            execve(exe_path, saved_argv, envp);
        _exit(127);
    }
    if (c->pid < 0) {
        c->pid = 0;
        snprintf(err, errlen, "cannot fork: %s", strerror(errno));
        goto out;
    }
    c->ch = sv[0];
    sv[0] = -1;
    rc = 0;
out:
    free(envp);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    return rc;
}

/* The child closed the channel: how it ended, if it did within a moment. */
static void describe_exit(struct upgrade_child *c, const char *want, char *err, size_t errlen)
{
    int st = 0;

    for (int i = 0; i < REAP_TRIES; i++) {
        if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
            c->pid = 0;
            if (WIFEXITED(st))
                snprintf(err, errlen, "the new process exited with status %d before it said %s",
                         WEXITSTATUS(st), want);
            else
                snprintf(err, errlen, "the new process was killed by signal %d before it said %s",
                         WIFSIGNALED(st) ? WTERMSIG(st) : 0, want);
            return;
        }
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
    snprintf(err, errlen, "the new process closed the control channel before it said %s", want);
}

int upgrade_wait(struct upgrade_child *c, const char *want, char *err, size_t errlen)
{
    uint64_t deadline = xt_mono_ms() + UPGRADE_TIMEOUT_MS;
    char msg[MSG_TEXT_SIZE];

    for (;;) {
        struct pollfd p = {.fd = c->ch, .events = POLLIN};
        uint64_t now = xt_mono_ms();
        ssize_t n;
        int r;

        if (now >= deadline) {
            snprintf(err, errlen, "the new process did not say %s within %d s", want,
                     UPGRADE_TIMEOUT_MS / 1000);
            return -1;
        }
        r = poll(&p, 1, (int)(deadline - now));
        if (r <= 0) {
            if (r < 0 && errno != EINTR) {
                snprintf(err, errlen, "control channel: %s", strerror(errno));
                return -1;
            }
            continue;
        }
        n = recv(c->ch, msg, sizeof(msg) - 1, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            describe_exit(c, want, err, errlen);
            return -1;
        }
        msg[n] = '\0';
        if (strcmp(msg, want) == 0)
            return 0;
        if (strncmp(msg, "FAIL ", 5) == 0)
            snprintf(err, errlen, "the new process refused: %s", msg + 5);
        else
            snprintf(err, errlen, "the new process said \"%.64s\", not %s", msg, want);
        return -1;
    }
}

static int send_fds(int ch, const char *text, const int *fds, size_t n)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * FDS_PER_MSG)];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = (void *)text, .iov_len = strlen(text)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t r;

    memset(&u, 0, sizeof(u));
    if (n) {
        struct cmsghdr *cm;
        mh.msg_control = u.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
    }
    do
        r = sendmsg(ch, &mh, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

int upgrade_send(struct upgrade_child *c, const uint8_t *bytes, size_t len, const int *fds,
                 size_t nfds, char *err, size_t errlen)
{
    int mfd = memfd_create("xturn-upgrade", MFD_CLOEXEC), rc = 0;
    char text[64];

    if (mfd < 0) {
        snprintf(err, errlen, "cannot create a memfd for the state: %s", strerror(errno));
        return -1;
    }
    for (size_t off = 0; off < len && rc == 0;) {
        ssize_t n = write(mfd, bytes + off, len - off);
        if (n < 0 && errno != EINTR)
            rc = -errno;
        off += n > 0 ? (size_t)n : 0;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot write the state to a memfd: %s", strerror(-rc));
        goto out;
    }
    snprintf(text, sizeof(text), "STATE %zu", nfds);
    rc = send_fds(c->ch, text, &mfd, 1);
    for (size_t i = 0; i < nfds && rc == 0; i += FDS_PER_MSG)
        rc = send_fds(c->ch, "FDS", fds + i, nfds - i < FDS_PER_MSG ? nfds - i : FDS_PER_MSG);
    if (rc != 0)
        snprintf(err, errlen, "cannot send the state to the new process: %s", strerror(-rc));
out:
    close(mfd);
    return rc ? -1 : 0;
}

void upgrade_abort(struct upgrade_child *c)
{
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (c->ch >= 0)
        close(c->ch);
    c->pid = 0;
    c->ch = -1;
}

/* ---- the new process ---- */

int upgrade_channel(char *err, size_t errlen)
{
    const char *v = getenv(UPGRADE_ENV);
    char *end;
    long fd;
    int type = 0;
    socklen_t tl = sizeof(type);

    if (!v)
        return -1;
    fd = strtol(v, &end, 10);
    if (end == v || *end || fd < 0 || fd > INT_MAX ||
        getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_SEQPACKET ||
        fcntl((int)fd, F_SETFD, FD_CLOEXEC) != 0) {
        snprintf(err, errlen, "%s=\"%s\": not the descriptor of a control channel", UPGRADE_ENV, v);
        return -2;
    }
    unsetenv(UPGRADE_ENV);
    return (int)fd;
}

/* One message: its text (NUL-terminated) and the fds it carried, appended to fds. 0 or -errno;
 * -EPROTO when fds were cut off or would pass max. */
static int recv_fds(int ch, char *text, size_t size, int *fds, size_t *n, size_t max)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * FDS_PER_MSG)];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = text, .iov_len = size - 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf};
    ssize_t r;
    int rc = 0;

    mh.msg_controllen = sizeof(u.buf);
    do
        r = recvmsg(ch, &mh, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r <= 0)
        return r < 0 ? -errno : -EPIPE;
    text[r] = '\0';
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        size_t k;
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (*n < max)
                fds[(*n)++] = fd;
            else {
                close(fd);
                rc = -EPROTO;
            }
        }
    }
    return (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) ? -EPROTO : rc;
}

/* The memfd's bytes, malloc'd. */
static int read_state(int mfd, uint8_t **bytes, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    size_t off = 0;

    if (fstat(mfd, &st) != 0 || st.st_size <= 0 || (uint64_t)st.st_size > MAX_STATE) {
        snprintf(err, errlen, "the state's memfd is empty, unreadable or too large");
        return -1;
    }
    *len = (size_t)st.st_size;
    *bytes = malloc(*len);
    if (!*bytes) {
        snprintf(err, errlen, "out of memory for %zu bytes of state", *len);
        return -1;
    }
    while (off < *len) {
        ssize_t n = pread(mfd, *bytes + off, *len - off, (off_t)off);
        if (n <= 0 && !(n < 0 && errno == EINTR)) {
            snprintf(err, errlen, "cannot read the state: %s", n ? strerror(errno) : "cut short");
            free(*bytes);
            *bytes = NULL;
            return -1;
        }
        off += n > 0 ? (size_t)n : 0;
    }
    return 0;
}

int upgrade_receive(int ch, uint8_t **bytes, size_t *len, int **fds, size_t *nfds, char *err,
                    size_t errlen)
{
    struct timeval tv = {.tv_sec = UPGRADE_TIMEOUT_MS / 1000};
    char text[MSG_TEXT_SIZE], *end;
    int mfd = -1, rc;
    size_t nmfd = 0, want = 0;

    *bytes = NULL;
    *fds = NULL;
    *nfds = 0;
    upgrade_say(ch, "READY", NULL);
    rc = setsockopt(ch, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0
             ? -errno
             : recv_fds(ch, text, sizeof(text), &mfd, &nmfd, 1);
    if (rc != 0 || nmfd != 1 || strncmp(text, "STATE ", 6) != 0) {
        snprintf(err, errlen, "no state from the old process: %s",
                 rc ? strerror(-rc) : "not a STATE message with its memfd");
        goto fail;
    }
    want = strtoul(text + 6, &end, 10);
    if (*end || want > MAX_FDS || !(*fds = calloc(want + 1, sizeof(int)))) {
        snprintf(err, errlen, "bad STATE message, or out of memory");
        goto fail;
    }
    while (*nfds < want) {
        rc = recv_fds(ch, text, sizeof(text), *fds, nfds, want);
        if (rc != 0 || strcmp(text, "FDS") != 0) {
            snprintf(err, errlen, "receiving the sockets (%zu of %zu): %s", *nfds, want,
                     rc ? strerror(-rc) : "not an FDS message");
            goto fail;
        }
    }
    if (read_state(mfd, bytes, len, err, errlen) != 0)
        goto fail;
    close(mfd);
    return 0;
fail:
    if (mfd >= 0)
        close(mfd);
    for (size_t i = 0; i < *nfds; i++)
        close((*fds)[i]);
    free(*fds);
    *fds = NULL;
    *nfds = 0;
    return -1;
}

void upgrade_say(int ch, const char *what, const char *reason)
{
    char msg[MSG_TEXT_SIZE];

    snprintf(msg, sizeof(msg), "%s%s%s", what, reason ? " " : "", reason ? reason : "");
    if (send(ch, msg, strlen(msg), MSG_NOSIGNAL) < 0) {
        /* the old process is gone or gave up: it logs that side */
    }
}
