/* SPDX-License-Identifier: MIT */
/* c2s/c2s.h: xmppd-c2s, the client-to-server process (RFC 6120): what its
 * files share. main.c wires, config.c reads <c2s>, conn.c owns the client
 * streams, starttls.c/sasl.c/bind.c negotiate, session.c talks to the router
 * (store and sm) and delivers to clients. */
#ifndef XMPPD_C2S_C2S_H
#define XMPPD_C2S_C2S_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "libcommon/auth.h"
#include "libcommon/cfg.h"
#include "libcommon/component.h"
#include "libcommon/jid.h"
#include "libcommon/link.h"
#include "libcommon/listen.h"
#include "libcommon/net.h"
#include "libcommon/rate.h"
#include "libcommon/strmap.h"
#include "libcommon/tls.h"
#include "libcommon/xs.h"
#include "libcommon/xstream.h"

#define C2S_NS_SESSION "urn:ietf:params:xml:ns:xmpp-session"
#define C2S_NS_XMPPD_SESSION "urn:xmppd:session"
#define C2S_NS_STORE "urn:xmppd:store"

typedef struct c2s_limits {
    size_t max_stanza_bytes;
    unsigned max_depth;
    uint64_t rate_bytes_per_s, burst_bytes;
    unsigned max_connections_per_address;
    uint64_t auth_timeout_ms, idle_timeout_ms;
    unsigned max_auth_failures;
    uint64_t auth_failure_delay_ms;      /* the first failure's delay per address */
} c2s_limits;

typedef struct c2s_config {
    char **domains;                      /* normalized served domains */
    size_t n_domains;
    listen_set listen;                   /* <listen>s; tls= is direct TLS (XEP-0368) */
    bool tls_required;
    bool strict_channel_binding;         /* refuse SCRAM's "y" (RFC 5802 §6) */
    tls_ctx *tls;                        /* every <certificate>; NULL: none */
    c2s_limits limits;
    bool register_allowed;               /* <register allow=''/>: XEP-0077 */
    uint64_t register_interval_ms;       /* between accounts per address */
    component_link_cfg link;
} c2s_config;

typedef struct c2s_conn c2s_conn;
typedef struct c2s_register c2s_register;   /* register.c's state */

/* Recent authentication failures of one address, for throttling. */
typedef struct c2s_addr_failures {
    char host[64];
    unsigned count;
    uint64_t last_ms;
} c2s_addr_failures;

#define C2S_FAILURE_SLOTS 64

typedef struct c2s {
    c2s_config config;
    link_conn *link;
    c2s_conn *conns;                     /* every open client connection */
    strmap *sessions;                    /* full JID -> its bound connection */
    strmap *binding;                     /* full JID -> connection whose bind sm decides */
    uint64_t next_conn_id;
    uint64_t next_req_id;
    uv_timer_t tick;                     /* rate pauses and delayed failures */
    uv_timer_t quiet_sweep;              /* quiet.c */
    unsigned n_waiting;                  /* connections the tick watches */
    bool is_stopping;
    c2s_addr_failures failures[C2S_FAILURE_SLOTS];
    c2s_register *reg;                   /* NULL until first used */
} c2s;

typedef enum {
    C2S_CONN_OPENING,        /* waiting for a stream header */
    C2S_CONN_OPEN,           /* header exchanged, features sent */
    C2S_CONN_TLS,            /* <proceed/> sent, handshake under way */
    C2S_CONN_CLOSING,
} c2s_conn_state;

struct c2s_conn {
    c2s *srv;
    net_conn *net;
    xstream *xs;
    c2s_conn *prev, *next;
    uint64_t id;
    char who[160];                       /* log context */
    c2s_conn_state state;
    char *domain;                        /* the served domain the client asked for */
    char *lang;                          /* the client's xml:lang (RFC 6120 §4.7.4) */
    char stream_id[33];
    bool has_header_sent;
    bool is_authed;

    /* SASL (sasl.c) */
    auth_session *auth;
    char *auth_mech;
    const char *auth_cb_type;            /* the channel binding offered, or NULL */
    char *auth_authcid;                  /* as peeked from the first message */
    char *auth_initial;                  /* decoded initial response */
    size_t auth_initial_len;
    uint64_t store_req;                  /* pending account-get, 0 if none */
    unsigned auth_failures;
    uint64_t failure_at_ms;              /* a failure waits to be sent */
    char failure_cond[32];
    jid *user;                           /* bare JID after <success/> */

    /* binding and the session (bind.c, session.c) */
    jid *full;                           /* after <bind>, while sm decides */
    char *bind_iq_id;
    char *sm_instance;                   /* after sm said started */
    bool is_bound;
    bool is_resuming;                    /* its sm detached: starting it again */
    bool is_resume_waiting;              /* no sm took the restart: wait for one */
    char *last_presence;                 /* the client's last broadcast presence */
    size_t last_presence_len;

