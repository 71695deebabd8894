/* SPDX-License-Identifier: MIT */
/* libcommon/envelope.h: the <route xmlns='urn:xmppd:route'> envelopes that
 * carry stanzas between xmppd components, handled as raw bytes so that what
 * is only forwarded is never re-serialized. */
#ifndef XMPPD_LIBCOMMON_ENVELOPE_H
#define XMPPD_LIBCOMMON_ENVELOPE_H
#include <stdbool.h>
#include <stddef.h>

#include "libcommon/buf.h"

/* The envelope a component addresses a service or instance with:
 * <route xmlns='urn:xmppd:route' to='TO' from='FROM' [key='KEY']
 *        [type='error' condition='COND']>INNER</route>. */
typedef struct envelope {
    const char *to, *from, *key;  /* key may be NULL */
    const char *condition;        /* NULL, or a stanza error condition */
} envelope;

/* Appends the envelope around inner (len bytes of XML, may be 0) to out;
 * the attribute values are escaped. */
void envelope_wrap(buf *out, const envelope *e, const char *inner, size_t len);

/* Finds the content of one well-formed raw element: *off and *inner_len give
 * the bytes between the end of its start tag and the start of its end tag.
 * Both are 0 for an empty element (<x/>). Returns false when raw is not a
 * single element. */
bool envelope_inner(const char *raw, size_t len, size_t *off, size_t *inner_len);

/* Appends raw (one well-formed element, e.g. a client's stanza) to out with
 * its start tag rewritten: any default namespace declaration and any from
 * attribute are dropped, and xmlns='ns' (when ns is not NULL) and
 * from='from' (escaped) are added, the rest kept byte for byte. This is how
 * a stanza read from a client stream is stamped (RFC 6120 §8.1.2.1) and made
 * to carry its namespace inside an envelope. Returns false, appending
 * nothing, when raw is not a single element. */
bool envelope_stamp(buf *out, const char *raw, size_t len, const char *ns,
                    const char *from);
/* envelope_stamp(), and when lang is not NULL and raw has no xml:lang of its
 * own, xml:lang='lang' added: the language of the stream the stanza came on
 * (RFC 6120 §4.7.4). */
bool envelope_stamp_lang(buf *out, const char *raw, size_t len, const char *ns,
                         const char *from, const char *lang);
#endif
