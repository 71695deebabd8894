/* SPDX-License-Identifier: MIT */
/* tools/xmppdctl/proc.c: PID files, and what /proc says about a pid. A pid
 * read from a file is only trusted when /proc shows it runs the program we
 * expect, so a pid reused by an unrelated process is never signalled. */
#include "tools/xmppdctl/ctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <uv.h>

#include "libcommon/alloc.h"

enum { PROC_POLL_MS = 20, PROC_KILL_WAIT_MS = 5000 };

/* Reads a small /proc file into out (NUL-terminated); returns its length or
 * -1. */
static ssize_t proc_read(pid_t pid, const char *what, char *out, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, what);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    while (len < size - 1) {
        ssize_t n = read(fd, out + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    out[len] = '\0';
    return (ssize_t)len;
}

/* The fields of /proc/PID/stat after "(comm)", which may hold spaces. */
static const char *proc_stat_fields(pid_t pid, char *buf, size_t size)
{
    if (proc_read(pid, "stat", buf, size) <= 0)
        return NULL;
    char *close_paren = strrchr(buf, ')');
    if (!close_paren || close_paren[1] != ' ')
        return NULL;
    return close_paren + 2; /* field 3, the state */
}

static bool proc_is_alive(pid_t pid)
{
    if (pid <= 0)
        return false;
    if (kill(pid, 0) != 0 && errno != EPERM)
        return false;
    char buf[1024];
    const char *fields = proc_stat_fields(pid, buf, sizeof buf);
    /* A zombie has exited; only its parent's wait is missing. */
    return fields && fields[0] != 'Z' && fields[0] != 'X';
}

static const char *proc_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

bool ctl_pid_runs(pid_t pid, const char *program)
{
    if (!proc_is_alive(pid))
        return false;
    char cmdline[4096];
    ssize_t len = proc_read(pid, "cmdline", cmdline, sizeof cmdline);
    if (len <= 0)
        return false;
    const char *argv0 = cmdline;
    if (strcmp(proc_base(argv0), program) == 0)
        return true;
    /* A script runs as "INTERPRETER SCRIPT ...". Then the kernel names the
     * task after the script, which tells it from "vi xmppd-router". */
    size_t argv0_len = strlen(argv0);
    if ((ssize_t)argv0_len + 1 >= len)
        return false;
    const char *argv1 = cmdline + argv0_len + 1;
    if (strcmp(proc_base(argv1), program) != 0)
        return false;
    char comm[64];
    if (proc_read(pid, "comm", comm, sizeof comm) <= 0)
        return false;
    comm[strcspn(comm, "\n")] = '\0';
    return strncmp(comm, program, 15) == 0; /* the kernel keeps 15 bytes */
}

static pid_t proc_pidfile_read(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1 || pid <= 1 || pid > 0x3fffffff)
        pid = 0;
    fclose(f);
    return (pid_t)pid;
}

ctl_pid_state ctl_pidfile_check(const char *path, const char *program,
                                pid_t *pid)
{
    pid_t found = proc_pidfile_read(path);
    *pid = found > 0 ? found : 0;
    if (found < 0)
        return CTL_PID_NONE;
    return found > 0 && ctl_pid_runs(found, program) ? CTL_PID_LIVE
                                                     : CTL_PID_STALE;
}

static int proc_write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return uv_translate_sys_error(errno);
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int ctl_pidfile_write(const char *path, pid_t pid)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return uv_translate_sys_error(errno);
    char line[32];
    int n = snprintf(line, sizeof line, "%ld\n", (long)pid);
    int err = proc_write_all(fd, line, (size_t)n);
    if (close(fd) != 0 && err == 0)
        err = uv_translate_sys_error(errno);
    return err;
}

/* The lock, not the file's existence, says a supervisor runs: two `start`s
 * racing past the PID check still get only one supervisor. */
