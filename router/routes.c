/* SPDX-License-Identifier: MIT */
/* router/routes.c: the table of names (domains, services, instances) and who
 * serves them; rendezvous hashing spreads keys over several instances so that
 * one key always lands on the same one and only 1/N of keys move when an
 * instance joins or leaves. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "libcommon/alloc.h"
#include "router/router.h"

typedef struct router_table {
    router_route **slots;         /* open addressing, linear probing */
    size_t cap, used;
} router_table;

uint64_t router_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;      /* FNV-1a, case-folded */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c += 32;
        h = (h ^ c) * 0x100000001b3ULL;
    }
    return h;
}

/* splitmix64's finalizer: spreads the bits of a combined hash. */
static uint64_t routes_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

void router_routes_init(router *r)
{
    r->routes = xalloc(sizeof *r->routes);
    r->routes->cap = 64;
    r->routes->slots = xalloc(r->routes->cap * sizeof *r->routes->slots);
}

void router_routes_free(router *r)
{
    router_table *t = r->routes;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i]) {
            free(t->slots[i]->name);
            free(t->slots[i]->conns);
            free(t->slots[i]);
        }
    }
    free(t->slots);
    free(t);
    r->routes = NULL;
}

static bool routes_name_is(const router_route *rt, const char *name, size_t len)
{
    return strncasecmp(rt->name, name, len) == 0 && rt->name[len] == '\0';
}

router_route *router_route_find(router *r, const char *name, size_t len)
{
    router_table *t = r->routes;
    size_t i = router_hash(name, len) & (t->cap - 1);
    for (; t->slots[i]; i = (i + 1) & (t->cap - 1))
        if (routes_name_is(t->slots[i], name, len))
            return t->slots[i];
    return NULL;
}

static void routes_grow(router_table *t)
{
    size_t old_cap = t->cap;
    router_route **old = t->slots;
    t->cap *= 2;
    t->slots = xalloc(t->cap * sizeof *t->slots);
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i])
            continue;
        size_t j = router_hash(old[i]->name, strlen(old[i]->name)) & (t->cap - 1);
        while (t->slots[j])
            j = (j + 1) & (t->cap - 1);
        t->slots[j] = old[i];
    }
    free(old);
}

/* Routes are never removed from the table: a name that was served once keeps
 * its (possibly empty) entry, which is cheap and keeps pointers stable. */
router_route *router_route_get(router *r, const char *name, bool is_service)
{
    router_route *rt = router_route_find(r, name, strlen(name));
    if (rt)
        return rt;
    router_table *t = r->routes;
    if ((t->used + 1) * 2 > t->cap)
        routes_grow(t);
    rt = xalloc(sizeof *rt);
    rt->name = xstrdup(name);
    rt->is_service = is_service;
    size_t i = router_hash(name, strlen(name)) & (t->cap - 1);
    while (t->slots[i])
        i = (i + 1) & (t->cap - 1);
    t->slots[i] = rt;
    t->used++;
    return rt;
}

void router_route_remove_conn(router *r, router_route *rt, router_conn *rc)
{
    (void)r;
    for (size_t i = 0; i < rt->n_conns; i++) {
        if (rt->conns[i] == rc) {
            memmove(&rt->conns[i], &rt->conns[i + 1],
                    (rt->n_conns - i - 1) * sizeof *rt->conns);
            rt->n_conns--;
            return;
        }
    }
}

router_conn *router_route_pick(const router_route *rt, const char *key, size_t klen)
{
    if (rt->n_conns <= 1)
        return rt->n_conns ? rt->conns[0] : NULL;
    uint64_t kh = router_hash(key, klen);
    router_conn *best = NULL;
    uint64_t best_score = 0;
    for (size_t i = 0; i < rt->n_conns; i++) {
        router_conn *rc = rt->conns[i];
        uint64_t score = routes_mix(kh ^ rc->seed);
        if (!best || score > best_score) {
            best = rc;
            best_score = score;
        }
    }
    return best;
}

bool router_is_local_domain(const router *r, const char *domain, size_t len)
{
    for (size_t i = 0; i < r->config.n_domains; i++) {
        const char *d = r->config.domains[i];
        if (strncasecmp(d, domain, len) == 0 && d[len] == '\0')
            return true;
    }
    for (size_t i = 0; i < r->config.n_components; i++) {
        const router_component_cfg *cc = &r->config.components[i];
        if (cc->binds_name && strncasecmp(cc->name, domain, len) == 0 &&
            cc->name[len] == '\0')
            return true;
    }
    return false;
}
