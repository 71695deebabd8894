/* SPDX-License-Identifier: MIT */
/* sm/mod_presence.c: RFC 6121 §3-4: presence broadcast to subscribers,
 * probes, directed presence, priorities and the subscription state machine
 * (subscribe, subscribed, unsubscribe, unsubscribed, pre-approval). */
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/jid.h"
#include "libcommon/log.h"
#include "sm/module.h"

static bool is_type(const xs_elem *st, const char *type)
{
    const char *t = xs_attr(st, "type");
    if (!t || !type)
        return t == type;
    return strcmp(t, type) == 0;
}

static void send_presence(sm_server *sm, const xs_elem *p, const char *from, const char *to)
{
    xs_elem *copy = xs_dup(p);
    xs_set_attr(copy, "from", from);
    xs_set_attr(copy, "to", to);
    sm_send(sm, copy);
}

static void send_simple(sm_server *sm, const char *type, const char *from, const char *to)
{
    xs_elem *p = xs_new("presence", XS_NS_CLIENT);
    if (type)
        xs_set_attr(p, "type", type);
    xs_set_attr(p, "from", from);
    xs_set_attr(p, "to", to);
    sm_send(sm, p);
}

/* --- broadcast of a session's presence --- */

typedef struct broadcast {
    char *full;
    xs_elem *presence;
    bool is_initial;
} broadcast;

static void broadcast_on_roster(sm_server *sm, xs_elem *answer, void *ud)
{
    broadcast *b = ud;
    xs_elem *roster = sm_store_result(answer);
    char *bare = sm_bare_of(b->full);
    for (xs_elem *it = roster ? xs_first(roster) : NULL; it && bare; it = xs_next(it)) {
        const char *contact = xs_attr(it, "jid");
        int sub = sm_roster_sub(xs_attr(it, "subscription"));
        if (!contact)
            continue;
        if (sub == SM_SUB_FROM || sub == SM_SUB_BOTH)
            send_presence(sm, b->presence, b->full, contact);
        if (b->is_initial && (sub == SM_SUB_TO || sub == SM_SUB_BOTH))
            send_simple(sm, "probe", bare, contact);
    }
    free(bare);
    xs_unref(b->presence);
    free(b->full);
    free(b);
}

/* Sends p from s to its subscribers (after reading the roster) and to the
 * user's available resources. */
static void broadcast_presence(sm_session *s, const xs_elem *p, bool is_initial)
{
    sm_server *sm = s->user->sm;
    for (sm_session *o = s->user->sessions; o; o = o->next)
        if (o->is_available || o == s)
            send_presence(sm, p, s->full, o->full);
    if (is_initial)
        for (sm_session *o = s->user->sessions; o; o = o->next)
            if (o != s && o->is_available && o->presence)
                send_presence(sm, o->presence, o->full, s->full);
    broadcast *b = xalloc(sizeof *b);
    b->full = xstrdup(s->full);
    b->presence = xs_dup(p);
    b->is_initial = is_initial;
    sm_roster_fetch(sm, s->user->bare, NULL, broadcast_on_roster, b);
}

void sm_presence_gone(sm_session *s)
{
    xs_elem *p = xs_new("presence", XS_NS_CLIENT);
    xs_set_attr(p, "type", "unavailable");
    s->is_available = false;
    broadcast_presence(s, p, false);
    xs_unref(p);
}

/* --- outbound subscriptions (RFC 6121 §3.1.2, §3.2.2, §3.3.2, §3.4) --- */

typedef struct sub_out {
    char *bare, *contact;
    xs_elem *stanza;
} sub_out;

static int edit_out_subscribe(sm_roster_item *it, void *ud)
{
    (void)ud;
    if (it->sub == SM_SUB_TO || it->sub == SM_SUB_BOTH || it->is_asking)
        return it->exists ? SM_EDIT_NONE : SM_EDIT_WRITE;
    it->is_asking = true;
    return SM_EDIT_WRITE;
}

static int edit_out_subscribed(sm_roster_item *it, void *ud)
{
    (void)ud;
    if (it->sub == SM_SUB_FROM || it->sub == SM_SUB_BOTH)
        return SM_EDIT_NONE;
    if (!it->exists) {
        it->is_approved = true;        /* §3.4: pre-approval */
        return SM_EDIT_WRITE;
    }
    it->sub = it->sub == SM_SUB_TO ? SM_SUB_BOTH : SM_SUB_FROM;
    it->is_approved = false;
    return SM_EDIT_WRITE;
}

static int edit_out_unsubscribe(sm_roster_item *it, void *ud)
{
    (void)ud;
    if (!it->exists)
        return SM_EDIT_NONE;
    it->sub = it->sub == SM_SUB_BOTH ? SM_SUB_FROM : it->sub == SM_SUB_TO ? SM_SUB_NONE : it->sub;
    it->is_asking = false;
    return SM_EDIT_WRITE;
}

