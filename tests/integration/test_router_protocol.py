# SPDX-License-Identifier: MIT
"""The router's component protocol (docs/component-protocol.md) driven with
raw XEP-0114 sockets: attaching, routing and its errors, the bind
extension, envelopes, membership events and the control socket."""
import re
import time

import pytest

from conftest import (NS_ACCEPT, NS_STANZA_ERRORS, NS_STREAM, NS_XMPPD_COMPONENT,
                      NS_XMPPD_ROUTE, NS_XMPPD_ROUTER, exchange, local, message, new_id,
                      nsof, stanza_error, stream_error)


def error_reply_ok(reply, sent_from, sent_to, mid, condition, name="message"):
    """An error bounce: type='error', to/from swapped, same id, the condition."""
    assert reply.is_(name, NS_ACCEPT), reply
    assert reply.get("type") == "error", reply
    assert reply.get("id") == mid, reply
    assert reply.get("from") == sent_to, reply
    assert reply.get("to") == sent_from, reply
    etype, cond = stanza_error(reply)
    assert cond == condition, reply
    assert etype in ("cancel", "wait", "modify", "auth"), reply
    err = reply.child("error")
    cond_el = [c for c in err if local(c.tag) == condition][0]
    assert nsof(cond_el.tag) == NS_STANZA_ERRORS, reply


def is_event(e):
    return (e.is_("route", NS_XMPPD_ROUTE) and e.get("from") == "router"
            and e.child("event", NS_XMPPD_ROUTER) is not None)


def not_event(e):
    return not is_event(e)


def inner_bytes(raw):
    """The bytes between an element's start tag and its end tag."""
    start = raw.index(b">") + 1
    end = raw.rindex(b"</")
    return raw[start:end]


def route(to, frm, inner, key=None):
    k = f" key='{key}'" if key else ""
    return f"<route xmlns='{NS_XMPPD_ROUTE}' to='{to}' from='{frm}'{k}>{inner}</route>"


def xmppd_component(router, name, instance, services=(), domains=()):
    """A raw connection attached as an xmppd component: instance bound,
    then each service and domain. Returns it with the bind replies checked."""
    c = router.attach(name)
    reply = c.bind(instance=instance)
    assert reply.get("type") is None and reply.get("instance") == instance, reply
    for s in services:
        reply = c.bind(kind="service", name=s)
        assert reply.get("type") is None, reply
    for d in domains:
        reply = c.bind(kind="domain", name=d)
        assert reply.get("type") is None, reply
    return c


# --- attaching ---------------------------------------------------------------

@pytest.mark.parametrize("via", ["tcp", "unix"])
def test_handshake_success(router, via):
    c = router.connect(via)
    header = c.open_stream("comp1.localhost")
    assert header.is_("stream", NS_STREAM)
    assert header.get("from") == "comp1.localhost"
    sid = header.get("id")
    assert sid and re.fullmatch(r"[0-9A-Za-z]{8,}", sid), header
    reply = c.handshake("secret-one")
    assert reply.is_("handshake", NS_ACCEPT) and len(reply.el) == 0, reply
    # Attached: it can be reached.
    other = router.attach("comp2.localhost")
    exchange(c, "a@comp1.localhost", other, "b@comp2.localhost")


def test_stream_ids_differ(router):
    ids = set()
    for _ in range(5):
        c = router.connect()
        ids.add(c.open_stream("comp1.localhost").get("id"))
        c.close()
    assert len(ids) == 5


def test_wrong_secret_is_not_authorized(router):
    c = router.connect()
    c.open_stream("comp1.localhost")
    reply = c.handshake("not-the-secret")
    assert stream_error(reply) == "not-authorized", reply
    rest = c.wait_closed(5)
    assert not rest, rest
    assert c.stream_closed, "no </stream:stream> after the stream error"
    router.wait_for_log(r"handshake failed")


