/* SPDX-License-Identifier: MIT */
/* libcommon/cfg.c: the suite's XML config file, read with libxml2's tree API.
 * No DTD, no entities, no network: the file is data, never a program. */
#include "libcommon/cfg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/log.h"

/* A config file is a few kilobytes; anything this big is a mistake. */
#define CFG_MAX_FILE_BYTES (16u << 20)
/* How much of a bad value a message quotes. */
#define CFG_QUOTE_BYTES 80

/* NOENT, DTDLOAD and DTDATTR stay off: entities are never expanded and no
 * DTD is ever read. */
#define CFG_XML_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOBLANKS)

#if LIBXML_VERSION >= 21200
typedef const xmlError cfg_xml_error;
#else
typedef xmlError cfg_xml_error;
#endif

struct cfg {
    xmlDoc *doc; /* doc->_private points back here */
    char *path;  /* as given */
};

/* What each element keeps, in its _private. */
typedef struct cfg_meta {
    int line;   /* where its start tag begins */
    char *text; /* trimmed, or NULL when there is none */
} cfg_meta;

/* What the parser reported, kept while one document is read. */
typedef struct cfg_parse {
    bool has_error; /* the first error, not the last: later ones cascade */
    int error_line;
    char error[400];
    bool has_dtd;
    int dtd_line;
} cfg_parse;

static const xmlNode *cfg_xml(const cfg_node *n)
{
    return (const xmlNode *)n;
}

static const cfg_node *cfg_wrap(const xmlNode *x)
{
    return (const cfg_node *)x;
}

static void cfg_diag_vfill(cfg_diag *diag, const char *file, int line,
                           const char *prefix, const char *fmt, va_list ap)
{
    if (!diag)
        return;
    snprintf(diag->file, sizeof diag->file, "%s", file ? file : "");
    diag->line = line;
    int n = snprintf(diag->message, sizeof diag->message, "%s", prefix);
    if (n < 0 || (size_t)n >= sizeof diag->message)
        return;
    vsnprintf(diag->message + n, sizeof diag->message - (size_t)n, fmt, ap);
}

