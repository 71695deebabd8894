/* SPDX-License-Identifier: MIT */
/* tests/unit/xstream_rec.h: a recorder of what an xstream reports, and
 * feeders that hand it input in pieces, for test_xstream.c. */
#ifndef XMPPD_TESTS_XSTREAM_REC_H
#define XMPPD_TESTS_XSTREAM_REC_H
#include <stdbool.h>
#include <stddef.h>

#include "libcommon/buf.h"
#include "libcommon/xs.h"
#include "libcommon/xstream.h"

enum { REC_MAX_KEPT = 64 };

/* How many events of each kind a stream reported. */
typedef struct rec_counts {
    int opens, stanzas, closes, errors;
} rec_counts;

/* What a stream reported: a log line per event, and the pieces to look at. */
typedef struct rec {
    xstream *xs;
    buf log;
    int opens, stanzas, closes, errors;
    xs_stream_condition cond;   /* of the last error */
    char why[256];              /* its text */
    xs_elem *header;            /* the last stream header */
    xs_elem *trees[REC_MAX_KEPT];  /* the first stanzas */
    char *raws[REC_MAX_KEPT];      /* and their input bytes */
    const char *reset_after; /* xstream_reset() after a stanza so named */
    const char *stop_after;  /* xstream_stop() after a stanza so named */
} rec;

/* A recorder on a new stream (limits NULL: the defaults); the caller frees
 * it with rec_free(). */
rec *rec_new(bool shallow, const xstream_limits *limits);
void rec_free(rec *r);
/* Frees r and returns its log, which the caller frees. */
char *rec_done(rec *r);
/* Fails the test unless r counted exactly want. */
void rec_expect(const rec *r, rec_counts want);
/* Fails unless feeding a header and a stanza gave rc 0 and the stanza
 * (is_within: it kept to the limits), else XE_LIMIT and policy-violation. */
void rec_expect_limit(const rec *r, int rc, bool is_within);
/* Fails unless rc is want (an XE_* code) and r reported one error, cond,
 * described with text holding because (NULL: any text). */
void rec_expect_error(const rec *r, int rc, int want, xs_stream_condition cond,
                      const char *because);

/* Feeds s whole; returns what xstream_feed() did. */
int rec_feed(rec *r, const char *s);
/* Feeds len bytes in pieces of step (0: at once), after each one calling
 * xstream_rest() and adding what it returned to *rests unless rests is
 * NULL. Stops at the first non-zero result and returns it. */
int rec_feed_steps(xstream *xs, const char *s, size_t len, size_t step,
                   int *rests);

/* Fails unless s, fed to a new recorder reset after stanzas named
 * reset_after, ends the stream and gives the same events whatever the
 * pieces: split in two at every position, or in each size of steps. With
 * rests, the stream rests after every piece and *rests counts how often it
 * did. */
void rec_assert_same_at_every_split(const char *s, bool shallow,
                                    const char *reset_after);
void rec_assert_same_in_steps(const char *s, bool shallow,
                              const char *reset_after, const size_t *steps,
                              size_t n, int *rests);

/* A long stream of stanzas, and a recorder that checks the raw bytes
 * reported for each one against their place in it. */
typedef struct rec_bulk {
    buf stream;
    size_t *starts, *lens; /* each stanza's place in stream */
    size_t count;
    size_t seen;           /* stanzas reported so far */
    bool raw_ok;           /* all of them with the bytes at their place */
} rec_bulk;

/* Events for xstream_new() with a rec_bulk as user data. */
extern const xstream_events rec_bulk_events;
/* Builds header, count <message>s of assorted sizes with whitespace between
 * some, and footer; rec_bulk_close() frees it. */
void rec_bulk_init(rec_bulk *b, size_t count, const char *header,
                   const char *footer);
void rec_bulk_close(rec_bulk *b);

/* A <message> of exactly size bytes (at least 32); the caller frees it. */
char *rec_stanza_of(size_t size);

/* The bytes malloc has handed out and libxml2's mapped blocks hold. */
size_t rec_heap_in_use(void);
/* AddressSanitizer's allocator keeps its own books, not malloc's. */
bool rec_heap_is_asan(void);
#endif
