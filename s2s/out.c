/* SPDX-License-Identifier: MIT */
/* s2s/out.c: outgoing server streams (RFC 6120 §3, §4, §5): one per remote
 * domain and local domain that opened it, resolved, connected, upgraded
 * with STARTTLS and authenticated (SASL EXTERNAL or dialback), with the
 * stanzas that wait for it queued and bounced to their senders if it cannot
 * be set up. Our other domains piggyback on it with dialback (XEP-0220
 * §2.5), each with its own queue, unless policy wants certificates. */
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

/* --- bouncing ----------------------------------------------------------- */

/* Sends the error reply to a stanza (raw, in the component namespace) back
 * through the router; none for errors and iq results (RFC 6120 §8.2.3). */
static void out_bounce(s2s *s, const char *raw, size_t len, xs_condition cond,
                       const char *text)
{
    xs_elem *st;
    if (!s->link || xs_parse(raw, len, XS_NS_COMPONENT, &st) < 0)
        return;
    const char *type = xs_attr(st, "type");
    bool is_answer = type && (strcmp(type, "error") == 0 ||
                              (strcmp(xs_name(st), "iq") == 0 && strcmp(type, "result") == 0));
    if (!is_answer)
        link_send_stanza(s->link, xs_error_reply(st, cond, text));
    xs_unref(st);
}

/* Bounces and frees a queue; returns how many stanzas it held. */
static size_t out_bounce_queue(s2s *s, s2s_pending **queue, s2s_pending **tail, size_t *bytes,
                               xs_condition cond, const char *why)
{
    size_t n = 0;
    for (s2s_pending *p = *queue, *next; p; p = next) {
        next = p->next;
        out_bounce(s, p->data, p->len, cond, why);
        free(p);
        n++;
    }
    *queue = *tail = NULL;
    *bytes = 0;
    return n;
}

/* Sends and frees a queue. */
static void out_send_queue(s2s_conn *cn, s2s_pending **queue, s2s_pending **tail, size_t *bytes)
{
    for (s2s_pending *p = *queue, *next; p; p = next) {
        next = p->next;
        s2s_conn_send(cn, p->data, p->len);
        free(p);
    }
    *queue = *tail = NULL;
    *bytes = 0;
}

void s2s_out_fail(s2s_conn *cn, xs_condition cond, const char *why)
{
    size_t n = out_bounce_queue(cn->srv, &cn->queue, &cn->queue_tail, &cn->queued_bytes, cond,
                                why);
    for (s2s_out_pair *pr = cn->pairs; pr; pr = pr->next)
        n += out_bounce_queue(cn->srv, &pr->queue, &pr->queue_tail, &pr->queued_bytes, cond,
                              why);
    if (n)
        log_warn(cn->who, "%zu stanza(s) returned to their senders with %s (%s)", n,
                 xs_condition_name(cond), why ? why : "-");
}

/* --- piggybacked pairs (XEP-0220 §2.5) ---------------------------------- */

static void out_pair_free(s2s_out_pair *pr)
{
    for (s2s_pending *p = pr->queue, *next; p; p = next) {
        next = p->next;
        free(p);
    }
    free(pr->local);
    free(pr);
}

void s2s_out_free_pairs(s2s_conn *cn)
{
    for (s2s_out_pair *pr = cn->pairs, *next; pr; pr = next) {
        next = pr->next;
        out_pair_free(pr);
    }
    cn->pairs = NULL;
}

/* Takes pr off cn, bounces what it holds with cond and frees it. */
static void out_pair_fail(s2s_conn *cn, s2s_out_pair *pr, xs_condition cond, const char *why)
{
    for (s2s_out_pair **pp = &cn->pairs; *pp; pp = &(*pp)->next)
        if (*pp == pr) {
            *pp = pr->next;
            break;
        }
    size_t n = out_bounce_queue(cn->srv, &pr->queue, &pr->queue_tail, &pr->queued_bytes, cond,
                                why);
    log_warn(cn->who, "piggybacked %s -> %s failed (%s); %zu stanza(s) returned with %s",
             pr->local, cn->remote, why, n, xs_condition_name(cond));
    out_pair_free(pr);
}