int ctl_pidfile_lock(const char *path, int *fd)
{
    *fd = -1;
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0)
        return uv_translate_sys_error(errno);
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int err =
            errno == EWOULDBLOCK ? UV_EBUSY : uv_translate_sys_error(errno);
        close(f);
        return err;
    }
    char line[32];
    int n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    int err = 0;
    if (ftruncate(f, 0) != 0)
        err = uv_translate_sys_error(errno);
    if (err == 0)
        err = proc_write_all(f, line, (size_t)n);
    if (err != 0) {
        close(f);
        return err;
    }
    *fd = f;
    return 0;
}

double ctl_pid_uptime_s(pid_t pid)
{
    char buf[1024];
    const char *fields = proc_stat_fields(pid, buf, sizeof buf);
    if (!fields)
        return -1;
    /* starttime is field 22; fields points at field 3. */
    const char *p = fields;
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    if (!p)
        return -1;
    unsigned long long start_ticks = strtoull(p, NULL, 10);
    FILE *f = fopen("/proc/uptime", "re");
    if (!f)
        return -1;
    double boot_s = 0;
    int ok = fscanf(f, "%lf", &boot_s);
    fclose(f);
    long ticks = sysconf(_SC_CLK_TCK);
    if (ok != 1 || ticks <= 0)
        return -1;
    double up_s = boot_s - (double)start_ticks / (double)ticks;
    return up_s < 0 ? 0 : up_s;
}

static void proc_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

bool ctl_pid_wait_gone(pid_t pid, const char *program, long timeout_ms)
{
    for (long waited = 0;; waited += PROC_POLL_MS) {
        if (!ctl_pid_runs(pid, program))
            return true;
        if (waited >= timeout_ms)
            return false;
        proc_sleep_ms(PROC_POLL_MS);
    }
}

int ctl_pid_terminate(pid_t pid, const char *program, long grace_ms,
                      bool *was_killed)
{
    *was_killed = false;
    if (!ctl_pid_runs(pid, program))
        return 0;
    if (kill(pid, SIGTERM) != 0)
        return errno == ESRCH ? 0 : uv_translate_sys_error(errno);
    if (ctl_pid_wait_gone(pid, program, grace_ms))
        return 0;
    /* Checked again right before the signal: it is still ours. */
    if (ctl_pid_runs(pid, program)) {
        *was_killed = true;
        if (kill(pid, SIGKILL) != 0 && errno != ESRCH)
            return uv_translate_sys_error(errno);
    }
    return ctl_pid_wait_gone(pid, program, PROC_KILL_WAIT_MS) ? 0
                                                              : UV_ETIMEDOUT;
}

void ctl_fds_cloexec(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return;
    int own = dirfd(dir);
    struct dirent *d;
    while ((d = readdir(dir))) {
        char *end;
        long fd = strtol(d->d_name, &end, 10);
        if (*end || end == d->d_name || fd <= STDERR_FILENO || fd == own)
            continue;
        int flags = fcntl((int)fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC))
            fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC);
    }
    closedir(dir);
}

const char *ctl_fmt_duration(double s, char *out, size_t size)
{
    if (s < 0)
        s = 0;
    long whole = (long)s;
    if (s < 10)
        snprintf(out, size, "%.1fs", s);
    else if (whole < 60)
        snprintf(out, size, "%lds", whole);
    else if (whole < 3600)
        snprintf(out, size, "%ldm%02lds", whole / 60, whole % 60);
    else if (whole < 86400)
        snprintf(out, size, "%ldh%02ldm", whole / 3600, whole % 3600 / 60);
    else
        snprintf(out, size, "%ldd%02ldh", whole / 86400, whole % 86400 / 3600);
    return out;
}

const char *ctl_signal_name(int signum, char *out, size_t size)
{
    static const struct {
        int num;
        const char *name;
    } names[] = {
        {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"},
        {SIGILL, "SIGILL"},   {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"},
        {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},   {SIGKILL, "SIGKILL"},
        {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
        {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},
        {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].num == signum)
            return names[i].name;
    }
    snprintf(out, size, "signal %d", signum);
    return out;
}
