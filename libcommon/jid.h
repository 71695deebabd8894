/* SPDX-License-Identifier: MIT */
/* libcommon/jid.h: XMPP addresses (RFC 7622), parsed once and immutable after.
 * Localparts go through the PRECIS UsernameCaseMapped profile (lower case,
 * NFC, "ß" kept), resourceparts through OpaqueString (case kept, NFC), domains
 * through IDNA2008 (libidn2) to lower-case U-labels; each part is at most 1023
 * bytes once prepared. */
#ifndef XMPPD_LIBCOMMON_JID_H
#define XMPPD_LIBCOMMON_JID_H
#include <stdbool.h>
#include <stddef.h>

typedef struct jid jid;                   /* opaque */

#define JID_MAX_PART 1023

/* Parses and normalizes s. On success *out is a new jid the caller frees with
 * jid_free(). Returns 0, XE_BAD_JID (invalid; *out is NULL) or XE_LIMIT (a
 * part over 1023 bytes). */
int jid_parse(const char *s, jid **out);
/* Builds a jid from parts (local and resource may be NULL), normalized as by
 * jid_parse. Same returns. */
int jid_build(const char *local, const char *domain, const char *resource,
              jid **out);
void jid_free(jid *j);                    /* NULL is fine */
jid *jid_dup(const jid *j);
const char *jid_local(const jid *j);      /* NULL when absent; valid while j lives */
const char *jid_domain(const jid *j);
const char *jid_resource(const jid *j);   /* NULL when absent */
const char *jid_bare(const jid *j);       /* "local@domain" or "domain" */
const char *jid_full(const jid *j);       /* the whole normalized address */
bool jid_is_bare(const jid *j);           /* no resource */
bool jid_equal(const jid *a, const jid *b);       /* full comparison */
bool jid_bare_equal(const jid *a, const jid *b);
/* A new jid without the resource. */
jid *jid_to_bare(const jid *j);
/* Normalizes a domain alone (as in a JID). On success *out is a new string the
 * caller frees. Returns 0, XE_BAD_JID or XE_LIMIT. */
int jid_domain_normalize(const char *domain, char **out);
#endif
