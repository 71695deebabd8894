/* SPDX-License-Identifier: MIT */
/* tests/unit/test_cfg.c: the XML config file, its navigation, typed readers
 * and diagnostics. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/unit/testcfg.h"
#include "tests/unit/unit.h"

#include "libcommon/cfg.h"
#include "libcommon/error.h"

/* --- the sample config -------------------------------------------------- */

START_TEST(loads_the_sample_config)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", testcfg_data_path("../../etc/xmppd.xml"));
    cfg *c = NULL;
    cfg_diag d = {0};

    int err = cfg_load(path, &c, &d);
    ck_assert_msg(err == 0, "%s:%d: %s", d.file, d.line, d.message);
    ck_assert_str_eq(cfg_path(c), path);

    const cfg_node *root = cfg_root(c);
    ck_assert_str_eq(cfg_name(root), "xmppd");
    ck_assert_int_eq(cfg_line(root), testcfg_line_of(path, "<xmppd>"));
    ck_assert_str_eq(cfg_text(cfg_child(root, "domain")), "localhost");
    ck_assert_str_eq(cfg_text(cfg_child(root, "state-dir")), "/var/lib/xmppd");
    /* The root's own text is only whitespace between elements. */
    ck_assert_str_eq(cfg_text(root), "");

    const cfg_node *log = cfg_child(root, "log");
    ck_assert_str_eq(cfg_attr(log, "level"), "info");
    ck_assert_str_eq(cfg_attr(log, "to"), "stderr");

    const cfg_node *process = cfg_child(cfg_child(root, "run"), "process");
    ck_assert_str_eq(cfg_attr(process, "name"), "router");

    const cfg_node *router = cfg_child(root, "router");
    ck_assert_int_eq(cfg_line(router), testcfg_line_of(path, "<router>"));
    const cfg_node *listen = cfg_child(router, "listen");
    ck_assert_str_eq(cfg_attr(listen, "tcp"), "127.0.0.1:5347");
    ck_assert_ptr_null(cfg_attr(listen, "unix"));
    listen = cfg_next(listen);
    ck_assert_str_eq(cfg_attr(listen, "unix"), "router.sock");
    /* The third <listen> is inside a comment. */
    ck_assert_ptr_null(cfg_next(listen));
    /* The sample's components, in order; echo.localhost is a comment. */
    static const char *const names[] = { "store", "sm", "c2s", "xmppdctl" };
    const cfg_node *comp = cfg_child(router, "component");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++, comp = cfg_next(comp))
        ck_assert_str_eq(cfg_attr(comp, "name"), names[i]);
    ck_assert_ptr_null(comp);

    const cfg_node *limits = cfg_child(router, "limits");
    size_t stanza = 0, rate = 0, queue = 0;
    long depth = 0, handshake = 0, idle = -1;
    ck_assert_int_eq(
        cfg_size(limits, "max-stanza-bytes", 1, 0, SIZE_MAX, &stanza, &d), 0);
    ck_assert_uint_eq(stanza, 256 * 1024);
    ck_assert_int_eq(cfg_int(limits, "max-depth", 1, 0, 1000, &depth, &d), 0);
    ck_assert_int_eq(depth, 64);
    ck_assert_int_eq(cfg_size(limits, "rate", 1, 0, SIZE_MAX, &rate, &d), 0);
    ck_assert_uint_eq(rate, 128u << 20);
    ck_assert_int_eq(cfg_size(limits, "send-queue", 1, 0, SIZE_MAX, &queue, &d),
                     0);
    ck_assert_uint_eq(queue, 4u << 20);
    ck_assert_int_eq(cfg_duration_ms(limits, "handshake-timeout", 1, 0,
                                     LONG_MAX, &handshake, &d),
                     0);
    ck_assert_int_eq(handshake, 10000);
    ck_assert_int_eq(
        cfg_duration_ms(limits, "idle-timeout", 1, 0, LONG_MAX, &idle, &d), 0);
    ck_assert_int_eq(idle, 0);
    ck_assert_str_eq(cfg_attr(cfg_child(router, "default-route"), "service"),
                     "s2s");
    cfg_free(c);
}
END_TEST

/* --- navigation --------------------------------------------------------- */

