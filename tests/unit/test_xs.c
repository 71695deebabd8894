/* SPDX-License-Identifier: MIT */
/* tests/unit/test_xs.c: stanza trees and their XML form. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"

#include "libcommon/buf.h"
#include "libcommon/error.h"
#include "libcommon/xs.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static xs_elem *parse_ok(const char *xml, const char *ctx_ns)
{
    xs_elem *e = NULL;
    int rc = xs_parse(xml, strlen(xml), ctx_ns, &e);
    ck_assert_msg(rc == 0, "xs_parse(%s) gave %d", xml, rc);
    ck_assert_ptr_nonnull(e);
    return e;
}

static void assert_xml(const xs_elem *e, const char *ctx_ns, const char *want)
{
    char *s = xs_to_string(e, ctx_ns);
    ck_assert_str_eq(s, want);
    free(s);
}

START_TEST(builds_elements_with_attributes_and_children)
{
    xs_elem *msg = xs_new("message", XS_NS_CLIENT);
    xs_set_attr(msg, "to", "juliet@example.com");
    xs_set_attr(msg, "type", "chat");
    xs_elem *body = xs_add_new(msg, "body", NULL);
    xs_add_text(body, "Wherefore", 9);
    xs_add_text(body, " art thou?", 10);
    xs_elem *x = xs_add_new(msg, "x", "jabber:x:oob");

    ck_assert_str_eq(xs_name(msg), "message");
    ck_assert_str_eq(xs_ns(msg), XS_NS_CLIENT);
    ck_assert_str_eq(xs_attr(msg, "to"), "juliet@example.com");
    ck_assert_ptr_null(xs_attr(msg, "from"));
    ck_assert_uint_eq(xs_attr_count(msg), 2);
    ck_assert_str_eq(xs_ns(body), XS_NS_CLIENT);
    ck_assert_ptr_eq(xs_parent(body), msg);
    ck_assert_ptr_null(xs_parent(msg));
    ck_assert_str_eq(xs_text(body), "Wherefore art thou?");
    ck_assert_ptr_eq(xs_first(msg), body);
    ck_assert_ptr_eq(xs_next(body), x);
    ck_assert_ptr_null(xs_next(x));
    ck_assert_ptr_eq(xs_child(msg, "x", NULL), x);
    ck_assert_ptr_eq(xs_child(msg, NULL, "jabber:x:oob"), x);
    ck_assert_ptr_null(xs_child(msg, "x", XS_NS_CLIENT));
    ck_assert_str_eq(xs_child_text(msg, "body", XS_NS_CLIENT),
                     "Wherefore art thou?");
    ck_assert_str_eq(xs_child_text(msg, "x", NULL), "");
    ck_assert_ptr_null(xs_child_text(msg, "subject", NULL));
    xs_unref(msg);
}
END_TEST

START_TEST(resolves_a_missing_namespace_from_the_parent)
{
    xs_elem *item = xs_new("item", NULL);
    xs_elem *sub = xs_add(item, xs_new("group", NULL));
    ck_assert_ptr_null(xs_ns(item));
    ck_assert_ptr_null(xs_ns(sub));

    xs_elem *query = xs_new("query", "jabber:iq:roster");
    xs_add(query, item);
    ck_assert_str_eq(xs_ns(item), "jabber:iq:roster");
    ck_assert_str_eq(xs_ns(sub), "jabber:iq:roster");
    assert_xml(query, NULL,
               "<query xmlns='jabber:iq:roster'><item><group/></item></query>");
    xs_unref(query);
}
END_TEST

START_TEST(sets_replaces_and_removes_attributes)
{
    xs_elem *e =
        parse_ok("<iq id='1' type='get' xml:lang='en'/>", XS_NS_CLIENT);
    xs_set_attr(e, "type", "result");
    xs_set_attr(e, "id", NULL);
    xs_set_attr(e, "to", "a@b");
    xs_set_attr(e, "absent", NULL);
    xs_set_attr(e, "to", xs_attr(e, "to")); /* its own value */
    xs_set_attr_ns(e, XS_NS_XML, "lang", "de");
    ck_assert_str_eq(xs_attr(e, "type"), "result");
    ck_assert_ptr_null(xs_attr(e, "id"));
    ck_assert_str_eq(xs_attr(e, "to"), "a@b");
    ck_assert_ptr_null(xs_attr(e, "lang")); /* not the namespaced one */
    ck_assert_str_eq(xs_attr_ns(e, XS_NS_XML, "lang"), "de");
    ck_assert_uint_eq(xs_attr_count(e), 3);

    int seen = 0;
    for (size_t i = 0; i < xs_attr_count(e); i++) {
        const char *name, *ns, *value;
        xs_attr_at(e, i, &name, &ns, &value);
        if (strcmp(name, "lang") == 0) {
            ck_assert_str_eq(ns, XS_NS_XML);
            ck_assert_str_eq(value, "de");
            seen++;
        } else {
            ck_assert_ptr_null(ns);
        }
    }
    ck_assert_int_eq(seen, 1);
    for (int i = 0; i < 40; i++) {
        char name[8];
        snprintf(name, sizeof name, "a%d", i);
        xs_set_attr(e, name, name);
    }
    ck_assert_uint_eq(xs_attr_count(e), 43);
    ck_assert_str_eq(xs_attr(e, "a39"), "a39");
    xs_unref(e);
}
END_TEST

