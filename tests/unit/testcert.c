/* SPDX-License-Identifier: MIT */
/* tests/unit/testcert.c: a test CA and certificates it signs, made with
 * gnutls's X.509 API and written as PEM files. */
#include "tests/unit/testcert.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "libcommon/alloc.h"

/* RFC 6120 §13.7.1.4: id-on-xmppAddr. */
static const char testcert_oid_xmpp_addr[] = "1.3.6.1.5.5.7.8.5";

typedef struct testcert_spec {
    const char *dn;
    const char *const *dns_names; /* NULL-terminated; NULL for none */
    const char *xmpp_addr;        /* NULL for none */
    bool is_ca;
    bool for_server; /* extended key usage serverAuth */
    bool for_client; /* ... clientAuth */
} testcert_spec;

typedef struct testcert_pair {
    gnutls_x509_crt_t crt;
    gnutls_x509_privkey_t key;
} testcert_pair;

static int testcert_ok(int rc, const char *what)
{
    if (rc >= 0)
        return 0;
    fprintf(stderr, "testcert: %s: %s\n", what, gnutls_strerror(rc));
    return -1;
}

static void testcert_pair_free(testcert_pair *p)
{
    if (p->crt)
        gnutls_x509_crt_deinit(p->crt);
    if (p->key)
        gnutls_x509_privkey_deinit(p->key);
    p->crt = NULL;
    p->key = NULL;
}

static int testcert_set_ids(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
                            const testcert_pair *issuer)
{
    unsigned char id[64];
    size_t len = sizeof id;

    if (testcert_ok(gnutls_x509_privkey_get_key_id(key, 0, id, &len),
                    "key id") ||
        testcert_ok(gnutls_x509_crt_set_subject_key_id(crt, id, len),
                    "subject key id"))
        return -1;
    if (!issuer)
        return 0;
    len = sizeof id;
    unsigned int critical = 0;
    if (testcert_ok(gnutls_x509_crt_get_subject_key_id(issuer->crt, id, &len,
                                                       &critical),
                    "issuer key id") ||
        testcert_ok(gnutls_x509_crt_set_authority_key_id(crt, id, len),
                    "authority key id"))
        return -1;
    return 0;
}

static int testcert_set_names(gnutls_x509_crt_t crt, const testcert_spec *spec)
{
    for (const char *const *name = spec->dns_names; name && *name; name++) {
        if (testcert_ok(gnutls_x509_crt_set_subject_alt_name(
                            crt, GNUTLS_SAN_DNSNAME, *name,
                            (unsigned int)strlen(*name), GNUTLS_FSAN_APPEND),
                        "DNS name"))
            return -1;
    }
    if (spec->xmpp_addr &&
        testcert_ok(gnutls_x509_crt_set_subject_alt_othername(
                        crt, testcert_oid_xmpp_addr, spec->xmpp_addr,
                        (unsigned int)strlen(spec->xmpp_addr),
                        GNUTLS_FSAN_APPEND | GNUTLS_FSAN_ENCODE_UTF8_STRING),
                    "XmppAddr"))
        return -1;
    return 0;
}

static int testcert_set_usage(gnutls_x509_crt_t crt, const testcert_spec *spec)
{
    unsigned int usage = spec->is_ca
                             ? GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN
                             : GNUTLS_KEY_DIGITAL_SIGNATURE;
    if (testcert_ok(gnutls_x509_crt_set_basic_constraints(crt, spec->is_ca, -1),
                    "basic constraints") ||
        testcert_ok(gnutls_x509_crt_set_key_usage(crt, usage), "key usage"))
        return -1;
    if (spec->for_server && testcert_ok(gnutls_x509_crt_set_key_purpose_oid(
                                            crt, GNUTLS_KP_TLS_WWW_SERVER, 0),
                                        "serverAuth"))
        return -1;
    if (spec->for_client && testcert_ok(gnutls_x509_crt_set_key_purpose_oid(
                                            crt, GNUTLS_KP_TLS_WWW_CLIENT, 0),
                                        "clientAuth"))
        return -1;
    return 0;
}

/* A new key and a certificate for spec, signed by issuer or, when that is
 * NULL, by its own key. */
static int testcert_issue(const testcert_spec *spec,
                          const testcert_pair *issuer, testcert_pair *out)
{
    static unsigned char serial = 0;
    time_t now = time(NULL);
    const char *bad_dn = NULL;

    if (testcert_ok(gnutls_x509_privkey_init(&out->key), "key init") ||
        testcert_ok(gnutls_x509_privkey_generate(
                        out->key, GNUTLS_PK_ECDSA,
                        GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
                    "key generation") ||
        testcert_ok(gnutls_x509_crt_init(&out->crt), "certificate init"))
        return -1;
    gnutls_x509_crt_t crt = out->crt;
    serial++;
    if (testcert_ok(gnutls_x509_crt_set_version(crt, 3), "version") ||
        testcert_ok(gnutls_x509_crt_set_serial(crt, &serial, 1), "serial") ||
        testcert_ok(gnutls_x509_crt_set_activation_time(crt, now - 86400),
                    "activation") ||
        testcert_ok(gnutls_x509_crt_set_expiration_time(crt, now + 7 * 86400),
                    "expiration") ||
        testcert_ok(gnutls_x509_crt_set_dn(crt, spec->dn, &bad_dn), "DN") ||
        testcert_ok(gnutls_x509_crt_set_key(crt, out->key), "key") ||
        testcert_set_usage(crt, spec) || testcert_set_names(crt, spec) ||
        testcert_set_ids(crt, out->key, issuer))
        return -1;
    gnutls_x509_crt_t signer = issuer ? issuer->crt : crt;
    gnutls_x509_privkey_t signer_key = issuer ? issuer->key : out->key;
    return testcert_ok(
        gnutls_x509_crt_sign2(crt, signer, signer_key, GNUTLS_DIG_SHA256, 0),
        "signing");
}

static int testcert_write(const char *path, const gnutls_datum_t *pem)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    bool ok = fwrite(pem->data, 1, pem->size, f) == pem->size;
    ok = fclose(f) == 0 && ok;
    if (!ok)
        fprintf(stderr, "testcert: cannot write %s\n", path);
    return ok ? 0 : -1;
}

