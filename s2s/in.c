/* SPDX-License-Identifier: MIT */
/* s2s/in.c: the connection objects of both directions (parser, limits,
 * timeouts, closing) and the incoming server streams (RFC 6120 §4, §5):
 * listeners, headers and features, STARTTLS, and stanzas from
 * authenticated peers forwarded into the router. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>

#include "libcommon/alloc.h"
#include "libcommon/envelope.h"
#include "libcommon/error.h"
#include "libcommon/jid.h"
#include "libcommon/log.h"
#include "s2s/s2s.h"

#define S2S_SWEEP_MS 100
#define S2S_LINK_HIGH_WATER (1024 * 1024)   /* bytes queued to the router */

void s2s_new_stream_id(char out[33])
{
    unsigned char rnd[16];
    if (uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL) != 0)
        memset(rnd, 0, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(out + 2 * i, 3, "%02x", rnd[i]);
}

void s2s_conn_set_who(s2s_conn *cn)
{
    const char *peer = cn->net ? net_conn_peer(cn->net) : "-";
    if (cn->is_out)
        snprintf(cn->who, sizeof cn->who, "s2s-out#%llu %s %s->%s", (unsigned long long)cn->id,
                 peer, cn->local ? cn->local : "?", cn->remote ? cn->remote : "?");
    else
        snprintf(cn->who, sizeof cn->who, "s2s-in#%llu %s%s%s", (unsigned long long)cn->id,
                 peer, cn->local ? " to " : "", cn->local ? cn->local : "");
}

void s2s_conn_send(s2s_conn *cn, const char *data, size_t len)
{
    if (cn->net && cn->state != S2S_CLOSING)
        net_conn_send(cn->net, data, len);
}

void s2s_conn_send_str(s2s_conn *cn, const char *str)
{
    s2s_conn_send(cn, str, strlen(str));
}

/* RFC 6120 §4.7: an answer carries an id (made here when a stream error
 * comes before the peer's header was read), from (our first domain when
 * the peer named none we serve) and to (the peer's from, when it gave
 * one); both directions carry xml:lang. */
void s2s_conn_send_header(s2s_conn *cn)
{
    const s2s *s = cn->srv;
    const char *from = cn->local;
    if (!cn->is_out && !from && s->config.n_domains)
        from = s->config.domains[0];
    if (!cn->is_out && !cn->stream_id[0])
        s2s_new_stream_id(cn->stream_id);
    buf out;
    buf_init(&out);
    buf_append_str(&out, "<?xml version='1.0'?><stream:stream xmlns='" XS_NS_SERVER
                         "' xmlns:stream='" XS_NS_STREAMS "' xmlns:db='" S2S_NS_DIALBACK "'");
    if (!cn->is_out)
        buf_append_attr(&out, "id", cn->stream_id);
    buf_append_attr(&out, "from", from);
    buf_append_attr(&out, "to", cn->remote);
    buf_append_str(&out, " version='1.0' xml:lang='en'>");
    if (cn->net)
        net_conn_send(cn->net, buf_data(&out), buf_len(&out));
    buf_close(&out);
    cn->has_header_sent = true;
}

s2s_conn *s2s_conn_by_id(s2s *s, uint64_t id)
{
    for (s2s_conn *cn = s->conns; cn; cn = cn->next)
        if (cn->id == id)
            return cn->state == S2S_CLOSING ? NULL : cn;
    return NULL;
}

bool s2s_in_is_authed(const s2s_conn *cn, const char *remote, const char *local)
{
    size_t rl = strlen(remote);
    for (size_t i = 0; i < cn->n_authed; i++) {
        const char *p = cn->authed[i];
        if (strncmp(p, remote, rl) == 0 && p[rl] == ' ' && strcmp(p + rl + 1, local) == 0)
            return true;
    }
    return false;
}

void s2s_in_add_authed(s2s_conn *cn, const char *remote, const char *local)
{
    if (s2s_in_is_authed(cn, remote, local))
        return;
    cn->authed = xrealloc(cn->authed, (cn->n_authed + 1) * sizeof *cn->authed);
    cn->authed[cn->n_authed++] = xasprintf("%s %s", remote, local);
    cn->deadline_ms = 0;
}

