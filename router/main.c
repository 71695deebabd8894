/* SPDX-License-Identifier: MIT */
/* router/main.c: xmppd-router's arguments, config and event loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "libcommon/error.h"
#include "libcommon/log.h"
#include "libcommon/proc.h"
#include "router/router.h"

static const char router_usage[] =
    "Usage: xmppd-router -c FILE [--check-config]\n"
    "\n"
    "The xmppd router: the hub that every component of the suite attaches to\n"
    "over XEP-0114 streams. It reads the <router> section of FILE, listens on\n"
    "its <listen> addresses and routes stanzas by domain and by service name.\n"
    "Usually started by xmppdctl.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the suite's config file (required)\n"
    "      --check-config  check the router's section of FILE and exit\n"
    "  -h, --help          show this help\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop it cleanly, SIGHUP reopens its log file.\n";

/* proc_start() hands the config over untyped. */
static int router_on_load(const cfg *c, void *conf, cfg_diag *diag)
{
    return router_config_load(c, conf, diag);
}

static void router_on_close(void *conf)
{
    router_config_close(conf);
}

static const proc_opts router_proc = {
    .name = "router", .usage = router_usage, .load = router_on_load, .close = router_on_close,
};

static router the_router;

static void router_on_stop(void *ud)
{
    router_stop(ud);
}

int main(int argc, char **argv)
{
    router *r = &the_router;
    proc_args args;
    int status = proc_start(argc, argv, &router_proc, &r->config, &args, NULL);
    if (status >= 0)
        return status;
    const char *path = args.config_path;
    cfg_diag diag = { 0 };

    uv_loop_t *loop = uv_default_loop();
    net_init(loop);
    mkdir(r->config.state_dir, 0750);
    router_routes_init(r);
    r->started_ms = uv_now(loop);
    snprintf(diag.file, sizeof diag.file, "%s", path);
    if (router_listen_all(r, &diag) < 0 || router_control_listen(r, &diag) < 0) {
        log_error("router", "%s (%s:%d)", diag.message, diag.file, diag.line);
        return 1;
    }
    proc_handle_signals(loop, "router", router_on_stop, r);
    for (size_t i = 0; i < r->config.n_components; i++)
        if (strcmp(r->config.components[i].secret, "change-me") == 0)
            log_warn("router", "component %s still has the sample secret \"change-me\" "
                     "(%s:%d); anyone who can connect may attach as it",
                     r->config.components[i].name, path, r->config.components[i].line);
    log_info("router", "started with %zu component definitions, domains:%s%s",
             r->config.n_components, r->config.n_domains ? " " : " (none)",
             r->config.n_domains ? r->config.domains[0] : "");

    uv_run(loop, UV_RUN_DEFAULT);

    for (size_t i = 0; i < r->config.n_listen; i++)
        tls_ctx_free(r->tls[i]);
    free(r->tls);
    free(r->listeners);
    router_routes_free(r);
    router_config_close(&r->config);
    uv_loop_close(loop);
    log_info("router", "stopped");
    log_close();
    return 0;
}
