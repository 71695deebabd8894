/* SPDX-License-Identifier: MIT */
/* router/bind.c: the xmppd bind extension (a component serves more names,
 * checked against the config's ACL) and the membership events that tell
 * xmppd components who is attached. */
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/envelope.h"
#include "libcommon/error.h"
#include "libcommon/jid.h"
#include "libcommon/log.h"
#include "router/router.h"

int router_bind(router_conn *rc, const char *name, bool is_service)
{
    router_route *rt = router_route_get(rc->r, name, is_service);
    for (size_t i = 0; i < rc->n_bound; i++)
        if (rc->bound[i] == rt)
            return 0;
    if (rt->n_conns == rt->cap_conns) {
        rt->cap_conns = rt->cap_conns ? rt->cap_conns * 2 : 2;
        rt->conns = xrealloc(rt->conns, rt->cap_conns * sizeof *rt->conns);
    }
    rt->conns[rt->n_conns++] = rc;
    if (rc->n_bound == rc->cap_bound) {
        rc->cap_bound = rc->cap_bound ? rc->cap_bound * 2 : 4;
        rc->bound = xrealloc(rc->bound, rc->cap_bound * sizeof *rc->bound);
    }
    rc->bound[rc->n_bound++] = rt;
    return 0;
}

void router_unbind_all(router_conn *rc)
{
    for (size_t i = 0; i < rc->n_bound; i++)
        router_route_remove_conn(rc->r, rc->bound[i], rc);
    rc->n_bound = 0;
}

/* An event for one xmppd component, in an envelope from the router. */
static void events_send(router_conn *to, const char *type, const router_conn *about,
                        const router_route *rt)
{
    buf ev, out;
    buf_init(&ev);
    buf_init(&out);
    buf_printf(&ev, "<event xmlns='" XS_NS_XMPPD_ROUTER "' type='%s' instance='", type);
    buf_append_xml(&ev, about->instance, strlen(about->instance), 1);
    buf_append_str(&ev, "'");
    if (rt) {
        buf_append_str(&ev, " name='");
        buf_append_xml(&ev, rt->name, strlen(rt->name), 1);
        buf_printf(&ev, "' kind='%s'", rt->is_service ? "service" : "domain");
    }
    buf_append_str(&ev, "/>");
    envelope e = { .to = to->instance, .from = "router" };
    envelope_wrap(&out, &e, buf_data(&ev), buf_len(&ev));
    router_conn_send(to, buf_data(&out), buf_len(&out));
    buf_close(&ev);
    buf_close(&out);
}

/* Tells every other xmppd component about rc (rt NULL: it attached or, with
 * "detach", left). */
static void events_broadcast(router_conn *rc, const char *type, const router_route *rt)
{
    for (router_conn *o = rc->r->conns; o; o = o->next)
        if (o != rc && o->is_xmppd && o->state == ROUTER_CONN_READY)
            events_send(o, type, rc, rt);
}

/* A newly attached xmppd component learns who is there already. */
static void events_snapshot(router_conn *rc)
{
    for (router_conn *o = rc->r->conns; o; o = o->next) {
        if (o == rc || !o->is_xmppd || o->state != ROUTER_CONN_READY)
            continue;
        events_send(rc, "attach", o, NULL);
        for (size_t i = 0; i < o->n_bound; i++)
            if (strcmp(o->bound[i]->name, o->instance) != 0)
                events_send(rc, "bind", o, o->bound[i]);
    }
}

void router_events_detach(router_conn *rc)
{
    if (rc->is_xmppd)
        events_broadcast(rc, "detach", NULL);
}

static bool bind_allowed(const router_conn *rc, const char *name, bool is_service)
{
    router_bind_kind kind = is_service ? ROUTER_BIND_SERVICE : ROUTER_BIND_DOMAIN;
    for (size_t i = 0; i < rc->cfg->n_allow; i++) {
        const router_allow *a = &rc->cfg->allow[i];
        if (a->kind == kind && (strcmp(a->name, "*") == 0 || strcmp(a->name, name) == 0))
            return true;
    }
    return false;
}

