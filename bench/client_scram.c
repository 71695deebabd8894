/* SPDX-License-Identifier: MIT */
/* bench/client_scram.c: SASL SCRAM-SHA-1 (RFC 5802) for xmppd-bench-client,
 * computed with gnutls: gs2 header "n,,", no channel binding; the server's
 * signature is checked. */
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/client.h"

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Writes the base64 of in[0..n) and a NUL to out; returns its length. */
static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = b64_chars[(v >> 18) & 63];
        out[o++] = b64_chars[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64_chars[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64_chars[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static int b64_value(char ch)
{
    const char *p = ch ? strchr(b64_chars, ch) : NULL;
    return p ? (int)(p - b64_chars) : -1;
}

/* Decodes in[0..n) into out (at least n bytes); returns the length, or -1.
 * Whitespace is skipped. */
static long b64_decode(const char *in, size_t n, uint8_t *out)
{
    uint32_t acc = 0;
    int bits = 0;
    long o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = in[i];
        if (ch == '=' || ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
            continue;
        int v = b64_value(ch);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return o;
}

/* Decodes the base64 text of f into out (cap bytes) as a string. Returns
 * false when it is empty, too long or not base64. */
static bool scram_decode(const frame *f, char *out, size_t cap)
{
    size_t len;
    const char *text = frame_text(f, &len);
    if (len >= cap)
        return false;
    long n = b64_decode(text, len, (uint8_t *)out);
    if (n <= 0)
        return false;
    out[n] = '\0';
    return true;
}

static void hmac_sha1(const void *key, size_t klen, const void *msg,
                      size_t mlen, uint8_t out[20])
{
    gnutls_hmac_fast(GNUTLS_MAC_SHA1, key, klen, msg, mlen, out);
}

void scram_start(client *c)
{
    uint8_t rnd[18];
    char out[512], b64[256];
    gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof rnd);
    b64_encode(rnd, sizeof rnd, c->client_nonce);
    snprintf(c->first_bare, sizeof c->first_bare, "n=u%u,r=%s", client_user(c),
             c->client_nonce);
    char first[128];
    int n = snprintf(first, sizeof first, "n,,%s", c->first_bare);
    b64_encode((const uint8_t *)first, (size_t)n, b64);
    snprintf(out, sizeof out,
             "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
             "mechanism='SCRAM-SHA-1'>%s</auth>",
             b64);
    client_send_str(c, out);
    c->state = ST_AUTH;
}

void scram_challenge(client *c, const frame *f)
{
    char sfirst[512];
    if (!scram_decode(f, sfirst, sizeof sfirst))
        return client_fail(c, "bad SCRAM server-first message");
    const char *nonce = NULL, *salt = NULL;
    size_t nonce_len = 0, salt_len = 0;
    unsigned long iter = 0;
    for (char *p = sfirst; *p;) {
        char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len > 2 && p[1] == '=') {
            if (p[0] == 'r')
                nonce = p + 2, nonce_len = len - 2;
            else if (p[0] == 's')
                salt = p + 2, salt_len = len - 2;
            else if (p[0] == 'i')
                iter = strtoul(p + 2, NULL, 10);
        }
        p = comma ? comma + 1 : p + len;
    }
    size_t cn = strlen(c->client_nonce);
    if (!nonce || !salt || !iter || nonce_len <= cn ||
        memcmp(nonce, c->client_nonce, cn) != 0)
        return client_fail(c, "bad SCRAM server-first message");
    uint8_t salt_bin[128];
    if (salt_len > sizeof salt_bin)
        return client_fail(c, "SCRAM salt too long");
    long sl = b64_decode(salt, salt_len, salt_bin);
    if (sl <= 0)
        return client_fail(c, "bad SCRAM salt");

    uint8_t salted[20], ckey[20], skey[20], stored[20], csig[20], proof[20];
    gnutls_datum_t key = {(unsigned char *)bench.o.password,
                          (unsigned)strlen(bench.o.password)};
    gnutls_datum_t sd = {salt_bin, (unsigned)sl};
    if (gnutls_pbkdf2(GNUTLS_MAC_SHA1, &key, &sd, (unsigned)iter, salted, 20))
        return client_fail(c, "PBKDF2 failed");
    hmac_sha1(salted, 20, "Client Key", 10, ckey);
    gnutls_hash_fast(GNUTLS_DIG_SHA1, ckey, 20, stored);
    hmac_sha1(salted, 20, "Server Key", 10, skey);

    char without_proof[256], auth_msg[1024];
    int wl = snprintf(without_proof, sizeof without_proof, "c=biws,r=%.*s",
                      (int)nonce_len, nonce);
    int al = snprintf(auth_msg, sizeof auth_msg, "%s,%s,%s", c->first_bare,
                      sfirst, without_proof);
    if (wl <= 0 || (size_t)wl >= sizeof without_proof || al <= 0 ||
        (size_t)al >= sizeof auth_msg)
        return client_fail(c, "SCRAM message too long");
    hmac_sha1(stored, 20, auth_msg, (size_t)al, csig);
    hmac_sha1(skey, 20, auth_msg, (size_t)al, c->server_sig);
    for (int i = 0; i < 20; i++)
        proof[i] = ckey[i] ^ csig[i];

    char final[512], proof64[40], b64[700], out[800];
    b64_encode(proof, 20, proof64);
    int fl =
        snprintf(final, sizeof final, "%.300s,p=%s", without_proof, proof64);
    b64_encode((const uint8_t *) final, (size_t)fl, b64);
    snprintf(out, sizeof out,
             "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</response>",
             b64);
    client_send_str(c, out);
}

void scram_success(client *c, const frame *f)
{
    size_t tlen;
    frame_text(f, &tlen);
    if (tlen) { /* RFC 6120 §6.3.10: the server-final may come with success */
        char dec[256], want[64];
        if (!scram_decode(f, dec, sizeof dec))
            return client_fail(c, "bad SCRAM server-final message");
        want[0] = 'v', want[1] = '=';
        b64_encode(c->server_sig, 20, want + 2);
        if (strcmp(dec, want) != 0)
            return client_fail(c, "server signature mismatch");
    }
    c->state = ST_FEATURES_AUTH;
    client_send_header(c);
}
