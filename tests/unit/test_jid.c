/* SPDX-License-Identifier: MIT */
/* tests/unit/test_jid.c: XMPP addresses (RFC 7622): parsing, preparation,
 * limits and comparison. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"

#include "libcommon/error.h"
#include "libcommon/jid.h"

/* The valid examples of RFC 7622 §3.5.1, in order, then more. */
static const struct {
    const char *in, *local, *domain, *resource;
} valid[] = {
    {"juliet@example.com", "juliet", "example.com", NULL},
    {"juliet@example.com/foo", "juliet", "example.com", "foo"},
    {"juliet@example.com/foo bar", "juliet", "example.com", "foo bar"},
    {"juliet@example.com/foo@bar", "juliet", "example.com", "foo@bar"},
    {"foo\\20bar@example.com", "foo\\20bar", "example.com", NULL},
    {"fussball@example.com", "fussball", "example.com", NULL},
    /* UsernameCaseMapped lower-cases, it does not fold: "ß" stays. */
    {"fußball@example.com", "fußball", "example.com", NULL},
    {"π@example.com", "π", "example.com", NULL},
    {"Σ@example.com/foo", "σ", "example.com", "foo"},
    {"σ@example.com/foo", "σ", "example.com", "foo"},
    {"ς@example.com/foo", "ς", "example.com", "foo"},
    {"king@example.com/♚", "king", "example.com", "♚"},
    {"example.com", NULL, "example.com", NULL},
    {"example.com/foobar", NULL, "example.com", "foobar"},
    {"a.example.com/b@example.net", NULL, "a.example.com", "b@example.net"},
    /* Structure: RFC 7622 §3.1 splits at the first '/'. */
    {"a@b/c/d", "a", "b", "c/d"},
    {"a@b/c@d/e", "a", "b", "c@d/e"},
    {"example.com/a@b", NULL, "example.com", "a@b"},
    {"example.com//", NULL, "example.com", "/"},
    /* toLowerCase gives a final capital sigma its final form. */
    {"ΣΑΣ@example.com/foo", "σας", "example.com", "foo"},
    {"straße@localhost", "straße", "localhost", NULL},
    {"σοφος@localhost", "σοφος", "localhost", NULL},
    {"ΣΟΦΟΣ@localhost", "σοφος", "localhost", NULL},
    {"Henry@localhost", "henry", "localhost", NULL},
    {"ＡＢＣ@localhost", "abc", "localhost", NULL},
    {"l·l@example.com", "l·l", "example.com", NULL},
    {"u@example.com/ᾈ", "u", "example.com", "ᾈ"}, /* titlecase */
    {"u@example.com/Ａb", "u", "example.com", "Ａb"},
    {"u@example.com/Ⅸ", "u", "example.com", "Ⅸ"},
    {"u@example.com/ﬀ ½ ☃ ‽", "u", "example.com", "ﬀ ½ ☃ ‽"},
    {"u@example.com/l·l", "u", "example.com", "l·l"},
    {"juliet@example.com/foo ", "juliet", "example.com", "foo "},
    {"a!#$%*+=?^_`{|}~@example.com", "a!#$%*+=?^_`{|}~", "example.com", NULL},
    {"localhost", NULL, "localhost", NULL},
    {"user@sub-domain.example123.org", "user", "sub-domain.example123.org",
     NULL},
    {"col·la@example.com", "col·la", "example.com", NULL},
    {"中文@example.com", "中文", "example.com", NULL},
    {"אב@example.com", "אב", "example.com", NULL},
    {"user@example.org/🍺", "user", "example.org", "🍺"},
};

