/* SPDX-License-Identifier: MIT */
/* router/router.h: the hub. Components attach over XEP-0114 streams; the
 * router routes stanzas by domain and envelopes by service or instance name,
 * forwarding the raw bytes it received. */
#ifndef XMPPD_ROUTER_ROUTER_H
#define XMPPD_ROUTER_ROUTER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "libcommon/cfg.h"
#include "libcommon/net.h"
#include "libcommon/rate.h"
#include "libcommon/xstream.h"

typedef struct router router;
typedef struct router_conn router_conn;

typedef enum { ROUTER_BIND_DOMAIN, ROUTER_BIND_SERVICE } router_bind_kind;

/* One ACL entry: what a component may bind beyond its own name. */
typedef struct router_allow {
    router_bind_kind kind;
    char *name;                      /* exact, or "*" for any */
} router_allow;

/* A <component> of the config: who may attach, with which secret. */
typedef struct router_component_cfg {
    char *name;                      /* the handshake's to='NAME' */
    char *secret;
    bool binds_name;                 /* NAME itself is bound as a domain */
    bool may_send_remote;            /* may send from domains not ours (s2s) */
    router_allow *allow;
    size_t n_allow;
    int line;
} router_component_cfg;

typedef struct router_listen_cfg {
    char *address;                   /* HOST:PORT or a socket path */
    bool is_unix;
    bool is_tls;
    char *cert, *key, *client_ca;    /* TLS only */
    int line;
} router_listen_cfg;

typedef struct router_limits {
    size_t max_stanza_bytes;
    unsigned max_depth, max_attrs;
    uint64_t rate_bytes_per_s, burst_bytes;
    unsigned max_conns_per_address;
    uint64_t handshake_timeout_ms, idle_timeout_ms;
    size_t send_queue_bytes;         /* per connection; past it stanzas bounce */
} router_limits;

typedef struct router_config {
    char **domains;                  /* the suite's own domains */
    size_t n_domains;
    char *state_dir;
    router_listen_cfg *listen;
    size_t n_listen;
    char *control_path;              /* NULL: no control socket */
    router_limits limits;
    char *default_service;           /* NULL: no default route */
    router_component_cfg *components;
    size_t n_components;
} router_config;

/* router/config.c: reads the <router> section. Returns 0 or XE_CONFIG with
 * diag filled. */
int router_config_load(const cfg *c, router_config *out, cfg_diag *diag);
void router_config_close(router_config *rc);
const router_component_cfg *router_config_component(const router_config *rc,
                                                    const char *name);

/* A name that stanzas or envelopes are routed to, and who serves it. */
typedef struct router_route {
    char *name;
    bool is_service;                 /* service or instance name, else a domain */
    router_conn **conns;
    size_t n_conns, cap_conns;
} router_route;

typedef struct router_stats {
    uint64_t stanzas, bytes;         /* routed */
    uint64_t bounced, refused;       /* errors sent back; stanzas refused */
    uint64_t to_default;             /* handed to the default route */
    uint64_t attached, detached;
} router_stats;

struct router {
    router_config config;
    uint64_t started_ms;
    unsigned next_conn_id;
    router_conn *conns;              /* every live connection */
    size_t n_conns;
    struct router_table *routes;     /* name -> router_route */
    tls_ctx **tls;                   /* one per TLS listener */
    net_listener **listeners;
    size_t n_listeners;
    net_listener *control;
    uv_timer_t throttle_timer;       /* runs while a connection is throttled */
    unsigned n_throttled;
    router_stats stats;
    bool is_stopping;
};

typedef enum {
    ROUTER_CONN_OPENING,             /* waiting for the stream header */
    ROUTER_CONN_HANDSHAKE,           /* waiting for <handshake> */
    ROUTER_CONN_READY,
    ROUTER_CONN_CLOSING,
} router_conn_state;

struct router_conn {
    router *r;
    net_conn *net;
    xstream *xs;
    router_conn *prev, *next;
    unsigned id;
    router_conn_state state;
    char who[160];                   /* log context */
    char stream_id[33];
    const router_component_cfg *cfg; /* after the header named it */
    char *instance;                  /* NAME#ID, or the bound instance name */
    uint64_t seed;                   /* hash of instance, for rendezvous */
    bool is_xmppd;                   /* bound an instance: gets envelopes, events */
    router_route **bound;            /* the routes this connection serves */
    size_t n_bound, cap_bound;
    rate rate;
    uint64_t resume_at_ms;           /* throttled until then; 0 when not */
    unsigned blocked_on;             /* destinations we wait to drain */
    router_conn **waiters;           /* sources paused until we drain */
    size_t n_waiters, cap_waiters;
    uint64_t stanzas_in, stanzas_out, bytes_in, bytes_out, bounced;
    uint64_t attached_ms;
};

/* router/conn.c */
int router_listen_all(router *r, cfg_diag *diag);
void router_conn_close(router_conn *rc, int stream_condition, const char *why);
void router_conn_send(router_conn *rc, const char *data, size_t len);
/* Pauses src until dst drains (backpressure). */
void router_conn_wait_for(router_conn *src, router_conn *dst);
void router_stop(router *r);

/* router/accept.c: XEP-0114 */
void router_accept_header(router_conn *rc, xs_elem *header);
void router_accept_handshake(router_conn *rc, xs_elem *st);

/* router/bind.c: the bind extension and membership events */
void router_bind_request(router_conn *rc, xs_elem *st);
/* Binds rc to name; returns 0 or XE_BUSY when an instance name is taken. */
int router_bind(router_conn *rc, const char *name, bool is_service);
void router_unbind_all(router_conn *rc);
void router_events_detach(router_conn *rc);

/* router/routes.c: the name table and rendezvous hashing */
void router_routes_init(router *r);
void router_routes_free(router *r);
router_route *router_route_find(router *r, const char *name, size_t len);
router_route *router_route_get(router *r, const char *name, bool is_service);
void router_route_remove_conn(router *r, router_route *rt, router_conn *rc);
/* Case-folding hash of a name; a connection's seed is that of its instance. */
uint64_t router_hash(const char *s, size_t len);
/* The instance of rt for key (rendezvous hashing); NULL when none is ready. */
router_conn *router_route_pick(const router_route *rt, const char *key, size_t klen);
bool router_is_local_domain(const router *r, const char *domain, size_t len);

/* router/deliver.c: stanzas and envelopes */
/* Routes one top-level element that rc sent (rc NULL: the router itself,
 * e.g. a bounce). raw is forwarded as is. */
void router_deliver(router *r, router_conn *rc, xs_elem *st, const char *raw,
                    size_t len);
/* Sends an error for a stanza that could not be delivered to whoever sent
 * it; nothing for errors and results (RFC 6120 §8.3.1). */
void router_bounce(router *r, xs_elem *st, const char *raw, size_t len,
                   int condition, const char *text);
/* Re-routes or bounces the stanzas a dying connection never got. */
void router_bounce_unsent(router *r, router_conn *rc, const char *data, size_t len);

/* router/control.c: the status report for xmppdctl */
int router_control_listen(router *r, cfg_diag *diag);
void router_report(const router *r, buf *out);
#endif
