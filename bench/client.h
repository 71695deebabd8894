/* SPDX-License-Identifier: MIT */
/* bench/client.h: the pieces of xmppd-bench-client. client_load.c holds
 * main, the login phase and the report; client_conn.c a client's connection
 * (TCP, then TLS); client_login.c the XMPP login; client_scram.c SASL
 * SCRAM-SHA-1; client_msg.c the messaging phase; client_opts.c the command
 * line; client_pairs.c which server a client uses and who chats with whom. */
#ifndef XMPPD_BENCH_CLIENT_H
#define XMPPD_BENCH_CLIENT_H
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "bench/client_pairs.h"
#include "bench/frame.h"
#include "bench/hist.h"

typedef enum {
    ST_CONNECTING,
    ST_FEATURES_PLAIN, /* first header sent, waiting for <starttls/> offer */
    ST_STARTTLS,       /* <starttls/> sent, waiting for <proceed/> */
    ST_HANDSHAKE,      /* TLS handshake */
    ST_FEATURES_TLS,   /* header sent over TLS, waiting for mechanisms */
    ST_AUTH,           /* SCRAM exchange */
    ST_FEATURES_AUTH,  /* header sent after SASL, waiting for bind */
    ST_BIND,
    ST_SESSION,
    ST_ROSTER,
    ST_READY,
    ST_DEAD,
} client_state;

typedef enum { PH_LOGIN, PH_IDLE, PH_MSG, PH_DRAIN, PH_DONE } phase;

typedef struct client {
    uv_tcp_t tcp; /* first member: a handle pointer is the client */
    uv_connect_t connect;
    unsigned index;
    client_state state;
    bool is_tls, has_open, needs_session, is_closing;
    gnutls_session_t tls;
    char *rbuf; /* plaintext received, not yet framed */
    size_t rlen, rcap;
    char *cbuf; /* ciphertext received, not yet read by gnutls */
    size_t clen, cpos, ccap;
    char first_bare[96];
    char client_nonce[40];
    uint8_t server_sig[20];
    uint64_t t_start;
    /* messaging */
    long peer; /* -1: not in a pair */
    unsigned inflight;
    uint64_t sent;
    uint8_t *seen; /* per sequence number: times received */
    size_t seen_cap;
} client;

typedef struct opts {
    const char *host, *domain, *password, *name, *pids;
    const char *host2, *domain2; /* the second server (--port2) */
    int port, port2;
    unsigned clients, concurrency, pairs, window, payload;
    double idle_s, duration_s, timeout_s, warmup_s;
    bool is_verbose;
} opts;

/* The one run of the tool. */
typedef struct client_bench {
    uv_loop_t *loop;
    opts o;
    bench_sides sides;
    client *cl; /* o.clients of them */
    gnutls_certificate_credentials_t cred;
    phase ph;
    unsigned started, logged_in, failed, ready_now;
    uint64_t t_login0, t_login1, t_msg0, t_msg_end;
    hist login_h, msg_h;
    uint64_t msg_rx, msg_rx_window, msg_err, misrouted, bad_id;
    long rss_base_kb, rss_after_kb;
    uv_timer_t timer, guard;
    char *body; /* every message's body text */
} client_bench;

extern client_bench bench;

/* client_load.c */
/* Prints "xmppd-bench-client: " and the message on stderr, then exits. */
void bench_die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
/* The sum of VmRSS (kB) of the PIDs in the comma-separated list, or -1. */
long bench_rss_kb(const char *pids);
/* A login succeeded or failed: starts more, or ends the login phase. */
void bench_after_login_step(void);
/* Prints the report and stops the loop. */
void bench_finish(void);

/* client_conn.c */
/* Connects c to its server and sends the first stream header. */
void client_start(client *c);
/* Sends plaintext: in clear before STARTTLS, through TLS after. */
void client_send(client *c, const char *data, size_t len);
void client_send_str(client *c, const char *s);
/* Starts TLS on c's connection after <proceed/> (sends the ClientHello).
 * Returns false when gnutls cannot. */
bool client_tls_begin(client *c);
/* Reports why c failed (the first few, all with --verbose), closes it and
 * counts it; once per client. */
void client_fail(client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *client_domain(const client *c); /* its server's domain */
unsigned client_user(const client *c);      /* N of its user uN */

/* client_login.c */
/* Sends a stream header to c's domain and waits for the server's. */
void client_send_header(client *c);
/* Frames the plaintext in c->rbuf and acts on every whole element; keeps a
 * partial one for the next read. */
void client_process_xml(client *c);

/* client_scram.c */
/* Sends <auth mechanism='SCRAM-SHA-1'> with the client-first message. */
void scram_start(client *c);
/* Answers the server-first message in <challenge> f with the proof. */
void scram_challenge(client *c, const frame *f);
/* Checks the server signature in <success> f and restarts the stream. */
void scram_success(client *c, const frame *f);

/* client_msg.c */
/* A <message> f arrived at c: counts it, checks it and refills the
 * sender's window. */
void msg_receive(client *c, const frame *f);
/* The idle time is over: reads the servers' memory, pairs the logged-in
 * clients and starts the messaging phase, or finishes. */
void msg_begin(uv_timer_t *t);

/* client_opts.c */
/* Fills bench.o and bench.sides from the command line; exits after --help
 * (0) or a usage error (1). */
void client_opts_parse(int argc, char **argv);
#endif
