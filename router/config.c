/* SPDX-License-Identifier: MIT */
/* router/config.c: the <router> section of the suite's config. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/jid.h"
#include "libcommon/proc.h"
#include "router/router.h"

static int router_config_limits(const cfg_node *n, router_limits *l, cfg_diag *d)
{
    static const char *const attrs[] = {
        "max-stanza-bytes", "max-depth", "max-attrs", "rate", "burst",
        "max-connections-per-address", "handshake-timeout", "idle-timeout",
        "send-queue", NULL,
    };
    long depth, attrs_max, conns, hs, idle;
    size_t stanza, rate_bps, burst, queue;
    if (n && cfg_check_attrs(n, attrs, d) < 0)
        return XE_CONFIG;
    if (cfg_size(n, "max-stanza-bytes", 256 * 1024, 1024, 64 << 20, &stanza, d) < 0 ||
        cfg_int(n, "max-depth", 64, 2, 1000, &depth, d) < 0 ||
        cfg_int(n, "max-attrs", 64, 4, 10000, &attrs_max, d) < 0 ||
        cfg_size(n, "rate", 128 << 20, 0, (size_t)1 << 40, &rate_bps, d) < 0 ||
        cfg_size(n, "burst", 256 << 20, 0, (size_t)1 << 40, &burst, d) < 0 ||
        cfg_int(n, "max-connections-per-address", 256, 1, 1000000, &conns, d) < 0 ||
        cfg_duration_ms(n, "handshake-timeout", 10000, 100, 3600000, &hs, d) < 0 ||
        cfg_duration_ms(n, "idle-timeout", 0, 0, 86400000L * 30, &idle, d) < 0 ||
        cfg_size(n, "send-queue", 4 << 20, 64 * 1024, (size_t)1 << 34, &queue, d) < 0)
        return XE_CONFIG;
    l->max_stanza_bytes = stanza;
    l->max_depth = (unsigned)depth;
    l->max_attrs = (unsigned)attrs_max;
    l->rate_bytes_per_s = rate_bps;
    l->burst_bytes = burst;
    l->max_conns_per_address = (unsigned)conns;
    l->handshake_timeout_ms = (uint64_t)hs;
    l->idle_timeout_ms = (uint64_t)idle;
    l->send_queue_bytes = queue;
    if (l->send_queue_bytes < l->max_stanza_bytes * 2)
        return cfg_error(d, n, "send-queue must hold at least two stanzas of max-stanza-bytes");
    return 0;
}

static int router_config_listen(const cfg *c, const cfg_node *n,
                                router_listen_cfg *l, cfg_diag *d)
{
    static const char *const attrs[] = { "tcp", "unix", "tls", "cert", "key",
                                         "client-ca", NULL };
    if (cfg_check_attrs(n, attrs, d) < 0)
        return XE_CONFIG;
    const char *tcp = cfg_attr(n, "tcp"), *unix_path = cfg_attr(n, "unix");
    const char *tls = cfg_attr(n, "tls");
    if (!!tcp + !!unix_path + !!tls != 1)
        return cfg_error(d, n, "<listen> needs exactly one of tcp, unix or tls");
    l->line = cfg_line(n);
    if (unix_path) {
        l->is_unix = true;
        l->address = unix_path[0] == '/' ? xstrdup(unix_path) : NULL;
        return 0;        /* relative paths are resolved against the state dir */
    }
    l->address = xstrdup(tcp ? tcp : tls);
    char *host;
    int port;
    if (net_split_address(l->address, &host, &port) < 0)
        return cfg_error(d, n, "address \"%s\" is not HOST:PORT", l->address);
    free(host);
    if (tls) {
        l->is_tls = true;
        const char *cert, *key;
        if (cfg_required(n, "cert", &cert, d) < 0 || cfg_required(n, "key", &key, d) < 0)
            return XE_CONFIG;
        l->cert = cfg_resolve_path(c, cert);
        l->key = cfg_resolve_path(c, key);
        if (cfg_attr(n, "client-ca"))
            l->client_ca = cfg_resolve_path(c, cfg_attr(n, "client-ca"));
    } else if (cfg_attr(n, "cert") || cfg_attr(n, "client-ca")) {
        return cfg_error(d, n, "cert, key and client-ca go with tls=, not tcp=");
    }
    return 0;
}

