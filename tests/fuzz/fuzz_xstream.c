/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_xstream.c: libFuzzer target for the stream parser and
 * xs_parse(). Besides not crashing: the same bytes fed whole, in two pieces
 * and in small steps (resting the parser between them, or not) give the same
 * events in both modes; a raw stanza is a
 * slice of the input; every tree survives serializing and parsing again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/buf.h"
#include "libcommon/error.h"
#include "libcommon/xs.h"
#include "libcommon/xstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fuzz_run {
    xstream *xs;
    buf log;
    const char *input; /* when fed whole: raw must point into it */
    size_t input_len;
    size_t last_end; /* where the last raw stanza ended in input */
} fuzz_run;

static void fuzz_fail(const char *what, const char *a, const char *b)
{
    fprintf(stderr, "fuzz_xstream: %s\n--- first:\n%s\n--- second:\n%s\n", what,
            a ? a : "(null)", b ? b : "(null)");
    abort();
}

/* A parsed tree serializes to XML that parses back to the same tree. */
static void check_round_trip(const xs_elem *e, const char *ctx_ns)
{
    char *s = xs_to_string(e, ctx_ns);
    xs_elem *again = NULL;
    int rc = xs_parse(s, strlen(s), ctx_ns, &again);
    if (rc != 0 || !xs_equal(e, again)) {
        char *t = again ? xs_to_string(again, ctx_ns) : NULL;
        fuzz_fail("tree does not survive serialize and parse", s, t);
    }
    char *t = xs_to_string(again, ctx_ns);
    if (strcmp(s, t) != 0)
        fuzz_fail("serializing is not stable", s, t);
    free(t);
    free(s);
    xs_unref(again);
}

/* Log lines hold hashes, so that peer bytes cannot fake a line. */
static uint64_t fuzz_hash(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211u;
    return h;
}

static void fuzz_log_tree(fuzz_run *r, const xs_elem *e, const char *ctx_ns)
{
    char *s = xs_to_string(e, ctx_ns);
    buf_printf(&r->log, " %016llx",
               (unsigned long long)fuzz_hash(s, strlen(s)));
    free(s);
}

static void fuzz_on_open(void *ud, xs_elem *header)
{
    fuzz_run *r = ud;
    const char *ns = xstream_content_ns(r->xs);
    buf_printf(&r->log, "open %016llx",
               (unsigned long long)fuzz_hash(ns, strlen(ns)));
    fuzz_log_tree(r, header, NULL);
    buf_append_str(&r->log, "\n");
}

static void fuzz_on_stanza(void *ud, xs_elem *st, const char *raw, size_t len)
{
    fuzz_run *r = ud;
    bool is_slice = !r->input || (raw >= r->input + r->last_end &&
                                  raw + len <= r->input + r->input_len);
    if (len < 3 || raw[0] != '<' || raw[len - 1] != '>' || !is_slice) {
        char *copy = strndup(raw, len);
        fuzz_fail("raw stanza is not the next element of the input", copy,
                  NULL);
    }
    if (r->input)
        r->last_end = (size_t)(raw + len - r->input);
    const char *ns = xstream_content_ns(r->xs);
    check_round_trip(st, ns);
    buf_printf(&r->log, "stanza %zu %016llx", len,
               (unsigned long long)fuzz_hash(raw, len));
    fuzz_log_tree(r, st, ns);
    buf_append_str(&r->log, "\n");
    /* Exercise restarts and stops at points the input chooses. */
    if (strcmp(xs_name(st), "proceed") == 0)
        xstream_reset(r->xs);
    else if (strcmp(xs_name(st), "quit") == 0)
        xstream_stop(r->xs);
}

static void fuzz_on_close(void *ud)
{
    fuzz_run *r = ud;
    buf_append_str(&r->log, "close\n");
}

static void fuzz_on_error(void *ud, xs_stream_condition cond, const char *text)
{
    fuzz_run *r = ud;
    if (!text || !text[0])
        fuzz_fail("error without a reason", xs_stream_condition_name(cond),
                  NULL);
    buf_append_str(&r->log, "error\n");
}

static const xstream_events fuzz_events = {
    .open = fuzz_on_open,
    .stanza = fuzz_on_stanza,
    .close = fuzz_on_close,
    .error = fuzz_on_error,
};

/* Feeds data at the cut points (ascending, ending with size); returns the
 * event log for the caller to free. */
