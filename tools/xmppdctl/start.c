/* SPDX-License-Identifier: MIT */
/* tools/xmppdctl/start.c: `start` and `restart`. The supervisor runs in the
 * foreground (-f, for systemd or a terminal) or as a daemon that tells the
 * waiting command, line by line over a pipe, what it started. */
#include "tools/xmppdctl/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "libcommon/error.h"

/* The supervisor takes at most CTL_SETTLE_MS + CTL_ROUTER_READY_MS per
 * process to start and the stop grace per process to undo a failed start. */
enum { START_WAIT_BASE_MS = 15000, START_WAIT_PER_PROC_MS = 16000 };

static int start_parse(const char *command, int argc, char **argv,
                       bool *is_foreground)
{
    *is_foreground = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-f") == 0 ||
            strcmp(argv[i], "--foreground") == 0) {
            *is_foreground = true;
        } else {
            fprintf(stderr, "xmppdctl %s: unknown argument '%s'\n", command,
                    argv[i]);
            ctl_usage_print(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    return 0;
}

/* A second supervisor, or a second router next to an orphaned one, would
 * only fight over sockets and files. */
static int start_check_not_running(const ctl_conf *conf)
{
    char *path = ctl_pid_path(conf, "xmppdctl");
    pid_t pid;
    ctl_pid_state state = ctl_pidfile_check(path, "xmppdctl", &pid);
    free(path);
    if (state == CTL_PID_LIVE) {
        fprintf(stderr,
                "xmppdctl: already running (supervisor pid %ld); "
                "use 'xmppdctl stop' or 'xmppdctl restart'\n",
                (long)pid);
        return CTL_EXIT_FAIL;
    }
    for (size_t i = 0; i < conf->nprocs; i++) {
        const ctl_proc_conf *p = &conf->procs[i];
        path = ctl_pid_path(conf, p->name);
        state = ctl_pidfile_check(path, p->program, &pid);
        free(path);
        if (state == CTL_PID_LIVE) {
            fprintf(stderr,
                    "xmppdctl: %s is still running (pid %ld) without "
                    "a supervisor; run 'xmppdctl stop' first\n",
                    p->name, (long)pid);
            return CTL_EXIT_FAIL;
        }
    }
    return 0;
}

static int start_lock(const ctl_conf *conf, int *lock_fd)
{
    char *path = ctl_pid_path(conf, "xmppdctl");
    int err = ctl_pidfile_lock(path, lock_fd);
    if (err == UV_EBUSY)
        log_error(CTL_WHO, "another supervisor holds %s; not starting", path);
    else if (err != 0)
        log_error(CTL_WHO, "cannot write %s: %s", path, xe_str(err));
    free(path);
    return err;
}

static int start_foreground(const ctl_conf *conf)
{
    log_open(conf->log_to == LOG_TO_SYSLOG ? LOG_TO_SYSLOG : LOG_TO_STDERR,
             NULL, CTL_WHO);
    log_threshold = conf->level;
    int lock_fd;
    int rc = CTL_EXIT_FAIL;
    if (start_lock(conf, &lock_fd) == 0)
        rc = ctl_supervise(conf, true, lock_fd, -1);
    log_close();
    return rc;
}

static void start_notify_fail(int fd, const char *text)
{
    char *line = xasprintf("fail %s\n", text);
    if (write(fd, line, strlen(line)) < 0) {
        /* the waiting command is gone; the log has it */
    }
    free(line);
}

/* The daemon, after the double fork: no terminal, "/" as working directory,
 * stdin from /dev/null, stray output into our log file. */
static int start_daemon_main(const ctl_conf *conf, int notify_fd)
{
    if (chdir("/") != 0) {
        /* "/" always exists; nothing depends on the working directory */
    }
    char *log_path = ctl_log_path(conf, "xmppdctl");
    int log_fd =
        open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0) {
        char *text = xasprintf("cannot open %s: %s", log_path,
                               xe_str(uv_translate_sys_error(errno)));
        start_notify_fail(notify_fd, text);
        free(text);
        free(log_path);
        return CTL_EXIT_FAIL;
    }
    dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    close(null_fd);
    close(log_fd);
    log_open(conf->log_to == LOG_TO_SYSLOG ? LOG_TO_SYSLOG : LOG_TO_FILE,
             log_path, CTL_WHO);
    log_threshold = conf->level;
    free(log_path);

    int lock_fd;
    int err = start_lock(conf, &lock_fd);
    if (err != 0) {
        start_notify_fail(notify_fd, err == UV_EBUSY
                                         ? "another supervisor is running"
                                         : "cannot write the PID file");
        close(notify_fd);
        log_close();
        return CTL_EXIT_FAIL;
    }
    int rc = ctl_supervise(conf, false, lock_fd, notify_fd);
    log_close();
    return rc;
}

