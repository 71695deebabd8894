/* SPDX-License-Identifier: MIT */
/* libcommon/proc.c: common process start-up. */
#include "libcommon/proc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/log.h"

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