bool s2s_conn_cert_names(const s2s_conn *cn, const char *domain)
{
    tls_session *t = cn->net ? net_conn_tls(cn->net) : NULL;
    return t && domain && tls_session_peer_verified(t) && tls_session_peer_has_name(t, domain);
}

static const char *conn_tls_version(const s2s_conn *cn)
{
    tls_session *t = cn->net ? net_conn_tls(cn->net) : NULL;
    const char *v = t ? tls_session_version(t) : NULL;
    return v ? v : "without TLS";
}

/* --- incoming streams --------------------------------------------------- */

/* XEP-0178 §3: EXTERNAL is offered when the certificate names the domain
 * of the stream header's from, which is not authenticated yet. */
static bool in_can_external(const s2s_conn *cn)
{
    return cn->remote && !s2s_in_is_authed(cn, cn->remote, cn->local) &&
           s2s_policy_for(cn->srv, cn->remote) != S2S_AUTH_DENY &&
           s2s_conn_cert_names(cn, cn->remote);
}

static void in_send_features(s2s_conn *cn)
{
    s2s *s = cn->srv;
    bool has_tls = net_conn_is_tls(cn->net);
    buf out;
    buf_init(&out);
    buf_append_str(&out, "<stream:features>");
    if (!has_tls && s->config.tls) {
        buf_append_str(&out, "<starttls xmlns='" XS_NS_TLS "'>");
        if (s->config.tls_required)
            buf_append_str(&out, "<required/>");
        buf_append_str(&out, "</starttls>");
    }
    if (has_tls && in_can_external(cn))
        buf_append_str(&out, "<mechanisms xmlns='" XS_NS_SASL "'><mechanism>EXTERNAL"
                             "</mechanism></mechanisms>");
    /* XEP-0220 §2.3: dialback is offered once TLS is done, if TLS is due,
     * and not to a domain whose policy wants a certificate. */
    bool is_db_allowed = !cn->remote || s2s_policy_for(s, cn->remote) == S2S_AUTH_DIALBACK;
    if ((has_tls || !s->config.tls_required) && is_db_allowed)
        buf_append_str(&out, "<dialback xmlns='" S2S_NS_DIALBACK_FEATURE "'><errors/></dialback>");
    buf_append_str(&out, "</stream:features>");
    s2s_conn_send(cn, buf_data(&out), buf_len(&out));
    buf_close(&out);
}

static void in_on_open(s2s_conn *cn, xs_elem *header)
{
    s2s *s = cn->srv;
    if (cn->state == S2S_TLS) {
        /* RFC 6120 §5.4.3.3: plaintext after <starttls/> is not trusted. */
        s2s_conn_close(cn, XS_STREAM_POLICY_VIOLATION, "data after starttls");
        return;
    }
    const char *to = xs_attr(header, "to");
    char *dom = NULL;
    if (to && jid_domain_normalize(to, &dom) == 0 && s2s_serves(s, dom)) {
        free(cn->local);
        cn->local = dom;
        dom = NULL;
        s2s_conn_set_who(cn);
    }
    free(dom);
    dom = NULL;
    const char *from = xs_attr(header, "from");
    free(cn->remote);
    cn->remote = NULL;
    if (from && jid_domain_normalize(from, &dom) == 0)
        cn->remote = dom;
    s2s_new_stream_id(cn->stream_id);
    s2s_conn_send_header(cn);
    if (strcmp(xs_name(header), "stream") != 0 || strcmp(xs_ns(header), XS_NS_STREAMS) != 0) {
        s2s_conn_close(cn, XS_STREAM_INVALID_NAMESPACE, "the header is not a stream");
        return;
    }
    const char *ns = xstream_content_ns(cn->xs);
    if (!ns || strcmp(ns, XS_NS_SERVER) != 0) {
        char esc[128];
        log_warn(cn->who, "stream namespace \"%s\"; closing with invalid-namespace",
                 log_escape(ns ? ns : "", ns ? strlen(ns) : 0, esc, sizeof esc));
        s2s_conn_close(cn, XS_STREAM_INVALID_NAMESPACE, NULL);
        return;
    }
    if (!cn->local) {
        char esc[128];
        log_warn(cn->who, "stream to \"%s\", which is not served; closing with host-unknown",
                 log_escape(to ? to : "", to ? strlen(to) : 0, esc, sizeof esc));
        s2s_conn_close(cn, XS_STREAM_HOST_UNKNOWN, NULL);
        return;
    }
    /* RFC 6120 §4.7.5: pre-1.0 peers (no STARTTLS, no features) are refused. */
    const char *ver = xs_attr(header, "version");
    if (!ver || atoi(ver) < 1) {
        s2s_conn_close(cn, XS_STREAM_UNSUPPORTED_VERSION, "version 1.0 is required");
        return;
    }
    if (cn->remote && s2s_policy_for(s, cn->remote) == S2S_AUTH_DENY) {
        log_warn(cn->who, "a stream from %s, which policy denies; closing with "
                          "policy-violation", cn->remote);
        s2s_conn_close(cn, XS_STREAM_POLICY_VIOLATION, "federation with your domain is "
                                                       "not allowed");
        return;
    }
    cn->state = S2S_OPEN;
    in_send_features(cn);
}

