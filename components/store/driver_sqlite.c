/* SPDX-License-Identifier: MIT */
/* components/store/driver_sqlite.c: the embedded SQLite database, a file
 * under the state directory in WAL mode. SQLite calls block, so they run on
 * one dedicated worker thread that takes transactions in submission order;
 * results come back to the loop through a uv_async_t. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/store/driver.h"
#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/log.h"
#include "libcommon/proc.h"

typedef struct sqlite_cached {
    const char *key;                 /* the static SQL text it was made from */
    sqlite3_stmt *stmt;
} sqlite_cached;

struct store_driver {
    uv_async_t async;                /* first member: the handle is the driver */
    sqlite3 *db;
    char *path;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    store_txn *todo, **todo_tail;    /* for the worker */
    store_txn *done, **done_tail;    /* for the loop */
    bool is_stopping, is_stopped;
    sqlite_cached *cache;            /* only the worker touches it */
    size_t n_cache;
    void (*closed)(void *ud);
    void *closed_ud;
};

static sqlite3_stmt *sqlite_prepare(store_driver *d, const char *sql, store_txn *t)
{
    for (size_t i = 0; i < d->n_cache; i++)
        if (d->cache[i].key == sql)
            return d->cache[i].stmt;
    char *text = store_sql_for_sqlite(sql);
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v3(d->db, text, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    free(text);
    if (rc != SQLITE_OK) {
        snprintf(t->error, sizeof t->error, "%s", sqlite3_errmsg(d->db));
        return NULL;
    }
    d->cache = xrealloc(d->cache, (d->n_cache + 1) * sizeof *d->cache);
    d->cache[d->n_cache++] = (sqlite_cached){ .key = sql, .stmt = stmt };
    return stmt;
}

static int sqlite_exec_plain(store_driver *d, const char *sql, store_txn *t)
{
    char *err = NULL;
    if (sqlite3_exec(d->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        if (t)
            snprintf(t->error, sizeof t->error, "%s", err ? err : "failed");
        sqlite3_free(err);
        return XE_CLOSED;
    }
    return 0;
}

static int sqlite_run_stmt(store_driver *d, store_stmt *s, store_txn *t)
{
    sqlite3_stmt *st = sqlite_prepare(d, s->sql, t);
    if (!st)
        return XE_CLOSED;
    for (int i = 0; i < s->n_params; i++) {
        if (s->params[i])
            sqlite3_bind_text(st, i + 1, s->params[i], (int)s->param_lens[i], SQLITE_STATIC);
        else
            sqlite3_bind_null(st, i + 1);
    }
    s->n_cols = (size_t)sqlite3_column_count(st);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((s->n_rows + 1) * s->n_cols > cap) {
            cap = cap ? 2 * cap : 8 * (s->n_cols ? s->n_cols : 1);
            s->cells = xrealloc(s->cells, cap * sizeof *s->cells);
        }
        for (size_t c = 0; c < s->n_cols; c++) {
            const unsigned char *v = sqlite3_column_text(st, (int)c);
            s->cells[s->n_rows * s->n_cols + c] =
                v ? xstrndup((const char *)v, (size_t)sqlite3_column_bytes(st, (int)c)) : NULL;
        }
        s->n_rows++;
    }
    if (rc != SQLITE_DONE)
        snprintf(t->error, sizeof t->error, "%s", sqlite3_errmsg(d->db));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : XE_CLOSED;
}

/* On the worker thread. */
static void sqlite_run(store_driver *d, store_txn *t)
{
    if (sqlite_exec_plain(d, "BEGIN IMMEDIATE", t) < 0) {
        t->status = XE_CLOSED;
        return;
    }
    for (size_t i = 0; i < t->n_stmts; i++) {
        int rc = sqlite_run_stmt(d, &t->stmts[i], t);
        if (rc == 0 && t->stmts[i].need_row && t->stmts[i].n_rows == 0) {
            t->status = STORE_NO_ROW;
            t->failed_at = i;
        } else if (rc < 0) {
            t->status = rc;
            t->failed_at = i;
        }
        if (t->status != 0) {
            sqlite_exec_plain(d, "ROLLBACK", NULL);
            return;
        }
    }
    if (sqlite_exec_plain(d, "COMMIT", t) < 0) {
        t->status = XE_CLOSED;
        sqlite_exec_plain(d, "ROLLBACK", NULL);
    }
}

static void *sqlite_worker(void *arg)
{
    store_driver *d = arg;
    pthread_mutex_lock(&d->lock);
    for (;;) {
        while (!d->todo && !d->is_stopping)
            pthread_cond_wait(&d->wake, &d->lock);
        store_txn *t = d->todo;
        if (!t)
            break;                       /* stopping and nothing left */
        d->todo = t->next;
        if (!d->todo)
            d->todo_tail = &d->todo;
        pthread_mutex_unlock(&d->lock);
        t->next = NULL;
        sqlite_run(d, t);
        pthread_mutex_lock(&d->lock);
        *d->done_tail = t;
        d->done_tail = &t->next;
        uv_async_send(&d->async);
    }
    d->is_stopped = true;
    pthread_mutex_unlock(&d->lock);
    uv_async_send(&d->async);
    return NULL;
}

static void sqlite_on_closed(uv_handle_t *h)
{
    store_driver *d = (store_driver *)h;
    void (*closed)(void *) = d->closed;
    void *ud = d->closed_ud;
    free(d->path);
    free(d);
    if (closed)
        closed(ud);
}

static void sqlite_on_async(uv_async_t *h)
{
    store_driver *d = (store_driver *)h;
    pthread_mutex_lock(&d->lock);
    store_txn *list = d->done;
    d->done = NULL;
    d->done_tail = &d->done;
    bool is_stopped = d->is_stopped;
    pthread_mutex_unlock(&d->lock);
    while (list) {
        store_txn *t = list;
        list = t->next;
        t->next = NULL;
        t->done(t);
    }
    if (is_stopped && !uv_is_closing((uv_handle_t *)h)) {
        pthread_join(d->thread, NULL);
        for (size_t i = 0; i < d->n_cache; i++)
            sqlite3_finalize(d->cache[i].stmt);
        free(d->cache);
        sqlite3_close(d->db);
        pthread_mutex_destroy(&d->lock);
        pthread_cond_destroy(&d->wake);
        log_info("store", "database %s closed", d->path);
        uv_close((uv_handle_t *)h, sqlite_on_closed);
    }
}

static int sqlite_open(uv_loop_t *loop, const cfg *c, const cfg_node *db,
                       store_driver **out, cfg_diag *diag)
{
    static const char *const attrs[] = { "driver", "file", "busy-timeout", NULL };
    if (cfg_check_attrs(db, attrs, diag) < 0)
        return XE_CONFIG;
    long busy_ms;
    if (cfg_duration_ms(db, "busy-timeout", 5000, 0, 600000, &busy_ms, diag) < 0)
        return XE_CONFIG;
    const char *file = cfg_attr(db, "file") ? cfg_attr(db, "file") : "xmppd.db";
    if (!file[0])
        return cfg_error(diag, db, "file \"\" is not a file name");
    char *path;
    if (file[0] == '/') {
        path = xstrdup(file);
    } else {
        char *state = proc_state_dir(c);
        path = xasprintf("%s/%s", state, file);
        free(state);
    }
    sqlite3 *sq = NULL;
    int rc = sqlite3_open_v2(path, &sq, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        cfg_error(diag, db, "cannot open the database %s: %s", path,
                  sq ? sqlite3_errmsg(sq) : sqlite3_errstr(rc));
        sqlite3_close(sq);
        free(path);
        return XE_CONFIG;
    }
    sqlite3_busy_timeout(sq, (int)busy_ms);
    char *err = NULL;
    /* WAL: readers never block the writer; NORMAL sync in WAL mode loses
     * nothing committed when the process dies, only on power loss. */
    if (sqlite3_exec(sq, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                     "PRAGMA foreign_keys=ON", NULL, NULL, &err) != SQLITE_OK) {
        cfg_error(diag, db, "cannot set up the database %s: %s", path, err ? err : "?");
        sqlite3_free(err);
        sqlite3_close(sq);
        free(path);
        return XE_CONFIG;
    }
    store_driver *d = xalloc(sizeof *d);
    d->db = sq;
    d->path = path;
    d->todo_tail = &d->todo;
    d->done_tail = &d->done;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->wake, NULL);
    uv_async_init(loop, &d->async, sqlite_on_async);
    pthread_create(&d->thread, NULL, sqlite_worker, d);
    log_info("store", "database %s (sqlite %s) opened", path, sqlite3_libversion());
    *out = d;
    return 0;
}

static void sqlite_submit(store_driver *d, store_txn *t)
{
    t->next = NULL;
    pthread_mutex_lock(&d->lock);
    if (d->is_stopping) {
        t->status = XE_CLOSED;
        snprintf(t->error, sizeof t->error, "the store is stopping");
        *d->done_tail = t;
        d->done_tail = &t->next;
        uv_async_send(&d->async);
    } else {
        *d->todo_tail = t;
        d->todo_tail = &t->next;
        pthread_cond_signal(&d->wake);
    }
    pthread_mutex_unlock(&d->lock);
}

static void sqlite_close(store_driver *d, void (*closed)(void *ud), void *ud)
{
    d->closed = closed;
    d->closed_ud = ud;
    pthread_mutex_lock(&d->lock);
    d->is_stopping = true;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
}

const store_driver_ops store_driver_sqlite = {
    .name = "sqlite",
    .dialect = STORE_SQLITE,
    .open = sqlite_open,
    .submit = sqlite_submit,
    .close = sqlite_close,
};
