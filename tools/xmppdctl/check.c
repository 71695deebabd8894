/* SPDX-License-Identifier: MIT */
/* tools/xmppdctl/check.c: `check-config`. Checks our part of the file, then
 * has every process in <run> check its own section with --check-config. */
#include "tools/xmppdctl/ctl.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "libcommon/error.h"

enum {
    CHECK_TIMEOUT_MS = 10000,
    CHECK_KILL_WAIT_MS = 2000,
    CHECK_OUTPUT_MAX = 64 * 1024,
};

/* One `xmppd-NAME -c FILE --check-config`, its output in one buffer. */
typedef struct check_run {
    uv_process_t process;
    uv_pipe_t output_pipe;
    uv_timer_t timer;
    buf output;
    int64_t status;
    int signum;
    bool has_exited;
    bool is_eof;
    bool is_timed_out;
} check_run;

static void check_maybe_done(check_run *r)
{
    if (r->has_exited && r->is_eof && !uv_is_closing((uv_handle_t *)&r->timer))
        uv_close((uv_handle_t *)&r->timer, NULL);
}

static void check_on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *b)
{
    check_run *r = handle->data;
    (void)suggested;
    b->base = buf_reserve(&r->output, 4096);
    b->len = 4096;
}

static void check_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b)
{
    check_run *r = stream->data;
    (void)b;
    if (nread > 0 && buf_len(&r->output) < CHECK_OUTPUT_MAX)
        buf_commit(&r->output, (size_t)nread);
    if (nread < 0) { /* UV_EOF, or an error: the end either way */
        uv_close((uv_handle_t *)stream, NULL);
        r->is_eof = true;
        check_maybe_done(r);
    }
}

static void check_on_exit(uv_process_t *process, int64_t status, int signum)
{
    check_run *r = process->data;
    r->status = status;
    r->signum = signum;
    r->has_exited = true;
    uv_close((uv_handle_t *)process, NULL);
    check_maybe_done(r);
}

static void check_on_timeout(uv_timer_t *timer)
{
    check_run *r = timer->data;
    if (!r->has_exited) {
        r->is_timed_out = true;
        uv_process_kill(&r->process, SIGKILL);
        uv_timer_start(timer, check_on_timeout, CHECK_KILL_WAIT_MS, 0);
        return;
    }
    /* It exited but something it left behind holds the pipe open. */
    if (!r->is_eof) {
        uv_close((uv_handle_t *)&r->output_pipe, NULL);
        r->is_eof = true;
    }
    check_maybe_done(r);
}

/* Runs the check; fills r. Returns 0 or the UV_E* that kept it from running. */
static int check_run_program(const ctl_conf *conf, const ctl_proc_conf *p,
                             check_run *r)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_file fds[2];
    int err = uv_pipe(fds, UV_NONBLOCK_PIPE, 0);
    if (err != 0) {
        uv_loop_close(&loop);
        return err;
    }
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_INHERIT_FD, .data.fd = fds[1]},
        {.flags = UV_INHERIT_FD, .data.fd = fds[1]},
    };
    char *args[] = {p->path, (char *)"-c", conf->config_path,
                    (char *)"--check-config", NULL};
    uv_process_options_t opts = {
        .exit_cb = check_on_exit,
        .file = p->path,
        .args = args,
        .stdio_count = 3,
        .stdio = stdio,
    };
    r->process.data = r;
    err = uv_spawn(&loop, &r->process, &opts);
    close(fds[1]);
    if (err != 0) {
        close(fds[0]);
        uv_close((uv_handle_t *)&r->process, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return err;
    }
    r->process.data = r;
    uv_pipe_init(&loop, &r->output_pipe, 0);
    r->output_pipe.data = r;
    uv_pipe_open(&r->output_pipe, fds[0]);
    uv_read_start((uv_stream_t *)&r->output_pipe, check_on_alloc,
                  check_on_read);
    uv_timer_init(&loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, check_on_timeout, CHECK_TIMEOUT_MS, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}

/* Checks one process. Returns true when its section is fine. */
static bool check_process(const ctl_conf *conf, const ctl_proc_conf *p)
{
    check_run r = {.status = 0};
    buf_init(&r.output);
    int err = check_run_program(conf, p, &r);
    bool is_ok = err == 0 && r.has_exited && !r.is_timed_out && r.signum == 0 &&
                 r.status == 0;
    if (is_ok) {
        buf_close(&r.output);
        return true;
    }
    /* The program's own "FILE:LINE: ..." lines say it best. */
    fwrite(buf_data(&r.output), 1, buf_len(&r.output), stderr);
    if (buf_len(&r.output) > 0 &&
        buf_data(&r.output)[buf_len(&r.output) - 1] != '\n')
        fputc('\n', stderr);
    char sig[32];
    if (err != 0)
        fprintf(stderr, "%s:%d: run: cannot run %s: %s\n", conf->config_path,
                p->line, p->path, xe_str(err));
    else if (r.is_timed_out)
        fprintf(stderr, "%s: %s --check-config did not finish within %ds\n",
                conf->config_path, p->program, CHECK_TIMEOUT_MS / 1000);
    else if (r.signum != 0)
        fprintf(stderr, "%s: %s --check-config was killed by %s\n",
                conf->config_path, p->program,
                ctl_signal_name(r.signum, sig, sizeof sig));
    else if (buf_len(&r.output) == 0)
        fprintf(stderr,
                "%s: %s --check-config failed with status %lld and "
                "said nothing\n",
                conf->config_path, p->program, (long long)r.status);
    buf_close(&r.output);
    return false;
}

/* The state directory need not exist yet (start creates it), but a file in
 * its place would stop every process. */
static bool check_state_dir(const ctl_conf *conf)
{
    struct stat st;
    if (stat(conf->state_dir, &st) != 0 || S_ISDIR(st.st_mode))
        return true;
    const cfg_node *node = cfg_child(cfg_root(conf->cfg), "state-dir");
    fprintf(stderr, "%s:%d: state-dir: %s exists and is not a directory\n",
            conf->config_path, node ? cfg_line(node) : 0, conf->state_dir);
    return false;
}

int ctl_cmd_check_config(const char *config, int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "xmppdctl check-config: unknown argument '%s'\n",
                argv[1]);
        ctl_usage_print(stderr);
        return CTL_EXIT_USAGE;
    }
    ctl_conf *conf;
    if (ctl_conf_open(config, &conf) != 0)
        return CTL_EXIT_FAIL;
    cfg_diag diag = {.line = 0};
    bool is_ok = check_state_dir(conf);
    if (ctl_conf_find_programs(conf, &diag) != 0) {
        cfg_diag_print(&diag);
        is_ok = false;
    } else {
        for (size_t i = 0; i < conf->nprocs; i++) {
            if (!check_process(conf, &conf->procs[i]))
                is_ok = false;
        }
    }
    if (is_ok)
        printf("%s: ok\n", conf->config_path);
    ctl_conf_free(conf);
    return is_ok ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}
