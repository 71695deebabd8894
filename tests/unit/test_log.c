/* SPDX-License-Identifier: MIT */
/* tests/unit/test_log.c: log levels, escaping of peer text, and log lines
 * written to a file that is rotated under us. */
#define _GNU_SOURCE /* strptime */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "tests/unit/unit.h"

#include "libcommon/error.h"
#include "libcommon/log.h"

/* --- levels ------------------------------------------------------------- */

static const struct {
    const char *name;
    int err;
    log_level level;
} levels[] = {
    {"error", 0, LOGL_ERROR},
    {"warn", 0, LOGL_WARN},
    {"info", 0, LOGL_INFO},
    {"debug", 0, LOGL_DEBUG},
    {"warning", XE_CONFIG, LOGL_INFO},
    {"INFO", XE_CONFIG, LOGL_INFO},
    {"", XE_CONFIG, LOGL_INFO},
    {"info ", XE_CONFIG, LOGL_INFO},
    {NULL, XE_CONFIG, LOGL_INFO},
};

START_TEST(parses_level_names)
{
    log_level got = LOGL_INFO;

    ck_assert_int_eq(log_level_parse(levels[_i].name, &got), levels[_i].err);
    ck_assert_int_eq(got, levels[_i].level);
    if (levels[_i].err == 0)
        ck_assert_str_eq(log_level_name(got), levels[_i].name);
}
END_TEST

START_TEST(names_unknown_levels_safely)
{
    ck_assert_str_eq(log_level_name((log_level)4), "?");
    ck_assert_str_eq(log_level_name((log_level)-1), "?");
}
END_TEST

/* --- escaping ----------------------------------------------------------- */

#define IN(s) s, sizeof(s) - 1

static const struct {
    const char *in;
    size_t len;
    size_t size;
    const char *out;
} escapes[] = {
    {IN("alice@example.com/phone"), 64, "alice@example.com/phone"},
    {IN(""), 64, ""},
    {IN("a\nb"), 64, "a\\x0ab"},
    {IN("forged\r\n2025-01-01T00:00:00Z error x: y"), 64,
     "forged\\x0d\\x0a2025-01-01T00:00:00Z error x: y"},
    {IN("tab\there"), 64, "tab\\x09here"},
    {IN("back\\slash"), 64, "back\\x5cslash"},
    {IN("del\x7f"), 64, "del\\x7f"},
    {IN("nul\0after"), 64, "nul\\x00after"},
    {IN("\x1b[31mred"), 64, "\\x1b[31mred"},
    /* Valid UTF-8 stays readable; broken or control sequences do not. */
    {IN("caf\xc3\xa9"), 64, "caf\xc3\xa9"},
    {IN("\xe2\x82\xac \xf0\x9f\x98\x80"), 64, "\xe2\x82\xac \xf0\x9f\x98\x80"},
    {IN("\xff\xfe"), 64, "\\xff\\xfe"},
    {IN("cut \xc3"), 64, "cut \\xc3"},
    {IN("\xc3\x61"), 64, "\\xc3a"},
    {IN("\xc0\xaf"), 64, "\\xc0\\xaf"},                   /* overlong '/' */
    {IN("\xe0\x80\xaf"), 64, "\\xe0\\x80\\xaf"},          /* overlong '/' */
    {IN("\xc2\x85"), 64, "\\xc2\\x85"},                   /* C1 NEL */
    {IN("\xed\xa0\x80"), 64, "\\xed\\xa0\\x80"},          /* a surrogate */
    {IN("\xf4\x90\x80\x80"), 64, "\\xf4\\x90\\x80\\x80"}, /* past U+10FFFF */
    /* Exact fits are not cut. */
    {IN("abc"), 4, "abc"},
    {IN("abcdefg"), 8, "abcdefg"},
    {IN("a\n"), 6, "a\\x0a"},
    {IN("a\xc3\xa9"), 4, "a\xc3\xa9"},
    /* Too long: cut at a whole piece, with "..." in what is left. */
    {IN("abcd"), 4, "..."},
    {IN("abcdefgh"), 8, "abcd..."},
    {IN("abcde"), 5, "a..."},
    {IN("ab\n"), 6, "ab..."},
    {IN("\n\n"), 7, "..."},
    {IN("\n\n"), 8, "\\x0a..."},
    {IN("a\xc3\xa9z"), 4, "..."},
    {IN("xy\xc3\xa9\xc3\xa9zz"), 8, "xy\xc3\xa9..."},
    {IN("\xf0\x9f\x98\x80\xf0\x9f\x98\x80"), 8, "\xf0\x9f\x98\x80..."},
    /* Tiny buffers: as many dots as fit, always NUL-terminated. */
    {IN(""), 1, ""},
    {IN("a"), 1, ""},
    {IN("a"), 2, "a"},
    {IN("ab"), 2, "."},
    {IN("\n"), 2, "."},
    {IN("ab"), 3, "ab"},
    {IN("abc"), 3, ".."},
    {IN("\n"), 3, ".."},
    {IN("\n"), 4, "..."},
    {IN("\n"), 5, "\\x0a"},
    {IN("\n"), 6, "\\x0a"},
    {IN("\n\n"), 6, "..."},
};

