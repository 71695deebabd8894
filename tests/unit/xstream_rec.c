/* SPDX-License-Identifier: MIT */
/* tests/unit/xstream_rec.c: recording an xstream's events in tests. */
#include "tests/unit/xstream_rec.h"

#include <check.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/xmlmem.h"

static void rec_on_open(void *ud, xs_elem *header)
{
    rec *r = ud;
    r->opens++;
    char *s = xs_to_string(header, NULL);
    buf_printf(&r->log, "open %s ns=%s\n", s, xstream_content_ns(r->xs));
    free(s);
    xs_unref(r->header);
    r->header = xs_ref(header);
}

static void rec_on_stanza(void *ud, xs_elem *st, const char *raw, size_t len)
{
    rec *r = ud;
    char *s = xs_to_string(st, xstream_content_ns(r->xs));
    buf_printf(&r->log, "stanza %.*s => %s\n", (int)len, raw, s);
    free(s);
    if (r->stanzas < REC_MAX_KEPT) {
        r->trees[r->stanzas] = xs_ref(st);
        r->raws[r->stanzas] = strndup(raw, len);
    }
    r->stanzas++;
    if (r->reset_after && strcmp(xs_name(st), r->reset_after) == 0)
        xstream_reset(r->xs);
    if (r->stop_after && strcmp(xs_name(st), r->stop_after) == 0)
        xstream_stop(r->xs);
}

static void rec_on_close(void *ud)
{
    rec *r = ud;
    r->closes++;
    buf_append_str(&r->log, "close\n");
}

static void rec_on_error(void *ud, xs_stream_condition cond, const char *text)
{
    rec *r = ud;
    r->errors++;
    r->cond = cond;
    snprintf(r->why, sizeof r->why, "%s", text);
    buf_printf(&r->log, "error %s\n", xs_stream_condition_name(cond));
}

static const xstream_events rec_events = {
    .open = rec_on_open,
    .stanza = rec_on_stanza,
    .close = rec_on_close,
    .error = rec_on_error,
};

rec *rec_new(bool shallow, const xstream_limits *limits)
{
    rec *r = xalloc(sizeof *r);
    buf_init(&r->log);
    r->xs = xstream_new(limits, shallow, &rec_events, r);
    return r;
}

char *rec_done(rec *r)
{
    xstream_free(r->xs);
    xs_unref(r->header);
    for (int i = 0; i < r->stanzas && i < REC_MAX_KEPT; i++) {
        xs_unref(r->trees[i]);
        free(r->raws[i]);
    }
    char *log = buf_steal(&r->log);
    free(r);
    return log;
}

void rec_free(rec *r)
{
    free(rec_done(r));
}

void rec_expect(const rec *r, rec_counts want)
{
    ck_assert_int_eq(r->opens, want.opens);
    ck_assert_int_eq(r->stanzas, want.stanzas);
    ck_assert_int_eq(r->closes, want.closes);
    ck_assert_int_eq(r->errors, want.errors);
}

void rec_expect_limit(const rec *r, int rc, bool is_within)
{
    if (is_within) {
        ck_assert_int_eq(rc, 0);
        rec_expect(r, (rec_counts){.opens = 1, .stanzas = 1});
    } else {
        ck_assert_int_eq(rc, XE_LIMIT);
        rec_expect(r, (rec_counts){.opens = 1, .errors = 1});
        ck_assert_int_eq(r->cond, XS_STREAM_POLICY_VIOLATION);
    }
}

void rec_expect_error(const rec *r, int rc, int want, xs_stream_condition cond,
                      const char *because)
{
    ck_assert_int_eq(rc, want);
    ck_assert_int_eq(r->errors, 1);
    ck_assert_int_eq(r->cond, cond);
    if (because)
        ck_assert_msg(strstr(r->why, because), "%s", r->why);
}

int rec_feed(rec *r, const char *s)
{
    return xstream_feed(r->xs, s, strlen(s));
}

