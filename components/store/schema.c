/* SPDX-License-Identifier: MIT */
/* components/store/schema.c: the versioned schema, the same tables for every
 * driver. schema_version holds the steps applied; at start the store applies
 * the missing ones in order, each in its own transaction. */
#include <stdio.h>
#include <stdlib.h>

#include "components/store/store.h"
#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/log.h"

typedef struct schema_step {
    const char *const *sql_sqlite;      /* NULL-terminated */
    const char *const *sql_pg;
} schema_step;

/* Version 1: accounts and SCRAM credentials, roster with versions, offline
 * queue, private XML, vCards, block lists. Only the offline id's type
 * differs between the dialects. */
#define SCHEMA_V1_COMMON \
    "CREATE TABLE IF NOT EXISTS accounts (username TEXT PRIMARY KEY, " \
    "domain TEXT NOT NULL, created TEXT NOT NULL)", \
    "CREATE INDEX IF NOT EXISTS accounts_domain ON accounts (domain)", \
    "CREATE TABLE IF NOT EXISTS scram (username TEXT NOT NULL, mech TEXT NOT NULL, " \
    "iterations INTEGER NOT NULL, salt TEXT NOT NULL, stored_key TEXT NOT NULL, " \
    "server_key TEXT NOT NULL, PRIMARY KEY (username, mech))", \
    "CREATE TABLE IF NOT EXISTS roster_version (username TEXT PRIMARY KEY, " \
    "ver BIGINT NOT NULL)", \
    "CREATE TABLE IF NOT EXISTS roster (username TEXT NOT NULL, jid TEXT NOT NULL, " \
    "name TEXT, subscription TEXT NOT NULL, ask TEXT, approved TEXT, " \
    "PRIMARY KEY (username, jid))", \
    "CREATE TABLE IF NOT EXISTS roster_groups (username TEXT NOT NULL, " \
    "jid TEXT NOT NULL, grp TEXT NOT NULL, PRIMARY KEY (username, jid, grp))", \
    "CREATE TABLE IF NOT EXISTS private (username TEXT NOT NULL, name TEXT NOT NULL, " \
    "ns TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (username, name, ns))", \
    "CREATE TABLE IF NOT EXISTS vcard (username TEXT PRIMARY KEY, data TEXT NOT NULL)", \
    "CREATE TABLE IF NOT EXISTS blocklist (username TEXT NOT NULL, jid TEXT NOT NULL, " \
    "PRIMARY KEY (username, jid))", \
    "CREATE INDEX IF NOT EXISTS offline_user ON offline (username, id)"

static const char *const schema_v1_sqlite[] = {
    "CREATE TABLE IF NOT EXISTS offline (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "username TEXT NOT NULL, stamp TEXT NOT NULL, stanza TEXT NOT NULL)",
    SCHEMA_V1_COMMON, NULL,
};
static const char *const schema_v1_pg[] = {
    "CREATE TABLE IF NOT EXISTS offline (id BIGSERIAL PRIMARY KEY, "
    "username TEXT NOT NULL, stamp TEXT NOT NULL, stanza TEXT NOT NULL)",
    SCHEMA_V1_COMMON, NULL,
};

/* Version 2: an inbound subscription request waiting for the user's answer
 * (RFC 6121 §3.1.3) is kept on the roster row: pending_in holds its status
 * text ('' when it had none), hidden marks a row that exists only for it and
 * is not shown in the user's roster. */
#define SCHEMA_V2_COMMON \
    "ALTER TABLE roster ADD COLUMN pending_in TEXT", \
    "ALTER TABLE roster ADD COLUMN hidden TEXT"
static const char *const schema_v2[] = { SCHEMA_V2_COMMON, NULL };

static const schema_step schema_steps[] = {
    { schema_v1_sqlite, schema_v1_pg },
    { schema_v2, schema_v2 },
};
#define SCHEMA_LATEST ((long)(sizeof schema_steps / sizeof schema_steps[0]))

static const char schema_sql_table[] =
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)";
static const char schema_sql_current[] =
    "SELECT coalesce(max(version), 0) FROM schema_version";
static const char schema_sql_record[] =
    "INSERT INTO schema_version (version) VALUES (CAST($1 AS INTEGER))";

typedef struct schema_run {
    store *s;
    void (*ready)(store *s, int err);
    long version;
} schema_run;

static void schema_next(schema_run *run);

static void schema_on_step(store_txn *t)
{
    schema_run *run = t->ud;
    if (t->status != 0) {
        log_error("store", "schema migration to version %ld failed: %s",
                  run->version + 1, t->error);
        store_txn_free(t);
        run->ready(run->s, XE_CLOSED);
        free(run);
        return;
    }
    store_txn_free(t);
    run->version++;
    log_info("store", "database schema now at version %ld", run->version);
    schema_next(run);
}

static void schema_next(schema_run *run)
{
    if (run->version >= SCHEMA_LATEST) {
        run->ready(run->s, 0);
        free(run);
        return;
    }
    const schema_step *step = &schema_steps[run->version];
    const char *const *sql = run->s->ops->dialect == STORE_PG ? step->sql_pg : step->sql_sqlite;
    store_txn *t = store_txn_new(schema_on_step, run);
    for (; *sql; sql++)
        store_txn_add(t, *sql, false, 0);
    char v[24];
    snprintf(v, sizeof v, "%ld", run->version + 1);
    store_txn_add(t, schema_sql_record, false, 1, v);
    run->s->ops->submit(run->s->drv, t);
}

static void schema_on_current(store_txn *t)
{
    schema_run *run = t->ud;
    if (t->status != 0) {
        log_error("store", "cannot read the schema version: %s", t->error);
        store_txn_free(t);
        run->ready(run->s, XE_CLOSED);
        free(run);
        return;
    }
    const char *v = store_cell(&t->stmts[1], 0, 0);
    run->version = v ? strtol(v, NULL, 10) : 0;
    store_txn_free(t);
    if (run->version > SCHEMA_LATEST) {
        log_error("store", "the database's schema version %ld is newer than this "
                  "store's (%ld); refusing to run", run->version, SCHEMA_LATEST);
        run->ready(run->s, XE_CONFIG);
        free(run);
        return;
    }
    schema_next(run);
}

void store_schema_migrate(store *s, void (*ready)(store *s, int err))
{
    schema_run *run = xalloc(sizeof *run);
    run->s = s;
    run->ready = ready;
    store_txn *t = store_txn_new(schema_on_current, run);
    store_txn_add(t, schema_sql_table, false, 0);
    store_txn_add(t, schema_sql_current, false, 0);
    s->ops->submit(s->drv, t);
}
