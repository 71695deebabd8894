/* SPDX-License-Identifier: MIT */
/* libcommon/auth.c: server-side SASL (RFC 6120 §6) as glue over Cyrus
 * libsasl2: SCRAM (RFC 5802, RFC 7677) fed with the stored credentials of
 * scram.c through an in-process auxprop plugin, and PLAIN (RFC 4616) checked
 * against the same credentials. */
#include "libcommon/auth.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/jid.h"
#include "libcommon/log.h"

#define AUTH_WHO "auth"
#define AUTH_AUXPROP_NAME "xmppd"

/* Cyrus's callback table holds every callback as int (*)(void); going through
 * void (*)(void) keeps -Wcast-function-type quiet about the deliberate cast. */
#define AUTH_CB(fn) ((int (*)(void))(void (*)(void))(fn))

typedef struct auth_mech {
    const char *name;
    bool is_plus;
    bool is_plain;
    const char *family;                  /* the credential's mech, NULL for PLAIN */
} auth_mech;

/* Offered in this order: channel binding first, then the stronger hash. */
static const auth_mech auth_mechs[] = {
    { "SCRAM-SHA-256-PLUS", true, false, "SCRAM-SHA-256" },
    { "SCRAM-SHA-1-PLUS", true, false, "SCRAM-SHA-1" },
    { "SCRAM-SHA-256", false, false, "SCRAM-SHA-256" },
    { "SCRAM-SHA-1", false, false, "SCRAM-SHA-1" },
    { "PLAIN", false, true, NULL },
};
#define AUTH_NMECHS (sizeof auth_mechs / sizeof auth_mechs[0])

typedef enum { AUTH_NEW, AUTH_RUNNING, AUTH_DONE } auth_state;

struct auth_session {
    sasl_conn_t *conn;
    sasl_callback_t callbacks[3];        /* Cyrus keeps a pointer to these */
    sasl_channel_binding_t binding;
    char *binding_type;
    unsigned char *binding_data;
    char *fqdn;
    bool is_tls;
    bool has_binding;
    bool has_cyrus[AUTH_NMECHS];         /* the plugin for it is loaded */
    char mech_list[128];
    char *cred_user;
    scram_cred *creds;
    size_t ncreds;
    const auth_mech *mech;
    auth_state state;
    unsigned messages;                   /* non-empty client messages fed */
    bool is_authzid_refused;
    auth_condition cond;
    char *username;
};

static bool auth_is_init;
static char auth_service_name[32] = "xmpp";   /* for sasl_server_new */
static bool auth_strict_binding;

void auth_set_strict_channel_binding(bool strict)
{
    auth_strict_binding = strict;
}
/* Per process: makes the answers for unknown users stable within a run. */
static unsigned char auth_fake_secret[32];

const char *auth_condition_name(auth_condition cond)
{
    static const char *const names[] = {
        [AUTH_COND_NONE] = NULL,
        [AUTH_COND_ABORTED] = "aborted",
        [AUTH_COND_ACCOUNT_DISABLED] = "account-disabled",
        [AUTH_COND_CREDENTIALS_EXPIRED] = "credentials-expired",
        [AUTH_COND_ENCRYPTION_REQUIRED] = "encryption-required",
        [AUTH_COND_INCORRECT_ENCODING] = "incorrect-encoding",
        [AUTH_COND_INVALID_AUTHZID] = "invalid-authzid",
        [AUTH_COND_INVALID_MECHANISM] = "invalid-mechanism",
        [AUTH_COND_MALFORMED_REQUEST] = "malformed-request",
        [AUTH_COND_MECHANISM_TOO_WEAK] = "mechanism-too-weak",
        [AUTH_COND_NOT_AUTHORIZED] = "not-authorized",
        [AUTH_COND_TEMPORARY_AUTH_FAILURE] = "temporary-auth-failure",
    };

    if ((unsigned)cond >= sizeof names / sizeof names[0])
        return NULL;
    return names[cond];
}

