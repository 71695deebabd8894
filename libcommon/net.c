/* SPDX-License-Identifier: MIT */
/* libcommon/net.c: connections on the libuv loop: reading, writing (with
 * retention), TLS, timers, closing, and outgoing connects. Listeners and
 * their per-address counts are in net_listen.c. */
#include "libcommon/net_impl.h"

#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"

/* How long a closing connection may take to write what it has queued. */
#define NET_CLOSE_GRACE_MS 2000
#define NET_READ_BYTES 65536

static uv_loop_t *net_the_loop;
static uv_prepare_t net_prepare;
static uv_check_t net_check;
static net_conn *net_dirty;
static char net_read_buf[NET_READ_BYTES];

static void net_conn_fail(net_conn *c, int err);

/* Flushes every connection with queued bytes. Runs before the loop blocks in
 * poll and right after poll, so sends made from any callback go out in one
 * system call per connection and per loop turn. */
static void net_flush_dirty(void)
{
    while (net_dirty) {
        net_conn *c = net_dirty;
        net_dirty = c->dirty_next;
        c->dirty_next = NULL;
        c->is_dirty = false;
        net_conn_flush(c);
    }
}

static void net_on_prepare(uv_prepare_t *h)
{
    (void)h;
    net_flush_dirty();
}

static void net_on_check(uv_check_t *h)
{
    (void)h;
    net_flush_dirty();
}

void net_init(uv_loop_t *loop)
{
    net_the_loop = loop;
    uv_prepare_init(loop, &net_prepare);
    uv_prepare_start(&net_prepare, net_on_prepare);
    uv_unref((uv_handle_t *)&net_prepare);
    uv_check_init(loop, &net_check);
    uv_check_start(&net_check, net_on_check);
    uv_unref((uv_handle_t *)&net_check);
}

uv_loop_t *net_loop(void)
{
    return net_the_loop;
}

uint64_t net_now_ms(void)
{
    return uv_now(net_the_loop);
}

static void net_mark_dirty(net_conn *c)
{
    if (c->is_dirty || c->is_closed)
        return;
    c->is_dirty = true;
    c->dirty_next = net_dirty;
    net_dirty = c;
}

/* --- TLS glue ---------------------------------------------------------- */

static void net_tls_send(void *ud, const char *data, size_t len)
{
    net_conn *c = ud;
    buf_append(&c->out, data, len);
    c->wire_queued += len;
    net_mark_dirty(c);
}

static void net_tls_recv(void *ud, const char *data, size_t len)
{
    net_conn *c = ud;
    if (!c->is_closing && c->ev && c->ev->data)
        c->ev->data(c, data, len);
}

static void net_tls_ready(void *ud)
{
    net_conn *c = ud;
    if (!c->is_closing && c->ev && c->ev->tls_ready)
        c->ev->tls_ready(c);
}

const tls_io net_tls_io = {
    .send = net_tls_send, .recv = net_tls_recv, .ready = net_tls_ready,
};

/* --- connections ------------------------------------------------------- */

static void net_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    b->base = net_read_buf;
    b->len = sizeof net_read_buf;
}

static void net_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    net_conn *c = (net_conn *)s;
    if (n == 0 || c->is_closing)
        return;
    if (n < 0) {
        net_conn_fail(c, (int)n);
        return;
    }
    if (c->tls) {
        int err = tls_session_feed(c->tls, b->base, (size_t)n);
        if (err < 0)
            net_conn_fail(c, err);
        return;
    }
    if (c->ev && c->ev->data)
        c->ev->data(c, b->base, (size_t)n);
}

void net_conn_read_start(net_conn *c)
{
    if (c->is_reading || c->is_paused || c->is_closing)
        return;
    if (uv_read_start(&c->h.stream, net_alloc, net_on_read) == 0)
        c->is_reading = true;
}

static void net_conn_read_stop(net_conn *c)
{
    if (!c->is_reading)
        return;
    uv_read_stop(&c->h.stream);
    c->is_reading = false;
}

static void net_on_timer(uv_timer_t *t)
{
    net_conn *c = t->data;
    if (c->is_closing) {            /* the close grace period ran out */
        net_conn_really_close(c);
        return;
    }
    if (c->timeout_fn)
        c->timeout_fn(c);
}