static int router_config_one_component(const cfg_node *n, router_component_cfg *cc,
                                   cfg_diag *d)
{
    static const char *const attrs[] = { "name", "secret", "domain", NULL };
    const char *name, *secret;
    bool binds_name;
    if (cfg_check_attrs(n, attrs, d) < 0 || cfg_required(n, "name", &name, d) < 0 ||
        cfg_required(n, "secret", &secret, d) < 0 ||
        cfg_bool(n, "domain", true, &binds_name, d) < 0)
        return XE_CONFIG;
    if (!secret[0])
        return cfg_error(d, n, "component \"%s\" has an empty secret", name);
    cc->line = cfg_line(n);
    cc->secret = xstrdup(secret);
    cc->binds_name = binds_name;
    if (binds_name) {
        if (jid_domain_normalize(name, &cc->name) < 0)
            return cfg_error(d, n, "component name \"%s\" is not a valid domain", name);
    } else {
        cc->name = xstrdup(name);
    }
    for (const cfg_node *a = cfg_child(n, "allow"); a; a = cfg_next(a)) {
        static const char *const allow_attrs[] = { "bind", "name", "from", NULL };
        if (cfg_check_attrs(a, allow_attrs, d) < 0)
            return XE_CONFIG;
        const char *from = cfg_attr(a, "from");
        if (from) {
            if (strcmp(from, "remote") != 0)
                return cfg_error(d, a, "from=\"%s\": the only value is \"remote\"", from);
            cc->may_send_remote = true;
            continue;
        }
        const char *kind, *bname;
        if (cfg_required(a, "bind", &kind, d) < 0 || cfg_required(a, "name", &bname, d) < 0)
            return XE_CONFIG;
        router_allow al = { 0 };
        if (strcmp(kind, "domain") == 0)
            al.kind = ROUTER_BIND_DOMAIN;
        else if (strcmp(kind, "service") == 0)
            al.kind = ROUTER_BIND_SERVICE;
        else
            return cfg_error(d, a, "bind=\"%s\" is not domain or service", kind);
        if (al.kind == ROUTER_BIND_DOMAIN && strcmp(bname, "*") != 0) {
            if (jid_domain_normalize(bname, &al.name) < 0)
                return cfg_error(d, a, "\"%s\" is not a valid domain", bname);
        } else {
            al.name = xstrdup(bname);
        }
        cc->allow = xrealloc(cc->allow, (cc->n_allow + 1) * sizeof *cc->allow);
        cc->allow[cc->n_allow++] = al;
    }
    return 0;
}

int router_config_load(const cfg *c, router_config *rc, cfg_diag *d)
{
    memset(rc, 0, sizeof *rc);
    const cfg_node *root = cfg_root(c);
    if (proc_domains(c, &rc->domains, &rc->n_domains, d) < 0)
        return XE_CONFIG;
    rc->state_dir = proc_state_dir(c);

    const cfg_node *rn = cfg_child(root, "router");
    if (!rn)
        return cfg_error(d, root, "there is no <router> section");
    for (const cfg_node *n = cfg_first(rn); n; n = cfg_sibling(n)) {
        const char *name = cfg_name(n);
        if (strcmp(name, "listen") == 0) {
            rc->listen = xrealloc(rc->listen, (rc->n_listen + 1) * sizeof *rc->listen);
            router_listen_cfg *l = &rc->listen[rc->n_listen++];
            memset(l, 0, sizeof *l);
            if (router_config_listen(c, n, l, d) < 0)
                return XE_CONFIG;
            if (l->is_unix && !l->address)
                l->address = xasprintf("%s/%s", rc->state_dir, cfg_attr(n, "unix"));
        } else if (strcmp(name, "control") == 0) {
            const char *p;
            if (cfg_required(n, "unix", &p, d) < 0)
                return XE_CONFIG;
            free(rc->control_path);
            rc->control_path = p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", rc->state_dir, p);
        } else if (strcmp(name, "limits") == 0) {
            /* read below, once, so that defaults apply without the element */
        } else if (strcmp(name, "default-route") == 0) {
            const char *svc;
            if (cfg_required(n, "service", &svc, d) < 0)
                return XE_CONFIG;
            free(rc->default_service);
            rc->default_service = xstrdup(svc);
        } else if (strcmp(name, "component") == 0) {
            rc->components = xrealloc(rc->components,
                                      (rc->n_components + 1) * sizeof *rc->components);
            router_component_cfg *cc = &rc->components[rc->n_components++];
            memset(cc, 0, sizeof *cc);
            if (router_config_one_component(n, cc, d) < 0)
                return XE_CONFIG;
            for (size_t i = 0; i + 1 < rc->n_components; i++)
                if (strcmp(rc->components[i].name, cc->name) == 0)
                    return cfg_error(d, n, "component \"%s\" is already defined at line %d",
                                     cc->name, rc->components[i].line);
        } else {
            return cfg_error(d, n, "unknown element <%s>", name);
        }
    }
    if (router_config_limits(cfg_child(rn, "limits"), &rc->limits, d) < 0)
        return XE_CONFIG;
    if (rc->n_listen == 0)
        return cfg_error(d, rn, "<router> has no <listen>");
    return 0;
}

void router_config_close(router_config *rc)
{
    proc_domains_free(rc->domains, rc->n_domains);
    free(rc->state_dir);
    for (size_t i = 0; i < rc->n_listen; i++) {
        free(rc->listen[i].address);
        free(rc->listen[i].cert);
        free(rc->listen[i].key);
        free(rc->listen[i].client_ca);
    }
    free(rc->listen);
    free(rc->control_path);
    free(rc->default_service);
    for (size_t i = 0; i < rc->n_components; i++) {
        router_component_cfg *cc = &rc->components[i];
        free(cc->name);
        free(cc->secret);
        for (size_t j = 0; j < cc->n_allow; j++)
            free(cc->allow[j].name);
        free(cc->allow);
    }
    free(rc->components);
    memset(rc, 0, sizeof *rc);
}

const router_component_cfg *router_config_component(const router_config *rc,
                                                    const char *name)
{
    for (size_t i = 0; i < rc->n_components; i++)
        if (strcasecmp(rc->components[i].name, name) == 0)
            return &rc->components[i];
    return NULL;
}
