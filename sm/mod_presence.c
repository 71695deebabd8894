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
    char **directed;              /* told unavailable unless subscribers */
    size_t n_directed;
} broadcast;

static bool same_bare(const char *a, const char *bare)
{
    size_t n = strlen(bare);
    return strncmp(a, bare, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

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
        if (sub & SM_SUB_FROM) {
            send_presence(sm, b->presence, b->full, contact);
            for (size_t i = 0; i < b->n_directed; i++)
                if (b->directed[i] && same_bare(b->directed[i], contact)) {
                    free(b->directed[i]);        /* told already */
                    b->directed[i] = NULL;
                }
        }
        if (b->is_initial && (sub & SM_SUB_TO))
            send_simple(sm, "probe", bare, contact);
        sm_roster_item ri;
        sm_roster_read(it, &ri);
        sm_session *s = b->is_initial && ri.is_pending_in ? sm_session_find(sm, b->full) : NULL;
        if (s) {
            /* §3.1.3: a request that waited is delivered at login. */
            xs_elem *p = xs_new("presence", XS_NS_CLIENT);
            xs_set_attr(p, "type", "subscribe");
            xs_set_attr(p, "from", contact);
            if (ri.pending_status) {
                const char *t = ri.pending_status;
                xs_add_text(xs_add_new(p, "status", XS_NS_CLIENT), t, strlen(t));
            }
            sm_session_deliver(s, p);
            xs_unref(p);
        }
    }
    for (size_t i = 0; i < b->n_directed; i++) {
        if (b->directed[i])
            send_presence(sm, b->presence, b->full, b->directed[i]);
        free(b->directed[i]);
    }
    free(b->directed);
    free(bare);
    xs_unref(b->presence);
    free(b->full);
    free(b);
}

/* Sends p from s to its subscribers (after reading the roster) and to the
 * user's available resources. */
static void broadcast_presence(sm_session *s, const xs_elem *p, bool is_initial,
                               bool is_final)
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
    if (is_final) {
        /* §4.6.3: the JIDs sent directed presence get the unavailable too. */
        b->directed = s->directed;
        b->n_directed = s->n_directed;
        s->directed = NULL;
        s->n_directed = 0;
    }
    sm_roster_fetch(sm, s->user->bare, NULL, broadcast_on_roster, b);
}

/* Sends p from s to every JID on its directed list and empties it. */
static void directed_send_all(sm_session *s, const xs_elem *p)
{
    for (size_t i = 0; i < s->n_directed; i++) {
        send_presence(s->user->sm, p, s->full, s->directed[i]);
        free(s->directed[i]);
    }
    free(s->directed);
    s->directed = NULL;
    s->n_directed = 0;
}

void sm_presence_gone(sm_session *s)
{
    xs_elem *p = xs_new("presence", XS_NS_CLIENT);
    xs_set_attr(p, "type", "unavailable");
    if (!s->is_available) {
        directed_send_all(s, p);     /* §4.6.3: only directed presence was sent */
        xs_unref(p);
        return;
    }
    s->is_available = false;
    broadcast_presence(s, p, false, true);
    xs_unref(p);
}

/* §4.6.2: remembers (available) or forgets (unavailable) a JID that s sent
 * directed presence to. */
static void directed_track(sm_session *s, const char *to, bool is_available)
{
    jid *j = NULL;
    if (jid_parse(to, &j) < 0)
        return;
    const char *norm = jid_full(j);
    size_t i = 0;
    while (i < s->n_directed && strcmp(s->directed[i], norm) != 0)
        i++;
    if (is_available && i == s->n_directed && strcmp(jid_bare(j), s->user->bare) != 0) {
        s->directed = xrealloc(s->directed, (s->n_directed + 1) * sizeof *s->directed);
        s->directed[s->n_directed++] = xstrdup(norm);
    } else if (!is_available && i < s->n_directed) {
        free(s->directed[i]);
        s->directed[i] = s->directed[--s->n_directed];
    }
    jid_free(j);
}

/* --- outbound subscriptions (RFC 6121 §3.1.2, §3.2.2, §3.3.2, §3.4) --- */

