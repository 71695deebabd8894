/* SPDX-License-Identifier: MIT */
/* c2s/conn.c: client connections (RFC 6120 §4): listeners, the stream header
 * and features, what may be sent in which state, limits (per-address count,
 * auth and idle timeouts, byte rate, stanza size) and closing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c2s/c2s.h"
#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/log.h"

#define C2S_TICK_MS 10

static void conn_on_timeout(net_conn *c);

void c2s_conn_send(c2s_conn *cn, const char *data, size_t len)
{
    if (cn->state != C2S_CONN_CLOSING)
        net_conn_send(cn->net, data, len);
}

void c2s_conn_send_str(c2s_conn *cn, const char *s)
{
    c2s_conn_send(cn, s, strlen(s));
}

void c2s_conn_send_elem(c2s_conn *cn, xs_elem *e)
{
    buf out;
    buf_init(&out);
    xs_serialize(e, XS_NS_CLIENT, &out);
    c2s_conn_send(cn, buf_data(&out), buf_len(&out));
    buf_close(&out);
    xs_unref(e);
}

void c2s_conn_send_iq(c2s_conn *cn, const char *id, const char *from, const char *to,
                      const char *type, const char *payload)
{
    buf out;
    buf_init(&out);
    buf_printf(&out, "<iq type='%s'", type);
    buf_append_attr(&out, "id", id);
    buf_append_attr(&out, "from", from);
    buf_append_attr(&out, "to", to);
    if (payload)
        buf_printf(&out, ">%s</iq>", payload);
    else
        buf_append_str(&out, "/>");
    c2s_conn_send(cn, buf_data(&out), buf_len(&out));
    buf_close(&out);
}

void c2s_conn_set_who(c2s_conn *cn, const char *user)
{
    buf b;
    buf_init(&b);
    buf_printf(&b, "c2s#%llu %s", (unsigned long long)cn->id, net_conn_peer(cn->net));
    if (user)
        buf_printf(&b, " %s", user);
    size_t n = buf_len(&b) < sizeof cn->who - 1 ? buf_len(&b) : sizeof cn->who - 1;
    memcpy(cn->who, buf_data(&b), n);
    cn->who[n] = '\0';
    buf_close(&b);
}

static c2s_conn *conn_lookup(strmap *table, const char *full)
{
    c2s_conn *cn = table ? strmap_get(table, full) : NULL;
    return cn && cn->state != C2S_CONN_CLOSING ? cn : NULL;
}

c2s_conn *c2s_conn_by_full(c2s *s, const char *full)
{
    return conn_lookup(s->sessions, full);
}

c2s_conn *c2s_conn_binding(c2s *s, const char *full)
{
    return conn_lookup(s->binding, full);
}

void c2s_conn_index(strmap *table, c2s_conn *cn)
{
    strmap_put(table, jid_full(cn->full), cn);
}

/* Only cn's own entry goes: a newer connection may hold the JID now. */
void c2s_conn_unindex(strmap *table, c2s_conn *cn)
{
    if (cn->full && strmap_get(table, jid_full(cn->full)) == cn)
        strmap_remove(table, jid_full(cn->full));
}

/* --- the stream header and features ------------------------------------- */

/* A language tag (RFC 5646) as far as its characters go: letters, digits
 * and hyphens, at most 35 bytes; what is not is ignored. */
static bool conn_is_lang_tag(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
    return n > 0 && n <= 35 && s[n] == '\0';
}

/* The response header (RFC 6120 §4.7): from our domain, even when the
 * client named none we serve (the header before <host-unknown/>), and to
 * the client's from when it gave a valid JID (§4.7.2). */
static void conn_send_header(c2s_conn *cn, const xs_elem *client_header)
{
    c2s *s = cn->srv;
    const char *from = cn->domain ? cn->domain
                       : s->config.n_domains ? s->config.domains[0] : NULL;
    jid *to = NULL;
    const char *client_from = client_header ? xs_attr(client_header, "from") : NULL;
    if (client_from && jid_parse(client_from, &to) < 0)
        to = NULL;
    unsigned char rnd[16];
    if (uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL) != 0)
        memset(rnd, 0, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(cn->stream_id + 2 * i, 3, "%02x", rnd[i]);
    buf out;
    buf_init(&out);
    buf_append_str(&out, "<?xml version='1.0'?><stream:stream xmlns='" XS_NS_CLIENT
                         "' xmlns:stream='" XS_NS_STREAMS "'");
    buf_append_attr(&out, "id", cn->stream_id);
    buf_append_attr(&out, "from", from);
    buf_append_attr(&out, "to", to ? jid_full(to) : NULL);
    jid_free(to);
    buf_append_str(&out, " version='1.0' xml:lang='en'>");
    net_conn_send(cn->net, buf_data(&out), buf_len(&out));
    buf_close(&out);
    cn->has_header_sent = true;
}

