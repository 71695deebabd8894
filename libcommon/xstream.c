/* SPDX-License-Identifier: MIT */
/* libcommon/xstream.c: the XMPP stream parser, on libxml2's SAX2 push parser,
 * with the restricted XML of RFC 6120 §11.1 and the configured limits. */
#include "libcommon/xstream.h"
#include "libcommon/xstream_impl.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/entities.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "libcommon/error.h"
#include "libcommon/log.h"
#include "libcommon/xmlmem.h"

/* A chunk goes to libxml2 in slices of at most this many bytes, and what is
 * still arriving is checked after each (xstream_check_unfinished()). */
enum { XSTREAM_SLICE = 4096 };
/* An emptied pending buffer bigger than this gives its memory back. */
enum { XSTREAM_KEEP_BYTES = 16384 };

void xstream_fail(xstream *xs, xs_stream_condition cond, int err,
                  const char *fmt, ...)
{
    if (xs->state >= XSTREAM_CLOSED || xs->restart)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (!xs->why)
        xs->why = xalloc(XSTREAM_WHY_BYTES);
    vsnprintf(xs->why, XSTREAM_WHY_BYTES, fmt, ap);
    va_end(ap);
    xs->state = XSTREAM_FAILED;
    xs->err = err;
    buf_close(&xs->pending);
    if (xs->events.error)
        xs->events.error(xs->ud, cond, xs->why);
}

void xstream_halt(xstream *xs)
{
    xmlStopParser(xs->ctxt);
}

bool xstream_is_live(const xstream *xs)
{
    return xs->state <= XSTREAM_OPEN && !xs->restart;
}

/* Without entity substitution libxml2 hands over each '&' of an attribute
 * value or namespace name as "&#38;" (for a tree builder to reparse), and
 * with entities other than the predefined ones refused, that is the only '&'
 * they can hold. Decodes s (len bytes) in place; returns the new length. */
static size_t xstream_amp_decode(char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        s[n++] = s[i];
        if (s[i] == '&' && len - i >= 5 && memcmp(s + i, "&#38;", 5) == 0)
            i += 4;
    }
    s[n] = '\0';
    return n;
}

/* A decoded copy of s when it holds an '&', kept in owned; else s. */
static const char *xstream_amp(const char *s, size_t *len, char **owned,
                               size_t *nowned)
{
    if (!s || !memchr(s, '&', *len))
        return s;
    char *d = xstrndup(s, *len);
    *len = xstream_amp_decode(d, *len);
    owned[(*nowned)++] = d;
    return d;
}

static xs_elem *xstream_elem(const xmlChar *name, const xmlChar *uri,
                             int nattrs, const xmlChar **attrs)
{
    xs_attr_in small[16];
    xs_attr_in *in = nattrs <= 16 ? small : xalloc(nattrs * sizeof *in);
    const char *ns = uri ? (const char *)uri : "";
    bool has_amp = strchr(ns, '&');
    for (int i = 0; i < nattrs; i++) {
        const xmlChar **a = attrs + 5 * i; /* name, prefix, URI, value, end */
        in[i] = (xs_attr_in){.name = (const char *)a[0],
                             .ns = (const char *)a[2],
                             .value = (const char *)a[3],
                             .value_len = (size_t)(a[4] - a[3])};
        has_amp = has_amp || memchr(in[i].value, '&', in[i].value_len) ||
                  (in[i].ns && strchr(in[i].ns, '&'));
    }
    char **owned = NULL;
    size_t nowned = 0;
    if (has_amp) {
        owned = xalloc((2 * (size_t)nattrs + 1) * sizeof *owned);
        size_t len = strlen(ns);
        ns = xstream_amp(ns, &len, owned, &nowned);
        for (int i = 0; i < nattrs; i++) {
            in[i].value =
                xstream_amp(in[i].value, &in[i].value_len, owned, &nowned);
            len = in[i].ns ? strlen(in[i].ns) : 0;
            in[i].ns = xstream_amp(in[i].ns, &len, owned, &nowned);
        }
    }
    xs_elem *e = xs_new_attrs((const char *)name, ns, nattrs ? in : NULL,
                              (size_t)nattrs);
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    free(owned);
    if (in != small)
        free(in);
    return e;
}

