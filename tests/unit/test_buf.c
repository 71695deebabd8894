/* SPDX-License-Identifier: MIT */
/* tests/unit/test_buf.c: growable byte buffers. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"

#include "libcommon/buf.h"

START_TEST(appends_and_consumes_in_order)
{
    buf b;
    buf_init(&b);
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%04d", i);
    ck_assert_uint_eq(buf_len(&b), 4000);
    ck_assert_int_eq(memcmp(buf_data(&b), "0000000100020003", 16), 0);
    buf_consume(&b, 3996);
    ck_assert_uint_eq(buf_len(&b), 4);
    ck_assert_int_eq(memcmp(buf_data(&b), "0999", 4), 0);
    buf_append_str(&b, "tail");
    char *s = buf_steal(&b);
    ck_assert_str_eq(s, "0999tail");
    ck_assert_uint_eq(buf_len(&b), 0);
    free(s);
    buf_close(&b);
}
END_TEST

START_TEST(compacts_instead_of_growing_forever)
{
    buf b;
    buf_init(&b);
    /* A queue that is drained as fast as it is filled stays small. */
    for (int i = 0; i < 100000; i++) {
        buf_append(&b, "0123456789", 10);
        buf_consume(&b, 10);
    }
    ck_assert_uint_le(b.cap, 256);
    buf_close(&b);
}
END_TEST

static const struct { const char *in; int is_attr; const char *out; } escapes[] = {
    { "a<b>&c", 0, "a&lt;b&gt;&amp;c" },
    { "it's \"x\"", 0, "it's \"x\"" },
    { "it's \"x\"", 1, "it&apos;s &quot;x&quot;" },
    { "", 1, "" },
};

START_TEST(escapes_xml_text_and_attributes)
{
    buf b;
    buf_init(&b);
    buf_append_xml(&b, escapes[_i].in, strlen(escapes[_i].in), escapes[_i].is_attr);
    char *s = buf_steal(&b);
    ck_assert_str_eq(s, escapes[_i].out);
    free(s);
}
END_TEST

START_TEST(reserve_and_commit_write_in_place)
{
    buf b;
    buf_init(&b);
    char *p = buf_reserve(&b, 100000);
    memset(p, 'x', 5);
    buf_commit(&b, 5);
    ck_assert_uint_eq(buf_len(&b), 5);
    ck_assert_int_eq(memcmp(buf_data(&b), "xxxxx", 5), 0);
    buf_clear(&b);
    ck_assert_uint_eq(buf_len(&b), 0);
    buf_close(&b);
}
END_TEST

START_TEST(truncate_keeps_the_first_bytes)
{
    buf b;
    buf_init(&b);
    buf_append_str(&b, "xxhello world");
    buf_consume(&b, 2);
    buf_truncate(&b, 5);
    ck_assert_uint_eq(buf_len(&b), 5);
    ck_assert_int_eq(memcmp(buf_data(&b), "hello", 5), 0);
    buf_truncate(&b, 99);                      /* longer than it is: no change */
    ck_assert_uint_eq(buf_len(&b), 5);
    buf_append_str(&b, "!");
    ck_assert_int_eq(memcmp(buf_data(&b), "hello!", 6), 0);
    buf_close(&b);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("buf");
    TCase *tc = tcase_create("buf");

    tcase_add_test(tc, appends_and_consumes_in_order);
    tcase_add_test(tc, compacts_instead_of_growing_forever);
    tcase_add_loop_test(tc, escapes_xml_text_and_attributes, 0,
                        sizeof escapes / sizeof escapes[0]);
    tcase_add_test(tc, reserve_and_commit_write_in_place);
    tcase_add_test(tc, truncate_keeps_the_first_bytes);
    suite_add_tcase(suite, tc);
    return suite;
}
