/* SPDX-License-Identifier: MIT */
/* libcommon/buf.h: growable byte buffers. Data is appended at the end and
 * consumed from the front; the buffer compacts itself as it goes. */
#ifndef XMPPD_LIBCOMMON_BUF_H
#define XMPPD_LIBCOMMON_BUF_H
#include <stddef.h>

typedef struct buf {      /* embed it; the fields are read-only outside buf.c */
    char *base;           /* allocation */
    size_t start;         /* first unread byte */
    size_t end;           /* one past the last byte */
    size_t cap;
} buf;

void buf_init(buf *b);
void buf_close(buf *b);                        /* frees the storage */
static inline const char *buf_data(const buf *b) { return b->base + b->start; }
static inline size_t buf_len(const buf *b) { return b->end - b->start; }
void buf_append(buf *b, const void *data, size_t len);
void buf_append_str(buf *b, const char *s);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with the XML escapes for text (attr false) or attribute values. */
void buf_append_xml(buf *b, const char *s, size_t len, int is_attr);
/* Appends " name='value'" with value escaped; nothing when value is NULL. */
void buf_append_attr(buf *b, const char *name, const char *value);
/* Room for at least len more bytes at the end; returns where to write them.
 * Call buf_commit() with the count actually written. */
char *buf_reserve(buf *b, size_t len);
void buf_commit(buf *b, size_t len);
void buf_consume(buf *b, size_t len);          /* drops len bytes from the front */
void buf_clear(buf *b);                        /* empties, keeps the storage */
void buf_truncate(buf *b, size_t len);         /* keeps the first len bytes */
/* Moves the contents out as a NUL-terminated string the caller frees. */
char *buf_steal(buf *b);
#endif
