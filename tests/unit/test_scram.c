/* SPDX-License-Identifier: MIT */
/* tests/unit/test_scram.c: SCRAM credentials: known answers (RFC 5802,
 * RFC 7677 and our own, computed apart with Python's hashlib), checks,
 * password matching, and the <scram/> elements the store reads. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/buf.h"
#include "libcommon/error.h"
#include "libcommon/scram.h"
#include "tests/unit/unit.h"

/* The expected values of ours come from hashlib.pbkdf2_hmac and hmac. */
static const struct {
    const char *mech, *password, *salt; /* salt as raw bytes */
    size_t salt_len;
    unsigned iterations;
    const char *salt_b64, *stored, *server;
} known[] = {
    /* RFC 5802 §5: user "user", password "pencil". */
    {"SCRAM-SHA-1", "pencil",
     "\x41\x25\xc2\x47\xe4\x3a\xb1\xe9\x3c\x6d\xff\x76", 12, 4096,
     "QSXCR+Q6sek8bf92",
     "6dlGYMOdZcOPutkcNY8U2g7vK9Y=", "D+CSWLOshSulAsxiupA+qs2/fTE="},
    /* RFC 7677 §3, the same account. */
    {"SCRAM-SHA-256", "pencil",
     "\x5b\x6d\x99\x68\x9d\x12\x35\x8e\xec\xa0\x4b\x14\x12\x36\xfa\x81", 16,
     4096,
     "W22ZaJ0SNY7soEsUEjb6gQ==", "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
     "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="},
    {"SCRAM-SHA-1", "correct horse battery staple", "xmppd-scram-salt", 16,
     4096, "eG1wcGQtc2NyYW0tc2FsdA==", "GLJM8iZKlMS/OG70mtECzoayAxQ=",
     "7pX3ygaQ8cu8Isq/RLyZJlJGeLg="},
    {"SCRAM-SHA-256", "correct horse battery staple", "xmppd-scram-salt", 16,
     4096,
     "eG1wcGQtc2NyYW0tc2FsdA==", "d0JpIJWd7EHna/HOHQ/n+nBL9cVkljKsJ3r56NJE4zg=",
     "Sld8GrGrS0lzg7KK8pNL4s/iqKwZDVO+Db41IEBskx8="},
    /* One iteration: PBKDF2's first block alone. */
    {"SCRAM-SHA-1", "correct horse battery staple", "xmppd-scram-salt", 16, 1,
     "eG1wcGQtc2NyYW0tc2FsdA==", "5dFDvIhvoodo4kKE9SGIvzZHSyU=",
     "K7XDCH/nKhH3Zv9WwsfxUTGp+iQ="},
    {"SCRAM-SHA-256", "correct horse battery staple", "xmppd-scram-salt", 16, 1,
     "eG1wcGQtc2NyYW0tc2FsdA==", "x1Oh2lFqaI8B2dDlxDODgo7HcRvFthR0IySKH2/TzGw=",
     "W+gIC+XdN035Nu5qbVMonVPKb09QcyP8xm4iCtLrSJc="},
};

static void derive_known(size_t i, scram_cred *c)
{
    ck_assert_int_eq(scram_cred_derive(known[i].mech, known[i].password,
                                       (const unsigned char *)known[i].salt,
                                       known[i].salt_len, known[i].iterations,
                                       c),
                     0);
}

START_TEST(derives_the_known_answers)
{
    scram_cred c;

    derive_known((size_t)_i, &c);
    ck_assert_str_eq(c.mech, known[_i].mech);
    ck_assert_uint_eq(c.iterations, known[_i].iterations);
    ck_assert_str_eq(c.salt, known[_i].salt_b64);
    ck_assert_str_eq(c.stored_key, known[_i].stored);
    ck_assert_str_eq(c.server_key, known[_i].server);
    ck_assert(scram_cred_is_valid(&c));
}
END_TEST

START_TEST(matches_only_the_password_it_was_made_from)
{
    scram_cred c;

    derive_known((size_t)_i, &c);
    const char *pw = known[_i].password;
    ck_assert(scram_cred_matches(&c, pw, strlen(pw)));
    ck_assert(!scram_cred_matches(&c, pw, strlen(pw) - 1));
    ck_assert(!scram_cred_matches(&c, "Pencil", 6));
    ck_assert(!scram_cred_matches(&c, "", 0));
    /* A NUL inside is refused, not cut short. */
    char with_nul[64];
    size_t n = strlen(pw);
    memcpy(with_nul, pw, n);
    memcpy(with_nul + n, "\0x", 2);
    ck_assert(!scram_cred_matches(&c, with_nul, n + 2));
}
END_TEST

