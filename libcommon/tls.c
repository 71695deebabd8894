/* SPDX-License-Identifier: MIT */
/* libcommon/tls.c: TLS sessions (gnutls) over bytes the caller moves, with SNI,
 * certificate checks (RFC 6125, RFC 6120 §13.7) and channel bindings
 * (RFC 5929, RFC 9266). */
#include "libcommon/tls.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "libcommon/error.h"

/* TLS 1.2 and later only (RFC 8996 retires 1.0 and 1.1). */
static const char tls_default_priorities[] =
    "NORMAL:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1";

/* One record's plaintext at most (RFC 8446 §5.1). */
enum { TLS_RECORD_MAX = 16384 };

struct tls_ctx {
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t prio;
    bool is_server;
    bool verify_peer;
    bool has_trust; /* trust anchors are loaded */
    char *alpn;     /* NULL: no ALPN */
};

struct tls_session {
    tls_ctx *ctx;
    gnutls_session_t gs;
    tls_io io;
    void *ud;
    char *name;    /* client: the server name expected */
    char *sni;     /* server: the name the client asked for */
    buf in;        /* ciphertext fed but not yet read by gnutls */
    buf out;       /* plaintext waiting for the handshake */
    int failure;   /* XE_TLS or XE_CERT once the session failed */
    int in_gnutls; /* depth of gnutls calls: push may call back */
    bool in_pump;  /* tls_pump is running: it sees new input */
    bool is_ready;
    bool is_verified;
    bool got_close;   /* the peer sent close_notify */
    bool is_shut;     /* tls_session_bye was called */
    bool bye_pending; /* ... from inside gnutls: send it afterwards */
    char *error;      /* why the last call failed (TLS_ERROR_BYTES), or NULL */
};

enum { TLS_ERROR_BYTES = 256 };

static void tls_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void tls_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- contexts ---- */

static void tls_ctx_release(tls_ctx *ctx)
{
    if (ctx->cred)
        gnutls_certificate_free_credentials(ctx->cred);
    if (ctx->prio)
        gnutls_priority_deinit(ctx->prio);
    free(ctx->alpn);
    free(ctx);
}

static int tls_ctx_load_trust(tls_ctx *ctx, const tls_ctx_opts *opts, char *err,
                              size_t errlen)
{
    if (opts->ca_file) {
        int n = gnutls_certificate_set_x509_trust_file(ctx->cred, opts->ca_file,
                                                       GNUTLS_X509_FMT_PEM);
        if (n < 0) {
            tls_errf(err, errlen, "ca_file %s: %s", opts->ca_file,
                     gnutls_strerror(n));
            return XE_CONFIG;
        }
        if (n == 0) {
            tls_errf(err, errlen, "ca_file %s: no certificates in it",
                     opts->ca_file);
            return XE_CONFIG;
        }
        ctx->has_trust = true;
        return 0;
    }
    int n = gnutls_certificate_set_x509_system_trust(ctx->cred);
    if (n > 0) {
        ctx->has_trust = true;
        return 0;
    }
    /* Without verify_peer the trust store only informs
     * tls_session_peer_verified(), so its absence is no error. */
    if (!opts->verify_peer)
        return 0;
    tls_errf(err, errlen, "the system trust store: %s",
             n < 0 ? gnutls_strerror(n) : "no certificates in it");
    return XE_CONFIG;
}

