/* SPDX-License-Identifier: MIT */
/* tests/unit/test_rate.c: token buckets. */
#include <check.h>

#include "libcommon/rate.h"
#include "tests/unit/unit.h"

START_TEST(allows_a_full_burst_at_once)
{
    rate r;
    rate_init(&r, 1000, 5000, 0);
    ck_assert_uint_eq(rate_take(&r, 5000, 0), 0);
}
END_TEST

START_TEST(asks_to_wait_for_what_went_over)
{
    rate r;
    rate_init(&r, 1000, 1000, 0);       /* 1 byte per ms */
    ck_assert_uint_eq(rate_take(&r, 1500, 0), 500);
    /* 500 ms later the debt is paid. */
    ck_assert_uint_eq(rate_take(&r, 0, 500), 0);
}
END_TEST

START_TEST(refills_no_more_than_the_burst)
{
    rate r;
    rate_init(&r, 1000, 2000, 0);
    ck_assert_uint_eq(rate_take(&r, 2000, 0), 0);
    /* An hour of silence still gives only one burst. */
    ck_assert_uint_eq(rate_take(&r, 2000, 3600000), 0);
    ck_assert_uint_gt(rate_take(&r, 1, 3600000), 0);
}
END_TEST

/* One read may bring several chunks (TLS records): the pause the first one
 * starts must grow to cover the debt of them all. */
START_TEST(a_pause_grows_with_the_debt_of_the_same_read)
{
    rate r;
    uint64_t resume_at = 0;
    rate_init(&r, 1000, 1000, 5000);
    ck_assert(!rate_take_pause(&r, 1000, 5000, &resume_at));
    ck_assert_uint_eq(resume_at, 0);
    ck_assert(rate_take_pause(&r, 500, 5000, &resume_at));
    ck_assert_uint_eq(resume_at, 5500);
    ck_assert(!rate_take_pause(&r, 1000, 5000, &resume_at)); /* paused already */
    ck_assert_uint_eq(resume_at, 6500);
    ck_assert(!rate_take_pause(&r, 0, 6000, &resume_at));    /* never earlier */
    ck_assert_uint_eq(resume_at, 6500);
}
END_TEST

START_TEST(zero_rate_means_unlimited)
{
    rate r;
    rate_init(&r, 0, 0, 0);
    ck_assert_uint_eq(rate_take(&r, 1u << 30, 0), 0);
}
END_TEST

START_TEST(sustained_rate_matches_the_setting)
{
    rate r;
    rate_init(&r, 10000, 10000, 0);
    uint64_t now = 0, sent = 0;
    /* A reader that pauses whenever told to moves 10 kB/s over 10 s. */
    while (now < 10000) {
        uint64_t wait = rate_take(&r, 4096, now);
        sent += 4096;
        now += wait ? wait : 1;
    }
    ck_assert_uint_ge(sent, 100000 - 4096);
    ck_assert_uint_le(sent, 110000 + 4096);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("rate");
    TCase *tc = tcase_create("bucket");

    tcase_add_test(tc, allows_a_full_burst_at_once);
    tcase_add_test(tc, asks_to_wait_for_what_went_over);
    tcase_add_test(tc, refills_no_more_than_the_burst);
    tcase_add_test(tc, a_pause_grows_with_the_debt_of_the_same_read);
    tcase_add_test(tc, zero_rate_means_unlimited);
    tcase_add_test(tc, sustained_rate_matches_the_setting);
    suite_add_tcase(suite, tc);
    return suite;
}
