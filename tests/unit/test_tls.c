/* SPDX-License-Identifier: MIT */
/* tests/unit/test_tls.c: TLS sessions wired to each other in memory, and a
 * STARTTLS upgrade of a live TCP connection. */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "tests/unit/testcert.h"
#include "tests/unit/unit.h"

#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "libcommon/error.h"
#include "libcommon/tls.h"

static const char tls12_only[] = "NORMAL:-VERS-ALL:+VERS-TLS1.2";
static const char tls13_only[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3";

static testcert certs;

static void certs_make(void)
{
    ck_assert_msg(testcert_make(&certs) == 0, "cannot make test certificates");
}

static void certs_remove(void)
{
    testcert_remove(&certs);
}

/* ---- two sessions wired to each other in memory ---- */

/* One end of the wire. Sent ciphertext waits in wire until pump() hands it to
 * the other end, so no feed runs inside another end's send. */
typedef struct side {
    tls_session *s;
    buf wire;
    buf got; /* plaintext received */
    int ready_count;
    int feed_err;      /* the first error a feed returned */
    bool echo;         /* recv sends what arrived back */
    bool bye_on_recv;  /* recv calls tls_session_bye */
    struct side *peer; /* set: send feeds the peer at once, no wire */
} side;

static size_t pump_chunk_max = (size_t)-1; /* bytes per feed */

static void side_send(void *ud, const char *data, size_t len)
{
    side *sd = ud;
    side *peer = sd->peer;
    if (peer && peer->s && peer->feed_err == 0)
        peer->feed_err = tls_session_feed(peer->s, data, len);
    else
        buf_append(&sd->wire, data, len);
}

static void side_recv(void *ud, const char *data, size_t len)
{
    side *sd = ud;
    buf_append(&sd->got, data, len);
    if (sd->echo)
        ck_assert_int_eq(tls_session_send(sd->s, data, len), 0);
    if (sd->bye_on_recv)
        tls_session_bye(sd->s);
}

static void side_ready(void *ud)
{
    side *sd = ud;
    sd->ready_count++;
}

static const tls_io side_io = {
    .send = side_send,
    .recv = side_recv,
    .ready = side_ready,
};

static void side_init(side *sd)
{
    memset(sd, 0, sizeof *sd);
    buf_init(&sd->wire);
    buf_init(&sd->got);
}

static void side_close(side *sd)
{
    tls_session_free(sd->s);
    buf_close(&sd->wire);
    buf_close(&sd->got);
}

static bool deliver(side *from, side *to)
{
    if (buf_len(&from->wire) == 0)
        return false;
    buf chunk = from->wire;
    buf_init(&from->wire);
    for (size_t off = 0; off < buf_len(&chunk) && to->feed_err == 0;) {
        size_t n = buf_len(&chunk) - off;
        if (n > pump_chunk_max)
            n = pump_chunk_max;
        to->feed_err = tls_session_feed(to->s, buf_data(&chunk) + off, n);
        off += n;
    }
    buf_close(&chunk);
    return true;
}

/* Moves bytes both ways until both ends are quiet. */
static void pump(side *a, side *b)
{
    for (int round = 0; round < 100000; round++) {
        bool moved = deliver(a, b);
        moved = deliver(b, a) || moved;
        if (!moved)
            return;
    }
    ck_abort_msg("the two ends never settle");
}

static tls_ctx *ctx_make(const tls_ctx_opts *opts)
{
    tls_ctx *ctx = NULL;
    char err[512] = "";
    int rc = tls_ctx_new(opts, &ctx, err, sizeof err);
    ck_assert_msg(rc == 0, "tls_ctx_new: %s: %s", xe_str(rc), err);
    return ctx;
}

static tls_ctx *server_ctx(const char *priorities)
{
    return ctx_make(&(tls_ctx_opts){
        .is_server = true,
        .cert_file = certs.server_cert,
        .key_file = certs.server_key,
        .priorities = priorities,
    });
}

static tls_ctx *client_ctx(const char *priorities)
{
    return ctx_make(&(tls_ctx_opts){
        .ca_file = certs.ca_cert,
        .verify_peer = true,
        .priorities = priorities,
    });
}

/* A client and a server session wired to each other, and their contexts. */
typedef struct pair {
    tls_ctx *cctx, *sctx;
    side client, server;
} pair;

/* Creates both sessions (the client's ClientHello waits on its wire) and
 * takes the contexts, which pair_close frees. */
static void pair_start(pair *p, tls_ctx *cctx, const char *name, tls_ctx *sctx)
{
    p->cctx = cctx;
    p->sctx = sctx;
    side_init(&p->client);
    side_init(&p->server);
    p->server.s = tls_session_new(sctx, NULL, &side_io, &p->server);
    p->client.s = tls_session_new(cctx, name, &side_io, &p->client);
    ck_assert_uint_gt(buf_len(&p->client.wire), 0);
}

/* pair_start, then the handshake: its outcome is in the sides. */
static void pair_open(pair *p, tls_ctx *cctx, const char *name, tls_ctx *sctx)
{
    pair_start(p, cctx, name, sctx);
    pump(&p->client, &p->server);
}

static void assert_connected(const pair *p)
{
    ck_assert_msg(p->client.feed_err == 0 && p->server.feed_err == 0,
                  "client: %s (%s), server: %s (%s)",
                  xe_str(p->client.feed_err), tls_session_error(p->client.s),
                  xe_str(p->server.feed_err), tls_session_error(p->server.s));
    ck_assert_int_eq(p->client.ready_count, 1);
    ck_assert_int_eq(p->server.ready_count, 1);
    ck_assert(tls_session_is_ready(p->client.s));
    ck_assert(tls_session_is_ready(p->server.s));
}

/* pair_open between the usual client and server, and connected. */
static void pair_connect(pair *p, const char *priorities, const char *name)
{
    pair_open(p, client_ctx(priorities), name, server_ctx(priorities));
    assert_connected(p);
}

/* Frees the sessions; with free_ctx the contexts too. */
static void pair_end(pair *p, bool free_ctx)
{
    side_close(&p->client);
    side_close(&p->server);
    if (free_ctx) {
        tls_ctx_free(p->cctx);
        tls_ctx_free(p->sctx);
    }
}

static void pair_close(pair *p)
{
    pair_end(p, true);
}

static void assert_got(const side *sd, const char *text)
{
    ck_assert_uint_eq(buf_len(&sd->got), strlen(text));
    ck_assert_int_eq(memcmp(buf_data(&sd->got), text, strlen(text)), 0);
}

static const struct {
    const char *priorities, *version;
} versions[] = {
    {NULL, "TLS1.3"}, /* the default prefers the newest */
    {tls13_only, "TLS1.3"},
    {tls12_only, "TLS1.2"},
};

START_TEST(handshake_then_data_flows_both_ways)
{
    pair p;

    pair_connect(&p, versions[_i].priorities, "localhost");
    ck_assert_str_eq(tls_session_version(p.client.s), versions[_i].version);
    ck_assert_str_eq(tls_session_version(p.server.s), versions[_i].version);
    ck_assert_pstr_eq(tls_session_sni(p.server.s), "localhost");
    ck_assert_pstr_eq(tls_session_sni(p.client.s), NULL);
    ck_assert_int_eq(tls_session_send(p.client.s, "<stream>", 8), 0);
    ck_assert_int_eq(tls_session_send(p.server.s, "<features/>", 11), 0);
    pump(&p.client, &p.server);
    assert_got(&p.server, "<stream>");
    assert_got(&p.client, "<features/>");
    pair_close(&p);
}
END_TEST

START_TEST(a_trimmed_session_goes_on)
{
    pair p;

    pair_connect(&p, NULL, "localhost");
    ck_assert_int_eq(tls_session_send(p.client.s, "<a/>", 4), 0);
    pump(&p.client, &p.server);
    tls_session_trim(p.client.s);
    tls_session_trim(p.server.s);
    ck_assert_int_eq(tls_session_send(p.client.s, "<b/>", 4), 0);
    ck_assert_int_eq(tls_session_send(p.server.s, "<c/>", 4), 0);
    pump(&p.client, &p.server);
    assert_got(&p.server, "<a/><b/>");
    assert_got(&p.client, "<c/>");
    pair_close(&p);
}
END_TEST

START_TEST(client_checks_the_server_names)
{
    pair p;

    pair_connect(&p, NULL, "example.com");
    ck_assert(tls_session_peer_verified(p.client.s));
    ck_assert(tls_session_peer_has_name(p.client.s, "example.com"));
    ck_assert(tls_session_peer_has_name(p.client.s, "LOCALHOST"));
    ck_assert(
        tls_session_peer_has_name(p.client.s, "chat.example")); /* XmppAddr */
    ck_assert(!tls_session_peer_has_name(p.client.s, "other.example"));
    ck_assert(!tls_session_peer_verified(p.server.s)); /* no client cert */
    pair_close(&p);
}
END_TEST

START_TEST(handshake_survives_one_byte_at_a_time)
{
    pair p;

    pump_chunk_max = 1;
    pair_connect(&p, versions[_i].priorities, "localhost");
    ck_assert_int_eq(tls_session_send(p.client.s, "split", 5), 0);
    pump(&p.client, &p.server);
    assert_got(&p.server, "split");
    pair_close(&p);
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
    pair p;

    pair_connect(&p, NULL, "localhost");
    ck_assert_int_eq(tls_session_send(p.client.s, up, LEN), 0);
    /* In pieces too, as a stream writer would. */
    for (size_t off = 0; off < LEN; off += PIECE) {
        size_t n = LEN - off < PIECE ? LEN - off : PIECE;
        ck_assert_int_eq(tls_session_send(p.server.s, down + off, n), 0);
    }
    pump(&p.client, &p.server);
    ck_assert_uint_eq(buf_len(&p.server.got), LEN);
    ck_assert_uint_eq(buf_len(&p.client.got), LEN);
    ck_assert_int_eq(memcmp(buf_data(&p.server.got), up, LEN), 0);
    ck_assert_int_eq(memcmp(buf_data(&p.client.got), down, LEN), 0);
    free(up);
    free(down);
    pair_close(&p);
}
END_TEST

START_TEST(sni_picks_the_certificate_with_the_name)
{
    static const char *const names[] = {"other.example", "example.com"};
    tls_ctx *sctx = server_ctx(NULL), *cctx = client_ctx(NULL);
    char err[512] = "";

    ck_assert_int_eq(tls_ctx_add_cert(sctx, certs.other_cert, certs.other_key,
                                      err, sizeof err),
                     0);
    for (size_t i = 0; i < 2; i++) {
        pair p;
        pair_open(&p, cctx, names[i], sctx);
        assert_connected(&p);
        ck_assert_pstr_eq(tls_session_sni(p.server.s), names[i]);
        ck_assert(tls_session_peer_has_name(p.client.s, names[i]));
        pair_end(&p, false);
    }
    tls_ctx_free(cctx);
    tls_ctx_free(sctx);
}
END_TEST

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
    bool is_rogue = bad_servers[_i].is_rogue;
    tls_ctx *sctx = ctx_make(&(tls_ctx_opts){
        .is_server = true,
        .cert_file = is_rogue ? certs.rogue_cert : certs.server_cert,
        .key_file = is_rogue ? certs.rogue_key : certs.server_key,
    });
    pair p;

    pair_open(&p, client_ctx(NULL), bad_servers[_i].name, sctx);
    ck_assert_msg(p.client.feed_err == XE_CERT, "client: %s: %s",
                  xe_str(p.client.feed_err), tls_session_error(p.client.s));
    ck_assert_int_eq(p.client.ready_count, 0);
    ck_assert(!tls_session_is_ready(p.client.s));
    ck_assert_ptr_nonnull(strstr(tls_session_error(p.client.s), "verify"));
    ck_assert_int_eq(tls_session_send(p.client.s, "x", 1), XE_TLS);
    ck_assert_int_eq(tls_session_feed(p.client.s, "x", 1), XE_CERT);
    /* The server hears why. */
    ck_assert_int_eq(p.server.feed_err, XE_TLS);
    pair_close(&p);
}
END_TEST

