/* SPDX-License-Identifier: MIT */
/* c2s/config.c: the served <domain>s and the <c2s> section of the suite's
 * config: listeners, certificates (one per domain, chosen by SNI), the TLS
 * policy and the limits. */
#include <stdlib.h>
#include <string.h>

#include "c2s/c2s.h"
#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/proc.h"

/* <limits>: the ones every listener has (listen_limits_cfg()), and the
 * authentication's. */
static int config_limits(const cfg_node *n, c2s_limits *l, cfg_diag *d)
{
    static const char *const auth_attrs[] = {
        "auth-timeout", "max-auth-failures", "auth-failure-delay", NULL,
    };
    listen_limits lim = { .max_stanza_bytes = 64 * 1024, .max_depth = 32,
                          .rate_bytes_per_s = 64 * 1024, .burst_bytes = 256 * 1024,
                          .max_connections_per_address = 32, .idle_timeout_ms = 600000 };
    long auth_to, failures, delay;
    if (listen_limits_cfg(n, auth_attrs, &lim, d) < 0 ||
        cfg_duration_ms(n, "auth-timeout", 30000, 100, 3600000, &auth_to, d) < 0 ||
        cfg_int(n, "max-auth-failures", 3, 1, 1000, &failures, d) < 0 ||
        cfg_duration_ms(n, "auth-failure-delay", 1000, 0, 60000, &delay, d) < 0)
        return XE_CONFIG;
    *l = (c2s_limits){
        .max_stanza_bytes = lim.max_stanza_bytes,
        .max_depth = lim.max_depth,
        .rate_bytes_per_s = lim.rate_bytes_per_s,
        .burst_bytes = lim.burst_bytes,
        .max_connections_per_address = lim.max_connections_per_address,
        .auth_timeout_ms = (uint64_t)auth_to,
        .idle_timeout_ms = lim.idle_timeout_ms,
        .max_auth_failures = (unsigned)failures,
        .auth_failure_delay_ms = (uint64_t)delay,
    };
    return 0;
}

/* <register allow='yes' interval='60s'/>: XEP-0077 in-band registration,
 * off unless allowed; interval spaces accounts made from one address (0:
 * no limit). */
static int config_register(const cfg_node *n, c2s_config *out, cfg_diag *d)
{
    static const char *const attrs[] = { "allow", "interval", NULL };
    long interval;
    if (cfg_check_attrs(n, attrs, d) < 0 ||
        cfg_bool(n, "allow", false, &out->register_allowed, d) < 0 ||
        cfg_duration_ms(n, "interval", 60000, 0, 86400000L, &interval, d) < 0)
        return XE_CONFIG;
    out->register_interval_ms = (uint64_t)interval;
    return 0;
}

int c2s_config_load(const cfg *c, void *conf, cfg_diag *d)
{
    c2s_config *out = conf;
    memset(out, 0, sizeof *out);
    const cfg_node *sec;
    if (proc_section_domains(c, "c2s", &sec, &out->domains, &out->n_domains, d) < 0)
        goto fail;
    /* XEP-0368: direct TLS clients may ask for "xmpp-client" with ALPN. */
    static const tls_ctx_opts server_tls = { .is_server = true, .alpn = "xmpp-client" };
    for (const cfg_node *n = cfg_first(sec); n; n = cfg_sibling(n)) {
        const char *name = cfg_name(n);
        int rc = 0;
        if (strcmp(name, "certificate") == 0) {
            rc = listen_certificate_cfg(c, n, &server_tls, &out->tls, NULL, NULL, d);
        } else if (strcmp(name, "listen") == 0) {
            rc = listen_add_cfg(&out->listen, n, d);
        } else if (strcmp(name, "tls") == 0) {
            static const char *const tls_attrs[] = { "required", NULL };
            rc = cfg_check_attrs(n, tls_attrs, d);
            if (rc == 0)
                rc = cfg_bool(n, "required", true, &out->tls_required, d);
        } else if (strcmp(name, "sasl") == 0) {
            static const char *const sasl_attrs[] = { "strict-channel-binding", NULL };
            rc = cfg_check_attrs(n, sasl_attrs, d);
            if (rc == 0)
                rc = cfg_bool(n, "strict-channel-binding", false,
                              &out->strict_channel_binding, d);
        } else if (strcmp(name, "register") == 0) {
            rc = config_register(n, out, d);
        } else if (strcmp(name, "connect") != 0 && strcmp(name, "limits") != 0) {
            rc = cfg_error(d, n, "unknown element <%s>", name);
        }
        if (rc < 0)
            goto fail;
    }
    if (!cfg_child(sec, "tls"))
        out->tls_required = true;
    if (!cfg_child(sec, "register"))
        out->register_interval_ms = 60000;
    if (out->listen.n_addrs == 0) {
        cfg_error(d, sec, "<c2s> has no <listen>");
        goto fail;
    }
    if (listen_check_tls(sec, &out->listen, out->tls_required, out->tls, d) < 0 ||
        config_limits(cfg_child(sec, "limits"), &out->limits, d) < 0 ||
        component_link_opts(c, sec, "c2s", &out->link, d) < 0)
        goto fail;
    return 0;
fail:
    c2s_config_close(out);
    return XE_CONFIG;
}

void c2s_config_close(void *ud)
{
    c2s_config *conf = ud;
    proc_domains_free(conf->domains, conf->n_domains);
    listen_set_free(&conf->listen);
    tls_ctx_free(conf->tls);
    component_link_cfg_close(&conf->link);
    memset(conf, 0, sizeof *conf);
}

bool c2s_serves(const c2s *s, const char *domain)
{
    return proc_domains_has(s->config.domains, s->config.n_domains, domain);
}
