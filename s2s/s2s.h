/* SPDX-License-Identifier: MIT */
/* s2s/s2s.h: xmppd-s2s, the server-to-server process (RFC 6120, XEP-0220):
 * what its files share. main.c wires, config.c reads <s2s>, in.c owns the
 * listeners, the connection objects and incoming streams, resolve.c finds
 * remote domains (DNS SRV with c-ares), out.c connects and queues for
 * outgoing streams, dialback.c authenticates both ways. */
#ifndef XMPPD_S2S_S2S_H
#define XMPPD_S2S_S2S_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "libcommon/cfg.h"
#include "libcommon/component.h"
#include "libcommon/link.h"
#include "libcommon/listen.h"
#include "libcommon/net.h"
#include "libcommon/rate.h"
#include "libcommon/tls.h"
#include "libcommon/xs.h"
#include "libcommon/xstream.h"

#define S2S_NS_DIALBACK "jabber:server:dialback"
/* XEP-0368: the ALPN protocol of server-to-server TLS, offered and accepted. */
#define S2S_ALPN "xmpp-server"
#define S2S_NS_DIALBACK_FEATURE "urn:xmpp:features:dialback"
#define S2S_DEFAULT_PORT 5269

typedef struct s2s_limits {
    size_t max_stanza_bytes;
    unsigned max_depth, max_attrs;
    uint64_t rate_bytes_per_s, burst_bytes;
    unsigned max_connections_per_address;
    uint64_t handshake_timeout_ms;       /* until authenticated, both ways */
    uint64_t idle_timeout_ms;            /* 0: never */
    size_t max_queue_bytes;              /* per outgoing stream being set up */
} s2s_limits;

/* <host domain= address= port=/>: where a remote domain is, without DNS. */
typedef struct s2s_host {
    char *domain;
    char *address;
    int port;
} s2s_host;

/* What a remote domain must do to be talked to (<remote auth=.../>). */
typedef enum {
    S2S_AUTH_DIALBACK,       /* SASL EXTERNAL with a valid certificate, else dialback */
    S2S_AUTH_CERTIFICATE,    /* only SASL EXTERNAL with a valid certificate */
    S2S_AUTH_DENY,           /* no federation at all */
} s2s_auth_policy;

typedef struct s2s_remote {
    char *domain;
    s2s_auth_policy auth;
} s2s_remote;

/* The client side of outgoing TLS for one local domain: its certificate is
 * presented to the peer (SASL EXTERNAL, XEP-0178). domain NULL: any. */
typedef struct s2s_client_tls {
    char *domain;
    tls_ctx *tls;
} s2s_client_tls;

typedef struct s2s_config {
    char **domains;                      /* normalized served domains */
    size_t n_domains;
    listen_set listen;                   /* <listen>s; tls= is direct TLS (XEP-0368) */
    s2s_host *hosts;
    size_t n_hosts;
    tls_ctx *tls;                        /* server side: every <certificate> */
    tls_ctx *tls_client;                 /* outgoing STARTTLS, without a certificate */
    s2s_client_tls *client_tls;          /* outgoing STARTTLS, per local domain */
    size_t n_client_tls;
    char *ca_file;                       /* <tls ca-file>; NULL: the system store */
    bool tls_required;
    s2s_remote *remotes;                 /* <remote domain= auth=/> */
    size_t n_remotes;
    s2s_auth_policy default_auth;        /* <remote domain='*'>, else dialback */
    char *secret;                        /* the dialback secret */
    char *resolver;                      /* <resolver address=>; NULL: resolv.conf */
    bool is_secret_generated;
    s2s_limits limits;
    component_link_cfg link;
} s2s_config;

typedef struct s2s_conn s2s_conn;
typedef struct s2s_resolver s2s_resolver;    /* resolve.c: c-ares on the loop */
typedef struct s2s_lookup s2s_lookup;        /* resolve.c: one domain's lookup */

/* One place to connect to, in the order they are tried. */
typedef struct s2s_candidate {
    char *address;                       /* "IP:PORT" or "HOST:PORT" */
    char *target;                        /* the SRV target (or <host> address), for logs */
    bool is_direct_tls;                  /* from _xmpps-server: TLS from the start */
} s2s_candidate;

/* Where a remote domain is: see s2s_resolve() in resolve.c. */
typedef void s2s_resolve_fn(s2s_conn *cn, s2s_candidate *cands, size_t n, int err);

typedef struct s2s {
    s2s_config config;
    char db_key[65];                     /* hex SHA-256 of the secret (XEP-0185) */
    link_conn *link;
    s2s_resolver *resolver;
    s2s_conn *conns;                     /* incoming and outgoing */
    uint64_t next_conn_id;
    uv_timer_t sweep;                    /* timeouts and rate pauses */
    bool is_stopping;
} s2s;