static int cfg_diag_fill(cfg_diag *diag, const char *file, int line,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int cfg_diag_fill(cfg_diag *diag, const char *file, int line,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_diag_vfill(diag, file, line, "", fmt, ap);
    va_end(ap);
    return XE_CONFIG;
}

void cfg_diag_print(const cfg_diag *d)
{
    if (!d)
        return;
    if (d->file[0] == '\0')
        fprintf(stderr, "%s\n", d->message);
    else if (d->line > 0)
        fprintf(stderr, "%s:%d: %s\n", d->file, d->line, d->message);
    else
        fprintf(stderr, "%s: %s\n", d->file, d->message);
}

/* --- loading ------------------------------------------------------------ */

static void cfg_on_xml_error(void *ctx, cfg_xml_error *err)
{
    xmlParserCtxt *ctxt = ctx;
    cfg_parse *st = ctxt->_private;

    /* Warnings (a relative namespace URI, say) do not make a file wrong. */
    if (!st || st->has_error || err->level < XML_ERR_ERROR)
        return;
    st->has_error = true;
    st->error_line = err->line;
    snprintf(st->error, sizeof st->error, "%s",
             err->message ? err->message : "unknown error");
    size_t len = strlen(st->error);
    while (len > 0 && (st->error[len - 1] == '\n' || st->error[len - 1] == ' '))
        st->error[--len] = '\0';
}

/* Called at <!DOCTYPE, before any declaration inside it is read: stopping
 * here means no entity is ever declared, let alone expanded. */
static void cfg_on_doctype(void *ctx, const xmlChar *name,
                           const xmlChar *external_id, const xmlChar *system_id)
{
    xmlParserCtxt *ctxt = ctx;
    cfg_parse *st = ctxt->_private;

    (void)name;
    (void)external_id;
    (void)system_id;
    st->has_dtd = true;
    st->dtd_line = ctxt->input ? ctxt->input->line : 0;
    xmlStopParser(ctxt);
}

/* libxml2 numbers an element by the line its start tag ends on, and stops
 * counting at 65535. Messages point at the line where the tag begins, kept
 * in _private until the parse has succeeded and cfg_add_meta() runs. */
static void cfg_on_element(void *ctx, const xmlChar *name,
                           const xmlChar *prefix, const xmlChar *uri,
                           int nb_namespaces, const xmlChar **namespaces,
                           int nb_attributes, int nb_defaulted,
                           const xmlChar **attributes)
{
    xmlParserCtxt *ctxt = ctx;

    xmlSAX2StartElementNs(ctx, name, prefix, uri, nb_namespaces, namespaces,
                          nb_attributes, nb_defaulted, attributes);
    xmlNode *x = ctxt->node;
    xmlParserInput *in = ctxt->input;
    if (!x || x->type != XML_ELEMENT_NODE || !in || !in->cur || !in->base)
        return;
    /* The tag is still in the buffer, and '<' cannot occur inside it. */
    long line = in->line;
    const xmlChar *p = in->cur;
    while (p > in->base && *--p != '<')
        if (*p == '\n')
            line--;
    if (*p != '<' || line < 1 || line > INT_MAX)
        line = in->line;
    x->_private = (void *)(intptr_t)line;
}

/* The next element after x in document order, staying inside top. */
static xmlNode *cfg_walk_next(xmlNode *x, const xmlNode *top)
{
    for (xmlNode *c = x->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    while (x && x != top) {
        for (xmlNode *s = x->next; s; s = s->next)
            if (s->type == XML_ELEMENT_NODE)
                return s;
        x = x->parent;
    }
    return NULL;
}

static bool cfg_is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* The trimmed text directly inside x, or NULL when there is none. */
static char *cfg_element_text(const xmlNode *x)
{
    size_t len = 0;
    for (const xmlNode *c = x->children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
            c->content)
            len += strlen((const char *)c->content);
    if (len == 0)
        return NULL;
    char *text = xalloc(len + 1);
    size_t at = 0;
    for (const xmlNode *c = x->children; c; c = c->next) {
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
            c->content) {
            size_t n = strlen((const char *)c->content);
            memcpy(text + at, c->content, n);
            at += n;
        }
    }
    size_t start = 0;
    while (start < at && cfg_is_space(text[start]))
        start++;
    while (at > start && cfg_is_space(text[at - 1]))
        at--;
    memmove(text, text + start, at - start);
    text[at - start] = '\0';
    return text;
}

/* Trims every element's text once, so cfg_text() can hand out borrowed
 * strings from a const tree. */
static void cfg_add_meta(xmlNode *root)
{
    for (xmlNode *x = root; x; x = cfg_walk_next(x, root)) {
        cfg_meta *meta = xalloc(sizeof *meta);
        meta->line = (int)(intptr_t)x->_private;
        if (meta->line == 0)
            meta->line = (int)xmlGetLineNo(x);
        meta->text = cfg_element_text(x);
        x->_private = meta;
    }
}

static void cfg_free_meta(xmlNode *root)
{
    for (xmlNode *x = root; x; x = cfg_walk_next(x, root)) {
        cfg_meta *meta = x->_private;
        if (meta)
            free(meta->text);
        free(meta);
        x->_private = NULL;
    }
}

static int cfg_parse_buffer(const char *data, size_t len, const char *name,
                            cfg **out, cfg_diag *diag)
{
    if (len > INT_MAX)
        return cfg_diag_fill(diag, name, 0, "the file is too large");

    xmlInitParser();
    xmlParserCtxt *ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return cfg_diag_fill(diag, name, 0, "cannot create an XML parser");
    cfg_parse st = {0};
    ctxt->_private = &st;
    /* The context owns its copy of the SAX handler, so these stay local. */
    ctxt->sax->serror = cfg_on_xml_error;
    ctxt->sax->internalSubset = cfg_on_doctype;
    ctxt->sax->startElementNs = cfg_on_element;

    xmlDoc *doc =
        xmlCtxtReadMemory(ctxt, data, (int)len, name, NULL, CFG_XML_OPTIONS);
    xmlFreeParserCtxt(ctxt);

    int err = 0;
    if (st.has_dtd) {
        err = cfg_diag_fill(diag, name, st.dtd_line, "DTDs are not allowed");
    } else if (st.has_error) {
        err = cfg_diag_fill(diag, name, st.error_line, "not well-formed: %s",
                            st.error);
    } else if (!doc) {
        err = cfg_diag_fill(diag, name, 0, "not well-formed");
    } else if (doc->intSubset || doc->extSubset) {
        err = cfg_diag_fill(diag, name, 1, "DTDs are not allowed");
    }
    if (err) {
        xmlFreeDoc(doc);
        return err;
    }

    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root) {
        xmlFreeDoc(doc);
        return cfg_diag_fill(diag, name, 0, "no root element");
    }
    if (strcmp((const char *)root->name, "xmppd") != 0) {
        err = cfg_diag_fill(diag, name, (int)(intptr_t)root->_private,
                            "the root element must be <xmppd>, not <%s>",
                            (const char *)root->name);
        xmlFreeDoc(doc);
        return err;
    }

    cfg *c = xalloc(sizeof *c);
    c->doc = doc;
    c->path = xstrdup(name);
    doc->_private = c;
    cfg_add_meta(root);
    *out = c;
    return 0;
}

