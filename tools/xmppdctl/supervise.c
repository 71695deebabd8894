/* SPDX-License-Identifier: MIT */
/* tools/xmppdctl/supervise.c: the supervisor. Starts the processes of <run>
 * in order, each once the previous one is up; restarts one that dies with
 * exponential backoff; passes SIGHUP on; stops them in reverse order. */
#include "tools/xmppdctl/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"

enum { SUP_READY_POLL_MS = 50, SUP_KILL_WAIT_MS = 5000 };

typedef enum {
    SUP_IDLE,     /* not started yet */
    SUP_STARTING, /* spawned; must stay up CTL_SETTLE_MS */
    SUP_RUNNING,
    SUP_BACKOFF,  /* died; the timer restarts it */
    SUP_STOPPING, /* sent SIGTERM (or SIGKILL) */
    SUP_STOPPED,
} sup_state;

static const char *const sup_state_names[] = {
    "idle", "starting", "running", "backoff", "stopping", "stopped",
};

typedef struct sup sup;

typedef struct sup_proc {
    uv_process_t process;
    uv_timer_t timer; /* settle, readiness, backoff or kill */
    sup *sup;
    const ctl_proc_conf *conf;
    char *pid_path;
    char *log_path;
    sup_state state;
    bool is_process_open; /* spawned and not yet closed by libuv */
    bool was_killed;      /* SIGKILL sent while stopping */
    pid_t pid;            /* 0 when not running */
    uint64_t spawned_ns;  /* uv_hrtime() at spawn */
    time_t spawned_at;
    struct timespec spawned_coarse; /* the file system's clock, at spawn */
    uint64_t ready_waited_ms;
    unsigned restarts;
    unsigned backoff_s; /* the delay before the next restart */
    time_t retry_at;
    char last[128]; /* how it last ended */
} sup_proc;

struct sup {
    uv_loop_t loop;
    uv_signal_t sig_term;
    uv_signal_t sig_int;
    uv_signal_t sig_hup;
    const ctl_conf *conf;
    sup_proc *procs;
    size_t nprocs;
    size_t next_start; /* the initial start's position */
    size_t stop_left;  /* procs[0, stop_left) still to stop */
    bool is_starting;
    bool is_stopping;
    bool is_foreground;
    bool is_finished; /* our files are gone; write no more */
    int lock_fd;
    int notify_fd;
    int null_fd;
    int exit_code;
    time_t started_at;
    char *status_path;
    char *pid_path; /* our own */
};

static void sup_start_next(sup *s);
static void sup_stop_all(sup *s);
static void sup_stop_next(sup *s);

