/* SPDX-License-Identifier: MIT */
/* tools/xmppdctl/conf.c: what xmppdctl reads from xmppd.xml (<state-dir>,
 * <log>, <run>, the router's control socket) and where the programs are. */
#include "tools/xmppdctl/ctl.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/proc.h"

enum { CONF_NAME_MAX = 32 };

const char *ctl_config_choose(const char *given)
{
    if (given && *given)
        return given;
    const char *env = getenv("XMPPD_CONFIG");
    if (env && *env)
        return env;
    return CTL_DEFAULT_CONFIG;
}

/* Every process gets the same absolute path, whatever our working directory,
 * and the daemon runs from "/". */
static char *conf_absolute(const char *path)
{
    if (path[0] == '/')
        return xstrdup(path);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return xstrdup(path);
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    return xasprintf("%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", path);
}

/* Process names become file names and program names: keep them plain. */
static bool conf_name_is_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > CONF_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  ((c == '-' || c == '_') && i > 0);
        if (!ok)
            return false;
    }
    return true;
}

static int conf_read_log(ctl_conf *conf, const cfg_node *root, cfg_diag *diag)
{
    conf->level = LOGL_INFO;
    conf->log_to = LOG_TO_STDERR;
    const cfg_node *log = cfg_child(root, "log");
    if (!log)
        return 0;
    static const char *const log_attrs[] = {"level", "to", NULL};
    if (cfg_check_attrs(log, log_attrs, diag) != 0)
        return XE_CONFIG;
    const char *level = cfg_attr(log, "level");
    if (level && log_level_parse(level, &conf->level) != 0)
        return cfg_error(
            diag, log, "level \"%s\" is not error, warn, info or debug", level);
    const char *to = cfg_attr(log, "to");
    if (!to || strcmp(to, "stderr") == 0)
        conf->log_to = LOG_TO_STDERR;
    else if (strcmp(to, "file") == 0)
        conf->log_to = LOG_TO_FILE;
    else if (strcmp(to, "syslog") == 0)
        conf->log_to = LOG_TO_SYSLOG;
    else
        return cfg_error(diag, log, "to \"%s\" is not stderr, file or syslog",
                         to);
    return 0;
}

static int conf_read_run(ctl_conf *conf, const cfg_node *root, cfg_diag *diag)
{
    const cfg_node *run = cfg_child(root, "run");
    if (!run)
        return cfg_error(diag, root,
                         "<run> is missing: list the processes to start here, "
                         "e.g. <run><process name=\"router\"/></run>");
    static const char *const run_attrs[] = {NULL};
    static const char *const process_attrs[] = {"name", NULL};
    if (cfg_check_attrs(run, run_attrs, diag) != 0)
        return XE_CONFIG;

    size_t count = 0;
    for (const cfg_node *n = cfg_first(run); n; n = cfg_sibling(n))
        count++;
    conf->procs = xalloc(sizeof *conf->procs * (count ? count : 1));

    for (const cfg_node *n = cfg_first(run); n; n = cfg_sibling(n)) {
        if (strcmp(cfg_name(n), "process") != 0)
            return cfg_error(diag, n,
                             "unknown element <%s>; only <process "
                             "name=\"...\"/> belongs here",
                             cfg_name(n));
        const char *name;
        if (cfg_check_attrs(n, process_attrs, diag) != 0 ||
            cfg_required(n, "name", &name, diag) != 0)
            return XE_CONFIG;
        if (!conf_name_is_valid(name))
            return cfg_error(diag, n,
                             "process name \"%s\" must be 1 to %d of "
                             "a-z, 0-9, '-' and '_', starting with a letter "
                             "or digit",
                             name, CONF_NAME_MAX);
        for (size_t i = 0; i < conf->nprocs; i++) {
            if (strcmp(conf->procs[i].name, name) == 0)
                return cfg_error(diag, n,
                                 "process \"%s\" is listed twice (first "
                                 "on line %d)",
                                 name, conf->procs[i].line);
        }
        ctl_proc_conf *p = &conf->procs[conf->nprocs++];
        p->name = xstrdup(name);
        p->program = xasprintf("xmppd-%s", name);
        p->line = cfg_line(n);
    }
    if (conf->nprocs == 0)
        return cfg_error(diag, run, "no <process> listed");
    return 0;
}

/* <router><control unix="..."/></router>; relative means under the state
 * directory, as the router reads it. */
static void conf_read_router_ctl(ctl_conf *conf, const cfg_node *root)
{
    const char *path = "router.ctl";
    const cfg_node *router = cfg_child(root, "router");
    const cfg_node *control = router ? cfg_child(router, "control") : NULL;
    const char *unix_path = control ? cfg_attr(control, "unix") : NULL;
    conf->has_router_ctl = unix_path && *unix_path;
    if (conf->has_router_ctl)
        path = unix_path;
    if (path[0] == '/')
        conf->router_ctl = xstrdup(path);
    else
        conf->router_ctl = xasprintf("%s/%s", conf->state_dir, path);
}

