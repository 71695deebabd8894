/* SPDX-License-Identifier: MIT */
/* libcommon/xs.c: stanza trees and their XML form. The error conditions and
 * error stanzas are in xs_error.c. */
#include "libcommon/xs.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/xstream.h"

typedef struct xs_attrib {
    const char *name;
    const char *ns; /* NULL when none */
    const char *value;
    char *owned; /* heap block of the strings; NULL: in the element's */
} xs_attrib;

/* One allocation holds the struct, then (for a parsed or duplicated element)
 * its attribute array and all its strings, or (for a text node) the text. */
struct xs_elem {
    xs_elem *parent;
    xs_elem *next, *prev;  /* siblings, elements and text nodes alike */
    xs_elem *first, *last; /* children */
    const char *name;      /* NULL marks a text node */
    const char *ns;
    char *ns_owned; /* ns's storage when resolved after creation */
    xs_attrib *attrs;
    size_t nattrs, attrs_cap;
    char *text_cache; /* xs_text() of mixed content */
    size_t text_len;  /* a text node's length */
    unsigned refs;
    bool attrs_owned; /* attrs is a heap array rather than in the block */
};

static inline char *xs_extra(xs_elem *e)
{
    return (char *)(e + 1);
}

static bool xs_is_text(const xs_elem *e)
{
    return e->name == NULL;
}

static char *xs_put(char *p, const char *s, size_t len)
{
    memcpy(p, s, len);
    p[len] = '\0';
    return p + len + 1;
}

xs_elem *xs_new_attrs(const char *name, const char *ns, const xs_attr_in *attrs,
                      size_t nattrs)
{
    size_t name_len = strlen(name);
    size_t ns_len = ns ? strlen(ns) : 0;
    size_t size = sizeof(xs_elem) + nattrs * sizeof(xs_attrib) + name_len + 1 +
                  (ns ? ns_len + 1 : 0);
    for (size_t i = 0; i < nattrs; i++) {
        size += strlen(attrs[i].name) + 1 + attrs[i].value_len + 1;
        if (attrs[i].ns && attrs[i].ns[0])
            size += strlen(attrs[i].ns) + 1;
    }
    /* Not xalloc(): all but the struct is written below, so zeroing it all
     * would be waste. */
    xs_elem *e = xrealloc(NULL, size);
    memset(e, 0, sizeof *e);
    e->refs = 1;
    e->attrs = (xs_attrib *)xs_extra(e);
    e->nattrs = e->attrs_cap = nattrs;
    char *p = xs_extra(e) + nattrs * sizeof(xs_attrib);
    e->name = p;
    p = xs_put(p, name, name_len);
    if (ns) {
        e->ns = p;
        p = xs_put(p, ns, ns_len);
    }
    for (size_t i = 0; i < nattrs; i++) {
        xs_attrib *a = &e->attrs[i];
        a->owned = NULL;
        a->name = p;
        p = xs_put(p, attrs[i].name, strlen(attrs[i].name));
        a->ns = NULL;
        if (attrs[i].ns && attrs[i].ns[0]) {
            a->ns = p;
            p = xs_put(p, attrs[i].ns, strlen(attrs[i].ns));
        }
        a->value = p;
        p = xs_put(p, attrs[i].value, attrs[i].value_len);
    }
    if (nattrs == 0)
        e->attrs = NULL;
    return e;
}

xs_elem *xs_new(const char *name, const char *ns)
{
    return xs_new_attrs(name, ns, NULL, 0);
}

static xs_elem *xs_new_text(const char *a, size_t a_len, const char *b,
                            size_t b_len)
{
    xs_elem *t = xalloc(sizeof(xs_elem) + a_len + b_len + 1);
    t->refs = 1;
    t->text_len = a_len + b_len;
    memcpy(xs_extra(t), a, a_len);
    if (b_len)
        memcpy(xs_extra(t) + a_len, b, b_len);
    return t;
}

xs_elem *xs_ref(xs_elem *e)
{
    e->refs++;
    return e;
}

static void xs_drop_text_cache(xs_elem *e)
{
    free(e->text_cache);
    e->text_cache = NULL;
}

void xs_unref(xs_elem *e)
{
    if (!e || --e->refs > 0)
        return;
    xs_elem *c = e->first;
    while (c) {
        xs_elem *next = c->next;
        c->parent = c->next = c->prev = NULL;
        xs_unref(c); /* a child someone else holds becomes a root */
        c = next;
    }
    for (size_t i = 0; i < e->nattrs; i++)
        free(e->attrs[i].owned);
    if (e->attrs_owned)
        free(e->attrs);
    free(e->ns_owned);
    free(e->text_cache);
    free(e);
}

