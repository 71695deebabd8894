/* SPDX-License-Identifier: MIT */
/* libcommon/rate.c: token buckets. */
#include "libcommon/rate.h"

#include <math.h>

void rate_init(rate *r, uint64_t per_second, uint64_t burst, uint64_t now_ms)
{
    r->per_ms = (double)per_second / 1000.0;
    r->burst = (double)(burst ? burst : per_second);
    r->tokens = r->burst;
    r->last_ms = now_ms;
}

uint64_t rate_take(rate *r, uint64_t n, uint64_t now_ms)
{
    if (r->per_ms <= 0)
        return 0;
    if (now_ms > r->last_ms) {
        r->tokens += (double)(now_ms - r->last_ms) * r->per_ms;
        if (r->tokens > r->burst)
            r->tokens = r->burst;
        r->last_ms = now_ms;
    }
    r->tokens -= (double)n;
    if (r->tokens >= 0)
        return 0;
    return (uint64_t)ceil(-r->tokens / r->per_ms);
}

bool rate_take_pause(rate *r, uint64_t n, uint64_t now_ms, uint64_t *resume_at_ms)
{
    uint64_t wait_ms = rate_take(r, n, now_ms);
    if (!wait_ms)
        return false;
    bool is_new = *resume_at_ms == 0;
    if (now_ms + wait_ms > *resume_at_ms)
        *resume_at_ms = now_ms + wait_ms;
    return is_new;
}
