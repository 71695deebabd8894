/* SPDX-License-Identifier: MIT */
/* sm/main.c: xmppd-sm's arguments, config and event loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/jid.h"
#include "libcommon/log.h"
#include "libcommon/net.h"
#include "libcommon/proc.h"
#include "sm/module.h"

static const char sm_usage[] =
    "Usage: xmppd-sm -c FILE [--check-config]\n"
    "\n"
    "The xmppd session manager: sessions, presence, roster, message delivery,\n"
    "offline messages and the IM feature modules for the suite's <domain>s.\n"
    "It reads the <sm> section of FILE, attaches to the router, binds the\n"
    "service \"sm\" and every served domain. Usually started by xmppdctl.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the suite's config file (required)\n"
    "      --check-config  check the sm's section of FILE and exit\n"
    "  -h, --help          show this help\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop it cleanly, SIGHUP reopens its log file.\n";

static sm_server the_sm;
static link_bind *sm_binds;

static const link_events sm_link_events = {
    .stanza = sm_on_stanza,
    .member = sm_on_member,
};

static void sm_on_stop(void *ud)
{
    sm_server *sm = ud;
    if (sm->is_stopping)
        return;
    sm->is_stopping = true;
    sm_store_stop(sm);
    link_free(sm->link);
    sm->link = NULL;
}

/* The <sm> section, and the modules started on it. */
static int sm_config(const cfg *c, void *ud, cfg_diag *diag)
{
    sm_server *sm = ud;
    const cfg_node *sec;
    if (proc_section(c, "sm", &sec, diag) < 0 ||
        proc_domains(c, &sm->domains, &sm->n_domains, diag) < 0)
        return XE_CONFIG;
    if (!sm->n_domains)
        return cfg_error(diag, cfg_root(c), "the config names no <domain> to serve");
    const cfg_node *off = cfg_child(sec, "offline");
    static const char *const off_attrs[] = { "max", NULL };
    if (cfg_check_attrs(off, off_attrs, diag) < 0 ||
        cfg_int(off, "max", 1000, 0, 1000000, &sm->offline_max, diag) < 0)
        return XE_CONFIG;
    const cfg_node *st = cfg_child(sec, "store");
    static const char *const st_attrs[] = { "timeout", NULL };
    if (cfg_check_attrs(st, st_attrs, diag) < 0 ||
        cfg_duration_ms(st, "timeout", 10000, 10, 600000, &sm->store_timeout_ms, diag) < 0)
        return XE_CONFIG;
    size_t n = 0;
    for (; sm_builtin_modules[n]; n++)
        ;
    sm->modules = xalloc((n + 1) * sizeof *sm->modules);
    const cfg_node *m = cfg_child(sec, "module");
    if (!m) {
        memcpy(sm->modules, sm_builtin_modules, n * sizeof *sm->modules);
    } else {
        size_t k = 0;
        for (; m; m = cfg_next(m)) {
            size_t i = 0;
            while (sm_builtin_modules[i] && strcmp(sm_builtin_modules[i]->name, cfg_text(m)) != 0)
                i++;
            if (!sm_builtin_modules[i])
                return cfg_error(diag, m, "no module called \"%s\"", cfg_text(m));
            bool seen = false;
            for (size_t j = 0; j < k; j++)
                seen = seen || sm->modules[j] == sm_builtin_modules[i];
            if (!seen)
                sm->modules[k++] = sm_builtin_modules[i];
        }
    }
    if (component_link_opts(c, sec, "sm", &sm->link_cfg, diag) < 0)
        return XE_CONFIG;
    return sm_dispatch_start(sm, sec, diag);
}

static void sm_config_close(void *ud)
{
    sm_server *sm = ud;
    sm_dispatch_stop(sm);
    component_link_cfg_close(&sm->link_cfg);
    proc_domains_free(sm->domains, sm->n_domains);
    free(sm->modules);
    free(sm_binds);
}

static const proc_opts sm_proc = {
    .name = "sm", .usage = sm_usage, .load = sm_config, .close = sm_config_close,
};

int main(int argc, char **argv)
{
    sm_server *sm = &the_sm;
    proc_args args;
    int status = proc_start(argc, argv, &sm_proc, sm, &args, NULL);
    if (status >= 0)
        return status;

    uv_loop_t *loop = uv_default_loop();
    sm->loop = loop;
    net_init(loop);
    sm_binds = xalloc((sm->n_domains + 1) * sizeof *sm_binds);
    sm_binds[0] = (link_bind){ .name = "sm", .is_service = true };
    for (size_t i = 0; i < sm->n_domains; i++)
        sm_binds[i + 1] = (link_bind){ .name = sm->domains[i], .is_service = false };
    sm->link_cfg.opts.binds = sm_binds;
    sm->link_cfg.opts.n_binds = sm->n_domains + 1;
    sm_store_start(sm);
    sm->link = link_new(&sm->link_cfg.opts, &sm_link_events, sm);
    proc_handle_signals(loop, "sm", sm_on_stop, sm);
    log_info("sm", "started for %zu domain(s), first %s", sm->n_domains, sm->domains[0]);

    uv_run(loop, UV_RUN_DEFAULT);

    while (sm->users) {
        sm_user *u = sm->users;
        while (u->sessions) {
            sm_session *s = u->sessions;
            s->is_available = false;
            sm_session_end(s);
        }
        sm_user_collect(sm);
    }
    sm_config_close(sm);
    uv_loop_close(loop);
    log_info("sm", "stopped");
    log_close();
    return 0;
}
