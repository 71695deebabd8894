/* SPDX-License-Identifier: MIT */
/* c2s/sasl.c: SASL negotiation (RFC 6120 §6) over libcommon/auth: the
 * mechanisms offered, the user's SCRAM credentials fetched from xmppd-store
 * (docs/store-protocol.md, account-get) before the exchange starts, and
 * failures counted per stream and delayed per address. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c2s/c2s.h"
#include "libcommon/alloc.h"
#include "libcommon/envelope.h"
#include "libcommon/error.h"
#include "libcommon/log.h"

#define SASL_MAX_CREDS 8
#define SASL_FAILURE_MEMORY_MS (10 * 60 * 1000)
#define SASL_MAX_DELAY_FACTOR 8

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(buf *out, const unsigned char *in, size_t len)
{
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        char q[4] = {
            b64_alphabet[(v >> 18) & 63], b64_alphabet[(v >> 12) & 63],
            i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=',
            i + 2 < len ? b64_alphabet[v & 63] : '=',
        };
        buf_append(out, q, 4);
    }
}

/* RFC 4648 §4 without whitespace (RFC 6120 §6.4.2). Returns false when s is
 * not base64; *out is then NULL. */
static bool b64_decode(const char *s, char **out, size_t *outlen)
{
    size_t n = strlen(s);
    *out = NULL;
    if (n % 4 != 0)
        return false;
    char *res = xalloc(n / 4 * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        unsigned v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char ch = s[i + k];
            const char *p = ch ? strchr(b64_alphabet, ch) : NULL;
            if (ch == '=' && i + 4 == n && k >= 2 && (k == 3 || s[i + 3] == '=')) {
                pad++;
                v <<= 6;
                continue;
            }
            if (!p || pad) {
                free(res);
                return false;
            }
            v = (v << 6) | (unsigned)(p - b64_alphabet);
        }
        res[o++] = (char)(v >> 16);
        if (pad < 2)
            res[o++] = (char)(v >> 8);
        if (pad < 1)
            res[o++] = (char)v;
    }
    res[o] = '\0';
    *out = res;
    *outlen = o;
    return true;
}

/* A fresh exchange for the stream as it is now (TLS or not). */
static void sasl_renew(c2s_conn *cn)
{
    auth_session_free(cn->auth);
    cn->auth = NULL;
    free(cn->auth_mech);
    free(cn->auth_authcid);
    free(cn->auth_initial);
    cn->auth_mech = cn->auth_authcid = cn->auth_initial = NULL;
    cn->auth_initial_len = 0;
    cn->store_req = 0;
    cn->auth_cb_type = NULL;
    if (!cn->domain)
        return;
    tls_session *t = net_conn_tls(cn->net);
    unsigned char cbdata[TLS_CHANNEL_BINDING_MAX];
    auth_channel_binding cb = { 0 };
    if (t) {
        /* RFC 9266 tls-exporter where defined (TLS 1.3, or 1.2 with EMS),
         * else RFC 5929 tls-server-end-point. */
        static const char *const types[] = { "tls-exporter", "tls-server-end-point" };
        for (size_t i = 0; i < 2 && !cb.type; i++) {
            size_t len = sizeof cbdata;
            if (tls_session_channel_binding(t, types[i], cbdata, &len) == 0)
                cb = (auth_channel_binding){ .type = types[i], .data = cbdata, .len = len };
        }
    }
    cn->auth = auth_session_new(cn->domain, t != NULL, cb.type ? &cb : NULL);
    cn->auth_cb_type = cb.type;
}

/* A -PLUS mechanism whose GS2 header (RFC 5802 §7) asks for a channel
 * binding type other than ours. Clients that know only tls-unique, which
 * TLS 1.3 lacks, try that first and then fall back to plain SCRAM. */
static bool sasl_wrong_binding(const c2s_conn *cn, const char *mech)
{
    size_t n = strlen(mech);
    if (n < 5 || strcmp(mech + n - 5, "-PLUS") != 0 || !cn->auth_cb_type ||
        cn->auth_initial_len < 2 || memcmp(cn->auth_initial, "p=", 2) != 0)
        return false;
    const char *name = cn->auth_initial + 2;
    const char *end = memchr(name, ',', cn->auth_initial_len - 2);
    size_t len = strlen(cn->auth_cb_type);
    return !end || (size_t)(end - name) != len || memcmp(name, cn->auth_cb_type, len) != 0;
}

/* Not a password guess: answered at once and not counted (XEP-0440 tells
 * clients which type we bind to). */
