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

Suite *unit_suite(void)
{
    Suite *suite = suite_create("envelope");
    TCase *tc = tcase_create("envelope");

    tcase_add_loop_test(tc, finds_the_content_between_the_tags, 0,
                        sizeof inners / sizeof inners[0]);
    tcase_add_test(tc, wraps_with_escaped_attributes);
    tcase_add_test(tc, wraps_an_error_and_an_empty_envelope);
    tcase_add_test(tc, unwrapping_a_wrapped_stanza_gives_it_back);
    suite_add_tcase(suite, tc);
    return suite;
}
