/* SPDX-License-Identifier: MIT */
/* s2s/dialback.c: XEP-0220 Server Dialback, both roles, with the keys of
 * XEP-0185: the originating side sends db:result, the receiving side asks
 * the authoritative side with db:verify and answers valid or invalid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/crypto.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/jid.h"
#include "libcommon/log.h"
#include "s2s/s2s.h"

/* A db:result waits this long at most per incoming stream. */
#define S2S_MAX_VERIFYING 16

static void dialback_hex(const unsigned char *in, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * len] = '\0';
}

void s2s_dialback_init(s2s *s)
{
    unsigned char digest[32];
    gnutls_hash_fast(GNUTLS_DIG_SHA256, s->config.secret, strlen(s->config.secret), digest);
    dialback_hex(digest, sizeof digest, s->db_key);
}

void s2s_dialback_key(const s2s *s, const char *receiving, const char *originating,
                      const char *stream_id, char out[65])
{
    char *text = xasprintf("%s %s %s", receiving, originating, stream_id);
    unsigned char mac[32];
    gnutls_hmac_fast(GNUTLS_MAC_SHA256, s->db_key, strlen(s->db_key), text, strlen(text), mac);
    free(text);
    dialback_hex(mac, sizeof mac, out);
}

/* Compares without leaking where the first difference is. */
static bool dialback_key_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

void s2s_verify_free(s2s_verify *v)
{
    if (!v)
        return;
    free(v->originating);
    free(v->receiving);
    free(v->stream_id);
    free(v->key);
    free(v);
}

typedef enum { DB_VALID, DB_INVALID, DB_ERROR } dialback_answer;

/* A dialback error (XEP-0220 §2.4; we offer <errors/>): the answering
 * <db:NAME type='error'/> with from and to swapped, the id of a db:verify,
 * and a stanza error condition. The stream stays open. */
static void dialback_send_error(s2s_conn *cn, const char *name, const char *from,
                                const char *to, const char *id, xs_condition cond)
{
    buf out;
    buf_init(&out);
    buf_printf(&out, "<db:%s", name);
    buf_append_attr(&out, "from", from);
    buf_append_attr(&out, "to", to);
    buf_append_attr(&out, "id", id);
    buf_printf(&out, " type='error'><error type='%s'><%s xmlns='" XS_NS_STANZAS
               "'/></error></db:%s>", xs_condition_type(cond), xs_condition_name(cond), name);
    s2s_conn_send(cn, buf_data(&out), buf_len(&out));
    buf_close(&out);
}

/* Tells the incoming stream that asked (if it is still there) what the
 * authoritative server said, and takes v. */
static void dialback_answer_in(s2s *s, s2s_verify *v, dialback_answer answer, const char *why)
{
    s2s_conn *in = s2s_conn_by_id(s, v->in_id);
    if (!in) {
        s2s_verify_free(v);
        return;
    }
    if (in->n_verifying)
        in->n_verifying--;
    if (answer == DB_ERROR) {
        /* The authoritative server could not be asked; other domains may
         * still authenticate on the stream, else its handshake timeout
         * ends it. */
        dialback_send_error(in, "result", v->receiving, v->originating, NULL,
                            XS_REMOTE_SERVER_NOT_FOUND);
        log_warn(in->who, "dialback for %s -> %s could not be checked (%s)", v->originating,
                 v->receiving, why ? why : "-");
        s2s_verify_free(v);
        return;
    }
    buf out;
    buf_init(&out);
    buf_append_str(&out, "<db:result");
    buf_append_attr(&out, "from", v->receiving);
    buf_append_attr(&out, "to", v->originating);
    tls_session *t = in->net ? net_conn_tls(in->net) : NULL;
    const char *tls_ver = t ? tls_session_version(t) : NULL;
    switch (answer) {
    case DB_VALID:
        buf_append_str(&out, " type='valid'/>");
        s2s_conn_send(in, buf_data(&out), buf_len(&out));
        s2s_in_add_authed(in, v->originating, v->receiving);
        log_info(in->who, "authenticated %s -> %s with dialback, %s", v->originating,
                 v->receiving, tls_ver ? tls_ver : "without TLS");
        break;
    case DB_INVALID:
        buf_append_str(&out, " type='invalid'/>");
        s2s_conn_send(in, buf_data(&out), buf_len(&out));
        if (in->n_authed > 0) {
            /* XEP-0220 §2.4, §2.5: the pairs already authenticated on the
             * stream keep it; only this one is refused. */
            log_warn(in->who, "dialback key for %s -> %s is invalid; refused, the stream "
                              "stays for its %zu authenticated pair(s)",
                     v->originating, v->receiving, in->n_authed);
            break;
        }
        log_warn(in->who, "dialback key for %s -> %s is invalid; closing with invalid-from",
                 v->originating, v->receiving);
        s2s_conn_close(in, XS_STREAM_INVALID_FROM, "dialback key invalid");
        break;
    case DB_ERROR:
        break;                                          /* answered above */
    }
    buf_close(&out);
    s2s_verify_free(v);
}