/* The stream is authenticated: the waiting pairs send their db:result. */
static void out_pairs_start(s2s_conn *cn)
{
    if (cn->state != S2S_READY)
        return;
    for (s2s_out_pair *pr = cn->pairs; pr; pr = pr->next) {
        if (pr->state != S2S_PAIR_WAITING)
            continue;
        s2s_dialback_send_result(cn, pr->local);
        pr->state = S2S_PAIR_AUTHING;
        pr->deadline_ms = net_now_ms() + cn->srv->config.limits.handshake_timeout_ms;
        log_info(cn->who, "sent a piggybacked db:result for %s -> %s", pr->local, cn->remote);
    }
}

bool s2s_out_pair_answer(s2s_conn *cn, const char *local, const char *type)
{
    s2s_out_pair *pr = cn->pairs;
    while (pr && strcmp(pr->local, local) != 0)
        pr = pr->next;
    if (!pr)
        return false;
    if (pr->state != S2S_PAIR_AUTHING)
        return true;                       /* not asked: ignored */
    if (strcmp(type, "valid") != 0) {
        char why[96];
        snprintf(why, sizeof why, "the remote server refused our dialback key (%s)", type);
        out_pair_fail(cn, pr, XS_REMOTE_SERVER_NOT_FOUND, why);
        return true;
    }
    tls_session *t = cn->net ? net_conn_tls(cn->net) : NULL;
    const char *ver = t ? tls_session_version(t) : NULL;
    pr->state = S2S_PAIR_READY;
    pr->deadline_ms = 0;
    log_info(cn->who, "authenticated %s -> %s with dialback (piggybacked), %s; sending %zu "
                      "queued byte(s)",
             pr->local, cn->remote, ver ? ver : "without TLS", pr->queued_bytes);
    out_send_queue(cn, &pr->queue, &pr->queue_tail, &pr->queued_bytes);
    cn->last_ms = net_now_ms();
    return true;
}

void s2s_out_sweep_pairs(s2s_conn *cn, uint64_t now_ms)
{
    for (s2s_out_pair *pr = cn->pairs, *next; pr; pr = next) {
        next = pr->next;
        if (pr->deadline_ms && pr->deadline_ms <= now_ms)
            out_pair_fail(cn, pr, XS_REMOTE_SERVER_TIMEOUT, "no answer to our db:result in time");
    }
}

/* --- connecting --------------------------------------------------------- */

static void out_try_next(s2s_conn *cn);

static void out_on_connected(void *ud, net_conn *c, int err)
{
    s2s_conn *cn = ud;
    cn->is_connecting = false;
    if (cn->state == S2S_CLOSING) {
        if (c) {
            s2s_conn_attach(cn, c);   /* its closed event frees cn */
            net_conn_close(c);
        }
        return;
    }
    const s2s_candidate *cand = &cn->candidates[cn->next_candidate - 1];
    if (err < 0) {
        log_info(cn->who, "cannot connect to %s (%s): %s", cand->address, cand->target,
                 xe_str(err));
        out_try_next(cn);
        return;
    }
    s2s_conn_attach(cn, c);
    log_info(cn->who, "connected to %s at %s (%s, %s)", cn->remote, cand->address,
             cand->target, cand->is_direct_tls ? "direct TLS" : "STARTTLS");
    cn->state = S2S_OPENING;
    s2s_conn_send_header(cn);
}

