/* SPDX-License-Identifier: MIT */
/* router/deliver.c: where each stanza and envelope goes. The router reads only
 * the top-level attributes and forwards the bytes it received; it builds a
 * tree only to bounce an error. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "libcommon/alloc.h"
#include "libcommon/envelope.h"
#include "libcommon/jid.h"
#include "libcommon/log.h"
#include "router/router.h"

/* The parts of a JID string that routing needs, without normalizing it
 * (RFC 7622 §3.1: the resource starts at the first '/'; before it, the
 * domain follows the '@' if there is one). */
typedef struct deliver_addr {
    const char *bare;             /* local@domain, bare_len bytes */
    size_t bare_len;
    const char *domain;
    size_t domain_len;
} deliver_addr;

static void deliver_split(const char *s, deliver_addr *a)
{
    const char *slash = strchr(s, '/');
    size_t pre = slash ? (size_t)(slash - s) : strlen(s);
    const char *at = memchr(s, '@', pre);
    a->bare = s;
    a->bare_len = pre;
    a->domain = at ? at + 1 : s;
    a->domain_len = pre - (size_t)(a->domain - s);
}

/* The route serving a domain: the exact name, else its normalized form (for
 * upper-case non-ASCII or a trailing dot). */
static router_route *deliver_find_domain(router *r, const deliver_addr *a)
{
    router_route *rt = router_route_find(r, a->domain, a->domain_len);
    if (rt && rt->n_conns)
        return rt;
    char raw[1024], *norm;
    if (a->domain_len >= sizeof raw)
        return rt;
    memcpy(raw, a->domain, a->domain_len);
    raw[a->domain_len] = '\0';
    if (jid_domain_normalize(raw, &norm) < 0)
        return rt;
    if (strcmp(norm, raw) != 0) {
        router_route *other = router_route_find(r, norm, strlen(norm));
        if (other)
            rt = other;
    }
    free(norm);
    return rt;
}

static bool deliver_from_allowed(router *r, const router_conn *rc, const deliver_addr *a)
{
    for (size_t i = 0; i < rc->n_bound; i++) {
        const router_route *rt = rc->bound[i];
        if (!rt->is_service && strncasecmp(rt->name, a->domain, a->domain_len) == 0 &&
            rt->name[a->domain_len] == '\0')
            return true;
    }
    return rc->cfg->may_send_remote &&
           !router_is_local_domain(r, a->domain, a->domain_len);
}

/* Builds the error reply for a stanza into out. False when none is due:
 * errors are never answered with errors, nor iq results (RFC 6120 §8.2.3). */
static bool deliver_error_reply(xs_elem *st, const char *raw, size_t len,
                                int cond, const char *text, buf *out)
{
    const char *type = xs_attr(st, "type");
    if (type && (strcmp(type, "error") == 0 ||
                 (strcmp(xs_name(st), "iq") == 0 && strcmp(type, "result") == 0)))
        return false;
    xs_elem *full;
    if (xs_parse(raw, len, XS_NS_COMPONENT, &full) < 0)
        return false;
    xs_elem *reply = xs_error_reply(full, (xs_condition)cond, text);
    xs_serialize(reply, XS_NS_COMPONENT, out);
    xs_unref(reply);
    xs_unref(full);
    return true;
}

/* Answers rc itself: for what rc sent that must not be routed at all. */
static void deliver_refuse(router_conn *rc, xs_elem *st, const char *raw,
                           size_t len, int cond, const char *text)
{
    rc->r->stats.refused++;
    buf out;
    buf_init(&out);
    if (deliver_error_reply(st, raw, len, cond, text, &out))
        router_conn_send(rc, buf_data(&out), buf_len(&out));
    buf_close(&out);
}

void router_bounce(router *r, xs_elem *st, const char *raw, size_t len,
                   int cond, const char *text)
{
    buf out;
    buf_init(&out);
    if (deliver_error_reply(st, raw, len, cond, text, &out)) {
        xs_elem *reply;
        if (xs_parse(buf_data(&out), buf_len(&out), XS_NS_COMPONENT, &reply) == 0) {
            r->stats.bounced++;
            router_deliver(r, NULL, reply, buf_data(&out), buf_len(&out));
            xs_unref(reply);
        }
    } else {
        log_debug("router", "dropped undeliverable %s of type error/result to %s",
                  xs_name(st), xs_attr(st, "to") ? xs_attr(st, "to") : "(none)");
    }
    buf_close(&out);
}

