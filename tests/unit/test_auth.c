/* SPDX-License-Identifier: MIT */
/* tests/unit/test_auth.c: the SASL layer against Cyrus's own client, in
 * process, for every mechanism. The credentials themselves: test_scram.c. */
#include <stdlib.h>
#include <string.h>

#include <sasl/sasl.h>

#include "libcommon/auth.h"
#include "libcommon/error.h"
#include "libcommon/scram.h"
#include "tests/unit/unit.h"

#define TEST_CB(fn) ((int (*)(void))(void (*)(void))(fn))
#define TEST_DOMAIN "example.com"

/* ---- a Cyrus client with a fixed user, password and authzid ---- */

typedef struct test_client {
    const char *user, *password, *authzid;
    sasl_secret_t *secret;
    sasl_conn_t *conn;
    sasl_callback_t callbacks[4];
    sasl_channel_binding_t binding;
} test_client;

static int test_on_simple(void *ctx, int id, const char **result, unsigned *len)
{
    test_client *c = ctx;

    *result = id == SASL_CB_USER ? c->authzid : c->user;
    if (len)
        *len = (unsigned)strlen(*result);
    return SASL_OK;
}

static int test_on_secret(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **out)
{
    test_client *c = ctx;
    size_t n = strlen(c->password);

    (void)conn;
    (void)id;
    if (!c->secret) {
        c->secret = calloc(1, sizeof *c->secret + n + 1);
        c->secret->len = (unsigned long)n;
        memcpy(c->secret->data, c->password, n + 1);
    }
    *out = c->secret;
    return SASL_OK;
}

/* Only the two plugins under test, so nothing else gets loaded. */
static int test_on_verifyfile(void *ctx, const char *file, sasl_verify_type_t type)
{
    (void)ctx;
    if (type != SASL_VRFY_PLUGIN)
        return SASL_CONTINUE;
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    return strcmp(base, "libscram.so") == 0 || strcmp(base, "libplain.so") == 0
               ? SASL_OK : SASL_CONTINUE;
}

static const sasl_callback_t test_client_globals[] = {
    { SASL_CB_VERIFYFILE, TEST_CB(test_on_verifyfile), NULL },
    { SASL_CB_LIST_END, NULL, NULL },
};

static void test_client_open(test_client *c, const auth_channel_binding *cb)
{
    c->callbacks[0] = (sasl_callback_t){ SASL_CB_AUTHNAME, TEST_CB(test_on_simple), c };
    c->callbacks[1] = (sasl_callback_t){ SASL_CB_USER, TEST_CB(test_on_simple), c };
    c->callbacks[2] = (sasl_callback_t){ SASL_CB_PASS, TEST_CB(test_on_secret), c };
    c->callbacks[3] = (sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };
    ck_assert_int_eq(sasl_client_new("xmpp", TEST_DOMAIN, NULL, NULL, c->callbacks,
                                     0, &c->conn), SASL_OK);
    if (cb) {
        c->binding = (sasl_channel_binding_t){ .name = cb->type, .critical = 0,
                                               .len = cb->len, .data = cb->data };
        ck_assert_int_eq(sasl_setprop(c->conn, SASL_CHANNEL_BINDING, &c->binding),
                         SASL_OK);
    }
}

static void test_client_close(test_client *c)
{
    sasl_dispose(&c->conn);
    free(c->secret);
    c->secret = NULL;
}

static void setup(void)
{
    ck_assert_int_eq(auth_init("xmpp"), 0);
    ck_assert_int_eq(sasl_client_init(test_client_globals), SASL_OK);
}

static void teardown(void)
{
    sasl_client_done();
    auth_done();
}

/* ---- credentials of the one account ---- */

#define TEST_USER "juliet"
#define TEST_PASSWORD "r0m30myr0m30"

static size_t test_creds(scram_cred creds[2])
{
    ck_assert_int_eq(scram_cred_make("SCRAM-SHA-1", TEST_PASSWORD, 4096, &creds[0]), 0);
    ck_assert_int_eq(scram_cred_make("SCRAM-SHA-256", TEST_PASSWORD, 4096, &creds[1]), 0);
    return 2;
}

