/* SPDX-License-Identifier: MIT */
/* libcommon/auth.h: the server side of SASL for client streams (RFC 6120 §6)
 * over Cyrus libsasl2: SCRAM-SHA-1/-256 and their -PLUS variants (RFC 5802,
 * RFC 7677) and PLAIN (RFC 4616, over TLS only). The server never holds a
 * password, only SCRAM credentials (libcommon/scram.h), which the caller
 * fetches for the user named in the first message and attaches to the session.
 * Single-threaded: every call of this module comes from one thread. */
#ifndef XMPPD_LIBCOMMON_AUTH_H
#define XMPPD_LIBCOMMON_AUTH_H
#include <stdbool.h>
#include <stddef.h>

#include "libcommon/scram.h"

typedef struct auth_session auth_session;   /* opaque: one stream's exchange */

/* Results of auth_start/auth_step besides the XE_* errors. */
enum {
    AUTH_OK = 0,          /* authenticated: send <success/> with the data */
    AUTH_CONTINUE = 1,    /* send <challenge/> with the data, await <response/> */
};

/* The <failure/> conditions of RFC 6120 §6.5, for the element to send. */
typedef enum {
    AUTH_COND_NONE = 0,                /* no failure (yet) */
    AUTH_COND_ABORTED,
    AUTH_COND_ACCOUNT_DISABLED,
    AUTH_COND_CREDENTIALS_EXPIRED,
    AUTH_COND_ENCRYPTION_REQUIRED,
    AUTH_COND_INCORRECT_ENCODING,
    AUTH_COND_INVALID_AUTHZID,
    AUTH_COND_INVALID_MECHANISM,
    AUTH_COND_MALFORMED_REQUEST,
    AUTH_COND_MECHANISM_TOO_WEAK,
    AUTH_COND_NOT_AUTHORIZED,
    AUTH_COND_TEMPORARY_AUTH_FAILURE,
} auth_condition;

/* The element name of cond, e.g. "not-authorized"; NULL for AUTH_COND_NONE. */
const char *auth_condition_name(auth_condition cond);

/* Channel binding data of the stream's TLS session (tls_session_channel_binding). */
typedef struct auth_channel_binding {
    const char *type;                     /* "tls-exporter", "tls-server-end-point", ... */
    const unsigned char *data;
    size_t len;
} auth_channel_binding;

/* Sets up Cyrus SASL for this process, once: our mechanisms only, no config
 * files, no sasldb, its log lines into log.h at debug. service is the SASL
 * service name ("xmpp"). Later calls do nothing and return 0. Returns 0 or
 * XE_CONFIG (Cyrus failed, or the SCRAM or PLAIN plugin is not installed). */
int auth_init(const char *service);
/* Releases Cyrus's global state (at exit, after every session is freed). */
void auth_done(void);
/* RFC 5802 §6 has a server that offers -PLUS refuse the SCRAM flag "y" (the
 * client could bind but believes the server cannot) as a downgrade. Clients
 * that know only tls-unique send "y" under TLS 1.3 (slixmpp 1.8), so by
 * default "y" is accepted with a log line; true restores the RFC's check. */
void auth_set_strict_channel_binding(bool strict);

/* A session for one stream to server_fqdn (the domain the client asked for).
 * is_tls says the stream is encrypted (PLAIN is offered only then); cb is
 * NULL, or the TLS channel binding, copied, which makes the -PLUS mechanisms
 * available. Call auth_init() first. */
auth_session *auth_session_new(const char *server_fqdn, bool is_tls,
                               const auth_channel_binding *cb);
void auth_session_free(auth_session *s);                 /* NULL is fine */

/* The mechanisms to offer, space-separated, strongest first; valid while s
 * lives. */
const char *auth_mechanisms(auth_session *s);

/* The user name (authcid) in the first message of mech, so the caller can
 * fetch its credentials before auth_start(). data is the decoded <auth/>
 * payload. On success *authcid is a new string the caller frees. Returns 0,
 * XE_PROTOCOL (malformed message) or XE_NOT_FOUND (mech is not ours). */
int auth_peek_user(const char *mech, const char *data, size_t len,
                   char **authcid);

/* Attaches the stored credentials of user (the name auth_peek_user gave),
 * copied. Entries whose fields are malformed are left out and logged; with
 * none (unknown user), SCRAM runs to the end and fails like a wrong password.
 * Returns 0, or XE_PROTOCOL if some entry was left out. */
int auth_session_set_credentials(auth_session *s, const char *user,
                                 const scram_cred *creds, size_t n);

/* Starts mech with the client's initial response (data, len; len 0 for none)
 * and auth_step() continues with each <response/>. *out, *outlen: the data
 * for the <challenge/> or <success/> (may be empty), valid until the next
 * call on s. Returns AUTH_CONTINUE, AUTH_OK, XE_AUTH (wrong password, unknown
 * user, channel binding mismatch, refused authzid) or XE_PROTOCOL (malformed
 * input, a mechanism not offered, out of order); auth_failure() then names
 * the <failure/> condition and the session is finished. */
int auth_start(auth_session *s, const char *mech, const char *data, size_t len,
               const char **out, size_t *outlen);
int auth_step(auth_session *s, const char *data, size_t len,
              const char **out, size_t *outlen);
auth_condition auth_failure(const auth_session *s);

/* After AUTH_OK: the authenticated user name (authcid) as the client sent it,
 * for the caller to nodeprep; the authzid was empty or its bare JID
 * (authcid@server_fqdn). NULL before. Valid while s lives. */
const char *auth_username(const auth_session *s);
#endif
