/* SPDX-License-Identifier: MIT */
/* router/accept.c: XEP-0114 Jabber Component Protocol, the accepting side:
 * the stream header names the component, <handshake> proves the secret. */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/jid.h"
#include "libcommon/log.h"
#include "router/router.h"

static void accept_send_header(router_conn *rc, const char *from)
{
    buf out;
    buf_init(&out);
    buf_append_str(&out, "<?xml version='1.0'?><stream:stream xmlns:stream='" XS_NS_STREAMS
                         "' xmlns='" XS_NS_COMPONENT "' id='");
    buf_append_str(&out, rc->stream_id);
    if (from) {
        buf_append_str(&out, "' from='");
        buf_append_xml(&out, from, strlen(from), 1);
    }
    buf_append_str(&out, "'>");
    router_conn_send(rc, buf_data(&out), buf_len(&out));
    buf_close(&out);
}

void router_accept_header(router_conn *rc, xs_elem *header)
{
    unsigned char id[16];
    gnutls_rnd(GNUTLS_RND_NONCE, id, sizeof id);
    for (size_t i = 0; i < sizeof id; i++)
        snprintf(rc->stream_id + 2 * i, 3, "%02x", id[i]);

    const char *to = xs_attr(header, "to");
    char *norm = NULL;
    const router_component_cfg *cc = NULL;
    if (to) {
        cc = router_config_component(&rc->r->config, to);
        if (!cc && jid_domain_normalize(to, &norm) == 0)
            cc = router_config_component(&rc->r->config, norm);
    }
    free(norm);
    accept_send_header(rc, cc ? cc->name : NULL);
    const char *ns = xstream_content_ns(rc->xs);
    if (!ns || strcmp(ns, XS_NS_COMPONENT) != 0) {
        char esc[128];
        log_warn(rc->who, "stream in namespace %s, not " XS_NS_COMPONENT "; closing",
                 ns ? log_escape(ns, strlen(ns), esc, sizeof esc) : "(none)");
        router_conn_close(rc, XS_STREAM_INVALID_NAMESPACE, "this is a component port");
        return;
    }
    if (!cc) {
        char esc[128];
        log_warn(rc->who, "stream for unknown component %s; closing",
                 to ? log_escape(to, strlen(to), esc, sizeof esc) : "(no to)");
        router_conn_close(rc, XS_STREAM_HOST_UNKNOWN, "no such component in the config");
        return;
    }
    rc->cfg = cc;
    snprintf(rc->who, sizeof rc->who, "router conn#%u %s %s", rc->id,
             net_conn_peer(rc->net), cc->name);
    rc->state = ROUTER_CONN_HANDSHAKE;
}

/* Lower-case hex SHA-1 of stream id + secret (XEP-0114 §3). */
static void accept_expected(const router_conn *rc, char hex[41])
{
    char *input = xasprintf("%s%s", rc->stream_id, rc->cfg->secret);
    unsigned char digest[20];
    gnutls_hash_fast(GNUTLS_DIG_SHA1, input, strlen(input), digest);
    free(input);
    for (size_t i = 0; i < sizeof digest; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

/* Compares in constant time, ignoring the case of hex letters. */
static bool accept_digest_matches(const char *got, const char *want)
{
    size_t n = strlen(want);
    if (strlen(got) != n)
        return false;
    unsigned diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned)((got[i] | 0x20) ^ want[i]);
    return diff == 0;
}

void router_accept_handshake(router_conn *rc, xs_elem *st)
{
    if (strcmp(xs_name(st), "handshake") != 0 || !xs_ns(st) ||
        strcmp(xs_ns(st), XS_NS_COMPONENT) != 0) {
        log_warn(rc->who, "sent <%s> before the handshake; closing", xs_name(st));
        router_conn_close(rc, XS_STREAM_NOT_AUTHORIZED, "handshake first");
        return;
    }
    char want[41];
    accept_expected(rc, want);
    if (!accept_digest_matches(xs_text(st), want)) {
        log_warn(rc->who, "handshake failed: wrong secret; closing");
        router_conn_close(rc, XS_STREAM_NOT_AUTHORIZED, "wrong secret");
        return;
    }
    rc->state = ROUTER_CONN_READY;
    rc->attached_ms = net_now_ms();
    rc->instance = xasprintf("%s#%u", rc->cfg->name, rc->id);
    rc->seed = router_hash(rc->instance, strlen(rc->instance));
    if (rc->cfg->binds_name)
        router_bind(rc, rc->cfg->name, false);
    rc->r->stats.attached++;
    router_conn_send(rc, "<handshake/>", 12);
    log_info(rc->who, "component attached%s", rc->cfg->binds_name ? " and serves its name" : "");
}