static const char nav_xml[] =
    "<?xml version='1.0'?>\n"                         /* 1 */
    "<!-- before the root -->\n"                      /* 2 */
    "<xmppd>\n"                                       /* 3 */
    "  <!-- a comment is not an element -->\n"        /* 4 */
    "  <domain>  example.com\t\n"                     /* 5 */
    "  </domain>\n"                                   /* 6 */
    "  <domain>example.net</domain>\n"                /* 7 */
    "  <?some-pi data?>\n"                            /* 8 */
    "  <router a='1' empty=''>\n"                     /* 9 */
    "    <listen tcp='x'/>\n"                         /* 10 */
    "    <note> a &amp; b <![CDATA[<c>]]> </note>\n"  /* 11 */
    "    <listen unix='y'/>\n"                        /* 12 */
    "    <mixed>one<inner>two</inner>three</mixed>\n" /* 13 */
    "  </router>\n"                                   /* 14 */
    "  <domain>example.org</domain>\n"                /* 15 */
    "</xmppd>\n";

/* The document the tests of a case read, loaded and freed by a checked
 * fixture. */
static cfg *doc;

static void nav_load(void)
{
    doc = testcfg_load(nav_xml);
}

static void doc_free(void)
{
    cfg_free(doc);
}

START_TEST(walks_elements_only)
{
    const cfg_node *root = cfg_root(doc);

    ck_assert_int_eq(cfg_line(root), 3);
    const cfg_node *first = cfg_first(root);
    ck_assert_str_eq(cfg_name(first), "domain");
    ck_assert_int_eq(cfg_line(first), 5);
    const char *names[] = {"domain", "domain", "router", "domain"};
    int lines[] = {5, 7, 9, 15};
    size_t i = 0;
    for (const cfg_node *n = first; n; n = cfg_sibling(n), i++) {
        ck_assert_uint_lt(i, 4);
        ck_assert_str_eq(cfg_name(n), names[i]);
        ck_assert_int_eq(cfg_line(n), lines[i]);
    }
    ck_assert_uint_eq(i, 4);
}
END_TEST

START_TEST(next_finds_siblings_of_the_same_name)
{
    const cfg_node *root = cfg_root(doc);

    const cfg_node *domain = cfg_child(root, "domain");
    ck_assert_str_eq(cfg_text(domain), "example.com");
    domain = cfg_next(domain);
    ck_assert_str_eq(cfg_text(domain), "example.net");
    domain = cfg_next(domain); /* over <router> */
    ck_assert_str_eq(cfg_text(domain), "example.org");
    ck_assert_int_eq(cfg_line(domain), 15);
    ck_assert_ptr_null(cfg_next(domain));

    const cfg_node *router = cfg_child(root, "router");
    const cfg_node *listen = cfg_child(router, "listen");
    ck_assert_str_eq(cfg_attr(listen, "tcp"), "x");
    listen = cfg_next(listen); /* over <note> */
    ck_assert_str_eq(cfg_attr(listen, "unix"), "y");
    ck_assert_ptr_null(cfg_next(listen));
    ck_assert_ptr_null(cfg_child(router, "nothing"));
    ck_assert_ptr_null(cfg_first(listen));
}
END_TEST

START_TEST(reads_text_and_attributes)
{
    const cfg_node *router = cfg_child(cfg_root(doc), "router");

    ck_assert_str_eq(cfg_attr(router, "a"), "1");
    ck_assert_str_eq(cfg_attr(router, "empty"), "");
    ck_assert_ptr_null(cfg_attr(router, "missing"));
    /* Entities and CDATA are text; only the ends are trimmed. */
    ck_assert_str_eq(cfg_text(cfg_child(router, "note")), "a & b <c>");
    /* Only the text directly inside, not the children's. */
    ck_assert_str_eq(cfg_text(cfg_child(router, "mixed")), "onethree");
    ck_assert_str_eq(cfg_text(cfg_child(cfg_child(router, "mixed"), "inner")),
                     "two");
    ck_assert_str_eq(cfg_text(cfg_child(router, "listen")), "");
}
END_TEST

START_TEST(null_nodes_chain_to_null)
{
    const cfg_node *none = cfg_child(cfg_root(doc), "s2s");

    ck_assert_ptr_null(none);
    ck_assert_ptr_null(cfg_child(none, "limits"));
    ck_assert_ptr_null(cfg_first(none));
    ck_assert_ptr_null(cfg_sibling(none));
    ck_assert_ptr_null(cfg_next(none));
    ck_assert_ptr_null(cfg_name(none));
    ck_assert_ptr_null(cfg_attr(none, "a"));
    ck_assert_str_eq(cfg_text(none), "");
    ck_assert_int_eq(cfg_line(none), 0);

    /* An absent section reads as defaults. */
    long v = 0;
    cfg_diag d = {0};
    ck_assert_int_eq(cfg_int(cfg_child(none, "limits"), "max", 7, 0, 9, &v, &d),
                     0);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(cfg_check_attrs(none, NULL, &d), 0);
    cfg_free(NULL);
}
END_TEST

