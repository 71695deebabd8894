/* SPDX-License-Identifier: MIT */
/* libcommon/listen.c: see listen.h. */
#include "libcommon/listen.h"

#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/log.h"

void listen_add(listen_set *ls, const char *address, bool is_tls)
{
    ls->addrs = xrealloc(ls->addrs, (ls->n_addrs + 1) * sizeof *ls->addrs);
    ls->addrs[ls->n_addrs++] = (listen_addr){ .address = xstrdup(address), .is_tls = is_tls };
}

int listen_add_cfg(listen_set *ls, const cfg_node *n, cfg_diag *diag)
{
    static const char *const attrs[] = { "tcp", "tls", NULL };
    if (cfg_check_attrs(n, attrs, diag) < 0)
        return XE_CONFIG;
    const char *tcp = cfg_attr(n, "tcp"), *tls = cfg_attr(n, "tls");
    if (!!tcp + !!tls != 1)
        return cfg_error(diag, n, "<listen> needs exactly one of tcp or tls");
    char *host;
    int port;
    if (net_split_address(tcp ? tcp : tls, &host, &port) < 0)
        return cfg_error(diag, n, "\"%s\" is not HOST:PORT", tcp ? tcp : tls);
    free(host);
    listen_add(ls, tcp ? tcp : tls, tls != NULL);
    return 0;
}

bool listen_has_tls(const listen_set *ls)
{
    for (size_t i = 0; i < ls->n_addrs; i++)
        if (ls->addrs[i].is_tls)
            return true;
    return false;
}

int listen_start(listen_set *ls, tls_ctx *tls, net_accept_fn *accept, void *ud,
                 const char *who)
{
    ls->listeners = xrealloc(ls->listeners, (ls->n_addrs ? ls->n_addrs : 1) * sizeof *ls->listeners);
    for (size_t i = 0; i < ls->n_addrs; i++) {
        const listen_addr *a = &ls->addrs[i];
        net_listen_opts o = {
            .address = a->address,
            .tls = a->is_tls ? tls : NULL,
            .accept = accept,
            .ud = ud,
        };
        int rc = net_listen(&o, &ls->listeners[ls->n_listeners]);
        if (rc < 0) {
            log_error(who, "cannot listen on %s: %s", a->address, xe_str(rc));
            return rc;
        }
        log_info(who, "listening on %s%s", a->address, a->is_tls ? " (direct TLS)" : "");
        ls->n_listeners++;
    }
    return 0;
}

void listen_stop(listen_set *ls)
{
    for (size_t i = 0; i < ls->n_listeners; i++)
        net_listener_close(ls->listeners[i]);
    ls->n_listeners = 0;
}

const char *listen_over_limit(const char *who, const net_conn *c, unsigned same_host,
                              unsigned max_per_address)
{
    if (same_host <= max_per_address)
        return NULL;
    log_warn(who, "%u connections from %s, over the limit of %u", same_host,
             net_conn_peer_host(c), max_per_address);
    return "too many connections from your address";
}

void listen_set_free(listen_set *ls)
{
    for (size_t i = 0; i < ls->n_addrs; i++)
        free(ls->addrs[i].address);
    free(ls->addrs);
    free(ls->listeners);
    *ls = (listen_set){ 0 };
}

int listen_certificate_cfg(const cfg *c, const cfg_node *n, const tls_ctx_opts *opts,
                           tls_ctx **tls, char **cert_path, char **key_path,
                           cfg_diag *diag)
{
    static const char *const attrs[] = { "domain", "cert", "key", NULL };
    const char *cert, *key;
    if (cfg_check_attrs(n, attrs, diag) < 0 || cfg_required(n, "cert", &cert, diag) < 0 ||
        cfg_required(n, "key", &key, diag) < 0)
        return XE_CONFIG;
    char *cert_file = cfg_resolve_path(c, cert), *key_file = cfg_resolve_path(c, key);
    char err[512];
    int rc;
    if (!*tls) {
        tls_ctx_opts o = *opts;
        o.cert_file = cert_file;
        o.key_file = key_file;
        rc = tls_ctx_new(&o, tls, err, sizeof err);
    } else {
        rc = tls_ctx_add_cert(*tls, cert_file, key_file, err, sizeof err);
    }
    if (rc < 0 || !cert_path) {
        free(cert_file);
        free(key_file);
    } else {
        *cert_path = cert_file;
        *key_path = key_file;
    }
    return rc < 0 ? cfg_error(diag, n, "%s", err) : 0;
}

int listen_check_tls(const cfg_node *sec, const listen_set *ls, bool is_tls_required,
                     const tls_ctx *tls, cfg_diag *diag)
{
    if ((listen_has_tls(ls) || is_tls_required) && !tls)
        return cfg_error(diag, sec, "TLS is required or a tls listener is set, but there is "
                                    "no <certificate>");
    return 0;
}

int listen_limits_cfg(const cfg_node *n, const char *const *own, listen_limits *l,
                      cfg_diag *diag)
{
    static const char *const common[] = {
        "max-stanza-bytes", "max-depth", "rate", "burst", "max-connections-per-address",
        "idle-timeout",
    };
    size_t n_common = sizeof common / sizeof common[0], n_own = 0;
    while (own && own[n_own])
        n_own++;
    const char **attrs = xalloc((n_common + n_own + 1) * sizeof *attrs);
    memcpy(attrs, common, sizeof common);
    for (size_t i = 0; i < n_own; i++)
        attrs[n_common + i] = own[i];
    attrs[n_common + n_own] = NULL;
    int rc = cfg_check_attrs(n, attrs, diag);
    free(attrs);
    size_t stanza, rate_bps, burst;
    long depth, conns, idle;
    if (rc < 0 ||
        cfg_size(n, "max-stanza-bytes", l->max_stanza_bytes, 1024, 64 << 20, &stanza, diag) < 0 ||
        cfg_int(n, "max-depth", (long)l->max_depth, 2, 1000, &depth, diag) < 0 ||
        cfg_size(n, "rate", l->rate_bytes_per_s, 0, (size_t)1 << 40, &rate_bps, diag) < 0 ||
        cfg_size(n, "burst", l->burst_bytes, 0, (size_t)1 << 40, &burst, diag) < 0 ||
        cfg_int(n, "max-connections-per-address", (long)l->max_connections_per_address, 1,
                1000000, &conns, diag) < 0 ||
        cfg_duration_ms(n, "idle-timeout", (long)l->idle_timeout_ms, 0, 86400000L * 30, &idle,
                        diag) < 0)
        return XE_CONFIG;
    *l = (listen_limits){
        .max_stanza_bytes = stanza,
        .max_depth = (unsigned)depth,
        .rate_bytes_per_s = rate_bps,
        .burst_bytes = burst < stanza ? stanza : burst,
        .max_connections_per_address = (unsigned)conns,
        .idle_timeout_ms = (uint64_t)idle,
    };
    return 0;
}
