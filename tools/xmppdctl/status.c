/* SPDX-License-Identifier: MIT */
/* tools/xmppdctl/status.c: `status`. What runs, from PID files checked
 * against /proc; restarts from the supervisor's status file; the router's own
 * report from its control socket. Exit 0 when everything runs, else 3 (LSB). */
#include "tools/xmppdctl/ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "libcommon/error.h"

enum { STATUS_REPORT_MAX = 64 * 1024, STATUS_REPORT_TIMEOUT_S = 2 };

static void status_print_report_line(const char *line, size_t len)
{
    /* The report is the router's text; keep it from driving the terminal. */
    fputs("    ", stdout);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c == '\r')
            continue;
        putchar(c < 0x20 && c != '\t' ? '?' : c);
    }
    putchar('\n');
}

/* Connects to the router's control socket; the router writes its report
 * (lines of text) and closes. */
static void status_router_report(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        printf("    (no report: the control socket path %s is too long)\n",
               path);
        return;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        printf("    (no report: socket: %s)\n",
               xe_str(uv_translate_sys_error(errno)));
        return;
    }
    struct timeval tv = {.tv_sec = STATUS_REPORT_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        printf("    (no report: cannot connect to %s: %s)\n", path,
               xe_str(uv_translate_sys_error(errno)));
        close(fd);
        return;
    }
    buf report;
    buf_init(&report);
    const char *trouble = NULL;
    while (buf_len(&report) < STATUS_REPORT_MAX) {
        char *space = buf_reserve(&report, 4096);
        ssize_t n = read(fd, space, 4096);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            trouble = errno == EAGAIN || errno == EWOULDBLOCK
                          ? "the router did not finish its report in time"
                          : "the connection failed";
            break;
        }
        if (n == 0)
            break;
        buf_commit(&report, (size_t)n);
    }
    close(fd);
    if (buf_len(&report) >= STATUS_REPORT_MAX)
        trouble = "the report is too long; cut short";
    const char *p = buf_data(&report);
    const char *end = p + buf_len(&report);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        status_print_report_line(p, len);
        p += len + (nl ? 1 : 0);
    }
    if (buf_len(&report) == 0 && !trouble)
        trouble = "the router sent an empty report";
    if (trouble)
        printf("    (%s)\n", trouble);
    buf_close(&report);
}

/* The supervisor's view of a process that is not running, as "a, b, c" in
 * out ("" when it has none). */
static const char *status_describe_down(const ctl_status_entry *e, char *out,
                                        size_t size)
{
    out[0] = '\0';
    if (!e)
        return out;
    size_t len = 0;
    if (strcmp(e->state, "backoff") == 0) {
        long wait_s = e->retry_at - (long)time(NULL);
        len += (size_t)snprintf(out + len, size - len, "restarting in %lds, ",
                                wait_s > 0 ? wait_s : 0);
    } else if (strcmp(e->state, "idle") == 0 ||
               strcmp(e->state, "starting") == 0) {
        len += (size_t)snprintf(out + len, size - len, "starting, ");
    }
    if (len < size && e->restarts > 0)
        len += (size_t)snprintf(out + len, size - len, "restarts %u, ",
                                e->restarts);
    if (len < size && e->last[0])
        len += (size_t)snprintf(out + len, size - len, "last %s, ", e->last);
    if (len >= 2 && len < size)
        out[len - 2] = '\0'; /* the final ", " */
    return out;
}

int ctl_cmd_status(const char *config, int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "xmppdctl status: unknown argument '%s'\n", argv[1]);
        ctl_usage_print(stderr);
        return CTL_EXIT_USAGE;
    }
    ctl_conf *conf;
    if (ctl_conf_open(config, &conf) != 0)
        return CTL_EXIT_FAIL;

    int width = (int)strlen("xmppdctl");
    for (size_t i = 0; i < conf->nprocs; i++) {
        int len = (int)strlen(conf->procs[i].name);
        width = len > width ? len : width;
    }

    char *path = ctl_pid_path(conf, "xmppdctl");
    pid_t pid;
    ctl_pid_state state = ctl_pidfile_check(path, "xmppdctl", &pid);
    free(path);
    bool is_all_up = state == CTL_PID_LIVE;
    char up[32];

    /* The status file speaks for a live supervisor only. */
    ctl_status st = {.count = 0};
    char *status_path = ctl_status_path(conf);
    if (state != CTL_PID_LIVE || ctl_status_read(status_path, &st) != 0 ||
        st.supervisor_pid != (long)pid)
        ctl_status_close(&st);
    free(status_path);

    printf("%-*s  ", width, "xmppdctl");
    if (state == CTL_PID_LIVE)
        printf("running (pid %ld, up %s)\n", (long)pid,
               ctl_fmt_duration(ctl_pid_uptime_s(pid), up, sizeof up));
    else if (state == CTL_PID_STALE)
        printf("not running (stale pid file)\n");
    else
        printf("not running\n");

    for (size_t i = 0; i < conf->nprocs; i++) {
        const ctl_proc_conf *p = &conf->procs[i];
        const ctl_status_entry *e = ctl_status_find(&st, p->name);
        path = ctl_pid_path(conf, p->name);
        state = ctl_pidfile_check(path, p->program, &pid);
        free(path);
        printf("%-*s  ", width, p->name);
        if (state == CTL_PID_LIVE) {
            printf("running (pid %ld, up %s", (long)pid,
                   ctl_fmt_duration(ctl_pid_uptime_s(pid), up, sizeof up));
            if (e && e->restarts > 0)
                printf(", restarts %u, last %s", e->restarts, e->last);
            printf(")\n");
            if (strcmp(p->name, "router") == 0)
                status_router_report(conf->router_ctl);
            continue;
        }
        is_all_up = false;
        char down[256];
        status_describe_down(e, down, sizeof down);
        if (state == CTL_PID_STALE)
            printf("not running (stale pid file%s%s)\n", down[0] ? "; " : "",
                   down);
        else if (down[0])
            printf("not running (%s)\n", down);
        else
            printf("not running\n");
    }
    ctl_status_close(&st);
    ctl_conf_free(conf);
    return is_all_up ? CTL_EXIT_OK : CTL_EXIT_NOT_RUNNING;
}