def test_stanza_before_handshake_is_not_authorized(router):
    c = router.connect()
    c.open_stream("comp1.localhost")
    c.send(message("a@comp1.localhost", "b@comp2.localhost"))
    assert c.recv_stream_error() == "not-authorized"
    c.wait_closed(5)


def test_unknown_name_is_host_unknown(router):
    c = router.connect()
    header = c.open_stream("nobody.localhost")
    assert header.get("from") is None, header
    assert c.recv_stream_error() == "host-unknown"
    c.wait_closed(5)


def test_header_without_to_is_host_unknown(router):
    c = router.connect()
    c.send("<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams'"
           " xmlns='jabber:component:accept'>")
    assert c.recv_stream_error() == "host-unknown"
    c.wait_closed(5)


# --- routing -----------------------------------------------------------------

def test_message_is_forwarded_byte_for_byte(router):
    c1 = router.attach("comp1.localhost")
    c2 = router.attach("comp2.localhost")
    # Odd quoting, spacing, entities, attribute order and foreign namespaces:
    # any re-serialization would change these bytes.
    raw = ("<message to=\"bob@comp2.localhost/res\" from='alice@comp1.localhost/x'   "
           "id=\"raw1\" xml:lang='en' ><body>a &amp; b &lt; c &#x263A; \u263a \"q\" 'a'</body>"
           "<thread>t1</thread><x xmlns=\"urn:example:raw\" b='2' a=\"1\"><y>  spaced  </y>"
           "<z   /></x></message>").encode("utf-8")
    c1.send(raw)
    got = c2.recv()
    assert got.raw == raw
    assert got.text_of("body") == "a & b < c \u263a \u263a \"q\" 'a'"
    # And the other way round, iq get and result included.
    c2.send("<iq type='get' id='q1' from='bob@comp2.localhost/res' to='comp1.localhost'>"
            "<query xmlns='jabber:iq:version'/></iq>")
    iq = c1.recv()
    assert iq.is_("iq") and iq.get("type") == "get" and iq.get("id") == "q1", iq
    c1.send("<iq type='result' id='q1' from='comp1.localhost' to='bob@comp2.localhost/res'>"
            "<query xmlns='jabber:iq:version'><name>c1</name></query></iq>")
    res = c2.recv()
    assert res.get("type") == "result" and res.get("id") == "q1", res
    assert res.child("query").find("{jabber:iq:version}name").text == "c1"


def test_presence_and_any_local_part_and_case_of_domain(router):
    c1 = router.attach("comp1.localhost")
    c2 = router.attach("comp2.localhost")
    for to in ("comp2.localhost", "x@comp2.localhost", "y@comp2.localhost/r/with/slash",
               "Z@COMP2.Localhost/R"):
        pid = new_id("p")
        c1.send(f"<presence from='a@comp1.localhost' to='{to}' id='{pid}'/>")
        got = c2.recv()
        assert got.is_("presence") and got.get("id") == pid and got.get("to") == to, got


