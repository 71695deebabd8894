/* SPDX-License-Identifier: MIT */
/* sm/mod_roster.c: RFC 6121 §2 roster management with XEP-0237 versions:
 * get, set, remove and pushes to the resources that asked for the roster.
 * Items live in the store; every change is a read, an edit and a write. */
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/jid.h"
#include "libcommon/log.h"
#include "sm/module.h"

#define ROSTER_NS "jabber:iq:roster"

static const char *const sub_names[] = { "none", "to", "from", "both" };

int sm_roster_sub(const char *name)
{
    for (int i = 0; name && i < 4; i++)
        if (strcmp(sub_names[i], name) == 0)
            return i;
    return SM_SUB_NONE;
}

bool sm_roster_has_subscriber(const xs_elem *roster, const char *contact)
{
    for (xs_elem *it = roster ? xs_first(roster) : NULL; it; it = xs_next(it)) {
        const char *j = xs_attr(it, "jid");
        if (j && strcmp(j, contact) == 0)
            return sm_roster_sub(xs_attr(it, "subscription")) & SM_SUB_FROM;
    }
    return false;
}

void sm_roster_read(const xs_elem *store_item, sm_roster_item *it)
{
    it->exists = store_item != NULL;
    it->sub = store_item ? sm_roster_sub(xs_attr(store_item, "subscription")) : SM_SUB_NONE;
    const char *ask = store_item ? xs_attr(store_item, "ask") : NULL;
    const char *approved = store_item ? xs_attr(store_item, "approved") : NULL;
    it->is_asking = ask && strcmp(ask, "subscribe") == 0;
    it->is_approved = approved && strcmp(approved, "true") == 0;
    const char *pending = store_item ? xs_attr(store_item, "pending-in") : NULL;
    const char *hidden = store_item ? xs_attr(store_item, "hidden") : NULL;
    it->is_pending_in = pending && strcmp(pending, "true") == 0;
    it->is_hidden = hidden && strcmp(hidden, "true") == 0;
    it->pending_status = NULL;
    xs_elem *status = store_item ? xs_child(store_item, "status", NULL) : NULL;
    if (status)
        it->pending_status = xs_text(status);
    it->meta = store_item;
}

/* The item's name and groups from meta (either namespace). */
static void roster_meta(const xs_elem *meta, xs_elem *out, const char *group_ns)
{
    if (!meta)
        return;
    if (xs_attr(meta, "name"))
        xs_set_attr(out, "name", xs_attr(meta, "name"));
    for (xs_elem *g = xs_first(meta); g; g = xs_next(g))
        if (strcmp(xs_name(g), "group") == 0) {
            const char *t = xs_text(g);
            xs_add_text(xs_add_new(out, "group", group_ns), t, strlen(t));
        }
}

/* The client's view of an item (RFC 6121 §2.1.2), a pre-approval shown as
 * approved='true' (§2.1.2.1). */
static xs_elem *roster_client_item(const char *contact, const sm_roster_item *it,
                                   bool is_removed)
{
    xs_elem *item = xs_new("item", ROSTER_NS);
    xs_set_attr(item, "jid", contact);
    if (is_removed) {
        xs_set_attr(item, "subscription", "remove");
        return item;
    }
    xs_set_attr(item, "subscription", sub_names[it->sub]);
    if (it->is_asking)
        xs_set_attr(item, "ask", "subscribe");
    if (it->is_approved)
        xs_set_attr(item, "approved", "true");
    roster_meta(it->meta, item, ROSTER_NS);
    return item;
}

void sm_roster_push(sm_user *u, const xs_elem *item, const char *ver)
{
    xs_elem *q = xs_new("query", ROSTER_NS);
    if (ver)
        xs_set_attr(q, "ver", ver);
    xs_add(q, xs_dup(item));
    for (sm_session *s = u->sessions; s; s = s->next)
        if (s->wants_roster)
            sm_session_push(s, q);
    xs_unref(q);
}

/* --- read, edit, write --- */

