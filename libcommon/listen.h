/* SPDX-License-Identifier: MIT */
/* libcommon/listen.h: the <listen tcp="HOST:PORT"/> and <listen
 * tls="HOST:PORT"/> elements of a process's section (tls: direct TLS), and
 * the listeners they start. */
#ifndef XMPPD_LIBCOMMON_LISTEN_H
#define XMPPD_LIBCOMMON_LISTEN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
/* At accept: whether c, the same_host-th open connection from its address,
 * goes over max_per_address. If so, logs it under who and returns the text to
 * close the stream with (policy-violation); otherwise NULL. */
const char *listen_over_limit(const char *who, const net_conn *c, unsigned same_host,
                              unsigned max_per_address);

/* Reads <certificate cert="FILE" key="FILE" [domain="D"]/> (paths relative to
 * the config's folder; domain is the caller's to read) and adds the pair to
 * *tls; the first one makes *tls from opts, with its cert_file and key_file
 * set. When cert_path is not NULL, *cert_path and *key_path are the resolved
 * paths, the caller's to free. Returns 0, or XE_CONFIG with diag at n (and no
 * paths). */
int listen_certificate_cfg(const cfg *c, const cfg_node *n, const tls_ctx_opts *opts,
                           tls_ctx **tls, char **cert_path, char **key_path,
                           cfg_diag *diag);
/* A section that requires TLS, or has a direct TLS listener, needs a
 * <certificate>. Returns 0, or XE_CONFIG with diag at sec when tls is NULL. */
int listen_check_tls(const cfg_node *sec, const listen_set *ls, bool is_tls_required,
                     const tls_ctx *tls, cfg_diag *diag);

/* The limits of <limits> that every process with listeners reads alike. */
typedef struct listen_limits {
    size_t max_stanza_bytes;
    unsigned max_depth;
    uint64_t rate_bytes_per_s;
    uint64_t burst_bytes;                /* at least max_stanza_bytes */
    unsigned max_connections_per_address;
    uint64_t idle_timeout_ms;            /* 0: never */
} listen_limits;

/* Reads max-stanza-bytes, max-depth, rate, burst, max-connections-per-address
 * and idle-timeout of <limits> n (NULL: none) into *l, whose values on entry
 * are the defaults. n may carry the process's own attributes too, listed in
 * own (NULL-terminated), which the caller reads. Returns 0, or
 * XE_CONFIG with diag filled and *l unchanged. */
int listen_limits_cfg(const cfg_node *n, const char *const *own, listen_limits *l,
                      cfg_diag *diag);
#endif
