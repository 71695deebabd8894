/* SPDX-License-Identifier: MIT */
/* tests/unit/test_component.c: a component's <connect> element read into
 * its link options. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/unit.h"

#include "libcommon/cfg.h"
#include "libcommon/component.h"
#include "libcommon/error.h"

#define HEAD "<xmppd>\n<state-dir>/var/lib/xs</state-dir>\n"

static cfg *load(const char *xml)
{
    cfg *c = NULL;
    cfg_diag d = { 0 };

    ck_assert_msg(cfg_load_string(xml, "/etc/t/xmppd.xml", &c, &d) == 0, "%s", d.message);
    return c;
}

START_TEST(reads_unix_under_the_state_dir_and_secret_from_router)
{
    cfg *c = load(HEAD
                  "<router><component name='store' secret='s3'/></router>\n"
                  "<store><connect unix='router.sock' name='store' instance='store/1'/></store>\n"
                  "</xmppd>");
    component_link_cfg lc;
    cfg_diag d = { 0 };

    ck_assert_int_eq(component_link_opts(c, cfg_child(cfg_root(c), "store"), "store", &lc, &d), 0);
    ck_assert(lc.opts.is_unix);
    ck_assert_str_eq(lc.opts.address, "/var/lib/xs/router.sock");
    ck_assert_str_eq(lc.opts.name, "store");
    ck_assert_str_eq(lc.opts.secret, "s3");
    ck_assert_str_eq(lc.opts.instance, "store/1");
    ck_assert_ptr_null(lc.opts.tls);
    component_link_cfg_close(&lc);
    cfg_free(c);
}
END_TEST

START_TEST(defaults_name_and_instance_to_hostname)
{
    cfg *c = load(HEAD "<store><connect tcp='127.0.0.1:5347' secret='x'/></store></xmppd>");
    component_link_cfg lc;
    cfg_diag d = { 0 };
    char host[256] = "", want[300];

    ck_assert_int_eq(component_link_opts(c, cfg_child(cfg_root(c), "store"), "store", &lc, &d), 0);
    gethostname(host, sizeof host - 1);
    snprintf(want, sizeof want, "store/%s", host);
    ck_assert(!lc.opts.is_unix);
    ck_assert_str_eq(lc.opts.address, "127.0.0.1:5347");
    ck_assert_str_eq(lc.opts.name, "store");
    ck_assert_str_eq(lc.opts.secret, "x");
    ck_assert_str_eq(lc.opts.instance, want);
    component_link_cfg_close(&lc);
    cfg_free(c);
}
END_TEST

START_TEST(keeps_an_absolute_unix_path_and_own_secret)
{
    cfg *c = load(HEAD "<router><component name='st' secret='router-side'/></router>"
                  "<store><connect unix='/run/r.sock' name='st' secret='mine'/></store></xmppd>");
    component_link_cfg lc;
    cfg_diag d = { 0 };

    ck_assert_int_eq(component_link_opts(c, cfg_child(cfg_root(c), "store"), "store", &lc, &d), 0);
    ck_assert_str_eq(lc.opts.address, "/run/r.sock");
    ck_assert_str_eq(lc.opts.name, "st");
    ck_assert_str_eq(lc.opts.secret, "mine");
    component_link_cfg_close(&lc);
    cfg_free(c);
}
END_TEST

static const struct {
    const char *section;   /* the <store> element, on line 3 */
    int line;
    const char *message;
} bad[] = {
    { "<store/>", 3, "store: <store> needs a <connect> element" },
    { "<store>\n<connect name='store' secret='x'/></store>", 4,
      "store: <connect> needs exactly one of unix, tcp or tls" },
    { "<store>\n<connect unix='a' tcp='b:1' secret='x'/></store>", 4,
      "store: <connect> needs exactly one of unix, tcp or tls" },
    { "<store>\n\n<connect unix='a'/></store>", 5,
      "store: <connect> needs a secret: none given and the <router> section has "
      "no <component name=\"store\">" },
    { "<store>\n<connect tcp='nohostport' secret='x'/></store>", 4,
      "store: tcp \"nohostport\" is not HOST:PORT" },
    { "<store>\n<connect unix='a' secret='x' colour='red'/></store>", 4,
      "store: <connect> has unknown attribute \"colour\"" },
    { "<store>\n<connect unix='a' secret='x' cert='c.pem'/></store>", 4,
      "store: <connect> takes cert, key, ca and name-in-cert only with tls" },
    { "<store>\n<connect tls='h:1' secret='x' cert='c.pem'/></store>", 4,
      "store: <connect> needs both cert and key, or neither" },
    { "<store>\n<connect unix='a' secret='x' instance=''/></store>", 4,
      "store: instance \"\" is empty" },
};