static const struct {
    const char *mech, *password;
    size_t salt_len;
    unsigned iterations;
    int rc;
} derive_inputs[] = {
    {"SCRAM-MD5", "pencil", 16, 4096, XE_NOT_FOUND},
    {NULL, "pencil", 16, 4096, XE_NOT_FOUND},
    {"SCRAM-SHA-1", "", 16, 4096, XE_PROTOCOL},
    {"SCRAM-SHA-1", NULL, 16, 4096, XE_PROTOCOL},
    {"SCRAM-SHA-1", "pencil", 0, 4096, XE_PROTOCOL},
    {"SCRAM-SHA-1", "pencil", 65, 4096, XE_PROTOCOL},
    {"SCRAM-SHA-1", "pencil", 16, 0, XE_PROTOCOL},
    {"SCRAM-SHA-256", "pencil", 64, 1, 0}, /* the largest salt fits */
};

START_TEST(checks_what_it_derives_from)
{
    static const unsigned char salt[65] = {1};
    scram_cred c;

    ck_assert_int_eq(scram_cred_derive(derive_inputs[_i].mech,
                                       derive_inputs[_i].password, salt,
                                       derive_inputs[_i].salt_len,
                                       derive_inputs[_i].iterations, &c),
                     derive_inputs[_i].rc);
    if (derive_inputs[_i].rc == 0)
        ck_assert(scram_cred_is_valid(&c));
}
END_TEST

START_TEST(makes_fresh_salts_and_refuses_bad_input)
{
    scram_cred a, b;

    ck_assert_int_eq(scram_cred_make("SCRAM-SHA-256", "pencil", 4096, &a), 0);
    ck_assert_int_eq(scram_cred_make("SCRAM-SHA-256", "pencil", 4096, &b), 0);
    ck_assert_str_ne(a.salt, b.salt);
    ck_assert_str_ne(a.stored_key, b.stored_key);
    ck_assert_uint_eq(strlen(a.salt), 24); /* SCRAM_SALT_BYTES in base64 */
    ck_assert(scram_cred_matches(&a, "pencil", 6));
    ck_assert_int_eq(scram_cred_make("SCRAM-MD5", "pencil", 4096, &a),
                     XE_NOT_FOUND);
    ck_assert_int_eq(scram_cred_make("SCRAM-SHA-1", "", 4096, &a), XE_PROTOCOL);
    ck_assert_int_eq(scram_cred_make("SCRAM-SHA-1", "pencil", 0, &a),
                     XE_PROTOCOL);
    /* RFC 4013 §2.3: ASCII control characters are prohibited. */
    ck_assert_int_eq(scram_cred_make("SCRAM-SHA-1", "a\ab", 4096, &a),
                     XE_PROTOCOL);
}
END_TEST

START_TEST(saslpreps_the_password)
{
    scram_cred c;

    /* RFC 4013 §2.1: U+00A0, a non-ASCII space, maps to a space; U+00AD,
     * the soft hyphen, to nothing (RFC 3454 B.1). */
    ck_assert_int_eq(scram_cred_make("SCRAM-SHA-1", "a\302\240b", 4096, &c), 0);
    ck_assert(scram_cred_matches(&c, "a b", 3));
    ck_assert_int_eq(
        scram_cred_make("SCRAM-SHA-256", "pen\302\255cil", 4096, &c), 0);
    ck_assert(scram_cred_matches(&c, "pencil", 6));
    ck_assert(scram_cred_matches(&c, "pen\302\255cil", 8));
}
END_TEST

START_TEST(makes_every_mechanism_of_an_account)
{
    scram_cred creds[SCRAM_N_MECHS];

    ck_assert_int_eq(scram_cred_make_all("pencil", SCRAM_ITERATIONS, creds), 0);
    for (size_t i = 0; i < SCRAM_N_MECHS; i++) {
        ck_assert_str_eq(creds[i].mech, scram_mechs[i]);
        ck_assert_uint_eq(creds[i].iterations, SCRAM_ITERATIONS);
        ck_assert(scram_cred_is_valid(&creds[i]));
        ck_assert(scram_cred_matches(&creds[i], "pencil", 6));
    }
    ck_assert_str_eq(creds[0].mech, "SCRAM-SHA-1");
    ck_assert_str_eq(creds[1].mech, "SCRAM-SHA-256");

    static const scram_cred zero;
    ck_assert_int_eq(scram_cred_make_all("a\a", SCRAM_ITERATIONS, creds),
                     XE_PROTOCOL);
    for (size_t i = 0; i < SCRAM_N_MECHS; i++)
        ck_assert_mem_eq(&creds[i], &zero, sizeof zero);
}
END_TEST

