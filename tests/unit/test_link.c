/* SPDX-License-Identifier: MIT */
/* tests/unit/test_link.c: the component link against a small XEP-0114
 * acceptor run in the test on loopback: handshake, binds, queueing while
 * down, reconnecting and membership events. */
#include <check.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "libcommon/error.h"
#include "libcommon/link.h"
#include "libcommon/net.h"
#include "libcommon/xstream.h"
#include "tests/unit/testcert.h"
#include "tests/unit/testloop.h"
#include "tests/unit/unit.h"

#define SECRET "s3cret"

/* The acceptor: checks the handshake, answers binds, records stanzas. */
typedef struct acceptor {
    net_listener *listener;
    net_conn *conn;
    xstream *xs;
    bool is_authed;
    bool refuse_binds;
    unsigned connections, binds, stanzas;
    char last_stanza[512];
    char address[64];
} acceptor;

static acceptor a;

/* The link's side. */
static unsigned readies, downs, refusals, events;
static char last_from_router[512];

static void acc_open(void *ud, xs_elem *h)
{
    (void)ud;
    (void)h;
    const char *hdr = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                      "xmlns='jabber:component:accept' id='abc123'>";
    net_conn_send(a.conn, hdr, strlen(hdr));
}

static void acc_stanza(void *ud, xs_elem *st, const char *raw, size_t len)
{
    (void)ud;
    if (!a.is_authed) {
        char want[41], *in = xasprintf("abc123%s", SECRET);
        unsigned char d[20];
        gnutls_hash_fast(GNUTLS_DIG_SHA1, in, strlen(in), d);
        free(in);
        for (int i = 0; i < 20; i++)
            snprintf(want + 2 * i, 3, "%02x", d[i]);
        if (strcmp(xs_text(st), want) == 0) {
            a.is_authed = true;
            net_conn_send(a.conn, "<handshake/>", 12);
        } else {
            const char *e = "<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:"
                            "xmpp-streams'/></stream:error></stream:stream>";
            net_conn_send(a.conn, e, strlen(e));
            net_conn_close(a.conn);
        }
        return;
    }
    if (strcmp(xs_name(st), "bind") == 0) {
        a.binds++;
        xs_elem *r = xs_dup(st);
        if (a.refuse_binds && xs_attr(st, "name")) {
            xs_set_attr(r, "type", "error");
            xs_add_new(xs_add_new(r, "error", NULL), "not-allowed",
                       "urn:ietf:params:xml:ns:xmpp-stanzas");
        }
        char *s = xs_to_string(r, "jabber:component:accept");
        net_conn_send(a.conn, s, strlen(s));
        free(s);
        xs_unref(r);
        return;
    }
    a.stanzas++;
    snprintf(a.last_stanza, sizeof a.last_stanza, "%.*s", (int)len, raw);
}

static void acc_close(void *ud)
{
    (void)ud;
}

static void acc_stream_error(void *ud, xs_stream_condition c, const char *t)
{
    (void)ud;
    (void)c;
    (void)t;
}

static const xstream_events acc_xs_events = {
    .open = acc_open, .stanza = acc_stanza, .close = acc_close, .error = acc_stream_error,
};

static void acc_data(net_conn *c, const char *d, size_t n)
{
    (void)c;
    xstream_feed(a.xs, d, n);
}

static void acc_closed(net_conn *c)
{
    if (c == a.conn) {
        a.conn = NULL;
        xstream_free(a.xs);
        a.xs = NULL;
        a.is_authed = false;
    }
}

static void acc_error(net_conn *c, int err)
{
    tls_session *tls = net_conn_tls(c);
    fprintf(stderr, "acceptor: connection failed: %s %s\n", xe_str(err),
            tls && tls_session_error(tls) ? tls_session_error(tls) : "");
}

static const net_conn_events acc_net_events = {
    .data = acc_data, .error = acc_error, .closed = acc_closed,
};

