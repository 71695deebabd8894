/* SPDX-License-Identifier: MIT */
/* tests/unit/test_tls.c: TLS sessions wired to each other in memory (see
 * tls_pair.h), and a STARTTLS upgrade of a live TCP connection. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/tls_pair.h"
#include "tests/unit/tls_tcp.h"
#include "tests/unit/unit.h"

#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "libcommon/error.h"
#include "libcommon/tls.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char tls12_only[] = "NORMAL:-VERS-ALL:+VERS-TLS1.2";
static const char tls13_only[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3";

static const struct {
    const char *priorities, *version;
} versions[] = {
    {NULL, "TLS1.3"}, /* the default prefers the newest */
    {tls13_only, "TLS1.3"},
    {tls12_only, "TLS1.2"},
};

START_TEST(handshake_then_data_flows_both_ways)
{
    tls_pair p;

    tls_pair_connect(&p, versions[_i].priorities, "localhost");
    ck_assert_str_eq(tls_session_version(p.client.s), versions[_i].version);
    ck_assert_str_eq(tls_session_version(p.server.s), versions[_i].version);
    ck_assert_pstr_eq(tls_session_sni(p.server.s), "localhost");
    ck_assert_pstr_eq(tls_session_sni(p.client.s), NULL);
    tls_pair_exchange(&p, "<stream>", "<features/>");
    tls_pair_assert_got(&p.server, "<stream>");
    tls_pair_assert_got(&p.client, "<features/>");
    tls_pair_close(&p);
}
END_TEST

START_TEST(a_trimmed_session_goes_on)
{
    tls_pair p;

    tls_pair_connect(&p, NULL, "localhost");
    tls_pair_exchange(&p, "<a/>", NULL);
    tls_session_trim(p.client.s);
    tls_session_trim(p.server.s);
    tls_pair_exchange(&p, "<b/>", "<c/>");
    tls_pair_assert_got(&p.server, "<a/><b/>");
    tls_pair_assert_got(&p.client, "<c/>");
    tls_pair_close(&p);
}
END_TEST

/* XEP-0368: on direct TLS, ALPN is agreed when both ends name the same
 * protocol; a handshake without it (or with another) goes on without ALPN.
 * STARTTLS sessions never use it. */
static const struct { const char *client, *server; bool is_direct; const char *agreed; } alpns[] = {
    { "xmpp-client", "xmpp-client", true, "xmpp-client" },
    { NULL, "xmpp-client", true, NULL },
    { "xmpp-server", "xmpp-client", true, NULL },
    { "xmpp-server", NULL, true, NULL },
    { "xmpp-client", "xmpp-client", false, NULL },
};

START_TEST(alpn_is_agreed_only_on_the_same_protocol)
{
    tls_pair p;
    tls_ctx_opts copts = { .ca_file = tls_pair_certs.ca_cert, .verify_peer = true,
                           .alpn = alpns[_i].client };
    tls_ctx_opts sopts = tls_pair_server_opts(NULL);
    sopts.alpn = alpns[_i].server;

    tls_pair_direct = alpns[_i].is_direct;
    tls_pair_open(&p, tls_pair_ctx(&copts), "localhost", tls_pair_ctx(&sopts));
    tls_pair_direct = false;
    tls_pair_assert_connected(&p);
    ck_assert_pstr_eq(tls_session_alpn(p.client.s), alpns[_i].agreed);
    ck_assert_pstr_eq(tls_session_alpn(p.server.s), alpns[_i].agreed);
    tls_pair_close(&p);
}
END_TEST

START_TEST(client_checks_the_server_names)
{
    tls_pair p;

    tls_pair_connect(&p, NULL, "example.com");
    ck_assert(tls_session_peer_verified(p.client.s));
    ck_assert(tls_session_peer_has_name(p.client.s, "example.com"));
    ck_assert(tls_session_peer_has_name(p.client.s, "LOCALHOST"));
    ck_assert(
        tls_session_peer_has_name(p.client.s, "chat.example")); /* XmppAddr */
    ck_assert(!tls_session_peer_has_name(p.client.s, "other.example"));
    ck_assert(!tls_session_peer_verified(p.server.s)); /* no client cert */
    tls_pair_close(&p);
}
END_TEST

