# SPDX-License-Identifier: MIT
"""Conformance of the suite, seen from a client, with RFC 6120 (streams,
SASL, binding, stanza semantics), RFC 6121 (roster, presence and message
delivery) and RFC 7622 (address preparation): raw XML over direct TLS and
STARTTLS against router, store, sm and c2s started on loopback.

Each test checks behaviour the RFCs require (MUST), or recommend (SHOULD)
where the docstring says so."""
import base64
import socket
import ssl

import pytest

from conftest import NS_STREAM, StreamSplitter, local, stanza_error
from suite_harness import (DOMAIN, NS_BIND, NS_CLIENT, NS_ROSTER, NS_SASL, C2sDef,
                           XmppClient, new_id, start_full_suite, suite_cert)  # noqa: F401
from test_c2s_multi import befriend

ALICE, BOB = "alice@localhost", "bob@localhost"
PW = {ALICE: "alice-pw", BOB: "bob-pw"}
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_PING = "urn:xmpp:ping"
PING = f"<ping xmlns='{NS_PING}'/>"


def suite_with_users(start_full_suite):
    """One c2s answering failed logins at once; alice and bob exist."""
    s = start_full_suite(c2s=[C2sDef("a", limits={"auth-failure-delay": "0"})])
    for user, pw in PW.items():
        s.adduser(user, pw)
    return s


def header(to=DOMAIN, version="1.0", ns=NS_CLIENT, stream_ns=NS_STREAM, extra=""):
    """An initial stream header; None leaves that attribute out."""
    attrs = f" to='{to}'" if to is not None else ""
    attrs += f" version='{version}'" if version is not None else ""
    return (f"<?xml version='1.0'?><stream:stream xmlns='{ns}' "
            f"xmlns:stream='{stream_ns}'{attrs}{extra}>")


def connect(s, plain=False):
    """A client socket to c2s 'a' (direct TLS, or the STARTTLS port)."""
    c2s = s.c2s["a"]
    if plain:
        c = XmppClient.tcp(c2s.port, label="plain")
    else:
        c = XmppClient.connect(c2s.tls_port, s.cafile, label="raw")
    s.clients.append(c)
    return c


def first_answer(s, *data, plain=False):
    """Sends data on a new connection; returns (client, first element back)."""
    c = connect(s, plain)
    for d in data:
        c.send(d)
    return c, c.recv(10)


def assert_stream_error(s, condition, *data, plain=False):
    """data makes the server send <stream:error><condition/> and close."""
    c = connect(s, plain)
    for d in data:
        c.send(d)
    got = c.recv_stream_error(10)
    assert got == condition, (data, got)
    assert c.header is not None, "a stream error comes after the server's header"
    c.wait_closed(10)
    assert c.stream_closed, "the server ends its stream too (RFC 6120 §4.4)"


def authenticated(s, user=ALICE):
    """A client that has passed SASL and restarted the stream (not bound)."""
    c = connect(s)
    c.open_client_stream()
    answer = c.auth_plain(user, PW[user])
    assert answer.is_("success", NS_SASL), answer
    c.open_client_stream()
    return c


def plain_auth(authzid, authcid, password):
    cred = base64.b64encode(f"{authzid}\0{authcid}\0{password}".encode()).decode()
    return f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{cred}</auth>"


def sasl_answer(c, data):
    c.send(data)
    got = c.recv(10)
    assert got.is_("failure", NS_SASL) or got.is_("success", NS_SASL), got
    return got.name if got.name == "success" else local(got.children()[0].tag)


def send_iq(c, xml, sid):
    """Sends an iq with id sid and returns the answer carrying it."""
    c.send(xml)
    return c.wait_for(lambda e: e.name == "iq" and e.get("id") == sid)


def no_answer(c, sid, via=DOMAIN):
    """Nothing with id sid came back to c by the time the answer to a ping
    sent after it to via came (via: the server, or the same account, whose
    stanzas sm handles in order)."""
    got = send_iq(c, f"<iq type='get' id='{sid}-after' to='{via}'>{PING}</iq>", f"{sid}-after")
    assert got.get("type") in ("result", "error"), got
    stray = [e for e in list(c.queue) + c.poll(0.2) if e.get("id") == sid]
    assert not stray, stray


def nothing_for(c, sid, timeout=0.5):
    """No stanza with id sid reaches c within timeout."""
    stray = [e for e in c.poll(timeout) if e.get("id") == sid]
    assert not stray, stray


def two_users(start_full_suite):
    s = suite_with_users(start_full_suite)
    return s, s.client("a", ALICE, PW[ALICE], "desk"), s.client("a", BOB, PW[BOB], "phone")


# ---------------------------------------------------------------------------
# RFC 6120 §4: streams
# ---------------------------------------------------------------------------

