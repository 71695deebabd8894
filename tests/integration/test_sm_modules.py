# SPDX-License-Identifier: MIT
"""The sm feature modules vcard (XEP-0054), private (XEP-0049), blocking
(XEP-0191) and last (XEP-0012), with the real router and store; the test
plays c2s per docs/session-protocol.md."""
import time

from conftest import NS_STANZA_ERRORS, NS_XMPPD_ROUTE, local, nsof
from sm_harness import NS_CLIENT, SM_BIN, Proc, new_id, sm_suite  # noqa: F401

A = "alice@localhost"
B = "bob@localhost"
C = "carol@localhost"
NS_VCARD = "vcard-temp"
NS_PRIVATE = "jabber:iq:private"
NS_BLOCK = "urn:xmpp:blocking"
NS_BLOCK_ERRORS = "urn:xmpp:blocking:errors"
NS_LAST = "jabber:iq:last"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"


def error_of(el):
    """(condition, the <error/> element) of an error stanza."""
    for err in el:
        if local(err.tag) == "error":
            for c in err:
                if nsof(c.tag) == NS_STANZA_ERRORS and local(c.tag) != "text":
                    return local(c.tag), err
    return None, None


def iq(c, full, payload, to=None, itype="get"):
    iid = new_id()
    t = f" to='{to}'" if to else ""
    c.send(full, f"<iq type='{itype}' id='{iid}'{t}>{payload}</iq>")
    return c.recv_stanza(full, "iq", lambda i: i.get("id") == iid)


def assert_error(r, cond):
    assert r.get("type") == "error", r
    assert error_of(r)[0] == cond


def subscribe(c, a, b):
    """a subscribes to b's presence and b approves (both available)."""
    c.send(a, f"<presence to='{b.split('/')[0]}' type='subscribe'/>")
    c.recv_stanza(b, "presence", lambda i: i.get("type") == "subscribe")
    c.send(b, f"<presence to='{a.split('/')[0]}' type='subscribed'/>")
    seen = set()
    while seen != {"subscribed", "available"}:
        p = c.recv_stanza(a, "presence", lambda i: i.get("from", "").startswith(b.split("/")[0]))
        seen.add(p.get("type") or "available")


def test_features_in_disco(sm_suite):
    _, c = sm_suite()
    c.start(A + "/phone")
    r = iq(c, A + "/phone", f"<query xmlns='{NS_DISCO_INFO}'/>", to="localhost")
    vars_ = {f.get("var") for f in r[0] if local(f.tag) == "feature"}
    assert {NS_VCARD, NS_PRIVATE, NS_BLOCK, NS_LAST} <= vars_


# --- XEP-0054 ---

def test_vcard_set_get_own_and_others(sm_suite):
    _, c = sm_suite()
    a, b = A + "/phone", B + "/desk"
    c.start(a)
    c.start(b)
    r = iq(c, a, f"<vCard xmlns='{NS_VCARD}'/>")
    assert r.get("type") == "result"
    assert len(r) == 1 and r[0].tag == f"{{{NS_VCARD}}}vCard" and len(r[0]) == 0
    r = iq(c, a, f"<vCard xmlns='{NS_VCARD}'><FN>Alice A.</FN><NICKNAME>al</NICKNAME></vCard>",
           itype="set")
    assert r.get("type") == "result" and len(r) == 0
    for to in (None, A):
        r = iq(c, a, f"<vCard xmlns='{NS_VCARD}'/>", to=to)
        assert r.get("type") == "result"
        assert r.find(f"{{{NS_VCARD}}}vCard/{{{NS_VCARD}}}FN").text == "Alice A."
    r = iq(c, b, f"<vCard xmlns='{NS_VCARD}'/>", to=A)
    assert r.get("type") == "result" and r.get("from") == A
    assert r.find(f"{{{NS_VCARD}}}vCard/{{{NS_VCARD}}}NICKNAME").text == "al"
    r = iq(c, b, f"<vCard xmlns='{NS_VCARD}'><FN>Mallory</FN></vCard>", to=A, itype="set")
    assert_error(r, "forbidden")
    r = iq(c, a, f"<vCard xmlns='{NS_VCARD}'/>")
    assert r.find(f"{{{NS_VCARD}}}vCard/{{{NS_VCARD}}}FN").text == "Alice A."
    r = iq(c, b, f"<vCard xmlns='{NS_VCARD}'/>", to=C)        # nobody stored one
    assert r.get("type") == "result"
    assert r[0].tag == f"{{{NS_VCARD}}}vCard" and len(r[0]) == 0


# --- XEP-0049 ---