static char *fuzz_feed(const char *data, size_t size, bool shallow,
                       const xstream_limits *limits, const size_t *cuts,
                       size_t ncuts, bool whole, bool rest)
{
    fuzz_run r = {.input = whole ? data : NULL, .input_len = size};
    buf_init(&r.log);
    r.xs = xstream_new(limits, shallow, &fuzz_events, &r);
    size_t max = limits ? limits->max_stanza_bytes : 262144;
    size_t at = 0;
    int rc = 0;
    for (size_t i = 0; i < ncuts && rc == 0; i++) {
        rc = xstream_feed(r.xs, data + at, cuts[i] - at);
        at = cuts[i];
        if (rest)
            xstream_rest(r.xs);
        if (xstream_pending(r.xs) > max + 65536)
            fuzz_fail("pending bytes beyond the limit", NULL, NULL);
    }
    if (rc != 0 && xstream_feed(r.xs, "<a/>", 4) != rc)
        fuzz_fail("a broken or closed stream came back", NULL, NULL);
    buf_printf(&r.log, "rc %d\n", rc == XE_LIMIT ? XE_BAD_XML : rc);
    xstream_free(r.xs);
    return buf_steal(&r.log);
}

/* The length of log's events before an error or the result line. */
static size_t fuzz_events_len(const char *log, bool *failed)
{
    const char *line = log;
    while (strncmp(line, "error", 5) != 0 && strncmp(line, "rc ", 3) != 0)
        line = strchr(line, '\n') + 1;
    *failed = strncmp(line, "error", 5) == 0;
    return (size_t)(line - log);
}

/* The logs of two feedings of the same bytes must agree, except where the
 * input is broken: which error comes first, and when, may depend on where
 * the pieces end (a growing element is measured at the end of a feed; a
 * piece ending in "<!-->" looks like a whole comment to libxml2; it tries a
 * tag only once it sees a '>' that ends it, and in garbage with an open quote
 * it can miss one and wait for more). So the log says only that an error
 * came, and up to the first failure both feedings report the same events:
 * one log's events are a prefix of the other's, and the one with fewer
 * events failed too or is waiting for input. */
static void fuzz_compare(const char *a, const char *b, const char *what)
{
    if (strcmp(a, b) == 0)
        return;
    bool a_failed, b_failed;
    size_t a_len = fuzz_events_len(a, &a_failed);
    size_t b_len = fuzz_events_len(b, &b_failed);
    /* The one with fewer events; of two with as many, the one that did not
     * fail. */
    bool a_first = a_len < b_len || (a_len == b_len && !a_failed);
    const char *shorter = a_first ? a : b, *longer = a_first ? b : a;
    size_t shorter_len = a_first ? a_len : b_len;
    bool shorter_failed = a_first ? a_failed : b_failed;
    bool longer_failed = a_first ? b_failed : a_failed;
    if (!longer_failed || memcmp(shorter, longer, shorter_len) != 0 ||
        (!shorter_failed && strcmp(shorter + shorter_len, "rc 0\n") != 0))
        fuzz_fail(what, a, b);
}

static void fuzz_streams(const char *data, size_t size, bool shallow,
                         const xstream_limits *limits)
{
    size_t whole[1] = {size};
    char *expect = fuzz_feed(data, size, shallow, limits, whole, 1, true, false);

    size_t two[2] = {0, size};
    if (size > 2)
        two[0] = ((size_t)(uint8_t)data[0] << 8 | (uint8_t)data[1]) % size;
    char *split = fuzz_feed(data, size, shallow, limits, two, 2, false, false);
    fuzz_compare(expect, split, "split in two gives other events");
    free(split);

    size_t step = size > 2 ? (uint8_t)data[2] % 13 + 1 : 1;
    size_t ncuts = (size + step - 1) / step;
    size_t *cuts = malloc((ncuts ? ncuts : 1) * sizeof *cuts);
    for (size_t i = 0; i < ncuts; i++)
        cuts[i] = (i + 1) * step < size ? (i + 1) * step : size;
    char *steps = fuzz_feed(data, size, shallow, limits, cuts, ncuts, false, false);
    fuzz_compare(expect, steps, "small steps give other events");
    free(steps);
    steps = fuzz_feed(data, size, shallow, limits, cuts, ncuts, false, true);
    fuzz_compare(expect, steps, "small steps with rests give other events");
    free(steps);
    free(cuts);
    free(expect);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    static const xstream_limits tight = {300, 6, 8};
    for (int shallow = 0; shallow < 2; shallow++) {
        fuzz_streams(s, size, shallow, NULL);
        fuzz_streams(s, size, shallow, &tight);
    }

    xs_elem *e = NULL;
    if (xs_parse(s, size, XS_NS_CLIENT, &e) == 0) {
        check_round_trip(e, XS_NS_CLIENT);
        check_round_trip(e, NULL);
        xs_elem *d = xs_dup(e);
        if (!xs_equal(d, e))
            fuzz_fail("a copy differs", NULL, NULL);
        xs_unref(d);
        xs_unref(e);
    } else if (e) {
        fuzz_fail("xs_parse failed but gave a tree", NULL, NULL);
    }
    return 0;
}
