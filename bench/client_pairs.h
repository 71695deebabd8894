/* SPDX-License-Identifier: MIT */
/* bench/client_pairs.h: which server each client of xmppd-bench-client logs
 * in to, and who chats with whom. One server: clients u0..uN-1 of one
 * domain. Two servers (--port2): N clients per server, uI@DOMAIN on the
 * first and uI@DOMAIN2 on the second, and pairs cross the domains. */
#ifndef XMPPD_BENCH_CLIENT_PAIRS_H
#define XMPPD_BENCH_CLIENT_PAIRS_H

#include <stdbool.h>

typedef struct bench_server {
    const char *host, *domain;
    int port;
} bench_server;

typedef struct bench_sides {
    bench_server server[2];
    unsigned per_side; /* clients per server */
    bool is_cross;     /* two servers */
} bench_sides;

/* The server client `index` logs in to; *user gets its user number. */
const bench_server *sides_server(const bench_sides *s, unsigned index,
                                 unsigned *user);

/* Pairs up to `pairs` clients of the two servers: uI of the first with uI of
 * the second, for the I where both are ready (ready[i]). Sets peer[] of the
 * paired clients (others untouched) and returns the number of pairs. */
unsigned sides_pair(const bench_sides *s, const bool *ready, unsigned pairs,
                    long *peer);

#endif