def test_configured_but_detached_component_is_service_unavailable(router):
    c1 = router.attach("comp1.localhost")
    frm, to = "a@comp1.localhost/r", "x@detached.localhost"
    mid = new_id()
    c1.send(message(frm, to, "are you there", mid))
    reply = c1.recv()
    error_reply_ok(reply, frm, to, mid, "service-unavailable")
    assert reply.text_of("body") == "are you there", reply
    # An iq too.
    c1.send(f"<iq type='get' id='iq-d' from='{frm}' to='detached.localhost'>"
            "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
    error_reply_ok(c1.recv(), frm, "detached.localhost", "iq-d", "service-unavailable", "iq")


def test_component_that_left_is_service_unavailable(router):
    c1 = router.attach("comp1.localhost")
    c3 = router.attach("comp3.localhost")
    exchange(c1, "a@comp1.localhost", c3, "b@comp3.localhost")
    c3.close()
    router.wait_for_report(lambda t: "comp3.localhost" not in t, what="comp3 gone")
    mid = new_id()
    c1.send(message("a@comp1.localhost", "b@comp3.localhost", mid=mid))
    error_reply_ok(c1.recv(), "a@comp1.localhost", "b@comp3.localhost", mid,
                   "service-unavailable")


def test_unserved_local_domain_is_service_unavailable(router):
    c1 = router.attach("comp1.localhost")
    mid = new_id()
    c1.send(message("a@comp1.localhost", "user@localhost/res", mid=mid))
    error_reply_ok(c1.recv(), "a@comp1.localhost", "user@localhost/res", mid,
                   "service-unavailable")


def test_unknown_remote_domain_without_default_route(router):
    c1 = router.attach("comp1.localhost")
    mid = new_id()
    c1.send(message("a@comp1.localhost", "someone@example.org", mid=mid))
    error_reply_ok(c1.recv(), "a@comp1.localhost", "someone@example.org", mid,
                   "remote-server-not-found")


def test_default_route_to_s2s(start_router):
    router = start_router(default_route="s2s")
    c1 = router.attach("comp1.localhost")
    # Configured but nobody serves it: remote-server-not-found.
    mid = new_id()
    c1.send(message("a@comp1.localhost", "someone@example.org", mid=mid))
    error_reply_ok(c1.recv(), "a@comp1.localhost", "someone@example.org", mid,
                   "remote-server-not-found")
    s2s = xmppd_component(router, "s2s", "s2s/1", services=["s2s"])
    mid = new_id()
    sent = message("a@comp1.localhost", "someone@example.org/r", "out", mid)
    c1.send(sent)
    got, _ = s2s.recv_until(not_event)
    assert got.raw == sent.encode()
    # s2s may send from remote domains (allow from='remote') ...
    mid = new_id()
    s2s.send(message("someone@example.org/r", "a@comp1.localhost", "in", mid))
    got = c1.recv()
    assert got.get("id") == mid and got.get("from") == "someone@example.org/r", got
    # ... but not from the suite's own domains.
    mid = new_id()
    s2s.send(message("x@localhost", "a@comp1.localhost", "spoof", mid))
    reply, _ = s2s.recv_until(not_event)
    error_reply_ok(reply, "x@localhost", "a@comp1.localhost", mid, "forbidden")
    c1.assert_silent()


def test_impersonation_is_forbidden(router):
    c1 = router.attach("comp1.localhost")
    c2 = router.attach("comp2.localhost")
    for frm in ("mallory@comp2.localhost", "comp2.localhost", "admin@localhost",
                "x@example.org", "a@comp1.localhost.evil", "a@xcomp1.localhost"):
        mid = new_id()
        c1.send(message(frm, "bob@comp2.localhost", "spoofed", mid))
        error_reply_ok(c1.recv(), frm, "bob@comp2.localhost", mid, "forbidden")
    # The receiver got none of it: the next thing it sees is a real message,
    # sent after the spoofed ones on the same connection.
    sentinel = new_id("sentinel")
    c1.send(message("a@comp1.localhost", "bob@comp2.localhost", "real", sentinel))
    got = c2.recv()
    assert got.get("id") == sentinel, got
    c2.assert_silent()
    assert "refused a message from mallory@comp2.localhost" in router.log_text()


def test_stanza_without_from_is_bad_request(router):
    c1 = router.attach("comp1.localhost")
    c2 = router.attach("comp2.localhost")
    c1.send("<message to='bob@comp2.localhost' id='nofrom'><body>x</body></message>")
    reply = c1.recv()
    assert reply.get("type") == "error" and reply.get("id") == "nofrom", reply
    assert stanza_error(reply)[1] == "bad-request", reply
    c1.send("<iq type='get' from='' to='comp2.localhost' id='emptyfrom'>"
            "<ping xmlns='urn:xmpp:ping'/></iq>")
    reply = c1.recv()
    assert reply.get("type") == "error" and reply.get("id") == "emptyfrom", reply
    assert stanza_error(reply)[1] == "bad-request", reply
    sentinel = new_id("sentinel")
    c1.send(message("a@comp1.localhost", "bob@comp2.localhost", "real", sentinel))
    assert c2.recv().get("id") == sentinel
    c2.assert_silent()


def test_errors_and_results_to_missing_destination_get_no_reply(router):
    c1 = router.attach("comp1.localhost")
    frm = "a@comp1.localhost"
    c1.send(f"<message type='error' from='{frm}' to='x@detached.localhost' id='e1'>"
            "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
            "</error></message>")
    c1.send(f"<iq type='error' from='{frm}' to='detached.localhost' id='e2'/>")
    c1.send(f"<iq type='result' from='{frm}' to='detached.localhost' id='e3'/>")
    c1.send(f"<presence type='error' from='{frm}' to='x@localhost' id='e4'/>")
    c1.send(f"<message type='error' from='{frm}' to='x@example.org' id='e5'/>")
    # A normal stanza after them: its bounce must be the first thing back.
    sentinel = new_id("sentinel")
    c1.send(message(frm, "x@detached.localhost", "ping", sentinel))
    error_reply_ok(c1.recv(), frm, "x@detached.localhost", sentinel, "service-unavailable")
    c1.assert_silent()


def test_unsupported_top_level_element_closes_the_stream(router):
    c1 = router.attach("comp1.localhost")
    c1.send("<foo xmlns='urn:example:foo' from='a@comp1.localhost'/>")
    assert c1.recv_stream_error() == "unsupported-stanza-type"
    c1.wait_closed(5)


# --- the bind extension -------------------------------------------------------

def test_bind_allowed_and_refused(router):
    sm = router.attach("sm")
    # A bind that does not name the instance first is refused.
    reply = sm.bind(kind="service", name="sm")
    assert reply.get("type") == "error" and stanza_error(reply)[1] == "bad-request", reply
    reply = sm.bind(id="b0", instance="sm/1")
    assert reply.get("type") is None, reply
    assert reply.get("id") == "b0" and reply.get("instance") == "sm/1", reply
    reply = sm.bind(id="b1", kind="service", name="sm")
    assert reply.get("type") is None, reply
    assert (reply.get("id"), reply.get("name"), reply.get("kind"), reply.get("instance")) == \
        ("b1", "sm", "service", "sm/1"), reply
    reply = sm.bind(id="b2", kind="domain", name="LocalHost")
    assert reply.get("type") is None, reply
    assert (reply.get("name"), reply.get("kind")) == ("localhost", "domain"), reply
    # Not in the ACL.
    for kind, name in (("service", "c2s"), ("domain", "comp2.localhost"),
                       ("domain", "other.example")):
        reply = sm.bind(id="bx", kind=kind, name=name)
        assert reply.get("type") == "error", reply
        assert reply.get("id") == "bx", reply
        assert stanza_error(reply)[1] == "not-allowed", reply
    reply = sm.bind(kind="sideways", name="sm")
    assert reply.get("type") == "error" and stanza_error(reply)[1] == "bad-request", reply

    # The domain bind took effect: stanzas to localhost reach sm, and sm may
    # send from it.
    c1 = router.attach("comp1.localhost")
    sent = message("a@comp1.localhost", "juliet@localhost/balcony", "hi")
    c1.send(sent)
    got, _ = sm.recv_until(not_event)
    assert got.raw == sent.encode()
    exchange(sm, "juliet@localhost/balcony", c1, "a@comp1.localhost")
    # comp2.localhost was not bound: sm may not send from it.
    mid = new_id()
    sm.send(message("x@comp2.localhost", "a@comp1.localhost", "no", mid))
    reply, _ = sm.recv_until(not_event)
    error_reply_ok(reply, "x@comp2.localhost", "a@comp1.localhost", mid, "forbidden")


def test_bind_instance_name_conflict(router):
    sm1 = xmppd_component(router, "sm", "sm/1")
    sm2 = router.attach("sm")
    reply = sm2.bind(instance="sm/1")
    assert reply.get("type") == "error" and stanza_error(reply)[1] == "conflict", reply
    reply = sm2.bind(instance="sm/2")
    assert reply.get("type") is None, reply
    # A connection keeps its first instance name.
    reply = sm2.bind(instance="sm/3")
    assert reply.get("type") == "error", reply
    # After sm/1 leaves, its name is free again.
    sm1.close()
    router.wait_for_report(lambda t: "instance sm/1 " not in t, what="sm/1 gone")
    sm3 = router.attach("sm")
    reply = sm3.bind(instance="sm/1")
    assert reply.get("type") is None, reply


# --- envelopes -----------------------------------------------------------------

def test_envelopes_between_xmppd_components(router):
    # A plain XEP-0114 component is attached all along: it must never see
    # envelopes or events.
    c1 = router.attach("comp1.localhost")
    sm = xmppd_component(router, "sm", "sm/1", services=["sm"])
    c2s = xmppd_component(router, "c2s", "c2s/host1", services=["c2s"])
    inner = ("<message xmlns='jabber:client' from='juliet@localhost/balcony' "
             "to=\"romeo@localhost\" id='e1'><body>wherefore &amp; why</body></message>")
    # To a service, keyed by the bare JID.
    env = route("sm", "c2s/host1", inner, key="juliet@localhost")
    c2s.send(env)
    got, _ = sm.recv_until(not_event)
    assert got.raw == env.encode()
    assert got.child("message", "jabber:client") is not None
    # To an instance.
    env = route("c2s/host1", "sm/1", inner.replace("e1", "e2"), key="romeo@localhost")
    sm.send(env)
    got, _ = c2s.recv_until(not_event)
    assert got.raw == env.encode()
    # To the service of the other side, without a key.
    env = route("c2s", "sm/1", "<session xmlns='urn:xmppd:session' action='end'/>")
    sm.send(env)
    got, _ = c2s.recv_until(not_event)
    assert got.raw == env.encode()
    c1.assert_silent(0.2)


def test_envelopes_to_a_service_are_spread_by_key(router):
    sm1 = xmppd_component(router, "sm", "sm/1", services=["sm"])
    sm2 = xmppd_component(router, "sm", "sm/2", services=["sm"])
    c2s = xmppd_component(router, "c2s", "c2s/host1")
    keys = [f"user{i}@localhost" for i in range(200)]
    for rnd in range(2):
        for k in keys:
            c2s.send(route("sm", "c2s/host1", f"<ping xmlns='urn:t' k='{k}' r='{rnd}'/>", key=k))
    where = {}
    seen = {}
    pending = {"sm/1": sm1, "sm/2": sm2}
    total = 0
    deadline = time.monotonic() + 10
    while total < 400 and time.monotonic() < deadline:
        for inst, conn in pending.items():
            for e in conn.poll(0.05):
                if is_event(e):
                    continue
                p = e.child("ping", "urn:t")
                seen.setdefault(p.get("k"), []).append((inst, p.get("r")))
                total += 1
    assert total == 400, f"got {total} of 400 envelopes"
    for k in keys:
        insts = {inst for inst, _ in seen[k]}
        assert len(seen[k]) == 2 and len(insts) == 1, (k, seen[k])
        where[k] = insts.pop()
    share = sum(1 for v in where.values() if v == "sm/1") / len(keys)
    assert 0.25 <= share <= 0.75, f"sm/1 got {share:.0%} of the keys"


def test_envelope_from_another_instance_is_refused(router):
    sm = xmppd_component(router, "sm", "sm/1", services=["sm"])
    c2s = xmppd_component(router, "c2s", "c2s/host1")
    c1 = router.attach("comp1.localhost")
    # c2s pretends to be sm/1, or names no sender at all; comp1 is not an
    # xmppd component and may send no envelopes at all.
    c2s.send(route("sm", "sm/1", "<message xmlns='jabber:client' id='forged1'/>"))
    c2s.send(f"<route xmlns='{NS_XMPPD_ROUTE}' to='sm'><message xmlns='jabber:client' "
             "id='forged2'/></route>")
    c1.send(route("sm", "comp1.localhost", "<message xmlns='jabber:client' id='forged3'/>"))
    c1.send(route("c2s/host1", "sm/1", "<message xmlns='jabber:client' id='forged4'/>"))
    sentinel = route("sm", "c2s/host1", "<message xmlns='jabber:client' id='real'/>")
    c2s.send(sentinel)
    got, _ = sm.recv_until(not_event)
    assert got.raw == sentinel.encode(), got
    # Nothing came back to the forgers either.
    answer = route("c2s/host1", "sm/1", "<message xmlns='jabber:client' id='answer'/>")
    sm.send(answer)
    got, _ = c2s.recv_until(not_event)
    assert got.raw == answer.encode(), got
    c1.assert_silent(0.2)
    sm.assert_silent(0.1)
    assert len(re.findall(r"refused an envelope", router.log_text())) >= 4


def test_envelope_to_unknown_service_comes_back(router):
    c2s = xmppd_component(router, "c2s", "c2s/host1")
    inner = ("<message xmlns='jabber:client' from='juliet@localhost/balcony' to='romeo@localhost' "
             "id='lost1'><body>keep  me &amp; \u00e9xactly</body><x xmlns=\"urn:x\" a='1'/></message>")
    for target in ("nosuch", "sm/9", "sm"):
        c2s.send(route(target, "c2s/host1", inner, key="romeo@localhost"))
        got, _ = c2s.recv_until(not_event)
        assert got.is_("route", NS_XMPPD_ROUTE), got
        assert got.get("type") == "error", got
        assert got.get("condition") == "service-unavailable", got
        assert got.get("from") == "router" and got.get("to") == "c2s/host1", got
        assert got.get("key") == "romeo@localhost", got
        assert inner_bytes(got.raw) == inner.encode("utf-8"), got
    # An error envelope that cannot be delivered is dropped, not bounced again.
    c2s.send(f"<route xmlns='{NS_XMPPD_ROUTE}' to='nosuch' from='c2s/host1' type='error' "
             f"condition='service-unavailable'>{inner}</route>")
    c2s.send(route("nosuch", "c2s/host1", "<message xmlns='jabber:client' id='sentinel'/>"))
    got, _ = c2s.recv_until(not_event)
    assert b"id='sentinel'" in got.raw, got
    c2s.assert_silent()


# --- membership events ------------------------------------------------------------

def event_summary(e):
    ev = e.child("event", NS_XMPPD_ROUTER)
    return (ev.get("type"), ev.get("instance"), ev.get("name"), ev.get("kind"))


def test_membership_events(router):
    sm = xmppd_component(router, "sm", "sm/1", services=["sm"], domains=["localhost"])
    c2s = router.attach("c2s")
    # comp1 is plain XEP-0114: it must never hear about any of this.
    c1 = router.attach("comp1.localhost")

    # c2s binds its instance: it gets a snapshot of who is there (before the
    # reply to its bind), sm hears that c2s attached.
    c2s.send(f"<bind xmlns='{NS_XMPPD_COMPONENT}' id='i1' instance='c2s/host1'/>")
    reply, before = c2s.recv_until(lambda e: e.is_("bind", NS_XMPPD_COMPONENT))
    assert reply.get("type") is None, reply
    assert all(is_event(e) for e in before), before
    assert all(e.get("to") == "c2s/host1" for e in before), before
    snapshot = {event_summary(e) for e in before}
    assert snapshot == {("attach", "sm/1", None, None),
                        ("bind", "sm/1", "sm", "service"),
                        ("bind", "sm/1", "localhost", "domain")}, snapshot
    ev, skipped = sm.recv_until(is_event)
    assert not skipped, skipped
    assert ev.get("to") == "sm/1", ev
    assert event_summary(ev) == ("attach", "c2s/host1", None, None), ev

    reply = c2s.bind(kind="service", name="c2s")
    assert reply.get("type") is None, reply
    ev, skipped = sm.recv_until(is_event)
    assert event_summary(ev) == ("bind", "c2s/host1", "c2s", "service"), ev

    c2s.close()
    ev, skipped = sm.recv_until(is_event)
    assert not skipped, skipped
    assert event_summary(ev) == ("detach", "c2s/host1", None, None), ev

    # A refused bind is no event.
    reply = sm.bind(kind="service", name="c2s")
    assert reply.get("type") == "error", reply
    c1.assert_silent(0.2)


# --- the control socket -------------------------------------------------------------

def test_control_socket_report(router):
    c1 = router.attach("comp1.localhost")
    c2 = router.attach("comp2.localhost", via="unix")
    sm = xmppd_component(router, "sm", "sm/1", services=["sm"])
    for i in range(3):
        c1.send(message("a@comp1.localhost", "b@comp2.localhost", f"n{i}"))
    for i in range(3):
        c2.recv()
    c1.send(message("a@comp1.localhost", "x@detached.localhost"))
    c1.recv()
    text = router.report()
    lines = text.splitlines()
    m = re.match(r"router pid (\d+) uptime (\d+)s connections (\d+)$", lines[0])
    assert m, text
    assert int(m.group(1)) == router.pid
    assert int(m.group(3)) == 3, text
    m = re.match(r"routed (\d+) stanzas (\d+) bytes; bounced (\d+); refused (\d+); "
                 r"to default route (\d+); attached (\d+); detached (\d+)$", lines[1])
    assert m, text
    routed, nbytes, bounced, refused, to_default, attached, detached = map(int, m.groups())
    assert routed >= 3 and nbytes > 3 * 50 and bounced == 1, text
    assert attached == 3 and detached == 0, text
    comps = {}
    for line in lines[2:]:
        m = re.match(r"component (\S+) instance (\S+) peer (\S+) up (\d+)s in (\d+) stanzas "
                     r"(\d+) bytes out (\d+) stanzas queued (\d+) bytes bounced (\d+) binds(.*)$",
                     line)
        assert m, line
        comps[m.group(1)] = m
    assert set(comps) == {"comp1.localhost", "comp2.localhost", "sm"}, text
    c1r, c2r, smr = comps["comp1.localhost"], comps["comp2.localhost"], comps["sm"]
    assert c1r.group(2).startswith("comp1.localhost#"), text
    assert c1r.group(3).startswith("127.0.0.1:") and c2r.group(3) == "unix", text
    assert int(c1r.group(5)) == 4 and int(c2r.group(7)) == 3, text
    assert "domain:comp1.localhost" in c1r.group(10).split(), text
    assert smr.group(2) == "sm/1", text
    assert set(smr.group(10).split()) == {"service:sm/1", "service:sm"}, text
    c2.close()
    router.wait_for_report(lambda t: "comp2.localhost" not in t and "detached 1" in t,
                           what="comp2 detached")


def test_a_client_namespace_stream_gets_invalid_namespace(router):
    """A client that dials the component port by mistake is told so."""
    import socket
    s = socket.create_connection(("127.0.0.1", router.port), timeout=5)
    s.sendall(b"<stream:stream xmlns='jabber:client' "
              b"xmlns:stream='http://etherx.jabber.org/streams' to='localhost'>")
    data = b""
    while b"</stream:stream>" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    assert b"<invalid-namespace xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in data
