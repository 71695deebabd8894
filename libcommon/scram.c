/* SPDX-License-Identifier: MIT */
/* libcommon/scram.c: SCRAM credentials (RFC 5802 §3, RFC 7677): the keys from
 * a password, the base64 fields the store keeps, and their <scram/> form
 * (docs/store-protocol.md). The SASL exchange itself is auth.c's. */
#include "libcommon/scram.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stringprep.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"

#define SCRAM_HASH_MAX 32 /* SHA-256 */
#define SCRAM_SALT_MAX 64 /* bytes; SCRAM_SALT_B64_MAX holds it */

const char *const scram_mechs[SCRAM_N_MECHS] = {"SCRAM-SHA-1", "SCRAM-SHA-256"};

/* ---- base64 (RFC 4648, padded) ---- */

static const char scram_b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encodes in into out (size bytes with the NUL). False if gnutls fails or
 * out is too small. */
static bool scram_b64_encode(const unsigned char *in, size_t len, char *out,
                             size_t size)
{
    gnutls_datum_t raw = {.data = (unsigned char *)in, .size = (unsigned)len};
    gnutls_datum_t text = {.data = NULL, .size = 0};
    bool ok = gnutls_base64_encode2(&raw, &text) == 0 && text.size < size;

    if (ok) {
        memcpy(out, text.data, text.size);
        out[text.size] = '\0';
    }
    gnutls_free(text.data);
    return ok;
}

static int scram_b64_value(char c)
{
    const char *p = c ? strchr(scram_b64_chars, c) : NULL;
    return p ? (int)(p - scram_b64_chars) : -1;
}

/* Decodes s into out (size bytes); *len gets the length. Returns false on
 * bad characters, bad padding or an overflow of out. Written out rather than
 * left to gnutls, whose decoder skips whitespace: a stored field is exact. */
static bool scram_b64_decode(const char *s, unsigned char *out, size_t size,
                             size_t *len)
{
    size_t n = strlen(s), o = 0;

    if (n == 0 || n % 4 != 0)
        return false;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        size_t pad = 0;
        for (size_t k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = scram_b64_value(s[i + k])) < 0) {
                return false;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                     (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t take = 3 - pad;
        if (o + take > size)
            return false;
        for (size_t k = 0; k < take; k++)
            out[o++] = (unsigned char)(w >> (16 - 8 * k));
    }
    *len = o;
    return true;
}

/* ---- keys ---- */

/* The hash of each mechanism whose credentials we make and check. */
typedef struct scram_hash {
    const char *mech;
    gnutls_mac_algorithm_t mac;
    gnutls_digest_algorithm_t dig;
    size_t len; /* digest bytes */
} scram_hash;

static const scram_hash scram_hashes[] = {
    {"SCRAM-SHA-1", GNUTLS_MAC_SHA1, GNUTLS_DIG_SHA1, 20},
    {"SCRAM-SHA-256", GNUTLS_MAC_SHA256, GNUTLS_DIG_SHA256, 32},
};

/* NULL if mech (which may be NULL) is not ours. */
static const scram_hash *scram_hash_of(const char *mech)
{
    for (size_t i = 0; mech && i < sizeof scram_hashes / sizeof scram_hashes[0];
         i++)
        if (strcmp(scram_hashes[i].mech, mech) == 0)
            return &scram_hashes[i];
    return NULL;
}

/* RFC 5802 §3: StoredKey and ServerKey from a password. */
static bool scram_keys(const scram_hash *h, const char *password, size_t pwlen,
                       const unsigned char *salt, size_t salt_len,
                       unsigned iterations, unsigned char *stored,
                       unsigned char *server)
{
    unsigned char salted[SCRAM_HASH_MAX], client_key[SCRAM_HASH_MAX];
    gnutls_datum_t key = {.data = (unsigned char *)password,
                          .size = (unsigned)pwlen};
    gnutls_datum_t salt_d = {.data = (unsigned char *)salt,
                             .size = (unsigned)salt_len};
    bool ok =
        gnutls_pbkdf2(h->mac, &key, &salt_d, iterations, salted, h->len) == 0 &&
        gnutls_hmac_fast(h->mac, salted, h->len, "Client Key", 10,
                         client_key) == 0 &&
        gnutls_hash_fast(h->dig, client_key, h->len, stored) == 0 &&
        gnutls_hmac_fast(h->mac, salted, h->len, "Server Key", 10, server) == 0;

    gnutls_memset(salted, 0, sizeof salted);
    gnutls_memset(client_key, 0, sizeof client_key);
    return ok;
}