typedef struct roster_edit {
    struct roster_edit *next;   /* in edits, in the order asked */
    bool is_started;
    sm_server *sm;
    char *bare, *contact;
    sm_roster_edit_fn *edit;
    sm_roster_done_fn *done;
    void *ud;
    xs_elem *meta;              /* keeps the item read (or given) alive */
    sm_roster_item it;
    bool is_remove;
    bool was_hidden;            /* the user did not see the item before */
    bool is_quiet;              /* only the pending request changed: no push */
    char *status;               /* pending_status kept when meta is replaced */
} roster_edit;

/* The edits asked and not finished. One user's edits run one at a time, in
 * order, so that each reads what the one before wrote. */
static roster_edit *edits;

static void edit_on_read(sm_server *sm, xs_elem *answer, void *ud);

static void edit_start_next(const char *bare)
{
    for (roster_edit *e = edits; e; e = e->next)
        if (strcmp(e->bare, bare) == 0) {
            if (!e->is_started) {
                e->is_started = true;
                sm_roster_fetch(e->sm, e->bare, NULL, edit_on_read, e);
            }
            return;
        }
}

static void edit_finish(sm_server *sm, roster_edit *e, int status, const char *ver)
{
    for (roster_edit **p = &edits; *p; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            break;
        }
    if (e->done)
        e->done(sm, status, ver, e->ud);
    xs_unref(e->meta);
    free(e->status);
    edit_start_next(e->bare);
    free(e->bare);
    free(e->contact);
    free(e);
}

static void edit_on_written(sm_server *sm, xs_elem *answer, void *ud)
{
    roster_edit *e = ud;
    if (!sm_store_ok(answer)) {
        const xs_elem *err = answer ? xs_child(answer, "error", NULL) : NULL;
        bool is_missing = err && xs_child(err, "item-not-found", XS_NS_STANZAS);
        edit_finish(sm, e, (is_missing ? XS_ITEM_NOT_FOUND : XS_INTERNAL_SERVER_ERROR) + 1, NULL);
        return;
    }
    xs_elem *r = sm_store_result(answer);
    const char *ver = r ? xs_attr(r, "ver") : NULL;
    sm_user *u = sm_user_get(sm, e->bare, false);
    /* An item kept only for a pending inbound request is not the user's. */
    bool is_seen = e->is_remove ? !e->was_hidden : !e->it.is_hidden;
    if (u && is_seen && !e->is_quiet) {
        xs_elem *item = roster_client_item(e->contact, &e->it, e->is_remove);
        sm_roster_push(u, item, ver);
        xs_unref(item);
    }
    edit_finish(sm, e, 0, ver);
}

static void edit_write(sm_server *sm, roster_edit *e)
{
    if (e->is_remove) {
        sm_store_query q = { .name = "roster-remove", .user = e->bare, .is_set = true,
                             .attrs = { { "jid", e->contact } } };
        sm_store_ask(sm, &q, edit_on_written, e);
        return;
    }
    xs_elem *item = xs_new("item", SM_NS_STORE);
    xs_set_attr(item, "jid", e->contact);
    xs_set_attr(item, "subscription", sub_names[e->it.sub]);
    if (e->it.is_asking)
        xs_set_attr(item, "ask", "subscribe");
    if (e->it.is_approved)
        xs_set_attr(item, "approved", "true");
    if (e->it.is_pending_in)
        xs_set_attr(item, "pending-in", "true");
    if (e->it.is_pending_in && e->it.is_hidden)
        xs_set_attr(item, "hidden", "true");
    roster_meta(e->it.meta, item, SM_NS_STORE);
    if (e->it.is_pending_in && e->it.pending_status) {
        const char *t = e->it.pending_status;
        xs_add_text(xs_add_new(item, "status", SM_NS_STORE), t, strlen(t));
    }
    sm_store_query q = { .name = "roster-set", .user = e->bare, .is_set = true,
                         .payload = item };
    sm_store_ask(sm, &q, edit_on_written, e);
    xs_unref(item);
}