START_TEST(client_without_verify_peer_connects_and_reports)
{
    tls_ctx *sctx = ctx_make(&(tls_ctx_opts){
        .is_server = true,
        .cert_file = certs.rogue_cert,
        .key_file = certs.rogue_key,
    });
    tls_ctx *cctx = ctx_make(&(tls_ctx_opts){.ca_file = certs.ca_cert});
    pair p;

    pair_open(&p, cctx, "localhost", sctx);
    assert_connected(&p);
    ck_assert(!tls_session_peer_verified(p.client.s));
    ck_assert(!tls_session_peer_has_name(p.client.s, "localhost"));
    pair_close(&p);
}
END_TEST

enum client_cert { CLIENT_NO_CERT, CLIENT_ROGUE, CLIENT_SIGNED };

static tls_ctx *client_ctx_with(enum client_cert which)
{
    tls_ctx_opts opts = {.ca_file = certs.ca_cert, .verify_peer = true};
    if (which == CLIENT_ROGUE) {
        opts.cert_file = certs.rogue_cert;
        opts.key_file = certs.rogue_key;
    } else if (which == CLIENT_SIGNED) {
        opts.cert_file = certs.client_cert;
        opts.key_file = certs.client_key;
    }
    return ctx_make(&opts);
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
    tls_ctx *sctx = ctx_make(&(tls_ctx_opts){
        .is_server = true,
        .cert_file = certs.server_cert,
        .key_file = certs.server_key,
        .ca_file = certs.ca_cert,
        .verify_peer = true,
        .priorities = client_certs[_i].priorities,
    });
    pair p;

    pair_open(&p, client_ctx_with(client_certs[_i].which), "localhost", sctx);
    ck_assert_msg(p.server.feed_err == client_certs[_i].server_err,
                  "server: %s: %s", xe_str(p.server.feed_err),
                  tls_session_error(p.server.s));
    if (client_certs[_i].server_err == 0) {
        assert_connected(&p);
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
    pair_close(&p);
}
END_TEST

START_TEST(server_with_ca_file_only_asks_for_a_client_certificate)
{
    static const enum client_cert which[] = {CLIENT_NO_CERT, CLIENT_ROGUE,
                                             CLIENT_SIGNED};
    tls_ctx *sctx = ctx_make(&(tls_ctx_opts){
        .is_server = true,
        .cert_file = certs.server_cert,
        .key_file = certs.server_key,
        .ca_file = certs.ca_cert,
    });

    for (size_t i = 0; i < sizeof which / sizeof which[0]; i++) {
        pair p;
        pair_open(&p, client_ctx_with(which[i]), "localhost", sctx);
        assert_connected(&p);
        ck_assert(tls_session_peer_verified(p.server.s) ==
                  (which[i] == CLIENT_SIGNED));
        pair_end(&p, false);
        tls_ctx_free(p.cctx);
    }
    tls_ctx_free(sctx);
}
END_TEST

START_TEST(server_with_request_peer_asks_without_requiring)
{
    static const enum client_cert which[] = {CLIENT_NO_CERT, CLIENT_ROGUE,
                                             CLIENT_SIGNED};
    /* With ca_file: as ca_file alone. Without: the system store, which does
     * not know the test CA, so nothing verifies but every client connects. */
    for (int with_ca = 0; with_ca < 2; with_ca++) {
        tls_ctx *sctx = ctx_make(&(tls_ctx_opts){
            .is_server = true,
            .cert_file = certs.server_cert,
            .key_file = certs.server_key,
            .ca_file = with_ca ? certs.ca_cert : NULL,
            .request_peer = true,
        });
        for (size_t i = 0; i < sizeof which / sizeof which[0]; i++) {
            pair p;
            pair_open(&p, client_ctx_with(which[i]), "localhost", sctx);
            assert_connected(&p);
            ck_assert(tls_session_peer_verified(p.server.s) ==
                      (with_ca && which[i] == CLIENT_SIGNED));
            pair_end(&p, false);
            tls_ctx_free(p.cctx);
        }
        tls_ctx_free(sctx);
    }
}
END_TEST

START_TEST(data_sent_before_ready_is_delivered_after)
{
    const char *prio = versions[_i].priorities;
    pair p;

    pair_start(&p, client_ctx(prio), "localhost", server_ctx(prio));
    size_t hello_len = buf_len(&p.client.wire);
    ck_assert_int_eq(tls_session_send(p.client.s, "early ", 6), 0);
    ck_assert_int_eq(tls_session_send(p.client.s, "bird", 4), 0);
    ck_assert_int_eq(tls_session_send(p.server.s, "<features/>", 11), 0);
    /* Nothing goes out in clear. */
    ck_assert_uint_eq(buf_len(&p.client.wire), hello_len);
    ck_assert_uint_eq(buf_len(&p.server.wire), 0);
    ck_assert_ptr_null(tls_session_version(p.client.s));
    pump(&p.client, &p.server);
    assert_connected(&p);
    assert_got(&p.server, "early bird");
    assert_got(&p.client, "<features/>");
    pair_close(&p);
}
END_TEST

START_TEST(callbacks_may_send_and_say_bye)
{
    pair p;

    pair_connect(&p, NULL, "localhost");
    p.server.echo = true;
    p.client.bye_on_recv = true;
    ck_assert_int_eq(tls_session_send(p.client.s, "ping", 4), 0);
    pump(&p.client, &p.server);
    assert_got(&p.server, "ping");
    assert_got(&p.client, "ping");
    ck_assert_int_eq(p.server.feed_err, XE_CLOSED);
    ck_assert_int_eq(tls_session_send(p.client.s, "more", 4), XE_CLOSED);
    pair_close(&p);
}
END_TEST

/* Each send feeds the other end from inside gnutls: the nested feeds must
 * be queued and still be read. */
START_TEST(sessions_wired_directly_still_work)
{
    const char *prio = versions[_i].priorities;
    pair p;

    pair_start(&p, client_ctx(prio), "localhost", server_ctx(prio));
    p.client.peer = &p.server;
    p.server.peer = &p.client;
    p.server.echo = true;
    ck_assert_int_eq(tls_session_send(p.client.s, "early", 5), 0);
    pump(&p.client, &p.server); /* the ClientHello sent before wiring */
    assert_connected(&p);
    ck_assert_int_eq(tls_session_send(p.client.s, " and late", 9), 0);
    assert_got(&p.server, "early and late");
    assert_got(&p.client, "early and late");
    tls_session_bye(p.client.s);
    ck_assert_int_eq(p.server.feed_err, XE_CLOSED);
    pair_close(&p);
}
END_TEST

START_TEST(close_notify_gives_closed)
{
    pair p;

    pair_connect(&p, versions[_i].priorities, "localhost");
    ck_assert_int_eq(tls_session_send(p.client.s, "last words", 10), 0);
    tls_session_bye(p.client.s);
    tls_session_bye(p.client.s); /* once is enough */
    ck_assert_int_eq(tls_session_send(p.client.s, "more", 4), XE_CLOSED);
    pump(&p.client, &p.server);
    assert_got(&p.server, "last words");
    ck_assert_int_eq(p.server.feed_err, XE_CLOSED);
    ck_assert_int_eq(tls_session_feed(p.server.s, "x", 1), XE_CLOSED);
    ck_assert_ptr_nonnull(
        strstr(tls_session_error(p.server.s), "close_notify"));
    /* Closing is one way: the server may still answer (RFC 8446 §6.1). */
    if (strcmp(versions[_i].version, "TLS1.3") == 0) {
        ck_assert_int_eq(tls_session_send(p.server.s, "bye too", 7), 0);
        pump(&p.client, &p.server);
        assert_got(&p.client, "bye too");
    }
    pair_close(&p);
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
    tls_ctx *sctx = server_ctx(NULL);
    side server;

    side_init(&server);
    server.s = tls_session_new(sctx, NULL, &side_io, &server);
    int rc = tls_session_feed(server.s, garbage[_i].bytes, garbage[_i].len);
    ck_assert_msg(rc == XE_TLS, "got %s", xe_str(rc));
    ck_assert_str_ne(tls_session_error(server.s), "no error");
    ck_assert_int_eq(tls_session_feed(server.s, "x", 1), XE_TLS);
    ck_assert_int_eq(tls_session_send(server.s, "x", 1), XE_TLS);
    ck_assert_int_eq(server.ready_count, 0);
    side_close(&server);
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
    pair p;

    pair_connect(&p, bindings[_i].priorities, "localhost");
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
    pair_close(&p);
}
END_TEST

START_TEST(channel_bindings_differ_between_connections)
{
    tls_ctx *sctx = server_ctx(NULL), *cctx = client_ctx(NULL);
    unsigned char cb[2][TLS_CHANNEL_BINDING_MAX];
    size_t len[2] = {sizeof cb[0], sizeof cb[1]};

    for (int i = 0; i < 2; i++) {
        pair p;
        pair_open(&p, cctx, "localhost", sctx);
        assert_connected(&p);
        ck_assert_int_eq(tls_session_channel_binding(p.client.s, "tls-exporter",
                                                     cb[i], &len[i]),
                         0);
        pair_end(&p, false);
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
    pair p;

    pair_start(&p, client_ctx(NULL), "localhost", server_ctx(NULL));
    ck_assert_int_eq(
        tls_session_channel_binding(p.client.s, "tls-exporter", cb, &len),
        XE_TLS);
    pair_close(&p);
}
END_TEST

/* ---- context errors ---- */

START_TEST(bad_contexts_are_config_errors)
{
    const char *missing = "/nonexistent/xmppd/cert.pem";
    const tls_ctx_opts cases[] = {
        {.is_server = true},
        {.is_server = true, .cert_file = missing, .key_file = missing},
        {.is_server = true, .cert_file = certs.server_cert},
        {.is_server = true,
         .cert_file = certs.server_cert,
         .key_file = certs.other_key},
        {.is_server = true,
         .cert_file = certs.server_cert,
         .key_file = certs.server_key,
         .priorities = "NORMAL:+BOGUS-THING"},
        {.ca_file = missing},
        {.ca_file = certs.server_key}, /* no certificate in it */
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
    tls_ctx *ctx = server_ctx(NULL);
    char err[512] = "";
    ck_assert_int_eq(tls_ctx_add_cert(ctx, missing, missing, err, sizeof err),
                     XE_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, missing));
    tls_ctx_free(ctx);
    tls_ctx_free(NULL);
    tls_session_free(NULL);
}
END_TEST

/* ---- STARTTLS over a real TCP connection ---- */

typedef struct uvtest uvtest;

typedef struct conn {
    uv_tcp_t tcp; /* first: a handle pointer is the conn */
    uvtest *t;
    bool is_server;
    tls_ctx *ctx;
    tls_session *tls; /* set once the stream is upgraded */
    buf lines;        /* plaintext, before and inside TLS */
    char rbuf[65536];
} conn;

struct uvtest {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_timer_t guard;
    uv_connect_t connect_req;
    conn client, server;
    bool server_accepted;
    char result[128]; /* the line the client got over TLS */
    char failure[512];
    bool is_done;
};

typedef struct conn_write_req {
    uv_write_t req;
    char data[];
} conn_write_req;

static void uvtest_close_handle(uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h))
        uv_close(h, NULL);
}

