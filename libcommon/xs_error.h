/* SPDX-License-Identifier: MIT */
/* libcommon/xs_error.h: the error conditions of RFC 6120 (stanza errors §8.3,
 * stream errors §4.9) and the XML that carries them. xs.h includes this
 * header, so code that builds stanzas has the conditions at hand. */
#ifndef XMPPD_LIBCOMMON_XS_ERROR_H
#define XMPPD_LIBCOMMON_XS_ERROR_H
#include "libcommon/buf.h"

typedef struct xs_elem xs_elem; /* the stanza tree of libcommon/xs.h */

/* RFC 6120 §8.3.3 stanza error conditions. */
typedef enum {
    XS_BAD_REQUEST, XS_CONFLICT, XS_FEATURE_NOT_IMPLEMENTED, XS_FORBIDDEN,
    XS_GONE, XS_INTERNAL_SERVER_ERROR, XS_ITEM_NOT_FOUND, XS_JID_MALFORMED,
    XS_NOT_ACCEPTABLE, XS_NOT_ALLOWED, XS_NOT_AUTHORIZED, XS_POLICY_VIOLATION,
    XS_RECIPIENT_UNAVAILABLE, XS_REDIRECT, XS_REGISTRATION_REQUIRED,
    XS_REMOTE_SERVER_NOT_FOUND, XS_REMOTE_SERVER_TIMEOUT, XS_RESOURCE_CONSTRAINT,
    XS_SERVICE_UNAVAILABLE, XS_SUBSCRIPTION_REQUIRED, XS_UNDEFINED_CONDITION,
    XS_UNEXPECTED_REQUEST,
} xs_condition;
/* The element name of c ("service-unavailable"); a static string. A value out
 * of range gives undefined-condition's. */
const char *xs_condition_name(xs_condition c);
/* The error type RFC 6120 gives c ("cancel", "wait", ...); a static string. */
const char *xs_condition_type(xs_condition c);

/* RFC 6120 §4.9.3 stream error conditions. */
typedef enum {
    XS_STREAM_BAD_FORMAT, XS_STREAM_BAD_NAMESPACE_PREFIX, XS_STREAM_CONFLICT,
    XS_STREAM_CONNECTION_TIMEOUT, XS_STREAM_HOST_GONE, XS_STREAM_HOST_UNKNOWN,
    XS_STREAM_IMPROPER_ADDRESSING, XS_STREAM_INTERNAL_SERVER_ERROR,
    XS_STREAM_INVALID_FROM, XS_STREAM_INVALID_NAMESPACE,
    XS_STREAM_INVALID_XML, XS_STREAM_NOT_AUTHORIZED, XS_STREAM_NOT_WELL_FORMED,
    XS_STREAM_POLICY_VIOLATION, XS_STREAM_REMOTE_CONNECTION_FAILED,
    XS_STREAM_RESET, XS_STREAM_RESOURCE_CONSTRAINT, XS_STREAM_RESTRICTED_XML,
    XS_STREAM_SEE_OTHER_HOST, XS_STREAM_SYSTEM_SHUTDOWN,
    XS_STREAM_UNDEFINED_CONDITION, XS_STREAM_UNSUPPORTED_ENCODING,
    XS_STREAM_UNSUPPORTED_FEATURE, XS_STREAM_UNSUPPORTED_STANZA_TYPE,
    XS_STREAM_UNSUPPORTED_VERSION,
} xs_stream_condition;
/* The element name of c ("not-well-formed"); a static string. A value out of
 * range gives undefined-condition's. */
const char *xs_stream_condition_name(xs_stream_condition c);

/* A new error reply to stanza st: to and from swapped, type='error', the
 * original children kept, and <error type=...><COND xmlns=stanzas/>[<text>]
 * added. text may be NULL. The caller owns the result; st is unchanged. */
xs_elem *xs_error_reply(const xs_elem *st, xs_condition cond, const char *text);
/* Appends "<stream:error><COND xmlns=.../>[<text>]</stream:error>" to out.
 * text may be NULL; it is escaped. */
void xs_stream_error(buf *out, xs_stream_condition cond, const char *text);
#endif
