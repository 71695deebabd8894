/* SPDX-License-Identifier: MIT */
/* tests/unit/testloop.c: driving the libuv loop from a test. */
#include "tests/unit/testloop.h"

#include <unistd.h>

#include "libcommon/net.h"

void testloop_run_until(bool (*done)(void), int max_ms)
{
    uv_loop_t *loop = net_loop();
    uint64_t end = uv_now(loop) + (uint64_t)max_ms;
    while (!done() && uv_now(loop) < end) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(200);
        uv_update_time(loop);
    }
}