static void in_sasl_failure(s2s_conn *cn, const char *cond, const char *why)
{
    char *msg = xasprintf("<failure xmlns='" XS_NS_SASL "'><%s/></failure>", cond);
    s2s_conn_send_str(cn, msg);
    free(msg);
    log_warn(cn->who, "SASL EXTERNAL refused (%s): %s", cond, why);
}

/* <auth mechanism='EXTERNAL'>: RFC 6120 §6.4, XEP-0178 §3. The authzid is
 * the originating domain (base64), empty or '='; the certificate must name
 * the domain of the stream header's from. */
static void in_sasl_auth(s2s_conn *cn, xs_elem *st)
{
    const char *mech = xs_attr(st, "mechanism"), *text = xs_text(st);
    if (!mech || strcmp(mech, "EXTERNAL") != 0) {
        in_sasl_failure(cn, "invalid-mechanism", "only EXTERNAL is offered");
        return;
    }
    if (!in_can_external(cn)) {
        in_sasl_failure(cn, "not-authorized", cn->remote && s2s_in_is_authed(cn, cn->remote,
                                                                             cn->local)
                                                  ? "already authenticated"
                                                  : "no valid certificate for the stream's from");
        return;
    }
    char *authzid = NULL;
    if (text[0] && strcmp(text, "=") != 0) {
        gnutls_datum_t in = { (unsigned char *)(uintptr_t)text, (unsigned)strlen(text) };
        gnutls_datum_t outd = { NULL, 0 };
        if (gnutls_base64_decode2(&in, &outd) < 0) {
            in_sasl_failure(cn, "incorrect-encoding", "the authzid is not base64");
            return;
        }
        char *raw = xstrndup((const char *)outd.data, outd.size);
        gnutls_free(outd.data);
        if (strlen(raw) != outd.size || jid_domain_normalize(raw, &authzid) < 0 ||
            strcmp(authzid, cn->remote) != 0) {
            char esc[128];
            in_sasl_failure(cn, "invalid-authzid", log_escape(raw, strlen(raw), esc, sizeof esc));
            free(raw);
            free(authzid);
            return;
        }
        free(raw);
        free(authzid);
    }
    s2s_conn_send_str(cn, "<success xmlns='" XS_NS_SASL "'/>");
    s2s_in_add_authed(cn, cn->remote, cn->local);
    log_info(cn->who, "authenticated %s -> %s with SASL EXTERNAL, %s", cn->remote, cn->local,
             conn_tls_version(cn));
    /* RFC 6120 §6.4.6: both sides restart the stream. */
    cn->state = S2S_OPENING;
    cn->has_header_sent = false;
    xstream_reset(cn->xs);
}