static void acc_accept(net_listener *l, net_conn *c, unsigned same)
{
    (void)l;
    (void)same;
    a.connections++;
    a.conn = c;
    a.xs = xstream_new(NULL, false, &acc_xs_events, NULL);
    net_conn_set_events(c, &acc_net_events, NULL);
}

static void on_ready(link_conn *l, void *ud)
{
    (void)l;
    (void)ud;
    readies++;
}

static void on_stanza(link_conn *l, xs_elem *st, const char *raw, size_t len, void *ud)
{
    (void)l;
    (void)st;
    (void)ud;
    snprintf(last_from_router, sizeof last_from_router, "%.*s", (int)len, raw);
}

static void on_member(link_conn *l, const char *type, const char *inst,
                      const char *name, const char *kind, void *ud)
{
    (void)l;
    (void)ud;
    (void)name;
    (void)kind;
    if (strcmp(type, "attach") == 0 && strcmp(inst, "sm/2") == 0)
        events++;
}

static void on_down(link_conn *l, const char *why, void *ud)
{
    (void)l;
    (void)why;
    (void)ud;
    downs++;
}

static void on_refused(link_conn *l, const char *why, void *ud)
{
    (void)l;
    (void)why;
    (void)ud;
    refusals++;
}

static const link_events events_of_link = {
    .ready = on_ready, .stanza = on_stanza, .member = on_member,
    .down = on_down, .refused = on_refused,
};

static void setup(void)
{
    memset(&a, 0, sizeof a);
    readies = downs = refusals = events = 0;
    last_from_router[0] = '\0';
    net_init(uv_default_loop());
    net_listen_opts o = { .address = "127.0.0.1:0", .accept = acc_accept };
    ck_assert_int_eq(net_listen(&o, &a.listener), 0);
    snprintf(a.address, sizeof a.address, "127.0.0.1:%d", net_listener_port(a.listener));
}

/* Lets closing handles finish, so nothing is left for the leak checker. */
static void teardown(void)
{
    for (int i = 0; i < 100; i++)
        uv_run(net_loop(), UV_RUN_NOWAIT);
}

static const link_bind sm_binds[] = { { "sm", true }, { "example.com", false } };

static link_conn *new_link(const char *secret)
{
    link_opts o = {
        .address = a.address, .name = "sm", .secret = secret, .instance = "sm/1",
        .binds = sm_binds, .n_binds = 2, .max_backoff_ms = 200,
    };
    return link_new(&o, &events_of_link, NULL);
}

static bool is_ready(void) { return readies > 0; }
static bool got_stanza(void) { return a.stanzas > 0; }
static bool is_refused(void) { return refusals > 0; }
static bool ready_twice(void) { return readies >= 2; }
static bool got_event(void) { return events > 0; }
static bool got_reply(void) { return last_from_router[0] != '\0'; }

START_TEST(attaches_binds_and_sends)
{
    link_conn *l = new_link(SECRET);
    testloop_run_until(is_ready, 5000);
    ck_assert_uint_eq(readies, 1);
    ck_assert_uint_eq(a.binds, 3);          /* the instance, then two names */
    ck_assert(link_is_ready(l));
    ck_assert_int_eq(link_send_envelope(l, "store", "j@example.com", "<iq/>", 5), 0);
    testloop_run_until(got_stanza, 5000);
    ck_assert_str_eq(a.last_stanza, "<route xmlns='urn:xmppd:route' to='store' "
                                    "from='sm/1' key='j@example.com'><iq/></route>");
    const char *msg = "<message from='a@b' to='c@d'><body>x</body></message>";
    net_conn_send(a.conn, msg, strlen(msg));
    testloop_run_until(got_reply, 5000);
    ck_assert_str_eq(last_from_router, msg);
    link_free(l);
}
END_TEST

