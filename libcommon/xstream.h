/* SPDX-License-Identifier: MIT */
/* libcommon/xstream.h: an XMPP stream parser (libxml2 SAX2 push parser) fed
 * arbitrary byte chunks. It reports the stream header, each top-level stanza
 * (as a tree and as the raw bytes it came in, for forwarding without
 * re-serializing) and the stream's end; it refuses DTDs, entities other than
 * the five predefined, PIs and comments (RFC 6120 §11.1) and encodings other
 * than UTF-8 (§11.6; a UTF-8 byte order mark is skipped), and enforces
 * limits. */
#ifndef XMPPD_LIBCOMMON_XSTREAM_H
#define XMPPD_LIBCOMMON_XSTREAM_H
#include <stdbool.h>
#include <stddef.h>

#include "libcommon/xs.h"

typedef struct xstream xstream;

typedef struct xstream_limits {
    size_t max_stanza_bytes;   /* raw bytes of one top-level element, tags included */
    unsigned max_depth;        /* element nesting below the stream root */
    unsigned max_attrs;        /* attributes plus namespace declarations per element */
} xstream_limits;
#define XSTREAM_DEFAULT_LIMITS { 262144, 64, 64 }

/* The callbacks borrow what they get: xstream frees it after they return
 * (xs_ref() a tree to keep it). They may call xstream_reset() and
 * xstream_stop(), never xstream_free(). */
typedef struct xstream_events {
    /* The stream header: an element holding the header's name, namespace
     * and attributes, no children. */
    void (*open)(void *ud, xs_elem *header);
    /* A complete top-level element. In shallow mode the tree holds only the
     * element's name, namespace, attributes and its own direct text. raw is
     * the element exactly as received (raw_len bytes, not NUL-terminated). */
    void (*stanza)(void *ud, xs_elem *st, const char *raw, size_t raw_len);
    /* </stream:stream> was received. */
    void (*close)(void *ud);
    /* The stream is broken: cond is the stream error to send, text says why
     * (for the log; it may quote peer bytes, so log_escape() it). Nothing
     * more is reported after an error. */
    void (*error)(void *ud, xs_stream_condition cond, const char *text);
} xstream_events;

/* A new parser. shallow: build only the top-level element of each stanza
 * (the router's fast path). limits NULL takes XSTREAM_DEFAULT_LIMITS. */
xstream *xstream_new(const xstream_limits *limits, bool shallow,
                     const xstream_events *events, void *ud);
void xstream_free(xstream *xs);            /* NULL is fine; not from a callback */
/* Parses len bytes, firing callbacks. Returns 0, or XE_BAD_XML / XE_LIMIT
 * once error() has fired (further feeds return the same), or XE_CLOSED once
 * the stream has ended or xstream_stop() was called (also from the feed
 * during which that happened). */
int xstream_feed(xstream *xs, const char *data, size_t len);
/* Expects a new stream header next (after STARTTLS or SASL, RFC 6120 §4.3.3).
 * Bytes after the current stanza in the chunk being fed go to the new stream.
 * No effect once the stream has failed, ended or been stopped. */
void xstream_reset(xstream *xs);
/* Stops parsing: the rest of the current chunk and later feeds are ignored. */
void xstream_stop(xstream *xs);
/* Gives back the parser's memory (some 17 kB) while the stream sits between
 * stanzas, for a connection that has gone quiet; the next feed builds a new
 * parser that goes on with the same stream. Returns false, and does nothing,
 * unless the stream is open with no element partly received. */
bool xstream_rest(xstream *xs);
/* Bytes buffered for the element being received (for limits and memory use). */
size_t xstream_pending(const xstream *xs);
/* The default namespace the stream header declared: the stanzas' namespace,
 * e.g. "jabber:client" ("" when it declared none; NULL before the header).
 * The caller decides whether it is supported (invalid-namespace otherwise).
 * Valid until xstream_reset(), the next header or xstream_free(). */
const char *xstream_content_ns(const xstream *xs);
#endif