START_TEST(handshake_survives_one_byte_at_a_time)
{
    tls_pair p;

    tls_pair_feed_max = 1;
    tls_pair_connect(&p, versions[_i].priorities, "localhost");
    tls_pair_exchange(&p, "split", NULL);
    tls_pair_assert_got(&p.server, "split");
    tls_pair_close(&p);
}
END_TEST

static char *pattern_new(size_t len, unsigned int seed)
{
    char *bytes = xalloc(len);
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        bytes[i] = (char)(seed >> 16);
    }
    return bytes;
}

START_TEST(a_mebibyte_arrives_intact_both_ways)
{
    enum { LEN = 1 << 20, PIECE = 1000 };
    char *up = pattern_new(LEN, 1), *down = pattern_new(LEN, 2);
    tls_pair p;

    tls_pair_connect(&p, NULL, "localhost");
    ck_assert_int_eq(tls_session_send(p.client.s, up, LEN), 0);
    /* In pieces too, as a stream writer would. */
    for (size_t off = 0; off < LEN; off += PIECE) {
        size_t n = LEN - off < PIECE ? LEN - off : PIECE;
        ck_assert_int_eq(tls_session_send(p.server.s, down + off, n), 0);
    }
    tls_pair_pump(&p);
    ck_assert_uint_eq(buf_len(&p.server.got), LEN);
    ck_assert_uint_eq(buf_len(&p.client.got), LEN);
    ck_assert_int_eq(memcmp(buf_data(&p.server.got), up, LEN), 0);
    ck_assert_int_eq(memcmp(buf_data(&p.client.got), down, LEN), 0);
    free(up);
    free(down);
    tls_pair_close(&p);
}
END_TEST

START_TEST(sni_picks_the_certificate_with_the_name)
{
    static const char *const names[] = {"other.example", "example.com"};
    tls_ctx *sctx = tls_pair_server_ctx(NULL);
    tls_ctx *cctx = tls_pair_client_ctx(NULL);
    char err[512] = "";

    ck_assert_int_eq(tls_ctx_add_cert(sctx, tls_pair_certs.other_cert,
                                      tls_pair_certs.other_key, err,
                                      sizeof err),
                     0);
    for (size_t i = 0; i < NELEMS(names); i++) {
        tls_pair p;
        tls_pair_open(&p, cctx, names[i], sctx);
        tls_pair_assert_connected(&p);
        ck_assert_pstr_eq(tls_session_sni(p.server.s), names[i]);
        ck_assert(tls_session_peer_has_name(p.client.s, names[i]));
        tls_pair_end(&p, false);
    }
    tls_ctx_free(cctx);
    tls_ctx_free(sctx);
}
END_TEST

/* A server with the rogue certificate: self-signed, not by the test CA. */
static tls_ctx *rogue_server_ctx(void)
{
    tls_ctx_opts opts = tls_pair_server_opts(NULL);
    opts.cert_file = tls_pair_certs.rogue_cert;
    opts.key_file = tls_pair_certs.rogue_key;
    return tls_pair_ctx(&opts);
}

/* The server presents the rogue or the CA-signed server certificate. */
static const struct {
    bool is_rogue;
    const char *name;
} bad_servers[] = {
    {true, "localhost"},      /* not signed by the CA */
    {false, "wrong.example"}, /* signed, for other names */
    {false, "other.example"},
};

