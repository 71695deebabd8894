/* SPDX-License-Identifier: MIT */
/* sm/mod_time.c: XEP-0202 Entity Time of the server, always in UTC. */
#include <string.h>
#include <time.h>

#include "sm/module.h"

#define TIME_NS "urn:xmpp:time"

static sm_verdict time_reply(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    (void)sender;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    xs_elem *r = sm_iq_result(iq);
    xs_elem *t = xs_add_new(r, "time", TIME_NS);
    xs_add_text(xs_add_new(t, "tzo", NULL), "+00:00", 6);
    xs_add_text(xs_add_new(t, "utc", NULL), stamp, strlen(stamp));
    sm_send(sm, r);
    return SM_HANDLED;
}

static const sm_iq_route time_routes[] = {
    { SM_TO_SERVER, SM_IQ_GET, TIME_NS, "time", time_reply },
    { 0 }
};
static const char *const time_features[] = { TIME_NS, NULL };

const sm_module sm_mod_time = {
    .name = "time", .spec = "XEP-0202 Entity Time", .features = time_features,
    .iq = time_routes,
};
