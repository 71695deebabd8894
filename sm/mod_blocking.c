/* SPDX-License-Identifier: MIT */
/* sm/mod_blocking.c: XEP-0191 Blocking Command: the block list (get, block,
 * unblock with pushes to the resources that asked for the list) and its
 * enforcement by two filters that run before presence and messages. Each
 * user's list is cached from the store at their first session; stanzas for
 * a user whose list is being read wait for it, so blocking also holds for
 * users who are offline. */
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/strmap.h"
#include "libcommon/buf.h"
#include "libcommon/jid.h"
#include "libcommon/log.h"
#include "sm/module.h"

#define BLOCK_NS "urn:xmpp:blocking"
#define BLOCK_ERRORS_NS "urn:xmpp:blocking:errors"

typedef struct strs {
    char **v;
    size_t n, cap;
} strs;

typedef struct block_list {
    char *bare;
    strs jids;                 /* normalized blocked JIDs */
    strs askers;               /* full JIDs of the sessions that asked (get pushes) */
    bool is_loaded;
    xs_elem **queue;           /* stanzas for the user waiting for the load */
    size_t n_queue, cap_queue;
} block_list;

/* The cached lists by bare JID. */
static strmap *lists;

/* --- string sets --- */

static bool strs_has(const strs *s, const char *v)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], v) == 0)
            return true;
    return false;
}

static void strs_add(strs *s, const char *v)
{
    if (strs_has(s, v))
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = xstrdup(v);
}

static void strs_remove(strs *s, const char *v)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], v) == 0) {
            free(s->v[i]);
            s->v[i] = s->v[--s->n];
            return;
        }
}

static void strs_clear(strs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    s->n = 0;
}

static void strs_free(strs *s)
{
    strs_clear(s);
    free(s->v);
    s->v = NULL;
    s->cap = 0;
}

/* --- the cache --- */

static block_list *list_find(const char *bare)
{
    return lists ? strmap_get(lists, bare) : NULL;
}

static void list_insert(block_list *l)
{
    if (!lists)
        lists = strmap_new();
    strmap_put(lists, l->bare, l);
}

static void list_free(block_list *l)
{
    for (size_t i = 0; i < l->n_queue; i++)
        xs_unref(l->queue[i]);
    free(l->queue);
    strs_free(&l->jids);
    strs_free(&l->askers);
    free(l->bare);
    free(l);
}

static void list_free_any(void *l)
{
    list_free(l);
}

static void list_drop(block_list *l)
{
    strmap_remove(lists, l->bare);
    list_free(l);
}

static bool user_has_sessions(sm_server *sm, const char *bare, const sm_session *except)
{
    sm_user *u = sm_user_get(sm, bare, false);
    for (sm_session *s = u ? u->sessions : NULL; s; s = s->next)
        if (s != except)
            return true;
    return false;
}

static void list_on_load(sm_server *sm, xs_elem *answer, void *ud)
{
    char *bare = ud;
    block_list *l = list_find(bare);
    if (!l || l->is_loaded) {
        free(bare);
        return;
    }
    xs_elem *got = sm_store_result(answer);
    if (!got && !sm->is_stopping)
        log_warn("sm", "the block list of %s could not be read; taken as empty", bare);
    for (xs_elem *it = got ? xs_first(got) : NULL; it; it = xs_next(it))
        if (xs_attr(it, "jid"))
            strs_add(&l->jids, xs_attr(it, "jid"));
    l->is_loaded = true;
    xs_elem **queue = l->queue;
    size_t n = l->n_queue;
    l->queue = NULL;
    l->n_queue = l->cap_queue = 0;
    for (size_t i = 0; i < n; i++) {
        if (!sm->is_stopping)
            sm_to_user(sm, sm_user_get(sm, bare, true), queue[i]);
        xs_unref(queue[i]);
    }
    free(queue);
    l = list_find(bare);
    if (l && !user_has_sessions(sm, bare, NULL))
        list_drop(l);                 /* was read for an offline user's stanzas */
    free(bare);
}

static block_list *list_load(sm_server *sm, const char *bare)
{
    block_list *l = xalloc(sizeof *l);
    l->bare = xstrdup(bare);
    list_insert(l);
    sm_store_query q = { .name = "blocklist-get", .user = bare };
    sm_store_ask(sm, &q, list_on_load, xstrdup(bare));
    return l;
}

/* True when the list blocks address: its full JID, bare JID, domain/resource
 * or domain is on it (XEP-0191 §6, JID matching). */
