/* SPDX-License-Identifier: MIT */
/* components/store/driver.h: the database behind the store. A request is a
 * transaction: a list of SQL statements (parameters $1..$N, passed as text)
 * run in order and committed together. Drivers run it without blocking the
 * event loop and call its done callback on the loop; transactions are run in
 * the order they were submitted, so one user's requests are answered in
 * order. */
#ifndef XMPPD_STORE_DRIVER_H
#define XMPPD_STORE_DRIVER_H
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "libcommon/cfg.h"

#define STORE_MAX_PARAMS 8
/* A statement marked need_row returned no row: the transaction was rolled
 * back and failed_at names the statement. */
#define STORE_NO_ROW 1

typedef struct store_stmt {
    const char *sql;                     /* static text, $1.. placeholders */
    char *params[STORE_MAX_PARAMS];      /* owned; NULL is SQL NULL */
    size_t param_lens[STORE_MAX_PARAMS];
    int n_params;
    bool need_row;
    /* Results, filled by the driver: n_rows * n_cols text cells (NULL for
     * SQL NULL), owned by the statement. */
    size_t n_rows, n_cols;
    char **cells;
} store_stmt;

typedef struct store_txn store_txn;
typedef void store_done_fn(store_txn *t);

struct store_txn {
    store_stmt *stmts;
    size_t n_stmts, cap;
    /* Outcome: 0, STORE_NO_ROW or a negative XE_* (the database failed,
     * error says why). */
    int status;
    size_t failed_at;
    char error[256];
    store_done_fn *done;                 /* runs on the loop; frees t */
    void *ud;
    store_txn *next;                     /* the driver's queue */
};

/* A new empty transaction; done runs once when it has been run. */
store_txn *store_txn_new(store_done_fn *done, void *ud);
/* Appends a statement with n parameters (strings copied, NULL allowed);
 * returns it, valid until the next append. */
store_stmt *store_txn_add(store_txn *t, const char *sql, bool need_row, int n, ...);
/* A result cell, NULL for SQL NULL or out of range. */
const char *store_cell(const store_stmt *s, size_t row, size_t col);
void store_txn_free(store_txn *t);

typedef struct store_driver store_driver;
typedef enum { STORE_SQLITE, STORE_PG } store_dialect;

typedef struct store_driver_ops {
    const char *name;                    /* "sqlite", "postgresql" */
    store_dialect dialect;
    /* Reads <database> and opens the database (PostgreSQL connects in the
     * background). Returns 0, or XE_CONFIG / an XE_* with diag filled. */
    int (*open)(uv_loop_t *loop, const cfg *c, const cfg_node *db,
                store_driver **out, cfg_diag *diag);
    /* Queues t; its done callback runs later on the loop, always. */
    void (*submit)(store_driver *d, store_txn *t);
    /* Finishes the queued transactions, then frees the driver and calls
     * closed (on the loop). */
    void (*close)(store_driver *d, void (*closed)(void *ud), void *ud);
} store_driver_ops;

extern const store_driver_ops store_driver_sqlite;
extern const store_driver_ops store_driver_pg;

/* Translates "$N" placeholders to SQLite's "?N" into a new string. */
char *store_sql_for_sqlite(const char *sql);
#endif
