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
        if (!path)
            return UV_EINVAL;
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
    /* "e": the processes xmppdctl spawns must not inherit the log file. */
    FILE *f = fopen(log_path, "ae");
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

    if ((unsigned)level > LOGL_DEBUG)
        level = LOGL_ERROR;
    if (!who)
        who = "-";
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
            log_names[level], who, msg);
}

/* The length of the UTF-8 sequence at s if it is valid and printable, else 0:
 * overlong forms, surrogates, values past U+10FFFF and the C1 controls
 * (U+0080..U+009F, which some terminals obey) are escaped byte by byte. */
static size_t log_utf8_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    size_t n;
    unsigned long cp, least;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
        least = 0xa0;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
        least = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
        least = 0x10000;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < least || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

const char *log_escape(const char *s, size_t len, char *out, size_t size)
{
    if (size == 0)
        return out;
    const unsigned char *in = (const unsigned char *)s;
    size_t room = size - 1;     /* the NUL always fits */
    size_t o = 0;
    size_t cut = 0;             /* the last end of a piece "..." still fits after */

    for (size_t i = 0; i < len;) {
        char piece[5];
        size_t n, used;
        unsigned char c = in[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            piece[0] = (char)c;
            n = used = 1;
        } else if (c >= 0x80 && (used = log_utf8_len(in + i, len - i)) > 0) {
            memcpy(piece, in + i, used);
            n = used;
        } else {
            snprintf(piece, sizeof piece, "\\x%02x", c);
            n = 4;
            used = 1;
        }
        if (o + n > room) {
            /* Pieces are never split, so an escape or a character stays whole. */
            size_t dots = room < 3 ? room : 3;
            memset(out + cut, '.', dots);
            out[cut + dots] = '\0';
            return out;
        }
        memcpy(out + o, piece, n);
        o += n;
        i += used;
        if (o + 3 <= room)
            cut = o;
    }
    out[o] = '\0';
    return out;
}
