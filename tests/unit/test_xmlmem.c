/* SPDX-License-Identifier: MIT */
/* tests/unit/test_xmlmem.c: libxml2's memory functions: big blocks mapped
 * and unmapped, small ones and foreign ones left to malloc and free. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlmemory.h>

#include "libcommon/xmlmem.h"
#include "tests/unit/unit.h"

START_TEST(small_blocks_stay_with_malloc)
{
    xmlmem_init();
    size_t before = xmlmem_mapped_bytes();
    char *p = xmlMalloc(100);
    memset(p, 'x', 100);
    ck_assert_uint_eq(xmlmem_mapped_bytes(), before);
    p = xmlRealloc(p, 200);
    ck_assert_int_eq(p[99], 'x');
    ck_assert_uint_eq(xmlmem_mapped_bytes(), before);
    xmlFree(p);
    char *s = (char *)xmlStrdup((const xmlChar *)"stream");
    ck_assert_str_eq(s, "stream");
    xmlFree(s);
}
END_TEST

START_TEST(big_blocks_are_mapped_and_given_back)
{
    xmlmem_init();
    size_t before = xmlmem_mapped_bytes();
    char *p = xmlMalloc(8193);
    ck_assert_uint_eq(xmlmem_mapped_bytes(), before + 3 * 4096);
    memset(p, 'y', 8193);
    char *q = xmlMalloc(4096);
    ck_assert_uint_eq(xmlmem_mapped_bytes(), before + 4 * 4096);
    xmlFree(q);
    p = xmlRealloc(p, 20000);                  /* moves to a bigger mapping */
    ck_assert_int_eq(p[8192], 'y');
    ck_assert_uint_eq(xmlmem_mapped_bytes(), before + 5 * 4096);
    p = xmlRealloc(p, 10);                     /* shrinking stays in place */
    ck_assert_int_eq(p[9], 'y');
    xmlFree(p);
    ck_assert_uint_eq(xmlmem_mapped_bytes(), before);
}
END_TEST

START_TEST(growing_a_malloc_block_into_a_mapping_keeps_it)
{
    xmlmem_init();
    size_t before = xmlmem_mapped_bytes();
    char *p = xmlMalloc(1000);
    for (int i = 0; i < 1000; i++)
        p[i] = (char)i;
    p = xmlRealloc(p, 50000);
    ck_assert_uint_eq(xmlmem_mapped_bytes(), before + 13 * 4096);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(p[i], (char)i);
    xmlFree(p);
    ck_assert_uint_eq(xmlmem_mapped_bytes(), before);
}
END_TEST

/* Blocks libxml2 took from malloc before xmlmem_init() go back to free. */
START_TEST(foreign_blocks_go_to_free)
{
    char *old = malloc(10000);
    xmlmem_init();
    xmlFree(old);
}
END_TEST

START_TEST(many_blocks_at_once)
{
    xmlmem_init();
    size_t before = xmlmem_mapped_bytes();
    enum { N = 3000 };
    static char *blocks[N];
    for (int i = 0; i < N; i++) {
        blocks[i] = xmlMalloc(4096 + (size_t)i);
        blocks[i][0] = (char)i;
    }
    for (int i = 0; i < N; i += 2)
        xmlFree(blocks[i]);
    for (int i = 0; i < N; i += 2)             /* in the slots just freed */
        blocks[i] = xmlMalloc(5000);
    for (int i = 0; i < N; i += 2)
        xmlFree(blocks[i]);
    for (int i = 1; i < N; i += 2) {
        ck_assert_int_eq(blocks[i][0], (char)i);
        xmlFree(blocks[i]);
    }
    ck_assert_uint_eq(xmlmem_mapped_bytes(), before);
}
END_TEST

/* Blocks coming and going while a few stay: the table of mappings fills
 * with deleted slots, is rebuilt, and every lookup still ends. */
START_TEST(churn_with_a_few_blocks_kept)
{
    xmlmem_init();
    size_t before = xmlmem_mapped_bytes();
    enum { KEPT = 21 };
    char *kept[KEPT];
    for (int i = 0; i < KEPT; i++)
        kept[i] = xmlMalloc(4096);
    for (int round = 0; round < 2000; round++) {
        char *p = xmlMalloc(4096 * (1 + (size_t)round % 3));
        p[0] = 1;
        xmlFree(p);
        xmlFree(malloc(16));               /* a lookup that misses */
    }
    for (int i = 0; i < KEPT; i++)
        xmlFree(kept[i]);
    ck_assert_uint_eq(xmlmem_mapped_bytes(), before);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("xmlmem");
    TCase *tc = tcase_create("blocks");
    tcase_add_test(tc, small_blocks_stay_with_malloc);
    tcase_add_test(tc, big_blocks_are_mapped_and_given_back);
    tcase_add_test(tc, growing_a_malloc_block_into_a_mapping_keeps_it);
    tcase_add_test(tc, foreign_blocks_go_to_free);
    tcase_add_test(tc, many_blocks_at_once);
    tcase_add_test(tc, churn_with_a_few_blocks_kept);
    suite_add_tcase(suite, tc);
    return suite;
}
