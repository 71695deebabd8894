/* SPDX-License-Identifier: MIT */
/* libcommon/listen.h: the <listen tcp="HOST:PORT"/> and <listen
 * tls="HOST:PORT"/> elements of a process's section (tls: direct TLS), and
 * the listeners they start. */
#ifndef XMPPD_LIBCOMMON_LISTEN_H
#define XMPPD_LIBCOMMON_LISTEN_H
#include <stdbool.h>
#include <stddef.h>

#include "libcommon/cfg.h"
#include "libcommon/net.h"
#include "libcommon/tls.h"

typedef struct listen_addr {
    char *address;
    bool is_tls;
} listen_addr;

typedef struct listen_set {
    listen_addr *addrs;              /* from the config */
    size_t n_addrs;
    net_listener **listeners;        /* once started */
    size_t n_listeners;
} listen_set;

/* Adds the address of one <listen> element. Returns 0 or XE_CONFIG with
 * diag naming the element's line. */
int listen_add_cfg(listen_set *ls, const cfg_node *n, cfg_diag *diag);
void listen_add(listen_set *ls, const char *address, bool is_tls);
bool listen_has_tls(const listen_set *ls);
/* Starts a listener per address (tls for the direct TLS ones), with a log
 * line each under who. Returns 0, or the first UV_E* error (logged). */
int listen_start(listen_set *ls, tls_ctx *tls, net_accept_fn *accept, void *ud,
                 const char *who);
void listen_stop(listen_set *ls);    /* closes the listeners */
void listen_set_free(listen_set *ls);
#endif
