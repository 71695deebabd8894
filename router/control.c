/* SPDX-License-Identifier: MIT */
/* router/control.c: the control socket. A client connects, reads a plain-text
 * report of the router's state and counters, and the router closes. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "libcommon/error.h"
#include "libcommon/log.h"
#include "router/router.h"

void router_report(const router *r, buf *out)
{
    const router_stats *s = &r->stats;
    buf_printf(out, "router pid %ld uptime %llus connections %zu\n", (long)getpid(),
               (unsigned long long)((net_now_ms() - r->started_ms) / 1000), r->n_conns);
    buf_printf(out, "routed %llu stanzas %llu bytes; bounced %llu; refused %llu; "
                    "to default route %llu; attached %llu; detached %llu\n",
               (unsigned long long)s->stanzas, (unsigned long long)s->bytes,
               (unsigned long long)s->bounced, (unsigned long long)s->refused,
               (unsigned long long)s->to_default, (unsigned long long)s->attached,
               (unsigned long long)s->detached);
    for (const router_conn *rc = r->conns; rc; rc = rc->next) {
        if (rc->state != ROUTER_CONN_READY)
            continue;
        buf_printf(out, "component %s instance %s peer %s up %llus in %llu stanzas "
                        "%llu bytes out %llu stanzas queued %zu bytes bounced %llu binds",
                   rc->cfg->name, rc->instance, net_conn_peer(rc->net),
                   (unsigned long long)((net_now_ms() - rc->attached_ms) / 1000),
                   (unsigned long long)rc->stanzas_in, (unsigned long long)rc->bytes_in,
                   (unsigned long long)rc->stanzas_out, net_conn_queued(rc->net),
                   (unsigned long long)rc->bounced);
        for (size_t i = 0; i < rc->n_bound; i++)
            buf_printf(out, " %s:%s", rc->bound[i]->is_service ? "service" : "domain",
                       rc->bound[i]->name);
        buf_append_str(out, "\n");
    }
}

static void control_on_accept(net_listener *l, net_conn *c, unsigned same_host)
{
    (void)same_host;
    router *r = net_listener_data(l);
    buf out;
    buf_init(&out);
    router_report(r, &out);
    net_conn_send(c, buf_data(&out), buf_len(&out));
    buf_close(&out);
    net_conn_close(c);
}

int router_control_listen(router *r, cfg_diag *diag)
{
    if (!r->config.control_path)
        return 0;
    net_listen_opts o = {
        .address = r->config.control_path, .is_unix = true,
        .accept = control_on_accept, .ud = r,
    };
    int err = net_listen(&o, &r->control);
    if (err < 0) {
        snprintf(diag->message, sizeof diag->message,
                 "router: cannot create the control socket %s: %s",
                 r->config.control_path, xe_str(err));
        return XE_CONFIG;
    }
    return 0;
}
