/* SPDX-License-Identifier: MIT */
/* tests/unit/tls_tcp.c: a STARTTLS dialogue over a loopback TCP connection,
 * driven by its own libuv loop. */
#include "tests/unit/tls_tcp.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "libcommon/error.h"

typedef struct conn {
    uv_tcp_t tcp; /* first: a handle pointer is the conn */
    tls_tcp *t;
    bool is_server;
    tls_ctx *ctx;
    tls_session *tls; /* set once the stream is upgraded */
    buf lines;        /* plaintext, before and inside TLS */
    char rbuf[65536];
} conn;

struct tls_tcp {
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

static void tls_tcp_close_handle(uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h))
        uv_close(h, NULL);
}

/* Ends the dialogue, with the reason it failed or NULL; what follows is
 * noise. */
static void tls_tcp_finish(tls_tcp *t, const char *failure)
{
    if (t->is_done)
        return;
    t->is_done = true;
    if (failure)
        snprintf(t->failure, sizeof t->failure, "%s", failure);
    tls_tcp_close_handle((uv_handle_t *)&t->guard);
    tls_tcp_close_handle((uv_handle_t *)&t->listener);
    tls_tcp_close_handle((uv_handle_t *)&t->client.tcp);
    if (t->server_accepted)
        tls_tcp_close_handle((uv_handle_t *)&t->server.tcp);
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
        tls_tcp_finish(c->t, uv_strerror(rc));
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
    tls_tcp *t = c->t;

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
        tls_tcp_finish(t, NULL);
    } else {
        char why[256];
        snprintf(why, sizeof why, "%s: unexpected line \"%s\"",
                 c->is_server ? "server" : "client", line);
        tls_tcp_finish(t, why);
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
    tls_tcp *t = c->t;

    if (t->is_done)
        return;
    if (nread < 0) {
        tls_tcp_finish(t, c->is_server ? "server: connection lost"
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
            tls_tcp_finish(t, why);
        }
    }
}

static void tls_tcp_on_connection(uv_stream_t *listener, int status)
{
    tls_tcp *t = listener->data;

    if (status < 0 || t->server_accepted) {
        tls_tcp_finish(t, "accept failed");
        return;
    }
    uv_tcp_init(&t->loop, &t->server.tcp);
    t->server_accepted = true;
    if (uv_accept(listener, (uv_stream_t *)&t->server.tcp) != 0 ||
        uv_read_start((uv_stream_t *)&t->server.tcp, conn_alloc,
                      conn_on_read) != 0)
        tls_tcp_finish(t, "server: cannot read");
}

static void tls_tcp_on_connect(uv_connect_t *req, int status)
{
    tls_tcp *t = req->data;

    if (status < 0) {
        tls_tcp_finish(t, uv_strerror(status));
        return;
    }
    if (uv_read_start((uv_stream_t *)&t->client.tcp, conn_alloc,
                      conn_on_read) != 0) {
        tls_tcp_finish(t, "client: cannot read");
        return;
    }
    conn_write(&t->client, "<starttls/>\n", 12);
}

static void tls_tcp_on_timeout(uv_timer_t *timer)
{
    tls_tcp_finish(timer->data, "timed out");
}

static void conn_init(conn *c, tls_tcp *t, bool is_server, tls_ctx *ctx)
{
    c->t = t;
    c->is_server = is_server;
    c->ctx = ctx;
    buf_init(&c->lines);
}

tls_tcp *tls_tcp_starttls(tls_ctx *cctx, tls_ctx *sctx)
{
    tls_tcp *t = xalloc(sizeof *t);

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
        uv_listen((uv_stream_t *)&t->listener, 4, tls_tcp_on_connection), 0);
    struct sockaddr_storage bound;
    int bound_len = sizeof bound;
    ck_assert_int_eq(
        uv_tcp_getsockname(&t->listener, (struct sockaddr *)&bound, &bound_len),
        0);
    ck_assert_int_ne(((struct sockaddr_in *)&bound)->sin_port, 0);

    ck_assert_int_eq(uv_timer_init(&t->loop, &t->guard), 0);
    t->guard.data = t;
    ck_assert_int_eq(uv_timer_start(&t->guard, tls_tcp_on_timeout, 10000, 0),
                     0);

    ck_assert_int_eq(uv_tcp_init(&t->loop, &t->client.tcp), 0);
    t->connect_req.data = t;
    ck_assert_int_eq(uv_tcp_connect(&t->connect_req, &t->client.tcp,
                                    (const struct sockaddr *)&bound,
                                    tls_tcp_on_connect),
                     0);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    return t;
}

const char *tls_tcp_failure(const tls_tcp *t)
{
    return t->failure;
}

const char *tls_tcp_result(const tls_tcp *t)
{
    return t->result;
}

tls_session *tls_tcp_session(const tls_tcp *t, bool is_server)
{
    return is_server ? t->server.tls : t->client.tls;
}

void tls_tcp_free(tls_tcp *t)
{
    ck_assert_int_eq(uv_loop_close(&t->loop), 0);
    tls_session_free(t->client.tls);
    tls_session_free(t->server.tls);
    buf_close(&t->client.lines);
    buf_close(&t->server.lines);
    free(t);
}