static bool list_blocks(const block_list *l, const char *address)
{
    jid *j = NULL;
    if (!l->jids.n || !address || jid_parse(address, &j) < 0)
        return false;
    bool is_blocked = strs_has(&l->jids, jid_full(j)) || strs_has(&l->jids, jid_bare(j)) ||
                      strs_has(&l->jids, jid_domain(j));
    if (!is_blocked && jid_local(j) && jid_resource(j)) {
        char *dr = xasprintf("%s/%s", jid_domain(j), jid_resource(j));
        is_blocked = strs_has(&l->jids, dr);
        free(dr);
    }
    jid_free(j);
    return is_blocked;
}

/* --- enforcement --- */

static bool is_type(const xs_elem *st, const char *type)
{
    const char *t = xs_attr(st, "type");
    return t && strcmp(t, type) == 0;
}

/* Presence that sm sends for a local user (broadcasts, probes, answers to
 * probes) to a JID that user's list blocks (§3.3); unavailable still goes,
 * telling the blocked contact the user is gone. */
static bool blocks_own_presence(const xs_elem *st)
{
    if (strcmp(xs_name(st), "presence") != 0 || is_type(st, "unavailable") ||
        is_type(st, "error"))
        return false;
    char *from_bare = sm_bare_of(xs_attr(st, "from"));
    block_list *own = from_bare ? list_find(from_bare) : NULL;
    free(from_bare);
    return own && own->is_loaded && list_blocks(own, xs_attr(st, "to"));
}

/* A stanza for a user of another domain (a remote contact). */
static sm_verdict block_to_remote(sm_server *sm, xs_elem *st)
{
    (void)sm;
    return blocks_own_presence(st) ? SM_HANDLED : SM_PASS;
}

/* A stanza for user u. */
static sm_verdict block_to_user(sm_user *u, xs_elem *st)
{
    sm_server *sm = u->sm;
    const char *from = xs_attr(st, "from");
    char *from_bare = sm_bare_of(from);
    bool is_self = !from_bare || strcmp(from_bare, u->bare) == 0;
    free(from_bare);
    if (is_self)
        return SM_PASS;
    if (blocks_own_presence(st))
        return SM_HANDLED;
    block_list *l = list_find(u->bare);
    if (!l)
        l = list_load(sm, u->bare);
    if (!l->is_loaded) {
        if (l->n_queue == l->cap_queue) {
            l->cap_queue = l->cap_queue ? l->cap_queue * 2 : 8;
            l->queue = xrealloc(l->queue, l->cap_queue * sizeof *l->queue);
        }
        l->queue[l->n_queue++] = xs_ref(st);
        return SM_HANDLED;
    }
    if (!list_blocks(l, from))
        return SM_PASS;
    /* §3.3: presence is dropped without an answer; messages and iq get/set
     * get <service-unavailable/>, other iqs are dropped. */
    const char *name = xs_name(st);
    if (strcmp(name, "message") == 0 || (strcmp(name, "iq") == 0 &&
                                         (is_type(st, "get") || is_type(st, "set"))))
        sm_reply_error(sm, st, XS_SERVICE_UNAVAILABLE);
    return SM_HANDLED;
}

/* A stanza from one of the user's sessions. */
static sm_verdict block_from_session(sm_session *s, xs_elem *st)
{
    const char *to = xs_attr(st, "to");
    block_list *l = list_find(s->user->bare);
    if (!to || !l || !l->is_loaded || !list_blocks(l, to))
        return SM_PASS;
    if (is_type(st, "error") || (strcmp(xs_name(st), "iq") == 0 && is_type(st, "result")))
        return SM_HANDLED;
    /* §3.3: refused with <not-acceptable/> and the blocked condition; given
     * straight to the session (the error's from is the blocked JID). */
    xs_elem *r = xs_error_reply(st, XS_NOT_ACCEPTABLE, NULL);
    xs_elem *err = NULL;
    for (xs_elem *c = xs_first(r); c; c = xs_next(c))
        if (strcmp(xs_name(c), "error") == 0)
            err = c;
    if (err)
        xs_add_new(err, "blocked", BLOCK_ERRORS_NS);
    sm_session_deliver(s, r);
    xs_unref(r);
    return SM_HANDLED;
}

/* --- the protocol --- */

typedef struct block_op {
    xs_elem *iq;
    char *bare;
    strs jids;                 /* the items (none: unblock all) */
    bool is_block;
} block_op;

static void op_free(block_op *op)
{
    xs_unref(op->iq);
    free(op->bare);
    strs_free(&op->jids);
    free(op);
}

