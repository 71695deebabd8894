/* SPDX-License-Identifier: MIT */
/* libcommon/rate.h: token buckets for per-connection rate limits. */
#ifndef XMPPD_LIBCOMMON_RATE_H
#define XMPPD_LIBCOMMON_RATE_H
#include <stdbool.h>
#include <stdint.h>

typedef struct rate {           /* embed it */
    double per_ms;              /* tokens added per millisecond */
    double burst;               /* bucket size */
    double tokens;
    uint64_t last_ms;
} rate;

/* A bucket of burst tokens refilled at per_second; starts full. per_second 0
 * means unlimited. */
void rate_init(rate *r, uint64_t per_second, uint64_t burst, uint64_t now_ms);
/* Takes n tokens (the bucket may go negative: the bytes were already read).
 * Returns 0 when the bucket is still non-negative, else the milliseconds
 * until it is, which is how long to stop reading. */
uint64_t rate_take(rate *r, uint64_t n, uint64_t now_ms);
/* For a reader: takes n bytes read at now_ms. When that overdraws r,
 * *resume_at_ms (0 while reading is on) becomes when the whole debt is paid,
 * later than before if more bytes of the same read came while paused.
 * Returns true when reading must pause now (it was on). */
bool rate_take_pause(rate *r, uint64_t n, uint64_t now_ms, uint64_t *resume_at_ms);
#endif
