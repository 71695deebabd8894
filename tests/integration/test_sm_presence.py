# SPDX-License-Identifier: MIT
"""RFC 6121 subscription and presence details of xmppd-sm, with the real
router and store; the test plays c2s (sm_harness.py): pending inbound
requests (§3.1.3), pre-approval (§3.4), the order of subscribed and
presence (§3.1.5) and directed presence (§4.6)."""
import time

from conftest import local
from sm_harness import NS_CLIENT, new_id, sm_suite  # noqa: F401

A = "alice@localhost"
B = "bob@localhost"
C = "carol@localhost"
NS_ROSTER = "jabber:iq:roster"


def presence(c, full, prio=None):
    p = f"<priority>{prio}</priority>" if prio is not None else ""
    c.send(full, f"<presence>{p}</presence>")


def roster(c, full):
    """The roster items of full's user: {jid: item element}."""
    iid = new_id()
    c.send(full, f"<iq type='get' id='{iid}'><query xmlns='{NS_ROSTER}'/></iq>")
    res = c.recv_stanza(full, "iq", lambda i: i.get("id") == iid)
    assert res.get("type") == "result"
    return {it.get("jid"): it for it in res.iter(f"{{{NS_ROSTER}}}item")}


def is_presence(type_=None, frm=None):
    def pred(i):
        return (local(i.tag) == "presence" and i.get("type") == type_
                and (frm is None or i.get("from", "").split("/")[0] == frm))
    return pred


def test_pending_request_kept_hidden_and_delivered_at_login(sm_suite):
    _, c = sm_suite()
    a = A + "/phone"
    c.start(a)
    presence(c, a)
    c.send(a, f"<presence to='{B}' type='subscribe'><status>it is alice</status></presence>")
    # alice's outbound request: ask='subscribe' pushed to nobody (no roster get yet)
    b = B + "/desk"
    c.start(b)
    items = roster(c, b)
    assert A not in items, "an inbound request is not a roster item (RFC 6121 §3.1.3)"
    presence(c, b)
    sub = c.recv_stanza(b, "presence", lambda i: i.get("type") == "subscribe")
    assert sub.get("from") == A
    assert sub.find(f"{{{NS_CLIENT}}}status").text == "it is alice"
    c.quiet(lambda i: i.get("to") == b and local(i.tag) == "iq"
            and i.get("type") == "set", 0.5)    # no roster push for it
    # a second login still gets it: not answered yet
    c.end(b)
    c.start(b)
    presence(c, b)
    sub = c.recv_stanza(b, "presence", lambda i: i.get("type") == "subscribe")
    assert sub.get("from") == A
    # approving it: alice gets subscribed, then bob's presence (§3.1.5)
    c.send(b, f"<presence to='{A}' type='subscribed'/>")
    first = c.recv_stanza(a, "presence", lambda i: i.get("from", "").startswith(B))
    assert first.get("type") == "subscribed" and first.get("from") == B
    second = c.recv_stanza(a, "presence", lambda i: i.get("from", "").startswith(B))
    assert second.get("type") is None and second.get("from") == b
    assert roster(c, b)[A].get("subscription") == "from"
    assert roster(c, a)[B].get("subscription") == "to"
    # answered: not delivered again
    c.end(b)
    c.start(b)
    presence(c, b)
    c.quiet(lambda i: i.get("to") == b and i.get("type") == "subscribe", 1.0)


def test_subscribed_comes_before_presence_every_time(sm_suite):
    _, c = sm_suite()
    for n in range(5):
        a, b = f"a{n}@localhost/r", f"b{n}@localhost/r"
        c.start(a)
        presence(c, a)
        c.start(b)
        presence(c, b)
        c.send(a, f"<presence to='b{n}@localhost' type='subscribe'/>")
        c.recv_stanza(b, "presence", lambda i: i.get("type") == "subscribe")
        c.send(b, f"<presence to='a{n}@localhost' type='subscribed'/>")
        got = [c.recv_stanza(a, "presence", lambda i: i.get("from", "").startswith(f"b{n}@"))
               for _ in range(2)]
        assert [g.get("type") for g in got] == ["subscribed", None], got


def test_denied_request_is_gone(sm_suite):
    _, c = sm_suite()
    a, b = A + "/phone", B + "/desk"
    c.start(a)
    presence(c, a)
    c.send(a, f"<presence to='{B}' type='subscribe'/>")
    c.start(b)
    presence(c, b)
    c.recv_stanza(b, "presence", lambda i: i.get("type") == "subscribe")
    c.send(b, f"<presence to='{A}' type='unsubscribed'/>")
    c.recv_stanza(a, "presence", lambda i: i.get("type") == "unsubscribed"
                  and i.get("from") == B)
    assert A not in roster(c, b)
    c.end(b)
    c.start(b)
    presence(c, b)
    c.quiet(lambda i: i.get("to") == b and i.get("type") == "subscribe", 1.0)


def test_withdrawn_request_is_gone(sm_suite):
    _, c = sm_suite()
    a, b = A + "/phone", B + "/desk"
    c.start(a)
    presence(c, a)
    c.send(a, f"<presence to='{B}' type='subscribe'/>")
    c.send(a, f"<presence to='{B}' type='unsubscribe'/>")
    roster(c, a)            # alice's edits are done,
    time.sleep(0.5)         # and then bob's (a store roundtrip each)
    c.start(b)
    assert A not in roster(c, b)
    presence(c, b)
    c.quiet(lambda i: i.get("to") == b and i.get("type") == "subscribe", 1.0)


