/* SPDX-License-Identifier: MIT */
/* bench/client_load.c: xmppd-bench-client, a client-to-server load tool.
 * It logs in N clients the way an ordinary client does (stream header,
 * STARTTLS, TLS, SASL SCRAM-SHA-1 without channel binding, resource bind,
 * roster get, initial presence), at most C logins in flight; keeps them
 * idle for a while and reads the servers' resident memory; then lets P
 * pairs of them exchange chat messages, each sender with a window of W
 * messages in flight, and checks that every message arrives exactly once.
 * It frames XML with bench/frame.c and links nothing of xmppd's. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <getopt.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static struct {
    uv_loop_t *loop;
    opts o;
    bench_sides sides;
    client *cl;
    gnutls_certificate_credentials_t cred;
    phase ph;
    unsigned started, logged_in, failed, ready_now;
    uint64_t t_login0, t_login1, t_msg0, t_msg_end;
    hist login_h, msg_h;
    uint64_t msg_rx, msg_rx_window, msg_err, misrouted, bad_id;
    long rss_base_kb, rss_after_kb;
    uv_timer_t timer, guard;
    char *body;
} g;

/* --- output ------------------------------------------------------------ */

static void die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("xmppd-bench-client: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

/* --- base64 ------------------------------------------------------------ */

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

/* --- memory ------------------------------------------------------------ */

/* The sum of VmRSS (kB) of the PIDs in the comma-separated list, or -1. */
static long rss_sum_kb(const char *pids)
{
    if (!pids || !*pids)
        return -1;
    long sum = 0;
    const char *p = pids;
    while (*p) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p)
            return -1;
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%ld/status", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            return -1;
        long kb = -1;
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "VmRSS:", 6) == 0) {
                kb = strtol(line + 6, NULL, 10);
                break;
            }
        fclose(f);
        if (kb < 0)
            return -1;
        sum += kb;
        p = *end == ',' ? end + 1 : end;
    }
    return sum;
}

/* --- sending ----------------------------------------------------------- */

typedef struct wreq {
    uv_write_t req;
    char data[];
} wreq;

static void client_fail(client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void on_written(uv_write_t *req, int status)
{
    (void)status; /* a failed write shows up as a failed read */
    free(req);
}

static void send_raw(client *c, const char *data, size_t len)
{
    if (c->is_closing)
        return;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)len)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        client_fail(c, "write: %s", uv_strerror(n));
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    wreq *w = malloc(sizeof *w + len - done);
    if (!w)
        die(2, "out of memory");
    memcpy(w->data, data + done, len - done);
    b = uv_buf_init(w->data, (unsigned)(len - done));
    int err = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (err) {
        free(w);
        client_fail(c, "write: %s", uv_strerror(err));
    }
}

static void send_plain(client *c, const char *data, size_t len)
{
    if (!c->is_tls) {
        send_raw(c, data, len);
        return;
    }
    while (len && !c->is_closing) {
        ssize_t r = gnutls_record_send(c->tls, data, len);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
            continue;
        if (r < 0) {
            client_fail(c, "TLS send: %s", gnutls_strerror((int)r));
            return;
        }
        data += r;
        len -= (size_t)r;
    }
}

static void send_str(client *c, const char *s)
{
    send_plain(c, s, strlen(s));
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
    send_raw(ptr, data, len);
    return (ssize_t)len;
}

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
    client *c = ptr;
    size_t have = c->clen - c->cpos;
    if (!have) {
        gnutls_transport_set_errno(c->tls, EAGAIN);
        return -1;
    }
    if (len > have)
        len = have;
    memcpy(data, c->cbuf + c->cpos, len);
    c->cpos += len;
    return (ssize_t)len;
}

static int tls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
    client *c = ptr;
    (void)ms;
    return c->clen > c->cpos ? 1 : 0;
}

/* --- phases ------------------------------------------------------------ */

static void start_next(void);
static void client_start(client *c);
static void msg_fill(client *c);

static void on_closed(uv_handle_t *h)
{
    client *c = (client *)h;
    free(c->rbuf);
    free(c->cbuf);
    c->rbuf = c->cbuf = NULL;
    c->rlen = c->rcap = c->clen = c->cpos = c->ccap = 0;
    if (c->tls) {
        gnutls_deinit(c->tls);
        c->tls = NULL;
    }
}