/* Reads the whole of path; on failure fills diag with the system's reason. */
static int cfg_read_file(const char *path, char **data, size_t *len,
                         cfg_diag *diag)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cfg_diag_fill(diag, path, 0, "%s", strerror(errno));

    size_t cap = 8192, used = 0;
    char *buf = xalloc(cap);
    for (;;) {
        if (used == cap) {
            if (cap >= CFG_MAX_FILE_BYTES) {
                free(buf);
                close(fd);
                return cfg_diag_fill(diag, path, 0,
                                     "the file is larger than %uM",
                                     CFG_MAX_FILE_BYTES >> 20);
            }
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        ssize_t n = read(fd, buf + used, cap - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return cfg_diag_fill(diag, path, 0, "%s", strerror(e));
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    *data = buf;
    *len = used;
    return 0;
}

int cfg_load(const char *path, cfg **out, cfg_diag *diag)
{
    char *data = NULL;
    size_t len = 0;

    *out = NULL;
    if (!path)
        return cfg_diag_fill(diag, "", 0, "no config file given");
    /* Reading the file here rather than in libxml2 gives the system's own
     * reason for a missing or unreadable file, and nothing on stderr. */
    int err = cfg_read_file(path, &data, &len, diag);
    if (err)
        return err;
    err = cfg_parse_buffer(data, len, path, out, diag);
    free(data);
    return err;
}

int cfg_load_string(const char *xml, const char *name, cfg **out,
                    cfg_diag *diag)
{
    *out = NULL;
    if (!name)
        name = "-";
    if (!xml)
        xml = "";
    return cfg_parse_buffer(xml, strlen(xml), name, out, diag);
}

void cfg_free(cfg *c)
{
    if (!c)
        return;
    cfg_free_meta(xmlDocGetRootElement(c->doc));
    xmlFreeDoc(c->doc);
    free(c->path);
    free(c);
}

const cfg_node *cfg_root(const cfg *c)
{
    return c ? cfg_wrap(xmlDocGetRootElement(c->doc)) : NULL;
}

const char *cfg_path(const cfg *c)
{
    return c ? c->path : NULL;
}

char *cfg_resolve_path(const cfg *c, const char *path)
{
    if (!path)
        return NULL;
    const char *slash = c ? strrchr(c->path, '/') : NULL;
    while (path[0] == '.' && path[1] == '/')
        path += 2;                     /* "./x" is "x" */
    if (path[0] == '/' || path[0] == '\0' || !slash)
        return xstrdup(path);
    /* Keep the config's folder as given, slash included: "etc/" + path;
     * "." is the folder itself. */
    int folder = (int)(slash - c->path + 1);
    if (strcmp(path, ".") == 0)
        return xasprintf("%.*s", folder > 1 ? folder - 1 : folder, c->path);
    return xasprintf("%.*s%s", folder, c->path, path);
}

/* --- navigation --------------------------------------------------------- */

static const xmlNode *cfg_element_from(const xmlNode *x)
{
    while (x && x->type != XML_ELEMENT_NODE)
        x = x->next;
    return x;
}

const cfg_node *cfg_first(const cfg_node *n)
{
    return n ? cfg_wrap(cfg_element_from(cfg_xml(n)->children)) : NULL;
}

const cfg_node *cfg_sibling(const cfg_node *n)
{
    return n ? cfg_wrap(cfg_element_from(cfg_xml(n)->next)) : NULL;
}

const cfg_node *cfg_child(const cfg_node *n, const char *name)
{
    for (const cfg_node *c = cfg_first(n); c; c = cfg_sibling(c))
        if (strcmp(cfg_name(c), name) == 0)
            return c;
    return NULL;
}

const cfg_node *cfg_next(const cfg_node *n)
{
    for (const cfg_node *s = cfg_sibling(n); s; s = cfg_sibling(s))
        if (strcmp(cfg_name(s), cfg_name(n)) == 0)
            return s;
    return NULL;
}

const char *cfg_name(const cfg_node *n)
{
    return n ? (const char *)cfg_xml(n)->name : NULL;
}

int cfg_line(const cfg_node *n)
{
    const cfg_meta *meta = n ? cfg_xml(n)->_private : NULL;
    return meta ? meta->line : 0;
}

const char *cfg_attr(const cfg_node *n, const char *name)
{
    if (!n || !name)
        return NULL;
    for (const xmlAttr *a = cfg_xml(n)->properties; a; a = a->next) {
        if (a->ns || strcmp((const char *)a->name, name) != 0)
            continue;
        /* Without a DTD a value is one text node, or none when empty. */
        const xmlNode *t = a->children;
        return t && t->content ? (const char *)t->content : "";
    }
    return NULL;
}

const char *cfg_text(const cfg_node *n)
{
    const cfg_meta *meta = n ? cfg_xml(n)->_private : NULL;
    return meta && meta->text ? meta->text : "";
}

/* --- diagnostics -------------------------------------------------------- */

/* The child of <xmppd> that n lies in: the section messages are about. */
static const char *cfg_section(const xmlNode *x)
{
    while (x->parent && x->parent->type == XML_ELEMENT_NODE &&
           x->parent->parent && x->parent->parent->type == XML_ELEMENT_NODE)
        x = x->parent;
    return (const char *)x->name;
}

static const char *cfg_file_of(const xmlNode *x)
{
    const cfg *c = x->doc ? x->doc->_private : NULL;
    return c ? c->path : "";
}

int cfg_error(cfg_diag *diag, const cfg_node *n, const char *fmt, ...)
{
    char prefix[128] = "";
    const char *file = "";
    int line = 0;

    if (n) {
        snprintf(prefix, sizeof prefix, "%s: ", cfg_section(cfg_xml(n)));
        file = cfg_file_of(cfg_xml(n));
        line = cfg_line(n);
    }
    va_list ap;
    va_start(ap, fmt);
    cfg_diag_vfill(diag, file, line, prefix, fmt, ap);
    va_end(ap);
    return XE_CONFIG;
}

/* "SECTION: ATTR "VALUE" is WHAT", the value escaped and shortened. */
static int cfg_bad_value(cfg_diag *diag, const cfg_node *n, const char *attr,
                         const char *value, const char *what)
{
    char quoted[CFG_QUOTE_BYTES];

    log_escape(value, strlen(value), quoted, sizeof quoted);
    return cfg_error(diag, n, "%s \"%s\" is %s", attr, quoted, what);
}

/* --- typed readers ------------------------------------------------------ */

/* Reads the decimal digits at *p, moving *p past them. Returns false when
 * there are none; a value past ULLONG_MAX sets *too_big instead of wrapping. */
static bool cfg_digits(const char **p, unsigned long long *out, bool *too_big)
{
    const char *s = *p;
    unsigned long long v = 0;

    *too_big = false;
    while (*s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        if (v > (ULLONG_MAX - d) / 10)
            *too_big = true;
        else
            v = v * 10 + d;
        s++;
    }
    if (s == *p)
        return false;
    *p = s;
    *out = v;
    return true;
}

int cfg_int(const cfg_node *n, const char *attr, long def, long min, long max,
            long *out, cfg_diag *diag)
{
    const char *value = cfg_attr(n, attr);
    if (!value) {
        *out = def;
        return 0;
    }
    const char *p = value;
    bool is_negative = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    unsigned long long mag;
    bool too_big;
    if (!cfg_digits(&p, &mag, &too_big) || *p != '\0')
        return cfg_bad_value(diag, n, attr, value, "not a number");

    char range[64];
    snprintf(range, sizeof range, "out of range (%ld..%ld)", min, max);
    unsigned long long limit = is_negative ? (unsigned long long)LONG_MAX + 1
                                           : (unsigned long long)LONG_MAX;
    if (too_big || mag > limit)
        return cfg_bad_value(diag, n, attr, value, range);
    long v;
    if (!is_negative)
        v = (long)mag;
    else if (mag == (unsigned long long)LONG_MAX + 1)
        v = LONG_MIN;
    else
        v = -(long)mag;
    if (v < min || v > max)
        return cfg_bad_value(diag, n, attr, value, range);
    *out = v;
    return 0;
}

int cfg_bool(const cfg_node *n, const char *attr, bool def, bool *out,
             cfg_diag *diag)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};

    const char *value = cfg_attr(n, attr);
    if (!value) {
        *out = def;
        return 0;
    }
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return cfg_bad_value(diag, n, attr, value, "not yes or no");
}

