/* SPDX-License-Identifier: MIT */
/* tests/unit/test_listen.c: <listen> elements and their listeners, and what
 * every listening process reads alike: <certificate> and <limits>. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "libcommon/cfg.h"
#include "libcommon/error.h"
#include "libcommon/listen.h"
#include "libcommon/net.h"
#include "tests/unit/testcert.h"
#include "tests/unit/testcfg.h"
#include "tests/unit/testloop.h"
#include "tests/unit/unit.h"

START_TEST(reads_tcp_and_tls_addresses)
{
    cfg *c = testcfg_load("<xmppd>\n<listen tcp='127.0.0.1:5222'/>\n"
                          "<listen tls='[::1]:5223'/>\n</xmppd>");
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

static const char *over_limit_why;

static void on_accept_limited(net_listener *l, net_conn *c, unsigned same_host)
{
    (void)l;
    over_limit_why = listen_over_limit("test", c, same_host, 0);
    ck_assert_ptr_null(listen_over_limit("test", c, same_host, same_host));
    accepted++;
    net_conn_close(c);
}

START_TEST(a_connection_over_the_address_limit_gets_a_reason)
{
    net_init(uv_default_loop());
    listen_set ls = { 0 };
    listen_add(&ls, "127.0.0.1:0", false);
    ck_assert_int_eq(listen_start(&ls, NULL, on_accept_limited, NULL, "test"), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", net_listener_port(ls.listeners[0]));
    ck_assert_int_eq(net_connect(addr, false, NULL, NULL, NULL, NULL, on_connected), 0);
    testloop_run_until(got_one, 5000);
    ck_assert_str_eq(over_limit_why, "too many connections from your address");
    listen_stop(&ls);
    listen_set_free(&ls);
    uv_run(net_loop(), UV_RUN_NOWAIT);
}
END_TEST

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

/* --- <limits> --------------------------------------------------------------- */

static const listen_limits some_defaults = {
    .max_stanza_bytes = 65536, .max_depth = 32, .rate_bytes_per_s = 1000,
    .burst_bytes = 100000, .max_connections_per_address = 5, .idle_timeout_ms = 60000,
};
static const char *const own_attrs[] = { "auth-timeout", "queue", NULL };

static bool limits_are_defaults(const listen_limits *l)
{
    const listen_limits *d = &some_defaults;
    return l->max_stanza_bytes == d->max_stanza_bytes && l->max_depth == d->max_depth &&
           l->rate_bytes_per_s == d->rate_bytes_per_s && l->burst_bytes == d->burst_bytes &&
           l->max_connections_per_address == d->max_connections_per_address &&
           l->idle_timeout_ms == d->idle_timeout_ms;
}

START_TEST(limits_default_without_an_element)
{
    listen_limits l = some_defaults;
    cfg_diag d = { 0 };
    ck_assert_int_eq(listen_limits_cfg(NULL, own_attrs, &l, &d), 0);
    ck_assert(limits_are_defaults(&l));
}
END_TEST

START_TEST(limits_read_every_common_attribute)
{
    cfg *c = testcfg_load("<xmppd>\n<limits max-stanza-bytes='128k' max-depth='10' rate='2k' "
                  "burst='1M' max-connections-per-address='3' idle-timeout='5min' "
                  "auth-timeout='1s' queue='2'/>\n</xmppd>");
    listen_limits l = some_defaults;
    cfg_diag d = { 0 };
    ck_assert_int_eq(listen_limits_cfg(cfg_child(cfg_root(c), "limits"), own_attrs, &l, &d), 0);
    ck_assert_uint_eq(l.max_stanza_bytes, 128 * 1024);
    ck_assert_uint_eq(l.max_depth, 10);
    ck_assert_uint_eq(l.rate_bytes_per_s, 2048);
    ck_assert_uint_eq(l.burst_bytes, 1024 * 1024);
    ck_assert_uint_eq(l.max_connections_per_address, 3);
    ck_assert_uint_eq(l.idle_timeout_ms, 300000);
    cfg_free(c);
}
END_TEST

