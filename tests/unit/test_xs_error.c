/* SPDX-License-Identifier: MIT */
/* tests/unit/test_xs_error.c: stanza and stream error conditions, error
 * replies and stream errors. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"

#include "libcommon/buf.h"
#include "libcommon/xs.h"
#include "libcommon/xs_error.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A stanza in the client namespace; the test fails if xml does not parse. */
static xs_elem *parse_client(const char *xml)
{
    xs_elem *st = NULL;
    ck_assert_int_eq(xs_parse(xml, strlen(xml), XS_NS_CLIENT, &st), 0);
    return st;
}

static const struct {
    xs_condition cond;
    const char *name, *type;
} conditions[] = {
    {XS_BAD_REQUEST, "bad-request", "modify"},
    {XS_CONFLICT, "conflict", "cancel"},
    {XS_FEATURE_NOT_IMPLEMENTED, "feature-not-implemented", "cancel"},
    {XS_FORBIDDEN, "forbidden", "auth"},
    {XS_GONE, "gone", "cancel"},
    {XS_INTERNAL_SERVER_ERROR, "internal-server-error", "cancel"},
    {XS_ITEM_NOT_FOUND, "item-not-found", "cancel"},
    {XS_JID_MALFORMED, "jid-malformed", "modify"},
    {XS_NOT_ACCEPTABLE, "not-acceptable", "modify"},
    {XS_NOT_ALLOWED, "not-allowed", "cancel"},
    {XS_NOT_AUTHORIZED, "not-authorized", "auth"},
    {XS_POLICY_VIOLATION, "policy-violation", "modify"},
    {XS_RECIPIENT_UNAVAILABLE, "recipient-unavailable", "wait"},
    {XS_REDIRECT, "redirect", "modify"},
    {XS_REGISTRATION_REQUIRED, "registration-required", "auth"},
    {XS_REMOTE_SERVER_NOT_FOUND, "remote-server-not-found", "cancel"},
    {XS_REMOTE_SERVER_TIMEOUT, "remote-server-timeout", "wait"},
    {XS_RESOURCE_CONSTRAINT, "resource-constraint", "wait"},
    {XS_SERVICE_UNAVAILABLE, "service-unavailable", "cancel"},
    {XS_SUBSCRIPTION_REQUIRED, "subscription-required", "auth"},
    {XS_UNDEFINED_CONDITION, "undefined-condition", "cancel"},
    {XS_UNEXPECTED_REQUEST, "unexpected-request", "wait"},
};

START_TEST(error_reply_swaps_addresses_and_adds_the_condition)
{
    xs_elem *iq = parse_client("<iq from='juliet@example.com/balcony' "
                               "to='example.com' id='v1' type='get'>"
                               "<query xmlns='jabber:iq:version'/></iq>");
    const char *text = _i % 2 ? "try <later> & again" : NULL;
    xs_elem *r = xs_error_reply(iq, conditions[_i].cond, text);

    ck_assert_str_eq(xs_condition_name(conditions[_i].cond),
                     conditions[_i].name);
    ck_assert_str_eq(xs_condition_type(conditions[_i].cond),
                     conditions[_i].type);
    ck_assert_str_eq(xs_attr(r, "to"), "juliet@example.com/balcony");
    ck_assert_str_eq(xs_attr(r, "from"), "example.com");
    ck_assert_str_eq(xs_attr(r, "type"), "error");
    ck_assert_str_eq(xs_attr(r, "id"), "v1");
    ck_assert_str_eq(xs_attr(iq, "type"), "get"); /* the original is intact */
    ck_assert_ptr_nonnull(xs_child(r, "query", "jabber:iq:version"));
    xs_elem *err = xs_child(r, "error", XS_NS_CLIENT);
    ck_assert_ptr_nonnull(err);
    ck_assert_str_eq(xs_attr(err, "type"), conditions[_i].type);
    xs_elem *cond = xs_first(err);
    ck_assert_str_eq(xs_name(cond), conditions[_i].name);
    ck_assert_str_eq(xs_ns(cond), XS_NS_STANZAS);
    if (text) {
        ck_assert_str_eq(xs_child_text(err, "text", XS_NS_STANZAS), text);
    } else {
        ck_assert_ptr_null(xs_child(err, "text", NULL));
        ck_assert_ptr_null(xs_next(cond));
    }
    xs_unref(r);
    xs_unref(iq);
}
END_TEST