static void out_try_next(s2s_conn *cn)
{
    while (cn->next_candidate < cn->n_candidates) {
        const s2s_candidate *cand = &cn->candidates[cn->next_candidate++];
        cn->state = S2S_CONNECTING;
        cn->is_connecting = true;
        log_info(cn->who, "trying %s (%s, %s)", cand->address, cand->target,
                 cand->is_direct_tls ? "direct TLS" : "STARTTLS");
        /* XEP-0368: TLS at once, named by the remote domain (SNI and the
         * certificate check), not by the SRV target. */
        tls_ctx *tls = cand->is_direct_tls ? s2s_client_tls_for(cn->srv, cn->local) : NULL;
        int rc = net_connect(cand->address, false, tls, tls ? cn->remote : NULL, NULL, cn,
                             out_on_connected);
        if (rc == 0)
            return;
        cn->is_connecting = false;
        log_info(cn->who, "cannot connect to %s: %s", cand->address, xe_str(rc));
    }
    s2s_conn_close(cn, -1, "the remote server cannot be reached");
}

static void out_on_resolved(s2s_conn *cn, s2s_candidate *cands, size_t n, int err)
{
    if (cn->state == S2S_CLOSING) {
        s2s_candidates_free(cands, n);
        return;
    }
    if (err < 0) {
        char why[160];
        snprintf(why, sizeof why, "cannot resolve %s: %s", cn->remote, xe_str(err));
        log_info(cn->who, "%s", why);
        s2s_conn_close(cn, -1, why);
        return;
    }
    cn->candidates = cands;
    cn->n_candidates = n;
    cn->next_candidate = 0;
    out_try_next(cn);
}

/* The stream carrying (local, remote) and, when local is piggybacked on
 * it, its pair (else *pair is NULL). */
static s2s_conn *out_get_pair(s2s *s, const char *local, const char *remote, bool create,
                              s2s_out_pair **pair)
{
    *pair = NULL;
    s2s_conn *host = NULL;
    for (s2s_conn *cn = s->conns; cn; cn = cn->next) {
        if (!cn->is_out || cn->state == S2S_CLOSING || strcmp(cn->remote, remote) != 0)
            continue;
        if (strcmp(cn->local, local) == 0)
            return cn;
        for (s2s_out_pair *pr = cn->pairs; pr; pr = pr->next)
            if (strcmp(pr->local, local) == 0) {
                *pair = pr;
                return cn;
            }
        if (!host || (host->state != S2S_READY && cn->state == S2S_READY))
            host = cn;
    }
    if (!create)
        return NULL;
    /* XEP-0220 §2.5: another of our domains rides on the stream with its
     * own db:result; a policy that wants certificates gets its own stream
     * and its own SASL EXTERNAL instead (XEP-0178 authenticates the
     * stream's from only). */
    if (host && s2s_policy_for(s, remote) != S2S_AUTH_CERTIFICATE) {
        s2s_out_pair *pr = xalloc(sizeof *pr);
        pr->local = xstrdup(local);
        pr->state = S2S_PAIR_WAITING;
        pr->next = host->pairs;
        host->pairs = pr;
        log_info(host->who, "piggybacking %s -> %s on this stream (XEP-0220)%s", local,
                 remote, host->state == S2S_READY ? "" : " once it is authenticated");
        *pair = pr;
        return host;
    }
    s2s_conn *cn = s2s_conn_new(s, true);
    cn->local = xstrdup(local);
    cn->remote = xstrdup(remote);
    cn->state = S2S_RESOLVING;
    s2s_conn_set_who(cn);
    return cn;
}

s2s_conn *s2s_out_get(s2s *s, const char *local, const char *remote, bool create)
{
    s2s_out_pair *pair;
    return out_get_pair(s, local, remote, create, &pair);
}

void s2s_out_start(s2s_conn *cn)
{
    if (cn->state == S2S_CLOSING)
        return;
    if (cn->is_started) {
        out_pairs_start(cn);
        return;
    }
    cn->is_started = true;
    log_info(cn->who, "opening a stream to %s", cn->remote);
    int rc = s2s_resolve(cn, out_on_resolved);
    if (rc < 0) {
        char why[160];
        snprintf(why, sizeof why, "cannot resolve %s: %s", cn->remote, xe_str(rc));
        s2s_conn_close(cn, -1, why);
    }
}

/* --- the stream --------------------------------------------------------- */

