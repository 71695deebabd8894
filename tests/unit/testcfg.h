/* SPDX-License-Identifier: MIT */
/* tests/unit/testcfg.h: loading config documents in a test, and checking
 * the diagnostics they give. Failures end the running Check test. */
#ifndef XMPPD_TESTS_TESTCFG_H
#define XMPPD_TESTS_TESTCFG_H
#include "libcommon/cfg.h"

/* rel below tests/data: from XMPPD_TEST_DATA, which ctest sets, else next
 * to this file. The result lives in a buffer the next call reuses. */
char *testcfg_data_path(const char *rel);
/* The 1-based number of the first line of path that holds needle, or 0. */
int testcfg_line_of(const char *path, const char *needle);

/* Loads xml as "t.xml"; the caller frees the result with cfg_free(). */
cfg *testcfg_load(const char *xml);
/* d names file and line, and says message. */
void testcfg_assert_diag(const cfg_diag *d, const char *file, int line,
                         const char *message);
/* Loading xml as "t.xml" is refused, at line with message. */
void testcfg_assert_refused(const char *xml, int line, const char *message);
/* Loading the file at path is refused, at line with message. */
void testcfg_assert_file_refused(const char *path, int line,
                                 const char *message);

/* Runs fn(arg) with stderr sent to a file and returns what it wrote (up to
 * 1 KiB, in a buffer the next call reuses). */
const char *testcfg_stderr_of(void (*fn)(const void *arg), const void *arg);
#endif