/* Ends the test, with the reason it failed or NULL; what follows is noise. */
static void uvtest_finish(uvtest *t, const char *failure)
{
    if (t->is_done)
        return;
    t->is_done = true;
    if (failure)
        snprintf(t->failure, sizeof t->failure, "%s", failure);
    uvtest_close_handle((uv_handle_t *)&t->guard);
    uvtest_close_handle((uv_handle_t *)&t->listener);
    uvtest_close_handle((uv_handle_t *)&t->client.tcp);
    if (t->server_accepted)
        uvtest_close_handle((uv_handle_t *)&t->server.tcp);
}

static void conn_on_written(uv_write_t *req, int status)
{
    (void)status; /* a failed write shows as a missing reply */
    free(req);
}

static void conn_write(conn *c, const char *data, size_t len)
{
    if (c->t->is_done)
        return;
    conn_write_req *w = xalloc(sizeof *w + len);
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned int)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, conn_on_written);
    if (rc) {
        free(w);
        uvtest_finish(c->t, uv_strerror(rc));
    }
}

static void conn_tls_send(void *ud, const char *data, size_t len)
{
    conn_write(ud, data, len);
}

static void conn_line(conn *c, const char *line);

/* Hands each complete line to conn_line; stops if the stream was upgraded so
 * that the rest is ciphertext. Returns the bytes consumed. */
