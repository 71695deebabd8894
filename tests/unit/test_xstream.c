/* SPDX-License-Identifier: MIT */
/* tests/unit/test_xstream.c: the XMPP stream parser. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/unit/unit.h"
#include "tests/unit/xstream_rec.h"

#include "libcommon/buf.h"
#include "libcommon/error.h"
#include "libcommon/xmlmem.h"
#include "libcommon/xstream.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define HEADER                                                                 \
    "<stream:stream xmlns:stream='" XS_NS_STREAMS "' xmlns='jabber:client' "   \
    "to='example.com' version='1.0'>"
#define SERVER_HEADER                                                          \
    "<stream:stream xmlns:stream='" XS_NS_STREAMS "' xmlns='jabber:server' "   \
    "from='example.com' version='1.0'>"
#define BARE_HEADER "<stream:stream xmlns:stream='" XS_NS_STREAMS "'>"
#define END "</stream:stream>"

/* A sample stream: its stanzas, and the stream around them. */
#define ST1                                                                    \
    "<message to='juliet@example.com' from='romeo@example.net/orchard' "       \
    "type='chat' id='m&gt;1>' xml:lang=\"en\"><body>Wherefore art thou? "      \
    "&lt;3 &amp; caf\xC3\xA9 \xF0\x9F\x98\x80 &#x41;&#66;</body>"              \
    "<thread>e0ffe42b</thread><x xmlns='jabber:x:data' type='submit'>"         \
    "<field var='a' label=\"it's\"><value>1</value></field></x></message>"
#define ST2 "<iq type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>"
#define ST3 "<presence/>"
#define ST4 "<handshake>aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e</handshake>"
#define ST5                                                                    \
    "<message><body><![CDATA[<not> & \xC3\xA9\xF0\x9F\x98\x80]]> after</body>" \
    "<e xmlns:p='urn:p' p:a='1'>deep text</e> direct </message>"
#define PROCEED "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"

static const char sample[] =
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    "<stream:stream xmlns:stream='" XS_NS_STREAMS "' xmlns='jabber:client' "
    "to='example.com' version='1.0' xml:lang='en' id='s&amp;1'> \n" ST1 " " ST2
    "\n\n\t" ST3 ST4 ST5 "   " END;
static const char *const sample_raws[] = {ST1, ST2, ST3, ST4, ST5};

/* A STARTTLS-like restart: the new header follows <proceed/> in one chunk. */
static const char restarted[] =
    HEADER " " PROCEED SERVER_HEADER ST2 " " ST3 END;

START_TEST(reports_header_stanzas_and_close)
{
    rec *r = rec_new(false, NULL);
    ck_assert_ptr_null(xstream_content_ns(r->xs));
    ck_assert_int_eq(rec_feed(r, sample), XE_CLOSED);
    rec_expect(r, (rec_counts){.opens = 1, .stanzas = 5, .closes = 1});
    ck_assert_str_eq(xs_name(r->header), "stream");
    ck_assert_str_eq(xs_ns(r->header), XS_NS_STREAMS);
    ck_assert_str_eq(xs_attr(r->header, "to"), "example.com");
    ck_assert_str_eq(xs_attr(r->header, "version"), "1.0");
    ck_assert_str_eq(xs_attr(r->header, "id"), "s&1");
    ck_assert_str_eq(xs_attr_ns(r->header, XS_NS_XML, "lang"), "en");
    ck_assert_ptr_null(xs_first(r->header));
    ck_assert_str_eq(xstream_content_ns(r->xs), XS_NS_CLIENT);
    static const char *const names[] = {"message", "iq", "presence",
                                        "handshake", "message"};
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(xs_name(r->trees[i]), names[i]);
        ck_assert_str_eq(xs_ns(r->trees[i]), XS_NS_CLIENT);
    }
    /* Nothing more once the stream has ended. */
    ck_assert_int_eq(rec_feed(r, ST3), XE_CLOSED);
    ck_assert_int_eq(r->stanzas, 5);
    rec_free(r);
}
END_TEST

START_TEST(builds_the_full_tree_in_tree_mode)
{
    rec *r = rec_new(false, NULL);
    rec_feed(r, sample);
    xs_elem *m = r->trees[0];
    ck_assert_str_eq(xs_attr(m, "id"), "m>1>");
    ck_assert_str_eq(xs_attr(m, "from"), "romeo@example.net/orchard");
    ck_assert_str_eq(xs_attr_ns(m, XS_NS_XML, "lang"), "en");
    ck_assert_str_eq(
        xs_child_text(m, "body", XS_NS_CLIENT),
        "Wherefore art thou? <3 & caf\xC3\xA9 \xF0\x9F\x98\x80 AB");
    xs_elem *x = xs_child(m, "x", "jabber:x:data");
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_eq(xs_parent(x), m);
    xs_elem *field = xs_child(x, "field", "jabber:x:data");
    ck_assert_str_eq(xs_attr(field, "label"), "it's");
    ck_assert_str_eq(xs_child_text(field, "value", NULL), "1");
    ck_assert_ptr_nonnull(xs_child(r->trees[1], "ping", "urn:xmpp:ping"));

    xs_elem *m2 = r->trees[4];
    ck_assert_str_eq(xs_child_text(m2, "body", NULL),
                     "<not> & \xC3\xA9\xF0\x9F\x98\x80 after");
    xs_elem *e = xs_child(m2, "e", XS_NS_CLIENT);
    ck_assert_str_eq(xs_attr_ns(e, "urn:p", "a"), "1");
    ck_assert_str_eq(xs_text(e), "deep text");
    ck_assert_str_eq(xs_text(m2), " direct ");
    rec_free(r);
}
END_TEST