@pytest.mark.time_limit(60)
def test_stream_header_and_features(start_full_suite):
    """§4.7: the answer carries from, a fresh id, version 1.0 and xml:lang;
    §4.3.2: direct TLS offers SASL right away, the STARTTLS port offers
    only <starttls><required/></starttls>; a closed stream is closed back."""
    s = suite_with_users(start_full_suite)
    ids = set()
    for _ in range(2):
        c, features = first_answer(s, header())
        h = c.header
        assert h.get("from") == DOMAIN and h.get("version") == "1.0", h
        assert h.get("{http://www.w3.org/XML/1998/namespace}lang"), h
        assert len(h.get("id") or "") >= 16, h
        ids.add(h.get("id"))
        assert features.is_("features", NS_STREAM), features
        mechs = [m.text for m in features.child("mechanisms", NS_SASL)]
        assert "PLAIN" in mechs and "SCRAM-SHA-1" in mechs, mechs
        assert features.child("starttls", NS_TLS) is None, features
        c.send("  \n")                     # whitespace keepalive: no answer
        c.send("</stream:stream>")
        assert c.wait_closed(10) == [] and c.stream_closed
    assert len(ids) == 2, "every stream gets its own id"
    # version 2.0 is answered with the highest both support (§4.7.5)
    c, features = first_answer(s, header(version="2.0"))
    assert c.header.get("version") == "1.0" and features.is_("features", NS_STREAM)
    c, features = first_answer(s, header(), plain=True)
    starttls = features.child("starttls", NS_TLS)
    assert starttls is not None and starttls.find(f"{{{NS_TLS}}}required") is not None
    assert features.child("mechanisms", NS_SASL) is None, "no SASL, no PLAIN before TLS"


@pytest.mark.time_limit(90)
def test_stream_errors_on_bad_headers_and_restricted_xml(start_full_suite):
    """§4.9.3 conditions, each followed by the end of the server's stream:
    §4.9.3.10 invalid-namespace, §4.9.3.25 unsupported-version,
    §4.9.3.6 host-unknown, §11.6 unsupported-encoding (UTF-16, Latin-1),
    §11.1 restricted-xml (DTD, comment, PI, entity), §4.9.3.13
    not-well-formed, §4.9.3.12 not-authorized before SASL."""
    s = suite_with_users(start_full_suite)
    h = header()
    cases = [
        ("invalid-namespace", [header(ns="jabber:server")]),
        ("invalid-namespace", [header(stream_ns="urn:example:streams")]),
        ("unsupported-version", [header(version="0.9")]),
        ("host-unknown", [header(to="example.org")]),
        ("unsupported-encoding", [b"\xff\xfe" + h.encode("utf-16-le")]),
        ("unsupported-encoding", [h.replace("version='1.0'?>",
                                            "version='1.0' encoding='ISO-8859-1'?>", 1)]),
        ("restricted-xml", [h.replace("?>", "?><!DOCTYPE stream:stream>", 1)]),
        ("restricted-xml", [h, "<!-- a comment -->"]),
        ("restricted-xml", [h, "<?pi data?>"]),
        ("restricted-xml", [h, "<message><body>&ent;</body></message>"]),
        ("not-well-formed", [h, "<message><body></message>"]),
        ("not-authorized", [h, "<message to='bob@localhost'><body>hi</body></message>"]),
        ("not-authorized", [h, "<iq type='get' id='v'><query xmlns='jabber:iq:version'/></iq>"]),
    ]
    for condition, data in cases:
        assert_stream_error(s, condition, *data)


@pytest.mark.time_limit(60)
def test_nothing_but_starttls_before_tls(start_full_suite):
    """§5.3.1: with TLS required a stanza before TLS ends the stream with
    policy-violation; §6.4.5 (encryption-required): SASL waits for TLS."""
    s = suite_with_users(start_full_suite)
    assert_stream_error(s, "policy-violation", header(),
                        "<message to='bob@localhost'><body>x</body></message>", plain=True)
    c, _ = first_answer(s, header(), plain=True)
    assert sasl_answer(c, plain_auth("", "alice", PW[ALICE])) == "encryption-required"


@pytest.mark.time_limit(60)
def test_timeouts_limits_and_shutdown_end_the_stream(start_full_suite):
    """§4.9.3.4: no authentication in time is connection-timeout; §13.12:
    a stanza over the size limit is policy-violation; RFC 6121 §4.5: a
    client that vanishes is unavailable to its contacts; §4.9.3.22: a
    stopping server ends its streams with system-shutdown."""
    s = start_full_suite(c2s=[C2sDef("a", limits={"auth-timeout": "1s",
                                                  "max-stanza-bytes": "16k"})])
    for user, pw in PW.items():
        s.adduser(user, pw)
    c, _ = first_answer(s, header())
    assert c.recv_stream_error(10) == "connection-timeout"
    big = s.client("a", ALICE, PW[ALICE], "big")
    big.send(f"<message to='{BOB}'><body>{'x' * 20000}</body></message>")
    assert big.recv_stream_error(10) == "policy-violation"
    alice = s.client("a", ALICE, PW[ALICE], "desk")
    bob = s.client("a", BOB, PW[BOB], "phone")
    alice.roster()
    bob.roster()
    befriend(alice, ALICE, bob, BOB)
    alice.abort()
    bob.wait_presence(alice.full, "unavailable")
    assert s.procs["c2s-a"].stop() == 0
    assert bob.recv_stream_error(10) == "system-shutdown"