static xs_elem *build_message(void)
{
    xs_elem *m = xs_new("message", XS_NS_CLIENT);
    xs_set_attr(m, "to", "romeo@example.net");
    xs_add_text(xs_add_new(m, "body", NULL), "hi", 2);
    return m;
}

static xs_elem *build_foreign_child(void)
{
    xs_elem *iq = xs_new("iq", XS_NS_SERVER);
    xs_elem *q = xs_add_new(iq, "query", "jabber:iq:version");
    xs_add_new(q, "name", NULL);
    return iq;
}

static xs_elem *build_escapes(void)
{
    xs_elem *m = xs_new("message", XS_NS_CLIENT);
    xs_set_attr(m, "id", "a'b\"c<d>&e");
    xs_add_text(xs_add_new(m, "body", NULL), "1 < 2 && 'x' > \"y\"", 18);
    return m;
}

static xs_elem *build_namespaced_attrs(void)
{
    xs_elem *m = xs_new("message", XS_NS_CLIENT);
    xs_set_attr_ns(m, XS_NS_XML, "lang", "en");
    xs_set_attr_ns(m, "urn:a", "x", "1");
    xs_set_attr_ns(m, "urn:b", "y", "2");
    xs_set_attr_ns(m, "urn:a", "z", "3");
    return m;
}

static xs_elem *build_no_namespace_child(void)
{
    xs_elem *e = xs_new("route", XS_NS_XMPPD_ROUTE);
    xs_add_new(e, "raw", "");
    return e;
}

static xs_elem *build_control_chars(void)
{
    xs_elem *m = xs_new("message", XS_NS_CLIENT);
    xs_set_attr(m, "id", "a\tb\nc\rd");
    xs_add_text(xs_add_new(m, "body", NULL), "l1\nl2\r\t\x01!", 9);
    return m;
}

/* Valid UTF-8 stays; an overlong form, a stray byte, a surrogate, U+FFFF and
 * a cut sequence do not. */
static xs_elem *build_bad_utf8(void)
{
    xs_elem *m = xs_new("message", XS_NS_CLIENT);
    xs_set_attr(m, "id", "caf\xC3\xA9\xC1\x8C");
    static const char text[] = "\xF0\x9F\x98\x80\xFF|\xED\xA0\x80|"
                               "\xEF\xBF\xBF|\xE2\x82";
    xs_add_text(xs_add_new(m, "body", NULL), text, sizeof text - 1);
    return m;
}

