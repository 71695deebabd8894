/* SPDX-License-Identifier: MIT */
/* components/store/main.c: xmppd-store's arguments, config and event loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "components/store/store.h"
#include "libcommon/error.h"
#include "libcommon/log.h"
#include "libcommon/net.h"
#include "libcommon/proc.h"

static const char store_usage[] =
    "Usage: xmppd-store -c FILE [--check-config]\n"
    "\n"
    "The xmppd store: the suite's database (accounts, SCRAM credentials, roster,\n"
    "offline messages, private XML, vCards, block lists). It reads the <store>\n"
    "section of FILE, opens its <database> (SQLite or PostgreSQL), attaches to\n"
    "the router and serves the service \"store\". Usually started by xmppdctl.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the suite's config file (required)\n"
    "      --check-config  check the store's section of FILE and exit\n"
    "  -h, --help          show this help\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop it cleanly, SIGHUP reopens its log file.\n";

static store the_store;
static int store_exit_code;
static const link_bind store_binds[] = { { .name = "store", .is_service = true } };

static const link_events store_link_events = {
    .stanza = store_on_stanza,
};

static void store_on_driver_closed(void *ud)
{
    store *s = ud;
    s->drv = NULL;
    if (s->link)
        link_free(s->link);
    s->link = NULL;
}

static void store_on_stop(void *ud)
{
    store *s = ud;
    if (s->is_stopping)
        return;
    s->is_stopping = true;
    /* What is queued is finished and answered, then the link goes. */
    s->ops->close(s->drv, store_on_driver_closed, s);
}

static void store_on_schema(store *s, int err)
{
    if (err < 0) {
        log_error("store", "cannot use the database; stopping");
        proc_release_signals();
        store_on_stop(s);
        store_exit_code = 1;
        return;
    }
    if (s->is_stopping)
        return;
    s->link_cfg.opts.binds = store_binds;
    s->link_cfg.opts.n_binds = 1;
    s->link = link_new(&s->link_cfg.opts, &store_link_events, s);
}

static int store_config(const cfg *c, void *ud, cfg_diag *diag)
{
    store *s = ud;
    const cfg_node *sec;
    if (proc_section(c, "store", &sec, diag) < 0)
        return XE_CONFIG;
    const cfg_node *db = cfg_child(sec, "database");
    if (db && cfg_next(db))
        return cfg_error(diag, cfg_next(db), "<store> takes one <database>");
    const char *driver = db ? cfg_attr(db, "driver") : NULL;
    static const char *const sqlite_attrs[] = { "driver", "file", "busy-timeout", NULL };
    static const char *const pg_attrs[] = { "driver", "conninfo", NULL };
    const char *conninfo;
    if (!driver || strcmp(driver, "sqlite") == 0) {
        s->ops = &store_driver_sqlite;
        if (cfg_check_attrs(db, sqlite_attrs, diag) < 0)
            return XE_CONFIG;
    } else if (strcmp(driver, "postgresql") == 0) {
        s->ops = &store_driver_pg;
        if (cfg_check_attrs(db, pg_attrs, diag) < 0 ||
            cfg_required(db, "conninfo", &conninfo, diag) < 0)
            return XE_CONFIG;
    } else {
        return cfg_error(diag, db, "driver \"%s\" is not sqlite or postgresql", driver);
    }
    return component_link_opts(c, sec, "store", &s->link_cfg, diag);
}

static void store_config_close(void *ud)
{
    store *s = ud;
    component_link_cfg_close(&s->link_cfg);
}

static const proc_opts store_proc = {
    .name = "store", .usage = store_usage, .load = store_config, .close = store_config_close,
};

int main(int argc, char **argv)
{
    store *s = &the_store;
    proc_args args;
    cfg *conf;
    int status = proc_start(argc, argv, &store_proc, s, &args, &conf);
    if (status >= 0)
        return status;
    const char *path = args.config_path;
    cfg_diag diag = { 0 };

    uv_loop_t *loop = uv_default_loop();
    s->loop = loop;
    net_init(loop);
    char *state = proc_state_dir(conf);
    mkdir(state, 0750);
    free(state);
    if (s->ops->open(loop, conf, cfg_child(cfg_child(cfg_root(conf), "store"), "database"),
                     &s->drv, &diag) < 0) {
        proc_print_diag(&diag, path);
        store_config_close(s);
        cfg_free(conf);
        return 1;
    }
    cfg_free(conf);
    proc_handle_signals(loop, "store", store_on_stop, s);
    log_info("store", "started with the %s driver", s->ops->name);
    store_schema_migrate(s, store_on_schema);

    uv_run(loop, UV_RUN_DEFAULT);

    store_config_close(s);
    uv_loop_close(loop);
    log_info("store", "stopped");
    log_close();
    return store_exit_code;
}
