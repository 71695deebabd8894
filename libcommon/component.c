/* SPDX-License-Identifier: MIT */
/* libcommon/component.c: a component's <connect> element, turned into the
 * options of its link to the router (docs/component-protocol.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libcommon/alloc.h"
#include "libcommon/component.h"
#include "libcommon/error.h"
#include "libcommon/net.h"
#include "libcommon/proc.h"

/* The secret of the router's <component name=NAME> entry in the same file:
 * a convenience for components on the router's host. */
static const char *component_router_secret(const cfg *c, const char *name)
{
    const cfg_node *router = cfg_child(cfg_root(c), "router");
    for (const cfg_node *n = cfg_child(router, "component"); n; n = cfg_next(n)) {
        const char *entry = cfg_attr(n, "name");
        if (entry && strcmp(entry, name) == 0)
            return cfg_attr(n, "secret");
    }
    return NULL;
}

static char *component_default_instance(const char *name)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) < 0 || !host[0])
        snprintf(host, sizeof host, "localhost");
    return xasprintf("%s/%s", name, host);
}

static int component_tls(const cfg *c, const cfg_node *n, component_link_cfg *out,
                         cfg_diag *diag)
{
    char *cert = cfg_attr(n, "cert") ? cfg_resolve_path(c, cfg_attr(n, "cert")) : NULL;
    char *key = cfg_attr(n, "key") ? cfg_resolve_path(c, cfg_attr(n, "key")) : NULL;
    char *ca = cfg_attr(n, "ca") ? cfg_resolve_path(c, cfg_attr(n, "ca")) : NULL;
    int rc = 0;
    if (!cert != !key) {
        rc = cfg_error(diag, n, "<connect> needs both cert and key, or neither");
    } else {
        tls_ctx_opts o = {
            .is_server = false, .cert_file = cert, .key_file = key,
            .ca_file = ca, .verify_peer = true,
        };
        char err[512] = "";
        if (tls_ctx_new(&o, &out->tls, err, sizeof err) < 0)
            rc = cfg_error(diag, n, "%s", err);
    }
    if (rc == 0) {
        const char *in_cert = cfg_attr(n, "name-in-cert");
        if (in_cert) {
            out->tls_name = xstrdup(in_cert);
        } else {
            char *host = NULL;
            int port;
            if (net_split_address(out->address, &host, &port) < 0)
                rc = cfg_error(diag, n, "tls \"%s\" is not HOST:PORT", out->address);
            out->tls_name = host;
        }
    }
    free(cert);
    free(key);
    free(ca);
    return rc;
}

static int component_read(const cfg *c, const cfg_node *section,
                          const char *default_name, component_link_cfg *out,
                          cfg_diag *diag)
{
    static const char *const attrs[] = {
        "unix", "tcp", "tls", "cert", "key", "ca", "name-in-cert", "name",
        "secret", "instance", NULL,
    };
    const cfg_node *n = cfg_child(section, "connect");
    if (!n)
        return cfg_error(diag, section, "<%s> needs a <connect> element",
                         cfg_name(section));
    if (cfg_check_attrs(n, attrs, diag) < 0)
        return XE_CONFIG;
    const char *unix_path = cfg_attr(n, "unix"), *tcp = cfg_attr(n, "tcp"),
               *tls = cfg_attr(n, "tls");
    if (!!unix_path + !!tcp + !!tls != 1)
        return cfg_error(diag, n, "<connect> needs exactly one of unix, tcp or tls");
    if ((cfg_attr(n, "cert") || cfg_attr(n, "key") || cfg_attr(n, "ca") ||
         cfg_attr(n, "name-in-cert")) && !tls)
        return cfg_error(diag, n, "<connect> takes cert, key, ca and name-in-cert only with tls");
    const char *name = cfg_attr(n, "name") ? cfg_attr(n, "name") : default_name;
    if (!name || !name[0])
        return cfg_error(diag, n, "<connect> needs attribute name");
    out->name = xstrdup(name);

    if (unix_path) {
        if (!unix_path[0])
            return cfg_error(diag, n, "unix \"\" is not a socket path");
        if (unix_path[0] == '/') {
            out->address = xstrdup(unix_path);
        } else {
            char *state = proc_state_dir(c);
            out->address = xasprintf("%s/%s", state, unix_path);
            free(state);
        }
        out->opts.is_unix = true;
    } else {
        out->address = xstrdup(tcp ? tcp : tls);
        char *host = NULL;
        int port;
        if (net_split_address(out->address, &host, &port) < 0)
            return cfg_error(diag, n, "%s \"%s\" is not HOST:PORT",
                             tcp ? "tcp" : "tls", out->address);
        free(host);
        if (tls && component_tls(c, n, out, diag) < 0)
            return XE_CONFIG;
    }

    const char *secret = cfg_attr(n, "secret");
    if (!secret)
        secret = component_router_secret(c, name);
    if (!secret)
        return cfg_error(diag, n, "<connect> needs a secret: none given and the "
                         "<router> section has no <component name=\"%s\">", name);
    out->secret = xstrdup(secret);

    const char *instance = cfg_attr(n, "instance");
    if (instance && !instance[0])
        return cfg_error(diag, n, "instance \"\" is empty");
    out->instance = instance ? xstrdup(instance) : component_default_instance(name);
    return 0;
}

int component_link_opts(const cfg *c, const cfg_node *section,
                        const char *default_name, component_link_cfg *out,
                        cfg_diag *diag)
{
    memset(out, 0, sizeof *out);
    if (component_read(c, section, default_name, out, diag) < 0) {
        component_link_cfg_close(out);
        return XE_CONFIG;
    }
    out->opts.address = out->address;
    out->opts.tls = out->tls;
    out->opts.tls_name = out->tls_name;
    out->opts.name = out->name;
    out->opts.secret = out->secret;
    out->opts.instance = out->instance;
    return 0;
}

void component_link_cfg_close(component_link_cfg *out)
{
    free(out->address);
    free(out->name);
    free(out->secret);
    free(out->instance);
    free(out->tls_name);
    tls_ctx_free(out->tls);
    memset(out, 0, sizeof *out);
}
