/* SPDX-License-Identifier: MIT */
/* sm/mod_message.c: message delivery to local users (RFC 6121 §8.5) and
 * offline storage (XEP-0160) with delayed delivery (XEP-0203). A message to
 * a bare JID goes to every available resource that shares the highest
 * non-negative priority. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "libcommon/jid.h"
#include "libcommon/log.h"
#include "sm/module.h"

#define DELAY_NS "urn:xmpp:delay"
#define MSG_MAX_BEST 64

/* RFC 6121 §5.2.2: no type, or one not known, means normal. */
static const char *msg_type(const xs_elem *st)
{
    static const char *const known[] = { "chat", "error", "groupchat", "headline", NULL };
    const char *t = xs_attr(st, "type");
    for (size_t i = 0; t && known[i]; i++)
        if (strcmp(t, known[i]) == 0)
            return t;
    return "normal";
}

static void offline_on_stored(sm_server *sm, xs_elem *answer, void *ud)
{
    xs_elem *msg = ud;
    if (!sm_store_ok(answer)) {
        /* XEP-0160 §3: over quota (or no store) the sender learns so. */
        log_info("sm", "offline message for %s refused by the store",
                 xs_attr(msg, "to") ? xs_attr(msg, "to") : "-");
        sm_reply_error(sm, msg, XS_SERVICE_UNAVAILABLE);
    }
    xs_unref(msg);
}

static void offline_store(sm_server *sm, const char *bare, xs_elem *msg)
{
    char max[24];
    snprintf(max, sizeof max, "%ld", sm->offline_max);
    buf stanza;
    buf_init(&stanza);
    sm_stanza_xml(msg, XS_NS_CLIENT, &stanza);
    char *body = buf_steal(&stanza);
    sm_store_query q = { .name = "offline-store", .user = bare, .is_set = true,
                         .attrs = { { "max", max } }, .body = body };
    sm_store_ask(sm, &q, offline_on_stored, xs_ref(msg));
    free(body);
}

static void message_to_bare(sm_user *u, xs_elem *st, const char *type)
{
    sm_server *sm = u->sm;
    if (strcmp(type, "groupchat") == 0) {
        sm_reply_error(sm, st, XS_SERVICE_UNAVAILABLE);   /* RFC 6121 §8.5.2.1.2 */
        return;
    }
    if (strcmp(type, "error") == 0)
        return;                                           /* §8.5.2.1.3: ignored */
    if (strcmp(type, "headline") == 0) {
        for (sm_session *s = u->sessions; s; s = s->next)
            if (s->is_available && s->priority >= 0)
                sm_session_deliver(s, st);
        return;
    }
    sm_session *best[MSG_MAX_BEST];
    size_t n = sm_user_best(u, best, MSG_MAX_BEST);
    for (size_t i = 0; i < n; i++)
        sm_session_deliver(best[i], st);
    if (n)
        sm_carbons_received(u, st, best, n);
    else
        offline_store(sm, u->bare, st);
}

static sm_verdict message_to_user(sm_user *u, xs_elem *st)
{
    if (strcmp(xs_name(st), "message") != 0)
        return SM_PASS;
    jid *to = NULL;
    if (jid_parse(xs_attr(st, "to"), &to) < 0)
        return SM_HANDLED;
    const char *type = msg_type(st);
    if (jid_resource(to)) {
        sm_session *s = sm_user_session(u, jid_resource(to));
        if (s) {
            sm_session_deliver(s, st);
            sm_carbons_received(u, st, &s, 1);
        } else if (strcmp(type, "chat") == 0 || strcmp(type, "normal") == 0)
            message_to_bare(u, st, type);                 /* RFC 6121 §8.5.3.2.1 */
        else if (strcmp(type, "groupchat") == 0)
            sm_reply_error(u->sm, st, XS_SERVICE_UNAVAILABLE);
        jid_free(to);
        return SM_HANDLED;
    }
    jid_free(to);
    message_to_bare(u, st, type);
    return SM_HANDLED;
}

void sm_message_undelivered(sm_server *sm, xs_elem *msg)
{
    const char *type = msg_type(msg);
    char *bare = sm_bare_of(xs_attr(msg, "to"));
    if (bare && (strcmp(type, "chat") == 0 || strcmp(type, "normal") == 0))
        offline_store(sm, bare, msg);
    else if (strcmp(type, "error") != 0 && strcmp(type, "headline") != 0)
        sm_reply_error(sm, msg, XS_RECIPIENT_UNAVAILABLE);
    free(bare);
}

static void offline_on_items(sm_server *sm, xs_elem *answer, void *ud)
{
    char *full = ud;
    xs_elem *list = sm_store_result(answer);
    sm_session *s = sm_session_find(sm, full);
    const char *upto = NULL;
    for (xs_elem *it = list ? xs_first(list) : NULL; s && it; it = xs_next(it)) {
        xs_elem *msg = xs_first(it);
        if (!msg)
            continue;
        xs_elem *copy = xs_dup(msg);
        xs_elem *delay = xs_add_new(copy, "delay", DELAY_NS);
        xs_set_attr(delay, "from", s->user->domain);
        xs_set_attr(delay, "stamp", xs_attr(it, "stamp"));
        sm_session_deliver(s, copy);
        xs_unref(copy);
        upto = xs_attr(it, "id");
    }
    if (s && upto) {
        sm_store_query q = { .name = "offline-delete", .user = s->user->bare, .is_set = true,
                             .attrs = { { "upto", upto } } };
        sm_store_ask(sm, &q, NULL, NULL);
    }
    free(full);
}

void sm_offline_flush(sm_session *s)
{
    sm_store_query q = { .name = "offline-get", .user = s->user->bare };
    sm_store_ask(s->user->sm, &q, offline_on_items, xstrdup(s->full));
}

static const char *const message_features[] = { "msgoffline", NULL };

const sm_module sm_mod_message = {
    .name = "message", .spec = "RFC 6121 §8.5, XEP-0160 Offline Messages",
    .features = message_features, .priority = 100, .to_user = message_to_user,
};
