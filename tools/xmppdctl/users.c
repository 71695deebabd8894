/* SPDX-License-Identifier: MIT */
/* tools/xmppdctl/users.c: adduser, passwd, deluser and listusers. xmppdctl
 * attaches to the running router as a short-lived xmppd component and asks
 * xmppd-store (docs/store-protocol.md); the database is never touched here. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#include "libcommon/alloc.h"
#include "libcommon/buf.h"
#include "libcommon/component.h"
#include "libcommon/error.h"
#include "libcommon/jid.h"
#include "libcommon/link.h"
#include "libcommon/net.h"
#include "libcommon/proc.h"
#include "libcommon/scram.h"
#include "libcommon/xs.h"
#include "tools/xmppdctl/ctl.h"

#define USERS_NS "urn:xmppd:store"
#define USERS_PASSWORD_MAX 1024 /* bytes, with the NUL */

enum {
    USERS_TIMEOUT_MS = 10000,     /* for the store's answers */
};

/* One request to the store and what came back. */
typedef struct users_req {
    char id[32];
    char *key;      /* the envelope's key: a bare JID or a domain */
    char *inner;    /* the <iq/>, raw */
    bool is_done;
    xs_elem *reply; /* the answering <iq/> (result or error) */
} users_req;

/* One run of the link: connect, send every request, collect every answer. */
typedef struct users_run {
    link_conn *link;
    char *address;
    uv_timer_t timer; /* the deadline, then the deferred finish */
    users_req *reqs;
    size_t n_reqs, n_done;
    bool is_finishing;
    int exit_code;      /* CTL_EXIT_OK once every answer is in */
    char failure[512];  /* printed when exit_code is not OK */
} users_run;

/* ---- the config: served domains and the link's options ---- */

/* The normalized <domain>s of the file. Returns 0 or CTL_EXIT_FAIL (printed). */
static int users_domains(const cfg *c, char ***out, size_t *n_out)
{
    cfg_diag diag = { 0 };
    if (proc_domains(c, out, n_out, &diag) == 0)
        return 0;
    proc_print_diag(&diag, cfg_path(c));
    return CTL_EXIT_FAIL;
}

static bool users_domain_is_served(char **domains, size_t n, const char *domain)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(domains[i], domain) == 0)
            return true;
    return false;
}

/* The link without an <xmppdctl> section: the router's first Unix listener
 * and its <component name="xmppdctl"> entry. */
static int users_default_link(const cfg *c, component_link_cfg *out)
{
    memset(out, 0, sizeof *out);
    const cfg_node *router = cfg_child(cfg_root(c), "router");
    const char *sock = NULL;
    for (const cfg_node *n = cfg_child(router, "listen"); n && !sock; n = cfg_next(n))
        sock = cfg_attr(n, "unix");
    if (!sock || !sock[0]) {
        fprintf(stderr, "%s: xmppdctl has no <xmppdctl><connect unix=\"...\" "
                "name=\"xmppdctl\"/></xmppdctl> and the router has no "
                "<listen unix=\"...\"/> to reach it by\n", cfg_path(c));
        return CTL_EXIT_FAIL;
    }
    const char *secret = NULL;
    for (const cfg_node *n = cfg_child(router, "component"); n && !secret;
         n = cfg_next(n)) {
        const char *name = cfg_attr(n, "name");
        if (name && strcmp(name, "xmppdctl") == 0)
            secret = cfg_attr(n, "secret");
    }
    if (!secret) {
        fprintf(stderr, "%s: the <router> section has no <component "
                "name=\"xmppdctl\" secret=\"...\" domain=\"no\"/> entry; "
                "xmppdctl needs one to attach to the router\n", cfg_path(c));
        return CTL_EXIT_FAIL;
    }
    if (sock[0] == '/') {
        out->address = xstrdup(sock);
    } else {
        char *state = proc_state_dir(c);
        out->address = xasprintf("%s/%s", state, sock);
        free(state);
    }
    out->name = xstrdup("xmppdctl");
    out->secret = xstrdup(secret);
    out->opts.is_unix = true;
    out->opts.address = out->address;
    out->opts.name = out->name;
    out->opts.secret = out->secret;
    return 0;
}

/* Fills out from <xmppdctl><connect/></xmppdctl>, or the default; the
 * instance is NAME/PID so that several runs never collide. Returns 0 or
 * CTL_EXIT_FAIL (printed). */
