/* SPDX-License-Identifier: MIT */
/* components/store/store.h: xmppd-store, the database component: answers
 * urn:xmppd:store requests (docs/store-protocol.md) that arrive in envelopes. */
#ifndef XMPPD_STORE_STORE_H
#define XMPPD_STORE_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "components/store/driver.h"
#include "libcommon/buf.h"
#include "libcommon/component.h"
#include "libcommon/link.h"
#include "libcommon/xs.h"

#define STORE_NS "urn:xmppd:store"

typedef struct store {
    uv_loop_t *loop;
    const store_driver_ops *ops;
    store_driver *drv;
    link_conn *link;
    component_link_cfg link_cfg;
    bool is_stopping;
    size_t in_flight;             /* requests submitted, not yet answered */
} store;

/* One request being answered: who asked, what, and how it went. */
typedef struct store_req store_req;

/* How statement rows become XML: <name ATTR='column'...>, one attribute per
 * column in order; with has_content, the column after them is the
 * element's content, written as the bytes stored. */
typedef struct store_row {
    const char *name;
    const char *attrs[6];           /* ends at the first NULL */
    bool has_content;
} store_row;

/* A request kind (requests.c): its statements and its answer. Each request
 * reads as its SQL, its build function (what the request element must hold)
 * and its row in the table (the shape of its answer). */
typedef struct store_op {
    const char *name;               /* the request element's name */
    bool is_set;                    /* an iq set, else a get */
    /* The statement of a request about its user alone, run with $1 = user. */
    const char *sql;
    /* Else: adds the statements to t, or returns -1 after store_req_fail(). */
    int (*build)(store_req *r, store_txn *t);
    /* The answer, written by store_answer(): answer.name NULL is an empty
     * result. The answer's attributes (and content) come from the first row
     * of the first statement, its children (as item) from the rows of the
     * last statement. result, when set, writes the answer instead. */
    store_row answer, item;
    void (*result)(store_req *r, const store_txn *t, buf *out);
    xs_condition no_row;            /* the error when a need_row step found none */
} store_op;

struct store_req {
    store *s;
    const store_op *op;
    char *from, *key, *id, *iq_to, *iq_from;   /* for the answer */
    const char *user;               /* the request's user, kept in t's params */
    /* While the statements are built: the request element and its content
     * as received (plen bytes, trimmed). */
    xs_elem *q;
    const char *payload;
    size_t plen;
    char *ver;                      /* roster-get's ver */
    bool has_error;
    xs_condition cond;
    char text[256];                 /* the error's <text/> */
};

/* The request kind named name, or NULL. */
const store_op *store_op_find(const char *name);
/* Adds the statements of r's request (r->op, r->q, r->payload) to t;
 * returns 0, or -1 after store_req_fail(). */
int store_build(store_req *r, store_txn *t);
/* Appends the result element of r's request after t succeeded (nothing
 * for an empty result). */
void store_answer(store_req *r, const store_txn *t, buf *out);

/* Marks r as failed with cond and a formatted text; returns -1. */
int store_req_fail(store_req *r, xs_condition cond, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Brings the database's schema to the newest version, then calls ready with
 * 0, or with XE_* after logging why. */
void store_schema_migrate(store *s, void (*ready)(store *s, int err));

/* The link's stanza callback (ud is the store): parses a request from the
 * envelope, runs it and answers the sender in an envelope. */
void store_on_stanza(link_conn *l, xs_elem *st, const char *raw, size_t len, void *ud);
#endif