static void xstream_flush_text(xstream *xs)
{
    if (buf_len(&xs->text) == 0)
        return;
    xs_add_text(xs->node, buf_data(&xs->text), buf_len(&xs->text));
    buf_clear(&xs->text);
}

static uint64_t xstream_consumed(const xstream *xs)
{
    return xs->ctx_base + (uint64_t)xmlByteConsumed(xs->ctxt);
}

/* What a new parser context is fed to go on with a stream after
 * xstream_rest(): the header's qualified name and every namespace it
 * declared, so that the stanzas mean what they meant. */
static void xstream_save_header(xstream *xs, const xmlChar *name,
                                const xmlChar *prefix, int nns,
                                const xmlChar **nss)
{
    buf b;
    buf_init(&b);
    buf_printf(&b, "<%s%s%s", prefix ? (const char *)prefix : "",
               prefix ? ":" : "", (const char *)name);
    for (int i = 0; i < nns; i++) {
        const char *pfx = (const char *)nss[2 * i];
        size_t len = strlen((const char *)nss[2 * i + 1]);
        char *uri = xstrndup((const char *)nss[2 * i + 1], len);
        len = xstream_amp_decode(uri, len);
        buf_printf(&b, " xmlns%s%s='", pfx ? ":" : "", pfx ? pfx : "");
        buf_append_xml(&b, uri, len, 1);
        buf_append_str(&b, "'");
        free(uri);
    }
    buf_append_str(&b, ">");
    free(xs->resume_header);
    xs->resume_header = buf_steal(&b);
}

static void xstream_on_header(xstream *xs, const xmlChar *name,
                              const xmlChar *prefix, const xmlChar *uri,
                              int nns, const xmlChar **nss, int nattrs,
                              const xmlChar **attrs)
{
    /* libxml2 reports a start tag before it consumes the tag's '>'. */
    uint64_t end = xstream_consumed(xs) + (*xs->ctxt->input->cur == '>');
    if (xs->is_waking) {
        /* Our own copy of the header: the stream goes on where it was. */
        xs->is_waking = false;
        xs->state = XSTREAM_OPEN;
        xs->depth = 1;
        xs->mark = xs->event_end = end;
        return;
    }
    if (end - xs->ctx_base > xs->limits.max_stanza_bytes) {
        xstream_fail(xs, XS_STREAM_POLICY_VIOLATION, XE_LIMIT,
                     "stream header of %" PRIu64 " bytes over limit %zu",
                     end - xs->ctx_base, xs->limits.max_stanza_bytes);
        xstream_halt(xs);
        return;
    }
    /* RFC 6120 §4.9.3.10 */
    if (!uri || strcmp((const char *)uri, XS_NS_STREAMS) != 0) {
        xstream_fail(xs, XS_STREAM_INVALID_NAMESPACE, XE_BAD_XML,
                     "stream root in namespace '%s'",
                     uri ? (const char *)uri : "");
        xstream_halt(xs);
        return;
    }
    if (strcmp((const char *)name, "stream") != 0) {
        xstream_fail(xs, XS_STREAM_BAD_FORMAT, XE_BAD_XML,
                     "stream root <%s> instead of <stream>", name);
        xstream_halt(xs);
        return;
    }
    free(xs->content_ns);
    xs->content_ns = NULL;
    for (int i = 0; i < nns; i++) {
        if (!nss[2 * i]) { /* no prefix: the default namespace */
            xs->content_ns = xstrdup((const char *)nss[2 * i + 1]);
            xstream_amp_decode(xs->content_ns, strlen(xs->content_ns));
        }
    }
    if (!xs->content_ns)
        xs->content_ns = xstrdup("");
    xstream_save_header(xs, name, prefix, nns, nss);
    xs->state = XSTREAM_OPEN;
    xs->depth = 1;
    xs->mark = xs->event_end = end;
    xs_elem *header = xstream_elem(name, uri, nattrs, attrs);
    if (xs->events.open)
        xs->events.open(xs->ud, header);
    xs_unref(header);
}

