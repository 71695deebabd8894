/* SPDX-License-Identifier: MIT */
/* libcommon/alloc.h: allocation that never fails. Out of memory logs a line
 * and aborts: configured limits bound memory, so there are no OOM branches. */
#ifndef XMPPD_LIBCOMMON_ALLOC_H
#define XMPPD_LIBCOMMON_ALLOC_H
#include <stddef.h>

void *xalloc(size_t size);                 /* zeroed */
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);              /* NULL gives NULL */
char *xstrndup(const char *s, size_t len); /* always NUL-terminated */
/* A new string formatted like printf; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
