/* SPDX-License-Identifier: MIT */
/* components/store/txn.c: transactions as the drivers run them. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "components/store/driver.h"
#include "libcommon/alloc.h"

store_txn *store_txn_new(store_done_fn *done, void *ud)
{
    store_txn *t = xalloc(sizeof *t);
    t->done = done;
    t->ud = ud;
    return t;
}

store_stmt *store_txn_add(store_txn *t, const char *sql, bool need_row, int n, ...)
{
    if (t->n_stmts == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 4;
        t->stmts = xrealloc(t->stmts, t->cap * sizeof *t->stmts);
    }
    store_stmt *s = &t->stmts[t->n_stmts++];
    memset(s, 0, sizeof *s);
    s->sql = sql;
    s->need_row = need_row;
    s->n_params = n;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n && i < STORE_MAX_PARAMS; i++) {
        const char *p = va_arg(ap, const char *);
        s->params[i] = xstrdup(p);
        s->param_lens[i] = p ? strlen(p) : 0;
    }
    va_end(ap);
    return s;
}

const char *store_cell(const store_stmt *s, size_t row, size_t col)
{
    if (row >= s->n_rows || col >= s->n_cols)
        return NULL;
    return s->cells[row * s->n_cols + col];
}

void store_txn_free(store_txn *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_stmts; i++) {
        store_stmt *s = &t->stmts[i];
        for (int p = 0; p < s->n_params; p++)
            free(s->params[p]);
        for (size_t c = 0; c < s->n_rows * s->n_cols; c++)
            free(s->cells[c]);
        free(s->cells);
    }
    free(t->stmts);
    free(t);
}

char *store_sql_for_sqlite(const char *sql)
{
    char *out = xstrdup(sql);
    for (char *p = out; *p; p++)
        if (*p == '$' && p[1] >= '0' && p[1] <= '9')
            *p = '?';
    return out;
}