# ---------------------------------------------------------------------------
# RFC 6120 §6: SASL
# ---------------------------------------------------------------------------

@pytest.mark.time_limit(60)
def test_sasl_failure_conditions(start_full_suite):
    """§6.5: invalid-mechanism, incorrect-encoding, invalid-authzid,
    aborted, malformed-request, not-authorized; §6.4.5: after the allowed
    retries the stream ends with policy-violation."""
    s = suite_with_users(start_full_suite)
    c = connect(s)
    c.open_client_stream()
    cases = [
        (f"<auth xmlns='{NS_SASL}' mechanism='X-UNKNOWN'>=</auth>", "invalid-mechanism"),
        (f"<auth xmlns='{NS_SASL}'/>", "invalid-mechanism"),
        (f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>!!not base64</auth>",
         "incorrect-encoding"),
        (plain_auth(BOB, "alice", PW[ALICE]), "invalid-authzid"),
        (f"<response xmlns='{NS_SASL}'/>", "malformed-request"),
    ]
    for data, condition in cases:
        c = connect(s)
        c.open_client_stream()
        assert sasl_answer(c, data) == condition, data
    # an exchange in progress, aborted by the client
    c = connect(s)
    c.open_client_stream()
    first = base64.b64encode(b"n,,n=alice,r=0123456789abcdef").decode()
    c.send(f"<auth xmlns='{NS_SASL}' mechanism='SCRAM-SHA-1'>{first}</auth>")
    assert c.recv(10).is_("challenge", NS_SASL)
    assert sasl_answer(c, f"<abort xmlns='{NS_SASL}'/>") == "aborted"
    # the authzid of the user's own bare JID is accepted
    assert sasl_answer(c, plain_auth(ALICE, "alice", PW[ALICE])) == "success"
    # three wrong passwords: the third failure ends the stream
    c = connect(s)
    c.open_client_stream()
    for _ in range(3):
        assert sasl_answer(c, plain_auth("", "alice", "wrong")) == "not-authorized"
    assert c.recv_stream_error(10) == "policy-violation"
    c.wait_closed(10)


# ---------------------------------------------------------------------------
# RFC 6120 §7: resource binding
# ---------------------------------------------------------------------------

def bind_iq(sid, resource=None, itype="set"):
    inner = f"<resource>{resource}</resource>" if resource is not None else ""
    return f"<iq type='{itype}' id='{sid}'><bind xmlns='{NS_BIND}'>{inner}</bind></iq>"


@pytest.mark.time_limit(60)
def test_resource_binding(start_full_suite):
    """§7.1: no stanza before binding (not-authorized); §7.6: a resource
    made up by the server when none is asked for; §7.7.2.1: a resourcepart
    over 1023 bytes is bad-request; a second bind is refused."""
    s = suite_with_users(start_full_suite)
    c = authenticated(s)
    c.send("<message to='bob@localhost'><body>early</body></message>")
    assert c.recv_stream_error(10) == "not-authorized"

    c = authenticated(s)
    got = send_iq(c, bind_iq("b1"), "b1")
    assert got.get("type") == "result", got
    full = got.child("bind", NS_BIND).findtext(f"{{{NS_BIND}}}jid")
    assert full.startswith(ALICE + "/") and len(full) > len(ALICE) + 1, full

    c = authenticated(s)
    assert stanza_error(send_iq(c, bind_iq("g", itype="get"), "g")) == ("modify", "bad-request")
    got = send_iq(c, bind_iq("long", "r" * 1024), "long")
    assert stanza_error(got) == ("modify", "bad-request"), got
    got = send_iq(c, bind_iq("max", "r" * 1023), "max")
    assert got.get("type") == "result", got
    got = send_iq(c, bind_iq("again", "other"), "again")
    assert stanza_error(got) == ("cancel", "not-allowed"), got


# ---------------------------------------------------------------------------
# RFC 6120 §8: stanza semantics
# ---------------------------------------------------------------------------