static bool scram_equal_ct(const unsigned char *a, const unsigned char *b,
                           size_t n)
{
    unsigned char diff = 0;

    for (size_t i = 0; i < n; i++)
        diff |= a[i] ^ b[i];
    return diff == 0;
}

/* RFC 5802 §2.2 and RFC 4013: passwords are SASLprepped; stored strings may
 * not hold unassigned code points, queries may. NULL when it fails. */
static char *scram_saslprep(const char *password, bool is_stored)
{
    char *out = NULL;
    int rc = stringprep_profile(password, &out, "SASLprep",
                                is_stored ? STRINGPREP_NO_UNASSIGNED : 0);

    if (rc != STRINGPREP_OK) {
        free(out);
        return NULL;
    }
    return out;
}

/* Fills out's fields; false if an encoding fails. */
static bool scram_cred_fill(scram_cred *out, const scram_hash *h,
                            unsigned iterations, const unsigned char *salt,
                            size_t salt_len, const unsigned char *stored,
                            const unsigned char *server)
{
    memset(out, 0, sizeof *out);
    snprintf(out->mech, sizeof out->mech, "%s", h->mech);
    out->iterations = iterations;
    return scram_b64_encode(salt, salt_len, out->salt, sizeof out->salt) &&
           scram_b64_encode(stored, h->len, out->stored_key,
                            sizeof out->stored_key) &&
           scram_b64_encode(server, h->len, out->server_key,
                            sizeof out->server_key);
}

/* ---- making credentials ---- */

int scram_cred_derive(const char *mech, const char *password,
                      const unsigned char *salt, size_t salt_len,
                      unsigned iterations, scram_cred *out)
{
    const scram_hash *h = scram_hash_of(mech);
    unsigned char stored[SCRAM_HASH_MAX], server[SCRAM_HASH_MAX];

    if (!h)
        return XE_NOT_FOUND;
    if (!password || !*password || iterations == 0 || salt_len == 0 ||
        salt_len > SCRAM_SALT_MAX)
        return XE_PROTOCOL;
    bool ok =
        scram_keys(h, password, strlen(password), salt, salt_len, iterations,
                   stored, server) &&
        scram_cred_fill(out, h, iterations, salt, salt_len, stored, server);
    gnutls_memset(stored, 0, sizeof stored);
    gnutls_memset(server, 0, sizeof server);
    return ok ? 0 : XE_PROTOCOL;
}

int scram_cred_make(const char *mech, const char *password, unsigned iterations,
                    scram_cred *out)
{
    unsigned char salt[SCRAM_SALT_BYTES];

    if (!scram_hash_of(mech))
        return XE_NOT_FOUND;
    if (!password)
        return XE_PROTOCOL;
    char *prepped = scram_saslprep(password, true);
    if (!prepped)
        return XE_PROTOCOL;
    int rc = XE_PROTOCOL;
    if (gnutls_rnd(GNUTLS_RND_NONCE, salt, sizeof salt) == 0)
        rc = scram_cred_derive(mech, prepped, salt, sizeof salt, iterations,
                               out);
    gnutls_memset(prepped, 0, strlen(prepped));
    free(prepped);
    return rc;
}

int scram_cred_make_all(const char *password, unsigned iterations,
                        scram_cred out[SCRAM_N_MECHS])
{
    int rc = 0;

    for (size_t i = 0; i < SCRAM_N_MECHS && rc == 0; i++)
        rc = scram_cred_make(scram_mechs[i], password, iterations, &out[i]);
    if (rc != 0)
        gnutls_memset(out, 0, SCRAM_N_MECHS * sizeof *out);
    return rc;
}