/* Preparation maps each of these to one canonical form. */
static const struct {
    const char *in, *full;
} normalized[] = {
    {"JULIET@EXAMPLE.COM", "juliet@example.com"},
    {"Juliet@Example.Com/Balcony", "juliet@example.com/Balcony"},
    {"example.com.", "example.com"},
    {"juliet@EXAMPLE.com./Res", "juliet@example.com/Res"},
    {"ÉXAMPLE.com", "éxample.com"},
    {"éxample.com", "éxample.com"},
    {"xn--xample-9ua.com", "éxample.com"},
    {"XN--BCHER-KVA.example", "bücher.example"},
    {"BÜCHER.example", "bücher.example"},
    {"bu\u0308cher.example", "bücher.example"}, /* combining diaeresis */
    {"faß.de", "faß.de"},                       /* IDNA2008 keeps sharp s */
    {"xn--fa-hia.de", "faß.de"},
    {"ＥＸＡＭＰＬＥ.com", "example.com"}, /* fullwidth */
    {"example。com", "example.com"},       /* ideographic full stop */
    {"example．com．", "example.com"},
    {"ＦＯＯ@example.com", "foo@example.com"},
    {"E\xcc\x81@example.com", "é@example.com"}, /* E + U+0301 */
    {"İ@example.com", "i\xcc\x87@example.com"},
    {"example.com/Re\xcc\x81s", "example.com/Rés"}, /* case kept */
    {"example.com/Ⅳ", "example.com/Ⅳ"},             /* NFC, not NFKC */
    {"example.com/Ａb", "example.com/Ａb"},         /* no width mapping */
    {"example.com/a\u00a0b", "example.com/a b"},    /* no-break space */
    {"example.com/a\u3000b", "example.com/a b"},    /* ideographic space */
    {"ΣΑΣ@example.com/ΣΑΣ", "σας@example.com/ΣΑΣ"},
    {"ＨＥＮＲＹ@example.com", "henry@example.com"},
    {"ﾃｽﾄ@example.com", "テスト@example.com"}, /* halfwidth katakana */
    {"ｶﾞ@example.com", "ガ@example.com"},      /* and a voiced mark */
    {"127.0.0.1", "127.0.0.1"},
    {"juliet@192.168.0.1./r", "juliet@192.168.0.1/r"},
    {"[::1]", "[::1]"},
    {"juliet@[2001:DB8:0:0:0:0:0:1]/r", "juliet@[2001:db8::1]/r"},
    {"[::FFFF:192.0.2.1]", "[::ffff:192.0.2.1]"},
};

/* Every invalid example of RFC 7622 §3.5.2, in order, then more. */
static const char *const invalid[] = {
    "\"juliet\"@example.com",
    "foo bar@example.com",
    "juliet@example.com/ foo",
    "@example.com/",
    "henryⅣ@example.com",
    "♚@example.com",
    "juliet@",
    "/foobar",
    /* Empty parts. */
    "",
    "@",
    "/",
    "@/",
    "@example.com",
    "example.com/",
    "juliet@/balcony",
    "juliet@example.com/",
    ".",
    /* Localpart: RFC 7622 §3.3.1's ASCII, then the IdentifierClass. */
    "a&b@example.com",
    "a'b@example.com",
    "a:b@example.com",
    "a<b@example.com",
    "a>b@example.com",
    "a@b@example.com",
    "jul\x01iet@example.com",
    "jul\x7fiet@example.com",
    "a\tb@example.com",
    "a＠b@example.com", /* fullwidth '@' */
    "a／b@example.com", /* fullwidth '/' */
    "😀@example.com",
    "ﬀ@example.com",            /* compatibility ligature */
    "a\u00adb@example.com",     /* soft hyphen */
    "\xcd\xb8@example.com",     /* unassigned U+0378 */
    "henryⅣ@localhost",         /* compatibility character */
    "♚@localhost",              /* symbol */
    "¼@example.com",            /* other number */
    "a\u3000b@example.com",     /* ideographic space, mapped to a space */
    "a¡b@example.com",          /* punctuation outside ASCII */
    "a\u200db@example.com",     /* joiner without a virama */
    "a·b@example.com",          /* middle dot outside "l·l" */
    "ᾈ@example.com",            /* titlecase, before case mapping */
    "\xe1\x84\x80@example.com", /* old Hangul jamo U+1100 */
    "a\u0640b@example.com",     /* Arabic tatweel */
    "\xee\x80\x80@example.com", /* private use U+E000 */
    "aא@example.com",           /* Bidi Rule: left-to-right first */
    "אa@example.com",           /* Bidi Rule: left-to-right inside */
    "א١1@example.com",          /* Bidi Rule: both kinds of digits */
    /* Resourcepart. */
    "example.com/\x01",
    "example.com/a\x7f",
    "example.com/\u00a0foo", /* no-break space first */
    "example.com/\xc2\xad",  /* default ignorable */
    "example.com/a\u00adb",
    "example.com/a\u2060b",     /* word joiner */
    "example.com/a\xc2\x85",    /* C1 control */
    "example.com/\xcd\xb8",     /* unassigned U+0378 */
    "example.com/\xef\xb7\x90", /* noncharacter U+FDD0 */
    "example.com/\xee\x80\x80", /* private use U+E000 */
    "example.com/\xe1\x84\x80", /* old Hangul jamo U+1100 */
    "example.com/\u3000foo",    /* ideographic space first */
    "example.com/a·b",          /* the contextual rules hold here too */
    /* Not UTF-8. */
    "\xff@example.com",
    "\xc0\xaf@example.com",     /* overlong '/' */
    "\xed\xa0\x80@example.com", /* a surrogate */
    "example.com/\xe2\x82",     /* cut short */
    "\xf4\x90\x80\x80.example", /* past U+10FFFF */
    /* Domainpart. */
    "juliet@exa mple.com",
    "juliet@-example.com",
    "juliet@example-.com",
    "a..b",
    ".example",
    "example..",
    "a_b.example",
    "example.com:5222",
    "ex／ample.com",
    "😀.example",
    "xn--a.example",
    "xn--.example",
    "é-.example",
    "a\u200db.example", /* zero width joiner */
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
    "[::1",
    "::1]",
    "[::gg]",
    "[::1%eth0]",
    "[127.0.0.1]",
    "[v1.example]",
    "[::1]x",
    "1.2.3.256",
    "01.2.3.4",
    "1.2.3",
};

