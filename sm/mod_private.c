/* SPDX-License-Identifier: MIT */
/* sm/mod_private.c: XEP-0049 Private XML Storage. A user stores and reads
 * back elements keyed by name and namespace; nobody else may. */
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "sm/module.h"

#define PRIVATE_NS "jabber:iq:private"

/* The one element the query holds, or NULL after answering with an error. */
static xs_elem *private_payload(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    const char *to = xs_attr(iq, "to");
    if (!sender || (to && strcmp(to, sender->user->bare) != 0)) {
        sm_reply_error(sm, iq, XS_FORBIDDEN);         /* own data only */
        return NULL;
    }
    xs_elem *el = xs_first(xs_first(iq));
    if (!el || xs_next(el)) {
        sm_reply_error(sm, iq, XS_BAD_REQUEST);
        return NULL;
    }
    const char *ns = xs_ns(el) ? xs_ns(el) : "";
    if (!*ns || strcmp(ns, XS_NS_CLIENT) == 0 || strcmp(ns, XS_NS_SERVER) == 0 ||
        strcmp(ns, PRIVATE_NS) == 0) {
        sm_reply_error(sm, iq, XS_NOT_ACCEPTABLE);    /* a reserved namespace */
        return NULL;
    }
    return el;
}

static void private_on_get(sm_server *sm, xs_elem *answer, void *ud)
{
    xs_elem *iq = ud;
    const char *type = answer ? xs_attr(answer, "type") : NULL;
    if (!type || strcmp(type, "result") != 0) {
        sm_reply_error(sm, iq, XS_INTERNAL_SERVER_ERROR);
    } else {
        xs_elem *stored = sm_store_result(answer);
        xs_elem *data = stored ? xs_first(stored) : NULL;
        xs_elem *r = sm_iq_result(iq);
        xs_elem *q = xs_add_new(r, "query", PRIVATE_NS);
        /* Nothing stored: the empty element asked for comes back. */
        xs_add(q, xs_dup(data ? data : xs_first(xs_first(iq))));
        sm_send(sm, r);
    }
    xs_unref(iq);
}

static sm_verdict private_get(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    xs_elem *el = private_payload(sm, sender, iq);
    if (!el)
        return SM_HANDLED;
    const char *user = sender->user->bare;
    buf req;
    buf_init(&req);
    buf_append_str(&req, "<private-get xmlns='" SM_NS_STORE "' user='");
    buf_append_xml(&req, user, strlen(user), 1);
    buf_append_str(&req, "' name='");
    buf_append_xml(&req, xs_name(el), strlen(xs_name(el)), 1);
    buf_append_str(&req, "' ns='");
    buf_append_xml(&req, xs_ns(el), strlen(xs_ns(el)), 1);
    buf_append_str(&req, "'/>");
    char *text = buf_steal(&req);
    sm_store_ask(sm, user, false, text, private_on_get, xs_ref(iq));
    free(text);
    return SM_HANDLED;
}

static sm_verdict private_set(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    xs_elem *el = private_payload(sm, sender, iq);
    if (!el)
        return SM_HANDLED;
    sm_store_put(sm, sender->user->bare, "private-set", el, iq);
    return SM_HANDLED;
}

static const sm_iq_route private_routes[] = {
    { SM_TO_ACCOUNT, SM_IQ_GET, PRIVATE_NS, "query", private_get },
    { SM_TO_ACCOUNT, SM_IQ_SET, PRIVATE_NS, "query", private_set },
    { 0 }
};
static const char *const private_features[] = { PRIVATE_NS, NULL };

const sm_module sm_mod_private = {
    .name = "private", .spec = "XEP-0049 Private XML Storage", .features = private_features,
    .iq = private_routes,
};
