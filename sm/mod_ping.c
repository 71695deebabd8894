/* SPDX-License-Identifier: MIT */
/* sm/mod_ping.c: XEP-0199 XMPP Ping. The server answers pings sent to it. */
#include "sm/module.h"

static sm_verdict ping_reply(sm_server *sm, sm_session *sender, xs_elem *ping)
{
    (void)sender;                          /* anyone may ping the server */
    sm_send(sm, sm_iq_result(ping));       /* sm_send takes the reply */
    return SM_HANDLED;
}

static const sm_iq_route ping_routes[] = {
    { SM_TO_SERVER, SM_IQ_GET, XS_NS_PING, "ping", ping_reply },
    { 0 }
};
static const char *const ping_features[] = { XS_NS_PING, NULL };

const sm_module sm_mod_ping = {
    .name = "ping", .spec = "XEP-0199 XMPP Ping", .features = ping_features,
    .iq = ping_routes,
};