def test_private_store_and_read(sm_suite):
    _, c = sm_suite()
    a, b = A + "/phone", B + "/desk"
    c.start(a)
    c.start(b)
    r = iq(c, a, f"<query xmlns='{NS_PRIVATE}'><prefs xmlns='test:prefs'>"
           "<colour>green</colour></prefs></query>", itype="set")
    assert r.get("type") == "result" and len(r) == 0
    r = iq(c, a, f"<query xmlns='{NS_PRIVATE}'><prefs xmlns='test:prefs'/></query>")
    assert r.get("type") == "result"
    got = r.find(f"{{{NS_PRIVATE}}}query/{{test:prefs}}prefs")
    assert got.find("{test:prefs}colour").text == "green"
    r = iq(c, a, f"<query xmlns='{NS_PRIVATE}'><other xmlns='test:other'/></query>")
    assert r.get("type") == "result"
    got = r.find(f"{{{NS_PRIVATE}}}query/{{test:other}}other")
    assert got is not None and len(got) == 0
    # someone else's data
    r = iq(c, b, f"<query xmlns='{NS_PRIVATE}'><prefs xmlns='test:prefs'/></query>", to=A)
    assert_error(r, "forbidden")
    r = iq(c, b, f"<query xmlns='{NS_PRIVATE}'><prefs xmlns='test:prefs'/></query>")
    assert r.find(f".//{{test:prefs}}colour") is None          # bob's own: nothing
    # malformed requests
    r = iq(c, a, f"<query xmlns='{NS_PRIVATE}'/>", itype="set")
    assert_error(r, "bad-request")
    r = iq(c, a, f"<query xmlns='{NS_PRIVATE}'><x xmlns='t:1'/><y xmlns='t:2'/></query>",
           itype="set")
    assert_error(r, "bad-request")
    for ns in (NS_CLIENT, "jabber:server", NS_PRIVATE):
        r = iq(c, a, f"<query xmlns='{NS_PRIVATE}'><x xmlns='{ns}'/></query>", itype="set")
        assert_error(r, "not-acceptable")


# --- XEP-0191 ---

def blocklist(c, full):
    r = iq(c, full, f"<blocklist xmlns='{NS_BLOCK}'/>")
    assert r.get("type") == "result"
    return sorted(i.get("jid") for i in r.findall(f"{{{NS_BLOCK}}}blocklist/{{{NS_BLOCK}}}item"))


def block_cmd(c, full, verb, jids, expect_push_to=()):
    iid = new_id()
    items = "".join(f"<item jid='{j}'/>" for j in jids)
    c.send(full, f"<iq type='set' id='{iid}'><{verb} xmlns='{NS_BLOCK}'>{items}</{verb}></iq>")
    pushes = {}
    for res in expect_push_to:
        p = c.recv_stanza(res, "iq", lambda i: i.get("type") == "set")
        cmd = p.find(f"{{{NS_BLOCK}}}{verb}")
        assert cmd is not None, p
        pushes[res] = sorted(i.get("jid") for i in cmd.findall(f"{{{NS_BLOCK}}}item"))
    r = c.recv_stanza(full, "iq", lambda i: i.get("id") == iid)
    return r, pushes


def test_blocklist_block_unblock_pushes(sm_suite):
    _, c = sm_suite()
    phone, laptop = A + "/phone", A + "/laptop"
    c.start(phone)
    c.start(laptop)
    assert blocklist(c, phone) == []
    r, pushes = block_cmd(c, laptop, "block", [B, "evil.example"], expect_push_to=[phone])
    assert r.get("type") == "result" and len(r) == 0
    assert pushes[phone] == sorted([B, "evil.example"])
    c.quiet(lambda i: i.get("to") == laptop and local(i.tag) == "iq", 0.5)   # never asked
    assert blocklist(c, laptop) == sorted([B, "evil.example"])
    # now both asked: both get pushes
    r, pushes = block_cmd(c, phone, "unblock", ["evil.example"], expect_push_to=[phone, laptop])
    assert r.get("type") == "result"
    assert pushes == {phone: ["evil.example"], laptop: ["evil.example"]}
    assert blocklist(c, phone) == [B]
    r, pushes = block_cmd(c, phone, "unblock", [], expect_push_to=[phone, laptop])
    assert r.get("type") == "result" and pushes == {phone: [], laptop: []}
    assert blocklist(c, phone) == []
    r, _ = block_cmd(c, phone, "block", [])
    assert_error(r, "bad-request")
    r, _ = block_cmd(c, phone, "block", ["@bad@"])
    assert_error(r, "jid-malformed")
    # the list is stored: a new session reads it back
    block_cmd(c, phone, "block", [C], expect_push_to=[phone, laptop])
    c.end(phone)
    c.end(laptop)
    c.start(A + "/tablet")
    assert blocklist(c, A + "/tablet") == [C]
    r = iq(c, A + "/tablet", f"<blocklist xmlns='{NS_BLOCK}'/>", to=B)
    assert_error(r, "forbidden")                 # another user's list


