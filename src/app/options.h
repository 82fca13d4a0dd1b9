/* Typed command-line options (after xdp-tools' lib/util/params.h): each option states once its
 * name, the field it fills (an offset into the caller's struct), how its value is read, its
 * default and its help; parsing, defaults, help text and environment variables all come from
 * that one description. */
#ifndef XTURN_APP_OPTIONS_H
#define XTURN_APP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum opt_type {
    OPT_ACTION,  /* --help, --version: no field, no variable */
    OPT_U32,     /* uint32_t within [min, max] */
    OPT_U64,     /* uint64_t within [min, max] */
    OPT_BOOL,    /* bool: true/false, 1/0, yes/no, on/off; alone on the command line: true */
    OPT_STRING,  /* char *, replaced; must not be empty */
    OPT_STRINGS, /* char ** with its count (size_t) at count_off, appended to; must not be empty */
    OPT_ENUM,    /* an enum whose value i is names[i] */
    OPT_FUNC,    /* read by apply */
};

/* Applies a value to the struct at base: NULL if fine, else why the value is wrong. */
typedef const char *opt_apply_fn(void *base, const char *val);

struct opt {
    const char *name;
    const char *metavar; /* NULL: takes no value (OPT_BOOL, OPT_ACTION) */
    enum opt_type type;
    size_t off, count_off;
    uint64_t min, max;
    const char *const *names; /* OPT_ENUM, NULL-terminated */
    opt_apply_fn *apply;      /* OPT_FUNC */
    const char *why;          /* the error for a bad value, where the type has no better one */
    const char *def;          /* the default, in the option's own syntax; NULL: none */
    bool repeatable;
    bool secret; /* never echo the value in an error message */
    const char *help;
};

/* Applies one value of an option: NULL if fine, else why not. */
const char *opt_apply(const struct opt *o, void *base, const char *val);
/* Applies every option's default. NULL, or the first one that fails (a bad table). */
const char *opt_defaults(const struct opt *opts, size_t n, void *base);
/* "auth-secret" -> "XTURN_AUTH_SECRET", with prefix "XTURN_". */
void opt_env_name(const struct opt *o, const char *prefix, char *buf, size_t len);
/* One help line per option: flag and metavar, help, default, "(repeatable)", variable. */
void opt_usage(FILE *out, const struct opt *opts, size_t n, const char *env_prefix);

/* Strict decimal: digits only (strtoul alone would take a sign and spaces), within [min, max];
 * *end is set to the first byte after the number. For option readers of their own. */
bool opt_parse_u64(const char *s, char **end, uint64_t min, uint64_t max, uint64_t *out);
/* Appends the size-byte *val to the n-element array arr: the grown array, or NULL when out of
 * memory (then arr and *n are untouched). */
void *opt_push(void *arr, size_t *n, const void *val, size_t size);

#define OPT_OOM "out of memory"

#endif