/* 65536 as "64k": the shortest exact form, for range messages. */
static void cfg_format_size(size_t v, char *out, size_t size)
{
    static const char units[] = "GMk";
    static const size_t scale[] = {(size_t)1 << 30, (size_t)1 << 20, 1024};

    for (size_t i = 0; i < 3; i++) {
        if (v != 0 && v % scale[i] == 0) {
            snprintf(out, size, "%zu%c", v / scale[i], units[i]);
            return;
        }
    }
    snprintf(out, size, "%zu", v);
}

int cfg_size(const cfg_node *n, const char *attr, size_t def, size_t min,
             size_t max, size_t *out, cfg_diag *diag)
{
    static const struct {
        const char *suffix;
        size_t bytes;
    } units[] = {
        {"", 1},
        {"k", (size_t)1 << 10},
        {"m", (size_t)1 << 20},
        {"g", (size_t)1 << 30},
    };

    const char *value = cfg_attr(n, attr);
    if (!value) {
        *out = def;
        return 0;
    }
    const char *p = value;
    unsigned long long mag;
    bool too_big;
    size_t unit = 0;
    if (cfg_digits(&p, &mag, &too_big)) {
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strcasecmp(p, units[i].suffix) == 0)
                unit = units[i].bytes;
    }
    if (unit == 0)
        return cfg_bad_value(diag, n, attr, value, "not a size (like 64k, 4M)");

    char lo[32], hi[32], range[80];
    cfg_format_size(min, lo, sizeof lo);
    cfg_format_size(max, hi, sizeof hi);
    snprintf(range, sizeof range, "out of range (%s..%s)", lo, hi);
    if (too_big || mag > SIZE_MAX / unit)
        return cfg_bad_value(diag, n, attr, value, range);
    size_t v = (size_t)mag * unit;
    if (v < min || v > max)
        return cfg_bad_value(diag, n, attr, value, range);
    *out = v;
    return 0;
}