int tls_ctx_new(const tls_ctx_opts *opts, tls_ctx **out, char *err,
                size_t errlen)
{
    *out = NULL;
    tls_ctx *ctx = xalloc(sizeof *ctx);
    ctx->is_server = opts->is_server;
    ctx->verify_peer = opts->verify_peer;
    ctx->alpn = xstrdup(opts->alpn);

    const char *prio =
        opts->priorities ? opts->priorities : tls_default_priorities;
    const char *where = NULL;
    int rc = gnutls_priority_init(&ctx->prio, prio, &where);
    if (rc < 0) {
        ctx->prio = NULL;
        tls_errf(err, errlen, "priorities \"%s\": %s at \"%s\"", prio,
                 gnutls_strerror(rc), where ? where : "");
        tls_ctx_release(ctx);
        return XE_CONFIG;
    }
    rc = gnutls_certificate_allocate_credentials(&ctx->cred);
    if (rc < 0) {
        ctx->cred = NULL;
        tls_errf(err, errlen, "credentials: %s", gnutls_strerror(rc));
        tls_ctx_release(ctx);
        return XE_TLS;
    }

    int xe = 0;
    if (!opts->cert_file != !opts->key_file) {
        tls_errf(err, errlen,
                 "a certificate needs both cert_file and key_file");
        xe = XE_CONFIG;
    } else if (opts->cert_file) {
        xe =
            tls_ctx_add_cert(ctx, opts->cert_file, opts->key_file, err, errlen);
    } else if (opts->is_server) {
        tls_errf(err, errlen, "a server needs cert_file and key_file");
        xe = XE_CONFIG;
    }
    /* A client always loads trust so that tls_session_peer_verified() means
     * something; a server only when it asks for client certificates. */
    if (xe == 0 &&
        (!opts->is_server || opts->verify_peer || opts->ca_file || opts->request_peer))
        xe = tls_ctx_load_trust(ctx, opts, err, errlen);
    if (xe != 0) {
        tls_ctx_release(ctx);
        return xe;
    }
    *out = ctx;
    return 0;
}

int tls_ctx_add_cert(tls_ctx *ctx, const char *cert_file, const char *key_file,
                     char *err, size_t errlen)
{
    if (!cert_file || !key_file) {
        tls_errf(err, errlen,
                 "a certificate needs both cert_file and key_file");
        return XE_CONFIG;
    }
    /* With several pairs loaded, gnutls serves the one whose names match the
     * client's server_name (RFC 6066 §3), else the first. */
    int rc = gnutls_certificate_set_x509_key_file(
        ctx->cred, cert_file, key_file, GNUTLS_X509_FMT_PEM);
    if (rc < 0) {
        tls_errf(err, errlen, "cert_file %s with key_file %s: %s", cert_file,
                 key_file, gnutls_strerror(rc));
        return XE_CONFIG;
    }
    return 0;
}

void tls_ctx_free(tls_ctx *ctx)
{
    if (ctx)
        tls_ctx_release(ctx);
}

/* ---- the transport gnutls sees ---- */

static void tls_set_error(tls_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void tls_set_error(tls_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!s->error)
        s->error = xalloc(TLS_ERROR_BYTES);
    vsnprintf(s->error, TLS_ERROR_BYTES, fmt, ap);
    va_end(ap);
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *data,
                        size_t len)
{
    tls_session *s = ptr;

    s->io.send(s->ud, data, len);
    return (ssize_t)len;
}

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
    tls_session *s = ptr;
    size_t n = buf_len(&s->in);

    if (n == 0) {
        gnutls_transport_set_errno(s->gs, EAGAIN);
        return -1;
    }
    if (n > len)
        n = len;
    memcpy(data, buf_data(&s->in), n);
    buf_consume(&s->in, n);
    return (ssize_t)n;
}

/* Never waits: there is data or there is EAGAIN. */
static int tls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
    tls_session *s = ptr;

    (void)ms;
    if (buf_len(&s->in) > 0)
        return 1;
    gnutls_transport_set_errno(s->gs, EAGAIN);
    return -1;
}

/* ---- failures ---- */