START_TEST(keeps_line_numbers_past_65535)
{
    size_t blank = 70000;
    char *xml = malloc(blank + 64);
    size_t at = (size_t)sprintf(xml, "<xmppd>");
    memset(xml + at, '\n', blank);
    at += blank;
    strcpy(xml + at, "<far a='1'/></xmppd>");

    cfg *c = testcfg_load(xml);
    ck_assert_int_eq(cfg_line(cfg_child(cfg_root(c), "far")), 70001);
    cfg_free(c);

    strcpy(xml + at, "<far></near></xmppd>");
    cfg_diag d = {0};
    ck_assert_int_eq(cfg_load_string(xml, "t.xml", &c, &d), XE_CONFIG);
    ck_assert_int_eq(d.line, 70001);
    free(xml);
}
END_TEST

/* --- typed readers ------------------------------------------------------ */

typedef enum { READ_INT, READ_BOOL, READ_SIZE, READ_DURATION } read_kind;

/* How the messages below go on after "router: v \"VALUE\" ". */
#define NOT_NUMBER "is not a number"
#define NOT_BOOL "is not yes or no"
#define NOT_SIZE "is not a size (like 64k, 4M)"
#define NOT_DURATION "is not a duration (like 500ms, 10s, 5min)"

static const struct {
    read_kind kind;
    const char *value; /* as written in the attribute */
    long min, max;
    long want;           /* when message is NULL */
    const char *message; /* the error after "t.xml:3: router: v \"VALUE\" " */
} reads[] = {
    {READ_INT, "42", 0, 100, 42, NULL},
    {READ_INT, "0", 0, 100, 0, NULL},
    {READ_INT, "100", 0, 100, 100, NULL},
    {READ_INT, "-5", -10, 10, -5, NULL},
    {READ_INT, "+7", -10, 10, 7, NULL},
    {READ_INT, "007", 0, 10, 7, NULL},
    {READ_INT, "9223372036854775807", LONG_MIN, LONG_MAX, LONG_MAX, NULL},
    {READ_INT, "-9223372036854775808", LONG_MIN, LONG_MAX, LONG_MIN, NULL},
    {READ_INT, "52x2", 1, 65535, 0, NOT_NUMBER},
    {READ_INT, "", 0, 100, 0, NOT_NUMBER},
    {READ_INT, " 1", 0, 100, 0, NOT_NUMBER},
    {READ_INT, "-", 0, 100, 0, NOT_NUMBER},
    {READ_INT, "0x10", 0, 100, 0, NOT_NUMBER},
    {READ_INT, "1.5", 0, 100, 0, NOT_NUMBER},
    {READ_INT, "101", 0, 100, 0, "is out of range (0..100)"},
    {READ_INT, "-1", 0, 100, 0, "is out of range (0..100)"},
    {READ_INT, "9223372036854775808", LONG_MIN, LONG_MAX, 0,
     "is out of range (-9223372036854775808..9223372036854775807)"},
    {READ_INT, "-9223372036854775809", LONG_MIN, LONG_MAX, 0,
     "is out of range (-9223372036854775808..9223372036854775807)"},
    {READ_INT, "99999999999999999999999999", 0, 100, 0,
     "is out of range (0..100)"},

    {READ_BOOL, "yes", 0, 0, 1, NULL},
    {READ_BOOL, "no", 0, 0, 0, NULL},
    {READ_BOOL, "true", 0, 0, 1, NULL},
    {READ_BOOL, "false", 0, 0, 0, NULL},
    {READ_BOOL, "on", 0, 0, 1, NULL},
    {READ_BOOL, "off", 0, 0, 0, NULL},
    {READ_BOOL, "1", 0, 0, 1, NULL},
    {READ_BOOL, "0", 0, 0, 0, NULL},
    {READ_BOOL, "Yes", 0, 0, 1, NULL},
    {READ_BOOL, "NO", 0, 0, 0, NULL},
    {READ_BOOL, "maybe", 0, 0, 0, NOT_BOOL},
    {READ_BOOL, "", 0, 0, 0, NOT_BOOL},
    {READ_BOOL, "2", 0, 0, 0, NOT_BOOL},

    {READ_SIZE, "0", 0, 1L << 30, 0, NULL},
    {READ_SIZE, "512", 0, 1L << 30, 512, NULL},
    {READ_SIZE, "64k", 0, 1L << 30, 65536, NULL},
    {READ_SIZE, "64K", 0, 1L << 30, 65536, NULL},
    {READ_SIZE, "4M", 0, 1L << 30, 4L << 20, NULL},
    {READ_SIZE, "4m", 0, 1L << 30, 4L << 20, NULL},
    {READ_SIZE, "1G", 0, 1L << 30, 1L << 30, NULL},
    {READ_SIZE, "", 0, 100, 0, NOT_SIZE},
    {READ_SIZE, "k", 0, 100, 0, NOT_SIZE},
    {READ_SIZE, "1.5M", 0, 100, 0, NOT_SIZE},
    {READ_SIZE, "4MB", 0, 100, 0, NOT_SIZE},
    {READ_SIZE, "4 M", 0, 100, 0, NOT_SIZE},
    {READ_SIZE, "-1", 0, 100, 0, NOT_SIZE},
    {READ_SIZE, "4T", 0, 100, 0, NOT_SIZE},
    {READ_SIZE, "17M", 1024, 16L << 20, 0, "is out of range (1k..16M)"},
    {READ_SIZE, "1023", 1024, 16L << 20, 0, "is out of range (1k..16M)"},
    {READ_SIZE, "0", 1000, 1500, 0, "is out of range (1000..1500)"},
    {READ_SIZE, "17179869184G", 0, 1L << 30, 0, "is out of range (0..1G)"},
    {READ_SIZE, "99999999999999999999999k", 0, 1L << 30, 0,
     "is out of range (0..1G)"},

    {READ_DURATION, "10", 0, LONG_MAX, 10000, NULL},
    {READ_DURATION, "0", 0, LONG_MAX, 0, NULL},
    {READ_DURATION, "500ms", 0, LONG_MAX, 500, NULL},
    {READ_DURATION, "10s", 0, LONG_MAX, 10000, NULL},
    {READ_DURATION, "5min", 0, LONG_MAX, 300000, NULL},
    {READ_DURATION, "2h", 0, LONG_MAX, 7200000, NULL},
    {READ_DURATION, "10S", 0, LONG_MAX, 10000, NULL},
    {READ_DURATION, "9223372036854775807ms", 0, LONG_MAX, LONG_MAX, NULL},
    {READ_DURATION, "", 0, LONG_MAX, 0, NOT_DURATION},
    {READ_DURATION, "s", 0, LONG_MAX, 0, NOT_DURATION},
    {READ_DURATION, "5m", 0, LONG_MAX, 0, NOT_DURATION},
    {READ_DURATION, "1.5s", 0, LONG_MAX, 0, NOT_DURATION},
    {READ_DURATION, "10 s", 0, LONG_MAX, 0, NOT_DURATION},
    {READ_DURATION, "-1s", -5000, LONG_MAX, 0, NOT_DURATION},
    {READ_DURATION, "1d", 0, LONG_MAX, 0, NOT_DURATION},
    {READ_DURATION, "25h", 0, 86400000, 0, "is out of range (0..24h)"},
    {READ_DURATION, "50ms", 100, 90000, 0, "is out of range (100ms..90s)"},
    {READ_DURATION, "2min", 1500, 61000, 0, "is out of range (1500ms..61s)"},
    {READ_DURATION, "9223372036854775807s", 0, LONG_MAX, 0,
     "is out of range (0..9223372036854775807ms)"},
    {READ_DURATION, "99999999999999999999h", 0, 3600000, 0,
     "is out of range (0..1h)"},
};