START_TEST(limits_burst_is_at_least_a_stanza)
{
    cfg *c = testcfg_load("<xmppd>\n<limits max-stanza-bytes='8k' burst='1k'/>\n</xmppd>");
    listen_limits l = some_defaults;
    cfg_diag d = { 0 };
    ck_assert_int_eq(listen_limits_cfg(cfg_child(cfg_root(c), "limits"), NULL, &l, &d), 0);
    ck_assert_uint_eq(l.burst_bytes, 8192);
    cfg_free(c);
}
END_TEST

/* --- refusals, at the element's line ---------------------------------------- */

static int read_listen(const cfg_node *n, cfg_diag *d)
{
    listen_set ls = { 0 };
    int rc = listen_add_cfg(&ls, n, d);
    ck_assert_uint_eq(ls.n_addrs, 0);
    listen_set_free(&ls);
    return rc;
}

static int read_limits(const cfg_node *n, cfg_diag *d)
{
    listen_limits l = some_defaults;
    int rc = listen_limits_cfg(n, own_attrs, &l, d);
    ck_assert(limits_are_defaults(&l));
    return rc;
}

static const struct {
    const char *xml;                  /* the element is on line 2 */
    int (*read)(const cfg_node *n, cfg_diag *d);
    const char *message;
} refused[] = {
    { "<xmppd>\n<listen/>\n</xmppd>", read_listen, "exactly one of tcp or tls" },
    { "<xmppd>\n<listen tcp='127.0.0.1:1' tls='127.0.0.1:2'/>\n</xmppd>", read_listen,
      "exactly one of tcp or tls" },
    { "<xmppd>\n<listen tcp='localhost'/>\n</xmppd>", read_listen, "is not HOST:PORT" },
    { "<xmppd>\n<listen udp='127.0.0.1:1'/>\n</xmppd>", read_listen, "udp" },
    { "<xmppd>\n<limits max-depth='1'/>\n</xmppd>", read_limits, "out of range" },
    { "<xmppd>\n<limits max-stanza-bytes='lots'/>\n</xmppd>", read_limits, "max-stanza-bytes" },
    { "<xmppd>\n<limits idle-timeout='-1'/>\n</xmppd>", read_limits, "idle-timeout" },
    { "<xmppd>\n<limits max-connections-per-address='0'/>\n</xmppd>", read_limits,
      "out of range" },
    { "<xmppd>\n<limits handshake-timeout='1s'/>\n</xmppd>", read_limits,
      "unknown attribute \"handshake-timeout\"" },
};

START_TEST(refuses_bad_elements_at_their_line)
{
    cfg *c = testcfg_load(refused[_i].xml);
    cfg_diag d = { 0 };
    ck_assert_int_eq(refused[_i].read(cfg_first(cfg_root(c)), &d), XE_CONFIG);
    ck_assert_int_eq(d.line, 2);
    ck_assert_msg(strstr(d.message, refused[_i].message), "%s", d.message);
    cfg_free(c);
}
END_TEST

/* --- <certificate> and the need for one ------------------------------------ */

static testcert certs;

static void certs_make(void)
{
    ck_assert_int_eq(testcert_make(&certs), 0);
}

static void certs_remove(void)
{
    testcert_remove(&certs);
}

static cfg *load_certificates(const char *cert1, const char *key1, const char *cert2,
                              const char *key2)
{
    char xml[2048];
    snprintf(xml, sizeof xml,
             "<xmppd>\n<certificate cert='%s' key='%s'/>\n"
             "<certificate domain='other.example' cert='%s' key='%s'/>\n</xmppd>",
             cert1, key1, cert2, key2);
    return testcfg_load(xml);
}

static const tls_ctx_opts server_opts = { .is_server = true };

/* The second <certificate> is other.example's, with its own key (_i 0) or
 * with a key that is not its own (_i 1). */