static const unsigned char test_binding_bytes[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char test_other_bytes[32] = "fedcba9876543210fedcba9876543210";
static const auth_channel_binding test_binding = {
    "tls-exporter", test_binding_bytes, sizeof test_binding_bytes,
};

typedef struct test_run {
    const char *mech;
    const char *password;
    const char *authzid;
    bool has_creds;                       /* the store knows the user */
    const auth_channel_binding *server_cb, *client_cb;
    bool is_tls;
} test_run;

/* One exchange; returns auth_start/auth_step's last result. On AUTH_OK the
 * client checks the server's final message too. */
static int test_exchange(const test_run *r, auth_session **out_session)
{
    scram_cred creds[2];
    test_client c = { .user = TEST_USER, .password = r->password,
                      .authzid = r->authzid ? r->authzid : "" };
    auth_session *s = auth_session_new(TEST_DOMAIN, r->is_tls, r->server_cb);
    const char *cout = NULL, *chosen = NULL, *sout = NULL;
    unsigned coutlen = 0;
    size_t soutlen = 0;

    test_client_open(&c, r->client_cb);
    int crc = sasl_client_start(c.conn, r->mech, NULL, &cout, &coutlen, &chosen);
    /* PLAIN is done in one message on the client's side. */
    ck_assert(crc == SASL_CONTINUE || crc == SASL_OK);
    /* Cyrus names the plugin ("SCRAM-SHA-1"), also when it binds. */
    ck_assert_int_eq(strncmp(chosen, r->mech, strlen(chosen)), 0);
    if (r->client_cb) {
        ck_assert_int_eq(strncmp(cout, "p=", 2), 0);
        ck_assert_int_eq(strncmp(cout + 2, r->client_cb->type, strlen(r->client_cb->type)), 0);
    }

    char *user = NULL;
    ck_assert_int_eq(auth_peek_user(r->mech, cout, coutlen, &user), 0);
    ck_assert_str_eq(user, TEST_USER);
    size_t n = r->has_creds ? test_creds(creds) : 0;
    ck_assert_int_eq(auth_session_set_credentials(s, user, creds, n), 0);
    free(user);

    int rc = auth_start(s, r->mech, cout, coutlen, &sout, &soutlen);
    while (rc == AUTH_CONTINUE) {
        ck_assert_int_eq(sasl_client_step(c.conn, sout, (unsigned)soutlen, NULL, &cout,
                                          &coutlen), SASL_CONTINUE);
        rc = auth_step(s, cout, coutlen, &sout, &soutlen);
    }
    if (rc == AUTH_OK && soutlen > 0)
        ck_assert_int_eq(sasl_client_step(c.conn, sout, (unsigned)soutlen, NULL, &cout,
                                          &coutlen), SASL_OK);
    test_client_close(&c);
    if (out_session)
        *out_session = s;
    else
        auth_session_free(s);
    return rc;
}

static const char *const all_mechs[] = {
    "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN",
};

static test_run run_for(const char *mech)
{
    bool is_plus = strstr(mech, "-PLUS") != NULL;
    return (test_run){
        .mech = mech, .password = TEST_PASSWORD, .has_creds = true, .is_tls = true,
        .server_cb = is_plus ? &test_binding : NULL,
        .client_cb = is_plus ? &test_binding : NULL,
    };
}

START_TEST(accepts_the_right_password)
{
    test_run r = run_for(all_mechs[_i]);
    auth_session *s = NULL;

    ck_assert_int_eq(test_exchange(&r, &s), AUTH_OK);
    ck_assert_str_eq(auth_username(s), TEST_USER);
    ck_assert_int_eq(auth_failure(s), AUTH_COND_NONE);
    auth_session_free(s);
}
END_TEST

START_TEST(refuses_a_wrong_password)
{
    test_run r = run_for(all_mechs[_i]);
    auth_session *s = NULL;

    r.password = "r0m30myr0m31";
    ck_assert_int_eq(test_exchange(&r, &s), XE_AUTH);
    ck_assert_int_eq(auth_failure(s), AUTH_COND_NOT_AUTHORIZED);
    ck_assert_ptr_null(auth_username(s));
    auth_session_free(s);
}
END_TEST

START_TEST(refuses_an_unknown_user_like_a_wrong_password)
{
    test_run r = run_for(all_mechs[_i]);
    auth_session *s = NULL;

    r.has_creds = false;
    ck_assert_int_eq(test_exchange(&r, &s), XE_AUTH);
    ck_assert_int_eq(auth_failure(s), AUTH_COND_NOT_AUTHORIZED);
    auth_session_free(s);
}
END_TEST

START_TEST(accepts_the_bare_jid_as_authzid)
{
    test_run r = run_for(all_mechs[_i]);

    r.authzid = TEST_USER "@" TEST_DOMAIN;
    ck_assert_int_eq(test_exchange(&r, NULL), AUTH_OK);
}
END_TEST

/* RFC 6120 §6.3.8: the same JID in another form is still the user's own. */
START_TEST(accepts_the_bare_jid_as_authzid_in_any_prepared_form)
{
    test_run r = run_for(all_mechs[_i]);

    r.authzid = "Juliet@EXAMPLE.com";
    ck_assert_int_eq(test_exchange(&r, NULL), AUTH_OK);
}
END_TEST

START_TEST(refuses_a_full_jid_as_authzid)
{
    test_run r = run_for(all_mechs[_i]);
    auth_session *s = NULL;

    r.authzid = TEST_USER "@" TEST_DOMAIN "/balcony";
    ck_assert_int_eq(test_exchange(&r, &s), XE_AUTH);
    ck_assert_int_eq(auth_failure(s), AUTH_COND_INVALID_AUTHZID);
    auth_session_free(s);
}
END_TEST

START_TEST(refuses_another_authzid)
{
    test_run r = run_for(all_mechs[_i]);
    auth_session *s = NULL;

    r.authzid = "romeo@" TEST_DOMAIN;
    ck_assert_int_eq(test_exchange(&r, &s), XE_AUTH);
    ck_assert_int_eq(auth_failure(s), AUTH_COND_INVALID_AUTHZID);
    auth_session_free(s);
}
END_TEST

START_TEST(plus_fails_on_a_mismatching_binding)
{
    static const auth_channel_binding other = {
        "tls-exporter", test_other_bytes, sizeof test_other_bytes,
    };
    static const auth_channel_binding other_type = {
        "tls-server-end-point", test_binding_bytes, sizeof test_binding_bytes,
    };
    test_run r = run_for(_i ? "SCRAM-SHA-1-PLUS" : "SCRAM-SHA-256-PLUS");
    auth_session *s = NULL;

    r.client_cb = &other;
    ck_assert_int_eq(test_exchange(&r, &s), XE_AUTH);
    ck_assert_int_eq(auth_failure(s), AUTH_COND_NOT_AUTHORIZED);
    auth_session_free(s);
    r.client_cb = &other_type;
    ck_assert_int_eq(test_exchange(&r, NULL), XE_AUTH);
}
END_TEST

START_TEST(plus_works_with_tls_server_end_point)
{
    static const auth_channel_binding tsep = {
        "tls-server-end-point", test_other_bytes, sizeof test_other_bytes,
    };
    test_run r = run_for("SCRAM-SHA-256-PLUS");

    r.server_cb = r.client_cb = &tsep;
    ck_assert_int_eq(test_exchange(&r, NULL), AUTH_OK);
}
END_TEST

START_TEST(offers_mechanisms_by_transport)
{
    auth_session *s = auth_session_new(TEST_DOMAIN, true, &test_binding);
    ck_assert_str_eq(auth_mechanisms(s),
                     "SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1 PLAIN");
    auth_session_free(s);

    s = auth_session_new(TEST_DOMAIN, true, NULL);
    ck_assert_str_eq(auth_mechanisms(s), "SCRAM-SHA-256 SCRAM-SHA-1 PLAIN");
    auth_session_free(s);

    s = auth_session_new(TEST_DOMAIN, false, NULL);
    ck_assert_str_eq(auth_mechanisms(s), "SCRAM-SHA-256 SCRAM-SHA-1");
    auth_session_free(s);
}
END_TEST

START_TEST(refuses_mechanisms_not_offered)
{
    static const char plain[] = "\0juliet\0" TEST_PASSWORD;
    const char *out;
    size_t outlen;
    auth_session *s = auth_session_new(TEST_DOMAIN, false, NULL);

    ck_assert_int_eq(auth_start(s, "PLAIN", plain, sizeof plain - 1, &out, &outlen),
                     XE_PROTOCOL);
    ck_assert_int_eq(auth_failure(s), AUTH_COND_ENCRYPTION_REQUIRED);
    auth_session_free(s);

    s = auth_session_new(TEST_DOMAIN, true, NULL);
    ck_assert_int_eq(auth_start(s, "SCRAM-SHA-1-PLUS", "p=tls-exporter,,n=juliet,r=abcdefgh",
                                35, &out, &outlen), XE_PROTOCOL);
    ck_assert_int_eq(auth_failure(s), AUTH_COND_INVALID_MECHANISM);
    auth_session_free(s);

    s = auth_session_new(TEST_DOMAIN, true, NULL);
    ck_assert_int_eq(auth_start(s, "DIGEST-MD5", "", 0, &out, &outlen), XE_PROTOCOL);
    ck_assert_int_eq(auth_failure(s), AUTH_COND_INVALID_MECHANISM);
    auth_session_free(s);
    ck_assert_str_eq(auth_condition_name(AUTH_COND_INVALID_MECHANISM), "invalid-mechanism");
}
END_TEST

START_TEST(refuses_a_downgraded_scram_when_strict)
{
    static const char first[] = "y,,n=juliet,r=abcdefghijkl";
    const char *out;
    size_t outlen;
    auth_set_strict_channel_binding(true);
    auth_session *s = auth_session_new(TEST_DOMAIN, true, &test_binding);

    ck_assert_int_eq(auth_start(s, "SCRAM-SHA-1", first, sizeof first - 1, &out, &outlen),
                     XE_AUTH);
    ck_assert_int_eq(auth_failure(s), AUTH_COND_NOT_AUTHORIZED);
    auth_session_free(s);
    auth_set_strict_channel_binding(false);
}
END_TEST

START_TEST(goes_on_without_binding_for_a_y_flag_by_default)
{
    /* What slixmpp 1.8 sends under TLS 1.3: it knows only tls-unique. */
    static const char first[] = "y,,n=juliet,r=abcdefghijkl";
    const char *out;
    size_t outlen;
    auth_session *s = auth_session_new(TEST_DOMAIN, true, &test_binding);

    ck_assert_int_eq(auth_start(s, "SCRAM-SHA-1", first, sizeof first - 1, &out, &outlen),
                     AUTH_CONTINUE);
    ck_assert_uint_gt(outlen, 0);              /* the server-first-message */
    auth_session_free(s);
}
END_TEST

static const struct { const char *mech, *msg; size_t len; const char *user; } peeks[] = {
    { "SCRAM-SHA-1", "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", 36, "user" },
    { "SCRAM-SHA-256", "n,a=juliet@example.com,n=juliet,r=x1", 36, "juliet" },
    { "SCRAM-SHA-1-PLUS", "p=tls-exporter,,n=a=2Cb=3Dc,r=nonce", 35, "a,b=c" },
    { "SCRAM-SHA-256", "y,,n==3D=3D,r=n,e=ext", 21, "==" },
    { "PLAIN", "\0juliet\0secret", 14, "juliet" },
    { "PLAIN", "juliet@example.com\0juliet\0secret", 32, "juliet" },
};

START_TEST(peeks_the_user_name)
{
    char *user = NULL;

    ck_assert_int_eq(auth_peek_user(peeks[_i].mech, peeks[_i].msg, peeks[_i].len, &user), 0);
    ck_assert_str_eq(user, peeks[_i].user);
    free(user);
}
END_TEST

START_TEST(peeks_the_user_name_of_a_real_client)
{
    static const char *const names[] = { "juliet", "a,b", "x=y", "=2C" };
    static const char *const wants[] = { "juliet", "a,b", "x=y", "=2C" };

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        test_client c = { .user = names[i], .password = "pw", .authzid = "" };
        const char *out, *chosen;
        unsigned outlen;
        char *user = NULL;

        test_client_open(&c, NULL);
        ck_assert_int_eq(sasl_client_start(c.conn, "SCRAM-SHA-256", NULL, &out, &outlen,
                                           &chosen), SASL_CONTINUE);
        ck_assert_int_eq(auth_peek_user("SCRAM-SHA-256", out, outlen, &user), 0);
        ck_assert_str_eq(user, wants[i]);
        free(user);
        test_client_close(&c);
    }
}
END_TEST