void s2s_out_on_open(s2s_conn *cn, xs_elem *header)
{
    if (strcmp(xs_name(header), "stream") != 0 || strcmp(xs_ns(header), XS_NS_STREAMS) != 0) {
        s2s_conn_close(cn, XS_STREAM_INVALID_NAMESPACE, "the header is not a stream");
        return;
    }
    const char *ns = xstream_content_ns(cn->xs);
    if (!ns || strcmp(ns, XS_NS_SERVER) != 0) {
        s2s_conn_close(cn, XS_STREAM_INVALID_NAMESPACE, NULL);
        return;
    }
    const char *id = xs_attr(header, "id"), *ver = xs_attr(header, "version");
    if (!id || !id[0] || strlen(id) >= sizeof cn->stream_id) {
        s2s_conn_close(cn, XS_STREAM_UNDEFINED_CONDITION, "a stream id is needed for dialback");
        return;
    }
    if (!ver || atoi(ver) < 1) {
        s2s_conn_close(cn, XS_STREAM_UNSUPPORTED_VERSION, "version 1.0 is required");
        return;
    }
    snprintf(cn->stream_id, sizeof cn->stream_id, "%s", id);
    cn->state = S2S_OPEN;
}

static bool out_offers_external(xs_elem *features)
{
    xs_elem *mechs = xs_child(features, "mechanisms", XS_NS_SASL);
    for (xs_elem *m = mechs ? xs_first(mechs) : NULL; m; m = xs_next(m))
        if (strcmp(xs_name(m), "mechanism") == 0 && strcmp(xs_text(m), "EXTERNAL") == 0)
            return true;
    return false;
}

/* XEP-0178 §3: EXTERNAL with our domain as the authzid (base64). */
static void out_sasl_start(s2s_conn *cn)
{
    gnutls_datum_t in = { (unsigned char *)cn->local, (unsigned)strlen(cn->local) };
    gnutls_datum_t b64 = { NULL, 0 };
    if (gnutls_base64_encode2(&in, &b64) < 0) {
        s2s_conn_close(cn, -1, "out of memory");
        return;
    }
    buf out;
    buf_init(&out);
    buf_append_str(&out, "<auth xmlns='" XS_NS_SASL "' mechanism='EXTERNAL'>");
    buf_append(&out, (const char *)b64.data, b64.size);
    buf_append_str(&out, "</auth>");
    gnutls_free(b64.data);
    s2s_conn_send(cn, buf_data(&out), buf_len(&out));
    buf_close(&out);
    cn->state = S2S_SASL;
    log_info(cn->who, "trying SASL EXTERNAL");
}

static void out_on_features(s2s_conn *cn, xs_elem *features)
{
    s2s *s = cn->srv;
    bool has_tls = net_conn_is_tls(cn->net);
    if (cn->is_sasl_done) {
        s2s_out_ready(cn, "SASL EXTERNAL");
        return;
    }
    if (!has_tls && xs_child(features, "starttls", XS_NS_TLS)) {
        s2s_conn_send_str(cn, "<starttls xmlns='" XS_NS_TLS "'/>");
        return;
    }
    if (!has_tls && s->config.tls_required) {
        s2s_conn_close(cn, XS_STREAM_POLICY_VIOLATION, "TLS is required and not offered");
        return;
    }
    /* XEP-0178: both certificates count; the peer offers EXTERNAL only if
     * ours verified, and we use it only if theirs names their domain. */
    bool is_cert_ok = s2s_conn_cert_names(cn, cn->remote);
    if (has_tls && is_cert_ok && out_offers_external(features)) {
        out_sasl_start(cn);
        return;
    }
    if (s2s_policy_for(s, cn->remote) == S2S_AUTH_CERTIFICATE) {
        s2s_conn_close(cn, -1, !is_cert_ok ? "policy wants a certificate, and the remote "
                                             "server's does not verify"
                                           : "policy wants a certificate, and the remote "
                                             "server does not offer SASL EXTERNAL");
        return;
    }
    /* XEP-0220 §2.3: servers that do not announce dialback may still do it. */
    if (!xs_child(features, "dialback", S2S_NS_DIALBACK_FEATURE))
        log_debug(cn->who, "dialback is not announced; trying it anyway");
    s2s_dialback_start(cn);
}