static size_t conn_take_lines(conn *c, const char *data, size_t len,
                              bool stop_at_upgrade)
{
    size_t used = 0;
    while (used < len) {
        const char *nl = memchr(data + used, '\n', len - used);
        size_t n = nl ? (size_t)(nl - (data + used)) + 1 : len - used;
        buf_append(&c->lines, data + used, n);
        used += n;
        if (!nl)
            break;
        char *line = xstrndup(buf_data(&c->lines), buf_len(&c->lines) - 1);
        buf_clear(&c->lines);
        bool was_plain = !c->tls;
        conn_line(c, line);
        free(line);
        if (stop_at_upgrade && was_plain && c->tls)
            break;
    }
    return used;
}

static void conn_tls_recv(void *ud, const char *data, size_t len)
{
    conn_take_lines(ud, data, len, false);
}

static void conn_tls_ready(void *ud)
{
    conn *c = ud;
    if (!c->is_server)
        tls_session_send(c->tls, "<ping over='tls'/>\n", 19);
}

static const tls_io conn_io = {
    .send = conn_tls_send,
    .recv = conn_tls_recv,
    .ready = conn_tls_ready,
};

/* The dialogue: the client asks for TLS in clear, the server says proceed,
 * both upgrade the same connection, and a ping and a pong cross inside TLS. */