static void sasl_refuse_binding(c2s_conn *cn)
{
    log_info(cn->who, "%s with a channel binding type other than %s refused", cn->auth_mech,
             cn->auth_cb_type);
    sasl_renew(cn);
    c2s_conn_send_str(cn, "<failure xmlns='" XS_NS_SASL "'><not-authorized/>"
                          "<text>channel binding type not supported</text></failure>");
}

void c2s_sasl_features(c2s_conn *cn, buf *out)
{
    if (!cn->auth_cb_type)
        return;
    buf_printf(out, "<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>"
                    "<channel-binding type='%s'/></sasl-channel-binding>", cn->auth_cb_type);
}

const char *c2s_sasl_mechanisms(c2s_conn *cn)
{
    if (!net_conn_is_tls(cn->net) && cn->srv->config.tls_required)
        return NULL;
    sasl_renew(cn);
    return cn->auth ? auth_mechanisms(cn->auth) : NULL;
}

void c2s_sasl_close(c2s_conn *cn)
{
    auth_session_free(cn->auth);
    cn->auth = NULL;
    free(cn->auth_mech);
    free(cn->auth_authcid);
    free(cn->auth_initial);
    cn->auth_mech = cn->auth_authcid = cn->auth_initial = NULL;
}

static c2s_addr_failures *sasl_addr_slot(c2s *s, const char *host, bool create)
{
    c2s_addr_failures *oldest = &s->failures[0];
    for (size_t i = 0; i < C2S_FAILURE_SLOTS; i++) {
        c2s_addr_failures *f = &s->failures[i];
        if (f->count && strcmp(f->host, host) == 0)
            return f;
        if (f->last_ms < oldest->last_ms)
            oldest = f;
    }
    if (!create)
        return NULL;
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->host, sizeof oldest->host, "%s", host);
    return oldest;
}

/* A failed attempt: the answer waits longer the more an address failed
 * lately, which slows password guessing across connections too. */
static void sasl_fail(c2s_conn *cn, auth_condition cond)
{
    c2s *s = cn->srv;
    const char *name = auth_condition_name(cond);
    if (!name)
        name = "not-authorized";
    cn->auth_failures++;
    uint64_t now = net_now_ms();
    c2s_addr_failures *f = sasl_addr_slot(s, net_conn_peer_host(cn->net), true);
    if (now - f->last_ms > SASL_FAILURE_MEMORY_MS)
        f->count = 0;
    f->count++;
    f->last_ms = now;
    unsigned factor = f->count < SASL_MAX_DELAY_FACTOR ? f->count : SASL_MAX_DELAY_FACTOR;
    uint64_t delay = s->config.limits.auth_failure_delay_ms * factor;
    log_info(cn->who, "authentication failed (%s) for %s, %u on this stream; answering in %llu ms",
             name, cn->auth_authcid ? cn->auth_authcid : "-", cn->auth_failures,
             (unsigned long long)delay);
    snprintf(cn->failure_cond, sizeof cn->failure_cond, "%s", name);
    sasl_renew(cn);
    if (delay == 0) {
        c2s_sasl_send_due_failure(cn);
        return;
    }
    cn->failure_at_ms = now + delay;
    net_conn_pause(cn->net);
    c2s_conn_watch(cn);
}

void c2s_sasl_send_due_failure(c2s_conn *cn)
{
    buf out;
    buf_init(&out);
    buf_printf(&out, "<failure xmlns='" XS_NS_SASL "'><%s/></failure>", cn->failure_cond);
    c2s_conn_send(cn, buf_data(&out), buf_len(&out));
    buf_close(&out);
    if (cn->auth_failures >= cn->srv->config.limits.max_auth_failures) {
        log_warn(cn->who, "%u failed authentication attempts", cn->auth_failures);
        c2s_conn_close(cn, XS_STREAM_POLICY_VIOLATION, "too many failed authentication attempts");
        return;
    }
    if (!cn->resume_at_ms)
        net_conn_resume(cn->net);
}

static void sasl_success(c2s_conn *cn, const char *data, size_t len)
{
    const char *name = auth_username(cn->auth);
    jid *user = NULL;
    if (!name || jid_build(name, cn->domain, NULL, &user) < 0) {
        sasl_fail(cn, AUTH_COND_NOT_AUTHORIZED);
        return;
    }
    buf out;
    buf_init(&out);
    buf_append_str(&out, "<success xmlns='" XS_NS_SASL "'>");
    b64_encode(&out, (const unsigned char *)data, len);
    buf_append_str(&out, "</success>");
    c2s_conn_send(cn, buf_data(&out), buf_len(&out));
    buf_close(&out);
    cn->user = user;
    cn->is_authed = true;
    c2s_conn_set_who(cn, jid_bare(user));
    log_info(cn->who, "authenticated with %s", cn->auth_mech);
    c2s_sasl_close(cn);
    c2s_conn_set_idle(cn);
    /* RFC 6120 §6.4.6: a new stream follows <success/>. */
    c2s_conn_restart(cn);
}