static void edit_on_read(sm_server *sm, xs_elem *answer, void *ud)
{
    roster_edit *e = ud;
    xs_elem *roster = sm_store_result(answer);
    if (!roster) {
        edit_finish(sm, e, XS_INTERNAL_SERVER_ERROR + 1, NULL);
        return;
    }
    xs_elem *found = NULL;
    for (xs_elem *it = xs_first(roster); it && !found; it = xs_next(it))
        if (xs_attr(it, "jid") && strcmp(xs_attr(it, "jid"), e->contact) == 0)
            found = it;
    if (found)
        e->meta = xs_dup(found);
    sm_roster_read(e->meta, &e->it);
    e->it.meta = e->meta;
    e->was_hidden = !found || e->it.is_hidden;
    sm_roster_item before = e->it;
    int r = e->edit(&e->it, e->ud);
    e->is_quiet = found && r == SM_EDIT_WRITE && before.sub == e->it.sub &&
                  before.is_asking == e->it.is_asking &&
                  before.is_approved == e->it.is_approved &&
                  before.is_hidden == e->it.is_hidden && before.meta == e->it.meta;
    if (r == SM_EDIT_NONE) {
        edit_finish(sm, e, 0, NULL);
        return;
    }
    if (r == SM_EDIT_REMOVE) {
        if (!found) {
            edit_finish(sm, e, XS_ITEM_NOT_FOUND + 1, NULL);
            return;
        }
        e->is_remove = true;
    }
    if (e->it.meta != e->meta) {   /* the edit brought new name and groups */
        if (e->it.pending_status) {
            e->status = xstrdup(e->it.pending_status);
            e->it.pending_status = e->status;
        }
        xs_elem *m = xs_dup(e->it.meta);
        xs_unref(e->meta);
        e->meta = m;
        e->it.meta = m;
    }
    edit_write(sm, e);
}

void sm_roster_edit(sm_server *sm, const char *bare, const char *contact, sm_roster_edit_fn *edit,
                    sm_roster_done_fn *done, void *ud)
{
    roster_edit *e = xalloc(sizeof *e);
    e->bare = xstrdup(bare);
    e->contact = xstrdup(contact);
    e->edit = edit;
    e->done = done;
    e->ud = ud;
    e->sm = sm;
    roster_edit **tail = &edits;
    while (*tail)
        tail = &(*tail)->next;
    *tail = e;
    edit_start_next(e->bare);
}

void sm_roster_fetch(sm_server *sm, const char *bare, const char *ver, sm_store_fn *cb, void *ud)
{
    sm_store_query q = { .name = "roster-get", .user = bare, .attrs = { { "ver", ver } } };
    sm_store_ask(sm, &q, cb, ud);
}

/* --- the client's requests --- */

typedef struct roster_iq {
    xs_elem *iq;
    xs_elem *item;            /* the client's item, for set */
    char *bare, *contact;     /* for set */
    sm_roster_item removed;   /* the item a remove took away, without meta */
} roster_iq;

static void roster_iq_free(roster_iq *q)
{
    xs_unref(q->iq);
    free(q->bare);
    free(q->contact);
    free(q);
}

static void roster_on_get(sm_server *sm, xs_elem *answer, void *ud)
{
    roster_iq *q = ud;
    xs_elem *roster = sm_store_result(answer);
    if (!roster) {
        sm_reply_error(sm, q->iq, XS_INTERNAL_SERVER_ERROR);
    } else {
        xs_elem *r = sm_iq_result(q->iq);
        const char *unchanged = xs_attr(roster, "unchanged");
        /* XEP-0237 §2.3: an unchanged roster is an empty result. */
        if (!unchanged || strcmp(unchanged, "true") != 0) {
            xs_elem *query = xs_add_new(r, "query", ROSTER_NS);
            if (xs_attr(roster, "ver"))
                xs_set_attr(query, "ver", xs_attr(roster, "ver"));
            for (xs_elem *it = xs_first(roster); it; it = xs_next(it)) {
                sm_roster_item ri;
                sm_roster_read(it, &ri);
                if (ri.is_hidden)
                    continue;
                xs_add(query, roster_client_item(xs_attr(it, "jid"), &ri, false));
            }
        }
        sm_send(sm, r);
    }
    roster_iq_free(q);
}

/* XEP-0237 versions are the store's counters: any other ver (empty, or
 * from elsewhere) asks for the whole roster (RFC 6121 §2.6.3). */
static const char *roster_known_ver(const char *ver)
{
    if (!ver || !*ver)
        return NULL;
    for (const char *c = ver; *c; c++)
        if (*c < '0' || *c > '9')
            return NULL;
    return ver;
}