START_TEST(escapes_untrusted_text)
{
    char out[80];
    size_t size = escapes[_i].size;

    ck_assert_uint_le(size, sizeof out);
    memset(out, 'Z', sizeof out);
    const char *got = log_escape(escapes[_i].in, escapes[_i].len, out, size);
    ck_assert_ptr_eq(got, out);
    ck_assert_msg(memchr(out, '\0', size) != NULL, "no NUL within %zu", size);
    ck_assert_str_eq(out, escapes[_i].out);
    /* Nothing written past size. */
    for (size_t i = size; i < sizeof out; i++)
        ck_assert_int_eq(out[i], 'Z');
}
END_TEST

/* Every size from 1 up cuts a long line to fit and never overruns. */
START_TEST(escapes_into_every_small_size)
{
    static const char in[] = "x\n\\\xc3\xa9y\x01";
    char out[40];

    for (size_t size = 1; size < 24; size++) {
        memset(out, 'Z', sizeof out);
        log_escape(in, sizeof in - 1, out, size);
        size_t len = strlen(out);
        ck_assert_uint_lt(len, size);
        for (size_t i = size; i < sizeof out; i++)
            ck_assert_int_eq(out[i], 'Z');
        /* Either the whole escaped text or a cut ending in dots. */
        if (strcmp(out, "x\\x0a\\x5c\xc3\xa9y\\x01") != 0)
            ck_assert(len == 0 || out[len - 1] == '.');
    }
}
END_TEST

/* --- writing ------------------------------------------------------------ */

static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/xmppd-log-XXXXXX",
             base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static char *tmp_path(const char *name)
{
    static char path[2][512];
    static int which;

    which ^= 1;
    snprintf(path[which], sizeof path[which], "%s/%s", tmpdir, name);
    return path[which];
}

/* The whole of path, or "" when it does not exist. The caller frees it. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        char *empty = malloc(1);
        empty[0] = '\0';
        return empty;
    }
    char *buf = malloc(65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void remove_tmpdir(const char *const *names)
{
    for (size_t i = 0; names[i]; i++)
        unlink(tmp_path(names[i]));
    rmdir(tmpdir);
}

static const char stamp_re[] =
    "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z";

/* Checks that text is exactly the given lines, each behind a timestamp. */
static void assert_lines(const char *text, const char *const *lines)
{
    const char *at = text;

    for (size_t i = 0; lines[i]; i++) {
        char pattern[1024];
        regex_t re;
        regmatch_t m;

        snprintf(pattern, sizeof pattern, "^%s %s\n", stamp_re, lines[i]);
        ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED), 0);
        int r = regexec(&re, at, 1, &m, 0);
        regfree(&re);
        ck_assert_msg(r == 0, "line %zu: want \"%s\" in \"%s\"", i, lines[i],
                      at);
        at += m.rm_eo;
    }
    ck_assert_str_eq(at, "");
}

START_TEST(writes_timestamped_lines_to_a_file)
{
    make_tmpdir();
    const char *path = tmp_path("xmppd.log");

    log_threshold = LOGL_DEBUG;
    ck_assert_int_eq(log_open(LOG_TO_FILE, path, "test"), 0);
    time_t before = time(NULL);
    log_write(LOGL_WARN, "c2s#42 203.0.113.9:51514",
              "stanza of %d bytes over limit %d; closing", 70211, 65536);
    log_write(LOGL_ERROR, NULL, "no context");
    log_write(LOGL_DEBUG, "sm", "%s", "debug line");
    log_info("router", "started");
    time_t after = time(NULL);
    log_close();

    char *text = slurp(path);
    const char *const want[] = {
        "warn c2s#42 203\\.0\\.113\\.9:51514: stanza of 70211 bytes over limit "
        "65536; closing",
        "error -: no context",
        "debug sm: debug line",
        "info router: started",
        NULL,
    };
    assert_lines(text, want);

    /* The stamp is UTC and now. */
    struct tm tm = {0};
    ck_assert_ptr_nonnull(strptime(text, "%Y-%m-%dT%H:%M:%S", &tm));
    time_t stamp = timegm(&tm);
    ck_assert_int_ge((long)stamp, (long)before);
    ck_assert_int_le((long)stamp, (long)after);
    free(text);
    remove_tmpdir((const char *const[]){"xmppd.log", NULL});
}
END_TEST

static int formatted;

static int count_formatting(void)
{
    return ++formatted;
}

