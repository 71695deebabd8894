/* SPDX-License-Identifier: MIT */
/* libcommon/link.h: a component's link to the router: connects over TCP, a
 * Unix socket or TLS, does the XEP-0114 handshake, binds more names (the
 * xmppd extension), queues what is sent while the link is down, reconnects
 * with backoff and reports membership events. */
#ifndef XMPPD_LIBCOMMON_LINK_H
#define XMPPD_LIBCOMMON_LINK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libcommon/tls.h"
#include "libcommon/xs.h"
#include "libcommon/xstream.h"

typedef struct link_conn link_conn;    /* "link" alone is taken by unistd.h */

typedef struct link_bind {
    const char *name;
    bool is_service;                   /* a service name, else a domain */
} link_bind;

typedef struct link_opts {
    const char *address;               /* "HOST:PORT", or a socket path */
    bool is_unix;
    tls_ctx *tls;                      /* direct TLS; NULL: plaintext */
    const char *tls_name;              /* the router's name in its certificate */
    const char *name;                  /* the handshake's to= */
    const char *secret;
    /* The instance name, unique in the suite ("c2s/host1"); NULL for a plain
     * XEP-0114 component that binds nothing and gets no events. */
    const char *instance;
    const link_bind *binds;            /* n_binds names to serve */
    size_t n_binds;
    size_t max_queue_bytes;            /* held while down; 0: 4 MiB */
    uint64_t max_backoff_ms;           /* reconnect delay cap; 0: 10 s */
    xstream_limits limits;             /* zeroed: XSTREAM_DEFAULT_LIMITS */
} link_opts;

typedef struct link_events {
    /* The link logs attaching, going down and refusals itself; these
     * callbacks are for what the process does about them.
     * Attached: handshake done and every bind answered. May be NULL. */
    void (*ready)(link_conn *l, void *ud);
    /* A stanza or envelope arrived (a full tree; raw as received). */
    void (*stanza)(link_conn *l, xs_elem *st, const char *raw, size_t len, void *ud);
    /* A membership event: type is "attach", "bind" or "detach"; name and kind
     * are set for "bind". May be NULL. */
    void (*member)(link_conn *l, const char *type, const char *instance,
                   const char *name, const char *kind, void *ud);
    /* The link went down (why says so); it reconnects by itself. May be NULL. */
    void (*down)(link_conn *l, const char *why, void *ud);
    /* The router refused a bind or the secret: the link stops retrying.
     * May be NULL. */
    void (*refused)(link_conn *l, const char *why, void *ud);
} link_events;

/* A new link that starts connecting at once (net_init() first). The options'
 * strings are copied. */
link_conn *link_new(const link_opts *opts, const link_events *ev, void *ud);
/* Closes the stream and frees the link once the socket is closed. */
void link_free(link_conn *l);
bool link_is_ready(const link_conn *l);
const char *link_instance(const link_conn *l);   /* NAME#? for plain links */
/* Sends raw XML (one or more complete elements). While the link is down it
 * is queued. Returns 0, XE_BUSY when the queue is full (nothing kept), or
 * XE_CLOSED for a NULL link (a process that is stopping has freed it). The
 * two functions below behave the same. */
int link_send(link_conn *l, const char *xml, size_t len);
/* Serializes st for the component stream and sends it; always takes st. */
int link_send_stanza(link_conn *l, xs_elem *st);
/* Wraps inner (raw XML) in an envelope from this instance and sends it. */
int link_send_envelope(link_conn *l, const char *to, const char *key,
                       const char *inner, size_t len);
/* Bytes queued, on the wire or waiting for the link. */
size_t link_queued(const link_conn *l);
#endif