static void in_starttls(s2s_conn *cn)
{
    s2s *s = cn->srv;
    if (net_conn_is_tls(cn->net) || !s->config.tls) {
        log_warn(cn->who, "STARTTLS refused (already encrypted or no certificate)");
        s2s_conn_send_str(cn, "<failure xmlns='" XS_NS_TLS "'/>");
        s2s_conn_close(cn, -1, NULL);
        return;
    }
    s2s_conn_send_str(cn, "<proceed xmlns='" XS_NS_TLS "'/>");
    cn->state = S2S_TLS;
    cn->has_header_sent = false;
    xstream_reset(cn->xs);
    net_conn_start_tls(cn->net, s->config.tls, NULL);
}

static bool is_stanza_name(const char *name)
{
    return strcmp(name, "message") == 0 || strcmp(name, "presence") == 0 ||
           strcmp(name, "iq") == 0;
}

/* A domain from an address attribute, normalized; NULL when invalid. */
static char *in_domain_of(const char *addr)
{
    jid *j = NULL;
    if (!addr || jid_parse(addr, &j) < 0)
        return NULL;
    char *dom = xstrdup(jid_domain(j));
    jid_free(j);
    return dom;
}

/* RFC 6120 §8.1.1.1, §4.9.3: only authenticated (from, to) pairs pass. */
static void in_forward(s2s_conn *cn, xs_elem *st, const char *raw, size_t len)
{
    s2s *s = cn->srv;
    const char *from = xs_attr(st, "from"), *to = xs_attr(st, "to");
    char *fdom = in_domain_of(from), *tdom = in_domain_of(to);
    char esc[256];
    if (!fdom || !tdom) {
        log_warn(cn->who, "a <%s/> without a valid from or to; closing with improper-addressing",
                 xs_name(st));
        s2s_conn_close(cn, XS_STREAM_IMPROPER_ADDRESSING, NULL);
    } else if (cn->n_authed == 0) {
        log_warn(cn->who, "a <%s/> before dialback; closing with not-authorized", xs_name(st));
        s2s_conn_close(cn, XS_STREAM_NOT_AUTHORIZED, "authenticate first");
    } else if (!s2s_serves(s, tdom)) {
        log_warn(cn->who, "a <%s/> to %s, which we do not serve; closing with host-unknown",
                 xs_name(st), log_escape(tdom, strlen(tdom), esc, sizeof esc));
        s2s_conn_close(cn, XS_STREAM_HOST_UNKNOWN, NULL);
    } else if (!s2s_in_is_authed(cn, fdom, tdom)) {
        log_warn(cn->who, "a <%s/> from %s, not authenticated on this stream; closing "
                          "with invalid-from",
                 xs_name(st), log_escape(fdom, strlen(fdom), esc, sizeof esc));
        s2s_conn_close(cn, XS_STREAM_INVALID_FROM, NULL);
    } else {
        buf out;
        buf_init(&out);
        /* The component stream's namespace replaces jabber:server; the
         * bytes are otherwise what the peer sent. */
        if (envelope_stamp(&out, raw, len, NULL, from)) {
            int rc = s->link ? link_send(s->link, buf_data(&out), buf_len(&out)) : XE_CLOSED;
            if (rc < 0)
                log_warn(cn->who, "a <%s/> to the router was dropped: %s", xs_name(st),
                         xe_str(rc));
            /* The router is slower than the peer: stop reading for a while
             * rather than drop what the link cannot take. */
            if (s->link && link_queued(s->link) > S2S_LINK_HIGH_WATER && !cn->resume_at_ms) {
                cn->resume_at_ms = net_now_ms() + S2S_SWEEP_MS;
                net_conn_pause(cn->net);
            }
        }
        buf_close(&out);
    }
    free(fdom);
    free(tdom);
}