static void client_close(client *c)
{
    if (c->is_closing)
        return;
    c->is_closing = true;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void login_finished(void)
{
    g.t_login1 = uv_hrtime();
    g.ph = PH_IDLE;
    fprintf(stderr, "logins: %u done, %u failed in %.2f s\n", g.logged_in,
            g.failed, (double)(g.t_login1 - g.t_login0) / 1e9);
}

static void idle_done(uv_timer_t *t);

static void after_login_step(void)
{
    if (g.ph == PH_LOGIN && g.logged_in + g.failed == g.o.clients) {
        login_finished();
        uv_timer_start(&g.timer, idle_done, (uint64_t)(g.o.idle_s * 1000), 0);
    } else {
        start_next();
    }
}

static void client_fail(client *c, const char *fmt, ...)
{
    if (c->state == ST_DEAD)
        return;
    bool was_ready = c->state == ST_READY;
    if (g.o.is_verbose || g.failed < 5 || was_ready) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "xmppd-bench-client: u%u: ", c->index);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    c->state = ST_DEAD;
    client_close(c);
    if (was_ready) {
        g.ready_now--;
        return;
    }
    g.failed++;
    after_login_step();
}

/* --- XMPP -------------------------------------------------------------- */

static const char *client_domain(const client *c)
{
    unsigned user;
    return sides_server(&g.sides, c->index, &user)->domain;
}

static unsigned client_user(const client *c)
{
    unsigned user;
    sides_server(&g.sides, c->index, &user);
    return user;
}

static void send_header(client *c)
{
    char buf[256];
    snprintf(buf, sizeof buf,
             "<?xml version='1.0'?><stream:stream to='%s' version='1.0' "
             "xmlns='jabber:client' "
             "xmlns:stream='http://etherx.jabber.org/streams'>",
             client_domain(c));
    c->has_open = false;
    send_str(c, buf);
}

static bool frame_has(const frame *f, const char *s)
{
    return memmem(f->start, f->len, s, strlen(s)) != NULL;
}

static bool attr_is(const frame *f, const char *name, const char *want)
{
    const char *v;
    size_t n;
    return frame_attr(f, name, &v, &n) && n == strlen(want) &&
           memcmp(v, want, n) == 0;
}

/* The text between the start and end tags of f (empty for <x/>). */
static const char *frame_text(const frame *f, size_t *len)
{
    const char *gt = memchr(f->start, '>', f->len);
    const char *end = f->start + f->len;
    *len = 0;
    if (!gt || gt[-1] == '/')
        return gt ? gt : f->start;
    const char *lt = end;
    while (lt > gt && *lt != '<')
        lt--;
    *len = (size_t)(lt - gt - 1);
    return gt + 1;
}

static void hmac_sha1(const void *key, size_t klen, const void *msg,
                      size_t mlen, uint8_t out[20])
{
    gnutls_hmac_fast(GNUTLS_MAC_SHA1, key, klen, msg, mlen, out);
}

static void sasl_start(client *c)
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
    send_str(c, out);
    c->state = ST_AUTH;
}

static void sasl_challenge(client *c, const frame *f)
{
    size_t tlen;
    const char *text = frame_text(f, &tlen);
    char sfirst[512];
    if (tlen >= sizeof sfirst)
        return client_fail(c, "SCRAM challenge too long");
    long n = b64_decode(text, tlen, (uint8_t *)sfirst);
    if (n <= 0)
        return client_fail(c, "SCRAM challenge is not base64");
    sfirst[n] = '\0';
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
    gnutls_datum_t key = {(unsigned char *)g.o.password,
                          (unsigned)strlen(g.o.password)};
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
    int fl = snprintf(final, sizeof final, "%.300s,p=%s", without_proof,
                      proof64);
    b64_encode((const uint8_t *)final, (size_t)fl, b64);
    snprintf(out, sizeof out,
             "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</response>",
             b64);
    send_str(c, out);
}

static void sasl_success(client *c, const frame *f)
{
    size_t tlen;
    const char *text = frame_text(f, &tlen);
    if (tlen) {
        char dec[256], want[64];
        if (tlen >= sizeof dec)
            return client_fail(c, "SCRAM server-final too long");
        long n = b64_decode(text, tlen, (uint8_t *)dec);
        if (n <= 0)
            return client_fail(c, "bad SCRAM server-final");
        dec[n] = '\0';
        want[0] = 'v', want[1] = '=';
        b64_encode(c->server_sig, 20, want + 2);
        if (strcmp(dec, want) != 0)
            return client_fail(c, "server signature mismatch");
    }
    c->state = ST_FEATURES_AUTH;
    send_header(c);
}

