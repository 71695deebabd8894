/* SPDX-License-Identifier: MIT */
/* tests/unit/test_proc.c: what every process does the same way: the served
 * domains, its section and the start (arguments, config, --check-config). */
#include <check.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libcommon/cfg.h"
#include "libcommon/error.h"
#include "libcommon/proc.h"
#include "tests/unit/testcfg.h"
#include "tests/unit/unit.h"

START_TEST(reads_the_domains_normalized)
{
    cfg *c = testcfg_load("<xmppd>\n<domain>Example.COM</domain>\n"
                          "<domain>localhost</domain>\n</xmppd>");
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
    cfg *c = testcfg_load("<xmppd/>");
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
    cfg *c = testcfg_load("<xmppd>\n<domain>ok.example</domain>\n"
                          "<domain>bad domain</domain>\n</xmppd>");
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

START_TEST(finds_a_section_without_attributes)
{
    cfg *c = testcfg_load("<xmppd>\n<sm/>\n<store x='1'/>\n</xmppd>");
    const cfg_node *sec = NULL;
    cfg_diag d = { 0 };
    ck_assert_int_eq(proc_section(c, "sm", &sec, &d), 0);
    ck_assert_str_eq(cfg_name(sec), "sm");
    ck_assert_int_eq(proc_section(c, "store", &sec, &d), XE_CONFIG);
    ck_assert_int_eq(d.line, 3);
    ck_assert_ptr_nonnull(strstr(d.message, "unknown attribute \"x\""));
    ck_assert_int_eq(proc_section(c, "c2s", &sec, &d), XE_CONFIG);
    ck_assert_ptr_nonnull(strstr(d.message, "the config has no <c2s> section"));
    cfg_free(c);
}
END_TEST

START_TEST(a_serving_section_needs_a_domain)
{
    cfg *c = testcfg_load("<xmppd>\n<c2s/>\n</xmppd>");
    const cfg_node *sec;
    char **domains = (char **)1;
    size_t n = 7;
    cfg_diag d = { 0 };
    ck_assert_int_eq(proc_section_domains(c, "c2s", &sec, &domains, &n, &d), XE_CONFIG);
    ck_assert_ptr_nonnull(strstr(d.message, "c2s: the config serves no <domain>"));
    ck_assert_ptr_null(domains);
    ck_assert_uint_eq(n, 0);
    cfg_free(c);
}
END_TEST

START_TEST(a_serving_section_reads_its_domains)
{
    cfg *c = testcfg_load("<xmppd>\n<domain>A.example</domain>\n<s2s/>\n</xmppd>");
    const cfg_node *sec;
    char **domains;
    size_t n;
    cfg_diag d = { 0 };
    ck_assert_int_eq(proc_section_domains(c, "s2s", &sec, &domains, &n, &d), 0);
    ck_assert_str_eq(cfg_name(sec), "s2s");
    ck_assert_uint_eq(n, 1);
    ck_assert(proc_domains_has(domains, n, "a.example"));
    ck_assert(!proc_domains_has(domains, n, "b.example"));
    ck_assert(!proc_domains_has(NULL, 0, "a.example"));
    proc_domains_free(domains, n);
    cfg_free(c);
}
END_TEST

/* --- proc_start ------------------------------------------------------------ */

typedef struct loader {
    int err;            /* what load returns */
    int loads, closes;
} loader;

static int loader_load(const cfg *c, void *ud, cfg_diag *diag)
{
    loader *l = ud;
    l->loads++;
    if (l->err < 0)
        return cfg_error(diag, cfg_child(cfg_root(c), "t"), "the test refuses it");
    return 0;
}

static void loader_close(void *ud)
{
    ((loader *)ud)->closes++;
}

static const proc_opts test_proc = {
    .name = "test", .usage = "Usage: test -c FILE\n", .load = loader_load, .close = loader_close,
};

static char config_path[64];

/* Writes xml to a new file, named in config_path. */
static void write_config(const char *xml)
{
    snprintf(config_path, sizeof config_path, "/tmp/xmppd-test-proc-XXXXXX");
    int fd = mkstemp(config_path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, xml, strlen(xml)), (ssize_t)strlen(xml));
    close(fd);
}

