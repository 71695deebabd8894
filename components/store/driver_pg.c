/* SPDX-License-Identifier: MIT */
/* components/store/driver_pg.c: PostgreSQL through libpq's asynchronous API.
 * One connection, watched with uv_poll: transactions wait in a queue and run
 * one at a time, statement by statement (BEGIN, the statements, COMMIT). When
 * the server goes away the driver reconnects; a transaction whose COMMIT was
 * not sent yet is run again on the new connection. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/store/driver.h"
#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/log.h"

#define PG_RETRY_MS 1000

typedef enum { PG_DOWN, PG_CONNECTING, PG_UP } pg_state;

typedef struct pg_poll {
    uv_poll_t handle;                /* first member */
    store_driver *d;
} pg_poll;

/* Steps of the running transaction besides its statements (0..n-1). */
enum { PG_STEP_BEGIN = -1, PG_STEP_COMMIT = -2, PG_STEP_ROLLBACK = -3 };

struct store_driver {
    uv_loop_t *loop;
    char *conninfo;
    PGconn *conn;
    pg_state state;
    pg_poll *poll;
    uv_timer_t retry;
    store_txn *queue, **tail;
    store_txn *cur;                  /* running, not in the queue */
    int step;
    bool step_ok;
    bool is_closing, is_running;
    int handles_open;
    void (*closed)(void *ud);
    void *closed_ud;
};

static void pg_next(store_driver *d);
static void pg_on_io(uv_poll_t *h, int status, int events);

/* A handle is closed; the last one after pg_close frees the driver. */
static void pg_handle_gone(store_driver *d)
{
    if (--d->handles_open > 0 || !d->is_closing)
        return;
    void (*closed)(void *) = d->closed;
    void *ud = d->closed_ud;
    free(d->conninfo);
    free(d);
    log_info("store", "postgresql: closed");
    if (closed)
        closed(ud);
}

static void pg_on_poll_closed(uv_handle_t *h)
{
    pg_poll *p = (pg_poll *)h;
    store_driver *d = p->d;
    free(p);
    pg_handle_gone(d);
}

static void pg_on_timer_closed(uv_handle_t *h)
{
    pg_handle_gone(h->data);
}

static void pg_watch(store_driver *d, int events)
{
    if (!d->poll) {
        d->poll = xalloc(sizeof *d->poll);
        d->poll->d = d;
        uv_poll_init(d->loop, &d->poll->handle, PQsocket(d->conn));
        d->handles_open++;
    }
    uv_poll_start(&d->poll->handle, events, pg_on_io);
}

static void pg_unwatch(store_driver *d)
{
    if (!d->poll)
        return;
    uv_poll_stop(&d->poll->handle);
    uv_close((uv_handle_t *)&d->poll->handle, pg_on_poll_closed);
    d->poll = NULL;
}

static void pg_reset_results(store_txn *t)
{
    for (size_t i = 0; i < t->n_stmts; i++) {
        store_stmt *s = &t->stmts[i];
        for (size_t c = 0; c < s->n_rows * s->n_cols; c++)
            free(s->cells[c]);
        free(s->cells);
        s->cells = NULL;
        s->n_rows = s->n_cols = 0;
    }
    t->status = 0;
    t->error[0] = '\0';
}

static void pg_finish(store_driver *d)
{
    store_txn *t = d->cur;
    d->cur = NULL;
    t->done(t);
}

static void pg_on_retry(uv_timer_t *h);

/* The connection failed or went away: drop it and try again later. */
static void pg_lost(store_driver *d, const char *why)
{
    if (d->is_closing)
        log_info("store", "postgresql: connection closed (%s)", why);
    else
        log_error("store", "postgresql: %s; reconnecting in %d ms", why, PG_RETRY_MS);
    pg_unwatch(d);
    PQfinish(d->conn);
    d->conn = NULL;
    d->state = PG_DOWN;
    if (d->cur) {
        store_txn *t = d->cur;
        if (d->step == PG_STEP_COMMIT || d->step == PG_STEP_ROLLBACK) {
            /* The outcome of a COMMIT in flight is unknown: say so. */
            if (t->status == 0) {
                t->status = XE_CLOSED;
                snprintf(t->error, sizeof t->error, "connection lost during commit");
            }
            pg_finish(d);
        } else {
            d->cur = NULL;
            pg_reset_results(t);
            t->next = d->queue;
            d->queue = t;
            if (!t->next)
                d->tail = &t->next;
        }
    }
    if (!d->is_closing) {
        uv_timer_start(&d->retry, pg_on_retry, PG_RETRY_MS, 0);
    } else {
        while (d->queue) {               /* nobody will run them now */
            store_txn *t = d->queue;
            d->queue = t->next;
            t->status = XE_CLOSED;
            snprintf(t->error, sizeof t->error, "the store is stopping");
            t->done(t);
        }
        d->tail = &d->queue;
        pg_next(d);
    }
}

