/* SPDX-License-Identifier: MIT */
/* c2s/register.c: XEP-0077 In-Band Registration of accounts on this server.
 * Before authentication: the stream feature, the form and a new account
 * (§3.1), throttled per client address. After it: the user's registration
 * (§3.1 <registered/>), a password change (§3.3) and the account's removal
 * (§3.2), which ends the user's streams here. Accounts live in xmppd-store
 * (docs/store-protocol.md); the password only becomes SCRAM credentials,
 * made in libuv's thread pool, and is never sent on or logged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c2s/c2s.h"
#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/log.h"
#include "libcommon/scram.h"

#define REG_NS "jabber:iq:register"
#define REG_FEATURE_NS "http://jabber.org/features/iq-register"
#define REG_ID_PREFIX "c2s-reg-"
#define REG_ADDR_SLOTS 128
#define REG_PASSWORD_MAX 1023
#define REG_STORE_TIMEOUT_MS (30 * 1000)

typedef enum { REG_CREATE, REG_PASSWORD, REG_REMOVE } reg_op;

/* The registrations of one client address, for the throttle. */
typedef struct reg_addr {
    char host[64];
    uint64_t last_ms;                  /* the last account made; 0: none */
    bool is_pending;                   /* one is being made */
} reg_addr;

/* One request: in the thread pool (sent_ms 0), then waiting for the store. */
typedef struct reg_req reg_req;
struct reg_req {
    reg_req *next;
    c2s *srv;
    uv_work_t work;
    uint64_t id;                       /* of the store request, "c2s-reg-N" */
    uint64_t conn_id;                  /* the asking stream, which may go */
    reg_op op;
    char *iq_id, *iq_to;               /* to answer the client's iq */
    char *user;                        /* the bare JID */
    char host[64];
    char *password;                    /* until the credentials are made */
    scram_cred creds[SCRAM_N_MECHS];
    int creds_rc;
    uint64_t sent_ms;
};

struct c2s_register {
    reg_req *pending;
    uint64_t next_id;
    reg_addr addrs[REG_ADDR_SLOTS];
};

/* The asking stream, if it is still open. */
static c2s_conn *reg_conn(c2s *s, uint64_t id)
{
    for (c2s_conn *cn = s->conns; cn; cn = cn->next)
        if (cn->id == id && cn->state != C2S_CONN_CLOSING)
            return cn;
    return NULL;
}

static c2s_register *reg_state(c2s *s)
{
    if (!s->reg)
        s->reg = xalloc(sizeof *s->reg);
    return s->reg;
}

/* --- answers to the client ------------------------------------------------ */

/* To a bound client, to its full JID. */
static void reg_send_iq(c2s_conn *cn, const char *id, const char *from, const char *type,
                        const char *payload)
{
    const char *to = cn->full && cn->is_bound ? jid_full(cn->full) : NULL;
    c2s_conn_send_iq(cn, id, from, to, type, payload);
}

/* The request's payload is not echoed back (RFC 6120 §8.3.1 makes it
 * optional): it holds the password. etype NULL: the condition's usual type. */
static void reg_send_error(c2s_conn *cn, const char *id, const char *from, xs_condition cond,
                           const char *etype)
{
    char payload[192];
    snprintf(payload, sizeof payload, "<error type='%s'><%s xmlns='" XS_NS_STANZAS "'/></error>",
             etype ? etype : xs_condition_type(cond), xs_condition_name(cond));
    reg_send_iq(cn, id, from, "error", payload);
}

static void reg_refuse(c2s_conn *cn, xs_elem *iq, xs_condition cond, const char *why)
{
    log_info(cn->who, "%s iq refused with %s: %s", REG_NS, xs_condition_name(cond), why);
    reg_send_error(cn, xs_attr(iq, "id"), xs_attr(iq, "to"), cond, NULL);
}

/* --- the per-address throttle --------------------------------------------- */

/* host's slot, or NULL; with create, a new one replaces the one idle
 * longest. */
static reg_addr *reg_addr_slot(c2s_register *r, const char *host, bool create)
{
    reg_addr *oldest = NULL;
    for (size_t i = 0; i < REG_ADDR_SLOTS; i++) {
        reg_addr *a = &r->addrs[i];
        if (a->host[0] && strcmp(a->host, host) == 0)
            return a;
        if (!a->is_pending && (!oldest || a->last_ms < oldest->last_ms))
            oldest = a;
    }
    if (!create)
        return NULL;
    if (!oldest)
        oldest = &r->addrs[0];
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->host, sizeof oldest->host, "%s", host);
    return oldest;
}

