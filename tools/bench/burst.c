/* The allocation burst of `xturn-bench client --burst`: the relay's resident memory before and
 * after the setup (from /proc; the relay found by its listening socket when not given), the
 * deletion and the JSON report. */
#include "bench.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* VmRSS of a process in kB, -1 when unreadable. */
static long rss_kb(int pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (kb < 0 && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) != 1)
            kb = -1;
    fclose(f);
    return kb;
}

/* How /proc/net/{udp,tcp}{,6} write a local address: each 32-bit word of the IP as the host
 * reads it, in hex, then the port. */
static void proc_net_addr(const struct xt_addr *a, char *out, size_t len)
{
    size_t words = a->family == AF_INET ? 1 : 4, n = 0;
    for (size_t i = 0; i < words; i++) {
        uint32_t w;
        memcpy(&w, a->ip + 4 * i, 4);
        n += (size_t)snprintf(out + n, len - n, "%08X", w);
    }
    snprintf(out + n, len - n, ":%04X", a->port);
}

/* Whether process pid holds a socket bound to the address in table (its network namespace's
 * /proc/PID/net/TABLE): the socket inodes listed there against the process's descriptors. */
static bool holds_socket(const char *pid, const char *table, const char *want)
{
    char path[300], line[512], local[80], link[64], target[64];
    unsigned long inodes[64], inode;
    size_t n = 0;
    struct dirent *e;
    bool found = false;
    FILE *f;
    DIR *fds;

    snprintf(path, sizeof(path), "/proc/%s/net/%s", pid, table);
    f = fopen(path, "r");
    if (!f)
        return false;
    while (n < 64 && fgets(line, sizeof(line), f))
        if (sscanf(line, " %*s %79s %*s %*s %*s %*s %*s %*s %*s %lu", local, &inode) == 2 &&
            strcmp(local, want) == 0 && inode != 0)
            inodes[n++] = inode;
    fclose(f);
    snprintf(path, sizeof(path), "/proc/%s/fd", pid);
    fds = n ? opendir(path) : NULL;
    while (fds && !found && (e = readdir(fds))) {
        ssize_t len;
        snprintf(link, sizeof(link), "/proc/%s/fd/%.20s", pid, e->d_name);
        len = readlink(link, target, sizeof(target) - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        for (size_t i = 0; i < n && !found; i++)
            found = sscanf(target, "socket:[%lu]", &inode) == 1 && inode == inodes[i];
    }
    if (fds)
        closedir(fds);
    return found;
}

/* The one process holding a socket bound to the server's address (any network namespace): 0
 * when none, or several (other relays on the same address in other namespaces). */
static int find_relay(const struct client_opts *o)
{
    const char *table = o->transport == TRANSPORT_UDP
                            ? (o->server.family == AF_INET ? "udp" : "udp6")
                            : (o->server.family == AF_INET ? "tcp" : "tcp6");
    char want[48];
    int pid = 0, found = 0;
    struct dirent *e;
    DIR *proc = opendir("/proc");

    if (!proc)
        return 0;
    proc_net_addr(&o->server, want, sizeof(want));
    while ((e = readdir(proc))) {
        if (isdigit((unsigned char)e->d_name[0]) && holds_socket(e->d_name, table, want)) {
            pid = atoi(e->d_name);
            found++;
        }
    }
    closedir(proc);
    return found == 1 ? pid : 0;
}

int burst_mem_before(const struct client_opts *o, struct burst_mem *m)
{
    m->pid = o->relay_pid ? o->relay_pid : find_relay(o);
    m->before_kb = m->pid ? rss_kb(m->pid) : -1;
    m->after_kb = -1;
    if (o->relay_pid && m->before_kb < 0) {
        bench_err("client: --relay-pid %d: no VmRSS in /proc/%d/status", o->relay_pid,
                  o->relay_pid);
        return -1;
    }
    if (m->before_kb < 0)
        m->pid = 0;
    return 0;
}

static void json_kb(FILE *f, const char *name, long kb)
{
    if (kb < 0)
        fprintf(f, "\"%s\":null,", name);
    else
        fprintf(f, "\"%s\":%ld,", name, kb);
}

void burst_finish(struct turn_ctx *t, struct burst_mem *m, double setup_s)
{
    const struct client_opts *o = t->o;
    uint32_t retransmissions = t->retransmissions; /* the setup's */
    char a[XT_ADDR_STRLEN];
    FILE *f = stdout;

    if (m->pid)
        m->after_kb = rss_kb(m->pid);
    if (o->hold > 0) {
        /* for a script that runs traffic beside them: one line when they are all up */
        fprintf(stderr, "burst: %u allocations up, held %.1f s\n", t->ready, o->hold);
        sleep_until_ns(now_ns() + (uint64_t)(o->hold * 1e9));
    }
    turn_teardown(t);
    fprintf(f, "{\"mode\":\"burst\",\"transport\":\"%s\",\"server\":\"%s\",",
            transport_name(o->transport), xt_addr_str(&o->server, a));
    fprintf(f, "\"allocations\":%u,\"window\":%u,\"ready\":%u,\"setup_failures\":%u,", t->n,
            o->burst, t->ready, t->n - t->ready);
    fprintf(f, "\"setup_errors\":");
    turn_errors_json(t, f);
    fprintf(f, ",\"setup_s\":%.3f,\"allocations_per_s\":%.1f,\"retransmissions\":%u,", setup_s,
            setup_s > 0 ? t->ready / setup_s : 0.0, retransmissions);
    fprintf(f, "\"held_s\":%.1f,\"deleted\":%u,", o->hold, t->deleted);
    if (m->pid)
        fprintf(f, "\"relay_pid\":%d,", m->pid);
    else
        fprintf(f, "\"relay_pid\":null,");
    json_kb(f, "rss_before_kb", m->before_kb);
    json_kb(f, "rss_after_kb", m->after_kb);
    if (m->before_kb >= 0 && m->after_kb >= 0 && t->ready)
        fprintf(f, "\"rss_per_allocation_bytes\":%.0f}\n",
                (double)(m->after_kb - m->before_kb) * 1024 / t->ready);
    else
        fprintf(f, "\"rss_per_allocation_bytes\":null}\n");
    fflush(f);
}