static void xstream_on_start(void *ud, const xmlChar *name,
                             const xmlChar *prefix, const xmlChar *uri, int nns,
                             const xmlChar **nss, int nattrs, int ndefaulted,
                             const xmlChar **attrs)
{
    xstream *xs = ud;
    (void)ndefaulted;
    if (!xstream_is_live(xs))
        return;
    if ((unsigned)(nattrs + nns) > xs->limits.max_attrs) {
        xstream_fail(xs, XS_STREAM_POLICY_VIOLATION, XE_LIMIT,
                     "element <%s> with %d attributes over limit %u", name,
                     nattrs + nns, xs->limits.max_attrs);
        xstream_halt(xs);
        return;
    }
    if (xs->depth == 0) {
        xstream_on_header(xs, name, prefix, uri, nns, nss, nattrs, attrs);
        return;
    }
    if (xs->depth > xs->limits.max_depth) {
        xstream_fail(xs, XS_STREAM_POLICY_VIOLATION, XE_LIMIT,
                     "element nesting of %u over limit %u", xs->depth,
                     xs->limits.max_depth);
        xstream_halt(xs);
        return;
    }
    xs->depth++;
    if (xs->depth == 2) {
        xs->stanza = xs->node = xstream_elem(name, uri, nattrs, attrs);
    } else if (!xs->shallow) {
        xstream_flush_text(xs);
        xs->node = xs_add(xs->node, xstream_elem(name, uri, nattrs, attrs));
    }
}

/* Drops the bytes of a reported element from pending; what may follow it
 * matters only from its next '<' on. */
static void xstream_consume_pending(xstream *xs, size_t len)
{
    buf_consume(&xs->pending, len);
    size_t left = buf_len(&xs->pending);
    if (left > 0) {
        const char *p = buf_data(&xs->pending);
        const char *lt = memchr(p, '<', left);
        size_t skip = lt ? (size_t)(lt - p) : left;
        buf_consume(&xs->pending, skip);
        xs->pend_off += len + skip;
        left -= skip;
    }
    if (left == 0 && xs->pending.cap > XSTREAM_KEEP_BYTES)
        buf_close(&xs->pending);
}

static void xstream_end_stanza(xstream *xs)
{
    uint64_t end = xstream_consumed(xs);
    const char *raw;
    size_t raw_len;
    bool in_pending = buf_len(&xs->pending) > 0;
    if (in_pending) {
        /* It began in an earlier chunk: complete it there. */
        if (end > xs->chunk_off)
            buf_append(&xs->pending, xs->chunk, end - xs->chunk_off);
        raw = buf_data(&xs->pending);
        raw_len = end - xs->pend_off;
    } else {
        /* Only whitespace lies between the last element and this one. */
        uint64_t from = xs->mark > xs->chunk_off ? xs->mark : xs->chunk_off;
        const char *p = xs->chunk + (from - xs->chunk_off);
        raw = memchr(p, '<', end - from);
        raw_len = (size_t)(xs->chunk + (end - xs->chunk_off) - raw);
    }
    xstream_flush_text(xs);
    xs_elem *st = xs->stanza;
    xs->stanza = xs->node = NULL;
    xs->depth = 1;
    if (raw_len > xs->limits.max_stanza_bytes) {
        xs_unref(st);
        xstream_fail(xs, XS_STREAM_POLICY_VIOLATION, XE_LIMIT,
                     "stanza of %zu bytes over limit %zu", raw_len,
                     xs->limits.max_stanza_bytes);
        xstream_halt(xs);
        return;
    }
    xs->mark = xs->event_end = end;
    xs->loose_text = false;
    if (xs->events.stanza)
        xs->events.stanza(xs->ud, st, raw, raw_len);
    xs_unref(st);
    if (in_pending)
        xstream_consume_pending(xs, raw_len);
    if (xs->text.cap > XSTREAM_KEEP_BYTES)
        buf_close(&xs->text);
}