/* Appends an unlinked node to e's children. */
static void xs_link(xs_elem *e, xs_elem *child)
{
    child->parent = e;
    child->next = NULL;
    child->prev = e->last;
    if (e->last)
        e->last->next = child;
    else
        e->first = child;
    e->last = child;
    if (e->text_cache)
        xs_drop_text_cache(e);
}

/* Puts node nw where old is in old's parent, and frees old. */
static void xs_replace(xs_elem *old, xs_elem *nw)
{
    xs_elem *p = old->parent;
    nw->parent = p;
    nw->prev = old->prev;
    nw->next = old->next;
    if (nw->prev)
        nw->prev->next = nw;
    else
        p->first = nw;
    if (nw->next)
        nw->next->prev = nw;
    else
        p->last = nw;
    old->parent = old->next = old->prev = NULL;
    xs_unref(old);
}

static xs_elem *xs_dup_node(const xs_elem *e)
{
    if (xs_is_text(e))
        return xs_new_text((const char *)(e + 1), e->text_len, NULL, 0);
    xs_attr_in small[8];
    xs_attr_in *in = e->nattrs <= 8 ? small : xalloc(e->nattrs * sizeof *in);
    for (size_t i = 0; i < e->nattrs; i++) {
        in[i] = (xs_attr_in){.name = e->attrs[i].name,
                             .ns = e->attrs[i].ns,
                             .value = e->attrs[i].value,
                             .value_len = strlen(e->attrs[i].value)};
    }
    xs_elem *d = xs_new_attrs(e->name, e->ns, e->nattrs ? in : NULL, e->nattrs);
    if (in != small)
        free(in);
    for (const xs_elem *c = e->first; c; c = c->next)
        xs_link(d, xs_dup_node(c));
    return d;
}

xs_elem *xs_dup(const xs_elem *e)
{
    return xs_dup_node(e);
}

const char *xs_name(const xs_elem *e)
{
    return e->name;
}

const char *xs_ns(const xs_elem *e)
{
    return e->ns;
}

xs_elem *xs_parent(const xs_elem *e)
{
    return e->parent;
}

static bool xs_str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* An empty attribute namespace means none. */
static const char *xs_attr_ns_norm(const char *ns)
{
    return ns && ns[0] ? ns : NULL;
}

static xs_attrib *xs_find_attr(const xs_elem *e, const char *ns,
                               const char *name)
{
    for (size_t i = 0; i < e->nattrs; i++) {
        xs_attrib *a = &e->attrs[i];
        if (strcmp(a->name, name) == 0 && xs_str_eq(a->ns, ns))
            return a;
    }
    return NULL;
}

const char *xs_attr(const xs_elem *e, const char *name)
{
    for (size_t i = 0; i < e->nattrs; i++) {
        if (!e->attrs[i].ns && strcmp(e->attrs[i].name, name) == 0)
            return e->attrs[i].value;
    }
    return NULL;
}

const char *xs_attr_ns(const xs_elem *e, const char *ns, const char *name)
{
    xs_attrib *a = xs_find_attr(e, xs_attr_ns_norm(ns), name);
    return a ? a->value : NULL;
}

void xs_set_attr_ns(xs_elem *e, const char *ns, const char *name,
                    const char *value)
{
    ns = xs_attr_ns_norm(ns);
    xs_attrib *a = xs_find_attr(e, ns, name);
    if (!value) {
        if (!a)
            return;
        free(a->owned);
        size_t i = (size_t)(a - e->attrs);
        memmove(a, a + 1, (e->nattrs - i - 1) * sizeof *a);
        e->nattrs--;
        return;
    }
    if (!a) {
        if (e->nattrs == e->attrs_cap || !e->attrs_owned) {
            size_t cap = e->nattrs < 4 ? 4 : e->nattrs * 2;
            xs_attrib *na = xalloc(cap * sizeof *na);
            if (e->nattrs)
                memcpy(na, e->attrs, e->nattrs * sizeof *na);
            if (e->attrs_owned)
                free(e->attrs);
            e->attrs = na;
            e->attrs_cap = cap;
            e->attrs_owned = true;
        }
        a = &e->attrs[e->nattrs++];
        a->owned = NULL;
    }
    /* The old strings may be the ones passed in, so copy before freeing. */
    size_t name_len = strlen(name), value_len = strlen(value);
    size_t ns_len = ns ? strlen(ns) : 0;
    char *block = xalloc(name_len + 1 + value_len + 1 + (ns ? ns_len + 1 : 0));
    char *p = block;
    const char *nname = p;
    p = xs_put(p, name, name_len);
    const char *nvalue = p;
    p = xs_put(p, value, value_len);
    const char *nns = NULL;
    if (ns) {
        nns = p;
        xs_put(p, ns, ns_len);
    }
    free(a->owned);
    *a = (xs_attrib){.name = nname, .ns = nns, .value = nvalue, .owned = block};
}

