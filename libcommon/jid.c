/* SPDX-License-Identifier: MIT */
/* libcommon/jid.c: XMPP addresses (RFC 7622): split once, prepare each part,
 * keep the normalized strings so that comparing two JIDs is a strcmp. */
#include "libcommon/jid.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stringprep.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/log.h"

/* A raw part may shrink under preparation (ignorable code points vanish,
 * decomposed sequences compose), but not by much in any real address. Input
 * longer than this is refused before any Unicode work, so that a hostile
 * peer cannot make us prepare kilobytes to find out they were over. */
#define JID_MAX_RAW_PART (4 * JID_MAX_PART)

struct jid {
    const char *local; /* NULL when absent */
    const char *domain;
    const char *resource; /* NULL when absent */
    const char *bare;
    const char *full; /* == bare without a resource */
    size_t local_len, domain_len, resource_len, bare_len, full_len;
    char text[]; /* every string above, in one allocation */
};

/* A prepared part: short ASCII parts stay in buf, the rest live in heap. */
typedef struct jid_part {
    const char *s; /* NULL when the part is absent */
    size_t len;
    char *heap;
    char buf[JID_MAX_PART + 1];
} jid_part;

/* Only the header: buf is written before it is read. */
static void jid_part_init(jid_part *part)
{
    part->s = NULL;
    part->len = 0;
    part->heap = NULL;
}

static void jid_part_close(jid_part *part)
{
    free(part->heap);
}

static void jid_part_take(jid_part *part, char *heap, size_t len)
{
    part->heap = heap;
    part->s = heap;
    part->len = len;
}

/* libidn and libidn2 report exhaustion instead of aborting: keep the
 * house rule that memory never fails. */
static void jid_oom(const char *where)
{
    log_error("jid", "out of memory in %s", where);
    abort();
}

/* ---- UTF-8 <-> UCS-4 -------------------------------------------------- */

/* Strict decoding (RFC 3629): no overlong forms, no surrogates, nothing past
 * U+10FFFF. out has room for len code points. Returns the count or -1. */