START_TEST(client_refuses_a_certificate_that_does_not_verify)
{
    tls_ctx *sctx = bad_servers[_i].is_rogue ? rogue_server_ctx()
                                             : tls_pair_server_ctx(NULL);
    tls_pair p;

    tls_pair_open(&p, tls_pair_client_ctx(NULL), bad_servers[_i].name, sctx);
    ck_assert_msg(p.client.feed_err == XE_CERT, "client: %s: %s",
                  xe_str(p.client.feed_err), tls_session_error(p.client.s));
    ck_assert_int_eq(p.client.ready_count, 0);
    ck_assert(!tls_session_is_ready(p.client.s));
    ck_assert_ptr_nonnull(strstr(tls_session_error(p.client.s), "verify"));
    ck_assert_int_eq(tls_session_send(p.client.s, "x", 1), XE_TLS);
    ck_assert_int_eq(tls_session_feed(p.client.s, "x", 1), XE_CERT);
    /* The server hears why. */
    ck_assert_int_eq(p.server.feed_err, XE_TLS);
    tls_pair_close(&p);
}
END_TEST

START_TEST(client_without_verify_peer_connects_and_reports)
{
    tls_ctx *cctx =
        tls_pair_ctx(&(tls_ctx_opts){.ca_file = tls_pair_certs.ca_cert});
    tls_pair p;

    tls_pair_open(&p, cctx, "localhost", rogue_server_ctx());
    tls_pair_assert_connected(&p);
    ck_assert(!tls_session_peer_verified(p.client.s));
    ck_assert(!tls_session_peer_has_name(p.client.s, "localhost"));
    tls_pair_close(&p);
}
END_TEST

enum client_cert { CLIENT_NO_CERT, CLIENT_ROGUE, CLIENT_SIGNED };

static tls_ctx *client_ctx_with(enum client_cert which)
{
    tls_ctx_opts opts = {.ca_file = tls_pair_certs.ca_cert,
                         .verify_peer = true};
    if (which == CLIENT_ROGUE) {
        opts.cert_file = tls_pair_certs.rogue_cert;
        opts.key_file = tls_pair_certs.rogue_key;
    } else if (which == CLIENT_SIGNED) {
        opts.cert_file = tls_pair_certs.client_cert;
        opts.key_file = tls_pair_certs.client_key;
    }
    return tls_pair_ctx(&opts);
}

static const struct {
    enum client_cert which;
    const char *priorities;
    int server_err;
} client_certs[] = {
    {CLIENT_NO_CERT, NULL, XE_CERT},
    {CLIENT_ROGUE, NULL, XE_CERT},
    {CLIENT_SIGNED, NULL, 0},
    {CLIENT_NO_CERT, tls12_only, XE_CERT},
    {CLIENT_ROGUE, tls12_only, XE_CERT},
    {CLIENT_SIGNED, tls12_only, 0},
};

START_TEST(server_with_verify_peer_accepts_only_ca_signed_clients)
{
    tls_ctx_opts opts = tls_pair_server_opts(client_certs[_i].priorities);
    opts.ca_file = tls_pair_certs.ca_cert;
    opts.verify_peer = true;
    tls_pair p;

    tls_pair_open(&p, client_ctx_with(client_certs[_i].which), "localhost",
                  tls_pair_ctx(&opts));
    ck_assert_msg(p.server.feed_err == client_certs[_i].server_err,
                  "server: %s: %s", xe_str(p.server.feed_err),
                  tls_session_error(p.server.s));
    if (client_certs[_i].server_err == 0) {
        tls_pair_assert_connected(&p);
        ck_assert(tls_session_peer_verified(p.server.s));
        ck_assert(tls_session_peer_has_name(p.server.s, "client.example"));
        ck_assert(!tls_session_peer_has_name(p.server.s, "localhost"));
    } else {
        ck_assert_int_eq(p.server.ready_count, 0);
        ck_assert(!tls_session_peer_verified(p.server.s));
        /* Under TLS 1.3 the client may finish first; the alert follows. */
        ck_assert_int_eq(p.client.feed_err, XE_TLS);
        ck_assert(!tls_session_is_ready(p.client.s));
    }
    tls_pair_close(&p);
}
END_TEST