START_TEST(reports_bad_connect_with_file_and_line)
{
    char xml[1024];
    snprintf(xml, sizeof xml, HEAD "%s\n</xmppd>", bad[_i].section);
    cfg *c = load(xml);
    component_link_cfg lc;
    cfg_diag d = { 0 };

    ck_assert_int_eq(component_link_opts(c, cfg_child(cfg_root(c), "store"), "store", &lc, &d),
                     XE_CONFIG);
    ck_assert_str_eq(d.file, "/etc/t/xmppd.xml");
    ck_assert_int_eq(d.line, bad[_i].line);
    ck_assert_str_eq(d.message, bad[_i].message);
    ck_assert_ptr_null(lc.address);
    ck_assert_ptr_null(lc.secret);
    component_link_cfg_close(&lc);
    cfg_free(c);
}
END_TEST

START_TEST(reports_missing_tls_files)
{
    cfg *c = load(HEAD "<store><connect tls='localhost:5348' secret='x' "
                  "ca='/nonexistent/ca.pem'/></store></xmppd>");
    component_link_cfg lc;
    cfg_diag d = { 0 };

    ck_assert_int_eq(component_link_opts(c, cfg_child(cfg_root(c), "store"), "store", &lc, &d),
                     XE_CONFIG);
    ck_assert_int_eq(d.line, 3);
    ck_assert_msg(strstr(d.message, "/nonexistent/ca.pem") != NULL, "%s", d.message);
    cfg_free(c);
}
END_TEST

START_TEST(uses_the_tls_host_as_certificate_name)
{
    cfg *c = load(HEAD "<store><connect tls='router.example:5348' secret='x'/></store>"
                  "<sm><connect tls='10.0.0.1:5348' name-in-cert='router.example' "
                  "secret='y'/></sm></xmppd>");
    component_link_cfg lc;
    cfg_diag d = { 0 };

    ck_assert_int_eq(component_link_opts(c, cfg_child(cfg_root(c), "store"), "store", &lc, &d), 0);
    ck_assert_ptr_nonnull(lc.opts.tls);
    ck_assert_str_eq(lc.opts.tls_name, "router.example");
    component_link_cfg_close(&lc);
    ck_assert_int_eq(component_link_opts(c, cfg_child(cfg_root(c), "sm"), "sm", &lc, &d), 0);
    ck_assert_str_eq(lc.opts.tls_name, "router.example");
    ck_assert_str_eq(lc.opts.address, "10.0.0.1:5348");
    component_link_cfg_close(&lc);
    cfg_free(c);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("component");
    TCase *connect = tcase_create("connect");

    tcase_add_test(connect, reads_unix_under_the_state_dir_and_secret_from_router);
    tcase_add_test(connect, defaults_name_and_instance_to_hostname);
    tcase_add_test(connect, keeps_an_absolute_unix_path_and_own_secret);
    tcase_add_loop_test(connect, reports_bad_connect_with_file_and_line, 0,
                        sizeof bad / sizeof bad[0]);
    tcase_add_test(connect, reports_missing_tls_files);
    tcase_add_test(connect, uses_the_tls_host_as_certificate_name);
    suite_add_tcase(suite, connect);
    return suite;
}
