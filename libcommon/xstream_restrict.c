/* SPDX-License-Identifier: MIT */
/* libcommon/xstream_restrict.c: the restricted XML of RFC 6120 §11. The
 * parser's SAX callbacks for what a stream may not hold (DTDs, entity
 * declarations and references, comments, processing instructions, an
 * encoding other than UTF-8), and libxml2's errors as stream errors. */
#include "libcommon/xstream_impl.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libxml/entities.h>
#include <libxml/parserInternals.h>

#include "libcommon/error.h"

static void xstream_refuse(xstream *xs, const char *what)
{
    xstream_fail(xs, XS_STREAM_RESTRICTED_XML, XE_BAD_XML,
                 "%s refused (restricted XML)", what);
    xstream_halt(xs);
}

/* The encoding named by the XML declaration libxml2 has just parsed (told
 * to ignore it, so that it never converts): the text before cur. */
static bool xstream_declared_encoding(xmlParserInputPtr in, const char **name,
                                      int *len)
{
    if (!in || !in->base || in->cur <= in->base)
        return false;
    const char *p = (const char *)in->base, *end = (const char *)in->cur;
    for (; end - p > 8; p++) {
        if (memcmp(p, "encoding", 8) == 0)
            break;
    }
    if (end - p <= 8)
        return false;
    for (p += 8; p < end && strchr(" \t\r\n=", *p); p++)
        continue;
    if (p == end || (*p != '\'' && *p != '"'))
        return false;
    const char *v = ++p;
    while (p < end && *p != v[-1])
        p++;
    *name = v;
    *len = (int)(p - v);
    return true;
}

void xstream_on_start_document(void *ud)
{
    xstream *xs = ud;
    const char *enc;
    int len;
    /* RFC 6120 §11.6: UTF-8 only. */
    if (xstream_declared_encoding(xs->ctxt->input, &enc, &len) &&
        !(len == 5 && strncasecmp(enc, "UTF-8", 5) == 0) &&
        !(len == 4 && strncasecmp(enc, "UTF8", 4) == 0)) {
        xstream_fail(xs, XS_STREAM_UNSUPPORTED_ENCODING, XE_BAD_XML,
                     "encoding %.*s refused", len < 40 ? len : 40, enc);
        xstream_halt(xs);
    }
}

void xstream_on_dtd(void *ud, const xmlChar *name,
                           const xmlChar *external_id, const xmlChar *system_id)
{
    xstream *xs = ud;
    (void)name;
    (void)external_id;
    (void)system_id;
    if (xstream_is_live(xs))
        xstream_refuse(xs, "document type declaration");
}

void xstream_on_entity_decl(void *ud, const xmlChar *name, int type,
                                   const xmlChar *public_id,
                                   const xmlChar *system_id, xmlChar *content)
{
    xstream *xs = ud;
    (void)name;
    (void)type;
    (void)public_id;
    (void)system_id;
    (void)content;
    if (xstream_is_live(xs))
        xstream_refuse(xs, "entity declaration");
}

void xstream_on_reference(void *ud, const xmlChar *name)
{
    xstream *xs = ud;
    (void)name;
    if (xstream_is_live(xs))
        xstream_refuse(xs, "entity reference");
}

void xstream_on_comment(void *ud, const xmlChar *value)
{
    xstream *xs = ud;
    (void)value;
    if (xstream_is_live(xs))
        xstream_refuse(xs, "comment");
}

void xstream_on_pi(void *ud, const xmlChar *target, const xmlChar *data)
{
    xstream *xs = ud;
    (void)target;
    (void)data;
    if (xstream_is_live(xs))
        xstream_refuse(xs, "processing instruction");
}

/* Only the five predefined entities exist: nothing is ever expanded. */
xmlEntityPtr xstream_on_get_entity(void *ud, const xmlChar *name)
{
    (void)ud;
    return xmlGetPredefinedEntity(name);
}

xmlEntityPtr xstream_on_get_pe(void *ud, const xmlChar *name)
{
    (void)ud;
    (void)name;
    return NULL;
}

/* libxml2 goes on after an error, so this only marks the stream; our
 * callbacks then ignore everything and feeding stops after the slice. */
void xstream_on_xml_error(void *ud, xmlErrorPtr err)
{
    xstream *xs = ud;
    if (err->level < XML_ERR_ERROR || !xstream_is_live(xs))
        return;
    xs_stream_condition cond = XS_STREAM_NOT_WELL_FORMED;
    switch (err->code) {
    case XML_NS_ERR_UNDEFINED_NAMESPACE:
        cond = XS_STREAM_BAD_NAMESPACE_PREFIX;
        break;
    case XML_ERR_UNSUPPORTED_ENCODING:
    case XML_ERR_INVALID_ENCODING:
        cond = XS_STREAM_UNSUPPORTED_ENCODING;
        break;
    case XML_ERR_UNDECLARED_ENTITY:
    case XML_WAR_UNDECLARED_ENTITY:
        cond = XS_STREAM_RESTRICTED_XML;
        break;
    default:
        break;
    }
    const char *msg = err->message ? err->message : "parse error";
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        len--;
    /* One line, for the log: libxml2 splits some messages in two. */
    char line[XSTREAM_WHY_BYTES];
    snprintf(line, sizeof line, "%.*s", (int)len, msg);
    for (char *c = line; *c; c++) {
        if (*c == '\n')
            *c = ' ';
    }
    xstream_fail(xs, cond, XE_BAD_XML, "%s (line %d)", line, err->line);
}