START_TEST(parses_valid_jid)
{
    jid *j = NULL;

    ck_assert_int_eq(jid_parse(valid[_i].in, &j), 0);
    ck_assert_pstr_eq(jid_local(j), valid[_i].local);
    ck_assert_str_eq(jid_domain(j), valid[_i].domain);
    ck_assert_pstr_eq(jid_resource(j), valid[_i].resource);
    ck_assert(jid_is_bare(j) == (valid[_i].resource == NULL));
    jid_free(j);
}
END_TEST

START_TEST(prepares_to_one_canonical_form)
{
    jid *j = NULL, *again = NULL;

    ck_assert_int_eq(jid_parse(normalized[_i].in, &j), 0);
    ck_assert_str_eq(jid_full(j), normalized[_i].full);
    /* The canonical form is a fixed point. */
    ck_assert_int_eq(jid_parse(jid_full(j), &again), 0);
    ck_assert_str_eq(jid_full(again), normalized[_i].full);
    ck_assert(jid_equal(j, again));
    jid_free(again);
    jid_free(j);
}
END_TEST

START_TEST(rejects_invalid_jid)
{
    jid *j = (jid *)&j;

    ck_assert_msg(jid_parse(invalid[_i], &j) == XE_BAD_JID, "accepted \"%s\"",
                  invalid[_i]);
    ck_assert_ptr_null(j);
}
END_TEST

START_TEST(prepared_valid_jid_parses_to_itself)
{
    jid *j = NULL, *again = NULL;

    ck_assert_int_eq(jid_parse(valid[_i].in, &j), 0);
    ck_assert_int_eq(jid_parse(jid_full(j), &again), 0);
    ck_assert_str_eq(jid_full(again), jid_full(j));
    ck_assert_str_eq(jid_bare(again), jid_bare(j));
    jid_free(again);
    jid_free(j);
}
END_TEST

START_TEST(rejects_null)
{
    jid *j = NULL;
    char *d = NULL;

    ck_assert_int_eq(jid_parse(NULL, &j), XE_BAD_JID);
    ck_assert_int_eq(jid_build("a", NULL, "r", &j), XE_BAD_JID);
    ck_assert_int_eq(jid_domain_normalize(NULL, &d), XE_BAD_JID);
    ck_assert_ptr_null(j);
    ck_assert_ptr_null(d);
}
END_TEST

/* ---- limits ------------------------------------------------------------ */

static char *repeat(const char *unit, size_t times, const char *prefix,
                    const char *suffix)
{
    size_t ulen = strlen(unit), plen = strlen(prefix), slen = strlen(suffix);
    char *s = malloc(plen + ulen * times + slen + 1);

    memcpy(s, prefix, plen);
    for (size_t i = 0; i < times; i++)
        memcpy(s + plen + i * ulen, unit, ulen);
    memcpy(s + plen + ulen * times, suffix, slen + 1);
    return s;
}

/* A domain of exactly len bytes: first, then labels of up to 63 bytes. */
static char *long_domain(const char *first, size_t len)
{
    char *s = malloc(len + 1);
    size_t at = strlen(first);

    memcpy(s, first, at);
    while (at < len) {
        size_t left = len - at - 1; /* after the dot */
        size_t n = left > 63 ? 63 : left;

        if (left > 63 && left - 63 < 2)
            n = 61; /* leave room for a last label */
        s[at++] = '.';
        memset(s + at, 'a', n);
        at += n;
    }
    s[at] = '\0';
    return s;
}