def test_preapproval(sm_suite):
    _, c = sm_suite()
    a, b = A + "/phone", B + "/desk"
    c.start(b)
    roster(c, b)
    presence(c, b)
    c.start(a)
    presence(c, a)
    # no request waits: bob's subscribed is a pre-approval, kept and not sent
    c.send(b, f"<presence to='{A}' type='subscribed'/>")
    push = c.recv_stanza(b, "iq", lambda i: i.get("type") == "set")
    item = push.find(f".//{{{NS_ROSTER}}}item")
    assert item.get("jid") == A and item.get("subscription") == "none"
    c.quiet(lambda i: i.get("to") == a and i.get("type") == "subscribed", 0.5)
    # alice's request is then answered by the server, bob is not asked
    c.send(a, f"<presence to='{B}' type='subscribe'/>")
    got = c.recv_stanza(a, "presence", lambda i: i.get("from", "").startswith(B))
    assert got.get("type") == "subscribed" and got.get("from") == B
    got = c.recv_stanza(a, "presence", lambda i: i.get("from", "").startswith(B))
    assert got.get("type") is None and got.get("from") == b
    c.quiet(lambda i: i.get("to") == b and i.get("type") == "subscribe", 0.5)
    assert roster(c, b)[A].get("subscription") == "from"


def test_preapproval_then_request_while_offline(sm_suite):
    _, c = sm_suite()
    a, b = A + "/phone", B + "/desk"
    c.start(b)
    c.send(b, f"<presence to='{A}' type='subscribed'/>")
    c.end(b)
    c.start(a)
    presence(c, a)
    c.send(a, f"<presence to='{B}' type='subscribe'/>")
    got = c.recv_stanza(a, "presence", lambda i: i.get("from", "").startswith(B))
    assert got.get("type") == "subscribed"
    assert roster(c, a)[B].get("subscription") == "to"


def test_directed_presence_ends_with_the_session(sm_suite):
    _, c = sm_suite()
    a, x = A + "/phone", C + "/x"
    c.start(x)
    presence(c, x)
    c.start(a)
    presence(c, a)
    c.send(a, f"<presence to='{x}'><show>chat</show></presence>")
    got = c.recv_stanza(x, "presence", is_presence(None, A))
    assert got.get("from") == a
    c.end(a)
    got = c.recv_stanza(x, "presence", is_presence("unavailable", A))
    assert got.get("from") == a


def test_directed_presence_without_initial_presence(sm_suite):
    _, c = sm_suite()
    a, x = A + "/phone", C + "/x"
    c.start(x)
    presence(c, x)
    c.start(a)
    c.send(a, f"<presence to='{C}'/>")
    c.recv_stanza(x, "presence", is_presence(None, A))
    c.end(a)
    got = c.recv_stanza(x, "presence", is_presence("unavailable", A))
    assert got.get("from") == a


def test_directed_unavailable_forgets_and_broadcast_unavailable_tells(sm_suite):
    _, c = sm_suite()
    a, x, y = A + "/phone", C + "/x", B + "/y"
    for full in (x, y):
        c.start(full)
        presence(c, full)
    c.start(a)
    presence(c, a)
    c.send(a, f"<presence to='{x}'/>")
    c.send(a, f"<presence to='{y}'/>")
    c.recv_stanza(x, "presence", is_presence(None, A))
    c.recv_stanza(y, "presence", is_presence(None, A))
    c.send(a, f"<presence to='{x}' type='unavailable'/>")
    c.recv_stanza(x, "presence", is_presence("unavailable", A))
    # a broadcast unavailable goes to the JIDs still on the list, once
    c.send(a, "<presence type='unavailable'/>")
    c.recv_stanza(y, "presence", is_presence("unavailable", A))
    c.quiet(lambda i: i.get("to") in (x, y) and i.get("type") == "unavailable", 0.7)
    c.end(a)
    c.quiet(lambda i: i.get("to") in (x, y) and i.get("type") == "unavailable", 0.7)


def test_directed_presence_ends_when_c2s_detaches(sm_suite):
    r, c = sm_suite()
    watcher = r.attach("c2s", "secret-c2s", via="unix")
    assert watcher.bind(instance="c2s/other").get("type") != "error"
    from sm_harness import C2S
    w = C2S(watcher, instance="c2s/other")
    x = C + "/x"
    w.start(x)
    presence(w, x)
    a = A + "/phone"
    c.start(a)
    presence(c, a)
    c.send(a, f"<presence to='{x}'/>")
    w.recv_stanza(x, "presence", is_presence(None, A))
    c.c.close()
    got = w.recv_stanza(x, "presence", is_presence("unavailable", A), timeout=10)
    assert got.get("from") == a


def test_sm_stops_cleanly_while_a_directed_presence_is_outstanding(sm_suite):
    # At SIGTERM sm frees its link before ending the sessions left, whose
    # directed presences then have nowhere to go; the harness checks that
    # sm still exits 0 when it is stopped after this test.
    _, c = sm_suite()
    a, x = A + "/phone", C + "/x"
    c.start(x)
    presence(c, x)
    c.start(a)
    c.send(a, f"<presence to='{x}'/>")
    got = c.recv_stanza(x, "presence", is_presence(None, A))
    assert got.get("from") == a