static int users_link_cfg(const cfg *c, component_link_cfg *out)
{
    const cfg_node *section = cfg_child(cfg_root(c), "xmppdctl");
    if (!section) {
        if (users_default_link(c, out) != 0)
            return CTL_EXIT_FAIL;
    } else {
        cfg_diag diag = {.line = 0};
        if (component_link_opts(c, section, "xmppdctl", out, &diag) != 0) {
            if (!diag.file[0])
                snprintf(diag.file, sizeof diag.file, "%s", cfg_path(c));
            cfg_diag_print(&diag);
            return CTL_EXIT_FAIL;
        }
        if (cfg_attr(cfg_child(section, "connect"), "instance"))
            return 0;
    }
    free(out->instance);
    out->instance = xasprintf("%s/%ld", out->name, (long)getpid());
    out->opts.instance = out->instance;
    return 0;
}

/* ---- passwords ---- */

static struct termios users_saved_tty;
static volatile sig_atomic_t users_tty_is_changed;

/* Ctrl-C at the prompt must not leave the terminal without echo. */
static void users_on_signal(int signum)
{
    if (users_tty_is_changed)
        tcsetattr(STDIN_FILENO, TCSANOW, &users_saved_tty);
    signal(signum, SIG_DFL);
    raise(signum);
}

/* Reads one line from fd into out without its line end. Returns its length,
 * -1 on a read error (errno set) or -2 when it does not fit. */
static ssize_t users_read_line(int fd, char *out, size_t size)
{
    size_t len = 0;
    for (;;) {
        char ch;
        ssize_t n = read(fd, &ch, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0 || ch == '\n')
            break;
        if (len + 1 >= size)
            return -2;
        out[len++] = ch;
    }
    if (len > 0 && out[len - 1] == '\r')
        len--;
    out[len] = '\0';
    return (ssize_t)len;
}

/* Prompts on the terminal with echo off. Returns like users_read_line. */
static ssize_t users_prompt(const char *prompt, char *out, size_t size)
{
    struct termios quiet;
    bool has_tty = tcgetattr(STDIN_FILENO, &users_saved_tty) == 0;
    if (has_tty) {
        quiet = users_saved_tty;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        signal(SIGINT, users_on_signal);
        signal(SIGTERM, users_on_signal);
        users_tty_is_changed = 1;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    /* After the flush, so that nothing typed after the prompt is lost. */
    fputs(prompt, stderr);
    fflush(stderr);
    ssize_t len = users_read_line(STDIN_FILENO, out, size);
    if (has_tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &users_saved_tty);
        users_tty_is_changed = 0;
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
    }
    return len;
}

/* The new password of jid_str: from file (its first line), else twice from
 * the terminal, else one line of stdin. Returns 0 or CTL_EXIT_FAIL
 * (printed). */
static int users_read_password(const char *file, const char *jid_str,
                               char *out, size_t size)
{
    ssize_t len;
    const char *source;
    if (file) {
        source = file;
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "xmppdctl: cannot open %s: %s\n", file, strerror(errno));
            return CTL_EXIT_FAIL;
        }
        len = users_read_line(fd, out, size);
        close(fd);
    } else if (isatty(STDIN_FILENO)) {
        source = "the terminal";
        char prompt[JID_MAX_PART * 2 + 64];
        snprintf(prompt, sizeof prompt, "New password for %s: ", jid_str);
        len = users_prompt(prompt, out, size);
        if (len > 0) {
            char again[USERS_PASSWORD_MAX];
            ssize_t len2 = users_prompt("Again: ", again, sizeof again);
            bool is_same = len2 == len && strcmp(again, out) == 0;
            explicit_bzero(again, sizeof again);
            if (!is_same) {
                explicit_bzero(out, size);
                fputs("xmppdctl: the passwords do not match\n", stderr);
                return CTL_EXIT_FAIL;
            }
        }
    } else {
        source = "standard input";
        len = users_read_line(STDIN_FILENO, out, size);
    }
    if (len == -1) {
        fprintf(stderr, "xmppdctl: cannot read the password from %s: %s\n", source,
                strerror(errno));
    } else if (len == -2) {
        fprintf(stderr, "xmppdctl: the password from %s is longer than %d bytes\n",
                source, USERS_PASSWORD_MAX - 1);
    } else if (len == 0) {
        fprintf(stderr, "xmppdctl: empty password (from %s) refused\n", source);
    } else {
        return 0;
    }
    explicit_bzero(out, size);
    return CTL_EXIT_FAIL;
}

