/* SPDX-License-Identifier: MIT */
/* libcommon/precis.c: the PRECIS string classes (RFC 8264) and the profiles
 * UsernameCaseMapped and OpaqueString (RFC 8265), on libunistring's Unicode
 * tables, for the local and resource parts of XMPP addresses (RFC 7622). */
#include "libcommon/precis.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/log.h"

/* The two string classes of RFC 8264 §4. */
typedef enum { PRECIS_IDENTIFIER, PRECIS_FREEFORM } precis_class;

/* Derived property values (RFC 8264 §8). UNASSIGNED is refused the same way
 * as DISALLOWED, so it needs no value of its own. */
typedef enum {
    PRECIS_PVALID,
    PRECIS_CONTEXTJ,
    PRECIS_CONTEXTO,
    PRECIS_DISALLOWED,
} precis_property;

/* libunistring reports exhaustion instead of aborting: keep the house rule
 * that memory never fails. */
static void precis_oom(const char *where)
{
    log_error("precis", "out of memory in %s", where);
    abort();
}

/* RFC 8264 §9.6 Exceptions: the table of RFC 5892 §2.6. */
static bool precis_exception(uint32_t c, precis_property *p)
{
    switch (c) {
    case 0x00DF: /* sharp s */
    case 0x03C2: /* final sigma */
    case 0x06FD:
    case 0x06FE:
    case 0x0F0B:
    case 0x3007:
        *p = PRECIS_PVALID;
        return true;
    case 0x00B7: /* middle dot */
    case 0x0375:
    case 0x05F3:
    case 0x05F4:
    case 0x30FB:
        *p = PRECIS_CONTEXTO;
        return true;
    case 0x0640:
    case 0x07FA:
    case 0x302E:
    case 0x302F:
    case 0x303B:
        *p = PRECIS_DISALLOWED;
        return true;
    }
    if ((c >= 0x0660 && c <= 0x0669) || (c >= 0x06F0 && c <= 0x06F9)) {
        *p = PRECIS_CONTEXTO;
        return true;
    }
    if (c >= 0x3031 && c <= 0x3035) {
        *p = PRECIS_DISALLOWED;
        return true;
    }
    return false;
}

/* RFC 8264 §9.10: Hangul_Syllable_Type L, V or T. The Jamo blocks are full,
 * so these ranges do not move with new Unicode versions. */
static bool is_old_hangul_jamo(uint32_t c)
{
    return (c >= 0x1100 && c <= 0x11FF) || (c >= 0xA960 && c <= 0xA97C) ||
           (c >= 0xD7B0 && c <= 0xD7C6) || (c >= 0xD7CB && c <= 0xD7FB);
}

/* RFC 8264 §9.17 HasCompat: toNFKC(c) != c. */
static bool has_compat(uint32_t c)
{
    uint32_t d[UC_DECOMPOSITION_MAX_LENGTH];
    int tag;

    if (uc_decomposition(c, &tag, d) < 0)
        return false;
    /* Composition only rebuilds canonical pairs, never a compatibility
     * character, so only a canonical decomposition can come back to c. */
    if (tag != UC_DECOMP_CANONICAL)
        return true;
    size_t n = UC_DECOMPOSITION_MAX_LENGTH;
    uint32_t *nfkc = u32_normalize(UNINORM_NFKC, &c, 1, d, &n);
    if (!nfkc)
        precis_oom("u32_normalize");
    bool same = n == 1 && nfkc[0] == c;
    if (nfkc != d)
        free(nfkc);
    return !same;
}

/* The derived property of c in cls, in the order of RFC 8264 §8. */
static precis_property precis_property_of(uint32_t c, precis_class cls)
{
    const precis_property other =
        cls == PRECIS_FREEFORM ? PRECIS_PVALID : PRECIS_DISALLOWED;
    precis_property p;

    if (precis_exception(c, &p))
        return p;
    if (uc_is_general_category_withtable(c, UC_CATEGORY_MASK_Cn) &&
        !uc_is_property_not_a_character(c))
        return PRECIS_DISALLOWED; /* unassigned */
    if (c >= 0x21 && c <= 0x7E)
        return PRECIS_PVALID;
    if (uc_is_property_join_control(c))
        return PRECIS_CONTEXTJ;
    if (is_old_hangul_jamo(c) ||
        uc_is_property_default_ignorable_code_point(c) ||
        uc_is_property_not_a_character(c) ||
        uc_is_general_category_withtable(c, UC_CATEGORY_MASK_Cc))
        return PRECIS_DISALLOWED;
    if (has_compat(c))
        return other;
    /* §9.1 LetterDigits */
    if (uc_is_general_category_withtable(
            c, UC_CATEGORY_MASK_Ll | UC_CATEGORY_MASK_Lu | UC_CATEGORY_MASK_Lo |
                   UC_CATEGORY_MASK_Nd | UC_CATEGORY_MASK_Lm |
                   UC_CATEGORY_MASK_Mn | UC_CATEGORY_MASK_Mc))
        return PRECIS_PVALID;
    /* §9.18 OtherLetterDigits, §9.14 Spaces, §9.15 Symbols, §9.16
     * Punctuation: valid only in the FreeformClass. */
    if (uc_is_general_category_withtable(
            c, UC_CATEGORY_MASK_Lt | UC_CATEGORY_MASK_Nl | UC_CATEGORY_MASK_No |
                   UC_CATEGORY_MASK_Me | UC_CATEGORY_MASK_Zs |
                   UC_CATEGORY_MASK_S | UC_CATEGORY_MASK_P))
        return other;
    return PRECIS_DISALLOWED;
}

