/* SPDX-License-Identifier: MIT */
/* libcommon/link.c: the component side of the router protocol. */
#include "libcommon/link.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "libcommon/envelope.h"
#include "libcommon/error.h"
#include "libcommon/log.h"
#include "libcommon/net.h"

typedef enum {
    LINK_DOWN,          /* waiting to reconnect */
    LINK_CONNECTING,
    LINK_HEADER,        /* stream header sent, waiting for the router's */
    LINK_HANDSHAKE,     /* <handshake> sent */
    LINK_BINDING,       /* binds sent, answers pending */
    LINK_READY,
    LINK_REFUSED,       /* the router said no: no retry */
} link_state;

struct link_conn {
    link_opts o;                /* strings owned */
    link_bind *binds;
    const link_events *ev;
    void *ud;
    net_conn *net;
    xstream *xs;
    link_state state;
    size_t binds_pending;
    buf queue;                  /* held while not ready */
    uv_timer_t retry;
    uint64_t backoff_ms;
    bool is_freeing;
    char why_down[160];         /* the last transport error, for the log */
    char who[128];
};

static void link_connect(link_conn *l);

static void link_on_retry(uv_timer_t *t)
{
    link_connect(t->data);
}

static void link_schedule_retry(link_conn *l, const char *why)
{
    if (l->is_freeing || l->state == LINK_REFUSED)
        return;
    bool was_up = l->state == LINK_READY;
    l->state = LINK_DOWN;
    if (was_up || l->backoff_ms == 0)
        l->backoff_ms = 100;
    else if ((l->backoff_ms *= 2) > l->o.max_backoff_ms)
        l->backoff_ms = l->o.max_backoff_ms;
    log_warn(l->who, "link to the router down (%s); retrying in %llu ms", why,
             (unsigned long long)l->backoff_ms);
    if (l->ev->down)
        l->ev->down(l, why, l->ud);
    uv_timer_start(&l->retry, link_on_retry, l->backoff_ms, 0);
}

static void link_on_retry_closed(uv_handle_t *h)
{
    free(h->data);
}

static void link_refuse(link_conn *l, const char *why)
{
    if (l->state == LINK_REFUSED)
        return;
    log_error(l->who, "the router refused this component: %s", why);
    l->state = LINK_REFUSED;
    if (l->net)
        net_conn_close(l->net);
    if (l->ev->refused)
        l->ev->refused(l, why, l->ud);
}

static void link_wire(link_conn *l, const char *data, size_t len)
{
    net_conn_send(l->net, data, len);
}

static void link_become_ready(link_conn *l)
{
    l->state = LINK_READY;
    net_conn_retain(l->net);    /* what the router never took is sent again */
    log_info(l->who, "attached to the router");
    if (buf_len(&l->queue)) {
        link_wire(l, buf_data(&l->queue), buf_len(&l->queue));
        buf_clear(&l->queue);
    }
    if (l->ev->ready)
        l->ev->ready(l, l->ud);
}

static void link_send_binds(link_conn *l)
{
    if (!l->o.instance) {
        link_become_ready(l);
        return;
    }
    buf out;
    buf_init(&out);
    /* The first bind names the instance; the others add names to it. */
    buf_append_str(&out, "<bind xmlns='" XS_NS_XMPPD_COMPONENT "' id='b0' instance='");
    buf_append_xml(&out, l->o.instance, strlen(l->o.instance), 1);
    buf_append_str(&out, "'/>");
    for (size_t i = 0; i < l->o.n_binds; i++) {
        buf_printf(&out, "<bind xmlns='" XS_NS_XMPPD_COMPONENT "' id='b%zu' kind='%s' name='",
                   i + 1, l->binds[i].is_service ? "service" : "domain");
        buf_append_xml(&out, l->binds[i].name, strlen(l->binds[i].name), 1);
        buf_append_str(&out, "'/>");
    }
    l->binds_pending = l->o.n_binds + 1;
    l->state = LINK_BINDING;
    link_wire(l, buf_data(&out), buf_len(&out));
    buf_close(&out);
}

/* --- the stream -------------------------------------------------------- */

static void link_on_open(void *ud, xs_elem *header)
{
    link_conn *l = ud;
    const char *id = xs_attr(header, "id");
    if (l->state != LINK_HEADER || !id) {
        link_refuse(l, "the router's stream header has no id");
        return;
    }
    char *input = xasprintf("%s%s", id, l->o.secret);
    unsigned char digest[20];
    gnutls_hash_fast(GNUTLS_DIG_SHA1, input, strlen(input), digest);
    free(input);
    char msg[64] = "<handshake>";
    for (size_t i = 0; i < sizeof digest; i++)
        snprintf(msg + 11 + 2 * i, 3, "%02x", digest[i]);
    strcat(msg, "</handshake>");
    link_wire(l, msg, strlen(msg));
    l->state = LINK_HANDSHAKE;
}