/* Prints the supervisor's lines until "ok", or until the pipe closes without
 * one (a process died at start). */
static int start_wait(const ctl_conf *conf, int fd)
{
    long budget_ms =
        START_WAIT_BASE_MS + START_WAIT_PER_PROC_MS * (long)conf->nprocs;
    uint64_t deadline = uv_hrtime() + (uint64_t)budget_ms * 1000000;
    buf in;
    buf_init(&in);
    bool has_failed = false;
    int rc = -1;
    while (rc < 0) {
        uint64_t now = uv_hrtime();
        int timeout_ms =
            now >= deadline ? 0 : (int)((deadline - now) / 1000000);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = poll(&pfd, 1, timeout_ms);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready == 0) {
            fprintf(stderr,
                    "xmppdctl: no word from the supervisor within "
                    "%lds; see %s/xmppdctl.log\n",
                    budget_ms / 1000, conf->log_dir);
            rc = CTL_EXIT_FAIL;
            break;
        }
        char *space = buf_reserve(&in, 1024);
        ssize_t n = read(fd, space, 1024);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (!has_failed)
                fprintf(stderr,
                        "xmppdctl: the supervisor exited before "
                        "everything started; see %s/xmppdctl.log\n",
                        conf->log_dir);
            rc = CTL_EXIT_FAIL;
            break;
        }
        buf_commit(&in, (size_t)n);
        const char *nl;
        while (rc < 0 && (nl = memchr(buf_data(&in), '\n', buf_len(&in)))) {
            size_t len = (size_t)(nl - buf_data(&in));
            char *line = xstrndup(buf_data(&in), len);
            buf_consume(&in, len + 1);
            if (strncmp(line, "msg ", 4) == 0) {
                printf("%s\n", line + 4);
                fflush(stdout);
            } else if (strncmp(line, "fail ", 5) == 0) {
                fprintf(stderr, "xmppdctl: %s\n", line + 5);
                has_failed = true;
            } else if (strncmp(line, "ok ", 3) == 0) {
                printf("xmppdctl: supervisor running (pid %s); logs in %s\n",
                       line + 3, conf->log_dir);
                rc = CTL_EXIT_OK;
            }
            free(line);
        }
    }
    buf_close(&in);
    return rc;
}

static int start_daemon(const ctl_conf *conf)
{
    uv_file fds[2];
    int err = uv_pipe(fds, 0, 0); /* both ends close on exec */
    if (err != 0) {
        fprintf(stderr, "xmppdctl: pipe: %s\n", xe_str(err));
        return CTL_EXIT_FAIL;
    }
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "xmppdctl: fork: %s\n",
                xe_str(uv_translate_sys_error(errno)));
        close(fds[0]);
        close(fds[1]);
        return CTL_EXIT_FAIL;
    }
    if (child == 0) {
        /* A new session without a terminal, then a second fork so that the
         * daemon is no session leader and can never acquire one. */
        close(fds[0]);
        if (setsid() < 0)
            _exit(CTL_EXIT_FAIL);
        pid_t daemon_pid = fork();
        if (daemon_pid != 0)
            _exit(daemon_pid < 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK);
        exit(start_daemon_main(conf, fds[1]));
    }
    close(fds[1]);
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        continue;
    int rc = start_wait(conf, fds[0]);
    close(fds[0]);
    return rc;
}

int ctl_cmd_start(const char *config, int argc, char **argv)
{
    bool is_foreground;
    int rc = start_parse("start", argc, argv, &is_foreground);
    if (rc != 0)
        return rc;
    ctl_conf *conf;
    if (ctl_conf_open(config, &conf) != 0)
        return CTL_EXIT_FAIL;
    cfg_diag diag = {.line = 0};
    if (ctl_conf_find_programs(conf, &diag) != 0) {
        cfg_diag_print(&diag);
        rc = CTL_EXIT_FAIL;
    } else if (ctl_dirs_create(conf) != 0 ||
               start_check_not_running(conf) != 0) {
        rc = CTL_EXIT_FAIL;
    } else {
        rc = is_foreground ? start_foreground(conf) : start_daemon(conf);
    }
    ctl_conf_free(conf);
    return rc;
}

int ctl_cmd_restart(const char *config, int argc, char **argv)
{
    bool is_foreground;
    int rc = start_parse("restart", argc, argv, &is_foreground);
    if (rc != 0)
        return rc;
    char *stop_argv[] = {(char *)"stop", NULL};
    rc = ctl_cmd_stop(config, 1, stop_argv);
    if (rc != 0)
        return rc;
    return ctl_cmd_start(config, argc, argv);
}
