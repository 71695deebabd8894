/* SPDX-License-Identifier: MIT */
/* tests/unit/test_envelope.c: raw envelopes. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/envelope.h"
#include "tests/unit/unit.h"

static const struct { const char *raw, *inner; bool ok; } inners[] = {
    { "<route to='sm'><message/></route>", "<message/>", true },
    { "<route a='x>y' b=\"q'>\"><m>1 &gt; 0</m></route>", "<m>1 &gt; 0</m>", true },
    { "<r:route xmlns:r='urn:xmppd:route'>text</r:route>", "text", true },
    { "<route to='sm'/>", "", true },
    { "<route to='sm' />", "", true },
    { "<route to='sm'></route>", "", true },
    { "not xml", "", false },
    { "<route to='x", "", false },
};

START_TEST(finds_the_content_between_the_tags)
{
    size_t off, len;
    const char *raw = inners[_i].raw;
    ck_assert_int_eq(envelope_inner(raw, strlen(raw), &off, &len), inners[_i].ok);
    ck_assert_uint_eq(len, strlen(inners[_i].inner));
    ck_assert_int_eq(memcmp(raw + off, inners[_i].inner, len), 0);
}
END_TEST

START_TEST(wraps_with_escaped_attributes)
{
    buf b;
    buf_init(&b);
    envelope e = { .to = "sm", .from = "c2s/a'b", .key = "j@x" };
    envelope_wrap(&b, &e, "<message/>", 10);
    char *s = buf_steal(&b);
    ck_assert_str_eq(s, "<route xmlns='urn:xmppd:route' to='sm' from='c2s/a&apos;b' "
                        "key='j@x'><message/></route>");
    free(s);
}
END_TEST

START_TEST(wraps_an_error_and_an_empty_envelope)
{
    buf b;
    buf_init(&b);
    envelope e = { .to = "c2s/1", .from = "router", .condition = "service-unavailable" };
    envelope_wrap(&b, &e, NULL, 0);
    char *s = buf_steal(&b);
    ck_assert_str_eq(s, "<route xmlns='urn:xmppd:route' to='c2s/1' from='router' "
                        "type='error' condition='service-unavailable'/>");
    free(s);
}
END_TEST

START_TEST(unwrapping_a_wrapped_stanza_gives_it_back)
{
    const char *inner = "<iq type='get' id='1'><q xmlns='a'>x</q></iq>";
    buf b;
    buf_init(&b);
    envelope e = { .to = "store", .from = "sm/1", .key = "a@b" };
    envelope_wrap(&b, &e, inner, strlen(inner));
    size_t off, len;
    ck_assert(envelope_inner(buf_data(&b), buf_len(&b), &off, &len));
    ck_assert_uint_eq(len, strlen(inner));
    ck_assert_int_eq(memcmp(buf_data(&b) + off, inner, len), 0);
    buf_close(&b);
}
END_TEST

static const struct { const char *raw, *ns, *from, *want; } stamps[] = {
    { "<message to='a@b'><body>x</body></message>", "jabber:client", "me@x/r",
      "<message xmlns='jabber:client' from='me@x/r' to='a@b'><body>x</body></message>" },
    { "<presence/>", NULL, "me@x/r", "<presence from='me@x/r'/>" },
    { "<iq from='forged@evil' type=\"get\" id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
      "jabber:client", "me@x/r",
      "<iq xmlns='jabber:client' from='me@x/r' type=\"get\" id='1'><ping xmlns='urn:xmpp:ping'/></iq>" },
    { "<message\n  xmlns='jabber:client'  to='a@b' from = \"x\" >hi</message>", "jabber:client",
      "o'k@x", "<message xmlns='jabber:client' from='o&apos;k@x'  to='a@b'>hi</message>" },
    { "<message fromage='1' xmlns:x='urn:x' x:from='2'/>", NULL, "me@x",
      "<message from='me@x' fromage='1' xmlns:x='urn:x' x:from='2'/>" },
};

START_TEST(stamps_from_and_namespace_on_the_start_tag)
{
    buf b;
    buf_init(&b);
    const char *raw = stamps[_i].raw;
    ck_assert(envelope_stamp(&b, raw, strlen(raw), stamps[_i].ns, stamps[_i].from));
    char *s = buf_steal(&b);
    ck_assert_str_eq(s, stamps[_i].want);
    free(s);
}
END_TEST

static const struct { const char *raw, *want; } langs[] = {
    { "<message to='a@b'><body>x</body></message>",
      "<message from='me@x/r' to='a@b' xml:lang='fr'><body>x</body></message>" },
    { "<presence/>", "<presence from='me@x/r' xml:lang='fr'/>" },
    { "<message xml:lang='de' to='a@b'/>", "<message from='me@x/r' xml:lang='de' to='a@b'/>" },
    { "<message xml:language='x' />", "<message from='me@x/r' xml:language='x' xml:lang='fr'/>" },
};

START_TEST(adds_the_stream_language_unless_the_stanza_has_one)
{
    buf b;
    buf_init(&b);
    const char *raw = langs[_i].raw;
    ck_assert(envelope_stamp_lang(&b, raw, strlen(raw), NULL, "me@x/r", "fr"));
    char *s = buf_steal(&b);
    ck_assert_str_eq(s, langs[_i].want);
    free(s);
}
END_TEST

START_TEST(refuses_to_stamp_what_is_not_one_element)
{
    buf b;
    buf_init(&b);
    ck_assert(!envelope_stamp(&b, "<a x='1>", 8, NULL, "f"));
    ck_assert(!envelope_stamp(&b, "text", 4, NULL, "f"));
    ck_assert(!envelope_stamp(&b, "<a x=1/>", 8, NULL, "f"));
    ck_assert_uint_eq(buf_len(&b), 0);
    buf_close(&b);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("envelope");
    TCase *tc = tcase_create("envelope");

    tcase_add_loop_test(tc, finds_the_content_between_the_tags, 0,
                        sizeof inners / sizeof inners[0]);
    tcase_add_test(tc, wraps_with_escaped_attributes);
    tcase_add_test(tc, wraps_an_error_and_an_empty_envelope);
    tcase_add_test(tc, unwrapping_a_wrapped_stanza_gives_it_back);
    tcase_add_loop_test(tc, stamps_from_and_namespace_on_the_start_tag, 0,
                        sizeof stamps / sizeof stamps[0]);
    tcase_add_loop_test(tc, adds_the_stream_language_unless_the_stanza_has_one, 0,
                        sizeof langs / sizeof langs[0]);
    tcase_add_test(tc, refuses_to_stamp_what_is_not_one_element);
    suite_add_tcase(suite, tc);
    return suite;
}
