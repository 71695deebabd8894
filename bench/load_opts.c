/* SPDX-License-Identifier: MIT */
/* bench/load_opts.c: the command line of xmppd-bench-component. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/load.h"

void *load_alloc(size_t size)
{
    void *p = calloc(1, size ? size : 1);

    if (p == NULL) {
        fprintf(stderr, "xmppd-bench-component: out of memory\n");
        abort();
    }
    return p;
}

void *load_realloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);

    if (q == NULL) {
        fprintf(stderr, "xmppd-bench-component: out of memory\n");
        abort();
    }
    return q;
}

static void load_usage(FILE *out)
{
    fputs(
        "usage: xmppd-bench-component [OPTION]...\n"
        "Attaches K components to a server over XEP-0114 and has them send\n"
        "each other chat messages as fast as the server forwards them, each\n"
        "component keeping at most W of its own stanzas in flight. Prints the\n"
        "forwarding rate, latency and (with --server-pid) server CPU, then a\n"
        "RESULT line for scripts.\n"
        "\n"
        "Server:\n"
        "  -H, --host ADDR        IPv4 address (127.0.0.1)\n"
        "  -p, --port PORT        component port (5347)\n"
        "  -u, --unix PATH        connect to a Unix socket instead of TCP\n"
        "  -s, --secret TEXT      handshake secret of every component "
        "(secret)\n"
        "  -P, --server-pid PID   measure this process's CPU (/proc/PID/stat)\n"
        "Load:\n"
        "  -k, --components K     components to attach (4)\n"
        "      --prefix TEXT      component i is named PREFIX i SUFFIX "
        "(bench)\n"
        "      --suffix TEXT      (.localhost), so bench0.localhost, ...\n"
        "  -w, --window W         stanzas a component may have in flight "
        "(2000)\n"
        "  -b, --batch N          stanzas in one write at most (512; never\n"
        "                         over W, nor over about 4 MB)\n"
        "  -l, --payload BYTES    body length of every message (100)\n"
        "      --users N          distinct user JIDs per component (1000)\n"
        "Run:\n"
        "      --warmup SEC       sending before measuring (2)\n"
        "  -d, --duration SEC     measured interval (10)\n"
        "  -n, --count N          measure until N stanzas arrived instead\n"
        "  -t, --timeout SEC      give up when attaching, or when nothing\n"
        "                         comes back, for this long (10)\n"
        "      --name TEXT        name= in the RESULT line (bench)\n"
        "  -v, --verbose          a progress line a second on stderr\n"
        "  -h, --help             this text\n"
        "\n"
        "Exit status: 0 success, 1 usage, 2 could not attach, 3 the stream\n"
        "failed or stalled, 4 the run finished but stanzas bounced with\n"
        "errors, were lost, reached the wrong component or came back\n"
        "changed.\n",
        out);
}

static bool load_number(const char *s, double low, double high, double *out)
{
    char *end;

    errno = 0;
    double v = strtod(s, &end);

    if (errno || end == s || *end != '\0' || v < low || v > high)
        return false;
    *out = v;
    return true;
}

int load_opts_parse(load_opts *o, int argc, char **argv)
{
    enum { OPT_PREFIX = 256, OPT_SUFFIX, OPT_USERS, OPT_WARMUP, OPT_NAME };
    static const struct option longs[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"unix", required_argument, NULL, 'u'},
        {"secret", required_argument, NULL, 's'},
        {"server-pid", required_argument, NULL, 'P'},
        {"components", required_argument, NULL, 'k'},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"suffix", required_argument, NULL, OPT_SUFFIX},
        {"window", required_argument, NULL, 'w'},
        {"batch", required_argument, NULL, 'b'},
        {"payload", required_argument, NULL, 'l'},
        {"users", required_argument, NULL, OPT_USERS},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"duration", required_argument, NULL, 'd'},
        {"count", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'},
        {"name", required_argument, NULL, OPT_NAME},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (load_opts){
        .host = "127.0.0.1",
        .port = 5347,
        .secret = "secret",
        .components = 4,
        .prefix = "bench",
        .suffix = ".localhost",
        .window = 2000,
        .batch = 512,
        .payload_bytes = 100,
        .users = 1000,
        .warmup_s = 2,
        .duration_s = 10,
        .timeout_s = 10,
        .name = "bench",
    };
    int opt;

    while ((opt = getopt_long(argc, argv, "H:p:u:s:P:k:w:b:l:d:n:t:vh", longs,
                              NULL)) != -1) {
        double v = 0;
        bool ok = true;

        switch (opt) {
        case 'H':
            o->host = optarg;
            break;
        case 'u':
            o->unix_path = optarg;
            break;
        case 's':
            o->secret = optarg;
            break;
        case OPT_PREFIX:
            o->prefix = optarg;
            break;
        case OPT_SUFFIX:
            o->suffix = optarg;
            break;
        case OPT_NAME:
            o->name = optarg;
            break;
        case 'v':
            o->is_verbose = true;
            break;
        case 'h':
            load_usage(stdout);
            return 1;
        case 'p':
            ok = load_number(optarg, 1, 65535, &v);
            o->port = (int)v;
            break;
        case 'P':
            ok = load_number(optarg, 1, 1e9, &v);
            o->server_pid = (long)v;
            break;
        case 'k':
            ok = load_number(optarg, 1, 1000, &v);
            o->components = (unsigned)v;
            break;
        case 'w':
            ok = load_number(optarg, 1, 1e7, &v);
            o->window = (unsigned)v;
            break;
        case 'b':
            ok = load_number(optarg, 1, 1e5, &v);
            o->batch = (unsigned)v;
            break;
        case 'l':
            ok = load_number(optarg, 0, 1e6, &v);
            o->payload_bytes = (size_t)v;
            break;
        case OPT_USERS:
            ok = load_number(optarg, 1, 1e9, &v);
            o->users = (unsigned)v;
            break;
        case OPT_WARMUP:
            ok = load_number(optarg, 0, 3600, &o->warmup_s);
            break;
        case 'd':
            ok = load_number(optarg, 0.1, 3600, &o->duration_s);
            break;
        case 't':
            ok = load_number(optarg, 1, 3600, &o->timeout_s);
            break;
        case 'n':
            ok = load_number(optarg, 1, 1e15, &v);
            o->count = (uint64_t)v;
            break;
        default:
            load_usage(stderr);
            return -1;
        }
        if (!ok) {
            const struct option *l = longs;

            while (l->name && l->val != opt)
                l++;
            fprintf(stderr,
                    "xmppd-bench-component: bad value \"%s\" for --%s\n",
                    optarg, l->name ? l->name : "?");
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "xmppd-bench-component: unexpected \"%s\"\n",
                argv[optind]);
        return -1;
    }
    return 0;
}