    /* limits */
    rate rl;
    uint64_t resume_at_ms;
    bool has_spoken;                     /* data since the last quiet sweep */
};

/* config.c: reads the served domains and the <c2s> section into conf, a
 * c2s_config; main hands both to proc_start() (proc_load_fn, proc_close_fn).
 * Returns 0 or XE_CONFIG with diag filled. c2s_config_close() frees what it
 * owns, also after a failed load. */
int c2s_config_load(const cfg *c, void *conf, cfg_diag *diag);
void c2s_config_close(void *conf);
bool c2s_serves(const c2s *s, const char *domain);

/* conn.c */
int c2s_listen_all(c2s *s);                          /* 0 or a UV_E* code */
void c2s_conn_send(c2s_conn *cn, const char *data, size_t len);
void c2s_conn_send_str(c2s_conn *cn, const char *s);
void c2s_conn_send_elem(c2s_conn *cn, xs_elem *e);   /* takes e */
/* An iq from the server; id, from and to are left out when NULL, and so is
 * the payload (an empty iq). */
void c2s_conn_send_iq(c2s_conn *cn, const char *id, const char *from, const char *to,
                      const char *type, const char *payload);
/* Ends the stream: with a stream error unless cond < 0, then closes. The
 * connection stays valid until the caller returns. */
void c2s_conn_close(c2s_conn *cn, int cond, const char *why);
void c2s_conn_restart(c2s_conn *cn);                 /* after TLS or SASL */
void c2s_conn_set_idle(c2s_conn *cn);
void c2s_conn_set_who(c2s_conn *cn, const char *user);   /* log context */
                /* auth timeout -> idle timeout */
void c2s_conn_watch(c2s_conn *cn);                   /* the tick looks at cn */
void c2s_shutdown(c2s *s);                           /* SIGTERM */
/* The bound connection of a full JID, or the one whose bind waits for sm;
 * NULL when there is none or it is closing. */
c2s_conn *c2s_conn_by_full(c2s *s, const char *full);
c2s_conn *c2s_conn_binding(c2s *s, const char *full);
/* Keep the two tables above in step with cn->is_bound and cn->bind_iq_id. */
void c2s_conn_index(strmap *table, c2s_conn *cn);
void c2s_conn_unindex(strmap *table, c2s_conn *cn);

/* quiet.c: idle connections give back their parser and buffers. */
void c2s_quiet_start(c2s *s);
void c2s_quiet_stop(c2s *s);

/* starttls.c */
void c2s_starttls(c2s_conn *cn, xs_elem *st);
void c2s_on_tls_ready(c2s_conn *cn);

/* sasl.c */
const char *c2s_sasl_mechanisms(c2s_conn *cn);       /* NULL: nothing to offer */
void c2s_sasl_handle(c2s_conn *cn, xs_elem *st);
/* XEP-0440: the channel binding type offered, after <mechanisms/>. */
void c2s_sasl_features(c2s_conn *cn, buf *out);
void c2s_sasl_store_answer(c2s_conn *cn, xs_elem *iq);   /* NULL: store gone */
void c2s_sasl_send_due_failure(c2s_conn *cn);
void c2s_sasl_close(c2s_conn *cn);

/* bind.c */
void c2s_bind_handle(c2s_conn *cn, xs_elem *iq);     /* an iq before binding */
void c2s_bind_answer(c2s_conn *cn, const char *action, const char *cond,
                     const char *sm_from);

/* register.c: XEP-0077 in-band registration. Appends the stream feature
 * when it is offered on cn now. */
void c2s_register_features(c2s_conn *cn, buf *out);
/* A jabber:iq:register iq to the server (st, borrowed): answered, now or
 * when the store has, and true; false for any other stanza. */
bool c2s_register_handle(c2s_conn *cn, xs_elem *st);
/* The store's answer to one of ours (iq), or our request come back
 * (is_returned): true when it was ours. */
bool c2s_register_store_answer(c2s *s, xs_elem *iq, bool is_returned);
void c2s_register_free(c2s *s);                      /* at exit */

/* session.c */
void c2s_session_on_link_stanza(link_conn *l, xs_elem *st, const char *raw,
                                size_t len, void *ud);
void c2s_session_on_member(link_conn *l, const char *type, const char *instance,
                           const char *name, const char *kind, void *ud);
void c2s_session_start(c2s_conn *cn);                /* asks sm */
void c2s_session_forward(c2s_conn *cn, const char *raw, size_t len);
/* Remembers a broadcast presence (st, as raw) of the client, re-sent when
 * its session is started again on a new sm. */
void c2s_session_note_presence(c2s_conn *cn, xs_elem *st, const char *raw, size_t len);
void c2s_session_end(c2s_conn *cn);                  /* the client went away */
#endif