typedef struct sub_out {
    char *bare, *contact;
    xs_elem *stanza;
    bool is_preapproval;          /* subscribed with no request: kept, not sent */
} sub_out;

/* Gives (has_from) or takes the contact's subscription to the user; either
 * answers what waited for it: a request (then no longer kept on a hidden
 * item) or a pre-approval. */
static int edit_set_from(sm_roster_item *it, bool has_from)
{
    it->sub = has_from ? (it->sub | SM_SUB_FROM) : (it->sub & ~SM_SUB_FROM);
    it->is_approved = false;
    it->is_pending_in = false;
    it->is_hidden = false;
    it->pending_status = NULL;
    return SM_EDIT_WRITE;
}

static int edit_out_subscribe(sm_roster_item *it, void *ud)
{
    (void)ud;
    if ((it->sub & SM_SUB_TO) || it->is_asking)
        return it->exists ? SM_EDIT_NONE : SM_EDIT_WRITE;
    it->is_asking = true;
    return SM_EDIT_WRITE;
}

static int edit_out_subscribed(sm_roster_item *it, void *ud)
{
    sub_out *o = ud;
    if (it->sub & SM_SUB_FROM)
        return SM_EDIT_NONE;
    if (!it->is_pending_in) {
        /* §3.4: no request is waiting, so this is a pre-approval; it is
         * remembered on the item and not sent to the contact. */
        o->is_preapproval = true;
        if (it->is_approved)
            return SM_EDIT_NONE;
        it->is_approved = true;
        return SM_EDIT_WRITE;
    }
    return edit_set_from(it, true);    /* §3.1.5: the waiting request approved */
}

/* The user's subscription to the contact ends: the user unsubscribed
 * (§3.3.2) or the contact cancelled it (§3.2.3, inbound unsubscribed). */
static int edit_end_subscription_to(sm_roster_item *it, void *ud)
{
    (void)ud;
    if (!it->exists)
        return SM_EDIT_NONE;
    it->sub &= ~SM_SUB_TO;
    it->is_asking = false;
    return SM_EDIT_WRITE;
}

/* The contact's subscription to the user ends, or its request is refused:
 * the user unsubscribed the contact (§3.2.1, outbound unsubscribed) or the
 * contact unsubscribed (§3.3.3, inbound unsubscribe). An item kept only for
 * the request goes (the request denied or withdrawn). */
static int edit_end_subscription_from(sm_roster_item *it, void *ud)
{
    (void)ud;
    if (!it->exists)
        return SM_EDIT_NONE;
    if (it->is_hidden)
        return SM_EDIT_REMOVE;
    return edit_set_from(it, false);
}

