/* SPDX-License-Identifier: MIT */
/* tests/unit/test_listen.c: <listen> elements and their listeners. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "libcommon/cfg.h"
#include "libcommon/error.h"
#include "libcommon/listen.h"
#include "libcommon/net.h"
#include "tests/unit/testloop.h"
#include "tests/unit/unit.h"

static cfg *load(const char *xml)
{
    cfg *c = NULL;
    cfg_diag d = { 0 };
    ck_assert_int_eq(cfg_load_string(xml, "t.xml", &c, &d), 0);
    return c;
}

START_TEST(reads_tcp_and_tls_addresses)
{
    cfg *c = load("<xmppd>\n<listen tcp='127.0.0.1:5222'/>\n<listen tls='[::1]:5223'/>\n</xmppd>");
    listen_set ls = { 0 };
    cfg_diag d = { 0 };
    for (const cfg_node *n = cfg_child(cfg_root(c), "listen"); n; n = cfg_next(n))
        ck_assert_int_eq(listen_add_cfg(&ls, n, &d), 0);
    ck_assert_uint_eq(ls.n_addrs, 2);
    ck_assert_str_eq(ls.addrs[0].address, "127.0.0.1:5222");
    ck_assert(!ls.addrs[0].is_tls);
    ck_assert_str_eq(ls.addrs[1].address, "[::1]:5223");
    ck_assert(ls.addrs[1].is_tls);
    ck_assert(listen_has_tls(&ls));
    listen_set_free(&ls);
    ck_assert_uint_eq(ls.n_addrs, 0);
    cfg_free(c);
}
END_TEST

static const struct {
    const char *xml;
    const char *message;
} refused[] = {
    { "<xmppd>\n<listen/>\n</xmppd>", "exactly one of tcp or tls" },
    { "<xmppd>\n<listen tcp='127.0.0.1:1' tls='127.0.0.1:2'/>\n</xmppd>", "exactly one of tcp or tls" },
    { "<xmppd>\n<listen tcp='localhost'/>\n</xmppd>", "is not HOST:PORT" },
    { "<xmppd>\n<listen udp='127.0.0.1:1'/>\n</xmppd>", "udp" },
};

START_TEST(refuses_bad_elements_at_their_line)
{
    cfg *c = load(refused[_i].xml);
    listen_set ls = { 0 };
    cfg_diag d = { 0 };
    ck_assert_int_eq(listen_add_cfg(&ls, cfg_child(cfg_root(c), "listen"), &d), XE_CONFIG);
    ck_assert_int_eq(d.line, 2);
    ck_assert_msg(strstr(d.message, refused[_i].message), "%s", d.message);
    ck_assert_uint_eq(ls.n_addrs, 0);
    listen_set_free(&ls);
    cfg_free(c);
}
END_TEST

static unsigned accepted;

static void on_accept(net_listener *l, net_conn *c, unsigned same_host)
{
    (void)l, (void)same_host;
    accepted++;
    net_conn_close(c);
}

static bool got_one(void)
{
    return accepted > 0;
}

static void on_connected(void *ud, net_conn *c, int err)
{
    (void)ud;
    if (err == 0)
        net_conn_close(c);
}

START_TEST(starts_accepts_and_stops)
{
    net_init(uv_default_loop());
    listen_set ls = { 0 };
    listen_add(&ls, "127.0.0.1:0", false);
    ck_assert(!listen_has_tls(&ls));
    ck_assert_int_eq(listen_start(&ls, NULL, on_accept, NULL, "test"), 0);
    ck_assert_uint_eq(ls.n_listeners, 1);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", net_listener_port(ls.listeners[0]));
    ck_assert_int_eq(net_connect(addr, false, NULL, NULL, NULL, NULL, on_connected), 0);
    testloop_run_until(got_one, 5000);
    ck_assert_uint_eq(accepted, 1);
    listen_stop(&ls);
    ck_assert_uint_eq(ls.n_listeners, 0);
    listen_set_free(&ls);
    uv_run(net_loop(), UV_RUN_NOWAIT);
}
END_TEST

START_TEST(reports_an_address_in_use)
{
    net_init(uv_default_loop());
    listen_set a = { 0 }, b = { 0 };
    listen_add(&a, "127.0.0.1:0", false);
    ck_assert_int_eq(listen_start(&a, NULL, on_accept, NULL, "test"), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", net_listener_port(a.listeners[0]));
    listen_add(&b, addr, false);
    ck_assert_int_lt(listen_start(&b, NULL, on_accept, NULL, "test"), 0);
    ck_assert_uint_eq(b.n_listeners, 0);
    listen_stop(&a);
    listen_set_free(&a);
    listen_set_free(&b);
    uv_run(net_loop(), UV_RUN_NOWAIT);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("listen");
    TCase *tc = tcase_create("listen");
    tcase_add_test(tc, reads_tcp_and_tls_addresses);
    tcase_add_loop_test(tc, refuses_bad_elements_at_their_line, 0,
                        sizeof refused / sizeof refused[0]);
    tcase_add_test(tc, starts_accepts_and_stops);
    tcase_add_test(tc, reports_an_address_in_use);
    suite_add_tcase(suite, tc);
    return suite;
}