START_TEST(shallow_mode_keeps_the_top_element_and_its_own_text)
{
    rec *r = rec_new(true, NULL);
    ck_assert_int_eq(rec_feed(r, sample), XE_CLOSED);
    ck_assert_int_eq(r->stanzas, 5);
    xs_elem *m = r->trees[0];
    ck_assert_uint_eq(xs_attr_count(m), 5);
    ck_assert_str_eq(xs_attr(m, "to"), "juliet@example.com");
    ck_assert_str_eq(xs_attr_ns(m, XS_NS_XML, "lang"), "en");
    ck_assert_ptr_null(xs_first(m));
    ck_assert_str_eq(xs_text(m), "");
    ck_assert_str_eq(xs_text(r->trees[3]),
                     "aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e");
    ck_assert_str_eq(xs_text(r->trees[4]), " direct ");
    ck_assert_ptr_null(xs_first(r->trees[4]));
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(r->raws[i], sample_raws[i]);
    rec_free(r);
}
END_TEST

START_TEST(raw_bytes_are_the_input_slices_between_keepalives)
{
    rec *r = rec_new(_i, NULL);
    rec_feed(r, sample);
    ck_assert_int_eq(r->stanzas, (int)NELEMS(sample_raws));
    const char *at = sample;
    for (size_t i = 0; i < NELEMS(sample_raws); i++) {
        ck_assert_str_eq(r->raws[i], sample_raws[i]);
        const char *found = strstr(at, sample_raws[i]);
        ck_assert_ptr_nonnull(found);
        at = found + strlen(sample_raws[i]);
    }
    rec_free(r);
}
END_TEST

/* The streams fed in pieces below, with the stanza to reset after. */
static const struct {
    const char *stream;
    const char *reset_after;
} pieces[] = {
    {sample, NULL},
    {restarted, "proceed"},
};

START_TEST(every_split_position_gives_the_same_events)
{
    rec_assert_same_at_every_split(pieces[_i / 2].stream, _i % 2,
                                   pieces[_i / 2].reset_after);
}
END_TEST

START_TEST(resting_between_feeds_gives_the_same_events)
{
    static const size_t steps[] = {1, 2, 3, 7, 13, 64, 4096};
    int rests = 0;
    rec_assert_same_in_steps(pieces[_i / 2].stream, _i % 2,
                             pieces[_i / 2].reset_after, steps, NELEMS(steps),
                             &rests);
    ck_assert_int_gt(rests, 0);
}
END_TEST

START_TEST(byte_by_byte_gives_the_same_events)
{
    static const size_t steps[] = {1, 2, 3, 5, 7, 13, 64};
    rec_assert_same_in_steps(pieces[_i / 2].stream, _i % 2,
                             pieces[_i / 2].reset_after, steps, NELEMS(steps),
                             NULL);
}
END_TEST

static const size_t bulk_chunks[] = {1, 3, 100, 4095, 4096, 65536, 1 << 22};

START_TEST(raw_bytes_survive_long_streams_in_any_chunking)
{
    rec_bulk b;
    rec_bulk_init(&b, 1500, HEADER, END);
    xstream *xs = xstream_new(NULL, _i % 2, &rec_bulk_events, &b);
    ck_assert_int_eq(rec_feed_steps(xs, buf_data(&b.stream), buf_len(&b.stream),
                                    bulk_chunks[_i / 2], NULL),
                     XE_CLOSED);
    ck_assert_uint_eq(b.seen, b.count);
    ck_assert(b.raw_ok);
    xstream_free(xs);
    rec_bulk_close(&b);
}
END_TEST

#define LAUGHS                                                                 \
    "<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY lol 'lol'>"        \
    "<!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>"      \
    "<!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>"        \
    "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>"        \
    "<!ENTITY lol4 '&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;'>"        \
    "<!ENTITY lol5 '&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;'>"        \
    "<!ENTITY lol6 '&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;'>"        \
    "<!ENTITY lol7 '&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;'>"        \
    "<!ENTITY lol8 '&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;'>"        \
    "<!ENTITY lol9 "                                                           \
    "'&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;'>]>" HEADER             \
    "<message to='&lol9;'><body>&lol9;</body></message>"