static const struct {
    const char *unit, *prefix, *suffix;
    size_t times;
    int err;
    size_t prepared; /* bytes in the part after preparation */
} limits[] = {
    {"a", "", "@example.com", 1023, 0, 1023},
    {"a", "", "@example.com", 1024, XE_LIMIT, 0},
    {"A", "", "@example.com", 1023, 0, 1023},
    {"é", "a", "@example.com", 511, 0, 1023},
    {"é", "", "@example.com", 512, XE_LIMIT, 0},
    /* Decomposed input is counted after composition. */
    {"e\xcc\x81", "a", "@example.com", 511, 0, 1023},
    {"e\xcc\x81", "", "@example.com", 512, XE_LIMIT, 0},
    /* Too much raw input is refused before any work. */
    {"\xc2\xad", "a", "@example.com", 3000, XE_LIMIT, 0},
    {"a", "example.com/", "", 1023, 0, 1023},
    {"a", "example.com/", "", 1024, XE_LIMIT, 0},
    {"é", "example.com/a", "", 511, 0, 1023},
    {"é", "example.com/", "", 512, XE_LIMIT, 0},
    {"😀", "example.com/abc", "", 255, 0, 1023},
    {"😀", "example.com/", "", 256, XE_LIMIT, 0},
    {"x", "juliet@example.com/", "", 100000, XE_LIMIT, 0},
};

START_TEST(limits_each_part_to_1023_bytes)
{
    char *s = repeat(limits[_i].unit, limits[_i].times, limits[_i].prefix,
                     limits[_i].suffix);
    jid *j = NULL;

    ck_assert_int_eq(jid_parse(s, &j), limits[_i].err);
    if (limits[_i].err == 0) {
        const char *part = jid_resource(j) ? jid_resource(j) : jid_local(j);
        ck_assert_uint_eq(strlen(part), limits[_i].prepared);
    } else {
        ck_assert_ptr_null(j);
    }
    jid_free(j);
    free(s);
}
END_TEST

START_TEST(limits_domain_to_1023_bytes)
{
    char *first = repeat("a", 63, "", "");
    char *ok = long_domain(first, 1023), *over = long_domain(first, 1024);
    jid *j = NULL;

    ck_assert_uint_eq(strlen(ok), 1023);
    ck_assert_uint_eq(strlen(over), 1024);
    ck_assert_int_eq(jid_parse(ok, &j), 0);
    ck_assert_str_eq(jid_domain(j), ok);
    jid_free(j);
    ck_assert_int_eq(jid_parse(over, &j), XE_LIMIT);
    ck_assert_ptr_null(j);

    /* A trailing dot is not counted. */
    char *dotted = repeat(".", 1, ok, "");
    ck_assert_int_eq(jid_parse(dotted, &j), 0);
    ck_assert_str_eq(jid_domain(j), ok);
    jid_free(j);
    free(dotted);
    free(over);
    free(ok);
    free(first);

    /* The same with an IDN label, which takes the slower path. */
    first = repeat("a", 55, "é", ""); /* its A-label has 63 bytes */
    ok = long_domain(first, 1023);
    over = long_domain(first, 1024);
    ck_assert_int_eq(jid_parse(ok, &j), 0);
    ck_assert_str_eq(jid_domain(j), ok);
    jid_free(j);
    ck_assert_int_eq(jid_parse(over, &j), XE_LIMIT);
    ck_assert_ptr_null(j);
    free(over);
    free(ok);
    free(first);

    char *huge = repeat("a.", 3000, "", "com");
    ck_assert_int_eq(jid_parse(huge, &j), XE_LIMIT);
    free(huge);
}
END_TEST

START_TEST(limits_labels_to_63_bytes)
{
    char *ok = repeat("a", 63, "", ".com");
    char *over = repeat("a", 64, "", ".com");
    char *idn_ok = repeat("é", 57, "", ".example"); /* xn-- form: 63 */
    char *idn_over = repeat("é", 58, "", ".example");
    jid *j = NULL;

    ck_assert_int_eq(jid_parse(ok, &j), 0);
    jid_free(j);
    ck_assert_int_eq(jid_parse(over, &j), XE_BAD_JID);
    ck_assert_int_eq(jid_parse(idn_ok, &j), 0);
    jid_free(j);
    ck_assert_int_eq(jid_parse(idn_over, &j), XE_BAD_JID);
    free(idn_over);
    free(idn_ok);
    free(over);
    free(ok);
}
END_TEST