void s2s_dialback_fail_verifies(s2s_conn *cn, const char *why)
{
    s2s_verify *lists[2] = { cn->verifies, cn->verifies_sent };
    cn->verifies = cn->verifies_sent = NULL;
    for (size_t i = 0; i < 2; i++)
        for (s2s_verify *v = lists[i], *next; v; v = next) {
            next = v->next;
            dialback_answer_in(cn->srv, v, DB_ERROR, why);
        }
}

void s2s_dialback_flush_verifies(s2s_conn *cn)
{
    if (cn->state != S2S_AUTHING && cn->state != S2S_READY)
        return;
    while (cn->verifies) {
        s2s_verify *v = cn->verifies;
        cn->verifies = v->next;
        buf out;
        buf_init(&out);
        buf_append_str(&out, "<db:verify");
        buf_append_attr(&out, "from", v->receiving);
        buf_append_attr(&out, "to", v->originating);
        buf_append_attr(&out, "id", v->stream_id);
        buf_append_str(&out, ">");
        buf_append_xml(&out, v->key, strlen(v->key), 0);
        buf_append_str(&out, "</db:verify>");
        s2s_conn_send(cn, buf_data(&out), buf_len(&out));
        buf_close(&out);
        v->next = cn->verifies_sent;
        cn->verifies_sent = v;
    }
}

void s2s_dialback_send_result(s2s_conn *cn, const char *local)
{
    char key[65];
    s2s_dialback_key(cn->srv, cn->remote, local, cn->stream_id, key);
    buf out;
    buf_init(&out);
    buf_append_str(&out, "<db:result");
    buf_append_attr(&out, "from", local);
    buf_append_attr(&out, "to", cn->remote);
    buf_printf(&out, ">%s</db:result>", key);
    s2s_conn_send(cn, buf_data(&out), buf_len(&out));
    buf_close(&out);
}

void s2s_dialback_start(s2s_conn *cn)
{
    s2s_dialback_send_result(cn, cn->local);
    cn->state = S2S_AUTHING;
    s2s_dialback_flush_verifies(cn);
}

/* --- the outgoing side: answers to what we sent ------------------------- */

void s2s_dialback_out(s2s_conn *cn, xs_elem *st)
{
    const char *name = xs_name(st), *type = xs_attr(st, "type");
    if (!type)
        return;
    if (strcmp(name, "result") == 0) {
        /* XEP-0220 §2.5: the answer for a piggybacked pair names its domain. */
        const char *to = xs_attr(st, "to");
        if (to && strcmp(to, cn->local) != 0 && s2s_out_pair_answer(cn, to, type))
            return;
        if (cn->state != S2S_AUTHING)
            return;
        if (strcmp(type, "valid") == 0) {
            s2s_out_ready(cn, "dialback");
            return;
        }
        char why[96];
        snprintf(why, sizeof why, "the remote server refused our dialback key (%s)", type);
        log_warn(cn->who, "%s", why);
        s2s_conn_close(cn, -1, why);
        return;
    }
    if (strcmp(name, "verify") != 0)
        return;
    const char *id = xs_attr(st, "id"), *from = xs_attr(st, "from");
    s2s_verify **pv = &cn->verifies_sent;
    while (*pv && !(id && strcmp((*pv)->stream_id, id) == 0 &&
                    (!from || strcmp((*pv)->originating, from) == 0)))
        pv = &(*pv)->next;
    if (!*pv) {
        log_debug(cn->who, "an unexpected db:verify answer; ignored");
        return;
    }
    s2s_verify *v = *pv;
    *pv = v->next;
    dialback_answer answer = strcmp(type, "valid") == 0     ? DB_VALID
                             : strcmp(type, "invalid") == 0 ? DB_INVALID
                                                            : DB_ERROR;
    dialback_answer_in(cn->srv, v, answer, "the authoritative server answered an error");
}

/* --- the incoming side -------------------------------------------------- */

static char *dialback_domain(const char *s)
{
    char *dom = NULL;
    if (!s || jid_domain_normalize(s, &dom) < 0)
        return NULL;
    return dom;
}

