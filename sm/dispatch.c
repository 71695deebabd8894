/* SPDX-License-Identifier: MIT */
/* sm/dispatch.c: where every stanza sm receives goes: session commands,
 * store answers, client stanzas (filters, then iq routes or delivery) and
 * stanzas for local users. Unmatched iq get/set are answered
 * <service-unavailable/> (RFC 6120 §8.4). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/envelope.h"
#include "libcommon/error.h"
#include "libcommon/jid.h"
#include "libcommon/log.h"
#include "sm/module.h"

struct sm_iq_entry {
    sm_iq_entry *next;
    sm_target target;
    sm_iq_type type;
    const char *ns, *name;
    sm_iq_fn *handle;
};

static uint32_t iq_hash_key(sm_target target, sm_iq_type type, const char *ns,
                            const char *name)
{
    uint32_t h = 2166136261u;
    const char *parts[] = { ns, "\x01", name };
    for (size_t i = 0; i < 3; i++)
        for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++)
            h = (h ^ *p) * 16777619u;
    return (h ^ ((uint32_t)target << 4) ^ (uint32_t)type) * 16777619u;
}

static sm_iq_fn *iq_lookup(const sm_server *sm, sm_target target, sm_iq_type type,
                           const char *ns, const char *name)
{
    if (!sm->iq_hash_size)
        return NULL;
    uint32_t h = iq_hash_key(target, type, ns, name) % sm->iq_hash_size;
    for (const sm_iq_entry *e = sm->iq_hash[h]; e; e = e->next)
        if (e->target == target && e->type == type && strcmp(e->ns, ns) == 0 &&
            strcmp(e->name, name) == 0)
            return e->handle;
    return NULL;
}

static int filter_cmp(const void *a, const void *b)
{
    const sm_module *ma = *(const sm_module *const *)a;
    const sm_module *mb = *(const sm_module *const *)b;
    return (ma->priority > mb->priority) - (ma->priority < mb->priority);
}

int sm_dispatch_start(sm_server *sm, const cfg_node *section, cfg_diag *diag)
{
    size_t n_routes = 0, n_mods = 0;
    for (; sm->modules[n_mods]; n_mods++)
        for (const sm_iq_route *r = sm->modules[n_mods]->iq; r && r->handle; r++)
            n_routes++;
    sm->iq_hash_size = n_routes * 2 + 1;
    sm->iq_hash = xalloc(sm->iq_hash_size * sizeof *sm->iq_hash);
    sm->filters = xalloc((n_mods + 1) * sizeof *sm->filters);
    for (size_t i = 0; i < n_mods; i++) {
        const sm_module *m = sm->modules[i];
        for (const sm_iq_route *r = m->iq; r && r->handle; r++) {
            if (iq_lookup(sm, r->target, r->type, r->ns, r->name))
                return cfg_error(diag, section, "modules clash on the iq {%s}%s",
                                 r->ns, r->name);
            uint32_t h = iq_hash_key(r->target, r->type, r->ns, r->name) % sm->iq_hash_size;
            sm_iq_entry *e = xalloc(sizeof *e);
            *e = (sm_iq_entry){ .next = sm->iq_hash[h], .target = r->target, .type = r->type,
                                .ns = r->ns, .name = r->name, .handle = r->handle };
            sm->iq_hash[h] = e;
        }
        if (m->from_session || m->to_user || m->to_remote)
            sm->filters[sm->n_filters++] = m;
    }
    qsort(sm->filters, sm->n_filters, sizeof *sm->filters, filter_cmp);
    for (size_t i = 0; i < n_mods; i++) {
        const sm_module *m = sm->modules[i];
        int err = m->start ? m->start(sm, section, diag) : 0;
        if (err < 0)
            return err;
    }
    return 0;
}

void sm_dispatch_stop(sm_server *sm)
{
    for (size_t i = 0; sm->modules && sm->modules[i]; i++)
        if (sm->modules[i]->stop)
            sm->modules[i]->stop(sm);
    for (size_t i = 0; i < sm->iq_hash_size; i++) {
        sm_iq_entry *e = sm->iq_hash[i];
        while (e) {
            sm_iq_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(sm->iq_hash);
    sm->iq_hash = NULL;
    sm->iq_hash_size = 0;
    free(sm->filters);
    sm->filters = NULL;
    sm->n_filters = 0;
}

bool sm_is_local_domain(const sm_server *sm, const char *domain)
{
    for (size_t i = 0; domain && i < sm->n_domains; i++)
        if (strcmp(sm->domains[i], domain) == 0)
            return true;
    return false;
}

const char *sm_domain(const sm_server *sm)
{
    return sm->n_domains ? sm->domains[0] : "localhost";
}

char *sm_bare_of(const char *full)
{
    jid *j = NULL;
    if (!full || jid_parse(full, &j) < 0)
        return NULL;
    char *bare = xstrdup(jid_bare(j));
    jid_free(j);
    return bare;
}

void sm_stanza_xml(const xs_elem *st, const char *ns, buf *out)
{
    buf tmp;
    buf_init(&tmp);
    /* Serialized in its own namespace, the stanza and its same-namespace
     * children declare none; the stamp then gives the root the one wanted
     * (none on the component stream, jabber:client inside an envelope). */
    xs_serialize(st, xs_ns(st), &tmp);
    if (!envelope_stamp(out, buf_data(&tmp), buf_len(&tmp), ns, xs_attr(st, "from")))
        log_warn("sm", "could not re-serialize a <%s/>", xs_name(st));
    buf_close(&tmp);
}