void xs_set_attr(xs_elem *e, const char *name, const char *value)
{
    xs_set_attr_ns(e, NULL, name, value);
}

size_t xs_attr_count(const xs_elem *e)
{
    return e->nattrs;
}

void xs_attr_at(const xs_elem *e, size_t i, const char **name, const char **ns,
                const char **value)
{
    const xs_attrib *a = &e->attrs[i];
    if (name)
        *name = a->name;
    if (ns)
        *ns = a->ns;
    if (value)
        *value = a->value;
}

/* Gives unresolved elements of e's tree the namespace ns. */
static void xs_resolve(xs_elem *e, const char *ns)
{
    if (e->ns)
        return;
    e->ns_owned = xstrdup(ns);
    e->ns = e->ns_owned;
    for (xs_elem *c = e->first; c; c = c->next) {
        if (!xs_is_text(c))
            xs_resolve(c, e->ns);
    }
}

xs_elem *xs_add(xs_elem *e, xs_elem *child)
{
    assert(child->parent == NULL && child != e);
    if (!child->ns && e->ns)
        xs_resolve(child, e->ns);
    xs_link(e, child);
    return child;
}

xs_elem *xs_add_new(xs_elem *e, const char *name, const char *ns)
{
    xs_elem *child = xs_new(name, ns ? ns : e->ns);
    xs_link(e, child);
    return child;
}

void xs_add_text(xs_elem *e, const char *text, size_t len)
{
    if (len == 0)
        return;
    xs_elem *last = e->last;
    if (last && xs_is_text(last)) {
        xs_replace(last,
                   xs_new_text(xs_extra(last), last->text_len, text, len));
        xs_drop_text_cache(e);
        return;
    }
    xs_link(e, xs_new_text(text, len, NULL, 0));
}

void xs_remove(xs_elem *e, xs_elem *child)
{
    assert(child->parent == e);
    xs_elem *prev = child->prev, *next = child->next;
    if (prev)
        prev->next = next;
    else
        e->first = next;
    if (next)
        next->prev = prev;
    else
        e->last = prev;
    child->parent = child->next = child->prev = NULL;
    xs_unref(child);
    xs_drop_text_cache(e);
    /* Keep text merged, so that equal trees have equal child lists. */
    if (prev && next && xs_is_text(prev) && xs_is_text(next)) {
        xs_elem *merged = xs_new_text(xs_extra(prev), prev->text_len,
                                      xs_extra(next), next->text_len);
        xs_replace(prev, merged);
        merged->next = next->next;
        if (merged->next)
            merged->next->prev = merged;
        else
            e->last = merged;
        next->parent = next->next = next->prev = NULL;
        xs_unref(next);
    }
}

static bool xs_matches(const xs_elem *c, const char *name, const char *ns)
{
    return !xs_is_text(c) && (!name || strcmp(c->name, name) == 0) &&
           (!ns || xs_str_eq(c->ns, ns));
}

xs_elem *xs_child(const xs_elem *e, const char *name, const char *ns)
{
    for (xs_elem *c = e->first; c; c = c->next) {
        if (xs_matches(c, name, ns))
            return c;
    }
    return NULL;
}

static xs_elem *xs_skip_text(xs_elem *c)
{
    while (c && xs_is_text(c))
        c = c->next;
    return c;
}

xs_elem *xs_first(const xs_elem *e)
{
    return xs_skip_text(e->first);
}

xs_elem *xs_next(const xs_elem *e)
{
    return xs_skip_text(e->next);
}

const char *xs_text(xs_elem *e)
{
    if (e->text_cache)
        return e->text_cache;
    xs_elem *only = NULL;
    size_t count = 0, total = 0;
    for (xs_elem *c = e->first; c; c = c->next) {
        if (xs_is_text(c)) {
            only = c;
            count++;
            total += c->text_len;
        }
    }
    if (count == 0)
        return "";
    if (count == 1)
        return xs_extra(only);
    char *s = xalloc(total + 1), *p = s;
    for (xs_elem *c = e->first; c; c = c->next) {
        if (xs_is_text(c)) {
            memcpy(p, xs_extra(c), c->text_len);
            p += c->text_len;
        }
    }
    e->text_cache = s;
    return s;
}

