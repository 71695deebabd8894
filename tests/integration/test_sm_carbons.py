# SPDX-License-Identifier: MIT
"""XEP-0280 Message Carbons in sm, with the real router and store; the test
plays c2s per docs/session-protocol.md."""
from conftest import local, nsof
from sm_harness import NS_CLIENT, new_id, sm_suite  # noqa: F401

NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
A = "alice@localhost"
PHONE, LAPTOP, TABLET = A + "/phone", A + "/laptop", A + "/tablet"
BOB = "bob@localhost/home"


def iq_set(c, full, payload, to=None):
    iid = new_id()
    t = f" to='{to}'" if to else ""
    c.send(full, f"<iq type='set' id='{iid}'{t}>{payload}</iq>")
    return c.recv_stanza(full, "iq", lambda i: i.get("id") == iid)


def online(c, *fulls, carbons=()):
    for full in fulls:
        c.start(full)
        c.send(full, "<presence/>")
    for full in carbons:
        assert iq_set(c, full, f"<enable xmlns='{NS_CARBONS}'/>").get("type") == "result"


def carbon(c, to, how):
    """The <message/> inside the <how/> carbon that full JID to gets."""
    def is_carbon(m):
        return any(local(w.tag) == how and nsof(w.tag) == NS_CARBONS for w in m)
    wrap = c.recv_stanza(to, "message", is_carbon)
    assert wrap.get("from") == A, wrap
    fwd = wrap.find(f"{{{NS_CARBONS}}}{how}/{{{NS_FORWARD}}}forwarded")
    inner = fwd.find(f"{{{NS_CLIENT}}}message")
    assert inner is not None, wrap
    return inner


def no_message(c, to):
    c.quiet(lambda i: local(i.tag) == "message" and i.get("to") == to)


def test_carbons_feature_in_disco(sm_suite):
    _, c = sm_suite()
    c.start(PHONE)
    iid = new_id()
    c.send(PHONE, f"<iq type='get' id='{iid}' to='localhost'><query xmlns='{NS_DISCO_INFO}'/></iq>")
    r = c.recv_stanza(PHONE, "iq", lambda i: i.get("id") == iid)
    assert NS_CARBONS in {f.get("var") for f in r[0] if local(f.tag) == "feature"}


def test_received_copies_go_to_enabled_sessions_that_did_not_get_the_message(sm_suite):
    _, c = sm_suite()
    online(c, PHONE, LAPTOP, TABLET, BOB, carbons=(LAPTOP,))
    c.send(BOB, f"<message to='{PHONE}' type='chat' id='m1'><body>hi</body></message>")
    got = c.recv_stanza(PHONE, "message", lambda m: m.get("id") == "m1")
    assert got.findtext(f"{{{NS_CLIENT}}}body") == "hi"
    inner = carbon(c, LAPTOP, "received")
    assert inner.get("id") == "m1" and inner.get("from") == BOB
    assert inner.findtext(f"{{{NS_CLIENT}}}body") == "hi"
    no_message(c, TABLET)      # never enabled


def test_sent_copies_go_to_the_other_enabled_sessions(sm_suite):
    _, c = sm_suite()
    online(c, PHONE, LAPTOP, TABLET, BOB, carbons=(PHONE, LAPTOP))
    c.send(PHONE, f"<message to='{BOB}' type='chat' id='m2'><body>yo</body></message>")
    inner = carbon(c, LAPTOP, "sent")          # sm copies before it routes
    assert inner.get("id") == "m2" and inner.get("to") == BOB and inner.get("from") == PHONE
    assert c.recv_stanza(BOB, "message").get("id") == "m2"
    no_message(c, PHONE)       # the sender gets no copy of its own message
    no_message(c, TABLET)


def test_private_groupchat_and_disabled_are_not_copied(sm_suite):
    _, c = sm_suite()
    online(c, PHONE, LAPTOP, BOB, carbons=(PHONE, LAPTOP))
    c.send(PHONE, f"<message to='{BOB}' type='chat' id='p1'><body>secret</body>"
                  f"<private xmlns='{NS_CARBONS}'/></message>")
    assert c.recv_stanza(BOB, "message").get("id") == "p1"
    c.send(PHONE, f"<message to='{BOB}' type='groupchat' id='g1'><body>g</body></message>")
    no_message(c, LAPTOP)
    assert iq_set(c, LAPTOP, f"<disable xmlns='{NS_CARBONS}'/>").get("type") == "result"
    c.send(PHONE, f"<message to='{BOB}' type='chat' id='d1'><body>after</body></message>")
    assert c.recv_stanza(BOB, "message", lambda m: m.get("id") == "d1") is not None
    no_message(c, LAPTOP)


def test_a_bare_jid_message_copies_only_to_sessions_without_it(sm_suite):
    _, c = sm_suite()
    online(c, PHONE, LAPTOP, BOB, carbons=(PHONE, LAPTOP))
    c.send(PHONE, "<presence><priority>5</priority></presence>")
    c.send(BOB, f"<message to='{A}' type='chat' id='b1'><body>to bare</body></message>")
    assert c.recv_stanza(PHONE, "message", lambda m: m.get("id") == "b1") is not None
    assert carbon(c, LAPTOP, "received").get("id") == "b1"


def test_chat_state_without_body_is_copied_normal_without_body_is_not(sm_suite):
    _, c = sm_suite()
    online(c, PHONE, LAPTOP, BOB, carbons=(LAPTOP,))
    c.send(BOB, f"<message to='{PHONE}' id='n1'><subject>x</subject></message>")
    assert c.recv_stanza(PHONE, "message", lambda m: m.get("id") == "n1") is not None
    no_message(c, LAPTOP)
    c.send(BOB, f"<message to='{PHONE}' id='cs1'>"
                "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
    assert c.recv_stanza(PHONE, "message", lambda m: m.get("id") == "cs1") is not None
    assert carbon(c, LAPTOP, "received").get("id") == "cs1"
