/* SPDX-License-Identifier: MIT */
/* bench/test_frame.c: the load tool's framer and histogram. Every stream is
 * also fed in two pieces cut at every byte, as TCP may deliver it. */
#include <stdio.h>
#include <string.h>

#include "bench/frame.h"
#include "bench/hist.h"
#include "tests/unit/unit.h"

static const char stream[] =
    "<?xml version='1.0'?>"
    "<stream:stream xmlns='jabber:component:accept' "
    "xmlns:stream='http://etherx.jabber.org/streams' id='s1d' "
    "from='bench0.localhost'>"
    "<handshake/>\n"
    "<message to='a@b' id=\"x>y\" type='chat'><body>1 &lt; 2</body>"
    "</message>"
    "<!-- a comment <with/> markup -->"
    "<message id='m2'><body><![CDATA[<not> a </tag>]]></body>"
    "<x><x/><x>t</x></x></message>"
    "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
    "</stream:error>"
    "</stream:stream>";

static const struct {
    frame_kind kind;
    const char *name;
    size_t len; /* 0: do not check */
} units[] = {
    {FRAME_OPEN, "stream:stream", 0},   {FRAME_ELEMENT, "handshake", 12},
    {FRAME_ELEMENT, "message", 0},      {FRAME_ELEMENT, "message", 0},
    {FRAME_ELEMENT, "stream:error", 0}, {FRAME_CLOSE, "stream:stream", 16},
};

enum { UNITS = sizeof units / sizeof units[0] };

/* Frames data as a receiver does: appends each piece to a buffer, takes
 * every whole unit, keeps the rest. Returns the count of units checked. */
static int frame_all(const char *data, size_t len, size_t cut)
{
    static char buffer[sizeof stream];
    size_t have = 0, fed = 0;
    int seen = 0;
    bool is_open = false;

    while (fed < len) {
        size_t piece = fed < cut ? cut - fed : len - fed;

        memcpy(buffer + have, data + fed, piece);
        have += piece;
        fed += piece;

        size_t pos = 0;
        frame f;
        frame_kind kind;

        while ((kind = frame_next(buffer, have, &pos, is_open, &f)) !=
               FRAME_MORE) {
            ck_assert_int_lt(seen, UNITS);
            ck_assert_int_eq(kind, units[seen].kind);
            ck_assert_msg(frame_is(&f, units[seen].name),
                          "unit %d at cut %zu: %.*s", seen, cut, (int)f.len,
                          f.start);
            if (units[seen].len)
                ck_assert_uint_eq(f.len, units[seen].len);
            if (kind == FRAME_OPEN)
                is_open = true;
            seen++;
        }
        memmove(buffer, buffer + pos, have - pos);
        have -= pos;
    }
    return seen;
}

START_TEST(frames_every_unit_whatever_the_cut)
{
    size_t len = strlen(stream);

    for (size_t cut = 1; cut <= len; cut++)
        ck_assert_int_eq(frame_all(stream, len, cut), UNITS);
}
END_TEST

static frame frame_of(const char *s)
{
    return (frame){.start = s, .len = strlen(s)};
}

static const struct {
    const char *tag, *attr, *value; /* value NULL: absent */
} attrs[] = {
    {"<message id='a1' type='chat'>", "id", "a1"},
    {"<message id='a1' type='chat'>", "type", "chat"},
    {"<message xid='no' id=\"yes\">", "id", "yes"},
    {"<message\n  id = 'spaced'>", "id", "spaced"},
    {"<message body='x>y' id='z'>", "id", "z"},
    {"<message xml:lang='en'>", "lang", NULL},
    {"<message xml:lang='en'>", "xml:lang", "en"},
    {"<handshake/>", "id", NULL},
    {"<message id=''/>", "id", ""},
};

