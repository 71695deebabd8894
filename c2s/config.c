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

static int config_limits(const cfg_node *n, c2s_limits *l, cfg_diag *d)
{
    static const char *const attrs[] = {
        "max-stanza-bytes", "max-depth", "rate", "burst",
        "max-connections-per-address", "auth-timeout", "idle-timeout",
        "max-auth-failures", "auth-failure-delay", NULL,
    };
    size_t stanza, rate_bps, burst;
    long depth, conns, auth_to, idle, failures, delay;
    if (n && cfg_check_attrs(n, attrs, d) < 0)
        return XE_CONFIG;
    if (cfg_size(n, "max-stanza-bytes", 64 * 1024, 1024, 64 << 20, &stanza, d) < 0 ||
        cfg_int(n, "max-depth", 32, 2, 1000, &depth, d) < 0 ||
        cfg_size(n, "rate", 64 * 1024, 0, (size_t)1 << 40, &rate_bps, d) < 0 ||
        cfg_size(n, "burst", 256 * 1024, 0, (size_t)1 << 40, &burst, d) < 0 ||
        cfg_int(n, "max-connections-per-address", 32, 1, 1000000, &conns, d) < 0 ||
        cfg_duration_ms(n, "auth-timeout", 30000, 100, 3600000, &auth_to, d) < 0 ||
        cfg_duration_ms(n, "idle-timeout", 600000, 0, 86400000L * 30, &idle, d) < 0 ||
        cfg_int(n, "max-auth-failures", 3, 1, 1000, &failures, d) < 0 ||
        cfg_duration_ms(n, "auth-failure-delay", 1000, 0, 60000, &delay, d) < 0)
        return XE_CONFIG;
    l->max_stanza_bytes = stanza;
    l->max_depth = (unsigned)depth;
    l->rate_bytes_per_s = rate_bps;
    l->burst_bytes = burst < stanza ? stanza : burst;
    l->max_connections_per_address = (unsigned)conns;
    l->auth_timeout_ms = (uint64_t)auth_to;
    l->idle_timeout_ms = (uint64_t)idle;
    l->max_auth_failures = (unsigned)failures;
    l->auth_failure_delay_ms = (uint64_t)delay;
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

static int config_certificate(const cfg *c, const cfg_node *n, c2s_config *out,
                              cfg_diag *d)
{
    static const char *const attrs[] = { "domain", "cert", "key", NULL };
    const char *cert, *key;
    if (cfg_check_attrs(n, attrs, d) < 0 || cfg_required(n, "cert", &cert, d) < 0 ||
        cfg_required(n, "key", &key, d) < 0)
        return XE_CONFIG;
    char *cert_path = cfg_resolve_path(c, cert), *key_path = cfg_resolve_path(c, key);
    char err[512];
    int rc;
    if (!out->tls) {
        tls_ctx_opts o = { .is_server = true, .cert_file = cert_path, .key_file = key_path };
        rc = tls_ctx_new(&o, &out->tls, err, sizeof err);
    } else {
        rc = tls_ctx_add_cert(out->tls, cert_path, key_path, err, sizeof err);
    }
    free(cert_path);
    free(key_path);
    if (rc < 0)
        return cfg_error(d, n, "%s", err);
    return 0;
}

int c2s_config_load(const cfg *c, c2s_config *out, cfg_diag *d)
{
    memset(out, 0, sizeof *out);
    const cfg_node *sec = cfg_child(cfg_root(c), "c2s");
    if (!sec)
        return cfg_error(d, cfg_root(c), "the config has no <c2s> section");
    static const char *const attrs[] = { NULL };
    if (cfg_check_attrs(sec, attrs, d) < 0 ||
        proc_domains(c, &out->domains, &out->n_domains, d) < 0)
        goto fail;
    if (out->n_domains == 0) {
        cfg_error(d, cfg_root(c), "c2s: the config serves no <domain>");
        goto fail;
    }
    for (const cfg_node *n = cfg_first(sec); n; n = cfg_sibling(n)) {
        const char *name = cfg_name(n);
        int rc = 0;
        if (strcmp(name, "listen") == 0) {
            rc = listen_add_cfg(&out->listen, n, d);
        } else if (strcmp(name, "certificate") == 0) {
            rc = config_certificate(c, n, out, d);
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
    if ((listen_has_tls(&out->listen) || out->tls_required) && !out->tls) {
        cfg_error(d, sec, "TLS is required or a tls listener is set, but there is "
                          "no <certificate>");
        goto fail;
    }
    if (config_limits(cfg_child(sec, "limits"), &out->limits, d) < 0)
        goto fail;
    if (component_link_opts(c, sec, "c2s", &out->link, d) < 0)
        goto fail;
    return 0;
fail:
    c2s_config_close(out);
    return XE_CONFIG;
}

void c2s_config_close(c2s_config *conf)
{
    proc_domains_free(conf->domains, conf->n_domains);
    listen_set_free(&conf->listen);
    tls_ctx_free(conf->tls);
    component_link_cfg_close(&conf->link);
    memset(conf, 0, sizeof *conf);
}

bool c2s_serves(const c2s *s, const char *domain)
{
    for (size_t i = 0; i < s->config.n_domains; i++)
        if (strcmp(s->config.domains[i], domain) == 0)
            return true;
    return false;
}
