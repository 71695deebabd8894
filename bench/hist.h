/* SPDX-License-Identifier: MIT */
/* bench/hist.h: a latency histogram with log-linear buckets (64 a power of
 * two), so any percentile is within 1.6% of the truth in constant memory. */
#ifndef XMPPD_BENCH_HIST_H
#define XMPPD_BENCH_HIST_H
#include <stdint.h>

enum { HIST_BUCKETS = 128 + 57 * 64 };

typedef struct hist { /* embed it; zeroed by hist_init() */
    uint64_t count;
    uint64_t min_ns, max_ns;
    double sum_ns;
    uint64_t buckets[HIST_BUCKETS];
} hist;

void hist_init(hist *h);
void hist_add(hist *h, uint64_t value_ns);
/* The value at quantile q (0..1) of what was added, from the middle of its
 * bucket; 0 when nothing was. */
uint64_t hist_quantile_ns(const hist *h, double q);
double hist_mean_ns(const hist *h); /* 0 when empty */
#endif
