/* SPDX-License-Identifier: MIT */
/* sm/modules.c: the modules linked into xmppd-sm. */
#include <stddef.h>

#include "sm/module.h"

const sm_module *const sm_builtin_modules[] = {
    &sm_mod_message, &sm_mod_presence, &sm_mod_roster, &sm_mod_ping,
    &sm_mod_disco, &sm_mod_version, &sm_mod_time,
    &sm_mod_vcard,
    &sm_mod_private,
    &sm_mod_blocking,
    &sm_mod_last,
    &sm_mod_carbons,
    NULL,
};

void sm_each_feature(sm_server *sm, void (*fn)(const char *var, void *ud), void *ud)
{
    for (size_t i = 0; sm->modules[i]; i++) {
        const char *const *f = sm->modules[i]->features;
        for (size_t k = 0; f && f[k]; k++)
            fn(f[k], ud);
    }
}