def test_blocking_enforced(sm_suite):
    _, c = sm_suite()
    a, b = A + "/phone", B + "/desk"
    c.start(a)
    c.start(b)
    c.send(a, "<presence><priority>1</priority></presence>")
    c.send(b, "<presence><priority>1</priority></presence>")
    subscribe(c, b, a)                          # bob sees alice's presence
    r, _ = block_cmd(c, a, "block", [B])
    assert r.get("type") == "result"
    # §3.3: the subscribed contact is told the user is unavailable
    p = c.recv_stanza(b, "presence", lambda i: i.get("from") == a)
    assert p.get("type") == "unavailable"
    # §3.3: from the blocked contact
    c.send(b, f"<message to='{A}' type='chat' id='m1'><body>hi</body></message>")
    err = c.recv_stanza(b, "message", lambda i: i.get("id") == "m1")
    assert err.get("type") == "error" and error_of(err)[0] == "service-unavailable"
    r = iq(c, b, f"<vCard xmlns='{NS_VCARD}'/>", to=A)
    assert_error(r, "service-unavailable")
    c.send(b, f"<presence to='{A}' type='subscribe'/>")
    c.send(b, f"<message to='{a}' type='chat' id='m2'><body>full</body></message>")
    err = c.recv_stanza(b, "message", lambda i: i.get("id") == "m2")
    assert error_of(err)[0] == "service-unavailable"
    c.quiet(lambda i: i.get("to") == a and local(i.tag) in ("message", "presence"), 0.5)
    # the user's presence does not reach the blocked contact
    c.send(a, "<presence><show>away</show></presence>")
    c.quiet(lambda i: i.get("to") == b and local(i.tag) == "presence", 0.7)
    # §3.3: to the blocked contact
    c.send(a, f"<message to='{B}' type='chat' id='m3'><body>x</body></message>")
    err = c.recv_stanza(a, "message", lambda i: i.get("id") == "m3")
    cond, el = error_of(err)
    assert cond == "not-acceptable" and err.get("type") == "error" and err.get("from") == B
    assert el.find(f"{{{NS_BLOCK_ERRORS}}}blocked") is not None
    r = iq(c, a, f"<vCard xmlns='{NS_VCARD}'/>", to=B)
    assert error_of(r)[0] == "not-acceptable"
    c.quiet(lambda i: i.get("to") == b and local(i.tag) == "message", 0.5)
    # unblocked: messages flow again and bob sees alice's presence
    r, _ = block_cmd(c, a, "unblock", [B])
    assert r.get("type") == "result"
    p = c.recv_stanza(b, "presence", lambda i: i.get("from") == a)
    assert p.get("type") is None
    c.send(b, f"<message to='{A}' type='chat' id='m4'><body>again</body></message>")
    got = c.recv_stanza(a, "message", lambda i: i.get("id") == "m4")
    assert got.find(f"{{{NS_CLIENT}}}body").text == "again"


def test_blocking_stops_presence_to_a_remote_contact(sm_suite):
    """§3.3 also for a contact of another domain (here the component
    comp1.localhost, reached through the router as a remote server is):
    after the block it gets unavailable, then none of the user's presence,
    until the unblock."""
    r, c = sm_suite()
    x = r.attach("comp1.localhost", "secret-one")
    remote, a = "x@comp1.localhost", A + "/phone"
    c.start(a)
    c.send(a, "<presence><priority>1</priority></presence>")
    x.send(f"<presence xmlns='jabber:component:accept' from='{remote}/r' to='{A}' "
           "type='subscribe'/>")
    c.recv_stanza(a, "presence", lambda i: i.get("type") == "subscribe")
    c.send(a, f"<presence to='{remote}' type='subscribed'/>")

    def from_alice(ptype):
        return lambda e: (e.name == "presence" and e.get("to", "").startswith(remote)
                          and e.get("from", "").startswith(A) and e.get("type") == ptype)
    x.recv_until(from_alice("subscribed"), 10)
    x.recv_until(from_alice(None), 10)          # her presence, before the block
    r_, _ = block_cmd(c, a, "block", [remote])
    assert r_.get("type") == "result"
    x.recv_until(from_alice("unavailable"), 10)
    c.send(a, "<presence><show>away</show></presence>")
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        for e in x.poll(0.05):
            assert not from_alice(None)(e), f"presence reached the blocked contact: {e!r}"
    r_, _ = block_cmd(c, a, "unblock", [remote])
    assert r_.get("type") == "result"
    x.recv_until(from_alice(None), 10)