static const struct { const char *mech, *msg; size_t len; } bad_msgs[] = {
    { "SCRAM-SHA-1", "", 0 },
    { "SCRAM-SHA-1", "n", 1 },
    { "SCRAM-SHA-1", "n,,", 3 },
    { "SCRAM-SHA-1", "x,,n=user,r=abc", 15 },
    { "SCRAM-SHA-1", "n,,n=,r=abc", 11 },
    { "SCRAM-SHA-1", "n,,n=us=2Xer,r=abc", 18 },
    { "SCRAM-SHA-1", "n,,n=user", 9 },
    { "SCRAM-SHA-1", "n,,n=user,r=", 12 },
    { "SCRAM-SHA-1", "n,,n=us\0er,r=abc", 16 },
    { "SCRAM-SHA-1", "p=,,n=user,r=abc", 16 },
    { "SCRAM-SHA-1", "n,b=x,n=user,r=abc", 18 },
    { "SCRAM-SHA-1", "n,,m=ext,n=user,r=abc", 21 },
    { "PLAIN", "", 0 },
    { "PLAIN", "juliet", 6 },
    { "PLAIN", "\0juliet", 7 },
    { "PLAIN", "\0juliet\0", 8 },
    { "PLAIN", "\0\0secret", 8 },
    { "PLAIN", "\0juliet\0sec\0ret", 15 },
};