/* Input the stream refuses, the condition, and the stanzas before it. */
static const struct {
    const char *xml;
    xs_stream_condition cond;
    int stanzas;
} refused[] = {
    {LAUGHS, XS_STREAM_RESTRICTED_XML, 0},
    {"<!DOCTYPE stream SYSTEM 'http://example.com/x.dtd'>" HEADER,
     XS_STREAM_RESTRICTED_XML, 0},
    {HEADER "<message><!-- hi --></message>", XS_STREAM_RESTRICTED_XML, 0},
    {HEADER ST3 "<!-- between -->" ST3, XS_STREAM_RESTRICTED_XML, 1},
    {"<!-- before -->" HEADER, XS_STREAM_RESTRICTED_XML, 0},
    {HEADER "<?php echo 1; ?>", XS_STREAM_RESTRICTED_XML, 0},
    {HEADER "<iq><?pi x?></iq>", XS_STREAM_RESTRICTED_XML, 0},
    {HEADER "<message><body>&foo;</body></message>", XS_STREAM_RESTRICTED_XML,
     0},
    {HEADER ST2 "<message to='&foo;'/>", XS_STREAM_RESTRICTED_XML, 1},
    {"hello world", XS_STREAM_NOT_WELL_FORMED, 0},
    {HEADER "<message></iq>", XS_STREAM_NOT_WELL_FORMED, 0},
    {HEADER "<iq a='1' a='2'/>", XS_STREAM_NOT_WELL_FORMED, 0},
    {HEADER "<iq a=1/>", XS_STREAM_NOT_WELL_FORMED, 0},
    {HEADER "<message>\xFF\xFE</message>", XS_STREAM_NOT_WELL_FORMED, 0},
    {HEADER "<message>&#0;</message>", XS_STREAM_NOT_WELL_FORMED, 0},
    {HEADER "<m><![CDATA[\xC1\x8C]]></m>", XS_STREAM_NOT_WELL_FORMED, 0},
    {HEADER "<m><![CDATA[\xE0\x80\xBC]]></m>", XS_STREAM_NOT_WELL_FORMED, 0},
    {HEADER "<m><![CDATA[\xED\xA0\x80]]></m>", XS_STREAM_NOT_WELL_FORMED, 0},
    {HEADER "<m a='\xC0\xBC'/>", XS_STREAM_NOT_WELL_FORMED, 0},
    {HEADER "<m>\xF0\x80\x80\xBC</m>", XS_STREAM_NOT_WELL_FORMED, 0},
    {HEADER ST3 "hello" ST3, XS_STREAM_BAD_FORMAT, 1},
    {HEADER "<![CDATA[ ]]>", XS_STREAM_BAD_FORMAT, 0},
    {"<stream:stream xmlns:stream='urn:wrong' xmlns='jabber:client'>",
     XS_STREAM_INVALID_NAMESPACE, 0},
    {"<stream xmlns='jabber:client'>", XS_STREAM_INVALID_NAMESPACE, 0},
    {"<stream:features xmlns:stream='" XS_NS_STREAMS "'>", XS_STREAM_BAD_FORMAT,
     0},
    {HEADER "<foo:message/>", XS_STREAM_BAD_NAMESPACE_PREFIX, 0},
    {"<?xml version='1.0' encoding='ISO-8859-1'?>" HEADER,
     XS_STREAM_UNSUPPORTED_ENCODING, 0},
    {"<?xml version=\"1.0\" encoding = \"UTF-16\"?>" HEADER,
     XS_STREAM_UNSUPPORTED_ENCODING, 0},
};

START_TEST(refuses_restricted_or_broken_xml)
{
    for (size_t step = 0; step < 2; step++) {
        rec *r = rec_new(false, NULL);
        const char *xml = refused[_i].xml;
        ck_assert_int_eq(rec_feed_steps(r->xs, xml, strlen(xml), step, NULL),
                         XE_BAD_XML);
        ck_assert_msg(r->errors == 1 && r->cond == refused[_i].cond,
                      "%s: %d errors, %s (%s)", xml, r->errors,
                      xs_stream_condition_name(r->cond), r->why);
        ck_assert_int_eq(r->stanzas, refused[_i].stanzas);
        ck_assert_uint_gt(strlen(r->why), 0);
        ck_assert_ptr_null(strchr(r->why, '\n'));
        /* Nothing more is reported, and the error stays. */
        ck_assert_int_eq(rec_feed(r, HEADER ST3), XE_BAD_XML);
        ck_assert_int_eq(r->errors, 1);
        ck_assert_int_eq(r->stanzas, refused[_i].stanzas);
        ck_assert_uint_eq(xstream_pending(r->xs), 0);
        rec_free(r);
    }
}
END_TEST

START_TEST(billion_laughs_stop_at_the_dtd_without_expansion)
{
    clock_t t0 = clock();
    for (int i = 0; i < 100; i++) {
        rec *r = rec_new(i % 2, NULL);
        rec_expect_error(r, rec_feed(r, LAUGHS), XE_BAD_XML,
                         XS_STREAM_RESTRICTED_XML, NULL);
        ck_assert_int_eq(r->opens, 0);
        rec_free(r);
    }
    /* Expanding even once would take far longer than this for all 100. */
    ck_assert_double_lt((double)(clock() - t0) / CLOCKS_PER_SEC, 2.0);
}
END_TEST