static const struct {
    xs_elem *(*build)(void);
    const char *ctx_ns;
    const char *xml;
} serialized[] = {
    {build_message, XS_NS_CLIENT,
     "<message to='romeo@example.net'><body>hi</body></message>"},
    {build_message, NULL,
     "<message xmlns='jabber:client' to='romeo@example.net'>"
     "<body>hi</body></message>"},
    {build_message, XS_NS_SERVER,
     "<message xmlns='jabber:client' to='romeo@example.net'>"
     "<body>hi</body></message>"},
    {build_foreign_child, XS_NS_SERVER,
     "<iq><query xmlns='jabber:iq:version'><name/></query></iq>"},
    {build_escapes, XS_NS_CLIENT,
     "<message id='a&apos;b&quot;c&lt;d&gt;&amp;e'><body>1 &lt; 2 &amp;&amp; "
     "'x' &gt; \"y\"</body></message>"},
    {build_namespaced_attrs, XS_NS_CLIENT,
     "<message xml:lang='en' xmlns:ns1='urn:a' ns1:x='1' xmlns:ns2='urn:b' "
     "ns2:y='2' ns1:z='3'/>"},
    {build_no_namespace_child, XS_NS_COMPONENT,
     "<route xmlns='urn:xmppd:route'><raw xmlns=''/></route>"},
    {build_bad_utf8, XS_NS_CLIENT,
     "<message id='caf\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD'><body>"
     "\xF0\x9F\x98\x80\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|"
     "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD"
     "</body></message>"},
    {build_control_chars, XS_NS_CLIENT,
     "<message id='a&#9;b&#10;c&#13;d'><body>l1\nl2&#13;\t\xEF\xBF\xBD!"
     "</body></message>"},
};

START_TEST(serializes_with_namespaces_declared_where_they_change)
{
    xs_elem *e = serialized[_i].build();
    assert_xml(e, serialized[_i].ctx_ns, serialized[_i].xml);
    xs_elem *again = parse_ok(serialized[_i].xml, serialized[_i].ctx_ns);
    if ((size_t)_i < NELEMS(serialized) - 2) /* U+FFFD replaced bytes */
        ck_assert(xs_equal(e, again));
    xs_unref(again);
    xs_unref(e);
}
END_TEST

static const struct {
    const char *xml;
    const char *ctx_ns;
} round_trips[] = {
    {"<message from='juliet@example.com/balcony' to='romeo@example.net' "
     "type='chat' xml:lang='en'><body>Art thou not Romeo?</body>"
     "<thread>e0ffe42b28561960c6b12b944a092794b9683a38</thread></message>",
     XS_NS_CLIENT},
    {"<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
     "<resource>balcony</resource></bind></iq>",
     XS_NS_CLIENT},
    {"<presence><show>away</show><status xml:lang='fr'>parti</status>"
     "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
     "node='http://x' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>",
     XS_NS_SERVER},
    {"<a:x xmlns:a='urn:a' xmlns:b='urn:b' b:one='1' a:two='2' three='3'>"
     "<b:y a:four='4'/><z xmlns='urn:c'><w/></z></a:x>",
     NULL},
    {"<m>text &amp; &lt;markup&gt; &#x1F600; caf\xC3\xA9<![CDATA[<raw>]]>"
     "<e/>tail</m>",
     XS_NS_CLIENT},
    {"<route xmlns='urn:xmppd:route' to='sm' key='a@b'><message "
     "xmlns='jabber:client' to='a@b'><body> spaced  </body></message>"
     "</route>",
     XS_NS_COMPONENT},
    {"<x xmlns=''><y xmlns='urn:y'><z xmlns=''/></y></x>", XS_NS_CLIENT},
    {"<q v='tab&#9;nl&#10;cr&#13;'>cr&#13;lf\n</q>", XS_NS_CLIENT},
    {"<xml:a><b xml:lang='en'><xml:c/></b></xml:a>", XS_NS_CLIENT},
    {"<a xmlns='urn:x&amp;y' xmlns:p='urn:p&#38;q' p:v='&amp;&#38;#38;'/>",
     "urn:c&amp;d"},
    {"  \n<handshake>aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e</handshake>\n",
     XS_NS_COMPONENT},
};