static void in_on_stanza(s2s_conn *cn, xs_elem *st, const char *raw, size_t len)
{
    s2s *s = cn->srv;
    const char *name = xs_name(st), *ns = xs_ns(st);
    if (cn->state != S2S_OPEN)
        return;
    if (strcmp(ns, XS_NS_STREAMS) == 0 && strcmp(name, "error") == 0) {
        xs_elem *c = xs_first(st);
        log_warn(cn->who, "the peer sent a stream error (%s)", c ? xs_name(c) : "?");
        s2s_conn_close(cn, -1, NULL);
        return;
    }
    if (strcmp(ns, XS_NS_TLS) == 0 && strcmp(name, "starttls") == 0) {
        in_starttls(cn);
        return;
    }
    if (!net_conn_is_tls(cn->net) && s->config.tls_required) {
        /* RFC 6120 §5.3.1: mandatory-to-negotiate TLS comes first. */
        s2s_conn_close(cn, XS_STREAM_POLICY_VIOLATION, "TLS is required first");
        return;
    }
    if (strcmp(ns, S2S_NS_DIALBACK) == 0) {
        s2s_dialback_in(cn, st);
        return;
    }
    if (strcmp(ns, XS_NS_SASL) == 0 && strcmp(name, "auth") == 0) {
        in_sasl_auth(cn, st);
        return;
    }
    if (!is_stanza_name(name) || strcmp(ns, XS_NS_SERVER) != 0) {
        s2s_conn_close(cn, XS_STREAM_UNSUPPORTED_STANZA_TYPE, NULL);
        return;
    }
    in_forward(cn, st, raw, len);
}

/* --- both directions: parser and socket events -------------------------- */

static void conn_on_open(void *ud, xs_elem *header)
{
    s2s_conn *cn = ud;
    if (cn->is_out)
        s2s_out_on_open(cn, header);
    else
        in_on_open(cn, header);
}

static void conn_on_stanza(void *ud, xs_elem *st, const char *raw, size_t len)
{
    s2s_conn *cn = ud;
    if (cn->is_out)
        s2s_out_on_stanza(cn, st, raw, len);
    else
        in_on_stanza(cn, st, raw, len);
}

static void conn_on_close(void *ud)
{
    s2s_conn *cn = ud;
    log_info(cn->who, "the peer closed its stream");
    s2s_conn_close(cn, -1, "the peer closed its stream");
}

static void conn_on_stream_error(void *ud, xs_stream_condition cond, const char *text)
{
    s2s_conn *cn = ud;
    char esc[256];
    log_warn(cn->who, "%s; closing with %s", log_escape(text, strlen(text), esc, sizeof esc),
             xs_stream_condition_name(cond));
    s2s_conn_close(cn, (int)cond, NULL);
}

static const xstream_events conn_stream_events = {
    .open = conn_on_open,
    .stanza = conn_on_stanza,
    .close = conn_on_close,
    .error = conn_on_stream_error,
};

static void conn_free(s2s_conn *cn)
{
    s2s *s = cn->srv;
    if (cn->prev)
        cn->prev->next = cn->next;
    else
        s->conns = cn->next;
    if (cn->next)
        cn->next->prev = cn->prev;
    xstream_free(cn->xs);
    free(cn->local);
    free(cn->remote);
    for (size_t i = 0; i < cn->n_authed; i++)
        free(cn->authed[i]);
    free(cn->authed);
    for (s2s_pending *p = cn->queue, *next; p; p = next) {
        next = p->next;
        free(p);
    }
    s2s_out_free_pairs(cn);
    for (s2s_verify *v = cn->verifies, *next; v; v = next) {
        next = v->next;
        s2s_verify_free(v);
    }
    for (s2s_verify *v = cn->verifies_sent, *next; v; v = next) {
        next = v->next;
        s2s_verify_free(v);
    }
    s2s_candidates_free(cn->candidates, cn->n_candidates);
    free(cn);
}

static void conn_on_data(net_conn *c, const char *data, size_t len)
{
    s2s_conn *cn = net_conn_data(c);
    cn->last_ms = net_now_ms();
    xstream_feed(cn->xs, data, len);
    if (cn->state == S2S_CLOSING)
        return;
    uint64_t now = net_now_ms();
    if (rate_take_pause(&cn->rl, len, now, &cn->resume_at_ms)) {
        log_debug(cn->who, "over its byte rate; pausing reads for %llu ms",
                  (unsigned long long)(cn->resume_at_ms - now));
        net_conn_pause(c);
    }
}