static void bind_reply(router_conn *rc, xs_elem *req, const char *name,
                       const char *kind, int cond, const char *text)
{
    xs_elem *reply = xs_new("bind", XS_NS_XMPPD_COMPONENT);
    xs_set_attr(reply, "id", xs_attr(req, "id"));
    xs_set_attr(reply, "name", name);
    xs_set_attr(reply, "kind", kind);
    xs_set_attr(reply, "instance", rc->instance);
    if (cond >= 0) {
        xs_set_attr(reply, "type", "error");
        xs_elem *err = xs_add_new(reply, "error", XS_NS_XMPPD_COMPONENT);
        xs_set_attr(err, "type", xs_condition_type((xs_condition)cond));
        xs_add_new(err, xs_condition_name((xs_condition)cond), XS_NS_STANZAS);
        if (text)
            xs_add_text(xs_add_new(err, "text", XS_NS_STANZAS), text, strlen(text));
    }
    buf out;
    buf_init(&out);
    xs_serialize(reply, XS_NS_COMPONENT, &out);
    router_conn_send(rc, buf_data(&out), buf_len(&out));
    buf_close(&out);
    xs_unref(reply);
}

/* Makes rc an xmppd component known by instance. */
static int bind_instance(router_conn *rc, const char *instance)
{
    if (rc->is_xmppd)
        return strcmp(rc->instance, instance) == 0 ? 0 : XE_PROTOCOL;
    router_route *taken = router_route_find(rc->r, instance, strlen(instance));
    if (taken && (taken->n_conns || !taken->is_service))
        return XE_BUSY;
    free(rc->instance);
    rc->instance = xstrdup(instance);
    rc->seed = router_hash(instance, strlen(instance));
    rc->is_xmppd = true;
    router_bind(rc, instance, true);
    snprintf(rc->who, sizeof rc->who, "router %s %s", instance, net_conn_peer(rc->net));
    log_info(rc->who, "attached as instance %s", instance);
    events_snapshot(rc);
    events_broadcast(rc, "attach", NULL);
    return 0;
}

void router_bind_request(router_conn *rc, xs_elem *st)
{
    const char *instance = xs_attr(st, "instance");
    const char *name = xs_attr(st, "name"), *kind = xs_attr(st, "kind");
    if (instance) {
        int err = bind_instance(rc, instance);
        if (err == XE_BUSY) {
            log_warn(rc->who, "refused instance name %s: already attached", instance);
            bind_reply(rc, st, name, kind, XS_CONFLICT, "instance name in use");
            return;
        }
        if (err < 0) {
            bind_reply(rc, st, name, kind, XS_BAD_REQUEST,
                       "a connection keeps its first instance name");
            return;
        }
    } else if (!rc->is_xmppd) {
        bind_reply(rc, st, name, kind, XS_BAD_REQUEST, "the first bind names the instance");
        return;
    }
    if (!name) {
        bind_reply(rc, st, NULL, NULL, -1, NULL);
        return;
    }
    bool is_service = kind && strcmp(kind, "service") == 0;
    if (!is_service && !(kind && strcmp(kind, "domain") == 0)) {
        bind_reply(rc, st, name, kind, XS_BAD_REQUEST, "kind is domain or service");
        return;
    }
    char *norm = NULL;
    if (!is_service && jid_domain_normalize(name, &norm) < 0) {
        bind_reply(rc, st, name, kind, XS_JID_MALFORMED, "not a valid domain");
        return;
    }
    const char *bname = norm ? norm : name;
    router_route *existing = router_route_find(rc->r, bname, strlen(bname));
    if (!bind_allowed(rc, bname, is_service) ||
        (existing && existing->is_service != is_service)) {
        log_warn(rc->who, "refused to bind %s %s: not allowed by the config", kind, bname);
        bind_reply(rc, st, bname, kind, XS_NOT_ALLOWED, "not allowed by the router's config");
        free(norm);
        return;
    }
    router_bind(rc, bname, is_service);
    log_info(rc->who, "bound %s %s", kind, bname);
    bind_reply(rc, st, bname, kind, -1, NULL);
    router_route *rt = router_route_find(rc->r, bname, strlen(bname));
    events_broadcast(rc, "bind", rt);
    free(norm);
}
