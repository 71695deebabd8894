/* SPDX-License-Identifier: MIT */
/* libcommon/precis.h: the two PRECIS profiles (RFC 8264, RFC 8265) that XMPP
 * addresses use: UsernameCaseMapped for localparts (RFC 7622 §3.3) and
 * OpaqueString for resourceparts (RFC 7622 §3.4). */
#ifndef XMPPD_LIBCOMMON_PRECIS_H
#define XMPPD_LIBCOMMON_PRECIS_H
#include <stddef.h>

/* Enforces UsernameCaseMapped (RFC 8265 §3.3) on the UTF-8 s[0..len): width
 * mapping, IdentifierClass, toLowerCase, NFC, the Bidi Rule. On success *out is
 * a new NUL-terminated string of *out_len bytes that the caller frees. Returns
 * 0 or XE_BAD_JID (not UTF-8, empty, a code point or context not allowed). */
int precis_username_casemapped(const char *s, size_t len, char **out,
                               size_t *out_len);
/* Enforces OpaqueString (RFC 8265 §4.2): non-ASCII spaces become U+0020, NFC,
 * FreeformClass; case is kept. Same ownership and returns. */
int precis_opaque_string(const char *s, size_t len, char **out,
                         size_t *out_len);
#endif