/* ---- credentials ---- */

int auth_session_set_credentials(auth_session *s, const char *user,
                                 const scram_cred *creds, size_t n)
{
    int rc = 0;

    free(s->cred_user);
    free(s->creds);
    s->cred_user = xstrdup(user);
    s->creds = n ? xalloc(n * sizeof *creds) : NULL;
    s->ncreds = 0;
    for (size_t i = 0; i < n; i++) {
        if (!scram_cred_is_valid(&creds[i])) {
            log_warn(AUTH_WHO, "a stored SCRAM credential is malformed; ignored");
            rc = XE_PROTOCOL;
            continue;
        }
        s->creds[s->ncreds++] = creds[i];
    }
    return rc;
}

/* Does Cyrus's canonical user name (user, or user@realm) name the user the
 * credentials were attached for? */
static bool auth_is_cred_user(const auth_session *s, const char *user, size_t ulen)
{
    if (!s->cred_user)
        return false;
    size_t n = strlen(s->cred_user);
    if (ulen == n && memcmp(user, s->cred_user, n) == 0)
        return true;
    size_t flen = strlen(s->fqdn);
    return ulen == n + 1 + flen && memcmp(user, s->cred_user, n) == 0 &&
           user[n] == '@' && memcmp(user + n + 1, s->fqdn, flen) == 0;
}

/* ---- Cyrus callbacks ---- */

static int auth_on_log(void *ctx, int level, const char *message)
{
    char text[512];

    (void)ctx;
    if (message)
        log_debug(AUTH_WHO, "cyrus (%d): %s", level,
                  log_escape(message, strlen(message), text, sizeof text));
    return SASL_OK;
}

/* Cyrus's options come from here, never from a config file. */
static int auth_on_getopt(void *ctx, const char *plugin, const char *option,
                          const char **result, unsigned *len)
{
    static const struct { const char *name, *value; } opts[] = {
        { "mech_list", "SCRAM-SHA-256 SCRAM-SHA-1 PLAIN" },
        { "pwcheck_method", "auxprop" },
        { "auxprop_plugin", AUTH_AUXPROP_NAME },
        { "canon_user_plugin", "INTERNAL" },
    };

    (void)ctx;
    if (!plugin && option) {
        for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
            if (strcmp(option, opts[i].name) == 0) {
                *result = opts[i].value;
                if (len)
                    *len = (unsigned)strlen(opts[i].value);
                return SASL_OK;
            }
        }
    }
    *result = NULL;
    if (len)
        *len = 0;
    return SASL_FAIL;
}

/* No config files; of the installed plugins only SCRAM and PLAIN. */
static int auth_on_verifyfile(void *ctx, const char *file, sasl_verify_type_t type)
{
    (void)ctx;
    if (type != SASL_VRFY_PLUGIN || !file)
        return SASL_CONTINUE;
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    if (strcmp(base, "libscram.so") == 0 || strcmp(base, "libplain.so") == 0)
        return SASL_OK;
    return SASL_CONTINUE;
}

/* The authzid must be empty (Cyrus then passes the authcid) or the user's
 * bare JID (RFC 6120 §6.3.8). */
/* RFC 6120 §6.3.8: the authzid may name the user's own bare JID, in any
 * form that prepares to it (RFC 7622), e.g. "alice@EXAMPLE.com". */
static bool auth_is_own_jid(const char *requested, unsigned rlen, const char *authid,
                            unsigned alen, const char *fqdn)
{
    /* Cyrus may have added "@realm" to the authid already. */
    char *want_s = memchr(authid, '@', alen)
                       ? xstrndup(authid, alen)
                       : xasprintf("%.*s@%s", (int)alen, authid, fqdn);
    char *got_s = xstrndup(requested, rlen);
    jid *want = NULL, *got = NULL;
    bool is_own = jid_parse(want_s, &want) == 0 && jid_parse(got_s, &got) == 0 &&
                  !jid_resource(got) && jid_equal(want, got);
    jid_free(want);
    jid_free(got);
    free(want_s);
    free(got_s);
    return is_own;
}