START_TEST(rejects_malformed_first_messages)
{
    char *user = (char *)"untouched";
    const char *out;
    size_t outlen;

    ck_assert_int_eq(auth_peek_user(bad_msgs[_i].mech, bad_msgs[_i].msg, bad_msgs[_i].len,
                                    &user), XE_PROTOCOL);
    ck_assert_ptr_null(user);

    /* Empty is a valid start without an initial response for SCRAM. */
    if (bad_msgs[_i].len == 0 && strcmp(bad_msgs[_i].mech, "PLAIN") != 0)
        return;
    auth_session *s = auth_session_new(TEST_DOMAIN, true, NULL);
    int rc = auth_start(s, bad_msgs[_i].mech, bad_msgs[_i].msg, bad_msgs[_i].len, &out,
                        &outlen);
    if (bad_msgs[_i].len == 0) {
        /* PLAIN without an initial response: the empty challenge, then garbage. */
        ck_assert_int_eq(rc, AUTH_CONTINUE);
        rc = auth_step(s, "junk", 4, &out, &outlen);
    }
    ck_assert_int_eq(rc, XE_PROTOCOL);
    ck_assert_int_eq(auth_failure(s), AUTH_COND_MALFORMED_REQUEST);
    auth_session_free(s);
}
END_TEST