static long utf8_decode(const unsigned char *s, size_t len, uint32_t *out)
{
    size_t n = 0;

    for (size_t i = 0; i < len;) {
        uint32_t c = s[i];
        size_t extra;
        uint32_t min;

        if (c < 0x80) {
            out[n++] = c;
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            extra = 1, min = 0x80, c &= 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2, min = 0x800, c &= 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3, min = 0x10000, c &= 0x07;
        } else {
            return -1;
        }
        if (len - i <= extra)
            return -1;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return -1;
            c = (c << 6) | (s[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return -1;
        out[n++] = c;
        i += extra + 1;
    }
    return (long)n;
}

/* Writes c (a valid scalar value) to out; returns the byte count (1..4). */
static size_t utf8_put(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* A new NUL-terminated UTF-8 string of u[0..n); its length in *len. */
static char *utf8_encode(const uint32_t *u, size_t n, size_t *len)
{
    char *s = xalloc(n * 4 + 1);
    size_t at = 0;

    for (size_t i = 0; i < n; i++)
        at += utf8_put(u[i], s + at);
    s[at] = '\0';
    *len = at;
    return s;
}

static bool is_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

/* ---- stringprep (libidn) ---------------------------------------------- */

/* Runs profile over in[0..n). On success *out is a new array of *out_n code
 * points. Returns 0 or XE_BAD_JID (a prohibited code point, a bidi error). */
static int prep_ucs4(const uint32_t *in, size_t n,
                     const Stringprep_profile *profile, uint32_t **out,
                     size_t *out_n)
{
    /* NFKC expands one code point to at most 18 (U+FDFA), case folding to
     * at most 3: start with room for the common case, grow on demand. */
    size_t cap = n * 3 + 16;

    for (;;) {
        uint32_t *buf = xalloc(cap * sizeof *buf);
        size_t len = n;

        memcpy(buf, in, n * sizeof *buf);
        int rc = stringprep_4i(buf, &len, cap, 0, profile);
        if (rc == STRINGPREP_OK) {
            *out = buf;
            *out_n = len;
            return 0;
        }
        free(buf);
        if (rc == STRINGPREP_MALLOC_ERROR)
            jid_oom("stringprep");
        if (rc != STRINGPREP_TOO_SMALL_BUFFER || cap > n * 64 + 64)
            return XE_BAD_JID;
        cap *= 2;
    }
}

/* The case folding table B.2 of RFC 3454 as a profile of its own, taken
 * from Nodeprep so that it carries the table size libidn searches with. */
static bool casefold_profile(Stringprep_profile profile[2])
{
    memset(profile, 0, 2 * sizeof *profile);
    for (const Stringprep_profile *p = stringprep_xmpp_nodeprep; p->operation;
         p++) {
        if (p->operation == STRINGPREP_MAP_TABLE &&
            p->table == stringprep_rfc3454_B_2) {
            profile[0] = *p;
            return true;
        }
    }
    return false;
}

/* The NFKC form of the single code point c is c itself. */
static bool is_nfkc_stable(uint32_t c)
{
    uint32_t *n = stringprep_ucs4_nfkc_normalize(&c, 1);

    if (!n)
        jid_oom("stringprep_ucs4_nfkc_normalize");
    bool stable = n[0] == c && n[1] == 0;
    free(n);
    return stable;
}

/* ---- localpart repertoire --------------------------------------------- */

typedef enum { CP_VALID, CP_DISALLOWED, CP_INVALID } cp_verdict;

/* What IDNA2008 (RFC 5892, as libidn2 knows it) says of the code point c
 * alone. Rules about a code point's neighbours (joiners, bidi, combining
 * marks first) are about strings, not repertoire, so they count as valid. */
static cp_verdict idna_verdict(uint32_t c)
{
    char s[5];
    uint8_t *ascii = NULL;

    s[utf8_put(c, s)] = '\0';
    int rc = idn2_lookup_u8((const uint8_t *)s, &ascii, IDN2_NO_TR46);
    idn2_free(ascii);
    switch (rc) {
    case IDN2_OK:
    case IDN2_LEADING_COMBINING:
    case IDN2_BIDI:
    case IDN2_CONTEXTJ:
    case IDN2_CONTEXTO:
        return CP_VALID;
    case IDN2_DISALLOWED:
        return CP_DISALLOWED;
    case IDN2_MALLOC:
        jid_oom("idn2_lookup_u8");
        return CP_INVALID;
    default:
        return CP_INVALID;
    }
}

/* RFC 7622 §3.3 takes localpart code points from the PRECIS IdentifierClass
 * (RFC 8264): letters and digits, no symbols, no compatibility characters,
 * after width and case mapping. Nodeprep alone would let "♚" through and
 * turn "henryⅣ" into "henryiv"; this check refuses both, while Nodeprep
 * still decides the normalized form, as other XMPP servers compute it. */
static bool local_cp_allowed(uint32_t c, const Stringprep_profile *fold)
{
    if (c < 0x80)
        return true; /* Nodeprep's own prohibitions cover ASCII */
    if (c >= 0xFF00 && c <= 0xFFEF) {
        /* Fullwidth and halfwidth forms: RFC 8265 §3.3.1 maps them to
         * their ordinary width before checking. */
        uint32_t *w = stringprep_ucs4_nfkc_normalize(&c, 1);
        bool allowed = true;

        if (!w)
            jid_oom("stringprep_ucs4_nfkc_normalize");
        for (size_t i = 0; w[i] && allowed; i++)
            allowed = (w[i] < 0xFF00 || w[i] > 0xFFEF) &&
                      local_cp_allowed(w[i], fold);
        free(w);
        return allowed;
    }
    cp_verdict verdict = idna_verdict(c);
    if (verdict != CP_DISALLOWED)
        return verdict == CP_VALID;
    /* IDNA2008 also refuses upper case, which PRECIS maps to lower case
     * first: accept a code point that is no compatibility character and
     * whose folded form is valid. */
    if (!is_nfkc_stable(c))
        return false;
    uint32_t *folded = NULL;
    size_t n = 0;
    if (prep_ucs4(&c, 1, fold, &folded, &n) != 0)
        return false;
    bool allowed = !(n == 1 && folded[0] == c);
    for (size_t i = 0; i < n && allowed; i++)
        allowed = folded[i] < 0x80 || idna_verdict(folded[i]) == CP_VALID;
    free(folded);
    return allowed;
}

/* ---- the three parts -------------------------------------------------- */

static bool is_local_ascii_prohibited(unsigned char c)
{
    /* RFC 6122 Appendix A.5 (Nodeprep) and RFC 7622 §3.3.1: controls,
     * space and " & ' / : < > @. */
    return c <= 0x20 || c == 0x7F || c == '"' || c == '&' || c == '\'' ||
           c == '/' || c == ':' || c == '<' || c == '>' || c == '@';
}

/* Prepares a unicode part with profile; for localparts, also checks the
 * repertoire first. Returns 0 or XE_BAD_JID. */
static int prep_unicode(const char *s, size_t len,
                        const Stringprep_profile *profile, bool is_local,
                        jid_part *part)
{
    uint32_t *u = xalloc(len * sizeof *u);
    long n = utf8_decode((const unsigned char *)s, len, u);
    uint32_t *p = NULL;
    size_t pn = 0;
    int err = n > 0 ? 0 : XE_BAD_JID;

    if (!err && is_local) {
        Stringprep_profile fold[2];
        /* Names repeat their letters: look each one up once. Slot 0 never
         * matches, since ASCII is not looked up. */
        uint32_t seen[64] = {0};

        if (!casefold_profile(fold))
            err = XE_BAD_JID;
        for (long i = 0; i < n && !err; i++) {
            uint32_t c = u[i];
            if (c < 0x80 || seen[c % 64] == c)
                continue;
            if (!local_cp_allowed(c, fold))
                err = XE_BAD_JID;
            seen[c % 64] = c;
        }
    }
    if (!err)
        err = prep_ucs4(u, (size_t)n, profile, &p, &pn);
    if (!err) {
        size_t out_len = 0;
        char *out = utf8_encode(p, pn, &out_len);
        jid_part_take(part, out, out_len);
    }
    free(p);
    free(u);
    return err;
}

static int local_prep(const char *s, size_t len, jid_part *part)
{
    if (len == 0)
        return XE_BAD_JID;
    if (len > JID_MAX_RAW_PART)
        return XE_LIMIT;
    if (is_ascii(s, len)) {
        /* Nodeprep of ASCII is lower-casing plus the prohibitions. */
        if (len > JID_MAX_PART)
            return XE_LIMIT;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)s[i];
            if (is_local_ascii_prohibited(c))
                return XE_BAD_JID;
            part->buf[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        part->buf[len] = '\0';
        part->s = part->buf;
        part->len = len;
        return 0;
    }
    int err = prep_unicode(s, len, stringprep_xmpp_nodeprep, true, part);
    if (err)
        return err;
    if (part->len == 0)
        return XE_BAD_JID; /* only code points mapped to nothing */
    return part->len > JID_MAX_PART ? XE_LIMIT : 0;
}

static int resource_prep(const char *s, size_t len, jid_part *part)
{
    if (len == 0)
        return XE_BAD_JID;
    if (len > JID_MAX_RAW_PART)
        return XE_LIMIT;
    if (is_ascii(s, len)) {
        /* Resourceprep of ASCII only refuses the controls. */
        if (len > JID_MAX_PART)
            return XE_LIMIT;
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
                return XE_BAD_JID;
        part->s = s;
        part->len = len;
    } else {
        int err =
            prep_unicode(s, len, stringprep_xmpp_resourceprep, false, part);
        if (err)
            return err;
        if (part->len == 0)
            return XE_BAD_JID;
        if (part->len > JID_MAX_PART)
            return XE_LIMIT;
    }
    /* RFC 7622 §3.5.2 lists "juliet@example.com/ foo" among the invalid
     * JIDs: a resourcepart may hold spaces, but may not start with one. */
    return part->s[0] == ' ' ? XE_BAD_JID : 0;
}

/* ---- domainpart ------------------------------------------------------- */

/* The length of a label separator at s[0..len): '.', or one of the dots
 * IDNA treats as one (U+3002, U+FF0E, U+FF61). 0 if there is none. */
static size_t separator_len(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;

    if (len >= 1 && u[0] == '.')
        return 1;
    if (len >= 3 && ((u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x82) ||
                     (u[0] == 0xEF && u[1] == 0xBC && u[2] == 0x8E) ||
                     (u[0] == 0xEF && u[1] == 0xBD && u[2] == 0xA1)))
        return 3;
    return 0;
}

static bool ends_with_separator(const char *s, size_t len, size_t *sep_len)
{
    if (len >= 1 && s[len - 1] == '.') {
        *sep_len = 1;
        return true;
    }
    if (len >= 3 && separator_len(s + len - 3, 3) == 3) {
        *sep_len = 3;
        return true;
    }
    return false;
}

/* An LDH label (RFC 5890 §2.3.1), already in lower case. */
static bool is_ldh_label(const char *s, size_t len)
{
    if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

static bool is_alabel_prefix(const char *s, size_t len)
{
    return len >= 4 && (s[0] == 'x' || s[0] == 'X') &&
           (s[1] == 'n' || s[1] == 'N') && s[2] == '-' && s[3] == '-';
}

/* The common case: ASCII, no A-label. Lower-cases s into out (room for
 * len + 1) and checks every label. Returns false if this path does not
 * apply; *err then tells whether the domain is simply invalid. */
static bool domain_ascii(const char *s, size_t len, char *out, int *err)
{
    size_t start = 0;

    *err = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            unsigned char c = (unsigned char)s[i];
            if (c >= 0x80)
                return false;
            out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            continue;
        }
        if (is_alabel_prefix(s + start, i - start))
            return false;
        if (!is_ldh_label(out + start, i - start))
            *err = XE_BAD_JID;
        if (i < len)
            out[i] = '.';
        start = i + 1;
    }
    out[len] = '\0';
    return true;
}

/* One label that is not plain ASCII, or is an A-label: mapped by UTS #46
 * (case, width, NFC; "ß" kept), checked by IDNA2008, and turned into its
 * U-label. The result must map back to the same A-label, so that preparing
 * a prepared domain changes nothing. Appends to out; returns 0 or an error. */
static int domain_idna_label(const char *s, size_t len, char *out, size_t *at)
{
    const int flags = IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL;
    char *label = xstrndup(s, len);
    uint8_t *alabel = NULL, *again = NULL;
    char *ulabel = NULL;
    int err = XE_BAD_JID;

    int rc = idn2_lookup_u8((const uint8_t *)label, &alabel, flags);
    if (rc == IDN2_MALLOC)
        jid_oom("idn2_lookup_u8");
    if (rc != IDN2_OK || strchr((const char *)alabel, '.'))
        goto done;
    rc = idn2_to_unicode_8z8z((const char *)alabel, &ulabel, 0);
    if (rc == IDN2_MALLOC)
        jid_oom("idn2_to_unicode_8z8z");
    if (rc != IDN2_OK)
        goto done;
    size_t ulen = strlen(ulabel);
    if (ulen == 0)
        goto done;
    /* UTS #46 lets some ASCII through that a domain cannot hold. */
    for (size_t i = 0; i < ulen; i++) {
        char c = ulabel[i];
        if ((unsigned char)c < 0x80 &&
            !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            goto done;
    }
    if (is_ascii(ulabel, ulen) && !is_ldh_label(ulabel, ulen))
        goto done;
    rc = idn2_lookup_u8((const uint8_t *)ulabel, &again, flags);
    if (rc == IDN2_MALLOC)
        jid_oom("idn2_lookup_u8");
    if (rc != IDN2_OK || strcmp((const char *)again, (const char *)alabel))
        goto done;
    if (ulen > JID_MAX_PART - *at) {
        err = XE_LIMIT;
        goto done;
    }
    memcpy(out + *at, ulabel, ulen);
    *at += ulen;
    err = 0;
done:
    idn2_free(alabel);
    idn2_free(again);
    idn2_free(ulabel);
    free(label);
    return err;
}

/* Splits at separators; plain labels take the ASCII rules, the others
 * domain_idna_label(). out has room for JID_MAX_PART + 1 bytes. */
static int domain_idna(const char *s, size_t len, char *out, size_t *out_len)
{
    size_t at = 0, start = 0;
    /* The last IDN label, raw and prepared, for names that repeat one. */
    const char *last = NULL;
    size_t last_len = 0, last_at = 0, last_out_len = 0;

    for (size_t i = 0; i <= len;) {
        size_t sep = i < len ? separator_len(s + i, len - i) : 0;
        if (i < len && sep == 0) {
            i++;
            continue;
        }
        const char *label = s + start;
        size_t label_len = i - start;
        if (label_len == 0)
            return XE_BAD_JID;
        if (is_ascii(label, label_len) && !is_alabel_prefix(label, label_len)) {
            if (label_len > JID_MAX_PART - at)
                return XE_LIMIT;
            for (size_t k = 0; k < label_len; k++) {
                char c = label[k];
                out[at + k] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            }
            if (!is_ldh_label(out + at, label_len))
                return XE_BAD_JID;
            at += label_len;
        } else if (last && label_len == last_len &&
                   memcmp(label, last, label_len) == 0) {
            if (last_out_len > JID_MAX_PART - at)
                return XE_LIMIT;
            memmove(out + at, out + last_at, last_out_len);
            at += last_out_len;
        } else {
            last_at = at;
            int err = domain_idna_label(label, label_len, out, &at);
            if (err)
                return err;
            last = label;
            last_len = label_len;
            last_out_len = at - last_at;
        }
        if (i == len)
            break;
        if (at >= JID_MAX_PART)
            return XE_LIMIT;
        out[at++] = '.';
        i += sep;
        start = i;
    }
    out[at] = '\0';
    *out_len = at;
    return 0;
}

/* "[IPv6]" (RFC 3986 §3.2.2), written back in the RFC 5952 form. */
static int domain_ipv6(const char *s, size_t len, jid_part *part)
{
    char inner[INET6_ADDRSTRLEN];
    unsigned char addr[16];

    if (len < 3 || s[len - 1] != ']' || len - 2 >= sizeof inner)
        return XE_BAD_JID;
    memcpy(inner, s + 1, len - 2);
    inner[len - 2] = '\0';
    if (inet_pton(AF_INET6, inner, addr) != 1)
        return XE_BAD_JID;
    part->buf[0] = '[';
    inet_ntop(AF_INET6, addr, part->buf + 1, INET6_ADDRSTRLEN);
    part->len = strlen(part->buf);
    part->buf[part->len++] = ']';
    part->buf[part->len] = '\0';
    part->s = part->buf;
    return 0;
}

/* A domain of digits and dots can only be a dotted IPv4 address. */
static int domain_check_ipv4(const char *s, size_t len)
{
    unsigned char addr[4];

    for (size_t i = 0; i < len; i++)
        if (s[i] != '.' && (s[i] < '0' || s[i] > '9'))
            return 0;
    return inet_pton(AF_INET, s, addr) == 1 ? 0 : XE_BAD_JID;
}

static int domain_prep(const char *s, size_t len, jid_part *part)
{
    size_t sep = 0;

    if (len > JID_MAX_RAW_PART)
        return XE_LIMIT;
    /* RFC 7622 §3.2: a trailing dot is not part of the domainpart. */
    if (ends_with_separator(s, len, &sep))
        len -= sep;
    if (len == 0)
        return XE_BAD_JID;
    if (s[0] == '[')
        return domain_ipv6(s, len, part);

    int err = 0;
    if (len <= JID_MAX_PART && domain_ascii(s, len, part->buf, &err))
        part->len = len;
    else
        err = domain_idna(s, len, part->buf, &part->len);
    if (err)
        return err;
    part->s = part->buf;
    return domain_check_ipv4(part->s, part->len);
}

/* ---- jid objects ------------------------------------------------------ */

static jid *jid_assemble(const char *local, size_t local_len,
                         const char *domain, size_t domain_len,
                         const char *resource, size_t resource_len)
{
    size_t bare_len = (local ? local_len + 1 : 0) + domain_len;
    size_t full_len = bare_len + (resource ? resource_len + 1 : 0);
    size_t size = (local ? local_len + 1 : 0) + domain_len + 1 +
                  (resource ? resource_len + 1 + full_len + 1 : 0) + bare_len +
                  1;
    jid *j = xalloc(sizeof *j + size);
    char *at = j->text;

    if (local) {
        memcpy(at, local, local_len);
        j->local = at;
        j->local_len = local_len;
        at += local_len + 1;
    }
    memcpy(at, domain, domain_len);
    j->domain = at;
    j->domain_len = domain_len;
    at += domain_len + 1;
    if (resource) {
        memcpy(at, resource, resource_len);
        j->resource = at;
        j->resource_len = resource_len;
        at += resource_len + 1;
    }
    j->bare = at;
    j->bare_len = bare_len;
    if (local) {
        memcpy(at, local, local_len);
        at[local_len] = '@';
        at += local_len + 1;
    }
    memcpy(at, domain, domain_len);
    at += domain_len + 1;
    if (resource) {
        j->full = at;
        memcpy(at, j->bare, bare_len);
        at[bare_len] = '/';
        memcpy(at + bare_len + 1, resource, resource_len);
    } else {
        j->full = j->bare;
    }
    j->full_len = full_len;
    return j;
}

/* Prepares the raw parts (local and resource NULL when absent). */
static int jid_from_parts(const char *local, size_t local_len,
                          const char *domain, size_t domain_len,
                          const char *resource, size_t resource_len, jid **out)
{
    jid_part parts[3];
    int err = 0;

    for (int i = 0; i < 3; i++)
        jid_part_init(&parts[i]);

    if (local)
        err = local_prep(local, local_len, &parts[0]);
    if (!err)
        err = domain_prep(domain, domain_len, &parts[1]);
    if (!err && resource)
        err = resource_prep(resource, resource_len, &parts[2]);
    if (!err)
        *out = jid_assemble(parts[0].s, parts[0].len, parts[1].s, parts[1].len,
                            parts[2].s, parts[2].len);
    for (int i = 0; i < 3; i++)
        jid_part_close(&parts[i]);
    return err;
}

int jid_parse(const char *s, jid **out)
{
    *out = NULL;
    if (!s)
        return XE_BAD_JID;
    /* RFC 7622 §3.1: the resourcepart starts at the first '/', and the
     * localpart ends at the first '@' before it. */
    const char *slash = strchr(s, '/');
    size_t bare_len = slash ? (size_t)(slash - s) : strlen(s);
    const char *at = memchr(s, '@', bare_len);
    const char *domain = at ? at + 1 : s;

    return jid_from_parts(at ? s : NULL, at ? (size_t)(at - s) : 0, domain,
                          (size_t)(s + bare_len - domain),
                          slash ? slash + 1 : NULL,
                          slash ? strlen(slash + 1) : 0, out);
}

int jid_build(const char *local, const char *domain, const char *resource,
              jid **out)
{
    *out = NULL;
    if (!domain)
        return XE_BAD_JID;
    return jid_from_parts(local, local ? strlen(local) : 0, domain,
                          strlen(domain), resource,
                          resource ? strlen(resource) : 0, out);
}

void jid_free(jid *j)
{
    free(j);
}

jid *jid_dup(const jid *j)
{
    return jid_assemble(j->local, j->local_len, j->domain, j->domain_len,
                        j->resource, j->resource_len);
}

const char *jid_local(const jid *j)
{
    return j->local;
}

const char *jid_domain(const jid *j)
{
    return j->domain;
}

const char *jid_resource(const jid *j)
{
    return j->resource;
}

const char *jid_bare(const jid *j)
{
    return j->bare;
}

const char *jid_full(const jid *j)
{
    return j->full;
}

bool jid_is_bare(const jid *j)
{
    return j->resource == NULL;
}

bool jid_equal(const jid *a, const jid *b)
{
    return a->full_len == b->full_len &&
           memcmp(a->full, b->full, a->full_len) == 0;
}

bool jid_bare_equal(const jid *a, const jid *b)
{
    return a->bare_len == b->bare_len &&
           memcmp(a->bare, b->bare, a->bare_len) == 0;
}

jid *jid_to_bare(const jid *j)
{
    return jid_assemble(j->local, j->local_len, j->domain, j->domain_len, NULL,
                        0);
}

int jid_domain_normalize(const char *domain, char **out)
{
    jid_part part;

    jid_part_init(&part);
    *out = NULL;
    if (!domain)
        return XE_BAD_JID;
    int err = domain_prep(domain, strlen(domain), &part);
    if (!err)
        *out = xstrndup(part.s, part.len);
    jid_part_close(&part);
    return err;
}
