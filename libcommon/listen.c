/* SPDX-License-Identifier: MIT */
/* libcommon/listen.c: see listen.h. */
#include "libcommon/listen.h"

#include <stdlib.h>

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

void listen_set_free(listen_set *ls)
{
    for (size_t i = 0; i < ls->n_addrs; i++)
        free(ls->addrs[i].address);
    free(ls->addrs);
    free(ls->listeners);
    *ls = (listen_set){ 0 };
}
