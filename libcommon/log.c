/* SPDX-License-Identifier: MIT */
/* libcommon/log.c: log lines with a UTC timestamp, a level and a context. */
#include "libcommon/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <uv.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"

log_level log_threshold = LOGL_INFO;

static log_target log_dest = LOG_TO_STDERR;
static FILE *log_file;
static char *log_path;
static char *log_ident;

static const char *const log_names[] = { "error", "warn", "info", "debug" };

int log_open(log_target target, const char *path, const char *ident)
{
    log_close();
    log_ident = xstrdup(ident ? ident : "xmppd");
    log_dest = target;
    if (target == LOG_TO_FILE) {
        log_path = xstrdup(path);
        return log_reopen();
    }
    if (target == LOG_TO_SYSLOG)
        openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    return 0;
}

int log_reopen(void)
{
    if (log_dest != LOG_TO_FILE)
        return 0;
    FILE *f = fopen(log_path, "a");
    if (!f)
        return uv_translate_sys_error(errno);
    if (log_file)
        fclose(log_file);
    setvbuf(f, NULL, _IOLBF, 0);
    log_file = f;
    return 0;
}

void log_close(void)
{
    if (log_file)
        fclose(log_file);
    if (log_dest == LOG_TO_SYSLOG)
        closelog();
    log_file = NULL;
    free(log_path);
    free(log_ident);
    log_path = log_ident = NULL;
    log_dest = LOG_TO_STDERR;
}

int log_level_parse(const char *name, log_level *out)
{
    for (size_t i = 0; i < sizeof log_names / sizeof log_names[0]; i++) {
        if (name && strcmp(name, log_names[i]) == 0) {
            *out = (log_level)i;
            return 0;
        }
    }
    return XE_CONFIG;
}

const char *log_level_name(log_level level)
{
    return (unsigned)level < 4 ? log_names[level] : "?";
}

void log_write(log_level level, const char *who, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    if (log_dest == LOG_TO_SYSLOG) {
        static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
        syslog(prio[level], "%s %s: %s", log_names[level], who, msg);
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    FILE *out = log_file ? log_file : stderr;
    fprintf(out, "%s.%03ldZ %s %s: %s\n", stamp, now.tv_nsec / 1000000,
            log_names[level], who ? who : "-", msg);
}

const char *log_escape(const char *s, size_t len, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[5];
        size_t n = 1;
        if (c < 0x20 || c == 0x7f || c == '\\') {
            snprintf(esc, sizeof esc, "\\x%02x", c);
            n = 4;
        } else {
            esc[0] = (char)c;
        }
        if (o + n + 4 > size) {     /* keep room for "..." and the NUL */
            if (size >= 4) {
                memcpy(out + (o < size - 4 ? o : size - 4), "...", 4);
            } else if (size > 0) {
                out[0] = '\0';
            }
            return out;
        }
        memcpy(out + o, esc, n);
        o += n;
    }
    out[o] = '\0';
    return out;
}