/* The outcome of auth_start/auth_step. */
static void sasl_result(c2s_conn *cn, int rc, const char *out, size_t outlen)
{
    if (rc == AUTH_OK) {
        sasl_success(cn, out, outlen);
    } else if (rc == AUTH_CONTINUE) {
        buf b;
        buf_init(&b);
        buf_append_str(&b, "<challenge xmlns='" XS_NS_SASL "'>");
        b64_encode(&b, (const unsigned char *)out, outlen);
        buf_append_str(&b, "</challenge>");
        c2s_conn_send(cn, buf_data(&b), buf_len(&b));
        buf_close(&b);
    } else {
        sasl_fail(cn, auth_failure(cn->auth));
    }
}

static void sasl_begin(c2s_conn *cn)
{
    const char *out = NULL;
    size_t outlen = 0;
    int rc = auth_start(cn->auth, cn->auth_mech, cn->auth_initial, cn->auth_initial_len,
                        &out, &outlen);
    sasl_result(cn, rc, out, outlen);
}

static bool sasl_offered(c2s_conn *cn, const char *mech)
{
    const char *p = auth_mechanisms(cn->auth);
    size_t n = strlen(mech);
    while (p && *p) {
        size_t k = strcspn(p, " ");
        if (k == n && strncmp(p, mech, n) == 0)
            return true;
        p += k;
        p += strspn(p, " ");
    }
    return false;
}

/* The user is known: fetch the credentials, then start. */
static void sasl_fetch(c2s_conn *cn)
{
    c2s *s = cn->srv;
    jid *bare = NULL;
    if (jid_build(cn->auth_authcid, cn->domain, NULL, &bare) < 0) {
        /* No such account can exist: run the exchange without credentials,
         * so it fails like a wrong password. */
        sasl_begin(cn);
        return;
    }
    cn->store_req = ++s->next_req_id;
    buf iq;
    buf_init(&iq);
    buf_printf(&iq, "<iq xmlns='" XS_NS_COMPONENT "' type='get' id='c2s-%llu'>"
                    "<account-get xmlns='" C2S_NS_STORE "' user='",
               (unsigned long long)cn->store_req);
    buf_append_xml(&iq, jid_bare(bare), strlen(jid_bare(bare)), 1);
    buf_append_str(&iq, "'/></iq>");
    int rc = s->link ? link_send_envelope(s->link, "store", jid_bare(bare), buf_data(&iq),
                                          buf_len(&iq))
                     : XE_CLOSED;
    buf_close(&iq);
    jid_free(bare);
    if (rc < 0) {
        log_warn(cn->who, "cannot ask the store: %s", xe_str(rc));
        cn->store_req = 0;
        sasl_fail(cn, AUTH_COND_TEMPORARY_AUTH_FAILURE);
    }
}

static int sasl_read_creds(xs_elem *iq, scram_cred *creds, size_t *n)
{
    xs_elem *acc = xs_child(iq, "account", C2S_NS_STORE);
    *n = 0;
    for (xs_elem *e = acc ? xs_first(acc) : NULL; e && *n < SASL_MAX_CREDS; e = xs_next(e)) {
        if (strcmp(xs_name(e), "scram") != 0)
            continue;
        const char *mech = xs_attr(e, "mech"), *it = xs_attr(e, "iterations");
        const char *salt = xs_attr(e, "salt"), *sk = xs_attr(e, "stored-key");
        const char *srv = xs_attr(e, "server-key");
        if (!mech || !it || !salt || !sk || !srv)
            continue;
        scram_cred *c = &creds[*n];
        memset(c, 0, sizeof *c);
        snprintf(c->mech, sizeof c->mech, "%s", mech);
        c->iterations = (unsigned)strtoul(it, NULL, 10);
        snprintf(c->salt, sizeof c->salt, "%s", salt);
        snprintf(c->stored_key, sizeof c->stored_key, "%s", sk);
        snprintf(c->server_key, sizeof c->server_key, "%s", srv);
        (*n)++;
    }
    return 0;
}

