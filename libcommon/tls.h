/* SPDX-License-Identifier: MIT */
/* libcommon/tls.h: TLS (gnutls) over any transport. A session takes the
 * ciphertext that arrived and hands back plaintext, and turns plaintext into
 * ciphertext, through callbacks: the event loop glue (net.c) moves the bytes,
 * so a live plaintext stream can be upgraded (STARTTLS) at any point. */
#ifndef XMPPD_LIBCOMMON_TLS_H
#define XMPPD_LIBCOMMON_TLS_H
#include <stdbool.h>
#include <stddef.h>

typedef struct tls_ctx tls_ctx;          /* credentials and policy, shared */
typedef struct tls_session tls_session;  /* one connection's TLS state */

typedef struct tls_ctx_opts {
    bool is_server;
    /* PEM files. A server needs one pair; tls_ctx_add_cert() adds more, and
     * the one whose names match the client's SNI is chosen. A client may give
     * a pair to present a client certificate. */
    const char *cert_file, *key_file;
    /* Trust anchors (PEM) for checking the peer; NULL means the system store. */
    const char *ca_file;
    /* Server: ask for a client certificate and refuse the handshake unless it
     * verifies against ca_file. Client: verify the server's certificate
     * against the trust anchors and the expected name (see tls_session_new).
     * A server without verify_peer but with ca_file asks for a certificate
     * without requiring one; tls_session_peer_verified() says if it verified. */
    bool verify_peer;
    /* Server: ask for a client certificate without requiring one, checked
     * against ca_file or, without it, the system store (as ca_file alone
     * does with its file). */
    bool request_peer;
    const char *priorities;              /* gnutls priority string; NULL: a safe default */
    /* ALPN (RFC 7301) protocol of direct TLS (XEP-0368's "xmpp-client" or
     * "xmpp-server"), used by sessions made with tls_session_new_direct():
     * a client offers it, a server selects it when offered (and goes on
     * without ALPN when not). STARTTLS sessions go without, which spares
     * gnutls's ALPN state on each of them. NULL: no ALPN. */
    const char *alpn;
} tls_ctx_opts;

/* A new context. Returns 0, or XE_TLS / XE_CONFIG with a message naming the
 * file and gnutls's reason in err (errlen bytes). */
int tls_ctx_new(const tls_ctx_opts *opts, tls_ctx **out, char *err, size_t errlen);
int tls_ctx_add_cert(tls_ctx *ctx, const char *cert_file, const char *key_file,
                     char *err, size_t errlen);
void tls_ctx_free(tls_ctx *ctx);         /* after every session of it is freed */

/* The callbacks run synchronously inside the tls_session_* call that caused
 * them; ready may be NULL. recv and ready may call tls_session_send,
 * tls_session_bye and tls_session_feed (bytes fed from a callback are
 * processed before the outer call returns) but never tls_session_free. */
typedef struct tls_io {
    /* Ciphertext to put on the wire. */
    void (*send)(void *ud, const char *data, size_t len);
    /* Plaintext that arrived. */
    void (*recv)(void *ud, const char *data, size_t len);
    /* The handshake finished; plaintext may flow both ways now. */
    void (*ready)(void *ud);
} tls_io;

/* A new session. For a client, name is the server name to send as SNI and to
 * verify the certificate against (with verify_peer); for a server it is NULL.
 * A client starts the handshake at once (send fires). */
tls_session *tls_session_new(tls_ctx *ctx, const char *name, const tls_io *io,
                             void *ud);
/* tls_session_new() for TLS from the first byte (XEP-0368), with the
 * context's ALPN protocol. */
tls_session *tls_session_new_direct(tls_ctx *ctx, const char *name, const tls_io *io,
                                    void *ud);
void tls_session_free(tls_session *s);   /* NULL is fine; not from a callback */
/* Takes ciphertext from the wire: advances the handshake, or decrypts and
 * fires recv. Returns 0, XE_TLS (alert or bad record), XE_CERT (the peer's
 * certificate did not verify) or XE_CLOSED (the peer sent close_notify).
 * After an error every later call returns the same one. */
int tls_session_feed(tls_session *s, const char *data, size_t len);
/* Encrypts plaintext and fires send. Before the handshake is done the data is
 * kept and sent once it is. Returns 0, XE_TLS (the session has failed) or
 * XE_CLOSED (after tls_session_bye). */
int tls_session_send(tls_session *s, const char *data, size_t len);
/* Sends close_notify; later tls_session_send calls fail. Before the handshake
 * is done nothing is sent and queued plaintext is dropped. */
void tls_session_bye(tls_session *s);
/* Frees the session's own buffers while they are empty (an idle connection). */
void tls_session_trim(tls_session *s);
bool tls_session_is_ready(const tls_session *s);
/* Why the last call failed, for the log (gnutls's words). */
const char *tls_session_error(const tls_session *s);
const char *tls_session_sni(const tls_session *s);      /* server: the name asked for, or NULL */
/* "TLS1.3"; NULL before the handshake is done. */
const char *tls_session_version(const tls_session *s);
/* The ALPN protocol agreed on; NULL when none (or before the handshake). */
const char *tls_session_alpn(const tls_session *s);
/* Did the peer's certificate verify against the trust anchors (ca_file)?
 * Server: the client certificate, if one was sent. Client: the server's, and
 * against the name given to tls_session_new, even without verify_peer. */
bool tls_session_peer_verified(const tls_session *s);
/* Does the verified peer certificate name hostname, as a DNS name (RFC 6125)
 * or an XmppAddr (RFC 6120 §13.7.1.4)? False when it did not verify. */
bool tls_session_peer_has_name(const tls_session *s, const char *hostname);

#define TLS_CHANNEL_BINDING_MAX 64       /* bytes: the largest value below */
/* The channel binding of the finished handshake for SASL *-PLUS: type is
 * "tls-exporter" (RFC 9266), "tls-server-end-point" or "tls-unique" (RFC 5929).
 * *len holds out's size on entry and the value's length on return. Returns 0,
 * XE_NOT_FOUND (unknown type, or undefined for this session: tls-unique under
 * TLS 1.3, tls-exporter under TLS 1.2 without extended master secret),
 * XE_LIMIT (out too small) or XE_TLS (no finished handshake). */
int tls_session_channel_binding(const tls_session *s, const char *type,
                                unsigned char *out, size_t *len);
#endif