static bool is_script(uint32_t c, const char *name)
{
    const uc_script_t *script = uc_script(c);

    return script && strcmp(script->name, name) == 0;
}

static bool has_code_point_in(const uint32_t *u, size_t n, uint32_t lo,
                              uint32_t hi)
{
    for (size_t i = 0; i < n; i++)
        if (u[i] >= lo && u[i] <= hi)
            return true;
    return false;
}

/* RFC 5892 Appendix A.1: a ZERO WIDTH NON-JOINER between two letters that
 * join, transparent letters aside. */
static bool zwnj_joins(const uint32_t *u, size_t n, size_t i)
{
    size_t b = i, a = i + 1;

    while (b > 0 && uc_joining_type(u[b - 1]) == UC_JOINING_TYPE_T)
        b--;
    while (a < n && uc_joining_type(u[a]) == UC_JOINING_TYPE_T)
        a++;
    if (b == 0 || a == n)
        return false;
    int before = uc_joining_type(u[b - 1]), after = uc_joining_type(u[a]);
    return (before == UC_JOINING_TYPE_L || before == UC_JOINING_TYPE_D) &&
           (after == UC_JOINING_TYPE_R || after == UC_JOINING_TYPE_D);
}

/* The contextual rules of RFC 5892 Appendix A, which RFC 8264 §9.6 and §9.9
 * adopt, for u[i] in u[0..n). */
static bool precis_context_allows(const uint32_t *u, size_t n, size_t i)
{
    uint32_t c = u[i];
    bool after_virama = i > 0 && uc_combining_class(u[i - 1]) == UC_CCC_VR;

    switch (c) {
    case 0x200C:
        return after_virama || zwnj_joins(u, n, i);
    case 0x200D:
        return after_virama;
    case 0x00B7: /* only in Catalan "l·l" */
        return i > 0 && i + 1 < n && u[i - 1] == 'l' && u[i + 1] == 'l';
    case 0x0375:
        return i + 1 < n && is_script(u[i + 1], "Greek");
    case 0x05F3:
    case 0x05F4:
        return i > 0 && is_script(u[i - 1], "Hebrew");
    case 0x30FB:
        for (size_t k = 0; k < n; k++)
            if (is_script(u[k], "Hiragana") || is_script(u[k], "Katakana") ||
                is_script(u[k], "Han"))
                return true;
        return false;
    }
    /* Arabic-Indic digits of the two kinds may not mix. */
    if (c >= 0x0660 && c <= 0x0669)
        return !has_code_point_in(u, n, 0x06F0, 0x06F9);
    if (c >= 0x06F0 && c <= 0x06F9)
        return !has_code_point_in(u, n, 0x0660, 0x0669);
    return false;
}

/* RFC 5893 §2, for strings that hold right-to-left code points (RFC 8265
 * §3.3.1); a string without any passes as it is. */
static bool precis_bidi_allows(const uint32_t *u, size_t n)
{
    bool is_rtl = false, has_en = false, has_an = false;

    for (size_t i = 0; i < n && !is_rtl; i++) {
        int b = uc_bidi_class(u[i]);
        is_rtl = b == UC_BIDI_R || b == UC_BIDI_AL || b == UC_BIDI_AN;
    }
    if (!is_rtl)
        return true;
    /* Rule 1; an L first would make it an LTR string, which rule 5 forbids
     * to hold R, AL or AN. */
    int first = uc_bidi_class(u[0]);
    if (first != UC_BIDI_R && first != UC_BIDI_AL)
        return false;
    for (size_t i = 0; i < n; i++) {
        switch (uc_bidi_class(u[i])) {
        case UC_BIDI_R:
        case UC_BIDI_AL:
        case UC_BIDI_ES:
        case UC_BIDI_CS:
        case UC_BIDI_ET:
        case UC_BIDI_ON:
        case UC_BIDI_BN:
        case UC_BIDI_NSM:
            break;
        case UC_BIDI_EN:
            has_en = true;
            break;
        case UC_BIDI_AN:
            has_an = true;
            break;
        default:
            return false; /* rule 2 */
        }
    }
    if (has_en && has_an)
        return false; /* rule 4 */
    size_t end = n;
    while (end > 0 && uc_bidi_class(u[end - 1]) == UC_BIDI_NSM)
        end--;
    if (end == 0)
        return false;
    int last = uc_bidi_class(u[end - 1]); /* rule 3 */
    return last == UC_BIDI_R || last == UC_BIDI_AL || last == UC_BIDI_EN ||
           last == UC_BIDI_AN;
}