static void conn_on_tls_ready(net_conn *c)
{
    s2s_conn *cn = net_conn_data(c);
    tls_session *t = net_conn_tls(c);
    const char *sni = t && !cn->is_out ? tls_session_sni(t) : NULL;
    log_info(cn->who, "TLS established: %s%s%s, peer certificate %s",
             t ? tls_session_version(t) : "?", sni ? ", SNI " : "", sni ? sni : "",
             t && tls_session_peer_verified(t) ? "verified" : "absent or not verified");
    if (cn->is_out) {
        s2s_out_on_tls_ready(cn);
    } else if (cn->state == S2S_TLS) {
        cn->state = S2S_OPENING;
    }
}

static void conn_on_error(net_conn *c, int err)
{
    s2s_conn *cn = net_conn_data(c);
    const char *why = err == UV_EOF ? "the peer disconnected" : xe_str(err);
    log_info(cn->who, "closing: %s", why);
    if (cn->is_out) {
        s2s_out_fail(cn, XS_REMOTE_SERVER_NOT_FOUND, why);
        s2s_dialback_fail_verifies(cn, why);
    }
    cn->state = S2S_CLOSING;
    xstream_stop(cn->xs);
}

static void conn_on_closed(net_conn *c)
{
    s2s_conn *cn = net_conn_data(c);
    log_info(cn->who, "connection closed");
    cn->net = NULL;
    conn_free(cn);
}

static const net_conn_events conn_net_events = {
    .data = conn_on_data,
    .tls_ready = conn_on_tls_ready,
    .error = conn_on_error,
    .closed = conn_on_closed,
};

s2s_conn *s2s_conn_new(s2s *s, bool is_out)
{
    s2s_conn *cn = xalloc(sizeof *cn);
    cn->srv = s;
    cn->is_out = is_out;
    cn->id = ++s->next_conn_id;
    cn->last_ms = net_now_ms();
    cn->deadline_ms = net_now_ms() + s->config.limits.handshake_timeout_ms;
    cn->next = s->conns;
    if (s->conns)
        s->conns->prev = cn;
    s->conns = cn;
    return cn;
}

void s2s_conn_attach(s2s_conn *cn, net_conn *c)
{
    s2s *s = cn->srv;
    cn->net = c;
    s2s_conn_set_who(cn);
    xstream_limits lim = {
        .max_stanza_bytes = s->config.limits.max_stanza_bytes,
        .max_depth = s->config.limits.max_depth,
        .max_attrs = s->config.limits.max_attrs,
    };
    cn->xs = xstream_new(&lim, false, &conn_stream_events, cn);
    rate_init(&cn->rl, s->config.limits.rate_bytes_per_s, s->config.limits.burst_bytes,
              net_now_ms());
    net_conn_set_events(c, &conn_net_events, cn);
    cn->last_ms = net_now_ms();
}

void s2s_conn_close(s2s_conn *cn, int cond, const char *why)
{
    if (cn->state == S2S_CLOSING)
        return;
    if (cn->is_out) {
        s2s_out_fail(cn, XS_REMOTE_SERVER_NOT_FOUND, why ? why : "the stream ended");
        s2s_dialback_fail_verifies(cn, why ? why : "the stream ended");
    }
    if (cn->net) {
        buf out;
        buf_init(&out);
        if (cond >= 0) {
            /* RFC 6120 §4.9.1.1: a stream error needs our header first. */
            if (!cn->has_header_sent)
                s2s_conn_send_header(cn);
            xs_stream_error(&out, (xs_stream_condition)cond, why);
            log_info(cn->who, "closing with %s%s%s",
                     xs_stream_condition_name((xs_stream_condition)cond), why ? ": " : "",
                     why ? why : "");
        } else {
            log_info(cn->who, "closing%s%s", why ? ": " : "", why ? why : "");
        }
        if (cn->has_header_sent)
            buf_append_str(&out, "</stream:stream>");
        net_conn_send(cn->net, buf_data(&out), buf_len(&out));
        buf_close(&out);
        net_conn_close(cn->net);
    }
    cn->state = S2S_CLOSING;
    if (cn->xs)
        xstream_stop(cn->xs);
}

