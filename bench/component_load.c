/* SPDX-License-Identifier: MIT */
/* bench/component_load.c: xmppd-bench-component, load for a component router.
 * K components attach over XEP-0114 and send each other chat messages, each
 * keeping at most W of its own in flight; the tool reports the sustained
 * forwarding rate, latency percentiles and the server's CPU per stanza. */
#define _GNU_SOURCE /* memmem */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench/frame.h"
#include "bench/load.h"

enum {
    LOAD_READ_START = 256 * 1024, /* receive buffer, grown for big elements */
    LOAD_READ_MIN = 64 * 1024,    /* free room offered to every read */
    LOAD_READ_MAX = 16 * 1024 * 1024,
    LOAD_WRITE_MAX = 4 * 1024 * 1024, /* bytes of one batch, about */
    LOAD_SHOW_ERRORS = 5, /* error stanzas printed; the rest only counted */
};

static const char load_stream_close[] = "</stream:stream>";

static void load_comp_connect(load_comp *c);
static void load_on_retry(uv_timer_t *timer);
static void load_on_grace(uv_timer_t *timer);

void load_fail(load *l, int code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "xmppd-bench-component: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (l->exit_code == 0)
        l->exit_code = code;
    load_close_all(l);
}

static void load_send(load_comp *c, uv_write_t *req, const char *data,
                      size_t len, uv_write_cb cb)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int err = uv_write(req, &c->io.stream, &b, 1, cb);

    if (err < 0)
        load_fail(c->load, 3, "%s: write failed: %s", c->name,
                  uv_strerror(err));
}

static void load_on_control_written(uv_write_t *req, int status)
{
    load_comp *c = req->data;

    if (status < 0 && c->load->phase != LOAD_CLOSING)
        load_fail(c->load, 3, "%s: write failed: %s", c->name,
                  uv_strerror(status));
}

/* --- Stanza generation ------------------------------------------------- */

static char *load_put(char *p, const char *s, size_t len)
{
    memcpy(p, s, len);
    return p + len;
}