void s2s_out_on_stanza(s2s_conn *cn, xs_elem *st, const char *raw, size_t len)
{
    (void)raw, (void)len;
    const char *name = xs_name(st), *ns = xs_ns(st);
    if (strcmp(ns, XS_NS_STREAMS) == 0 && strcmp(name, "error") == 0) {
        xs_elem *c = xs_first(st);
        char why[128];
        snprintf(why, sizeof why, "the remote server sent a stream error (%s)",
                 c ? xs_name(c) : "?");
        log_warn(cn->who, "%s", why);
        s2s_conn_close(cn, -1, why);
        return;
    }
    if (strcmp(ns, XS_NS_STREAMS) == 0 && strcmp(name, "features") == 0) {
        if (cn->state == S2S_OPEN)
            out_on_features(cn, st);
        return;
    }
    if (strcmp(ns, XS_NS_TLS) == 0 && strcmp(name, "proceed") == 0 && cn->state == S2S_OPEN &&
        !net_conn_is_tls(cn->net)) {
        cn->state = S2S_TLS;
        cn->has_header_sent = false;
        xstream_reset(cn->xs);
        net_conn_start_tls(cn->net, s2s_client_tls_for(cn->srv, cn->local), cn->remote);
        return;
    }
    if (strcmp(ns, XS_NS_TLS) == 0) {
        s2s_conn_close(cn, -1, "the remote server refused STARTTLS");
        return;
    }
    if (strcmp(ns, XS_NS_SASL) == 0 && cn->state == S2S_SASL) {
        if (strcmp(name, "success") == 0) {
            /* RFC 6120 §6.4.6: a new stream over the same TLS. */
            cn->is_sasl_done = true;
            cn->state = S2S_OPENING;
            cn->has_header_sent = false;
            xstream_reset(cn->xs);
            s2s_conn_send_header(cn);
            return;
        }
        xs_elem *c = xs_first(st);
        log_warn(cn->who, "SASL EXTERNAL failed (%s)", c ? xs_name(c) : "?");
        cn->state = S2S_OPEN;
        if (s2s_policy_for(cn->srv, cn->remote) == S2S_AUTH_CERTIFICATE) {
            s2s_conn_close(cn, -1, "SASL EXTERNAL failed and policy wants a certificate");
            return;
        }
        s2s_dialback_start(cn);
        return;
    }
    if (strcmp(ns, S2S_NS_DIALBACK) == 0) {
        s2s_dialback_out(cn, st);
        return;
    }
    log_debug(cn->who, "ignored a <%s/> on an outgoing stream", name);
}

void s2s_out_on_tls_ready(s2s_conn *cn)
{
    if (cn->state != S2S_TLS)
        return;
    log_info(cn->who, "the certificate of %s %s", cn->remote,
             s2s_conn_cert_names(cn, cn->remote) ? "verifies" : "does not verify for it");
    cn->state = S2S_OPENING;
    s2s_conn_send_header(cn);
}

void s2s_out_ready(s2s_conn *cn, const char *method)
{
    tls_session *t = cn->net ? net_conn_tls(cn->net) : NULL;
    const char *ver = t ? tls_session_version(t) : NULL;
    cn->state = S2S_READY;
    cn->deadline_ms = 0;
    log_info(cn->who, "authenticated to %s with %s, %s; sending %zu queued byte(s)",
             cn->remote, method, ver ? ver : "without TLS", cn->queued_bytes);
    out_send_queue(cn, &cn->queue, &cn->queue_tail, &cn->queued_bytes);
    cn->last_ms = net_now_ms();
    s2s_dialback_flush_verifies(cn);
    out_pairs_start(cn);
}

/* --- stanzas from the router -------------------------------------------- */

