/* SPDX-License-Identifier: MIT */
/* bench/client_opts.c: the command line of xmppd-bench-client. One table
 * gives each option's names, where its value goes and its default; getopt's
 * tables are made from it. */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/client.h"

typedef enum {
    CLI_TEXT,     /* const char * */
    CLI_INT,      /* int, a number >= 0 */
    CLI_UNSIGNED, /* unsigned, a number >= 0 */
    CLI_SECONDS,  /* double, >= 0 */
    CLI_FLAG,     /* bool, set to true; no value */
    CLI_HELP,     /* prints the usage and exits */
} cli_kind;

typedef struct cli_opt {
    const char *name; /* --name */
    int key;          /* the short letter, or a number over 255 for none */
    cli_kind kind;
    size_t field;              /* offsetof() the value in opts */
    const char *default_value; /* as it would be typed; NULL: none */
} cli_opt;

enum {
    KEY_PORT2 = 256,
    KEY_HOST2,
    KEY_DOMAIN2,
    KEY_WARMUP,
    KEY_PIDS,
    KEY_NAME
};

static const cli_opt cli_opts[] = {
    {"host", 'H', CLI_TEXT, offsetof(opts, host), "127.0.0.1"},
    {"port", 'p', CLI_INT, offsetof(opts, port), "5222"},
    {"domain", 'd', CLI_TEXT, offsetof(opts, domain), "localhost"},
    {"port2", KEY_PORT2, CLI_INT, offsetof(opts, port2), NULL},
    {"host2", KEY_HOST2, CLI_TEXT, offsetof(opts, host2), NULL},
    {"domain2", KEY_DOMAIN2, CLI_TEXT, offsetof(opts, domain2), NULL},
    {"password", 'P', CLI_TEXT, offsetof(opts, password), "pw"},
    {"clients", 'n', CLI_UNSIGNED, offsetof(opts, clients), "1000"},
    {"concurrency", 'c', CLI_UNSIGNED, offsetof(opts, concurrency), "200"},
    {"pairs", 'm', CLI_UNSIGNED, offsetof(opts, pairs), "500"},
    {"window", 'w', CLI_UNSIGNED, offsetof(opts, window), "8"},
    {"payload", 'l', CLI_UNSIGNED, offsetof(opts, payload), "64"},
    {"idle", 'i', CLI_SECONDS, offsetof(opts, idle_s), "3"},
    {"duration", 'D', CLI_SECONDS, offsetof(opts, duration_s), "10"},
    {"warmup", KEY_WARMUP, CLI_SECONDS, offsetof(opts, warmup_s), "0"},
    {"timeout", 't', CLI_SECONDS, offsetof(opts, timeout_s), "120"},
    {"pids", KEY_PIDS, CLI_TEXT, offsetof(opts, pids), NULL},
    {"name", KEY_NAME, CLI_TEXT, offsetof(opts, name), "server"},
    {"verbose", 'v', CLI_FLAG, offsetof(opts, is_verbose), NULL},
    {"help", 'h', CLI_HELP, 0, NULL},
};
#define CLI_NOPTS (sizeof cli_opts / sizeof cli_opts[0])

/* The defaults in brackets are those of cli_opts. */
static void cli_usage(FILE *f)
{
    fputs(
        "usage: xmppd-bench-client [options]\n"
        "  -H, --host ADDR        server IPv4 address [127.0.0.1]\n"
        "  -p, --port N           c2s port (STARTTLS) [5222]\n"
        "  -d, --domain NAME      users' domain [localhost]\n"
        "      --port2 N          a second server: N clients log in to each,\n"
        "                         pairs are uI@DOMAIN and uI@DOMAIN2\n"
        "      --host2 ADDR       the second server's IPv4 address [--host]\n"
        "      --domain2 NAME     its users' domain (required with --port2)\n"
        "  -P, --password PW      every user's password [pw]\n"
        "  -n, --clients N        clients u0..uN-1 [1000]\n"
        "  -c, --concurrency C    logins in flight at most [200]\n"
        "  -m, --pairs P          pairs exchanging messages [500]\n"
        "  -w, --window W         messages in flight per sender [8]\n"
        "  -l, --payload BYTES    message body length [64]\n"
        "  -i, --idle S           idle seconds after login [3]\n"
        "  -D, --duration S       messaging seconds [10]\n"
        "      --warmup S         messaging seconds before those, not\n"
        "                         counted in rate and latency [0]\n"
        "  -t, --timeout S        login phase limit [120]\n"
        "      --pids LIST        server PIDs whose VmRSS to sum (1,2,3)\n"
        "      --name NAME        name= of the RESULT line [server]\n"
        "  -v, --verbose          report every failure\n"
        "  -h, --help             this text\n",
        f);
}

static double cli_number(const char *s, const char *name)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v < 0)
        bench_die(1, "bad %s: %s", name, s);
    return v;
}

/* Stores value (true, for a flag) where o says. */
static void cli_store(opts *out, const cli_opt *o, const char *value)
{
    char *field = (char *)out + o->field;
    switch (o->kind) {
    case CLI_TEXT:
        *(const char **)field = value;
        break;
    case CLI_INT:
        *(int *)field = (int)cli_number(value, o->name);
        break;
    case CLI_UNSIGNED:
        *(unsigned *)field = (unsigned)cli_number(value, o->name);
        break;
    case CLI_SECONDS:
        *(double *)field = cli_number(value, o->name);
        break;
    case CLI_FLAG:
        *(bool *)field = true;
        break;
    case CLI_HELP:
        cli_usage(stdout);
        exit(0);
    }
}

void client_opts_parse(int argc, char **argv)
{
    struct option longs[CLI_NOPTS + 1] = {{0}};
    char shorts[2 * CLI_NOPTS + 1];
    size_t n = 0;
    for (size_t i = 0; i < CLI_NOPTS; i++) {
        const cli_opt *o = &cli_opts[i];
        bool has_arg = o->kind != CLI_FLAG && o->kind != CLI_HELP;
        longs[i] = (struct option){.name = o->name,
                                   .has_arg = has_arg ? required_argument
                                                      : no_argument,
                                   .val = o->key};
        if (o->key < 256) {
            shorts[n++] = (char)o->key;
            if (has_arg)
                shorts[n++] = ':';
        }
    }
    shorts[n] = '\0';

    opts *o = &bench.o;
    *o = (opts){0};
    for (size_t i = 0; i < CLI_NOPTS; i++) {
        if (cli_opts[i].default_value)
            cli_store(o, &cli_opts[i], cli_opts[i].default_value);
    }
    int key;
    while ((key = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        size_t i = 0;
        while (i < CLI_NOPTS && cli_opts[i].key != key)
            i++;
        if (i == CLI_NOPTS) {
            cli_usage(stderr);
            exit(1);
        }
        cli_store(o, &cli_opts[i], optarg);
    }
    if (optind != argc || !o->clients || !o->concurrency || !o->window ||
        o->port <= 0 || o->port > 65535 || o->payload > 16384 ||
        o->port2 > 65535 || (o->port2 > 0) != (o->domain2 != NULL))
        bench_die(1, "bad arguments (see --help)");
    bench_sides *s = &bench.sides;
    *s = (bench_sides){
        .server = {{.host = o->host, .domain = o->domain, .port = o->port},
                   {.host = o->host2 ? o->host2 : o->host,
                    .domain = o->domain2,
                    .port = o->port2}},
        .per_side = o->clients,
        .is_cross = o->port2 > 0,
    };
    if (s->is_cross)
        o->clients *= 2; /* N per server */
}