/* Preparation (RFC 8264 §4.1): nothing outside the class, contextual code
 * points aside, whose context is only known at the end. */
static bool precis_class_allows(const uint32_t *u, size_t n, precis_class cls)
{
    for (size_t i = 0; i < n; i++)
        if (precis_property_of(u[i], cls) == PRECIS_DISALLOWED)
            return false;
    return true;
}

/* The behavioural rules (RFC 8264 §7 step 6) on the final string. */
static bool precis_final_allows(const uint32_t *u, size_t n, precis_class cls)
{
    for (size_t i = 0; i < n; i++) {
        switch (precis_property_of(u[i], cls)) {
        case PRECIS_PVALID:
            break;
        case PRECIS_CONTEXTJ:
        case PRECIS_CONTEXTO:
            if (!precis_context_allows(u, n, i))
                return false;
            break;
        default:
            return false;
        }
    }
    return true;
}

/* A new array of the code points of the UTF-8 s[0..len) (RFC 3629: no
 * overlong forms, surrogates or values past U+10FFFF), or NULL. */
static uint32_t *precis_decode(const char *s, size_t len, size_t *n)
{
    const uint8_t *in = (const uint8_t *)s;

    if (u8_check(in, len))
        return NULL;
    uint32_t *u = xalloc((len + 1) * sizeof *u);
    *n = len + 1;
    /* Never more code points than bytes, so u always has room. */
    if (u8_to_u32(in, len, u, n) != u)
        precis_oom("u8_to_u32");
    return u;
}

/* Hands u[0..n) to the caller as UTF-8; frees u. */
static void precis_encode(uint32_t *u, size_t n, char **out, size_t *out_len)
{
    uint8_t *s = xalloc(n * 4 + 1);
    size_t len = n * 4 + 1;

    if (u32_to_u8(u, n, s, &len) != s)
        precis_oom("u32_to_u8");
    s[len] = '\0';
    free(u);
    *out = (char *)s;
    *out_len = len;
}

int precis_username_casemapped(const char *s, size_t len, char **out,
                               size_t *out_len)
{
    size_t n = 0;
    uint32_t *u = precis_decode(s, len, &n);

    *out = NULL;
    *out_len = 0;
    if (!u)
        return XE_BAD_JID;
    /* RFC 8265 §3.3.1 width mapping: fullwidth and halfwidth forms become
     * their decomposition, always a single code point. */
    for (size_t i = 0; i < n; i++) {
        uint32_t d[UC_DECOMPOSITION_MAX_LENGTH];
        int tag;
        if (u[i] >= 0x80 && uc_decomposition(u[i], &tag, d) == 1 &&
            (tag == UC_DECOMP_WIDE || tag == UC_DECOMP_NARROW))
            u[i] = d[0];
    }
    if (n == 0 || !precis_class_allows(u, n, PRECIS_IDENTIFIER)) {
        free(u);
        return XE_BAD_JID;
    }
    /* toLowerCase, not case folding (RFC 8264 §5.2.3), with no language:
     * "ß" stays, a final capital sigma becomes "ς". NFC in the same pass. */
    size_t m = 0;
    uint32_t *lower = u32_tolower(u, n, NULL, UNINORM_NFC, NULL, &m);
    if (!lower)
        precis_oom("u32_tolower");
    free(u);
    if (m == 0 || !precis_bidi_allows(lower, m) ||
        !precis_final_allows(lower, m, PRECIS_IDENTIFIER)) {
        free(lower);
        return XE_BAD_JID;
    }
    precis_encode(lower, m, out, out_len);
    return 0;
}

int precis_opaque_string(const char *s, size_t len, char **out, size_t *out_len)
{
    size_t n = 0;
    uint32_t *u = precis_decode(s, len, &n);

    *out = NULL;
    *out_len = 0;
    if (!u)
        return XE_BAD_JID;
    /* RFC 8265 §4.2.1 additional mapping: any other space is U+0020. */
    for (size_t i = 0; i < n; i++)
        if (u[i] >= 0x80 &&
            uc_is_general_category_withtable(u[i], UC_CATEGORY_MASK_Zs))
            u[i] = ' ';
    if (n == 0 || !precis_class_allows(u, n, PRECIS_FREEFORM)) {
        free(u);
        return XE_BAD_JID;
    }
    size_t m = 0;
    uint32_t *nfc = u32_normalize(UNINORM_NFC, u, n, NULL, &m);
    if (!nfc)
        precis_oom("u32_normalize");
    free(u);
    if (m == 0 || !precis_final_allows(nfc, m, PRECIS_FREEFORM)) {
        free(nfc);
        return XE_BAD_JID;
    }
    precis_encode(nfc, m, out, out_len);
    return 0;
}
