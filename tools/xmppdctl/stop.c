/* SPDX-License-Identifier: MIT */
/* tools/xmppdctl/stop.c: `stop`. Asks the supervisor to stop everything; with
 * no supervisor left, stops by PID file whatever it left running. */
#include "tools/xmppdctl/ctl.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"

typedef struct stop_target {
    char *name;
    char *program;
    char *pid_path;
    pid_t pid;
    ctl_pid_state state;
} stop_target;

typedef struct stop_list {
    stop_target *items;
    size_t count;
    size_t cap;
} stop_list;

static bool stop_list_has(const stop_list *list, const char *name)
{
    for (size_t i = 0; i < list->count; i++) {
        if (strcmp(list->items[i].name, name) == 0)
            return true;
    }
    return false;
}

static void stop_list_add(stop_list *list, const ctl_conf *conf,
                          const char *name)
{
    if (stop_list_has(list, name))
        return;
    if (list->count == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 8;
        list->items = xrealloc(list->items, list->cap * sizeof *list->items);
    }
    stop_target *t = &list->items[list->count++];
    t->name = xstrdup(name);
    t->program = xasprintf("xmppd-%s", name);
    t->pid_path = ctl_pid_path(conf, name);
    t->state = ctl_pidfile_check(t->pid_path, t->program, &t->pid);
}

static void stop_list_free(stop_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].name);
        free(list->items[i].program);
        free(list->items[i].pid_path);
    }
    free(list->items);
}

/* Stop order: PID files of processes no longer in <run> first (the config
 * changed since they started), then <run> in reverse. */
static void stop_list_collect(stop_list *list, const ctl_conf *conf)
{
    DIR *dir = opendir(conf->run_dir);
    if (dir) {
        struct dirent *d;
        while ((d = readdir(dir))) {
            size_t len = strlen(d->d_name);
            if (len <= 4 || strcmp(d->d_name + len - 4, ".pid") != 0)
                continue;
            char *name = xstrndup(d->d_name, len - 4);
            bool is_listed = strcmp(name, "xmppdctl") == 0;
            for (size_t i = 0; i < conf->nprocs && !is_listed; i++)
                is_listed = strcmp(conf->procs[i].name, name) == 0;
            if (!is_listed && strspn(name, "abcdefghijklmnopqrstuvwxyz"
                                           "0123456789-_") == len - 4)
                stop_list_add(list, conf, name);
            free(name);
        }
        closedir(dir);
    }
    for (size_t i = conf->nprocs; i-- > 0;)
        stop_list_add(list, conf, conf->procs[i].name);
}

/* Stops one process ourselves. Returns 0 or CTL_EXIT_FAIL. */
static int stop_target_stop(stop_target *t)
{
    bool was_killed;
    int err =
        ctl_pid_terminate(t->pid, t->program, CTL_STOP_GRACE_MS, &was_killed);
    if (err != 0) {
        fprintf(stderr, "xmppdctl: cannot stop %s (pid %ld): %s\n", t->name,
                (long)t->pid, xe_str(err));
        return CTL_EXIT_FAIL;
    }
    unlink(t->pid_path);
    printf("stopped %s (pid %ld)%s\n", t->name, (long)t->pid,
           was_killed ? " with SIGKILL after it ignored SIGTERM" : "");
    return 0;
}

static int stop_supervisor(pid_t pid, stop_list *list)
{
    if (kill(pid, SIGTERM) != 0 && errno != ESRCH) {
        fprintf(stderr,
                "xmppdctl: cannot signal the supervisor (pid %ld): "
                "%s\n",
                (long)pid, xe_str(uv_translate_sys_error(errno)));
        return CTL_EXIT_FAIL;
    }
    if (!ctl_pid_wait_gone(pid, "xmppdctl", CTL_SUPERVISOR_STOP_MS)) {
        fprintf(stderr,
                "xmppdctl: the supervisor (pid %ld) did not exit "
                "within %ds; its processes may still be stopping\n",
                (long)pid, CTL_SUPERVISOR_STOP_MS / 1000);
        return CTL_EXIT_FAIL;
    }
    /* Whatever it could not stop, we stop by PID. */
    int rc = 0;
    for (size_t i = 0; i < list->count; i++) {
        stop_target *t = &list->items[i];
        if (t->state != CTL_PID_LIVE)
            continue;
        if (ctl_pid_runs(t->pid, t->program)) {
            fprintf(stderr,
                    "xmppdctl: %s (pid %ld) outlived the supervisor; "
                    "stopping it\n",
                    t->name, (long)t->pid);
            if (stop_target_stop(t) != 0)
                rc = CTL_EXIT_FAIL;
        } else {
            printf("stopped %s (pid %ld)\n", t->name, (long)t->pid);
        }
    }
    printf("stopped xmppdctl (pid %ld)\n", (long)pid);
    return rc;
}

static int stop_orphans(const ctl_conf *conf, stop_list *list)
{
    int rc = 0;
    size_t stopped = 0;
    for (size_t i = 0; i < list->count; i++) {
        stop_target *t = &list->items[i];
        if (t->state == CTL_PID_STALE) {
            unlink(t->pid_path);
        } else if (t->state == CTL_PID_LIVE) {
            if (stopped == 0)
                printf("xmppdctl: no supervisor running; stopping its "
                       "processes by PID file\n");
            stopped++;
            if (stop_target_stop(t) != 0)
                rc = CTL_EXIT_FAIL;
        }
    }
    char *status = ctl_status_path(conf);
    unlink(status);
    free(status);
    if (stopped == 0)
        printf("xmppdctl: not running\n");
    return rc;
}

int ctl_cmd_stop(const char *config, int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "xmppdctl stop: unknown argument '%s'\n", argv[1]);
        ctl_usage_print(stderr);
        return CTL_EXIT_USAGE;
    }
    ctl_conf *conf;
    if (ctl_conf_open(config, &conf) != 0)
        return CTL_EXIT_FAIL;
    stop_list list = {.count = 0};
    stop_list_collect(&list, conf);
    char *sup_path = ctl_pid_path(conf, "xmppdctl");
    pid_t sup_pid;
    ctl_pid_state sup_state = ctl_pidfile_check(sup_path, "xmppdctl", &sup_pid);
    int rc;
    if (sup_state == CTL_PID_LIVE) {
        rc = stop_supervisor(sup_pid, &list);
    } else {
        if (sup_state == CTL_PID_STALE)
            unlink(sup_path);
        rc = stop_orphans(conf, &list);
    }
    free(sup_path);
    stop_list_free(&list);
    ctl_conf_free(conf);
    return rc;
}