/* Writes pair's certificate to *cert_path, and its key to *key_path unless
 * that is NULL; both are named after stem in dir. */
static int testcert_save(const testcert_pair *pair, const char *dir,
                         const char *stem, char **cert_path, char **key_path)
{
    gnutls_datum_t pem = {0};

    *cert_path = xasprintf("%s/%s.pem", dir, stem);
    if (testcert_ok(
            gnutls_x509_crt_export2(pair->crt, GNUTLS_X509_FMT_PEM, &pem),
            "certificate export"))
        return -1;
    int rc = testcert_write(*cert_path, &pem);
    gnutls_free(pem.data);
    if (rc || !key_path)
        return rc;
    *key_path = xasprintf("%s/%s.key", dir, stem);
    if (testcert_ok(
            gnutls_x509_privkey_export2(pair->key, GNUTLS_X509_FMT_PEM, &pem),
            "key export"))
        return -1;
    rc = testcert_write(*key_path, &pem);
    gnutls_free(pem.data);
    return rc;
}

static int testcert_make_leaf(const testcert_spec *spec,
                              const testcert_pair *ca, const char *dir,
                              const char *stem, char **cert_path,
                              char **key_path)
{
    testcert_pair pair = {0};
    int rc = testcert_issue(spec, ca, &pair);
    if (rc == 0)
        rc = testcert_save(&pair, dir, stem, cert_path, key_path);
    testcert_pair_free(&pair);
    return rc;
}

int testcert_make(testcert *tc)
{
    static const char ca_dn[] = "CN=xmppd test CA,O=xmppd tests";
    static const char *const server_names[] = {"localhost", "example.com",
                                               NULL};
    static const char *const other_names[] = {"other.example", NULL};
    static const char *const client_names[] = {"client.example", NULL};
    static const char *const rogue_names[] = {
        "localhost", "example.com", "other.example", "client.example", NULL};
    const testcert_spec ca_spec = {.dn = ca_dn, .is_ca = true};
    const testcert_spec server_spec = {
        .dn = "CN=localhost",
        .dns_names = server_names,
        .xmpp_addr = "chat.example",
        .for_server = true,
        .for_client = true,
    };
    const testcert_spec other_spec = {
        .dn = "CN=other.example",
        .dns_names = other_names,
        .for_server = true,
        .for_client = true,
    };
    const testcert_spec client_spec = {
        .dn = "CN=client.example",
        .dns_names = client_names,
        .for_client = true,
    };
    const testcert_spec rogue_spec = {
        .dn = ca_dn,
        .dns_names = rogue_names,
        .xmpp_addr = "chat.example",
        .for_server = true,
        .for_client = true,
    };

    memset(tc, 0, sizeof *tc);
    const char *tmp = getenv("TMPDIR");
    tc->dir = xasprintf("%s/xmppd-testcert-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tc->dir)) {
        perror(tc->dir);
        free(tc->dir);
        tc->dir = NULL;
        return -1;
    }

    testcert_pair ca = {0};
    int rc = testcert_issue(&ca_spec, NULL, &ca);
    if (rc == 0)
        rc = testcert_save(&ca, tc->dir, "ca", &tc->ca_cert, NULL);
    if (rc == 0)
        rc = testcert_make_leaf(&server_spec, &ca, tc->dir, "server",
                                &tc->server_cert, &tc->server_key);
    if (rc == 0)
        rc = testcert_make_leaf(&other_spec, &ca, tc->dir, "other",
                                &tc->other_cert, &tc->other_key);
    if (rc == 0)
        rc = testcert_make_leaf(&client_spec, &ca, tc->dir, "client",
                                &tc->client_cert, &tc->client_key);
    if (rc == 0)
        rc = testcert_make_leaf(&rogue_spec, NULL, tc->dir, "rogue",
                                &tc->rogue_cert, &tc->rogue_key);
    testcert_pair_free(&ca);
    return rc;
}

static void testcert_unlink(char **path)
{
    if (*path)
        unlink(*path);
    free(*path);
    *path = NULL;
}

void testcert_remove(testcert *tc)
{
    char **paths[] = {
        &tc->ca_cert,    &tc->server_cert, &tc->server_key,
        &tc->other_cert, &tc->other_key,   &tc->client_cert,
        &tc->client_key, &tc->rogue_cert,  &tc->rogue_key,
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        testcert_unlink(paths[i]);
    if (tc->dir)
        rmdir(tc->dir);
    free(tc->dir);
    tc->dir = NULL;
}