const char *xs_child_text(const xs_elem *e, const char *name, const char *ns)
{
    xs_elem *c = xs_child(e, name, ns);
    return c ? xs_text(c) : NULL;
}

/* The length of the UTF-8 sequence at s (n bytes left) if it is one XML
 * can carry: shortest form, no surrogate, not U+FFFE or U+FFFF. Else 0. */
static size_t xs_utf8_len(const unsigned char *s, size_t n)
{
    unsigned cp, min;
    size_t len;
    if ((s[0] & 0xE0) == 0xC0)
        len = 2, cp = s[0] & 0x1F, min = 0x80;
    else if ((s[0] & 0xF0) == 0xE0)
        len = 3, cp = s[0] & 0x0F, min = 0x800;
    else if ((s[0] & 0xF8) == 0xF0)
        len = 4, cp = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
        cp == 0xFFFE || cp == 0xFFFF)
        return 0;
    return len;
}

/* Escapes s through buf_append_xml(), adding what it leaves out: tab, line
 * feed and carriage return as character references where a parser would
 * normalize them away (attribute values; CR in text), and U+FFFD for what
 * XML 1.0 cannot carry at all (control characters, bytes that are not
 * UTF-8), so that the output always parses. */
static void xs_escape(buf *out, const char *s, size_t len, bool is_attr)
{
    size_t run = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        const char *sub;
        if (c >= 0x80) {
            size_t n = xs_utf8_len((const unsigned char *)s + i, len - i);
            if (n) {
                i += n;
                continue;
            }
            sub = "\xEF\xBF\xBD";
        } else if (c >= 0x20 || (!is_attr && (c == '\n' || c == '\t'))) {
            i++;
            continue;
        } else if (c == '\t') {
            sub = "&#9;";
        } else if (c == '\n') {
            sub = "&#10;";
        } else if (c == '\r') {
            sub = "&#13;";
        } else {
            sub = "\xEF\xBF\xBD";
        }
        buf_append_xml(out, s + run, i - run, is_attr);
        buf_append_str(out, sub);
        run = ++i;
    }
    buf_append_xml(out, s + run, len - run, is_attr);
}

/* A NULL namespace in force is the same as no namespace. */
static bool xs_ns_same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static void xs_write_attrs(const xs_elem *e, buf *out)
{
    for (size_t i = 0; i < e->nattrs; i++) {
        const xs_attrib *a = &e->attrs[i];
        buf_append(out, " ", 1);
        if (a->ns && strcmp(a->ns, XS_NS_XML) == 0) {
            buf_append(out, "xml:", 4);
        } else if (a->ns) {
            /* nsK, K counting the distinct namespaces so far; the first
             * attribute in a namespace declares its prefix. */
            unsigned k = 1;
            bool declared = false;
            for (size_t j = 0; j < i && !declared; j++) {
                const char *o = e->attrs[j].ns;
                if (!o || strcmp(o, XS_NS_XML) == 0)
                    continue;
                bool seen = false;
                for (size_t m = 0; m < j && !seen; m++)
                    seen = xs_str_eq(e->attrs[m].ns, o);
                if (strcmp(o, a->ns) == 0)
                    declared = true;
                else if (!seen)
                    k++;
            }
            if (!declared) {
                buf_printf(out, "xmlns:ns%u='", k);
                xs_escape(out, a->ns, strlen(a->ns), true);
                buf_append(out, "' ", 2);
            }
            buf_printf(out, "ns%u:", k);
        }
        buf_append_str(out, a->name);
        buf_append(out, "='", 2);
        xs_escape(out, a->value, strlen(a->value), true);
        buf_append(out, "'", 1);
    }
}

