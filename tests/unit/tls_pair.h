/* SPDX-License-Identifier: MIT */
/* tests/unit/tls_pair.h: a client and a server TLS session wired to each
 * other in memory, and the contexts they use, made from the certificates of
 * testcert.h. Failures end the running Check test. */
#ifndef XMPPD_TESTS_TLS_PAIR_H
#define XMPPD_TESTS_TLS_PAIR_H
#include <stdbool.h>
#include <stddef.h>

#include "tests/unit/testcert.h"

#include "libcommon/buf.h"
#include "libcommon/tls.h"

/* The certificates every context below uses; valid between
 * tls_pair_certs_make() and tls_pair_certs_remove(). */
extern testcert tls_pair_certs;
void tls_pair_certs_make(void);   /* a Check fixture: fails if it cannot */
void tls_pair_certs_remove(void); /* a Check fixture */

/* The most ciphertext bytes one tls_session_feed() gets while pumping; a
 * test may lower it (1: byte by byte). SIZE_MAX, the default, is all. */
extern size_t tls_pair_feed_max;
/* Sides open their sessions as direct TLS (tls_session_new_direct(), with
 * the context's ALPN) while this is true; false, the default: STARTTLS. */
extern bool tls_pair_direct;

/* A new context from opts; fails the test with gnutls's reason if none. */
tls_ctx *tls_pair_ctx(const tls_ctx_opts *opts);
/* Options of a server with the server certificate (localhost, example.com)
 * and the given gnutls priorities (NULL: the default). */
tls_ctx_opts tls_pair_server_opts(const char *priorities);
tls_ctx *tls_pair_server_ctx(const char *priorities);
/* A client that verifies the server against the test CA. */
tls_ctx *tls_pair_client_ctx(const char *priorities);

/* One end. Ciphertext it sends waits in wire until tls_pair_pump() feeds it
 * to the other end, so no feed runs inside another end's send. */
typedef struct tls_pair_side {
    tls_session *s;
    buf wire;
    buf got; /* the plaintext received */
    int ready_count;
    int feed_err;               /* the first error a feed returned */
    bool echo;                  /* recv sends back what arrived */
    bool bye_on_recv;           /* recv calls tls_session_bye */
    struct tls_pair_side *peer; /* set: send feeds the peer at once, no wire */
} tls_pair_side;

/* A session of ctx on a new side; name as for tls_session_new(). */
void tls_pair_side_open(tls_pair_side *sd, tls_ctx *ctx, const char *name);
void tls_pair_side_close(tls_pair_side *sd); /* frees the session */
/* Fails the test unless sd received exactly text so far. */
void tls_pair_assert_got(const tls_pair_side *sd, const char *text);

/* A client and a server side and their contexts. */
typedef struct tls_pair {
    tls_ctx *cctx, *sctx;
    tls_pair_side client, server;
} tls_pair;

/* Opens both sides (the ClientHello waits on the client's wire) and takes
 * the contexts, which tls_pair_close() frees. name is the client's SNI. */
void tls_pair_start(tls_pair *p, tls_ctx *cctx, const char *name,
                    tls_ctx *sctx);
/* tls_pair_start(), then the handshake; its outcome is in the sides. */
void tls_pair_open(tls_pair *p, tls_ctx *cctx, const char *name, tls_ctx *sctx);
/* Moves ciphertext both ways until both ends are quiet. */
void tls_pair_pump(tls_pair *p);
/* Fails the test unless both ends finished the handshake once, cleanly. */
void tls_pair_assert_connected(const tls_pair *p);
/* tls_pair_open() between the usual client and server, and connected. */
void tls_pair_connect(tls_pair *p, const char *priorities, const char *name);
/* The client sends up and the server down (either may be NULL), then the
 * bytes are pumped. Fails the test if a send fails. */
void tls_pair_exchange(tls_pair *p, const char *up, const char *down);
/* Frees the sessions, and with free_ctx the contexts too. */
void tls_pair_end(tls_pair *p, bool free_ctx);
void tls_pair_close(tls_pair *p); /* tls_pair_end(p, true) */
#endif
