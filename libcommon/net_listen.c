/* SPDX-License-Identifier: MIT */
/* libcommon/net_listen.c: listeners on TCP or Unix sockets, the connections
 * they accept, and the count of open connections per peer address. */
#include "libcommon/net_impl.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"

/* The kernel's queue of connections not yet accepted. */
#define NET_LISTEN_BACKLOG 511

typedef struct net_host_count {
    struct net_host_count *next;
    unsigned count;
    char host[];
} net_host_count;

struct net_listener {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    net_listen_opts opts;
    char *address;
    unsigned refs;                /* 1 while listening, plus 1 per connection */
    net_host_count *hosts;        /* open connections per peer address */
};

/* --- per-address counts ------------------------------------------------ */

/* Counts one more connection from host; returns how many are open now. */
static unsigned net_host_remember(net_listener *l, const char *host)
{
    for (net_host_count *h = l->hosts; h; h = h->next)
        if (strcmp(h->host, host) == 0)
            return ++h->count;
    size_t len = strlen(host);
    net_host_count *h = xalloc(sizeof *h + len + 1);
    memcpy(h->host, host, len + 1);
    h->count = 1;
    h->next = l->hosts;
    l->hosts = h;
    return 1;
}

static void net_host_forget(net_listener *l, const char *host)
{
    for (net_host_count **p = &l->hosts; *p; p = &(*p)->next) {
        if (strcmp((*p)->host, host) == 0) {
            if (--(*p)->count == 0) {
                net_host_count *dead = *p;
                *p = dead->next;
                free(dead);
            }
            return;
        }
    }
}

/* --- listeners --------------------------------------------------------- */

static void net_listener_on_closed(uv_handle_t *h)
{
    net_listener *l = (net_listener *)h;
    while (l->hosts) {
        net_host_count *next = l->hosts->next;
        free(l->hosts);
        l->hosts = next;
    }
    free(l->address);
    free(l);
}

/* A listener lives until it stopped listening and its last connection is
 * gone, since each connection counts its peer in it. */
static void net_listener_release(net_listener *l)
{
    if (--l->refs == 0)
        uv_close(&l->h.handle, net_listener_on_closed);
}

void net_listener_conn_closed(net_listener *l, const char *host)
{
    net_host_forget(l, host);
    net_listener_release(l);
}

static void net_on_connection(uv_stream_t *server, int status)
{
    net_listener *l = (net_listener *)server;
    if (status < 0)
        return;
    net_conn *c = net_conn_new();
    if (l->opts.is_unix)
        uv_pipe_init(net_loop(), &c->h.pipe, 0);
    else
        uv_tcp_init(net_loop(), &c->h.tcp);
    c->open_handles = 2;
    c->h.handle.data = c;
    if (uv_accept(server, &c->h.stream) != 0) {
        net_conn_really_close(c);
        return;
    }
    if (!l->opts.is_unix)
        uv_tcp_nodelay(&c->h.tcp, 1);
    net_conn_set_peer(c);
    c->listener = l;
    l->refs++;
    unsigned same_host = net_host_remember(l, c->host);
    if (l->opts.tls)
        c->tls = tls_session_new_direct(l->opts.tls, NULL, &net_tls_io, c);
    l->opts.accept(l, c, same_host);
    net_conn_read_start(c);
}

/* Opens l's TCP handle and binds it to "HOST:PORT". Returns 0, a UV_E* code
 * (the handle is open) or XE_CONFIG (the address did not parse; it is not). */
static int net_listener_bind_tcp(net_listener *l, const char *address)
{
    char *host;
    int port;
    int err = net_split_address(address, &host, &port);
    if (err < 0)
        return err;
    struct sockaddr_storage ss;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        free(host);
        return XE_CONFIG;
    }
    free(host);
    uv_tcp_init(net_loop(), &l->h.tcp);
    return uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&ss, 0);
}

int net_listen(const net_listen_opts *opts, net_listener **out)
{
    net_listener *l = xalloc(sizeof *l);
    l->opts = *opts;
    l->address = xstrdup(opts->address);
    l->refs = 1;
    int err;
    if (opts->is_unix) {
        uv_pipe_init(net_loop(), &l->h.pipe, 0);
        unlink(opts->address);     /* a stale socket from an earlier run */
        err = uv_pipe_bind(&l->h.pipe, opts->address);
    } else {
        err = net_listener_bind_tcp(l, opts->address);
        if (err == XE_CONFIG) {    /* no handle was opened */
            free(l->address);
            free(l);
            return err;
        }
    }
    if (err == 0)
        err = uv_listen(&l->h.stream, NET_LISTEN_BACKLOG, net_on_connection);
    if (err < 0) {
        l->refs = 0;
        uv_close(&l->h.handle, (uv_close_cb)free);
        free(l->address);
        return err;
    }
    *out = l;
    return 0;
}

void *net_listener_data(const net_listener *l)
{
    return l->opts.ud;
}

const char *net_listener_address(const net_listener *l)
{
    return l->address;
}

int net_listener_port(const net_listener *l)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (l->opts.is_unix || uv_tcp_getsockname(&l->h.tcp, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void net_listener_close(net_listener *l)
{
    if (l->opts.is_unix)
        unlink(l->address);
    net_listener_release(l);
}
