/* SPDX-License-Identifier: MIT */
/* sm/mod_carbons.c: XEP-0280 Message Carbons. A session that enabled them
 * gets a copy of each chat message its user's other sessions send (<sent/>)
 * and of each one delivered to another of the user's sessions
 * (<received/>), wrapped in a XEP-0297 <forwarded/>. */
#include <string.h>

#include "libcommon/xs.h"
#include "sm/module.h"

#define CARBONS_NS "urn:xmpp:carbons:2"
#define FORWARD_NS "urn:xmpp:forward:0"
#define HINTS_NS "urn:xmpp:hints"

/* Payloads of chat messages that carry no <body/> (XEP-0280 §6): chat
 * states (XEP-0085), receipts (XEP-0184) and markers (XEP-0333). */
static const char *const carbons_im_payloads[] = {
    "http://jabber.org/protocol/chatstates",
    "urn:xmpp:receipts",
    "urn:xmpp:chat-markers:0",
    NULL,
};

static bool carbons_has_im_payload(const xs_elem *msg)
{
    for (const xs_elem *c = xs_first(msg); c; c = xs_next(c)) {
        const char *ns = xs_ns(c) ? xs_ns(c) : "";
        for (size_t i = 0; carbons_im_payloads[i]; i++)
            if (strcmp(ns, carbons_im_payloads[i]) == 0)
                return true;
    }
    return false;
}

/* XEP-0280 §6 and §7: chat messages, normal ones with a body, and IM
 * notifications, unless marked private or no-copy; never groupchat or
 * errors, and never a carbon copy itself. */
static bool carbons_is_eligible(const xs_elem *msg)
{
    if (strcmp(xs_name(msg), "message") != 0)
        return false;
    if (xs_child(msg, "private", CARBONS_NS) || xs_child(msg, "no-copy", HINTS_NS) ||
        xs_child(msg, "sent", CARBONS_NS) || xs_child(msg, "received", CARBONS_NS))
        return false;
    const char *type = xs_attr(msg, "type") ? xs_attr(msg, "type") : "normal";
    if (strcmp(type, "chat") == 0)
        return true;
    if (strcmp(type, "groupchat") == 0 || strcmp(type, "error") == 0)
        return false;
    if (strcmp(type, "normal") == 0 && xs_child(msg, "body", xs_ns(msg)))
        return true;
    return carbons_has_im_payload(msg);
}

/* Sends msg (borrowed) wrapped in <how/> to every session of u that enabled
 * carbons, except the one that sent it and skip (n_skip of them), which
 * had the message itself. */
static void carbons_copy(sm_user *u, const xs_elem *msg, const char *how,
                         sm_session *const *skip, size_t n_skip)
{
    const char *from = xs_attr(msg, "from") ? xs_attr(msg, "from") : "";
    xs_elem *wrap = NULL;
    for (sm_session *s = u->sessions; s; s = s->next) {
        if (!s->has_carbons || strcmp(s->full, from) == 0)
            continue;
        bool skipped = false;
        for (size_t i = 0; i < n_skip && !skipped; i++)
            skipped = skip[i] == s;
        if (skipped)
            continue;
        if (!wrap) {
            wrap = xs_new("message", XS_NS_CLIENT);
            xs_set_attr(wrap, "from", u->bare);
            xs_set_attr(wrap, "type", xs_attr(msg, "type"));
            xs_elem *fwd = xs_add_new(xs_add_new(wrap, how, CARBONS_NS), "forwarded",
                                      FORWARD_NS);
            xs_elem *orig = xs_dup(msg);
            xs_add(fwd, orig);
        }
        sm_session_deliver(s, wrap);
    }
    xs_unref(wrap);
}

void sm_carbons_received(sm_user *u, const xs_elem *msg, sm_session *const *delivered,
                         size_t n)
{
    if (n > 0 && carbons_is_eligible(msg))
        carbons_copy(u, msg, "received", delivered, n);
}

static sm_verdict carbons_from_session(sm_session *s, xs_elem *st)
{
    if (carbons_is_eligible(st))
        carbons_copy(s->user, st, "sent", NULL, 0);
    return SM_PASS;
}

static sm_verdict carbons_set(sm_server *sm, sm_session *sender, xs_elem *iq, bool on)
{
    const char *to = xs_attr(iq, "to");
    bool is_to_server = to && !strchr(to, '@');
    if (!sender || !(is_to_server || sm_is_own_account(sender, iq)))
        return sm_reply_error(sm, iq, XS_FORBIDDEN);   /* for one's own sessions */
    sender->has_carbons = on;
    sm_send(sm, sm_iq_result(iq));
    return SM_HANDLED;
}

static sm_verdict carbons_enable(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    return carbons_set(sm, sender, iq, true);
}

static sm_verdict carbons_disable(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    return carbons_set(sm, sender, iq, false);
}

static const char *const carbons_features[] = { CARBONS_NS, NULL };

/* Clients send the request without a to, or to their server. */
static const sm_iq_route carbons_routes[] = {
    { SM_TO_ACCOUNT, SM_IQ_SET, CARBONS_NS, "enable", carbons_enable },
    { SM_TO_ACCOUNT, SM_IQ_SET, CARBONS_NS, "disable", carbons_disable },
    { SM_TO_SERVER, SM_IQ_SET, CARBONS_NS, "enable", carbons_enable },
    { SM_TO_SERVER, SM_IQ_SET, CARBONS_NS, "disable", carbons_disable },
    { 0 },
};

const sm_module sm_mod_carbons = {
    .name = "carbons",
    .spec = "XEP-0280 Message Carbons",
    .features = carbons_features,
    .iq = carbons_routes,
    .from_session = carbons_from_session,
    .priority = 90,     /* after blocking: a refused message is not copied */
};
