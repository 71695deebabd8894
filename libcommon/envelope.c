/* SPDX-License-Identifier: MIT */
/* libcommon/envelope.c: raw envelopes. */
#include "libcommon/envelope.h"

#include <string.h>

#include "libcommon/xs.h"

void envelope_wrap(buf *out, const envelope *e, const char *inner, size_t len)
{
    buf_append_str(out, "<route xmlns='" XS_NS_XMPPD_ROUTE "'");
    buf_append_attr(out, "to", e->to);
    buf_append_attr(out, "from", e->from);
    buf_append_attr(out, "key", e->key);
    if (e->condition) {
        buf_append_attr(out, "type", "error");
        buf_append_attr(out, "condition", e->condition);
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

/* The length of the attribute name at s, or 0. */
static size_t envelope_name_len(const char *s, const char *end)
{
    size_t n = 0;
    while (s + n < end && s[n] != '=' && s[n] != ' ' && s[n] != '\t' &&
           s[n] != '\n' && s[n] != '\r' && s[n] != '/' && s[n] != '>')
        n++;
    return n;
}

static bool envelope_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool envelope_stamp(buf *out, const char *raw, size_t len, const char *ns,
                    const char *from)
{
    return envelope_stamp_lang(out, raw, len, ns, from, NULL);
}

bool envelope_stamp_lang(buf *out, const char *raw, size_t len, const char *ns,
                         const char *from, const char *lang)
{
    size_t start = buf_len(out);
    bool has_lang = false;
    size_t off, inner_len;
    if (!envelope_inner(raw, len, &off, &inner_len))
        return false;
    const char *p = raw + 1, *end = raw + len;
    size_t name = envelope_name_len(p, end);
    buf_append(out, raw, 1 + name);             /* "<message" */
    if (ns) {
        buf_append_str(out, " xmlns='");
        buf_append_xml(out, ns, strlen(ns), 1);
        buf_append_str(out, "'");
    }
    if (from) {
        buf_append_str(out, " from='");
        buf_append_xml(out, from, strlen(from), 1);
        buf_append_str(out, "'");
    }
    p += name;
    /* Copy the attributes one by one, leaving out xmlns= and from=. */
    for (;;) {
        const char *ws = p;
        while (p < end && envelope_is_space(*p))
            p++;
        if (p >= end || *p == '>' || *p == '/')
            break;
        const char *attr = p;
        size_t alen = envelope_name_len(p, end);
        p += alen;
        while (p < end && (envelope_is_space(*p) || *p == '='))
            p++;
        if (p >= end || (*p != '\'' && *p != '"')) {
            buf_truncate(out, start);
            return false;
        }
        char quote = *p++;
        while (p < end && *p != quote)
            p++;
        if (p >= end) {
            buf_truncate(out, start);
            return false;
        }
        p++;
        bool drop = (alen == 5 && memcmp(attr, "xmlns", 5) == 0) ||
                    (alen == 4 && memcmp(attr, "from", 4) == 0);
        if (!drop)
            buf_append(out, ws, (size_t)(p - ws));
        has_lang = has_lang || (alen == 8 && memcmp(attr, "xml:lang", 8) == 0);
    }
    if (lang && !has_lang) {
        buf_append_str(out, " xml:lang='");
        buf_append_xml(out, lang, strlen(lang), 1);
        buf_append_str(out, "'");
    }
    buf_append(out, p, (size_t)(end - p));      /* "/>" or ">...</message>" */
    return true;
}
