/* SPDX-License-Identifier: MIT */
/* libcommon/net_impl.h: a connection's state, shared by net.c (its life:
 * reading, writing, TLS, closing) and net_listen.c (listeners that accept
 * it) only; users of connections include net.h. */
#ifndef XMPPD_LIBCOMMON_NET_IMPL_H
#define XMPPD_LIBCOMMON_NET_IMPL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "libcommon/buf.h"
#include "libcommon/net.h"
#include "libcommon/tls.h"

typedef struct net_msg {
    uint64_t wire_end;            /* wire_queued just after the message */
    size_t len;                   /* its bytes in retained */
} net_msg;

struct net_conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;                          /* first member: a handle pointer is the conn */
    uv_timer_t timer;
    const net_conn_events *ev;
    void *ud;
    net_listener *listener;       /* NULL for outgoing connections */
    tls_session *tls;
    buf out;                      /* bytes for the wire, not yet handed to libuv */
    buf inflight;                 /* bytes a uv_write owns */
    /* Retention (net_conn_retain): a copy of each message sent, kept until
     * the socket has taken all of its wire bytes. */
    bool is_retaining;
    buf retained;                 /* the messages not yet written, in order */
    net_msg *msgs;                /* their sizes and where they end on the wire */
    size_t msg_head, msg_tail, msg_cap;
    uint64_t wire_queued;         /* wire bytes ever queued */
    uint64_t wire_written;        /* wire bytes the socket took */
    uv_write_t wreq;
    net_timeout_fn *timeout_fn;
    net_conn *dirty_next;
    size_t low_water;
    int open_handles;             /* 1: the timer; 2: the socket as well */
    bool is_writing, is_closing, is_closed, is_dirty, is_paused, is_reading;
    bool is_above_low;
    char peer[64];
    char host[56];
};

/* The callbacks a connection's TLS session uses to reach the socket. */
extern const tls_io net_tls_io;

/* A new connection with its timer open; the caller opens the socket in
 * c->h and sets open_handles to 2. Freed only by closing it. */
net_conn *net_conn_new(void);
/* Fills peer and host from the connected socket. */
void net_conn_set_peer(net_conn *c);
/* Starts reading unless paused or closing. */
void net_conn_read_start(net_conn *c);
/* Closes the handles now, dropping what is queued; closed() follows. */
void net_conn_really_close(net_conn *c);

/* net_listen.c: a connection l accepted from host is gone; forgets it in
 * the per-address counts and drops its reference to l. */
void net_listener_conn_closed(net_listener *l, const char *host);
#endif