static void conn_line(conn *c, const char *line)
{
    uvtest *t = c->t;

    if (c->is_server && !c->tls && strcmp(line, "<starttls/>") == 0) {
        conn_write(c, "<proceed/>\n", 11);
        c->tls = tls_session_new(c->ctx, NULL, &conn_io, c);
    } else if (!c->is_server && !c->tls && strcmp(line, "<proceed/>") == 0) {
        c->tls = tls_session_new(c->ctx, "localhost", &conn_io, c);
    } else if (c->is_server && c->tls &&
               strcmp(line, "<ping over='tls'/>") == 0) {
        tls_session_send(c->tls, "<pong over='tls'/>\n", 19);
    } else if (!c->is_server && c->tls) {
        snprintf(t->result, sizeof t->result, "%s", line);
        tls_session_bye(c->tls);
        uvtest_finish(t, NULL);
    } else {
        char why[256];
        snprintf(why, sizeof why, "%s: unexpected line \"%s\"",
                 c->is_server ? "server" : "client", line);
        uvtest_finish(t, why);
    }
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    conn *c = (conn *)h;
    (void)suggested;
    *out = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void conn_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b)
{
    conn *c = (conn *)stream;
    uvtest *t = c->t;

    if (t->is_done)
        return;
    if (nread < 0) {
        uvtest_finish(t, c->is_server ? "server: connection lost"
                                      : "client: connection lost");
        return;
    }
    size_t len = (size_t)nread, used = 0;
    if (!c->tls)
        used = conn_take_lines(c, b->base, len, true);
    if (c->tls && used < len) {
        int rc = tls_session_feed(c->tls, b->base + used, len - used);
        if (rc) {
            char why[512];
            snprintf(why, sizeof why, "%s: %s: %s",
                     c->is_server ? "server" : "client", xe_str(rc),
                     tls_session_error(c->tls));
            uvtest_finish(t, why);
        }
    }
}

