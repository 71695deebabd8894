/* SPDX-License-Identifier: MIT */
/* tests/unit/main.c: runs the one suite a test file defines; fails on any failure. */
#include <stdlib.h>

#include "tests/unit/unit.h"

int main(void)
{
    SRunner *runner = srunner_create(unit_suite());

    srunner_run_all(runner, CK_ENV);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