static void conn_send_features(c2s_conn *cn)
{
    c2s *s = cn->srv;
    buf out;
    buf_init(&out);
    buf_append_str(&out, "<stream:features>");
    bool has_tls = net_conn_is_tls(cn->net);
    if (!has_tls && s->config.tls && !cn->is_authed) {
        /* RFC 6120 §5.3.1: mandatory TLS is announced with <required/>. */
        buf_append_str(&out, "<starttls xmlns='" XS_NS_TLS "'>");
        if (s->config.tls_required)
            buf_append_str(&out, "<required/>");
        buf_append_str(&out, "</starttls>");
    }
    if (!cn->is_authed) {
        const char *mechs = c2s_sasl_mechanisms(cn);
        if (mechs && *mechs) {
            buf_append_str(&out, "<mechanisms xmlns='" XS_NS_SASL "'>");
            for (const char *p = mechs; *p;) {
                size_t n = strcspn(p, " ");
                buf_append_str(&out, "<mechanism>");
                buf_append_xml(&out, p, n, 0);
                buf_append_str(&out, "</mechanism>");
                p += n;
                p += strspn(p, " ");
            }
            buf_append_str(&out, "</mechanisms>");
            c2s_sasl_features(cn, &out);
        }
        c2s_register_features(cn, &out);
    } else {
        /* RFC 6120 §7.4 binding; RFC 3921 §3 session, optional (RFC 6121
         * Appendix E) for older clients. */
        buf_append_str(&out, "<bind xmlns='" XS_NS_BIND "'/>"
                             "<session xmlns='" C2S_NS_SESSION "'><optional/></session>");
        /* RFC 6121 §3.4.1: sm keeps subscription pre-approvals; §2.6.1:
         * and roster versions. */
        buf_append_str(&out, "<sub xmlns='urn:xmpp:features:pre-approval'/>"
                             "<ver xmlns='urn:xmpp:features:rosterver'/>");
    }
    buf_append_str(&out, "</stream:features>");
    c2s_conn_send(cn, buf_data(&out), buf_len(&out));
    buf_close(&out);
}

static void conn_on_open(void *ud, xs_elem *header)
{
    c2s_conn *cn = ud;
    c2s *s = cn->srv;
    if (cn->state == C2S_CONN_TLS) {
        /* Plaintext sent after <starttls/> in the same packet: never let it
         * pass for what came over TLS (RFC 6120 §5.4.3.3). */
        c2s_conn_close(cn, XS_STREAM_POLICY_VIOLATION, "data after starttls");
        return;
    }
    const char *to = xs_attr(header, "to");
    char *dom = NULL;
    if (to && jid_domain_normalize(to, &dom) == 0 && c2s_serves(s, dom) &&
        (!cn->domain || strcmp(cn->domain, dom) == 0)) {
        free(cn->domain);
        cn->domain = dom;
        dom = NULL;
    }
    free(dom);
    const char *lang = xs_attr_ns(header, XS_NS_XML, "lang");
    if (lang && conn_is_lang_tag(lang)) {
        free(cn->lang);
        cn->lang = xstrdup(lang);
    }
    conn_send_header(cn, header);
    if (strcmp(xs_name(header), "stream") != 0 || strcmp(xs_ns(header), XS_NS_STREAMS) != 0) {
        c2s_conn_close(cn, XS_STREAM_INVALID_NAMESPACE, "the header is not a stream");
        return;
    }
    const char *ns = xstream_content_ns(cn->xs);
    if (!ns || strcmp(ns, XS_NS_CLIENT) != 0) {
        char esc[128];
        log_warn(cn->who, "stream namespace \"%s\"; closing with invalid-namespace",
                 log_escape(ns ? ns : "", ns ? strlen(ns) : 0, esc, sizeof esc));
        c2s_conn_close(cn, XS_STREAM_INVALID_NAMESPACE, NULL);
        return;
    }
    if (!to || !cn->domain || strcmp(cn->domain, to) != 0) {
        char *norm = NULL;
        bool ok = to && jid_domain_normalize(to, &norm) == 0 && cn->domain &&
                  strcmp(norm, cn->domain) == 0;
        free(norm);
        if (!ok) {
            char esc[128];
            log_warn(cn->who, "stream to \"%s\", which is not served; closing with host-unknown",
                     log_escape(to ? to : "", to ? strlen(to) : 0, esc, sizeof esc));
            c2s_conn_close(cn, XS_STREAM_HOST_UNKNOWN, NULL);
            return;
        }
    }
    /* RFC 6120 §4.7.5: no version means a pre-1.0 peer, which we refuse. */
    const char *ver = xs_attr(header, "version");
    if (!ver || atoi(ver) < 1) {
        c2s_conn_close(cn, XS_STREAM_UNSUPPORTED_VERSION, "version 1.0 is required");
        return;
    }
    cn->state = C2S_CONN_OPEN;
    conn_send_features(cn);
}

