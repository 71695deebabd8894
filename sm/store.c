/* SPDX-License-Identifier: MIT */
/* sm/store.c: the client side of docs/store-protocol.md: requests go to the
 * service store in envelopes keyed by the user, answers are matched by id,
 * and a request unanswered in time fails (its callback gets NULL). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "libcommon/log.h"
#include "sm/sm.h"

struct sm_store_req {
    sm_store_req *next;
    char id[32];
    uint64_t deadline_ms;
    sm_store_fn *cb;
    void *ud;
    bool is_failed;          /* could not be sent: fails on the next tick */
};

static void store_finish(sm_server *sm, sm_store_req *r, xs_elem *answer)
{
    for (sm_store_req **p = &sm->pending; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    if (r->cb)
        r->cb(sm, answer, r->ud);
    free(r);
    sm_user_collect(sm);
}

static void store_on_tick(uv_timer_t *t)
{
    sm_server *sm = t->data;
    uint64_t now = uv_now(sm->loop);
    sm_store_req *r = sm->pending;
    while (r) {
        sm_store_req *next = r->next;
        if (r->is_failed || r->deadline_ms <= now) {
            log_warn("sm", "store request %s %s", r->id,
                     r->is_failed ? "could not be sent" : "timed out");
            store_finish(sm, r, NULL);
            next = sm->pending;     /* the callback may have changed the list */
        }
        r = next;
    }
}

void sm_store_start(sm_server *sm)
{
    uv_timer_init(sm->loop, &sm->store_timer);
    sm->store_timer.data = sm;
    uv_timer_start(&sm->store_timer, store_on_tick, 100, 100);
}

void sm_store_stop(sm_server *sm)
{
    while (sm->pending)
        store_finish(sm, sm->pending, NULL);
    uv_timer_stop(&sm->store_timer);
    uv_close((uv_handle_t *)&sm->store_timer, NULL);
}

static void store_send(sm_server *sm, const char *user, bool is_set, const char *request,
                       sm_store_fn *cb, void *ud)
{
    sm_store_req *r = xalloc(sizeof *r);
    snprintf(r->id, sizeof r->id, "sm-st%lu", ++sm->next_id);
    r->deadline_ms = uv_now(sm->loop) + (uint64_t)sm->store_timeout_ms;
    r->cb = cb;
    r->ud = ud;
    sm_store_req **tail = &sm->pending;
    while (*tail)
        tail = &(*tail)->next;
    *tail = r;
    buf out;
    buf_init(&out);
    buf_printf(&out, "<iq xmlns='" XS_NS_COMPONENT "' type='%s' id='%s'>",
               is_set ? "set" : "get", r->id);
    buf_append_str(&out, request);
    buf_append_str(&out, "</iq>");
    if (link_send_envelope(sm->link, "store", user, buf_data(&out), buf_len(&out)) < 0)
        r->is_failed = true;
    buf_close(&out);
}

void sm_store_ask(sm_server *sm, const sm_store_query *q, sm_store_fn *cb, void *ud)
{
    buf req;
    buf_init(&req);
    buf_printf(&req, "<%s xmlns='" SM_NS_STORE "'", q->name);
    /* user= first, then the others; one without a value is left out */
    for (size_t i = 0; i <= sizeof q->attrs / sizeof q->attrs[0]; i++) {
        const char *name = i ? q->attrs[i - 1].name : "user";
        const char *value = i ? q->attrs[i - 1].value : q->user;
        if (name)
            buf_append_attr(&req, name, value);
    }
    if (!q->payload && !q->body) {
        buf_append_str(&req, "/>");
    } else {
        buf_append_str(&req, ">");
        if (q->payload)
            xs_serialize(q->payload, SM_NS_STORE, &req);
        if (q->body)
            buf_append_str(&req, q->body);
        buf_printf(&req, "</%s>", q->name);
    }
    char *text = buf_steal(&req);
    store_send(sm, q->user, q->is_set, text, cb, ud);
    free(text);
}

bool sm_store_answer(sm_server *sm, xs_elem *iq)
{
    const char *id = xs_attr(iq, "id");
    const char *type = xs_attr(iq, "type");
    if (!id || !type || (strcmp(type, "result") != 0 && strcmp(type, "error") != 0))
        return false;
    for (sm_store_req *r = sm->pending; r; r = r->next)
        if (strcmp(r->id, id) == 0) {
            store_finish(sm, r, iq);
            return true;
        }
    return false;
}

bool sm_store_ok(const xs_elem *answer)
{
    const char *type = answer ? xs_attr(answer, "type") : NULL;
    return type && strcmp(type, "result") == 0;
}

xs_elem *sm_store_result(xs_elem *answer)
{
    return sm_store_ok(answer) ? xs_first(answer) : NULL;
}

typedef struct store_iq {
    xs_elem *iq;                 /* a reference to the client's iq */
    sm_store_reply_fn *reply;
} store_iq;

static void store_on_iq_answer(sm_server *sm, xs_elem *answer, void *ud)
{
    store_iq *a = ud;
    xs_elem *r = NULL;
    if (sm_store_ok(answer))
        r = a->reply ? a->reply(a->iq, sm_store_result(answer)) : sm_iq_result(a->iq);
    if (r)
        sm_send(sm, r);
    else
        sm_reply_error(sm, a->iq, XS_INTERNAL_SERVER_ERROR);
    xs_unref(a->iq);
    free(a);
}

void sm_store_ask_for_iq(sm_server *sm, const sm_store_query *q, xs_elem *iq,
                         sm_store_reply_fn *reply)
{
    store_iq *a = xalloc(sizeof *a);
    a->iq = xs_ref(iq);
    a->reply = reply;
    sm_store_ask(sm, q, store_on_iq_answer, a);
}