static void xstream_on_end(void *ud, const xmlChar *name, const xmlChar *prefix,
                           const xmlChar *uri)
{
    xstream *xs = ud;
    (void)name;
    (void)prefix;
    (void)uri;
    if (!xstream_is_live(xs))
        return;
    if (xs->depth == 1) {
        xs->depth = 0;
        xs->state = XSTREAM_CLOSED;
        xs->event_end = xstream_consumed(xs);
        buf_close(&xs->pending);
        xstream_halt(xs);
        if (xs->events.close)
            xs->events.close(xs->ud);
        return;
    }
    if (xs->depth == 2) {
        xstream_end_stanza(xs);
        return;
    }
    if (!xs->shallow) {
        xstream_flush_text(xs);
        xs->node = xs_parent(xs->node);
    }
    xs->depth--;
}

static void xstream_on_text(void *ud, const xmlChar *ch, int len)
{
    xstream *xs = ud;
    if (!xstream_is_live(xs))
        return;
    if (xs->depth >= 2) {
        if (xs->depth == 2 || !xs->shallow)
            buf_append(&xs->text, ch, (size_t)len);
        return;
    }
    /* RFC 6120 §4.6.1: whitespace may keep the stream alive between
     * stanzas; any other text there is no stanza at all. */
    for (int i = 0; i < len; i++) {
        if (ch[i] != ' ' && ch[i] != '\t' && ch[i] != '\n' && ch[i] != '\r') {
            xstream_fail(xs, XS_STREAM_BAD_FORMAT, XE_BAD_XML,
                         "text between stanzas");
            xstream_halt(xs);
            return;
        }
    }
}

/* Whether s is UTF-8 in shortest form, without surrogates. */
static bool xstream_is_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i], cp, min;
        size_t n;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            n = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i < n)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n;
    }
    return true;
}

static void xstream_on_cdata(void *ud, const xmlChar *value, int len)
{
    xstream *xs = ud;
    if (!xstream_is_live(xs))
        return;
    if (xs->depth < 2) {
        xstream_fail(xs, XS_STREAM_BAD_FORMAT, XE_BAD_XML,
                     "CDATA section between stanzas");
        xstream_halt(xs);
        return;
    }
    /* libxml2 2.9 checks CDATA sections in push mode more loosely than other
     * text (overlong forms pass), and a tree must hold only UTF-8 that others
     * can parse again. libxml2 hands them over in whole characters. */
    if (!xstream_is_utf8(value, (size_t)len)) {
        xstream_fail(xs, XS_STREAM_NOT_WELL_FORMED, XE_BAD_XML,
                     "CDATA section not in UTF-8");
        xstream_halt(xs);
        return;
    }
    xstream_on_text(ud, value, len);
}

static xmlSAXHandler xstream_sax = {
    .internalSubset = xstream_on_dtd,
    .externalSubset = xstream_on_dtd,
    .getEntity = xstream_on_get_entity,
    .getParameterEntity = xstream_on_get_pe,
    .entityDecl = xstream_on_entity_decl,
    .startDocument = xstream_on_start_document,
    .reference = xstream_on_reference,
    .characters = xstream_on_text,
    .ignorableWhitespace = xstream_on_text,
    .cdataBlock = xstream_on_cdata,
    .processingInstruction = xstream_on_pi,
    .comment = xstream_on_comment,
    .initialized = XML_SAX2_MAGIC,
    .startElementNs = xstream_on_start,
    .endElementNs = xstream_on_end,
    .serror = xstream_on_xml_error,
};

static void xstream_drop_context(xstream *xs)
{
    if (xs->ctxt) {
        if (xs->ctxt->myDoc)
            xmlFreeDoc(xs->ctxt->myDoc);
        xmlFreeParserCtxt(xs->ctxt);
        xs->ctxt = NULL;
    }
    xs_unref(xs->stanza);
    xs->stanza = xs->node = NULL;
}

