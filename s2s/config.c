/* SPDX-License-Identifier: MIT */
/* s2s/config.c: the served <domain>s and the <s2s> section: listeners,
 * certificates (one per domain, chosen by SNI), the TLS policy, the
 * dialback secret, static <host> addresses, the DNS <resolver> and the
 * limits. */
#include <stdlib.h>
#include <string.h>
#include <ares.h>
#include <uv.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/jid.h"
#include "libcommon/log.h"
#include "libcommon/proc.h"
#include "s2s/s2s.h"

/* <limits>: the ones every listener has (listen_limits_cfg()), the
 * handshake's and the outgoing queue's. */
static int config_limits(const cfg_node *n, s2s_limits *l, cfg_diag *d)
{
    static const char *const own[] = { "max-attrs", "handshake-timeout", "queue", NULL };
    listen_limits lim = {
        .max_stanza_bytes = 256 * 1024,
        .max_depth = 64,
        .rate_bytes_per_s = 1024 * 1024,
        .burst_bytes = 4 * 1024 * 1024,
        .max_connections_per_address = 16,
        .idle_timeout_ms = 600000,
    };
    long nattrs, hs;
    size_t queue;
    if (listen_limits_cfg(n, own, &lim, d) < 0 ||
        cfg_int(n, "max-attrs", 64, 4, 1000, &nattrs, d) < 0 ||
        cfg_duration_ms(n, "handshake-timeout", 30000, 100, 3600000, &hs, d) < 0 ||
        cfg_size(n, "queue", 1024 * 1024, 1024, (size_t)1 << 32, &queue, d) < 0)
        return XE_CONFIG;
    *l = (s2s_limits){
        .max_stanza_bytes = lim.max_stanza_bytes,
        .max_depth = lim.max_depth,
        .max_attrs = (unsigned)nattrs,
        .rate_bytes_per_s = lim.rate_bytes_per_s,
        .burst_bytes = lim.burst_bytes,
        .max_connections_per_address = lim.max_connections_per_address,
        .handshake_timeout_ms = (uint64_t)hs,
        .idle_timeout_ms = lim.idle_timeout_ms,
        .max_queue_bytes = queue,
    };
    return 0;
}

/* <certificate domain=>: the server side's, and, for the domain (any domain
 * without it), our client certificate on outgoing streams. */
static int config_certificate(const cfg *c, const cfg_node *n, s2s_config *out,
                              cfg_diag *d)
{
    const char *domain = cfg_attr(n, "domain");
    char *dom = NULL;
    if (domain && jid_domain_normalize(domain, &dom) < 0)
        return cfg_error(d, n, "\"%s\" is not a valid domain", domain);
    /* Client certificates are asked for, never required: a peer without one
     * (or with one that does not verify) can still use dialback. */
    const tls_ctx_opts server = { .is_server = true, .ca_file = out->ca_file,
                                  .request_peer = true, .alpn = S2S_ALPN };
    char *cert_path, *key_path;
    if (listen_certificate_cfg(c, n, &server, &out->tls, &cert_path, &key_path, d) < 0) {
        free(dom);
        return XE_CONFIG;
    }
    tls_ctx *client = NULL;
    char err[512];
    tls_ctx_opts o = { .cert_file = cert_path, .key_file = key_path, .ca_file = out->ca_file,
                       .alpn = S2S_ALPN };
    int rc = tls_ctx_new(&o, &client, err, sizeof err);
    free(cert_path);
    free(key_path);
    if (rc < 0) {
        free(dom);
        return cfg_error(d, n, "%s", err);
    }
    out->client_tls = xrealloc(out->client_tls, (out->n_client_tls + 1) * sizeof *out->client_tls);
    out->client_tls[out->n_client_tls++] = (s2s_client_tls){ .domain = dom, .tls = client };
    return 0;
}

static const char *const s2s_policy_names[] = { "dialback", "certificate", "deny" };

const char *s2s_policy_name(s2s_auth_policy p)
{
    return s2s_policy_names[p];
}

/* <remote domain="example.org|*" auth="certificate|dialback|deny"/> */
static int config_remote(const cfg_node *n, s2s_config *out, bool *has_default, cfg_diag *d)
{
    static const char *const attrs[] = { "domain", "auth", NULL };
    const char *domain, *auth;
    if (cfg_check_attrs(n, attrs, d) < 0 || cfg_required(n, "domain", &domain, d) < 0 ||
        cfg_required(n, "auth", &auth, d) < 0)
        return XE_CONFIG;
    size_t p = 0;
    while (p < 3 && strcmp(s2s_policy_names[p], auth) != 0)
        p++;
    if (p == 3)
        return cfg_error(d, n, "auth=\"%s\" is not certificate, dialback or deny", auth);
    if (strcmp(domain, "*") == 0) {
        if (*has_default)
            return cfg_error(d, n, "a second <remote domain=\"*\">");
        *has_default = true;
        out->default_auth = (s2s_auth_policy)p;
        return 0;
    }
    char *dom;
    if (jid_domain_normalize(domain, &dom) < 0)
        return cfg_error(d, n, "\"%s\" is not a valid domain", domain);
    for (size_t i = 0; i < out->n_remotes; i++)
        if (strcmp(out->remotes[i].domain, dom) == 0) {
            free(dom);
            return cfg_error(d, n, "a second <remote> for \"%s\"", domain);
        }
    out->remotes = xrealloc(out->remotes, (out->n_remotes + 1) * sizeof *out->remotes);
    out->remotes[out->n_remotes++] = (s2s_remote){ .domain = dom, .auth = (s2s_auth_policy)p };
    return 0;
}

