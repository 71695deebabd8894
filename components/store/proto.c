/* SPDX-License-Identifier: MIT */
/* components/store/proto.c: the urn:xmppd:store requests
 * (docs/store-protocol.md): parsed from the iq in an envelope, run as one
 * transaction, answered in an envelope to the asking instance. Errors found
 * before the database go through the driver's queue too (as an empty
 * transaction), so that one user's answers keep the order of the requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/store/store.h"
#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "libcommon/envelope.h"
#include "libcommon/error.h"
#include "libcommon/jid.h"
#include "libcommon/log.h"

static void req_free(store_req *r)
{
    free(r->from);
    free(r->key);
    free(r->id);
    free(r->iq_to);
    free(r->iq_from);
    free(r->ver);
    free(r);
}

static void req_answer(store_req *r, const store_txn *t)
{
    buf out;
    buf_init(&out);
    bool is_error = r->has_error;
    buf_append_str(&out, "<iq xmlns='" XS_NS_COMPONENT "'");
    buf_append_attr(&out, "type", is_error ? "error" : "result");
    buf_append_attr(&out, "id", r->id);
    buf_append_attr(&out, "to", r->iq_from);
    buf_append_attr(&out, "from", r->iq_to);
    buf_append_str(&out, ">");
    size_t mark = buf_len(&out);
    if (is_error) {
        buf_printf(&out, "<error type='%s'><%s xmlns='" XS_NS_STANZAS "'/>",
                   xs_condition_type(r->cond), xs_condition_name(r->cond));
        if (r->text[0]) {
            buf_append_str(&out, "<text xmlns='" XS_NS_STANZAS "'>");
            buf_append_xml(&out, r->text, strlen(r->text), 0);
            buf_append_str(&out, "</text>");
        }
        buf_append_str(&out, "</error>");
    } else {
        store_answer(r, t, &out);
    }
    if (buf_len(&out) == mark) {
        buf_clear(&out);
        buf_append_str(&out, "<iq xmlns='" XS_NS_COMPONENT "'");
        buf_append_attr(&out, "type", "result");
        buf_append_attr(&out, "id", r->id);
        buf_append_attr(&out, "to", r->iq_from);
        buf_append_attr(&out, "from", r->iq_to);
        buf_append_str(&out, "/>");
    } else {
        buf_append_str(&out, "</iq>");
    }
    if (r->s->link && link_send_envelope(r->s->link, r->from, r->key, buf_data(&out),
                                         buf_len(&out)) < 0)
        log_warn("store", "answer to %s dropped: the link's queue is full", r->from);
    buf_close(&out);
}

static void req_on_done(store_txn *t)
{
    store_req *r = t->ud;
    if (!r->has_error && t->status == STORE_NO_ROW) {
        r->has_error = true;
        r->cond = r->op->no_row;
        r->text[0] = '\0';
    } else if (!r->has_error && t->status < 0) {
        log_error("store", "%s for %s failed: %s", r->op->name, r->user ? r->user : "-",
                  t->error);
        store_req_fail(r, XS_INTERNAL_SERVER_ERROR, "database failure: %s", t->error);
    }
    req_answer(r, t);
    r->s->in_flight--;
    store_txn_free(t);
    req_free(r);
}

/* The bytes of the single element inside [p, p+n), trimmed; false if none. */
static bool proto_inner(const char **p, size_t *n)
{
    size_t off, len;
    const char *s = *p;
    size_t l = *n;
    while (l && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
        s++, l--;
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r' || s[l - 1] == '\n'))
        l--;
    if (!envelope_inner(s, l, &off, &len))
        return false;
    s += off;
    while (len && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
                   s[len - 1] == '\n'))
        len--;
    *p = s;
    *n = len;
    return true;
}

static void proto_check_user(store_req *r, xs_elem *q)
{
    const char *user = xs_attr(q, "user");
    if (!user) {
        store_req_fail(r, XS_BAD_REQUEST, "<%s> needs a user", xs_name(q));
        return;
    }
    jid *j = NULL;
    if (jid_parse(user, &j) < 0 || !jid_local(j) || !jid_is_bare(j) ||
        strcmp(jid_bare(j), user) != 0)
        store_req_fail(r, XS_JID_MALFORMED, "user is not a normalized bare JID");
    jid_free(j);
    r->user = user;
}