START_TEST(a_second_certificate_joins_the_context_or_is_refused_at_its_line)
{
    bool is_matching = _i == 0;
    cfg *c = load_certificates(certs.server_cert, certs.server_key, certs.other_cert,
                               is_matching ? certs.other_key : certs.server_key);
    const cfg_node *first = cfg_child(cfg_root(c), "certificate");
    tls_ctx *tls = NULL;
    cfg_diag d = { 0 };
    ck_assert_int_eq(listen_certificate_cfg(c, first, &server_opts, &tls, NULL, NULL, &d), 0);
    ck_assert_ptr_nonnull(tls);
    tls_ctx *made = tls;
    char *cert_path = NULL, *key_path = NULL;
    int rc = listen_certificate_cfg(c, cfg_next(first), &server_opts, &tls, &cert_path,
                                    &key_path, &d);
    ck_assert_ptr_eq(tls, made);
    if (is_matching) {
        ck_assert_int_eq(rc, 0);
        ck_assert_str_eq(cert_path, certs.other_cert);
        ck_assert_str_eq(key_path, certs.other_key);
    } else {
        ck_assert_int_eq(rc, XE_CONFIG);
        ck_assert_int_eq(d.line, 3);
        ck_assert_ptr_null(cert_path);
        ck_assert_ptr_null(key_path);
    }
    free(cert_path);
    free(key_path);
    tls_ctx_free(tls);
    cfg_free(c);
}
END_TEST

START_TEST(a_certificate_needs_cert_and_key)
{
    cfg *c = testcfg_load("<xmppd>\n<certificate cert='x.pem'/>\n</xmppd>");
    tls_ctx *tls = NULL;
    cfg_diag d = { 0 };
    ck_assert_int_eq(listen_certificate_cfg(c, cfg_child(cfg_root(c), "certificate"),
                                            &server_opts, &tls, NULL, NULL, &d), XE_CONFIG);
    ck_assert_int_eq(d.line, 2);
    ck_assert_msg(strstr(d.message, "key"), "%s", d.message);
    ck_assert_ptr_null(tls);
    cfg_free(c);
}
END_TEST

START_TEST(tls_without_a_certificate_is_refused)
{
    cfg *c = testcfg_load("<xmppd>\n<c2s/>\n</xmppd>");
    const cfg_node *sec = cfg_child(cfg_root(c), "c2s");
    listen_set plain = { 0 }, direct = { 0 };
    listen_add(&plain, "127.0.0.1:5222", false);
    listen_add(&direct, "127.0.0.1:5223", true);
    cfg_diag d = { 0 };
    ck_assert_int_eq(listen_check_tls(sec, &plain, false, NULL, &d), 0);
    ck_assert_int_eq(listen_check_tls(sec, &plain, true, NULL, &d), XE_CONFIG);
    ck_assert_int_eq(d.line, 2);
    ck_assert_msg(strstr(d.message, "there is no <certificate>"), "%s", d.message);
    ck_assert_int_eq(listen_check_tls(sec, &direct, false, NULL, &d), XE_CONFIG);
    tls_ctx *tls;
    char err[256];
    tls_ctx_opts o = { .is_server = true, .cert_file = certs.server_cert,
                       .key_file = certs.server_key };
    ck_assert_int_eq(tls_ctx_new(&o, &tls, err, sizeof err), 0);
    ck_assert_int_eq(listen_check_tls(sec, &direct, true, tls, &d), 0);
    tls_ctx_free(tls);
    listen_set_free(&plain);
    listen_set_free(&direct);
    cfg_free(c);
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
    tcase_add_test(tc, a_connection_over_the_address_limit_gets_a_reason);
    tcase_add_test(tc, limits_default_without_an_element);
    tcase_add_test(tc, limits_read_every_common_attribute);
    tcase_add_test(tc, limits_burst_is_at_least_a_stanza);
    suite_add_tcase(suite, tc);

    /* The certificates are made once per test, in a fixture. */
    TCase *cert = tcase_create("certificate");
    tcase_add_checked_fixture(cert, certs_make, certs_remove);
    tcase_add_loop_test(cert, a_second_certificate_joins_the_context_or_is_refused_at_its_line,
                        0, 2);
    tcase_add_test(cert, a_certificate_needs_cert_and_key);
    tcase_add_test(cert, tls_without_a_certificate_is_refused);
    suite_add_tcase(suite, cert);
    return suite;
}
