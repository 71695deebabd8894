/* SPDX-License-Identifier: MIT */
/* c2s/session.c: the link side (docs/session-protocol.md): sessions started
 * and ended with sm, client stanzas stamped and sent to the session's sm
 * instance, stanzas from sm delivered to the client (or sent back), and the
 * store's answers handed to sasl.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c2s/c2s.h"
#include "libcommon/alloc.h"
#include "libcommon/envelope.h"
#include "libcommon/error.h"
#include "libcommon/log.h"

static int session_send_control_ex(c2s *s, const char *to, const jid *full,
                                   const char *action, bool is_resume)
{
    if (!s->link)
        return XE_CLOSED;
    buf inner;
    buf_init(&inner);
    buf_printf(&inner, "<session xmlns='" C2S_NS_XMPPD_SESSION "' action='%s' jid='", action);
    buf_append_xml(&inner, jid_full(full), strlen(jid_full(full)), 1);
    buf_append_str(&inner, is_resume ? "' resume='true'/>" : "'/>");
    int rc = link_send_envelope(s->link, to, jid_bare(full), buf_data(&inner),
                                buf_len(&inner));
    buf_close(&inner);
    return rc;
}

static int session_send_control(c2s *s, const char *to, const jid *full, const char *action)
{
    return session_send_control_ex(s, to, full, action, false);
}

/* docs/session-protocol.md, "Failures": the session of cn is started again
 * on whichever sm instance its key lands on now. */
static void session_resume(c2s_conn *cn)
{
    cn->is_resume_waiting = false;
    if (session_send_control_ex(cn->srv, "sm", cn->full, "start", true) < 0)
        cn->is_resume_waiting = true;
}

/* The restart was refused or cannot be done: the client is told to
 * reconnect (RFC 6120 §4.9.3.16). */
static void session_resume_failed(c2s_conn *cn, const char *why)
{
    log_warn(cn->who, "the session could not be started again (%s); stream reset",
             why ? why : "-");
    cn->is_bound = false;
    c2s_conn_unindex(cn->srv->sessions, cn);
    cn->is_resuming = false;
    c2s_conn_close(cn, XS_STREAM_RESET, NULL);
}

void c2s_session_note_presence(c2s_conn *cn, xs_elem *st, const char *raw, size_t len)
{
    const char *type = xs_attr(st, "type");
    if (xs_attr(st, "to") || (type && strcmp(type, "unavailable") != 0))
        return;
    free(cn->last_presence);
    cn->last_presence = NULL;
    cn->last_presence_len = 0;
    if (type)
        return;                            /* unavailable: nothing to re-send */
    cn->last_presence = xstrndup(raw, len);
    cn->last_presence_len = len;
}

void c2s_session_start(c2s_conn *cn)
{
    int rc = session_send_control(cn->srv, "sm", cn->full, "start");
    if (rc < 0)
        c2s_bind_answer(cn, "unavailable", xe_str(rc), NULL);
}

void c2s_session_end(c2s_conn *cn)
{
    if (!cn->is_bound || !cn->sm_instance)
        return;
    cn->is_bound = false;
    c2s_conn_unindex(cn->srv->sessions, cn);
    session_send_control(cn->srv, cn->sm_instance, cn->full, "end");
    log_info(cn->who, "session ended");
}

