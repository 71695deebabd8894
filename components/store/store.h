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

/* A request kind (requests.c): the statements it runs, its result. */
typedef struct store_op {
    const char *name;               /* the request element's name */
    bool is_set;                    /* an iq set, else a get */
    /* Adds the statements to t, or returns -1 after store_req_fail(). The
     * payload is the request's content as received (plen bytes, trimmed). */
    int (*build)(store_req *r, xs_elem *q, const char *payload, size_t plen,
                 store_txn *t);
    /* Appends the result element after success; NULL: an empty result. */
    void (*result)(store_req *r, const store_txn *t, buf *out);
    xs_condition no_row;            /* the error when a need_row step found none */
} store_op;

struct store_req {
    store *s;
    const store_op *op;
    char *from, *key, *id, *iq_to, *iq_from;   /* for the answer */
    const char *user;               /* the request's user, kept in t's params */
    char *ver;                      /* roster-get's ver */
    bool has_error;
    xs_condition cond;
    char text[256];                 /* the error's <text/> */
};

extern const store_op store_ops[];
extern const size_t store_n_ops;

/* Marks r as failed with cond and a formatted text; returns -1. */
int store_req_fail(store_req *r, xs_condition cond, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends " NAME='VALUE'" (escaped) to out; nothing when value is NULL. */
void store_xml_attr(buf *out, const char *name, const char *value);

/* Brings the database's schema to the newest version, then calls ready with
 * 0, or with XE_* after logging why. */
void store_schema_migrate(store *s, void (*ready)(store *s, int err));

/* The link's stanza callback (ud is the store): parses a request from the
 * envelope, runs it and answers the sender in an envelope. */
void store_on_stanza(link_conn *l, xs_elem *st, const char *raw, size_t len, void *ud);
#endif