/* Hands raw to dst unless dst's queue is full (then false: the caller
 * answers the sender). src (NULL for the router's own stanzas) waits while
 * dst's queue is more than half full. */
static bool deliver_forward(router *r, router_conn *src, router_conn *dst,
                            const char *raw, size_t len)
{
    size_t queued = net_conn_queued(dst->net);
    size_t limit = r->config.limits.send_queue_bytes;
    if (queued + len > limit) {
        log_warn(dst->who, "send queue of %zu bytes is full; returning what comes", queued);
        dst->bounced++;
        return false;
    }
    router_conn_send(dst, raw, len);
    dst->stanzas_out++;
    r->stats.stanzas++;
    r->stats.bytes += len;
    if (src && queued + len > limit / 2)
        router_conn_wait_for(src, dst);
    return true;
}

/* Forwards a stanza, or bounces it when dst is overloaded. */
static void deliver_stanza_to(router *r, router_conn *src, router_conn *dst,
                              xs_elem *st, const char *raw, size_t len)
{
    if (!deliver_forward(r, src, dst, raw, len))
        router_bounce(r, st, raw, len, XS_RESOURCE_CONSTRAINT, "recipient is overloaded");
}

static void deliver_stanza(router *r, router_conn *rc, xs_elem *st,
                           const char *raw, size_t len)
{
    const char *from = xs_attr(st, "from"), *to = xs_attr(st, "to");
    deliver_addr fa, ta;
    if (rc) {
        if (!from || !from[0]) {
            deliver_refuse(rc, st, raw, len, XS_BAD_REQUEST,
                           "a component must set from (XEP-0114)");
            return;
        }
        deliver_split(from, &fa);
        if (!deliver_from_allowed(r, rc, &fa)) {
            char esc[256];
            log_warn(rc->who, "refused a %s from %s: outside what this component serves",
                     xs_name(st), log_escape(from, strlen(from), esc, sizeof esc));
            deliver_refuse(rc, st, raw, len, XS_FORBIDDEN,
                           "this component may not send from that address");
            return;
        }
    }
    if (!to || !to[0]) {
        if (rc)
            deliver_refuse(rc, st, raw, len, XS_SERVICE_UNAVAILABLE,
                           "the router offers no service of its own");
        return;
    }
    deliver_split(to, &ta);
    router_route *rt = deliver_find_domain(r, &ta);
    if (rt && rt->n_conns) {
        deliver_stanza_to(r, rc, router_route_pick(rt, ta.bare, ta.bare_len), st, raw, len);
        return;
    }
    if (router_is_local_domain(r, ta.domain, ta.domain_len)) {
        router_bounce(r, st, raw, len, XS_SERVICE_UNAVAILABLE,
                      "no component serves this address now");
        return;
    }
    router_route *def = r->config.default_service
                            ? router_route_find(r, r->config.default_service,
                                                strlen(r->config.default_service))
                            : NULL;
    if (def && def->n_conns) {
        r->stats.to_default++;
        deliver_stanza_to(r, rc, router_route_pick(def, ta.domain, ta.domain_len), st,
                          raw, len);
        return;
    }
    router_bounce(r, st, raw, len, XS_REMOTE_SERVER_NOT_FOUND,
                  "no route to this domain");
}

/* Sends an envelope's content back to the instance it came from, marked with
 * an error condition, so that the sender can store or bounce what it held. */
static void deliver_envelope_error(router *r, xs_elem *st, const char *raw,
                                   size_t len, const char *cond)
{
    const char *back = xs_attr(st, "from");
    const char *type = xs_attr(st, "type");
    router_route *rt = back ? router_route_find(r, back, strlen(back)) : NULL;
    if ((type && strcmp(type, "error") == 0) || !rt || !rt->n_conns) {
        log_info("router", "dropped an undeliverable envelope from %s (%s)",
                 back ? back : "(none)", cond);
        return;
    }
    size_t off, inner_len;
    envelope_inner(raw, len, &off, &inner_len);
    buf out;
    buf_init(&out);
    envelope e = { .to = back, .from = "router", .key = xs_attr(st, "key"),
                   .condition = cond };
    envelope_wrap(&out, &e, raw + off, inner_len);
    router_conn *dst = rt->conns[0];
    router_conn_send(dst, buf_data(&out), buf_len(&out));
    r->stats.bounced++;
    buf_close(&out);
}

