/* SPDX-License-Identifier: MIT */
/* sm/mod_last.c: XEP-0012 Last Activity. The server answers with its
 * uptime; for a local user it answers on the user's behalf: 0 seconds while
 * a resource is available, else the time since the last logout with the
 * status of the last unavailable presence. Logouts are kept in memory only:
 * after a restart an offline user's last activity is item-not-found. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/strmap.h"
#include "sm/module.h"

#define LAST_NS "jabber:iq:last"

typedef struct last_seen {
    char *full;              /* the session whose logout this is */
    char *status;
    uint64_t at_ms;
} last_seen;

/* The logouts by bare JID. */
static struct {
    uint64_t started_ms;
    strmap *seen;
} last;

/* A monotonic clock: the loop does not exist yet when modules start. */
static uint64_t last_now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static last_seen *last_find(const char *bare)
{
    return last.seen ? strmap_get(last.seen, bare) : NULL;
}

static void last_record(sm_session *s, const char *status)
{
    last_seen *l = last_find(s->user->bare);
    if (!l) {
        l = xalloc(sizeof *l);
        strmap_put(last.seen, s->user->bare, l);
    }
    free(l->full);
    free(l->status);
    l->full = xstrdup(s->full);
    l->status = xstrdup(status ? status : "");
    l->at_ms = last_now_ms();
}

static bool others_available(const sm_session *s)
{
    for (const sm_session *o = s->user->sessions; o; o = o->next)
        if (o != s && o->is_available)
            return true;
    return false;
}

static xs_elem *last_result(const xs_elem *iq, uint64_t seconds, const char *status)
{
    char n[32];
    snprintf(n, sizeof n, "%llu", (unsigned long long)seconds);
    xs_elem *r = sm_iq_result(iq);
    xs_elem *q = xs_add_new(r, "query", LAST_NS);
    xs_set_attr(q, "seconds", n);
    if (status && *status)
        xs_add_text(q, status, strlen(status));
    return r;
}

static sm_verdict last_server(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    (void)sender;
    uint64_t up = (last_now_ms() - last.started_ms) / 1000;
    sm_send(sm, last_result(iq, up, NULL));   /* §5: the server's uptime */
    return SM_HANDLED;
}

typedef struct last_ask {
    xs_elem *iq;
    char *owner, *asker;
} last_ask;

/* Answers for owner, the asker being allowed to see their presence. */
static void last_answer(sm_server *sm, const xs_elem *iq, const char *owner)
{
    sm_user *u = sm_user_get(sm, owner, false);
    if (u && sm_user_has_available(u)) {
        sm_send(sm, last_result(iq, 0, NULL));      /* §4: online */
        return;
    }
    last_seen *l = last_find(owner);
    if (!l) {
        sm_reply_error(sm, iq, XS_ITEM_NOT_FOUND);
        return;
    }
    sm_send(sm, last_result(iq, (last_now_ms() - l->at_ms) / 1000, l->status));
}

static void last_on_roster(sm_server *sm, xs_elem *answer, void *ud)
{
    last_ask *a = ud;
    if (sm_roster_has_subscriber(sm_store_result(answer), a->asker))
        last_answer(sm, a->iq, a->owner);
    else
        sm_reply_error(sm, a->iq, XS_FORBIDDEN);    /* §4: no subscription */
    xs_unref(a->iq);
    free(a->owner);
    free(a->asker);
    free(a);
}

static sm_verdict last_account(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    const char *to = xs_attr(iq, "to");
    char *owner = to ? sm_bare_of(to) : sender ? xstrdup(sender->user->bare) : NULL;
    char *asker = sm_bare_of(xs_attr(iq, "from"));
    if (!owner || !asker) {
        free(owner);
        free(asker);
        return sm_reply_error(sm, iq, XS_BAD_REQUEST);
    }
    if (strcmp(owner, asker) == 0) {
        last_answer(sm, iq, owner);
        free(owner);
        free(asker);
        return SM_HANDLED;
    }
    last_ask *a = xalloc(sizeof *a);
    a->iq = xs_ref(iq);
    a->owner = owner;
    a->asker = asker;
    sm_roster_fetch(sm, owner, NULL, last_on_roster, a);
    return SM_HANDLED;
}

/* An unavailable presence from the client carries the logout status; the
 * presence module handles it afterwards. */
static sm_verdict last_from_session(sm_session *s, xs_elem *st)
{
    const char *type = xs_attr(st, "type");
    if (strcmp(xs_name(st), "presence") != 0 || xs_attr(st, "to"))
        return SM_PASS;
    last_seen *l = last_find(s->user->bare);
    if (!type && l && strcmp(l->full, s->full) == 0) {
        free(l->full);                 /* online again: that logout is over */
        l->full = xstrdup("");
    } else if (type && strcmp(type, "unavailable") == 0 && s->is_available &&
               !others_available(s)) {
        last_record(s, xs_child_text(st, "status", NULL));
    }
    return SM_PASS;
}

static void last_session_closed(sm_session *s)
{
    if (others_available(s))
        return;
    last_seen *l = last_find(s->user->bare);
    /* An unavailable presence sent by this session already said when. */
    if (l && strcmp(l->full, s->full) == 0)
        return;
    last_record(s, NULL);
}

static int last_start(sm_server *sm, const cfg_node *conf, cfg_diag *diag)
{
    (void)sm, (void)conf, (void)diag;
    last.started_ms = last_now_ms();
    last.seen = strmap_new();
    return 0;
}

static void last_seen_free(void *p)
{
    last_seen *l = p;
    free(l->full);
    free(l->status);
    free(l);
}

static void last_stop(sm_server *sm)
{
    (void)sm;
    strmap_free(last.seen, last_seen_free);
    last.seen = NULL;
}

static const sm_iq_route last_routes[] = {
    { SM_TO_SERVER, SM_IQ_GET, LAST_NS, "query", last_server },
    { SM_TO_ACCOUNT, SM_IQ_GET, LAST_NS, "query", last_account },
    { 0 }
};
static const char *const last_features[] = { LAST_NS, NULL };

const sm_module sm_mod_last = {
    .name = "last", .spec = "XEP-0012 Last Activity", .features = last_features,
    .iq = last_routes, .start = last_start, .stop = last_stop, .priority = 40,
    .from_session = last_from_session, .session_closed = last_session_closed,
};
