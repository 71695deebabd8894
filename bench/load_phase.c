/* SPDX-License-Identifier: MIT */
/* bench/load_phase.c: the run's timeline (attach, warmup, measure, drain)
 * and its report: forwarding rate, latency percentiles, CPU per stanza. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/load.h"

enum { LOAD_DRAIN_MS = 5000 };

static uint64_t load_ms(double seconds)
{
    return seconds <= 0 ? 0 : (uint64_t)(seconds * 1000 + 0.5);
}

static uint64_t load_in_flight(const load *l)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < l->opts.components; i++)
        n += l->comps[i].outstanding;
    return n;
}

/* utime + stime of a process, fields 14 and 15 of /proc/PID/stat (proc(5)),
 * counted after the command name, which may itself hold spaces. */
static bool load_server_cpu(long pid, double *seconds)
{
    char path[64], text[1024];
    unsigned long long utime, stime;

    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return false;
    size_t n = fread(text, 1, sizeof text - 1, f);

    fclose(f);
    text[n] = '\0';
    const char *p = strrchr(text, ')');

    if (p == NULL || sscanf(p + 1,
                            " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                            "%llu %llu",
                            &utime, &stime) != 2)
        return false;
    *seconds = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
    return true;
}

static double load_self_cpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double load_us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static void load_report(load *l)
{
    const load_opts *o = &l->opts;
    const load_counts *m = &l->measured, *t = &l->total;
    double secs = (double)(l->measure_end_ns - l->measure_start_ns) / 1e9;
    double rate = secs > 0 ? (double)m->received / secs : 0;
    double millions = (double)m->received / 1e6;
    uint64_t answered = t->received + t->errors;
    uint64_t lost = t->sent > answered ? t->sent - answered : 0;
    double p50 = load_us(hist_quantile_ns(&l->latency, 0.50));
    double p90 = load_us(hist_quantile_ns(&l->latency, 0.90));
    double p99 = load_us(hist_quantile_ns(&l->latency, 0.99));
    double p999 = load_us(hist_quantile_ns(&l->latency, 0.999));
    double max = load_us(l->latency.max_ns);
    char server_cpu[32] = "NA", self_cpu[32] = "NA";

    if (l->has_server_cpu && millions > 0)
        snprintf(server_cpu, sizeof server_cpu, "%.3f",
                 l->server_cpu_s / millions);
    if (millions > 0)
        snprintf(self_cpu, sizeof self_cpu, "%.3f", l->self_cpu_s / millions);

    printf("%s: %u components, window %u, batch %u, payload %zu bytes, "
           "%u users each\n",
           o->name, o->components, o->window, o->batch, o->payload_bytes,
           o->users);
    printf("  forwarded   %" PRIu64 " stanzas in %.2f s = %.0f stanzas/s "
           "(%.1f MB/s received)\n",
           m->received, secs, rate,
           secs > 0 ? (double)m->bytes / secs / 1e6 : 0);
    printf("  latency     p50 %.0f us, p90 %.0f us, p99 %.0f us, "
           "p99.9 %.0f us, max %.0f us, mean %.0f us\n",
           p50, p90, p99, p999, max,
           load_us((uint64_t)hist_mean_ns(&l->latency)));
    printf("  stanzas     sent %" PRIu64 ", received %" PRIu64
           ", errors %" PRIu64 ", lost %" PRIu64 ", misrouted %" PRIu64
           ", corrupt %" PRIu64 ", unexpected %" PRIu64 "\n",
           t->sent, t->received, t->errors, lost, t->misrouted, t->corrupt,
           t->other);
    if (l->has_server_cpu)
        printf("  server cpu  %.2f s of pid %ld = %s s per million stanzas "
               "(%.0f%% of a core)\n",
               l->server_cpu_s, o->server_pid, server_cpu,
               secs > 0 ? 100 * l->server_cpu_s / secs : 0);
    printf("  load cpu    %.2f s = %s s per million stanzas (%.0f%% of a "
           "core)\n",
           l->self_cpu_s, self_cpu, secs > 0 ? 100 * l->self_cpu_s / secs : 0);
    printf("RESULT name=%s components=%u window=%u payload=%zu "
           "seconds=%.3f stanzas=%" PRIu64 " stanzas_per_s=%.0f "
           "p50_us=%.0f p99_us=%.0f max_us=%.0f cpu_s_per_M=%s "
           "load_cpu_s_per_M=%s sent=%" PRIu64 " received=%" PRIu64
           " errors=%" PRIu64 " lost=%" PRIu64 " misrouted=%" PRIu64
           " corrupt=%" PRIu64 "\n",
           o->name, o->components, o->window, o->payload_bytes, secs,
           m->received, rate, p50, p99, max, server_cpu, self_cpu, t->sent,
           t->received, t->errors, lost, t->misrouted, t->corrupt);
    fflush(stdout);
    if (t->errors || lost || t->misrouted || t->corrupt)
        l->exit_code = 4;
    else if (m->received == 0)
        l->exit_code = 3;
}

static void load_finish(load *l)
{
    load_report(l);
    load_close_all(l);
}