/* Records why gnutls failed and makes the session fail from now on. */
static int tls_fail(tls_session *s, int rc)
{
    int xe = XE_TLS;

    switch (rc) {
    case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR: {
        unsigned int status = gnutls_session_get_verify_cert_status(s->gs);
        gnutls_datum_t text = {0};
        if (gnutls_certificate_verification_status_print(
                status, GNUTLS_CRT_X509, &text, 0) == 0) {
            size_t len = strlen((const char *)text.data);
            while (len > 0 &&
                   (text.data[len - 1] == ' ' || text.data[len - 1] == '\n'))
                len--;
            tls_set_error(s, "peer certificate did not verify: %.*s", (int)len,
                          (const char *)text.data);
            gnutls_free(text.data);
        } else {
            tls_set_error(s, "peer certificate did not verify");
        }
        xe = XE_CERT;
        break;
    }
    case GNUTLS_E_NO_CERTIFICATE_FOUND:
    case GNUTLS_E_CERTIFICATE_REQUIRED:
        tls_set_error(s, "the peer sent no certificate");
        xe = XE_CERT;
        break;
    case GNUTLS_E_CERTIFICATE_ERROR:
        tls_set_error(s, "peer certificate: %s", gnutls_strerror(rc));
        xe = XE_CERT;
        break;
    case GNUTLS_E_FATAL_ALERT_RECEIVED: {
        const char *alert = gnutls_alert_get_name(gnutls_alert_get(s->gs));
        tls_set_error(s, "the peer sent a fatal alert: %s",
                      alert ? alert : "unknown");
        break;
    }
    default:
        tls_set_error(s, "%s", gnutls_strerror(rc));
        break;
    }
    s->failure = xe;
    /* Tell the peer why, unless it told us (RFC 8446 §6.2). Before TLS 1.3 a
     * missing client certificate is a handshake_failure (RFC 5246 §7.4.6). */
    s->in_gnutls++;
    if ((rc == GNUTLS_E_NO_CERTIFICATE_FOUND ||
         rc == GNUTLS_E_CERTIFICATE_REQUIRED) &&
        gnutls_protocol_get_version(s->gs) != GNUTLS_TLS1_3)
        gnutls_alert_send(s->gs, GNUTLS_AL_FATAL, GNUTLS_A_HANDSHAKE_FAILURE);
    else
        gnutls_alert_send_appropriate(s->gs, rc);
    s->in_gnutls--;
    return xe;
}

/* ---- sending ---- */