/* ---- the rest of the API ----------------------------------------------- */

START_TEST(builds_from_parts_as_parse_does)
{
    jid *j = NULL, *p = NULL;

    ck_assert_int_eq(jid_build("JULIET", "Example.COM.", "Balcony", &j), 0);
    ck_assert_str_eq(jid_full(j), "juliet@example.com/Balcony");
    ck_assert_int_eq(jid_parse("juliet@example.com/Balcony", &p), 0);
    ck_assert(jid_equal(j, p));
    jid_free(p);
    jid_free(j);

    ck_assert_int_eq(jid_build("Straße", "example.com", "Ⅸ", &j), 0);
    ck_assert_str_eq(jid_full(j), "straße@example.com/Ⅸ");
    jid_free(j);

    ck_assert_int_eq(jid_build(NULL, "example.com", NULL, &j), 0);
    ck_assert_str_eq(jid_full(j), "example.com");
    ck_assert_ptr_null(jid_local(j));
    ck_assert(jid_is_bare(j));
    jid_free(j);

    /* Separators inside a part are data, and checked as such. */
    ck_assert_int_eq(jid_build("a", "example.com", "x/y@z", &j), 0);
    ck_assert_str_eq(jid_resource(j), "x/y@z");
    jid_free(j);
    ck_assert_int_eq(jid_build("a@b", "example.com", NULL, &j), XE_BAD_JID);
    ck_assert_ptr_null(j);
    ck_assert_int_eq(jid_build("a/b", "example.com", NULL, &j), XE_BAD_JID);
    ck_assert_int_eq(jid_build("a", "example.com/r", NULL, &j), XE_BAD_JID);
    ck_assert_int_eq(jid_build("a", "b@example.com", NULL, &j), XE_BAD_JID);
    ck_assert_int_eq(jid_build("", "example.com", NULL, &j), XE_BAD_JID);
    ck_assert_int_eq(jid_build("a", "example.com", "", &j), XE_BAD_JID);
    ck_assert_int_eq(jid_build("a", "", NULL, &j), XE_BAD_JID);
    ck_assert_ptr_null(j);
}
END_TEST

START_TEST(compares_full_and_bare)
{
    jid *a = NULL, *b = NULL, *c = NULL, *d = NULL;

    ck_assert_int_eq(jid_parse("Juliet@Example.com/Balcony", &a), 0);
    ck_assert_int_eq(jid_parse("juliet@example.com./Balcony", &b), 0);
    ck_assert_int_eq(jid_parse("juliet@example.com/balcony", &c), 0);
    ck_assert_int_eq(jid_parse("juliet@example.com", &d), 0);
    ck_assert(jid_equal(a, b));
    ck_assert(!jid_equal(a, c)); /* resources keep their case */
    ck_assert(!jid_equal(a, d));
    ck_assert(jid_bare_equal(a, c));
    ck_assert(jid_bare_equal(a, d));
    ck_assert_str_eq(jid_bare(a), "juliet@example.com");
    ck_assert_str_eq(jid_full(d), jid_bare(d));
    jid_free(d);
    jid_free(c);
    jid_free(b);
    jid_free(a);

    ck_assert_int_eq(jid_parse("example.com", &a), 0);
    ck_assert_int_eq(jid_parse("a@example.com", &b), 0);
    ck_assert(!jid_bare_equal(a, b));
    ck_assert(!jid_equal(a, b));
    jid_free(b);
    jid_free(a);
}
END_TEST

START_TEST(copies_and_strips_to_bare)
{
    jid *j = NULL;

    ck_assert_int_eq(jid_parse("juliet@example.com/balcony", &j), 0);
    jid *copy = jid_dup(j);
    jid *bare = jid_to_bare(j);
    jid_free(j); /* copies outlive the original */

    ck_assert_str_eq(jid_full(copy), "juliet@example.com/balcony");
    ck_assert_str_eq(jid_local(copy), "juliet");
    ck_assert_str_eq(jid_resource(copy), "balcony");
    ck_assert_str_eq(jid_full(bare), "juliet@example.com");
    ck_assert_ptr_null(jid_resource(bare));
    ck_assert(jid_is_bare(bare));
    ck_assert(jid_bare_equal(copy, bare));
    ck_assert(!jid_equal(copy, bare));

    jid *bare2 = jid_to_bare(bare);
    ck_assert(jid_equal(bare, bare2));
    jid *domain = NULL;
    ck_assert_int_eq(jid_parse("example.com", &domain), 0);
    jid *domain2 = jid_dup(domain);
    ck_assert(jid_equal(domain, domain2));
    ck_assert_ptr_null(jid_local(domain2));
    jid_free(domain2);
    jid_free(domain);
    jid_free(bare2);
    jid_free(bare);
    jid_free(copy);
    jid_free(NULL);
}
END_TEST