static const char *const bad_finals[] = {
    "", "c", "c=", "x=biws,r=abc,p=abc", "c=biws", "c=biws,r=wrongnonce,p=AAAA",
    "c=!!!!,r=a,p=b", "c=biws,r=a,p=b,extra=1", "p=xyz",
};

START_TEST(survives_malformed_final_messages)
{
    scram_cred creds[2];
    static const char first[] = "n,,n=juliet,r=abcdefghijkl";
    const char *out;
    size_t outlen;
    auth_session *s = auth_session_new(TEST_DOMAIN, true, NULL);

    auth_session_set_credentials(s, TEST_USER, creds, test_creds(creds));
    ck_assert_int_eq(auth_start(s, "SCRAM-SHA-1", first, sizeof first - 1, &out, &outlen),
                     AUTH_CONTINUE);
    ck_assert_uint_gt(outlen, 0);
    int rc = auth_step(s, bad_finals[_i], strlen(bad_finals[_i]), &out, &outlen);
    ck_assert(rc == XE_PROTOCOL || rc == XE_AUTH);
    ck_assert_int_ne(auth_failure(s), AUTH_COND_NONE);
    /* A finished session refuses more input. */
    ck_assert_int_eq(auth_step(s, "c=biws", 6, &out, &outlen), XE_PROTOCOL);
    auth_session_free(s);
}
END_TEST

