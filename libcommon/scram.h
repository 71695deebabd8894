/* SPDX-License-Identifier: MIT */
/* libcommon/scram.h: SCRAM credentials (RFC 5802 §3, RFC 7677) as the store
 * keeps them (docs/store-protocol.md): made from a password, checked, matched
 * against a password, and written as <scram/> elements. The module keeps no
 * state, so any thread may call it (c2s makes credentials in libuv's pool). */
#ifndef XMPPD_LIBCOMMON_SCRAM_H
#define XMPPD_LIBCOMMON_SCRAM_H
#include <stdbool.h>
#include <stddef.h>

#include "libcommon/buf.h"

/* Sizes of the base64 fields of a credential, with the NUL. */
#define SCRAM_SALT_B64_MAX 89 /* salts up to 64 bytes */
#define SCRAM_KEY_B64_MAX 45  /* SHA-256 digests; SHA-1 needs 29 */
#define SCRAM_SALT_BYTES 16   /* the salt scram_cred_make draws */
#define SCRAM_ITERATIONS 4096 /* for new passwords: RFC 7677 §4's minimum */
#define SCRAM_N_MECHS 2       /* credentials the store keeps per account */

/* The mechanisms of an account's credentials, in the order
 * scram_cred_make_all makes them: "SCRAM-SHA-1", "SCRAM-SHA-256". */
extern const char *const scram_mechs[SCRAM_N_MECHS];

/* One SCRAM credential as the store keeps it: <scram mech='' iterations=''
 * salt='' stored-key='' server-key=''/>, fields in base64. Embeddable. */
typedef struct scram_cred {
    char mech[16]; /* "SCRAM-SHA-1" or "SCRAM-SHA-256" */
    unsigned iterations;
    char salt[SCRAM_SALT_B64_MAX];
    char stored_key[SCRAM_KEY_B64_MAX];
    char server_key[SCRAM_KEY_B64_MAX];
} scram_cred;

/* Makes the credential of mech ("SCRAM-SHA-1" or "SCRAM-SHA-256") for a new
 * password (UTF-8, SASLprepped here) with a random salt. Returns 0,
 * XE_NOT_FOUND (unknown mech) or XE_PROTOCOL (the password is empty or fails
 * SASLprep, iterations is 0, or gnutls failed). */
int scram_cred_make(const char *mech, const char *password, unsigned iterations,
                    scram_cred *out);
/* Makes an account's credentials, one for each of scram_mechs, in that
 * order. Returns as scram_cred_make; on an error out is zeroed. */
int scram_cred_make_all(const char *password, unsigned iterations,
                        scram_cred out[SCRAM_N_MECHS]);
/* As scram_cred_make, with the given salt (1 to 64 bytes) and without
 * SASLprep: for tests against published vectors. */
int scram_cred_derive(const char *mech, const char *password,
                      const unsigned char *salt, size_t salt_len,
                      unsigned iterations, scram_cred *out);
/* A credential of mech that no known password matches, derived from secret
 * and user (user_len bytes), so the same input gives the same credential:
 * an account that does not exist looks alike on every try (RFC 5802 §5.1).
 * Returns 0, XE_NOT_FOUND (unknown mech) or XE_PROTOCOL (hashing failed). */
int scram_cred_fake(const char *mech, const unsigned char *secret,
                    size_t secret_len, const char *user, size_t user_len,
                    scram_cred *out);

/* Is c usable: a known mech, iterations above 0, every field terminated and
 * base64, and keys of the mech's digest size? */
bool scram_cred_is_valid(const scram_cred *c);
/* Does password (len bytes of UTF-8, SASLprepped here as a query) give c's
 * StoredKey? Costs a full key derivation and compares in constant time.
 * False too for a malformed c, or a password that is empty, holds a NUL or
 * fails SASLprep. */
bool scram_cred_matches(const scram_cred *c, const char *password, size_t len);

/* Appends the n credentials to out as the store's <scram mech=''
 * iterations='' salt='' stored-key='' server-key=''/> elements, in that
 * attribute order, values escaped for XML. */
void scram_cred_append_xml(buf *out, const scram_cred *creds, size_t n);
#endif
