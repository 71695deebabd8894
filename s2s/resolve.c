/* SPDX-License-Identifier: MIT */
/* s2s/resolve.c: where a remote domain is (RFC 6120 §3.2, XEP-0368, RFC
 * 2782): the <host> override, else the SRV records of _xmpps-server._tcp
 * (direct TLS) and _xmpp-server._tcp (STARTTLS) ordered by priority and
 * weight, each target's A/AAAA addresses in that order; A/AAAA on port 5269
 * only when the domain has no SRV record at all. c-ares does the DNS; its
 * sockets are watched with uv_poll_t and its timeouts run on a uv_timer_t,
 * so no lookup ever blocks the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>

#include "libcommon/alloc.h"
#include "libcommon/error.h"
#include "libcommon/log.h"
#include "s2s/s2s.h"

#define RESOLVE_TIMEOUT_MS 3000
#define RESOLVE_TRIES 2

/* One socket c-ares asked us to watch. */
typedef struct resolve_watch {
    uv_poll_t poll;
    ares_socket_t fd;
    s2s_resolver *owner;
    struct resolve_watch *next;
} resolve_watch;

struct s2s_resolver {
    ares_channel channel;
    uv_timer_t timer;
    resolve_watch *watches;
    uint64_t rnd;                        /* xorshift state for SRV weights */
    bool is_closed;
};

/* A service target: from an SRV record, or the domain itself on 5269. */
typedef struct resolve_target {
    struct s2s_lookup *lk;
    char *host;
    int port;
    unsigned priority, weight;
    bool is_direct_tls;
    char **addrs;                        /* "IP:PORT" once looked up */
    size_t n_addrs;
} resolve_target;

typedef struct s2s_lookup {
    s2s_conn *cn;
    unsigned pending;                    /* c-ares queries under way */
    resolve_target *targets;
    size_t n_targets;
    unsigned n_srv[2];                   /* records per service, "." included */
    bool is_refused[2];                  /* a "." target: not offered */
    bool is_fallback;                    /* no SRV: the domain on 5269 */
    int err;                             /* first error that ends the lookup */
} s2s_lookup;

static const char *const resolve_services[2] = { "_xmpps-server._tcp.", "_xmpp-server._tcp." };

/* --- c-ares on the libuv loop ------------------------------------------- */

static void resolve_on_timer(uv_timer_t *t);

static void resolve_arm_timer(s2s_resolver *r)
{
    struct timeval tv;
    if (r->is_closed)
        return;
    if (!ares_timeout(r->channel, NULL, &tv)) {
        uv_timer_stop(&r->timer);
        return;
    }
    uint64_t ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
    uv_timer_start(&r->timer, resolve_on_timer, ms ? ms : 1, 0);
}

static void resolve_on_timer(uv_timer_t *t)
{
    s2s_resolver *r = t->data;
    ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    resolve_arm_timer(r);
}

static void resolve_on_poll(uv_poll_t *p, int status, int events)
{
    resolve_watch *w = p->data;
    s2s_resolver *r = w->owner;
    ares_socket_t fd = w->fd;
    /* On an error, let c-ares find it out by reading and writing. */
    bool rd = status < 0 || (events & UV_READABLE);
    bool wr = status < 0 || (events & UV_WRITABLE);
    ares_process_fd(r->channel, rd ? fd : ARES_SOCKET_BAD, wr ? fd : ARES_SOCKET_BAD);
    resolve_arm_timer(r);
}

static void resolve_on_watch_closed(uv_handle_t *h)
{
    free(h->data);
}

static void resolve_on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    s2s_resolver *r = data;
    resolve_watch **pp = &r->watches;
    while (*pp && (*pp)->fd != fd)
        pp = &(*pp)->next;
    resolve_watch *w = *pp;
    if (!readable && !writable) {
        if (w) {
            *pp = w->next;
            uv_poll_stop(&w->poll);
            uv_close((uv_handle_t *)&w->poll, resolve_on_watch_closed);
        }
        return;
    }
    if (!w) {
        w = xalloc(sizeof *w);
        if (uv_poll_init_socket(net_loop(), &w->poll, fd) < 0) {
            log_error("s2s", "cannot watch a DNS socket");
            free(w);
            return;
        }
        w->poll.data = w;
        w->fd = fd;
        w->owner = r;
        w->next = r->watches;
        r->watches = w;
    }
    uv_poll_start(&w->poll, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0),
                  resolve_on_poll);
}

