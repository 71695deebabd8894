/* SPDX-License-Identifier: MIT */
/* libcommon/proc.h: what every xmppd process does the same way at start. */
#ifndef XMPPD_LIBCOMMON_PROC_H
#define XMPPD_LIBCOMMON_PROC_H
#include "libcommon/cfg.h"

/* Applies the config's <log level=... to=.../> for the process called name:
 * to="file" writes STATE-DIR/log/NAME.log. Returns 0 or XE_CONFIG with diag
 * filled. */
int proc_log_setup(const cfg *c, const char *name, cfg_diag *diag);
/* The state directory: <state-dir> resolved against the config's folder
 * ("." when absent). A new string the caller frees. */
char *proc_state_dir(const cfg *c);
#endif