static void xstream_new_context(xstream *xs)
{
    xs->ctxt = xmlCreatePushParserCtxt(&xstream_sax, xs, NULL, 0, NULL);
    if (!xs->ctxt) {
        log_error("xstream", "cannot create an XML parser: out of memory");
        abort();
    }
    /* No network, no entity substitution, no DTD loading. And UTF-8 only:
     * xstream_vet_start() has looked at the first bytes, so libxml2 neither
     * guesses nor switches encodings, and never converts what it parses. */
    xmlCtxtUseOptions(xs->ctxt, XML_PARSE_NONET | XML_PARSE_IGNORE_ENC);
    xmlSwitchEncoding(xs->ctxt, XML_CHAR_ENCODING_UTF8);
}

/* A fresh parser context for a stream whose header starts at offset at. */
static void xstream_begin(xstream *xs, uint64_t at)
{
    xstream_drop_context(xs);
    xstream_new_context(xs);
    xs->is_resting = xs->is_waking = xs->loose_text = false;
    free(xs->resume_header);
    xs->resume_header = NULL;
    xs->lead_len = 0;
    xs->tag_start = UINT64_MAX;
    xs->state = XSTREAM_HEADER;
    xs->depth = 0;
    xs->ctx_base = xs->mark = xs->event_end = at;
    buf_clear(&xs->pending);
    buf_clear(&xs->text);
    free(xs->content_ns);
    xs->content_ns = NULL;
}

xstream *xstream_new(const xstream_limits *limits, bool shallow,
                     const xstream_events *events, void *ud)
{
    static const xstream_limits defaults = XSTREAM_DEFAULT_LIMITS;
    xmlmem_init();
    xmlInitParser();
    xstream *xs = xalloc(sizeof *xs);
    xs->limits = limits ? *limits : defaults;
    if (events)
        xs->events = *events;
    xs->ud = ud;
    xs->shallow = shallow;
    buf_init(&xs->pending);
    buf_init(&xs->text);
    xstream_begin(xs, 0);
    return xs;
}

void xstream_free(xstream *xs)
{
    if (!xs)
        return;
    xstream_drop_context(xs);
    buf_close(&xs->pending);
    buf_close(&xs->text);
    free(xs->content_ns);
    free(xs->resume_header);
    free(xs->why);
    free(xs);
}

static int xstream_status(const xstream *xs)
{
    switch (xs->state) {
    case XSTREAM_FAILED:
        return xs->err;
    case XSTREAM_CLOSED:
        return XE_CLOSED;
    default:
        return 0;
    }
}

/* Counts the attributes of a start tag (the header's, or a stanza's) that
 * is still arriving, as an '=' outside quotes each, from start to upto. */
static void xstream_count_attrs(xstream *xs, uint64_t start, uint64_t upto)
{
    if (xs->tag_start != start || xs->tag_scanned < start) {
        xs->tag_start = xs->tag_scanned = start;
        xs->tag_attrs = 0;
        xs->tag_quote = 0;
    }
    if (xs->state == XSTREAM_HEADER && xs->tag_scanned < xs->chunk_off)
        xs->tag_scanned = xs->chunk_off; /* seen in earlier feeds */
    while (xs->tag_scanned < upto) {
        const char *p;
        size_t n;
        if (xs->tag_scanned < xs->chunk_off) {
            p = buf_data(&xs->pending) + (xs->tag_scanned - xs->pend_off);
            n = (size_t)(xs->chunk_off - xs->tag_scanned);
        } else {
            p = xs->chunk + (xs->tag_scanned - xs->chunk_off);
            n = (size_t)(upto - xs->tag_scanned);
        }
        for (size_t i = 0; i < n; i++) {
            if (xs->tag_quote) {
                if (p[i] == xs->tag_quote)
                    xs->tag_quote = 0;
            } else if (p[i] == '\'' || p[i] == '"') {
                xs->tag_quote = p[i];
            } else if (p[i] == '=') {
                xs->tag_attrs++;
            } else if (p[i] == '>') {
                xs->tag_attrs = 0; /* an XML declaration ended */
            }
        }
        xs->tag_scanned += n;
    }
    if (xs->tag_attrs > xs->limits.max_attrs)
        xstream_fail(xs, XS_STREAM_POLICY_VIOLATION, XE_LIMIT,
                     "element with over %u attributes (unfinished)",
                     xs->limits.max_attrs);
}