START_TEST(parse_of_serialize_gives_an_equal_tree)
{
    xs_elem *x = parse_ok(round_trips[_i].xml, round_trips[_i].ctx_ns);
    for (int pass = 0; pass < 2; pass++) {
        const char *ctx = pass ? "urn:other" : round_trips[_i].ctx_ns;
        char *s = xs_to_string(x, ctx);
        xs_elem *y = parse_ok(s, ctx);
        ck_assert_msg(xs_equal(x, y), "%s did not survive as %s",
                      round_trips[_i].xml, s);
        char *t = xs_to_string(y, ctx);
        ck_assert_str_eq(s, t);
        free(t);
        free(s);
        xs_unref(y);
    }
    xs_unref(x);
}
END_TEST

static const char *const unparsable[] = {
    "",
    "   ",
    "<a>",
    "<a></b>",
    "<a/><b/>",
    "<a/>text",
    "text<a/>",
    "<!-- c --><a/>",
    "<a><!-- c --></a>",
    "<?pi x?><a/>",
    "<?xml version='1.0'?><a/>",
    "<!DOCTYPE a><a/>",
    "<a>&foo;</a>",
    "<a b='1' b='2'/>",
    "<p:a/>",
    "</stream:stream>",
    "<a/></stream:stream>",
    "<a",
    "\xff\xfe<a/>",
};

START_TEST(parse_rejects_what_is_not_one_element)
{
    xs_elem *e = (xs_elem *)1;
    const char *xml = unparsable[_i];
    ck_assert_int_eq(xs_parse(xml, strlen(xml), XS_NS_CLIENT, &e), XE_BAD_XML);
    ck_assert_ptr_null(e);
}
END_TEST

START_TEST(parse_reports_deep_nesting_as_a_limit)
{
    buf b;
    buf_init(&b);
    for (int i = 0; i < 130; i++)
        buf_append_str(&b, "<a>");
    for (int i = 0; i < 130; i++)
        buf_append_str(&b, "</a>");
    xs_elem *e = NULL;
    ck_assert_int_eq(xs_parse(buf_data(&b), buf_len(&b), NULL, &e), XE_LIMIT);
    ck_assert_ptr_null(e);
    buf_close(&b);
}
END_TEST

START_TEST(parse_decodes_ampersands_in_values_and_namespaces)
{
    xs_elem *e = parse_ok("<a xmlns:p='urn:p&amp;q' p:v='&amp;&#38;#38;'/>",
                          "urn:x&amp;y");
    ck_assert_str_eq(xs_ns(e), "urn:x&amp;y");
    ck_assert_str_eq(xs_attr_ns(e, "urn:p&q", "v"), "&&#38;");
    xs_unref(e);
}
END_TEST

START_TEST(parse_gives_no_namespace_as_empty_string)
{
    xs_elem *e = parse_ok("<a><b xmlns='urn:b'/></a>", NULL);
    ck_assert_str_eq(xs_ns(e), "");
    ck_assert_str_eq(xs_ns(xs_first(e)), "urn:b");
    assert_xml(e, NULL, "<a><b xmlns='urn:b'/></a>");
    xs_unref(e);
}
END_TEST

START_TEST(text_of_mixed_content_is_concatenated)
{
    xs_elem *e = parse_ok("<p>one<b>bold</b>two<i/>three</p>", NULL);
    ck_assert_str_eq(xs_text(e), "onetwothree");
    ck_assert_str_eq(xs_child_text(e, "b", NULL), "bold");
    ck_assert_str_eq(xs_name(xs_first(e)), "b");
    ck_assert_str_eq(xs_name(xs_next(xs_first(e))), "i");

    /* Removing the element between two texts merges them. */
    xs_remove(e, xs_child(e, "b", NULL));
    ck_assert_str_eq(xs_text(e), "onetwothree");
    xs_elem *same = parse_ok("<p>onetwo<i/>three</p>", NULL);
    ck_assert(xs_equal(e, same));
    xs_add_text(e, "!", 1);
    ck_assert_str_eq(xs_text(e), "onetwothree!");
    xs_remove(e, xs_child(e, "i", NULL));
    ck_assert_str_eq(xs_text(e), "onetwothree!");
    ck_assert_ptr_null(xs_first(e));
    assert_xml(e, "", "<p>onetwothree!</p>");
    xs_unref(same);
    xs_unref(e);
}
END_TEST

