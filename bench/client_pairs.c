/* SPDX-License-Identifier: MIT */
/* bench/client_pairs.c: see client_pairs.h. */
#include "bench/client_pairs.h"

const bench_server *sides_server(const bench_sides *s, unsigned index,
                                 unsigned *user)
{
    if (s->is_cross && index >= s->per_side) {
        *user = index - s->per_side;
        return &s->server[1];
    }
    *user = index;
    return &s->server[0];
}

unsigned sides_pair(const bench_sides *s, const bool *ready, unsigned pairs,
                    long *peer)
{
    unsigned made = 0;
    for (unsigned i = 0; i < s->per_side && made < pairs; i++) {
        unsigned j = i + s->per_side;
        if (!ready[i] || !ready[j])
            continue;
        peer[i] = (long)j;
        peer[j] = (long)i;
        made++;
    }
    return made;
}
