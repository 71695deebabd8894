/* SPDX-License-Identifier: MIT */
/* sm/sm.h: the session manager's shared state: users, their sessions, the
 * link to the router and the store client (docs/session-protocol.md,
 * docs/store-protocol.md). */
#ifndef XMPPD_SM_SM_H
#define XMPPD_SM_SM_H
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "libcommon/cfg.h"
#include "libcommon/component.h"
#include "libcommon/link.h"
#include "libcommon/strmap.h"
#include "libcommon/xs.h"

#define SM_NS_SESSION "urn:xmppd:session"
#define SM_NS_STORE "urn:xmppd:store"

typedef struct sm_server sm_server;
typedef struct sm_user sm_user;
typedef struct sm_session sm_session;
typedef struct sm_module sm_module;
typedef struct sm_iq_entry sm_iq_entry;
typedef struct sm_store_req sm_store_req;

struct sm_session {
    sm_session *next;            /* in the user's list */
    sm_user *user;
    char *full;                  /* "local@domain/resource" */
    char *resource;
    char *c2s;                   /* the c2s instance that owns the stream */
    int priority;
    bool is_available;           /* initial presence sent, not yet unavailable */
    bool wants_roster;           /* asked for the roster: gets pushes */
    bool has_carbons;            /* enabled XEP-0280 carbons */
    xs_elem *presence;           /* the last available presence broadcast */
    char **directed;             /* JIDs sent directed available presence */
    size_t n_directed;           /* (RFC 6121 §4.6), told unavailable at the end */
};

struct sm_user {
    sm_user *prev, *next;        /* in sm's list */
    bool is_idle_checked;        /* in sm->maybe_idle */
    sm_server *sm;
    char *bare;
    char *domain;
    sm_session *sessions;
};

struct sm_server {
    uv_loop_t *loop;
    link_conn *link;
    component_link_cfg link_cfg;
    char **domains;
    size_t n_domains;
    long offline_max;
    long store_timeout_ms;
    sm_user *users;              /* every user with sessions, and the */
    strmap *user_table;          /* same by bare JID */
    sm_user **maybe_idle;        /* users that may have no session left */
    size_t n_maybe_idle, cap_maybe_idle;
    /* modules and the tables built from them at start */
    const sm_module **modules;   /* the enabled ones, NULL-terminated */
    const sm_module **filters;   /* those with filters, sorted by priority */
    size_t n_filters;
    sm_iq_entry **iq_hash;
    size_t iq_hash_size;
    /* the store client */
    sm_store_req *pending;
    unsigned long next_id;
    uv_timer_t store_timer;
    bool is_stopping;
};

/* --- dispatch.c --- */
/* Builds the iq routes and filters from sm->modules and starts them.
 * Returns 0 or the first module's XE_* error. */
int sm_dispatch_start(sm_server *sm, const cfg_node *section, cfg_diag *diag);
void sm_dispatch_stop(sm_server *sm);
/* The link's stanza callback: envelopes from c2s, router and store, and plain
 * stanzas from the other components. */
void sm_on_stanza(link_conn *l, xs_elem *st, const char *raw, size_t len, void *ud);
void sm_on_member(link_conn *l, const char *type, const char *instance,
                  const char *name, const char *kind, void *ud);
/* Sends st where its to= says: a local user's resource(s) through the
 * user's filters and delivery rules, or the router. Always takes st. */
void sm_send(sm_server *sm, xs_elem *st);
/* Sends the RFC 6120 §8.3 error reply to st (never to an error); returns
 * SM_HANDLED. st is borrowed. */
int sm_reply_error(sm_server *sm, const xs_elem *st, xs_condition cond);
/* An empty iq result to iq (to and from swapped, same id), owned by caller. */
xs_elem *sm_iq_result(const xs_elem *iq);
/* True when domain is one this sm serves. */
bool sm_is_local_domain(const sm_server *sm, const char *domain);
/* The first served domain (the server's address in disco, delays). */
const char *sm_domain(const sm_server *sm);
/* Runs the to_user filters and the default delivery for a stanza whose to
 * is a local user (u is that user). Borrows st. */
void sm_to_user(sm_server *sm, sm_user *u, xs_elem *st);