static void sub_out_done(sm_server *sm, int status, const char *ver, void *ud)
{
    (void)ver;
    sub_out *o = ud;
    if (!status && !o->is_preapproval) {
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

void sm_presence_cancel(sm_server *sm, const char *bare, const char *contact,
                        const sm_roster_item *it)
{
    if ((it->sub & SM_SUB_TO) || it->is_asking)
        send_simple(sm, "unsubscribe", bare, contact);
    if ((it->sub & SM_SUB_FROM) || it->is_pending_in)
        send_simple(sm, "unsubscribed", bare, contact);
    if (!(it->sub & SM_SUB_FROM))
        return;
    sm_user *u = sm_user_get(sm, bare, false);
    for (sm_session *s = u ? u->sessions : NULL; s; s = s->next)
        if (s->is_available)
            send_simple(sm, "unavailable", s->full, contact);
}

static sm_verdict subscription_out(sm_session *s, xs_elem *st, sm_roster_edit_fn *edit)
{
    sm_server *sm = s->user->sm;
    char *contact = sm_bare_of(xs_attr(st, "to"));
    if (!contact)
        return sm_reply_error(sm, st, XS_JID_MALFORMED);
    if (strcmp(contact, s->user->bare) == 0) {
        /* One's own presence needs no subscription, and the roster never
         * holds one's own JID (as a roster set of it is not-allowed). */
        free(contact);
        return SM_HANDLED;
    }
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
            return subscription_out(s, st, edit_end_subscription_to);
        if (is_type(st, "unsubscribed"))
            return subscription_out(s, st, edit_end_subscription_from);
        if (is_type(st, NULL) || is_type(st, "unavailable"))
            directed_track(s, to, is_type(st, NULL));
        else if (!is_type(st, "probe") && !is_type(st, "error"))
            return sm_reply_error(sm, st, XS_BAD_REQUEST);   /* RFC 6121 §4.7.1 */
        return SM_PASS;                        /* directed presence, probes */
    }
    if (is_type(st, "unavailable")) {
        if (s->is_available || s->n_directed)
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
    broadcast_presence(s, s->presence, is_initial, false);
    /* XEP-0160 §5: offline messages go with the first available presence. */
    if (is_initial && s->priority >= 0)
        sm_offline_flush(s);
    return SM_HANDLED;
}

/* --- inbound (RFC 6121 §3.1.3, §3.2.3, §3.3.3, §4.3) --- */

typedef struct sub_in {
    struct sub_in *next;          /* in flight (subscription types only) */
    char *bare, *from;
    xs_elem *stanza;
    bool is_auto;                 /* subscribe answered by pre-approval */
    bool is_ignored;              /* changed nothing: not delivered */
    xs_elem **held;               /* the contact's presence that came meanwhile */
    size_t n_held;
} sub_in;

/* The inbound subscription stanzas waiting for their roster roundtrip. The
 * contact's presence that arrives meanwhile is held back and delivered
 * after the subscription stanza, so that a subscriber sees subscribed
 * before the contact's presence (§3.1.5) even though the approver's server
 * sends the presence right after it. One sm process serves one sm_server. */
static sub_in *in_flight;

static sub_in *in_flight_find(const char *bare, const char *from)
{
    sub_in *found = NULL;
    for (sub_in *in = in_flight; in; in = in->next)
        if (strcmp(in->bare, bare) == 0 && strcmp(in->from, from) == 0)
            found = in;              /* the latest one */
    return found;
}

static void in_flight_remove(sub_in *in)
{
    for (sub_in **p = &in_flight; *p; p = &(*p)->next)
        if (*p == in) {
            *p = in->next;
            break;
        }
}

static sm_verdict presence_to_user(sm_user *u, xs_elem *st);

/* A copy of st for u from its sender's bare JID; NULL when st has no valid
 * from. */
static sub_in *sub_in_new(const sm_user *u, const xs_elem *st)
{
    char *from = sm_bare_of(xs_attr(st, "from"));
    if (!from)
        return NULL;
    sub_in *in = xalloc(sizeof *in);
    in->bare = xstrdup(u->bare);
    in->from = from;
    in->stanza = xs_dup(st);
    return in;
}

static void sub_in_free(sub_in *in)
{
    xs_unref(in->stanza);
    free(in->bare);
    free(in->from);
    free(in);
}

static void deliver_available(sm_user *u, const xs_elem *st)
{
    for (sm_session *s = u->sessions; s; s = s->next)
        if (s->is_available)
            sm_session_deliver(s, st);
}

static int edit_in_subscribe(sm_roster_item *it, void *ud)
{
    sub_in *in = ud;
    if (it->sub & SM_SUB_FROM) {
        in->is_auto = true;
        return SM_EDIT_NONE;
    }
    if (it->is_approved) {
        in->is_auto = true;            /* §3.4: pre-approved */
        return edit_set_from(it, true);
    }
    /* §3.1.3: the request waits on the item (a hidden one when the
     * contact is not in the roster) until the user answers it, and is
     * delivered again with the user's next initial presence. */
    if (!it->exists)
        it->is_hidden = true;
    it->is_pending_in = true;
    xs_elem *status = xs_child(in->stanza, "status", NULL);
    it->pending_status = status ? xs_text(status) : NULL;
    return SM_EDIT_WRITE;
}

static int edit_in_subscribed(sm_roster_item *it, void *ud)
{
    sub_in *in = ud;
    if (!it->is_asking) {
        in->is_ignored = true;        /* not asked: ignored (§3.1.6) */
        return SM_EDIT_NONE;
    }
    it->is_asking = false;
    it->sub |= SM_SUB_TO;
    return SM_EDIT_WRITE;
}

/* §3.3.3 and §3.2.3: an unsubscribe (ending the contact's subscription,
 * bit SM_SUB_FROM) or unsubscribed (ending the user's, SM_SUB_TO) that ends
 * nothing, neither a subscription nor a request waiting, is ignored. */
static int edit_in_end(sm_roster_item *it, sub_in *in, int bit)
{
    bool is_waiting = bit == SM_SUB_FROM ? it->is_pending_in : it->is_asking;
    if (!it->exists || !((it->sub & bit) || is_waiting)) {
        in->is_ignored = true;
        return SM_EDIT_NONE;
    }
    return bit == SM_SUB_FROM ? edit_end_subscription_from(it, NULL)
                              : edit_end_subscription_to(it, NULL);
}

static int edit_in_unsubscribe(sm_roster_item *it, void *ud)
{
    return edit_in_end(it, ud, SM_SUB_FROM);
}

static int edit_in_unsubscribed(sm_roster_item *it, void *ud)
{
    return edit_in_end(it, ud, SM_SUB_TO);
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
    } else if (!status && u && !in->is_ignored) {
        deliver_available(u, in->stanza);
    }
    in_flight_remove(in);
    for (size_t i = 0; i < in->n_held; i++) {
        u = sm_user_get(sm, in->bare, false);
        if (u)
            presence_to_user(u, in->held[i]);
        xs_unref(in->held[i]);
    }
    free(in->held);
    sub_in_free(in);
}

static void probe_on_roster(sm_server *sm, xs_elem *answer, void *ud)
{
    sub_in *in = ud;
    bool is_allowed = sm_roster_has_subscriber(sm_store_result(answer), in->from);
    sm_user *u = sm_user_get(sm, in->bare, false);
    bool is_any = false;
    for (sm_session *s = u ? u->sessions : NULL; is_allowed && s; s = s->next)
        if (s->is_available && s->presence) {
            send_presence(sm, s->presence, s->full, xs_attr(in->stanza, "from"));
            is_any = true;
        }
    if (is_allowed && !is_any)
        send_simple(sm, "unavailable", in->bare, xs_attr(in->stanza, "from"));
    if (!is_allowed) {
        /* RFC 6121 §4.3.2: no presence for one not subscribed, who learns
         * so; §8.5.1 allows the same answer where there is no account, so
         * the answer does not tell whether the account exists. */
        char *prober = sm_bare_of(xs_attr(in->stanza, "from"));
        if (prober)
            send_simple(sm, "unsubscribed", in->bare, prober);
        free(prober);
    }
    sub_in_free(in);
}

static sm_verdict presence_to_user(sm_user *u, xs_elem *st)
{
    if (strcmp(xs_name(st), "presence") != 0)
        return SM_PASS;
    sm_server *sm = u->sm;
    static const struct { const char *type; sm_roster_edit_fn *edit; } subs[] = {
        { "subscribe", edit_in_subscribe }, { "subscribed", edit_in_subscribed },
        { "unsubscribe", edit_in_unsubscribe },
        { "unsubscribed", edit_in_unsubscribed },
    };
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (!is_type(st, subs[i].type))
            continue;
        sub_in *in = sub_in_new(u, st);
        if (!in)
            return SM_HANDLED;
        xs_set_attr(in->stanza, "from", in->from);    /* §3.1.3: the bare JID */
        in->next = in_flight;
        in_flight = in;
        sm_roster_edit(sm, u->bare, in->from, subs[i].edit, sub_in_done, in);
        return SM_HANDLED;
    }
    if (is_type(st, "probe")) {
        sub_in *in = sub_in_new(u, st);
        if (in)
            sm_roster_fetch(sm, u->bare, NULL, probe_on_roster, in);
        return SM_HANDLED;
    }
    if (is_type(st, NULL) || is_type(st, "unavailable")) {
        char *from = sm_bare_of(xs_attr(st, "from"));
        sub_in *in = from ? in_flight_find(u->bare, from) : NULL;
        free(from);
        if (in) {
            in->held = xrealloc(in->held, (in->n_held + 1) * sizeof *in->held);
            in->held[in->n_held++] = xs_ref(st);
            return SM_HANDLED;
        }
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