/* Runs one reader on attribute v of an element at line 3 in <router>. */
static int read_one(read_kind kind, const cfg_node *n, long min, long max,
                    long *out, cfg_diag *d)
{
    bool b = false;
    size_t z = 0;
    int err = 0;

    switch (kind) {
    case READ_INT:
        return cfg_int(n, "v", 0, min, max, out, d);
    case READ_BOOL:
        err = cfg_bool(n, "v", false, &b, d);
        *out = b;
        return err;
    case READ_SIZE:
        err = cfg_size(n, "v", 0, (size_t)min, (size_t)max, &z, d);
        *out = (long)z;
        return err;
    case READ_DURATION:
        return cfg_duration_ms(n, "v", 0, min, max, out, d);
    }
    return -1;
}

START_TEST(typed_readers_accept_or_explain)
{
    char xml[512];
    snprintf(xml, sizeof xml,
             "<xmppd>\n"
             "  <router>\n"
             "    <limits v=\"%s\"/>\n"
             "  </router>\n"
             "</xmppd>\n",
             reads[_i].value);
    cfg *c = testcfg_load(xml);
    const cfg_node *limits =
        cfg_child(cfg_child(cfg_root(c), "router"), "limits");
    cfg_diag d = {.line = -1};
    long got = -12345;

    int err = read_one(reads[_i].kind, limits, reads[_i].min, reads[_i].max,
                       &got, &d);
    if (reads[_i].message) {
        char message[256];
        snprintf(message, sizeof message, "router: v \"%s\" %s",
                 reads[_i].value, reads[_i].message);
        ck_assert_int_eq(err, XE_CONFIG);
        testcfg_assert_diag(&d, "t.xml", 3, message);
    } else {
        ck_assert_msg(err == 0, "\"%s\": %s", reads[_i].value, d.message);
        ck_assert_int_eq(got, reads[_i].want);
    }
    cfg_free(c);
}
END_TEST