static int tls_write(tls_session *s, const char *data, size_t len)
{
    while (len > 0) {
        s->in_gnutls++;
        ssize_t n = gnutls_record_send(s->gs, data, len);
        s->in_gnutls--;
        if (n == GNUTLS_E_INTERRUPTED)
            continue;
        /* push never blocks, so GNUTLS_E_AGAIN is a failure here too */
        if (n < 0)
            return tls_fail(s, (int)n);
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void tls_send_bye(tls_session *s)
{
    s->bye_pending = false;
    if (!s->is_ready || s->failure)
        return;
    s->in_gnutls++;
    gnutls_bye(s->gs, GNUTLS_SHUT_WR);
    s->in_gnutls--;
}

/* Sends what was queued while the handshake ran or while inside gnutls, then
 * a deferred close_notify. Queued data moves out of s->out first, since a
 * callback may queue more while it is written. */
static int tls_settle(tls_session *s)
{
    if (s->in_gnutls)
        return 0;
    while (s->is_ready && !s->failure && buf_len(&s->out) > 0) {
        buf queued = s->out;
        buf_init(&s->out);
        int xe = tls_write(s, buf_data(&queued), buf_len(&queued));
        buf_close(&queued);
        if (xe)
            return xe;
    }
    if (s->bye_pending)
        tls_send_bye(s);
    return s->failure;
}

/* ---- receiving ---- */

static void tls_on_handshake(tls_session *s)
{
    s->is_ready = true;
    if (s->ctx->is_server) {
        char name[256];
        size_t len = sizeof name;
        unsigned int type = 0;
        if (gnutls_server_name_get(s->gs, name, &len, &type, 0) == 0 &&
            type == GNUTLS_NAME_DNS && len > 0)
            s->sni = xstrndup(name, len);
    }
    unsigned int n = 0;
    if (s->ctx->has_trust &&
        gnutls_certificate_type_get(s->gs) == GNUTLS_CRT_X509 &&
        gnutls_certificate_get_peers(s->gs, &n) && n > 0) {
        unsigned int status = 0;
        const char *host = s->ctx->is_server ? NULL : s->name;
        s->is_verified =
            gnutls_certificate_verify_peers3(s->gs, host, &status) == 0 &&
            status == 0;
    }
}

/* We never renegotiate; a warning alert says so (RFC 5246 §7.2.2). */
static void tls_refuse_renegotiation(tls_session *s)
{
    s->in_gnutls++;
    int rc =
        gnutls_alert_send(s->gs, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
    s->in_gnutls--;
    if (rc < 0 && gnutls_error_is_fatal(rc))
        tls_fail(s, rc);
}

/* Is it worth calling gnutls again after GNUTLS_E_AGAIN? Only when a callback
 * fed more while gnutls ran; unchanged input would make it spin. */
static bool tls_has_new_input(const tls_session *s, size_t before)
{
    return buf_len(&s->in) > 0 && buf_len(&s->in) != before;
}

/* Runs the handshake, then decrypts records, until the input runs dry. */
static int tls_process(tls_session *s)
{
    char plain[TLS_RECORD_MAX];

    while (!s->failure && !s->got_close) {
        size_t before = buf_len(&s->in);
        if (!s->is_ready) {
            s->in_gnutls++;
            int rc = gnutls_handshake(s->gs);
            s->in_gnutls--;
            if (rc == 0) {
                tls_on_handshake(s);
                if (s->io.ready)
                    s->io.ready(s->ud);
                tls_settle(s);
                continue;
            }
            if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
                if (tls_settle(s) || !tls_has_new_input(s, before))
                    break;
                continue;
            }
            if (gnutls_error_is_fatal(rc))
                return tls_fail(s, rc);
            continue; /* a warning alert: go on */
        }

        s->in_gnutls++;
        ssize_t n = gnutls_record_recv(s->gs, plain, sizeof plain);
        s->in_gnutls--;
        if (n > 0) {
            if (s->io.recv)
                s->io.recv(s->ud, plain, (size_t)n);
        } else if (n == 0) {
            s->got_close = true;
            tls_set_error(s, "the peer sent close_notify");
        } else if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            if (tls_settle(s) || !tls_has_new_input(s, before))
                break;
        } else if (n == GNUTLS_E_REHANDSHAKE) {
            tls_refuse_renegotiation(s);
        } else if (n == GNUTLS_E_PREMATURE_TERMINATION) {
            tls_set_error(s, "the peer ended the stream without close_notify");
            s->failure = XE_TLS;
        } else if (gnutls_error_is_fatal((int)n)) {
            return tls_fail(s, (int)n);
        }
        tls_settle(s);
    }
    if (s->failure)
        return s->failure;
    return s->got_close ? XE_CLOSED : 0;
}

static int tls_pump(tls_session *s)
{
    s->in_pump = true;
    int xe = tls_process(s);
    s->in_pump = false;
    return xe;
}

/* After send or bye: bytes a callback fed meanwhile are processed now. */
static void tls_pump_leftover(tls_session *s)
{
    if (!s->in_pump && !s->in_gnutls && buf_len(&s->in) > 0)
        tls_pump(s);
}

/* ---- sessions ---- */

static bool tls_is_ip_literal(const char *name)
{
    unsigned char addr[16];

    return inet_pton(AF_INET, name, addr) == 1 ||
           inet_pton(AF_INET6, name, addr) == 1;
}

static tls_session *tls_session_open(tls_ctx *ctx, const char *name, const tls_io *io,
                                     void *ud, bool with_alpn)
{
    tls_session *s = xalloc(sizeof *s);
    s->ctx = ctx;
    s->io = *io;
    s->ud = ud;
    buf_init(&s->in);
    buf_init(&s->out);

    unsigned int flags =
        (ctx->is_server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK;
    /* Fails only without memory, which we never handle (alloc.h). */
    if (gnutls_init(&s->gs, flags) < 0)
        abort();
    gnutls_priority_set(s->gs, ctx->prio);
    gnutls_credentials_set(s->gs, GNUTLS_CRD_CERTIFICATE, ctx->cred);
    gnutls_transport_set_ptr(s->gs, s);
    gnutls_transport_set_push_function(s->gs, tls_push);
    gnutls_transport_set_pull_function(s->gs, tls_pull);
    gnutls_transport_set_pull_timeout_function(s->gs, tls_pull_timeout);
    /* The caller's timers bound the handshake, not gnutls's clock. */
    gnutls_handshake_set_timeout(s->gs, 0);
    if (with_alpn && ctx->alpn) {
        gnutls_datum_t proto = { (unsigned char *)ctx->alpn, (unsigned)strlen(ctx->alpn) };
        gnutls_alpn_set_protocols(s->gs, &proto, 1, 0);
    }

    if (ctx->is_server) {
        if (ctx->verify_peer) {
            gnutls_certificate_server_set_request(s->gs, GNUTLS_CERT_REQUIRE);
            gnutls_session_set_verify_cert(s->gs, NULL, 0);
        } else if (ctx->has_trust) {
            gnutls_certificate_server_set_request(s->gs, GNUTLS_CERT_REQUEST);
        }
        return s;
    }

    s->name = xstrdup(name);
    /* RFC 6066 §3: no IP literals in server_name. */
    if (name && !tls_is_ip_literal(name))
        gnutls_server_name_set(s->gs, GNUTLS_NAME_DNS, name, strlen(name));
    /* gnutls keeps this pointer for the whole session: give it our copy. */
    if (ctx->verify_peer)
        gnutls_session_set_verify_cert(s->gs, s->name, 0);
    /* The ClientHello goes out now; a failure shows at the first feed. */
    tls_pump(s);
    return s;
}

tls_session *tls_session_new(tls_ctx *ctx, const char *name, const tls_io *io,
                             void *ud)
{
    return tls_session_open(ctx, name, io, ud, false);
}

tls_session *tls_session_new_direct(tls_ctx *ctx, const char *name, const tls_io *io,
                                    void *ud)
{
    return tls_session_open(ctx, name, io, ud, true);
}

void tls_session_free(tls_session *s)
{
    if (!s)
        return;
    assert(!s->in_pump && !s->in_gnutls); /* not from a callback */
    gnutls_deinit(s->gs);
    buf_close(&s->in);
    buf_close(&s->out);
    free(s->name);
    free(s->sni);
    free(s->error);
    free(s);
}

int tls_session_feed(tls_session *s, const char *data, size_t len)
{
    if (s->failure)
        return s->failure;
    if (s->got_close)
        return XE_CLOSED;
    buf_append(&s->in, data, len);
    /* From a callback: the running call reads it before it returns. */
    if (s->in_pump || s->in_gnutls)
        return 0;
    return tls_pump(s);
}

int tls_session_send(tls_session *s, const char *data, size_t len)
{
    if (s->failure)
        return XE_TLS;
    if (s->is_shut)
        return XE_CLOSED;
    if (!s->is_ready || s->in_gnutls || buf_len(&s->out) > 0) {
        buf_append(&s->out, data, len);
        if (tls_settle(s))
            return XE_TLS;
    } else if (tls_write(s, data, len) || tls_settle(s)) {
        return XE_TLS;
    }
    tls_pump_leftover(s);
    return 0;
}

void tls_session_bye(tls_session *s)
{
    if (s->is_shut)
        return;
    s->is_shut = true;
    if (!s->is_ready) {
        buf_clear(&s->out);
        return;
    }
    s->bye_pending = true;
    tls_settle(s);
    tls_pump_leftover(s);
}

void tls_session_trim(tls_session *s)
{
    if (s->in_gnutls)
        return;
    if (buf_len(&s->in) == 0)
        buf_close(&s->in);
    if (buf_len(&s->out) == 0)
        buf_close(&s->out);
}

bool tls_session_is_ready(const tls_session *s)
{
    return s->is_ready && !s->failure;
}

const char *tls_session_error(const tls_session *s)
{
    return s->error && s->error[0] ? s->error : "no error";
}

const char *tls_session_sni(const tls_session *s)
{
    return s->sni;
}

const char *tls_session_version(const tls_session *s)
{
    if (!s->is_ready)
        return NULL;
    return gnutls_protocol_get_name(gnutls_protocol_get_version(s->gs));
}

const char *tls_session_alpn(const tls_session *s)
{
    if (!s->is_ready || !s->ctx->alpn)
        return NULL;
    gnutls_datum_t proto;
    if (gnutls_alpn_get_selected_protocol(s->gs, &proto) != 0)
        return NULL;
    /* Only ours can be selected: one protocol is ever offered or accepted. */
    return proto.size == strlen(s->ctx->alpn) &&
                   memcmp(proto.data, s->ctx->alpn, proto.size) == 0
               ? s->ctx->alpn
               : NULL;
}

bool tls_session_peer_verified(const tls_session *s)
{
    return s->is_verified;
}

/* RFC 6120 §13.7.1.4: an XmppAddr otherName naming the domain also counts. */
static bool tls_crt_has_xmpp_addr(gnutls_x509_crt_t crt, const char *hostname)
{
    for (unsigned int i = 0;; i++) {
        char value[1024];
        size_t len = sizeof value - 1;
        int type =
            gnutls_x509_crt_get_subject_alt_name(crt, i, value, &len, NULL);
        if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            return false;
        /* gnutls names the XmppAddr type itself, decoded, or leaves it a
         * generic otherName whose OID tells. */
        if (type == GNUTLS_SAN_OTHERNAME) {
            char oid[128];
            size_t oid_len = sizeof oid;
            type = gnutls_x509_crt_get_subject_alt_othername_oid(crt, i, oid,
                                                                 &oid_len);
        }
        if (type != GNUTLS_SAN_OTHERNAME_XMPP)
            continue;
        /* Domains compare without case (RFC 7622 §3.2). */
        if (len == strlen(hostname) && strncasecmp(value, hostname, len) == 0)
            return true;
    }
}

bool tls_session_peer_has_name(const tls_session *s, const char *hostname)
{
    if (!s->is_verified || !hostname)
        return false;
    unsigned int n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(s->gs, &n);
    if (!certs || n == 0)
        return false;
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0)
        return false;
    bool has_name = false;
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0)
        has_name = gnutls_x509_crt_check_hostname(crt, hostname) ||
                   tls_crt_has_xmpp_addr(crt, hostname);
    gnutls_x509_crt_deinit(crt);
    return has_name;
}