int scram_cred_fake(const char *mech, const unsigned char *secret,
                    size_t secret_len, const char *user, size_t user_len,
                    scram_cred *out)
{
    const scram_hash *h = scram_hash_of(mech);
    unsigned char salt[SCRAM_HASH_MAX], keys[SCRAM_HASH_MAX];

    if (!h)
        return XE_NOT_FOUND;
    char *what = xasprintf("%s salt %.*s", mech, (int)user_len, user);
    bool ok = gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, secret_len, what,
                               strlen(what), salt) == 0;
    what[0] ^= 1; /* a different input for the keys */
    ok = ok && gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, secret_len, what,
                                strlen(what), keys) == 0;
    free(what);
    /* The keys are never sent, so one digest may give both. */
    ok = ok && scram_cred_fill(out, h, SCRAM_ITERATIONS, salt, SCRAM_SALT_BYTES,
                               keys, keys + SCRAM_HASH_MAX - h->len);
    return ok ? 0 : XE_PROTOCOL;
}

/* ---- checking ---- */

bool scram_cred_is_valid(const scram_cred *c)
{
    unsigned char bytes[SCRAM_SALT_MAX];
    size_t len;

    if (!memchr(c->mech, '\0', sizeof c->mech) ||
        !memchr(c->salt, '\0', sizeof c->salt) ||
        !memchr(c->stored_key, '\0', sizeof c->stored_key) ||
        !memchr(c->server_key, '\0', sizeof c->server_key))
        return false;
    const scram_hash *h = scram_hash_of(c->mech);
    return h && c->iterations > 0 &&
           scram_b64_decode(c->salt, bytes, sizeof bytes, &len) &&
           scram_b64_decode(c->stored_key, bytes, sizeof bytes, &len) &&
           len == h->len &&
           scram_b64_decode(c->server_key, bytes, sizeof bytes, &len) &&
           len == h->len;
}

bool scram_cred_matches(const scram_cred *c, const char *password, size_t len)
{
    unsigned char salt[SCRAM_SALT_MAX], want[SCRAM_HASH_MAX],
        stored[SCRAM_HASH_MAX], server[SCRAM_HASH_MAX];
    size_t salt_len, want_len;

    if (!scram_cred_is_valid(c) || len == 0 || memchr(password, '\0', len))
        return false;
    const scram_hash *h = scram_hash_of(c->mech);
    char *raw = xstrndup(password, len);
    char *prepped = scram_saslprep(raw, false);
    gnutls_memset(raw, 0, len);
    free(raw);
    if (!prepped)
        return false;
    bool is_match =
        scram_b64_decode(c->salt, salt, sizeof salt, &salt_len) &&
        scram_b64_decode(c->stored_key, want, sizeof want, &want_len) &&
        scram_keys(h, prepped, strlen(prepped), salt, salt_len, c->iterations,
                   stored, server) &&
        scram_equal_ct(stored, want, h->len);
    gnutls_memset(prepped, 0, strlen(prepped));
    free(prepped);
    gnutls_memset(stored, 0, sizeof stored);
    gnutls_memset(server, 0, sizeof server);
    return is_match;
}

/* ---- the store's form ---- */

/* Appends " name='value'"; value is a field of size bytes, maybe not ended. */
static void scram_append_attr(buf *out, const char *name, const char *value,
                              size_t size)
{
    buf_printf(out, " %s='", name);
    buf_append_xml(out, value, strnlen(value, size), 1);
    buf_append_str(out, "'");
}

void scram_cred_append_xml(buf *out, const scram_cred *creds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const scram_cred *c = &creds[i];
        buf_append_str(out, "<scram");
        scram_append_attr(out, "mech", c->mech, sizeof c->mech);
        buf_printf(out, " iterations='%u'", c->iterations);
        scram_append_attr(out, "salt", c->salt, sizeof c->salt);
        scram_append_attr(out, "stored-key", c->stored_key,
                          sizeof c->stored_key);
        scram_append_attr(out, "server-key", c->server_key,
                          sizeof c->server_key);
        buf_append_str(out, "/>");
    }
}