net_conn *net_conn_new(void)
{
    net_conn *c = xalloc(sizeof *c);
    buf_init(&c->out);
    buf_init(&c->inflight);
    buf_init(&c->retained);
    uv_timer_init(net_the_loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 1;
    strcpy(c->peer, "?");
    strcpy(c->host, "?");
    return c;
}

void net_conn_set_peer(net_conn *c)
{
    if (c->h.handle.type == UV_NAMED_PIPE) {
        strcpy(c->peer, "unix");
        strcpy(c->host, "unix");
        return;
    }
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, c->host, sizeof c->host);
        snprintf(c->peer, sizeof c->peer, "[%s]:%u", c->host, ntohs(a->sin6_port));
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        uv_ip4_name(a, c->host, sizeof c->host);
        snprintf(c->peer, sizeof c->peer, "%s:%u", c->host, ntohs(a->sin_port));
    }
}

void net_conn_set_events(net_conn *c, const net_conn_events *ev, void *ud)
{
    c->ev = ev;
    c->ud = ud;
}

void *net_conn_data(const net_conn *c)
{
    return c->ud;
}

const char *net_conn_peer(const net_conn *c)
{
    return c->peer;
}

const char *net_conn_peer_host(const net_conn *c)
{
    return c->host;
}

bool net_conn_is_tls(const net_conn *c)
{
    return c->tls != NULL;
}

tls_session *net_conn_tls(net_conn *c)
{
    return c->tls;
}

bool net_conn_is_closing(const net_conn *c)
{
    return c->is_closing;
}

size_t net_conn_queued(const net_conn *c)
{
    return buf_len(&c->out) + buf_len(&c->inflight);
}

/* Drops the retained messages whose wire bytes the socket has taken. */
static void net_retained_forget(net_conn *c, uint64_t written)
{
    while (c->msg_head < c->msg_tail && c->msgs[c->msg_head].wire_end <= written) {
        buf_consume(&c->retained, c->msgs[c->msg_head].len);
        c->msg_head++;
    }
    if (c->msg_head == c->msg_tail)
        c->msg_head = c->msg_tail = 0;
}

static void net_retain(net_conn *c, const char *data, size_t len)
{
    if (c->msg_tail == c->msg_cap) {
        if (c->msg_head > 0) {         /* slide the live entries down */
            memmove(c->msgs, c->msgs + c->msg_head,
                    (c->msg_tail - c->msg_head) * sizeof *c->msgs);
            c->msg_tail -= c->msg_head;
            c->msg_head = 0;
        }
        if (c->msg_tail == c->msg_cap) {
            c->msg_cap = c->msg_cap ? c->msg_cap * 2 : 64;
            c->msgs = xrealloc(c->msgs, c->msg_cap * sizeof *c->msgs);
        }
    }
    c->msgs[c->msg_tail++] = (net_msg){ .wire_end = c->wire_queued, .len = len };
    buf_append(&c->retained, data, len);
}

void net_conn_retain(net_conn *c)
{
    c->is_retaining = true;
}

size_t net_conn_unsent(net_conn *c, const char **data)
{
    /* A uv_write under way may have written part of inflight: libuv knows
     * how much it still holds. */
    uint64_t written = c->wire_written;
    if (c->is_writing && !c->is_closed)
        written += buf_len(&c->inflight) - uv_stream_get_write_queue_size(&c->h.stream);
    net_retained_forget(c, written);
    *data = buf_data(&c->retained);
    return buf_len(&c->retained);
}

void net_conn_set_low_water(net_conn *c, size_t bytes)
{
    c->low_water = bytes;
}

void net_conn_send(net_conn *c, const char *data, size_t len)
{
    if (c->is_closing || len == 0)
        return;
    if (c->tls) {
        if (tls_session_send(c->tls, data, len) < 0) {
            net_conn_fail(c, XE_TLS);
            return;
        }
    } else {
        buf_append(&c->out, data, len);
        c->wire_queued += len;
        net_mark_dirty(c);
    }
    /* Before the TLS handshake the ciphertext does not exist yet, so there
     * is no wire offset to wait for: such early bytes are not retained. */
    if (c->is_retaining && (!c->tls || tls_session_is_ready(c->tls)))
        net_retain(c, data, len);
    if (c->low_water && net_conn_queued(c) > c->low_water)
        c->is_above_low = true;
}

static void net_conn_check_drained(net_conn *c)
{
    if (!c->is_above_low || net_conn_queued(c) > c->low_water)
        return;
    c->is_above_low = false;
    if (!c->is_closing && c->ev && c->ev->drained)
        c->ev->drained(c);
}

static void net_on_write(uv_write_t *req, int status)
{
    net_conn *c = req->data;
    c->is_writing = false;
    if (status == 0) {
        c->wire_written += buf_len(&c->inflight);
        if (c->is_retaining)
            net_retained_forget(c, c->wire_written);
    }
    buf_clear(&c->inflight);
    if (c->is_closed)
        return;
    if (status < 0) {
        net_conn_fail(c, status);
        return;
    }
    net_conn_flush(c);
}

