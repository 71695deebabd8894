/* SPDX-License-Identifier: MIT */
/* bench/client_login.c: the XMPP login of xmppd-bench-client, one state a
 * step: stream header, STARTTLS, SASL (client_scram.c), resource bind, the
 * session where the server wants one, roster get and initial presence. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <string.h>

#include "bench/client.h"

void client_send_header(client *c)
{
    char buf[256];
    snprintf(buf, sizeof buf,
             "<?xml version='1.0'?><stream:stream to='%s' version='1.0' "
             "xmlns='jabber:client' "
             "xmlns:stream='http://etherx.jabber.org/streams'>",
             client_domain(c));
    c->has_open = false;
    client_send_str(c, buf);
}

static bool login_mentions(const frame *f, const char *s)
{
    return memmem(f->start, f->len, s, strlen(s)) != NULL;
}

static void send_roster_get(client *c)
{
    client_send_str(c, "<iq type='get' id='roster1'>"
                       "<query xmlns='jabber:iq:roster'/></iq>");
    c->state = ST_ROSTER;
}

static void login_done(client *c)
{
    client_send_str(c, "<presence/>");
    if (c->state == ST_DEAD)
        return;
    c->state = ST_READY;
    hist_add(&bench.login_h, uv_hrtime() - c->t_start);
    bench.logged_in++;
    bench.ready_now++;
    bench_after_login_step();
}

static void on_element(client *c, const frame *f)
{
    if (frame_is(f, "stream:error")) {
        size_t n;
        const char *cond = frame_first_child(f, &n);
        return client_fail(c, "stream error %.*s", cond ? (int)n : 1,
                           cond ? cond : "?");
    }
    switch (c->state) {
    case ST_FEATURES_PLAIN:
        if (!frame_is(f, "stream:features"))
            return;
        if (!login_mentions(f, "urn:ietf:params:xml:ns:xmpp-tls"))
            return client_fail(c, "no STARTTLS offered");
        client_send_str(c,
                        "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        c->state = ST_STARTTLS;
        return;
    case ST_STARTTLS:
        if (!frame_is(f, "proceed"))
            return client_fail(c, "STARTTLS refused");
        if (!client_tls_begin(c))
            return client_fail(c, "TLS start failed");
        return;
    case ST_FEATURES_TLS:
        if (!frame_is(f, "stream:features"))
            return;
        if (!login_mentions(f, ">SCRAM-SHA-1<"))
            return client_fail(c, "SCRAM-SHA-1 not offered");
        return scram_start(c);
    case ST_AUTH:
        if (frame_is(f, "challenge"))
            return scram_challenge(c, f);
        if (frame_is(f, "success"))
            return scram_success(c, f);
        return client_fail(c, "SASL failed: %.*s", (int)f->len, f->start);
    case ST_FEATURES_AUTH: {
        if (!frame_is(f, "stream:features"))
            return;
        c->needs_session =
            login_mentions(f, "urn:ietf:params:xml:ns:xmpp-session") &&
            !login_mentions(f, "<optional");
        client_send_str(c, "<iq type='set' id='bind1'><bind "
                           "xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                           "<resource>r</resource></bind></iq>");
        c->state = ST_BIND;
        return;
    }
    case ST_BIND:
    case ST_SESSION:
    case ST_ROSTER:
        if (!frame_is(f, "iq"))
            return;
        if (!frame_attr_is(f, "type", "result"))
            return client_fail(c, "iq failed: %.*s", (int)f->len, f->start);
        if (c->state == ST_BIND && c->needs_session) {
            client_send_str(
                c, "<iq type='set' id='sess1'><session "
                   "xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
            c->state = ST_SESSION;
        } else if (c->state == ST_ROSTER) {
            login_done(c);
        } else {
            send_roster_get(c);
        }
        return;
    case ST_READY:
        if (frame_is(f, "message"))
            msg_receive(c, f);
        return;
    default:
        return;
    }
}

void client_process_xml(client *c)
{
    size_t pos = 0;
    frame f;
    while (c->state != ST_DEAD) {
        frame_kind k = frame_next(c->rbuf, c->rlen, &pos, c->has_open, &f);
        if (k == FRAME_MORE)
            break;
        if (k == FRAME_OPEN) {
            c->has_open = true;
        } else if (k == FRAME_ELEMENT) {
            bool was_plain = !c->is_tls;
            on_element(c, &f);
            if (was_plain && c->is_tls)
                return; /* rlen was reset by client_tls_begin() */
        } else if (k == FRAME_CLOSE) {
            return client_fail(c, "server closed the stream");
        } else {
            return client_fail(c, "cannot frame the server's XML");
        }
    }
    if (c->state == ST_DEAD)
        return;
    if (pos) {
        memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
        c->rlen -= pos;
    }
}