/* A line for the `start` waiting on the other end of the pipe. */
static void sup_notify(sup *s, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sup_notify(sup *s, const char *kind, const char *fmt, ...)
{
    if (s->notify_fd < 0)
        return;
    char line[1024];
    int n = snprintf(line, sizeof line, "%s ", kind);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    line[len++] = '\n';
    for (size_t off = 0; off < len;) {
        ssize_t w = write(s->notify_fd, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) { /* `start` is gone; carry on without it */
            close(s->notify_fd);
            s->notify_fd = -1;
            return;
        }
        off += (size_t)w;
    }
}

static bool sup_is_up(const sup_proc *p)
{
    return p->state == SUP_STARTING || p->state == SUP_RUNNING ||
           p->state == SUP_STOPPING;
}

static void sup_write_status(sup *s)
{
    if (s->is_finished)
        return;
    ctl_status st = {
        .supervisor_pid = (long)getpid(),
        .supervisor_since = (long)s->started_at,
        .entries = xalloc(sizeof *st.entries * s->nprocs),
        .count = s->nprocs,
    };
    for (size_t i = 0; i < s->nprocs; i++) {
        const sup_proc *p = &s->procs[i];
        ctl_status_entry *e = &st.entries[i];
        snprintf(e->name, sizeof e->name, "%s", p->conf->name);
        snprintf(e->state, sizeof e->state, "%s", sup_state_names[p->state]);
        e->pid = sup_is_up(p) ? (long)p->pid : 0;
        e->restarts = p->restarts;
        e->since = sup_is_up(p) ? (long)p->spawned_at : 0;
        e->retry_at = p->state == SUP_BACKOFF ? (long)p->retry_at : 0;
        snprintf(e->last, sizeof e->last, "%s", p->last);
    }
    int err = ctl_status_write(s->status_path, &st);
    if (err != 0)
        log_warn(CTL_WHO, "cannot write %s: %s", s->status_path, xe_str(err));
    free(st.entries);
}

static void sup_on_process_closed(uv_handle_t *handle)
{
    sup_proc *p = handle->data;
    p->is_process_open = false;
}

static void sup_on_exit(uv_process_t *handle, int64_t status, int signum);

static int sup_spawn(sup_proc *p)
{
    sup *s = p->sup;
    int log_fd = -1;
    if (!s->is_foreground) {
        log_fd =
            open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (log_fd < 0) {
            int err = uv_translate_sys_error(errno);
            log_error(CTL_WHO, "cannot open %s for %s: %s", p->log_path,
                      p->conf->name, xe_str(err));
            return err;
        }
    }
    /* In the foreground the children share our terminal, so one window shows
     * every log; in the background each writes its own file. */
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_INHERIT_FD, .data.fd = s->null_fd},
        {.flags = UV_INHERIT_FD,
         .data.fd = log_fd >= 0 ? log_fd : STDOUT_FILENO},
        {.flags = UV_INHERIT_FD,
         .data.fd = log_fd >= 0 ? log_fd : STDERR_FILENO},
    };
    char *args[] = {p->conf->path, (char *)"-c", s->conf->config_path, NULL};
    /* The log file libcommon opens (and reopens on SIGHUP) is no child's
     * business; neither is anything we inherited. */
    ctl_fds_cloexec();
    /* Detached: a Ctrl-C in the terminal reaches only us, and we stop the
     * processes in order instead of all at once. */
    uv_process_options_t opts = {
        .exit_cb = sup_on_exit,
        .file = p->conf->path,
        .args = args,
        .flags = UV_PROCESS_DETACHED,
        .stdio_count = 3,
        .stdio = stdio,
    };
    clock_gettime(CLOCK_REALTIME_COARSE, &p->spawned_coarse);
    int err = uv_spawn(&s->loop, &p->process, &opts);
    p->process.data = p;
    p->is_process_open = true;
    if (log_fd >= 0)
        close(log_fd);
    if (err != 0) {
        uv_close((uv_handle_t *)&p->process, sup_on_process_closed);
        log_error(CTL_WHO, "cannot start %s (%s): %s", p->conf->name,
                  p->conf->path, xe_str(err));
        return err;
    }
    p->pid = p->process.pid;
    p->spawned_ns = uv_hrtime();
    p->spawned_at = time(NULL);
    p->ready_waited_ms = 0;
    p->retry_at = 0;
    p->was_killed = false;
    log_debug(CTL_WHO, "spawned %s (pid %ld): %s -c %s", p->conf->name,
              (long)p->pid, p->conf->path, s->conf->config_path);
    int werr = ctl_pidfile_write(p->pid_path, p->pid);
    if (werr != 0)
        log_warn(CTL_WHO, "cannot write %s: %s", p->pid_path, xe_str(werr));
    return 0;
}

/* Where a person finds why a process died. */
static const char *sup_output_of(const sup_proc *p)
{
    return p->sup->is_foreground ? "its output above" : p->log_path;
}

static void sup_on_backoff(uv_timer_t *timer);

static void sup_schedule_restart(sup_proc *p, const char *why)
{
    unsigned delay_s = p->backoff_s;
    p->backoff_s =
        delay_s * 2 > CTL_BACKOFF_MAX_S ? CTL_BACKOFF_MAX_S : delay_s * 2;
    p->restarts++;
    p->state = SUP_BACKOFF;
    p->retry_at = time(NULL) + (time_t)delay_s;
    log_warn(CTL_WHO, "%s %s; restarting in %us (restart %u)", p->conf->name,
             why, delay_s, p->restarts);
    uv_timer_start(&p->timer, sup_on_backoff, (uint64_t)delay_s * 1000, 0);
}

static void sup_on_backoff(uv_timer_t *timer)
{
    sup_proc *p = timer->data;
    if (p->is_process_open) { /* libuv has not closed the old one yet */
        uv_timer_start(timer, sup_on_backoff, SUP_READY_POLL_MS, 0);
        return;
    }
    int err = sup_spawn(p);
    if (err != 0) {
        snprintf(p->last, sizeof p->last, "could not start: %s", xe_str(err));
        sup_schedule_restart(p, "could not start");
    } else {
        p->state = SUP_RUNNING;
        log_info(CTL_WHO, "restarted %s (pid %ld)", p->conf->name,
                 (long)p->pid);
    }
    sup_write_status(p->sup);
}