/* Bad values for one field of a good SCRAM-SHA-1 credential. */
static const struct {
    size_t field; /* offsetof(scram_cred, ...) */
    const char *value;
} bad_fields[] = {
    {offsetof(scram_cred, mech), "SCRAM-MD5"},
    {offsetof(scram_cred, mech), ""},
    {offsetof(scram_cred, salt), "not base64!"},
    {offsetof(scram_cred, salt), ""},
    {offsetof(scram_cred, salt), "QSXCR+Q6sek8bf9"},  /* not 4n long */
    {offsetof(scram_cred, salt), "QS=CR+Q6sek8bf92"}, /* '=' inside */
    {offsetof(scram_cred, salt), "QSXCR+Q6sek8bf9 "}, /* whitespace */
    {offsetof(scram_cred, stored_key), "W22ZaJ0SNY7soEsUEjb6gQ=="}, /* 16 */
    {offsetof(scram_cred, server_key), "6dlGYMOdZcOPutkcNY8U2g7vK9Y"},
};

START_TEST(refuses_a_malformed_field)
{
    scram_cred c;

    derive_known(0, &c);
    strcpy((char *)&c + bad_fields[_i].field, bad_fields[_i].value);
    ck_assert(!scram_cred_is_valid(&c));
    ck_assert(!scram_cred_matches(&c, "pencil", 6));
}
END_TEST

/* A field without its NUL, as a peer could send it. */
static const struct {
    size_t field, size;
} open_fields[] = {
    {offsetof(scram_cred, mech), sizeof((scram_cred *)0)->mech},
    {offsetof(scram_cred, salt), SCRAM_SALT_B64_MAX},
    {offsetof(scram_cred, stored_key), SCRAM_KEY_B64_MAX},
    {offsetof(scram_cred, server_key), SCRAM_KEY_B64_MAX},
};

START_TEST(refuses_an_unterminated_field)
{
    scram_cred c;

    derive_known(0, &c);
    memset((char *)&c + open_fields[_i].field, 'A', open_fields[_i].size);
    ck_assert(!scram_cred_is_valid(&c));
    ck_assert(!scram_cred_matches(&c, "pencil", 6));
}
END_TEST

START_TEST(refuses_zero_iterations)
{
    scram_cred c;

    derive_known(0, &c);
    c.iterations = 0;
    ck_assert(!scram_cred_is_valid(&c));
    ck_assert(!scram_cred_matches(&c, "pencil", 6));
}
END_TEST

START_TEST(fakes_stable_credentials_no_password_matches)
{
    static const unsigned char secret[32] = "0123456789abcdef0123456789abcdef";
    static const unsigned char other[32] = "fedcba9876543210fedcba9876543210";
    scram_cred a, b;

    for (size_t i = 0; i < SCRAM_N_MECHS; i++) {
        ck_assert_int_eq(scram_cred_fake(scram_mechs[i], secret, sizeof secret,
                                         "romeo", 5, &a),
                         0);
        ck_assert_str_eq(a.mech, scram_mechs[i]);
        ck_assert_uint_eq(a.iterations, SCRAM_ITERATIONS);
        ck_assert(scram_cred_is_valid(&a));
        ck_assert(!scram_cred_matches(&a, "romeo", 5));
        /* The same input, the same credential; user is read by length. */
        ck_assert_int_eq(scram_cred_fake(scram_mechs[i], secret, sizeof secret,
                                         "romeox", 5, &b),
                         0);
        ck_assert_mem_eq(&a, &b, sizeof a);
        ck_assert_int_eq(scram_cred_fake(scram_mechs[i], secret, sizeof secret,
                                         "juliet", 6, &b),
                         0);
        ck_assert_str_ne(a.salt, b.salt);
        ck_assert_int_eq(scram_cred_fake(scram_mechs[i], other, sizeof other,
                                         "romeo", 5, &b),
                         0);
        ck_assert_str_ne(a.salt, b.salt);
    }
    ck_assert_int_eq(
        scram_cred_fake("SCRAM-MD5", secret, sizeof secret, "romeo", 5, &a),
        XE_NOT_FOUND);
}
END_TEST

/* ---- the store's form (docs/store-protocol.md) ---- */