static const struct {
    const char *a, *b;
    bool equal;
} comparisons[] = {
    {"<a x='1' y='2'/>", "<a y='2' x='1'/>", true},
    {"<a x='1'/>", "<a x='2'/>", false},
    {"<a x='1'/>", "<a x='1' y='1'/>", false},
    {"<a xmlns='urn:1'/>", "<a xmlns='urn:2'/>", false},
    {"<a><b/><c/></a>", "<a><c/><b/></a>", false},
    {"<a>t</a>", "<a>u</a>", false},
    {"<a>t</a>", "<a/>", false},
    {"<a xmlns:p='urn:p' p:x='1'/>", "<a xmlns:q='urn:p' q:x='1'/>", true},
    {"<a xmlns:p='urn:p' p:x='1'/>", "<a x='1'/>", false},
    {"<a>x<![CDATA[y]]>z</a>", "<a>xyz</a>", true},
};

START_TEST(equal_compares_content_not_form)
{
    xs_elem *a = parse_ok(comparisons[_i].a, NULL);
    xs_elem *b = parse_ok(comparisons[_i].b, NULL);
    ck_assert_int_eq(xs_equal(a, b), comparisons[_i].equal);
    ck_assert_int_eq(xs_equal(b, a), comparisons[_i].equal);
    xs_unref(a);
    xs_unref(b);
}
END_TEST

START_TEST(ref_dup_and_unref_share_and_copy)
{
    xs_elem *e = parse_ok("<iq id='1'><query xmlns='urn:q'>x</query></iq>",
                          XS_NS_CLIENT);
    ck_assert_ptr_eq(xs_ref(e), e);
    xs_unref(e); /* still one reference */
    ck_assert_str_eq(xs_attr(e, "id"), "1");

    xs_elem *d = xs_dup(e);
    ck_assert_ptr_ne(d, e);
    ck_assert(xs_equal(d, e));
    xs_set_attr(d, "id", "2");
    xs_add_text(xs_first(d), "y", 1);
    ck_assert_str_eq(xs_attr(e, "id"), "1");
    ck_assert_str_eq(xs_child_text(e, "query", NULL), "x");
    ck_assert(!xs_equal(d, e));

    /* A child someone holds outlives its parent, as a root. */
    xs_elem *query = xs_ref(xs_first(e));
    xs_unref(e);
    ck_assert_ptr_null(xs_parent(query));
    ck_assert_str_eq(xs_text(query), "x");
    xs_elem *copy = xs_dup(query);
    ck_assert(xs_equal(copy, query));
    ck_assert_ptr_null(xs_parent(copy));
    xs_unref(copy);
    xs_unref(query);
    xs_unref(d);
    xs_unref(NULL);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("xs");
    TCase *tree = tcase_create("tree");
    tcase_add_test(tree, builds_elements_with_attributes_and_children);
    tcase_add_test(tree, resolves_a_missing_namespace_from_the_parent);
    tcase_add_test(tree, sets_replaces_and_removes_attributes);
    tcase_add_test(tree, text_of_mixed_content_is_concatenated);
    tcase_add_loop_test(tree, equal_compares_content_not_form, 0,
                        NELEMS(comparisons));
    tcase_add_test(tree, ref_dup_and_unref_share_and_copy);
    suite_add_tcase(suite, tree);

    TCase *xml = tcase_create("xml");
    tcase_add_loop_test(xml,
                        serializes_with_namespaces_declared_where_they_change,
                        0, NELEMS(serialized));
    tcase_add_loop_test(xml, parse_of_serialize_gives_an_equal_tree, 0,
                        NELEMS(round_trips));
    tcase_add_loop_test(xml, parse_rejects_what_is_not_one_element, 0,
                        NELEMS(unparsable));
    tcase_add_test(xml, parse_reports_deep_nesting_as_a_limit);
    tcase_add_test(xml, parse_gives_no_namespace_as_empty_string);
    tcase_add_test(xml, parse_decodes_ampersands_in_values_and_namespaces);
    suite_add_tcase(suite, xml);
    return suite;
}
