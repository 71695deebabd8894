/* SPDX-License-Identifier: MIT */
/* tests/unit/tls_tcp.h: a STARTTLS dialogue over a real TCP connection on the
 * loopback. The client asks for TLS in clear, the server says proceed, both
 * upgrade the same connection, and a ping and a pong cross inside TLS. */
#ifndef XMPPD_TESTS_TLS_TCP_H
#define XMPPD_TESTS_TLS_TCP_H
#include <stdbool.h>

#include "libcommon/tls.h"

typedef struct tls_tcp tls_tcp; /* one finished dialogue */

/* Runs the dialogue between a client of cctx, which asks for "localhost",
 * and a server of sctx, until it ends or 10 s pass. Fails the running Check
 * test if the loop or the sockets cannot be set up. Free with tls_tcp_free().
 */
tls_tcp *tls_tcp_starttls(tls_ctx *cctx, tls_ctx *sctx);
/* Why the dialogue broke off; "" when it went through. Valid while t lives. */
const char *tls_tcp_failure(const tls_tcp *t);
/* The line the client got over TLS; "" when none. Valid while t lives. */
const char *tls_tcp_result(const tls_tcp *t);
/* The client's or the server's TLS session; NULL if it never upgraded. */
tls_session *tls_tcp_session(const tls_tcp *t, bool is_server);
/* Frees the sessions and t; fails the test if a handle is left open. */
void tls_tcp_free(tls_tcp *t);
#endif