int ctl_conf_load(const char *path, ctl_conf **out, cfg_diag *diag)
{
    *out = NULL;
    ctl_conf *conf = xalloc(sizeof *conf);
    conf->config_path = conf_absolute(path);
    if (cfg_load(conf->config_path, &conf->cfg, diag) != 0) {
        ctl_conf_free(conf);
        return XE_CONFIG;
    }
    const cfg_node *root = cfg_root(conf->cfg);
    /* The same directory every process derives, by the same function. */
    conf->state_dir = proc_state_dir(conf->cfg);
    size_t len = strlen(conf->state_dir);
    if (len > 2 && strcmp(conf->state_dir + len - 2, "/.") == 0)
        conf->state_dir[len - 2] = '\0'; /* "DIR/." reads as DIR */
    conf->run_dir = xasprintf("%s/run", conf->state_dir);
    conf->log_dir = xasprintf("%s/log", conf->state_dir);
    int err = conf_read_log(conf, root, diag);
    if (err == 0)
        err = conf_read_run(conf, root, diag);
    if (err != 0) {
        ctl_conf_free(conf);
        return XE_CONFIG;
    }
    conf_read_router_ctl(conf, root);
    *out = conf;
    return 0;
}

void ctl_conf_free(ctl_conf *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < conf->nprocs; i++) {
        free(conf->procs[i].name);
        free(conf->procs[i].program);
        free(conf->procs[i].path);
    }
    free(conf->procs);
    free(conf->config_path);
    free(conf->state_dir);
    free(conf->run_dir);
    free(conf->log_dir);
    free(conf->router_ctl);
    cfg_free(conf->cfg);
    free(conf);
}

static bool conf_is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
           access(path, X_OK) == 0;
}

/* The folder of our own executable: a build tree's bin/ or the install's
 * bin/, where the suite's programs sit together. */
static char *conf_self_dir(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return NULL;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return NULL;
    return xstrndup(self, (size_t)(slash - self));
}

static char *conf_find_program(const char *self_dir, const char *program)
{
    if (self_dir) {
        char *path = xasprintf("%s/%s", self_dir, program);
        if (conf_is_executable(path))
            return path;
        free(path);
    }
    const char *search = getenv("PATH");
    if (!search)
        return NULL;
    for (const char *p = search;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len > 0) {
            char *path = xasprintf("%.*s/%s", (int)len, p, program);
            if (conf_is_executable(path))
                return path;
            free(path);
        }
        if (!colon)
            return NULL;
        p = colon + 1;
    }
}

int ctl_conf_find_programs(ctl_conf *conf, cfg_diag *diag)
{
    char *self_dir = conf_self_dir();
    int err = 0;
    for (size_t i = 0; i < conf->nprocs && err == 0; i++) {
        ctl_proc_conf *p = &conf->procs[i];
        free(p->path);
        p->path = conf_find_program(self_dir, p->program);
        if (!p->path) {
            snprintf(diag->file, sizeof diag->file, "%s", conf->config_path);
            diag->line = p->line;
            snprintf(diag->message, sizeof diag->message,
                     "run: no program %s in %s or in $PATH", p->program,
                     self_dir ? self_dir : "xmppdctl's folder");
            err = XE_CONFIG;
        }
    }
    free(self_dir);
    return err;
}

int ctl_conf_open(const char *given, ctl_conf **out)
{
    cfg_diag diag = {.line = 0};
    if (ctl_conf_load(ctl_config_choose(given), out, &diag) != 0) {
        cfg_diag_print(&diag);
        return CTL_EXIT_FAIL;
    }
    return 0;
}

char *ctl_pid_path(const ctl_conf *conf, const char *name)
{
    return xasprintf("%s/%s.pid", conf->run_dir, name);
}

char *ctl_log_path(const ctl_conf *conf, const char *name)
{
    return xasprintf("%s/%s.log", conf->log_dir, name);
}

char *ctl_status_path(const ctl_conf *conf)
{
    return xasprintf("%s/status", conf->run_dir);
}

static int conf_mkdir(const char *path)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        fprintf(stderr, "xmppdctl: %s exists and is not a directory\n", path);
        return UV_ENOTDIR;
    }
    int err = uv_translate_sys_error(errno);
    fprintf(stderr, "xmppdctl: cannot create %s: %s\n", path, xe_str(err));
    return err;
}

/* mkdir -p for the state directory, since /var/lib/xmppd's parent exists but
 * a test's or a user's may be deeper. */
static int conf_mkdirs(const char *path)
{
    char *copy = xstrdup(path);
    int err = 0;
    for (char *p = copy + 1; *p && err == 0; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
            err = uv_translate_sys_error(errno);
            fprintf(stderr, "xmppdctl: cannot create %s: %s\n", copy,
                    xe_str(err));
        }
        *p = '/';
    }
    free(copy);
    return err ? err : conf_mkdir(path);
}

int ctl_dirs_create(const ctl_conf *conf)
{
    int err = conf_mkdirs(conf->state_dir);
    if (err == 0)
        err = conf_mkdir(conf->run_dir);
    if (err == 0)
        err = conf_mkdir(conf->log_dir);
    return err;
}