static void send_roster_get(client *c)
{
    send_str(c, "<iq type='get' id='roster1'>"
                "<query xmlns='jabber:iq:roster'/></iq>");
    c->state = ST_ROSTER;
}

static void login_done(client *c)
{
    send_str(c, "<presence/>");
    if (c->state == ST_DEAD)
        return;
    c->state = ST_READY;
    hist_add(&g.login_h, uv_hrtime() - c->t_start);
    g.logged_in++;
    g.ready_now++;
    after_login_step();
}

static bool tls_begin(client *c)
{
    int err = gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
    if (err)
        return false;
    gnutls_set_default_priority(c->tls);
    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, g.cred);
    const char *domain = client_domain(c);
    gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, domain, strlen(domain));
    gnutls_transport_set_ptr(c->tls, c);
    gnutls_transport_set_push_function(c->tls, tls_push);
    gnutls_transport_set_pull_function(c->tls, tls_pull);
    gnutls_transport_set_pull_timeout_function(c->tls, tls_pull_timeout);
    c->is_tls = true;
    c->state = ST_HANDSHAKE;
    c->rlen = 0;
    err = gnutls_handshake(c->tls); /* sends the ClientHello */
    return err == GNUTLS_E_AGAIN || err == 0;
}

/* Parses "S-Q-T" (hex) into sender, sequence and send time. */
static bool parse_id(const char *s, size_t len, uint64_t v[3])
{
    int k = 0;
    v[0] = v[1] = v[2] = 0;
    bool any = false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '-') {
            if (!any || ++k > 2)
                return false;
            any = false;
            continue;
        }
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                         : -1;
        if (d < 0)
            return false;
        v[k] = v[k] * 16 + (uint64_t)d;
        any = true;
    }
    return k == 2 && any;
}

static void on_message(client *c, const frame *f)
{
    const char *id;
    size_t id_len;
    uint64_t v[3];
    if (!frame_attr(f, "id", &id, &id_len) || !parse_id(id, id_len, v) ||
        v[0] >= g.o.clients) {
        g.bad_id++;
        return;
    }
    client *s = &g.cl[v[0]];
    if (s->inflight)
        s->inflight--;
    if (attr_is(f, "type", "error")) {
        g.msg_err++;
        return;
    }
    if (s->peer != (long)c->index) {
        g.misrouted++;
        return;
    }
    uint64_t now = uv_hrtime();
    if (v[1] >= s->seen_cap) {
        g.bad_id++;
        return;
    }
    s->seen[v[1]]++;
    g.msg_rx++;
    if (now >= v[2] && v[2] >= g.t_msg0) /* not during the warmup */
        hist_add(&g.msg_h, now - v[2]);
    if (g.ph == PH_MSG && now >= g.t_msg0 && now <= g.t_msg_end)
        g.msg_rx_window++;
    unsigned refill = g.o.window > 1 ? g.o.window / 2 : 0;
    if (g.ph == PH_MSG && s->inflight <= refill)
        msg_fill(s);
}