/* After a slice ending at offset upto: limits on the element (or header)
 * still arriving. Its size is checked so that an element that never ends is
 * caught as it grows. And libxml2 2.9 checks the attribute names of a start
 * tag pairwise once it has all of it, in quadratic time, so a long start tag
 * has its attributes counted before it can end. */
static void xstream_check_unfinished(xstream *xs, uint64_t upto)
{
    size_t max = xs->limits.max_stanza_bytes;
    uint64_t start;
    if (xs->state == XSTREAM_HEADER) {
        start = xs->ctx_base;
    } else if (buf_len(&xs->pending) > 0) {
        start = xs->pend_off;
    } else {
        /* Whitespace before the element does not count. */
        uint64_t from = xs->mark > xs->chunk_off ? xs->mark : xs->chunk_off;
        const char *p = xs->chunk + (from - xs->chunk_off);
        const char *lt = memchr(p, '<', upto - from);
        if (!lt)
            return;
        start = xs->chunk_off + (uint64_t)(lt - xs->chunk);
    }
    if (upto - start > max) {
        const char *what =
            xs->state == XSTREAM_HEADER ? "stream header" : "stanza";
        xstream_fail(xs, XS_STREAM_POLICY_VIOLATION, XE_LIMIT,
                     "%s of %" PRIu64 " bytes over limit %zu (unfinished)",
                     what, upto - start, max);
        return;
    }
    if (xs->state == XSTREAM_HEADER ||
        (xs->depth == 1 && upto - start > XSTREAM_SLICE))
        xstream_count_attrs(xs, start, upto);
}

static bool xstream_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Keeps the chunk's bytes of an element that has not ended yet. */
static void xstream_keep_tail(xstream *xs, size_t len)
{
    uint64_t from = xs->mark > xs->chunk_off ? xs->mark : xs->chunk_off;
    size_t off = (size_t)(from - xs->chunk_off);
    if (off >= len)
        return;
    if (buf_len(&xs->pending) == 0) {
        const char *lt = memchr(xs->chunk + off, '<', len - off);
        if (!lt) {
            for (size_t i = off; i < len && !xs->loose_text; i++)
                xs->loose_text = !xstream_is_space(xs->chunk[i]);
            return;
        }
        off = (size_t)(lt - xs->chunk);
        xs->pend_off = xs->chunk_off + off;
    }
    buf_append(&xs->pending, xs->chunk + off, len - off);
}

/* Takes the first four bytes of a stream into lead, then refuses a UTF-16
 * or UTF-32 stream (a byte order mark or NUL bytes, RFC 6120 §11.6), skips a
 * UTF-8 byte order mark and hands the rest to libxml2. Returns how many bytes
 * of data it took. */
static size_t xstream_vet_start(xstream *xs, const char *data, size_t len)
{
    size_t take = 4 - xs->lead_len < len ? 4 - xs->lead_len : len;
    memcpy(xs->lead + xs->lead_len, data, take);
    xs->lead_len += take;
    if (xs->lead_len < 4)
        return take;
    const unsigned char *b = xs->lead;
    if ((b[0] == 0xFE && b[1] == 0xFF) || (b[0] == 0xFF && b[1] == 0xFE) ||
        !b[0] || !b[1] || !b[2] || !b[3]) {
        xstream_fail(xs, XS_STREAM_UNSUPPORTED_ENCODING, XE_BAD_XML,
                     "stream in UTF-16 or UTF-32 refused");
        return take;
    }
    size_t skip = b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF ? 3 : 0;
    xs->ctx_base += skip;
    xmlParseChunk(xs->ctxt, (const char *)b + skip, (int)(4 - skip), 0);
    return take;
}