/* 300000 as "5min": the largest exact unit, for range messages. */
static void cfg_format_ms(long v, char *out, size_t size)
{
    static const struct {
        long ms;
        const char *unit;
    } units[] = {
        {3600000, "h"},
        {60000, "min"},
        {1000, "s"},
    };

    if (v == 0) {
        snprintf(out, size, "0");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (v % units[i].ms == 0) {
            snprintf(out, size, "%ld%s", v / units[i].ms, units[i].unit);
            return;
        }
    }
    snprintf(out, size, "%ldms", v);
}

int cfg_duration_ms(const cfg_node *n, const char *attr, long def, long min,
                    long max, long *out, cfg_diag *diag)
{
    static const struct {
        const char *suffix;
        long ms;
    } units[] = {
        {"", 1000}, {"ms", 1}, {"s", 1000}, {"min", 60000}, {"h", 3600000},
    };

    const char *value = cfg_attr(n, attr);
    if (!value) {
        *out = def;
        return 0;
    }
    const char *p = value;
    unsigned long long mag;
    bool too_big;
    long unit = 0;
    if (cfg_digits(&p, &mag, &too_big)) {
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strcasecmp(p, units[i].suffix) == 0)
                unit = units[i].ms;
    }
    if (unit == 0)
        return cfg_bad_value(diag, n, attr, value,
                             "not a duration (like 500ms, 10s, 5min)");

    char lo[32], hi[32], range[80];
    cfg_format_ms(min, lo, sizeof lo);
    cfg_format_ms(max, hi, sizeof hi);
    snprintf(range, sizeof range, "out of range (%s..%s)", lo, hi);
    if (too_big || mag > (unsigned long long)(LONG_MAX / unit))
        return cfg_bad_value(diag, n, attr, value, range);
    long v = (long)mag * unit;
    if (v < min || v > max)
        return cfg_bad_value(diag, n, attr, value, range);
    *out = v;
    return 0;
}