static int auth_on_proxy(sasl_conn_t *conn, void *ctx, const char *requested,
                         unsigned rlen, const char *authid, unsigned alen,
                         const char *realm, unsigned realmlen,
                         struct propctx *props)
{
    auth_session *s = ctx;

    (void)realm;
    (void)realmlen;
    (void)props;
    if (rlen == alen && memcmp(requested, authid, alen) == 0)
        return SASL_OK;
    if (auth_is_own_jid(requested, rlen, authid, alen, s->fqdn))
        return SASL_OK;
    s->is_authzid_refused = true;
    sasl_seterror(conn, 0, "authorization identity refused");
    return SASL_NOAUTHZ;
}

static auth_session *auth_session_of(const sasl_utils_t *utils)
{
    sasl_callback_ft proc = NULL;
    void *ctx = NULL;

    if (!utils->conn ||
        utils->getcallback(utils->conn, SASL_CB_PROXY_POLICY, &proc, &ctx) != SASL_OK ||
        proc != AUTH_CB(auth_on_proxy))
        return NULL;
    return ctx;
}

/* PLAIN: Cyrus hands over the password; we check it against the SCRAM
 * credentials, SASLprepped as when they were made. */
static int auth_on_checkpass(sasl_conn_t *conn, void *ctx, const char *user,
                             const char *pass, unsigned passlen,
                             struct propctx *props)
{
    auth_session *s = ctx;
    bool is_match = false;

    (void)conn;
    (void)props;
    if (auth_is_cred_user(s, user, strlen(user)) && s->ncreds > 0) {
        for (size_t i = 0; i < s->ncreds && !is_match; i++)
            is_match = scram_cred_matches(&s->creds[i], pass, passlen);
    } else {
        /* Spend the time a real check takes, so timing does not tell. */
        scram_cred fake;
        if (scram_cred_fake("SCRAM-SHA-256", auth_fake_secret, sizeof auth_fake_secret,
                            user, strlen(user), &fake) == 0)
            scram_cred_matches(&fake, pass, passlen);
    }
    return is_match ? SASL_OK : SASL_BADAUTH;
}

/* ---- the auxprop plugin: SCRAM secrets from the session's credentials ---- */

static void auth_auxprop_put(const sasl_utils_t *utils, struct propctx *props,
                             const char *name, const scram_cred *c)
{
    /* RFC 5803 authPassword, the form Cyrus's SCRAM plugin parses:
     * SCRAM-SHA-1$<iterations>:<salt>$<StoredKey>:<ServerKey> */
    char *value = xasprintf("%s$%u:%s$%s:%s", c->mech, c->iterations, c->salt,
                            c->stored_key, c->server_key);

    utils->prop_set(props, name, value, (unsigned)strlen(value));
    free(value);
}

static int auth_auxprop_lookup(void *glob, sasl_server_params_t *sparams,
                               unsigned flags, const char *user, unsigned ulen)
{
    const sasl_utils_t *utils = sparams->utils;
    auth_session *s = auth_session_of(utils);

    (void)glob;
    /* Only the authentication identity's properties ("*name") are ours. */
    if (!s || (flags & SASL_AUXPROP_AUTHZID) || !sparams->propctx)
        return SASL_OK;
    const struct propval *props = utils->prop_get(sparams->propctx);
    if (!props)
        return SASL_OK;
    bool is_known = auth_is_cred_user(s, user, ulen);
    for (const struct propval *p = props; p->name; p++) {
        if (strcmp(p->name, "*authPassword") != 0)
            continue;
        if (p->values) {
            if (!(flags & SASL_AUXPROP_OVERRIDE))
                continue;
            utils->prop_erase(sparams->propctx, p->name);
        }
        for (size_t f = 0; f < SCRAM_N_MECHS; f++) {
            bool has = false;
            for (size_t i = 0; is_known && i < s->ncreds; i++) {
                if (strcmp(s->creds[i].mech, scram_mechs[f]) == 0) {
                    auth_auxprop_put(utils, sparams->propctx, p->name, &s->creds[i]);
                    has = true;
                }
            }
            /* A user without one: the exchange goes on, fails at the proof. */
            scram_cred fake;
            if (!has && scram_cred_fake(scram_mechs[f], auth_fake_secret,
                                        sizeof auth_fake_secret, user, ulen, &fake) == 0)
                auth_auxprop_put(utils, sparams->propctx, p->name, &fake);
        }
    }
    return SASL_OK;
}

