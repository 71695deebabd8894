/* SPDX-License-Identifier: MIT */
/* components/store/requests.c: each urn:xmppd:store request
 * (docs/store-protocol.md) as the statements it runs and the result element
 * it answers with. The SQL is the same for both drivers. */
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

void store_xml_attr(buf *out, const char *name, const char *value)
{
    if (!value)
        return;
    buf_printf(out, " %s='", name);
    buf_append_xml(out, value, strlen(value), 1);
    buf_append_str(out, "'");
}

static size_t proto_count(xs_elem *q, const char *name)
{
    size_t n = 0;
    for (xs_elem *c = xs_first(q); c; c = xs_next(c))
        if (strcmp(xs_name(c), name) == 0)
            n++;
    return n;
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

static int add_scrams(store_req *r, xs_elem *q, store_txn *t)
{
    size_t n = 0;
    for (xs_elem *c = xs_first(q); c; c = xs_next(c)) {
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
        for (xs_elem *p = xs_first(q); p != c; p = xs_next(p))
            if (strcmp(xs_attr(p, "mech"), mech) == 0)
                return store_req_fail(r, XS_BAD_REQUEST, "%s given twice", mech);
        store_txn_add(t, sql_scram_insert, false, 6, r->user, mech, it, salt, sk, svk);
        n++;
    }
    if (n == 0)
        return store_req_fail(r, XS_BAD_REQUEST, "no <scram> credentials");
    return 0;
}

static int build_account_create(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    (void)p, (void)n;
    char now[32];
    proto_now(now, sizeof now);
    store_txn_add(t, sql_account_insert, true, 3, r->user, strchr(r->user, '@') + 1, now);
    return add_scrams(r, q, t);
}

static int build_account_set(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    (void)p, (void)n;
    store_txn_add(t, sql_account_exists, true, 1, r->user);
    store_txn_add(t, sql_scram_delete, false, 1, r->user);
    return add_scrams(r, q, t);
}

static int build_account_get(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    (void)q, (void)p, (void)n;
    store_txn_add(t, sql_account_get, true, 1, r->user);
    store_txn_add(t, sql_scram_get, false, 1, r->user);
    return 0;
}

static void result_account_get(store_req *r, const store_txn *t, buf *out)
{
    buf_append_str(out, "<account xmlns='" STORE_NS "'");
    store_xml_attr(out, "user", r->user);
    store_xml_attr(out, "created", store_cell(&t->stmts[0], 0, 1));
    const store_stmt *s = &t->stmts[1];
    if (s->n_rows == 0) {
        buf_append_str(out, "/>");
        return;
    }
    buf_append_str(out, ">");
    for (size_t i = 0; i < s->n_rows; i++) {
        buf_append_str(out, "<scram");
        store_xml_attr(out, "mech", store_cell(s, i, 0));
        store_xml_attr(out, "iterations", store_cell(s, i, 1));
        store_xml_attr(out, "salt", store_cell(s, i, 2));
        store_xml_attr(out, "stored-key", store_cell(s, i, 3));
        store_xml_attr(out, "server-key", store_cell(s, i, 4));
        buf_append_str(out, "/>");
    }
    buf_append_str(out, "</account>");
}

static int build_account_delete(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    (void)q, (void)p, (void)n;
    store_txn_add(t, sql_account_delete, true, 1, r->user);
    store_txn_add(t, sql_scram_delete, false, 1, r->user);
    for (const char *const *sql = sql_user_tables; *sql; sql++)
        store_txn_add(t, *sql, false, 1, r->user);
    return 0;
}

static int build_account_list(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    (void)p, (void)n;
    const char *domain = xs_attr(q, "domain");
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

static void result_account_list(store_req *r, const store_txn *t, buf *out)
{
    (void)r;
    const store_stmt *s = &t->stmts[0];
    buf_append_str(out, "<accounts xmlns='" STORE_NS "'");
    if (s->n_rows == 0) {
        buf_append_str(out, "/>");
        return;
    }
    buf_append_str(out, ">");
    for (size_t i = 0; i < s->n_rows; i++) {
        buf_append_str(out, "<account");
        store_xml_attr(out, "user", store_cell(s, i, 0));
        store_xml_attr(out, "created", store_cell(s, i, 1));
        buf_append_str(out, "/>");
    }
    buf_append_str(out, "</accounts>");
}

/* ---- roster ----------------------------------------------------------- */

static const char sql_roster_ver[] =
    "SELECT ver FROM roster_version WHERE username = $1";
static const char sql_roster_items[] =
    "SELECT jid, name, subscription, ask, approved, pending_in, hidden FROM roster "
    "WHERE username = $1 ORDER BY jid";
static const char sql_roster_groups[] =
    "SELECT jid, grp FROM roster_groups WHERE username = $1 ORDER BY jid, grp";
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

static int build_roster_get(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    (void)p, (void)n;
    const char *ver = xs_attr(q, "ver");
    if (ver && !proto_is_number(ver))
        return store_req_fail(r, XS_BAD_REQUEST, "ver is not a number");
    r->ver = xstrdup(ver);
    store_txn_add(t, sql_roster_ver, false, 1, r->user);
    store_txn_add(t, sql_roster_items, false, 1, r->user);
    store_txn_add(t, sql_roster_groups, false, 1, r->user);
    return 0;
}

static void result_roster_get(store_req *r, const store_txn *t, buf *out)
{
    const char *ver = store_cell(&t->stmts[0], 0, 0);
    if (!ver)
        ver = "0";
    buf_append_str(out, "<roster xmlns='" STORE_NS "'");
    store_xml_attr(out, "ver", ver);
    if (r->ver && strtoll(r->ver, NULL, 10) == strtoll(ver, NULL, 10)) {
        buf_append_str(out, " unchanged='true'/>");
        return;
    }
    const store_stmt *items = &t->stmts[1], *groups = &t->stmts[2];
    if (items->n_rows == 0) {
        buf_append_str(out, "/>");
        return;
    }
    buf_append_str(out, ">");
    size_t g = 0;
    for (size_t i = 0; i < items->n_rows; i++) {
        const char *item_jid = store_cell(items, i, 0);
        buf_append_str(out, "<item");
        store_xml_attr(out, "jid", item_jid);
        store_xml_attr(out, "name", store_cell(items, i, 1));
        store_xml_attr(out, "subscription", store_cell(items, i, 2));
        store_xml_attr(out, "ask", store_cell(items, i, 3));
        store_xml_attr(out, "approved", store_cell(items, i, 4));
        const char *pending = store_cell(items, i, 5);
        if (pending)
            store_xml_attr(out, "pending-in", "true");
        store_xml_attr(out, "hidden", store_cell(items, i, 6));
        buf_append_str(out, ">");
        if (pending && *pending) {
            buf_append_str(out, "<status>");
            buf_append_xml(out, pending, strlen(pending), 0);
            buf_append_str(out, "</status>");
        }
        /* Both lists are sorted by jid: skip groups of removed items. */
        while (g < groups->n_rows && strcmp(store_cell(groups, g, 0), item_jid) < 0)
            g++;
        for (; g < groups->n_rows && strcmp(store_cell(groups, g, 0), item_jid) == 0; g++) {
            const char *name = store_cell(groups, g, 1);
            buf_append_str(out, "<group>");
            buf_append_xml(out, name, strlen(name), 0);
            buf_append_str(out, "</group>");
        }
        buf_append_str(out, "</item>");
    }
    buf_append_str(out, "</roster>");
}

static int build_roster_set(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    (void)p, (void)n;
    xs_elem *item = xs_child(q, "item", NULL);
    if (!item || proto_count(q, "item") != 1)
        return store_req_fail(r, XS_BAD_REQUEST, "<roster-set> needs exactly one <item>");
    char *item_jid = proto_jid(xs_attr(item, "jid"));
    if (!item_jid)
        return store_req_fail(r, XS_JID_MALFORMED, "the item's jid is not a valid JID");
    const char *sub = xs_attr(item, "subscription") ? xs_attr(item, "subscription") : "none";
    const char *ask = xs_attr(item, "ask"), *approved = xs_attr(item, "approved");
    if (strcmp(sub, "none") && strcmp(sub, "to") && strcmp(sub, "from") && strcmp(sub, "both")) {
        free(item_jid);
        return store_req_fail(r, XS_BAD_REQUEST, "subscription is not none, to, from or both");
    }
    if (ask && strcmp(ask, "subscribe") != 0) {
        free(item_jid);
        return store_req_fail(r, XS_BAD_REQUEST, "ask is not subscribe");
    }
    if (approved && strcmp(approved, "true") && strcmp(approved, "false")) {
        free(item_jid);
        return store_req_fail(r, XS_BAD_REQUEST, "approved is not true or false");
    }
    if (approved && strcmp(approved, "false") == 0)
        approved = NULL;
    const char *pending = xs_attr(item, "pending-in"), *hidden = xs_attr(item, "hidden");
    if ((pending && strcmp(pending, "true") && strcmp(pending, "false")) ||
        (hidden && strcmp(hidden, "true") && strcmp(hidden, "false"))) {
        free(item_jid);
        return store_req_fail(r, XS_BAD_REQUEST, "pending-in or hidden is not true or false");
    }
    const char *status = NULL;
    if (pending && strcmp(pending, "true") == 0) {
        xs_elem *st = xs_child(item, "status", NULL);
        status = st ? xs_text(st) : "";
    }
    if (hidden && strcmp(hidden, "false") == 0)
        hidden = NULL;
    store_txn_add(t, sql_roster_bump, false, 1, r->user);
    store_txn_add(t, sql_roster_put, false, 8, r->user, item_jid, xs_attr(item, "name"), sub, ask,
                  approved, status, hidden);
    store_txn_add(t, sql_roster_groups_clear, false, 2, r->user, item_jid);
    for (xs_elem *g = xs_first(item); g; g = xs_next(g)) {
        if (strcmp(xs_name(g), "group") != 0)
            continue;
        store_txn_add(t, sql_roster_group_add, false, 3, r->user, item_jid, xs_text(g));
    }
    free(item_jid);
    return 0;
}

static void result_roster_ver(store_req *r, const store_txn *t, buf *out)
{
    (void)r;
    const char *ver = NULL;
    for (size_t i = 0; i < t->n_stmts && !ver; i++)
        if (t->stmts[i].sql == sql_roster_bump)
            ver = store_cell(&t->stmts[i], 0, 0);
    buf_append_str(out, "<roster xmlns='" STORE_NS "'");
    store_xml_attr(out, "ver", ver ? ver : "0");
    buf_append_str(out, "/>");
}

static int build_roster_remove(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    (void)p, (void)n;
    char *item_jid = proto_jid(xs_attr(q, "jid"));
    if (!item_jid)
        return store_req_fail(r, XS_JID_MALFORMED, "jid is missing or not a valid JID");
    store_txn_add(t, sql_roster_remove, true, 2, r->user, item_jid);
    store_txn_add(t, sql_roster_groups_clear, false, 2, r->user, item_jid);
    store_txn_add(t, sql_roster_bump, false, 1, r->user);
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
static const char sql_offline_get[] =
    "SELECT id, stamp, stanza FROM offline WHERE username = $1 ORDER BY id";
static const char sql_offline_delete[] =
    "DELETE FROM offline WHERE username = $1 AND id <= CAST($2 AS BIGINT)";
static const char sql_offline_count[] =
    "SELECT count(*) FROM offline WHERE username = $1";

static int build_offline_store(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    const char *max = xs_attr(q, "max") ? xs_attr(q, "max") : "0";
    if (!proto_is_number(max) || strlen(max) > 9)
        return store_req_fail(r, XS_BAD_REQUEST, "max is not a number");
    if (!xs_first(q) || xs_next(xs_first(q)) || !n)
        return store_req_fail(r, XS_BAD_REQUEST, "<offline-store> needs one stanza");
    char now[32];
    proto_now(now, sizeof now);
    char *stanza = xstrndup(p, n);
    store_txn_add(t, sql_offline_store, true, 4, r->user, now, stanza, max);
    free(stanza);
    return 0;
}

static void result_offline_store(store_req *r, const store_txn *t, buf *out)
{
    (void)r;
    buf_append_str(out, "<offline xmlns='" STORE_NS "'");
    store_xml_attr(out, "id", store_cell(&t->stmts[0], 0, 0));
    buf_append_str(out, "/>");
}

static int build_offline_get(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    (void)q, (void)p, (void)n;
    store_txn_add(t, sql_offline_get, false, 1, r->user);
    return 0;
}

static void result_offline_get(store_req *r, const store_txn *t, buf *out)
{
    (void)r;
    const store_stmt *s = &t->stmts[0];
    buf_append_str(out, "<offline xmlns='" STORE_NS "'");
    if (s->n_rows == 0) {
        buf_append_str(out, "/>");
        return;
    }
    buf_append_str(out, ">");
    for (size_t i = 0; i < s->n_rows; i++) {
        buf_append_str(out, "<item");
        store_xml_attr(out, "id", store_cell(s, i, 0));
        store_xml_attr(out, "stamp", store_cell(s, i, 1));
        buf_append_str(out, ">");
        buf_append_str(out, store_cell(s, i, 2));  /* the bytes received */
        buf_append_str(out, "</item>");
    }
    buf_append_str(out, "</offline>");
}

static int build_offline_delete(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    (void)p, (void)n;
    const char *upto = xs_attr(q, "upto");
    if (!proto_is_number(upto))
        return store_req_fail(r, XS_BAD_REQUEST, "upto is missing or not a number");
    store_txn_add(t, sql_offline_delete, false, 2, r->user, upto);
    return 0;
}

static int build_offline_count(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    (void)q, (void)p, (void)n;
    store_txn_add(t, sql_offline_count, false, 1, r->user);
    return 0;
}

static void result_offline_count(store_req *r, const store_txn *t, buf *out)
{
    (void)r;
    const char *count = store_cell(&t->stmts[0], 0, 0);
    buf_append_str(out, "<offline xmlns='" STORE_NS "'");
    store_xml_attr(out, "count", count ? count : "0");
    buf_append_str(out, "/>");
}

/* ---- private XML, vCards, block list ---------------------------------- */

static const char sql_private_get[] =
    "SELECT data FROM private WHERE username = $1 AND name = $2 AND ns = $3";
static const char sql_private_set[] =
    "INSERT INTO private (username, name, ns, data) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (username, name, ns) DO UPDATE SET data = excluded.data";
static const char sql_vcard_get[] = "SELECT data FROM vcard WHERE username = $1";
static const char sql_vcard_set[] =
    "INSERT INTO vcard (username, data) VALUES ($1, $2) "
    "ON CONFLICT (username) DO UPDATE SET data = excluded.data";
static const char sql_block_get[] =
    "SELECT jid FROM blocklist WHERE username = $1 ORDER BY jid";
static const char sql_block_add[] =
    "INSERT INTO blocklist (username, jid) VALUES ($1, $2) ON CONFLICT DO NOTHING";
static const char sql_block_remove[] =
    "DELETE FROM blocklist WHERE username = $1 AND jid = $2";
static const char sql_block_clear[] = "DELETE FROM blocklist WHERE username = $1";

static int build_private_get(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    (void)p, (void)n;
    const char *name = xs_attr(q, "name"), *ns = xs_attr(q, "ns");
    if (!name || !*name || !ns || !*ns)
        return store_req_fail(r, XS_BAD_REQUEST, "<private-get> needs name and ns");
    store_txn_add(t, sql_private_get, false, 3, r->user, name, ns);
    return 0;
}

/* <private> or <vcard> holding the stored bytes, if any. */
static void result_stored(const char *name, const store_txn *t, buf *out)
{
    const char *data = store_cell(&t->stmts[0], 0, 0);
    if (!data) {
        buf_printf(out, "<%s xmlns='" STORE_NS "'/>", name);
        return;
    }
    buf_printf(out, "<%s xmlns='" STORE_NS "'>%s</%s>", name, data, name);
}

static void result_private_get(store_req *r, const store_txn *t, buf *out)
{
    (void)r;
    result_stored("private", t, out);
}

static void result_vcard_get(store_req *r, const store_txn *t, buf *out)
{
    (void)r;
    result_stored("vcard", t, out);
}

/* The one element a -set request carries, as received. */
static int one_element(store_req *r, xs_elem *q, const char *p, size_t n, char **out)
{
    if (!xs_first(q) || xs_next(xs_first(q)) || !n)
        return store_req_fail(r, XS_BAD_REQUEST, "<%s> needs exactly one element", xs_name(q));
    *out = xstrndup(p, n);
    return 0;
}

static int build_private_set(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    char *data;
    if (one_element(r, q, p, n, &data) < 0)
        return -1;
    xs_elem *e = xs_first(q);
    const char *ns = xs_ns(e) ? xs_ns(e) : "";
    if (!*ns || strcmp(ns, STORE_NS) == 0) {
        free(data);
        return store_req_fail(r, XS_BAD_REQUEST, "the private element needs its own namespace");
    }
    store_txn_add(t, sql_private_set, false, 4, r->user, xs_name(e), ns, data);
    free(data);
    return 0;
}

static int build_vcard_get(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    (void)q, (void)p, (void)n;
    store_txn_add(t, sql_vcard_get, false, 1, r->user);
    return 0;
}

static int build_vcard_set(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    char *data;
    if (one_element(r, q, p, n, &data) < 0)
        return -1;
    store_txn_add(t, sql_vcard_set, false, 2, r->user, data);
    free(data);
    return 0;
}

static int build_block_get(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    (void)q, (void)p, (void)n;
    store_txn_add(t, sql_block_get, false, 1, r->user);
    return 0;
}

static void result_block_get(store_req *r, const store_txn *t, buf *out)
{
    (void)r;
    const store_stmt *s = &t->stmts[0];
    buf_append_str(out, "<blocklist xmlns='" STORE_NS "'");
    if (s->n_rows == 0) {
        buf_append_str(out, "/>");
        return;
    }
    buf_append_str(out, ">");
    for (size_t i = 0; i < s->n_rows; i++) {
        buf_append_str(out, "<item");
        store_xml_attr(out, "jid", store_cell(s, i, 0));
        buf_append_str(out, "/>");
    }
    buf_append_str(out, "</blocklist>");
}

static int block_items(store_req *r, xs_elem *q, store_txn *t, const char *sql)
{
    for (xs_elem *c = xs_first(q); c; c = xs_next(c)) {
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

static int build_block_add(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    (void)p, (void)n;
    if (!xs_first(q))
        return store_req_fail(r, XS_BAD_REQUEST, "<blocklist-add> needs items");
    return block_items(r, q, t, sql_block_add);
}

static int build_block_remove(store_req *r, xs_elem *q, const char *p, size_t n, store_txn *t)
{
    (void)p, (void)n;
    if (!xs_first(q)) {
        store_txn_add(t, sql_block_clear, false, 1, r->user);
        return 0;
    }
    return block_items(r, q, t, sql_block_remove);
}

/* ---- the table --------------------------------------------------------- */

const store_op store_ops[] = {
    { "account-create", true, build_account_create, NULL, XS_CONFLICT },
    { "account-get", false, build_account_get, result_account_get, XS_ITEM_NOT_FOUND },
    { "account-set-credentials", true, build_account_set, NULL, XS_ITEM_NOT_FOUND },
    { "account-delete", true, build_account_delete, NULL, XS_ITEM_NOT_FOUND },
    { "account-list", false, build_account_list, result_account_list, XS_ITEM_NOT_FOUND },
    { "roster-get", false, build_roster_get, result_roster_get, XS_ITEM_NOT_FOUND },
    { "roster-set", true, build_roster_set, result_roster_ver, XS_ITEM_NOT_FOUND },
    { "roster-remove", true, build_roster_remove, result_roster_ver, XS_ITEM_NOT_FOUND },
    { "offline-store", true, build_offline_store, result_offline_store, XS_RESOURCE_CONSTRAINT },
    { "offline-get", false, build_offline_get, result_offline_get, XS_ITEM_NOT_FOUND },
    { "offline-delete", true, build_offline_delete, NULL, XS_ITEM_NOT_FOUND },
    { "offline-count", false, build_offline_count, result_offline_count, XS_ITEM_NOT_FOUND },
    { "private-get", false, build_private_get, result_private_get, XS_ITEM_NOT_FOUND },
    { "private-set", true, build_private_set, NULL, XS_ITEM_NOT_FOUND },
    { "vcard-get", false, build_vcard_get, result_vcard_get, XS_ITEM_NOT_FOUND },
    { "vcard-set", true, build_vcard_set, NULL, XS_ITEM_NOT_FOUND },
    { "blocklist-get", false, build_block_get, result_block_get, XS_ITEM_NOT_FOUND },
    { "blocklist-add", true, build_block_add, NULL, XS_ITEM_NOT_FOUND },
    { "blocklist-remove", true, build_block_remove, NULL, XS_ITEM_NOT_FOUND },
};
const size_t store_n_ops = sizeof store_ops / sizeof store_ops[0];