void c2s_conn_restart(c2s_conn *cn)
{
    cn->state = C2S_CONN_OPENING;
    cn->has_header_sent = false;
    xstream_reset(cn->xs);
}

static bool is_stanza_name(const char *name)
{
    return strcmp(name, "message") == 0 || strcmp(name, "presence") == 0 ||
           strcmp(name, "iq") == 0;
}

static void conn_on_stanza(void *ud, xs_elem *st, const char *raw, size_t len)
{
    c2s_conn *cn = ud;
    c2s *s = cn->srv;
    const char *name = xs_name(st), *ns = xs_ns(st);
    if (cn->state != C2S_CONN_OPEN)
        return;
    bool has_tls = net_conn_is_tls(cn->net);
    if (strcmp(ns, XS_NS_TLS) == 0 && strcmp(name, "starttls") == 0) {
        c2s_starttls(cn, st);
        return;
    }
    if (!has_tls && s->config.tls_required) {
        if (strcmp(ns, XS_NS_SASL) == 0 && strcmp(name, "auth") == 0) {
            /* RFC 6120 §6.4.5/§6.5.5: SASL waits for TLS here. */
            log_warn(cn->who, "authentication attempt before TLS; refused with "
                              "encryption-required");
            c2s_conn_send_str(cn, "<failure xmlns='" XS_NS_SASL "'><encryption-required/></failure>");
            return;
        }
        /* RFC 6120 §5.3.1: TLS is mandatory to negotiate. */
        c2s_conn_close(cn, XS_STREAM_POLICY_VIOLATION, "TLS is required first");
        return;
    }
    if (!cn->is_authed) {
        if (strcmp(ns, XS_NS_SASL) == 0) {
            c2s_sasl_handle(cn, st);
            return;
        }
        if (c2s_register_handle(cn, st))   /* XEP-0077 §3.1 */
            return;
        c2s_conn_close(cn, XS_STREAM_NOT_AUTHORIZED, "not authenticated");
        return;
    }
    if (!is_stanza_name(name) || strcmp(ns, XS_NS_CLIENT) != 0) {
        c2s_conn_close(cn, XS_STREAM_UNSUPPORTED_STANZA_TYPE, NULL);
        return;
    }
    if (strcmp(name, "iq") == 0 &&
        (xs_child(st, "bind", XS_NS_BIND) || xs_child(st, "session", C2S_NS_SESSION))) {
        c2s_bind_handle(cn, st);
        return;
    }
    if (!cn->is_bound) {
        /* RFC 6120 §7.1: no stanzas before a resource is bound. */
        c2s_conn_close(cn, XS_STREAM_NOT_AUTHORIZED, "no resource bound");
        return;
    }
    if (strcmp(name, "presence") == 0)
        c2s_session_note_presence(cn, st, raw, len);
    else if (strcmp(name, "iq") == 0 && c2s_register_handle(cn, st))
        return;
    c2s_session_forward(cn, raw, len);
}

static void conn_on_close(void *ud)
{
    c2s_conn *cn = ud;
    log_info(cn->who, "closed its stream");
    c2s_conn_close(cn, -1, NULL);
}