START_TEST(threshold_skips_quieter_lines_unformatted)
{
    make_tmpdir();
    const char *path = tmp_path("xmppd.log");

    ck_assert_int_eq(log_open(LOG_TO_FILE, path, "test"), 0);
    log_threshold = LOGL_WARN;
    formatted = 0;
    log_debug("t", "debug %d", count_formatting());
    log_info("t", "info %d", count_formatting());
    ck_assert_int_eq(formatted, 0);
    log_warn("t", "warn %d", count_formatting());
    log_error("t", "error %d", count_formatting());
    ck_assert_int_eq(formatted, 2);
    log_threshold = LOGL_ERROR;
    log_warn("t", "quiet %d", count_formatting());
    log_at(LOGL_ERROR, "t", "loud %d", count_formatting());
    ck_assert_int_eq(formatted, 3);
    log_threshold = LOGL_INFO;
    log_close();

    char *text = slurp(path);
    const char *const want[] = {
        "warn t: warn 1",
        "error t: error 2",
        "error t: loud 3",
        NULL,
    };
    assert_lines(text, want);
    free(text);
    remove_tmpdir((const char *const[]){"xmppd.log", NULL});
}
END_TEST

START_TEST(reopens_after_rotation)
{
    make_tmpdir();
    char path[512], rotated[512];
    snprintf(path, sizeof path, "%s", tmp_path("xmppd.log"));
    snprintf(rotated, sizeof rotated, "%s", tmp_path("xmppd.log.1"));

    log_threshold = LOGL_INFO;
    ck_assert_int_eq(log_open(LOG_TO_FILE, path, "test"), 0);
    log_info("t", "one");
    ck_assert_int_eq(rename(path, rotated), 0);
    log_info("t", "two"); /* still the old file, now rotated */
    ck_assert_int_eq(log_reopen(), 0);
    log_info("t", "three");
    log_close();

    char *old_text = slurp(rotated);
    char *new_text = slurp(path);
    assert_lines(old_text,
                 (const char *const[]){"info t: one", "info t: two", NULL});
    assert_lines(new_text, (const char *const[]){"info t: three", NULL});
    free(old_text);
    free(new_text);

    /* Opening for append keeps what is there. */
    ck_assert_int_eq(log_open(LOG_TO_FILE, path, "test"), 0);
    log_info("t", "four");
    log_close();
    new_text = slurp(path);
    assert_lines(new_text,
                 (const char *const[]){"info t: three", "info t: four", NULL});
    free(new_text);
    remove_tmpdir((const char *const[]){"xmppd.log", "xmppd.log.1", NULL});
}
END_TEST

START_TEST(reports_a_file_it_cannot_open)
{
    make_tmpdir();

    ck_assert_int_eq(log_open(LOG_TO_FILE, tmp_path("no/such/dir.log"), "t"),
                     UV_ENOENT);
    log_close();
    ck_assert_int_eq(log_open(LOG_TO_FILE, NULL, "t"), UV_EINVAL);
    log_close();
    /* Reopening other targets has nothing to do. */
    ck_assert_int_eq(log_open(LOG_TO_STDERR, NULL, "t"), 0);
    ck_assert_int_eq(log_reopen(), 0);
    log_close();
    remove_tmpdir((const char *const[]){NULL});
}
END_TEST

START_TEST(writes_to_stderr_by_default)
{
    FILE *tmp = tmpfile();
    int saved = dup(STDERR_FILENO);

    ck_assert_ptr_nonnull(tmp);
    dup2(fileno(tmp), STDERR_FILENO);
    ck_assert_int_eq(log_open(LOG_TO_STDERR, NULL, "t"), 0);
    log_threshold = LOGL_INFO;
    log_info("router", "hello %s", "world");
    log_close();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);

    char text[512];
    rewind(tmp);
    size_t n = fread(text, 1, sizeof text - 1, tmp);
    text[n] = '\0';
    fclose(tmp);
    assert_lines(text, (const char *const[]){"info router: hello world", NULL});
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("log");

    TCase *level = tcase_create("level");
    tcase_add_loop_test(level, parses_level_names, 0,
                        sizeof levels / sizeof levels[0]);
    tcase_add_test(level, names_unknown_levels_safely);
    suite_add_tcase(suite, level);

    TCase *escape = tcase_create("escape");
    tcase_add_loop_test(escape, escapes_untrusted_text, 0,
                        sizeof escapes / sizeof escapes[0]);
    tcase_add_test(escape, escapes_into_every_small_size);
    suite_add_tcase(suite, escape);

    TCase *write = tcase_create("write");
    tcase_add_test(write, writes_timestamped_lines_to_a_file);
    tcase_add_test(write, threshold_skips_quieter_lines_unformatted);
    tcase_add_test(write, reopens_after_rotation);
    tcase_add_test(write, reports_a_file_it_cannot_open);
    tcase_add_test(write, writes_to_stderr_by_default);
    suite_add_tcase(suite, write);
    return suite;
}