static void sup_on_stop_timeout(uv_timer_t *timer)
{
    sup_proc *p = timer->data;
    if (!p->was_killed) {
        log_warn(CTL_WHO,
                 "%s (pid %ld) did not stop within %ds; sending "
                 "SIGKILL",
                 p->conf->name, (long)p->pid, CTL_STOP_GRACE_MS / 1000);
        p->was_killed = true;
        uv_process_kill(&p->process, SIGKILL);
        uv_timer_start(timer, sup_on_stop_timeout, SUP_KILL_WAIT_MS, 0);
        return;
    }
    /* Stuck in the kernel. Its PID file stays, so status tells the truth. */
    log_error(CTL_WHO,
              "%s (pid %ld) is still there %ds after SIGKILL; "
              "leaving it",
              p->conf->name, (long)p->pid, SUP_KILL_WAIT_MS / 1000);
    uv_close((uv_handle_t *)&p->process, sup_on_process_closed);
    p->state = SUP_STOPPED;
    p->sup->exit_code = CTL_EXIT_FAIL;
    sup_stop_next(p->sup);
}

static void sup_on_exit(uv_process_t *handle, int64_t status, int signum)
{
    sup_proc *p = handle->data;
    sup *s = p->sup;
    pid_t pid = p->pid;
    double up_s = (double)(uv_hrtime() - p->spawned_ns) / 1e9;
    char up[32];
    char sig[32];
    ctl_fmt_duration(up_s, up, sizeof up);
    if (signum != 0)
        snprintf(p->last, sizeof p->last, "killed by %s",
                 ctl_signal_name(signum, sig, sizeof sig));
    else
        snprintf(p->last, sizeof p->last, "exited with status %lld",
                 (long long)status);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)handle, sup_on_process_closed);
    unlink(p->pid_path);
    p->pid = 0;

    if (p->state == SUP_STOPPING) {
        bool is_clean = signum == SIGTERM || (signum == 0 && status == 0);
        if (is_clean)
            log_info(CTL_WHO, "stopped %s (pid %ld)", p->conf->name, (long)pid);
        else
            log_warn(CTL_WHO, "stopped %s (pid %ld): %s", p->conf->name,
                     (long)pid, p->last);
        p->state = SUP_STOPPED;
        sup_stop_next(s);
    } else if (s->is_stopping) {
        log_warn(CTL_WHO,
                 "%s (pid %ld) %s after %s while stopping; not "
                 "restarting",
                 p->conf->name, (long)pid, p->last, up);
        p->state = SUP_STOPPED;
        sup_stop_next(s);
    } else if (s->is_starting) {
        /* `start` promises everything runs, or nothing does. */
        log_error(CTL_WHO, "%s (pid %ld) %s after %s during start; see %s",
                  p->conf->name, (long)pid, p->last, up, sup_output_of(p));
        sup_notify(s, "fail", "%s %s after %s during start; see %s",
                   p->conf->name, p->last, up, sup_output_of(p));
        p->state = SUP_STOPPED;
        s->exit_code = CTL_EXIT_FAIL;
        sup_stop_all(s);
    } else {
        if (up_s * 1000 >= CTL_STABLE_MS)
            p->backoff_s = 1;
        char why[192];
        snprintf(why, sizeof why, "%s after %s", p->last, up);
        sup_schedule_restart(p, why);
    }
    sup_write_status(s);
}

/* The router is ready when its control socket is there, newer than the
 * process: a socket left by a router that was killed does not count. */
static bool sup_router_is_ready(const sup_proc *p)
{
    struct stat st;
    if (stat(p->sup->conf->router_ctl, &st) != 0 || !S_ISSOCK(st.st_mode))
        return false;
    if (st.st_ctim.tv_sec != p->spawned_coarse.tv_sec)
        return st.st_ctim.tv_sec > p->spawned_coarse.tv_sec;
    return st.st_ctim.tv_nsec >= p->spawned_coarse.tv_nsec;
}