/* A new parser context goes on with a resting stream: it is fed the saved
 * header, placed so that the next byte fed is at offset fed. */
static void xstream_wake(xstream *xs)
{
    size_t n = strlen(xs->resume_header);
    xs->is_resting = false;
    xstream_new_context(xs);
    xs->ctx_base = xs->fed - n;
    xs->state = XSTREAM_HEADER;
    xs->depth = 0;
    xs->is_waking = true;
    xmlParseChunk(xs->ctxt, xs->resume_header, (int)n, 0);
}

int xstream_feed(xstream *xs, const char *data, size_t len)
{
    if (xs->in_feed)
        return XE_BUSY;
    int rc = xstream_status(xs);
    if (rc != 0)
        return rc;
    xs->in_feed = true;
    xs->chunk = data;
    xs->chunk_off = xs->fed;
    if (xs->is_resting && len > 0)
        xstream_wake(xs);
    size_t pos = 0;
    while (pos < len && xs->state <= XSTREAM_OPEN) {
        if (xs->lead_len == 0 && xstream_is_space(data[pos])) {
            /* Whitespace before a stream's first byte is what the previous
             * stream left (a newline after <starttls/>, RFC 6120 §4.3.3):
             * not part of the new document, whose XML declaration must
             * come first. */
            pos++;
            xs->ctx_base = xs->mark = xs->event_end = xs->chunk_off + pos;
            continue;
        }
        size_t n = len - pos < XSTREAM_SLICE ? len - pos : XSTREAM_SLICE;
        if (xs->lead_len < 4)
            n = xstream_vet_start(xs, data + pos, len - pos);
        else
            xmlParseChunk(xs->ctxt, data + pos, (int)n, 0);
        if (xs->restart && xs->state <= XSTREAM_OPEN) {
            /* RFC 6120 §4.3.3: the bytes after the element that ended the
             * old stream begin the new one. */
            xs->restart = false;
            pos = (size_t)(xs->restart_at - xs->chunk_off);
            xstream_begin(xs, xs->restart_at);
            continue;
        }
        pos += n;
        if (xs->state <= XSTREAM_OPEN)
            xstream_check_unfinished(xs, xs->chunk_off + pos);
    }
    xs->restart = false;
    xs->fed = xs->chunk_off + len;
    if (xs->state == XSTREAM_OPEN)
        xstream_keep_tail(xs, len);
    xs->chunk = NULL;
    xs->in_feed = false;
    return xstream_status(xs);
}

void xstream_reset(xstream *xs)
{
    if (xs->state >= XSTREAM_CLOSED)
        return;
    if (xs->in_feed) {
        /* From a callback: the feed loop starts over after this element. */
        if (!xs->restart) {
            xs->restart = true;
            xs->restart_at = xs->event_end;
            xstream_halt(xs);
        }
        return;
    }
    xstream_begin(xs, xs->fed);
}

void xstream_stop(xstream *xs)
{
    if (xs->state >= XSTREAM_CLOSED)
        return;
    xs->state = XSTREAM_CLOSED;
    xs->restart = false;
    if (xs->in_feed)
        xstream_halt(xs);
}

bool xstream_rest(xstream *xs)
{
    if (xs->is_resting || xs->in_feed || xs->state != XSTREAM_OPEN ||
        xs->depth != 1 || buf_len(&xs->pending) > 0 || xs->loose_text ||
        !xs->resume_header)
        return false;
    xstream_drop_context(xs);
    buf_close(&xs->pending);
    buf_close(&xs->text);
    xs->is_resting = true;
    return true;
}

size_t xstream_pending(const xstream *xs)
{
    return buf_len(&xs->pending);
}

const char *xstream_content_ns(const xstream *xs)
{
    return xs->content_ns;
}
