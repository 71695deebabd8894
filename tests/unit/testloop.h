/* SPDX-License-Identifier: MIT */
/* tests/unit/testloop.h: driving the libuv loop from a test. */
#ifndef XMPPD_TESTS_TESTLOOP_H
#define XMPPD_TESTS_TESTLOOP_H
#include <stdbool.h>

/* Runs net_loop() until done() is true or max_ms have passed. */
void testloop_run_until(bool (*done)(void), int max_ms);
#endif
