/* SPDX-License-Identifier: MIT */
/* libcommon/buf.c: growable byte buffers. */
#include "libcommon/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"

void buf_init(buf *b)
{
    memset(b, 0, sizeof *b);
}

void buf_close(buf *b)
{
    free(b->base);
    buf_init(b);
}

char *buf_reserve(buf *b, size_t len)
{
    if (b->cap - b->end >= len)
        return b->base + b->end;
    size_t used = b->end - b->start;
    /* Slide the unread bytes to the front when that makes enough room and
     * the move is cheap relative to what was consumed. */
    if (b->start > 0 && b->cap - used >= len && b->start >= used) {
        memmove(b->base, b->base + b->start, used);
        b->start = 0;
        b->end = used;
        return b->base + b->end;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - used < len)
        cap *= 2;
    if (b->start > 0) {
        char *nb = xalloc(cap);
        memcpy(nb, b->base + b->start, used);
        free(b->base);
        b->base = nb;
    } else {
        b->base = xrealloc(b->base, cap);
    }
    b->start = 0;
    b->end = used;
    b->cap = cap;
    return b->base + b->end;
}

void buf_commit(buf *b, size_t len)
{
    b->end += len;
}

void buf_append(buf *b, const void *data, size_t len)
{
    if (len == 0)
        return;
    memcpy(buf_reserve(b, len), data, len);
    b->end += len;
}

void buf_append_str(buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *dst = buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->end += (size_t)n;
}

void buf_append_xml(buf *b, const char *s, size_t len, int is_attr)
{
    size_t run = 0;   /* bytes that need no escape, appended in one go */
    for (size_t i = 0; i < len; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '&': esc = "&amp;"; break;
        case '<': esc = "&lt;"; break;
        case '>': esc = "&gt;"; break;
        case '"': esc = is_attr ? "&quot;" : NULL; break;
        case '\'': esc = is_attr ? "&apos;" : NULL; break;
        }
        if (!esc)
            continue;
        buf_append(b, s + run, i - run);
        buf_append_str(b, esc);
        run = i + 1;
    }
    buf_append(b, s + run, len - run);
}

void buf_append_attr(buf *b, const char *name, const char *value)
{
    if (!value)
        return;
    buf_append_str(b, " ");
    buf_append_str(b, name);
    buf_append_str(b, "='");
    buf_append_xml(b, value, strlen(value), 1);
    buf_append_str(b, "'");
}

void buf_consume(buf *b, size_t len)
{
    b->start += len;
    if (b->start >= b->end)
        b->start = b->end = 0;
}

void buf_clear(buf *b)
{
    b->start = b->end = 0;
}

void buf_truncate(buf *b, size_t len)
{
    if (len < buf_len(b))
        b->end = b->start + len;
}

char *buf_steal(buf *b)
{
    buf_append(b, "", 1);
    char *s;
    if (b->start == 0) {
        s = b->base;
    } else {
        s = xstrndup(b->base + b->start, b->end - b->start - 1);
        free(b->base);
    }
    buf_init(b);
    return s;
}