int rec_feed_steps(xstream *xs, const char *s, size_t len, size_t step,
                   int *rests)
{
    if (step == 0)
        step = len;
    for (size_t i = 0; i < len; i += step) {
        int rc = xstream_feed(xs, s + i, len - i < step ? len - i : step);
        if (rests)
            *rests += xstream_rest(xs);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The log of a new recorder fed s in two pieces split at split (0: one
 * piece), ending in "rc N" for the last result, which *rc gets too. */
static char *rec_log_of_split(const char *s, bool shallow,
                              const char *reset_after, size_t split, int *rc)
{
    rec *r = rec_new(shallow, NULL);
    r->reset_after = reset_after;
    size_t len = strlen(s);
    *rc = xstream_feed(r->xs, s, split);
    if (*rc == 0)
        *rc = xstream_feed(r->xs, s + split, len - split);
    buf_printf(&r->log, "rc %d\n", *rc);
    return rec_done(r);
}

/* As rec_log_of_split, fed as rec_feed_steps() does. */
static char *rec_log_of_steps(const char *s, bool shallow,
                              const char *reset_after, size_t step, int *rc,
                              int *rests)
{
    rec *r = rec_new(shallow, NULL);
    r->reset_after = reset_after;
    *rc = rec_feed_steps(r->xs, s, strlen(s), step, rests);
    buf_printf(&r->log, "rc %d\n", *rc);
    return rec_done(r);
}

void rec_assert_same_at_every_split(const char *s, bool shallow,
                                    const char *reset_after)
{
    int rc;
    char *whole = rec_log_of_split(s, shallow, reset_after, 0, &rc);
    ck_assert_int_eq(rc, XE_CLOSED);
    for (size_t at = 1; at < strlen(s); at++) {
        char *split = rec_log_of_split(s, shallow, reset_after, at, &rc);
        ck_assert_msg(strcmp(whole, split) == 0,
                      "split at %zu:\n%s\ninstead of\n%s", at, split, whole);
        free(split);
    }
    free(whole);
}

void rec_assert_same_in_steps(const char *s, bool shallow,
                              const char *reset_after, const size_t *steps,
                              size_t n, int *rests)
{
    int rc;
    char *whole = rec_log_of_steps(s, shallow, reset_after, 0, &rc, NULL);
    for (size_t k = 0; k < n; k++) {
        char *log =
            rec_log_of_steps(s, shallow, reset_after, steps[k], &rc, rests);
        ck_assert_int_eq(rc, XE_CLOSED);
        ck_assert_msg(strcmp(whole, log) == 0, "%sin steps of %zu:\n%s",
                      rests ? "resting " : "", steps[k], log);
        free(log);
    }
    free(whole);
}

char *rec_stanza_of(size_t size)
{
    static const char head[] = "<message><body>", tail[] = "</body></message>";
    size_t fill = size - (sizeof head - 1) - (sizeof tail - 1);
    char *s = xalloc(size + 1);
    memcpy(s, head, sizeof head - 1);
    memset(s + sizeof head - 1, 'x', fill);
    memcpy(s + sizeof head - 1 + fill, tail, sizeof tail);
    return s;
}

static void rec_bulk_on_stanza(void *ud, xs_elem *st, const char *raw,
                               size_t len)
{
    rec_bulk *b = ud;
    (void)st;
    if (b->seen >= b->count || len != b->lens[b->seen] ||
        memcmp(raw, buf_data(&b->stream) + b->starts[b->seen], len) != 0)
        b->raw_ok = false;
    b->seen++;
}

const xstream_events rec_bulk_events = {.stanza = rec_bulk_on_stanza};

void rec_bulk_init(rec_bulk *b, size_t count, const char *header,
                   const char *footer)
{
    *b = (rec_bulk){.count = count, .raw_ok = true};
    buf_init(&b->stream);
    b->starts = xalloc(count * sizeof *b->starts);
    b->lens = xalloc(count * sizeof *b->lens);
    buf_append_str(&b->stream, header);
    unsigned seed = 7;
    for (size_t i = 0; i < count; i++) {
        seed = seed * 1103515245 + 12345;
        size_t body = (seed >> 8) % 700;
        if (i % 3 == 0)
            buf_append_str(&b->stream, " \n");
        b->starts[i] = buf_len(&b->stream);
        buf_printf(&b->stream,
                   "<message to='u%zu@example.com' id='%zu'><body>", i, i);
        for (size_t k = 0; k < body; k++) {
            if (k % 50 == 49)
                buf_append_str(&b->stream, "&amp;");
            else
                buf_append(&b->stream, &"abcdefghijklmnopqrstuvwxyz"[k % 26],
                           1);
        }
        buf_append_str(&b->stream, "</body></message>");
        b->lens[i] = buf_len(&b->stream) - b->starts[i];
    }
    buf_append_str(&b->stream, footer);
}

void rec_bulk_close(rec_bulk *b)
{
    free(b->starts);
    free(b->lens);
    buf_close(&b->stream);
}

size_t rec_heap_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd + xmlmem_mapped_bytes();
}

bool rec_heap_is_asan(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return true;
#else
    return false;
#endif
#else
    return false;
#endif
}