void net_conn_trim(net_conn *c)
{
    if (buf_len(&c->out) == 0)
        buf_close(&c->out);
    if (!c->is_writing)
        buf_close(&c->inflight);
    if (c->msg_head == c->msg_tail && buf_len(&c->retained) == 0) {
        buf_close(&c->retained);
        free(c->msgs);
        c->msgs = NULL;
        c->msg_head = c->msg_tail = c->msg_cap = 0;
    }
    if (c->tls)
        tls_session_trim(c->tls);
}

void net_conn_flush(net_conn *c)
{
    if (c->is_writing || c->is_closed)
        return;
    if (buf_len(&c->out) > 0) {
        uv_buf_t b = uv_buf_init((char *)buf_data(&c->out),
                                 (unsigned)buf_len(&c->out));
        int n = uv_try_write(&c->h.stream, &b, 1);
        if (n > 0) {
            buf_consume(&c->out, (size_t)n);
            c->wire_written += (uint64_t)n;
            if (c->is_retaining)
                net_retained_forget(c, c->wire_written);
        } else if (n < 0 && n != UV_EAGAIN) {
            buf_clear(&c->out);
            net_conn_fail(c, n);
            return;
        }
    }
    if (buf_len(&c->out) > 0) {
        buf t = c->inflight;        /* inflight is empty while not writing */
        c->inflight = c->out;
        c->out = t;
        uv_buf_t b = uv_buf_init((char *)buf_data(&c->inflight),
                                 (unsigned)buf_len(&c->inflight));
        c->wreq.data = c;
        int err = uv_write(&c->wreq, &c->h.stream, &b, 1, net_on_write);
        if (err < 0) {
            buf_clear(&c->inflight);
            net_conn_fail(c, err);
            return;
        }
        c->is_writing = true;
    }
    net_conn_check_drained(c);
    if (c->is_closing && net_conn_queued(c) == 0)
        net_conn_really_close(c);
}

void net_conn_pause(net_conn *c)
{
    c->is_paused = true;
    net_conn_read_stop(c);
}

void net_conn_resume(net_conn *c)
{
    c->is_paused = false;
    net_conn_read_start(c);
}

void net_conn_start_tls(net_conn *c, tls_ctx *ctx, const char *name)
{
    /* What is queued so far is plaintext for the wire (e.g. <proceed/>);
     * flushing first keeps it ahead of the handshake. */
    net_conn_flush(c);
    c->tls = tls_session_new(ctx, name, &net_tls_io, c);
}

void net_conn_set_timeout(net_conn *c, uint64_t ms, net_timeout_fn *fn)
{
    if (c->is_closing)
        return;
    c->timeout_fn = fn;
    if (ms == 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, net_on_timer, ms, 0);
}

static void net_on_handle_closed(uv_handle_t *h)
{
    net_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    if (c->is_dirty) {
        net_conn **p = &net_dirty;
        while (*p != c)
            p = &(*p)->dirty_next;
        *p = c->dirty_next;
    }
    if (c->ev && c->ev->closed)
        c->ev->closed(c);
    if (c->listener)
        net_listener_conn_closed(c->listener, c->host);
    tls_session_free(c->tls);
    buf_close(&c->out);
    buf_close(&c->inflight);
    buf_close(&c->retained);
    free(c->msgs);
    free(c);
}

void net_conn_really_close(net_conn *c)
{
    if (c->is_closed)
        return;
    c->is_closed = true;
    c->is_closing = true;
    c->timer.data = c;
    c->h.handle.data = c;
    uv_close((uv_handle_t *)&c->timer, net_on_handle_closed);
    if (c->open_handles == 2)       /* the socket was opened */
        uv_close(&c->h.handle, net_on_handle_closed);
}

void net_conn_close(net_conn *c)
{
    if (c->is_closing)
        return;
    c->is_closing = true;
    net_conn_read_stop(c);
    if (c->tls && tls_session_is_ready(c->tls))
        tls_session_bye(c->tls);
    if (c->open_handles < 2 || net_conn_queued(c) == 0) {
        net_conn_really_close(c);
        return;
    }
    uv_timer_start(&c->timer, net_on_timer, NET_CLOSE_GRACE_MS, 0);
    net_conn_flush(c);
}

/* An error from the peer's side: tell the owner, then close. After EOF a
 * closing owner may still flush its goodbye (TCP half-close); after any other
 * error the transport is dead and nothing more is written. */