void store_on_stanza(link_conn *l, xs_elem *st, const char *raw, size_t len, void *ud)
{
    (void)l;
    store *s = ud;
    const char *ns = xs_ns(st) ? xs_ns(st) : "";
    if (strcmp(xs_name(st), "route") != 0 || strcmp(ns, XS_NS_XMPPD_ROUTE) != 0) {
        log_debug("store", "ignored a <%s/> that is not an envelope", xs_name(st));
        return;
    }
    const char *from = xs_attr(st, "from");
    if (xs_attr(st, "type") || !from || strcmp(from, "router") == 0) {
        log_warn("store", "envelope from %s came back (%s); dropped", from ? from : "-",
                 xs_attr(st, "condition") ? xs_attr(st, "condition") : "no condition");
        return;
    }
    xs_elem *iq = xs_first(st);
    const char *type = iq ? xs_attr(iq, "type") : NULL;
    if (!iq || strcmp(xs_name(iq), "iq") != 0 || !type || !xs_attr(iq, "id") ||
        (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)) {
        log_warn("store", "envelope from %s holds no get or set iq with an id; dropped", from);
        return;
    }
    store_req *r = xalloc(sizeof *r);
    r->s = s;
    r->from = xstrdup(from);
    r->key = xstrdup(xs_attr(st, "key"));
    r->id = xstrdup(xs_attr(iq, "id"));
    r->iq_to = xstrdup(xs_attr(iq, "to"));
    r->iq_from = xstrdup(xs_attr(iq, "from"));
    store_txn *t = store_txn_new(req_on_done, r);

    static const store_op unknown = { .name = "unknown" };
    r->op = &unknown;
    xs_elem *q = xs_first(iq);
    const char *p = raw;
    size_t n = len;
    if (!q || xs_next(q)) {
        store_req_fail(r, XS_BAD_REQUEST, "the iq needs exactly one request element");
    } else if (!xs_ns(q) || strcmp(xs_ns(q), STORE_NS) != 0) {
        store_req_fail(r, XS_FEATURE_NOT_IMPLEMENTED, "not a " STORE_NS " request");
    } else {
        const store_op *found = store_op_find(xs_name(q));
        r->op = found ? found : &unknown;
        if (!found)
            store_req_fail(r, XS_FEATURE_NOT_IMPLEMENTED, "unknown request <%s>", xs_name(q));
        else if (r->op->is_set != (strcmp(type, "set") == 0))
            store_req_fail(r, XS_BAD_REQUEST, "<%s> goes in an iq of type %s", r->op->name,
                     r->op->is_set ? "set" : "get");
        else if (strcmp(r->op->name, "account-list") != 0)
            proto_check_user(r, q);
        /* route -> iq -> request -> its content, as received */
        if (!r->has_error && !(proto_inner(&p, &n) && proto_inner(&p, &n) &&
                               proto_inner(&p, &n)))
            store_req_fail(r, XS_BAD_REQUEST, "the envelope holds more than the request");
        if (!r->has_error) {
            r->q = q;
            r->payload = p;
            r->plen = n;
            store_build(r, t);
            r->q = NULL;
            r->payload = NULL;
        }
    }
    if (r->has_error) {
        /* Nothing to run; the empty transaction keeps the answer in line. */
        for (size_t i = 0; i < t->n_stmts; i++) {
            store_stmt *sm = &t->stmts[i];
            for (int k = 0; k < sm->n_params; k++)
                free(sm->params[k]);
        }
        t->n_stmts = 0;
        log_debug("store", "request from %s refused: %s", from, r->text);
    }
    r->user = NULL;
    /* user must outlive st: keep it as the first parameter's copy. */
    for (size_t i = 0; i < t->n_stmts && !r->user; i++)
        if (t->stmts[i].n_params > 0 && xs_attr(q, "user") && t->stmts[i].params[0] &&
            strcmp(t->stmts[i].params[0], xs_attr(q, "user")) == 0)
            r->user = t->stmts[i].params[0];
    s->in_flight++;
    s->ops->submit(s->drv, t);
}