START_TEST(writes_the_store_elements)
{
    scram_cred creds[2];
    buf out;

    derive_known(2, &creds[0]);
    derive_known(3, &creds[1]);
    buf_init(&out);
    buf_append_str(&out, "<account-create>");
    scram_cred_append_xml(&out, creds, 2);
    buf_append_str(&out, "</account-create>");
    char *xml = buf_steal(&out);
    ck_assert_str_eq(
        xml, "<account-create>"
             "<scram mech='SCRAM-SHA-1' iterations='4096' "
             "salt='eG1wcGQtc2NyYW0tc2FsdA=='"
             " stored-key='GLJM8iZKlMS/OG70mtECzoayAxQ='"
             " server-key='7pX3ygaQ8cu8Isq/RLyZJlJGeLg='/>"
             "<scram mech='SCRAM-SHA-256' iterations='4096' "
             "salt='eG1wcGQtc2NyYW0tc2FsdA=='"
             " stored-key='d0JpIJWd7EHna/HOHQ/n+nBL9cVkljKsJ3r56NJE4zg='"
             " server-key='Sld8GrGrS0lzg7KK8pNL4s/iqKwZDVO+Db41IEBskx8='/>"
             "</account-create>");
    free(xml);
}
END_TEST

START_TEST(writes_nothing_for_no_credentials)
{
    scram_cred c;
    buf out;

    derive_known(0, &c);
    buf_init(&out);
    scram_cred_append_xml(&out, &c, 0);
    ck_assert_uint_eq(buf_len(&out), 0);
    buf_close(&out);
}
END_TEST

START_TEST(escapes_every_attribute)
{
    scram_cred c = {.mech = "a'b\"c",
                    .iterations = 7,
                    .salt = "<&>",
                    .stored_key = "x'",
                    .server_key = "\"y"};
    buf out;

    buf_init(&out);
    scram_cred_append_xml(&out, &c, 1);
    char *xml = buf_steal(&out);
    ck_assert_str_eq(
        xml, "<scram mech='a&apos;b&quot;c' iterations='7' salt='&lt;&amp;&gt;'"
             " stored-key='x&apos;' server-key='&quot;y'/>");
    free(xml);
}
END_TEST

START_TEST(stops_at_the_end_of_an_unterminated_field)
{
    scram_cred c;
    buf out;
    char want[SCRAM_SALT_B64_MAX + 1];

    derive_known(0, &c);
    memset(c.salt, 'A', sizeof c.salt);
    memset(want, 'A', SCRAM_SALT_B64_MAX);
    want[SCRAM_SALT_B64_MAX] = '\0';
    buf_init(&out);
    scram_cred_append_xml(&out, &c, 1);
    char *xml = buf_steal(&out);
    ck_assert_ptr_nonnull(strstr(xml, want));
    ck_assert_ptr_nonnull(
        strstr(xml, " stored-key='6dlGYMOdZcOPutkcNY8U2g7vK9Y='"));
    ck_assert_ptr_null(strstr(xml, "AAAAA6dl"));
    free(xml);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("scram");
    TCase *make = tcase_create("make");
    TCase *check = tcase_create("check");
    TCase *xml = tcase_create("xml");
    int nknown = (int)(sizeof known / sizeof known[0]);

    tcase_set_timeout(make, 60);
    tcase_add_loop_test(make, derives_the_known_answers, 0, nknown);
    tcase_add_loop_test(make, checks_what_it_derives_from, 0,
                        (int)(sizeof derive_inputs / sizeof derive_inputs[0]));
    tcase_add_test(make, makes_fresh_salts_and_refuses_bad_input);
    tcase_add_test(make, saslpreps_the_password);
    tcase_add_test(make, makes_every_mechanism_of_an_account);
    tcase_add_test(make, fakes_stable_credentials_no_password_matches);
    suite_add_tcase(suite, make);

    tcase_set_timeout(check, 60);
    tcase_add_loop_test(check, matches_only_the_password_it_was_made_from, 0,
                        nknown);
    tcase_add_loop_test(check, refuses_a_malformed_field, 0,
                        (int)(sizeof bad_fields / sizeof bad_fields[0]));
    tcase_add_loop_test(check, refuses_an_unterminated_field, 0,
                        (int)(sizeof open_fields / sizeof open_fields[0]));
    tcase_add_test(check, refuses_zero_iterations);
    suite_add_tcase(suite, check);

    tcase_add_test(xml, writes_the_store_elements);
    tcase_add_test(xml, writes_nothing_for_no_credentials);
    tcase_add_test(xml, escapes_every_attribute);
    tcase_add_test(xml, stops_at_the_end_of_an_unterminated_field);
    suite_add_tcase(suite, xml);
    return suite;
}
