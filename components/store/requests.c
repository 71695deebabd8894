/* SPDX-License-Identifier: MIT */
/* components/store/requests.c: each urn:xmppd:store request
 * (docs/store-protocol.md) as the statements it runs and the result element
 * it answers with. The SQL is the same for both drivers. A request reads as
 * its SQL, its build function (what the request element must hold) and its
 * row in store_ops (the shape of its answer). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "components/store/store.h"
#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "libcommon/jid.h"

/* ---- helpers ---------------------------------------------------------- */

int store_req_fail(store_req *r, xs_condition cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text, sizeof r->text, fmt, ap);
    va_end(ap);
    r->has_error = true;
    r->cond = cond;
    return -1;
}

static void proto_now(char *out, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool proto_is_number(const char *s)
{
    if (!s || !*s || strlen(s) > 18)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static bool proto_is_base64(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9') || *s == '+' || *s == '/' || *s == '='))
            return false;
    return true;
}

/* A JID given in a request, normalized into a new string; NULL if invalid. */
static char *proto_jid(const char *s)
{
    jid *j = NULL;
    if (!s || jid_parse(s, &j) < 0)
        return NULL;
    char *out = xstrdup(jid_full(j));
    jid_free(j);
    return out;
}

static size_t proto_count(xs_elem *q, const char *name)
{
    size_t n = 0;
    for (xs_elem *c = xs_first(q); c; c = xs_next(c))
        if (strcmp(xs_name(c), name) == 0)
            n++;
    return n;
}

/* The one element a request carries, as received, in a new string; NULL
 * after failing with "<request> needs WHAT". */
static char *proto_content(store_req *r, const char *what)
{
    if (!xs_first(r->q) || xs_next(xs_first(r->q)) || !r->plen) {
        store_req_fail(r, XS_BAD_REQUEST, "<%s> needs %s", xs_name(r->q), what);
        return NULL;
    }
    return xstrndup(r->payload, r->plen);
}

/* ---- accounts --------------------------------------------------------- */

static const char sql_account_insert[] =
    "INSERT INTO accounts (username, domain, created) VALUES ($1, $2, $3) "
    "ON CONFLICT DO NOTHING RETURNING username";
static const char sql_scram_insert[] =
    "INSERT INTO scram (username, mech, iterations, salt, stored_key, server_key) "
    "VALUES ($1, $2, CAST($3 AS INTEGER), $4, $5, $6)";
static const char sql_account_exists[] =
    "SELECT username FROM accounts WHERE username = $1";
static const char sql_scram_delete[] = "DELETE FROM scram WHERE username = $1";
static const char sql_account_get[] =
    "SELECT username, created FROM accounts WHERE username = $1";
static const char sql_scram_get[] =
    "SELECT mech, iterations, salt, stored_key, server_key FROM scram "
    "WHERE username = $1 ORDER BY mech";
static const char sql_account_delete[] =
    "DELETE FROM accounts WHERE username = $1 RETURNING username";
static const char *const sql_user_tables[] = {
    "DELETE FROM roster_version WHERE username = $1",
    "DELETE FROM roster WHERE username = $1",
    "DELETE FROM roster_groups WHERE username = $1",
    "DELETE FROM offline WHERE username = $1",
    "DELETE FROM private WHERE username = $1",
    "DELETE FROM vcard WHERE username = $1",
    "DELETE FROM blocklist WHERE username = $1",
    NULL,
};
static const char sql_account_list[] =
    "SELECT username, created FROM accounts WHERE domain = $1 ORDER BY username";

static int add_scrams(store_req *r, store_txn *t)
{
    size_t n = 0;
    for (xs_elem *c = xs_first(r->q); c; c = xs_next(c)) {
        if (strcmp(xs_name(c), "scram") != 0)
            return store_req_fail(r, XS_BAD_REQUEST, "unexpected <%s>", xs_name(c));
        const char *mech = xs_attr(c, "mech"), *it = xs_attr(c, "iterations");
        const char *salt = xs_attr(c, "salt"), *sk = xs_attr(c, "stored-key");
        const char *svk = xs_attr(c, "server-key");
        if (!mech || strncmp(mech, "SCRAM-", 6) != 0 || strlen(mech) > 40)
            return store_req_fail(r, XS_BAD_REQUEST, "<scram> needs a SCRAM mech");
        if (!proto_is_number(it) || strtol(it, NULL, 10) < 1 || strlen(it) > 9)
            return store_req_fail(r, XS_BAD_REQUEST, "<scram> needs iterations (a positive number)");
        if (!proto_is_base64(salt) || !proto_is_base64(sk) || !proto_is_base64(svk))
            return store_req_fail(r, XS_BAD_REQUEST,
                            "<scram> needs salt, stored-key and server-key in base64");
        for (xs_elem *p = xs_first(r->q); p != c; p = xs_next(p))
            if (strcmp(xs_attr(p, "mech"), mech) == 0)
                return store_req_fail(r, XS_BAD_REQUEST, "%s given twice", mech);
        store_txn_add(t, sql_scram_insert, false, 6, r->user, mech, it, salt, sk, svk);
        n++;
    }
    if (n == 0)
        return store_req_fail(r, XS_BAD_REQUEST, "no <scram> credentials");
    return 0;
}

static int build_account_create(store_req *r, store_txn *t)
{
    char now[32];
    proto_now(now, sizeof now);
    store_txn_add(t, sql_account_insert, true, 3, r->user, strchr(r->user, '@') + 1, now);
    return add_scrams(r, t);
}

static int build_account_set(store_req *r, store_txn *t)
{
    store_txn_add(t, sql_account_exists, true, 1, r->user);
    store_txn_add(t, sql_scram_delete, false, 1, r->user);
    return add_scrams(r, t);
}

static int build_account_get(store_req *r, store_txn *t)
{
    store_txn_add(t, sql_account_get, true, 1, r->user);
    store_txn_add(t, sql_scram_get, false, 1, r->user);
    return 0;
}

static int build_account_delete(store_req *r, store_txn *t)
{
    store_txn_add(t, sql_account_delete, true, 1, r->user);
    store_txn_add(t, sql_scram_delete, false, 1, r->user);
    for (const char *const *sql = sql_user_tables; *sql; sql++)
        store_txn_add(t, *sql, false, 1, r->user);
    return 0;
}

static int build_account_list(store_req *r, store_txn *t)
{
    const char *domain = xs_attr(r->q, "domain");
    char *norm = NULL;
    if (!domain)
        return store_req_fail(r, XS_BAD_REQUEST, "<account-list> needs a domain");
    if (jid_domain_normalize(domain, &norm) < 0 || strcmp(norm, domain) != 0) {
        free(norm);
        return store_req_fail(r, XS_JID_MALFORMED, "domain is not a normalized domain");
    }
    free(norm);
    store_txn_add(t, sql_account_list, false, 1, domain);
    return 0;
}

/* ---- roster ----------------------------------------------------------- */

static const char sql_roster_ver[] =
    "SELECT ver FROM roster_version WHERE username = $1";
/* One row per item and group: an item's rows are adjacent in any collation,
 * unlike two lists that would have to be merged in the database's order. */
static const char sql_roster_items[] =
    "SELECT r.jid, r.name, r.subscription, r.ask, r.approved, r.pending_in, r.hidden, g.grp "
    "FROM roster r LEFT JOIN roster_groups g ON g.username = r.username AND g.jid = r.jid "
    "WHERE r.username = $1 ORDER BY r.jid, g.grp";
static const char sql_roster_bump[] =
    "INSERT INTO roster_version (username, ver) VALUES ($1, 1) "
    "ON CONFLICT (username) DO UPDATE SET ver = roster_version.ver + 1 RETURNING ver";
static const char sql_roster_put[] =
    "INSERT INTO roster (username, jid, name, subscription, ask, approved, pending_in, "
    "hidden) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (username, jid) DO UPDATE "
    "SET name = excluded.name, subscription = excluded.subscription, "
    "ask = excluded.ask, approved = excluded.approved, pending_in = excluded.pending_in, "
    "hidden = excluded.hidden";
static const char sql_roster_groups_clear[] =
    "DELETE FROM roster_groups WHERE username = $1 AND jid = $2";
static const char sql_roster_group_add[] =
    "INSERT INTO roster_groups (username, jid, grp) VALUES ($1, $2, $3) "
    "ON CONFLICT DO NOTHING";
static const char sql_roster_remove[] =
    "DELETE FROM roster WHERE username = $1 AND jid = $2 RETURNING jid";

static int build_roster_get(store_req *r, store_txn *t)
{
    const char *ver = xs_attr(r->q, "ver");
    if (ver && !proto_is_number(ver))
        return store_req_fail(r, XS_BAD_REQUEST, "ver is not a number");
    r->ver = xstrdup(ver);
    store_txn_add(t, sql_roster_ver, false, 1, r->user);
    store_txn_add(t, sql_roster_items, false, 1, r->user);
    return 0;
}

/* Appends "<tag>text</tag>", the text escaped. */
static void roster_text(buf *out, const char *tag, const char *text)
{
    buf_printf(out, "<%s>", tag);
    buf_append_xml(out, text, strlen(text), 0);
    buf_printf(out, "</%s>", tag);
}

/* "<item ...>" and its <status/> from row i of the roster's rows. */
static void roster_item_open(buf *out, const store_stmt *rows, size_t i)
{
    buf_append_str(out, "<item");
    buf_append_attr(out, "jid", store_cell(rows, i, 0));
    buf_append_attr(out, "name", store_cell(rows, i, 1));
    buf_append_attr(out, "subscription", store_cell(rows, i, 2));
    buf_append_attr(out, "ask", store_cell(rows, i, 3));
    buf_append_attr(out, "approved", store_cell(rows, i, 4));
    const char *pending = store_cell(rows, i, 5);
    if (pending)
        buf_append_attr(out, "pending-in", "true");
    buf_append_attr(out, "hidden", store_cell(rows, i, 6));
    buf_append_str(out, ">");
    if (pending && *pending)
        roster_text(out, "status", pending);
}

static void result_roster_get(store_req *r, const store_txn *t, buf *out)
{
    const char *ver = store_cell(&t->stmts[0], 0, 0);
    if (!ver)
        ver = "0";
    buf_append_str(out, "<roster xmlns='" STORE_NS "'");
    buf_append_attr(out, "ver", ver);
    if (r->ver && strtoll(r->ver, NULL, 10) == strtoll(ver, NULL, 10)) {
        buf_append_str(out, " unchanged='true'/>");
        return;
    }
    const store_stmt *rows = &t->stmts[1];
    if (rows->n_rows == 0) {
        buf_append_str(out, "/>");
        return;
    }
    buf_append_str(out, ">");
    for (size_t i = 0; i < rows->n_rows; i++) {
        const char *item_jid = store_cell(rows, i, 0);
        if (i == 0 || strcmp(item_jid, store_cell(rows, i - 1, 0)) != 0) {
            if (i > 0)
                buf_append_str(out, "</item>");
            roster_item_open(out, rows, i);
        }
        if (store_cell(rows, i, 7))
            roster_text(out, "group", store_cell(rows, i, 7));
    }
    buf_append_str(out, "</item></roster>");
}

/* A true/false attribute: false when *value is anything else; "false"
 * becomes NULL, as absent (the column's "not set"). */
static bool roster_flag(const char **value)
{
    if (*value && strcmp(*value, "true") && strcmp(*value, "false"))
        return false;
    if (*value && strcmp(*value, "false") == 0)
        *value = NULL;
    return true;
}

/* The columns of a roster-set item, checked: NULL for what it leaves out
 * (approved, pending-in and hidden "false" included). */
typedef struct roster_cols {
    const char *sub, *ask, *approved, *status, *hidden;
} roster_cols;

static int roster_set_check(store_req *r, xs_elem *item, roster_cols *c)
{
    c->sub = xs_attr(item, "subscription") ? xs_attr(item, "subscription") : "none";
    c->ask = xs_attr(item, "ask");
    c->approved = xs_attr(item, "approved");
    if (strcmp(c->sub, "none") && strcmp(c->sub, "to") && strcmp(c->sub, "from") &&
        strcmp(c->sub, "both"))
        return store_req_fail(r, XS_BAD_REQUEST, "subscription is not none, to, from or both");
    if (c->ask && strcmp(c->ask, "subscribe") != 0)
        return store_req_fail(r, XS_BAD_REQUEST, "ask is not subscribe");
    if (!roster_flag(&c->approved))
        return store_req_fail(r, XS_BAD_REQUEST, "approved is not true or false");
    const char *pending = xs_attr(item, "pending-in");
    c->hidden = xs_attr(item, "hidden");
    if (!roster_flag(&pending) || !roster_flag(&c->hidden))
        return store_req_fail(r, XS_BAD_REQUEST, "pending-in or hidden is not true or false");
    xs_elem *st = xs_child(item, "status", NULL);
    c->status = !pending ? NULL : st ? xs_text(st) : "";
    return 0;
}

static int build_roster_set(store_req *r, store_txn *t)
{
    xs_elem *item = xs_child(r->q, "item", NULL);
    if (!item || proto_count(r->q, "item") != 1)
        return store_req_fail(r, XS_BAD_REQUEST, "<roster-set> needs exactly one <item>");
    char *item_jid = proto_jid(xs_attr(item, "jid"));
    if (!item_jid)
        return store_req_fail(r, XS_JID_MALFORMED, "the item's jid is not a valid JID");
    roster_cols c = { 0 };
    if (roster_set_check(r, item, &c) < 0) {
        free(item_jid);
        return -1;
    }
    store_txn_add(t, sql_roster_bump, false, 1, r->user);
    store_txn_add(t, sql_roster_put, false, 8, r->user, item_jid, xs_attr(item, "name"), c.sub,
                  c.ask, c.approved, c.status, c.hidden);
    store_txn_add(t, sql_roster_groups_clear, false, 2, r->user, item_jid);
    for (xs_elem *g = xs_first(item); g; g = xs_next(g)) {
        if (strcmp(xs_name(g), "group") != 0)
            continue;
        store_txn_add(t, sql_roster_group_add, false, 3, r->user, item_jid, xs_text(g));
    }
    free(item_jid);
    return 0;
}

static int build_roster_remove(store_req *r, store_txn *t)
{
    char *item_jid = proto_jid(xs_attr(r->q, "jid"));
    if (!item_jid)
        return store_req_fail(r, XS_JID_MALFORMED, "jid is missing or not a valid JID");
    /* The version first, as for roster-set: the answer reads it there. A
     * missing item rolls all of it back. */
    store_txn_add(t, sql_roster_bump, false, 1, r->user);
    store_txn_add(t, sql_roster_remove, true, 2, r->user, item_jid);
    store_txn_add(t, sql_roster_groups_clear, false, 2, r->user, item_jid);
    free(item_jid);
    return 0;
}

/* ---- offline messages ------------------------------------------------- */

/* The quota check and the insert are one statement: no window between. */
static const char sql_offline_store[] =
    "INSERT INTO offline (username, stamp, stanza) SELECT $1, $2, $3 "
    "WHERE EXISTS (SELECT 1 FROM accounts WHERE username = $1) AND "
    "(CAST($4 AS INTEGER) = 0 OR "
    "(SELECT count(*) FROM offline WHERE username = $1) < CAST($4 AS INTEGER)) "
    "RETURNING id";
static const char sql_offline_delete[] =
    "DELETE FROM offline WHERE username = $1 AND id <= CAST($2 AS BIGINT)";

static int build_offline_store(store_req *r, store_txn *t)
{
    const char *max = xs_attr(r->q, "max") ? xs_attr(r->q, "max") : "0";
    if (!proto_is_number(max) || strlen(max) > 9)
        return store_req_fail(r, XS_BAD_REQUEST, "max is not a number");
    char *stanza = proto_content(r, "one stanza");
    if (!stanza)
        return -1;
    char now[32];
    proto_now(now, sizeof now);
    store_txn_add(t, sql_offline_store, true, 4, r->user, now, stanza, max);
    free(stanza);
    return 0;
}

static int build_offline_delete(store_req *r, store_txn *t)
{
    const char *upto = xs_attr(r->q, "upto");
    if (!proto_is_number(upto))
        return store_req_fail(r, XS_BAD_REQUEST, "upto is missing or not a number");
    store_txn_add(t, sql_offline_delete, false, 2, r->user, upto);
    return 0;
}

/* ---- private XML, vCards, block list ---------------------------------- */

static const char sql_private_get[] =
    "SELECT data FROM private WHERE username = $1 AND name = $2 AND ns = $3";
static const char sql_private_set[] =
    "INSERT INTO private (username, name, ns, data) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (username, name, ns) DO UPDATE SET data = excluded.data";
static const char sql_vcard_set[] =
    "INSERT INTO vcard (username, data) VALUES ($1, $2) "
    "ON CONFLICT (username) DO UPDATE SET data = excluded.data";
static const char sql_block_add[] =
    "INSERT INTO blocklist (username, jid) VALUES ($1, $2) ON CONFLICT DO NOTHING";
static const char sql_block_remove[] =
    "DELETE FROM blocklist WHERE username = $1 AND jid = $2";
static const char sql_block_clear[] = "DELETE FROM blocklist WHERE username = $1";

static int build_private_get(store_req *r, store_txn *t)
{
    const char *name = xs_attr(r->q, "name"), *ns = xs_attr(r->q, "ns");
    if (!name || !*name || !ns || !*ns)
        return store_req_fail(r, XS_BAD_REQUEST, "<private-get> needs name and ns");
    store_txn_add(t, sql_private_get, false, 3, r->user, name, ns);
    return 0;
}

static int build_private_set(store_req *r, store_txn *t)
{
    char *data = proto_content(r, "exactly one element");
    if (!data)
        return -1;
    xs_elem *e = xs_first(r->q);
    const char *ns = xs_ns(e) ? xs_ns(e) : "";
    if (!*ns || strcmp(ns, STORE_NS) == 0) {
        free(data);
        return store_req_fail(r, XS_BAD_REQUEST, "the private element needs its own namespace");
    }
    store_txn_add(t, sql_private_set, false, 4, r->user, xs_name(e), ns, data);
    free(data);
    return 0;
}

static int build_vcard_set(store_req *r, store_txn *t)
{
    char *data = proto_content(r, "exactly one element");
    if (!data)
        return -1;
    store_txn_add(t, sql_vcard_set, false, 2, r->user, data);
    free(data);
    return 0;
}

static int block_items(store_req *r, store_txn *t, const char *sql)
{
    for (xs_elem *c = xs_first(r->q); c; c = xs_next(c)) {
        if (strcmp(xs_name(c), "item") != 0)
            return store_req_fail(r, XS_BAD_REQUEST, "unexpected <%s>", xs_name(c));
        char *item_jid = proto_jid(xs_attr(c, "jid"));
        if (!item_jid)
            return store_req_fail(r, XS_JID_MALFORMED, "an item's jid is not a valid JID");
        store_txn_add(t, sql, false, 2, r->user, item_jid);
        free(item_jid);
    }
    return 0;
}

static int build_block_add(store_req *r, store_txn *t)
{
    if (!xs_first(r->q))
        return store_req_fail(r, XS_BAD_REQUEST, "<blocklist-add> needs items");
    return block_items(r, t, sql_block_add);
}

static int build_block_remove(store_req *r, store_txn *t)
{
    if (!xs_first(r->q)) {
        store_txn_add(t, sql_block_clear, false, 1, r->user);
        return 0;
    }
    return block_items(r, t, sql_block_remove);
}

/* ---- answers ----------------------------------------------------------- */

/* Writes the attributes of an element the caller opened ("<name") from row
 * i of s, as shape says, and its content if shape has one. With neither
 * content nor children to come, ends it with "/>" and returns false; else
 * leaves it open after ">" and the content, for the caller to close. */
static bool answer_row(buf *out, const store_row *shape, const store_stmt *s, size_t i,
                       size_t n_children)
{
    size_t c = 0;
    for (; c < sizeof shape->attrs / sizeof shape->attrs[0] && shape->attrs[c]; c++)
        buf_append_attr(out, shape->attrs[c], store_cell(s, i, c));
    const char *content = shape->has_content ? store_cell(s, i, c) : NULL;
    if (!content && !n_children) {
        buf_append_str(out, "/>");
        return false;
    }
    buf_append_str(out, ">");
    if (content)
        buf_append_str(out, content);   /* the bytes received */
    return true;
}

/* <answer ...> from the first row of the first statement, holding one
 * <item .../> per row of the last statement. */
static void answer_shaped(const store_op *op, const store_txn *t, buf *out)
{
    const store_stmt *first = &t->stmts[0], *last = &t->stmts[t->n_stmts - 1];
    size_t n_items = op->item.name ? last->n_rows : 0;
    buf_printf(out, "<%s xmlns='" STORE_NS "'", op->answer.name);
    if (!answer_row(out, &op->answer, first, 0, n_items))
        return;
    for (size_t i = 0; i < n_items; i++) {
        buf_printf(out, "<%s", op->item.name);
        if (answer_row(out, &op->item, last, i, 0))
            buf_printf(out, "</%s>", op->item.name);
    }
    buf_printf(out, "</%s>", op->answer.name);
}

/* ---- the table --------------------------------------------------------- */

static const store_row roster_ver = { .name = "roster", .attrs = { "ver" } };

static const store_op store_ops[] = {
    { "account-create", .is_set = true, .build = build_account_create, .no_row = XS_CONFLICT },
    { "account-get", .build = build_account_get, .no_row = XS_ITEM_NOT_FOUND,
      .answer = { "account", { "user", "created" } },
      .item = { "scram", { "mech", "iterations", "salt", "stored-key", "server-key" } } },
    { "account-set-credentials", .is_set = true, .build = build_account_set,
      .no_row = XS_ITEM_NOT_FOUND },
    { "account-delete", .is_set = true, .build = build_account_delete,
      .no_row = XS_ITEM_NOT_FOUND },
    { "account-list", .build = build_account_list, .answer = { "accounts" },
      .item = { "account", { "user", "created" } } },
    { "roster-get", .build = build_roster_get, .result = result_roster_get },
    { "roster-set", .is_set = true, .build = build_roster_set, .answer = roster_ver },
    { "roster-remove", .is_set = true, .build = build_roster_remove, .answer = roster_ver,
      .no_row = XS_ITEM_NOT_FOUND },
    { "offline-store", .is_set = true, .build = build_offline_store,
      .answer = { "offline", { "id" } }, .no_row = XS_RESOURCE_CONSTRAINT },
    { "offline-get",
      .sql = "SELECT id, stamp, stanza FROM offline WHERE username = $1 ORDER BY id",
      .answer = { "offline" }, .item = { "item", { "id", "stamp" }, .has_content = true } },
    { "offline-delete", .is_set = true, .build = build_offline_delete },
    { "offline-count", .sql = "SELECT count(*) FROM offline WHERE username = $1",
      .answer = { "offline", { "count" } } },
    { "private-get", .build = build_private_get,
      .answer = { "private", .has_content = true } },
    { "private-set", .is_set = true, .build = build_private_set },
    { "vcard-get", .sql = "SELECT data FROM vcard WHERE username = $1",
      .answer = { "vcard", .has_content = true } },
    { "vcard-set", .is_set = true, .build = build_vcard_set },
    { "blocklist-get",
      .sql = "SELECT jid FROM blocklist WHERE username = $1 ORDER BY jid",
      .answer = { "blocklist" }, .item = { "item", { "jid" } } },
    { "blocklist-add", .is_set = true, .build = build_block_add },
    { "blocklist-remove", .is_set = true, .build = build_block_remove },
};

const store_op *store_op_find(const char *name)
{
    for (size_t i = 0; i < sizeof store_ops / sizeof store_ops[0]; i++)
        if (strcmp(store_ops[i].name, name) == 0)
            return &store_ops[i];
    return NULL;
}

int store_build(store_req *r, store_txn *t)
{
    if (r->op->build)
        return r->op->build(r, t);
    store_txn_add(t, r->op->sql, false, 1, r->user);
    return 0;
}

void store_answer(store_req *r, const store_txn *t, buf *out)
{
    if (r->op->result)
        r->op->result(r, t, out);
    else if (r->op->answer.name && t->n_stmts)
        answer_shaped(r->op, t, out);
}
