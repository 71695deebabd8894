/* SPDX-License-Identifier: MIT */
/* router/conn.c: component connections: listeners, the stream, limits
 * (per-address count, handshake and idle timeouts, byte rate), backpressure
 * between connections, and closing. */
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/log.h"
#include "router/router.h"

#define ROUTER_THROTTLE_TICK_MS 10

static void conn_on_timeout(net_conn *c);

void router_conn_send(router_conn *rc, const char *data, size_t len)
{
    net_conn_send(rc->net, data, len);
}

static void conn_update_reading(router_conn *rc)
{
    if (rc->state == ROUTER_CONN_CLOSING)
        return;
    if (rc->resume_at_ms || rc->blocked_on)
        net_conn_pause(rc->net);
    else
        net_conn_resume(rc->net);
}

void router_conn_wait_for(router_conn *src, router_conn *dst)
{
    if (src == dst)
        return;
    for (size_t i = 0; i < dst->n_waiters; i++)
        if (dst->waiters[i] == src)
            return;
    if (dst->n_waiters == dst->cap_waiters) {
        dst->cap_waiters = dst->cap_waiters ? dst->cap_waiters * 2 : 4;
        dst->waiters = xrealloc(dst->waiters, dst->cap_waiters * sizeof *dst->waiters);
    }
    dst->waiters[dst->n_waiters++] = src;
    src->blocked_on++;
    conn_update_reading(src);
}

/* dst drained (or is gone): every source waiting on it may read again. */
static void conn_release_waiters(router_conn *dst)
{
    for (size_t i = 0; i < dst->n_waiters; i++) {
        router_conn *src = dst->waiters[i];
        src->blocked_on--;
        conn_update_reading(src);
    }
    dst->n_waiters = 0;
}

/* A closing source must not be resumed later by anyone it waited on. */
static void conn_forget_waiter(router_conn *src)
{
    for (router_conn *o = src->r->conns; o; o = o->next) {
        for (size_t i = 0; i < o->n_waiters; i++) {
            if (o->waiters[i] == src) {
                o->waiters[i] = o->waiters[--o->n_waiters];
                break;
            }
        }
    }
    src->blocked_on = 0;
}

static void conn_on_drained(net_conn *c)
{
    conn_release_waiters(net_conn_data(c));
}

static void conn_detach(router_conn *rc)
{
    if (rc->state == ROUTER_CONN_READY) {
        rc->r->stats.detached++;
        log_info(rc->who, "component detached after %.1fs: %llu stanzas in, %llu out",
                 (double)(net_now_ms() - rc->attached_ms) / 1000.0,
                 (unsigned long long)rc->stanzas_in, (unsigned long long)rc->stanzas_out);
    }
    router_unbind_all(rc);
    router_events_detach(rc);
    conn_release_waiters(rc);
    conn_forget_waiter(rc);
    if (rc->resume_at_ms) {
        rc->resume_at_ms = 0;
        rc->r->n_throttled--;
    }
    rc->state = ROUTER_CONN_CLOSING;
}

void router_conn_close(router_conn *rc, int cond, const char *why)
{
    if (rc->state == ROUTER_CONN_CLOSING)
        return;
    if (cond >= 0) {
        if (rc->state == ROUTER_CONN_OPENING && !rc->stream_id[0]) {
            /* RFC 6120 §4.9.1.1: a stream error still needs our header. */
            static const char header[] =
                "<?xml version='1.0'?><stream:stream xmlns:stream='" XS_NS_STREAMS
                "' xmlns='" XS_NS_COMPONENT "'>";
            net_conn_send(rc->net, header, sizeof header - 1);
        }
        buf out;
        buf_init(&out);
        xs_stream_error(&out, (xs_stream_condition)cond, why);
        buf_append_str(&out, "</stream:stream>");
        net_conn_send(rc->net, buf_data(&out), buf_len(&out));
        buf_close(&out);
    } else if (rc->state != ROUTER_CONN_OPENING) {
        net_conn_send(rc->net, "</stream:stream>", 16);
    }
    conn_detach(rc);
    xstream_stop(rc->xs);
    net_conn_close(rc->net);
}

/* --- the stream ---------------------------------------------------------- */

static void conn_on_open(void *ud, xs_elem *header)
{
    router_conn *rc = ud;
    if (rc->state != ROUTER_CONN_OPENING) {
        router_conn_close(rc, XS_STREAM_BAD_FORMAT, "a second stream header");
        return;
    }
    router_accept_header(rc, header);
}

