/* SPDX-License-Identifier: MIT */
/* s2s/main.c: xmppd-s2s's arguments, config and event loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/error.h"
#include "libcommon/log.h"
#include "libcommon/proc.h"
#include "s2s/s2s.h"

static const char s2s_usage[] =
    "Usage: xmppd-s2s -c FILE [--check-config]\n"
    "\n"
    "The xmppd server-to-server process (federation): attaches to the router as\n"
    "its default route, takes stanzas for remote domains to their servers and\n"
    "accepts streams from other XMPP servers (RFC 6120, STARTTLS or direct TLS,\n"
    "Server Dialback XEP-0220). It reads the <s2s> section of FILE and the served\n"
    "<domain>s. Usually started by xmppdctl.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the suite's config file (required)\n"
    "      --check-config  check the s2s section of FILE and exit\n"
    "  -h, --help          show this help\n"
    "\n"
    "Signals: SIGTERM/SIGINT end every server stream with <system-shutdown/>\n"
    "and stop, SIGHUP reopens the log file.\n";

static const proc_opts s2s_proc = {
    .name = "s2s", .usage = s2s_usage, .load = s2s_config_load, .close = s2s_config_close,
};

static s2s the_s2s;
static const link_bind s2s_binds[] = { { .name = "s2s", .is_service = true } };

static void s2s_on_stanza(link_conn *l, xs_elem *st, const char *raw, size_t len, void *ud)
{
    (void)l;
    s2s_out_route(ud, st, raw, len);
}

static const link_events s2s_link_events = {
    .stanza = s2s_on_stanza,
};

static void s2s_on_stop(void *ud)
{
    log_info("s2s", "ending every server stream");
    s2s_shutdown(ud);
}

int main(int argc, char **argv)
{
    s2s *s = &the_s2s;
    proc_args args;
    int status = proc_start(argc, argv, &s2s_proc, &s->config, &args, NULL);
    if (status >= 0)
        return status;
    if (s->config.is_secret_generated)
        log_warn("s2s", "no <dialback secret=.../>: using a random one until restart; every "
                        "s2s instance of a domain must share the same secret");
    s2s_dialback_init(s);

    uv_loop_t *loop = uv_default_loop();
    net_init(loop);
    int exit_code = 0;
    if (s2s_resolver_init(s) < 0 || s2s_listen_all(s) < 0) {
        exit_code = 1;
        s2s_shutdown(s);
    } else {
        s->config.link.opts.binds = s2s_binds;
        s->config.link.opts.n_binds = 1;
        s->link = link_new(&s->config.link.opts, &s2s_link_events, s);
        proc_handle_signals(loop, "s2s", s2s_on_stop, s);
        log_info("s2s", "started, serving %zu domain(s)", s->config.n_domains);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    s2s_config_close(&s->config);
    uv_loop_close(loop);
    log_info("s2s", "stopped");
    return exit_code;
}