static void uvtest_on_connection(uv_stream_t *listener, int status)
{
    uvtest *t = listener->data;

    if (status < 0 || t->server_accepted) {
        uvtest_finish(t, "accept failed");
        return;
    }
    uv_tcp_init(&t->loop, &t->server.tcp);
    t->server_accepted = true;
    if (uv_accept(listener, (uv_stream_t *)&t->server.tcp) != 0 ||
        uv_read_start((uv_stream_t *)&t->server.tcp, conn_alloc,
                      conn_on_read) != 0)
        uvtest_finish(t, "server: cannot read");
}

static void uvtest_on_connect(uv_connect_t *req, int status)
{
    uvtest *t = req->data;

    if (status < 0) {
        uvtest_finish(t, uv_strerror(status));
        return;
    }
    if (uv_read_start((uv_stream_t *)&t->client.tcp, conn_alloc,
                      conn_on_read) != 0) {
        uvtest_finish(t, "client: cannot read");
        return;
    }
    conn_write(&t->client, "<starttls/>\n", 12);
}

static void uvtest_on_timeout(uv_timer_t *timer)
{
    uvtest_finish(timer->data, "timed out");
}

static void conn_init(conn *c, uvtest *t, bool is_server, tls_ctx *ctx)
{
    c->t = t;
    c->is_server = is_server;
    c->ctx = ctx;
    buf_init(&c->lines);
}