/* Appends the <scram/> children for password to out. Returns 0 or
 * CTL_EXIT_FAIL (printed). */
static int users_append_scram(buf *out, const char *password)
{
    scram_cred creds[SCRAM_N_MECHS];
    int err = scram_cred_make_all(password, SCRAM_ITERATIONS, creds);
    if (err == XE_PROTOCOL) {
        fputs("xmppdctl: the password is not usable: SASLprep "
              "(RFC 4013) refuses it\n", stderr);
        return CTL_EXIT_FAIL;
    }
    if (err != 0) {
        fprintf(stderr, "xmppdctl: cannot make SCRAM credentials: %s\n",
                xe_str(err));
        return CTL_EXIT_FAIL;
    }
    scram_cred_append_xml(out, creds, SCRAM_N_MECHS);
    explicit_bzero(creds, sizeof creds);
    return 0;
}

/* ---- the exchange with the store ---- */

static void users_req_add(users_run *run, const char *key, const char *type,
                          const buf *payload)
{
    run->reqs = xrealloc(run->reqs, (run->n_reqs + 1) * sizeof *run->reqs);
    users_req *r = &run->reqs[run->n_reqs];
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "ctl%zu", ++run->n_reqs);
    r->key = xstrdup(key);
    buf b;
    buf_init(&b);
    buf_printf(&b, "<iq xmlns='" XS_NS_COMPONENT "' type='%s' id='%s'>", type, r->id);
    buf_append(&b, buf_data(payload), buf_len(payload));
    buf_append_str(&b, "</iq>");
    r->inner = buf_steal(&b);
}

static void users_run_close(users_run *run)
{
    for (size_t i = 0; i < run->n_reqs; i++) {
        free(run->reqs[i].key);
        free(run->reqs[i].inner);
        xs_unref(run->reqs[i].reply);
    }
    free(run->reqs);
    free(run->address);
}

static void users_on_timer_closed(uv_handle_t *h)
{
    (void)h;
}

static void users_on_finish(uv_timer_t *t)
{
    users_run *run = t->data;
    link_free(run->link);
    run->link = NULL;
    uv_close((uv_handle_t *)&run->timer, users_on_timer_closed);
}

/* Ends the run on the next loop turn: the link may be inside a callback. */
static void users_finish(users_run *run, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void users_finish(users_run *run, int exit_code, const char *fmt, ...)
{
    if (run->is_finishing)
        return;
    run->is_finishing = true;
    run->exit_code = exit_code;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(run->failure, sizeof run->failure, fmt, ap);
        va_end(ap);
    }
    uv_timer_stop(&run->timer);
    uv_timer_start(&run->timer, users_on_finish, 0, 0);
}

static void users_on_timeout(uv_timer_t *t)
{
    users_run *run = t->data;
    if (link_is_ready(run->link))
        users_finish(run, CTL_EXIT_FAIL, "the store did not answer; is "
                     "xmppd-store running? (xmppdctl status)");
    else
        users_finish(run, CTL_EXIT_FAIL, "could not attach to the router at %s "
                     "in time; is xmppd running? (xmppdctl status)", run->address);
}

static void users_on_ready(link_conn *l, void *ud)
{
    users_run *run = ud;
    for (size_t i = 0; i < run->n_reqs; i++) {
        users_req *r = &run->reqs[i];
        if (link_send_envelope(l, "store", r->key, r->inner, strlen(r->inner)) < 0) {
            users_finish(run, CTL_EXIT_FAIL, "cannot send the request: the link's "
                         "queue is full");
            return;
        }
    }
}

static users_req *users_req_find(users_run *run, const char *id)
{
    for (size_t i = 0; id && i < run->n_reqs; i++)
        if (strcmp(run->reqs[i].id, id) == 0)
            return &run->reqs[i];
    return NULL;
}