/* db:result from an originating server: ask its authoritative server. */
static void dialback_in_result(s2s_conn *cn, xs_elem *st)
{
    s2s *s = cn->srv;
    char *from = dialback_domain(xs_attr(st, "from")), *to = dialback_domain(xs_attr(st, "to"));
    const char *key = xs_text(st);
    if (!to || !s2s_serves(s, to)) {
        log_warn(cn->who, "db:result to a domain we do not serve; answered item-not-found");
        dialback_send_error(cn, "result", xs_attr(st, "to"), xs_attr(st, "from"), NULL,
                            XS_ITEM_NOT_FOUND);
        goto done;
    }
    if (!from || !key[0]) {
        log_warn(cn->who, "db:result without a valid from or key; closing with invalid-from");
        s2s_conn_close(cn, XS_STREAM_INVALID_FROM, NULL);
        goto done;
    }
    s2s_auth_policy pol = s2s_policy_for(s, from);
    if (pol == S2S_AUTH_DENY) {
        log_warn(cn->who, "db:result from %s, which policy denies; closing with "
                          "policy-violation", from);
        s2s_conn_close(cn, XS_STREAM_POLICY_VIOLATION, "federation with your domain is "
                                                       "not allowed");
        goto done;
    }
    if (pol == S2S_AUTH_CERTIFICATE) {
        dialback_send_error(cn, "result", to, from, NULL, XS_NOT_AUTHORIZED);
        log_warn(cn->who, "db:result from %s, which must authenticate with a certificate; "
                          "refused", from);
        if (cn->n_authed == 0 && cn->n_verifying == 0)
            s2s_conn_close(cn, XS_STREAM_NOT_AUTHORIZED, "a certificate is required");
        goto done;
    }
    if (cn->n_verifying >= S2S_MAX_VERIFYING) {
        s2s_conn_close(cn, XS_STREAM_POLICY_VIOLATION, "too many dialback requests at once");
        goto done;
    }
    s2s_verify *v = xalloc(sizeof *v);
    v->in_id = cn->id;
    v->originating = from;
    v->receiving = to;
    v->stream_id = xstrdup(cn->stream_id);
    v->key = xstrdup(key);
    from = to = NULL;
    cn->n_verifying++;
    log_info(cn->who, "dialback request for %s -> %s", v->originating, v->receiving);
    if (s2s_serves(s, v->originating)) {
        /* Another instance of ours shares the secret: check it here. */
        char want[65];
        s2s_dialback_key(s, v->receiving, v->originating, v->stream_id, want);
        dialback_answer_in(s, v, dialback_key_equal(want, v->key) ? DB_VALID : DB_INVALID, NULL);
        goto done;
    }
    s2s_conn *out = s2s_out_get(s, v->receiving, v->originating, true);
    v->next = out->verifies;
    out->verifies = v;
    s2s_dialback_flush_verifies(out);
    s2s_out_start(out);
done:
    free(from);
    free(to);
}

/* db:verify from a receiving server: we are the authoritative server. */
static void dialback_in_verify(s2s_conn *cn, xs_elem *st)
{
    s2s *s = cn->srv;
    const char *from = xs_attr(st, "from"), *to = xs_attr(st, "to"), *id = xs_attr(st, "id");
    const char *key = xs_text(st);
    char *rdom = dialback_domain(from), *odom = dialback_domain(to);
    if (!odom || !s2s_serves(s, odom)) {
        log_warn(cn->who, "db:verify for a domain we do not serve; answered item-not-found");
        dialback_send_error(cn, "verify", to, from, id, XS_ITEM_NOT_FOUND);
        goto done;
    }
    if (!rdom || !id) {
        s2s_conn_close(cn, XS_STREAM_INVALID_FROM, "db:verify needs from and id");
        goto done;
    }
    char want[65];
    s2s_dialback_key(s, rdom, odom, id, want);
    bool is_valid = dialback_key_equal(want, key);
    buf out;
    buf_init(&out);
    buf_append_str(&out, "<db:verify");
    buf_append_attr(&out, "from", odom);
    buf_append_attr(&out, "to", rdom);
    buf_append_attr(&out, "id", id);
    buf_printf(&out, " type='%s'/>", is_valid ? "valid" : "invalid");
    s2s_conn_send(cn, buf_data(&out), buf_len(&out));
    buf_close(&out);
    if (is_valid)
        log_info(cn->who, "confirmed our dialback key for %s -> %s", odom, rdom);
    else
        log_warn(cn->who, "a dialback key for %s -> %s that is not ours; answered invalid", odom,
                 rdom);
done:
    free(rdom);
    free(odom);
}

void s2s_dialback_in(s2s_conn *cn, xs_elem *st)
{
    const char *name = xs_name(st);
    if (xs_attr(st, "type"))
        return;                    /* answers belong on our outgoing streams */
    if (strcmp(name, "result") == 0)
        dialback_in_result(cn, st);
    else if (strcmp(name, "verify") == 0)
        dialback_in_verify(cn, st);
    else
        s2s_conn_close(cn, XS_STREAM_UNSUPPORTED_STANZA_TYPE, NULL);
}