/* UTF-16 big and little endian, with and without a byte order mark. */
START_TEST(refuses_utf16)
{
    bool big = _i & 1, bom = _i & 2;
    char in[2 + 2 * sizeof HEADER];
    size_t n = 0;
    if (bom) {
        in[n++] = big ? '\xFE' : '\xFF';
        in[n++] = big ? '\xFF' : '\xFE';
    }
    for (size_t i = 0; i < sizeof HEADER - 1; i++) {
        in[n++] = big ? '\0' : HEADER[i];
        in[n++] = big ? HEADER[i] : '\0';
    }
    for (size_t step = 0; step < 2; step++) {
        rec *r = rec_new(false, NULL);
        rec_expect_error(r, rec_feed_steps(r->xs, in, n, step, NULL),
                         XE_BAD_XML, XS_STREAM_UNSUPPORTED_ENCODING, NULL);
        ck_assert_int_eq(r->opens, 0);
        rec_free(r);
    }
}
END_TEST

static const char *const prologs[] = {
    "\xEF\xBB\xBF<?xml version='1.0' encoding='utf-8'?>",
    "<?xml version=\"1.0\" encoding=\"UTF8\" standalone='yes'?>\n",
    "\xEF\xBB\xBF",
    "<?xml version='1.0'?>",
    "",
};

START_TEST(accepts_an_xml_declaration_and_a_utf8_bom)
{
    rec *r = rec_new(_i % 2, NULL);
    char in[256];
    int n = snprintf(in, sizeof in, "%s" HEADER ST2, prologs[_i / 2]);
    ck_assert_int_eq(rec_feed_steps(r->xs, in, (size_t)n, _i % 2, NULL), 0);
    rec_expect(r, (rec_counts){.opens = 1, .stanzas = 1});
    ck_assert_str_eq(r->raws[0], ST2);
    rec_free(r);
}
END_TEST

START_TEST(decodes_predefined_entities_and_character_references)
{
    rec *r = rec_new(_i, NULL);
    rec_feed(r, HEADER "<message id='&lt;&gt;&amp;&quot;&apos;&#x41;&#66;'>"
                        "&lt;&gt;&amp;&quot;&apos;&#x41;&#66;&#x1F600;"
                        "</message>");
    ck_assert_int_eq(r->stanzas, 1);
    ck_assert_str_eq(xs_attr(r->trees[0], "id"), "<>&\"'AB");
    ck_assert_str_eq(xs_text(r->trees[0]), "<>&\"'AB\xF0\x9F\x98\x80");
    rec_free(r);
}
END_TEST

/* libxml2 hands long CDATA sections over in pieces. */
START_TEST(long_cdata_sections_keep_whole_characters)
{
    buf in, want;
    buf_init(&in);
    buf_init(&want);
    buf_append_str(&in, HEADER "<m><![CDATA[");
    for (int i = 0; i < 1000; i++)
        buf_append_str(&want, i % 3 ? "\xC3\xA9" : "\xF0\x9F\x98\x80<");
    buf_append(&in, buf_data(&want), buf_len(&want));
    buf_append_str(&in, "]]></m>");
    buf_append(&want, "", 1);
    for (size_t step = 0; step < 8; step += 7) {
        rec *r = rec_new(_i, NULL);
        ck_assert_int_eq(
            rec_feed_steps(r->xs, buf_data(&in), buf_len(&in), step, NULL), 0);
        ck_assert_int_eq(r->stanzas, 1);
        ck_assert_str_eq(xs_text(r->trees[0]), buf_data(&want));
        rec_free(r);
    }
    buf_close(&in);
    buf_close(&want);
}
END_TEST

START_TEST(stream_without_default_namespace_gives_empty_namespace)
{
    rec *r = rec_new(false, NULL);
    rec_feed(r, BARE_HEADER "<a><b/></a>"
                             "<stream:features/>");
    ck_assert_str_eq(xstream_content_ns(r->xs), "");
    ck_assert_int_eq(r->stanzas, 2);
    ck_assert_str_eq(xs_ns(r->trees[0]), "");
    ck_assert_str_eq(xs_ns(xs_first(r->trees[0])), "");
    ck_assert_str_eq(xs_ns(r->trees[1]), XS_NS_STREAMS);
    rec_free(r);
}
END_TEST

START_TEST(decodes_ampersands_in_namespaces)
{
    rec *r = rec_new(_i, NULL);
    rec_feed(r, "<stream:stream xmlns:stream='" XS_NS_STREAMS "' "
                 "xmlns='urn:a&amp;b'><m xmlns:p='urn:&#38;' p:x='&amp;'/>");
    ck_assert_str_eq(xstream_content_ns(r->xs), "urn:a&b");
    ck_assert_int_eq(r->stanzas, 1);
    ck_assert_str_eq(xs_ns(r->trees[0]), "urn:a&b");
    ck_assert_str_eq(xs_attr_ns(r->trees[0], "urn:&", "x"), "&");
    rec_free(r);
}
END_TEST

START_TEST(an_empty_stream_opens_and_closes)
{
    rec *r = rec_new(false, NULL);
    ck_assert_int_eq(
        rec_feed(r, "<stream:stream xmlns:stream='" XS_NS_STREAMS "'/>"),
        XE_CLOSED);
    rec_expect(r, (rec_counts){.opens = 1, .closes = 1});
    rec_free(r);
}
END_TEST

