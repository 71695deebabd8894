/* SPDX-License-Identifier: MIT */
/* c2s/main.c: xmppd-c2s's arguments, config and event loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c2s/c2s.h"
#include "libcommon/error.h"
#include "libcommon/log.h"
#include "libcommon/proc.h"

static const char c2s_usage[] =
    "Usage: xmppd-c2s -c FILE [--check-config]\n"
    "\n"
    "The xmppd client-to-server process: accepts XMPP clients (RFC 6120) with\n"
    "STARTTLS or direct TLS, authenticates them with SASL against xmppd-store\n"
    "and binds their resources with xmppd-sm. It reads the <c2s> section of\n"
    "FILE and the served <domain>s. Usually started by xmppdctl.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the suite's config file (required)\n"
    "      --check-config  check the c2s section of FILE and exit\n"
    "  -h, --help          show this help\n"
    "\n"
    "Signals: SIGTERM/SIGINT end every client stream with <system-shutdown/>\n"
    "and stop, SIGHUP reopens the log file.\n";

static const proc_opts c2s_proc = {
    .name = "c2s", .usage = c2s_usage, .load = c2s_config_load, .close = c2s_config_close,
};

static c2s the_c2s;
static const link_bind c2s_binds[] = { { .name = "c2s", .is_service = true } };

static const link_events c2s_link_events = {
    .stanza = c2s_session_on_link_stanza,
    .member = c2s_session_on_member,
};

static void c2s_on_stop(void *ud)
{
    log_info("c2s", "ending every client stream");
    c2s_shutdown(ud);
}

int main(int argc, char **argv)
{
    c2s *s = &the_c2s;
    proc_args args;
    int status = proc_start(argc, argv, &c2s_proc, &s->config, &args, NULL);
    if (status >= 0)
        return status;
    if (auth_init("xmpp") < 0) {
        log_error("c2s", "SASL is not usable (are the SCRAM and PLAIN plugins installed?)");
        c2s_config_close(&s->config);
        return 1;
    }
    auth_set_strict_channel_binding(s->config.strict_channel_binding);

    s->sessions = strmap_new();
    s->binding = strmap_new();
    uv_loop_t *loop = uv_default_loop();
    net_init(loop);
    int exit_code = 0;
    if (c2s_listen_all(s) < 0) {
        exit_code = 1;
        c2s_shutdown(s);
    } else {
        s->config.link.opts.binds = c2s_binds;
        s->config.link.opts.n_binds = 1;
        s->link = link_new(&s->config.link.opts, &c2s_link_events, s);
        proc_handle_signals(loop, "c2s", c2s_on_stop, s);
        log_info("c2s", "started, serving %zu domain(s)", s->config.n_domains);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    c2s_register_free(s);
    strmap_free(s->sessions, NULL);
    strmap_free(s->binding, NULL);
    c2s_config_close(&s->config);
    auth_done();
    uv_loop_close(loop);
    log_info("c2s", "stopped");
    return exit_code;
}