static int edit_out_unsubscribed(sm_roster_item *it, void *ud)
{
    (void)ud;
    if (!it->exists)
        return SM_EDIT_NONE;
    it->sub = it->sub == SM_SUB_BOTH ? SM_SUB_TO : it->sub == SM_SUB_FROM ? SM_SUB_NONE : it->sub;
    it->is_approved = false;
    return SM_EDIT_WRITE;
}

static void sub_out_done(sm_server *sm, int status, const char *ver, void *ud)
{
    (void)ver;
    sub_out *o = ud;
    if (!status) {
        send_presence(sm, o->stanza, o->bare, o->contact);
        sm_user *u = sm_user_get(sm, o->bare, false);
        if (u && is_type(o->stanza, "subscribed")) {
            /* §3.1.5: the new subscriber gets the current presence. */
            for (sm_session *s = u->sessions; s; s = s->next)
                if (s->is_available && s->presence)
                    send_presence(sm, s->presence, s->full, o->contact);
        } else if (u && is_type(o->stanza, "unsubscribed")) {
            for (sm_session *s = u->sessions; s; s = s->next)
                if (s->is_available)
                    send_simple(sm, "unavailable", s->full, o->contact);
        }
    }
    xs_unref(o->stanza);
    free(o->bare);
    free(o->contact);
    free(o);
}

static sm_verdict subscription_out(sm_session *s, xs_elem *st, sm_roster_edit_fn *edit)
{
    sm_server *sm = s->user->sm;
    char *contact = sm_bare_of(xs_attr(st, "to"));
    if (!contact)
        return sm_reply_error(sm, st, XS_JID_MALFORMED);
    sub_out *o = xalloc(sizeof *o);
    o->bare = xstrdup(s->user->bare);
    o->contact = contact;
    o->stanza = xs_dup(st);
    sm_roster_edit(sm, o->bare, contact, edit, sub_out_done, o);
    return SM_HANDLED;
}

static sm_verdict presence_from_session(sm_session *s, xs_elem *st)
{
    if (strcmp(xs_name(st), "presence") != 0)
        return SM_PASS;
    sm_server *sm = s->user->sm;
    const char *to = xs_attr(st, "to");
    if (to) {
        if (is_type(st, "subscribe"))
            return subscription_out(s, st, edit_out_subscribe);
        if (is_type(st, "subscribed"))
            return subscription_out(s, st, edit_out_subscribed);
        if (is_type(st, "unsubscribe"))
            return subscription_out(s, st, edit_out_unsubscribe);
        if (is_type(st, "unsubscribed"))
            return subscription_out(s, st, edit_out_unsubscribed);
        return SM_PASS;                        /* directed presence, probes */
    }
    if (is_type(st, "unavailable")) {
        if (s->is_available)
            sm_presence_gone(s);
        xs_unref(s->presence);
        s->presence = NULL;
        return SM_HANDLED;
    }
    if (!is_type(st, NULL))
        return sm_reply_error(sm, st, XS_BAD_REQUEST);
    const char *prio = xs_child_text(st, "priority", NULL);
    long p = prio ? strtol(prio, NULL, 10) : 0;
    s->priority = p < -128 ? -128 : p > 127 ? 127 : (int)p;
    bool is_initial = !s->is_available;
    s->is_available = true;
    xs_unref(s->presence);
    s->presence = xs_dup(st);
    xs_set_attr(s->presence, "to", NULL);
    broadcast_presence(s, s->presence, is_initial);
    /* XEP-0160 §5: offline messages go with the first available presence. */
    if (is_initial && s->priority >= 0)
        sm_offline_flush(s);
    return SM_HANDLED;
}

/* --- inbound (RFC 6121 §3.1.3, §3.2.3, §3.3.3, §4.3) --- */

typedef struct sub_in {
    char *bare, *from;
    xs_elem *stanza;
    bool is_auto;                 /* subscribe answered by pre-approval */
} sub_in;

static void deliver_available(sm_user *u, const xs_elem *st)
{
    for (sm_session *s = u->sessions; s; s = s->next)
        if (s->is_available)
            sm_session_deliver(s, st);
}

static int edit_in_subscribe(sm_roster_item *it, void *ud)
{
    sub_in *in = ud;
    if (it->sub == SM_SUB_FROM || it->sub == SM_SUB_BOTH) {
        in->is_auto = true;
        return SM_EDIT_NONE;
    }
    if (it->is_approved) {
        it->is_approved = false;
        it->sub = it->sub == SM_SUB_TO ? SM_SUB_BOTH : SM_SUB_FROM;
        in->is_auto = true;
        return SM_EDIT_WRITE;
    }
    /* The store keeps no pending-in state: the item stands for it, so that
     * the answering subscribed is an approval, not a pre-approval. */
    return it->exists ? SM_EDIT_NONE : SM_EDIT_WRITE;
}

static int edit_in_subscribed(sm_roster_item *it, void *ud)
{
    sub_in *in = ud;
    if (!it->is_asking) {
        in->is_auto = true;           /* not asked: ignored (§3.1.6) */
        return SM_EDIT_NONE;
    }
    it->is_asking = false;
    it->sub = it->sub == SM_SUB_FROM ? SM_SUB_BOTH : SM_SUB_TO;
    return SM_EDIT_WRITE;
}

