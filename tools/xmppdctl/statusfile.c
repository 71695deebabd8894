/* SPDX-License-Identifier: MIT */
/* tools/xmppdctl/statusfile.c: STATE/run/status, the supervisor's account of
 * its processes for `xmppdctl status`. A text file of key=value lines:
 *
 *   # xmppdctl status; rewritten by the supervisor on every change
 *   supervisor pid=4242 since=1764170000
 *   process name=router state=running pid=4243 restarts=2 since=1764170031
 *     retry-at=0 last=killed by SIGKILL
 *
 * (the process line is one line, broken here to fit).
 *
 * One "process" line per process in <run> order. "last" comes last and takes
 * the rest of the line, so it may hold spaces; other values hold none. */
#include "tools/xmppdctl/ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "libcommon/alloc.h"
#include "libcommon/buf.h"

int ctl_status_write(const char *path, const ctl_status *st)
{
    buf b;
    buf_init(&b);
    buf_append_str(&b, "# xmppdctl status; rewritten by the supervisor on "
                       "every change\n");
    buf_printf(&b, "supervisor pid=%ld since=%ld\n", st->supervisor_pid,
               st->supervisor_since);
    for (size_t i = 0; i < st->count; i++) {
        const ctl_status_entry *e = &st->entries[i];
        buf_printf(&b,
                   "process name=%s state=%s pid=%ld restarts=%u since=%ld "
                   "retry-at=%ld last=%s\n",
                   e->name, e->state, e->pid, e->restarts, e->since,
                   e->retry_at, e->last);
    }
    char *tmp = xasprintf("%s.tmp", path);
    int err = 0;
    FILE *f = fopen(tmp, "we");
    if (!f) {
        err = uv_translate_sys_error(errno);
    } else {
        if (fwrite(buf_data(&b), 1, buf_len(&b), f) != buf_len(&b))
            err = uv_translate_sys_error(errno);
        if (fclose(f) != 0 && err == 0)
            err = uv_translate_sys_error(errno);
        if (err == 0 && rename(tmp, path) != 0)
            err = uv_translate_sys_error(errno);
        if (err != 0)
            unlink(tmp);
    }
    free(tmp);
    buf_close(&b);
    return err;
}

static void status_copy(char *dst, size_t size, const char *src, size_t len)
{
    if (len >= size)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Applies one key=value of a "process" line to e. */
static void status_set(ctl_status_entry *e, const char *key, size_t key_len,
                       const char *value, size_t value_len)
{
    char num[32];
    status_copy(num, sizeof num, value, value_len);
    if (key_len == 4 && memcmp(key, "name", 4) == 0)
        status_copy(e->name, sizeof e->name, value, value_len);
    else if (key_len == 5 && memcmp(key, "state", 5) == 0)
        status_copy(e->state, sizeof e->state, value, value_len);
    else if (key_len == 3 && memcmp(key, "pid", 3) == 0)
        e->pid = strtol(num, NULL, 10);
    else if (key_len == 8 && memcmp(key, "restarts", 8) == 0)
        e->restarts = (unsigned)strtoul(num, NULL, 10);
    else if (key_len == 5 && memcmp(key, "since", 5) == 0)
        e->since = strtol(num, NULL, 10);
    else if (key_len == 8 && memcmp(key, "retry-at", 8) == 0)
        e->retry_at = strtol(num, NULL, 10);
}

static void status_parse_process(ctl_status_entry *e, const char *p)
{
    while (*p) {
        while (*p == ' ')
            p++;
        const char *eq = strchr(p, '=');
        if (!eq)
            return;
        size_t key_len = (size_t)(eq - p);
        const char *value = eq + 1;
        if (key_len == 4 && memcmp(p, "last", 4) == 0) {
            status_copy(e->last, sizeof e->last, value, strlen(value));
            return;
        }
        size_t value_len = strcspn(value, " ");
        status_set(e, p, key_len, value, value_len);
        p = value + value_len;
    }
}

int ctl_status_read(const char *path, ctl_status *st)
{
    memset(st, 0, sizeof *st);
    FILE *f = fopen(path, "re");
    if (!f)
        return uv_translate_sys_error(errno);
    size_t cap = 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "supervisor ", 11) == 0) {
            const char *pid = strstr(line, " pid=");
            const char *since = strstr(line, " since=");
            st->supervisor_pid = pid ? strtol(pid + 5, NULL, 10) : 0;
            st->supervisor_since = since ? strtol(since + 7, NULL, 10) : 0;
        } else if (strncmp(line, "process ", 8) == 0) {
            if (st->count == cap) {
                cap = cap ? cap * 2 : 8;
                st->entries = xrealloc(st->entries, cap * sizeof *st->entries);
            }
            ctl_status_entry *e = &st->entries[st->count];
            memset(e, 0, sizeof *e);
            status_parse_process(e, line + 8);
            if (e->name[0])
                st->count++;
        }
    }
    fclose(f);
    return 0;
}

void ctl_status_close(ctl_status *st)
{
    free(st->entries);
    memset(st, 0, sizeof *st);
}

const ctl_status_entry *ctl_status_find(const ctl_status *st, const char *name)
{
    for (size_t i = 0; i < st->count; i++) {
        if (strcmp(st->entries[i].name, name) == 0)
            return &st->entries[i];
    }
    return NULL;
}
