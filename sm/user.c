/* SPDX-License-Identifier: MIT */
/* sm/user.c: the users with sessions on this sm, and delivery to their
 * resources (RFC 6121 §8.5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/log.h"
#include "sm/sm.h"

sm_user *sm_user_get(sm_server *sm, const char *bare, bool create)
{
    if (!sm->user_table)
        sm->user_table = strmap_new();
    sm_user *u = strmap_get(sm->user_table, bare);
    if (u || !create)
        return u;
    u = xalloc(sizeof *u);
    u->sm = sm;
    u->bare = xstrdup(bare);
    const char *at = strchr(bare, '@');
    u->domain = xstrdup(at ? at + 1 : bare);
    u->next = sm->users;
    if (sm->users)
        sm->users->prev = u;
    sm->users = u;
    strmap_put(sm->user_table, bare, u);
    sm_user_check_idle(u);             /* made for one stanza, perhaps */
    return u;
}

void sm_user_check_idle(sm_user *u)
{
    sm_server *sm = u->sm;
    if (u->is_idle_checked)
        return;
    if (sm->n_maybe_idle == sm->cap_maybe_idle) {
        sm->cap_maybe_idle = sm->cap_maybe_idle ? 2 * sm->cap_maybe_idle : 16;
        sm->maybe_idle = xrealloc(sm->maybe_idle, sm->cap_maybe_idle * sizeof *sm->maybe_idle);
    }
    sm->maybe_idle[sm->n_maybe_idle++] = u;
    u->is_idle_checked = true;
}

static void user_free(sm_server *sm, sm_user *u)
{
    if (u->prev)
        u->prev->next = u->next;
    else
        sm->users = u->next;
    if (u->next)
        u->next->prev = u->prev;
    strmap_remove(sm->user_table, u->bare);
    free(u->bare);
    free(u->domain);
    free(u);
}

/* Only the users marked since the last call are looked at, so this is cheap
 * enough to run after every stanza. */
void sm_user_collect(sm_server *sm)
{
    for (size_t i = 0; i < sm->n_maybe_idle; i++) {
        sm_user *u = sm->maybe_idle[i];
        u->is_idle_checked = false;
        if (!u->sessions)
            user_free(sm, u);
    }
    sm->n_maybe_idle = 0;
    if (!sm->users) {
        strmap_free(sm->user_table, NULL);
        sm->user_table = NULL;
        free(sm->maybe_idle);
        sm->maybe_idle = NULL;
        sm->cap_maybe_idle = 0;
    }
}

sm_session *sm_user_session(sm_user *u, const char *resource)
{
    for (sm_session *s = u->sessions; s; s = s->next)
        if (strcmp(s->resource, resource) == 0)
            return s;
    return NULL;
}

void sm_session_deliver(sm_session *s, const xs_elem *st)
{
    xs_elem *copy = NULL;
    const char *to = xs_attr(st, "to");
    if (!to || strcmp(to, s->full) != 0) {
        copy = xs_dup(st);
        xs_set_attr(copy, "to", s->full);
        st = copy;
    }
    buf out;
    buf_init(&out);
    sm_stanza_xml(st, XS_NS_CLIENT, &out);
    if (buf_len(&out) &&
        link_send_envelope(s->user->sm->link, s->c2s, s->user->bare, buf_data(&out),
                           buf_len(&out)) < 0)
        log_warn("sm", "a <%s/> to %s dropped: the link's queue is full", xs_name(st),
                 s->full);
    buf_close(&out);
    xs_unref(copy);
}

void sm_session_push(sm_session *s, const xs_elem *payload)
{
    static unsigned long push_id;
    char id[32];
    snprintf(id, sizeof id, "push%lu", ++push_id);
    xs_elem *iq = xs_new("iq", XS_NS_CLIENT);
    xs_set_attr(iq, "type", "set");
    xs_set_attr(iq, "id", id);
    xs_set_attr(iq, "to", s->full);
    xs_add(iq, xs_dup(payload));
    sm_session_deliver(s, iq);
    xs_unref(iq);
}

size_t sm_user_best(sm_user *u, sm_session **out, size_t max)
{
    int best = -1;
    for (sm_session *s = u->sessions; s; s = s->next)
        if (s->is_available && s->priority >= 0 && s->priority > best)
            best = s->priority;
    size_t n = 0;
    if (best < 0)
        return 0;
    for (sm_session *s = u->sessions; s && n < max; s = s->next)
        if (s->is_available && s->priority == best)
            out[n++] = s;
    return n;
}

bool sm_user_has_available(const sm_user *u)
{
    for (const sm_session *s = u->sessions; s; s = s->next)
        if (s->is_available)
            return true;
    return false;
}