int s2s_resolver_init(s2s *s)
{
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        log_error("s2s", "c-ares: %s", ares_strerror(rc));
        return XE_CONFIG;
    }
    s2s_resolver *r = xalloc(sizeof *r);
    struct ares_options o = {
        .sock_state_cb = resolve_on_sock_state,
        .sock_state_cb_data = r,
        .timeout = RESOLVE_TIMEOUT_MS,
        .tries = RESOLVE_TRIES,
        /* One socket per server for the process' life: no close and reopen
         * (and re-watch) between lookups. */
        .flags = ARES_FLAG_STAYOPEN,
    };
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
    rc = ares_init_options(&r->channel, &o, mask);
    if (rc == ARES_SUCCESS && s->config.resolver)
        rc = ares_set_servers_ports_csv(r->channel, s->config.resolver);
    if (rc != ARES_SUCCESS) {
        log_error("s2s", "cannot set up the DNS resolver%s%s: %s",
                  s->config.resolver ? " " : "", s->config.resolver ? s->config.resolver : "",
                  ares_strerror(rc));
        if (r->channel)
            ares_destroy(r->channel);
        free(r);
        ares_library_cleanup();
        return XE_CONFIG;
    }
    uv_timer_init(net_loop(), &r->timer);
    r->timer.data = r;
    r->rnd = uv_hrtime() | 1;
    s->resolver = r;
    log_info("s2s", "DNS: %s", s->config.resolver ? s->config.resolver : "the system resolver");
    return 0;
}

void s2s_resolver_cancel(s2s *s)
{
    if (s->resolver && !s->resolver->is_closed)
        ares_cancel(s->resolver->channel);
}

static void resolve_on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

void s2s_resolver_close(s2s *s)
{
    s2s_resolver *r = s->resolver;
    if (!r || r->is_closed)
        return;
    ares_destroy(r->channel);            /* closes its sockets: the watches go */
    r->is_closed = true;
    for (resolve_watch *w = r->watches, *next; w; w = next) {
        next = w->next;                  /* none expected; never leave one behind */
        uv_poll_stop(&w->poll);
        uv_close((uv_handle_t *)&w->poll, resolve_on_watch_closed);
    }
    r->watches = NULL;
    uv_close((uv_handle_t *)&r->timer, resolve_on_timer_closed);
    s->resolver = NULL;
    ares_library_cleanup();
}

/* --- one lookup --------------------------------------------------------- */

static char *resolve_host_port(const char *host, int port)
{
    return strchr(host, ':') ? xasprintf("[%s]:%d", host, port) : xasprintf("%s:%d", host, port);
}

static int resolve_err(int status)
{
    switch (status) {
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
        return UV_EAI_NONAME;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
        return UV_ECANCELED;
    case ARES_ENOMEM:
        return UV_ENOMEM;
    default:
        return UV_EAI_AGAIN;
    }
}

static void resolve_lookup_free(s2s_lookup *lk)
{
    for (size_t i = 0; i < lk->n_targets; i++) {
        resolve_target *t = &lk->targets[i];
        free(t->host);
        for (size_t j = 0; j < t->n_addrs; j++)
            free(t->addrs[j]);
        free(t->addrs);
    }
    free(lk->targets);
    free(lk);
}

static void resolve_finish(s2s_lookup *lk, s2s_candidate *cands, size_t n, int err)
{
    s2s_conn *cn = lk->cn;
    cn->is_resolving = false;
    cn->lookup = NULL;
    resolve_lookup_free(lk);
    cn->resolve_cb(cn, cands, n, err);
}

static void resolve_add_target(s2s_lookup *lk, const char *host, int port, unsigned prio,
                               unsigned weight, bool is_direct_tls)
{
    lk->targets = xrealloc(lk->targets, (lk->n_targets + 1) * sizeof *lk->targets);
    lk->targets[lk->n_targets++] = (resolve_target){
        .lk = lk, .host = xstrdup(host), .port = port, .priority = prio, .weight = weight,
        .is_direct_tls = is_direct_tls,
    };
}

static uint64_t resolve_random(s2s_resolver *r)
{
    r->rnd ^= r->rnd << 13;
    r->rnd ^= r->rnd >> 7;
    r->rnd ^= r->rnd << 17;
    return r->rnd;
}

static int resolve_cmp_priority(const void *a, const void *b)
{
    const resolve_target *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    /* RFC 2782: weight 0 first, so that it is rarely picked over others. */
    return (x->weight != 0) - (y->weight != 0);
}