static void load_on_drain_over(uv_timer_t *timer)
{
    load *l = timer->data;

    fprintf(stderr,
            "xmppd-bench-component: %" PRIu64
            " stanzas still in flight %d ms after the end\n",
            load_in_flight(l), LOAD_DRAIN_MS);
    load_finish(l);
}

static void load_end_measure(load *l)
{
    double cpu;

    l->measure_end_ns = uv_hrtime();
    l->self_cpu_s += load_self_cpu();
    if (l->has_server_cpu) {
        l->has_server_cpu = load_server_cpu(l->opts.server_pid, &cpu);
        l->server_cpu_s += cpu;
    }
    l->phase = LOAD_DRAIN;
    if (load_in_flight(l) == 0) {
        load_finish(l);
        return;
    }
    uv_timer_start(&l->phase_timer, load_on_drain_over, LOAD_DRAIN_MS, 0);
}

static void load_on_measure_over(uv_timer_t *timer)
{
    load_end_measure(timer->data);
}

static void load_begin_measure(load *l)
{
    double cpu = 0;

    memset(&l->measured, 0, sizeof l->measured);
    hist_init(&l->latency);
    l->phase = LOAD_MEASURE;
    l->measure_start_ns = uv_hrtime();
    l->self_cpu_s = -load_self_cpu();
    l->has_server_cpu = false;
    if (l->opts.server_pid > 0) {
        l->has_server_cpu = load_server_cpu(l->opts.server_pid, &cpu);
        if (!l->has_server_cpu)
            fprintf(stderr,
                    "xmppd-bench-component: cannot read /proc/%ld/stat; "
                    "server cpu not measured\n",
                    l->opts.server_pid);
        l->server_cpu_s = -cpu;
    }
    if (l->opts.count == 0)
        uv_timer_start(&l->phase_timer, load_on_measure_over,
                       load_ms(l->opts.duration_s), 0);
}

static void load_on_warmup_over(uv_timer_t *timer)
{
    load_begin_measure(timer->data);
}

static void load_on_attach_timeout(uv_timer_t *timer)
{
    load *l = timer->data;
    unsigned state[COMP_READY + 1] = {0};

    for (unsigned i = 0; i < l->opts.components; i++)
        state[l->comps[i].state]++;
    load_fail(l, 2,
              "only %u of %u components attached within %.1f s "
              "(%u connecting, %u waiting for the stream header, %u waiting "
              "for the handshake answer)",
              l->ready, l->opts.components, l->opts.timeout_s,
              state[COMP_CONNECTING], state[COMP_OPENING],
              state[COMP_HANDSHAKING]);
}

/* Every second: a progress line when asked, and the stall check, since a
 * server that stops forwarding would otherwise leave the tool waiting. */
static void load_on_tick(uv_timer_t *timer)
{
    load *l = timer->data;
    static const char *const names[] = {"attach", "warmup", "measure", "drain",
                                        "closing"};

    if (l->phase == LOAD_ATTACH)
        return;
    uint64_t answered = l->total.received + l->total.errors;
    uint64_t in_flight = load_in_flight(l);

    if (l->opts.is_verbose)
        fprintf(stderr,
                "%-7s received %" PRIu64 "/s, in flight %" PRIu64
                ", errors %" PRIu64 "\n",
                names[l->phase], answered - l->last_received, in_flight,
                l->total.errors);
    if (answered == l->last_received && in_flight > 0)
        l->stalled_s++;
    else
        l->stalled_s = 0;
    l->last_received = answered;
    if (l->stalled_s >= l->opts.timeout_s && l->phase != LOAD_DRAIN)
        load_fail(l, 3,
                  "no stanza came back for %u s with %" PRIu64
                  " in flight: the server stopped forwarding",
                  l->stalled_s, in_flight);
}

void load_start(load *l)
{
    uv_timer_start(&l->phase_timer, load_on_attach_timeout,
                   load_ms(l->opts.timeout_s), 0);
    uv_timer_start(&l->tick_timer, load_on_tick, 1000, 1000);
}

void load_on_ready(load_comp *c)
{
    load *l = c->load;

    c->state = COMP_READY;
    if (++l->ready < l->opts.components)
        return;
    uv_timer_stop(&l->phase_timer);
    if (l->opts.is_verbose)
        fprintf(stderr, "all %u components attached\n", l->ready);
    l->phase = LOAD_WARMUP;
    if (l->opts.warmup_s > 0)
        uv_timer_start(&l->phase_timer, load_on_warmup_over,
                       load_ms(l->opts.warmup_s), 0);
    else
        load_begin_measure(l);
    for (unsigned i = 0; i < l->opts.components; i++)
        l->comps[i].is_dirty = true;
}

void load_after_receive(load *l)
{
    if (l->phase == LOAD_MEASURE && l->opts.count &&
        l->measured.received >= l->opts.count)
        load_end_measure(l);
    if (l->phase == LOAD_DRAIN && load_in_flight(l) == 0) {
        uv_timer_stop(&l->phase_timer);
        load_finish(l);
    }
    if (l->phase != LOAD_WARMUP && l->phase != LOAD_MEASURE)
        return;
    for (unsigned i = 0; i < l->opts.components; i++) {
        if (l->comps[i].is_dirty)
            load_pump(&l->comps[i]);
    }
}
