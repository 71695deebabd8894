/* SPDX-License-Identifier: MIT */
/* bench/client_msg.c: the messaging phase of xmppd-bench-client. Pairs of
 * logged-in clients send each other chat messages, each sender with at most
 * W in flight; a message's id carries sender, sequence number and send time,
 * so the receiver measures the latency and counts every arrival. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/client.h"

/* Parses "S-Q-T" (hex) into sender, sequence and send time. */
static bool parse_id(const char *s, size_t len, uint64_t v[3])
{
    int k = 0;
    v[0] = v[1] = v[2] = 0;
    bool any = false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '-') {
            if (!any || ++k > 2)
                return false;
            any = false;
            continue;
        }
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                         : -1;
        if (d < 0)
            return false;
        v[k] = v[k] * 16 + (uint64_t)d;
        any = true;
    }
    return k == 2 && any;
}

static void msg_fill(client *c)
{
    if (c->peer < 0 || c->state != ST_READY)
        return;
    char buf[65536];
    size_t len = 0;
    uint64_t now = uv_hrtime();
    const client *to = &bench.cl[c->peer];
    unsigned to_user = client_user(to);
    const char *to_domain = client_domain(to);
    while (c->inflight < bench.o.window) {
        if (c->sent >= c->seen_cap) {
            size_t n = c->seen_cap ? c->seen_cap * 2 : 1024;
            uint8_t *p = realloc(c->seen, n);
            if (!p)
                bench_die(2, "out of memory");
            memset(p + c->seen_cap, 0, n - c->seen_cap);
            c->seen = p;
            c->seen_cap = n;
        }
        if (len + 256 + bench.o.payload > sizeof buf) {
            client_send(c, buf, len);
            len = 0;
        }
        int n = snprintf(buf + len, sizeof buf - len,
                         "<message to='u%ld@%s/r' id='%x-%" PRIx64 "-%" PRIx64
                         "' type='chat'><body>%s</body></message>",
                         (long)to_user, to_domain, c->index, c->sent, now,
                         bench.body);
        len += (size_t)n;
        c->sent++;
        c->inflight++;
    }
    if (len)
        client_send(c, buf, len);
}

void msg_receive(client *c, const frame *f)
{
    const char *id;
    size_t id_len;
    uint64_t v[3];
    if (!frame_attr(f, "id", &id, &id_len) || !parse_id(id, id_len, v) ||
        v[0] >= bench.o.clients) {
        bench.bad_id++;
        return;
    }
    client *s = &bench.cl[v[0]];
    if (s->inflight)
        s->inflight--;
    if (frame_attr_is(f, "type", "error")) {
        bench.msg_err++;
        return;
    }
    if (s->peer != (long)c->index) {
        bench.misrouted++;
        return;
    }
    uint64_t now = uv_hrtime();
    if (v[1] >= s->seen_cap) {
        bench.bad_id++;
        return;
    }
    s->seen[v[1]]++;
    bench.msg_rx++;
    if (now >= v[2] && v[2] >= bench.t_msg0) /* not during the warmup */
        hist_add(&bench.msg_h, now - v[2]);
    if (bench.ph == PH_MSG && now >= bench.t_msg0 && now <= bench.t_msg_end)
        bench.msg_rx_window++;
    unsigned refill = bench.o.window > 1 ? bench.o.window / 2 : 0;
    if (bench.ph == PH_MSG && s->inflight <= refill)
        msg_fill(s);
}

static void drain_check(uv_timer_t *t)
{
    bool empty = true;
    for (unsigned i = 0; i < bench.o.clients && empty; i++)
        if (bench.cl[i].peer >= 0 && bench.cl[i].state == ST_READY &&
            bench.cl[i].inflight)
            empty = false;
    if (empty || uv_hrtime() > bench.t_msg_end + 5000000000ull) {
        uv_timer_stop(t);
        bench_finish();
    }
}

static void msg_done(uv_timer_t *t)
{
    bench.ph = PH_DRAIN;
    uv_timer_start(t, drain_check, 10, 10);
}

void msg_begin(uv_timer_t *t)
{
    bench.rss_after_kb = bench_rss_kb(bench.o.pids);
    unsigned pairs = bench.o.pairs;
    if (pairs > bench.logged_in / 2)
        pairs = bench.logged_in / 2;
    /* pair k: the k-th and (k + pairs)-th logged-in clients */
    unsigned *ready = malloc(sizeof *ready * (bench.o.clients + 1));
    if (!ready)
        bench_die(2, "out of memory");
    unsigned nr = 0;
    for (unsigned i = 0; i < bench.o.clients; i++)
        if (bench.cl[i].state == ST_READY)
            ready[nr++] = i;
    if (bench.sides.is_cross) {
        bool *is_ready = calloc(bench.o.clients, sizeof *is_ready);
        long *peer = malloc(sizeof *peer * bench.o.clients);
        if (!is_ready || !peer)
            bench_die(2, "out of memory");
        for (unsigned k = 0; k < nr; k++)
            is_ready[ready[k]] = true;
        for (unsigned i = 0; i < bench.o.clients; i++)
            peer[i] = -1;
        pairs = sides_pair(&bench.sides, is_ready, bench.o.pairs, peer);
        for (unsigned i = 0; i < bench.o.clients; i++)
            bench.cl[i].peer = peer[i];
        free(is_ready);
        free(peer);
    } else {
        for (unsigned k = 0; k < pairs && k + pairs < nr; k++) {
            client *a = &bench.cl[ready[k]], *b = &bench.cl[ready[k + pairs]];
            a->peer = b->index;
            b->peer = a->index;
        }
    }
    free(ready);
    if (!pairs || bench.o.duration_s <= 0)
        return bench_finish();
    bench.ph = PH_MSG;
    /* messages sent and received during the warmup are checked for loss
       but count neither in the rate nor in the latency */
    bench.t_msg0 = uv_hrtime() + (uint64_t)(bench.o.warmup_s * 1e9);
    bench.t_msg_end = bench.t_msg0 + (uint64_t)(bench.o.duration_s * 1e9);
    for (unsigned i = 0; i < bench.o.clients; i++)
        msg_fill(&bench.cl[i]);
    uv_timer_start(t, msg_done,
                   (uint64_t)((bench.o.warmup_s + bench.o.duration_s) * 1000),
                   0);
}