static void conn_on_stream_error(void *ud, xs_stream_condition cond, const char *text)
{
    c2s_conn *cn = ud;
    char esc[256];
    log_warn(cn->who, "%s; closing with %s", log_escape(text, strlen(text), esc, sizeof esc),
             xs_stream_condition_name(cond));
    c2s_conn_close(cn, (int)cond, NULL);
}

static const xstream_events conn_stream_events = {
    .open = conn_on_open,
    .stanza = conn_on_stanza,
    .close = conn_on_close,
    .error = conn_on_stream_error,
};

/* --- closing ------------------------------------------------------------ */

void c2s_conn_close(c2s_conn *cn, int cond, const char *why)
{
    if (cn->state == C2S_CONN_CLOSING)
        return;
    if (cond >= 0) {
        /* RFC 6120 §4.9.1.1: a stream error needs our header first. */
        if (!cn->has_header_sent)
            conn_send_header(cn, NULL);
        buf out;
        buf_init(&out);
        xs_stream_error(&out, (xs_stream_condition)cond, why);
        buf_append_str(&out, "</stream:stream>");
        net_conn_send(cn->net, buf_data(&out), buf_len(&out));
        buf_close(&out);
        log_info(cn->who, "closing with %s%s%s", xs_stream_condition_name((xs_stream_condition)cond),
                 why ? ": " : "", why ? why : "");
    } else {
        if (cn->has_header_sent)
            net_conn_send(cn->net, "</stream:stream>", 16);
        log_info(cn->who, "closing: the client ended the stream");
    }
    c2s_session_end(cn);
    cn->state = C2S_CONN_CLOSING;
    xstream_stop(cn->xs);
    net_conn_close(cn->net);
}

/* The last step of a SIGTERM stop: every client is gone. */
static void conn_shutdown_finish(c2s *s)
{
    if (s->link) {
        link_free(s->link);
        s->link = NULL;
    }
    if (!uv_is_closing((uv_handle_t *)&s->tick))
        uv_close((uv_handle_t *)&s->tick, NULL);
    c2s_quiet_stop(s);
}

void c2s_shutdown(c2s *s)
{
    if (s->is_stopping)
        return;
    s->is_stopping = true;
    listen_stop(&s->config.listen);
    for (c2s_conn *cn = s->conns; cn; cn = cn->next)
        c2s_conn_close(cn, XS_STREAM_SYSTEM_SHUTDOWN, NULL);
    if (!s->conns)
        conn_shutdown_finish(s);
}

static void conn_on_closed(net_conn *c)
{
    c2s_conn *cn = net_conn_data(c);
    c2s *s = cn->srv;
    if (cn->prev)
        cn->prev->next = cn->next;
    else
        s->conns = cn->next;
    if (cn->next)
        cn->next->prev = cn->prev;
    if (cn->resume_at_ms || cn->failure_at_ms)
        s->n_waiting--;
    log_info(cn->who, "connection closed");
    c2s_sasl_close(cn);
    xstream_free(cn->xs);
    free(cn->domain);
    free(cn->lang);
    jid_free(cn->user);
    c2s_conn_unindex(s->sessions, cn);
    c2s_conn_unindex(s->binding, cn);
    jid_free(cn->full);
    free(cn->bind_iq_id);
    free(cn->sm_instance);
    free(cn->last_presence);
    free(cn);
    if (s->is_stopping && !s->conns)
        conn_shutdown_finish(s);
}

static void conn_on_error(net_conn *c, int err)
{
    c2s_conn *cn = net_conn_data(c);
    if (err == UV_EOF)
        log_info(cn->who, "closing: the client disconnected");
    else
        log_info(cn->who, "closing: %s", xe_str(err));
    c2s_session_end(cn);
    cn->state = C2S_CONN_CLOSING;
    xstream_stop(cn->xs);
}

/* --- limits ------------------------------------------------------------- */

static void conn_on_tick(uv_timer_t *t)
{
    c2s *s = t->data;
    uint64_t now = net_now_ms();
    for (c2s_conn *cn = s->conns; cn; cn = cn->next) {
        if (cn->failure_at_ms && cn->failure_at_ms <= now) {
            cn->failure_at_ms = 0;
            s->n_waiting--;
            if (cn->state != C2S_CONN_CLOSING)
                c2s_sasl_send_due_failure(cn);
        }
        if (cn->resume_at_ms && cn->resume_at_ms <= now) {
            cn->resume_at_ms = 0;
            s->n_waiting--;
            if (cn->state != C2S_CONN_CLOSING && !cn->failure_at_ms)
                net_conn_resume(cn->net);
        }
    }
    if (s->n_waiting == 0)
        uv_timer_stop(t);
}