/* Servers that ask for a client certificate without requiring one. With
 * request_peer but no ca_file the system store checks it, which does not
 * know the test CA: nothing verifies, but every client connects. */
static const struct {
    bool has_ca_file, request_peer;
} askers[] = {
    {true, false}, /* ca_file alone asks */
    {true, true},  /* request_peer with ca_file: as ca_file alone */
    {false, true},
};

START_TEST(server_asking_for_a_client_certificate_lets_every_client_in)
{
    static const enum client_cert which[] = {CLIENT_NO_CERT, CLIENT_ROGUE,
                                             CLIENT_SIGNED};
    tls_ctx_opts opts = tls_pair_server_opts(NULL);
    opts.ca_file = askers[_i].has_ca_file ? tls_pair_certs.ca_cert : NULL;
    opts.request_peer = askers[_i].request_peer;
    tls_ctx *sctx = tls_pair_ctx(&opts);

    for (size_t i = 0; i < NELEMS(which); i++) {
        tls_pair p;
        tls_pair_open(&p, client_ctx_with(which[i]), "localhost", sctx);
        tls_pair_assert_connected(&p);
        ck_assert(tls_session_peer_verified(p.server.s) ==
                  (askers[_i].has_ca_file && which[i] == CLIENT_SIGNED));
        tls_pair_end(&p, false);
        tls_ctx_free(p.cctx);
    }
    tls_ctx_free(sctx);
}
END_TEST

START_TEST(data_sent_before_ready_is_delivered_after)
{
    const char *prio = versions[_i].priorities;
    tls_pair p;

    tls_pair_start(&p, tls_pair_client_ctx(prio), "localhost",
                   tls_pair_server_ctx(prio));
    size_t hello_len = buf_len(&p.client.wire);
    ck_assert_int_eq(tls_session_send(p.client.s, "early ", 6), 0);
    ck_assert_int_eq(tls_session_send(p.client.s, "bird", 4), 0);
    ck_assert_int_eq(tls_session_send(p.server.s, "<features/>", 11), 0);
    /* Nothing goes out in clear. */
    ck_assert_uint_eq(buf_len(&p.client.wire), hello_len);
    ck_assert_uint_eq(buf_len(&p.server.wire), 0);
    ck_assert_ptr_null(tls_session_version(p.client.s));
    tls_pair_pump(&p);
    tls_pair_assert_connected(&p);
    tls_pair_assert_got(&p.server, "early bird");
    tls_pair_assert_got(&p.client, "<features/>");
    tls_pair_close(&p);
}
END_TEST

START_TEST(callbacks_may_send_and_say_bye)
{
    tls_pair p;

    tls_pair_connect(&p, NULL, "localhost");
    p.server.echo = true;
    p.client.bye_on_recv = true;
    tls_pair_exchange(&p, "ping", NULL);
    tls_pair_assert_got(&p.server, "ping");
    tls_pair_assert_got(&p.client, "ping");
    ck_assert_int_eq(p.server.feed_err, XE_CLOSED);
    ck_assert_int_eq(tls_session_send(p.client.s, "more", 4), XE_CLOSED);
    tls_pair_close(&p);
}
END_TEST

/* Each send feeds the other end from inside gnutls: the nested feeds must
 * be queued and still be read. */
START_TEST(sessions_wired_directly_still_work)
{
    const char *prio = versions[_i].priorities;
    tls_pair p;

    tls_pair_start(&p, tls_pair_client_ctx(prio), "localhost",
                   tls_pair_server_ctx(prio));
    p.client.peer = &p.server;
    p.server.peer = &p.client;
    p.server.echo = true;
    ck_assert_int_eq(tls_session_send(p.client.s, "early", 5), 0);
    tls_pair_pump(&p); /* the ClientHello sent before wiring */
    tls_pair_assert_connected(&p);
    ck_assert_int_eq(tls_session_send(p.client.s, " and late", 9), 0);
    tls_pair_assert_got(&p.server, "early and late");
    tls_pair_assert_got(&p.client, "early and late");
    tls_session_bye(p.client.s);
    ck_assert_int_eq(p.server.feed_err, XE_CLOSED);
    tls_pair_close(&p);
}
END_TEST

