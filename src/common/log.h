/* Structured logging: JSON lines (default) or text, one line per event, to stdout. */
#ifndef XTURN_COMMON_LOG_H
#define XTURN_COMMON_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };
enum log_format { LOG_JSON = 0, LOG_TEXT = 1 };

void log_setup(enum log_level level, enum log_format fmt);
/* Sends the log to a file (appending) instead of stdout; called again it reopens the file, for
 * log rotation. 0 or -errno. */
int log_open_file(const char *path);
bool log_enabled(enum log_level level);
/* Parse "error|warn|info|debug" / "json|text"; return 0 or -1. */
int log_level_parse(const char *s, enum log_level *out);
int log_format_parse(const char *s, enum log_format *out);

/* Emits one line. fields is a NULL-terminated list of key, value pairs, e.g.
 *   xt_log(LOG_INFO, "allocation created", "client", c, XT_NUM("lifetime", s), NULL);
 * A value is a string (JSON-escaped), or, written with XT_NUM, a number (unquoted). Output:
 * {"time":"2026-...Z","severity":"INFO","message":...,"k":"v","n":5} with time in RFC 3339 UTC
 * with nanoseconds. */
void xt_log(enum log_level level, const char *message, ...) __attribute__((sentinel));

/* A numeric field of xt_log: the key (a string literal) marked '+', then the value as the
 * unsigned long long xt_log reads. */
#define XT_NUM(key, value) "+" key, (unsigned long long)(value)

#endif