/* <tls required= ca-file=/>, read before the certificates that use it. */
static int config_tls(const cfg *c, const cfg_node *sec, s2s_config *out, cfg_diag *d)
{
    static const char *const tls_attrs[] = { "required", "ca-file", NULL };
    const cfg_node *n = cfg_child(sec, "tls");
    out->tls_required = true;
    if (!n)
        return 0;
    if (cfg_next(n))
        return cfg_error(d, cfg_next(n), "a second <tls>");
    if (cfg_check_attrs(n, tls_attrs, d) < 0 ||
        cfg_bool(n, "required", true, &out->tls_required, d) < 0)
        return XE_CONFIG;
    const char *ca = cfg_attr(n, "ca-file");
    if (ca && !ca[0])
        return cfg_error(d, n, "ca-file is empty");
    if (ca) {
        out->ca_file = cfg_resolve_path(c, ca);
        /* Loaded here once to report a bad file at its line. */
        tls_ctx *probe;
        char err[512];
        tls_ctx_opts o = { .ca_file = out->ca_file };
        if (tls_ctx_new(&o, &probe, err, sizeof err) < 0)
            return cfg_error(d, n, "%s", err);
        tls_ctx_free(probe);
    }
    return 0;
}

static int config_host(const cfg_node *n, s2s_config *out, cfg_diag *d)
{
    static const char *const attrs[] = { "domain", "address", "port", NULL };
    const char *domain, *address;
    long port;
    if (cfg_check_attrs(n, attrs, d) < 0 || cfg_required(n, "domain", &domain, d) < 0 ||
        cfg_required(n, "address", &address, d) < 0 ||
        cfg_int(n, "port", S2S_DEFAULT_PORT, 1, 65535, &port, d) < 0)
        return XE_CONFIG;
    char *dom;
    if (jid_domain_normalize(domain, &dom) < 0)
        return cfg_error(d, n, "\"%s\" is not a valid domain", domain);
    if (!address[0]) {
        free(dom);
        return cfg_error(d, n, "<host> for \"%s\" has an empty address", domain);
    }
    out->hosts = xrealloc(out->hosts, (out->n_hosts + 1) * sizeof *out->hosts);
    out->hosts[out->n_hosts++] = (s2s_host){
        .domain = dom, .address = xstrdup(address), .port = (int)port,
    };
    return 0;
}

/* <resolver address="IP[:PORT][,IP[:PORT]...]"/>: the DNS servers to ask
 * instead of those in resolv.conf. */
static int config_resolver(const cfg_node *n, s2s_config *out, cfg_diag *d)
{
    static const char *const attrs[] = { "address", NULL };
    const char *address;
    if (cfg_check_attrs(n, attrs, d) < 0 || cfg_required(n, "address", &address, d) < 0)
        return XE_CONFIG;
    if (out->resolver)
        return cfg_error(d, n, "a second <resolver>");
    /* c-ares parses it here once, so that a bad list is reported at its
     * line (and by --check-config) rather than at start. */
    ares_channel probe;
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc == ARES_SUCCESS) {
        rc = ares_init(&probe);
        if (rc == ARES_SUCCESS) {
            rc = address[0] ? ares_set_servers_ports_csv(probe, address) : ARES_EBADSTR;
            ares_destroy(probe);
        }
        ares_library_cleanup();
    }
    if (rc != ARES_SUCCESS)
        return cfg_error(d, n, "\"%s\" is not a list of IP[:PORT]: %s", address,
                         ares_strerror(rc));
    out->resolver = xstrdup(address);
    return 0;
}

/* Without a configured secret every start makes one: fine for a single
 * instance, wrong for several, which must share it (XEP-0185 §3). */
static void config_random_secret(s2s_config *out)
{
    unsigned char rnd[32];
    if (uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL) != 0)
        memset(rnd, 0, sizeof rnd);
    out->secret = xalloc(2 * sizeof rnd + 1);
    for (size_t i = 0; i < sizeof rnd; i++) {
        static const char hex[] = "0123456789abcdef";
        out->secret[2 * i] = hex[rnd[i] >> 4];
        out->secret[2 * i + 1] = hex[rnd[i] & 15];
    }
    out->is_secret_generated = true;
}