static sm_verdict roster_get(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    if (!sm_is_own_account(sender, iq))
        return sm_reply_error(sm, iq, XS_FORBIDDEN);   /* RFC 6121 §2.3.3 */
    sender->wants_roster = true;
    roster_iq *q = xalloc(sizeof *q);
    q->iq = xs_ref(iq);
    sm_roster_fetch(sm, sender->user->bare, roster_known_ver(xs_attr(xs_first(iq), "ver")),
                    roster_on_get, q);
    return SM_HANDLED;
}

static int roster_client_edit(sm_roster_item *it, void *ud)
{
    roster_iq *q = ud;
    const char *sub = xs_attr(q->item, "subscription");
    if (sub && strcmp(sub, "remove") == 0) {
        q->removed = *it;
        q->removed.meta = NULL;           /* both point into the item read */
        q->removed.pending_status = NULL;
        return SM_EDIT_REMOVE;
    }
    it->meta = q->item;       /* name and groups from the client */
    it->is_hidden = false;    /* the user's own item from now on */
    return SM_EDIT_WRITE;
}

static void roster_on_set(sm_server *sm, int status, const char *ver, void *ud)
{
    (void)ver;
    roster_iq *q = ud;
    if (status) {
        sm_reply_error(sm, q->iq, (xs_condition)(status - 1));
    } else {
        sm_send(sm, sm_iq_result(q->iq));
        if (q->removed.exists)                          /* RFC 6121 §2.5.2 */
            sm_presence_cancel(sm, q->bare, q->contact, &q->removed);
    }
    roster_iq_free(q);
}

/* RFC 6121 §2.3.3: each group named once, and not with an empty name. */
static int roster_groups_check(const xs_elem *item)
{
    for (xs_elem *g = xs_first(item); g; g = xs_next(g)) {
        if (strcmp(xs_name(g), "group") != 0)
            continue;
        const char *name = xs_text(g);
        if (!*name)
            return XS_NOT_ACCEPTABLE + 1;
        for (xs_elem *h = xs_next(g); h; h = xs_next(h))
            if (strcmp(xs_name(h), "group") == 0 && strcmp(xs_text(h), name) == 0)
                return XS_BAD_REQUEST + 1;
    }
    return 0;
}

static sm_verdict roster_set(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    if (!sm_is_own_account(sender, iq))
        return sm_reply_error(sm, iq, XS_FORBIDDEN);   /* RFC 6121 §2.3.3 */
    xs_elem *item = xs_first(xs_first(iq));
    jid *j = NULL;
    /* RFC 6121 §2.3.3: exactly one item with a valid jid. */
    if (!item || xs_next(item) || strcmp(xs_name(item), "item") != 0)
        return sm_reply_error(sm, iq, XS_BAD_REQUEST);
    int bad_groups = roster_groups_check(item);
    if (bad_groups)
        return sm_reply_error(sm, iq, (xs_condition)(bad_groups - 1));
    if (jid_parse(xs_attr(item, "jid"), &j) < 0)
        return sm_reply_error(sm, iq, XS_JID_MALFORMED);
    if (strcmp(jid_full(j), sender->user->bare) == 0) {
        jid_free(j);
        return sm_reply_error(sm, iq, XS_NOT_ALLOWED);
    }
    roster_iq *q = xalloc(sizeof *q);
    q->iq = xs_ref(iq);
    q->item = item;
    q->bare = xstrdup(sender->user->bare);
    q->contact = xstrdup(jid_full(j));
    sm_roster_edit(sm, q->bare, q->contact, roster_client_edit, roster_on_set, q);
    jid_free(j);
    return SM_HANDLED;
}

static const sm_iq_route roster_routes[] = {
    { SM_TO_ACCOUNT, SM_IQ_GET, ROSTER_NS, "query", roster_get },
    { SM_TO_ACCOUNT, SM_IQ_SET, ROSTER_NS, "query", roster_set },
    { 0 }
};
static const char *const roster_features[] = { "urn:xmpp:features:rosterver", NULL };

const sm_module sm_mod_roster = {
    .name = "roster", .spec = "RFC 6121 §2 Roster, XEP-0237 Roster Versioning",
    .features = roster_features, .iq = roster_routes,
};
