/* SPDX-License-Identifier: MIT */
/* bench/client_load.c: xmppd-bench-client, a client-to-server load tool.
 * It logs in N clients the way an ordinary client does (stream header,
 * STARTTLS, TLS, SASL SCRAM-SHA-1 without channel binding, resource bind,
 * roster get, initial presence), at most C logins in flight; keeps them
 * idle for a while and reads the servers' resident memory; then lets P
 * pairs of them exchange chat messages, each sender with a window of W
 * messages in flight, and checks that every message arrives exactly once.
 * It frames XML with bench/frame.c and links nothing of xmppd's. This file
 * holds main, the login phase and the report; bench/client.h lists the
 * other pieces. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/client.h"

client_bench bench;

void bench_die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("xmppd-bench-client: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

long bench_rss_kb(const char *pids)
{
    if (!pids || !*pids)
        return -1;
    long sum = 0;
    const char *p = pids;
    while (*p) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p)
            return -1;
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%ld/status", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            return -1;
        long kb = -1;
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "VmRSS:", 6) == 0) {
                kb = strtol(line + 6, NULL, 10);
                break;
            }
        fclose(f);
        if (kb < 0)
            return -1;
        sum += kb;
        p = *end == ',' ? end + 1 : end;
    }
    return sum;
}

static void start_next(void)
{
    while (bench.ph == PH_LOGIN && bench.started < bench.o.clients &&
           bench.started - bench.logged_in - bench.failed < bench.o.concurrency)
        client_start(&bench.cl[bench.started++]);
}

/* Ends the login phase; the servers' memory is read after the idle time. */
static void login_finished(void)
{
    bench.t_login1 = uv_hrtime();
    bench.ph = PH_IDLE;
    fprintf(stderr, "logins: %u done, %u failed in %.2f s\n", bench.logged_in,
            bench.failed, (double)(bench.t_login1 - bench.t_login0) / 1e9);
    uv_timer_start(&bench.timer, msg_begin, (uint64_t)(bench.o.idle_s * 1000),
                   0);
}

void bench_after_login_step(void)
{
    if (bench.ph == PH_LOGIN &&
        bench.logged_in + bench.failed == bench.o.clients)
        login_finished();
    else
        start_next();
}

static void report(void)
{
    uint64_t sent = 0, lost = 0, dup = 0;
    unsigned senders = 0;
    for (unsigned i = 0; i < bench.o.clients; i++) {
        client *c = &bench.cl[i];
        if (c->peer < 0)
            continue;
        senders++;
        sent += c->sent;
        for (uint64_t q = 0; q < c->sent; q++) {
            if (c->seen[q] == 0)
                lost++;
            else if (c->seen[q] > 1)
                dup += c->seen[q] - 1u;
        }
    }
    double login_s = (double)(bench.t_login1 - bench.t_login0) / 1e9;
    double lps = login_s > 0 ? bench.logged_in / login_s : 0;
    char mem[32] = "NA", base[32] = "NA", after[32] = "NA";
    if (bench.rss_base_kb >= 0 && bench.rss_after_kb >= 0 && bench.logged_in) {
        snprintf(mem, sizeof mem, "%.1f",
                 (double)(bench.rss_after_kb - bench.rss_base_kb) /
                     bench.logged_in);
        snprintf(base, sizeof base, "%ld", bench.rss_base_kb);
        snprintf(after, sizeof after, "%ld", bench.rss_after_kb);
    }
    double mps =
        bench.o.duration_s > 0 ? bench.msg_rx_window / bench.o.duration_s : 0;
    printf("%s: %u of %u logged in in %.2f s: %.0f logins/s, "
           "p50 %.2f ms, p99 %.2f ms\n",
           bench.o.name, bench.logged_in, bench.o.clients, login_s, lps,
           hist_quantile_ns(&bench.login_h, 0.5) / 1e6,
           hist_quantile_ns(&bench.login_h, 0.99) / 1e6);
    printf("%s: server RSS %s kB idle, %s kB with %u clients: %s kB per "
           "connection\n",
           bench.o.name, base, after, bench.logged_in, mem);
    printf("%s: %u senders, window %u: %.0f messages/s, p50 %.1f us, "
           "p99 %.1f us; sent %" PRIu64 ", received %" PRIu64 ", lost %" PRIu64
           ", duplicated %" PRIu64 ", errors %" PRIu64 ", misrouted %" PRIu64
           "\n",
           bench.o.name, senders, bench.o.window, mps,
           hist_quantile_ns(&bench.msg_h, 0.5) / 1e3,
           hist_quantile_ns(&bench.msg_h, 0.99) / 1e3, sent, bench.msg_rx, lost,
           dup, bench.msg_err, bench.misrouted + bench.bad_id);
    bool ok = bench.logged_in == bench.o.clients && lost == 0 && dup == 0 &&
              bench.msg_err == 0 && bench.misrouted == 0 && bench.bad_id == 0 &&
              bench.ready_now == bench.logged_in;
    printf("RESULT name=%s clients=%u logged_in=%u logins_per_s=%.1f "
           "login_p50_ms=%.2f login_p99_ms=%.2f rss_base_kb=%s "
           "rss_after_kb=%s kb_per_conn=%s senders=%u msgs_per_s=%.1f "
           "msg_p50_us=%.1f msg_p99_us=%.1f sent=%" PRIu64 " received=%" PRIu64
           " lost=%" PRIu64 " dup=%" PRIu64 " zero_loss=%s\n",
           bench.o.name, bench.o.clients, bench.logged_in, lps,
           hist_quantile_ns(&bench.login_h, 0.5) / 1e6,
           hist_quantile_ns(&bench.login_h, 0.99) / 1e6, base, after, mem,
           senders, mps, hist_quantile_ns(&bench.msg_h, 0.5) / 1e3,
           hist_quantile_ns(&bench.msg_h, 0.99) / 1e3, sent, bench.msg_rx, lost,
           dup, ok ? "yes" : "no");
    fflush(stdout);
}