int tls_session_channel_binding(const tls_session *s, const char *type,
                                unsigned char *out, size_t *len)
{
    gnutls_channel_binding_t cbtype;

    if (strcmp(type, "tls-exporter") == 0)
        cbtype = GNUTLS_CB_TLS_EXPORTER;
    else if (strcmp(type, "tls-server-end-point") == 0)
        cbtype = GNUTLS_CB_TLS_SERVER_END_POINT;
    else if (strcmp(type, "tls-unique") == 0)
        cbtype = GNUTLS_CB_TLS_UNIQUE;
    else
        return XE_NOT_FOUND;
    if (!s->is_ready || s->failure)
        return XE_TLS;

    bool is_tls13 = gnutls_protocol_get_version(s->gs) == GNUTLS_TLS1_3;
    /* RFC 9266 §3 and RFC 8446 §C.5: each type is defined only where its
     * value is unique to the connection. */
    if (cbtype == GNUTLS_CB_TLS_UNIQUE && is_tls13)
        return XE_NOT_FOUND;
    if (cbtype == GNUTLS_CB_TLS_EXPORTER && !is_tls13 &&
        !gnutls_session_ext_master_secret_status(s->gs))
        return XE_NOT_FOUND;

    gnutls_datum_t cb = {0};
    int rc = gnutls_session_channel_binding(s->gs, cbtype, &cb);
    if (rc == GNUTLS_E_INVALID_REQUEST || rc == GNUTLS_E_UNIMPLEMENTED_FEATURE)
        return XE_NOT_FOUND;
    if (rc < 0)
        return XE_TLS;
    int xe = 0;
    if (cb.size > *len) {
        xe = XE_LIMIT;
    } else {
        memcpy(out, cb.data, cb.size);
        *len = cb.size;
    }
    gnutls_free(cb.data);
    return xe;
}