START_TEST(absent_attributes_give_the_default)
{
    cfg *c = testcfg_load("<xmppd><router><limits/></router></xmppd>");
    const cfg_node *limits =
        cfg_child(cfg_child(cfg_root(c), "router"), "limits");
    cfg_diag d = {0};
    long l = 0;
    bool b = false;
    size_t z = 0;

    /* The default is not range-checked: it is the programmer's choice. */
    ck_assert_int_eq(cfg_int(limits, "v", 1000, 0, 10, &l, &d), 0);
    ck_assert_int_eq(l, 1000);
    ck_assert_int_eq(cfg_bool(limits, "v", true, &b, &d), 0);
    ck_assert(b);
    ck_assert_int_eq(cfg_size(limits, "v", 4096, 0, 10, &z, &d), 0);
    ck_assert_uint_eq(z, 4096);
    ck_assert_int_eq(cfg_duration_ms(limits, "v", 2500, 0, 10, &l, &d), 0);
    ck_assert_int_eq(l, 2500);
    ck_assert_int_eq(cfg_size(NULL, "v", 7, 0, 10, &z, NULL), 0);
    ck_assert_uint_eq(z, 7);
    cfg_free(c);
}
END_TEST

START_TEST(sizes_reach_size_max)
{
    char xml[128];
    snprintf(xml, sizeof xml, "<xmppd><s v='%zu'/></xmppd>", (size_t)SIZE_MAX);
    cfg *c = testcfg_load(xml);
    size_t z = 0;
    cfg_diag d = {0};

    ck_assert_int_eq(
        cfg_size(cfg_child(cfg_root(c), "s"), "v", 0, 0, SIZE_MAX, &z, &d), 0);
    ck_assert(z == SIZE_MAX);
    cfg_free(c);
}
END_TEST

/* Messages quote a value escaped and shortened, so it stays one line. */
START_TEST(messages_quote_values_safely)
{
    char xml[512], lots[201];
    memset(lots, 'x', 200);
    lots[200] = '\0';
    snprintf(xml, sizeof xml,
             "<xmppd>\n<c2s port='1&#10;2'\n long='%s'/></xmppd>", lots);
    cfg *c = testcfg_load(xml);
    const cfg_node *c2s = cfg_child(cfg_root(c), "c2s");
    cfg_diag d = {0};
    long v = 0;

    ck_assert_int_eq(cfg_int(c2s, "port", 0, 0, 10, &v, &d), XE_CONFIG);
    ck_assert_str_eq(d.message, "c2s: port \"1\\x0a2\" is not a number");
    ck_assert_int_eq(d.line, 2);
    ck_assert_int_eq(cfg_int(c2s, "long", 0, 0, 10, &v, &d), XE_CONFIG);
    ck_assert_ptr_nonnull(strstr(d.message, "xx...\" is not a number"));
    ck_assert_uint_lt(strlen(d.message), 120);
    cfg_free(c);
}
END_TEST

/* --- sections, required attributes, unknown attributes ------------------ */

static const char section_xml[] =
    "<xmppd v='x'>\n"                       /* 1 */
    "  <log level='info' to='stderr'/>\n"   /* 2 */
    "  <router v='x'>\n"                    /* 3 */
    "    <component name='sm' v='x'>\n"     /* 4 */
    "      <allow bind='domain' v='x'/>\n"  /* 5 */
    "    </component>\n"                    /* 6 */
    "    <listen unix=''/>\n"               /* 7 */
    "    <limits max-stanza-byte='64k'/>\n" /* 8 */
    "  </router>\n"                         /* 9 */
    "</xmppd>\n";

