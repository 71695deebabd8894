/* SPDX-License-Identifier: MIT */
/* c2s/bind.c: resource binding (RFC 6120 §7), answered once sm has started
 * the session (docs/session-protocol.md), and the legacy session
 * establishment iq (RFC 3921 §3, optional per RFC 6121 Appendix E). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c2s/c2s.h"
#include "libcommon/alloc.h"
#include "libcommon/log.h"

static void bind_send_error(c2s_conn *cn, const char *id, const char *type,
                            const char *cond)
{
    char payload[256];
    snprintf(payload, sizeof payload,
             "<error type='%s'><%s xmlns='" XS_NS_STANZAS "'/></error>", type, cond);
    c2s_conn_send_iq(cn, id, NULL, NULL, "error", payload);
}

static void bind_session_iq(c2s_conn *cn, const char *id)
{
    if (!cn->is_bound) {
        bind_send_error(cn, id, "cancel", "not-allowed");
        return;
    }
    c2s_conn_send_iq(cn, id, NULL, NULL, "result", NULL);
}

void c2s_bind_handle(c2s_conn *cn, xs_elem *iq)
{
    const char *id = xs_attr(iq, "id"), *type = xs_attr(iq, "type");
    if (!id || !type || strcmp(type, "set") != 0) {
        bind_send_error(cn, id, "modify", "bad-request");
        return;
    }
    if (xs_child(iq, "session", C2S_NS_SESSION)) {
        bind_session_iq(cn, id);
        return;
    }
    if (cn->is_bound || cn->full) {
        /* One resource per stream (RFC 6120 §7.7.2.2 lets us refuse more). */
        bind_send_error(cn, id, "cancel", "not-allowed");
        return;
    }
    const char *res = xs_child_text(xs_child(iq, "bind", XS_NS_BIND), "resource", XS_NS_BIND);
    char generated[33];
    if (!res || !*res) {
        /* RFC 6120 §7.6.2.1: the server makes one up. */
        unsigned char rnd[8];
        if (uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL) != 0)
            memset(rnd, 0, sizeof rnd);
        for (size_t i = 0; i < sizeof rnd; i++)
            snprintf(generated + 2 * i, 3, "%02x", rnd[i]);
        res = generated;
    }
    jid *full = NULL;
    if (jid_build(jid_local(cn->user), jid_domain(cn->user), res, &full) < 0) {
        /* RFC 6120 §7.7.2.1: a resourcepart that fails Resourceprep. */
        bind_send_error(cn, id, "modify", "bad-request");
        return;
    }
    if (c2s_conn_binding(cn->srv, jid_full(full))) {
        /* Another stream of ours is binding the same resource right now. */
        jid_free(full);
        bind_send_error(cn, id, "cancel", "conflict");
        return;
    }
    cn->full = full;
    cn->bind_iq_id = xstrdup(id);
    c2s_conn_index(cn->srv->binding, cn);
    log_info(cn->who, "binding %s", jid_full(full));
    c2s_session_start(cn);
}

void c2s_bind_answer(c2s_conn *cn, const char *action, const char *cond,
                     const char *sm_from)
{
    char *id = cn->bind_iq_id;
    cn->bind_iq_id = NULL;
    c2s_conn_unindex(cn->srv->binding, cn);
    if (strcmp(action, "started") == 0) {
        cn->is_bound = true;
        c2s_conn_index(cn->srv->sessions, cn);
        cn->sm_instance = xstrdup(sm_from);
        buf payload;
        buf_init(&payload);
        buf_append_str(&payload, "<bind xmlns='" XS_NS_BIND "'><jid>");
        buf_append_xml(&payload, jid_full(cn->full), strlen(jid_full(cn->full)), 0);
        buf_append_str(&payload, "</jid></bind>");
        char *p = buf_steal(&payload);
        c2s_conn_send_iq(cn, id, NULL, NULL, "result", p);
        free(p);
        c2s_conn_set_who(cn, jid_full(cn->full));
        log_info(cn->who, "bound; session started at %s", sm_from);
    } else if (strcmp(action, "refused") == 0) {
        const char *c = cond && *cond ? cond : "conflict";
        log_info(cn->who, "sm refused %s: %s", jid_full(cn->full), c);
        bind_send_error(cn, id, "cancel", c);
        jid_free(cn->full);
        cn->full = NULL;
    } else {
        /* No sm reachable: a temporary condition, so type='wait' tells the
         * client to retry later (RFC 6120 §8.3.2, §8.3.3.19). */
        log_warn(cn->who, "no session manager for %s (%s); bind refused with "
                          "service-unavailable", jid_full(cn->full), cond ? cond : "-");
        bind_send_error(cn, id, "wait", "service-unavailable");
        jid_free(cn->full);
        cn->full = NULL;
    }
    free(id);
}
