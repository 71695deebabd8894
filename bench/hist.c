/* SPDX-License-Identifier: MIT */
/* bench/hist.c: values under 128 ns have a bucket each; above, a power of two
 * is cut into 64 equal buckets, found from the leading bit position. */
#include "bench/hist.h"

#include <string.h>

void hist_init(hist *h)
{
    memset(h, 0, sizeof *h);
}

static unsigned hist_index(uint64_t v)
{
    if (v < 128)
        return (unsigned)v;
    unsigned top = 63u - (unsigned)__builtin_clzll(v); /* 7..63 */
    unsigned sub = (unsigned)(v >> (top - 6)) & 63u;

    return 128u + (top - 7u) * 64u + sub;
}

/* The smallest value in bucket i and the bucket's width. */
static void hist_bucket(unsigned i, uint64_t *low, uint64_t *width)
{
    if (i < 128) {
        *low = i;
        *width = 1;
        return;
    }
    unsigned top = (i - 128u) / 64u + 7u;
    uint64_t sub = (i - 128u) % 64u;

    *width = (uint64_t)1 << (top - 6);
    *low = (64u + sub) * *width;
}

void hist_add(hist *h, uint64_t value_ns)
{
    if (h->count == 0 || value_ns < h->min_ns)
        h->min_ns = value_ns;
    if (value_ns > h->max_ns)
        h->max_ns = value_ns;
    h->count++;
    h->sum_ns += (double)value_ns;
    h->buckets[hist_index(value_ns)]++;
}

uint64_t hist_quantile_ns(const hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    /* The rank of the wanted value, 1-based: the smallest r with
     * r >= q * count, so q = 0.5 of 4 values is the 2nd. */
    uint64_t rank = (uint64_t)(q * (double)h->count);

    if ((double)rank < q * (double)h->count)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;

    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t low, width;

            hist_bucket(i, &low, &width);
            uint64_t mid = low + width / 2;

            /* Never report beyond what was actually seen. */
            if (mid > h->max_ns)
                mid = h->max_ns;
            if (mid < h->min_ns)
                mid = h->min_ns;
            return mid;
        }
    }
    return h->max_ns;
}

double hist_mean_ns(const hist *h)
{
    return h->count ? h->sum_ns / (double)h->count : 0;
}