START_TEST(messages_name_the_section)
{
    cfg *c = testcfg_load(section_xml);
    const cfg_node *root = cfg_root(c);
    const cfg_node *router = cfg_child(root, "router");
    const cfg_node *component = cfg_child(router, "component");
    const struct {
        const cfg_node *n;
        int line;
        const char *message;
    } want[] = {
        {root, 1, "xmppd: v \"x\" is not a number"},
        {router, 3, "router: v \"x\" is not a number"},
        {component, 4, "router: v \"x\" is not a number"},
        {cfg_child(component, "allow"), 5, "router: v \"x\" is not a number"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cfg_diag d = {0};
        long v;
        ck_assert_int_eq(cfg_int(want[i].n, "v", 0, 0, 1, &v, &d), XE_CONFIG);
        testcfg_assert_diag(&d, "t.xml", want[i].line, want[i].message);
    }
    cfg_free(c);
}
END_TEST

START_TEST(required_attributes_must_be_present)
{
    cfg *c = testcfg_load(section_xml);
    const cfg_node *router = cfg_child(cfg_root(c), "router");
    const cfg_node *listen = cfg_child(router, "listen");
    const char *value = NULL;
    cfg_diag d = {0};

    ck_assert_int_eq(cfg_required(listen, "unix", &value, &d), 0);
    ck_assert_str_eq(value, "");
    ck_assert_int_eq(
        cfg_required(cfg_child(cfg_child(router, "component"), "allow"), "bind",
                     &value, &d),
        0);
    ck_assert_str_eq(value, "domain");

    ck_assert_int_eq(cfg_required(listen, "tcp", &value, &d), XE_CONFIG);
    ck_assert_ptr_null(value);
    testcfg_assert_diag(&d, "t.xml", 7, "router: <listen> needs attribute tcp");
    cfg_free(c);
}
END_TEST

START_TEST(unknown_attributes_are_named)
{
    cfg *c = testcfg_load(section_xml);
    const cfg_node *root = cfg_root(c);
    const cfg_node *router = cfg_child(root, "router");
    static const char *const log_attrs[] = {"level", "to", "file", NULL};
    static const char *const limit_attrs[] = {"max-stanza-bytes", "rate", NULL};
    static const char *const none[] = {NULL};
    cfg_diag d = {0};

    ck_assert_int_eq(cfg_check_attrs(cfg_child(root, "log"), log_attrs, &d), 0);
    ck_assert_int_eq(
        cfg_check_attrs(cfg_child(router, "limits"), limit_attrs, &d),
        XE_CONFIG);
    testcfg_assert_diag(&d, "t.xml", 8,
                "router: <limits> has unknown attribute \"max-stanza-byte\"");
    ck_assert_int_eq(cfg_check_attrs(cfg_child(root, "log"), none, &d),
                     XE_CONFIG);
    testcfg_assert_diag(&d, "t.xml", 2,
                        "log: <log> has unknown attribute \"level\"");
    cfg_free(c);
}
END_TEST

START_TEST(custom_errors_carry_place_and_section)
{
    cfg *c = testcfg_load(section_xml);
    const cfg_node *allow = cfg_child(
        cfg_child(cfg_child(cfg_root(c), "router"), "component"), "allow");
    cfg_diag d = {0};

    ck_assert_int_eq(cfg_error(&d, allow, "bind \"%s\" is not %d", "x", 42),
                     XE_CONFIG);
    testcfg_assert_diag(&d, "t.xml", 5, "router: bind \"x\" is not 42");
    ck_assert_int_eq(cfg_error(&d, NULL, "no %s", "router"), XE_CONFIG);
    testcfg_assert_diag(&d, "", 0, "no router");
    ck_assert_int_eq(cfg_error(NULL, allow, "ignored"), XE_CONFIG);
    cfg_free(c);
}
END_TEST

static void print_diag_now(const void *d)
{
    cfg_diag_print(d);
}

static const char *print_diag(const cfg_diag *d)
{
    return testcfg_stderr_of(print_diag_now, d);
}

START_TEST(prints_diagnostics_like_a_compiler)
{
    cfg_diag d = {.file = "etc/xmppd.xml",
                  .line = 42,
                  .message = "router: port \"52x2\" is not a number"};

    ck_assert_str_eq(
        print_diag(&d),
        "etc/xmppd.xml:42: router: port \"52x2\" is not a number\n");
    d.line = 0;
    snprintf(d.message, sizeof d.message, "No such file or directory");
    ck_assert_str_eq(print_diag(&d),
                     "etc/xmppd.xml: No such file or directory\n");
    d.file[0] = '\0';
    ck_assert_str_eq(print_diag(&d), "No such file or directory\n");
}
END_TEST

/* --- refused documents -------------------------------------------------- */

static const struct {
    const char *xml;
    int line;
    const char *message;
} refused[] = {
    {"<xmppd>\n  <router>\n</xmppd>\n", 3,
     "not well-formed: Opening and ending tag mismatch: router line 2 and "
     "xmppd"},
    {"", 1, "not well-formed: Document is empty"},
    {"<xmppd>\n<domain>&nope;</domain></xmppd>", 2,
     "not well-formed: Entity 'nope' not defined"},
    {"<xmppd>\n\n<p:router/></xmppd>", 3,
     "not well-formed: Namespace prefix p on router is not defined"},
    {"<xmppd a='1' a='2'/>", 1, "not well-formed: Attribute a redefined"},
    {"<xmppd/><xmppd/>", 1,
     "not well-formed: Extra content at the end of the document"},
    {"<?xml version='1.0'?>\n<!DOCTYPE xmppd>\n<xmppd/>", 2,
     "DTDs are not allowed"},
    {"<?xml version='1.0'?>\n<!DOCTYPE xmppd SYSTEM "
     "'http://127.0.0.1:9/x.dtd'>\n"
     "<xmppd/>",
     2, "DTDs are not allowed"},
    {"<!DOCTYPE xmppd [\n<!ENTITY e SYSTEM 'file:///etc/passwd'>\n]>\n"
     "<xmppd>&e;</xmppd>",
     1, "DTDs are not allowed"},
    {"<?xml version='1.0'?>\n<!-- wrong root "
     "-->\n<config>\n<xmppd/>\n</config>",
     3, "the root element must be <xmppd>, not <config>"},
};

START_TEST(refuses_bad_documents_with_a_place)
{
    testcfg_assert_refused(refused[_i].xml, refused[_i].line,
                           refused[_i].message);
}
END_TEST

START_TEST(reports_the_broken_file_and_line)
{
    const char *path = testcfg_data_path("cfg/broken.xml");

    testcfg_assert_file_refused(path, testcfg_line_of(path, "</xmppd>"),
                        "not well-formed: Opening and ending tag "
                        "mismatch: router line 5 and xmppd");
}
END_TEST

START_TEST(refuses_billion_laughs_without_expanding)
{
    clock_t start = clock();

    testcfg_assert_file_refused(testcfg_data_path("cfg/laughs.xml"), 2,
                                "DTDs are not allowed");
    /* Expanding would take 10^9 copies of "lol"; refusing takes nothing. */
    ck_assert_int_lt((long)(clock() - start), (long)CLOCKS_PER_SEC);
}
END_TEST

START_TEST(missing_file_names_file_and_reason)
{
    testcfg_assert_file_refused(testcfg_data_path("cfg/no-such-file.xml"), 0,
                                strerror(ENOENT));
    testcfg_assert_file_refused(testcfg_data_path("cfg"), 0, strerror(EISDIR));
}
END_TEST

/* Loads every broken document above and in tests/data/cfg. */
static void load_broken_documents(const void *unused)
{
    cfg *c = NULL;
    cfg_diag d = {0};

    (void)unused;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        cfg_load_string(refused[i].xml, "t.xml", &c, &d);
    cfg_load_string("<?xml version='1.0' encoding='no-such'?><xmppd/>", "t.xml",
                    &c, &d);
    cfg_load_string("<xmppd>\xff\xfe</xmppd>", "t.xml", &c, &d);
    cfg_load_string("<xmppd xmlns:a='relative'/>", "t.xml", &c, &d);
    cfg_free(c);
    cfg_load(testcfg_data_path("cfg/laughs.xml"), &c, &d);
    cfg_load(testcfg_data_path("cfg/broken.xml"), &c, &d);
    cfg_load(testcfg_data_path("cfg/no-such-file.xml"), &c, &d);
}

/* libxml2 reports into the diag only: nothing reaches stderr. */
START_TEST(parser_errors_stay_off_stderr)
{
    ck_assert_str_eq(testcfg_stderr_of(load_broken_documents, NULL), "");
}
END_TEST

/* --- paths -------------------------------------------------------------- */

static const struct {
    const char *config, *path, *want;
} paths[] = {
    {"etc/xmppd.xml", "certs/a.pem", "etc/certs/a.pem"},
    {"etc/xmppd.xml", "/etc/ssl/a.pem", "/etc/ssl/a.pem"},
    {"/srv/xmppd/xmppd.xml", "state", "/srv/xmppd/state"},
    {"/xmppd.xml", "state", "/state"},
    {"xmppd.xml", "state", "state"},
    {"./xmppd.xml", "../state", "./../state"},
    {"etc/xmppd.xml", "", ""},
    {"state/xmppd.xml", ".", "state"},
    {"/xmppd.xml", ".", "/"},
    {"state/xmppd.xml", "./log", "state/log"},
};

START_TEST(resolves_paths_from_the_config_folder)
{
    cfg *c = NULL;
    cfg_diag d = {0};

    ck_assert_int_eq(cfg_load_string("<xmppd/>", paths[_i].config, &c, &d), 0);
    ck_assert_str_eq(cfg_path(c), paths[_i].config);
    char *got = cfg_resolve_path(c, paths[_i].path);
    ck_assert_str_eq(got, paths[_i].want);
    free(got);
    cfg_free(c);
}
END_TEST

START_TEST(resolves_paths_of_a_loaded_file)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", testcfg_data_path("cfg/relative.xml"));
    cfg *c = NULL;
    cfg_diag d = {0};

    ck_assert_int_eq(cfg_load(path, &c, &d), 0);
    const cfg_node *listen =
        cfg_child(cfg_child(cfg_root(c), "router"), "listen");
    char *cert = cfg_resolve_path(c, cfg_attr(listen, "cert"));
    char *key = cfg_resolve_path(c, cfg_attr(listen, "key"));
    char *state =
        cfg_resolve_path(c, cfg_text(cfg_child(cfg_root(c), "state-dir")));
    char want[4200];
    snprintf(want, sizeof want, "%s", path);
    strcpy(strrchr(want, '/') + 1, "certs/router.pem");
    ck_assert_str_eq(cert, want);
    ck_assert_str_eq(key, "/etc/xmppd/router.key");
    snprintf(want, sizeof want, "%s", path);
    strcpy(strrchr(want, '/') + 1, "state");
    ck_assert_str_eq(state, want);
    free(cert);
    free(key);
    free(state);
    cfg_free(c);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("cfg");

    TCase *load_case = tcase_create("load");
    tcase_add_test(load_case, loads_the_sample_config);
    tcase_add_loop_test(load_case, refuses_bad_documents_with_a_place, 0,
                        sizeof refused / sizeof refused[0]);
    tcase_add_test(load_case, reports_the_broken_file_and_line);
    tcase_add_test(load_case, refuses_billion_laughs_without_expanding);
    tcase_add_test(load_case, missing_file_names_file_and_reason);
    tcase_add_test(load_case, parser_errors_stay_off_stderr);
    tcase_add_test(load_case, keeps_line_numbers_past_65535);
    suite_add_tcase(suite, load_case);

    TCase *nav = tcase_create("navigate");
    tcase_add_checked_fixture(nav, nav_load, doc_free);
    tcase_add_test(nav, walks_elements_only);
    tcase_add_test(nav, next_finds_siblings_of_the_same_name);
    tcase_add_test(nav, reads_text_and_attributes);
    tcase_add_test(nav, null_nodes_chain_to_null);
    suite_add_tcase(suite, nav);

    TCase *read = tcase_create("read");
    tcase_add_loop_test(read, typed_readers_accept_or_explain, 0,
                        sizeof reads / sizeof reads[0]);
    tcase_add_test(read, absent_attributes_give_the_default);
    tcase_add_test(read, sizes_reach_size_max);
    tcase_add_test(read, messages_quote_values_safely);
    tcase_add_test(read, messages_name_the_section);
    tcase_add_test(read, required_attributes_must_be_present);
    tcase_add_test(read, unknown_attributes_are_named);
    tcase_add_test(read, custom_errors_carry_place_and_section);
    tcase_add_test(read, prints_diagnostics_like_a_compiler);
    suite_add_tcase(suite, read);

    TCase *path_case = tcase_create("path");
    tcase_add_loop_test(path_case, resolves_paths_from_the_config_folder, 0,
                        sizeof paths / sizeof paths[0]);
    tcase_add_test(path_case, resolves_paths_of_a_loaded_file);
    suite_add_tcase(suite, path_case);
    return suite;
}