START_TEST(error_reply_to_a_stanza_without_addresses_has_none)
{
    xs_elem *m = parse_client("<message><body>x</body></message>");
    xs_elem *r = xs_error_reply(m, XS_SERVICE_UNAVAILABLE, NULL);
    char *s = xs_to_string(r, XS_NS_CLIENT);
    ck_assert_str_eq(s, "<message type='error'><body>x</body>"
                        "<error type='cancel'><service-unavailable "
                        "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                        "</error></message>");
    free(s);
    xs_unref(r);
    xs_unref(m);
}
END_TEST

START_TEST(condition_names_are_distinct_and_total)
{
    ck_assert_uint_eq(NELEMS(conditions), XS_UNEXPECTED_REQUEST + 1);
    for (int c = 0; c <= XS_STREAM_UNSUPPORTED_VERSION; c++) {
        const char *name = xs_stream_condition_name((xs_stream_condition)c);
        ck_assert_ptr_nonnull(name);
        ck_assert_uint_gt(strlen(name), 0);
        for (int d = 0; d < c; d++)
            ck_assert_str_ne(name,
                             xs_stream_condition_name((xs_stream_condition)d));
    }
    ck_assert_str_eq(xs_stream_condition_name(XS_STREAM_NOT_WELL_FORMED),
                     "not-well-formed");
    ck_assert_str_eq(xs_stream_condition_name(XS_STREAM_RESTRICTED_XML),
                     "restricted-xml");
    ck_assert_str_eq(xs_stream_condition_name((xs_stream_condition)999),
                     "undefined-condition");
    ck_assert_str_eq(xs_condition_name((xs_condition)999),
                     "undefined-condition");
}
END_TEST

START_TEST(writes_stream_errors)
{
    buf b;
    buf_init(&b);
    xs_stream_error(&b, XS_STREAM_POLICY_VIOLATION, "stanza <too> big");
    xs_stream_error(&b, XS_STREAM_HOST_UNKNOWN, NULL);
    char *s = buf_steal(&b);
    ck_assert_str_eq(
        s, "<stream:error><policy-violation "
           "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text "
           "xmlns='urn:ietf:params:xml:ns:xmpp-streams'>stanza &lt;too&gt; "
           "big</text></stream:error>"
           "<stream:error><host-unknown "
           "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>");
    free(s);
}
END_TEST

START_TEST(stream_error_text_carries_only_what_xml_can)
{
    buf b;
    buf_init(&b);
    xs_stream_error(&b, XS_STREAM_BAD_FORMAT,
                    "a\x01"
                    "b\rc");
    char *s = buf_steal(&b);
    ck_assert_str_eq(s, "<stream:error><bad-format "
                        "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text "
                        "xmlns='urn:ietf:params:xml:ns:xmpp-streams'>"
                        "a\xEF\xBF\xBD"
                        "b&#13;c</text></stream:error>");
    free(s);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("xs_error");
    TCase *errors = tcase_create("errors");
    tcase_add_loop_test(errors,
                        error_reply_swaps_addresses_and_adds_the_condition, 0,
                        NELEMS(conditions));
    tcase_add_test(errors, error_reply_to_a_stanza_without_addresses_has_none);
    tcase_add_test(errors, condition_names_are_distinct_and_total);
    tcase_add_test(errors, writes_stream_errors);
    tcase_add_test(errors, stream_error_text_carries_only_what_xml_can);
    suite_add_tcase(suite, errors);
    return suite;
}
