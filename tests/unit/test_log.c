/* Log lines: JSON escaping, numeric fields, bounds, level filter and the text format. Each test
 * captures stdout (fd 1) in a temporary file and checks the exact line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define TIME_LEN 30 /* "2026-11-26T05:02:27.123456789Z" */

static int saved_stdout = -1;
static FILE *capture_file;

static void capture_begin(void)
{
    fflush(stdout);
    capture_file = tmpfile();
    assert_non_null(capture_file);
    saved_stdout = dup(STDOUT_FILENO);
    assert_true(saved_stdout >= 0);
    assert_int_equal(dup2(fileno(capture_file), STDOUT_FILENO), STDOUT_FILENO);
}

/* Restores stdout and returns what was written (caller frees). Call before any assertion on the
 * output, so a failing check does not leave stdout redirected. */
static char *capture_end(void)
{
    char *out;
    off_t len;
    dup2(saved_stdout, STDOUT_FILENO);
    close(saved_stdout);
    len = lseek(fileno(capture_file), 0, SEEK_END); /* xt_log writes the fd, not the FILE */
    assert_true(len >= 0);
    out = calloc(1, (size_t)len + 1);
    assert_non_null(out);
    assert_int_equal(pread(fileno(capture_file), out, (size_t)len, 0), len);
    fclose(capture_file);
    return out;
}

/* Minimal validator for one flat JSON object line whose values are strings, numbers or null. */
static const char *json_string(const char *s)
{
    if (*s++ != '"')
        return NULL;
    while (*s != '"') {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            s++;
            if (*s == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
                        return NULL;
                s += 5;
            } else if (*s && strchr("\"\\/bfnrt", *s)) {
                s++;
            } else {
                return NULL;
            }
        } else if (c < 0x80) {
            s++;
        } else {
            int n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : -1;
            if (n < 0 || c > 0xf4)
                return NULL;
            for (int i = 1; i <= n; i++)
                if (((unsigned char)s[i] & 0xc0) != 0x80)
                    return NULL;
            s += n + 1;
        }
    }
    return s + 1;
}

static const char *json_value(const char *s)
{
    if (*s == '"')
        return json_string(s);
    if (strncmp(s, "null", 4) == 0)
        return s + 4;
    char *end;
    strtod(s, &end);
    return end == s ? NULL : end;
}

static bool json_line_valid(const char *s)
{
    if (*s++ != '{')
        return false;
    for (;;) {
        if (!(s = json_string(s)) || *s++ != ':' || !(s = json_value(s)))
            return false;
        if (*s == '}')
            return strcmp(s, "}\n") == 0;
        if (*s++ != ',')
            return false;
    }
}

/* The line after the time field: `{"time":"<30 chars>",` is fixed width. */
static const char *after_time(const char *line)
{
    return line + strlen("{\"time\":\"") + TIME_LEN + 2;
}

static void setup_json(void)
{
    log_setup(LOG_DEBUG, LOG_JSON);
}

static void test_json_line_shape_and_time(void **state)
{
    struct tm tm = {0};
    int nanos = -1;
    (void)state;
    setup_json();
    capture_begin();
    xt_log(LOG_INFO, "hello", NULL);
    char *out = capture_end();
    assert_true(json_line_valid(out));
    assert_string_equal(after_time(out), "\"severity\":\"INFO\",\"message\":\"hello\"}\n");
    /* RFC 3339 UTC with nanoseconds, and close to now */
    assert_int_equal(out[9 + TIME_LEN - 1], 'Z');
    assert_int_equal(sscanf(out, "{\"time\":\"%4d-%2d-%2dT%2d:%2d:%2d.%9dZ", &tm.tm_year,
                            &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &nanos),
                     7);
    assert_true(nanos >= 0 && nanos < 1000000000);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t logged = timegm(&tm), now = time(NULL);
    assert_true(logged <= now && now - logged <= 2);
    free(out);
}

static void test_json_severities(void **state)
{
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    (void)state;
    setup_json();
    for (int l = LOG_ERROR; l <= LOG_DEBUG; l++) {
        char want[64];
        capture_begin();
        xt_log((enum log_level)l, "m", NULL);
        char *out = capture_end();
        snprintf(want, sizeof(want), "\"severity\":\"%s\",", names[l]);
        assert_non_null(strstr(out, want));
        free(out);
    }
}

static void test_json_escaping(void **state)
{
    (void)state;
    setup_json();
    capture_begin();
    xt_log(LOG_INFO, "q\"b\\n\nt\tr\r", "ctl", "\x01\x1f\x7f", "utf8", "é€😀", "bad utf8",
           "a\xff"
           "b\xc0\xaf"
           "c\xed\xa0\x80"
           "d\xe2\x82",
           "k\"ey", "v", NULL);
    char *out = capture_end();
    assert_true(json_line_valid(out));
    assert_string_equal(after_time(out),
                        "\"severity\":\"INFO\",\"message\":\"q\\\"b\\\\n\\nt\\tr\\r\","
                        "\"ctl\":\"\\u0001\\u001f\\u007f\",\"utf8\":\"é€😀\","
                        "\"bad utf8\":\"a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffd\\ufffdd\\ufffd"
                        "\\ufffd\",\"k\\\"ey\":\"v\"}\n");
    free(out);
}

static void test_json_numeric_fields(void **state)
{
    (void)state;
    setup_json();
    capture_begin();
    xt_log(LOG_INFO, "n", XT_NUM("port", 3478), XT_NUM("zero", 0), XT_NUM("max", UINT64_MAX),
           XT_NUM("narrow", (uint8_t)200), "str", "42", XT_NUM("last", 7), NULL);
    char *out = capture_end();
    assert_true(json_line_valid(out));
    assert_non_null(strstr(out, ",\"port\":3478,\"zero\":0,\"max\":18446744073709551615,"
                                "\"narrow\":200,\"str\":\"42\",\"last\":7}\n"));
    free(out);
}