START_TEST(works_without_callbacks)
{
    xstream *xs = xstream_new(NULL, _i, NULL, NULL);
    ck_assert_int_eq(xstream_feed(xs, sample, strlen(sample)), XE_CLOSED);
    xstream_free(xs);
    xstream_free(NULL);
}
END_TEST

static const struct {
    size_t size, limit;
    bool ok;
} sizes[] = {
    {250, 200, false},      {200, 200, true},     {201, 200, false},
    {100000, 65536, false}, {65536, 65536, true},
};

START_TEST(reports_an_oversized_stanza_with_its_size)
{
    xstream_limits limits = {sizes[_i].limit, 64, 64};
    rec *r = rec_new(false, &limits);
    ck_assert_int_eq(rec_feed(r, BARE_HEADER), 0);
    char *st = rec_stanza_of(sizes[_i].size);
    rec_expect_limit(r, rec_feed(r, st), sizes[_i].ok);
    if (sizes[_i].ok) {
        ck_assert_str_eq(r->raws[0], st);
    } else {
        /* Exact once it ends, or at least this big while it grows. */
        size_t size, limit;
        ck_assert_int_eq(
            sscanf(r->why, "stanza of %zu bytes over limit %zu", &size, &limit),
            2);
        ck_assert_uint_eq(limit, sizes[_i].limit);
        ck_assert_uint_gt(size, limit);
        ck_assert_uint_le(size, sizes[_i].size);
        if (sizes[_i].size < limit + 4096)
            ck_assert_uint_eq(size, sizes[_i].size);
    }
    free(st);
    rec_free(r);
}
END_TEST

/* Elements that never end, fed 100 bytes at a time. */
static const char *const endless[] = {
    "<message><body>",    /* text that goes on */
    "<message to='",      /* a start tag that goes on */
    "<message><a><b><c>", /* deeper */
};

START_TEST(catches_an_unclosed_element_while_it_grows)
{
    xstream_limits limits = {1000, 64, 64};
    rec *r = rec_new(_i % 2, &limits);
    ck_assert_int_eq(rec_feed(r, HEADER ST3 " "), 0);
    ck_assert_int_eq(rec_feed(r, endless[_i / 2]), 0);
    char chunk[100];
    memset(chunk, 'y', sizeof chunk);
    size_t fed = strlen(endless[_i / 2]);
    int rc = 0;
    while (rc == 0 && fed < 100000) {
        rc = xstream_feed(r->xs, chunk, sizeof chunk);
        fed += sizeof chunk;
        if (rc == 0)
            ck_assert_uint_le(xstream_pending(r->xs), 1000);
    }
    rec_expect_error(r, rc, XE_LIMIT, XS_STREAM_POLICY_VIOLATION,
                     "over limit 1000");
    ck_assert_uint_le(fed, 1100);
    rec_free(r);
}
END_TEST

START_TEST(catches_an_unclosed_element_in_one_huge_chunk)
{
    xstream_limits limits = {1000, 64, 64};
    rec *r = rec_new(_i, &limits);
    size_t len = 4 << 20;
    char *s = malloc(len);
    memset(s, 'z', len);
    memcpy(s, HEADER "<message><body>", strlen(HEADER "<message><body>"));
    clock_t t0 = clock();
    rec_expect_error(r, xstream_feed(r->xs, s, len), XE_LIMIT,
                     XS_STREAM_POLICY_VIOLATION, NULL);
    /* The first slice already gave it away; the rest went unparsed. */
    ck_assert_double_lt((double)(clock() - t0) / CLOCKS_PER_SEC, 1.0);
    ck_assert_uint_eq(xstream_pending(r->xs), 0);
    free(s);
    rec_free(r);
}
END_TEST

START_TEST(limits_the_stream_header_too)
{
    xstream_limits limits = {60, 64, 64};
    rec *r = rec_new(false, &limits);
    rec_expect_error(r, rec_feed_steps(r->xs, HEADER, strlen(HEADER), 10, NULL),
                     XE_LIMIT, XS_STREAM_POLICY_VIOLATION, "stream header");
    ck_assert_int_eq(r->opens, 0);
    rec_free(r);
}
END_TEST

/* libxml2 2.9 compares the attribute names of a start tag pairwise: a tag
 * with 40000 of them would take it seconds. */
START_TEST(counts_the_attributes_of_a_long_start_tag_before_it_ends)
{
    xstream_limits limits = {1 << 20, 64, 64};
    bool in_header = _i / 2;
    buf b;
    buf_init(&b);
    buf_append_str(&b, in_header ? "<stream:stream" : BARE_HEADER "<m");
    for (int i = 0; i < 40000; i++)
        buf_printf(&b, " a%d='%s'", i, i % 2 ? "x=\"y\"" : "");
    buf_append_str(&b, in_header ? " xmlns:stream='" XS_NS_STREAMS "'>" : "/>");
    rec *r = rec_new(false, &limits);
    clock_t t0 = clock();
    int rc = rec_feed_steps(r->xs, buf_data(&b), buf_len(&b),
                            _i % 2 ? 1000 : 0, NULL);
    ck_assert_double_lt((double)(clock() - t0) / CLOCKS_PER_SEC, 0.1);
    rec_expect_error(r, rc, XE_LIMIT, XS_STREAM_POLICY_VIOLATION, "attributes");
    rec_expect(r, (rec_counts){.opens = !in_header, .errors = 1});
    buf_close(&b);
    rec_free(r);
}
END_TEST