static int edit_in_unsubscribe(sm_roster_item *it, void *ud)
{
    (void)ud;
    if (!it->exists)
        return SM_EDIT_NONE;
    it->sub = it->sub == SM_SUB_BOTH ? SM_SUB_TO : it->sub == SM_SUB_FROM ? SM_SUB_NONE : it->sub;
    it->is_approved = false;
    return SM_EDIT_WRITE;
}

static int edit_in_unsubscribed(sm_roster_item *it, void *ud)
{
    (void)ud;
    if (!it->exists)
        return SM_EDIT_NONE;
    it->sub = it->sub == SM_SUB_BOTH ? SM_SUB_FROM : it->sub == SM_SUB_TO ? SM_SUB_NONE : it->sub;
    it->is_asking = false;
    return SM_EDIT_WRITE;
}

static void sub_in_done(sm_server *sm, int status, const char *ver, void *ud)
{
    (void)ver;
    sub_in *in = ud;
    sm_user *u = sm_user_get(sm, in->bare, false);
    if (!status && is_type(in->stanza, "subscribe") && in->is_auto) {
        send_simple(sm, "subscribed", in->bare, in->from);
        for (sm_session *s = u ? u->sessions : NULL; s; s = s->next)
            if (s->is_available && s->presence)
                send_presence(sm, s->presence, s->full, in->from);
    } else if (!status && u && !(is_type(in->stanza, "subscribed") && in->is_auto)) {
        deliver_available(u, in->stanza);
    }
    xs_unref(in->stanza);
    free(in->bare);
    free(in->from);
    free(in);
}

static void probe_on_roster(sm_server *sm, xs_elem *answer, void *ud)
{
    sub_in *in = ud;
    xs_elem *roster = sm_store_result(answer);
    bool is_allowed = false;
    for (xs_elem *it = roster ? xs_first(roster) : NULL; it; it = xs_next(it)) {
        int sub = sm_roster_sub(xs_attr(it, "subscription"));
        if (xs_attr(it, "jid") && strcmp(xs_attr(it, "jid"), in->from) == 0)
            is_allowed = sub == SM_SUB_FROM || sub == SM_SUB_BOTH;
    }
    sm_user *u = sm_user_get(sm, in->bare, false);
    bool is_any = false;
    for (sm_session *s = u ? u->sessions : NULL; is_allowed && s; s = s->next)
        if (s->is_available && s->presence) {
            send_presence(sm, s->presence, s->full, xs_attr(in->stanza, "from"));
            is_any = true;
        }
    if (is_allowed && !is_any)
        send_simple(sm, "unavailable", in->bare, xs_attr(in->stanza, "from"));
    xs_unref(in->stanza);
    free(in->bare);
    free(in->from);
    free(in);
}

static sm_verdict presence_to_user(sm_user *u, xs_elem *st)
{
    if (strcmp(xs_name(st), "presence") != 0)
        return SM_PASS;
    sm_server *sm = u->sm;
    static const struct { const char *type; sm_roster_edit_fn *edit; } subs[] = {
        { "subscribe", edit_in_subscribe }, { "subscribed", edit_in_subscribed },
        { "unsubscribe", edit_in_unsubscribe }, { "unsubscribed", edit_in_unsubscribed },
    };
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (!is_type(st, subs[i].type))
            continue;
        char *from = sm_bare_of(xs_attr(st, "from"));
        if (!from)
            return SM_HANDLED;
        sub_in *in = xalloc(sizeof *in);
        in->bare = xstrdup(u->bare);
        in->from = from;
        in->stanza = xs_dup(st);
        xs_set_attr(in->stanza, "from", from);    /* §3.1.3: the bare JID */
        sm_roster_edit(sm, u->bare, from, subs[i].edit, sub_in_done, in);
        return SM_HANDLED;
    }
    if (is_type(st, "probe")) {
        char *from = sm_bare_of(xs_attr(st, "from"));
        if (!from)
            return SM_HANDLED;
        sub_in *in = xalloc(sizeof *in);
        in->bare = xstrdup(u->bare);
        in->from = from;
        in->stanza = xs_dup(st);
        sm_roster_fetch(sm, u->bare, NULL, probe_on_roster, in);
        return SM_HANDLED;
    }
    jid *to = NULL;
    if (jid_parse(xs_attr(st, "to"), &to) < 0)
        return SM_HANDLED;
    if (jid_resource(to)) {
        sm_session *s = sm_user_session(u, jid_resource(to));
        if (s)
            sm_session_deliver(s, st);
    } else if (!is_type(st, "error")) {
        deliver_available(u, st);
    }
    jid_free(to);
    return SM_HANDLED;
}

const sm_module sm_mod_presence = {
    .name = "presence", .spec = "RFC 6121 §3-4 Presence and Subscriptions",
    .priority = 50, .from_session = presence_from_session, .to_user = presence_to_user,
};