static char auth_auxprop_name[] = AUTH_AUXPROP_NAME;
static sasl_auxprop_plug_t auth_auxprop_plug = {
    .auxprop_lookup = auth_auxprop_lookup,
    .name = auth_auxprop_name,
};

static int auth_auxprop_init(const sasl_utils_t *utils, int max_version,
                             int *out_version, sasl_auxprop_plug_t **plug,
                             const char *plugname)
{
    (void)utils;
    (void)plugname;
    if (max_version < SASL_AUXPROP_PLUG_VERSION)
        return SASL_BADVERS;
    *out_version = SASL_AUXPROP_PLUG_VERSION;
    *plug = &auth_auxprop_plug;
    return SASL_OK;
}

/* ---- process setup ---- */

static const sasl_callback_t auth_global_callbacks[] = {
    { SASL_CB_LOG, AUTH_CB(auth_on_log), NULL },
    { SASL_CB_GETOPT, AUTH_CB(auth_on_getopt), NULL },
    { SASL_CB_VERIFYFILE, AUTH_CB(auth_on_verifyfile), NULL },
    { SASL_CB_LIST_END, NULL, NULL },
};

int auth_init(const char *service)
{
    if (auth_is_init)
        return 0;
    if (service && *service)
        snprintf(auth_service_name, sizeof auth_service_name, "%s", service);
    if (gnutls_rnd(GNUTLS_RND_KEY, auth_fake_secret, sizeof auth_fake_secret) != 0) {
        log_error(AUTH_WHO, "no random bytes for the SASL layer");
        return XE_CONFIG;
    }
    int rc = sasl_server_init(auth_global_callbacks, "xmppd");
    if (rc != SASL_OK) {
        log_error(AUTH_WHO, "Cyrus SASL failed to start: %s",
                  sasl_errstring(rc, NULL, NULL));
        return XE_CONFIG;
    }
    rc = sasl_auxprop_add_plugin(AUTH_AUXPROP_NAME, auth_auxprop_init);
    if (rc != SASL_OK) {
        log_error(AUTH_WHO, "Cyrus SASL refused our credential lookup: %s",
                  sasl_errstring(rc, NULL, NULL));
        sasl_server_done();
        return XE_CONFIG;
    }
    /* Without these plugins (Debian: libsasl2-modules) nothing would work. */
    const char **names = sasl_global_listmech();
    bool has_scram = false, has_plain = false;
    for (size_t i = 0; names && names[i]; i++) {
        has_scram |= strcmp(names[i], "SCRAM-SHA-256") == 0;
        has_plain |= strcmp(names[i], "PLAIN") == 0;
    }
    if (!has_scram || !has_plain) {
        log_error(AUTH_WHO, "Cyrus SASL has no %s plugin (libsasl2-modules)",
                  has_scram ? "PLAIN" : "SCRAM");
        sasl_server_done();
        return XE_CONFIG;
    }
    auth_is_init = true;
    return 0;
}

void auth_done(void)
{
    if (!auth_is_init)
        return;
    sasl_server_done();
    auth_is_init = false;
}

