/* SPDX-License-Identifier: MIT */
/* libcommon/component.h: what every xmppd component process shares: reading
 * its section's <connect> element into the options of its link to the
 * router. */
#ifndef XMPPD_LIBCOMMON_COMPONENT_H
#define XMPPD_LIBCOMMON_COMPONENT_H
#include "libcommon/cfg.h"
#include "libcommon/link.h"
#include "libcommon/tls.h"

/* The link options of one component, with the storage they point into.
 * Embed it; component_link_cfg_close() frees what it owns. The caller may
 * set opts.binds, opts.n_binds and the limits after filling it. */
typedef struct component_link_cfg {
    link_opts opts;          /* its strings point at the fields below */
    char *address;           /* socket path or HOST:PORT */
    char *name;              /* the handshake's to= */
    char *secret;
    char *instance;          /* NAME "/" hostname unless configured */
    char *tls_name;          /* expected name in the router's certificate */
    tls_ctx *tls;            /* NULL unless tls= */
} component_link_cfg;

/* Reads section's <connect unix="PATH" | tcp="HOST:PORT" | tls="HOST:PORT"
 * [cert= key= ca= name-in-cert=] name="NAME" [secret=] [instance=]/>.
 * A relative unix path lies under the state directory, the TLS files are
 * resolved against the config's folder. Without secret, the <router>
 * section's <component name="NAME" secret=.../> gives it; NAME defaults to
 * default_name and the instance to NAME "/" hostname. Returns 0 with out
 * filled, or XE_CONFIG with diag set (file and line) and out zeroed. */
int component_link_opts(const cfg *c, const cfg_node *section,
                        const char *default_name, component_link_cfg *out,
                        cfg_diag *diag);
/* Frees what out owns and zeroes it; a zeroed struct is fine. */
void component_link_cfg_close(component_link_cfg *out);
#endif
