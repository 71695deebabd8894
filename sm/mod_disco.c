/* SPDX-License-Identifier: MIT */
/* sm/mod_disco.c: XEP-0030 Service Discovery for the server: its identity
 * and the features every enabled module declares; items are empty. */
#include "sm/module.h"

#define DISCO_INFO_NS "http://jabber.org/protocol/disco#info"
#define DISCO_ITEMS_NS "http://jabber.org/protocol/disco#items"

static void disco_add_feature(const char *var, void *ud)
{
    xs_set_attr(xs_add_new(ud, "feature", NULL), "var", var);
}

static sm_verdict disco_info(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    (void)sender;
    const char *node = xs_attr(xs_first(iq), "node");
    if (node)
        return sm_reply_error(sm, iq, XS_ITEM_NOT_FOUND);
    xs_elem *r = sm_iq_result(iq);
    xs_elem *q = xs_add_new(r, "query", DISCO_INFO_NS);
    xs_elem *id = xs_add_new(q, "identity", NULL);
    xs_set_attr(id, "category", "server");
    xs_set_attr(id, "type", "im");
    xs_set_attr(id, "name", "xmppd");
    sm_each_feature(sm, disco_add_feature, q);
    sm_send(sm, r);
    return SM_HANDLED;
}

static sm_verdict disco_items(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    (void)sender;
    xs_elem *r = sm_iq_result(iq);
    xs_add_new(r, "query", DISCO_ITEMS_NS);
    sm_send(sm, r);
    return SM_HANDLED;
}

static const sm_iq_route disco_routes[] = {
    { SM_TO_SERVER, SM_IQ_GET, DISCO_INFO_NS, "query", disco_info },
    { SM_TO_SERVER, SM_IQ_GET, DISCO_ITEMS_NS, "query", disco_items },
    { 0 }
};
static const char *const disco_features[] = { DISCO_INFO_NS, DISCO_ITEMS_NS, NULL };

const sm_module sm_mod_disco = {
    .name = "disco", .spec = "XEP-0030 Service Discovery", .features = disco_features,
    .iq = disco_routes,
};