auth_session *auth_session_new(const char *server_fqdn, bool is_tls,
                               const auth_channel_binding *cb)
{
    auth_session *s = xalloc(sizeof *s);

    s->fqdn = xstrdup(server_fqdn);
    s->is_tls = is_tls;
    s->callbacks[0] = (sasl_callback_t){ SASL_CB_PROXY_POLICY, AUTH_CB(auth_on_proxy), s };
    s->callbacks[1] = (sasl_callback_t){ SASL_CB_SERVER_USERDB_CHECKPASS,
                                         AUTH_CB(auth_on_checkpass), s };
    s->callbacks[2] = (sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };
    int rc = sasl_server_new(auth_service_name, server_fqdn, server_fqdn, NULL, NULL,
                             s->callbacks, SASL_SUCCESS_DATA, &s->conn);
    if (rc != SASL_OK) {
        log_warn(AUTH_WHO, "Cyrus SASL refused a new connection: %s",
                 sasl_errstring(rc, NULL, NULL));
        s->conn = NULL;
        return s;             /* offers nothing; every start fails */
    }
    if (cb && cb->type && *cb->type && cb->data && cb->len > 0) {
        s->binding_type = xstrdup(cb->type);
        s->binding_data = xalloc(cb->len);
        memcpy(s->binding_data, cb->data, cb->len);
        s->binding = (sasl_channel_binding_t){
            .name = s->binding_type, .critical = 0,
            .len = cb->len, .data = s->binding_data,
        };
        if (sasl_setprop(s->conn, SASL_CHANNEL_BINDING, &s->binding) == SASL_OK)
            s->has_binding = true;
    }

    const char *list = NULL;
    unsigned list_len = 0;
    int count = 0;
    if (sasl_listmech(s->conn, NULL, " ", " ", " ", &list, &list_len, &count) == SASL_OK &&
        list) {
        for (size_t i = 0; i < AUTH_NMECHS; i++) {
            char *needle = xasprintf(" %s ", auth_mechs[i].name);
            s->has_cyrus[i] = strstr(list, needle) != NULL;
            free(needle);
        }
    }
    size_t used = 0;
    for (size_t i = 0; i < AUTH_NMECHS; i++) {
        const auth_mech *m = &auth_mechs[i];
        if (!s->has_cyrus[i] || (m->is_plus && !s->has_binding) ||
            (m->is_plain && !s->is_tls))
            continue;
        used += (size_t)snprintf(s->mech_list + used, sizeof s->mech_list - used,
                                 "%s%s", used ? " " : "", m->name);
    }
    return s;
}

void auth_session_free(auth_session *s)
{
    if (!s)
        return;
    if (s->conn)
        sasl_dispose(&s->conn);
    free(s->binding_type);
    free(s->binding_data);
    free(s->fqdn);
    free(s->cred_user);
    if (s->creds)
        gnutls_memset(s->creds, 0, s->ncreds * sizeof *s->creds);
    free(s->creds);
    free(s->username);
    free(s);
}

const char *auth_mechanisms(auth_session *s)
{
    return s->mech_list;
}

/* ---- first-message parsing ---- */

/* RFC 5802 §5.1 saslname: "=2C" is ',' and "=3D" is '='; no other '=' and
 * no ','. Returns a new string or NULL. */
static char *auth_saslname_decode(const char *s, size_t len)
{
    char *out = xalloc(len + 1);
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        if (s[i] == ',' || s[i] == '\0') {
            free(out);
            return NULL;
        }
        if (s[i] != '=') {
            out[o++] = s[i];
        } else if (i + 2 < len && s[i + 1] == '2' && s[i + 2] == 'C') {
            out[o++] = ',';
            i += 2;
        } else if (i + 2 < len && s[i + 1] == '3' && s[i + 2] == 'D') {
            out[o++] = '=';
            i += 2;
        } else {
            free(out);
            return NULL;
        }
    }
    out[o] = '\0';
    return out;
}

typedef struct auth_gs2 {
    char flag;                    /* 'n', 'y' or 'p' */
    const char *cb_name;          /* after "p=", not terminated */
    size_t cb_name_len;
    const char *user;             /* the raw saslname after "n=" */
    size_t user_len;
} auth_gs2;

