#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

/* One line fits PIPE_BUF, so a single write(2) to a pipe (the usual log collector) is atomic. */
#define LOG_LINE_CAP  4096
#define LOG_TAIL      2    /* "}\n", always reserved so every line closes properly */
#define LOG_VALUE_CAP 1024 /* output bytes of one message or value before it is cut */
#define LOG_KEY_CAP   64
#define LOG_NUM_CAP   24 /* the longest number (XT_NUM: 20 digits) and its separator */
#define LOG_ELLIPSIS  "..."
/* Room a field needs at worst apart from its value; with less left the field is dropped. */
#define LOG_FIELD_MIN (LOG_KEY_CAP + LOG_NUM_CAP + 16)

static enum log_level cur_level = LOG_INFO;
static enum log_format cur_format = LOG_JSON;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char *const level_upper[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const format_names[] = {"json", "text"};

void log_setup(enum log_level level, enum log_format fmt)
{
    cur_level = level;
    cur_format = fmt;
}

bool log_enabled(enum log_level level)
{
    return level <= cur_level;
}

/* Case-insensitive: "INFO" in an environment variable is as clear as "info". */
static int name_index(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    return -1;
}

int log_level_parse(const char *s, enum log_level *out)
{
    int i = name_index(s, level_names, 4);
    if (i < 0)
        return -1;
    *out = (enum log_level)i;
    return 0;
}

int log_format_parse(const char *s, enum log_format *out)
{
    int i = name_index(s, format_names, 2);
    if (i < 0)
        return -1;
    *out = (enum log_format)i;
    return 0;
}

struct line {
    char buf[LOG_LINE_CAP];
    size_t len;
};

static size_t room(const struct line *l)
{
    return LOG_LINE_CAP - LOG_TAIL - l->len;
}

/* Callers size everything against room() first; the clamp only guards against mistakes. */
static void put(struct line *l, const char *s, size_t n)
{
    size_t max = LOG_LINE_CAP - l->len;
    if (n > max)
        n = max;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0 if it is malformed
 * (overlong, surrogate, beyond U+10FFFF, truncated). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        lo = s[0] == 0xe0 ? 0xa0 : 0x80;
        hi = s[0] == 0xed ? 0x9f : 0xbf;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        lo = s[0] == 0xf0 ? 0x90 : 0x80;
        hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* Escapes the character at s into out (JSON rules; malformed UTF-8 becomes U+FFFD so the line
 * stays valid UTF-8). Returns the output length and sets *used to the input bytes consumed. */
static size_t escape_one(const unsigned char *s, size_t n, size_t *used, char out[8])
{
    size_t ulen = utf8_len(s, n);
    *used = ulen ? ulen : 1;
    switch (ulen ? s[0] : 0x100) {
    case '"':
        return (size_t)snprintf(out, 8, "\\\"");
    case '\\':
        return (size_t)snprintf(out, 8, "\\\\");
    case '\n':
        return (size_t)snprintf(out, 8, "\\n");
    case '\r':
        return (size_t)snprintf(out, 8, "\\r");
    case '\t':
        return (size_t)snprintf(out, 8, "\\t");
    case 0x100:
        return (size_t)snprintf(out, 8, "\\ufffd");
    default:
        if (s[0] < 0x20 || s[0] == 0x7f)
            return (size_t)snprintf(out, 8, "\\u%04x", s[0]);
        memcpy(out, s, ulen);
        return ulen;
    }
}

/* Appends s escaped, in at most limit bytes; a string that does not fit is cut at a character
 * boundary and ends in "...". */
static void put_escaped(struct line *l, const char *str, size_t limit)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str), total = 0, used, olen;
    char out[8];

    for (size_t i = 0; i < n && total <= limit; i += used)
        total += escape_one(s + i, n - i, &used, out);
    if (total <= limit) {
        for (size_t i = 0; i < n; i += used)
            put(l, out, escape_one(s + i, n - i, &used, out));
        return;
    }
    if (limit < strlen(LOG_ELLIPSIS))
        return;
    limit -= strlen(LOG_ELLIPSIS);
    for (size_t i = 0, w = 0; i < n; i += used, w += olen) {
        olen = escape_one(s + i, n - i, &used, out);
        if (w + olen > limit)
            break;
        put(l, out, olen);
    }
    put(l, LOG_ELLIPSIS, strlen(LOG_ELLIPSIS));
}

