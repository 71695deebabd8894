/* SPDX-License-Identifier: MIT */
/* c2s/main.c: xmppd-c2s's arguments, config and event loop. */
#include <getopt.h>
#include <signal.h>
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

static c2s the_c2s;
static uv_signal_t sig_term, sig_int, sig_hup;
static const link_bind c2s_binds[] = { { .name = "c2s", .is_service = true } };

static void c2s_on_ready(link_conn *l, void *ud)
{
    (void)ud;
    log_info("c2s", "attached to the router as %s", link_instance(l));
}

static void c2s_on_down(link_conn *l, const char *why, void *ud)
{
    (void)l, (void)ud;
    log_warn("c2s", "the link to the router is down (%s); reconnecting", why);
}

static void c2s_on_refused(link_conn *l, const char *why, void *ud)
{
    (void)l, (void)ud;
    log_error("c2s", "the router refused the link: %s", why);
}

static const link_events c2s_link_events = {
    .ready = c2s_on_ready,
    .stanza = c2s_session_on_link_stanza,
    .member = c2s_session_on_member,
    .down = c2s_on_down,
    .refused = c2s_on_refused,
};

static void c2s_on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (signum == SIGHUP) {
        log_reopen();
        log_info("c2s", "log reopened");
        return;
    }
    log_info("c2s", "got %s; ending every client stream",
             signum == SIGTERM ? "SIGTERM" : "SIGINT");
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_hup, NULL);
    c2s_shutdown(&the_c2s);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    const char *path = NULL;
    bool check_only = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': path = optarg; break;
        case 'k': check_only = true; break;
        case 'h': fputs(c2s_usage, stdout); return 0;
        default: fputs(c2s_usage, stderr); return 2;
        }
    }
    if (!path || optind < argc) {
        fputs(c2s_usage, stderr);
        return 2;
    }

    cfg *conf;
    cfg_diag diag = { 0 };
    if (cfg_load(path, &conf, &diag) < 0) {
        cfg_diag_print(&diag);
        return 1;
    }
    c2s *s = &the_c2s;
    if (c2s_config_load(conf, &s->config, &diag) < 0 ||
        proc_log_setup(conf, "c2s", &diag) < 0) {
        if (!diag.file[0])
            snprintf(diag.file, sizeof diag.file, "%s", path);
        cfg_diag_print(&diag);
        c2s_config_close(&s->config);
        cfg_free(conf);
        return 1;
    }
    cfg_free(conf);
    if (check_only) {
        c2s_config_close(&s->config);
        return 0;
    }
    if (auth_init("xmpp") < 0) {
        log_error("c2s", "SASL is not usable (are the SCRAM and PLAIN plugins installed?)");
        c2s_config_close(&s->config);
        return 1;
    }
    auth_set_strict_channel_binding(s->config.strict_channel_binding);

    uv_loop_t *loop = uv_default_loop();
    net_init(loop);
    signal(SIGPIPE, SIG_IGN);
    int exit_code = 0;
    if (c2s_listen_all(s) < 0) {
        exit_code = 1;
        c2s_shutdown(s);
    } else {
        s->config.link.opts.binds = c2s_binds;
        s->config.link.opts.n_binds = 1;
        s->link = link_new(&s->config.link.opts, &c2s_link_events, s);
        uv_signal_init(loop, &sig_term);
        uv_signal_init(loop, &sig_int);
        uv_signal_init(loop, &sig_hup);
        uv_signal_start(&sig_term, c2s_on_signal, SIGTERM);
        uv_signal_start(&sig_int, c2s_on_signal, SIGINT);
        uv_signal_start(&sig_hup, c2s_on_signal, SIGHUP);
        log_info("c2s", "started, serving %zu domain(s)", s->config.n_domains);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    free(s->listeners);
    c2s_config_close(&s->config);
    auth_done();
    uv_loop_close(loop);
    log_info("c2s", "stopped");
    return exit_code;
}
