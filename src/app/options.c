#include "app/options.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(base, o, type) ((type *)((char *)(base) + (o)->off))

bool opt_parse_u64(const char *s, char **end, uint64_t min, uint64_t max, uint64_t *out)
{
    unsigned long long v;

    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    v = strtoull(s, end, 10);
    if (errno == ERANGE || v < min || v > max)
        return false;
    *out = v;
    return true;
}

void *opt_push(void *arr, size_t *n, const void *val, size_t size)
{
    char *p = realloc(arr, (*n + 1) * size);

    if (!p)
        return NULL;
    memcpy(p + *n * size, val, size);
    (*n)++;
    return p;
}

static const char *read_bool(bool *dst, const char *val)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(val, yes[i]) == 0 || strcmp(val, no[i]) == 0) {
            *dst = strcmp(val, yes[i]) == 0;
            return NULL;
        }
    }
    return "expected true or false (1/0, yes/no, on/off)";
}

static const char *read_enum(const struct opt *o, void *base, const char *val)
{
    for (int i = 0; o->names[i]; i++) {
        if (strcmp(val, o->names[i]) == 0) {
            *FIELD(base, o, int) = i;
            return NULL;
        }
    }
    return o->why;
}

const char *opt_apply(const struct opt *o, void *base, const char *val)
{
    uint64_t v;
    char *end, *dup;

    switch (o->type) {
    case OPT_U32:
    case OPT_U64:
        if (!opt_parse_u64(val, &end, o->min, o->max, &v) || *end)
            return o->why;
        if (o->type == OPT_U32)
            *FIELD(base, o, uint32_t) = (uint32_t)v;
        else
            *FIELD(base, o, uint64_t) = v;
        return NULL;
    case OPT_BOOL:
        return read_bool(FIELD(base, o, bool), val);
    case OPT_STRING:
    case OPT_STRINGS:
        if (!*val)
            return o->why;
        dup = strdup(val);
        if (!dup)
            return OPT_OOM;
        if (o->type == OPT_STRING) {
            free(*FIELD(base, o, char *));
            *FIELD(base, o, char *) = dup;
        } else {
            char **grown = opt_push(*FIELD(base, o, char **),
                                    (size_t *)((char *)base + o->count_off), &dup, sizeof(dup));
            if (!grown) {
                free(dup);
                return OPT_OOM;
            }
            *FIELD(base, o, char **) = grown;
        }
        return NULL;
    case OPT_ENUM:
        return read_enum(o, base, val);
    case OPT_FUNC:
        return o->apply(base, val);
    case OPT_ACTION:
        break;
    }
    return "takes no value";
}

const char *opt_defaults(const struct opt *opts, size_t n, void *base)
{
    for (size_t i = 0; i < n; i++)
        if (opts[i].def && opt_apply(&opts[i], base, opts[i].def))
            return opts[i].name;
    return NULL;
}

void opt_env_name(const struct opt *o, const char *prefix, char *buf, size_t len)
{
    size_t i = (size_t)snprintf(buf, len, "%s", prefix);

    for (const char *p = o->name; *p && i + 1 < len; p++)
        buf[i++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    buf[i < len ? i : len - 1] = '\0';
}

void opt_usage(FILE *out, const struct opt *opts, size_t n, const char *env_prefix)
{
    for (size_t i = 0; i < n; i++) {
        const struct opt *o = &opts[i];
        char left[64], env[64];

        snprintf(left, sizeof(left), "--%s%s%s", o->name, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
        fprintf(out, "  %-36s %s", left, o->help);
        if (o->def)
            fprintf(out, " (default %s)", o->def);
        if (o->repeatable)
            fprintf(out, " (repeatable)");
        if (o->type != OPT_ACTION) {
            opt_env_name(o, env_prefix, env, sizeof(env));
            fprintf(out, " [%s]", env);
        }
        fputc('\n', out);
    }
}