START_TEST(close_notify_gives_closed)
{
    tls_pair p;

    tls_pair_connect(&p, versions[_i].priorities, "localhost");
    ck_assert_int_eq(tls_session_send(p.client.s, "last words", 10), 0);
    tls_session_bye(p.client.s);
    tls_session_bye(p.client.s); /* once is enough */
    ck_assert_int_eq(tls_session_send(p.client.s, "more", 4), XE_CLOSED);
    tls_pair_pump(&p);
    tls_pair_assert_got(&p.server, "last words");
    ck_assert_int_eq(p.server.feed_err, XE_CLOSED);
    ck_assert_int_eq(tls_session_feed(p.server.s, "x", 1), XE_CLOSED);
    ck_assert_ptr_nonnull(
        strstr(tls_session_error(p.server.s), "close_notify"));
    /* Closing is one way: the server may still answer (RFC 8446 §6.1). */
    if (strcmp(versions[_i].version, "TLS1.3") == 0) {
        tls_pair_exchange(&p, NULL, "bye too");
        tls_pair_assert_got(&p.client, "bye too");
    }
    tls_pair_close(&p);
}
END_TEST

static const struct {
    const char *bytes;
    size_t len;
} garbage[] = {
    {"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 37},
    {"<?xml version='1.0'?><stream:stream>", 36},
    {"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", 10}, /* bogus ClientHello */
    {"\x17\x03\x03\x00\x04zzzz", 9}, /* data before a handshake */
};

START_TEST(garbage_makes_the_server_fail)
{
    tls_ctx *sctx = tls_pair_server_ctx(NULL);
    tls_pair_side server;

    tls_pair_side_open(&server, sctx, NULL);
    int rc = tls_session_feed(server.s, garbage[_i].bytes, garbage[_i].len);
    ck_assert_msg(rc == XE_TLS, "got %s", xe_str(rc));
    ck_assert_str_ne(tls_session_error(server.s), "no error");
    ck_assert_int_eq(tls_session_feed(server.s, "x", 1), XE_TLS);
    ck_assert_int_eq(tls_session_send(server.s, "x", 1), XE_TLS);
    ck_assert_int_eq(server.ready_count, 0);
    tls_pair_side_close(&server);
    tls_ctx_free(sctx);
}
END_TEST

static const struct {
    const char *priorities;
    const char *type;
    int err;
    size_t len;
} bindings[] = {
    {NULL, "tls-exporter", 0, 32},
    {NULL, "tls-server-end-point", 0, 32}, /* SHA-256 of the certificate */
    {NULL, "tls-unique", XE_NOT_FOUND, 0}, /* undefined under TLS 1.3 */
    {tls12_only, "tls-exporter", 0, 32},   /* with extended master secret */
    {tls12_only, "tls-server-end-point", 0, 32},
    {tls12_only, "tls-unique", 0, 12},
    {NULL, "tls-bogus", XE_NOT_FOUND, 0},
};

START_TEST(channel_bindings_match_on_both_ends)
{
    const char *type = bindings[_i].type;
    unsigned char cb_client[TLS_CHANNEL_BINDING_MAX];
    unsigned char cb_server[TLS_CHANNEL_BINDING_MAX];
    size_t client_len = sizeof cb_client, server_len = sizeof cb_server;
    tls_pair p;

    tls_pair_connect(&p, bindings[_i].priorities, "localhost");
    ck_assert_int_eq(
        tls_session_channel_binding(p.client.s, type, cb_client, &client_len),
        bindings[_i].err);
    ck_assert_int_eq(
        tls_session_channel_binding(p.server.s, type, cb_server, &server_len),
        bindings[_i].err);
    if (bindings[_i].err == 0) {
        ck_assert_uint_eq(client_len, bindings[_i].len);
        ck_assert_uint_eq(server_len, bindings[_i].len);
        ck_assert_int_eq(memcmp(cb_client, cb_server, client_len), 0);
        size_t small = client_len - 1;
        ck_assert_int_eq(
            tls_session_channel_binding(p.client.s, type, cb_client, &small),
            XE_LIMIT);
    }
    tls_pair_close(&p);
}
END_TEST

START_TEST(channel_bindings_differ_between_connections)
{
    tls_ctx *sctx = tls_pair_server_ctx(NULL),
            *cctx = tls_pair_client_ctx(NULL);
    unsigned char cb[2][TLS_CHANNEL_BINDING_MAX];
    size_t len[2] = {sizeof cb[0], sizeof cb[1]};

    for (int i = 0; i < 2; i++) {
        tls_pair p;
        tls_pair_open(&p, cctx, "localhost", sctx);
        tls_pair_assert_connected(&p);
        ck_assert_int_eq(tls_session_channel_binding(p.client.s, "tls-exporter",
                                                     cb[i], &len[i]),
                         0);
        tls_pair_end(&p, false);
    }
    tls_ctx_free(cctx);
    tls_ctx_free(sctx);
    ck_assert_uint_eq(len[0], len[1]);
    ck_assert_int_ne(memcmp(cb[0], cb[1], len[0]), 0);
}
END_TEST

START_TEST(channel_binding_needs_a_finished_handshake)
{
    unsigned char cb[TLS_CHANNEL_BINDING_MAX];
    size_t len = sizeof cb;
    tls_pair p;

    tls_pair_start(&p, tls_pair_client_ctx(NULL), "localhost",
                   tls_pair_server_ctx(NULL));
    ck_assert_int_eq(
        tls_session_channel_binding(p.client.s, "tls-exporter", cb, &len),
        XE_TLS);
    tls_pair_close(&p);
}
END_TEST

/* ---- context errors ---- */

START_TEST(bad_contexts_are_config_errors)
{
    const char *missing = "/nonexistent/xmppd/cert.pem";
    const tls_ctx_opts cases[] = {
        {.is_server = true},
        {.is_server = true, .cert_file = missing, .key_file = missing},
        {.is_server = true, .cert_file = tls_pair_certs.server_cert},
        {.is_server = true,
         .cert_file = tls_pair_certs.server_cert,
         .key_file = tls_pair_certs.other_key},
        {.is_server = true,
         .cert_file = tls_pair_certs.server_cert,
         .key_file = tls_pair_certs.server_key,
         .priorities = "NORMAL:+BOGUS-THING"},
        {.ca_file = missing},
        {.ca_file = tls_pair_certs.server_key}, /* no certificate in it */
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tls_ctx *ctx = (tls_ctx *)&ctx; /* not NULL: it must be cleared */
        char err[512] = "";
        ck_assert_int_eq(tls_ctx_new(&cases[i], &ctx, err, sizeof err),
                         XE_CONFIG);
        ck_assert_ptr_null(ctx);
        ck_assert_msg(err[0] != '\0', "case %zu gives no reason", i);
        if (cases[i].cert_file == missing || cases[i].ca_file == missing)
            ck_assert_ptr_nonnull(strstr(err, missing));
    }
    tls_ctx *ctx = tls_pair_server_ctx(NULL);
    char err[512] = "";
    ck_assert_int_eq(tls_ctx_add_cert(ctx, missing, missing, err, sizeof err),
                     XE_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, missing));
    tls_ctx_free(ctx);
    tls_ctx_free(NULL);
    tls_session_free(NULL);
}
END_TEST