START_TEST(queues_while_down_and_reconnects)
{
    link_conn *l = new_link(SECRET);
    /* Sent before the link is up: held, then delivered after the binds. */
    ck_assert_int_eq(link_send(l, "<message to='x@y' from='a@example.com'/>", 40), 0);
    testloop_run_until(got_stanza, 5000);
    ck_assert_uint_eq(a.stanzas, 1);
    net_conn_close(a.conn);                 /* the router goes away */
    testloop_run_until(ready_twice, 5000);
    ck_assert_uint_ge(downs, 1);
    ck_assert_uint_eq(a.connections, 2);
    ck_assert_uint_eq(readies, 2);
    link_free(l);
}
END_TEST

START_TEST(stops_retrying_when_the_secret_is_wrong)
{
    link_conn *l = new_link("wrong");
    testloop_run_until(is_refused, 5000);
    ck_assert_uint_eq(refusals, 1);
    ck_assert_uint_eq(readies, 0);
    testloop_run_until(ready_twice, 600);            /* no reconnect attempts follow */
    ck_assert_uint_eq(a.connections, 1);
    link_free(l);
}
END_TEST

START_TEST(stops_when_a_bind_is_refused)
{
    a.refuse_binds = true;
    link_conn *l = new_link(SECRET);
    testloop_run_until(is_refused, 5000);
    ck_assert_uint_eq(refusals, 1);
    ck_assert_uint_eq(readies, 0);
    link_free(l);
}
END_TEST

START_TEST(reports_membership_events)
{
    link_conn *l = new_link(SECRET);
    testloop_run_until(is_ready, 5000);
    const char *ev = "<route xmlns='urn:xmppd:route' from='router' to='sm/1'>"
                     "<event xmlns='urn:xmppd:router' type='attach' instance='sm/2'/></route>";
    net_conn_send(a.conn, ev, strlen(ev));
    testloop_run_until(got_event, 5000);
    ck_assert_uint_eq(events, 1);
    ck_assert_str_eq(last_from_router, "");  /* events are not stanzas */
    link_free(l);
}
END_TEST

/* The acceptor again, but behind TLS that asks for a client certificate. */
static void start_tls_acceptor(testcert *tc, tls_ctx **server, tls_ctx **client,
                               const char *client_cert, const char *client_key)
{
    char err[256];
    ck_assert_int_eq(testcert_make(tc), 0);
    tls_ctx_opts so = { .is_server = true, .cert_file = tc->server_cert,
                        .key_file = tc->server_key, .ca_file = tc->ca_cert,
                        .verify_peer = true };
    ck_assert_int_eq(tls_ctx_new(&so, server, err, sizeof err), 0);
    tls_ctx_opts co = { .cert_file = client_cert, .key_file = client_key,
                        .ca_file = tc->ca_cert, .verify_peer = true };
    ck_assert_int_eq(tls_ctx_new(&co, client, err, sizeof err), 0);
    net_listener_close(a.listener);
    net_listen_opts o = { .address = "127.0.0.1:0", .accept = acc_accept, .tls = *server };
    ck_assert_int_eq(net_listen(&o, &a.listener), 0);
    snprintf(a.address, sizeof a.address, "127.0.0.1:%d", net_listener_port(a.listener));
}

/* Everything using the contexts must be gone before they are freed. */
static void stop_tls_acceptor(testcert *tc, tls_ctx *server, tls_ctx *client)
{
    teardown();
    if (a.conn)
        net_conn_close(a.conn);
    net_listener_close(a.listener);
    teardown();
    tls_ctx_free(server);
    tls_ctx_free(client);
    testcert_remove(tc);
}

static link_conn *new_tls_link(tls_ctx *client, const char *name)
{
    link_opts o = {
        .address = a.address, .tls = client, .tls_name = name, .name = "sm",
        .secret = SECRET, .instance = "sm/1", .max_backoff_ms = 100,
    };
    return link_new(&o, &events_of_link, NULL);
}

