/* SPDX-License-Identifier: MIT */
/* tests/unit/unit.h: what each unit test file gives the shared main.c. */
#ifndef XMPPD_TESTS_UNIT_H
#define XMPPD_TESTS_UNIT_H
#include <check.h>

Suite *unit_suite(void);   /* the one suite of the module under test */
#endif