static void deliver_envelope(router *r, router_conn *rc, xs_elem *st,
                             const char *raw, size_t len)
{
    const char *from = xs_attr(st, "from"), *to = xs_attr(st, "to");
    if (rc && (!rc->is_xmppd || !from || strcmp(from, rc->instance) != 0)) {
        char esc[256];
        log_warn(rc->who, "refused an envelope from %s: not this connection's instance",
                 from ? log_escape(from, strlen(from), esc, sizeof esc) : "(none)");
        r->stats.refused++;
        return;
    }
    router_route *rt = to ? router_route_find(r, to, strlen(to)) : NULL;
    if (!rt || !rt->is_service || !rt->n_conns) {
        deliver_envelope_error(r, st, raw, len, "service-unavailable");
        return;
    }
    const char *key = xs_attr(st, "key");
    router_conn *dst = router_route_pick(rt, key ? key : "", key ? strlen(key) : 0);
    if (!deliver_forward(r, rc, dst, raw, len))
        deliver_envelope_error(r, st, raw, len, "resource-constraint");
}

void router_deliver(router *r, router_conn *rc, xs_elem *st, const char *raw, size_t len)
{
    const char *name = xs_name(st), *ns = xs_ns(st);
    if (rc)
        rc->stanzas_in++;
    if (ns && strcmp(ns, XS_NS_XMPPD_ROUTE) == 0 && strcmp(name, "route") == 0) {
        deliver_envelope(r, rc, st, raw, len);
    } else if (ns && strcmp(ns, XS_NS_COMPONENT) == 0 &&
               (strcmp(name, "message") == 0 || strcmp(name, "presence") == 0 ||
                strcmp(name, "iq") == 0)) {
        deliver_stanza(r, rc, st, raw, len);
    } else if (ns && strcmp(ns, XS_NS_XMPPD_COMPONENT) == 0 && strcmp(name, "bind") == 0 && rc) {
        router_bind_request(rc, st);
    } else if (rc) {
        char esc[64];
        log_warn(rc->who, "unsupported top-level element <%s>",
                 log_escape(name, strlen(name), esc, sizeof esc));
        router_conn_close(rc, XS_STREAM_UNSUPPORTED_STANZA_TYPE, "unsupported element");
    }
}

/* The stanzas queued for a connection that died never reached it: route them
 * again (another instance may serve the same name now), which bounces what
 * has nowhere to go. */
static void unsent_stanza(void *ud, xs_elem *st, const char *raw, size_t len)
{
    router *r = ud;
    router_deliver(r, NULL, st, raw, len);
}

static void unsent_ignore_open(void *ud, xs_elem *header)
{
    (void)ud;
    (void)header;
}

static void unsent_ignore_close(void *ud)
{
    (void)ud;
}

static void unsent_error(void *ud, xs_stream_condition cond, const char *text)
{
    (void)ud;
    (void)cond;
    log_warn("router", "could not re-read the queue of a closed connection: %s", text);
}

void router_bounce_unsent(router *r, router_conn *rc, const char *data, size_t len)
{
    static const xstream_events ev = {
        .open = unsent_ignore_open, .stanza = unsent_stanza,
        .close = unsent_ignore_close, .error = unsent_error,
    };
    static const char header[] = "<stream:stream xmlns='" XS_NS_COMPONENT
                                 "' xmlns:stream='" XS_NS_STREAMS "'>";
    log_info(rc->who, "re-routing %zu queued bytes it never received", len);
    xstream_limits lim = { len + 1, r->config.limits.max_depth, r->config.limits.max_attrs };
    xstream *xs = xstream_new(&lim, true, &ev, r);
    if (xstream_feed(xs, header, sizeof header - 1) == 0)
        xstream_feed(xs, data, len);
    xstream_free(xs);
}
