/* SPDX-License-Identifier: MIT */
/* libcommon/xs_error.c: the stanza error conditions of RFC 6120 §8.3.3, the
 * stream error conditions of §4.9.3, and the XML that carries them. */
#include "libcommon/xs_error.h"

#include <string.h>

#include "libcommon/xs.h"

/* RFC 6120 §8.3.3: each condition with the error type it names or shows. */
static const struct {
    const char *name, *type;
} xs_conditions[] = {
    [XS_BAD_REQUEST] = {"bad-request", "modify"},
    [XS_CONFLICT] = {"conflict", "cancel"},
    [XS_FEATURE_NOT_IMPLEMENTED] = {"feature-not-implemented", "cancel"},
    [XS_FORBIDDEN] = {"forbidden", "auth"},
    [XS_GONE] = {"gone", "cancel"},
    [XS_INTERNAL_SERVER_ERROR] = {"internal-server-error", "cancel"},
    [XS_ITEM_NOT_FOUND] = {"item-not-found", "cancel"},
    [XS_JID_MALFORMED] = {"jid-malformed", "modify"},
    [XS_NOT_ACCEPTABLE] = {"not-acceptable", "modify"},
    [XS_NOT_ALLOWED] = {"not-allowed", "cancel"},
    [XS_NOT_AUTHORIZED] = {"not-authorized", "auth"},
    [XS_POLICY_VIOLATION] = {"policy-violation", "modify"},
    [XS_RECIPIENT_UNAVAILABLE] = {"recipient-unavailable", "wait"},
    [XS_REDIRECT] = {"redirect", "modify"},
    [XS_REGISTRATION_REQUIRED] = {"registration-required", "auth"},
    [XS_REMOTE_SERVER_NOT_FOUND] = {"remote-server-not-found", "cancel"},
    [XS_REMOTE_SERVER_TIMEOUT] = {"remote-server-timeout", "wait"},
    [XS_RESOURCE_CONSTRAINT] = {"resource-constraint", "wait"},
    [XS_SERVICE_UNAVAILABLE] = {"service-unavailable", "cancel"},
    [XS_SUBSCRIPTION_REQUIRED] = {"subscription-required", "auth"},
    [XS_UNDEFINED_CONDITION] = {"undefined-condition", "cancel"},
    [XS_UNEXPECTED_REQUEST] = {"unexpected-request", "wait"},
};
#define XS_NCONDITIONS (sizeof xs_conditions / sizeof xs_conditions[0])

const char *xs_condition_name(xs_condition c)
{
    if ((unsigned)c >= XS_NCONDITIONS)
        c = XS_UNDEFINED_CONDITION;
    return xs_conditions[c].name;
}

const char *xs_condition_type(xs_condition c)
{
    if ((unsigned)c >= XS_NCONDITIONS)
        c = XS_UNDEFINED_CONDITION;
    return xs_conditions[c].type;
}

static const char *const xs_stream_conditions[] = {
    [XS_STREAM_BAD_FORMAT] = "bad-format",
    [XS_STREAM_BAD_NAMESPACE_PREFIX] = "bad-namespace-prefix",
    [XS_STREAM_CONFLICT] = "conflict",
    [XS_STREAM_CONNECTION_TIMEOUT] = "connection-timeout",
    [XS_STREAM_HOST_GONE] = "host-gone",
    [XS_STREAM_HOST_UNKNOWN] = "host-unknown",
    [XS_STREAM_IMPROPER_ADDRESSING] = "improper-addressing",
    [XS_STREAM_INTERNAL_SERVER_ERROR] = "internal-server-error",
    [XS_STREAM_INVALID_FROM] = "invalid-from",
    [XS_STREAM_INVALID_NAMESPACE] = "invalid-namespace",
    [XS_STREAM_INVALID_XML] = "invalid-xml",
    [XS_STREAM_NOT_AUTHORIZED] = "not-authorized",
    [XS_STREAM_NOT_WELL_FORMED] = "not-well-formed",
    [XS_STREAM_POLICY_VIOLATION] = "policy-violation",
    [XS_STREAM_REMOTE_CONNECTION_FAILED] = "remote-connection-failed",
    [XS_STREAM_RESET] = "reset",
    [XS_STREAM_RESOURCE_CONSTRAINT] = "resource-constraint",
    [XS_STREAM_RESTRICTED_XML] = "restricted-xml",
    [XS_STREAM_SEE_OTHER_HOST] = "see-other-host",
    [XS_STREAM_SYSTEM_SHUTDOWN] = "system-shutdown",
    [XS_STREAM_UNDEFINED_CONDITION] = "undefined-condition",
    [XS_STREAM_UNSUPPORTED_ENCODING] = "unsupported-encoding",
    [XS_STREAM_UNSUPPORTED_FEATURE] = "unsupported-feature",
    [XS_STREAM_UNSUPPORTED_STANZA_TYPE] = "unsupported-stanza-type",
    [XS_STREAM_UNSUPPORTED_VERSION] = "unsupported-version",
};

const char *xs_stream_condition_name(xs_stream_condition c)
{
    size_t n = sizeof xs_stream_conditions / sizeof xs_stream_conditions[0];
    if ((unsigned)c >= n)
        c = XS_STREAM_UNDEFINED_CONDITION;
    return xs_stream_conditions[c];
}

xs_elem *xs_error_reply(const xs_elem *st, xs_condition cond, const char *text)
{
    xs_elem *r = xs_dup(st);
    /* RFC 6120 §8.3.1: the error goes back to the sender, from the
     * addressee. */
    const char *to = xs_attr(st, "to"), *from = xs_attr(st, "from");
    xs_set_attr(r, "to", from);
    xs_set_attr(r, "from", to);
    xs_set_attr(r, "type", "error");
    xs_elem *err = xs_add_new(r, "error", NULL);
    xs_set_attr(err, "type", xs_condition_type(cond));
    xs_add_new(err, xs_condition_name(cond), XS_NS_STANZAS);
    if (text) {
        xs_elem *t = xs_add_new(err, "text", XS_NS_STANZAS);
        xs_add_text(t, text, strlen(text));
    }
    return r;
}

void xs_stream_error(buf *out, xs_stream_condition cond, const char *text)
{
    buf_append_str(out, "<stream:error><");
    buf_append_str(out, xs_stream_condition_name(cond));
    buf_append_str(out, " xmlns='" XS_NS_STREAM_ERRORS "'/>");
    if (text) {
        /* Through the tree, so the text gets the serializer's escaping. */
        xs_elem *t = xs_new("text", XS_NS_STREAM_ERRORS);
        xs_add_text(t, text, strlen(text));
        xs_serialize(t, NULL, out);
        xs_unref(t);
    }
    buf_append_str(out, "</stream:error>");
}