static const struct {
    const char *in, *out;
    int err;
} domains[] = {
    {"EXAMPLE.com.", "example.com", 0},
    {"example.com", "example.com", 0},
    {"ÉXAMPLE.com", "éxample.com", 0},
    {"xn--bcher-kva.example", "bücher.example", 0},
    {"[0:0::1]", "[::1]", 0},
    {"10.0.0.1", "10.0.0.1", 0},
    {"", NULL, XE_BAD_JID},
    {".", NULL, XE_BAD_JID},
    {"a/b", NULL, XE_BAD_JID},
    {"a@b", NULL, XE_BAD_JID},
};

START_TEST(normalizes_a_domain_alone)
{
    char *out = (char *)&out;

    ck_assert_int_eq(jid_domain_normalize(domains[_i].in, &out),
                     domains[_i].err);
    ck_assert_pstr_eq(out, domains[_i].out);
    free(out);
}
END_TEST

/* ---- stability ---------------------------------------------------------- */

static size_t utf8_of(unsigned c, char *out)
{
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    out[0] = (char)(0xE0 | (c >> 12));
    out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[2] = (char)(0x80 | (c & 0x3F));
    return 3;
}

/* Whatever a part prepares to, preparing it again changes nothing: with
 * every code point of the BMP in every part, alone and after a letter. */
START_TEST(prepares_every_bmp_code_point_to_a_fixed_point)
{
    static const char *const forms[] = {
        "%s@example.com",  "x%sy@example.com", "example.com/%s",
        "example.com/x%s", "%s.example",       "x%sy.example",
    };
    unsigned accepted = 0;

    for (unsigned c = 0x80; c <= 0xFFFF; c++) {
        char cp[4], in[64];

        if (c >= 0xD800 && c <= 0xDFFF)
            continue;
        cp[utf8_of(c, cp)] = '\0';
        for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
            jid *j = NULL, *again = NULL;

            snprintf(in, sizeof in, forms[f], cp);
            if (jid_parse(in, &j) != 0)
                continue;
            accepted++;
            ck_assert_msg(jid_parse(jid_full(j), &again) == 0,
                          "U+%04X: \"%s\" gave \"%s\", which does not parse", c,
                          in, jid_full(j));
            ck_assert_msg(jid_equal(j, again), "U+%04X: \"%s\" then \"%s\"", c,
                          jid_full(j), jid_full(again));
            jid_free(again);
            jid_free(j);
        }
    }
    ck_assert_uint_gt(accepted, 100000);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("jid");
    TCase *parse = tcase_create("parse");
    TCase *limit = tcase_create("limits");
    TCase *api = tcase_create("api");

    tcase_add_loop_test(parse, parses_valid_jid, 0,
                        sizeof valid / sizeof valid[0]);
    tcase_add_loop_test(parse, prepared_valid_jid_parses_to_itself, 0,
                        sizeof valid / sizeof valid[0]);
    tcase_add_loop_test(parse, prepares_to_one_canonical_form, 0,
                        sizeof normalized / sizeof normalized[0]);
    tcase_add_loop_test(parse, rejects_invalid_jid, 0,
                        sizeof invalid / sizeof invalid[0]);
    tcase_add_test(parse, rejects_null);
    suite_add_tcase(suite, parse);

    tcase_add_loop_test(limit, limits_each_part_to_1023_bytes, 0,
                        sizeof limits / sizeof limits[0]);
    tcase_add_test(limit, limits_domain_to_1023_bytes);
    tcase_add_test(limit, limits_labels_to_63_bytes);
    suite_add_tcase(suite, limit);

    tcase_add_test(api, builds_from_parts_as_parse_does);
    tcase_add_test(api, compares_full_and_bare);
    tcase_add_test(api, copies_and_strips_to_bare);
    tcase_add_loop_test(api, normalizes_a_domain_alone, 0,
                        sizeof domains / sizeof domains[0]);
    suite_add_tcase(suite, api);

    TCase *stable = tcase_create("stable");
    tcase_set_timeout(stable, 100); /* slow under sanitizers */
    tcase_add_test(stable, prepares_every_bmp_code_point_to_a_fixed_point);
    suite_add_tcase(suite, stable);
    return suite;
}