typedef enum {
    S2S_RESOLVING,           /* out: looking up the remote domain */
    S2S_CONNECTING,          /* out: TCP connect under way */
    S2S_OPENING,             /* waiting for the peer's stream header */
    S2S_OPEN,                /* headers exchanged, negotiating */
    S2S_TLS,                 /* <proceed/>: TLS handshake under way */
    S2S_SASL,                /* out: our SASL EXTERNAL <auth/> is sent */
    S2S_AUTHING,             /* out: our db:result is sent */
    S2S_READY,               /* out: authenticated, stanzas flow */
    S2S_CLOSING,
} s2s_conn_state;

/* A stanza waiting for its outgoing stream (raw, without xmlns). */
typedef struct s2s_pending {
    struct s2s_pending *next;
    size_t len;
    char data[];
} s2s_pending;

/* A db:result received on an incoming stream, to be checked with the
 * authoritative server over an outgoing stream (XEP-0220 §2.1.2). */
typedef struct s2s_verify {
    struct s2s_verify *next;
    uint64_t in_id;                      /* the incoming connection's id */
    char *originating, *receiving;       /* remote, local */
    char *stream_id, *key;
} s2s_verify;

/* Another local domain piggybacked on an outgoing stream opened for
 * cn->local (XEP-0220 §2.5): its own db:result, queue and answer. */
typedef enum {
    S2S_PAIR_WAITING,        /* the stream is not authenticated yet */
    S2S_PAIR_AUTHING,        /* our db:result for it is sent */
    S2S_PAIR_READY,          /* valid: its stanzas flow */
} s2s_pair_state;

typedef struct s2s_out_pair {
    struct s2s_out_pair *next;
    char *local;
    s2s_pair_state state;
    s2s_pending *queue, *queue_tail;
    size_t queued_bytes;
    uint64_t deadline_ms;                /* for the answer, 0: none */
} s2s_out_pair;

struct s2s_conn {
    s2s *srv;
    net_conn *net;                       /* NULL while resolving/connecting */
    xstream *xs;
    s2s_conn *prev, *next;
    uint64_t id;
    char who[200];                       /* log context */
    bool is_out;
    s2s_conn_state state;
    char stream_id[65];                  /* in: ours; out: the peer's */
    bool has_header_sent;
    char *local;                         /* our domain on this stream */
    char *remote;                        /* out: the peer's domain; in: the header's from */
    uint64_t deadline_ms;                /* handshake deadline, 0: none */
    uint64_t last_ms;                    /* last traffic, for idle */
    rate rl;
    uint64_t resume_at_ms;               /* reads paused until */

    /* in: the (remote, local) pairs dialback has authenticated */
    char **authed;
    size_t n_authed;

    /* out */
    s2s_pending *queue, *queue_tail;
    size_t queued_bytes;
    s2s_out_pair *pairs;                 /* other local domains on this stream */
    s2s_verify *verifies;                /* to send once the stream is open */
    s2s_verify *verifies_sent;           /* waiting for answers */
    s2s_candidate *candidates;           /* to try in order */
    size_t n_candidates, next_candidate;
    bool is_started, is_resolving, is_connecting;
    bool is_sasl_done;                   /* out: SASL EXTERNAL succeeded, stream restarted */
    bool has_routed;                     /* out: carried a stanza from the router */
    s2s_resolve_fn *resolve_cb;
    s2s_lookup *lookup;                  /* while is_resolving */
    unsigned n_verifying;                /* in: db:result being checked */
};

/* config.c: the served domains and the <s2s> section into conf, an
 * s2s_config; main hands both to proc_start() (proc_load_fn, proc_close_fn).
 * Returns 0 or XE_CONFIG with diag filled. s2s_config_close() frees what it
 * owns, also after a failed load. */
int s2s_config_load(const cfg *c, void *conf, cfg_diag *diag);
void s2s_config_close(void *conf);
bool s2s_serves(const s2s *s, const char *domain);
/* The <host> override for domain, or NULL. */
const s2s_host *s2s_host_for(const s2s *s, const char *domain);
/* The <remote> policy for a remote domain (the default when none names it). */
s2s_auth_policy s2s_policy_for(const s2s *s, const char *domain);
const char *s2s_policy_name(s2s_auth_policy p);
/* The TLS client context for streams from local (with its certificate). */
tls_ctx *s2s_client_tls_for(const s2s *s, const char *local);

/* in.c: connections of both directions and the incoming streams. */
int s2s_listen_all(s2s *s);                          /* 0 or a UV_E* code */
/* A new connection object, linked in; out ones start without a socket. */
s2s_conn *s2s_conn_new(s2s *s, bool is_out);
/* Gives cn its socket: events, parser, rate, timers. */
void s2s_conn_attach(s2s_conn *cn, net_conn *c);
void s2s_conn_set_who(s2s_conn *cn);
void s2s_conn_send(s2s_conn *cn, const char *data, size_t len);
void s2s_conn_send_str(s2s_conn *cn, const char *str);
/* Our stream header: in answers with our id, out opens with from/to. */
void s2s_conn_send_header(s2s_conn *cn);
/* Ends the stream: with a stream error unless cond < 0, then closes (an
 * out stream bounces what it still holds first). cn stays valid until the
 * caller returns. */
