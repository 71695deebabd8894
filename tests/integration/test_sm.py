# SPDX-License-Identifier: MIT
"""xmppd-sm with the real router and store; the test plays c2s per
docs/session-protocol.md."""
import pytest

from conftest import NS_STANZA_ERRORS, local, nsof
from sm_harness import NS_CLIENT, new_id, sm_suite  # noqa: F401

A = "alice@localhost"
B = "bob@localhost"
NS_ROSTER = "jabber:iq:roster"


def error_condition(el):
    for err in el:
        if local(err.tag) == "error":
            for c in err:
                if nsof(c.tag) == NS_STANZA_ERRORS and local(c.tag) != "text":
                    return local(c.tag)
    return None


def presence(c, full, prio=None):
    p = f"<priority>{prio}</priority>" if prio is not None else ""
    c.send(full, f"<presence>{p}</presence>")


def iq(c, full, payload, to=None, itype="get"):
    iid = new_id()
    t = f" to='{to}'" if to else ""
    c.send(full, f"<iq type='{itype}' id='{iid}'{t}>{payload}</iq>")
    return c.recv_stanza(full, "iq", lambda i: i.get("id") == iid)


def test_session_start_and_replace(sm_suite):
    _, c = sm_suite()
    c.start(A + "/phone")
    c.envelope(f"<session xmlns='urn:xmppd:session' action='start' jid='{A}/phone'/>", A,
               to="sm")
    _, end = c.recv(lambda e, i: local(i.tag) == "session")
    assert end.get("action") == "end" and end.get("condition") == "conflict"
    _, started = c.recv(lambda e, i: local(i.tag) == "session")
    assert started.get("action") == "started" and started.get("jid") == A + "/phone"
    c.start(A + "/laptop")


def test_bare_message_goes_to_highest_priority(sm_suite):
    _, c = sm_suite()
    for res, prio in (("r2", 2), ("r1", 1), ("r3", 3), ("r10", 10)):
        c.start(f"{A}/{res}")
        presence(c, f"{A}/{res}", prio)
    c.start(B + "/x")
    c.send(B + "/x", f"<message to='{A}' type='chat' id='m1'><body>one</body></message>")
    got = c.recv_stanza(f"{A}/r10", "message")
    assert got.find(f"{{{NS_CLIENT}}}body").text == "one"
    c.send(f"{A}/r10", "<presence type='unavailable'/>")
    c.send(B + "/x", f"<message to='{A}' type='chat' id='m2'><body>two</body></message>")
    got = c.recv_stanza(f"{A}/r3", "message")
    assert got.get("id") == "m2" and got.get("from") == B + "/x"


def test_offline_then_delivered_with_delay(sm_suite):
    _, c = sm_suite()
    c.account(A)
    c.start(B + "/x")
    for n in range(3):
        c.send(B + "/x", f"<message to='{A}' id='o{n}'><body>off {n}</body></message>")
    c.quiet(lambda i: i.get("type") == "error", 1.0)
    c.start(A + "/phone")
    presence(c, A + "/phone", 1)
    ids = []
    for _ in range(3):
        m = c.recv_stanza(A + "/phone", "message")
        delay = m.find("{urn:xmpp:delay}delay")
        assert delay is not None and delay.get("from") == "localhost" and delay.get("stamp")
        ids.append(m.get("id"))
    assert ids == ["o0", "o1", "o2"]
    c.end(A + "/phone")
    c.start(A + "/phone")
    presence(c, A + "/phone", 1)
    c.quiet(lambda i: local(i.tag) == "message", 1.0)   # deleted after delivery


def test_offline_quota_bounces(sm_suite):
    _, c = sm_suite(offline_max=1)
    c.account(A)
    c.start(B + "/x")
    c.send(B + "/x", f"<message to='{A}' id='q1'><body>1</body></message>")
    c.send(B + "/x", f"<message to='{A}' id='q2'><body>2</body></message>")
    err = c.recv_stanza(B + "/x", "message", lambda i: i.get("type") == "error")
    assert err.get("id") == "q2" and error_condition(err)


def test_a_message_to_a_user_without_an_account_bounces(sm_suite):
    """RFC 6121 §8.5.2.2.1 (and §8.5.1): no such account, so nothing is
    stored; the sender gets service-unavailable."""
    _, c = sm_suite()
    c.start(B + "/x")
    c.send(B + "/x", "<message to='nobody@localhost' id='n1' type='chat'><body>hi</body></message>")
    err = c.recv_stanza(B + "/x", "message", lambda i: i.get("type") == "error")
    assert err.get("id") == "n1" and error_condition(err) == "service-unavailable", err


