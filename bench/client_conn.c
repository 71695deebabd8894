/* SPDX-License-Identifier: MIT */
/* bench/client_conn.c: a client's connection for xmppd-bench-client: TCP
 * with libuv, then TLS with gnutls after STARTTLS, reading and writing, and
 * a client's failure. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/client.h"

typedef struct wreq {
    uv_write_t req;
    char data[];
} wreq;

static void on_written(uv_write_t *req, int status)
{
    (void)status; /* a failed write shows up as a failed read */
    free(req);
}

static void send_raw(client *c, const char *data, size_t len)
{
    if (c->is_closing)
        return;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)len)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        client_fail(c, "write: %s", uv_strerror(n));
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    wreq *w = malloc(sizeof *w + len - done);
    if (!w)
        bench_die(2, "out of memory");
    memcpy(w->data, data + done, len - done);
    b = uv_buf_init(w->data, (unsigned)(len - done));
    int err = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (err) {
        free(w);
        client_fail(c, "write: %s", uv_strerror(err));
    }
}

void client_send(client *c, const char *data, size_t len)
{
    if (!c->is_tls) {
        send_raw(c, data, len);
        return;
    }
    while (len && !c->is_closing) {
        ssize_t r = gnutls_record_send(c->tls, data, len);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
            continue;
        if (r < 0) {
            client_fail(c, "TLS send: %s", gnutls_strerror((int)r));
            return;
        }
        data += r;
        len -= (size_t)r;
    }
}

void client_send_str(client *c, const char *s)
{
    client_send(c, s, strlen(s));
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *data,
                        size_t len)
{
    send_raw(ptr, data, len);
    return (ssize_t)len;
}

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
    client *c = ptr;
    size_t have = c->clen - c->cpos;
    if (!have) {
        gnutls_transport_set_errno(c->tls, EAGAIN);
        return -1;
    }
    if (len > have)
        len = have;
    memcpy(data, c->cbuf + c->cpos, len);
    c->cpos += len;
    return (ssize_t)len;
}

static int tls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
    client *c = ptr;
    (void)ms;
    return c->clen > c->cpos ? 1 : 0;
}

static void on_closed(uv_handle_t *h)
{
    client *c = (client *)h;
    free(c->rbuf);
    free(c->cbuf);
    c->rbuf = c->cbuf = NULL;
    c->rlen = c->rcap = c->clen = c->cpos = c->ccap = 0;
    if (c->tls) {
        gnutls_deinit(c->tls);
        c->tls = NULL;
    }
}

static void client_close(client *c)
{
    if (c->is_closing)
        return;
    c->is_closing = true;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void client_fail(client *c, const char *fmt, ...)
{
    if (c->state == ST_DEAD)
        return;
    bool was_ready = c->state == ST_READY;
    if (bench.o.is_verbose || bench.failed < 5 || was_ready) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "xmppd-bench-client: u%u: ", c->index);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    c->state = ST_DEAD;
    client_close(c);
    if (was_ready) {
        bench.ready_now--;
        return;
    }
    bench.failed++;
    bench_after_login_step();
}

const char *client_domain(const client *c)
{
    unsigned user;
    return sides_server(&bench.sides, c->index, &user)->domain;
}

unsigned client_user(const client *c)
{
    unsigned user;
    sides_server(&bench.sides, c->index, &user);
    return user;
}

bool client_tls_begin(client *c)
{
    int err = gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
    if (err)
        return false;
    gnutls_set_default_priority(c->tls);
    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, bench.cred);
    const char *domain = client_domain(c);
    gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, domain, strlen(domain));
    gnutls_transport_set_ptr(c->tls, c);
    gnutls_transport_set_push_function(c->tls, tls_push);
    gnutls_transport_set_pull_function(c->tls, tls_pull);
    gnutls_transport_set_pull_timeout_function(c->tls, tls_pull_timeout);
    c->is_tls = true;
    c->state = ST_HANDSHAKE;
    c->rlen = 0;
    err = gnutls_handshake(c->tls); /* sends the ClientHello */
    return err == GNUTLS_E_AGAIN || err == 0;
}

