/* SPDX-License-Identifier: MIT */
/* bench/frame.h: a light XML stream framer for the load tool. It cuts a
 * received XMPP stream into the stream header, whole top-level elements and
 * the stream close, and reads attributes of a start tag in place. It checks
 * only what it needs to find boundaries: it is no parser, and trusts the
 * server under test to send well-formed XML. */
#ifndef XMPPD_BENCH_FRAME_H
#define XMPPD_BENCH_FRAME_H
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    FRAME_MORE,    /* the next unit is not complete yet: read more */
    FRAME_OPEN,    /* the stream header start tag, <stream:stream ...> */
    FRAME_ELEMENT, /* a whole top-level element (a stanza, handshake, ...) */
    FRAME_CLOSE,   /* </stream:stream> */
    FRAME_BAD,     /* a markup the framer cannot make sense of */
} frame_kind;

typedef struct frame {
    const char *start; /* the unit's first byte, '<' */
    size_t len;        /* its length in bytes */
} frame;

/* Finds the next unit in data[*pos..len). has_stream_open says whether the
 * stream header has been seen: before it, a start tag is FRAME_OPEN. Text,
 * the XML declaration and comments between units are skipped. On a unit,
 * fills *out and advances *pos past it. On FRAME_MORE, *pos is moved only
 * over skipped bytes, so the caller keeps data[*pos..len) and calls again
 * once more bytes follow. */
frame_kind frame_next(const char *data, size_t len, size_t *pos,
                      bool has_stream_open, frame *out);

/* The element name of the start tag at the front of f ("message",
 * "stream:error"); *name_len gets its length. Points into f. */
const char *frame_name(const frame *f, size_t *name_len);

/* True when the start tag at the front of f is named name. */
bool frame_is(const frame *f, const char *name);

/* Finds attribute name (exact, prefix included) in the start tag at the
 * front of f. On success points *value at the raw value (entities left as
 * they are) and *value_len at its length, and returns true. */
bool frame_attr(const frame *f, const char *name, const char **value,
                size_t *value_len);

/* True when attribute name of the start tag at the front of f is exactly
 * value (raw, entities not decoded). */
bool frame_attr_is(const frame *f, const char *name, const char *value);

/* The text between the start and the end tag of the element in f, raw; its
 * length in *len, 0 for an empty element (<x/>). Points into f. */
const char *frame_text(const frame *f, size_t *len);

/* The first child element's name of the element in f, or NULL when it has
 * none; *name_len gets the length. For stream and stanza error conditions. */
const char *frame_first_child(const frame *f, size_t *name_len);
#endif