static void users_on_stanza(link_conn *l, xs_elem *st, const char *raw,
                            size_t len, void *ud)
{
    (void)l, (void)raw, (void)len;
    users_run *run = ud;
    const char *ns = xs_ns(st) ? xs_ns(st) : "";
    if (run->is_finishing || strcmp(xs_name(st), "route") != 0 ||
        strcmp(ns, XS_NS_XMPPD_ROUTE) != 0)
        return;
    xs_elem *iq = xs_child(st, "iq", NULL);
    users_req *r = users_req_find(run, iq ? xs_attr(iq, "id") : NULL);
    if (!r || r->is_done)
        return;
    const char *type = xs_attr(st, "type");
    if (type && strcmp(type, "error") == 0) {
        /* Our own envelope, back from the router. */
        const char *cond = xs_attr(st, "condition");
        if (cond && strcmp(cond, "service-unavailable") == 0)
            users_finish(run, CTL_EXIT_FAIL,
                         "xmppd-store is not attached to the router");
        else
            users_finish(run, CTL_EXIT_FAIL, "the router could not deliver the "
                         "request to xmppd-store: %s", cond ? cond : "no condition");
        return;
    }
    r->is_done = true;
    r->reply = xs_dup(iq); /* st and its children go after this call */
    if (++run->n_done == run->n_reqs)
        users_finish(run, CTL_EXIT_OK, NULL);
}

static void users_on_down(link_conn *l, const char *why, void *ud)
{
    (void)l;
    users_run *run = ud;
    users_finish(run, CTL_EXIT_FAIL, "cannot reach the router at %s (%s); is "
                 "xmppd running? (xmppdctl status)", run->address, why);
}

static void users_on_refused(link_conn *l, const char *why, void *ud)
{
    (void)l;
    users_run *run = ud;
    users_finish(run, CTL_EXIT_FAIL, "the router refused xmppdctl (%s); it needs "
                 "<component name=\"xmppdctl\" secret=\"...\" domain=\"no\"/> in "
                 "<router>, with the secret xmppdctl uses", why);
}

static const link_events users_link_events = {
    .ready = users_on_ready,
    .stanza = users_on_stanza,
    .down = users_on_down,
    .refused = users_on_refused,
};

/* Attaches, sends run's requests and waits for every answer. Returns 0 when
 * all came back (each may still be an error), else CTL_EXIT_FAIL (printed). */
static int users_exchange(const cfg *c, users_run *run)
{
    component_link_cfg lc;
    if (users_link_cfg(c, &lc) != 0)
        return CTL_EXIT_FAIL;
    signal(SIGPIPE, SIG_IGN);
    log_threshold = LOGL_ERROR;
    uv_loop_t *loop = uv_default_loop();
    net_init(loop);
    run->address = xstrdup(lc.address);
    run->exit_code = CTL_EXIT_FAIL;
    uv_timer_init(loop, &run->timer);
    run->timer.data = run;
    uv_timer_start(&run->timer, users_on_timeout, USERS_TIMEOUT_MS, 0);
    run->link = link_new(&lc.opts, &users_link_events, run);
    component_link_cfg_close(&lc);
    uv_run(loop, UV_RUN_DEFAULT);
    if (run->exit_code != CTL_EXIT_OK)
        fprintf(stderr, "xmppdctl: %s\n", run->failure);
    return run->exit_code;
}

/* The condition and text of an error reply. */
static const char *users_error_condition(xs_elem *iq, const char **text)
{
    *text = NULL;
    xs_elem *err = xs_child(iq, "error", NULL);
    const char *cond = "undefined-condition";
    for (xs_elem *e = err ? xs_first(err) : NULL; e; e = xs_next(e)) {
        if (!xs_ns(e) || strcmp(xs_ns(e), XS_NS_STANZAS) != 0)
            continue;
        if (strcmp(xs_name(e), "text") == 0)
            *text = xs_text(e);
        else
            cond = xs_name(e);
    }
    return cond;
}

/* The answer to r: 0 for a result; else prints why and returns
 * CTL_EXIT_FAIL. */
static int users_check_reply(const users_req *r, const char *user)
{
    const char *type = xs_attr(r->reply, "type");
    if (type && strcmp(type, "result") == 0)
        return 0;
    const char *text;
    const char *cond = users_error_condition(r->reply, &text);
    if (strcmp(cond, "conflict") == 0)
        fprintf(stderr, "xmppdctl: %s already exists\n", user);
    else if (strcmp(cond, "item-not-found") == 0)
        fprintf(stderr, "xmppdctl: no such user %s\n", user);
    else
        fprintf(stderr, "xmppdctl: the store refused the request for %s: %s%s%s\n",
                user, cond, text ? ": " : "", text ? text : "");
    return CTL_EXIT_FAIL;
}