START_TEST(starttls_upgrades_a_live_tcp_connection)
{
    uvtest *t = xalloc(sizeof *t);
    tls_ctx *sctx = server_ctx(NULL);
    tls_ctx *cctx = client_ctx(NULL);

    ck_assert_int_eq(uv_loop_init(&t->loop), 0);
    conn_init(&t->client, t, false, cctx);
    conn_init(&t->server, t, true, sctx);

    struct sockaddr_in addr;
    ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
    ck_assert_int_eq(uv_tcp_init(&t->loop, &t->listener), 0);
    t->listener.data = t;
    ck_assert_int_eq(
        uv_tcp_bind(&t->listener, (const struct sockaddr *)&addr, 0), 0);
    ck_assert_int_eq(
        uv_listen((uv_stream_t *)&t->listener, 4, uvtest_on_connection), 0);
    struct sockaddr_storage bound;
    int bound_len = sizeof bound;
    ck_assert_int_eq(
        uv_tcp_getsockname(&t->listener, (struct sockaddr *)&bound, &bound_len),
        0);
    ck_assert_int_ne(((struct sockaddr_in *)&bound)->sin_port, 0);

    ck_assert_int_eq(uv_timer_init(&t->loop, &t->guard), 0);
    t->guard.data = t;
    ck_assert_int_eq(uv_timer_start(&t->guard, uvtest_on_timeout, 10000, 0), 0);

    ck_assert_int_eq(uv_tcp_init(&t->loop, &t->client.tcp), 0);
    t->connect_req.data = t;
    ck_assert_int_eq(uv_tcp_connect(&t->connect_req, &t->client.tcp,
                                    (const struct sockaddr *)&bound,
                                    uvtest_on_connect),
                     0);
    uv_run(&t->loop, UV_RUN_DEFAULT);

    ck_assert_msg(t->failure[0] == '\0', "%s", t->failure);
    ck_assert_str_eq(t->result, "<pong over='tls'/>");
    ck_assert_ptr_nonnull(t->client.tls);
    ck_assert_ptr_nonnull(t->server.tls);
    ck_assert(tls_session_is_ready(t->client.tls));
    ck_assert(tls_session_peer_verified(t->client.tls));
    ck_assert_pstr_eq(tls_session_sni(t->server.tls), "localhost");
    ck_assert_str_eq(tls_session_version(t->client.tls), "TLS1.3");

    ck_assert_int_eq(uv_loop_close(&t->loop), 0);
    tls_session_free(t->client.tls);
    tls_session_free(t->server.tls);
    buf_close(&t->client.lines);
    buf_close(&t->server.lines);
    free(t);
    tls_ctx_free(cctx);
    tls_ctx_free(sctx);
}
END_TEST