static void on_element(client *c, const frame *f)
{
    if (frame_is(f, "stream:error")) {
        size_t n;
        const char *cond = frame_first_child(f, &n);
        return client_fail(c, "stream error %.*s", cond ? (int)n : 1,
                           cond ? cond : "?");
    }
    switch (c->state) {
    case ST_FEATURES_PLAIN:
        if (!frame_is(f, "stream:features"))
            return;
        if (!frame_has(f, "urn:ietf:params:xml:ns:xmpp-tls"))
            return client_fail(c, "no STARTTLS offered");
        send_str(c, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        c->state = ST_STARTTLS;
        return;
    case ST_STARTTLS:
        if (!frame_is(f, "proceed"))
            return client_fail(c, "STARTTLS refused");
        if (!tls_begin(c))
            return client_fail(c, "TLS start failed");
        return;
    case ST_FEATURES_TLS:
        if (!frame_is(f, "stream:features"))
            return;
        if (!frame_has(f, ">SCRAM-SHA-1<"))
            return client_fail(c, "SCRAM-SHA-1 not offered");
        return sasl_start(c);
    case ST_AUTH:
        if (frame_is(f, "challenge"))
            return sasl_challenge(c, f);
        if (frame_is(f, "success"))
            return sasl_success(c, f);
        return client_fail(c, "SASL failed: %.*s", (int)f->len, f->start);
    case ST_FEATURES_AUTH: {
        if (!frame_is(f, "stream:features"))
            return;
        c->needs_session =
            frame_has(f, "urn:ietf:params:xml:ns:xmpp-session") &&
            !frame_has(f, "<optional");
        send_str(c, "<iq type='set' id='bind1'><bind "
                    "xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                    "<resource>r</resource></bind></iq>");
        c->state = ST_BIND;
        return;
    }
    case ST_BIND:
    case ST_SESSION:
    case ST_ROSTER:
        if (!frame_is(f, "iq"))
            return;
        if (!attr_is(f, "type", "result"))
            return client_fail(c, "iq failed: %.*s", (int)f->len, f->start);
        if (c->state == ST_BIND && c->needs_session) {
            send_str(c, "<iq type='set' id='sess1'><session "
                        "xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
            c->state = ST_SESSION;
        } else if (c->state == ST_ROSTER) {
            login_done(c);
        } else {
            send_roster_get(c);
        }
        return;
    case ST_READY:
        if (frame_is(f, "message"))
            on_message(c, f);
        return;
    default:
        return;
    }
}

static void process_plain(client *c)
{
    size_t pos = 0;
    frame f;
    while (c->state != ST_DEAD) {
        frame_kind k = frame_next(c->rbuf, c->rlen, &pos, c->has_open, &f);
        if (k == FRAME_MORE)
            break;
        if (k == FRAME_OPEN) {
            c->has_open = true;
        } else if (k == FRAME_ELEMENT) {
            bool was_plain = !c->is_tls;
            on_element(c, &f);
            if (was_plain && c->is_tls)
                return; /* rlen was reset by tls_begin() */
        } else if (k == FRAME_CLOSE) {
            return client_fail(c, "server closed the stream");
        } else {
            return client_fail(c, "cannot frame the server's XML");
        }
    }
    if (c->state == ST_DEAD)
        return;
    if (pos) {
        memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
        c->rlen -= pos;
    }
}

static void grow(char **buf, size_t *cap, size_t need)
{
    if (*cap >= need)
        return;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    char *p = realloc(*buf, n);
    if (!p)
        die(2, "out of memory");
    *buf = p;
    *cap = n;
}

static void process_tls(client *c)
{
    if (c->state == ST_HANDSHAKE) {
        int r = gnutls_handshake(c->tls);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
            goto compact;
        if (r < 0 && gnutls_error_is_fatal(r))
            return client_fail(c, "TLS handshake: %s", gnutls_strerror(r));
        if (r < 0)
            goto compact;
        c->state = ST_FEATURES_TLS;
        send_header(c);
    }
    while (c->state != ST_DEAD) {
        grow(&c->rbuf, &c->rcap, c->rlen + 16384);
        ssize_t r = gnutls_record_recv(c->tls, c->rbuf + c->rlen,
                                       c->rcap - c->rlen);
        if (r > 0) {
            c->rlen += (size_t)r;
            continue;
        }
        if (r == 0)
            return client_fail(c, "TLS closed by the server");
        /* After a post-handshake message (a TLS 1.3 session ticket, as
         * OpenSSL servers send) gnutls says "again" although more records
         * may be buffered: read on until the ciphertext is used up. */
        if (r == GNUTLS_E_AGAIN && c->cpos == c->clen)
            break;
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED ||
            !gnutls_error_is_fatal((int)r))
            continue;
        return client_fail(c, "TLS receive: %s", gnutls_strerror((int)r));
    }
    if (c->state == ST_DEAD)
        return;
    process_plain(c);
compact:
    if (c->cpos == c->clen) {
        c->cpos = c->clen = 0;
    } else if (c->cpos) {
        memmove(c->cbuf, c->cbuf + c->cpos, c->clen - c->cpos);
        c->clen -= c->cpos;
        c->cpos = 0;
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    client *c = (client *)h;
    (void)hint;
    if (c->is_tls) {
        grow(&c->cbuf, &c->ccap, c->clen + 65536);
        *buf = uv_buf_init(c->cbuf + c->clen, (unsigned)(c->ccap - c->clen));
    } else {
        grow(&c->rbuf, &c->rcap, c->rlen + 16384);
        *buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    client *c = (client *)s;
    (void)buf;
    if (c->state == ST_DEAD)
        return;
    if (nread < 0)
        return client_fail(c, "read: %s", nread == UV_EOF
                                              ? "connection closed"
                                              : uv_strerror((int)nread));
    if (nread == 0)
        return;
    if (c->is_tls) {
        c->clen += (size_t)nread;
        process_tls(c);
    } else {
        c->rlen += (size_t)nread;
        process_plain(c);
    }
}

static void on_connected(uv_connect_t *req, int status)
{
    client *c = req->data;
    if (status)
        return client_fail(c, "connect: %s", uv_strerror(status));
    uv_tcp_nodelay(&c->tcp, 1);
    int err = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (err)
        return client_fail(c, "read: %s", uv_strerror(err));
    c->state = ST_FEATURES_PLAIN;
    send_header(c);
}

static void client_start(client *c)
{
    struct sockaddr_in addr;
    unsigned user;
    const bench_server *srv = sides_server(&g.sides, c->index, &user);
    uv_ip4_addr(srv->host, srv->port, &addr);
    c->t_start = uv_hrtime();
    c->state = ST_CONNECTING;
    uv_tcp_init(g.loop, &c->tcp);
    c->connect.data = c;
    int err = uv_tcp_connect(&c->connect, &c->tcp,
                             (const struct sockaddr *)&addr, on_connected);
    if (err)
        client_fail(c, "connect: %s", uv_strerror(err));
}

static void start_next(void)
{
    while (g.ph == PH_LOGIN && g.started < g.o.clients &&
           g.started - g.logged_in - g.failed < g.o.concurrency)
        client_start(&g.cl[g.started++]);
}

/* --- messages ---------------------------------------------------------- */

static void msg_fill(client *c)
{
    if (c->peer < 0 || c->state != ST_READY)
        return;
    char buf[65536];
    size_t len = 0;
    uint64_t now = uv_hrtime();
    const client *to = &g.cl[c->peer];
    unsigned to_user = client_user(to);
    const char *to_domain = client_domain(to);
    while (c->inflight < g.o.window) {
        if (c->sent >= c->seen_cap) {
            size_t n = c->seen_cap ? c->seen_cap * 2 : 1024;
            uint8_t *p = realloc(c->seen, n);
            if (!p)
                die(2, "out of memory");
            memset(p + c->seen_cap, 0, n - c->seen_cap);
            c->seen = p;
            c->seen_cap = n;
        }
        if (len + 256 + g.o.payload > sizeof buf) {
            send_plain(c, buf, len);
            len = 0;
        }
        int n = snprintf(buf + len, sizeof buf - len,
                         "<message to='u%ld@%s/r' id='%x-%" PRIx64 "-%" PRIx64
                         "' type='chat'><body>%s</body></message>",
                         (long)to_user, to_domain, c->index, c->sent, now,
                         g.body);
        len += (size_t)n;
        c->sent++;
        c->inflight++;
    }
    if (len)
        send_plain(c, buf, len);
}

static void report(void)
{
    uint64_t sent = 0, lost = 0, dup = 0;
    unsigned senders = 0;
    for (unsigned i = 0; i < g.o.clients; i++) {
        client *c = &g.cl[i];
        if (c->peer < 0)
            continue;
        senders++;
        sent += c->sent;
        for (uint64_t q = 0; q < c->sent; q++) {
            if (c->seen[q] == 0)
                lost++;
            else if (c->seen[q] > 1)
                dup += c->seen[q] - 1u;
        }
    }
    double login_s = (double)(g.t_login1 - g.t_login0) / 1e9;
    double lps = login_s > 0 ? g.logged_in / login_s : 0;
    char mem[32] = "NA", base[32] = "NA", after[32] = "NA";
    if (g.rss_base_kb >= 0 && g.rss_after_kb >= 0 && g.logged_in) {
        snprintf(mem, sizeof mem, "%.1f",
                 (double)(g.rss_after_kb - g.rss_base_kb) / g.logged_in);
        snprintf(base, sizeof base, "%ld", g.rss_base_kb);
        snprintf(after, sizeof after, "%ld", g.rss_after_kb);
    }
    double mps = g.o.duration_s > 0 ? g.msg_rx_window / g.o.duration_s : 0;
    printf("%s: %u of %u logged in in %.2f s: %.0f logins/s, "
           "p50 %.2f ms, p99 %.2f ms\n",
           g.o.name, g.logged_in, g.o.clients, login_s, lps,
           hist_quantile_ns(&g.login_h, 0.5) / 1e6,
           hist_quantile_ns(&g.login_h, 0.99) / 1e6);
    printf("%s: server RSS %s kB idle, %s kB with %u clients: %s kB per "
           "connection\n",
           g.o.name, base, after, g.logged_in, mem);
    printf("%s: %u senders, window %u: %.0f messages/s, p50 %.1f us, "
           "p99 %.1f us; sent %" PRIu64 ", received %" PRIu64 ", lost %" PRIu64
           ", duplicated %" PRIu64 ", errors %" PRIu64 ", misrouted %" PRIu64
           "\n",
           g.o.name, senders, g.o.window, mps,
           hist_quantile_ns(&g.msg_h, 0.5) / 1e3,
           hist_quantile_ns(&g.msg_h, 0.99) / 1e3, sent, g.msg_rx, lost, dup,
           g.msg_err, g.misrouted + g.bad_id);
    bool ok = g.logged_in == g.o.clients && lost == 0 && dup == 0 &&
              g.msg_err == 0 && g.misrouted == 0 && g.bad_id == 0 &&
              g.ready_now == g.logged_in;
    printf("RESULT name=%s clients=%u logged_in=%u logins_per_s=%.1f "
           "login_p50_ms=%.2f login_p99_ms=%.2f rss_base_kb=%s "
           "rss_after_kb=%s kb_per_conn=%s senders=%u msgs_per_s=%.1f "
           "msg_p50_us=%.1f msg_p99_us=%.1f sent=%" PRIu64 " received=%" PRIu64
           " lost=%" PRIu64 " dup=%" PRIu64 " zero_loss=%s\n",
           g.o.name, g.o.clients, g.logged_in, lps,
           hist_quantile_ns(&g.login_h, 0.5) / 1e6,
           hist_quantile_ns(&g.login_h, 0.99) / 1e6, base, after, mem, senders,
           mps, hist_quantile_ns(&g.msg_h, 0.5) / 1e3,
           hist_quantile_ns(&g.msg_h, 0.99) / 1e3, sent, g.msg_rx, lost, dup,
           ok ? "yes" : "no");
    fflush(stdout);
}

static void finish(void)
{
    g.ph = PH_DONE;
    report();
    uv_stop(g.loop);
}

static void drain_check(uv_timer_t *t);

static void drain_check(uv_timer_t *t)
{
    bool empty = true;
    for (unsigned i = 0; i < g.o.clients && empty; i++)
        if (g.cl[i].peer >= 0 && g.cl[i].state == ST_READY &&
            g.cl[i].inflight)
            empty = false;
    if (empty || uv_hrtime() > g.t_msg_end + 5000000000ull) {
        uv_timer_stop(t);
        finish();
    }
}

static void msg_done(uv_timer_t *t)
{
    g.ph = PH_DRAIN;
    uv_timer_start(t, drain_check, 10, 10);
}

static void idle_done(uv_timer_t *t)
{
    g.rss_after_kb = rss_sum_kb(g.o.pids);
    unsigned pairs = g.o.pairs;
    if (pairs > g.logged_in / 2)
        pairs = g.logged_in / 2;
    /* pair k: the k-th and (k + pairs)-th logged-in clients */
    unsigned *ready = malloc(sizeof *ready * (g.o.clients + 1));
    if (!ready)
        die(2, "out of memory");
    unsigned nr = 0;
    for (unsigned i = 0; i < g.o.clients; i++)
        if (g.cl[i].state == ST_READY)
            ready[nr++] = i;
    if (g.sides.is_cross) {
        bool *is_ready = calloc(g.o.clients, sizeof *is_ready);
        long *peer = malloc(sizeof *peer * g.o.clients);
        if (!is_ready || !peer)
            die(2, "out of memory");
        for (unsigned k = 0; k < nr; k++)
            is_ready[ready[k]] = true;
        for (unsigned i = 0; i < g.o.clients; i++)
            peer[i] = -1;
        pairs = sides_pair(&g.sides, is_ready, g.o.pairs, peer);
        for (unsigned i = 0; i < g.o.clients; i++)
            g.cl[i].peer = peer[i];
        free(is_ready);
        free(peer);
    } else {
        for (unsigned k = 0; k < pairs && k + pairs < nr; k++) {
            client *a = &g.cl[ready[k]], *b = &g.cl[ready[k + pairs]];
            a->peer = b->index;
            b->peer = a->index;
        }
    }
    free(ready);
    if (!pairs || g.o.duration_s <= 0)
        return finish();
    g.ph = PH_MSG;
    /* messages sent and received during the warmup are checked for loss
       but count neither in the rate nor in the latency */
    g.t_msg0 = uv_hrtime() + (uint64_t)(g.o.warmup_s * 1e9);
    g.t_msg_end = g.t_msg0 + (uint64_t)(g.o.duration_s * 1e9);
    for (unsigned i = 0; i < g.o.clients; i++)
        msg_fill(&g.cl[i]);
    uv_timer_start(t, msg_done,
                   (uint64_t)((g.o.warmup_s + g.o.duration_s) * 1000), 0);
}

static void on_guard(uv_timer_t *t)
{
    (void)t;
    if (g.ph == PH_LOGIN) {
        fprintf(stderr, "xmppd-bench-client: login phase timed out "
                        "(%u logged in, %u failed)\n",
                g.logged_in, g.failed);
        login_finished();
        uv_timer_start(&g.timer, idle_done, (uint64_t)(g.o.idle_s * 1000), 0);
    }
}

/* --- command line ------------------------------------------------------ */

static void usage(FILE *f)
{
    fputs(
        "usage: xmppd-bench-client [options]\n"
        "  -H, --host ADDR        server IPv4 address [127.0.0.1]\n"
        "  -p, --port N           c2s port (STARTTLS) [5222]\n"
        "  -d, --domain NAME      users' domain [localhost]\n"
        "      --port2 N          a second server: N clients log in to each,\n"
        "                         pairs are uI@DOMAIN and uI@DOMAIN2\n"
        "      --host2 ADDR       the second server's IPv4 address [--host]\n"
        "      --domain2 NAME     its users' domain (required with --port2)\n"
        "  -P, --password PW      every user's password [pw]\n"
        "  -n, --clients N        clients u0..uN-1 [1000]\n"
        "  -c, --concurrency C    logins in flight at most [200]\n"
        "  -m, --pairs P          pairs exchanging messages [500]\n"
        "  -w, --window W         messages in flight per sender [8]\n"
        "  -l, --payload BYTES    message body length [64]\n"
        "  -i, --idle S           idle seconds after login [3]\n"
        "  -D, --duration S       messaging seconds [10]\n"
        "      --warmup S         messaging seconds before those, not\n"
        "                         counted in rate and latency [0]\n"
        "  -t, --timeout S        login phase limit [120]\n"
        "      --pids LIST        server PIDs whose VmRSS to sum (1,2,3)\n"
        "      --name NAME        name= of the RESULT line [server]\n"
        "  -v, --verbose          report every failure\n",
        f);
}

static double parse_num(const char *s, const char *what)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v < 0)
        die(1, "bad %s: %s", what, s);
    return v;
}

static void parse_opts(int argc, char **argv)
{
    static const struct option longs[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"domain", required_argument, NULL, 'd'},
        {"password", required_argument, NULL, 'P'},
        {"clients", required_argument, NULL, 'n'},
        {"concurrency", required_argument, NULL, 'c'},
        {"pairs", required_argument, NULL, 'm'},
        {"window", required_argument, NULL, 'w'},
        {"payload", required_argument, NULL, 'l'},
        {"idle", required_argument, NULL, 'i'},
        {"duration", required_argument, NULL, 'D'},
        {"timeout", required_argument, NULL, 't'},
        {"pids", required_argument, NULL, 1},
        {"name", required_argument, NULL, 2},
        {"port2", required_argument, NULL, 3},
        {"host2", required_argument, NULL, 4},
        {"domain2", required_argument, NULL, 5},
        {"warmup", required_argument, NULL, 6},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opts *o = &g.o;
    *o = (opts){.host = "127.0.0.1", .domain = "localhost", .password = "pw",
                .name = "server", .port = 5222, .clients = 1000,
                .concurrency = 200, .pairs = 500, .window = 8, .payload = 64,
                .idle_s = 3, .duration_s = 10, .timeout_s = 120};
    int ch;
    while ((ch = getopt_long(argc, argv, "H:p:d:P:n:c:m:w:l:i:D:t:vh", longs,
                             NULL)) != -1) {
        switch (ch) {
        case 'H': o->host = optarg; break;
        case 'p': o->port = (int)parse_num(optarg, "port"); break;
        case 'd': o->domain = optarg; break;
        case 'P': o->password = optarg; break;
        case 'n': o->clients = (unsigned)parse_num(optarg, "clients"); break;
        case 'c': o->concurrency = (unsigned)parse_num(optarg, "concurrency"); break;
        case 'm': o->pairs = (unsigned)parse_num(optarg, "pairs"); break;
        case 'w': o->window = (unsigned)parse_num(optarg, "window"); break;
        case 'l': o->payload = (unsigned)parse_num(optarg, "payload"); break;
        case 'i': o->idle_s = parse_num(optarg, "idle"); break;
        case 'D': o->duration_s = parse_num(optarg, "duration"); break;
        case 't': o->timeout_s = parse_num(optarg, "timeout"); break;
        case 1: o->pids = optarg; break;
        case 2: o->name = optarg; break;
        case 3: o->port2 = (int)parse_num(optarg, "port2"); break;
        case 4: o->host2 = optarg; break;
        case 5: o->domain2 = optarg; break;
        case 6: o->warmup_s = parse_num(optarg, "warmup"); break;
        case 'v': o->is_verbose = true; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(1);
        }
    }
    if (optind != argc || !o->clients || !o->concurrency || !o->window ||
        o->port <= 0 || o->port > 65535 || o->payload > 16384 ||
        o->port2 > 65535 || (o->port2 > 0) != (o->domain2 != NULL))
        die(1, "bad arguments (see --help)");
    bench_sides *s = &g.sides;
    *s = (bench_sides){
        .server = {{.host = o->host, .domain = o->domain, .port = o->port},
                   {.host = o->host2 ? o->host2 : o->host,
                    .domain = o->domain2, .port = o->port2}},
        .per_side = o->clients,
        .is_cross = o->port2 > 0,
    };
    if (s->is_cross)
        o->clients *= 2; /* N per server */
}

int main(int argc, char **argv)
{
    parse_opts(argc, argv);
    g.loop = uv_default_loop();
    if (gnutls_global_init() < 0 ||
        gnutls_certificate_allocate_credentials(&g.cred) < 0)
        die(2, "cannot initialise gnutls");
    g.body = malloc(g.o.payload + 1);
    g.cl = calloc(g.o.clients, sizeof *g.cl);
    if (!g.body || !g.cl)
        die(2, "out of memory");
    for (unsigned i = 0; i < g.o.payload; i++)
        g.body[i] = (char)('a' + i % 26);
    g.body[g.o.payload] = '\0';
    for (unsigned i = 0; i < g.o.clients; i++) {
        g.cl[i].index = i;
        g.cl[i].peer = -1;
        g.cl[i].state = ST_DEAD;
    }
    hist_init(&g.login_h);
    hist_init(&g.msg_h);
    g.rss_base_kb = rss_sum_kb(g.o.pids);
    g.rss_after_kb = -1;
    if (g.o.pids && g.rss_base_kb < 0)
        die(1, "cannot read VmRSS of %s", g.o.pids);
    uv_timer_init(g.loop, &g.timer);
    uv_timer_init(g.loop, &g.guard);
    uv_timer_start(&g.guard, on_guard, (uint64_t)(g.o.timeout_s * 1000), 0);
    g.ph = PH_LOGIN;
    g.t_login0 = uv_hrtime();
    start_next();
    uv_run(g.loop, UV_RUN_DEFAULT);
    if (g.ph != PH_DONE)
        die(2, "stopped early");
    bool ok = g.logged_in == g.o.clients;
    gnutls_certificate_free_credentials(g.cred);
    return ok ? 0 : 3;
}
