/* SPDX-License-Identifier: MIT */
/* tests/unit/testcfg.c: config documents and their diagnostics in tests. */
#include "tests/unit/testcfg.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libcommon/error.h"

char *testcfg_data_path(const char *rel)
{
    static char buf[4096];
    const char *dir = getenv("XMPPD_TEST_DATA");

    if (dir && *dir) {
        snprintf(buf, sizeof buf, "%s/%s", dir, rel);
    } else {
        const char *here = __FILE__;
        const char *slash = strrchr(here, '/');
        int len = slash ? (int)(slash - here) : 1;
        snprintf(buf, sizeof buf, "%.*s/../data/%s", len, slash ? here : ".",
                 rel);
    }
    return buf;
}

int testcfg_line_of(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int n = 0;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    while (fgets(line, sizeof line, f)) {
        n++;
        if (strstr(line, needle)) {
            fclose(f);
            return n;
        }
    }
    fclose(f);
    return 0;
}

cfg *testcfg_load(const char *xml)
{
    cfg *c = NULL;
    cfg_diag d = {.line = -1};

    int err = cfg_load_string(xml, "t.xml", &c, &d);
    ck_assert_msg(err == 0, "load failed: %s:%d: %s", d.file, d.line,
                  d.message);
    ck_assert_ptr_nonnull(c);
    return c;
}

void testcfg_assert_diag(const cfg_diag *d, const char *file, int line,
                         const char *message)
{
    ck_assert_str_eq(d->file, file);
    ck_assert_int_eq(d->line, line);
    ck_assert_str_eq(d->message, message);
}

void testcfg_assert_refused(const char *xml, int line, const char *message)
{
    cfg *c = (cfg *)1;
    cfg_diag d = {.line = -1};

    ck_assert_int_eq(cfg_load_string(xml, "t.xml", &c, &d), XE_CONFIG);
    ck_assert_ptr_null(c);
    testcfg_assert_diag(&d, "t.xml", line, message);
}

void testcfg_assert_file_refused(const char *path, int line,
                                 const char *message)
{
    char file[4096];
    cfg *c = (cfg *)1;
    cfg_diag d = {.line = -1};

    /* path may be testcfg_data_path()'s buffer, which may change. */
    snprintf(file, sizeof file, "%s", path);
    ck_assert_int_eq(cfg_load(file, &c, &d), XE_CONFIG);
    ck_assert_ptr_null(c);
    testcfg_assert_diag(&d, file, line, message);
}

const char *testcfg_stderr_of(void (*fn)(const void *arg), const void *arg)
{
    static char out[1024];
    FILE *tmp = tmpfile();
    int saved = dup(STDERR_FILENO);

    ck_assert_ptr_nonnull(tmp);
    fflush(stderr);
    dup2(fileno(tmp), STDERR_FILENO);
    fn(arg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, sizeof out - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    return out;
}