def test_roster_set_get_push_remove(sm_suite):
    _, c = sm_suite()
    c.start(A + "/phone")
    r = iq(c, A + "/phone", f"<query xmlns='{NS_ROSTER}'/>")
    assert r.get("type") == "result"
    ver0 = r.find(f"{{{NS_ROSTER}}}query").get("ver")
    iid = new_id()
    c.send(A + "/phone", f"<iq type='set' id='{iid}'><query xmlns='{NS_ROSTER}'>"
           f"<item jid='{B}' name='Bob'><group>Friends</group></item></query></iq>")
    push = c.recv_stanza(A + "/phone", "iq", lambda i: i.get("type") == "set")
    item = push.find(f"{{{NS_ROSTER}}}query/{{{NS_ROSTER}}}item")
    assert item.get("jid") == B and item.get("subscription") == "none"
    assert item.find(f"{{{NS_ROSTER}}}group").text == "Friends"
    ver1 = push.find(f"{{{NS_ROSTER}}}query").get("ver")
    assert ver1 != ver0
    res = c.recv_stanza(A + "/phone", "iq", lambda i: i.get("id") == iid)
    assert res.get("type") == "result"
    r = iq(c, A + "/phone", f"<query xmlns='{NS_ROSTER}' ver='{ver1}'/>")
    assert r.get("type") == "result" and len(r) == 0       # unchanged
    r = iq(c, A + "/phone", f"<query xmlns='{NS_ROSTER}'/>")
    items = r.findall(f"{{{NS_ROSTER}}}query/{{{NS_ROSTER}}}item")
    assert [(i.get("jid"), i.get("name")) for i in items] == [(B, "Bob")]
    iid = new_id()
    c.send(A + "/phone", f"<iq type='set' id='{iid}'><query xmlns='{NS_ROSTER}'>"
           f"<item jid='{B}' subscription='remove'/></query></iq>")
    push = c.recv_stanza(A + "/phone", "iq", lambda i: i.get("type") == "set")
    assert push.find(f".//{{{NS_ROSTER}}}item").get("subscription") == "remove"
    r = iq(c, A + "/phone", f"<query xmlns='{NS_ROSTER}'/>")
    assert not r.findall(f".//{{{NS_ROSTER}}}item")


def subscribe_both_ways(c, a, b):
    """a subscribes to b and b approves; returns once a has both the
    subscribed and b's current presence (in either order)."""
    c.send(a, f"<presence to='{b.split('/')[0]}' type='subscribe'/>")
    sub = c.recv_stanza(b, "presence", lambda i: i.get("type") == "subscribe")
    assert sub.get("from") == a.split("/")[0]
    c.send(b, f"<presence to='{a.split('/')[0]}' type='subscribed'/>")
    seen = set()
    while seen != {"subscribed", "available"}:
        p = c.recv_stanza(a, "presence")
        seen.add(p.get("type") or "available")


def test_subscription_and_presence_broadcast(sm_suite):
    _, c = sm_suite()
    a, b = A + "/phone", B + "/desk"
    c.start(a)
    c.start(b)
    iq(c, a, f"<query xmlns='{NS_ROSTER}'/>")
    iq(c, b, f"<query xmlns='{NS_ROSTER}'/>")
    presence(c, a, 1)
    presence(c, b, 1)
    subscribe_both_ways(c, a, b)       # alice sees bob
    c.send(b, "<presence><show>away</show></presence>")
    got = c.recv_stanza(a, "presence", lambda i: i.get("from") == b)
    assert got.find(f"{{{NS_CLIENT}}}show").text == "away"
    r = iq(c, a, f"<query xmlns='{NS_ROSTER}'/>")
    item = r.find(f".//{{{NS_ROSTER}}}item")
    assert item.get("jid") == B and item.get("subscription") == "to"
    # the c2s goes away: its sessions end and contacts hear unavailable
    c.end(b)
    got = c.recv_stanza(a, "presence", lambda i: i.get("from") == b)
    assert got.get("type") == "unavailable"


def test_c2s_detach_ends_sessions(sm_suite):
    r, c = sm_suite()
    a, b = A + "/phone", B + "/desk"
    c.start(a)
    c.start(b)
    presence(c, a, 1)
    presence(c, b, 1)
    subscribe_both_ways(c, a, b)
    # a second c2s holds alice; the test's c2s (with bob) is killed
    from sm_harness import C2S
    comp2 = r.attach("c2s", "secret-c2s", via="unix")
    assert comp2.bind(instance="c2s/two").get("type") != "error"
    c2 = C2S(comp2, "c2s/two")
    c2.start(A + "/tablet")
    c2.send(A + "/tablet", "<presence/>")
    c2.send(A + "/tablet", f"<iq type='get' id='warm'><query xmlns='{NS_ROSTER}'/></iq>")
    c2.recv_stanza(A + "/tablet", "iq", lambda i: i.get("id") == "warm")
    c.c.abort()
    got = c2.recv_stanza(A + "/tablet", "presence",
                         lambda i: i.get("from") == b and i.get("type") == "unavailable")
    assert got is not None


@pytest.mark.parametrize("payload,ns", [
    ("<ping xmlns='urn:xmpp:ping'/>", None),
    ("<query xmlns='http://jabber.org/protocol/disco#info'/>",
     "http://jabber.org/protocol/disco#info"),
    ("<query xmlns='http://jabber.org/protocol/disco#items'/>",
     "http://jabber.org/protocol/disco#items"),
    ("<query xmlns='jabber:iq:version'/>", "jabber:iq:version"),
    ("<time xmlns='urn:xmpp:time'/>", "urn:xmpp:time"),
])
def test_server_iqs(sm_suite, payload, ns):
    _, c = sm_suite()
    c.start(A + "/phone")
    r = iq(c, A + "/phone", payload, to="localhost")
    assert r.get("type") == "result" and r.get("from") == "localhost"
    if ns:
        assert len(r) == 1 and nsof(r[0].tag) == ns
    if ns == "http://jabber.org/protocol/disco#info":
        vars_ = {f.get("var") for f in r[0] if local(f.tag) == "feature"}
        assert "urn:xmpp:ping" in vars_ and "urn:xmpp:time" in vars_


def test_unknown_iq_is_service_unavailable(sm_suite):
    _, c = sm_suite()
    c.start(A + "/phone")
    r = iq(c, A + "/phone", "<query xmlns='urn:example:nothing'/>", to="localhost")
    assert r.get("type") == "error" and error_condition(r) == "service-unavailable"
    assert r.find(f".//{{{NS_STANZA_ERRORS}}}service-unavailable") is not None
    r = iq(c, A + "/phone", "<query xmlns='urn:example:nothing'/>", to="store")
    assert r.get("type") == "error"