/* ---- the commands ---- */

typedef struct users_args {
    const char *jid;
    const char *password_file;
} users_args;

/* JID [--password-file FILE]; the file only where takes_password. Returns 0
 * or CTL_EXIT_USAGE (printed). */
static int users_parse_args(int argc, char **argv, bool takes_password,
                            users_args *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (takes_password && strcmp(arg, "--password-file") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "xmppdctl: %s: --password-file needs a FILE\n", argv[0]);
                return CTL_EXIT_USAGE;
            }
            out->password_file = argv[++i];
        } else if (takes_password && strncmp(arg, "--password-file=", 16) == 0) {
            out->password_file = arg + 16;
        } else if (arg[0] == '-' && arg[1]) {
            fprintf(stderr, "xmppdctl: %s: unknown option '%s'\n", argv[0], arg);
            return CTL_EXIT_USAGE;
        } else if (out->jid) {
            fprintf(stderr, "xmppdctl: %s takes one JID\n", argv[0]);
            return CTL_EXIT_USAGE;
        } else {
            out->jid = arg;
        }
    }
    if (!out->jid) {
        fprintf(stderr, "xmppdctl: usage: xmppdctl %s JID%s\n", argv[0],
                takes_password ? " [--password-file FILE]" : "");
        return CTL_EXIT_USAGE;
    }
    return 0;
}

/* Loads the config and turns s into the normalized bare JID of an account
 * in a served domain. Returns 0 or CTL_EXIT_FAIL (printed). */
static int users_open(const char *config, const char *s, cfg **c_out,
                      jid **j_out)
{
    cfg_diag diag = {.line = 0};
    cfg *c;
    if (cfg_load(ctl_config_choose(config), &c, &diag) != 0) {
        cfg_diag_print(&diag);
        return CTL_EXIT_FAIL;
    }
    jid *j = NULL;
    int err = jid_parse(s, &j);
    char **domains = NULL;
    size_t n_domains = 0;
    int rc = CTL_EXIT_FAIL;
    if (err != 0)
        fprintf(stderr, "xmppdctl: \"%s\" is not a valid JID (%s)\n", s,
                err == XE_LIMIT ? "a part is over 1023 bytes" : "RFC 7622");
    else if (!jid_local(j) || !jid_is_bare(j))
        fprintf(stderr, "xmppdctl: \"%s\" is not a user's bare JID "
                "(user@domain, no resource)\n", s);
    else if (users_domains(c, &domains, &n_domains) != 0)
        ;
    else if (!users_domain_is_served(domains, n_domains, jid_domain(j)))
        fprintf(stderr, "xmppdctl: %s is not a domain this server serves; "
                "add <domain>%s</domain> to %s first\n", jid_domain(j),
                jid_domain(j), cfg_path(c));
    else
        rc = 0;
    proc_domains_free(domains, n_domains);
    if (rc != 0) {
        jid_free(j);
        cfg_free(c);
        return rc;
    }
    *c_out = c;
    *j_out = j;
    return 0;
}

/* adduser and passwd: the same, but for the request's name. */
static int users_set_password(const char *config, int argc, char **argv,
                              const char *request, const char *done)
{
    users_args args;
    int rc = users_parse_args(argc, argv, true, &args);
    if (rc != 0)
        return rc;
    cfg *c;
    jid *j;
    if (users_open(config, args.jid, &c, &j) != 0)
        return CTL_EXIT_FAIL;
    const char *user = jid_bare(j);
    char password[USERS_PASSWORD_MAX];
    rc = users_read_password(args.password_file, user, password, sizeof password);
    buf payload;
    buf_init(&payload);
    if (rc == 0) {
        buf_printf(&payload, "<%s xmlns='" USERS_NS "' user='", request);
        buf_append_xml(&payload, user, strlen(user), 1);
        buf_append_str(&payload, "'>");
        rc = users_append_scram(&payload, password);
        buf_printf(&payload, "</%s>", request);
    }
    explicit_bzero(password, sizeof password);
    users_run run = {.n_reqs = 0};
    if (rc == 0) {
        users_req_add(&run, user, "set", &payload);
        rc = users_exchange(c, &run);
    }
    if (rc == 0)
        rc = users_check_reply(&run.reqs[0], user);
    if (rc == 0)
        printf("%s %s\n", done, user);
    users_run_close(&run);
    buf_close(&payload);
    jid_free(j);
    cfg_free(c);
    return rc;
}