static void grow(char **buf, size_t *cap, size_t need)
{
    if (*cap >= need)
        return;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    char *p = realloc(*buf, n);
    if (!p)
        bench_die(2, "out of memory");
    *buf = p;
    *cap = n;
}

static void process_tls(client *c)
{
    if (c->state == ST_HANDSHAKE) {
        int r = gnutls_handshake(c->tls);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
            goto compact;
        if (r < 0 && gnutls_error_is_fatal(r))
            return client_fail(c, "TLS handshake: %s", gnutls_strerror(r));
        if (r < 0)
            goto compact;
        c->state = ST_FEATURES_TLS;
        client_send_header(c);
    }
    while (c->state != ST_DEAD) {
        grow(&c->rbuf, &c->rcap, c->rlen + 16384);
        ssize_t r =
            gnutls_record_recv(c->tls, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (r > 0) {
            c->rlen += (size_t)r;
            continue;
        }
        if (r == 0)
            return client_fail(c, "TLS closed by the server");
        /* After a post-handshake message (a TLS 1.3 session ticket, as
         * OpenSSL servers send) gnutls says "again" although more records
         * may be buffered: read on until the ciphertext is used up. */
        if (r == GNUTLS_E_AGAIN && c->cpos == c->clen)
            break;
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED ||
            !gnutls_error_is_fatal((int)r))
            continue;
        return client_fail(c, "TLS receive: %s", gnutls_strerror((int)r));
    }
    if (c->state == ST_DEAD)
        return;
    client_process_xml(c);
compact:
    if (c->cpos == c->clen) {
        c->cpos = c->clen = 0;
    } else if (c->cpos) {
        memmove(c->cbuf, c->cbuf + c->cpos, c->clen - c->cpos);
        c->clen -= c->cpos;
        c->cpos = 0;
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    client *c = (client *)h;
    (void)hint;
    if (c->is_tls) {
        grow(&c->cbuf, &c->ccap, c->clen + 65536);
        *buf = uv_buf_init(c->cbuf + c->clen, (unsigned)(c->ccap - c->clen));
    } else {
        grow(&c->rbuf, &c->rcap, c->rlen + 16384);
        *buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    client *c = (client *)s;
    (void)buf;
    if (c->state == ST_DEAD)
        return;
    if (nread < 0)
        return client_fail(c, "read: %s",
                           nread == UV_EOF ? "connection closed"
                                           : uv_strerror((int)nread));
    if (nread == 0)
        return;
    if (c->is_tls) {
        c->clen += (size_t)nread;
        process_tls(c);
    } else {
        c->rlen += (size_t)nread;
        client_process_xml(c);
    }
}

static void on_connected(uv_connect_t *req, int status)
{
    client *c = req->data;
    if (status)
        return client_fail(c, "connect: %s", uv_strerror(status));
    uv_tcp_nodelay(&c->tcp, 1);
    int err = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (err)
        return client_fail(c, "read: %s", uv_strerror(err));
    c->state = ST_FEATURES_PLAIN;
    client_send_header(c);
}

void client_start(client *c)
{
    struct sockaddr_in addr;
    unsigned user;
    const bench_server *srv = sides_server(&bench.sides, c->index, &user);
    uv_ip4_addr(srv->host, srv->port, &addr);
    c->t_start = uv_hrtime();
    c->state = ST_CONNECTING;
    uv_tcp_init(bench.loop, &c->tcp);
    c->connect.data = c;
    int err = uv_tcp_connect(&c->connect, &c->tcp,
                             (const struct sockaddr *)&addr, on_connected);
    if (err)
        client_fail(c, "connect: %s", uv_strerror(err));
}