static void pg_connect(store_driver *d)
{
    d->conn = PQconnectStart(d->conninfo);
    if (!d->conn || PQstatus(d->conn) == CONNECTION_BAD) {
        pg_lost(d, d->conn ? PQerrorMessage(d->conn) : "out of memory");
        return;
    }
    d->state = PG_CONNECTING;
    pg_watch(d, UV_WRITABLE);
}

static void pg_on_retry(uv_timer_t *h)
{
    store_driver *d = h->data;
    if (!d->is_closing)
        pg_connect(d);
}

static int pg_send(store_driver *d)
{
    store_txn *t = d->cur;
    int ok;
    switch (d->step) {
    case PG_STEP_BEGIN: ok = PQsendQuery(d->conn, "BEGIN"); break;
    case PG_STEP_COMMIT: ok = PQsendQuery(d->conn, "COMMIT"); break;
    case PG_STEP_ROLLBACK: ok = PQsendQuery(d->conn, "ROLLBACK"); break;
    default: {
        store_stmt *s = &t->stmts[d->step];
        int lens[STORE_MAX_PARAMS];
        for (int i = 0; i < s->n_params; i++)
            lens[i] = (int)s->param_lens[i];
        ok = PQsendQueryParams(d->conn, s->sql, s->n_params, NULL,
                               (const char *const *)s->params, lens, NULL, 0);
    }
    }
    if (!ok)
        return -1;
    d->step_ok = true;
    int fl = PQflush(d->conn);
    if (fl < 0)
        return -1;
    pg_watch(d, fl == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
    return 0;
}

/* Runs queued transactions while the connection is up and idle. */
static void pg_next(store_driver *d)
{
    if (d->is_running)
        return;
    d->is_running = true;
    while (!d->cur && d->queue) {
        store_txn *t = d->queue;
        if (t->n_stmts > 0 && d->state != PG_UP)
            break;
        d->queue = t->next;
        if (!d->queue)
            d->tail = &d->queue;
        t->next = NULL;
        d->cur = t;
        if (t->n_stmts == 0) {           /* an answer waiting its turn */
            pg_finish(d);
            continue;
        }
        d->step = PG_STEP_BEGIN;
        if (pg_send(d) < 0) {
            d->is_running = false;
            pg_lost(d, PQerrorMessage(d->conn));
            return;
        }
    }
    d->is_running = false;
    if (d->is_closing && !d->cur && !d->queue && d->handles_open > 0 &&
        !uv_is_closing((uv_handle_t *)&d->retry)) {
        pg_unwatch(d);
        if (d->conn)
            PQfinish(d->conn);
        d->conn = NULL;
        uv_close((uv_handle_t *)&d->retry, pg_on_timer_closed);
    }
}

static void pg_take_result(store_driver *d, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    store_txn *t = d->cur;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        if (d->step_ok)
            snprintf(t->error, sizeof t->error, "%s", PQresultErrorMessage(res));
        d->step_ok = false;
        return;
    }
    if (d->step < 0)
        return;
    store_stmt *s = &t->stmts[d->step];
    s->n_rows = (size_t)PQntuples(res);
    s->n_cols = (size_t)PQnfields(res);
    s->cells = xalloc((s->n_rows * s->n_cols + 1) * sizeof *s->cells);
    for (size_t r = 0; r < s->n_rows; r++)
        for (size_t c = 0; c < s->n_cols; c++)
            if (!PQgetisnull(res, (int)r, (int)c))
                s->cells[r * s->n_cols + c] =
                    xstrndup(PQgetvalue(res, (int)r, (int)c),
                             (size_t)PQgetlength(res, (int)r, (int)c));
}