START_TEST(ignores_malformed_credentials)
{
    scram_cred creds[3];
    test_creds(creds);
    creds[2] = creds[0];
    strcpy(creds[0].stored_key, "not base64!");
    strcpy(creds[1].mech, "SCRAM-MD5");
    auth_session *s = auth_session_new(TEST_DOMAIN, true, NULL);

    ck_assert_int_eq(auth_session_set_credentials(s, TEST_USER, creds, 3), XE_PROTOCOL);
    auth_session_free(s);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("auth");
    TCase *exchange = tcase_create("exchange");
    TCase *parse = tcase_create("parse");
    size_t nmechs = sizeof all_mechs / sizeof all_mechs[0];

    tcase_add_checked_fixture(exchange, setup, teardown);
    tcase_set_timeout(exchange, 60);
    tcase_add_loop_test(exchange, accepts_the_right_password, 0, (int)nmechs);
    tcase_add_loop_test(exchange, refuses_a_wrong_password, 0, (int)nmechs);
    tcase_add_loop_test(exchange, refuses_an_unknown_user_like_a_wrong_password, 0, (int)nmechs);
    tcase_add_loop_test(exchange, accepts_the_bare_jid_as_authzid, 0, (int)nmechs);
    tcase_add_loop_test(exchange, accepts_the_bare_jid_as_authzid_in_any_prepared_form, 0,
                        (int)nmechs);
    tcase_add_loop_test(exchange, refuses_a_full_jid_as_authzid, 0, (int)nmechs);
    tcase_add_loop_test(exchange, refuses_another_authzid, 0, (int)nmechs);
    tcase_add_loop_test(exchange, plus_fails_on_a_mismatching_binding, 0, 2);
    tcase_add_test(exchange, plus_works_with_tls_server_end_point);
    tcase_add_test(exchange, offers_mechanisms_by_transport);
    tcase_add_test(exchange, refuses_mechanisms_not_offered);
    tcase_add_test(exchange, refuses_a_downgraded_scram_when_strict);
    tcase_add_test(exchange, goes_on_without_binding_for_a_y_flag_by_default);
    tcase_add_test(exchange, peeks_the_user_name_of_a_real_client);
    tcase_add_loop_test(exchange, rejects_malformed_first_messages, 0,
                        (int)(sizeof bad_msgs / sizeof bad_msgs[0]));
    tcase_add_loop_test(exchange, survives_malformed_final_messages, 0,
                        (int)(sizeof bad_finals / sizeof bad_finals[0]));
    tcase_add_test(exchange, ignores_malformed_credentials);
    suite_add_tcase(suite, exchange);

    tcase_add_loop_test(parse, peeks_the_user_name, 0, (int)(sizeof peeks / sizeof peeks[0]));
    suite_add_tcase(suite, parse);
    return suite;
}
