/* SPDX-License-Identifier: MIT */
/* libcommon/envelope.c: raw envelopes. */
#include "libcommon/envelope.h"

#include <string.h>

#include "libcommon/xs.h"

static void envelope_attr(buf *out, const char *name, const char *value)
{
    if (!value)
        return;
    buf_append_str(out, " ");
    buf_append_str(out, name);
    buf_append_str(out, "='");
    buf_append_xml(out, value, strlen(value), 1);
    buf_append_str(out, "'");
}

void envelope_wrap(buf *out, const envelope *e, const char *inner, size_t len)
{
    buf_append_str(out, "<route xmlns='" XS_NS_XMPPD_ROUTE "'");
    envelope_attr(out, "to", e->to);
    envelope_attr(out, "from", e->from);
    envelope_attr(out, "key", e->key);
    if (e->condition) {
        envelope_attr(out, "type", "error");
        envelope_attr(out, "condition", e->condition);
    }
    if (len == 0) {
        buf_append_str(out, "/>");
        return;
    }
    buf_append_str(out, ">");
    buf_append(out, inner, len);
    buf_append_str(out, "</route>");
}

bool envelope_inner(const char *raw, size_t len, size_t *off, size_t *inner_len)
{
    *off = *inner_len = 0;
    if (len < 3 || raw[0] != '<' || raw[len - 1] != '>')
        return false;
    /* The start tag ends at the first '>' outside a quoted attribute value
     * ('>' is legal inside one). */
    char quote = 0;
    size_t i;
    for (i = 1; i < len; i++) {
        char ch = raw[i];
        if (quote) {
            if (ch == quote)
                quote = 0;
        } else if (ch == '\'' || ch == '"') {
            quote = ch;
        } else if (ch == '>') {
            break;
        }
    }
    if (i >= len)
        return false;
    if (raw[i - 1] == '/')
        return i == len - 1;          /* <x .../> */
    /* The end tag is the last '<' of the element: text holds no raw '<'. */
    size_t end = len - 1;
    while (end > i && raw[end] != '<')
        end--;
    if (end <= i || raw[end + 1] != '/')
        return false;
    *off = i + 1;
    *inner_len = end - (i + 1);
    return true;
}
