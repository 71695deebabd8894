/* SPDX-License-Identifier: MIT */
/* libcommon/jid.c: XMPP addresses (RFC 7622): split once, prepare each part,
 * keep the normalized strings so that comparing two JIDs is a strcmp. */
#include "libcommon/jid.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/log.h"
#include "libcommon/precis.h"

/* A raw part may shrink under preparation (decomposed sequences compose,
 * IDNA drops ignorable code points), but not by much in any real address.
 * Input longer than this is refused before any Unicode work, so that a
 * hostile peer cannot make us prepare kilobytes to find out they were over. */
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

/* libidn2 reports exhaustion instead of aborting: keep the house rule
 * that memory never fails. */
static void jid_oom(const char *where)
{
    log_error("jid", "out of memory in %s", where);
    abort();
}

static bool is_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

/* ---- localpart and resourcepart ------------------------------------- */

/* What the IdentifierClass allows of ASCII (RFC 8264 §9.11: 0x21 to 0x7E)
 * less what RFC 7622 §3.3.1 prohibits in a localpart: " & ' / : < > @. */
static bool is_local_ascii_allowed(unsigned char c)
{
    return c > 0x20 && c < 0x7F && c != '"' && c != '&' && c != '\'' &&
           c != '/' && c != ':' && c != '<' && c != '>' && c != '@';
}

/* RFC 7622 §3.3: the PRECIS UsernameCaseMapped profile, plus §3.3.1. */
static int local_prep(const char *s, size_t len, jid_part *part)
{
    if (len == 0)
        return XE_BAD_JID;
    if (len > JID_MAX_RAW_PART)
        return XE_LIMIT;
    if (is_ascii(s, len)) {
        /* For ASCII the profile is lower-casing plus the repertoire. */
        if (len > JID_MAX_PART)
            return XE_LIMIT;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!is_local_ascii_allowed(c))
                return XE_BAD_JID;
            part->buf[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        part->buf[len] = '\0';
        part->s = part->buf;
        part->len = len;
        return 0;
    }
    char *out = NULL;
    size_t out_len = 0;
    int err = precis_username_casemapped(s, len, &out, &out_len);
    if (err)
        return err;
    jid_part_take(part, out, out_len);
    /* Width mapping can bring the prohibited ASCII in: "＠" is "@". */
    for (size_t i = 0; i < out_len; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c < 0x80 && !is_local_ascii_allowed(c))
            return XE_BAD_JID;
    }
    return out_len > JID_MAX_PART ? XE_LIMIT : 0;
}

/* RFC 7622 §3.4: the PRECIS OpaqueString profile. */
static int resource_prep(const char *s, size_t len, jid_part *part)
{
    if (len == 0)
        return XE_BAD_JID;
    if (len > JID_MAX_RAW_PART)
        return XE_LIMIT;
    if (is_ascii(s, len)) {
        /* For ASCII the profile only refuses the controls. */
        if (len > JID_MAX_PART)
            return XE_LIMIT;
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
                return XE_BAD_JID;
        part->s = s;
        part->len = len;
    } else {
        char *out = NULL;
        size_t out_len = 0;
        int err = precis_opaque_string(s, len, &out, &out_len);
        if (err)
            return err;
        jid_part_take(part, out, out_len);
        if (out_len > JID_MAX_PART)
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
