/* SPDX-License-Identifier: MIT */
/* libcommon/xs.h: stanza trees. An element has a name, a namespace, attributes
 * and children (elements and text). Trees are reference counted; a tree with
 * more than one reference is read-only (change an xs_dup() instead). */
#ifndef XMPPD_LIBCOMMON_XS_H
#define XMPPD_LIBCOMMON_XS_H
#include <stdbool.h>
#include <stddef.h>

#include "libcommon/buf.h"
/* The stanza and stream error conditions, and the error stanzas built from
 * them, come with this header. */
#include "libcommon/xs_error.h"

#define XS_NS_STREAMS "http://etherx.jabber.org/streams"
#define XS_NS_STREAM_ERRORS "urn:ietf:params:xml:ns:xmpp-streams"
#define XS_NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define XS_NS_CLIENT "jabber:client"
#define XS_NS_SERVER "jabber:server"
#define XS_NS_COMPONENT "jabber:component:accept"
#define XS_NS_XML "http://www.w3.org/XML/1998/namespace"
#define XS_NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define XS_NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define XS_NS_BIND "urn:ietf:params:xml:ns:xmpp-bind"
#define XS_NS_PING "urn:xmpp:ping"
#define XS_NS_XMPPD_COMPONENT "urn:xmppd:component"
#define XS_NS_XMPPD_ROUTE "urn:xmppd:route"
#define XS_NS_XMPPD_ROUTER "urn:xmppd:router"

typedef struct xs_elem xs_elem;

/* A new element with one reference. ns NULL means "the parent's namespace"
 * (resolved when the element is added to a parent or serialized). */
xs_elem *xs_new(const char *name, const char *ns);
/* An attribute for xs_new_attrs(): ns NULL for none; value holds value_len
 * bytes and need not be NUL-terminated. */
typedef struct xs_attr_in {
    const char *name;
    const char *ns;
    const char *value;
    size_t value_len;
} xs_attr_in;
/* Like xs_new() with nattrs attributes (distinct names), all in one
 * allocation: the parsers' fast path. Strings are copied. */
xs_elem *xs_new_attrs(const char *name, const char *ns,
                      const xs_attr_in *attrs, size_t nattrs);
xs_elem *xs_ref(xs_elem *e);           /* one more reference; returns e */
void xs_unref(xs_elem *e);             /* drops one; frees at zero; NULL is fine */
xs_elem *xs_dup(const xs_elem *e);     /* a deep copy with one reference */

const char *xs_name(const xs_elem *e);
/* NULL while unresolved (see xs_new); "" for an element in no namespace. */
const char *xs_ns(const xs_elem *e);
xs_elem *xs_parent(const xs_elem *e);  /* NULL for a root */

/* Attributes without a namespace, the common case. NULL when absent. */
const char *xs_attr(const xs_elem *e, const char *name);
/* Sets (or with value NULL removes) an attribute; copies both strings. */
void xs_set_attr(xs_elem *e, const char *name, const char *value);
/* Attributes in a namespace, e.g. xml:lang is (XS_NS_XML, "lang"). */
const char *xs_attr_ns(const xs_elem *e, const char *ns, const char *name);
void xs_set_attr_ns(xs_elem *e, const char *ns, const char *name,
                    const char *value);
size_t xs_attr_count(const xs_elem *e);
/* The i-th attribute (i < xs_attr_count()): its name, namespace (NULL when
 * none) and value through the pointers that are not NULL. */
void xs_attr_at(const xs_elem *e, size_t i, const char **name, const char **ns,
                const char **value);

/* Appends child (a root: no parent) to e and takes the caller's reference.
 * An unresolved namespace in child's tree becomes e's. Returns child. */
xs_elem *xs_add(xs_elem *e, xs_elem *child);
/* Shorthand for xs_add(e, xs_new(name, ns)). */
xs_elem *xs_add_new(xs_elem *e, const char *name, const char *ns);
/* Appends text (any bytes, escaped on output); merges with a text node that
 * ends the child list. */
void xs_add_text(xs_elem *e, const char *text, size_t len);
/* Removes child from e and drops e's reference to it. */
void xs_remove(xs_elem *e, xs_elem *child);

/* The first child element named name in namespace ns; either may be NULL to
 * match any. */
xs_elem *xs_child(const xs_elem *e, const char *name, const char *ns);
/* Child elements in order: first, then next sibling element. Text is skipped. */
xs_elem *xs_first(const xs_elem *e);
xs_elem *xs_next(const xs_elem *e);
/* The concatenated text of e's direct text children; "" when none. The
 * string is owned by e and valid until e changes. */
const char *xs_text(xs_elem *e);
/* Text of the first child named name in ns, or NULL when there is no such child. */
const char *xs_child_text(const xs_elem *e, const char *name, const char *ns);

/* Appends e as XML to out. Namespaces are declared where they change; a root
 * whose namespace equals ctx_ns (the stream's default, may be NULL) gets no
 * xmlns. Namespaced attributes get a prefix (xml: or one declared on the
 * element). Text and attribute values are escaped; what XML cannot carry
 * (control characters, bytes that are not UTF-8) becomes U+FFFD. */
void xs_serialize(const xs_elem *e, const char *ctx_ns, buf *out);
/* The same into a new string the caller frees. */
char *xs_to_string(const xs_elem *e, const char *ctx_ns);
/* Parses one element (with restricted XML, as xstream does; surrounding
 * whitespace is fine) into *out, a new tree. Returns 0, XE_BAD_XML (*out NULL)
 * or XE_LIMIT (nesting over 128, over 256 attributes on an element). ctx_ns
 * is the namespace in force for an element that declares none. */
int xs_parse(const char *xml, size_t len, const char *ctx_ns, xs_elem **out);
/* Same name, namespace, attributes (in any order) and children in order. */
bool xs_equal(const xs_elem *a, const xs_elem *b);
#endif
