/* SPDX-License-Identifier: MIT */
/* tests/unit/test_precis.c: the PRECIS profiles of XMPP addresses (RFC 8265
 * UsernameCaseMapped and OpaqueString): mappings, repertoire, contextual rules,
 * the Bidi Rule, and that enforcing twice changes nothing. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"

#include "libcommon/error.h"
#include "libcommon/precis.h"

/* out NULL: refused. */
typedef struct {
    const char *in, *out;
} precis_case;

static const precis_case username[] = {
    {"juliet", "juliet"},
    {"Henry", "henry"},
    {"ＡＢＣ", "abc"},    /* width mapping, then lower case */
    {"straße", "straße"}, /* no case folding */
    {"STRASSE", "strasse"},
    {"σοφος", "σοφος"},
    {"ΣΟΦΟΣ", "σοφος"}, /* a final capital sigma */
    {"Σ", "σ"},
    {"ς", "ς"},
    {"İ", "i\xcc\x87"},        /* full lower-case mapping */
    {"E\xcc\x81", "\xc3\xa9"}, /* NFC after lower case */
    {"ﾃｽﾄ", "テスト"},         /* halfwidth katakana */
    {"中文", "中文"},
    {"\"a\"", "\"a\""}, /* ASCII 0x21-0x7E is the class's */
    {"＠", "@"},        /* what jid.c prohibits, mapped first */
    {"l·l", "l·l"},     /* RFC 5892 A.3 */
    {"a͵b", NULL},      /* keraia before a non-Greek letter */
    {"͵α", "͵α"},       /* A.4 */
    {"א׳", "א׳"},       /* A.5 */
    {"a׳", NULL},
    {"カ・カ", "カ・カ"}, /* A.7 */
    {"a・b", NULL},
    {"٠١", NULL}, /* A.8 holds, the Bidi Rule does not */
    {"ب١٢", "ب١٢"},
    {"ب١۲", NULL},          /* A.8/A.9: digits of two kinds */
    {"क्\u200d", "क्\u200d"}, /* A.2: after a virama */
    {"a\u200db", NULL},
    {"ب\u200cب", "ب\u200cب"}, /* A.1: between joining letters */
    {"a\u200cb", NULL},
    {"אב", "אב"},
    {"אב1", "אב1"}, /* ends in a European digit */
    {"1אב", NULL},  /* starts with one */
    {"אaב", NULL},
    {"", NULL},
    {"a b", NULL}, /* spaces */
    {"a\xc2\xa0"
     "b",
     NULL},
    {"a\x01", NULL}, /* controls */
    {"a\xc2\x85", NULL},
    {"henryⅣ", NULL}, /* compatibility characters */
    {"ﬀ", NULL},
    {"\xe2\x84\xab", NULL}, /* Angstrom sign: NFKC changes it */
    {"²", NULL},
    {"♚", NULL}, /* symbols */
    {"a€", NULL},
    {"a¿", NULL},                     /* punctuation outside ASCII */
    {"ᾈ", NULL},                      /* titlecase */
    {"a\xc2\xad", NULL},              /* default ignorable */
    {"\xe1\x84\x80", NULL},           /* old Hangul jamo */
    {"\xea\xb0\x80", "\xea\xb0\x80"}, /* a Hangul syllable */
    {"\xcd\xb8", NULL},               /* unassigned */
    {"\xef\xb7\x90", NULL},           /* noncharacter */
    {"\xee\x80\x80", NULL},           /* private use */
    {"\xff", NULL},                   /* not UTF-8 */
    {"\xc0\x80", NULL},
};

static const precis_case opaque[] = {
    {"Balcony", "Balcony"}, /* case kept */
    {"foo bar", "foo bar"},
    {" ", " "},     /* jid.c refuses a leading space */
    {"Ａb", "Ａb"}, /* no width mapping */
    {"Ⅸ", "Ⅸ"},     /* NFC, not NFKC */
    {"ﬀ ½ ² ♚ ¿ € ‽", "ﬀ ½ ² ♚ ¿ € ‽"},
    {"a\xc2\xa0"
     "b",
     "a b"}, /* spaces become U+0020 */
    {"a\xe3\x80\x80"
     "b",
     "a b"},
    {"a\xe2\x80\xaf"
     "b",
     "a b"},
    {"Re\xcc\x81s", "R\xc3\xa9s"}, /* NFC */
    {"\xe2\x84\xab", "\xc3\x85"},  /* Angstrom sign: a canonical singleton */
    {"ᾈ", "ᾈ"},
    {"ΣΑΣ", "ΣΑΣ"},
    {"🍺", "🍺"},
    {"l·l", "l·l"},
    {"a·b", NULL}, /* contextual rules still apply */
    {"a\u200db", NULL},
    {"aא", "aא"}, /* no Bidi Rule */
    {"", NULL},
    {"a\x7f", NULL},
    {"a\xc2\x9f", NULL},
    {"a\xc2\xad", NULL},
    {"a\xe2\x81\xa0", NULL}, /* word joiner */
    {"a\xd9\x80", NULL},     /* tatweel, an exception */
    {"\xe1\x85\xa1", NULL},  /* old Hangul jamo */
    {"\xcd\xb8", NULL},
    {"\xef\xbf\xbe", NULL},
    {"\xf3\xb0\x80\x80", NULL}, /* private use, plane 15 */
    {"\xed\xa0\x80", NULL},     /* a surrogate */
    {"\xe2\x82", NULL},         /* cut short */
};

typedef int precis_fn(const char *s, size_t len, char **out, size_t *out_len);

static void check_case(precis_fn *fn, const precis_case *c)
{
    char *out = (char *)&out, *again = NULL;
    size_t len = 7, again_len = 0;
    int err = fn(c->in, strlen(c->in), &out, &len);

    if (!c->out) {
        ck_assert_msg(err == XE_BAD_JID, "accepted \"%s\"", c->in);
        ck_assert_ptr_null(out);
        ck_assert_uint_eq(len, 0);
        return;
    }
    ck_assert_msg(err == 0, "refused \"%s\"", c->in);
    ck_assert_str_eq(out, c->out);
    ck_assert_uint_eq(len, strlen(c->out));
    /* Enforcement is idempotent. */
    ck_assert_int_eq(fn(out, len, &again, &again_len), 0);
    ck_assert_str_eq(again, out);
    free(again);
    free(out);
}

START_TEST(enforces_username_case_mapped)
{
    check_case(precis_username_casemapped, &username[_i]);
}
END_TEST

START_TEST(enforces_opaque_string)
{
    check_case(precis_opaque_string, &opaque[_i]);
}
END_TEST

START_TEST(reads_only_the_given_length)
{
    char *out = NULL;
    size_t len = 0;

    ck_assert_int_eq(precis_username_casemapped("ABC@x", 3, &out, &len), 0);
    ck_assert_str_eq(out, "abc");
    free(out);
    ck_assert_int_eq(precis_opaque_string("a\0b", 3, &out, &len), XE_BAD_JID);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("precis");
    TCase *profiles = tcase_create("profiles");

    tcase_add_loop_test(profiles, enforces_username_case_mapped, 0,
                        sizeof username / sizeof username[0]);
    tcase_add_loop_test(profiles, enforces_opaque_string, 0,
                        sizeof opaque / sizeof opaque[0]);
    tcase_add_test(profiles, reads_only_the_given_length);
    suite_add_tcase(suite, profiles);
    return suite;
}