/* ---- STARTTLS over a real TCP connection (see tls_tcp.h) ---- */

START_TEST(starttls_upgrades_a_live_tcp_connection)
{
    tls_ctx *sctx = tls_pair_server_ctx(NULL);
    tls_ctx *cctx = tls_pair_client_ctx(NULL);
    tls_tcp *t = tls_tcp_starttls(cctx, sctx);
    tls_session *client = tls_tcp_session(t, false);
    tls_session *server = tls_tcp_session(t, true);

    ck_assert_msg(tls_tcp_failure(t)[0] == '\0', "%s", tls_tcp_failure(t));
    ck_assert_str_eq(tls_tcp_result(t), "<pong over='tls'/>");
    ck_assert_ptr_nonnull(client);
    ck_assert_ptr_nonnull(server);
    ck_assert(tls_session_is_ready(client));
    ck_assert(tls_session_peer_verified(client));
    ck_assert_pstr_eq(tls_session_sni(server), "localhost");
    ck_assert_str_eq(tls_session_version(client), "TLS1.3");
    tls_tcp_free(t);
    tls_ctx_free(cctx);
    tls_ctx_free(sctx);
}
END_TEST

/* Every test starts feeding whole, also under CK_FORK=no, where a test that
 * lowered tls_pair_feed_max would otherwise leave it low for the next. */