@pytest.mark.time_limit(60)
def test_iq_semantics(start_full_suite):
    """§8.2.3: a get/set carries exactly one payload (bad-request), results
    and errors are never answered, an unknown payload is
    service-unavailable with the request included (§8.4); the server
    answers its own iq (XEP-0199 ping) from its domain."""
    s, alice, _ = two_users(start_full_suite)
    for to in ("", f" to='{DOMAIN}'"):
        got = send_iq(alice, f"<iq type='get' id='z0'{to}/>", "z0")
        assert stanza_error(got) == ("modify", "bad-request"), got
        got = send_iq(alice, f"<iq type='get' id='z2'{to}><query xmlns='jabber:iq:version'/>"
                             "<query xmlns='jabber:iq:last'/></iq>", "z2")
        assert stanza_error(got) == ("modify", "bad-request"), got
        got = send_iq(alice, f"<iq type='get' id='u1'{to}><foo xmlns='urn:example:unknown'>"
                             "<bar/></foo></iq>", "u1")
        assert stanza_error(got) == ("cancel", "service-unavailable"), got
        assert got.child("foo", "urn:example:unknown") is not None, "the request is echoed"
    alice.send("<iq type='result' id='r1'/>")
    alice.send("<iq type='error' id='r2'><error type='cancel'><item-not-found "
               "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
    no_answer(alice, "r1")
    no_answer(alice, "r2")
    got = send_iq(alice, f"<iq type='get' id='p1' to='{DOMAIN}'>{PING}</iq>", "p1")
    assert got.get("type") == "result" and got.get("from") == DOMAIN, got


@pytest.mark.time_limit(60)
def test_stanzas_are_stamped_and_routed_intact(start_full_suite):
    """§8.1.2.1: whatever from a client writes, the server stamps its full
    JID; §8.4: unknown attributes, extension elements and xml:lang travel
    with the stanza."""
    s, alice, bob = two_users(start_full_suite)
    for n, frm in enumerate(("carol@localhost/x", "alice@localhost/other", ALICE)):
        alice.send(f"<message to='{BOB}' from='{frm}' id='sp{n}'><body>{n}</body></message>")
        got = bob.wait_message(body=str(n))
        assert got.get("from") == alice.full, got
    alice.send(f"<message to='{BOB}' id='ext' xml:lang='fr' foo='bar'><body>bonjour</body>"
               "<x xmlns='urn:example:ext' a='1'><y>z</y></x></message>")
    got = bob.wait_message(body="bonjour")
    assert got.get("{http://www.w3.org/XML/1998/namespace}lang") == "fr", got
    assert got.get("foo") == "bar", got
    x = got.child("x", "urn:example:ext")
    assert x is not None and x.get("a") == "1" and x.findtext("{urn:example:ext}y") == "z"


@pytest.mark.time_limit(60)
def test_unknown_top_level_element_and_closing(start_full_suite):
    """§4.9.3.24: an element that is not a stanza ends the stream with
    unsupported-stanza-type; §4.4: a client's </stream:stream> is answered
    with the server's."""
    s, alice, bob = two_users(start_full_suite)
    alice.send("<foo xmlns='urn:example'/>")
    assert alice.recv_stream_error(10) == "unsupported-stanza-type"
    alice.wait_closed(10)
    assert alice.stream_closed
    bob.send("</stream:stream>")
    bob.wait_closed(10)
    assert bob.stream_closed


@pytest.mark.time_limit(60)
def test_stanzas_to_an_account_that_does_not_exist(start_full_suite):
    """RFC 6121 §8.5.1: iq gets service-unavailable, a message
    service-unavailable (or silence), presence and subscription requests
    are ignored (a probe is answered unsubscribed, as for an account that
    exists, and the user's server drops that answer as it changes nothing);
    an error is never answered with an error (RFC 6120 §8.3.1)."""
    s, alice, _ = two_users(start_full_suite)
    nobody = "nobody@localhost"
    for to in (nobody, nobody + "/res"):
        got = send_iq(alice, f"<iq to='{to}' type='get' id='i'>{PING}</iq>", "i")
        assert stanza_error(got) == ("cancel", "service-unavailable"), got
        assert got.get("from") == to, got
        mid = new_id("m")
        alice.send(f"<message to='{to}' type='chat' id='{mid}'><body>x</body></message>")
        got = alice.wait_for(lambda e: e.get("id") == mid)
        assert stanza_error(got) == ("cancel", "service-unavailable"), got
    for ptype in ("", " type='subscribe'", " type='probe'", " type='unavailable'"):
        pid = new_id("p")
        alice.send(f"<presence to='{nobody}' id='{pid}'{ptype}/>")
        no_answer(alice, pid, via=nobody)
    alice.send(f"<message to='{nobody}' type='error' id='e1'><error type='cancel'>"
               "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
    no_answer(alice, "e1", via=nobody)


# ---------------------------------------------------------------------------
# RFC 6121: roster, presence, messages
# ---------------------------------------------------------------------------

@pytest.mark.time_limit(60)
def test_roster_set_rules(start_full_suite):
    """§2.3.3: one item per set (bad-request), a subscription other than
    'remove' and 'ask' are the server's business; §2.1.6: the push goes to
    the interested resource only, before the result."""
    s, alice, _ = two_users(start_full_suite)
    other = s.client("a", ALICE, PW[ALICE], "mobile")      # never asks for the roster
    alice.roster()
    got = send_iq(alice, f"<iq type='set' id='two'><query xmlns='{NS_ROSTER}'>"
                         "<item jid='x@localhost'/><item jid='y@localhost'/></query></iq>", "two")
    assert stanza_error(got) == ("modify", "bad-request"), got
    got = send_iq(alice, f"<iq type='set' id='none'><query xmlns='{NS_ROSTER}'/></iq>", "none")
    assert stanza_error(got) == ("modify", "bad-request"), got
    got = send_iq(alice, f"<iq type='set' id='bad'><query xmlns='{NS_ROSTER}'>"
                         "<item jid='x@@localhost'/></query></iq>", "bad")
    assert stanza_error(got) == ("modify", "jid-malformed"), got
    alice.send(f"<iq type='set' id='both'><query xmlns='{NS_ROSTER}'><item jid='z@localhost' "
               "subscription='both' ask='subscribe'/></query></iq>")
    push = alice.wait_for(lambda e: e.name == "iq" and e.get("type") == "set")
    item = push.child("query", NS_ROSTER)[0]
    assert item.get("jid") == "z@localhost" and item.get("subscription") == "none", push
    assert item.get("ask") is None, push
    result = alice.wait_for(lambda e: e.get("id") == "both")
    assert result.get("type") == "result", result
    assert alice.roster()["z@localhost"].get("subscription") == "none"
    other.sync()
    assert not [e for e in other.poll(0.3) if e.name == "iq"], "pushed to a non-interested resource"


@pytest.mark.time_limit(60)
def test_message_delivery_by_type(start_full_suite):
    """§8.5.2.1.2 and §8.5.3.2.1: groupchat to a bare JID or to an
    unavailable resource is service-unavailable; headline and error to an
    unavailable resource are dropped, normal goes to the bare JID;
    headline to the bare JID reaches the available resources."""
    s, alice, bob = two_users(start_full_suite)
    gone = BOB + "/gone"
    for to in (BOB, gone):
        mid = new_id("gc")
        alice.send(f"<message to='{to}' type='groupchat' id='{mid}'><body>gc</body></message>")
        got = alice.wait_for(lambda e: e.get("id") == mid)
        assert stanza_error(got) == ("cancel", "service-unavailable"), got
    alice.send(f"<message to='{gone}' type='headline' id='h1'><body>h</body></message>")
    alice.send(f"<message to='{gone}' type='error' id='e1'><error type='cancel'><item-not-found "
               "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
    alice.send(f"<message to='{gone}' type='normal' id='n1'><body>normal</body></message>")
    alice.send(f"<message to='{BOB}' type='headline' id='h2'><body>news</body></message>")
    assert bob.wait_message(body="normal").get("id") == "n1"
    assert bob.wait_message(body="news").get("type") == "headline"
    no_answer(alice, "h1", via=gone)
    no_answer(alice, "e1", via=gone)
    nothing_for(bob, "h1")
    nothing_for(bob, "e1")


@pytest.mark.time_limit(60)
def test_broadcast_presence_of_an_unknown_type_is_bad_request(start_full_suite):
    """RFC 6121 §4.7.1 names the presence types; RFC 6120 §8.3.3.1: one
    the server cannot process is bad-request."""
    s, alice, _ = two_users(start_full_suite)
    alice.send("<presence type='bogus' id='pb'/>")
    got = alice.wait_for(lambda e: e.get("id") == "pb")
    assert stanza_error(got) == ("modify", "bad-request"), got


# ---------------------------------------------------------------------------
# RFC 7622: addresses
# ---------------------------------------------------------------------------

@pytest.mark.time_limit(60)
def test_addresses_are_prepared_before_comparison(start_full_suite):
    """§3.2: the domainpart is case-mapped and loses a final dot; §3.3: the
    localpart is case- and width-mapped (UsernameCaseMapped); §3.4: the
    resourcepart keeps its case (OpaqueString)."""
    s, alice, bob = two_users(start_full_suite)
    for n, to in enumerate(("BOB@LOCALHOST/phone", "\uff42ob@localhost", "bob@LocalHost.")):
        alice.send(f"<message to='{to}' id='a{n}'><body>addr {n}</body></message>")
        assert bob.wait_message(body=f"addr {n}").get("from") == alice.full
    got = send_iq(alice, f"<iq to='{BOB}/PHONE' type='get' id='rc'>{PING}</iq>", "rc")
    assert stanza_error(got) == ("cancel", "service-unavailable"), got
    alice.send(f"<iq to='{BOB}/phone' type='get' id='rp'>{PING}</iq>")
    req = bob.wait_for(lambda e: e.get("id") == "rp")
    assert req.get("from") == alice.full, req


NS_ROSTERVER = "urn:xmpp:features:rosterver"


def login_with_lang(s, user, lang, resource):
    """A client whose stream headers carry xml:lang=lang, logged in and bound."""
    c = connect(s)
    for step in ("auth", "bind"):
        c.splitter, c.header = StreamSplitter(), None
        c.send(header(extra=f" xml:lang='{lang}'"))
        c.recv(10)                                   # the features
        if step == "auth":
            assert c.auth_plain(user, PW[user]).is_("success", NS_SASL)
    assert send_iq(c, bind_iq("b", resource), "b").get("type") == "result"
    return c


# --- found missing by an outside review; each failed before its fix ---------

@pytest.mark.time_limit(60)
def test_response_header_is_addressed_to_the_clients_from(start_full_suite):
    """RFC 6120 §4.7.2: a client that put from='alice@localhost' in its
    header gets to='alice@localhost' in the server's (MUST)."""
    s = suite_with_users(start_full_suite)
    c, _ = first_answer(s, header(extra=f" from='{ALICE}'"))
    assert c.header.get("to") == ALICE, c.header


@pytest.mark.time_limit(60)
def test_roster_of_another_account_is_not_the_senders(start_full_suite):
    """RFC 6121 §2.3.3: a roster set by anyone but the account's own
    resources is forbidden (MUST), and RFC 6120 §10.5.3 / RFC 6121
    §8.5.2.1.3: an IQ to bob's bare JID is handled on bob's behalf."""
    s, alice, bob = two_users(start_full_suite)
    got = send_iq(alice, f"<iq to='{BOB}' type='set' id='rs'><query xmlns='{NS_ROSTER}'>"
                         "<item jid='evil@localhost'/></query></iq>", "rs")
    assert got.get("type") == "error", got
    assert "evil@localhost" not in alice.roster()
    assert "evil@localhost" not in bob.roster()
    got = send_iq(alice, f"<iq to='{BOB}' type='get' id='rg'><query xmlns='{NS_ROSTER}'/></iq>",
                  "rg")
    assert got.get("type") == "error", got


@pytest.mark.time_limit(60)
def test_removing_a_contact_cancels_both_subscriptions(start_full_suite):
    """RFC 6121 §2.5.2: removing an item with subscription 'both' makes the
    user's server send unsubscribe and unsubscribed to the contact (MUST),
    whose server then pushes subscription='none' (§3.2.3, §3.3.3)."""
    s, alice, bob = two_users(start_full_suite)
    alice.roster()
    bob.roster()
    befriend(alice, ALICE, bob, BOB)
    assert bob.roster()[ALICE].get("subscription") == "both"
    alice.send(f"<iq type='set' id='rm'><query xmlns='{NS_ROSTER}'><item jid='{BOB}' "
               "subscription='remove'/></query></iq>")
    alice.wait_for(lambda e: e.get("id") == "rm")
    bob.wait_presence(ALICE, "unsubscribe", timeout=5)
    bob.wait_presence(ALICE, "unsubscribed", timeout=5)
    assert bob.roster()[ALICE].get("subscription") == "none"


@pytest.mark.time_limit(60)
def test_iq_of_unknown_or_missing_type_is_bad_request(start_full_suite):
    """RFC 6120 §8.2.3 (type is one of get, set, result, error) and
    §8.3.1/§8.3.3.1: an IQ with an unrecognized type is answered
    bad-request (an error is a MUST for IQ); it is not dropped, nor routed."""
    s, alice, bob = two_users(start_full_suite)
    for n, to in enumerate(("", f" to='{DOMAIN}'", f" to='{BOB}/phone'")):
        for attr in (" type='bogus'", ""):
            sid = f"t{n}{len(attr)}"
            got = send_iq(alice, f"<iq id='{sid}'{to}{attr}>{PING}</iq>", sid)
            assert stanza_error(got) == ("modify", "bad-request"), got
            nothing_for(bob, sid, 0.2)


@pytest.mark.time_limit(60)
def test_iq_to_a_malformed_jid_is_jid_malformed(start_full_suite):
    """RFC 6120 §8.3.1 (an IQ always gets an error back) and §8.3.3.8: an
    IQ to a malformed JID is answered jid-malformed."""
    s, alice, _ = two_users(start_full_suite)
    for n, to in enumerate(("bob@@localhost", "@localhost", "bob@localhost/",
                            "x" * 1024 + "@localhost")):
        got = send_iq(alice, f"<iq to='{to}' type='get' id='j{n}'>{PING}</iq>", f"j{n}")
        assert stanza_error(got) == ("modify", "jid-malformed"), got


@pytest.mark.time_limit(60)
def test_roster_get_with_an_empty_or_unknown_ver_returns_the_roster(start_full_suite):
    """RFC 6121 §2.6.3: ver='' asks for the whole roster, and a version the
    server does not know (from another server, say) gets the whole roster
    too (MUST)."""
    s, alice, _ = two_users(start_full_suite)
    alice.send(f"<iq type='set' id='add'><query xmlns='{NS_ROSTER}'>"
               "<item jid='z@localhost'/></query></iq>")
    alice.wait_for(lambda e: e.get("id") == "add")
    for n, ver in enumerate(("", "abc")):
        got = send_iq(alice, f"<iq type='get' id='v{n}'><query xmlns='{NS_ROSTER}' "
                             f"ver='{ver}'/></iq>", f"v{n}")
        assert got.get("type") == "result", got
        items = [it.get("jid") for it in got.child("query", NS_ROSTER)]
        assert items == ["z@localhost"], got


@pytest.mark.time_limit(60)
def test_roster_versioning_is_a_stream_feature(start_full_suite):
    """RFC 6121 §2.6.1: a server that supports roster versioning (ours
    puts ver on every roster result and push) MUST advertise
    <ver xmlns='urn:xmpp:features:rosterver'/> among the stream features."""
    s = suite_with_users(start_full_suite)
    c = connect(s)
    c.open_client_stream()
    assert c.auth_plain(ALICE, PW[ALICE]).is_("success", NS_SASL)
    features = c.open_client_stream()
    assert features.child("ver", NS_ROSTERVER) is not None, features


@pytest.mark.time_limit(60)
def test_roster_set_with_duplicate_or_empty_groups(start_full_suite):
    """RFC 6121 §2.3.3: duplicate <group/>s are bad-request and an empty
    <group/> is not-acceptable (both MUST)."""
    s, alice, _ = two_users(start_full_suite)
    alice.roster()
    got = send_iq(alice, f"<iq type='set' id='dup'><query xmlns='{NS_ROSTER}'>"
                         "<item jid='q@localhost'><group>g</group><group>g</group></item>"
                         "</query></iq>", "dup")
    assert stanza_error(got) == ("modify", "bad-request"), got
    got = send_iq(alice, f"<iq type='set' id='empty'><query xmlns='{NS_ROSTER}'>"
                         "<item jid='q@localhost'><group/></item></query></iq>", "empty")
    assert stanza_error(got) == ("modify", "not-acceptable"), got


@pytest.mark.time_limit(60)
def test_resourcepart_is_prepared_with_opaque_string(start_full_suite):
    """RFC 7622 §3.4 (OpaqueString, RFC 7613 §4.2): fullwidth characters
    are not width-mapped and normalization is NFC, not NFKC."""
    s = suite_with_users(start_full_suite)
    for n, resource in enumerate(("\uff21b", "\u2168")):
        c = authenticated(s)
        got = send_iq(c, bind_iq(f"b{n}", resource), f"b{n}")
        assert got.get("type") == "result", got
        full = got.child("bind").findtext("{urn:ietf:params:xml:ns:xmpp-bind}jid")
        assert full == f"{ALICE}/{resource}", full


@pytest.mark.time_limit(60)
def test_localpart_is_lower_cased_not_case_folded(start_full_suite):
    """RFC 7622 §3.3 (UsernameCaseMapped, RFC 7613 §3.2): uppercase is
    mapped to lowercase, nothing more, so 'straße' and 'strasse' are two
    JIDs (stringprep's case folding would make them one)."""
    s, alice, _ = two_users(start_full_suite)
    s.adduser("strasse@localhost", "strasse-pw")
    strasse = s.client("a", "strasse@localhost", "strasse-pw", "r")
    alice.send("<message to='stra\u00dfe@localhost' id='sz'><body>eszett</body></message>")
    alice.send("<message to='strasse@localhost' id='ss'><body>double s</body></message>")
    _, before = strasse.recv_until(lambda e: e.get("id") == "ss", 10)
    assert not [e for e in before if e.get("id") == "sz"], before


@pytest.mark.time_limit(60)
def test_message_of_unknown_type_is_handled_as_normal(start_full_suite):
    """RFC 6121 §5.2.2: a message whose type the server does not understand
    MUST be treated as type normal; to an unavailable resource a normal
    message goes to the bare JID (§8.5.3.2.1)."""
    s, alice, bob = two_users(start_full_suite)
    alice.send(f"<message to='{BOB}/gone' type='bogus' id='mb'><body>odd type</body></message>")
    assert bob.wait_message(body="odd type", timeout=5).get("id") == "mb"


@pytest.mark.time_limit(60)
def test_iq_without_id_is_bad_request(start_full_suite):
    """RFC 6120 §8.1.3/§8.2.3: the id of an IQ is REQUIRED; the server
    should answer bad-request (§8.3.3.1) rather than process it."""
    s, alice, _ = two_users(start_full_suite)
    alice.send(f"<iq type='get' to='{DOMAIN}'>{PING}</iq>")
    got = alice.wait_for(lambda e: e.name == "iq" and e.get("id") is None)
    assert stanza_error(got) == ("modify", "bad-request"), got


@pytest.mark.time_limit(60)
def test_message_to_a_malformed_jid_is_jid_malformed(start_full_suite):
    """RFC 6120 §8.3.1 (SHOULD return an error) and §8.3.3.8."""
    s, alice, _ = two_users(start_full_suite)
    alice.send("<message to='bob@@localhost' id='mm'><body>x</body></message>")
    got = alice.wait_for(lambda e: e.get("id") == "mm", timeout=5)
    assert stanza_error(got) == ("modify", "jid-malformed"), got


@pytest.mark.time_limit(60)
def test_directed_presence_of_unknown_type_is_bad_request(start_full_suite):
    """RFC 6121 §4.7.1 and RFC 6120 §8.3.3.1: a presence type the server
    does not know is bad-request, as for broadcast presence."""
    s, alice, bob = two_users(start_full_suite)
    alice.send(f"<presence to='{BOB}' type='bogus' id='pd'/>")
    got = alice.wait_for(lambda e: e.get("id") == "pd", timeout=5)
    assert stanza_error(got) == ("modify", "bad-request"), got
    nothing_for(bob, "pd")


@pytest.mark.time_limit(60)
def test_preapproval_is_pushed_with_approved_true(start_full_suite):
    """RFC 6121 §3.4.2: the server notes a pre-approval as the item's
    'approved' flag and pushes the item; §2.1.2.1: results and pushes show
    it as approved='true' (SHOULD)."""
    s, alice, _ = two_users(start_full_suite)
    alice.roster()
    alice.send(f"<presence to='{BOB}' type='subscribed'/>")
    push = alice.wait_for(lambda e: e.name == "iq" and e.get("type") == "set")
    item = push.child("query", NS_ROSTER)[0]
    assert item.get("jid") == BOB and item.get("approved") == "true", push
    assert alice.roster()[BOB].get("approved") == "true"


@pytest.mark.time_limit(60)
def test_stanzas_get_the_language_of_their_stream(start_full_suite):
    """RFC 6120 §4.7.4: a stanza a client sends without xml:lang should be
    given the xml:lang of the client's stream header when the server
    routes it (SHOULD)."""
    s, _, bob = two_users(start_full_suite)
    fr = login_with_lang(s, ALICE, "fr", "fr")
    fr.send(f"<message to='{BOB}' id='l1'><body>sans langue</body></message>")
    got = bob.wait_message(body="sans langue")
    assert got.get("{http://www.w3.org/XML/1998/namespace}lang") == "fr", got


@pytest.mark.time_limit(60)
def test_authzid_is_compared_after_preparation(start_full_suite):
    """RFC 6120 §6.3.8 with RFC 7622 §3.2: 'alice@LOCALHOST' is alice's
    own JID, so PLAIN with that authzid should succeed, not end in
    invalid-authzid."""
    s = suite_with_users(start_full_suite)
    c = connect(s)
    c.open_client_stream()
    assert sasl_answer(c, plain_auth("alice@LOCALHOST", "alice", PW[ALICE])) == "success"


@pytest.mark.time_limit(60)
def test_host_unknown_header_has_a_from(start_full_suite):
    """RFC 6120 §4.7.1: the response header carries 'from' (the example of
    §4.9.3.6 sends the server's own domain with host-unknown), also
    when 'to' is missing or not served."""
    s = suite_with_users(start_full_suite)
    for to in ("example.org", None):
        c = connect(s)
        c.send(header(to=to))
        c.recv_stream_error(10)
        assert c.header.get("from") == DOMAIN, c.header


@pytest.mark.time_limit(60)
def test_subscribing_to_oneself_changes_no_roster(start_full_suite):
    """The roster never holds the user's own JID (a roster set of it is
    not-allowed), so a subscription request to oneself is ignored."""
    s, alice, _ = two_users(start_full_suite)
    alice.roster()
    alice.send(f"<presence to='{ALICE}' type='subscribe'/>")
    pushes = [e for e in alice.poll(0.5) if e.name == "iq" and e.get("type") == "set"]
    assert not pushes, pushes
    assert ALICE not in alice.roster()


@pytest.mark.time_limit(60)
def test_direct_tls_agrees_on_alpn_xmpp_client(start_full_suite):
    """XEP-0368: a client on the direct-TLS port may ask for ALPN
    'xmpp-client' (SHOULD be supported); one that asks for nothing still
    connects."""
    s = suite_with_users(start_full_suite)
    for offer, agreed in ((["xmpp-client"], "xmpp-client"), (None, None)):
        ctx = ssl.create_default_context(cafile=s.cafile)
        if offer:
            ctx.set_alpn_protocols(offer)
        sock = socket.create_connection(("127.0.0.1", s.c2s["a"].tls_port), timeout=10)
        with ctx.wrap_socket(sock, server_hostname=DOMAIN) as tls:
            assert tls.selected_alpn_protocol() == agreed