START_TEST(attaches_over_tls_with_certificates_checked_both_ways)
{
    testcert tc;
    tls_ctx *server, *client;
    start_tls_acceptor(&tc, &server, &client, NULL, NULL);
    tls_ctx *client_with_cert;
    char err[256];
    tls_ctx_opts co = { .cert_file = tc.client_cert, .key_file = tc.client_key,
                        .ca_file = tc.ca_cert, .verify_peer = true };
    ck_assert_int_eq(tls_ctx_new(&co, &client_with_cert, err, sizeof err), 0);
    link_conn *l = new_tls_link(client_with_cert, "localhost");
    testloop_run_until(is_ready, 5000);
    ck_assert_uint_eq(readies, 1);
    ck_assert(net_conn_is_tls(a.conn));
    ck_assert(tls_session_peer_verified(net_conn_tls(a.conn)));
    link_send(l, "<message from='a@b' to='c@d'/>", 30);
    testloop_run_until(got_stanza, 5000);
    ck_assert_str_eq(a.last_stanza, "<message from='a@b' to='c@d'/>");
    link_free(l);
    stop_tls_acceptor(&tc, server, client);
    tls_ctx_free(client_with_cert);
}
END_TEST

static bool tried_twice(void) { return downs >= 2; }

START_TEST(never_attaches_to_a_router_with_the_wrong_name_or_without_a_client_cert)
{
    testcert tc;
    tls_ctx *server, *client;
    start_tls_acceptor(&tc, &server, &client, NULL, NULL);
    /* The router's certificate does not name "router.example". */
    link_conn *l = new_tls_link(client, "router.example");
    testloop_run_until(tried_twice, 5000);
    ck_assert_uint_eq(readies, 0);
    ck_assert_uint_ge(downs, 2);        /* it keeps retrying, never attached */
    link_free(l);
    /* The right name, but no client certificate: the router refuses. */
    downs = 0;
    a.connections = 0;
    l = new_tls_link(client, "localhost");
    testloop_run_until(tried_twice, 5000);
    ck_assert_uint_ge(downs, 2);
    ck_assert_uint_eq(readies, 0);
    ck_assert(!a.is_authed);
    link_free(l);
    stop_tls_acceptor(&tc, server, client);
}
END_TEST

START_TEST(sending_on_a_freed_link_is_refused_not_a_crash)
{
    /* A stopping process frees its link first and ends its sessions after. */
    ck_assert_int_eq(link_send(NULL, "<x/>", 4), XE_CLOSED);
    ck_assert_int_eq(link_send_envelope(NULL, "sm", "a@b", "<x/>", 4), XE_CLOSED);
    ck_assert_int_eq(link_send_stanza(NULL, xs_new("message", NULL)), XE_CLOSED);
}
END_TEST

START_TEST(refuses_to_queue_past_its_limit)
{
    link_opts o = { .address = "127.0.0.1:1", .name = "x", .secret = "s",
                    .max_queue_bytes = 100 };
    link_conn *l = link_new(&o, &events_of_link, NULL);
    char big[80];
    memset(big, ' ', sizeof big);
    ck_assert_int_eq(link_send(l, big, sizeof big), 0);
    ck_assert_int_lt(link_send(l, big, sizeof big), 0);
    ck_assert_uint_eq(link_queued(l), sizeof big);
    link_free(l);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("link");
    TCase *tc = tcase_create("link");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, attaches_binds_and_sends);
    tcase_add_test(tc, queues_while_down_and_reconnects);
    tcase_add_test(tc, stops_retrying_when_the_secret_is_wrong);
    tcase_add_test(tc, stops_when_a_bind_is_refused);
    tcase_add_test(tc, reports_membership_events);
    tcase_add_test(tc, refuses_to_queue_past_its_limit);
    tcase_add_test(tc, sending_on_a_freed_link_is_refused_not_a_crash);
    suite_add_tcase(suite, tc);

    TCase *tls = tcase_create("tls");
    tcase_add_checked_fixture(tls, setup, teardown);
    tcase_set_timeout(tls, 30);
    tcase_add_test(tls, attaches_over_tls_with_certificates_checked_both_ways);
    tcase_add_test(tls, never_attaches_to_a_router_with_the_wrong_name_or_without_a_client_cert);
    suite_add_tcase(suite, tls);
    return suite;
}
