/* SPDX-License-Identifier: MIT */
/* tests/unit/test_strmap.c: the string-keyed hash map. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "libcommon/strmap.h"
#include "tests/unit/unit.h"

START_TEST(stores_finds_replaces_and_removes)
{
    strmap *m = strmap_new();
    int a = 1, b = 2;
    ck_assert_ptr_null(strmap_put(m, "juliet@example.com", &a));
    ck_assert_ptr_eq(strmap_get(m, "juliet@example.com"), &a);
    ck_assert_ptr_null(strmap_get(m, "romeo@example.com"));
    ck_assert_ptr_eq(strmap_put(m, "juliet@example.com", &b), &a);
    ck_assert_ptr_eq(strmap_get(m, "juliet@example.com"), &b);
    ck_assert_uint_eq(strmap_count(m), 1);
    ck_assert_ptr_eq(strmap_remove(m, "juliet@example.com"), &b);
    ck_assert_ptr_null(strmap_remove(m, "juliet@example.com"));
    ck_assert_uint_eq(strmap_count(m), 0);
    strmap_free(m, NULL);
}
END_TEST

static void sum_values(const char *key, void *value, void *ud)
{
    (void)key;
    *(long *)ud += *(int *)value;
}

START_TEST(keeps_every_entry_while_growing)
{
    strmap *m = strmap_new();
    enum { N = 20000 };
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof key, "user%d@example.com", i);
        int *v = malloc(sizeof *v);
        *v = i;
        strmap_put(m, key, v);
    }
    ck_assert_uint_eq(strmap_count(m), N);
    for (int i = 0; i < N; i += 7) {
        char key[32];
        snprintf(key, sizeof key, "user%d@example.com", i);
        int *v = strmap_get(m, key);
        ck_assert_ptr_nonnull(v);
        ck_assert_int_eq(*v, i);
    }
    long sum = 0;
    strmap_each(m, sum_values, &sum);
    ck_assert_int_eq(sum, (long)N * (N - 1) / 2);
    free(strmap_remove(m, "user5@example.com"));
    ck_assert_ptr_null(strmap_get(m, "user5@example.com"));
    strmap_free(m, free);            /* frees the other values too */
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("strmap");
    TCase *tc = tcase_create("strmap");

    tcase_add_test(tc, stores_finds_replaces_and_removes);
    tcase_add_test(tc, keeps_every_entry_while_growing);
    suite_add_tcase(suite, tc);
    return suite;
}
