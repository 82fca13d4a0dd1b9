/* libbpf's messages while the loader works, kept (not printed) to explain a failure, and their
 * summary on one line (as xdp-tools keeps its own in lib/util/logging.c). */
#include "xdp/xdp_log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIBBPF_LOG_CAP 65536
static char libbpf_log[LIBBPF_LOG_CAP];
static size_t libbpf_log_len;

/* Keeps the last LIBBPF_LOG_CAP - 1 bytes: a verifier log ends with its verdict. */
static int capture_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    char *msg = NULL;
    int n;

    if (level == LIBBPF_DEBUG)
        return 0;
    n = vasprintf(&msg, fmt, ap);
    if (n <= 0) {
        free(msg);
        return 0;
    }
    if ((size_t)n >= LIBBPF_LOG_CAP - 1) {
        memcpy(libbpf_log, msg + (size_t)n - (LIBBPF_LOG_CAP - 1), LIBBPF_LOG_CAP - 1);
        libbpf_log_len = LIBBPF_LOG_CAP - 1;
    } else {
        size_t keep = LIBBPF_LOG_CAP - 1 - (size_t)n;

        if (libbpf_log_len > keep) {
            memmove(libbpf_log, libbpf_log + libbpf_log_len - keep, keep);
            libbpf_log_len = keep;
        }
        memcpy(libbpf_log + libbpf_log_len, msg, (size_t)n);
        libbpf_log_len += (size_t)n;
    }
    libbpf_log[libbpf_log_len] = '\0';
    free(msg);
    return n;
}

libbpf_print_fn_t xdp_log_begin(void)
{
    libbpf_log_len = 0;
    libbpf_log[0] = '\0';
    return libbpf_set_print(capture_print);
}

void xdp_log_end(libbpf_print_fn_t prev)
{
    libbpf_set_print(prev);
}

/* A verifier instruction line: "1394: (79) r5 = ...". */
static bool is_insn_line(const char *l, const char *end)
{
    const char *p = l;

    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p > l && p < end && *p == ':';
}

void xdp_log_summary(char *out, size_t outlen)
{
    const char *log = libbpf_log;
    const char *end = log + libbpf_log_len;
    const char *mark = strstr(log, "-- END PROG LOAD LOG --");
    const char *start;
    const char *part_s[3] = {NULL, NULL, NULL}, *part_e[3] = {NULL, NULL, NULL};
    size_t n = 0;

    if (outlen == 0)
        return;
    if (mark)
        end = mark;
    while (end > log && (end[-1] == '\n' || end[-1] == ' '))
        end--;
    start = end;
    /* back over at most 6 lines, stopping at an instruction line */
    for (int lines = 0; start > log && lines < 6; lines++) {
        const char *ls = start - 1;

        while (ls > log && ls[-1] != '\n')
            ls--;
        if (mark && is_insn_line(ls, end)) {
            const char *semi = memchr(ls, ';', (size_t)(start - ls));

            part_s[1] = ls;
            part_e[1] = semi ? semi : start - 1;
            /* the source line the verifier printed shortly before ("; code @ file:line") */
            for (const char *pe = ls; pe > log && lines < 12; lines++) {
                const char *ps = pe - 1;

                while (ps > log && ps[-1] != '\n')
                    ps--;
                if (ps[0] == ';' && ps[1] == ' ') {
                    part_s[0] = ps + 2;
                    part_e[0] = pe - 1;
                    break;
                }
                pe = ps;
            }
            break;
        }
        start = ls;
    }
    part_s[2] = start;
    part_e[2] = end;
    for (int part = 0; part < 3; part++) {
        const char *s = part_s[part];

        if (!s || s >= part_e[part])
            continue;
        if (n > 0 && n + 4 < outlen) {
            memcpy(out + n, " | ", 3);
            n += 3;
        }
        for (; s < part_e[part] && n + 1 < outlen; s++) {
            if (strncmp(s, "libbpf: ", 8) == 0 && (s == log || s[-1] == '\n'))
                s += 8;
            if (*s == '\n') {
                if (n + 4 >= outlen)
                    break;
                memcpy(out + n, " | ", 3);
                n += 3;
            } else {
                out[n++] = *s;
            }
        }
    }
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '|'))
        n--;
    out[n] = '\0';
}
