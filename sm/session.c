/* SPDX-License-Identifier: MIT */
/* sm/session.c: the session protocol with c2s (docs/session-protocol.md):
 * start (an older session on the same resource is replaced, RFC 6120
 * §7.7.2.2), end, and the end of every session of a c2s that detached. */
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "libcommon/jid.h"
#include "libcommon/log.h"
#include "sm/module.h"

static void session_tell(sm_server *sm, const char *c2s, const char *bare, const char *action,
                         const char *full, const char *condition)
{
    buf out;
    buf_init(&out);
    buf_append_str(&out, "<session xmlns='" SM_NS_SESSION "' action='");
    buf_append_xml(&out, action, strlen(action), 1);
    buf_append_str(&out, "' jid='");
    buf_append_xml(&out, full, strlen(full), 1);
    buf_append_str(&out, "'");
    if (condition) {
        buf_append_str(&out, " condition='");
        buf_append_xml(&out, condition, strlen(condition), 1);
        buf_append_str(&out, "'");
    }
    buf_append_str(&out, "/>");
    link_send_envelope(sm->link, c2s, bare, buf_data(&out), buf_len(&out));
    buf_close(&out);
}

sm_session *sm_session_find(sm_server *sm, const char *full)
{
    jid *j = NULL;
    if (!full || jid_parse(full, &j) < 0)
        return NULL;
    sm_session *s = NULL;
    sm_user *u = jid_resource(j) ? sm_user_get(sm, jid_bare(j), false) : NULL;
    if (u)
        s = sm_user_session(u, jid_resource(j));
    jid_free(j);
    return s;
}

static void session_free(sm_session *s)
{
    sm_user *u = s->user;
    for (sm_session **p = &u->sessions; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    sm_user_check_idle(u);
    free(s->full);
    free(s->resource);
    free(s->c2s);
    for (size_t i = 0; i < s->n_directed; i++)
        free(s->directed[i]);
    free(s->directed);
    xs_unref(s->presence);
    free(s);
}

void sm_session_end(sm_session *s)
{
    sm_server *sm = s->user->sm;
    log_info("sm", "session %s on %s ended", s->full, s->c2s);
    if (s->is_available || s->n_directed)
        sm_presence_gone(s);
    for (size_t i = 0; sm->modules[i]; i++)
        if (sm->modules[i]->session_closed)
            sm->modules[i]->session_closed(s);
    session_free(s);
}

void sm_session_end_c2s(sm_server *sm, const char *c2s)
{
    for (sm_user *u = sm->users; u; u = u->next) {
        sm_session *s = u->sessions;
        while (s) {
            sm_session *next = s->next;
            if (strcmp(s->c2s, c2s) == 0)
                sm_session_end(s);
            s = next;
        }
    }
    sm_user_collect(sm);
}

static void session_start(sm_server *sm, const char *c2s, const char *full, bool is_resume)
{
    jid *j = NULL;
    if (!full || jid_parse(full, &j) < 0 || !jid_local(j) || !jid_resource(j) ||
        !sm_is_local_domain(sm, jid_domain(j))) {
        char *bare = sm_bare_of(full);
        session_tell(sm, c2s, bare ? bare : "", "refused", full ? full : "",
                     j ? "not-allowed" : "jid-malformed");
        free(bare);
        jid_free(j);
        return;
    }
    sm_user *u = sm_user_get(sm, jid_bare(j), true);
    sm_session *old = sm_user_session(u, jid_resource(j));
    if (old) {
        /* RFC 6120 §7.7.2.2: the newer session wins. */
        session_tell(sm, old->c2s, u->bare, "end", old->full, "conflict");
        sm_session_end(old);
    }
    sm_session *s = xalloc(sizeof *s);
    s->user = u;
    s->full = xstrdup(jid_full(j));
    s->resource = xstrdup(jid_resource(j));
    s->c2s = xstrdup(c2s);
    /* A session started again after an sm restart (resume='true'): its
     * client had the roster, so it keeps getting the pushes. */
    s->wants_roster = is_resume;
    s->next = u->sessions;
    u->sessions = s;
    jid_free(j);
    for (size_t i = 0; sm->modules[i]; i++)
        if (sm->modules[i]->session_opened)
            sm->modules[i]->session_opened(s);
    log_info("sm", "session %s started on %s", s->full, c2s);
    session_tell(sm, c2s, u->bare, "started", s->full, NULL);
}

void sm_session_command(sm_server *sm, const char *from, xs_elem *cmd)
{
    const char *action = xs_attr(cmd, "action");
    const char *full = xs_attr(cmd, "jid");
    if (!action)
        return;
    if (strcmp(action, "start") == 0) {
        const char *resume = xs_attr(cmd, "resume");
        session_start(sm, from, full, resume && strcmp(resume, "true") == 0);
    } else if (strcmp(action, "end") == 0) {
        sm_session *s = sm_session_find(sm, full);
        if (s && strcmp(s->c2s, from) == 0)
            sm_session_end(s);
    } else {
        log_debug("sm", "session action %s from %s ignored", action, from);
    }
    sm_user_collect(sm);
}