/* Why host may not register now, or NULL: one account per interval, and
 * one at a time, so that parallel streams do not get around it. */
static const char *reg_throttled(c2s *s, const char *host)
{
    uint64_t interval = s->config.register_interval_ms;
    if (interval == 0)
        return NULL;
    reg_addr *a = reg_addr_slot(reg_state(s), host, false);
    if (!a)
        return NULL;
    if (a->is_pending)
        return "a registration from this address is under way";
    if (a->last_ms && net_now_ms() - a->last_ms < interval)
        return "this address registered an account within the interval";
    return NULL;
}

static void reg_throttle_done(reg_req *r, bool is_created)
{
    c2s *s = r->srv;
    if (s->config.register_interval_ms == 0)
        return;
    reg_addr *a = reg_addr_slot(reg_state(s), r->host, is_created);
    if (!a)
        return;
    a->is_pending = false;
    if (is_created)
        a->last_ms = net_now_ms();
}

/* --- requests ------------------------------------------------------------- */

static void reg_password_free(char *password)
{
    if (!password)
        return;
    explicit_bzero(password, strlen(password));
    free(password);
}

static void reg_req_free(reg_req *r)
{
    c2s_register *st = r->srv->reg;
    for (reg_req **p = &st->pending; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    reg_password_free(r->password);
    explicit_bzero(r->creds, sizeof r->creds);
    free(r->iq_id);
    free(r->iq_to);
    free(r->user);
    free(r);
}

static bool reg_conn_is_busy(c2s *s, uint64_t conn_id)
{
    for (reg_req *r = reg_state(s)->pending; r; r = r->next)
        if (r->conn_id == conn_id)
            return true;
    return false;
}

static const char *reg_op_name(reg_op op)
{
    return op == REG_CREATE ? "registration" : op == REG_PASSWORD ? "password change"
                                                                  : "removal";
}

static void reg_finish(reg_req *r, xs_elem *answer);

/* The account request to the store; the answer comes to
 * c2s_register_store_answer(). */
static void reg_send_store(reg_req *r)
{
    static const char *const names[] = {
        [REG_CREATE] = "account-create", [REG_PASSWORD] = "account-set-credentials",
        [REG_REMOVE] = "account-delete",
    };
    c2s *s = r->srv;
    buf iq;
    buf_init(&iq);
    buf_printf(&iq, "<iq xmlns='" XS_NS_COMPONENT "' type='set' id='" REG_ID_PREFIX "%llu'>"
                    "<%s xmlns='" C2S_NS_STORE "' user='",
               (unsigned long long)r->id, names[r->op]);
    buf_append_xml(&iq, r->user, strlen(r->user), 1);
    buf_append_str(&iq, "'>");
    if (r->op != REG_REMOVE)
        scram_cred_append_xml(&iq, r->creds, SCRAM_N_MECHS);
    buf_printf(&iq, "</%s></iq>", names[r->op]);
    r->sent_ms = net_now_ms();
    if (r->sent_ms == 0)
        r->sent_ms = 1;
    int rc = s->link ? link_send_envelope(s->link, "store", r->user, buf_data(&iq),
                                          buf_len(&iq))
                     : XE_CLOSED;
    buf_close(&iq);
    if (rc < 0) {
        log_warn("c2s", "%s of %s: cannot ask the store: %s", reg_op_name(r->op), r->user,
                 xe_str(rc));
        reg_finish(r, NULL);
    }
}

/* In a thread of the pool: PBKDF2 is too slow for the event loop. */
static void reg_on_work(uv_work_t *w)
{
    reg_req *r = w->data;
    r->creds_rc = scram_cred_make_all(r->password, SCRAM_ITERATIONS, r->creds);
    explicit_bzero(r->password, strlen(r->password));
}

static void reg_on_worked(uv_work_t *w, int status)
{
    reg_req *r = w->data;
    free(r->password);
    r->password = NULL;
    c2s_conn *cn = reg_conn(r->srv, r->conn_id);
    if (!cn) {
        log_info("c2s", "%s of %s dropped: the client left", reg_op_name(r->op), r->user);
        reg_throttle_done(r, false);
        reg_req_free(r);
        return;
    }
    if (status < 0 || r->creds_rc < 0) {
        /* SASLprep (RFC 4013) refused the password: prohibited characters. */
        log_info(cn->who, "%s of %s refused with not-acceptable: the password is not usable",
                 reg_op_name(r->op), r->user);
        reg_send_error(cn, r->iq_id, r->iq_to, XS_NOT_ACCEPTABLE, NULL);
        reg_throttle_done(r, false);
        reg_req_free(r);
        return;
    }
    reg_send_store(r);
}

/* Fails requests the store has not answered in time (it may be stuck);
 * checked whenever a new one starts, so no timer is needed. */
static void reg_expire(c2s *s)
{
    uint64_t now = net_now_ms();
    reg_req *r = reg_state(s)->pending;
    while (r) {
        reg_req *next = r->next;
        if (r->sent_ms && now - r->sent_ms > REG_STORE_TIMEOUT_MS) {
            log_warn("c2s", "%s of %s: the store did not answer in %d s", reg_op_name(r->op),
                     r->user, REG_STORE_TIMEOUT_MS / 1000);
            reg_finish(r, NULL);
            next = reg_state(s)->pending;   /* the list changed */
        }
        r = next;
    }
}

/* Takes password (may be NULL for a removal). */
static void reg_start(c2s_conn *cn, xs_elem *iq, reg_op op, const char *user,
                      char *password)
{
    c2s *s = cn->srv;
    reg_expire(s);
    c2s_register *st = reg_state(s);
    reg_req *r = xalloc(sizeof *r);
    r->srv = s;
    r->id = ++st->next_id;
    r->conn_id = cn->id;
    r->op = op;
    r->iq_id = xstrdup(xs_attr(iq, "id"));
    r->iq_to = xstrdup(xs_attr(iq, "to"));
    r->user = xstrdup(user);
    snprintf(r->host, sizeof r->host, "%s", net_conn_peer_host(cn->net));
    r->password = password;
    r->next = st->pending;
    st->pending = r;
    if (op == REG_CREATE && s->config.register_interval_ms)
        reg_addr_slot(st, r->host, true)->is_pending = true;
    if (op == REG_REMOVE) {
        reg_send_store(r);
        return;
    }
    r->work.data = r;
    int rc = uv_queue_work(net_loop(), &r->work, reg_on_work, reg_on_worked);
    if (rc < 0) {
        log_warn(cn->who, "cannot compute credentials: %s", xe_str(rc));
        reg_finish(r, NULL);
    }
}

/* The error condition of a store answer; internal-server-error when it
 * names none we know. */
static const char *reg_answer_condition(xs_elem *answer)
{
    xs_elem *err = answer ? xs_child(answer, "error", NULL) : NULL;
    for (xs_elem *e = err ? xs_first(err) : NULL; e; e = xs_next(e))
        if (strcmp(xs_ns(e), XS_NS_STANZAS) == 0 && strcmp(xs_name(e), "text") != 0)
            return xs_name(e);
    return "internal-server-error";
}

/* XEP-0077 §3.2: the server ends every session of a removed account (here:
 * the streams of this c2s instance) with <not-authorized/>. */
static void reg_close_user_streams(c2s *s, const char *bare)
{
    for (c2s_conn *cn = s->conns; cn; cn = cn->next)
        if (cn->user && cn->state != C2S_CONN_CLOSING && strcmp(jid_bare(cn->user), bare) == 0)
            c2s_conn_close(cn, XS_STREAM_NOT_AUTHORIZED, "the account was removed");
}

static void reg_send_failure(c2s_conn *cn, const reg_req *r, const char *cond)
{
    if (strcmp(cond, "conflict") == 0)
        reg_send_error(cn, r->iq_id, r->iq_to, XS_CONFLICT, NULL);
    else if (strcmp(cond, "item-not-found") == 0)
        reg_send_error(cn, r->iq_id, r->iq_to, XS_ITEM_NOT_FOUND, NULL);
    else    /* the store is gone or failed: temporary (RFC 6120 §8.3.2) */
        reg_send_error(cn, r->iq_id, r->iq_to, XS_INTERNAL_SERVER_ERROR, "wait");
}

/* The store answered (answer), or cannot (NULL): tell the client, if it is
 * still there, and the log. */
static void reg_finish(reg_req *r, xs_elem *answer)
{
    c2s *s = r->srv;
    const char *type = answer ? xs_attr(answer, "type") : NULL;
    bool is_ok = type && strcmp(type, "result") == 0;
    const char *cond = is_ok ? NULL : answer ? reg_answer_condition(answer) : "store unreachable";
    /* An account someone else removed already is as good as removed. */
    if (r->op == REG_REMOVE && cond && strcmp(cond, "item-not-found") == 0)
        is_ok = true;
    reg_throttle_done(r, r->op == REG_CREATE && is_ok);
    c2s_conn *cn = reg_conn(s, r->conn_id);
    const char *who = cn ? cn->who : "c2s";
    if (is_ok)
        log_info(who, "%s of %s done (from %s)", reg_op_name(r->op), r->user, r->host);
    else
        log_warn(who, "%s of %s failed: %s", reg_op_name(r->op), r->user, cond);
    /* The answer goes first: closing sends the stream error after it. */
    if (cn && is_ok)
        reg_send_iq(cn, r->iq_id, r->iq_to, "result", NULL);
    else if (cn)
        reg_send_failure(cn, r, cond);
    if (is_ok && r->op == REG_REMOVE)
        reg_close_user_streams(s, r->user);
    reg_req_free(r);
}

bool c2s_register_store_answer(c2s *s, xs_elem *iq, bool is_returned)
{
    const char *id = xs_attr(iq, "id");
    size_t n = strlen(REG_ID_PREFIX);
    /* The store answers in the component namespace and without to; a
     * client's iq routed here has both, and must not pass for an answer. */
    if (!id || strncmp(id, REG_ID_PREFIX, n) != 0 || xs_attr(iq, "to") ||
        strcmp(xs_ns(iq), XS_NS_COMPONENT) != 0)
        return false;
    uint64_t req = strtoull(id + n, NULL, 10);
    for (reg_req *r = s->reg ? s->reg->pending : NULL; r; r = r->next)
        if (r->id == req && r->sent_ms) {
            reg_finish(r, is_returned ? NULL : iq);
            return true;
        }
    return true;                       /* ours, but expired: dropped */
}

void c2s_register_free(c2s *s)
{
    if (!s->reg)
        return;
    while (s->reg->pending)
        reg_req_free(s->reg->pending);
    free(s->reg);
    s->reg = NULL;
}

/* --- the client's iqs ------------------------------------------------------ */

static bool reg_offered(c2s_conn *cn)
{
    const c2s_config *conf = &cn->srv->config;
    return conf->register_allowed && !cn->is_authed &&
           (net_conn_is_tls(cn->net) || !conf->tls_required);
}

static bool reg_is_to_server(c2s_conn *cn, const char *to)
{
    if (!to)
        return true;
    char *dom = NULL;
    bool is_ours = cn->domain && jid_domain_normalize(to, &dom) == 0 &&
                   strcmp(dom, cn->domain) == 0;
    free(dom);
    return is_ours;
}

/* The username and password fields, *password a new string. False with
 * *cond set when one is missing or the password is over the limit. */
static bool reg_read_fields(xs_elem *q, const char **username, char **password,
                            xs_condition missing, xs_condition *cond)
{
    *username = xs_child_text(q, "username", REG_NS);
    const char *pw = xs_child_text(q, "password", REG_NS);
    *password = NULL;
    if (!*username || !**username || !pw || !*pw) {
        *cond = missing;
        return false;
    }
    if (strlen(pw) > REG_PASSWORD_MAX) {
        *cond = XS_NOT_ACCEPTABLE;
        return false;
    }
    *password = xstrdup(pw);
    return true;
}

/* §3.1: a new account, before authentication. */
static void reg_create(c2s_conn *cn, xs_elem *iq, xs_elem *q)
{
    if (xs_child(q, "remove", REG_NS)) {
        reg_refuse(cn, iq, XS_NOT_AUTHORIZED, "removal before authentication");
        return;
    }
    const char *username;
    char *password;
    xs_condition cond;
    if (!reg_read_fields(q, &username, &password, XS_NOT_ACCEPTABLE, &cond)) {
        reg_refuse(cn, iq, cond, "username or password missing or too long");
        return;
    }
    jid *j = NULL;
    if (jid_build(username, cn->domain, NULL, &j) < 0) {
        char esc[128];
        log_info(cn->who, "registration request refused with jid-malformed: username \"%s\"",
                 log_escape(username, strlen(username), esc, sizeof esc));
        reg_send_error(cn, xs_attr(iq, "id"), xs_attr(iq, "to"), XS_JID_MALFORMED, NULL);
        reg_password_free(password);
        return;
    }
    const char *why = reg_conn_is_busy(cn->srv, cn->id)
                          ? "a request of this stream is under way"
                          : reg_throttled(cn->srv, net_conn_peer_host(cn->net));
    if (why) {
        log_warn(cn->who, "registration of %s refused with resource-constraint: %s",
                 jid_bare(j), why);
        reg_send_error(cn, xs_attr(iq, "id"), xs_attr(iq, "to"), XS_RESOURCE_CONSTRAINT, NULL);
        reg_password_free(password);
        jid_free(j);
        return;
    }
    log_info(cn->who, "registration of %s requested", jid_bare(j));
    reg_start(cn, iq, REG_CREATE, jid_bare(j), password);
    jid_free(j);
}

/* §3.3: a password change, only of one's own account. */
static void reg_change_password(c2s_conn *cn, xs_elem *iq, xs_elem *q)
{
    const char *username;
    char *password;
    xs_condition cond;
    if (!reg_read_fields(q, &username, &password, XS_BAD_REQUEST, &cond)) {
        reg_refuse(cn, iq, cond, "username or password missing or too long");
        return;
    }
    jid *j = NULL;
    bool is_own = jid_build(username, cn->domain, NULL, &j) == 0 &&
                  strcmp(jid_bare(j), jid_bare(cn->user)) == 0;
    jid_free(j);
    if (!is_own) {
        reg_password_free(password);
        reg_refuse(cn, iq, XS_NOT_ALLOWED, "the username is not the authenticated user's");
        return;
    }
    if (reg_conn_is_busy(cn->srv, cn->id)) {
        reg_password_free(password);
        reg_refuse(cn, iq, XS_RESOURCE_CONSTRAINT, "a request of this stream is under way");
        return;
    }
    log_info(cn->who, "password change requested");
    reg_start(cn, iq, REG_PASSWORD, jid_bare(cn->user), password);
}

static void reg_form(c2s_conn *cn, xs_elem *iq)
{
    buf q;
    buf_init(&q);
    buf_append_str(&q, "<query xmlns='" REG_NS "'>");
    if (cn->is_authed) {
        /* §3.1 (registered): the account the stream is authenticated as. */
        const char *local = jid_local(cn->user);
        buf_append_str(&q, "<registered/><username>");
        buf_append_xml(&q, local, strlen(local), 0);
        buf_append_str(&q, "</username>");
    } else {
        buf_append_str(&q, "<instructions>Choose a username and password to register "
                           "with this server.</instructions><username/><password/>");
    }
    buf_append_str(&q, "</query>");
    char *payload = buf_steal(&q);
    reg_send_iq(cn, xs_attr(iq, "id"), xs_attr(iq, "to"), "result", payload);
    free(payload);
}

bool c2s_register_handle(c2s_conn *cn, xs_elem *st)
{
    c2s *s = cn->srv;
    if (strcmp(xs_name(st), "iq") != 0 || strcmp(xs_ns(st), XS_NS_CLIENT) != 0)
        return false;
    xs_elem *q = xs_first(st);
    if (!q || strcmp(xs_name(q), "query") != 0 || strcmp(xs_ns(q), REG_NS) != 0 ||
        !reg_is_to_server(cn, xs_attr(st, "to")))
        return false;
    /* Disabled: after authentication sm answers (service-unavailable). */
    if (cn->is_authed && !s->config.register_allowed)
        return false;
    /* RFC 6120 §5.3.1: never before TLS when TLS is required (conn.c ends
     * such streams first; this is the second lock). */
    if (!net_conn_is_tls(cn->net) && s->config.tls_required)
        return false;
    const char *type = xs_attr(st, "type");
    bool is_get = type && strcmp(type, "get") == 0, is_set = type && strcmp(type, "set") == 0;
    if (!is_get && !is_set)
        return !cn->is_authed;         /* a stray result or error: dropped */
    if (!s->config.register_allowed) {
        reg_refuse(cn, st, XS_SERVICE_UNAVAILABLE, "in-band registration is disabled");
        return true;
    }
    if (is_get) {
        reg_form(cn, st);
    } else if (!cn->is_authed) {
        reg_create(cn, st, q);
    } else if (xs_child(q, "remove", REG_NS)) {
        if (reg_conn_is_busy(s, cn->id)) {
            reg_refuse(cn, st, XS_RESOURCE_CONSTRAINT, "a request of this stream is under way");
            return true;
        }
        log_info(cn->who, "removal of the account requested");
        reg_start(cn, st, REG_REMOVE, jid_bare(cn->user), NULL);
    } else {
        reg_change_password(cn, st, q);
    }
    return true;
}

void c2s_register_features(c2s_conn *cn, buf *out)
{
    if (reg_offered(cn))
        buf_append_str(out, "<register xmlns='" REG_FEATURE_NS "'/>");
}