/* RFC 2782: by priority, then within a priority a weighted random order. */
static void resolve_order(s2s_resolver *r, resolve_target *t, size_t n)
{
    qsort(t, n, sizeof *t, resolve_cmp_priority);
    for (size_t start = 0; start < n;) {
        size_t end = start;
        while (end < n && t[end].priority == t[start].priority)
            end++;
        for (size_t i = start; i + 1 < end; i++) {
            uint64_t sum = 0;
            for (size_t j = i; j < end; j++)
                sum += t[j].weight;
            uint64_t pick = sum ? resolve_random(r) % (sum + 1) : 0, run = 0;
            size_t k = i;
            for (size_t j = i; j < end; j++) {
                run += t[j].weight;
                if (run >= pick) {
                    k = j;
                    break;
                }
            }
            resolve_target tmp = t[i];
            t[i] = t[k];
            t[k] = tmp;
        }
        start = end;
    }
}

static void resolve_build(s2s_lookup *lk)
{
    s2s_candidate *cands = NULL;
    size_t n = 0;
    for (size_t i = 0; i < lk->n_targets; i++) {
        resolve_target *t = &lk->targets[i];
        for (size_t j = 0; j < t->n_addrs; j++) {
            cands = xrealloc(cands, (n + 1) * sizeof *cands);
            cands[n++] = (s2s_candidate){
                .address = t->addrs[j], .target = xstrdup(t->host),
                .is_direct_tls = t->is_direct_tls,
            };
            t->addrs[j] = NULL;
        }
        t->n_addrs = 0;
    }
    if (n == 0) {
        log_info(lk->cn->who, "DNS: no address for any target of %s", lk->cn->remote);
        resolve_finish(lk, NULL, 0, lk->err ? lk->err : UV_EAI_NONAME);
        return;
    }
    resolve_finish(lk, cands, n, 0);
}

static void resolve_on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    resolve_target *t = arg;
    s2s_lookup *lk = t->lk;
    if (status != ARES_SUCCESS) {
        log_info(lk->cn->who, "DNS: %s: %s", t->host, ares_strerror(status));
        if (!lk->err || status == ARES_ECANCELLED || status == ARES_EDESTRUCTION)
            lk->err = resolve_err(status);
    }
    for (struct ares_addrinfo_node *ai = res ? res->nodes : NULL; ai; ai = ai->ai_next) {
        char ip[INET6_ADDRSTRLEN];
        if (ai->ai_family == AF_INET)
            uv_ip4_name((const struct sockaddr_in *)ai->ai_addr, ip, sizeof ip);
        else if (ai->ai_family == AF_INET6)
            uv_ip6_name((const struct sockaddr_in6 *)ai->ai_addr, ip, sizeof ip);
        else
            continue;
        t->addrs = xrealloc(t->addrs, (t->n_addrs + 1) * sizeof *t->addrs);
        t->addrs[t->n_addrs++] = resolve_host_port(ip, t->port);
    }
    if (res)
        ares_freeaddrinfo(res);
    if (--lk->pending > 0)
        return;
    if (lk->err == UV_ECANCELED) {
        resolve_finish(lk, NULL, 0, lk->err);
        return;
    }
    resolve_build(lk);
}

/* Second step: every target's A/AAAA records, all at once. */
static void resolve_addresses(s2s_lookup *lk)
{
    s2s_resolver *r = lk->cn->srv->resolver;
    if (lk->n_targets == 0) {
        resolve_finish(lk, NULL, 0, UV_EAI_NONAME);
        return;
    }
    resolve_order(r, lk->targets, lk->n_targets);
    for (size_t i = 0; i < lk->n_targets; i++) {
        const resolve_target *t = &lk->targets[i];
        if (lk->is_fallback)
            log_info(lk->cn->who, "DNS: no SRV records for %s; trying its A/AAAA on port %d",
                     lk->cn->remote, t->port);
        else
            log_info(lk->cn->who, "DNS: candidate %zu: %s:%d (%s, priority %u, weight %u)",
                     i + 1, t->host, t->port, t->is_direct_tls ? "direct TLS" : "STARTTLS",
                     t->priority, t->weight);
    }
    struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    lk->pending = (unsigned)lk->n_targets;
    /* The callback may run at once (a numeric target): count first. */
    size_t n = lk->n_targets;
    for (size_t i = 0; i < n; i++)
        ares_getaddrinfo(r->channel, lk->targets[i].host, NULL, &hints, resolve_on_addrinfo,
                         &lk->targets[i]);
    resolve_arm_timer(r);
}

typedef struct resolve_srv_query {
    s2s_lookup *lk;
    int service;                         /* index in resolve_services */
} resolve_srv_query;