static void push_change(sm_server *sm, block_list *l, const block_op *op)
{
    xs_elem *cmd = xs_new(op->is_block ? "block" : "unblock", BLOCK_NS);
    for (size_t k = 0; k < op->jids.n; k++)
        xs_set_attr(xs_add_new(cmd, "item", BLOCK_NS), "jid", op->jids.v[k]);
    for (size_t i = 0; i < l->askers.n; i++) {
        sm_session *s = sm_session_find(sm, l->askers.v[i]);
        if (s)
            sm_session_push(s, cmd);
    }
    xs_unref(cmd);
}

typedef struct presence_note {
    char *bare;
    strs jids;
    bool is_available;         /* unblocked: current presence; blocked: unavailable */
} presence_note;

/* §3.3, §3.4: contacts with a subscription to the user's presence learn
 * that the user is unavailable (blocked) or their presence (unblocked). */
static void note_on_roster(sm_server *sm, xs_elem *answer, void *ud)
{
    presence_note *n = ud;
    xs_elem *roster = sm_store_result(answer);
    sm_user *u = sm_user_get(sm, n->bare, false);
    for (xs_elem *it = roster && u ? xs_first(roster) : NULL; it; it = xs_next(it)) {
        const char *contact = xs_attr(it, "jid");
        int sub = sm_roster_sub(xs_attr(it, "subscription"));
        if (!contact || !(sub & SM_SUB_FROM) ||
            !strs_has(&n->jids, contact))
            continue;
        for (sm_session *s = u->sessions; s; s = s->next) {
            if (!s->is_available || (n->is_available && !s->presence))
                continue;
            xs_elem *p = n->is_available ? xs_dup(s->presence) : xs_new("presence", XS_NS_CLIENT);
            if (!n->is_available)
                xs_set_attr(p, "type", "unavailable");
            xs_set_attr(p, "from", s->full);
            xs_set_attr(p, "to", contact);
            sm_send(sm, p);
        }
    }
    free(n->bare);
    strs_free(&n->jids);
    free(n);
}

static void note_contacts(sm_server *sm, const char *bare, const strs *jids, bool is_available)
{
    sm_user *u = sm_user_get(sm, bare, false);
    if (!jids->n || !u || !sm_user_has_available(u))
        return;
    presence_note *n = xalloc(sizeof *n);
    n->bare = xstrdup(bare);
    for (size_t i = 0; i < jids->n; i++)
        strs_add(&n->jids, jids->v[i]);
    n->is_available = is_available;
    sm_roster_fetch(sm, bare, NULL, note_on_roster, n);
}

static void op_on_done(sm_server *sm, xs_elem *answer, void *ud)
{
    block_op *op = ud;
    if (!sm_store_ok(answer)) {
        sm_reply_error(sm, op->iq, XS_INTERNAL_SERVER_ERROR);
        op_free(op);
        return;
    }
    block_list *l = list_find(op->bare);
    strs gone = { 0 };
    if (op->is_block) {
        /* Unavailable goes out before the list starts dropping presence. */
        note_contacts(sm, op->bare, &op->jids, false);
    } else {
        const strs *src = op->jids.n ? &op->jids : l ? &l->jids : &gone;
        for (size_t i = 0; i < src->n; i++)
            strs_add(&gone, src->v[i]);
    }
    if (l && l->is_loaded) {
        if (op->is_block)
            for (size_t i = 0; i < op->jids.n; i++)
                strs_add(&l->jids, op->jids.v[i]);
        else if (op->jids.n)
            for (size_t i = 0; i < op->jids.n; i++)
                strs_remove(&l->jids, op->jids.v[i]);
        else
            strs_clear(&l->jids);
    }
    if (l)
        push_change(sm, l, op);
    if (!op->is_block)
        note_contacts(sm, op->bare, &gone, true);
    strs_free(&gone);
    sm_send(sm, sm_iq_result(op->iq));
    op_free(op);
}

/* The sender's own list only; NULL (after an error) otherwise. */
static const char *block_owner(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    if (!sm_is_own_account(sender, iq)) {
        sm_reply_error(sm, iq, XS_FORBIDDEN);
        return NULL;
    }
    return sender->user->bare;
}