static void net_conn_fail(net_conn *c, int err)
{
    if (c->is_closing) {
        if (err != UV_EOF)
            net_conn_really_close(c);
        return;
    }
    if (c->ev && c->ev->error)
        c->ev->error(c, err);
    if (c->is_closing && err == UV_EOF && net_conn_queued(c) > 0)
        return;                 /* the owner's close is flushing */
    c->is_closing = true;
    net_conn_read_stop(c);
    net_conn_really_close(c);
}

/* --- addresses --------------------------------------------------------- */

int net_split_address(const char *address, char **host, int *port)
{
    const char *colon = strrchr(address, ':');
    if (!colon || colon == address)
        return XE_CONFIG;
    const char *h = address;
    size_t hlen = (size_t)(colon - address);
    if (h[0] == '[') {
        if (hlen < 3 || h[hlen - 1] != ']')
            return XE_CONFIG;
        h++;
        hlen -= 2;
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p < 0 || p > 65535)
        return XE_CONFIG;
    *host = xstrndup(h, hlen);
    *port = (int)p;
    return 0;
}

/* --- outgoing connections ---------------------------------------------- */

typedef struct net_connecting {
    net_conn *c;
    net_connect_fn *cb;
    void *ud;
    const net_conn_events *ev;
    tls_ctx *tls;
    char *tls_name;
    struct addrinfo *addrs, *next;
    uv_connect_t req;
    uv_getaddrinfo_t gai;
} net_connecting;

static void net_connecting_done(net_connecting *nc, int err)
{
    net_conn *c = nc->c;
    if (err == 0) {
        net_conn_set_peer(c);
        if (nc->tls)
            c->tls = tls_session_new_direct(nc->tls, nc->tls_name, &net_tls_io, c);
        net_conn_read_start(c);
    } else if (c) {
        c->ev = NULL;
        net_conn_really_close(c);
        c = NULL;
    }
    if (nc->addrs)
        uv_freeaddrinfo(nc->addrs);
    nc->cb(nc->ud, c, err);
    free(nc->tls_name);
    free(nc);
}

static void net_try_next_addr(net_connecting *nc);

static void net_on_connect(uv_connect_t *req, int status)
{
    net_connecting *nc = req->data;
    if (status == 0 || !nc->next) {
        net_connecting_done(nc, status);
        return;
    }
    /* This address refused: close the socket and try the next one. */
    nc->c->ev = NULL;
    net_conn_really_close(nc->c);
    nc->c = NULL;
    net_try_next_addr(nc);
}

static void net_try_next_addr(net_connecting *nc)
{
    struct addrinfo *ai = nc->next;
    nc->next = ai->ai_next;
    nc->c = net_conn_new();
    uv_tcp_init(net_the_loop, &nc->c->h.tcp);
    nc->c->open_handles = 2;
    nc->c->h.handle.data = nc->c;
    net_conn_set_events(nc->c, nc->ev, nc->ud);
    uv_tcp_nodelay(&nc->c->h.tcp, 1);
    nc->req.data = nc;
    int err = uv_tcp_connect(&nc->req, &nc->c->h.tcp, ai->ai_addr, net_on_connect);
    if (err < 0)
        net_connecting_done(nc, err);
}

static void net_on_resolved(uv_getaddrinfo_t *gai, int status, struct addrinfo *res)
{
    net_connecting *nc = gai->data;
    if (status < 0 || !res) {
        net_connecting_done(nc, status < 0 ? status : UV_EAI_NONAME);
        return;
    }
    nc->addrs = nc->next = res;
    net_try_next_addr(nc);
}

int net_connect(const char *address, bool is_unix, tls_ctx *tls,
                const char *tls_name, const net_conn_events *ev, void *ud,
                net_connect_fn *cb)
{
    net_connecting *nc = xalloc(sizeof *nc);
    nc->cb = cb;
    nc->ud = ud;
    nc->ev = ev;
    nc->tls = tls;
    nc->tls_name = xstrdup(tls_name);
    if (is_unix) {
        nc->c = net_conn_new();
        uv_pipe_init(net_the_loop, &nc->c->h.pipe, 0);
        nc->c->open_handles = 2;
        nc->c->h.handle.data = nc->c;
        net_conn_set_events(nc->c, ev, ud);
        nc->req.data = nc;
        uv_pipe_connect(&nc->req, &nc->c->h.pipe, address, net_on_connect);
        return 0;
    }
    char *host;
    int port;
    if (net_split_address(address, &host, &port) < 0) {
        free(nc->tls_name);
        free(nc);
        return XE_CONFIG;
    }
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
    nc->gai.data = nc;
    int err = uv_getaddrinfo(net_the_loop, &nc->gai, net_on_resolved, host,
                             service, &hints);
    free(host);
    if (err < 0) {
        free(nc->tls_name);
        free(nc);
        return XE_CONFIG;
    }
    return 0;
}