static void sup_on_settle(uv_timer_t *timer)
{
    sup_proc *p = timer->data;
    sup *s = p->sup;
    if (p->state != SUP_STARTING)
        return;
    if (strcmp(p->conf->name, "router") == 0 && s->conf->has_router_ctl &&
        !sup_router_is_ready(p)) {
        if (p->ready_waited_ms < CTL_ROUTER_READY_MS) {
            p->ready_waited_ms += SUP_READY_POLL_MS;
            uv_timer_start(timer, sup_on_settle, SUP_READY_POLL_MS, 0);
            return;
        }
        log_warn(CTL_WHO,
                 "router (pid %ld) runs, but its control socket %s "
                 "did not appear within %ds; going on",
                 (long)p->pid, s->conf->router_ctl, CTL_ROUTER_READY_MS / 1000);
    }
    p->state = SUP_RUNNING;
    log_info(CTL_WHO, "started %s (pid %ld)", p->conf->name, (long)p->pid);
    sup_notify(s, "msg", "started %s (pid %ld)", p->conf->name, (long)p->pid);
    sup_write_status(s);
    s->next_start++;
    sup_start_next(s);
}

static void sup_start_next(sup *s)
{
    if (s->is_stopping)
        return;
    if (s->next_start == s->nprocs) {
        s->is_starting = false;
        log_info(CTL_WHO, "startup complete: %zu process%s running", s->nprocs,
                 s->nprocs == 1 ? "" : "es");
        sup_notify(s, "ok", "%ld", (long)getpid());
        if (s->notify_fd >= 0)
            close(s->notify_fd);
        s->notify_fd = -1;
        return;
    }
    sup_proc *p = &s->procs[s->next_start];
    p->state = SUP_STARTING;
    int err = sup_spawn(p);
    if (err != 0) {
        snprintf(p->last, sizeof p->last, "could not start: %s", xe_str(err));
        sup_notify(s, "fail", "cannot start %s (%s): %s", p->conf->name,
                   p->conf->path, xe_str(err));
        p->state = SUP_STOPPED;
        s->exit_code = CTL_EXIT_FAIL;
        sup_stop_all(s);
        return;
    }
    uv_timer_start(&p->timer, sup_on_settle, CTL_SETTLE_MS, 0);
    sup_write_status(s);
}