void s2s_conn_close(s2s_conn *cn, int cond, const char *why);
s2s_conn *s2s_conn_by_id(s2s *s, uint64_t id);
void s2s_new_stream_id(char out[33]);
void s2s_shutdown(s2s *s);                           /* SIGTERM */
bool s2s_in_is_authed(const s2s_conn *cn, const char *remote, const char *local);
/* Does the peer's certificate verify and name domain (RFC 6125, XEP-0178)? */
bool s2s_conn_cert_names(const s2s_conn *cn, const char *domain);
void s2s_in_add_authed(s2s_conn *cn, const char *remote, const char *local);

/* out.c: outgoing streams. */
/* A stanza from the router for a remote domain (st and raw borrowed). */
void s2s_out_route(s2s *s, xs_elem *st, const char *raw, size_t len);
/* The outgoing stream that carries (local, remote), or NULL. With create:
 * when none does, local is piggybacked on a stream to remote opened for
 * another of our domains (unless remote's policy is certificate), else a
 * new stream; the caller starts it with s2s_out_start() once it queued its
 * work. */
s2s_conn *s2s_out_get(s2s *s, const char *local, const char *remote, bool create);
void s2s_out_start(s2s_conn *cn);
void s2s_out_on_open(s2s_conn *cn, xs_elem *header);
void s2s_out_on_stanza(s2s_conn *cn, xs_elem *st, const char *raw, size_t len);
void s2s_out_on_tls_ready(s2s_conn *cn);
/* Authenticated (method: "dialback" or "SASL EXTERNAL"): queued stanzas
 * and waiting db:verify elements go out. */
void s2s_out_ready(s2s_conn *cn, const char *method);
/* The stream cannot be (or stay) set up: every queued stanza (of every
 * pair on it) goes back to its sender with cond. */
void s2s_out_fail(s2s_conn *cn, xs_condition cond, const char *why);
/* A db:result answer for a piggybacked pair (to: its local domain); false
 * when no pair on cn has that domain. */
bool s2s_out_pair_answer(s2s_conn *cn, const char *local, const char *type);
/* Piggybacked pairs whose answer is overdue fail with remote-server-timeout. */
void s2s_out_sweep_pairs(s2s_conn *cn, uint64_t now_ms);
void s2s_out_free_pairs(s2s_conn *cn);

/* resolve.c: where remote domains are (RFC 6120 §3.2, XEP-0368, c-ares). */
/* The c-ares channel on the loop (config.resolver or resolv.conf). Returns
 * 0 or XE_CONFIG (logged). */
int s2s_resolver_init(s2s *s);
/* Ends every lookup under way: their callbacks run with UV_ECANCELED. */
void s2s_resolver_cancel(s2s *s);
/* Cancels, then frees the channel and closes its handles (NULL-safe). */
void s2s_resolver_close(s2s *s);
/* Where cn->remote is: the <host> override, else SRV _xmpps-server and
 * _xmpp-server ordered by priority and weight and each target's A/AAAA,
 * else (no SRV record at all) A/AAAA on 5269. cb gets err 0 with n >= 1
 * candidates (it takes the array: s2s_candidates_free), or an error.
 * Returns 0 (cb runs, maybe at once) or an error (cb never runs). */
int s2s_resolve(s2s_conn *cn, s2s_resolve_fn *cb);
void s2s_candidates_free(s2s_candidate *cands, size_t n);

/* dialback.c: XEP-0220 with XEP-0185 keys. */
void s2s_dialback_init(s2s *s);
/* hex HMAC-SHA256(hex SHA256(secret), receiving ' ' originating ' ' id). */
void s2s_dialback_key(const s2s *s, const char *receiving, const char *originating,
                      const char *stream_id, char out[65]);
/* A dialback element on an incoming stream (result or verify). */
void s2s_dialback_in(s2s_conn *cn, xs_elem *st);
/* A dialback element on an outgoing stream (answers to ours). */
void s2s_dialback_out(s2s_conn *cn, xs_elem *st);
/* Sends a db:result for (local, cn->remote) keyed to cn's stream id. */
void s2s_dialback_send_result(s2s_conn *cn, const char *local);
/* Out stream negotiated: sends our db:result and the waiting db:verify. */
void s2s_dialback_start(s2s_conn *cn);
/* Sends the waiting db:verify elements of an open out stream. */
void s2s_dialback_flush_verifies(s2s_conn *cn);
/* Answers every verification cn holds with an error (cn is failing). */
void s2s_dialback_fail_verifies(s2s_conn *cn, const char *why);
void s2s_verify_free(s2s_verify *v);
#endif