static void conn_on_stanza(void *ud, xs_elem *st, const char *raw, size_t len)
{
    router_conn *rc = ud;
    switch (rc->state) {
    case ROUTER_CONN_READY:
        router_deliver(rc->r, rc, st, raw, len);
        break;
    case ROUTER_CONN_HANDSHAKE:
        router_accept_handshake(rc, st);
        if (rc->state == ROUTER_CONN_READY)
            net_conn_set_timeout(rc->net, rc->r->config.limits.idle_timeout_ms,
                                 conn_on_timeout);
        break;
    default:
        break;
    }
}

static void conn_on_close(void *ud)
{
    router_conn *rc = ud;
    log_info(rc->who, "closed its stream");
    router_conn_close(rc, -1, NULL);
}

static void conn_on_stream_error(void *ud, xs_stream_condition cond, const char *text)
{
    router_conn *rc = ud;
    log_warn(rc->who, "%s; closing with %s", text, xs_stream_condition_name(cond));
    router_conn_close(rc, (int)cond, text);
}

static const xstream_events conn_stream_events = {
    .open = conn_on_open,
    .stanza = conn_on_stanza,
    .close = conn_on_close,
    .error = conn_on_stream_error,
};

/* --- the socket ----------------------------------------------------------- */

static void router_throttle_tick(uv_timer_t *t)
{
    router *r = t->data;
    uint64_t now = net_now_ms();
    for (router_conn *rc = r->conns; rc; rc = rc->next) {
        if (rc->resume_at_ms && rc->resume_at_ms <= now) {
            rc->resume_at_ms = 0;
            r->n_throttled--;
            conn_update_reading(rc);
        }
    }
    if (r->n_throttled == 0)
        uv_timer_stop(t);
}

static void conn_on_data(net_conn *c, const char *data, size_t len)
{
    router_conn *rc = net_conn_data(c);
    router *r = rc->r;
    rc->bytes_in += len;
    if (rc->state == ROUTER_CONN_READY && r->config.limits.idle_timeout_ms)
        net_conn_set_timeout(c, r->config.limits.idle_timeout_ms, conn_on_timeout);
    xstream_feed(rc->xs, data, len);
    if (rc->state == ROUTER_CONN_CLOSING)
        return;
    uint64_t now = net_now_ms();
    if (rate_take_pause(&rc->rate, len, now, &rc->resume_at_ms)) {
        log_debug(rc->who, "over %llu bytes/s; pausing reading for %llu ms",
                  (unsigned long long)r->config.limits.rate_bytes_per_s,
                  (unsigned long long)(rc->resume_at_ms - now));
        if (r->n_throttled++ == 0)
            uv_timer_start(&r->throttle_timer, router_throttle_tick,
                           ROUTER_THROTTLE_TICK_MS, ROUTER_THROTTLE_TICK_MS);
        conn_update_reading(rc);
    }
}

static void conn_on_error(net_conn *c, int err)
{
    router_conn *rc = net_conn_data(c);
    if (err == UV_EOF)
        log_info(rc->who, "connection closed by the peer");
    else if (err == XE_TLS || err == XE_CERT)
        log_warn(rc->who, "TLS failed: %s", net_conn_tls(c) ? tls_session_error(net_conn_tls(c)) : xe_str(err));
    else
        log_warn(rc->who, "connection lost: %s", xe_str(err));
    router_conn_state was = rc->state;
    conn_detach(rc);
    const char *unsent;
    size_t n = net_conn_unsent(c, &unsent);
    if (was == ROUTER_CONN_READY && n > 0)
        router_bounce_unsent(rc->r, rc, unsent, n);
}

static void conn_on_closed(net_conn *c)
{
    router_conn *rc = net_conn_data(c);
    router *r = rc->r;
    if (rc->prev)
        rc->prev->next = rc->next;
    else
        r->conns = rc->next;
    if (rc->next)
        rc->next->prev = rc->prev;
    r->n_conns--;
    xstream_free(rc->xs);
    free(rc->instance);
    free(rc->bound);
    free(rc->waiters);
    free(rc);
}

static const net_conn_events conn_net_events = {
    .data = conn_on_data,
    .drained = conn_on_drained,
    .error = conn_on_error,
    .closed = conn_on_closed,
};

