/* SPDX-License-Identifier: MIT */
/* tools/xmppdctl/ctl.h: xmppdctl, the suite's supervisor and admin tool. The
 * contracts between its files: config (conf.c), PID files and /proc
 * (proc.c), the supervisor's status file (statusfile.c), the supervisor
 * itself (supervise.c) and one entry point per command. */
#ifndef XMPPD_TOOLS_XMPPDCTL_CTL_H
#define XMPPD_TOOLS_XMPPDCTL_CTL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "libcommon/cfg.h"
#include "libcommon/log.h"

#define CTL_WHO "xmppdctl" /* "who" in our log lines */
#define CTL_DEFAULT_CONFIG "/etc/xmppd/xmppd.xml"

/* Exit statuses; 3 is LSB's "program is not running" for status. */
enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAIL = 1,
    CTL_EXIT_USAGE = 2,
    CTL_EXIT_NOT_RUNNING = 3,
};

/* Timings of the supervisor and of `stop`. */
enum {
    CTL_SETTLE_MS = 300,        /* a new process must live this long */
    CTL_ROUTER_READY_MS = 5000, /* wait for router.ctl after that */
    CTL_STOP_GRACE_MS = 10000,  /* SIGTERM, then SIGKILL after this */
    CTL_SUPERVISOR_STOP_MS = 30000,
    CTL_BACKOFF_MAX_S = 60, /* restart delay cap */
    CTL_STABLE_MS = 60000,  /* up this long resets the backoff */
};

/* ---- conf.c: the parts of xmppd.xml that xmppdctl reads ---- */

typedef struct ctl_proc_conf {
    char *name;    /* "router" */
    char *program; /* "xmppd-router" */
    char *path;    /* set by ctl_conf_find_programs() */
    int line;      /* of its <process> element */
} ctl_proc_conf;

typedef struct ctl_conf {
    cfg *cfg;
    char *config_path;   /* absolute, as handed to every process */
    char *state_dir;     /* absolute */
    char *run_dir;       /* STATE/run: PID files and the status file */
    char *log_dir;       /* STATE/log */
    char *router_ctl;    /* the router's control socket, absolute */
    bool has_router_ctl; /* configured, so the router will make it */
    log_level level;
    log_target log_to;
    ctl_proc_conf *procs; /* <run> order */
    size_t nprocs;
} ctl_conf;

/* Loads path (made absolute against the working directory) and checks
 * <log> and <run>; <state-dir> is read as every process reads it (default:
 * the config file's folder). On success *out is a new ctl_conf the caller
 * frees with ctl_conf_free(). Returns 0 or XE_CONFIG with diag filled. */
int ctl_conf_load(const char *path, ctl_conf **out, cfg_diag *diag);
void ctl_conf_free(ctl_conf *conf); /* NULL is fine */
/* Finds xmppd-NAME for every process: next to our own executable first, then
 * in $PATH. Returns 0 or XE_CONFIG naming the first one missing. */
int ctl_conf_find_programs(ctl_conf *conf, cfg_diag *diag);
/* The config file: the -c value, else $XMPPD_CONFIG, else the default. */
const char *ctl_config_choose(const char *given);
/* Loads the chosen file for a command, printing any error. Returns 0 or
 * CTL_EXIT_FAIL. */
int ctl_conf_open(const char *given, ctl_conf **out);
/* New strings: STATE/run/NAME.pid and STATE/log/NAME.log. */
char *ctl_pid_path(const ctl_conf *conf, const char *name);
char *ctl_log_path(const ctl_conf *conf, const char *name);
char *ctl_status_path(const ctl_conf *conf);
/* Creates the state directory with run/ and log/. Returns 0 or UV_E*,
 * printing what failed. */
int ctl_dirs_create(const ctl_conf *conf);

/* ---- proc.c: PID files and what /proc says about a pid ---- */

typedef enum {
    CTL_PID_NONE,  /* no PID file */
    CTL_PID_STALE, /* a PID file whose process is gone */
    CTL_PID_LIVE,  /* the process runs */
} ctl_pid_state;

/* Reads path and checks that its pid runs program (argv[0], or the script of
 * an interpreter, has that base name), so a reused pid never counts.
 * *pid gets the number from the file, 0 when there is none. */
ctl_pid_state ctl_pidfile_check(const char *path, const char *program,
                                pid_t *pid);