static void sup_close_handle(uv_handle_t *handle)
{
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

/* Everything is stopped: drop our files, then let the loop end. */
static void sup_finish(sup *s)
{
    s->is_finished = true;
    unlink(s->status_path);
    for (size_t i = 0; i < s->nprocs; i++) {
        sup_proc *p = &s->procs[i];
        sup_close_handle((uv_handle_t *)&p->timer);
        if (p->is_process_open && !uv_is_closing((uv_handle_t *)&p->process))
            uv_close((uv_handle_t *)&p->process, sup_on_process_closed);
    }
    sup_close_handle((uv_handle_t *)&s->sig_term);
    sup_close_handle((uv_handle_t *)&s->sig_int);
    sup_close_handle((uv_handle_t *)&s->sig_hup);
    log_info(CTL_WHO, "supervisor (pid %ld) exiting", (long)getpid());
    /* The PID file goes before the lock, and both before `start` sees the
     * pipe close, so a new start right after finds nothing in its way. */
    unlink(s->pid_path);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    s->lock_fd = -1;
    if (s->notify_fd >= 0)
        close(s->notify_fd);
    s->notify_fd = -1;
}

static void sup_stop_next(sup *s)
{
    while (s->stop_left > 0) {
        sup_proc *p = &s->procs[s->stop_left - 1];
        switch (p->state) {
        case SUP_STARTING:
        case SUP_RUNNING: {
            uv_timer_stop(&p->timer);
            p->state = SUP_STOPPING;
            log_info(CTL_WHO, "stopping %s (pid %ld)", p->conf->name,
                     (long)p->pid);
            int err = uv_process_kill(&p->process, SIGTERM);
            if (err != 0 && err != UV_ESRCH)
                log_warn(CTL_WHO, "cannot signal %s (pid %ld): %s",
                         p->conf->name, (long)p->pid, xe_str(err));
            uv_timer_start(&p->timer, sup_on_stop_timeout, CTL_STOP_GRACE_MS,
                           0);
            sup_write_status(s);
            return;
        }
        case SUP_STOPPING:
            return; /* its exit brings us back here */
        case SUP_BACKOFF:
            uv_timer_stop(&p->timer);
            p->state = SUP_STOPPED;
            p->retry_at = 0;
            break;
        case SUP_IDLE:
        case SUP_STOPPED:
            break;
        }
        s->stop_left--;
    }
    sup_finish(s);
}

static void sup_stop_all(sup *s)
{
    if (s->is_stopping)
        return;
    if (s->is_starting && s->exit_code == 0)
        sup_notify(s, "fail", "start interrupted by a stop signal");
    s->is_starting = false;
    s->is_stopping = true;
    s->stop_left = s->nprocs;
    sup_stop_next(s);
}

static void sup_on_stop_signal(uv_signal_t *handle, int signum)
{
    sup *s = handle->data;
    char sig[32];
    const char *name = ctl_signal_name(signum, sig, sizeof sig);
    if (!s->is_stopping) {
        log_info(CTL_WHO, "%s: stopping %zu process%s in reverse order", name,
                 s->nprocs, s->nprocs == 1 ? "" : "es");
        sup_stop_all(s);
        return;
    }
    /* Asked twice: the person at the terminal does not want to wait. */
    log_warn(CTL_WHO, "%s again: killing what still runs", name);
    for (size_t i = 0; i < s->nprocs; i++) {
        sup_proc *p = &s->procs[i];
        if (sup_is_up(p) && p->pid > 0) {
            p->was_killed = true;
            uv_process_kill(&p->process, SIGKILL);
        }
    }
}

static void sup_on_hup(uv_signal_t *handle, int signum)
{
    (void)signum;
    sup *s = handle->data;
    int count = 0;
    for (size_t i = 0; i < s->nprocs; i++) {
        sup_proc *p = &s->procs[i];
        if ((p->state == SUP_STARTING || p->state == SUP_RUNNING) &&
            uv_process_kill(&p->process, SIGHUP) == 0)
            count++;
    }
    int err = log_reopen();
    if (err != 0)
        log_error(CTL_WHO, "cannot reopen the log: %s", xe_str(err));
    log_info(CTL_WHO, "SIGHUP: log reopened, passed on to %d process%s", count,
             count == 1 ? "" : "es");
}

static void sup_signal_start(sup *s, uv_signal_t *h, uv_signal_cb cb, int sig)
{
    uv_signal_init(&s->loop, h);
    h->data = s;
    uv_signal_start(h, cb, sig);
}

int ctl_supervise(const ctl_conf *conf, bool is_foreground, int lock_fd,
                  int notify_fd)
{
    sup s = {
        .conf = conf,
        .nprocs = conf->nprocs,
        .is_foreground = is_foreground,
        .is_starting = true,
        .lock_fd = lock_fd,
        .notify_fd = notify_fd,
        .started_at = time(NULL),
        .status_path = ctl_status_path(conf),
        .pid_path = ctl_pid_path(conf, "xmppdctl"),
    };
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&s.loop);
    s.null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    s.procs = xalloc(sizeof *s.procs * s.nprocs);
    for (size_t i = 0; i < s.nprocs; i++) {
        sup_proc *p = &s.procs[i];
        p->sup = &s;
        p->conf = &conf->procs[i];
        p->pid_path = ctl_pid_path(conf, p->conf->name);
        p->log_path = ctl_log_path(conf, p->conf->name);
        p->backoff_s = 1;
        uv_timer_init(&s.loop, &p->timer);
        p->timer.data = p;
    }
    sup_signal_start(&s, &s.sig_term, sup_on_stop_signal, SIGTERM);
    sup_signal_start(&s, &s.sig_int, sup_on_stop_signal, SIGINT);
    sup_signal_start(&s, &s.sig_hup, sup_on_hup, SIGHUP);

    log_info(CTL_WHO, "supervisor started (pid %ld) with %s; state in %s",
             (long)getpid(), conf->config_path, conf->state_dir);
    sup_write_status(&s);
    sup_start_next(&s);
    uv_run(&s.loop, UV_RUN_DEFAULT);
    uv_loop_close(&s.loop);

    for (size_t i = 0; i < s.nprocs; i++) {
        free(s.procs[i].pid_path);
        free(s.procs[i].log_path);
    }
    free(s.procs);
    free(s.status_path);
    free(s.pid_path);
    if (s.null_fd >= 0)
        close(s.null_fd);
    return s.exit_code;
}