static char *out_domain_of(const char *addr)
{
    jid *j = NULL;
    if (!addr || jid_parse(addr, &j) < 0)
        return NULL;
    char *dom = xstrdup(jid_domain(j));
    jid_free(j);
    return dom;
}

void s2s_out_route(s2s *s, xs_elem *st, const char *raw, size_t len)
{
    const char *name = xs_name(st), *ns = xs_ns(st);
    if (strcmp(ns, XS_NS_COMPONENT) != 0 ||
        (strcmp(name, "message") != 0 && strcmp(name, "presence") != 0 &&
         strcmp(name, "iq") != 0)) {
        log_debug("s2s", "ignored a <%s/> from the router", name);
        return;
    }
    const char *from = xs_attr(st, "from"), *to = xs_attr(st, "to");
    char *fdom = out_domain_of(from), *tdom = out_domain_of(to);
    buf out;
    buf_init(&out);
    if (!fdom || !tdom || !s2s_serves(s, fdom) || s2s_serves(s, tdom)) {
        char esc[256];
        log_warn("s2s", "a <%s/> from %s to %s is not ours to send; dropped", name,
                 from ? log_escape(from, strlen(from), esc, sizeof esc) : "(none)",
                 tdom ? tdom : "(invalid)");
        goto done;
    }
    /* The jabber:server stream's namespace replaces the component one. */
    if (!envelope_stamp(&out, raw, len, NULL, from))
        goto done;
    if (s2s_policy_for(s, tdom) == S2S_AUTH_DENY) {
        /* RFC 6120 §8.3.3.9: a local policy forbids it; not-allowed says so
         * without claiming the remote server does not exist. */
        log_info("s2s", "a <%s/> to %s, which policy denies; returned with not-allowed", name,
                 tdom);
        out_bounce(s, buf_data(&out), buf_len(&out), XS_NOT_ALLOWED,
                   "federation with this domain is not allowed");
        goto done;
    }
    s2s_out_pair *pair;
    s2s_conn *cn = out_get_pair(s, fdom, tdom, true, &pair);
    cn->last_ms = net_now_ms();
    if (!cn->has_routed) {
        /* Says which instance the router's hashing gave this domain. */
        cn->has_routed = true;
        log_info(cn->who, "the router sends stanzas for %s here", tdom);
    }
    /* A piggybacked pair has its own queue until its db:result is valid. */
    s2s_pending **queue = pair ? &pair->queue : &cn->queue;
    s2s_pending **tail = pair ? &pair->queue_tail : &cn->queue_tail;
    size_t *queued = pair ? &pair->queued_bytes : &cn->queued_bytes;
    bool is_ready = pair ? pair->state == S2S_PAIR_READY : cn->state == S2S_READY;
    if (is_ready) {
        if (cn->net && net_conn_queued(cn->net) > s->config.limits.max_queue_bytes) {
            log_warn(cn->who, "%zu bytes wait for the remote server; returning a <%s/>",
                     net_conn_queued(cn->net), name);
            out_bounce(s, buf_data(&out), buf_len(&out), XS_RESOURCE_CONSTRAINT,
                       "the remote server is not keeping up");
            goto done;
        }
        s2s_conn_send(cn, buf_data(&out), buf_len(&out));
        goto done;
    }
    if (*queued + buf_len(&out) > s->config.limits.max_queue_bytes) {
        log_warn(cn->who, "queue of %zu bytes is full; returning a <%s/>", *queued, name);
        out_bounce(s, buf_data(&out), buf_len(&out), XS_RESOURCE_CONSTRAINT,
                   "too much waits for this remote server");
        goto done;
    }
    s2s_pending *p = xalloc(sizeof *p + buf_len(&out));
    p->len = buf_len(&out);
    memcpy(p->data, buf_data(&out), p->len);
    if (*tail)
        (*tail)->next = p;
    else
        *queue = p;
    *tail = p;
    *queued += p->len;
    s2s_out_start(cn);
done:
    buf_close(&out);
    free(fdom);
    free(tdom);
}