/* Splits a SCRAM client-first-message (RFC 5802 §7). */
static bool auth_scram_first_parse(const char *d, size_t len, auth_gs2 *g)
{
    const char *end = d + len, *p = d;

    if (len == 0 || memchr(d, '\0', len))
        return false;
    memset(g, 0, sizeof *g);
    g->flag = *p;
    if (*p == 'n' || *p == 'y') {
        p++;
    } else if (*p == 'p' && len > 2 && p[1] == '=') {
        g->cb_name = p + 2;
        const char *comma = memchr(g->cb_name, ',', (size_t)(end - g->cb_name));
        if (!comma || comma == g->cb_name)
            return false;
        g->cb_name_len = (size_t)(comma - g->cb_name);
        p = comma;
    } else {
        return false;
    }
    if (p >= end || *p != ',')
        return false;
    p++;
    /* [ "a=" saslname ] "," */
    const char *comma = memchr(p, ',', (size_t)(end - p));
    if (!comma || (comma != p && (comma - p < 2 || p[0] != 'a' || p[1] != '=')))
        return false;
    p = comma + 1;
    if (end - p < 2 || p[0] != 'n' || p[1] != '=')
        return false;
    g->user = p + 2;
    comma = memchr(g->user, ',', (size_t)(end - g->user));
    if (!comma || comma == g->user)
        return false;
    g->user_len = (size_t)(comma - g->user);
    p = comma + 1;
    return end - p > 2 && p[0] == 'r' && p[1] == '=' && p[2] != ',';
}

/* Splits a PLAIN message (RFC 4616 §2): [authzid] NUL authcid NUL passwd. */
static bool auth_plain_parse(const char *d, size_t len, const char **user,
                             size_t *user_len)
{
    const char *end = d + len;
    const char *nul1 = len ? memchr(d, '\0', len) : NULL;

    if (!nul1)
        return false;
    const char *authcid = nul1 + 1;
    const char *nul2 = memchr(authcid, '\0', (size_t)(end - authcid));
    if (!nul2 || nul2 == authcid || nul2 + 1 >= end ||
        memchr(nul2 + 1, '\0', (size_t)(end - nul2 - 1)))
        return false;
    *user = authcid;
    *user_len = (size_t)(nul2 - authcid);
    return true;
}

static const auth_mech *auth_mech_find(const char *name, size_t *index)
{
    for (size_t i = 0; name && i < AUTH_NMECHS; i++) {
        if (strcmp(auth_mechs[i].name, name) == 0) {
            if (index)
                *index = i;
            return &auth_mechs[i];
        }
    }
    return NULL;
}

int auth_peek_user(const char *mech, const char *data, size_t len, char **authcid)
{
    const auth_mech *m = auth_mech_find(mech, NULL);

    *authcid = NULL;
    if (!m)
        return XE_NOT_FOUND;
    if (!data)
        return XE_PROTOCOL;
    if (m->is_plain) {
        const char *user;
        size_t ulen;
        if (!auth_plain_parse(data, len, &user, &ulen))
            return XE_PROTOCOL;
        *authcid = xstrndup(user, ulen);
        return 0;
    }
    auth_gs2 g;
    if (!auth_scram_first_parse(data, len, &g))
        return XE_PROTOCOL;
    *authcid = auth_saslname_decode(g.user, g.user_len);
    return *authcid ? 0 : XE_PROTOCOL;
}

/* ---- the exchange ---- */

static int auth_fail(auth_session *s, int err, auth_condition cond)
{
    s->state = AUTH_DONE;
    s->cond = cond;
    return err;
}

/* Our own checks of a client message before Cyrus sees it: what Cyrus would
 * not catch, or would catch only as a crash or a misleading code. Returns 0
 * or the failure. */