/* The current step's results are all in: decide the next step. */
static void pg_step_done(store_driver *d)
{
    store_txn *t = d->cur;
    if (d->step == PG_STEP_ROLLBACK) {
        pg_finish(d);
        return;
    }
    if (d->step == PG_STEP_COMMIT) {
        if (!d->step_ok)
            t->status = XE_CLOSED;
        pg_finish(d);
        return;
    }
    if (!d->step_ok) {
        t->status = XE_CLOSED;
        d->step = PG_STEP_ROLLBACK;
    } else if (d->step >= 0 && t->stmts[d->step].need_row && t->stmts[d->step].n_rows == 0) {
        t->status = STORE_NO_ROW;
        t->failed_at = (size_t)d->step;
        d->step = PG_STEP_ROLLBACK;
    } else {
        d->step++;                       /* BEGIN (-1) goes to 0 */
        if ((size_t)d->step == t->n_stmts)
            d->step = PG_STEP_COMMIT;
    }
    if (pg_send(d) < 0)
        pg_lost(d, PQerrorMessage(d->conn));
}

static void pg_on_io(uv_poll_t *h, int status, int events)
{
    store_driver *d = ((pg_poll *)h)->d;
    if (d->state == PG_CONNECTING) {
        switch (PQconnectPoll(d->conn)) {
        case PGRES_POLLING_READING: pg_watch(d, UV_READABLE); return;
        case PGRES_POLLING_WRITING: pg_watch(d, UV_WRITABLE); return;
        case PGRES_POLLING_OK:
            PQsetnonblocking(d->conn, 1);
            d->state = PG_UP;
            log_info("store", "postgresql: connected (server %d)", PQserverVersion(d->conn));
            pg_watch(d, UV_READABLE);
            pg_next(d);
            return;
        default:
            pg_lost(d, PQerrorMessage(d->conn));
            return;
        }
    }
    if (status < 0) {
        pg_lost(d, uv_strerror(status));
        return;
    }
    if ((events & UV_WRITABLE) && d->cur) {
        int fl = PQflush(d->conn);
        if (fl < 0) {
            pg_lost(d, PQerrorMessage(d->conn));
            return;
        }
        if (fl == 0)
            pg_watch(d, UV_READABLE);
    }
    if (!(events & UV_READABLE))
        return;
    if (!PQconsumeInput(d->conn)) {
        pg_lost(d, PQerrorMessage(d->conn));
        return;
    }
    while (d->cur && d->conn && !PQisBusy(d->conn)) {
        PGresult *res = PQgetResult(d->conn);
        if (!res) {
            pg_step_done(d);
            if (!d->cur) {
                pg_next(d);
                return;
            }
            if (!d->conn)
                return;
            continue;
        }
        pg_take_result(d, res);
        PQclear(res);
    }
    if (!d->cur && d->conn && PQstatus(d->conn) == CONNECTION_BAD)
        pg_lost(d, PQerrorMessage(d->conn));
}

static int pg_open(uv_loop_t *loop, const cfg *c, const cfg_node *db,
                   store_driver **out, cfg_diag *diag)
{
    (void)c;
    static const char *const attrs[] = { "driver", "conninfo", NULL };
    if (cfg_check_attrs(db, attrs, diag) < 0)
        return XE_CONFIG;
    const char *conninfo;
    if (cfg_required(db, "conninfo", &conninfo, diag) < 0)
        return XE_CONFIG;
    char *err = NULL;
    PQconninfoOption *o = PQconninfoParse(conninfo, &err);
    if (!o) {
        cfg_error(diag, db, "conninfo does not parse: %s", err ? err : "out of memory");
        PQfreemem(err);
        return XE_CONFIG;
    }
    PQconninfoFree(o);
    store_driver *d = xalloc(sizeof *d);
    d->loop = loop;
    d->conninfo = xstrdup(conninfo);
    d->tail = &d->queue;
    uv_timer_init(loop, &d->retry);
    d->retry.data = d;
    d->handles_open = 1;
    *out = d;
    pg_connect(d);
    return 0;
}

static void pg_submit(store_driver *d, store_txn *t)
{
    t->next = NULL;
    if (d->is_closing) {
        t->status = XE_CLOSED;
        snprintf(t->error, sizeof t->error, "the store is stopping");
    }
    *d->tail = t;
    d->tail = &t->next;
    pg_next(d);
}

static void pg_close(store_driver *d, void (*closed)(void *ud), void *ud)
{
    d->closed = closed;
    d->closed_ud = ud;
    d->is_closing = true;
    uv_timer_stop(&d->retry);
    if (d->state != PG_UP && !d->cur)
        pg_lost(d, "closing");
    pg_next(d);
}

const store_driver_ops store_driver_pg = {
    .name = "postgresql",
    .dialect = STORE_PG,
    .open = pg_open,
    .submit = pg_submit,
    .close = pg_close,
};