static const struct {
    unsigned max_depth;
    int nesting; /* of the stanza: 1 is a childless one */
    bool ok;
} depths[] = {
    {1, 1, true},  {1, 2, false},  {3, 3, true},
    {3, 4, false}, {64, 64, true}, {64, 65, false},
};

START_TEST(enforces_the_depth_limit)
{
    xstream_limits limits = {262144, depths[_i / 2].max_depth, 64};
    rec *r = rec_new(_i % 2, &limits);
    buf b;
    buf_init(&b);
    buf_append_str(&b, HEADER);
    for (int i = 0; i < depths[_i / 2].nesting; i++)
        buf_append_str(&b, "<a>");
    for (int i = 0; i < depths[_i / 2].nesting; i++)
        buf_append_str(&b, "</a>");
    rec_expect_limit(r, xstream_feed(r->xs, buf_data(&b), buf_len(&b)),
                     depths[_i / 2].ok);
    buf_close(&b);
    rec_free(r);
}
END_TEST

static const struct {
    unsigned max_attrs;
    int attrs, namespaces;
    int level; /* 1: on the stanza, 2: on its child */
    bool ok;
} attr_limits[] = {
    {4, 4, 0, 1, true},  {4, 5, 0, 1, false}, {4, 3, 1, 1, true},
    {4, 3, 2, 1, false}, {4, 5, 0, 2, false}, {4, 4, 0, 2, true},
};

START_TEST(enforces_the_attribute_limit)
{
    xstream_limits limits = {262144, 64, attr_limits[_i / 2].max_attrs};
    rec *r = rec_new(_i % 2, &limits);
    buf b;
    buf_init(&b);
    buf_append_str(&b, BARE_HEADER);
    if (attr_limits[_i / 2].level == 2)
        buf_append_str(&b, "<iq>");
    buf_append_str(&b, "<query");
    for (int i = 0; i < attr_limits[_i / 2].attrs; i++)
        buf_printf(&b, " a%d='%d'", i, i);
    for (int i = 0; i < attr_limits[_i / 2].namespaces; i++)
        buf_printf(&b, " xmlns:p%d='urn:%d'", i, i);
    buf_append_str(&b, "/>");
    if (attr_limits[_i / 2].level == 2)
        buf_append_str(&b, "</iq>");
    rec_expect_limit(r, xstream_feed(r->xs, buf_data(&b), buf_len(&b)),
                     attr_limits[_i / 2].ok);
    buf_close(&b);
    rec_free(r);
}
END_TEST

START_TEST(reset_in_a_callback_hands_the_rest_of_the_chunk_to_a_new_stream)
{
    rec *r = rec_new(_i, NULL);
    r->reset_after = "proceed";
    ck_assert_int_eq(rec_feed(r, restarted), XE_CLOSED);
    rec_expect(r, (rec_counts){.opens = 2, .stanzas = 3, .closes = 1});
    ck_assert_str_eq(r->raws[0], PROCEED);
    ck_assert_str_eq(r->raws[1], ST2);
    ck_assert_str_eq(r->raws[2], ST3);
    ck_assert_str_eq(xs_ns(r->trees[1]), XS_NS_SERVER);
    ck_assert_str_eq(xs_attr(r->header, "from"), "example.com");
    ck_assert_str_eq(xstream_content_ns(r->xs), XS_NS_SERVER);
    rec_free(r);
}
END_TEST

START_TEST(reset_between_feeds_drops_the_partial_element)
{
    rec *r = rec_new(false, NULL);
    ck_assert_int_eq(rec_feed(r, HEADER "<message><bo"), 0);
    ck_assert_uint_gt(xstream_pending(r->xs), 0);
    xstream_reset(r->xs);
    ck_assert_uint_eq(xstream_pending(r->xs), 0);
    ck_assert_ptr_null(xstream_content_ns(r->xs));
    ck_assert_int_eq(rec_feed(r, SERVER_HEADER ST3), 0);
    rec_expect(r, (rec_counts){.opens = 2, .stanzas = 1});
    ck_assert_str_eq(r->raws[0], ST3);
    rec_free(r);
}
END_TEST

START_TEST(a_restarted_stream_may_follow_a_newline_with_an_xml_declaration)
{
    /* go-sendxmpp ends <starttls/> with a newline, then opens the new
     * stream with an XML declaration, which must still count as first. */
    rec *r = rec_new(_i, NULL);
    r->reset_after = "proceed";
    ck_assert_int_eq(rec_feed(r, HEADER PROCEED "\n"), 0);
    ck_assert_int_eq(rec_feed(r, " \r\n<?xml version='1.0'?>" SERVER_HEADER ST3), 0);
    rec_expect(r, (rec_counts){.opens = 2, .stanzas = 2});
    ck_assert_str_eq(r->raws[1], ST3);
    rec_free(r);
}
END_TEST