static char *load_put_dec(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *load_put_hex(char *p, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;

    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

#define LOAD_PUT_LIT(p, s) load_put((p), (s), sizeof(s) - 1)

/* One chat message from a user of c to a user of to. The id carries
 * "SENDER.RECEIVER.SEQ.SENT_NS" in hex, so the receiver knows whose window
 * to open, whether the router picked the right component, and the latency. */
static char *load_put_stanza(const load *l, const load_comp *c, char *p,
                             const load_comp *to, uint64_t seq,
                             uint64_t sent_ns)
{
    p = LOAD_PUT_LIT(p, "<message from='u");
    p = load_put_dec(p, seq % l->opts.users);
    *p++ = '@';
    p = load_put(p, c->name, c->name_len);
    p = LOAD_PUT_LIT(p, "/r' to='u");
    p = load_put_dec(p, (seq * 31 + 7) % l->opts.users);
    *p++ = '@';
    p = load_put(p, to->name, to->name_len);
    p = LOAD_PUT_LIT(p, "/r' id='");
    p = load_put_hex(p, c->index);
    *p++ = '.';
    p = load_put_hex(p, to->index);
    *p++ = '.';
    p = load_put_hex(p, seq);
    *p++ = '.';
    p = load_put_hex(p, sent_ns);
    p = LOAD_PUT_LIT(p, "' type='chat'><body>");
    p = load_put(p, l->payload, l->opts.payload_bytes);
    return LOAD_PUT_LIT(p, "</body></message>");
}

/* The most bytes load_put_stanza() writes for c. */
static size_t load_stanza_max(const load *l, size_t longest_name)
{
    return 128 + 2 * longest_name + 2 * 20 + 4 * 16 + l->opts.payload_bytes;
}

static bool load_is_sending(const load *l)
{
    return l->phase == LOAD_WARMUP || l->phase == LOAD_MEASURE;
}

static void load_on_batch_written(uv_write_t *req, int status)
{
    load_comp *c = req->data;

    c->is_writing = false;
    if (status < 0) {
        if (c->load->phase != LOAD_CLOSING)
            load_fail(c->load, 3, "%s: write failed: %s", c->name,
                      uv_strerror(status));
        return;
    }
    load_pump(c);
}

/* A nearly full window waits for the low-water mark, so the server sees
 * few, large writes rather than one per stanza that came back. */
void load_pump(load_comp *c)
{
    load *l = c->load;

    c->is_dirty = false;
    if (c->state != COMP_READY || c->is_writing || !load_is_sending(l))
        return;
    if (c->outstanding >= l->opts.window)
        return;
    uint64_t room = l->opts.window - c->outstanding;

    if (room < l->low_water && c->outstanding > 0)
        return;
    if (room > l->opts.batch)
        room = l->opts.batch;

    unsigned k = l->opts.components;
    uint64_t now = uv_hrtime();
    char *p = c->wbuf;

    for (uint64_t n = 0; n < room; n++) {
        uint64_t seq = c->seq++;
        unsigned to = c->index;

        if (k > 1)
            to = (c->index + 1 + (unsigned)(seq % (k - 1))) % k;
        p = load_put_stanza(l, c, p, &l->comps[to], seq, now);
    }
    c->outstanding += room;
    l->total.sent += room;
    if (l->phase == LOAD_MEASURE)
        l->measured.sent += room;
    c->is_writing = true;
    load_send(c, &c->write, c->wbuf, (size_t)(p - c->wbuf),
              load_on_batch_written);
}

/* --- Receiving ---------------------------------------------------------- */

/* Reads "SENDER.RECEIVER.SEQ.SENT_NS" (hex) into field[4]. */
static bool load_parse_id(const char *s, size_t len, uint64_t field[4])
{
    unsigned n = 0;
    size_t digits = 0;

    field[0] = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        unsigned v;

        if (ch == '.') {
            if (digits == 0 || ++n == 4)
                return false;
            field[n] = 0;
            digits = 0;
            continue;
        }
        if (ch >= '0' && ch <= '9')
            v = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v = (unsigned)(ch - 'a' + 10);
        else
            return false;
        if (++digits > 16)
            return false;
        field[n] = field[n] << 4 | v;
    }
    return n == 3 && digits > 0;
}

static void load_show_stanza(const char *what, const load_comp *c,
                             const frame *f)
{
    int shown = f->len > 400 ? 400 : (int)f->len;

    fprintf(stderr, "xmppd-bench-component: %s: %s: %.*s%s\n", c->name, what,
            shown, f->start, (size_t)shown < f->len ? "..." : "");
}

/* The body is checked on every stanza, so a server that garbles or cuts
 * what it forwards cannot pass for a fast one. A server may write an empty
 * body as <body/>. */
static bool load_body_is_intact(const load *l, const frame *f)
{
    size_t want = l->opts.payload_bytes;
    const char *body = memmem(f->start, f->len, "<body>", 6);

    if (body == NULL)
        return want == 0 && memmem(f->start, f->len, "<body/>", 7) != NULL;
    body += 6;
    size_t left = (size_t)(f->start + f->len - body);

    return left >= want + 7 && memcmp(body, l->payload, want) == 0 &&
           memcmp(body + want, "</body>", 7) == 0;
}

static void load_on_message(load_comp *c, const frame *f)
{
    load *l = c->load;
    uint64_t field[4];
    const char *id;
    size_t id_len;
    bool has_id =
        frame_attr(f, "id", &id, &id_len) && load_parse_id(id, id_len, field);

    /* An error bounce answers a stanza too: it opens its sender's window. */
    if (has_id && field[0] < l->opts.components) {
        load_comp *sender = &l->comps[field[0]];

        if (sender->outstanding > 0)
            sender->outstanding--;
        sender->is_dirty = true;
    }
    if (frame_attr_is(f, "type", "error")) {
        l->total.errors++;
        if (l->phase == LOAD_MEASURE)
            l->measured.errors++;
        if (l->total.errors <= LOAD_SHOW_ERRORS)
            load_show_stanza("error stanza", c, f);
        return;
    }
    if (!has_id || field[0] >= l->opts.components) {
        l->total.other++;
        if (l->total.other <= LOAD_SHOW_ERRORS)
            load_show_stanza("message not sent by this tool", c, f);
        return;
    }
    l->total.received++;
    if (!load_body_is_intact(l, f)) {
        l->total.corrupt++;
        if (l->total.corrupt <= LOAD_SHOW_ERRORS)
            load_show_stanza("message with a changed body", c, f);
    }
    if (field[1] != c->index) {
        l->total.misrouted++;
        if (l->total.misrouted <= LOAD_SHOW_ERRORS)
            load_show_stanza("message for another component", c, f);
    }
    if (l->phase == LOAD_MEASURE) {
        l->measured.received++;
        l->measured.bytes += f->len;
        hist_add(&l->latency, l->now > field[3] ? l->now - field[3] : 0);
    }
}

/* XEP-0114 §3: the handshake is hex SHA-1 of the stream id and the secret. */
static void load_on_stream_open(load_comp *c, const frame *f)
{
    load *l = c->load;
    const char *id;
    size_t id_len;

    if (!frame_is(f, "stream:stream")) {
        load_show_stanza("not a stream header", c, f);
        load_fail(l, 2, "%s: no stream from the server", c->name);
        return;
    }
    if (!frame_attr(f, "id", &id, &id_len)) {
        load_fail(l, 2, "%s: the stream header has no id", c->name);
        return;
    }
    size_t secret_len = strlen(l->opts.secret);
    char *text = load_alloc(id_len + secret_len);
    unsigned char digest[20];
    static const char hex[] = "0123456789abcdef";
    char *p = c->handshake;

    memcpy(text, id, id_len);
    memcpy(text + id_len, l->opts.secret, secret_len);
    gnutls_hash_fast(GNUTLS_DIG_SHA1, text, id_len + secret_len, digest);
    free(text);
    p = LOAD_PUT_LIT(p, "<handshake>");
    for (size_t i = 0; i < sizeof digest; i++) {
        *p++ = hex[digest[i] >> 4];
        *p++ = hex[digest[i] & 15];
    }
    p = LOAD_PUT_LIT(p, "</handshake>");
    c->state = COMP_HANDSHAKING;
    load_send(c, &c->auth_write, c->handshake, (size_t)(p - c->handshake),
              load_on_control_written);
}

static void load_on_stream_error(load_comp *c, const frame *f)
{
    size_t len = 0;
    const char *cond = frame_first_child(f, &len);

    load_show_stanza("stream error", c, f);
    load_fail(c->load, c->state == COMP_READY ? 3 : 2,
              "%s: the server ended the stream with %.*s", c->name, (int)len,
              cond ? cond : "no condition");
}

/* Returns false when the run has failed and reading must stop. */
static bool load_on_unit(load_comp *c, frame_kind kind, const frame *f)
{
    load *l = c->load;

    switch (kind) {
    case FRAME_OPEN:
        load_on_stream_open(c, f);
        break;
    case FRAME_CLOSE:
        load_fail(l, c->state == COMP_READY ? 3 : 2,
                  "%s: the server closed the stream", c->name);
        break;
    case FRAME_BAD:
        load_fail(l, 3, "%s: markup the framer cannot read near \"%.40s\"",
                  c->name, f->start);
        break;
    case FRAME_ELEMENT:
        if (frame_is(f, "message"))
            load_on_message(c, f);
        else if (c->state == COMP_HANDSHAKING && frame_is(f, "handshake"))
            load_on_ready(c);
        else if (frame_is(f, "stream:error"))
            load_on_stream_error(c, f);
        else {
            l->total.other++;
            if (l->total.other <= LOAD_SHOW_ERRORS)
                load_show_stanza("unexpected element", c, f);
        }
        break;
    case FRAME_MORE:
        break;
    }
    return l->phase != LOAD_CLOSING;
}

static void load_on_alloc(uv_handle_t *handle, size_t hint, uv_buf_t *buf)
{
    load_comp *c = (load_comp *)handle;

    (void)hint;
    if (c->rcap - c->rlen < LOAD_READ_MIN && c->rcap < LOAD_READ_MAX) {
        c->rcap *= 2;
        c->rbuf = load_realloc(c->rbuf, c->rcap);
    }
    /* Still no room: one element is over the limit; libuv reports
     * UV_ENOBUFS to the read callback. */
    *buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
    if (c->rcap == c->rlen)
        *buf = uv_buf_init(NULL, 0);
}

static void load_on_read(uv_stream_t *stream, ssize_t nread,
                         const uv_buf_t *buf)
{
    load_comp *c = (load_comp *)stream;
    load *l = c->load;

    (void)buf;
    if (l->phase == LOAD_CLOSING) {
        uv_read_stop(stream);
        return;
    }
    if (nread == UV_ENOBUFS) {
        load_fail(l, 3, "%s: an element over %d bytes", c->name, LOAD_READ_MAX);
        return;
    }
    if (nread < 0) {
        load_fail(l, c->state == COMP_READY ? 3 : 2, "%s: %s", c->name,
                  nread == UV_EOF ? "the server closed the connection"
                                  : uv_strerror((int)nread));
        return;
    }
    c->rlen += (size_t)nread;
    l->now = uv_hrtime(); /* one clock read serves the whole read */

    size_t pos = 0;
    frame f;
    frame_kind kind;

    while ((kind = frame_next(c->rbuf, c->rlen, &pos, c->state != COMP_OPENING,
                              &f)) != FRAME_MORE) {
        if (!load_on_unit(c, kind, &f))
            return;
    }
    memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
    c->rlen -= pos;
    load_after_receive(l);
}

/* --- Connections -------------------------------------------------------- */

static void load_on_refused_closed(uv_handle_t *handle)
{
    load_comp *c = (load_comp *)handle;
    load *l = c->load;

    if (l->phase == LOAD_CLOSING)
        return;
    c->wants_retry = true;
    if (!uv_is_active((uv_handle_t *)&l->retry_timer))
        uv_timer_start(&l->retry_timer, load_on_retry, 100, 0);
}

static void load_on_connected(uv_connect_t *req, int status)
{
    load_comp *c = req->data;
    load *l = c->load;

    if (l->phase == LOAD_CLOSING)
        return;
    if (status == UV_ECONNREFUSED || status == UV_ENOENT) {
        /* The server may still be starting: try again until the attach
         * timeout, once libuv is done with the handle. */
        c->is_open = false;
        uv_close(&c->io.handle, load_on_refused_closed);
        return;
    }
    if (status < 0) {
        load_fail(l, 2, "%s: cannot connect: %s", c->name, uv_strerror(status));
        return;
    }
    if (l->opts.unix_path == NULL)
        uv_tcp_nodelay(&c->io.tcp, 1);
    int err = uv_read_start(&c->io.stream, load_on_alloc, load_on_read);

    if (err < 0) {
        load_fail(l, 2, "%s: cannot read: %s", c->name, uv_strerror(err));
        return;
    }
    c->state = COMP_OPENING;
    char *p = c->header;

    p = LOAD_PUT_LIT(p, "<stream:stream xmlns='jabber:component:accept' "
                        "xmlns:stream='http://etherx.jabber.org/streams' "
                        "to='");
    p = load_put(p, c->name, c->name_len);
    p = LOAD_PUT_LIT(p, "'>");
    load_send(c, &c->open_write, c->header, (size_t)(p - c->header),
              load_on_control_written);
}

static void load_on_retry(uv_timer_t *timer)
{
    load *l = timer->data;

    for (unsigned i = 0; i < l->opts.components; i++) {
        if (l->comps[i].wants_retry)
            load_comp_connect(&l->comps[i]);
    }
}

static void load_comp_connect(load_comp *c)
{
    load *l = c->load;
    int err;

    c->wants_retry = false;
    c->state = COMP_CONNECTING;
    c->connect.data = c;
    if (l->opts.unix_path) {
        uv_pipe_init(l->loop, &c->io.pipe, 0);
        c->is_open = true;
        uv_pipe_connect(&c->connect, &c->io.pipe, l->opts.unix_path,
                        load_on_connected);
        return;
    }
    uv_tcp_init(l->loop, &c->io.tcp);
    c->is_open = true;
    err = uv_tcp_connect(&c->connect, &c->io.tcp,
                         (const struct sockaddr *)&l->addr, load_on_connected);
    if (err < 0)
        load_fail(l, 2, "%s: cannot connect: %s", c->name, uv_strerror(err));
}

static void load_on_shutdown(uv_shutdown_t *req, int status)
{
    load_comp *c = req->data;

    (void)status;
    uv_close(&c->io.handle, NULL);
}

/* Ends every stream politely (RFC 6120 §4.4); the loop ends when all
 * handles are closed or after a grace period. */
void load_close_all(load *l)
{
    if (l->phase == LOAD_CLOSING)
        return;
    l->phase = LOAD_CLOSING;
    uv_close((uv_handle_t *)&l->phase_timer, NULL);
    uv_close((uv_handle_t *)&l->tick_timer, NULL);
    uv_close((uv_handle_t *)&l->retry_timer, NULL);
    for (unsigned i = 0; i < l->opts.components; i++) {
        load_comp *c = &l->comps[i];

        if (!c->is_open)
            continue;
        c->is_open = false;
        if (c->state == COMP_CONNECTING || uv_is_closing(&c->io.handle)) {
            if (!uv_is_closing(&c->io.handle))
                uv_close(&c->io.handle, NULL);
            continue;
        }
        uv_buf_t b = uv_buf_init((char *)load_stream_close,
                                 sizeof load_stream_close - 1);

        c->shutdown.data = c;
        if (uv_write(&c->close_write, &c->io.stream, &b, 1,
                     load_on_control_written) < 0 ||
            uv_shutdown(&c->shutdown, &c->io.stream, load_on_shutdown) < 0)
            uv_close(&c->io.handle, NULL);
    }
    uv_timer_init(l->loop, &l->grace_timer);
    l->grace_timer.data = l;
    uv_timer_start(&l->grace_timer, load_on_grace, 2000, 0);
    uv_unref((uv_handle_t *)&l->grace_timer);
}

static void load_on_grace(uv_timer_t *timer)
{
    uv_stop(timer->loop);
}

/* --- Setup -------------------------------------------------------------- */

static void load_init(load *l, uv_loop_t *loop)
{
    load_opts *o = &l->opts;
    size_t longest = 0;

    l->loop = loop;
    l->payload = load_alloc(o->payload_bytes + 1);
    for (size_t i = 0; i < o->payload_bytes; i++)
        l->payload[i] = "abcdefghijklmnopqrstuvwxyz 0123456789"[i % 37];
    hist_init(&l->latency);
    l->comps = load_alloc(o->components * sizeof *l->comps);
    for (unsigned i = 0; i < o->components; i++) {
        load_comp *c = &l->comps[i];
        int n = snprintf(NULL, 0, "%s%u%s", o->prefix, i, o->suffix);

        c->load = l;
        c->index = i;
        c->name = load_alloc((size_t)n + 1);
        snprintf(c->name, (size_t)n + 1, "%s%u%s", o->prefix, i, o->suffix);
        c->name_len = (size_t)n;
        if (c->name_len > longest)
            longest = c->name_len;
        c->write.data = c;
        c->open_write.data = c;
        c->auth_write.data = c;
        c->close_write.data = c;
        c->rcap = LOAD_READ_START;
        c->rbuf = load_alloc(c->rcap);
        c->header = load_alloc(160 + c->name_len);
    }
    /* A batch never exceeds the window, nor LOAD_WRITE_MAX unless one
     * stanza alone does. */
    size_t stanza_max = load_stanza_max(l, longest);

    if (o->batch > o->window)
        o->batch = o->window;
    if ((size_t)o->batch * stanza_max > LOAD_WRITE_MAX)
        o->batch = stanza_max >= LOAD_WRITE_MAX
                       ? 1
                       : (unsigned)(LOAD_WRITE_MAX / stanza_max);
    l->low_water = o->window / 8 ? o->window / 8 : 1;
    if (l->low_water > o->batch)
        l->low_water = o->batch;
    size_t wcap = (size_t)o->batch * stanza_max;

    for (unsigned i = 0; i < o->components; i++) {
        l->comps[i].wbuf = load_alloc(wcap);
    }
    uv_timer_init(loop, &l->phase_timer);
    uv_timer_init(loop, &l->tick_timer);
    uv_timer_init(loop, &l->retry_timer);
    l->phase_timer.data = l;
    l->tick_timer.data = l;
    l->retry_timer.data = l;
}

static void load_close_left(uv_handle_t *handle, void *arg)
{
    (void)arg;
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

static void load_free(load *l)
{
    for (unsigned i = 0; i < l->opts.components; i++) {
        free(l->comps[i].name);
        free(l->comps[i].rbuf);
        free(l->comps[i].wbuf);
        free(l->comps[i].header);
    }
    free(l->comps);
    free(l->payload);
}

int main(int argc, char **argv)
{
    load l = {.exit_code = 0};
    int err = load_opts_parse(&l.opts, argc, argv);

    if (err != 0)
        return err > 0 ? 0 : 1; /* --help, or a usage error */
    if (l.opts.unix_path == NULL) {
        err = uv_ip4_addr(l.opts.host, l.opts.port, &l.addr);
        if (err < 0) {
            fprintf(stderr, "xmppd-bench-component: bad address %s: %s\n",
                    l.opts.host, uv_strerror(err));
            return 1;
        }
    }
    /* A server that drops the connection must not kill the tool: the
     * write fails with EPIPE and is reported instead. */
    signal(SIGPIPE, SIG_IGN);
    gnutls_global_init();
    load_init(&l, uv_default_loop());
    load_start(&l);
    for (unsigned i = 0; i < l.opts.components && l.phase != LOAD_CLOSING; i++)
        load_comp_connect(&l.comps[i]);
    uv_run(l.loop, UV_RUN_DEFAULT);
    /* After the grace period, whatever is left is closed without waiting
     * for the server. */
    uv_walk(l.loop, load_close_left, NULL);
    uv_run(l.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(l.loop) == 0)
        load_free(&l);
    gnutls_global_deinit();
    return l.exit_code;
}
