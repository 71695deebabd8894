/* SPDX-License-Identifier: MIT */
/* bench/frame.c: boundaries of top-level elements in an XML stream, found
 * with memchr over text and a quote-aware walk over tags, so that framing
 * costs far less than the server's parsing it is measured against. */
#define _GNU_SOURCE /* memmem */
#include "bench/frame.h"

#include <string.h>

enum { SKIP_DONE, SKIP_MORE, SKIP_BAD };

static bool frame_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Past the '>' of the tag opening at d[i] == '<', or 0 when it is cut off.
 * Quotes are honoured: XML allows a raw '>' inside an attribute value. */
static size_t frame_tag_end(const char *d, size_t len, size_t i, bool *is_empty)
{
    for (size_t j = i + 1; j < len; j++) {
        char c = d[j];

        if (c == '>') {
            *is_empty = d[j - 1] == '/';
            return j + 1;
        }
        if (c == '\'' || c == '"') {
            const char *q = memchr(d + j + 1, c, len - j - 1);

            if (q == NULL)
                return 0;
            j = (size_t)(q - d);
        }
    }
    return 0;
}

/* Skips the markup at d[i] that starts "<?" or "<!": a processing
 * instruction (the XML declaration), a comment or a CDATA section. A DTD is
 * never sent on an XMPP stream (RFC 6120 §11.1), so it is bad here. */
static int frame_skip_special(const char *d, size_t len, size_t i, size_t *end)
{
    static const char cdata[] = "<![CDATA[";
    const char *stop;
    size_t from, stop_len;

    if (d[i + 1] == '?') {
        stop = "?>";
        stop_len = 2;
        from = i + 2;
    } else {
        size_t have = len - i;

        if (have < 4)
            return SKIP_MORE;
        if (memcmp(d + i, "<!--", 4) == 0) {
            stop = "-->";
            stop_len = 3;
            from = i + 4;
        } else {
            size_t cmp = have < sizeof cdata - 1 ? have : sizeof cdata - 1;

            if (memcmp(d + i, cdata, cmp) != 0)
                return SKIP_BAD;
            if (cmp < sizeof cdata - 1)
                return SKIP_MORE;
            stop = "]]>";
            stop_len = 3;
            from = i + sizeof cdata - 1;
        }
    }
    const char *hit = memmem(d + from, len - from, stop, stop_len);

    if (hit == NULL)
        return SKIP_MORE;
    *end = (size_t)(hit - d) + stop_len;
    return SKIP_DONE;
}

/* Walks the inside of the element whose start tag ends at d[j], returning
 * past its end tag: 0 when cut off, (size_t)-1 on bad markup. */
static size_t frame_element_end(const char *d, size_t len, size_t j)
{
    int depth = 1;

    while (depth > 0) {
        const char *lt = memchr(d + j, '<', len - j);
        bool is_empty = false;
        size_t end = 0;

        if (lt == NULL)
            return 0;
        j = (size_t)(lt - d);
        if (j + 1 >= len)
            return 0;
        char c = d[j + 1];

        if (c == '?' || c == '!') {
            int r = frame_skip_special(d, len, j, &end);

            if (r == SKIP_MORE)
                return 0;
            if (r == SKIP_BAD)
                return (size_t)-1;
        } else {
            end = frame_tag_end(d, len, j, &is_empty);
            if (end == 0)
                return 0;
            if (c == '/')
                depth--;
            else if (!is_empty)
                depth++;
        }
        j = end;
    }
    return j;
}

