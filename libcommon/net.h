/* SPDX-License-Identifier: MIT */
/* libcommon/net.h: connections and listeners on the libuv loop, over TCP or
 * Unix sockets, in plaintext or TLS (direct, or upgraded with STARTTLS).
 * Writes are queued and flushed once per loop turn, so many small sends
 * become one system call; the queue size is visible for backpressure. */
#ifndef XMPPD_LIBCOMMON_NET_H
#define XMPPD_LIBCOMMON_NET_H
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "libcommon/tls.h"

typedef struct net_conn net_conn;
typedef struct net_listener net_listener;

typedef struct net_conn_events {
    /* Plaintext arrived (decrypted already under TLS). */
    void (*data)(net_conn *c, const char *data, size_t len);
    /* The queue fell to or below the low-water mark set with
     * net_conn_set_low_water() after having been above it. May be NULL. */
    void (*drained)(net_conn *c);
    /* The TLS handshake finished. May be NULL. */
    void (*tls_ready)(net_conn *c);
    /* The peer went away or an error happened (err < 0: UV_EOF, XE_TLS,
     * XE_CERT, ...). The connection is closing; net_conn_close() follows by
     * itself. Not called after the owner called net_conn_close(). */
    void (*error)(net_conn *c, int err);
    /* The last call: the connection is gone and freed after this returns. */
    void (*closed)(net_conn *c);
} net_conn_events;

/* Once per process, before anything else here. */
void net_init(uv_loop_t *loop);
uv_loop_t *net_loop(void);
uint64_t net_now_ms(void);                   /* the loop's cached clock */

void net_conn_set_events(net_conn *c, const net_conn_events *ev, void *ud);
void *net_conn_data(const net_conn *c);      /* the ud given with the events */
/* "127.0.0.1:4711", "[::1]:4711" or "unix"; valid while c lives. */
const char *net_conn_peer(const net_conn *c);
/* The peer's address without the port, for per-address accounting. */
const char *net_conn_peer_host(const net_conn *c);
bool net_conn_is_tls(const net_conn *c);
tls_session *net_conn_tls(net_conn *c);      /* NULL when plaintext */

/* Queues bytes for the peer (encrypted under TLS). Never fails: the caller
 * watches net_conn_queued() for backpressure. Ignored once closing. */
void net_conn_send(net_conn *c, const char *data, size_t len);
size_t net_conn_queued(const net_conn *c);   /* bytes not yet on the wire */
void net_conn_set_low_water(net_conn *c, size_t bytes);
/* Keeps a copy of every later net_conn_send() until the socket has taken all
 * of its bytes, for net_conn_unsent(). Each send counts as one message. */
void net_conn_retain(net_conn *c);
/* With retention: the messages the socket never took whole, in the order
 * sent (a message partly written never reached the peer whole either).
 * Bytes in the kernel's buffers count as taken. Messages sent before a TLS
 * handshake finished are not retained. *data stays valid until the next
 * send or the end of the current callback. */
size_t net_conn_unsent(net_conn *c, const char **data);
/* Frees the connection's empty buffers (and its TLS session's), for one
 * that has gone quiet; they grow again when needed. */
void net_conn_trim(net_conn *c);
/* Writes what is queued now instead of at the end of the loop turn. */
void net_conn_flush(net_conn *c);

void net_conn_pause(net_conn *c);            /* stop reading */
void net_conn_resume(net_conn *c);

/* Starts TLS on a live plaintext connection (STARTTLS), as server when
 * name is NULL, else as client expecting that name. Bytes queued before this
 * call go out in plaintext first. */
void net_conn_start_tls(net_conn *c, tls_ctx *ctx, const char *name);

/* Calls fn(c) once after ms milliseconds unless re-armed or stopped;
 * ms 0 stops it. One timer per connection. */
typedef void net_timeout_fn(net_conn *c);
void net_conn_set_timeout(net_conn *c, uint64_t ms, net_timeout_fn *fn);

/* Closes: stops reading, writes what is queued (up to a short grace
 * period), sends TLS close_notify, then closes the socket and calls
 * closed(). Never frees at once: c stays valid until closed() returns.
 * Safe to call more than once. */
void net_conn_close(net_conn *c);
bool net_conn_is_closing(const net_conn *c);

/* A new connection arrived: set its events with net_conn_set_events() here.
 * same_host is the number of open connections from its address, itself
 * included, for per-address limits. */
typedef void net_accept_fn(net_listener *l, net_conn *c, unsigned same_host);

typedef struct net_listen_opts {
    const char *address;      /* "HOST:PORT" ("[::1]:5347"), or a path for unix */
    bool is_unix;
    tls_ctx *tls;             /* direct TLS on every connection; NULL: plaintext */
    net_accept_fn *accept;
    void *ud;
} net_listen_opts;

/* Binds and listens. Returns 0 with *out set, or a UV_E* code (address in use,
 * permission) or XE_CONFIG (an address that does not parse). An existing
 * stale Unix socket file is replaced. */
int net_listen(const net_listen_opts *opts, net_listener **out);
void *net_listener_data(const net_listener *l);
const char *net_listener_address(const net_listener *l);
int net_listener_port(const net_listener *l);  /* TCP: the bound port (for port 0) */
void net_listener_close(net_listener *l);    /* stops accepting; open conns stay */

/* The outcome of net_connect: 0 with c ready for net_conn_send() (the TLS
 * handshake may still be under way: sends wait for it), or an error and c
 * NULL. */
typedef void net_connect_fn(void *ud, net_conn *c, int err);

/* Connects to "HOST:PORT" (names resolved asynchronously) or, with is_unix, a
 * socket path; with tls, starts TLS as a client expecting tls_name. The
 * events are set on the connection before cb runs. Returns 0 (cb will run)
 * or XE_CONFIG for an address that does not parse (cb will not run). */
int net_connect(const char *address, bool is_unix, tls_ctx *tls,
                const char *tls_name, const net_conn_events *ev, void *ud,
                net_connect_fn *cb);

/* Splits "HOST:PORT" / "[V6]:PORT" into host (a new string) and port.
 * Returns 0 or XE_CONFIG. */
int net_split_address(const char *address, char **host, int *port);
#endif