void c2s_sasl_store_answer(c2s_conn *cn, xs_elem *iq)
{
    cn->store_req = 0;
    if (!cn->auth)
        return;
    scram_cred creds[SASL_MAX_CREDS];
    size_t n = 0;
    const char *type = iq ? xs_attr(iq, "type") : NULL;
    if (type && strcmp(type, "result") == 0) {
        sasl_read_creds(iq, creds, &n);
    } else if (!type || strcmp(type, "error") != 0 ||
               !xs_child(xs_child(iq, "error", NULL), "item-not-found", XS_NS_STANZAS)) {
        log_warn(cn->who, "the store did not answer the account lookup");
        sasl_fail(cn, AUTH_COND_TEMPORARY_AUTH_FAILURE);
        return;
    }
    /* item-not-found: an unknown user goes on with no credentials and fails
     * exactly like a wrong password. */
    auth_session_set_credentials(cn->auth, cn->auth_authcid, creds, n);
    sasl_begin(cn);
}

static void sasl_auth(c2s_conn *cn, xs_elem *st)
{
    const char *mech = xs_attr(st, "mechanism");
    if (cn->store_req || cn->auth_mech || !cn->auth) {
        sasl_fail(cn, AUTH_COND_MALFORMED_REQUEST);
        return;
    }
    if (!mech || !sasl_offered(cn, mech)) {
        sasl_fail(cn, AUTH_COND_INVALID_MECHANISM);
        return;
    }
    cn->auth_mech = xstrdup(mech);
    const char *text = xs_text(st);
    if (*text == '\0') {
        /* RFC 6120 §6.4.2: no initial response; an empty challenge asks for it. */
        c2s_conn_send_str(cn, "<challenge xmlns='" XS_NS_SASL "'/>");
        return;
    }
    if (strcmp(text, "=") == 0) {
        cn->auth_initial = xstrdup("");
        cn->auth_initial_len = 0;
    } else if (!b64_decode(text, &cn->auth_initial, &cn->auth_initial_len)) {
        sasl_fail(cn, AUTH_COND_INCORRECT_ENCODING);
        return;
    }
    int rc = auth_peek_user(mech, cn->auth_initial, cn->auth_initial_len, &cn->auth_authcid);
    if (rc < 0) {
        sasl_fail(cn, rc == XE_NOT_FOUND ? AUTH_COND_INVALID_MECHANISM
                                         : AUTH_COND_MALFORMED_REQUEST);
        return;
    }
    if (sasl_wrong_binding(cn, mech)) {
        sasl_refuse_binding(cn);
        return;
    }
    sasl_fetch(cn);
}

static void sasl_response(c2s_conn *cn, xs_elem *st)
{
    if (!cn->auth_mech || cn->store_req) {
        sasl_fail(cn, AUTH_COND_MALFORMED_REQUEST);
        return;
    }
    char *data = NULL;
    size_t len = 0;
    const char *text = xs_text(st);
    if (strcmp(text, "=") == 0 || *text == '\0') {
        data = xstrdup("");
    } else if (!b64_decode(text, &data, &len)) {
        sasl_fail(cn, AUTH_COND_INCORRECT_ENCODING);
        return;
    }
    if (!cn->auth_initial) {
        /* The initial response, after our empty challenge. */
        cn->auth_initial = data;
        cn->auth_initial_len = len;
        int rc = auth_peek_user(cn->auth_mech, data, len, &cn->auth_authcid);
        if (rc < 0) {
            sasl_fail(cn, AUTH_COND_MALFORMED_REQUEST);
            return;
        }
        if (sasl_wrong_binding(cn, cn->auth_mech)) {
            sasl_refuse_binding(cn);
            return;
        }
        sasl_fetch(cn);
        return;
    }
    const char *out = NULL;
    size_t outlen = 0;
    int rc = auth_step(cn->auth, data, len, &out, &outlen);
    free(data);
    sasl_result(cn, rc, out, outlen);
}

void c2s_sasl_handle(c2s_conn *cn, xs_elem *st)
{
    const char *name = xs_name(st);
    if (cn->failure_at_ms)
        return;
    if (strcmp(name, "auth") == 0) {
        sasl_auth(cn, st);
    } else if (strcmp(name, "response") == 0) {
        sasl_response(cn, st);
    } else if (strcmp(name, "abort") == 0) {
        /* RFC 6120 §6.4.4: <aborted/>; not counted as a failed attempt. */
        sasl_renew(cn);
        c2s_conn_send_str(cn, "<failure xmlns='" XS_NS_SASL "'><aborted/></failure>");
    } else {
        c2s_conn_close(cn, XS_STREAM_UNSUPPORTED_STANZA_TYPE, NULL);
    }
}
