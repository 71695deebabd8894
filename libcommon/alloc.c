/* SPDX-License-Identifier: MIT */
/* libcommon/alloc.c: allocation wrappers that abort on exhaustion. */
#include "libcommon/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void alloc_die(size_t size)
{
    char line[96];
    int n = snprintf(line, sizeof line,
                     "fatal: out of memory allocating %zu bytes\n", size);
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nothing left to report with */
    }
    abort();
}

void *xalloc(size_t size)
{
    void *p = calloc(1, size ? size : 1);
    if (!p)
        alloc_die(size);
    return p;
}

void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        alloc_die(size);
    return q;
}

char *xstrndup(const char *s, size_t len)
{
    char *d = xalloc(len + 1);
    memcpy(d, s, len);
    return d;
}

char *xstrdup(const char *s)
{
    return s ? xstrndup(s, strlen(s)) : NULL;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = xalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}