static void link_on_event(link_conn *l, xs_elem *route)
{
    xs_elem *ev = xs_child(route, "event", XS_NS_XMPPD_ROUTER);
    if (!ev || !l->ev->member)
        return;
    const char *type = xs_attr(ev, "type"), *instance = xs_attr(ev, "instance");
    if (type && instance)
        l->ev->member(l, type, instance, xs_attr(ev, "name"), xs_attr(ev, "kind"), l->ud);
}

static void link_on_bind_reply(link_conn *l, xs_elem *st)
{
    const char *type = xs_attr(st, "type");
    if (type && strcmp(type, "error") == 0) {
        char why[256];
        xs_elem *err = xs_child(st, "error", NULL);
        xs_elem *cond = err ? xs_first(err) : NULL;
        snprintf(why, sizeof why, "bind of %s %s refused: %s",
                 xs_attr(st, "kind") ? xs_attr(st, "kind") : "instance",
                 xs_attr(st, "name") ? xs_attr(st, "name") : l->o.instance,
                 cond ? xs_name(cond) : "error");
        link_refuse(l, why);
        return;
    }
    if (l->state == LINK_BINDING && --l->binds_pending == 0)
        link_become_ready(l);
}

static void link_on_stanza(void *ud, xs_elem *st, const char *raw, size_t len)
{
    link_conn *l = ud;
    const char *ns = xs_ns(st) ? xs_ns(st) : "";
    if (strcmp(ns, XS_NS_STREAMS) == 0 && strcmp(xs_name(st), "error") == 0) {
        xs_elem *cond = xs_first(st);
        const char *name = cond ? xs_name(cond) : "undefined-condition";
        if (strcmp(name, "not-authorized") == 0 || strcmp(name, "host-unknown") == 0) {
            link_refuse(l, name);
        } else {
            log_warn(l->who, "stream error from the router: %s", name);
            net_conn_close(l->net);
        }
        return;
    }
    if (l->state == LINK_HANDSHAKE) {
        if (strcmp(xs_name(st), "handshake") == 0) {
            l->backoff_ms = 0;
            link_send_binds(l);
        }
        return;
    }
    if (strcmp(ns, XS_NS_XMPPD_COMPONENT) == 0 && strcmp(xs_name(st), "bind") == 0) {
        link_on_bind_reply(l, st);
        return;
    }
    if (strcmp(ns, XS_NS_XMPPD_ROUTE) == 0 && xs_attr(st, "from") &&
        strcmp(xs_attr(st, "from"), "router") == 0 &&
        xs_child(st, "event", XS_NS_XMPPD_ROUTER)) {
        link_on_event(l, st);
        return;
    }
    if (l->ev->stanza)
        l->ev->stanza(l, st, raw, len, l->ud);
}

static void link_on_close(void *ud)
{
    link_conn *l = ud;
    net_conn_send(l->net, "</stream:stream>", 16);
    net_conn_close(l->net);
}

static void link_on_stream_error(void *ud, xs_stream_condition cond, const char *text)
{
    link_conn *l = ud;
    log_warn(l->who, "stream from the router broke: %s (%s)", text,
             xs_stream_condition_name(cond));
    net_conn_close(l->net);
}

static const xstream_events link_stream_events = {
    .open = link_on_open, .stanza = link_on_stanza,
    .close = link_on_close, .error = link_on_stream_error,
};

/* --- the socket -------------------------------------------------------- */

static void link_on_data(net_conn *c, const char *data, size_t len)
{
    link_conn *l = net_conn_data(c);
    xstream_feed(l->xs, data, len);
}

static void link_on_net_error(net_conn *c, int err)
{
    link_conn *l = net_conn_data(c);
    /* What never reached the router is kept for the next connection. */
    const char *unsent;
    size_t n = net_conn_unsent(c, &unsent);
    if (n && l->state == LINK_READY)
        buf_append(&l->queue, unsent, n);
    tls_session *tls = (err == XE_TLS || err == XE_CERT) ? net_conn_tls(c) : NULL;
    snprintf(l->why_down, sizeof l->why_down, "%s%s%s", xe_str(err), tls ? ": " : "",
             tls ? tls_session_error(tls) : "");
}

static void link_on_closed(net_conn *c)
{
    link_conn *l = net_conn_data(c);
    l->net = NULL;
    xstream_free(l->xs);
    l->xs = NULL;
    if (l->is_freeing) {
        uv_close((uv_handle_t *)&l->retry, link_on_retry_closed);
        return;
    }
    link_schedule_retry(l, l->why_down[0] ? l->why_down : "connection closed");
    l->why_down[0] = '\0';
}

static const net_conn_events link_net_events = {
    .data = link_on_data, .error = link_on_net_error, .closed = link_on_closed,
};