frame_kind frame_next(const char *data, size_t len, size_t *pos,
                      bool has_stream_open, frame *out)
{
    size_t i = *pos;

    for (;;) {
        const char *lt = i < len ? memchr(data + i, '<', len - i) : NULL;

        if (lt == NULL) {
            *pos = len; /* only text so far: nothing to keep */
            return FRAME_MORE;
        }
        i = (size_t)(lt - data);
        *pos = i;
        if (i + 1 >= len)
            return FRAME_MORE;

        char c = data[i + 1];
        size_t end = 0;
        bool is_empty = false;

        if (c == '?' || c == '!') {
            int r = frame_skip_special(data, len, i, &end);

            if (r == SKIP_MORE)
                return FRAME_MORE;
            if (r == SKIP_BAD)
                return FRAME_BAD;
            i = end;
            continue;
        }
        end = frame_tag_end(data, len, i, &is_empty);
        if (end == 0)
            return FRAME_MORE;

        frame_kind kind = FRAME_ELEMENT;

        if (c == '/')
            kind = FRAME_CLOSE;
        else if (!has_stream_open)
            kind = FRAME_OPEN;
        else if (!is_empty) {
            end = frame_element_end(data, len, end);
            if (end == 0)
                return FRAME_MORE;
            if (end == (size_t)-1)
                return FRAME_BAD;
        }
        out->start = data + i;
        out->len = end - i;
        *pos = end;
        return kind;
    }
}

static size_t frame_name_len(const char *s, const char *end)
{
    const char *p = s;

    while (p < end && !frame_is_space(*p) && *p != '/' && *p != '>')
        p++;
    return (size_t)(p - s);
}

const char *frame_name(const frame *f, size_t *name_len)
{
    const char *end = f->start + f->len;
    const char *name = f->start + 1;

    if (name < end && *name == '/')
        name++;
    *name_len = frame_name_len(name, end);
    return name;
}

bool frame_is(const frame *f, const char *name)
{
    size_t len;
    const char *have = frame_name(f, &len);

    return len == strlen(name) && memcmp(have, name, len) == 0;
}

bool frame_attr(const frame *f, const char *name, const char **value,
                size_t *value_len)
{
    size_t want = strlen(name);
    size_t len;
    const char *p = frame_name(f, &len) + len;
    const char *end = f->start + f->len;

    for (;;) {
        while (p < end && frame_is_space(*p))
            p++;
        if (p >= end || *p == '>' || *p == '/')
            return false;

        const char *attr = p;

        while (p < end && *p != '=' && !frame_is_space(*p) && *p != '>')
            p++;
        size_t attr_len = (size_t)(p - attr);

        while (p < end && (frame_is_space(*p) || *p == '='))
            p++;
        if (p >= end || (*p != '\'' && *p != '"'))
            return false;
        const char *q = memchr(p + 1, *p, (size_t)(end - p - 1));

        if (q == NULL)
            return false;
        if (attr_len == want && memcmp(attr, name, want) == 0) {
            *value = p + 1;
            *value_len = (size_t)(q - p - 1);
            return true;
        }
        p = q + 1;
    }
}

bool frame_attr_is(const frame *f, const char *name, const char *value)
{
    const char *have;
    size_t len;

    return frame_attr(f, name, &have, &len) && len == strlen(value) &&
           memcmp(have, value, len) == 0;
}

const char *frame_text(const frame *f, size_t *len)
{
    bool is_empty = false;
    size_t j = frame_tag_end(f->start, f->len, 0, &is_empty);
    const char *text = f->start + j;
    const char *lt = f->start + f->len - 1; /* the end tag's '<' */

    *len = 0;
    if (j == 0 || is_empty)
        return f->start;
    while (lt > text && *lt != '<')
        lt--;
    if (lt > text)
        *len = (size_t)(lt - text);
    return text;
}

const char *frame_first_child(const frame *f, size_t *name_len)
{
    bool is_empty = false;
    size_t j = frame_tag_end(f->start, f->len, 0, &is_empty);

    if (j == 0 || is_empty)
        return NULL;
    while (j < f->len) {
        const char *lt = memchr(f->start + j, '<', f->len - j);

        if (lt == NULL || lt + 1 >= f->start + f->len)
            return NULL;
        j = (size_t)(lt - f->start) + 1;
        if (*(lt + 1) == '/')
            return NULL; /* the element's own end tag: no child */
        if (*(lt + 1) != '?' && *(lt + 1) != '!') {
            *name_len = frame_name_len(lt + 1, f->start + f->len);
            return lt + 1;
        }
    }
    return NULL;
}