/* --- timeouts, rate pauses and shutdown --------------------------------- */

static void conn_shutdown_finish(s2s *s)
{
    s2s_resolver_close(s);
    if (s->link) {
        link_free(s->link);
        s->link = NULL;
    }
    if (!uv_is_closing((uv_handle_t *)&s->sweep))
        uv_close((uv_handle_t *)&s->sweep, NULL);
}

static void conn_on_sweep(uv_timer_t *t)
{
    s2s *s = t->data;
    uint64_t now = net_now_ms();
    uint64_t idle = s->config.limits.idle_timeout_ms;
    for (s2s_conn *cn = s->conns, *next; cn; cn = next) {
        next = cn->next;
        if (cn->state == S2S_CLOSING) {
            if (!cn->net && !cn->is_resolving && !cn->is_connecting)
                conn_free(cn);
            continue;
        }
        if (cn->resume_at_ms && cn->resume_at_ms <= now) {
            cn->resume_at_ms = 0;
            net_conn_resume(cn->net);
        }
        if (cn->deadline_ms && cn->deadline_ms <= now) {
            log_warn(cn->who, "not authenticated within %llu ms",
                     (unsigned long long)s->config.limits.handshake_timeout_ms);
            if (cn->is_out) {
                s2s_out_fail(cn, XS_REMOTE_SERVER_TIMEOUT, "the remote server did not answer "
                                                           "in time");
                s2s_dialback_fail_verifies(cn, "timeout");
            }
            s2s_conn_close(cn, XS_STREAM_CONNECTION_TIMEOUT, NULL);
            continue;
        }
        if (cn->is_out)
            s2s_out_sweep_pairs(cn, now);
        bool is_up = cn->is_out ? cn->state == S2S_READY : cn->n_authed > 0;
        if (idle && is_up && now - cn->last_ms >= idle && !cn->verifies_sent) {
            log_info(cn->who, "idle for %llu ms", (unsigned long long)idle);
            s2s_conn_close(cn, -1, "idle");
        }
    }
    if (s->is_stopping && !s->conns)
        conn_shutdown_finish(s);
}

void s2s_shutdown(s2s *s)
{
    if (s->is_stopping)
        return;
    s->is_stopping = true;
    listen_stop(&s->config.listen);
    for (s2s_conn *cn = s->conns; cn; cn = cn->next)
        s2s_conn_close(cn, XS_STREAM_SYSTEM_SHUTDOWN, NULL);
    s2s_resolver_cancel(s);
    if (!s->conns)
        conn_shutdown_finish(s);
}

static void conn_on_accept(net_listener *l, net_conn *c, unsigned same_host)
{
    s2s *s = net_listener_data(l);
    s2s_conn *cn = s2s_conn_new(s, false);
    s2s_conn_attach(cn, c);
    cn->state = S2S_OPENING;
    log_info(cn->who, "accepted on %s%s", net_listener_address(l),
             net_conn_is_tls(c) ? " (direct TLS)" : "");
    if (s->is_stopping) {
        s2s_conn_close(cn, XS_STREAM_SYSTEM_SHUTDOWN, NULL);
        return;
    }
    const char *why = listen_over_limit(cn->who, c, same_host,
                                        s->config.limits.max_connections_per_address);
    if (why)
        s2s_conn_close(cn, XS_STREAM_POLICY_VIOLATION, why);
}

int s2s_listen_all(s2s *s)
{
    uv_timer_init(net_loop(), &s->sweep);
    s->sweep.data = s;
    uv_timer_start(&s->sweep, conn_on_sweep, S2S_SWEEP_MS, S2S_SWEEP_MS);
    return listen_start(&s->config.listen, s->config.tls, conn_on_accept, s, "s2s");
}