static void link_on_connected(void *ud, net_conn *c, int err)
{
    link_conn *l = ud;
    if (err < 0) {
        if (l->is_freeing) {
            uv_close((uv_handle_t *)&l->retry, link_on_retry_closed);
            return;
        }
        l->state = LINK_DOWN;
        link_schedule_retry(l, xe_str(err));
        return;
    }
    l->net = c;
    if (l->is_freeing) {
        net_conn_close(c);
        return;
    }
    l->xs = xstream_new(l->o.limits.max_stanza_bytes ? &l->o.limits : NULL, false,
                        &link_stream_events, l);
    l->state = LINK_HEADER;
    buf hdr;
    buf_init(&hdr);
    buf_append_str(&hdr, "<?xml version='1.0'?><stream:stream xmlns='" XS_NS_COMPONENT
                         "' xmlns:stream='" XS_NS_STREAMS "' to='");
    buf_append_xml(&hdr, l->o.name, strlen(l->o.name), 1);
    buf_append_str(&hdr, "'>");
    link_wire(l, buf_data(&hdr), buf_len(&hdr));
    buf_close(&hdr);
}

static void link_connect(link_conn *l)
{
    l->state = LINK_CONNECTING;
    int err = net_connect(l->o.address, l->o.is_unix, l->o.tls, l->o.tls_name,
                          &link_net_events, l, link_on_connected);
    if (err < 0)
        link_refuse(l, "the router address does not parse");
}

link_conn *link_new(const link_opts *o, const link_events *ev, void *ud)
{
    link_conn *l = xalloc(sizeof *l);
    l->o = *o;
    l->o.address = xstrdup(o->address);
    l->o.tls_name = xstrdup(o->tls_name);
    l->o.name = xstrdup(o->name);
    l->o.secret = xstrdup(o->secret);
    l->o.instance = xstrdup(o->instance);
    if (!l->o.max_queue_bytes)
        l->o.max_queue_bytes = 4 << 20;
    if (!l->o.max_backoff_ms)
        l->o.max_backoff_ms = 10000;
    l->binds = xalloc((o->n_binds + 1) * sizeof *l->binds);
    for (size_t i = 0; i < o->n_binds; i++) {
        l->binds[i].name = xstrdup(o->binds[i].name);
        l->binds[i].is_service = o->binds[i].is_service;
    }
    l->ev = ev;
    l->ud = ud;
    buf_init(&l->queue);
    snprintf(l->who, sizeof l->who, "%s", o->instance ? o->instance : o->name);
    uv_timer_init(net_loop(), &l->retry);
    l->retry.data = l;
    link_connect(l);
    return l;
}

static void link_release_strings(link_conn *l)
{
    free((char *)l->o.address);
    free((char *)l->o.tls_name);
    free((char *)l->o.name);
    free((char *)l->o.secret);
    free((char *)l->o.instance);
    for (size_t i = 0; i < l->o.n_binds; i++)
        free((char *)l->binds[i].name);
    free(l->binds);
    buf_close(&l->queue);
}

void link_free(link_conn *l)
{
    if (!l)
        return;
    l->is_freeing = true;
    link_release_strings(l);
    uv_timer_stop(&l->retry);
    if (l->net) {
        if (l->state >= LINK_HANDSHAKE)
            net_conn_send(l->net, "</stream:stream>", 16);
        net_conn_close(l->net);      /* link_on_closed frees */
    } else if (l->state != LINK_CONNECTING) {
        uv_close((uv_handle_t *)&l->retry, link_on_retry_closed);
    }                                /* else link_on_connected frees */
}

bool link_is_ready(const link_conn *l)
{
    return l->state == LINK_READY;
}

const char *link_instance(const link_conn *l)
{
    return l->o.instance ? l->o.instance : l->o.name;
}

size_t link_queued(const link_conn *l)
{
    return buf_len(&l->queue) + (l->net ? net_conn_queued(l->net) : 0);
}

int link_send(link_conn *l, const char *xml, size_t len)
{
    if (!l)
        return XE_CLOSED;
    if (l->state == LINK_READY && l->net) {
        link_wire(l, xml, len);
        return 0;
    }
    if (buf_len(&l->queue) + len > l->o.max_queue_bytes)
        return XE_BUSY;
    buf_append(&l->queue, xml, len);
    return 0;
}

int link_send_stanza(link_conn *l, xs_elem *st)
{
    if (!l) {
        xs_unref(st);
        return XE_CLOSED;
    }
    buf out;
    buf_init(&out);
    xs_serialize(st, XS_NS_COMPONENT, &out);
    xs_unref(st);
    int err = link_send(l, buf_data(&out), buf_len(&out));
    buf_close(&out);
    return err;
}

int link_send_envelope(link_conn *l, const char *to, const char *key,
                       const char *inner, size_t len)
{
    if (!l)
        return XE_CLOSED;
    buf out;
    buf_init(&out);
    envelope e = { .to = to, .from = link_instance(l), .key = key };
    envelope_wrap(&out, &e, inner, len);
    int err = link_send(l, buf_data(&out), buf_len(&out));
    buf_close(&out);
    return err;
}