static void conn_on_timeout(net_conn *c)
{
    router_conn *rc = net_conn_data(c);
    if (rc->state == ROUTER_CONN_READY) {
        log_info(rc->who, "idle for %llu ms; closing",
                 (unsigned long long)rc->r->config.limits.idle_timeout_ms);
        router_conn_close(rc, XS_STREAM_CONNECTION_TIMEOUT, "idle timeout");
    } else {
        log_warn(rc->who, "no handshake within %llu ms; closing",
                 (unsigned long long)rc->r->config.limits.handshake_timeout_ms);
        router_conn_close(rc, XS_STREAM_CONNECTION_TIMEOUT, "handshake timeout");
    }
}

static void conn_on_accept(net_listener *l, net_conn *c, unsigned same_host)
{
    router *r = net_listener_data(l);
    router_conn *rc = xalloc(sizeof *rc);
    rc->r = r;
    rc->net = c;
    rc->id = ++r->next_conn_id;
    snprintf(rc->who, sizeof rc->who, "router conn#%u %s", rc->id, net_conn_peer(c));
    const router_limits *lim = &r->config.limits;
    xstream_limits xl = { lim->max_stanza_bytes, lim->max_depth, lim->max_attrs };
    rc->xs = xstream_new(&xl, true, &conn_stream_events, rc);
    rate_init(&rc->rate, lim->rate_bytes_per_s, lim->burst_bytes, net_now_ms());
    rc->next = r->conns;
    if (r->conns)
        r->conns->prev = rc;
    r->conns = rc;
    r->n_conns++;
    net_conn_set_events(c, &conn_net_events, rc);
    net_conn_set_low_water(c, lim->send_queue_bytes / 4);
    net_conn_retain(c);         /* a dying component's queue is routed again */
    if (r->is_stopping) {
        router_conn_close(rc, XS_STREAM_SYSTEM_SHUTDOWN, "the router is stopping");
        return;
    }
    if (same_host > lim->max_conns_per_address) {
        log_warn(rc->who, "%u connections from %s, over the limit of %u; closing",
                 same_host, net_conn_peer_host(c), lim->max_conns_per_address);
        router_conn_close(rc, XS_STREAM_POLICY_VIOLATION, "too many connections from your address");
        return;
    }
    net_conn_set_timeout(c, lim->handshake_timeout_ms, conn_on_timeout);
    log_debug(rc->who, "connection accepted");
}

int router_listen_all(router *r, cfg_diag *diag)
{
    const router_config *rc = &r->config;
    r->listeners = xalloc(rc->n_listen * sizeof *r->listeners);
    r->tls = xalloc(rc->n_listen * sizeof *r->tls);
    uv_timer_init(net_loop(), &r->throttle_timer);
    r->throttle_timer.data = r;
    for (size_t i = 0; i < rc->n_listen; i++) {
        const router_listen_cfg *lc = &rc->listen[i];
        if (lc->is_tls) {
            char err[400];
            tls_ctx_opts o = {
                .is_server = true, .cert_file = lc->cert, .key_file = lc->key,
                .ca_file = lc->client_ca, .verify_peer = lc->client_ca != NULL,
            };
            if (tls_ctx_new(&o, &r->tls[i], err, sizeof err) < 0) {
                snprintf(diag->message, sizeof diag->message, "router: %s", err);
                diag->line = lc->line;
                return XE_CONFIG;
            }
        }
        net_listen_opts o = {
            .address = lc->address, .is_unix = lc->is_unix, .tls = r->tls[i],
            .accept = conn_on_accept, .ud = r,
        };
        int err = net_listen(&o, &r->listeners[i]);
        if (err < 0) {
            snprintf(diag->message, sizeof diag->message,
                     "router: cannot listen on %s: %s", lc->address, xe_str(err));
            diag->line = lc->line;
            return XE_CONFIG;
        }
        r->n_listeners++;
        log_info("router", "listening on %s%s%s", lc->is_unix ? "unix:" : "", lc->address,
                 lc->is_tls ? (lc->client_ca ? " (TLS, client certificates required)" : " (TLS)") : "");
    }
    return 0;
}

void router_stop(router *r)
{
    if (r->is_stopping)
        return;
    r->is_stopping = true;
    log_info("router", "stopping: closing %zu listeners and %zu connections",
             r->n_listeners, r->n_conns);
    for (size_t i = 0; i < r->n_listeners; i++)
        net_listener_close(r->listeners[i]);
    r->n_listeners = 0;
    if (r->control) {
        net_listener_close(r->control);
        r->control = NULL;
    }
    for (router_conn *rc = r->conns; rc; rc = rc->next)
        router_conn_close(rc, XS_STREAM_SYSTEM_SHUTDOWN, "the router is stopping");
    uv_close((uv_handle_t *)&r->throttle_timer, NULL);
}