static int auth_precheck(auth_session *s, const char *data, size_t len)
{
    const auth_mech *m = s->mech;

    if (len == 0)
        return 0;
    if (m->is_plain) {
        const char *user;
        size_t ulen;
        if (!auth_plain_parse(data, len, &user, &ulen))
            return auth_fail(s, XE_PROTOCOL, AUTH_COND_MALFORMED_REQUEST);
        return 0;
    }
    if (s->messages == 0) {
        auth_gs2 g;
        if (!auth_scram_first_parse(data, len, &g))
            return auth_fail(s, XE_PROTOCOL, AUTH_COND_MALFORMED_REQUEST);
        char *user = auth_saslname_decode(g.user, g.user_len);
        if (!user)
            return auth_fail(s, XE_PROTOCOL, AUTH_COND_MALFORMED_REQUEST);
        free(user);
        /* RFC 5802 §6: "p" belongs to -PLUS only, "n" and "y" to the rest. */
        if ((g.flag == 'p') != m->is_plus)
            return auth_fail(s, XE_PROTOCOL, AUTH_COND_MALFORMED_REQUEST);
        if (g.flag == 'p' && (g.cb_name_len != strlen(s->binding_type) ||
                              memcmp(g.cb_name, s->binding_type, g.cb_name_len) != 0))
            return auth_fail(s, XE_AUTH, AUTH_COND_NOT_AUTHORIZED);
        /* "y": the client could bind but thinks we cannot. RFC 5802 §6 reads
         * that as a downgrade (someone stripped -PLUS), but clients that
         * know only tls-unique say "y" under TLS 1.3 too (slixmpp 1.8), so
         * unless strict, go on without binding, as the client asked. */
        if (g.flag == 'y' && s->has_binding) {
            if (auth_strict_binding)
                return auth_fail(s, XE_AUTH, AUTH_COND_NOT_AUTHORIZED);
            log_info(AUTH_WHO, "client can bind channels but chose %s without; "
                     "accepted (strict-channel-binding is off)", m->name);
            sasl_setprop(s->conn, SASL_CHANNEL_BINDING, NULL);
        }
        return 0;
    }
    /* client-final-message: "c=" ... ",r=" ... ",p=" proof */
    if (memchr(data, '\0', len) || len < 2 || data[0] != 'c' || data[1] != '=')
        return auth_fail(s, XE_PROTOCOL, AUTH_COND_MALFORMED_REQUEST);
    return 0;
}

/* Translates Cyrus's answer (its text goes to the log at debug). */
static int auth_result(auth_session *s, int rc, const char *out, unsigned outlen,
                       const char **pout, size_t *poutlen, bool was_final)
{
    *pout = out ? out : "";
    *poutlen = out ? outlen : 0;
    if (rc == SASL_CONTINUE) {
        if (s->mech->is_plain && s->messages > 0)
            return auth_fail(s, XE_PROTOCOL, AUTH_COND_MALFORMED_REQUEST);
        return AUTH_CONTINUE;
    }
    if (rc == SASL_OK) {
        const void *user = NULL;
        if (sasl_getprop(s->conn, SASL_AUTHUSER, &user) != SASL_OK || !user)
            return auth_fail(s, XE_AUTH, AUTH_COND_TEMPORARY_AUTH_FAILURE);
        /* Cyrus may have added "@realm" for the server's name; ours is bare. */
        const char *name = user;
        size_t n = strlen(name), flen = strlen(s->fqdn);
        if (n > flen + 1 && name[n - flen - 1] == '@' &&
            strcmp(name + n - flen, s->fqdn) == 0)
            n -= flen + 1;
        s->username = xstrndup(name, n);
        s->state = AUTH_DONE;
        return AUTH_OK;
    }
    *pout = "";
    *poutlen = 0;
    log_debug(AUTH_WHO, "SASL %s failed: %s", s->mech->name,
              sasl_errdetail(s->conn));
    if (s->is_authzid_refused)
        return auth_fail(s, XE_AUTH, AUTH_COND_INVALID_AUTHZID);
    switch (rc) {
    case SASL_NOMEM:
    case SASL_TRYAGAIN:
    case SASL_UNAVAIL:
        return auth_fail(s, XE_AUTH, AUTH_COND_TEMPORARY_AUTH_FAILURE);
    case SASL_NOMECH:
        return auth_fail(s, XE_PROTOCOL, AUTH_COND_INVALID_MECHANISM);
    case SASL_TOOWEAK:
        return auth_fail(s, XE_PROTOCOL, AUTH_COND_MECHANISM_TOO_WEAK);
    case SASL_ENCRYPT:
        return auth_fail(s, XE_PROTOCOL, AUTH_COND_ENCRYPTION_REQUIRED);
    case SASL_BADPROT:
        /* Cyrus's SCRAM reports a wrong proof and a binding mismatch as a
         * protocol error too; in the final message that is a failed login. */
        if (!was_final)
            return auth_fail(s, XE_PROTOCOL, AUTH_COND_MALFORMED_REQUEST);
        return auth_fail(s, XE_AUTH, AUTH_COND_NOT_AUTHORIZED);
    default:
        return auth_fail(s, XE_AUTH, AUTH_COND_NOT_AUTHORIZED);
    }
}