START_TEST(finds_attributes_by_exact_name)
{
    frame f = frame_of(attrs[_i].tag);
    const char *value = NULL;
    size_t len = 0;
    bool found = frame_attr(&f, attrs[_i].attr, &value, &len);

    ck_assert_int_eq(found, attrs[_i].value != NULL);
    if (found) {
        ck_assert_uint_eq(len, strlen(attrs[_i].value));
        ck_assert(memcmp(value, attrs[_i].value, len) == 0);
        ck_assert(frame_attr_is(&f, attrs[_i].attr, attrs[_i].value));
    }
    ck_assert(!frame_attr_is(&f, attrs[_i].attr, "other"));
}
END_TEST

static const struct {
    const char *element, *text;
} texts[] = {
    {"<challenge>cj1m</challenge>", "cj1m"},
    {"<challenge a='x>y'>cj1m</challenge>", "cj1m"},
    {"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>", ""},
    {"<success></success>", ""},
    {"<a>x<b>y</b>z</a>", "x<b>y</b>z"},
};

START_TEST(gives_the_text_between_the_tags)
{
    /* Followed by the next stanza, which is not the element's. */
    char buf[128];
    snprintf(buf, sizeof buf, "%s<next/>", texts[_i].element);
    frame f = {.start = buf, .len = strlen(texts[_i].element)};
    size_t len = 99;
    const char *text = frame_text(&f, &len);

    ck_assert_uint_eq(len, strlen(texts[_i].text));
    ck_assert(memcmp(text, texts[_i].text, len) == 0);
}
END_TEST

START_TEST(names_the_first_child)
{
    frame f = frame_of("<stream:error><host-unknown xmlns='x'/>"
                       "<text>t</text></stream:error>");
    frame empty = frame_of("<stream:error></stream:error>");
    size_t len = 0;
    const char *name = frame_first_child(&f, &len);

    ck_assert_ptr_nonnull(name);
    ck_assert_uint_eq(len, strlen("host-unknown"));
    ck_assert(memcmp(name, "host-unknown", len) == 0);
    ck_assert_ptr_null(frame_first_child(&empty, &len));
}
END_TEST

START_TEST(refuses_a_doctype)
{
    const char *s = "<!DOCTYPE x [<!ENTITY a 'b'>]><x/>";
    size_t pos = 0;
    frame f;

    ck_assert_int_eq(frame_next(s, strlen(s), &pos, false, &f), FRAME_BAD);
}
END_TEST

START_TEST(skips_text_between_stanzas)
{
    const char *s = " \n\t ";
    size_t pos = 0;
    frame f;

    ck_assert_int_eq(frame_next(s, strlen(s), &pos, true, &f), FRAME_MORE);
    ck_assert_uint_eq(pos, strlen(s));
}
END_TEST

START_TEST(histogram_quantiles_stay_close)
{
    static hist h;

    hist_init(&h);
    ck_assert_uint_eq(hist_quantile_ns(&h, 0.5), 0);
    for (uint64_t v = 1; v <= 100000; v++)
        hist_add(&h, v * 1000); /* 1 us .. 100 ms */
    double p50 = (double)hist_quantile_ns(&h, 0.50);
    double p99 = (double)hist_quantile_ns(&h, 0.99);

    ck_assert_double_eq_tol(p50, 50000e3, 50000e3 * 0.016);
    ck_assert_double_eq_tol(p99, 99000e3, 99000e3 * 0.016);
    ck_assert_uint_eq(hist_quantile_ns(&h, 1.0), 100000000);
    ck_assert_double_eq_tol((double)hist_quantile_ns(&h, 0.0), 1000, 16);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("bench_frame");
    TCase *framing = tcase_create("frame");
    TCase *latency = tcase_create("hist");

    tcase_add_test(framing, frames_every_unit_whatever_the_cut);
    tcase_add_loop_test(framing, finds_attributes_by_exact_name, 0,
                        sizeof attrs / sizeof attrs[0]);
    tcase_add_loop_test(framing, gives_the_text_between_the_tags, 0,
                        sizeof texts / sizeof texts[0]);
    tcase_add_test(framing, names_the_first_child);
    tcase_add_test(framing, refuses_a_doctype);
    tcase_add_test(framing, skips_text_between_stanzas);
    tcase_add_test(latency, histogram_quantiles_stay_close);
    suite_add_tcase(suite, framing);
    suite_add_tcase(suite, latency);
    return suite;
}