/* Writes pid and a newline. Returns 0 or UV_E*. */
int ctl_pidfile_write(const char *path, pid_t pid);
/* Opens and locks path for the life of the supervisor. Returns 0 with *fd,
 * or UV_EBUSY when another supervisor holds it, or another UV_E*. */
int ctl_pidfile_lock(const char *path, int *fd);
/* Whether pid is alive (not a zombie) and runs program. */
bool ctl_pid_runs(pid_t pid, const char *program);
/* Seconds since pid started (from /proc/PID/stat), or -1. */
double ctl_pid_uptime_s(pid_t pid);
/* Waits up to timeout_ms for pid to stop running program; true if it did. */
bool ctl_pid_wait_gone(pid_t pid, const char *program, long timeout_ms);
/* SIGTERM, up to grace_ms, then SIGKILL and up to 5 s more. Returns 0, or
 * UV_ETIMEDOUT if it survived, or the kill() error. Sets *was_killed when it
 * took SIGKILL. */
int ctl_pid_terminate(pid_t pid, const char *program, long grace_ms,
                      bool *was_killed);
/* Marks every descriptor above stderr close-on-exec (from /proc/self/fd), so
 * none of ours, a library's or our parent's leaks into a child. */
void ctl_fds_cloexec(void);
/* "0.2s", "42s", "3m05s", "2h01m", "3d04h" into out. Returns out. */
const char *ctl_fmt_duration(double seconds, char *out, size_t size);
/* "SIGKILL", or "signal 42". Returns a static or the out buffer. */
const char *ctl_signal_name(int signum, char *out, size_t size);

/* ---- statusfile.c: STATE/run/status, rewritten by the supervisor ---- */

typedef struct ctl_status_entry {
    char name[64];
    char state[16]; /* idle starting running backoff
                       stopping stopped */
    long pid;       /* 0 when not running */
    unsigned restarts;
    long since;     /* epoch seconds of the last start, or 0 */
    long retry_at;  /* epoch seconds of the next restart, or 0 */
    char last[128]; /* how it last ended, "" when it has not */
} ctl_status_entry;

typedef struct ctl_status {
    long supervisor_pid;
    long supervisor_since;
    ctl_status_entry *entries;
    size_t count;
} ctl_status;

/* Replaces path atomically (write, then rename). Returns 0 or UV_E*. */
int ctl_status_write(const char *path, const ctl_status *st);
/* Reads path into *st; the caller frees with ctl_status_close(). Returns 0,
 * UV_ENOENT or another UV_E*. Unknown keys and lines are skipped. */
int ctl_status_read(const char *path, ctl_status *st);
void ctl_status_close(ctl_status *st);
const ctl_status_entry *ctl_status_find(const ctl_status *st, const char *name);

/* ---- supervise.c: the supervisor's event loop ---- */

/* Starts every process in <run> order, restarts crashed ones with backoff,
 * forwards SIGHUP and stops everything in reverse order on SIGTERM or SIGINT.
 * notify_fd (or -1) is the pipe to a waiting `start`: it gets "msg TEXT",
 * "fail TEXT" and "ok PID" lines. The supervisor owns lock_fd (its locked PID
 * file) and notify_fd, and closes both at the end, after every PID file is
 * gone. Returns the process exit status. */
int ctl_supervise(const ctl_conf *conf, bool is_foreground, int lock_fd,
                  int notify_fd);

/* ---- commands: each gets the -c value and its own arguments ---- */

typedef int ctl_command_fn(const char *config, int argc, char **argv);

ctl_command_fn ctl_cmd_start;        /* start.c */
ctl_command_fn ctl_cmd_restart;      /* start.c */
ctl_command_fn ctl_cmd_stop;         /* stop.c */
ctl_command_fn ctl_cmd_status;       /* status.c */
ctl_command_fn ctl_cmd_check_config; /* check.c */
ctl_command_fn ctl_cmd_adduser;      /* users.c */
ctl_command_fn ctl_cmd_passwd;       /* users.c */
ctl_command_fn ctl_cmd_deluser;      /* users.c */
ctl_command_fn ctl_cmd_listusers;    /* users.c */

void ctl_help_print(FILE *out);  /* help.c: the manual */
void ctl_usage_print(FILE *out); /* main.c: the short form */
#endif