int auth_start(auth_session *s, const char *mech, const char *data, size_t len,
               const char **out, size_t *outlen)
{
    size_t index = 0;
    const auth_mech *m = auth_mech_find(mech, &index);
    const char *cout = NULL;
    unsigned coutlen = 0;

    *out = "";
    *outlen = 0;
    if (s->state != AUTH_NEW)
        return auth_fail(s, XE_PROTOCOL, AUTH_COND_MALFORMED_REQUEST);
    if (!m || !s->conn || !s->has_cyrus[index] || (m->is_plus && !s->has_binding))
        return auth_fail(s, XE_PROTOCOL, AUTH_COND_INVALID_MECHANISM);
    if (m->is_plain && !s->is_tls)
        return auth_fail(s, XE_PROTOCOL, AUTH_COND_ENCRYPTION_REQUIRED);
    if ((len > 0 && !data) || len > UINT32_MAX / 2)
        return auth_fail(s, XE_PROTOCOL, AUTH_COND_MALFORMED_REQUEST);
    s->mech = m;
    s->state = AUTH_RUNNING;
    int rc = auth_precheck(s, data, len);
    if (rc != 0)
        return rc;
    bool was_final = m->is_plain ? len > 0 : s->messages >= 1;
    if (len > 0)
        s->messages++;
    rc = sasl_server_start(s->conn, mech, len ? data : NULL, (unsigned)len, &cout,
                           &coutlen);
    return auth_result(s, rc, cout, coutlen, out, outlen, was_final);
}

int auth_step(auth_session *s, const char *data, size_t len, const char **out,
              size_t *outlen)
{
    const char *cout = NULL;
    unsigned coutlen = 0;

    *out = "";
    *outlen = 0;
    if (s->state != AUTH_RUNNING)
        return auth_fail(s, XE_PROTOCOL, AUTH_COND_MALFORMED_REQUEST);
    if (len > 0 && !data)
        return auth_fail(s, XE_PROTOCOL, AUTH_COND_MALFORMED_REQUEST);
    if (len > UINT32_MAX / 2)
        return auth_fail(s, XE_PROTOCOL, AUTH_COND_MALFORMED_REQUEST);
    int rc = auth_precheck(s, data, len);
    if (rc != 0)
        return rc;
    bool was_final = s->mech->is_plain ? len > 0 : s->messages >= 1;
    if (len > 0)
        s->messages++;
    rc = sasl_server_step(s->conn, len ? data : NULL, (unsigned)len, &cout, &coutlen);
    return auth_result(s, rc, cout, coutlen, out, outlen, was_final);
}

auth_condition auth_failure(const auth_session *s)
{
    return s->cond;
}

const char *auth_username(const auth_session *s)
{
    return s->username;
}