static void test_json_null_value_ends_fields(void **state)
{
    (void)state;
    setup_json();
    capture_begin();
    xt_log(LOG_INFO, "n", "a", "1", "user", (const char *)NULL, NULL);
    char *out = capture_end();
    assert_true(json_line_valid(out));
    assert_non_null(strstr(out, ",\"a\":\"1\",\"user\":null}\n"));
    free(out);
}

static void test_huge_value_truncated(void **state)
{
    char *big = malloc(100001);
    (void)state;
    assert_non_null(big);
    memset(big, 'x', 100000);
    big[100000] = '\0';
    setup_json();
    capture_begin();
    xt_log(LOG_INFO, big, "v", big, "after", "kept", NULL);
    char *out = capture_end();
    assert_true(json_line_valid(out));
    assert_true(strlen(out) <= 4096);
    assert_non_null(strstr(out, "xxx...\",\"v\":\"xxx"));
    assert_non_null(strstr(out, "xxx...\",\"after\":\"kept\"}\n"));
    free(out);
    free(big);
}

/* Cutting must never split an escape sequence or a UTF-8 character. */
static void test_truncation_keeps_characters_whole(void **state)
{
    static const char *const units[] = {"é", "\"", "\x01", "€", "😀"};
    (void)state;
    setup_json();
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        size_t ulen = strlen(units[u]);
        char *big = malloc(3000 * ulen + 1);
        assert_non_null(big);
        for (size_t i = 0; i < 3000; i++)
            memcpy(big + i * ulen, units[u], ulen);
        big[3000 * ulen] = '\0';
        capture_begin();
        xt_log(LOG_INFO, "m", "v", big, NULL);
        char *out = capture_end();
        assert_true(json_line_valid(out));
        assert_non_null(strstr(out, "...\"}\n"));
        free(out);
        free(big);
    }
}

static void test_many_fields_bounded(void **state)
{
    char val[1000];
    (void)state;
    memset(val, 'y', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    setup_json();
    capture_begin();
    xt_log(LOG_INFO, "m", "a", val, "b", val, "c", val, "d", val, "e", val, "f", val, "g", val,
           XT_NUM("h", 7), NULL);
    char *out = capture_end();
    assert_true(json_line_valid(out));
    assert_true(strlen(out) <= 4096);
    assert_non_null(strstr(out, "\"a\":\"yyy"));
    free(out);
}

static void test_level_filter(void **state)
{
    (void)state;
    log_setup(LOG_WARN, LOG_JSON);
    assert_true(log_enabled(LOG_ERROR));
    assert_true(log_enabled(LOG_WARN));
    assert_false(log_enabled(LOG_INFO));
    assert_false(log_enabled(LOG_DEBUG));
    capture_begin();
    xt_log(LOG_DEBUG, "dropped debug", NULL);
    xt_log(LOG_INFO, "dropped info", NULL);
    xt_log(LOG_WARN, "kept warn", NULL);
    xt_log(LOG_ERROR, "kept error", NULL);
    char *out = capture_end();
    assert_null(strstr(out, "dropped"));
    assert_non_null(strstr(out, "\"WARN\",\"message\":\"kept warn\"}\n{"));
    assert_non_null(strstr(out, "\"ERROR\",\"message\":\"kept error\"}\n"));
    free(out);
}

static void test_text_format(void **state)
{
    (void)state;
    log_setup(LOG_INFO, LOG_TEXT);
    capture_begin();
    xt_log(LOG_WARN, "relay\nstarted", "addr", "192.0.2.1:3478", XT_NUM("n", 5), "who", "a b", "eq",
           "x=y", "empty", "", "q", "say \"hi\"", NULL);
    char *out = capture_end();
    assert_int_equal(out[TIME_LEN - 1], 'Z');
    assert_int_equal(out[10], 'T');
    assert_string_equal(out + TIME_LEN,
                        " WARN relay\\nstarted addr=192.0.2.1:3478 n=5 who=\"a b\" eq=\"x=y\" "
                        "empty=\"\" q=\"say \\\"hi\\\"\"\n");
    free(out);
}

static void test_parse_names(void **state)
{
    enum log_level l;
    enum log_format f;
    (void)state;
    assert_int_equal(log_level_parse("error", &l), 0);
    assert_int_equal(l, LOG_ERROR);
    assert_int_equal(log_level_parse("warn", &l), 0);
    assert_int_equal(l, LOG_WARN);
    assert_int_equal(log_level_parse("info", &l), 0);
    assert_int_equal(l, LOG_INFO);
    assert_int_equal(log_level_parse("DEBUG", &l), 0);
    assert_int_equal(l, LOG_DEBUG);
    assert_int_equal(log_level_parse("warning", &l), -1);
    assert_int_equal(log_level_parse("", &l), -1);
    assert_int_equal(log_format_parse("json", &f), 0);
    assert_int_equal(f, LOG_JSON);
    assert_int_equal(log_format_parse("text", &f), 0);
    assert_int_equal(f, LOG_TEXT);
    assert_int_equal(log_format_parse("xml", &f), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_line_shape_and_time),
        cmocka_unit_test(test_json_severities),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_json_numeric_fields),
        cmocka_unit_test(test_json_null_value_ends_fields),
        cmocka_unit_test(test_huge_value_truncated),
        cmocka_unit_test(test_truncation_keeps_characters_whole),
        cmocka_unit_test(test_many_fields_bounded),
        cmocka_unit_test(test_level_filter),
        cmocka_unit_test(test_text_format),
        cmocka_unit_test(test_parse_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