START_TEST(stop_ignores_the_rest)
{
    rec *r = rec_new(false, NULL);
    r->stop_after = "iq";
    ck_assert_int_eq(rec_feed(r, HEADER ST2 ST3 END), XE_CLOSED);
    rec_expect(r, (rec_counts){.opens = 1, .stanzas = 1});
    ck_assert_int_eq(rec_feed(r, ST3), XE_CLOSED);
    ck_assert_int_eq(r->stanzas, 1);
    rec_free(r);

    r = rec_new(false, NULL);
    ck_assert_int_eq(rec_feed(r, HEADER), 0);
    xstream_stop(r->xs);
    ck_assert_int_eq(rec_feed(r, ST3), XE_CLOSED);
    ck_assert_int_eq(r->stanzas, 0);
    rec_free(r);
}
END_TEST

START_TEST(keepalives_and_finished_stanzas_hold_no_memory)
{
    rec *r = rec_new(true, NULL);
    ck_assert_int_eq(rec_feed(r, HEADER), 0);
    char spaces[1024];
    memset(spaces, ' ', sizeof spaces);
    for (int i = 0; i < 1024; i++)
        ck_assert_int_eq(xstream_feed(r->xs, spaces, sizeof spaces), 0);
    ck_assert_uint_eq(xstream_pending(r->xs), 0);
    ck_assert_int_eq(rec_feed(r, " \n<message><body>partial"), 0);
    ck_assert_uint_eq(xstream_pending(r->xs), strlen("<message><body>partial"));
    ck_assert_int_eq(rec_feed(r, "</body></message>\n " ST3 " <iq"), 0);
    ck_assert_uint_eq(xstream_pending(r->xs), 3);
    ck_assert_int_eq(rec_feed(r, "/>"), 0);
    ck_assert_uint_eq(xstream_pending(r->xs), 0);
    ck_assert_int_eq(r->stanzas, 3);
    ck_assert_str_eq(r->raws[0], "<message><body>partial</body></message>");
    ck_assert_str_eq(r->raws[2], "<iq/>");
    rec_free(r);
}
END_TEST

START_TEST(a_resting_stream_gives_back_the_parser_memory)
{
    rec *r = rec_new(false, NULL);
    ck_assert_int_eq(rec_feed(r, HEADER ST2), 0);
    size_t awake = rec_heap_in_use(), mapped = xmlmem_mapped_bytes();
    ck_assert(xstream_rest(r->xs));
    ck_assert(!xstream_rest(r->xs));
    size_t resting = rec_heap_in_use();
    /* The big blocks are unmapped: their pages are the system's again. */
    ck_assert_uint_ge(mapped, xmlmem_mapped_bytes() + 8192);
    /* AddressSanitizer's allocator keeps its own books, not malloc's. */
    if (!rec_heap_is_asan())
        ck_assert_msg(awake > resting + 8192, "only %zu bytes given back",
                      awake - resting);
    ck_assert_int_eq(rec_feed(r, ST3), 0);
    ck_assert_int_eq(r->stanzas, 2);
    ck_assert_str_eq(r->raws[1], ST3);
    rec_free(r);
}
END_TEST

/* Prefixes and the default namespace declared on the header still hold
 * after a rest, and the stream's end matches the header's name. */
START_TEST(a_woken_stream_keeps_the_header_namespaces)
{
    rec *r = rec_new(false, NULL);
    ck_assert_int_eq(
        rec_feed(r, "<s:stream xmlns:s='" XS_NS_STREAMS "' xmlns='jabber:server' "
                     "xmlns:db='jabber:server:dialback' xmlns:q='a&amp;b'>"),
        0);
    ck_assert(xstream_rest(r->xs));
    ck_assert_int_eq(rec_feed(r, "<db:result from='a' to='b'>key</db:result>"
                                  "<message q:x='1'/>"),
                     0);
    ck_assert(xstream_rest(r->xs));
    ck_assert_int_eq(rec_feed(r, " </s:stream>"), XE_CLOSED);
    rec_expect(r, (rec_counts){.opens = 1, .stanzas = 2, .closes = 1});
    ck_assert_str_eq(xs_ns(r->trees[0]), "jabber:server:dialback");
    ck_assert_str_eq(r->raws[0], "<db:result from='a' to='b'>key</db:result>");
    ck_assert_str_eq(xs_ns(r->trees[1]), "jabber:server");
    ck_assert_str_eq(xs_attr_ns(r->trees[1], "a&b", "x"), "1");
    ck_assert_str_eq(xstream_content_ns(r->xs), "jabber:server");
    rec_free(r);
}
END_TEST

/* Only a stream between stanzas rests; limits and errors still apply to
 * what comes after a rest. */