static void reset_chunking(void)
{
    pump_chunk_max = (size_t)-1;
}

Suite *unit_suite(void)
{
    Suite *suite = suite_create("tls");
    TCase *memory = tcase_create("memory");
    TCase *socket = tcase_create("socket");
    size_t n_versions = sizeof versions / sizeof versions[0];

    tcase_add_unchecked_fixture(memory, certs_make, certs_remove);
    tcase_add_checked_fixture(memory, reset_chunking, NULL);
    tcase_set_timeout(memory, 60);
    tcase_add_loop_test(memory, handshake_then_data_flows_both_ways, 0,
                        n_versions);
    tcase_add_test(memory, client_checks_the_server_names);
    tcase_add_test(memory, a_trimmed_session_goes_on);
    tcase_add_loop_test(memory, handshake_survives_one_byte_at_a_time, 0,
                        n_versions);
    tcase_add_test(memory, a_mebibyte_arrives_intact_both_ways);
    tcase_add_test(memory, sni_picks_the_certificate_with_the_name);
    tcase_add_loop_test(memory,
                        client_refuses_a_certificate_that_does_not_verify, 0,
                        sizeof bad_servers / sizeof bad_servers[0]);
    tcase_add_test(memory, client_without_verify_peer_connects_and_reports);
    tcase_add_loop_test(memory,
                        server_with_verify_peer_accepts_only_ca_signed_clients,
                        0, sizeof client_certs / sizeof client_certs[0]);
    tcase_add_test(memory,
                   server_with_ca_file_only_asks_for_a_client_certificate);
    tcase_add_loop_test(memory, data_sent_before_ready_is_delivered_after, 0,
                        n_versions);
    tcase_add_test(memory, callbacks_may_send_and_say_bye);
    tcase_add_loop_test(memory, sessions_wired_directly_still_work, 0,
                        n_versions);
    tcase_add_loop_test(memory, close_notify_gives_closed, 0, n_versions);
    tcase_add_loop_test(memory, garbage_makes_the_server_fail, 0,
                        sizeof garbage / sizeof garbage[0]);
    tcase_add_loop_test(memory, channel_bindings_match_on_both_ends, 0,
                        sizeof bindings / sizeof bindings[0]);
    tcase_add_test(memory, channel_bindings_differ_between_connections);
    tcase_add_test(memory, channel_binding_needs_a_finished_handshake);
    tcase_add_test(memory, server_with_request_peer_asks_without_requiring);
    tcase_add_test(memory, bad_contexts_are_config_errors);
    suite_add_tcase(suite, memory);

    tcase_add_unchecked_fixture(socket, certs_make, certs_remove);
    tcase_set_timeout(socket, 60);
    tcase_add_test(socket, starttls_upgrades_a_live_tcp_connection);
    suite_add_tcase(suite, socket);
    return suite;
}
