/* SPDX-License-Identifier: MIT */
/* tests/unit/testcert.h: throwaway X.509 certificates for tests, made at run
 * time in a temporary directory, so no private key lives in the repository. */
#ifndef XMPPD_TESTS_TESTCERT_H
#define XMPPD_TESTS_TESTCERT_H

/* PEM file paths; every key is ECDSA P-256, every certificate valid from a
 * day ago for a week. */
typedef struct testcert {
    char *dir;     /* the temporary directory */
    char *ca_cert; /* "CN=xmppd test CA", self-signed */
    /* DNS names localhost and example.com, XmppAddr chat.example; signed by
     * the CA; for TLS servers and clients. */
    char *server_cert, *server_key;
    char *other_cert, *other_key;   /* DNS other.example; signed by the CA */
    char *client_cert, *client_key; /* DNS client.example; signed by the CA */
    /* Self-signed, but with the CA's subject and every name above: passes a
     * glance, fails verification. */
    char *rogue_cert, *rogue_key;
} testcert;

/* Creates the directory and the files. Returns 0, or -1 after printing the
 * reason on stderr; either way testcert_remove() cleans up. */
int testcert_make(testcert *tc);
/* Deletes the files and the directory and frees the paths. */
void testcert_remove(testcert *tc);
#endif