xs_elem *sm_iq_result(const xs_elem *iq)
{
    xs_elem *r = xs_new("iq", xs_ns(iq));
    xs_set_attr(r, "type", "result");
    xs_set_attr(r, "id", xs_attr(iq, "id"));
    xs_set_attr(r, "to", xs_attr(iq, "from"));
    xs_set_attr(r, "from", xs_attr(iq, "to"));
    return r;
}

int sm_reply_error(sm_server *sm, const xs_elem *st, xs_condition cond)
{
    const char *type = xs_attr(st, "type");
    /* RFC 6120 §8.2.3: an error is never answered with an error. */
    if (type && strcmp(type, "error") == 0)
        return SM_HANDLED;
    if (strcmp(xs_name(st), "iq") == 0 && type && strcmp(type, "result") == 0)
        return SM_HANDLED;
    sm_send(sm, xs_error_reply(st, cond, NULL));
    return SM_HANDLED;
}

static void iq_dispatch(sm_server *sm, sm_session *sender, xs_elem *iq, sm_target target)
{
    const char *type = xs_attr(iq, "type");
    sm_iq_type t = 0;
    if (type && strcmp(type, "get") == 0)
        t = SM_IQ_GET;
    else if (type && strcmp(type, "set") == 0)
        t = SM_IQ_SET;
    if (!t)
        return;              /* results and errors for us end here */
    xs_elem *payload = xs_first(iq);
    if (!payload || xs_next(payload)) {
        sm_reply_error(sm, iq, XS_BAD_REQUEST);  /* RFC 6120 §8.2.3: one child */
        return;
    }
    const char *ns = xs_ns(payload) ? xs_ns(payload) : "";
    sm_iq_fn *fn = iq_lookup(sm, target, t, ns, xs_name(payload));
    if (!fn || fn(sm, sender, iq) != SM_HANDLED)
        sm_reply_error(sm, iq, XS_SERVICE_UNAVAILABLE);
}

void sm_to_user(sm_server *sm, sm_user *u, xs_elem *st)
{
    for (size_t i = 0; i < sm->n_filters; i++)
        if (sm->filters[i]->to_user && sm->filters[i]->to_user(u, st) == SM_HANDLED)
            return;
    jid *to = NULL;
    if (jid_parse(xs_attr(st, "to"), &to) < 0)
        return;
    if (jid_resource(to)) {
        sm_session *s = sm_user_session(u, jid_resource(to));
        if (s)
            sm_session_deliver(s, st);
        else if (strcmp(xs_name(st), "iq") == 0)
            sm_reply_error(sm, st, XS_SERVICE_UNAVAILABLE);  /* RFC 6121 §8.5.3.2.3 */
    } else if (strcmp(xs_name(st), "iq") == 0) {
        iq_dispatch(sm, sm_session_find(sm, xs_attr(st, "from")), st, SM_TO_ACCOUNT);
    }
    jid_free(to);
}

void sm_send(sm_server *sm, xs_elem *st)
{
    jid *to = NULL;
    const char *to_s = xs_attr(st, "to");
    if (!to_s || jid_parse(to_s, &to) < 0) {
        log_debug("sm", "dropped a <%s/> without a valid to", xs_name(st));
        xs_unref(st);
        return;
    }
    if (sm_is_local_domain(sm, jid_domain(to))) {
        if (jid_local(to)) {
            sm_user *u = sm_user_get(sm, jid_bare(to), true);
            sm_to_user(sm, u, st);
        } else if (strcmp(xs_name(st), "iq") == 0) {
            iq_dispatch(sm, sm_session_find(sm, xs_attr(st, "from")), st, SM_TO_SERVER);
        }
        jid_free(to);
        xs_unref(st);
        sm_user_collect(sm);
        return;
    }
    if (!strchr(jid_domain(to), '.')) {
        /* A bare name is a service or an instance of the suite (store,
         * router, c2s/...): clients never reach those. */
        jid_free(to);
        sm_reply_error(sm, st, XS_SERVICE_UNAVAILABLE);
        xs_unref(st);
        return;
    }
    jid_free(to);
    for (size_t i = 0; i < sm->n_filters; i++)
        if (sm->filters[i]->to_remote && sm->filters[i]->to_remote(sm, st) == SM_HANDLED) {
            xs_unref(st);
            return;
        }
    buf out;
    buf_init(&out);
    sm_stanza_xml(st, NULL, &out);
    if (buf_len(&out) && link_send(sm->link, buf_data(&out), buf_len(&out)) < 0)
        log_warn("sm", "a <%s/> to %s dropped: the link's queue is full", xs_name(st), to_s);
    buf_close(&out);
    xs_unref(st);
}