static int start(loader *l, const char *a1, const char *a2, cfg **conf)
{
    char *argv[] = { "test", (char *)a1, (char *)a2, NULL };
    int argc = a2 ? 3 : a1 ? 2 : 1;
    proc_args args;
    optind = 0;                 /* glibc: parse from scratch */
    return proc_start(argc, argv, &test_proc, l, &args, conf);
}

START_TEST(start_answers_help_and_bad_usage_without_loading)
{
    loader l = { 0 };
    ck_assert_int_eq(start(&l, "--help", NULL, NULL), 0);
    ck_assert_int_eq(start(&l, NULL, NULL, NULL), 2);
    ck_assert_int_eq(start(&l, "-x", NULL, NULL), 2);
    ck_assert_int_eq(l.loads + l.closes, 0);
}
END_TEST

START_TEST(start_fails_on_a_missing_file_without_loading)
{
    loader l = { 0 };
    ck_assert_int_eq(start(&l, "-c", "/nonexistent/xmppd.xml", NULL), 1);
    ck_assert_int_eq(l.loads + l.closes, 0);
}
END_TEST

START_TEST(start_goes_on_with_the_config)
{
    write_config("<xmppd><t/></xmppd>");
    loader l = { 0 };
    cfg *conf = NULL;
    ck_assert_int_eq(start(&l, "-c", config_path, &conf), -1);
    ck_assert_int_eq(l.loads, 1);
    ck_assert_int_eq(l.closes, 0);
    ck_assert_ptr_nonnull(cfg_child(cfg_root(conf), "t"));
    cfg_free(conf);
    ck_assert_int_eq(start(&l, "-c", config_path, NULL), -1);
    ck_assert_int_eq(l.closes, 0);
    unlink(config_path);
}
END_TEST

START_TEST(start_closes_after_check_config)
{
    write_config("<xmppd><t/></xmppd>");
    loader l = { 0 };
    cfg *conf = NULL;
    ck_assert_int_eq(start(&l, "--check-config", "-c", &conf), 2);
    ck_assert_int_eq(start(&l, "--check-config", NULL, &conf), 2);
    char *argv[] = { "test", "--check-config", "-c", config_path, NULL };
    proc_args args;
    optind = 0;
    ck_assert_int_eq(proc_start(4, argv, &test_proc, &l, &args, &conf), 0);
    ck_assert(args.check_only);
    ck_assert_int_eq(l.loads, 1);
    ck_assert_int_eq(l.closes, 1);
    ck_assert_ptr_null(conf);
    unlink(config_path);
}
END_TEST

static const struct {
    const char *xml;
    int err;
} refused_configs[] = {
    { "<xmppd><t/></xmppd>", XE_CONFIG },                       /* load refuses */
    { "<xmppd><t/><log level='loud'/></xmppd>", 0 },            /* the log setup does */
};

START_TEST(start_closes_after_a_bad_config)
{
    for (size_t i = 0; i < sizeof refused_configs / sizeof refused_configs[0]; i++) {
        write_config(refused_configs[i].xml);
        loader l = { .err = refused_configs[i].err };
        cfg *conf = NULL;
        ck_assert_int_eq(start(&l, "-c", config_path, &conf), 1);
        ck_assert_int_eq(l.loads, 1);
        ck_assert_int_eq(l.closes, 1);
        ck_assert_ptr_null(conf);
        unlink(config_path);
    }
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("proc");
    TCase *tc = tcase_create("proc");
    tcase_add_test(tc, reads_the_domains_normalized);
    tcase_add_test(tc, none_is_no_error);
    tcase_add_test(tc, a_bad_domain_is_refused_at_its_line);
    tcase_add_test(tc, start_closes_after_a_bad_config);
    tcase_add_test(tc, finds_a_section_without_attributes);
    tcase_add_test(tc, a_serving_section_needs_a_domain);
    tcase_add_test(tc, a_serving_section_reads_its_domains);
    tcase_add_test(tc, start_answers_help_and_bad_usage_without_loading);
    tcase_add_test(tc, start_fails_on_a_missing_file_without_loading);
    tcase_add_test(tc, start_goes_on_with_the_config);
    tcase_add_test(tc, start_closes_after_check_config);
    suite_add_tcase(suite, tc);
    return suite;
}
