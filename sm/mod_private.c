/* SPDX-License-Identifier: MIT */
/* sm/mod_private.c: XEP-0049 Private XML Storage. A user stores and reads
 * back elements keyed by name and namespace; nobody else may. */
#include <string.h>

#include "sm/module.h"

#define PRIVATE_NS "jabber:iq:private"

/* The one element the query holds, or NULL after answering with an error. */
static xs_elem *private_payload(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    if (!sm_is_own_account(sender, iq)) {
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

/* The stored element; nothing stored: the empty element asked for. */
static xs_elem *private_reply(const xs_elem *iq, xs_elem *stored)
{
    xs_elem *data = stored ? xs_first(stored) : NULL;
    xs_elem *r = sm_iq_result(iq);
    xs_elem *q = xs_add_new(r, "query", PRIVATE_NS);
    xs_add(q, xs_dup(data ? data : xs_first(xs_first(iq))));
    return r;
}

static sm_verdict private_get(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    xs_elem *el = private_payload(sm, sender, iq);
    if (!el)
        return SM_HANDLED;
    sm_store_query q = { .name = "private-get", .user = sender->user->bare,
                         .attrs = { { "name", xs_name(el) }, { "ns", xs_ns(el) } } };
    sm_store_ask_for_iq(sm, &q, iq, private_reply);
    return SM_HANDLED;
}

static sm_verdict private_set(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    xs_elem *el = private_payload(sm, sender, iq);
    if (!el)
        return SM_HANDLED;
    sm_store_query q = { .name = "private-set", .user = sender->user->bare, .is_set = true,
                         .payload = el };
    sm_store_ask_for_iq(sm, &q, iq, NULL);
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