static void xs_write(const xs_elem *e, const char *in_force, buf *out)
{
    const char *ns = e->ns ? e->ns : in_force;
    /* The XML namespace has its prefix and may not be a default one
     * (Namespaces in XML 1.0, §3). */
    bool in_xml_ns = ns && strcmp(ns, XS_NS_XML) == 0;
    const char *prefix = in_xml_ns ? "xml:" : "";
    buf_append(out, "<", 1);
    buf_append_str(out, prefix);
    buf_append_str(out, e->name);
    if (in_xml_ns) {
        ns = in_force;
    } else if (!xs_ns_same(ns, in_force)) {
        buf_append(out, " xmlns='", 8);
        xs_escape(out, ns, strlen(ns), true);
        buf_append(out, "'", 1);
    }
    xs_write_attrs(e, out);
    if (!e->first) {
        buf_append(out, "/>", 2);
        return;
    }
    buf_append(out, ">", 1);
    for (const xs_elem *c = e->first; c; c = c->next) {
        if (xs_is_text(c))
            xs_escape(out, (const char *)(c + 1), c->text_len, false);
        else
            xs_write(c, ns, out);
    }
    buf_append(out, "</", 2);
    buf_append_str(out, prefix);
    buf_append_str(out, e->name);
    buf_append(out, ">", 1);
}

void xs_serialize(const xs_elem *e, const char *ctx_ns, buf *out)
{
    xs_write(e, ctx_ns, out);
}

char *xs_to_string(const xs_elem *e, const char *ctx_ns)
{
    buf b;
    buf_init(&b);
    xs_serialize(e, ctx_ns, &b);
    return buf_steal(&b);
}

typedef struct xs_parse_state {
    xs_elem *st;
    int count;
    bool failed;
} xs_parse_state;

static void xs_parse_on_stanza(void *ud, xs_elem *st, const char *raw,
                               size_t raw_len)
{
    xs_parse_state *ps = ud;
    (void)raw;
    (void)raw_len;
    if (ps->count++ == 0)
        ps->st = xs_ref(st);
}

static void xs_parse_on_error(void *ud, xs_stream_condition cond,
                              const char *text)
{
    xs_parse_state *ps = ud;
    (void)cond;
    (void)text;
    ps->failed = true;
}

int xs_parse(const char *xml, size_t len, const char *ctx_ns, xs_elem **out)
{
    *out = NULL;
    /* The element goes in a stream of its own, so it gets exactly the
     * stream's restrictions; the closing tag makes the parser reject an
     * unfinished element or text after it. */
    buf head;
    buf_init(&head);
    buf_append_str(&head, "<stream:stream xmlns:stream='" XS_NS_STREAMS "'");
    if (ctx_ns) {
        buf_append_str(&head, " xmlns='");
        buf_append_xml(&head, ctx_ns, strlen(ctx_ns), 1);
        buf_append(&head, "'", 1);
    }
    buf_append(&head, ">", 1);
    static const char tail[] = "</stream:stream>";
    size_t most = len > buf_len(&head) ? len : buf_len(&head);
    xstream_limits limits = {
        .max_stanza_bytes = most + 1, .max_depth = 128, .max_attrs = 256};
    static const xstream_events events = {.stanza = xs_parse_on_stanza,
                                          .error = xs_parse_on_error};
    xs_parse_state ps = {0};
    xstream *xs = xstream_new(&limits, false, &events, &ps);
    int rc = xstream_feed(xs, buf_data(&head), buf_len(&head));
    if (rc == 0)
        rc = xstream_feed(xs, xml, len);
    /* Only our own closing tag may end the stream. */
    int end = rc == 0 ? xstream_feed(xs, tail, sizeof tail - 1) : rc;
    xstream_free(xs);
    buf_close(&head);
    if (rc == 0 && end == XE_CLOSED && !ps.failed && ps.count == 1) {
        *out = ps.st;
        return 0;
    }
    xs_unref(ps.st);
    return rc == XE_LIMIT || end == XE_LIMIT ? XE_LIMIT : XE_BAD_XML;
}

bool xs_equal(const xs_elem *a, const xs_elem *b)
{
    if (a == b)
        return true;
    if (xs_is_text(a) || xs_is_text(b)) {
        return xs_is_text(a) && xs_is_text(b) && a->text_len == b->text_len &&
               memcmp(a + 1, b + 1, a->text_len) == 0;
    }
    if (strcmp(a->name, b->name) != 0 || !xs_str_eq(a->ns, b->ns) ||
        a->nattrs != b->nattrs)
        return false;
    for (size_t i = 0; i < a->nattrs; i++) {
        const xs_attrib *x = &a->attrs[i];
        const xs_attrib *y = xs_find_attr(b, x->ns, x->name);
        if (!y || strcmp(x->value, y->value) != 0)
            return false;
    }
    const xs_elem *c = a->first, *d = b->first;
    for (; c && d; c = c->next, d = d->next) {
        if (!xs_equal(c, d))
            return false;
    }
    return c == NULL && d == NULL;
}