int s2s_config_load(const cfg *c, void *conf, cfg_diag *d)
{
    s2s_config *out = conf;
    memset(out, 0, sizeof *out);
    const cfg_node *sec;
    bool has_default = false;
    if (proc_section_domains(c, "s2s", &sec, &out->domains, &out->n_domains, d) < 0 ||
        config_tls(c, sec, out, d) < 0)
        goto fail;
    for (const cfg_node *n = cfg_first(sec); n; n = cfg_sibling(n)) {
        const char *name = cfg_name(n);
        int rc = 0;
        if (strcmp(name, "listen") == 0) {
            rc = listen_add_cfg(&out->listen, n, d);
        } else if (strcmp(name, "certificate") == 0) {
            rc = config_certificate(c, n, out, d);
        } else if (strcmp(name, "host") == 0) {
            rc = config_host(n, out, d);
        } else if (strcmp(name, "resolver") == 0) {
            rc = config_resolver(n, out, d);
        } else if (strcmp(name, "remote") == 0) {
            rc = config_remote(n, out, &has_default, d);
        } else if (strcmp(name, "dialback") == 0) {
            static const char *const db_attrs[] = { "secret", NULL };
            const char *secret;
            rc = cfg_check_attrs(n, db_attrs, d);
            if (rc == 0)
                rc = cfg_required(n, "secret", &secret, d);
            if (rc == 0 && strlen(secret) < 16)
                rc = cfg_error(d, n, "the dialback secret needs at least 16 characters");
            if (rc == 0) {
                free(out->secret);
                out->secret = xstrdup(secret);
            }
        } else if (strcmp(name, "connect") != 0 && strcmp(name, "limits") != 0 &&
                   strcmp(name, "tls") != 0) {
            rc = cfg_error(d, n, "unknown element <%s>", name);
        }
        if (rc < 0)
            goto fail;
    }
    if (out->listen.n_addrs == 0) {
        listen_add(&out->listen, "0.0.0.0:5269", false);
        listen_add(&out->listen, "0.0.0.0:5270", true);
    }
    if (listen_check_tls(sec, &out->listen, out->tls_required, out->tls, d) < 0 ||
        config_limits(cfg_child(sec, "limits"), &out->limits, d) < 0)
        goto fail;
    char err[512];
    tls_ctx_opts copts = { .is_server = false, .ca_file = out->ca_file, .alpn = S2S_ALPN };
    if (tls_ctx_new(&copts, &out->tls_client, err, sizeof err) < 0) {
        cfg_error(d, sec, "the TLS client context: %s", err);
        goto fail;
    }
    if (component_link_opts(c, sec, "s2s", &out->link, d) < 0)
        goto fail;
    if (!out->secret)
        config_random_secret(out);
    return 0;
fail:
    s2s_config_close(out);
    return XE_CONFIG;
}

void s2s_config_close(void *ud)
{
    s2s_config *conf = ud;
    proc_domains_free(conf->domains, conf->n_domains);
    listen_set_free(&conf->listen);
    for (size_t i = 0; i < conf->n_hosts; i++) {
        free(conf->hosts[i].domain);
        free(conf->hosts[i].address);
    }
    free(conf->hosts);
    tls_ctx_free(conf->tls);
    tls_ctx_free(conf->tls_client);
    for (size_t i = 0; i < conf->n_client_tls; i++) {
        free(conf->client_tls[i].domain);
        tls_ctx_free(conf->client_tls[i].tls);
    }
    free(conf->client_tls);
    for (size_t i = 0; i < conf->n_remotes; i++)
        free(conf->remotes[i].domain);
    free(conf->remotes);
    free(conf->ca_file);
    free(conf->secret);
    free(conf->resolver);
    component_link_cfg_close(&conf->link);
    memset(conf, 0, sizeof *conf);
}

bool s2s_serves(const s2s *s, const char *domain)
{
    return proc_domains_has(s->config.domains, s->config.n_domains, domain);
}

const s2s_host *s2s_host_for(const s2s *s, const char *domain)
{
    for (size_t i = 0; i < s->config.n_hosts; i++)
        if (strcmp(s->config.hosts[i].domain, domain) == 0)
            return &s->config.hosts[i];
    return NULL;
}

s2s_auth_policy s2s_policy_for(const s2s *s, const char *domain)
{
    for (size_t i = 0; domain && i < s->config.n_remotes; i++)
        if (strcmp(s->config.remotes[i].domain, domain) == 0)
            return s->config.remotes[i].auth;
    return s->config.default_auth;
}

tls_ctx *s2s_client_tls_for(const s2s *s, const char *local)
{
    tls_ctx *any = NULL;
    for (size_t i = 0; i < s->config.n_client_tls; i++) {
        const s2s_client_tls *ct = &s->config.client_tls[i];
        if (ct->domain && local && strcmp(ct->domain, local) == 0)
            return ct->tls;
        if (!ct->domain && !any)
            any = ct->tls;
    }
    return any ? any : s->config.tls_client;
}