static bool is_stanza(const xs_elem *e)
{
    const char *n = xs_name(e);
    return strcmp(n, "message") == 0 || strcmp(n, "presence") == 0 || strcmp(n, "iq") == 0;
}

bool sm_is_own_account(const sm_session *sender, const xs_elem *iq)
{
    const char *to = xs_attr(iq, "to");
    if (!sender)
        return false;
    if (!to)
        return true;
    char *bare = sm_bare_of(to);
    bool is_own = bare && strcmp(bare, sender->user->bare) == 0;
    free(bare);
    return is_own;
}

static bool is_one_of(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* RFC 6120 §8.2.3 and §8.3.3: a client's iq needs an id and a known type,
 * and any stanza a to that is a JID. Answers what is not so (an error is
 * never answered) and returns false. */
static bool is_well_addressed(sm_server *sm, const xs_elem *st)
{
    static const char *const iq_types[] = { "get", "set", "result", "error", NULL };
    const char *to = xs_attr(st, "to"), *type = xs_attr(st, "type");
    if (strcmp(xs_name(st), "iq") == 0 &&
        (!xs_attr(st, "id") || !type || !is_one_of(type, iq_types))) {
        sm_reply_error(sm, st, XS_BAD_REQUEST);
        return false;
    }
    jid *j = NULL;
    if (to && jid_parse(to, &j) < 0) {
        sm_reply_error(sm, st, XS_JID_MALFORMED);
        return false;
    }
    jid_free(j);
    return true;
}

/* A client's stanza, from a session of this sm. */
static void from_session(sm_server *sm, sm_session *s, xs_elem *st)
{
    if (!is_well_addressed(sm, st))
        return;
    for (size_t i = 0; i < sm->n_filters; i++)
        if (sm->filters[i]->from_session && sm->filters[i]->from_session(s, st) == SM_HANDLED)
            return;
    const char *to = xs_attr(st, "to");
    if (strcmp(xs_name(st), "iq") == 0) {
        char *bare = to ? sm_bare_of(to) : NULL;
        if (!to || (bare && strcmp(to, s->user->bare) == 0)) {
            iq_dispatch(sm, s, st, SM_TO_ACCOUNT);
            free(bare);
            return;
        }
        free(bare);
        if (sm_is_local_domain(sm, to)) {
            iq_dispatch(sm, s, st, SM_TO_SERVER);
            return;
        }
    }
    if (!to) {
        /* RFC 6121 §8.5.2: no to means the user's own bare JID. */
        xs_elem *copy = xs_dup(st);
        xs_set_attr(copy, "to", s->user->bare);
        sm_send(sm, copy);
        return;
    }
    sm_send(sm, xs_ref(st));
}

static void on_envelope(sm_server *sm, xs_elem *env)
{
    const char *from = xs_attr(env, "from");
    xs_elem *inner = xs_first(env);
    if (!from || !inner)
        return;
    if (xs_attr(env, "type")) {
        /* Came back undelivered: a message is stored or bounced, never lost. */
        if (strcmp(xs_name(inner), "message") == 0)
            sm_message_undelivered(sm, inner);
        else
            log_debug("sm", "undeliverable <%s/> from %s dropped", xs_name(inner), from);
        return;
    }
    const char *ns = xs_ns(inner) ? xs_ns(inner) : "";
    if (strcmp(xs_name(inner), "session") == 0 && strcmp(ns, SM_NS_SESSION) == 0) {
        sm_session_command(sm, from, inner);
        return;
    }
    if (strcmp(xs_name(inner), "iq") == 0 && sm_store_answer(sm, inner))
        return;
    if (!is_stanza(inner))
        return;
    sm_session *s = sm_session_find(sm, xs_attr(inner, "from"));
    if (!s || strcmp(s->c2s, from) != 0) {
        log_debug("sm", "a <%s/> from %s for no session here; dropped", xs_name(inner), from);
        return;
    }
    from_session(sm, s, inner);
    sm_user_collect(sm);
}

void sm_on_stanza(link_conn *l, xs_elem *st, const char *raw, size_t len, void *ud)
{
    (void)l, (void)raw, (void)len;
    sm_server *sm = ud;
    const char *ns = xs_ns(st) ? xs_ns(st) : "";
    if (strcmp(xs_name(st), "route") == 0 && strcmp(ns, XS_NS_XMPPD_ROUTE) == 0) {
        on_envelope(sm, st);
        return;
    }
    if (!is_stanza(st))
        return;
    jid *to = NULL;
    if (jid_parse(xs_attr(st, "to"), &to) < 0 || !sm_is_local_domain(sm, jid_domain(to))) {
        jid_free(to);
        sm_reply_error(sm, st, XS_SERVICE_UNAVAILABLE);
        return;
    }
    jid_free(to);
    sm_send(sm, xs_ref(st));
}

void sm_on_member(link_conn *l, const char *type, const char *instance,
                  const char *name, const char *kind, void *ud)
{
    (void)l, (void)name, (void)kind;
    sm_server *sm = ud;
    if (strcmp(type, "detach") == 0 && instance)
        sm_session_end_c2s(sm, instance);
}