int ctl_cmd_adduser(const char *config, int argc, char **argv)
{
    return users_set_password(config, argc, argv, "account-create", "created");
}

int ctl_cmd_passwd(const char *config, int argc, char **argv)
{
    return users_set_password(config, argc, argv, "account-set-credentials",
                              "changed the password of");
}

int ctl_cmd_deluser(const char *config, int argc, char **argv)
{
    users_args args;
    int rc = users_parse_args(argc, argv, false, &args);
    if (rc != 0)
        return rc;
    cfg *c;
    jid *j;
    if (users_open(config, args.jid, &c, &j) != 0)
        return CTL_EXIT_FAIL;
    const char *user = jid_bare(j);
    buf payload;
    buf_init(&payload);
    buf_append_str(&payload, "<account-delete xmlns='" USERS_NS "' user='");
    buf_append_xml(&payload, user, strlen(user), 1);
    buf_append_str(&payload, "'/>");
    users_run run = {.n_reqs = 0};
    users_req_add(&run, user, "set", &payload);
    rc = users_exchange(c, &run);
    if (rc == 0)
        rc = users_check_reply(&run.reqs[0], user);
    if (rc == 0)
        printf("deleted %s\n", user);
    users_run_close(&run);
    buf_close(&payload);
    jid_free(j);
    cfg_free(c);
    return rc;
}

static void users_add_list(users_run *run, const char *domain)
{
    buf p;
    buf_init(&p);
    buf_append_str(&p, "<account-list xmlns='" USERS_NS "' domain='");
    buf_append_xml(&p, domain, strlen(domain), 1);
    buf_append_str(&p, "'/>");
    users_req_add(run, domain, "get", &p);
    buf_close(&p);
}

int ctl_cmd_listusers(const char *config, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "xmppdctl: listusers: unknown option '%s'\n", argv[i]);
            return CTL_EXIT_USAGE;
        }
    }
    cfg_diag diag = {.line = 0};
    cfg *c;
    if (cfg_load(ctl_config_choose(config), &c, &diag) != 0) {
        cfg_diag_print(&diag);
        return CTL_EXIT_FAIL;
    }
    char **domains;
    size_t n_domains;
    if (users_domains(c, &domains, &n_domains) != 0) {
        cfg_free(c);
        return CTL_EXIT_FAIL;
    }
    users_run run = {.n_reqs = 0};
    int rc = 0;
    if (argc == 1 && n_domains == 0) {
        fprintf(stderr, "xmppdctl: %s has no <domain>\n", cfg_path(c));
        rc = CTL_EXIT_FAIL;
    }
    for (int i = 1; i < argc && rc == 0; i++) {
        char *norm;
        if (jid_domain_normalize(argv[i], &norm) != 0) {
            fprintf(stderr, "xmppdctl: \"%s\" is not a valid domain\n", argv[i]);
            rc = CTL_EXIT_FAIL;
        } else if (!users_domain_is_served(domains, n_domains, norm)) {
            fprintf(stderr, "xmppdctl: %s is not a domain this server serves\n", norm);
            rc = CTL_EXIT_FAIL;
        } else {
            users_add_list(&run, norm);
        }
        free(norm);
    }
    for (size_t i = 0; argc == 1 && i < n_domains; i++)
        users_add_list(&run, domains[i]);
    if (rc == 0)
        rc = users_exchange(c, &run);
    for (size_t i = 0; rc == 0 && i < run.n_reqs; i++)
        rc = users_check_reply(&run.reqs[i], run.reqs[i].key);
    for (size_t i = 0; rc == 0 && i < run.n_reqs; i++) {
        xs_elem *accounts = xs_child(run.reqs[i].reply, "accounts", USERS_NS);
        for (xs_elem *a = accounts ? xs_first(accounts) : NULL; a; a = xs_next(a))
            if (strcmp(xs_name(a), "account") == 0 && xs_attr(a, "user"))
                printf("%s\n", xs_attr(a, "user"));
    }
    users_run_close(&run);
    proc_domains_free(domains, n_domains);
    cfg_free(c);
    return rc;
}
