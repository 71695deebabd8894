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

/* Reads a process's part of the config into ud. Returns 0 or XE_* with diag
 * filled. */
typedef int proc_load_fn(const cfg *c, void *ud, cfg_diag *diag);
/* Frees what a proc_load_fn kept in ud, also after it failed. */
typedef void proc_close_fn(void *ud);

typedef struct proc_opts {
    const char *name;             /* "c2s": the log's name (proc_log_setup()) */
    const char *usage;            /* the --help text */
    proc_load_fn *load;
    proc_close_fn *close;
} proc_opts;

/* The start every process shares: proc_parse_args(), proc_load_config(),
 * opts->load and proc_log_setup(). Returns -1 to go on, with *args filled and
 * the config in *conf for the caller to cfg_free() (conf NULL: freed here).
 * Otherwise returns the status to exit with: 0 after --help or a good
 * --check-config, 1 for a bad config (printed as "FILE:LINE: message"), 2
 * for bad usage; after a load, opts->close has run. */
int proc_start(int argc, char **argv, const proc_opts *opts, void *ud,
               proc_args *args, cfg **conf);
/* The config's <name> section, which takes no attributes, in *sec. Returns 0
 * or XE_CONFIG with diag filled ("the config has no <NAME> section"). */
int proc_section(const cfg *c, const char *name, const cfg_node **sec,
                 cfg_diag *diag);
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
/* proc_section() and proc_domains() for a process that must serve a domain:
 * none is XE_CONFIG ("NAME: the config serves no <domain>"). On failure
 * *domains is NULL and *n 0. */
int proc_section_domains(const cfg *c, const char *name, const cfg_node **sec,
                         char ***domains, size_t *n, cfg_diag *diag);
/* Whether domain (normalized) is one of the n domains. */
bool proc_domains_has(char *const *domains, size_t n, const char *domain);
/* The state directory: <state-dir> resolved against the config's folder
 * ("." when absent). A new string the caller frees. */
char *proc_state_dir(const cfg *c);
#endif