def test_blocking_holds_while_offline(sm_suite):
    _, c = sm_suite()
    a, b = A + "/phone", B + "/desk"
    c.start(a)
    r, _ = block_cmd(c, a, "block", [B])
    assert r.get("type") == "result"
    c.end(a)
    c.start(b)
    c.send(b, f"<message to='{A}' type='chat' id='off1'><body>hi</body></message>")
    err = c.recv_stanza(b, "message", lambda i: i.get("id") == "off1")
    assert error_of(err)[0] == "service-unavailable"
    c.start(A + "/again")
    c.send(A + "/again", "<presence/>")
    c.quiet(lambda i: local(i.tag) == "message" and i.get("id") == "off1", 1.0)


# --- XEP-0012 ---

def test_last_activity(sm_suite):
    _, c = sm_suite()
    a, b = A + "/phone", B + "/desk"
    c.start(a)
    c.start(b)
    r = iq(c, a, f"<query xmlns='{NS_LAST}'/>", to="localhost")
    assert r.get("type") == "result" and r.get("from") == "localhost"
    assert int(r.find(f"{{{NS_LAST}}}query").get("seconds")) >= 0
    # no subscription: forbidden
    r = iq(c, b, f"<query xmlns='{NS_LAST}'/>", to=A)
    assert_error(r, "forbidden")
    c.send(a, "<presence/>")
    c.send(b, "<presence/>")
    subscribe(c, b, a)
    r = iq(c, b, f"<query xmlns='{NS_LAST}'/>", to=A)       # online
    assert r.get("type") == "result"
    assert r.find(f"{{{NS_LAST}}}query").get("seconds") == "0"
    r = iq(c, a, f"<query xmlns='{NS_LAST}'/>")              # own, online
    assert r.find(f"{{{NS_LAST}}}query").get("seconds") == "0"
    c.send(a, "<presence type='unavailable'><status>Gone fishing</status></presence>")
    c.recv_stanza(b, "presence", lambda i: i.get("type") == "unavailable")
    c.end(a)
    time.sleep(1.2)
    r = iq(c, b, f"<query xmlns='{NS_LAST}'/>", to=A)
    assert r.get("type") == "result"
    q = r.find(f"{{{NS_LAST}}}query")
    assert int(q.get("seconds")) >= 1 and q.text == "Gone fishing"
    # a logout without an unavailable presence has no status
    c.start(C + "/x")
    c.send(C + "/x", "<presence/>")
    subscribe(c, b, C + "/x")
    c.end(C + "/x")
    r = iq(c, b, f"<query xmlns='{NS_LAST}'/>", to=C)
    assert r.get("type") == "result"
    q = r.find(f"{{{NS_LAST}}}query")
    assert q.get("seconds") == "0" and q.text is None


def test_last_activity_forgotten_by_restart(sm_suite):
    """Logouts are kept in memory: a new sm knows none (item-not-found)."""
    router, c = sm_suite()
    a, b = A + "/phone", B + "/desk"
    c.start(a)
    c.start(b)
    c.send(a, "<presence/>")
    c.send(b, "<presence/>")
    subscribe(c, b, a)
    c.end(a)
    procs = sm_suite.state["procs"]
    assert procs[-1].stop() == 0
    procs.append(Proc(SM_BIN, router, "sm-again"))
    c.c.recv_until(lambda e: e.is_("route", NS_XMPPD_ROUTE) and any(
        local(ev.tag) == "event" and ev.get("type") == "bind" and ev.get("name") == "sm"
        for ev in e.el), 15.0)
    c.start(b)
    r = iq(c, b, f"<query xmlns='{NS_LAST}'/>", to=A)
    assert_error(r, "item-not-found")


def test_blocking_cache_with_many_users(sm_suite):
    """More users than the cache starts with: lists stay found after growth."""
    _, c = sm_suite()
    users = [f"user{n}@localhost/r" for n in range(150)]
    for u in users:
        c.start(u)
    r, _ = block_cmd(c, users[7], "block", [users[120].split("/")[0]])
    assert r.get("type") == "result"
    for u in users[:100:9]:
        c.end(u)
    c.send(users[120], f"<message to='{users[7]}' type='chat' id='g1'><body>x</body></message>")
    err = c.recv_stanza(users[120], "message", lambda i: i.get("id") == "g1")
    assert error_of(err)[0] == "service-unavailable"
    c.send(users[121], f"<message to='{users[7]}' type='chat' id='g2'><body>y</body></message>")
    c.quiet(lambda i: i.get("id") == "g2" and i.get("type") == "error", 0.5)