void c2s_conn_watch(c2s_conn *cn)
{
    c2s *s = cn->srv;
    s->n_waiting++;
    if (!uv_is_active((uv_handle_t *)&s->tick) && !uv_is_closing((uv_handle_t *)&s->tick))
        uv_timer_start(&s->tick, conn_on_tick, C2S_TICK_MS, C2S_TICK_MS);
}

static void conn_on_timeout(net_conn *c)
{
    c2s_conn *cn = net_conn_data(c);
    if (!cn->is_authed)
        log_warn(cn->who, "not authenticated within %llu ms",
                 (unsigned long long)cn->srv->config.limits.auth_timeout_ms);
    else
        log_info(cn->who, "idle for %llu ms",
                 (unsigned long long)cn->srv->config.limits.idle_timeout_ms);
    c2s_conn_close(cn, XS_STREAM_CONNECTION_TIMEOUT, NULL);
}

void c2s_conn_set_idle(c2s_conn *cn)
{
    uint64_t ms = cn->srv->config.limits.idle_timeout_ms;
    net_conn_set_timeout(cn->net, ms, ms ? conn_on_timeout : NULL);
}

static void conn_on_data(net_conn *c, const char *data, size_t len)
{
    c2s_conn *cn = net_conn_data(c);
    c2s *s = cn->srv;
    cn->has_spoken = true;
    if (cn->is_authed && s->config.limits.idle_timeout_ms)
        net_conn_set_timeout(c, s->config.limits.idle_timeout_ms, conn_on_timeout);
    xstream_feed(cn->xs, data, len);
    if (cn->state == C2S_CONN_CLOSING)
        return;
    uint64_t now = net_now_ms();
    if (rate_take_pause(&cn->rl, len, now, &cn->resume_at_ms)) {
        log_debug(cn->who, "over its byte rate; pausing reads for %llu ms",
                  (unsigned long long)(cn->resume_at_ms - now));
        net_conn_pause(c);
        c2s_conn_watch(cn);
    }
}

static void conn_on_tls_ready(net_conn *c)
{
    c2s_on_tls_ready(net_conn_data(c));
}

static const net_conn_events conn_net_events = {
    .data = conn_on_data,
    .tls_ready = conn_on_tls_ready,
    .error = conn_on_error,
    .closed = conn_on_closed,
};

static void conn_on_accept(net_listener *l, net_conn *c, unsigned same_host)
{
    c2s *s = net_listener_data(l);
    c2s_conn *cn = xalloc(sizeof *cn);
    cn->srv = s;
    cn->net = c;
    cn->id = ++s->next_conn_id;
    c2s_conn_set_who(cn, NULL);
    cn->next = s->conns;
    if (s->conns)
        s->conns->prev = cn;
    s->conns = cn;
    xstream_limits lim = {
        .max_stanza_bytes = s->config.limits.max_stanza_bytes,
        .max_depth = s->config.limits.max_depth,
        .max_attrs = 64,
    };
    cn->xs = xstream_new(&lim, false, &conn_stream_events, cn);
    rate_init(&cn->rl, s->config.limits.rate_bytes_per_s, s->config.limits.burst_bytes,
              net_now_ms());
    net_conn_set_events(c, &conn_net_events, cn);
    log_info(cn->who, "accepted on %s%s", net_listener_address(l),
             net_conn_is_tls(c) ? " (direct TLS)" : "");
    if (s->is_stopping) {
        c2s_conn_close(cn, XS_STREAM_SYSTEM_SHUTDOWN, NULL);
        return;
    }
    const char *why = listen_over_limit(cn->who, c, same_host,
                                        s->config.limits.max_connections_per_address);
    if (why) {
        c2s_conn_close(cn, XS_STREAM_POLICY_VIOLATION, why);
        return;
    }
    net_conn_set_timeout(c, s->config.limits.auth_timeout_ms, conn_on_timeout);
}

int c2s_listen_all(c2s *s)
{
    uv_timer_init(net_loop(), &s->tick);
    s->tick.data = s;
    c2s_quiet_start(s);
    return listen_start(&s->config.listen, s->config.tls, conn_on_accept, s, "c2s");
}
