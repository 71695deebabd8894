/* SPDX-License-Identifier: MIT */
/* libcommon/proc.h: what every xmppd process does the same way at start. */
#ifndef XMPPD_LIBCOMMON_PROC_H
#define XMPPD_LIBCOMMON_PROC_H
#include <stdbool.h>
#include <uv.h>

#include "libcommon/cfg.h"

typedef struct proc_args {
    const char *config_path;      /* -c FILE */
    bool check_only;              /* --check-config */
} proc_args;

/* Reads every xmppd process's options: -c/--config FILE, --check-config and
 * -h/--help (usage goes to stdout). Returns -1 to go on, or the status to
 * exit with at once: 0 after --help, 2 for bad usage (usage on stderr). */
int proc_parse_args(int argc, char **argv, const char *usage, proc_args *out);
/* Loads args->config_path; on failure prints "FILE:LINE: message" to stderr
 * and returns NULL. */
cfg *proc_load_config(const proc_args *args);
/* Prints diag as "FILE:LINE: message", naming path when diag has no file. */
void proc_print_diag(cfg_diag *diag, const char *path);
/* SIGTERM and SIGINT call stop(ud) once, logging which arrived, and release
 * the signal handles so that the loop can end; SIGHUP reopens the log;
 * SIGPIPE is ignored. who names the process in the log. */
void proc_handle_signals(uv_loop_t *loop, const char *who, void (*stop)(void *ud),
                         void *ud);
/* Releases the signal handles early, for a process stopping on its own. */
void proc_release_signals(void);

/* Applies the config's <log level=... to=.../> for the process called name:
 * to="file" writes STATE-DIR/log/NAME.log. Returns 0 or XE_CONFIG with diag
 * filled. */
int proc_log_setup(const cfg *c, const char *name, cfg_diag *diag);
/* The config's served <domain>s, normalized (RFC 7622 §3.2): *n of them in
 * *out, freed with proc_domains_free(). None is no error here. Returns 0, or
 * XE_CONFIG with diag at the <domain> that is not a domain. */
int proc_domains(const cfg *c, char ***out, size_t *n, cfg_diag *diag);
void proc_domains_free(char **domains, size_t n);
/* The state directory: <state-dir> resolved against the config's folder
 * ("." when absent). A new string the caller frees. */
char *proc_state_dir(const cfg *c);
#endif
