/* SPDX-License-Identifier: MIT */
/* tests/unit/test_proc.c: what every process reads the same way: the served
 * domains. */
#include <check.h>
#include <string.h>

#include "libcommon/cfg.h"
#include "libcommon/error.h"
#include "libcommon/proc.h"
#include "tests/unit/unit.h"

static cfg *load(const char *xml)
{
    cfg *c = NULL;
    cfg_diag d = { 0 };
    ck_assert_int_eq(cfg_load_string(xml, "t.xml", &c, &d), 0);
    return c;
}

START_TEST(reads_the_domains_normalized)
{
    cfg *c = load("<xmppd>\n<domain>Example.COM</domain>\n<domain>localhost</domain>\n</xmppd>");
    char **domains;
    size_t n;
    cfg_diag d = { 0 };
    ck_assert_int_eq(proc_domains(c, &domains, &n, &d), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(domains[0], "example.com");
    ck_assert_str_eq(domains[1], "localhost");
    proc_domains_free(domains, n);
    cfg_free(c);
}
END_TEST

START_TEST(none_is_no_error)
{
    cfg *c = load("<xmppd/>");
    char **domains;
    size_t n = 7;
    cfg_diag d = { 0 };
    ck_assert_int_eq(proc_domains(c, &domains, &n, &d), 0);
    ck_assert_uint_eq(n, 0);
    proc_domains_free(domains, n);
    cfg_free(c);
}
END_TEST

START_TEST(a_bad_domain_is_refused_at_its_line)
{
    cfg *c = load("<xmppd>\n<domain>ok.example</domain>\n<domain>bad domain</domain>\n</xmppd>");
    char **domains;
    size_t n;
    cfg_diag d = { 0 };
    ck_assert_int_eq(proc_domains(c, &domains, &n, &d), XE_CONFIG);
    ck_assert_int_eq(d.line, 3);
    ck_assert_ptr_nonnull(strstr(d.message, "\"bad domain\" is not a valid domain"));
    ck_assert_uint_eq(n, 0);
    cfg_free(c);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("proc");
    TCase *tc = tcase_create("domains");
    tcase_add_test(tc, reads_the_domains_normalized);
    tcase_add_test(tc, none_is_no_error);
    tcase_add_test(tc, a_bad_domain_is_refused_at_its_line);
    suite_add_tcase(suite, tc);
    return suite;
}