static sm_verdict block_change(sm_server *sm, sm_session *sender, xs_elem *iq, bool is_block)
{
    const char *bare = block_owner(sm, sender, iq);
    if (!bare)
        return SM_HANDLED;
    block_op *op = xalloc(sizeof *op);
    op->iq = xs_ref(iq);
    op->bare = xstrdup(bare);
    op->is_block = is_block;
    for (xs_elem *it = xs_first(xs_first(iq)); it; it = xs_next(it)) {
        jid *j = NULL;
        if (strcmp(xs_name(it), "item") != 0 || !xs_ns(it) || strcmp(xs_ns(it), BLOCK_NS) != 0)
            continue;
        if (jid_parse(xs_attr(it, "jid"), &j) < 0) {
            op_free(op);
            return sm_reply_error(sm, iq, XS_JID_MALFORMED);   /* §3.3 */
        }
        strs_add(&op->jids, jid_full(j));
        jid_free(j);
    }
    if (is_block && !op->jids.n) {
        op_free(op);
        return sm_reply_error(sm, iq, XS_BAD_REQUEST);         /* §3.3: no items */
    }
    buf items;
    buf_init(&items);
    for (size_t i = 0; i < op->jids.n; i++) {
        buf_append_str(&items, "<item jid='");
        buf_append_xml(&items, op->jids.v[i], strlen(op->jids.v[i]), 1);
        buf_append_str(&items, "'/>");
    }
    char *body = buf_steal(&items);      /* "" for none: unblock all */
    sm_store_query q = { .name = is_block ? "blocklist-add" : "blocklist-remove",
                         .user = bare, .is_set = true, .body = body };
    sm_store_ask(sm, &q, op_on_done, op);
    free(body);
    return SM_HANDLED;
}

static sm_verdict block_set(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    return block_change(sm, sender, iq, true);
}

static sm_verdict unblock_set(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    return block_change(sm, sender, iq, false);
}

static xs_elem *blocklist_result(const xs_elem *iq, const strs *jids)
{
    xs_elem *r = sm_iq_result(iq);
    xs_elem *bl = xs_add_new(r, "blocklist", BLOCK_NS);
    for (size_t i = 0; i < jids->n; i++)
        xs_set_attr(xs_add_new(bl, "item", BLOCK_NS), "jid", jids->v[i]);
    return r;
}

static xs_elem *blocklist_reply(const xs_elem *iq, xs_elem *stored)
{
    if (!stored)
        return NULL;
    strs jids = { 0 };
    for (xs_elem *it = xs_first(stored); it; it = xs_next(it))
        if (xs_attr(it, "jid"))
            strs_add(&jids, xs_attr(it, "jid"));
    xs_elem *r = blocklist_result(iq, &jids);
    strs_free(&jids);
    return r;
}

static sm_verdict blocklist_get(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    const char *bare = block_owner(sm, sender, iq);
    if (!bare)
        return SM_HANDLED;
    block_list *l = list_find(bare);
    if (!l)
        l = list_load(sm, bare);
    strs_add(&l->askers, sender->full);        /* §3.2: it gets pushes now */
    if (l->is_loaded) {
        sm_send(sm, blocklist_result(iq, &l->jids));
        return SM_HANDLED;
    }
    sm_store_query q = { .name = "blocklist-get", .user = bare };
    sm_store_ask_for_iq(sm, &q, iq, blocklist_reply);
    return SM_HANDLED;
}

/* --- sessions --- */

static void block_session_opened(sm_session *s)
{
    if (!list_find(s->user->bare))
        list_load(s->user->sm, s->user->bare);
}

static void block_session_closed(sm_session *s)
{
    block_list *l = list_find(s->user->bare);
    if (!l)
        return;
    strs_remove(&l->askers, s->full);
    if (l->is_loaded && !user_has_sessions(s->user->sm, s->user->bare, s))
        list_drop(l);
}

static void block_stop(sm_server *sm)
{
    (void)sm;
    strmap_free(lists, list_free_any);
    lists = NULL;
}

static const sm_iq_route block_routes[] = {
    { SM_TO_ACCOUNT, SM_IQ_GET, BLOCK_NS, "blocklist", blocklist_get },
    { SM_TO_ACCOUNT, SM_IQ_SET, BLOCK_NS, "block", block_set },
    { SM_TO_ACCOUNT, SM_IQ_SET, BLOCK_NS, "unblock", unblock_set },
    { 0 }
};
static const char *const block_features[] = { BLOCK_NS, NULL };

const sm_module sm_mod_blocking = {
    .name = "blocking", .spec = "XEP-0191 Blocking Command", .features = block_features,
    .iq = block_routes, .stop = block_stop, .priority = 10,
    .from_session = block_from_session, .to_user = block_to_user,
    .to_remote = block_to_remote,
    .session_opened = block_session_opened, .session_closed = block_session_closed,
};