START_TEST(rest_waits_for_a_stanza_boundary_and_keeps_the_limits)
{
    xstream_limits lim = {.max_stanza_bytes = 200, .max_depth = 8, .max_attrs = 8};
    rec *r = rec_new(false, &lim);
    ck_assert(!xstream_rest(r->xs)); /* no header yet */
    ck_assert_int_eq(rec_feed(r, HEADER "<message><body>hal"), 0);
    ck_assert(!xstream_rest(r->xs));
    ck_assert_int_eq(rec_feed(r, "f</body></message> x"), 0);
    ck_assert(!xstream_rest(r->xs)); /* text between stanzas, unreported */
    rec_expect_error(r, rec_feed(r, "<presence/>"), XE_BAD_XML,
                     XS_STREAM_BAD_FORMAT, NULL);
    rec_free(r);

    r = rec_new(false, &lim);
    ck_assert_int_eq(rec_feed(r, HEADER ST3 "  \n"), 0);
    ck_assert(xstream_rest(r->xs));
    char *big = rec_stanza_of(400);
    rec_expect_error(r, rec_feed(r, big), XE_LIMIT, XS_STREAM_POLICY_VIOLATION,
                     NULL);
    free(big);
    rec_free(r);

    r = rec_new(false, &lim);
    ck_assert_int_eq(rec_feed(r, HEADER), 0);
    ck_assert(xstream_rest(r->xs));
    rec_expect_error(r, rec_feed(r, "<a><!-- no --></a>"), XE_BAD_XML,
                     XS_STREAM_RESTRICTED_XML, NULL);
    rec_free(r);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("xstream");
    TCase *events = tcase_create("events");
    tcase_add_test(events, reports_header_stanzas_and_close);
    tcase_add_test(events, builds_the_full_tree_in_tree_mode);
    tcase_add_test(events, shallow_mode_keeps_the_top_element_and_its_own_text);
    tcase_add_loop_test(
        events, raw_bytes_are_the_input_slices_between_keepalives, 0, 2);
    tcase_add_loop_test(events, accepts_an_xml_declaration_and_a_utf8_bom, 0,
                        2 * NELEMS(prologs));
    tcase_add_loop_test(
        events, decodes_predefined_entities_and_character_references, 0, 2);
    tcase_add_loop_test(events, long_cdata_sections_keep_whole_characters, 0,
                        2);
    tcase_add_test(events,
                   stream_without_default_namespace_gives_empty_namespace);
    tcase_add_loop_test(events, decodes_ampersands_in_namespaces, 0, 2);
    tcase_add_test(events, an_empty_stream_opens_and_closes);
    tcase_add_loop_test(events, works_without_callbacks, 0, 2);
    tcase_add_loop_test(
        events, reset_in_a_callback_hands_the_rest_of_the_chunk_to_a_new_stream,
        0, 2);
    tcase_add_test(events, reset_between_feeds_drops_the_partial_element);
    tcase_add_loop_test(events, a_restarted_stream_may_follow_a_newline_with_an_xml_declaration, 0, 2);
    tcase_add_test(events, stop_ignores_the_rest);
    tcase_add_test(events, keepalives_and_finished_stanzas_hold_no_memory);
    tcase_add_test(events, a_resting_stream_gives_back_the_parser_memory);
    tcase_add_test(events, a_woken_stream_keeps_the_header_namespaces);
    tcase_add_test(events, rest_waits_for_a_stanza_boundary_and_keeps_the_limits);
    suite_add_tcase(suite, events);

    TCase *chunks = tcase_create("chunks");
    tcase_set_timeout(chunks, 120);
    tcase_add_loop_test(chunks, every_split_position_gives_the_same_events, 0,
                        2 * NELEMS(pieces));
    tcase_add_loop_test(chunks, byte_by_byte_gives_the_same_events, 0,
                        2 * NELEMS(pieces));
    tcase_add_loop_test(chunks, resting_between_feeds_gives_the_same_events, 0,
                        2 * NELEMS(pieces));
    tcase_add_loop_test(chunks, raw_bytes_survive_long_streams_in_any_chunking,
                        0, 2 * NELEMS(bulk_chunks));
    suite_add_tcase(suite, chunks);

    TCase *refusals = tcase_create("refusals");
    tcase_set_timeout(refusals, 30);
    tcase_add_loop_test(refusals, refuses_restricted_or_broken_xml, 0,
                        NELEMS(refused));
    tcase_add_test(refusals, billion_laughs_stop_at_the_dtd_without_expansion);
    tcase_add_loop_test(refusals, refuses_utf16, 0, 4);
    suite_add_tcase(suite, refusals);

    TCase *limits = tcase_create("limits");
    tcase_set_timeout(limits, 30);
    tcase_add_loop_test(limits, reports_an_oversized_stanza_with_its_size, 0,
                        NELEMS(sizes));
    tcase_add_loop_test(limits, catches_an_unclosed_element_while_it_grows, 0,
                        2 * NELEMS(endless));
    tcase_add_loop_test(limits, catches_an_unclosed_element_in_one_huge_chunk,
                        0, 2);
    tcase_add_test(limits, limits_the_stream_header_too);
    tcase_add_loop_test(
        limits, counts_the_attributes_of_a_long_start_tag_before_it_ends, 0, 4);
    tcase_add_loop_test(limits, enforces_the_depth_limit, 0,
                        2 * NELEMS(depths));
    tcase_add_loop_test(limits, enforces_the_attribute_limit, 0,
                        2 * NELEMS(attr_limits));
    suite_add_tcase(suite, limits);
    return suite;
}