void c2s_session_forward(c2s_conn *cn, const char *raw, size_t len)
{
    c2s *s = cn->srv;
    buf out;
    buf_init(&out);
    /* RFC 6120 §8.1.2.1: the server stamps from with the full JID, and
     * §4.7.4: a stanza without xml:lang gets the stream's. */
    if (!envelope_stamp_lang(&out, raw, len, XS_NS_CLIENT, jid_full(cn->full), cn->lang)) {
        buf_close(&out);
        c2s_conn_close(cn, XS_STREAM_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    int rc = s->link ? link_send_envelope(s->link, cn->sm_instance, jid_bare(cn->full),
                                          buf_data(&out), buf_len(&out))
                     : XE_CLOSED;
    if (rc < 0)
        log_warn(cn->who, "stanza to %s not sent: %s", cn->sm_instance, xe_str(rc));
    buf_close(&out);
}

static c2s_conn *session_by_store_req(c2s *s, const char *id)
{
    if (!id || strncmp(id, "c2s-", 4) != 0)
        return NULL;
    uint64_t req = strtoull(id + 4, NULL, 10);
    for (c2s_conn *cn = s->conns; cn; cn = cn->next)
        if (req && cn->store_req == req && cn->state != C2S_CONN_CLOSING)
            return cn;
    return NULL;
}

static c2s_conn *session_pending_bind(c2s *s, const char *full)
{
    c2s_conn *cn = full ? c2s_conn_binding(s, full) : NULL;
    return cn && cn->bind_iq_id && !cn->is_bound ? cn : NULL;
}

/* An envelope we sent came back from the router: nobody took it. */
static void session_returned(c2s *s, xs_elem *inner, const char *cond)
{
    const char *name = xs_name(inner);
    if (strcmp(name, "iq") == 0) {
        if (c2s_register_store_answer(s, inner, true))
            return;
        c2s_conn *cn = session_by_store_req(s, xs_attr(inner, "id"));
        if (cn) {
            log_warn(cn->who, "the store is unreachable (%s)", cond ? cond : "-");
            c2s_sasl_store_answer(cn, NULL);
            return;
        }
    }
    if (strcmp(name, "session") == 0 && strcmp(xs_ns(inner), C2S_NS_XMPPD_SESSION) == 0) {
        const char *action = xs_attr(inner, "action");
        const char *full = xs_attr(inner, "jid");
        c2s_conn *cn = session_pending_bind(s, full);
        if (cn && action && strcmp(action, "start") == 0) {
            c2s_bind_answer(cn, "unavailable", cond, NULL);
            return;
        }
        cn = full ? c2s_conn_by_full(s, full) : NULL;
        if (cn && cn->is_resuming && action && strcmp(action, "start") == 0) {
            /* No sm instance is there yet: the next one that binds gets it. */
            log_info(cn->who, "no sm for the session yet (%s); waiting", cond ? cond : "-");
            cn->is_resume_waiting = true;
        }
        return;
    }
    /* A client stanza whose sm is gone: the client gets an error for it
     * (a message is delivered, stored or bounced, never lost). */
    const char *type = xs_attr(inner, "type");
    const char *from = xs_attr(inner, "from");
    c2s_conn *cn = from ? c2s_conn_by_full(s, from) : NULL;
    bool is_bounceable = strcmp(name, "presence") != 0 &&
                         !(type && (strcmp(type, "error") == 0 || strcmp(type, "result") == 0));
    if (!cn || !cn->is_bound || !is_bounceable) {
        log_warn("c2s", "a <%s/> for sm came back (%s); dropped", name, cond ? cond : "-");
        return;
    }
    xs_elem *err = xs_dup(inner);
    const char *to = xs_attr(inner, "to");
    xs_set_attr(err, "from", to ? to : cn->domain);
    xs_set_attr(err, "to", from);
    xs_set_attr(err, "type", "error");
    xs_elem *e = xs_add_new(err, "error", XS_NS_CLIENT);
    xs_set_attr(e, "type", "wait");
    xs_add_new(e, "service-unavailable", XS_NS_STANZAS);
    c2s_conn_send_elem(cn, err);
}

static void session_control(c2s *s, xs_elem *inner, const char *from)
{
    const char *action = xs_attr(inner, "action"), *full = xs_attr(inner, "jid");
    const char *cond = xs_attr(inner, "condition");
    if (!action || !full)
        return;
    if (strcmp(action, "started") == 0 || strcmp(action, "refused") == 0) {
        c2s_conn *cn = session_pending_bind(s, full);
        if (cn) {
            c2s_bind_answer(cn, action, cond, from);
            return;
        }
        cn = c2s_conn_by_full(s, full);
        if (cn && cn->is_resuming && cn->is_bound) {
            if (strcmp(action, "refused") == 0) {
                session_resume_failed(cn, cond);
                return;
            }
            free(cn->sm_instance);
            cn->sm_instance = xstrdup(from);
            cn->is_resuming = false;
            log_info(cn->who, "session started again on %s", from);
            if (cn->last_presence)
                c2s_session_forward(cn, cn->last_presence, cn->last_presence_len);
            return;
        }
        if (strcmp(action, "started") == 0) {
            /* The client left meanwhile: end what sm just started. */
            jid *j = NULL;
            if (jid_parse(full, &j) == 0)
                session_send_control(s, from, j, "end");
            jid_free(j);
        }
        return;
    }
    if (strcmp(action, "end") == 0) {
        c2s_conn *cn = c2s_conn_by_full(s, full);
        if (!cn || !cn->is_bound)
            return;
        cn->is_bound = false;          /* sm ended it: nothing to confirm */
        c2s_conn_unindex(s->sessions, cn);
        bool is_conflict = cond && strcmp(cond, "conflict") == 0;
        log_info(cn->who, "sm ended the session (%s)", cond ? cond : "-");
        /* RFC 6120 §7.7.2.2: a replaced resource gets <conflict/>. */
        c2s_conn_close(cn, is_conflict ? XS_STREAM_CONFLICT : XS_STREAM_POLICY_VIOLATION, NULL);
    }
}

/* A stanza from sm for one of our clients, or back to sm if it is gone. */
static void session_deliver(c2s *s, xs_elem *inner, const char *raw, size_t len,
                            const char *from, const char *key)
{
    const char *to = xs_attr(inner, "to");
    c2s_conn *cn = to ? c2s_conn_by_full(s, to) : NULL;
    if (!cn) {
        jid *j = NULL;
        if (to && jid_parse(to, &j) == 0)
            cn = c2s_conn_by_full(s, jid_full(j));
        jid_free(j);
    }
    if (cn && cn->is_bound) {
        c2s_conn_send(cn, raw, len);
        return;
    }
    if (!s->link)
        return;
    buf out;
    buf_init(&out);
    envelope e = {
        .to = from, .from = link_instance(s->link), .key = key,
        .condition = "recipient-unavailable",
    };
    envelope_wrap(&out, &e, raw, len);
    link_send(s->link, buf_data(&out), buf_len(&out));
    buf_close(&out);
}

void c2s_session_on_link_stanza(link_conn *l, xs_elem *st, const char *raw,
                                size_t len, void *ud)
{
    (void)l;
    c2s *s = ud;
    if (strcmp(xs_name(st), "route") != 0 || strcmp(xs_ns(st), XS_NS_XMPPD_ROUTE) != 0) {
        log_debug("c2s", "ignored a <%s/> from the router", xs_name(st));
        return;
    }
    const char *from = xs_attr(st, "from"), *type = xs_attr(st, "type");
    xs_elem *inner = xs_first(st);
    size_t off, inner_len;
    if (!from || !inner || !envelope_inner(raw, len, &off, &inner_len))
        return;
    if (type && strcmp(type, "error") == 0) {
        session_returned(s, inner, xs_attr(st, "condition"));
        return;
    }
    const char *name = xs_name(inner), *ns = xs_ns(inner);
    if (strcmp(name, "session") == 0 && strcmp(ns, C2S_NS_XMPPD_SESSION) == 0) {
        session_control(s, inner, from);
        return;
    }
    if (strcmp(name, "iq") == 0) {
        if (c2s_register_store_answer(s, inner, false))
            return;
        /* The store answers in the component namespace and without to; a
         * client's iq that sm routed here has to, and must not pass for the
         * answer to someone's login. */
        bool is_store_answer = !xs_attr(inner, "to") && strcmp(ns, XS_NS_COMPONENT) == 0;
        c2s_conn *cn = is_store_answer ? session_by_store_req(s, xs_attr(inner, "id")) : NULL;
        if (cn) {
            c2s_sasl_store_answer(cn, inner);
            return;
        }
    }
    /* The inner element's own bytes, whitespace around it trimmed. */
    const char *p = raw + off;
    while (inner_len && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++, inner_len--;
    while (inner_len && (p[inner_len - 1] == ' ' || p[inner_len - 1] == '\n' ||
                         p[inner_len - 1] == '\r' || p[inner_len - 1] == '\t'))
        inner_len--;
    session_deliver(s, inner, p, inner_len, from, xs_attr(st, "key"));
}

void c2s_session_on_member(link_conn *l, const char *type, const char *instance,
                           const char *name, const char *kind, void *ud)
{
    (void)l, (void)name, (void)kind;
    c2s *s = ud;
    if (strcmp(type, "bind") == 0 && name && strcmp(name, "sm") == 0) {
        /* An sm instance came: the sessions that waited for one start. */
        for (c2s_conn *cn = s->conns; cn; cn = cn->next)
            if (cn->is_bound && cn->is_resuming && cn->is_resume_waiting)
                session_resume(cn);
        return;
    }
    if (strcmp(type, "detach") != 0)
        return;
    unsigned n = 0;
    for (c2s_conn *cn = s->conns; cn; cn = cn->next)
        if (cn->is_bound && cn->sm_instance && strcmp(cn->sm_instance, instance) == 0 &&
            cn->state != C2S_CONN_CLOSING) {
            n++;
            cn->is_resuming = true;
            session_resume(cn);
        }
    if (n)
        log_warn("c2s", "%s detached with %u of our sessions; starting them again", instance,
                 n);
}