int cfg_required(const cfg_node *n, const char *attr, const char **out,
                 cfg_diag *diag)
{
    const char *value = cfg_attr(n, attr);
    if (!value) {
        *out = NULL;
        if (!n)
            return cfg_error(diag, NULL, "missing element: needs attribute %s",
                             attr);
        return cfg_error(diag, n, "<%s> needs attribute %s", cfg_name(n), attr);
    }
    *out = value;
    return 0;
}

int cfg_check_attrs(const cfg_node *n, const char *const *allowed,
                    cfg_diag *diag)
{
    if (!n)
        return 0;
    for (const xmlAttr *a = cfg_xml(n)->properties; a; a = a->next) {
        char name[128];
        if (a->ns && a->ns->prefix)
            snprintf(name, sizeof name, "%s:%s", (const char *)a->ns->prefix,
                     (const char *)a->name);
        else
            snprintf(name, sizeof name, "%s", (const char *)a->name);
        bool is_known = false;
        for (size_t i = 0; allowed && allowed[i] && !is_known; i++)
            is_known = strcmp(name, allowed[i]) == 0;
        if (!is_known) {
            char quoted[CFG_QUOTE_BYTES];
            log_escape(name, strlen(name), quoted, sizeof quoted);
            return cfg_error(diag, n, "<%s> has unknown attribute \"%s\"",
                             cfg_name(n), quoted);
        }
    }
    return 0;
}
