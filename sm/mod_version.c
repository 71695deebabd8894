/* SPDX-License-Identifier: MIT */
/* sm/mod_version.c: XEP-0092 Software Version of the server. */
#include "sm/module.h"

#define VERSION_NS "jabber:iq:version"

static sm_verdict version_reply(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    (void)sender;
    xs_elem *r = sm_iq_result(iq);
    xs_elem *q = xs_add_new(r, "query", VERSION_NS);
    xs_add_text(xs_add_new(q, "name", NULL), "xmppd", 5);
    xs_add_text(xs_add_new(q, "version", NULL), "0.1.0", 5);
    sm_send(sm, r);
    return SM_HANDLED;
}

static const sm_iq_route version_routes[] = {
    { SM_TO_SERVER, SM_IQ_GET, VERSION_NS, "query", version_reply },
    { 0 }
};
static const char *const version_features[] = { VERSION_NS, NULL };

const sm_module sm_mod_version = {
    .name = "version", .spec = "XEP-0092 Software Version",
    .features = version_features, .iq = version_routes,
};