static void resolve_on_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    resolve_srv_query *q = arg;
    s2s_lookup *lk = q->lk;
    int svc = q->service;
    free(q);
    const char *what = resolve_services[svc];
    if (status == ARES_SUCCESS) {
        struct ares_srv_reply *srv = NULL;
        int rc = ares_parse_srv_reply(abuf, alen, &srv);
        if (rc != ARES_SUCCESS && rc != ARES_ENODATA) {
            /* A broken answer is not "no records" either. */
            log_info(lk->cn->who, "DNS: %s%s: %s", what, lk->cn->remote, ares_strerror(rc));
            if (!lk->err)
                lk->err = resolve_err(rc);
        }
        for (struct ares_srv_reply *p = srv; p; p = p->next) {
            lk->n_srv[svc]++;
            if (p->host[0] == '\0' || strcmp(p->host, ".") == 0) {
                lk->is_refused[svc] = true;
                continue;
            }
            resolve_add_target(lk, p->host, p->port, p->priority, p->weight, svc == 0);
        }
        if (srv)
            ares_free_data(srv);
    } else if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION) {
        lk->err = UV_ECANCELED;
    } else if (status != ARES_ENOTFOUND && status != ARES_ENODATA) {
        /* A failing server is not "no records": falling back to A/AAAA
         * would skip the domain's real servers. */
        log_info(lk->cn->who, "DNS: %s%s: %s", what, lk->cn->remote, ares_strerror(status));
        if (!lk->err)
            lk->err = resolve_err(status);
    }
    if (--lk->pending > 0)
        return;
    if (lk->err) {
        resolve_finish(lk, NULL, 0, lk->err);
        return;
    }
    for (int i = 0; i < 2; i++)
        if (lk->is_refused[i])
            log_info(lk->cn->who, "DNS: %s%s has the target \".\": the service is not "
                                  "offered", resolve_services[i], lk->cn->remote);
    if (lk->n_srv[0] + lk->n_srv[1] == 0) {
        /* RFC 6120 §3.2.2: no SRV at all, the domain itself on 5269. */
        lk->is_fallback = true;
        resolve_add_target(lk, lk->cn->remote, S2S_DEFAULT_PORT, 0, 0, false);
    } else {
        /* Records that a "." accompanies are ignored (RFC 2782 allows only
         * the "." alone; either way the service is not offered). */
        size_t keep = 0;
        for (size_t i = 0; i < lk->n_targets; i++) {
            resolve_target *t = &lk->targets[i];
            if (lk->is_refused[t->is_direct_tls ? 0 : 1])
                free(t->host);
            else
                lk->targets[keep++] = *t;
        }
        lk->n_targets = keep;
    }
    resolve_addresses(lk);
}

void s2s_candidates_free(s2s_candidate *cands, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(cands[i].address);
        free(cands[i].target);
    }
    free(cands);
}

int s2s_resolve(s2s_conn *cn, s2s_resolve_fn *cb)
{
    const s2s_host *h = s2s_host_for(cn->srv, cn->remote);
    if (h) {
        s2s_candidate *cands = xalloc(sizeof *cands);
        cands[0] = (s2s_candidate){
            .address = resolve_host_port(h->address, h->port), .target = xstrdup(h->address),
        };
        log_info(cn->who, "DNS: <host> gives %s for %s", cands[0].address, cn->remote);
        cb(cn, cands, 1, 0);
        return 0;
    }
    /* RFC 6120 §3.2.1: an IP address is not looked up. */
    unsigned char ip[16];
    if (uv_inet_pton(AF_INET, cn->remote, ip) == 0 ||
        uv_inet_pton(AF_INET6, cn->remote, ip) == 0) {
        s2s_candidate *cands = xalloc(sizeof *cands);
        cands[0] = (s2s_candidate){
            .address = resolve_host_port(cn->remote, S2S_DEFAULT_PORT),
            .target = xstrdup(cn->remote),
        };
        cb(cn, cands, 1, 0);
        return 0;
    }
    s2s_resolver *r = cn->srv->resolver;
    if (!r)
        return UV_EAI_FAIL;
    s2s_lookup *lk = xalloc(sizeof *lk);
    lk->cn = cn;
    lk->pending = 2;
    cn->resolve_cb = cb;
    cn->lookup = lk;
    cn->is_resolving = true;
    for (int i = 0; i < 2; i++) {
        resolve_srv_query *q = xalloc(sizeof *q);
        q->lk = lk;
        q->service = i;
        char *name = xasprintf("%s%s", resolve_services[i], cn->remote);
        ares_query(r->channel, name, ns_c_in, ns_t_srv, resolve_on_srv, q);
        free(name);
    }
    resolve_arm_timer(r);
    return 0;
}
