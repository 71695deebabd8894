/* SPDX-License-Identifier: MIT */
/* libcommon/xstream_impl.h: the parser's state, shared by xstream.c and
 * xstream_restrict.c only; users of the parser include xstream.h. */
#ifndef XMPPD_LIBCOMMON_XSTREAM_IMPL_H
#define XMPPD_LIBCOMMON_XSTREAM_IMPL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/parser.h>

#include "libcommon/buf.h"
#include "libcommon/xs.h"
#include "libcommon/xstream.h"

typedef enum {
    XSTREAM_HEADER, /* waiting for the stream header */
    XSTREAM_OPEN,   /* in the stream */
    XSTREAM_CLOSED, /* the stream ended, or xstream_stop() */
    XSTREAM_FAILED, /* error() has fired */
} xstream_state;

/* A failure's description, for the log. */
enum { XSTREAM_WHY_BYTES = 256 };

/* Offsets count the bytes fed since xstream_new(). */
struct xstream {
    xstream_limits limits;
    xstream_events events;
    void *ud;
    bool shallow;
    xstream_state state;
    int err; /* XE_* once failed */
    bool in_feed;
    bool restart; /* xstream_reset() from a callback */
    uint64_t restart_at;
    xmlParserCtxtPtr ctxt;
    unsigned depth;     /* open elements, the stream root included */
    uint64_t fed;       /* bytes fed so far */
    uint64_t ctx_base;  /* where the current parser context began */
    uint64_t mark;      /* end of the last top-level element or header */
    uint64_t event_end; /* end of the element being reported */
    const char *chunk;  /* the chunk being fed, starting at chunk_off */
    uint64_t chunk_off;
    buf pending; /* bytes [pend_off, chunk_off) of an unfinished
                    top-level element */
    uint64_t pend_off;
    uint64_t tag_start;    /* an unfinished start tag being counted */
    uint64_t tag_scanned;  /* how far */
    unsigned tag_attrs;    /* '=' outside quotes so far */
    char tag_quote;        /* the quote we are in, or 0 */
    unsigned char lead[4]; /* the first bytes of a stream, until vetted */
    size_t lead_len;       /* 4 once vetted */
    bool loose_text;       /* non-space text after the last element, unreported */
    bool is_resting;       /* no parser context: xstream_rest() */
    bool is_waking;        /* the next header is resume_header */
    char *resume_header;   /* the header's name and namespaces, for waking */
    xs_elem *stanza;       /* the top-level element being built */
    xs_elem *node;         /* the innermost element being built */
    buf text;              /* text not yet added to node */
    char *content_ns;
    char *why;             /* the failure, once failed (XSTREAM_WHY_BYTES) */
};

/* Marks the stream failed with cond and XE_* err, keeps the description for
 * the log and reports it to the error callback once. */
void xstream_fail(xstream *xs, xs_stream_condition cond, int err,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* From inside a SAX callback: libxml2 parses no further. */
void xstream_halt(xstream *xs);
/* The stream is being parsed: neither ended nor failed nor being reset. */
bool xstream_is_live(const xstream *xs);

/* xstream_restrict.c: the SAX callbacks that refuse what RFC 6120 §11 rules
 * out (DTDs, entities, comments, processing instructions, other encodings)
 * and turn libxml2's errors into stream errors. */
void xstream_on_start_document(void *ud);
void xstream_on_dtd(void *ud, const xmlChar *name, const xmlChar *external_id,
                    const xmlChar *system_id);
void xstream_on_entity_decl(void *ud, const xmlChar *name, int type,
                            const xmlChar *public_id, const xmlChar *system_id,
                            xmlChar *content);
void xstream_on_reference(void *ud, const xmlChar *name);
void xstream_on_comment(void *ud, const xmlChar *value);
void xstream_on_pi(void *ud, const xmlChar *target, const xmlChar *data);
xmlEntityPtr xstream_on_get_entity(void *ud, const xmlChar *name);
xmlEntityPtr xstream_on_get_pe(void *ud, const xmlChar *name);
void xstream_on_xml_error(void *ud, xmlErrorPtr err);
#endif
