/* SPDX-License-Identifier: MIT */
/* libcommon/proc.c: common process start-up. */
#include "libcommon/proc.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/jid.h"
#include "libcommon/log.h"

int proc_domains(const cfg *c, char ***out, size_t *n, cfg_diag *diag)
{
    *out = NULL;
    *n = 0;
    for (const cfg_node *d = cfg_child(cfg_root(c), "domain"); d; d = cfg_next(d)) {
        char *norm;
        if (jid_domain_normalize(cfg_text(d), &norm) < 0) {
            proc_domains_free(*out, *n);
            *out = NULL;
            *n = 0;
            return cfg_error(diag, d, "domain \"%s\" is not a valid domain", cfg_text(d));
        }
        *out = xrealloc(*out, (*n + 1) * sizeof **out);
        (*out)[(*n)++] = norm;
    }
    return 0;
}

void proc_domains_free(char **domains, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(domains[i]);
    free(domains);
}

int proc_section_domains(const cfg *c, const char *name, const cfg_node **sec,
                         char ***domains, size_t *n, cfg_diag *diag)
{
    *domains = NULL;
    *n = 0;
    if (proc_section(c, name, sec, diag) < 0 || proc_domains(c, domains, n, diag) < 0)
        return XE_CONFIG;
    if (*n == 0)
        return cfg_error(diag, cfg_root(c), "%s: the config serves no <domain>", name);
    return 0;
}

bool proc_domains_has(char *const *domains, size_t n, const char *domain)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(domains[i], domain) == 0)
            return true;
    return false;
}

int proc_section(const cfg *c, const char *name, const cfg_node **sec, cfg_diag *diag)
{
    *sec = cfg_child(cfg_root(c), name);
    if (!*sec)
        return cfg_error(diag, cfg_root(c), "the config has no <%s> section", name);
    static const char *const attrs[] = { NULL };
    return cfg_check_attrs(*sec, attrs, diag);
}

char *proc_state_dir(const cfg *c)
{
    const cfg_node *sd = cfg_child(cfg_root(c), "state-dir");
    return cfg_resolve_path(c, sd && cfg_text(sd)[0] ? cfg_text(sd) : ".");
}

int proc_log_setup(const cfg *c, const char *name, cfg_diag *diag)
{
    const cfg_node *n = cfg_child(cfg_root(c), "log");
    if (!n)
        return log_open(LOG_TO_STDERR, NULL, name) < 0 ? XE_CONFIG : 0;
    static const char *const attrs[] = { "level", "to", NULL };
    if (cfg_check_attrs(n, attrs, diag) < 0)
        return XE_CONFIG;
    const char *level = cfg_attr(n, "level"), *to = cfg_attr(n, "to");
    if (level && log_level_parse(level, &log_threshold) < 0)
        return cfg_error(diag, n, "log level \"%s\" is not error, warn, info or debug", level);
    if (!to || strcmp(to, "stderr") == 0)
        return log_open(LOG_TO_STDERR, NULL, name) < 0 ? XE_CONFIG : 0;
    if (strcmp(to, "syslog") == 0)
        return log_open(LOG_TO_SYSLOG, NULL, name) < 0 ? XE_CONFIG : 0;
    if (strcmp(to, "file") != 0)
        return cfg_error(diag, n, "log to=\"%s\" is not stderr, file or syslog", to);
    char *dir = proc_state_dir(c);
    char *logdir = xasprintf("%s/log", dir);
    mkdir(dir, 0750);
    mkdir(logdir, 0750);
    char *path = xasprintf("%s/%s.log", logdir, name);
    int err = log_open(LOG_TO_FILE, path, name);
    if (err < 0)
        cfg_error(diag, n, "cannot open log file %s: %s", path, xe_str(err));
    free(path);
    free(logdir);
    free(dir);
    return err < 0 ? XE_CONFIG : 0;
}

int proc_parse_args(int argc, char **argv, const char *usage, proc_args *out)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    memset(out, 0, sizeof *out);
    int ch;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': out->config_path = optarg; break;
        case 'k': out->check_only = true; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (!out->config_path || optind < argc) {
        fputs(usage, stderr);
        return 2;
    }
    return -1;
}

void proc_print_diag(cfg_diag *diag, const char *path)
{
    if (!diag->file[0])
        snprintf(diag->file, sizeof diag->file, "%s", path);
    cfg_diag_print(diag);
}

cfg *proc_load_config(const proc_args *args)
{
    cfg *c;
    cfg_diag diag = { 0 };
    if (cfg_load(args->config_path, &c, &diag) < 0) {
        proc_print_diag(&diag, args->config_path);
        return NULL;
    }
    return c;
}

int proc_start(int argc, char **argv, const proc_opts *opts, void *ud,
               proc_args *args, cfg **conf)
{
    int status = proc_parse_args(argc, argv, opts->usage, args);
    if (status >= 0)
        return status;
    cfg *c = proc_load_config(args);
    if (!c)
        return 1;
    cfg_diag diag = { 0 };
    if (opts->load(c, ud, &diag) < 0 || proc_log_setup(c, opts->name, &diag) < 0) {
        proc_print_diag(&diag, args->config_path);
        status = 1;
    } else if (args->check_only) {
        status = 0;
    }
    if (status >= 0) {
        opts->close(ud);
        cfg_free(c);
        return status;
    }
    if (conf)
        *conf = c;
    else
        cfg_free(c);
    return -1;
}

/* One process has one set of signal handles. */
static struct {
    uv_signal_t term, intr, hup;
    bool is_open;
    const char *who;
    void (*stop)(void *ud);
    void *ud;
} proc_sig;

static void proc_on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (signum == SIGHUP) {
        log_reopen();
        log_info(proc_sig.who, "log reopened");
        return;
    }
    log_info(proc_sig.who, "got %s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    proc_release_signals();
    proc_sig.stop(proc_sig.ud);
}

void proc_release_signals(void)
{
    if (!proc_sig.is_open)
        return;
    proc_sig.is_open = false;
    uv_close((uv_handle_t *)&proc_sig.term, NULL);
    uv_close((uv_handle_t *)&proc_sig.intr, NULL);
    uv_close((uv_handle_t *)&proc_sig.hup, NULL);
}

void proc_handle_signals(uv_loop_t *loop, const char *who, void (*stop)(void *ud),
                         void *ud)
{
    signal(SIGPIPE, SIG_IGN);
    proc_sig.who = who;
    proc_sig.stop = stop;
    proc_sig.ud = ud;
    uv_signal_init(loop, &proc_sig.term);
    uv_signal_init(loop, &proc_sig.intr);
    uv_signal_init(loop, &proc_sig.hup);
    uv_signal_start(&proc_sig.term, proc_on_signal, SIGTERM);
    uv_signal_start(&proc_sig.intr, proc_on_signal, SIGINT);
    uv_signal_start(&proc_sig.hup, proc_on_signal, SIGHUP);
    proc_sig.is_open = true;
}
