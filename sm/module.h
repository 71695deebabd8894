/* SPDX-License-Identifier: MIT */
/* sm/module.h: what a feature module declares: iq routes (hashed at start),
 * filters on the way out of and into a user's sessions (run by priority),
 * disco features and session hooks. */
#ifndef XMPPD_SM_MODULE_H
#define XMPPD_SM_MODULE_H
#include "libcommon/cfg.h"
#include "libcommon/xs.h"
#include "sm/sm.h"

typedef enum { SM_PASS, SM_HANDLED } sm_verdict;
typedef enum { SM_TO_SERVER = 1, SM_TO_ACCOUNT } sm_target;
typedef enum { SM_IQ_GET = 1, SM_IQ_SET } sm_iq_type;

/* Handles an iq matched by a route; sender is NULL when the iq came from
 * outside this sm. The iq is borrowed. */
typedef sm_verdict sm_iq_fn(sm_server *sm, sm_session *sender, xs_elem *iq);

typedef struct sm_iq_route {
    sm_target target;               /* the server's domain or a user's bare JID */
    sm_iq_type type;
    const char *ns, *name;          /* the payload element */
    sm_iq_fn *handle;
} sm_iq_route;

struct sm_module {
    const char *name;               /* enabled in config as <module>ping</module> */
    const char *spec;               /* "XEP-0199 XMPP Ping" */
    const char *const *features;    /* disco#info vars, NULL-terminated */
    const sm_iq_route *iq;          /* ends with a zeroed entry */
    int (*start)(sm_server *sm, const cfg_node *conf, cfg_diag *diag);  /* 0 or XE_* */
    void (*stop)(sm_server *sm);
    int priority;                   /* filter order: lower runs first */
    /* A client's stanza on its way out (borrowed). */
    sm_verdict (*from_session)(sm_session *s, xs_elem *st);
    /* A stanza for user u (borrowed), before the default delivery. */
    sm_verdict (*to_user)(sm_user *u, xs_elem *st);
    /* A stanza sm sends to another domain (borrowed): presence broadcasts,
     * probes, subscriptions and client stanzas that passed from_session. */
    sm_verdict (*to_remote)(sm_server *sm, xs_elem *st);
    void (*session_opened)(sm_session *s);
    void (*session_closed)(sm_session *s);
};

/* The built-in modules, NULL-terminated (modules.c). */
extern const sm_module *const sm_builtin_modules[];
/* Every feature var of the enabled modules, for disco#info: calls fn on
 * each. */
void sm_each_feature(sm_server *sm, void (*fn)(const char *var, void *ud), void *ud);

extern const sm_module sm_mod_message, sm_mod_presence, sm_mod_roster,
    sm_mod_ping, sm_mod_disco, sm_mod_version, sm_mod_time;
extern const sm_module sm_mod_vcard, sm_mod_private, sm_mod_blocking, sm_mod_last,
    sm_mod_carbons;

/* mod_roster.c: one roster item as sm edits it. A subscription is two
 * directions, as bits: to (the user gets the contact's presence) and from. */
enum { SM_SUB_NONE = 0, SM_SUB_TO = 1, SM_SUB_FROM = 2, SM_SUB_BOTH = SM_SUB_TO | SM_SUB_FROM };
enum { SM_EDIT_NONE, SM_EDIT_WRITE, SM_EDIT_REMOVE };
typedef struct sm_roster_item {
    bool exists;
    int sub;                        /* SM_SUB_* */
    bool is_asking;                 /* ask='subscribe' */
    bool is_approved;               /* pre-approved (RFC 6121 §3.4) */
    bool is_pending_in;             /* an inbound subscribe awaits an answer */
    bool is_hidden;                 /* kept only for that: not in the roster */
    const char *pending_status;     /* its <status/> text (NULL: none) */
    const xs_elem *meta;            /* where name and groups come from */
} sm_roster_item;
/* Changes it in place; returns SM_EDIT_*. */
typedef int sm_roster_edit_fn(sm_roster_item *it, void *ud);
/* status is 0 or an xs_condition plus one; ver the new version (NULL if none). */
typedef void sm_roster_done_fn(sm_server *sm, int status, const char *ver, void *ud);
int sm_roster_sub(const char *name);
/* True when roster (a store <roster/>, NULL: none) gives contact a
 * subscription from the user: contact may see the user's presence. */
bool sm_roster_has_subscriber(const xs_elem *roster, const char *contact);
/* Fills it from a store <item/> (NULL: no item). */
void sm_roster_read(const xs_elem *store_item, sm_roster_item *it);
/* Reads bare's item for contact, lets edit change it, writes it and pushes
 * it; done (may be NULL) runs at the end. */
void sm_roster_edit(sm_server *sm, const char *bare, const char *contact,
                    sm_roster_edit_fn *edit, sm_roster_done_fn *done, void *ud);
/* Asks the store for bare's roster (<roster/> in the answer). */
void sm_roster_fetch(sm_server *sm, const char *bare, const char *ver, sm_store_fn *cb,
                     void *ud);
/* mod_roster.c: pushes item (a jabber:iq:roster <item/>, borrowed) to every
 * session of u that asked for the roster, with version ver. */
void sm_roster_push(sm_user *u, const xs_elem *item, const char *ver);
/* mod_message.c: the offline messages of s's user, sent to s with delays. */
void sm_offline_flush(sm_session *s);
/* mod_message.c: a message that came back undelivered (borrowed): stored
 * offline (normal, chat) or bounced. */
void sm_message_undelivered(sm_server *sm, xs_elem *msg);
/* mod_carbons.c: msg (borrowed) for u was delivered to the n sessions in
 * delivered; the user's other sessions that enabled carbons get a copy. */
void sm_carbons_received(sm_user *u, const xs_elem *msg, sm_session *const *delivered,
                         size_t n);
/* mod_presence.c: after the user bare removed contact's item it (RFC 6121
 * §2.5.2): unsubscribe and unsubscribed to the contact as the item had
 * them, and unavailable from the user's available resources. */
void sm_presence_cancel(sm_server *sm, const char *bare, const char *contact,
                        const sm_roster_item *it);
/* mod_presence.c: broadcasts unavailable for s (it is going away). */
void sm_presence_gone(sm_session *s);
#endif
