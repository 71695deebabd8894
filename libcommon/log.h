/* SPDX-License-Identifier: MIT */
/* libcommon/log.h: readable log lines to stderr, a file or syslog.
 * A line: "2025-11-25T10:14:03.123Z warn router conn#4 127.0.0.1:4711: message",
 * the context (who) naming the process and the object the line is about. */
#ifndef XMPPD_LIBCOMMON_LOG_H
#define XMPPD_LIBCOMMON_LOG_H
#include <stddef.h>

typedef enum { LOGL_ERROR, LOGL_WARN, LOGL_INFO, LOGL_DEBUG } log_level;
typedef enum { LOG_TO_STDERR, LOG_TO_FILE, LOG_TO_SYSLOG } log_target;

extern log_level log_threshold;

/* Sends lines to target: path is the file for LOG_TO_FILE (opened for append,
 * reopened by log_reopen()), ident the program name for every target.
 * Returns 0 or a UV_E* code when the file cannot be opened. */
int log_open(log_target target, const char *path, const char *ident);
int log_reopen(void);            /* after rotation (SIGHUP) */
void log_close(void);
/* Parses "error", "warn", "info" or "debug"; returns 0 or XE_CONFIG. */
int log_level_parse(const char *name, log_level *out);
const char *log_level_name(log_level level);

void log_write(log_level level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies untrusted text into out (size > 0), keeping valid UTF-8 and replacing
 * control characters, backslashes and invalid bytes with \xHH and cutting it with "..." when it does not fit,
 * so peer text cannot forge a log line. Returns out. */
const char *log_escape(const char *s, size_t len, char *out, size_t size);

/* The level test comes first, so a silenced line costs no formatting. */
#define log_at(level, who, ...) \
    do { \
        if ((level) <= log_threshold) \
            log_write((level), (who), __VA_ARGS__); \
    } while (0)
#define log_error(who, ...) log_at(LOGL_ERROR, (who), __VA_ARGS__)
#define log_warn(who, ...) log_at(LOGL_WARN, (who), __VA_ARGS__)
#define log_info(who, ...) log_at(LOGL_INFO, (who), __VA_ARGS__)
#define log_debug(who, ...) log_at(LOGL_DEBUG, (who), __VA_ARGS__)
#endif