static void feed_all_at_once(void)
{
    tls_pair_feed_max = SIZE_MAX;
}

Suite *unit_suite(void)
{
    Suite *suite = suite_create("tls");
    TCase *memory = tcase_create("memory");
    TCase *socket = tcase_create("socket");

    tcase_add_unchecked_fixture(memory, tls_pair_certs_make,
                                tls_pair_certs_remove);
    tcase_add_checked_fixture(memory, feed_all_at_once, NULL);
    tcase_set_timeout(memory, 60);
    tcase_add_loop_test(memory, handshake_then_data_flows_both_ways, 0,
                        NELEMS(versions));
    tcase_add_test(memory, client_checks_the_server_names);
    tcase_add_test(memory, a_trimmed_session_goes_on);
    tcase_add_loop_test(memory, alpn_is_agreed_only_on_the_same_protocol, 0,
                        sizeof alpns / sizeof alpns[0]);
    tcase_add_loop_test(memory, handshake_survives_one_byte_at_a_time, 0,
                        NELEMS(versions));
    tcase_add_test(memory, a_mebibyte_arrives_intact_both_ways);
    tcase_add_test(memory, sni_picks_the_certificate_with_the_name);
    tcase_add_loop_test(memory,
                        client_refuses_a_certificate_that_does_not_verify, 0,
                        NELEMS(bad_servers));
    tcase_add_test(memory, client_without_verify_peer_connects_and_reports);
    tcase_add_loop_test(memory,
                        server_with_verify_peer_accepts_only_ca_signed_clients,
                        0, NELEMS(client_certs));
    tcase_add_loop_test(
        memory, server_asking_for_a_client_certificate_lets_every_client_in, 0,
        NELEMS(askers));
    tcase_add_loop_test(memory, data_sent_before_ready_is_delivered_after, 0,
                        NELEMS(versions));
    tcase_add_test(memory, callbacks_may_send_and_say_bye);
    tcase_add_loop_test(memory, sessions_wired_directly_still_work, 0,
                        NELEMS(versions));
    tcase_add_loop_test(memory, close_notify_gives_closed, 0, NELEMS(versions));
    tcase_add_loop_test(memory, garbage_makes_the_server_fail, 0,
                        NELEMS(garbage));
    tcase_add_loop_test(memory, channel_bindings_match_on_both_ends, 0,
                        NELEMS(bindings));
    tcase_add_test(memory, channel_bindings_differ_between_connections);
    tcase_add_test(memory, channel_binding_needs_a_finished_handshake);
    tcase_add_test(memory, bad_contexts_are_config_errors);
    suite_add_tcase(suite, memory);

    tcase_add_unchecked_fixture(socket, tls_pair_certs_make,
                                tls_pair_certs_remove);
    tcase_set_timeout(socket, 60);
    tcase_add_test(socket, starttls_upgrades_a_live_tcp_connection);
    suite_add_tcase(suite, socket);
    return suite;
}
