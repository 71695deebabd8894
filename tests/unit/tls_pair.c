/* SPDX-License-Identifier: MIT */
/* tests/unit/tls_pair.c: two TLS sessions wired to each other in memory. */
#include "tests/unit/tls_pair.h"

#include <check.h>
#include <stdint.h>
#include <string.h>

#include "libcommon/error.h"

testcert tls_pair_certs;
size_t tls_pair_feed_max = SIZE_MAX;
bool tls_pair_direct = false;

void tls_pair_certs_make(void)
{
    ck_assert_msg(testcert_make(&tls_pair_certs) == 0,
                  "cannot make test certificates");
}

void tls_pair_certs_remove(void)
{
    testcert_remove(&tls_pair_certs);
}

tls_ctx *tls_pair_ctx(const tls_ctx_opts *opts)
{
    tls_ctx *ctx = NULL;
    char err[512] = "";
    int rc = tls_ctx_new(opts, &ctx, err, sizeof err);
    ck_assert_msg(rc == 0, "tls_ctx_new: %s: %s", xe_str(rc), err);
    return ctx;
}

tls_ctx_opts tls_pair_server_opts(const char *priorities)
{
    return (tls_ctx_opts){
        .is_server = true,
        .cert_file = tls_pair_certs.server_cert,
        .key_file = tls_pair_certs.server_key,
        .priorities = priorities,
    };
}

tls_ctx *tls_pair_server_ctx(const char *priorities)
{
    tls_ctx_opts opts = tls_pair_server_opts(priorities);
    return tls_pair_ctx(&opts);
}

tls_ctx *tls_pair_client_ctx(const char *priorities)
{
    return tls_pair_ctx(&(tls_ctx_opts){
        .ca_file = tls_pair_certs.ca_cert,
        .verify_peer = true,
        .priorities = priorities,
    });
}

static void tls_pair_on_send(void *ud, const char *data, size_t len)
{
    tls_pair_side *sd = ud;
    tls_pair_side *peer = sd->peer;
    if (peer && peer->s && peer->feed_err == 0)
        peer->feed_err = tls_session_feed(peer->s, data, len);
    else
        buf_append(&sd->wire, data, len);
}

static void tls_pair_on_recv(void *ud, const char *data, size_t len)
{
    tls_pair_side *sd = ud;
    buf_append(&sd->got, data, len);
    if (sd->echo)
        ck_assert_int_eq(tls_session_send(sd->s, data, len), 0);
    if (sd->bye_on_recv)
        tls_session_bye(sd->s);
}

static void tls_pair_on_ready(void *ud)
{
    tls_pair_side *sd = ud;
    sd->ready_count++;
}

static const tls_io tls_pair_io = {
    .send = tls_pair_on_send,
    .recv = tls_pair_on_recv,
    .ready = tls_pair_on_ready,
};

void tls_pair_side_open(tls_pair_side *sd, tls_ctx *ctx, const char *name)
{
    memset(sd, 0, sizeof *sd);
    buf_init(&sd->wire);
    buf_init(&sd->got);
    sd->s = tls_pair_direct ? tls_session_new_direct(ctx, name, &tls_pair_io, sd)
                            : tls_session_new(ctx, name, &tls_pair_io, sd);
}

void tls_pair_side_close(tls_pair_side *sd)
{
    tls_session_free(sd->s);
    buf_close(&sd->wire);
    buf_close(&sd->got);
}

void tls_pair_assert_got(const tls_pair_side *sd, const char *text)
{
    ck_assert_uint_eq(buf_len(&sd->got), strlen(text));
    ck_assert_int_eq(memcmp(buf_data(&sd->got), text, strlen(text)), 0);
}

void tls_pair_start(tls_pair *p, tls_ctx *cctx, const char *name, tls_ctx *sctx)
{
    p->cctx = cctx;
    p->sctx = sctx;
    tls_pair_side_open(&p->server, sctx, NULL);
    tls_pair_side_open(&p->client, cctx, name);
    ck_assert_uint_gt(buf_len(&p->client.wire), 0);
}

void tls_pair_open(tls_pair *p, tls_ctx *cctx, const char *name, tls_ctx *sctx)
{
    tls_pair_start(p, cctx, name, sctx);
    tls_pair_pump(p);
}

/* Feeds what waits on from's wire to the other end, in pieces of at most
 * tls_pair_feed_max bytes. Returns whether there was anything. */
static bool tls_pair_deliver(tls_pair_side *from, tls_pair_side *to)
{
    if (buf_len(&from->wire) == 0)
        return false;
    /* Feeding may make to send, and so put bytes on from's wire: take what
     * is there now. */
    buf chunk = from->wire;
    buf_init(&from->wire);
    for (size_t off = 0; off < buf_len(&chunk) && to->feed_err == 0;) {
        size_t n = buf_len(&chunk) - off;
        if (n > tls_pair_feed_max)
            n = tls_pair_feed_max;
        to->feed_err = tls_session_feed(to->s, buf_data(&chunk) + off, n);
        off += n;
    }
    buf_close(&chunk);
    return true;
}

void tls_pair_pump(tls_pair *p)
{
    for (int round = 0; round < 100000; round++) {
        bool moved = tls_pair_deliver(&p->client, &p->server);
        moved = tls_pair_deliver(&p->server, &p->client) || moved;
        if (!moved)
            return;
    }
    ck_abort_msg("the two ends never settle");
}

void tls_pair_assert_connected(const tls_pair *p)
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

void tls_pair_connect(tls_pair *p, const char *priorities, const char *name)
{
    tls_pair_open(p, tls_pair_client_ctx(priorities), name,
                  tls_pair_server_ctx(priorities));
    tls_pair_assert_connected(p);
}

void tls_pair_exchange(tls_pair *p, const char *up, const char *down)
{
    if (up)
        ck_assert_int_eq(tls_session_send(p->client.s, up, strlen(up)), 0);
    if (down)
        ck_assert_int_eq(tls_session_send(p->server.s, down, strlen(down)), 0);
    tls_pair_pump(p);
}

void tls_pair_end(tls_pair *p, bool free_ctx)
{
    tls_pair_side_close(&p->client);
    tls_pair_side_close(&p->server);
    if (free_ctx) {
        tls_ctx_free(p->cctx);
        tls_ctx_free(p->sctx);
    }
}

void tls_pair_close(tls_pair *p)
{
    tls_pair_end(p, true);
}
