/* SPDX-License-Identifier: MIT */
/* c2s/quiet.c: most client connections sit idle for hours, so those that have
 * said nothing for a while give back their parser and buffers (xstream_rest,
 * net_conn_trim); the next byte from them builds what it needs again. */
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "c2s/c2s.h"
#include "libcommon/log.h"

/* A connection is quiet after a whole sweep period without data. */
#define C2S_QUIET_SWEEP_MS 2000

static void quiet_on_sweep(uv_timer_t *t)
{
    c2s *s = t->data;
    unsigned rested = 0;
    for (c2s_conn *cn = s->conns; cn; cn = cn->next) {
        if (cn->has_spoken || cn->state == C2S_CONN_CLOSING) {
            cn->has_spoken = false;
            continue;
        }
        rested += xstream_rest(cn->xs);
        net_conn_trim(cn->net);
    }
#ifdef __GLIBC__
    /* free() keeps what lies between live blocks; this hands the whole free
     * pages among them back to the system. */
    if (rested)
        malloc_trim(0);
#endif
    if (rested)
        log_debug("c2s", "%u quiet connection(s) gave back their parsers", rested);
}

void c2s_quiet_start(c2s *s)
{
    uv_timer_init(net_loop(), &s->quiet_sweep);
    s->quiet_sweep.data = s;
    uv_timer_start(&s->quiet_sweep, quiet_on_sweep, C2S_QUIET_SWEEP_MS, C2S_QUIET_SWEEP_MS);
    uv_unref((uv_handle_t *)&s->quiet_sweep);
}

void c2s_quiet_stop(c2s *s)
{
    if (!uv_is_closing((uv_handle_t *)&s->quiet_sweep))
        uv_close((uv_handle_t *)&s->quiet_sweep, NULL);
}