/* --- user.c --- */
/* The user for a normalized bare JID; created when create is true. */
sm_user *sm_user_get(sm_server *sm, const char *bare, bool create);
/* Frees users that have no sessions left. */
void sm_user_collect(sm_server *sm);
/* Marks u for the next sm_user_collect (its last session may be gone). */
void sm_user_check_idle(sm_user *u);
sm_session *sm_user_session(sm_user *u, const char *resource);
/* Sends st (borrowed) to session s: an envelope to its c2s with to= set
 * to the session's full JID, xmlns='jabber:client'. */
void sm_session_deliver(sm_session *s, const xs_elem *st);
/* Sends s an iq set from the server, with a fresh id, holding a copy of
 * payload (borrowed): a push (roster, block list). */
void sm_session_push(sm_session *s, const xs_elem *payload);
/* The available sessions with the highest non-negative priority go into
 * out (up to max); returns how many. */
size_t sm_user_best(sm_user *u, sm_session **out, size_t max);
bool sm_user_has_available(const sm_user *u);

/* --- session.c --- */
/* A <session xmlns='urn:xmppd:session'/> from c2s instance from. */
void sm_session_command(sm_server *sm, const char *from, xs_elem *cmd);
/* Ends s: unavailable presence to its contacts when it was available, the
 * modules' session_closed hooks, then frees it. */
void sm_session_end(sm_session *s);
/* Ends every session on c2s instance c2s (it detached). */
void sm_session_end_c2s(sm_server *sm, const char *c2s);
sm_session *sm_session_find(sm_server *sm, const char *full);

/* --- store.c --- */
/* Called with the store's iq answer (type result or error; NULL when the
 * request timed out or could not be sent). The tree is borrowed. */
typedef void sm_store_fn(sm_server *sm, xs_elem *answer, void *ud);
/* A request of docs/store-protocol.md: <NAME xmlns='urn:xmppd:store'
 * user='USER' ATTR='VALUE'...>PAYLOAD BODY</NAME>, or an empty element. */
typedef struct sm_store_query {
    const char *name;                /* "roster-get" */
    const char *user;                /* a bare JID: user= and the routing key */
    bool is_set;                     /* an iq set, else a get */
    struct {
        const char *name, *value;    /* a NULL value leaves the attribute out */
    } attrs[2];
    const xs_elem *payload;          /* written in the store's namespace; or NULL */
    const char *body;                /* raw XML after it; or NULL */
} sm_store_query;
/* Sends q to the service store in an iq get or set; cb (NULL: none) runs
 * once, always later. */
void sm_store_ask(sm_server *sm, const sm_store_query *q, sm_store_fn *cb, void *ud);
/* The reply to a client's iq made from the store's result element (NULL
 * for an empty result): a new stanza, or NULL when the result will not do. */
typedef xs_elem *sm_store_reply_fn(const xs_elem *iq, xs_elem *stored);
/* Sends q, then answers the client's iq (borrowed): with reply's stanza
 * (reply NULL: an empty result), or internal-server-error when the store
 * failed, did not answer or reply gave NULL. */
void sm_store_ask_for_iq(sm_server *sm, const sm_store_query *q, xs_elem *iq,
                         sm_store_reply_fn *reply);
/* True when answer is the store's result, not an error or a timeout. */
bool sm_store_ok(const xs_elem *answer);
/* The single result element of a store answer, or NULL (error/empty). */
xs_elem *sm_store_result(xs_elem *answer);
/* An answer from the store: true when it matched a request (and ran it). */
bool sm_store_answer(sm_server *sm, xs_elem *iq);
void sm_store_start(sm_server *sm);
/* Fails every pending request (callbacks get NULL) and stops the timer. */
void sm_store_stop(sm_server *sm);

/* --- helpers shared by modules (dispatch.c) --- */
/* Appends the stanza as XML with its namespace set to ns (NULL: none, for
 * the component stream) and from= kept. */
void sm_stanza_xml(const xs_elem *st, const char *ns, buf *out);
/* True when the iq (borrowed) from sender is for sender's own account: no
 * to, or to the sender's bare JID. */
bool sm_is_own_account(const sm_session *sender, const xs_elem *iq);
/* The bare part of a JID string as a new string; NULL when it is invalid. */
char *sm_bare_of(const char *full);
#endif