void bench_finish(void)
{
    bench.ph = PH_DONE;
    report();
    uv_stop(bench.loop);
}

static void on_guard(uv_timer_t *t)
{
    (void)t;
    if (bench.ph == PH_LOGIN) {
        fprintf(stderr,
                "xmppd-bench-client: login phase timed out "
                "(%u logged in, %u failed)\n",
                bench.logged_in, bench.failed);
        login_finished();
    }
}

int main(int argc, char **argv)
{
    client_opts_parse(argc, argv);
    bench.loop = uv_default_loop();
    if (gnutls_global_init() < 0 ||
        gnutls_certificate_allocate_credentials(&bench.cred) < 0)
        bench_die(2, "cannot initialise gnutls");
    bench.body = malloc(bench.o.payload + 1);
    bench.cl = calloc(bench.o.clients, sizeof *bench.cl);
    if (!bench.body || !bench.cl)
        bench_die(2, "out of memory");
    for (unsigned i = 0; i < bench.o.payload; i++)
        bench.body[i] = (char)('a' + i % 26);
    bench.body[bench.o.payload] = '\0';
    for (unsigned i = 0; i < bench.o.clients; i++) {
        bench.cl[i].index = i;
        bench.cl[i].peer = -1;
        bench.cl[i].state = ST_DEAD;
    }
    hist_init(&bench.login_h);
    hist_init(&bench.msg_h);
    bench.rss_base_kb = bench_rss_kb(bench.o.pids);
    bench.rss_after_kb = -1;
    if (bench.o.pids && bench.rss_base_kb < 0)
        bench_die(1, "cannot read VmRSS of %s", bench.o.pids);
    uv_timer_init(bench.loop, &bench.timer);
    uv_timer_init(bench.loop, &bench.guard);
    uv_timer_start(&bench.guard, on_guard, (uint64_t)(bench.o.timeout_s * 1000),
                   0);
    bench.ph = PH_LOGIN;
    bench.t_login0 = uv_hrtime();
    start_next();
    uv_run(bench.loop, UV_RUN_DEFAULT);
    if (bench.ph != PH_DONE)
        bench_die(2, "stopped early");
    bool ok = bench.logged_in == bench.o.clients;
    gnutls_certificate_free_credentials(bench.cred);
    return ok ? 0 : 3;
}