/* Appends s (quoted if asked) in at most cap content bytes, leaving `after` bytes of room. */
static void put_str(struct line *l, const char *s, bool quote, size_t cap, size_t after)
{
    size_t need = (quote ? 2 : 0) + after;
    size_t avail = room(l) > need ? room(l) - need : 0;
    if (quote)
        put(l, "\"", 1);
    put_escaped(l, s, avail < cap ? avail : cap);
    if (quote)
        put(l, "\"", 1);
}

/* Text values are quoted when they would otherwise be ambiguous to split on spaces and '='. */
static bool text_needs_quotes(const char *s)
{
    if (*s == '\0')
        return true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p >= 0x7f)
            return true;
    return false;
}

/* numeric: val is digits (XT_NUM), written unquoted in JSON. */
static void put_field(struct line *l, enum log_format fmt, const char *key, const char *val,
                      bool numeric)
{
    if (room(l) < LOG_FIELD_MIN)
        return;
    if (fmt == LOG_JSON) {
        put(l, ",", 1);
        put_str(l, key, true, LOG_KEY_CAP, 0);
        put(l, ":", 1);
        if (!val)
            put(l, "null", 4);
        else
            put_str(l, val, !numeric, LOG_VALUE_CAP, 0);
    } else {
        put(l, " ", 1);
        put_str(l, key, false, LOG_KEY_CAP, 0);
        put(l, "=", 1);
        if (val)
            put_str(l, val, text_needs_quotes(val), LOG_VALUE_CAP, 0);
    }
}

static void put_time(struct line *l)
{
    struct timespec ts;
    struct tm tm;
    char buf[48];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
    put(l, buf, (size_t)n);
}

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to report a failing log sink */
        p += w;
        n -= (size_t)w;
    }
}

void xt_log(enum log_level level, const char *message, ...)
{
    struct line l;
    enum log_format fmt = cur_format;
    const char *sev = (unsigned)level <= LOG_DEBUG ? level_upper[level] : "DEBUG";
    va_list ap;

    if (!log_enabled(level))
        return;
    l.len = 0;
    if (fmt == LOG_JSON) {
        put(&l, "{\"time\":\"", 9);
        put_time(&l);
        put(&l, "\",\"severity\":\"", 14);
        put(&l, sev, strlen(sev));
        put(&l, "\",\"message\":", 12);
        put_str(&l, message, true, LOG_VALUE_CAP, 0);
    } else {
        put_time(&l);
        put(&l, " ", 1);
        put(&l, sev, strlen(sev));
        put(&l, " ", 1);
        put_str(&l, message, false, LOG_VALUE_CAP, 0);
    }
    va_start(ap, message);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key)
            break;
        if (key[0] == '+') {
            char num[24];
            snprintf(num, sizeof(num), "%llu", va_arg(ap, unsigned long long));
            put_field(&l, fmt, key + 1, num, true);
            continue;
        }
        const char *val = va_arg(ap, const char *);
        put_field(&l, fmt, key, val, false);
        if (!val)
            break; /* a NULL value may be the sentinel itself: read no further */
    }
    va_end(ap);
    if (fmt == LOG_JSON)
        put(&l, "}", 1);
    put(&l, "\n", 1);
    write_all(l.buf, l.len);
}

int log_open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    int rc = 0;
    if (fd < 0)
        return -errno;
    /* Replaces stdout in one step: a line being written goes wholly to the old or the new file. */
    if (dup2(fd, STDOUT_FILENO) < 0)
        rc = -errno;
    close(fd);
    return rc;
}
