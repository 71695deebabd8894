# SPDX-License-Identifier: MIT
"""xmppd-s2s checked from outside against RFC 6120 (§4 streams, §5 STARTTLS,
§8 stanzas, §11 XML restrictions) and XEP-0220/XEP-0185 (dialback): one
suite serving a.test (s2s on 127.0.0.2) and a raw Python socket on
127.0.0.5 that plays the remote servers r1.test ... r9.test (every one a
<host> override pointing at it). The raw peer opens incoming streams to
a.test and accepts a.test's outgoing streams, where it is the authoritative
server that answers a.test's db:verify. Only behaviour that conforms is
asserted here; each remote domain is used by one test, so the outgoing
stream a.test keeps per remote domain never leaks from one test to another."""
import re
import socket
import ssl
import time

import pytest

from conftest import NS_STREAM, stanza_error
from test_s2s import (NS_DB, NS_SERVER, NS_TLS, S2S_BIN, Peer, make_domain_cert, read_to_eof,
                      read_until, server_header, wait_ready, xep0185_key)
from test_s2s_cert import tls_stream
from test_s2s_piggyback import s2s_xml, start_suite, stop_pair

pytestmark = pytest.mark.time_limit(40)

A_SECRET = "dialback-secret-of-a.test"
NS_DB_FEATURE = "urn:xmpp:features:dialback"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
RAW_DOMAINS = tuple(f"r{i}.test" for i in range(1, 30))


@pytest.fixture(scope="module")
def conf(tmp_path_factory):
    """{"a": Suite, "peers": {"a": Peer}, "raw": Peer, "listener": socket,
    "cert": (pem, key) of the raw peer}."""
    if not S2S_BIN.exists():
        pytest.fail(f"{S2S_BIN} does not exist: build it first")
    d = tmp_path_factory.mktemp("s2s-conf")
    a, raw = Peer("a.test", "127.0.0.2"), Peer("r.test", "127.0.0.5")
    dead = Peer("dead.test", "127.0.0.1")
    listener = socket.create_server((raw.ip, raw.port))
    suites = {"peers": {"a": a}, "raw": raw, "listener": listener}
    try:
        suites["cert"] = make_domain_cert(d / "pki-r", "r.test")
        hosts = {dom: raw for dom in RAW_DOMAINS}
        hosts["dead.test"] = dead
        cert = make_domain_cert(d / "pki-a", "a.test")
        suites["a"] = start_suite(d / "a", a, ("a.test",),
                                  s2s_xml(a, {"a.test": cert}, hosts), cert)
        wait_ready(suites["a"])
        suites["a"].adduser("alice@a.test", "alice-pw")
        yield suites
    finally:
        listener.close()
        stop_pair(suites)


def s2s_log(conf):
    return conf["a"].procs["s2s"].log_text()


# ---------------------------------------------------------------------------
# Raw peer helpers
# ---------------------------------------------------------------------------

def recv_some(sock, deadline):
    """One recv before deadline; b"" on timeout, EOF or a broken stream."""
    left = deadline - time.monotonic()
    if left <= 0:
        return b""
    sock.settimeout(left)
    try:
        return sock.recv(65536)
    except OSError:                 # socket.timeout and ssl.SSLError too
        return b""


def read_re(sock, pattern, timeout=10.0, data=b""):
    """data plus the bytes read until the regex pattern matches them all
    (or EOF, or timeout)."""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, data, re.S):
        chunk = recv_some(sock, deadline)
        if not chunk:
            break
        data += chunk
    return data


def header_attrs(data):
    """The attributes of the first stream header in data, as a str dict."""
    m = re.search(rb"<stream:stream\s([^>]*)>", data)
    assert m, data
    return {k.decode(): v.decode()
            for k, v in re.findall(rb"([\w:.-]+)\s*=\s*['\"]([^'\"]*)['\"]", m.group(1))}


def raw_header(frm, to, sid):
    return (f"<?xml version='1.0'?><stream:stream xmlns='{NS_SERVER}' "
            f"xmlns:stream='{NS_STREAM}' xmlns:db='{NS_DB}' from='{frm}' to='{to}' "
            f"id='{sid}' version='1.0'>")


def server_ctx(cert):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert[0], cert[1])
    return ctx


def accept_out(conf, remote, timeout=15.0):
    """a.test's next connection for remote: (plain socket, its header bytes)."""
    lsock = conf["listener"]
    deadline = time.monotonic() + timeout
    while True:
        lsock.settimeout(max(0.1, deadline - time.monotonic()))
        sock, _ = lsock.accept()
        first = read_re(sock, rb"<stream:stream[^>]*>")
        if header_attrs(first).get("to") == remote:
            return sock, first
        sock.close()
        assert time.monotonic() < deadline, "no outgoing stream to " + remote


class Outgoing:
    """a.test's outgoing stream to one raw remote domain, accepted and
    upgraded with STARTTLS: sock (TLS), headers (the two initial headers
    a.test sent, as dicts), sid (the id we gave the TLS stream) and data
    (what came after our features: its db:result, db:verify ...)."""

    def __init__(self, conf, remote, timeout=15.0):
        sock, first = accept_out(conf, remote, timeout)
        self.first_raw = first
        self.headers = [header_attrs(first)]
        sock.sendall((raw_header(remote, "a.test", "plain-" + remote)
                      + f"<stream:features><starttls xmlns='{NS_TLS}'><required/></starttls>"
                      "</stream:features>").encode())
        got = read_until(sock, [b"<starttls"])
        assert b"<starttls" in got, got
        sock.sendall(f"<proceed xmlns='{NS_TLS}'/>".encode())
        sock.settimeout(10)
        self.sock = server_ctx(conf["cert"]).wrap_socket(sock, server_side=True)
        second = read_re(self.sock, rb"<stream:stream[^>]*>")
        self.headers.append(header_attrs(second))
        self.sid = "tls-" + remote
        self.sock.sendall((raw_header(remote, "a.test", self.sid)
                           + f"<stream:features><dialback xmlns='{NS_DB_FEATURE}'><errors/>"
                           "</dialback></stream:features>").encode())
        self.remote = remote
        self.data = b""

    def wait(self, pattern, timeout=10.0):
        """Reads until pattern matches everything read on this stream so far."""
        self.data = read_re(self.sock, pattern, timeout, self.data)
        m = re.search(pattern, self.data, re.S)
        assert m, (pattern, self.data)
        return m

    def accept_result(self):
        """Answers a.test's own db:result on this stream with valid."""
        self.wait(rb"<db:result[^>]*>[0-9a-f]+</db:result>")
        self.sock.sendall(f"<db:result from='{self.remote}' to='a.test' type='valid'/>"
                          .encode())

    def answer_verify(self, valid):
        """Answers the db:verify a.test sent here; returns its match."""
        m = self.wait(rb"<db:verify ([^>]*)>([^<]*)</db:verify>")
        attrs = header_attrs(b"<stream:stream " + m.group(1) + b">")
        kind = "valid" if valid else "invalid"
        self.sock.sendall(f"<db:verify from='{attrs['to']}' to='{attrs['from']}' "
                          f"id='{attrs['id']}' type='{kind}'/>".encode())
        return attrs, m.group(2).decode()

    def close(self):
        self.sock.close()


def incoming(conf, remote):
    """An incoming stream remote -> a.test after STARTTLS: (tls, data)."""
    return tls_stream(conf["peers"]["a"], remote, "a.test")


def authed(conf, remote):
    """remote -> a.test authenticated with dialback (a.test asks us, the
    authoritative server, and we say valid) and a.test -> remote ready too:
    (incoming tls socket, Outgoing)."""
    tls, _ = incoming(conf, remote)
    tls.sendall(f"<db:result from='{remote}' to='a.test'>{'ab' * 32}</db:result>".encode())
    out = Outgoing(conf, remote)
    out.accept_result()
    out.answer_verify(True)
    got = read_until(tls, [b"type='valid'", b"type='invalid'", b"</stream:stream>"], 15)
    assert b"type='valid'" in got, got
    return tls, out


def raw_stream_error(conf, payload, timeout=10.0):
    """Sends payload on a new plaintext connection to a.test: (data, closed)."""
    a = conf["peers"]["a"]
    with socket.create_connection((a.ip, a.port), timeout=10) as sock:
        sock.sendall(payload)
        return read_to_eof(sock, timeout)


def stream_condition(data):
    m = re.search(rb"<stream:error><([\w-]+)", data)
    return m.group(1).decode() if m else None


# ---------------------------------------------------------------------------
# Stream headers (RFC 6120 §4.7, §4.9)
# ---------------------------------------------------------------------------

def test_response_header_attributes(conf):
    """§4.7.1 from = the served domain, §4.7.3 a fresh id, §4.7.5 version
    1.0, jabber:server and the dialback prefix declared; §4.9.1.1 the
    features follow the header."""
    a = conf["peers"]["a"]
    with socket.create_connection((a.ip, a.port), timeout=10) as sock:
        sock.sendall(server_header("r1.test", "a.test").encode())
        data = read_until(sock, [b"</stream:features>"])
    h = header_attrs(data)
    assert h.get("from") == "a.test", h
    assert h.get("version") == "1.0", h
    assert h.get("xmlns") == NS_SERVER and h.get("xmlns:stream") == NS_STREAM, h
    assert h.get("xmlns:db") == NS_DB, h
    assert len(h.get("id", "")) >= 16, h
    with socket.create_connection((a.ip, a.port), timeout=10) as sock:
        sock.sendall(server_header("r1.test", "a.test").encode())
        other = header_attrs(read_until(sock, [b"</stream:features>"]))
    assert other["id"] != h["id"], (h, other)


@pytest.mark.parametrize("header, cond", [
    # §4.9.3.6: no 'to' at all names no domain we serve.
    (f"<stream:stream xmlns='{NS_SERVER}' xmlns:stream='{NS_STREAM}' from='r1.test' "
     "version='1.0'>", "host-unknown"),
    # §4.9.3.10: the content namespace must be jabber:server on s2s.
    (f"<stream:stream xmlns='jabber:client' xmlns:stream='{NS_STREAM}' from='r1.test' "
     "to='a.test' version='1.0'>", "invalid-namespace"),
    # §4.9.3.10: the streams namespace is wrong.
    (f"<stream:stream xmlns='{NS_SERVER}' xmlns:stream='urn:example:not-streams' "
     "from='r1.test' to='a.test' version='1.0'>", "invalid-namespace"),
])
def test_header_errors(conf, header, cond):
    """§4.9.1.2: the error comes after our own header, then the stream
    closes (§4.9.1.1)."""
    data, closed = raw_stream_error(conf, ("<?xml version='1.0'?>" + header).encode())
    assert closed, data
    assert data.index(b"<stream:stream") < data.index(b"<stream:error>"), data
    assert stream_condition(data) == cond, data
    assert data.rstrip().endswith(b"</stream:stream>"), data


def test_prolog_errors(conf):
    """§11.6: only UTF-8 (unsupported-encoding); §11.1: no DTD
    (restricted-xml); both before any header was read."""
    body = (f"<stream:stream xmlns='{NS_SERVER}' xmlns:stream='{NS_STREAM}' "
            "from='r1.test' to='a.test' version='1.0'>")
    for prolog, cond in (("<?xml version='1.0' encoding='ISO-8859-1'?>", "unsupported-encoding"),
                         ("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY x 'y'>]>",
                          "restricted-xml")):
        data, closed = raw_stream_error(conf, (prolog + body).encode())
        assert closed and stream_condition(data) == cond, data
        assert data.index(b"<stream:stream") < data.index(b"<stream:error>"), data


def test_higher_version_gets_ours(conf):
    """§4.7.5: a peer announcing 2.0 gets our 1.0 and the stream goes on."""
    a = conf["peers"]["a"]
    with socket.create_connection((a.ip, a.port), timeout=10) as sock:
        sock.sendall(server_header("r1.test", "a.test").replace(" version='1.0'>",
                                                               " version='2.0'>").encode())
        data = read_until(sock, [b"</stream:features>"])
    assert header_attrs(data)["version"] == "1.0" and b"<stream:error>" not in data, data


def test_no_version_is_refused_with_unsupported_version(conf):
    """§4.7.5: a header without version means 0.9; refusing it is allowed,
    and then the condition is unsupported-version (§4.9.3.25)."""
    data, closed = raw_stream_error(conf, (
        f"<?xml version='1.0'?><stream:stream xmlns='{NS_SERVER}' xmlns:stream='{NS_STREAM}' "
        f"xmlns:db='{NS_DB}' from='r1.test' to='a.test'>").encode())
    assert closed and stream_condition(data) == "unsupported-version", data


@pytest.mark.parametrize("tail, cond", [
    # §11.1: comments, processing instructions and DTDs are restricted XML.
    (b"<!-- a comment -->", "restricted-xml"),
    (b"<?pi data?>", "restricted-xml"),
    (b"<message from='x@r1.test' to='a@a.test'><body>&x;</body></message>", "restricted-xml"),
    # §4.9.3.13: broken XML.
    (b"<message></presence>", "not-well-formed"),
    # §4.9.3.2: a prefix without a namespace declaration.
    (b"<x:message from='r1.test' to='a.test'/>", "bad-namespace-prefix"),
])
def test_restricted_and_broken_xml(conf, tail, cond):
    data, closed = raw_stream_error(conf, server_header("r1.test", "a.test").encode() + tail)
    assert closed and stream_condition(data) == cond, data


def plain_exchange(conf, payload):
    """A plaintext stream r1.test -> a.test: the features, then payload is
    sent and everything until the close read: (features, rest, closed)."""
    a = conf["peers"]["a"]
    with socket.create_connection((a.ip, a.port), timeout=10) as sock:
        sock.sendall(server_header("r1.test", "a.test").encode())
        features = read_until(sock, [b"</stream:features>"])
        sock.sendall(payload.encode())
        return (features,) + read_to_eof(sock)


def test_peer_close_is_answered(conf):
    """§4.4: a closing tag from the peer gets ours, then the TCP close."""
    _, data, closed = plain_exchange(conf, "</stream:stream>")
    assert closed and b"</stream:stream>" in data and b"<stream:error>" not in data, data


# ---------------------------------------------------------------------------
# STARTTLS (RFC 6120 §5) and features
# ---------------------------------------------------------------------------

def test_features_before_and_after_tls(conf):
    """§5.3.1 STARTTLS offered as required; XEP-0220 dialback (with the
    errors flag) only once TLS is done; §5.4.3.3 no STARTTLS after TLS."""
    plain, _, _ = plain_exchange(conf, "</stream:stream>")
    assert re.search(rb"<starttls xmlns='" + NS_TLS.encode() + rb"'><required/></starttls>",
                     plain), plain
    assert NS_DB_FEATURE.encode() not in plain, plain
    tls, after = incoming(conf, "r1.test")
    tls.close()
    assert b"starttls" not in after, after
    assert re.search(rb"<dialback xmlns='" + NS_DB_FEATURE.encode() + rb"'><errors/>",
                     after), after


@pytest.mark.parametrize("payload", [
    f"<db:result from='r1.test' to='a.test'>{'ab' * 32}</db:result>",
    "<iq type='get' id='x' from='r1.test' to='a.test'><ping xmlns='urn:xmpp:ping'/></iq>",
])
def test_nothing_before_required_tls(conf, payload):
    """§5.3.1: TLS is mandatory-to-negotiate here; dialback or stanzas
    before it end the stream with a stream error and are not acted on."""
    _, data, closed = plain_exchange(conf, payload)
    assert closed and stream_condition(data) == "policy-violation", data
    assert b"<db:result" not in data and b"<iq" not in data, data


# ---------------------------------------------------------------------------
# Dialback (XEP-0220) with a.test as the receiving server
# ---------------------------------------------------------------------------

def test_dialback_round_trip_valid(conf):
    """XEP-0220 §2.2: a.test asks the authoritative server (us) with a
    db:verify carrying the key and the id of the incoming stream, from the
    receiving domain to the originating one; our valid gives the
    originating server a type='valid' result (§2.4) with from/to swapped."""
    tls, data = incoming(conf, "r2.test")
    sid = header_attrs(data)["id"]
    with tls:
        key = "0123456789abcdef" * 4
        tls.sendall(f"<db:result from='r2.test' to='a.test'>{key}</db:result>".encode())
        out = Outgoing(conf, "r2.test")
        with out.sock:
            out.accept_result()
            attrs, got_key = out.answer_verify(True)
            assert attrs["from"] == "a.test" and attrs["to"] == "r2.test", attrs
            assert attrs["id"] == sid and got_key == key, (attrs, sid, got_key)
            res = read_re(tls, rb"<db:result[^>]*/>")
    assert re.search(rb"<db:result (?=[^>]*from='a.test')(?=[^>]*to='r2.test')"
                     rb"[^>]*type='valid'/>", res), res
    assert "authenticated r2.test -> a.test with dialback, TLS1." in s2s_log(conf)


def test_dialback_round_trip_invalid(conf):
    """XEP-0220 §2.4: invalid from the authoritative server gives
    type='invalid', and with nothing else on the stream it ends."""
    tls, _ = incoming(conf, "r3.test")
    with tls:
        tls.sendall(f"<db:result from='r3.test' to='a.test'>{'cd' * 32}</db:result>".encode())
        out = Outgoing(conf, "r3.test")
        with out.sock:
            out.accept_result()
            out.answer_verify(False)
            data, closed = read_to_eof(tls, 15)
    assert re.search(rb"<db:result (?=[^>]*from='a.test')(?=[^>]*to='r3.test')"
                     rb"[^>]*type='invalid'/>", data), data
    assert closed, data


def test_dialback_authoritative_unreachable(conf):
    """XEP-0220 §2.4 (dialback errors): the authoritative server cannot be
    reached: a type='error' result with remote-server-not-found."""
    tls, _ = incoming(conf, "dead.test")
    with tls:
        tls.sendall(f"<db:result from='dead.test' to='a.test'>{'ef' * 32}</db:result>"
                    .encode())
        data, _ = read_to_eof(tls, 15)
    assert re.search(rb"<db:result (?=[^>]*from='a.test')(?=[^>]*to='dead.test')"
                     rb"[^>]*type='error'>", data), data
    assert b"<remote-server-not-found xmlns='" + NS_STANZAS.encode() + b"'/>" in data, data


def test_outgoing_stream_is_well_formed(conf):
    """a.test as the initiating server: RFC 6120 §4.7 header (from, to,
    version, no id), STARTTLS taken when offered (§5.4.2.1), a new header
    after TLS (§5.4.3.3), and a db:result whose key follows XEP-0185 for
    the id we gave the TLS stream."""
    tls, _ = incoming(conf, "r4.test")
    with tls:
        tls.sendall(f"<db:result from='r4.test' to='a.test'>{'01' * 32}</db:result>".encode())
        out = Outgoing(conf, "r4.test")
        with out.sock:
            m = out.wait(rb"<db:result ([^>]*)>([0-9a-f]+)</db:result>")
            for h in out.headers:
                assert h.get("from") == "a.test" and h.get("to") == "r4.test", h
                assert h.get("version") == "1.0" and "id" not in h, h
                assert h.get("xmlns") == NS_SERVER and h.get("xmlns:db") == NS_DB, h
            attrs = header_attrs(b"<stream:stream " + m.group(1) + b">")
            assert attrs == {"from": "a.test", "to": "r4.test"}, attrs
            want = xep0185_key(A_SECRET, "r4.test", "a.test", out.sid)
            assert m.group(2).decode() == want


# ---------------------------------------------------------------------------
# Dialback with a.test as the authoritative server
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("good", [True, False])
def test_db_verify_answered(conf, good):
    """XEP-0220 §2.3: a db:verify for a key of a.test is answered with the
    same id, from/to swapped, valid or invalid; the stream stays."""
    tls, _ = incoming(conf, "r5.test")
    with tls:
        sid = "stream-id-given-to-a.test"
        key = xep0185_key(A_SECRET, "r5.test", "a.test", sid) if good else "00" * 32
        tls.sendall(f"<db:verify from='r5.test' to='a.test' id='{sid}'>{key}</db:verify>"
                    .encode())
        data = read_re(tls, rb"<db:verify[^>]*/>")
        want = "valid" if good else "invalid"
        m = re.search(rb"<db:verify ([^>]*)/>", data)
        assert m, data
        attrs = header_attrs(b"<stream:stream " + m.group(1) + b">")
        assert attrs == {"from": "a.test", "to": "r5.test", "id": sid, "type": want}, attrs
        tls.sendall(b"</stream:stream>")
        rest, closed = read_to_eof(tls)
    assert closed and b"<stream:error>" not in rest, rest


# ---------------------------------------------------------------------------
# Stanzas on an authenticated stream (RFC 6120 §8, §10)
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def r6(conf):
    """r6.test -> a.test and a.test -> r6.test both authenticated."""
    tls, out = authed(conf, "r6.test")
    yield tls, out
    tls.close()
    out.close()


def iq_reply(out, iq_id, timeout=10.0):
    m = out.wait(rb"<iq (?=[^>]*id='" + iq_id.encode() + rb"')[^>]*>.*?</iq>|"
                 rb"<iq (?=[^>]*id='" + iq_id.encode() + rb"')[^>]*/>", timeout)
    return m.group(0)


def test_iq_to_server_disco_and_ping(r6):
    """XEP-0030 and XEP-0199: the domain answers, from the domain, to the
    full JID that asked; the answer comes on the outgoing stream."""
    tls, out = r6
    tls.sendall(b"<iq type='get' id='disco1' from='x@r6.test/res' to='a.test'>"
                b"<query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
                b"<iq type='get' id='ping1' from='x@r6.test/res' to='a.test'>"
                b"<ping xmlns='urn:xmpp:ping'/></iq>")
    disco = iq_reply(out, "disco1")
    assert b"type='result'" in disco and b"from='a.test'" in disco, disco
    assert b"to='x@r6.test/res'" in disco and b"<identity" in disco, disco
    ping = iq_reply(out, "ping1")
    assert b"type='result'" in ping and b"from='a.test'" in ping, ping


@pytest.mark.parametrize("to, payload, conds", [
    # RFC 6120 §10.5.3.1 (no such account): service-unavailable, from the
    # address the iq was sent to.
    ("nobody@a.test", "<query xmlns='jabber:iq:version'/>", (b"service-unavailable",)),
    # §8.2.3 / §8.4: an iq the server does not understand gets an error.
    ("a.test", "<query xmlns='urn:example:nothing'/>",
     (b"service-unavailable", b"feature-not-implemented")),
])
def test_iq_errors_come_back(r6, to, payload, conds):
    tls, out = r6
    iq_id = "err-" + to
    tls.sendall(f"<iq type='get' id='{iq_id}' from='x@r6.test/res' to='{to}'>{payload}</iq>"
                .encode())
    err = iq_reply(out, iq_id)
    assert b"type='error'" in err and f"from='{to}'".encode() in err, err
    assert b"to='x@r6.test/res'" in err, err
    assert any(b"<" + c in err for c in conds), err


def test_remote_message_reaches_local_user(conf, r6):
    tls, _ = r6
    alice = conf["a"].client("1", "alice@a.test", "alice-pw", "conf")
    tls.sendall(b"<message from='x@r6.test/res' to='alice@a.test/conf' type='chat'>"
                b"<body>conformance hello</body></message>")
    msg = alice.wait_message(body="conformance hello", timeout=10)
    assert msg.get("from") == "x@r6.test/res", msg


def test_subscription_to_unknown_user_is_ignored(r6):
    """RFC 6121 §3.1.3 / RFC 6120 §10.5.3.1: presence to an account that
    does not exist is silently dropped; a later ping still works."""
    tls, out = r6
    tls.sendall(b"<presence from='x@r6.test' to='nobody@a.test' type='subscribe'/>"
                b"<iq type='get' id='after-sub' from='x@r6.test/res' to='a.test'>"
                b"<ping xmlns='urn:xmpp:ping'/></iq>")
    iq_reply(out, "after-sub")
    time.sleep(0.5)
    out.data = read_re(out.sock, rb"<presence", 0.5, out.data)
    assert b"<presence" not in out.data, out.data


def test_local_user_reaches_remote(conf, r6):
    """§8.1.2.2 outgoing stanzas carry a from of the local domain; the body
    arrives unchanged on the authenticated outgoing stream."""
    _, out = r6
    alice = conf["a"].client("1", "alice@a.test", "alice-pw", "conf-out")
    alice.message("x@r6.test", "to the raw peer")
    m = out.wait(rb"<message [^>]*>.*?to the raw peer.*?</message>")
    assert b"from='alice@a.test/conf-out'" in m.group(0), m.group(0)


@pytest.mark.parametrize("remote, stanza, cond", [
    # §4.9.3.7: no from, or no to.
    ("r10.test", "<message to='alice@a.test'><body>x</body></message>", "improper-addressing"),
    ("r11.test", "<message from='x@r11.test'><body>x</body></message>", "improper-addressing"),
    # §4.9.3.9: a from domain that is not authenticated on this stream.
    ("r12.test", "<message from='x@r8.test' to='alice@a.test'><body>x</body></message>",
     "invalid-from"),
    # A to domain that is not served here.
    ("r13.test", "<message from='x@r13.test' to='y@elsewhere.test'><body>x</body></message>",
     "host-unknown"),
    # §4.9.3.24: a first-level element that is not a stanza.
    ("r14.test", "<foo xmlns='urn:example:foo'/>", "unsupported-stanza-type"),
])
def test_bad_stanza_ends_stream(conf, remote, stanza, cond):
    tls, out = authed(conf, remote)
    with tls, out.sock:
        tls.sendall(stanza.encode())
        data, closed = read_to_eof(tls)
    assert closed and stream_condition(data) == cond, data
    assert data.rstrip().endswith(b"</stream:stream>"), data


def test_no_answer_to_errors_and_results(r6):
    """RFC 6120 §8.3.1 / §8.2.3: an error or an iq result to an account
    that does not exist gets nothing back; a message gets
    service-unavailable (or nothing, §10.5.3.1: here the error)."""
    tls, out = r6
    tls.sendall(b"<iq type='error' id='e1' from='x@r6.test/res' to='nobody@a.test'>"
                b"<error type='cancel'><item-not-found xmlns='" + NS_STANZAS.encode() +
                b"'/></error></iq>"
                b"<iq type='result' id='e2' from='x@r6.test/res' to='nobody@a.test'/>"
                b"<message id='msg-nouser' from='x@r6.test/res' to='nobody@a.test'>"
                b"<body>anyone?</body></message>")
    m = out.wait(rb"<message [^>]*id='msg-nouser'[^>]*>.*?</message>")
    assert b"type='error'" in m.group(0) and b"<service-unavailable" in m.group(0), m.group(0)
    assert b"from='nobody@a.test'" in m.group(0), m.group(0)
    assert not re.search(rb"id='e[12]'", out.data), out.data


def test_second_domain_on_one_incoming_stream(conf):
    """XEP-0220 §2.5 (piggybacking), receiving side: a second originating
    domain gets its own db:result answer, and its stanzas pass."""
    tls, out = authed(conf, "r15.test")
    with tls, out.sock:
        tls.sendall(f"<db:result from='r16.test' to='a.test'>{'cd' * 32}</db:result>".encode())
        out2 = Outgoing(conf, "r16.test")
        with out2.sock:
            out2.accept_result()
            out2.answer_verify(True)
            got = read_re(tls, rb"to='r16.test' type='\w+'/>")
            assert b"<db:result from='a.test' to='r16.test' type='valid'/>" in got, got
            tls.sendall(b"<iq type='get' id='pig1' from='x@r16.test/res' to='a.test'>"
                        b"<ping xmlns='urn:xmpp:ping'/></iq>")
            assert b"type='result'" in iq_reply(out2, "pig1")


# ---------------------------------------------------------------------------
# a.test as the initiating server, against a raw remote
# ---------------------------------------------------------------------------

def bounce_of(alice, mid):
    err = alice.wait_for(lambda e: e.name == "message" and e.get("id") == mid, timeout=15)
    assert err.get("type") == "error", err
    return stanza_error(err)[1]


def test_outgoing_refuses_a_peer_without_tls(conf):
    """§5.3.1: TLS is mandatory-to-negotiate here, so a peer that does not
    offer it gets a stream error and the waiting stanza bounces."""
    alice = conf["a"].client("1", "alice@a.test", "alice-pw", "notls")
    mid = alice.message("x@r17.test", "no tls please")
    sock, _ = accept_out(conf, "r17.test")
    with sock:
        sock.sendall((raw_header("r17.test", "a.test", "plain")
                      + f"<stream:features><dialback xmlns='{NS_DB_FEATURE}'><errors/>"
                      "</dialback></stream:features>").encode())
        data, closed = read_to_eof(sock)
    assert closed and stream_condition(data) == "policy-violation", data
    assert b"<db:result" not in data and b"no tls please" not in data, data
    assert bounce_of(alice, mid) == "remote-server-not-found"


@pytest.mark.parametrize("remote, answer", [
    ("r18.test", "type='invalid'/>"),
    ("r19.test", f"type='error'><error type='cancel'><item-not-found xmlns='{NS_STANZAS}'/>"
                 "</error></db:result>"),
])
def test_outgoing_dialback_refused(conf, remote, answer):
    """XEP-0220 §2.4: invalid or error for our key: nothing is sent, the
    stream closes and the stanza bounces with remote-server-not-found."""
    alice = conf["a"].client("1", "alice@a.test", "alice-pw", "refused-" + remote[:3])
    mid = alice.message("x@" + remote, "refused")
    out = Outgoing(conf, remote)
    with out.sock:
        out.wait(rb"</db:result>")
        out.sock.sendall(f"<db:result from='{remote}' to='a.test' {answer}".encode())
        data, closed = read_to_eof(out.sock)
    assert closed and data.strip() == b"</stream:stream>", data
    assert bounce_of(alice, mid) == "remote-server-not-found"


@pytest.mark.parametrize("remote, ending", [
    ("r20.test", "</stream:stream>"),
    ("r21.test", "<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                 "</stream:error></stream:stream>"),
])
def test_outgoing_close_answered_and_reopened(conf, remote, ending):
    """§4.4: the peer's closing tag (alone or after a stream error) gets
    ours; the next stanza opens a new stream."""
    alice = conf["a"].client("1", "alice@a.test", "alice-pw", "close-" + remote[:3])
    alice.message("x@" + remote, "first")
    out = Outgoing(conf, remote)
    with out.sock:
        out.accept_result()
        out.wait(rb">first</body>")
        out.sock.sendall(ending.encode())
        data, closed = read_to_eof(out.sock)
    assert closed and data.strip() == b"</stream:stream>", data
    alice.message("x@" + remote, "second")
    again = Outgoing(conf, remote)
    with again.sock:
        again.accept_result()
        assert b"alice@a.test/close-" in again.wait(rb"<message [^>]*>.*?>second</body>").group(0)


# --- found missing by an outside review; each failed before its fix -------

def first_header(conf, frm="r22.test", to="a.test", lang=None):
    """Our response header to a plaintext initial header, as a dict."""
    a = conf["peers"]["a"]
    hdr = server_header(frm, to)
    if lang:
        hdr = hdr.replace(" version='1.0'>", f" xml:lang='{lang}' version='1.0'>")
    with socket.create_connection((a.ip, a.port), timeout=10) as sock:
        sock.sendall(hdr.encode())
        return header_attrs(read_until(sock, [b"</stream:features>", b"</stream:stream>"]))


# --- RFC 6120 §4.7.2 (MUST): s2s response header 'to' ----------------------

def test_response_header_has_to(conf):
    """RFC 6120 §4.7.2: "For response stream headers in server-to-server
    communication, the receiving entity MUST include a 'to' attribute in
    the response stream header and MUST set its value to the domainpart
    specified in the 'from' attribute of the initial stream header."
    Both before and after STARTTLS."""
    assert first_header(conf).get("to") == "r22.test"
    tls, data = incoming(conf, "r22.test")
    tls.close()
    assert header_attrs(data).get("to") == "r22.test", data


# --- RFC 6120 §4.7.4 (MUST / SHOULD): xml:lang -----------------------------

def test_response_header_has_xml_lang(conf):
    """RFC 6120 §4.7.4: the receiving entity MUST include 'xml:lang' in the
    response stream header (the initiator's value if it sent one and it is
    supported, else a default)."""
    assert first_header(conf, lang="en").get("xml:lang") == "en"
    assert first_header(conf).get("xml:lang")


def test_outgoing_initial_header_has_xml_lang(conf):
    """RFC 6120 §4.7.4: the initiating entity SHOULD include 'xml:lang' in
    the initial stream header."""
    alice = conf["a"].client("1", "alice@a.test", "alice-pw", "lang")
    alice.message("x@r23.test", "lang check")
    sock, first = accept_out(conf, "r23.test")
    sock.close()
    assert header_attrs(first).get("xml:lang"), first


# --- RFC 6120 §4.7.1 / §4.7.3 (MUST): headers sent before a stream error ----

@pytest.mark.parametrize("payload", [
    # An unknown 'to'.
    server_header("r22.test", "elsewhere.test"),
    # A prolog error (unsupported encoding), before the header is read.
    f"<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream xmlns='{NS_SERVER}' "
    f"xmlns:stream='{NS_STREAM}' xmlns:db='{NS_DB}' from='r22.test' to='a.test' "
    "version='1.0'>",
])
def test_error_header_has_from_and_id(conf, payload):
    """RFC 6120 §4.7.1: the response header MUST carry 'from' with one of the
    receiving entity's FQDNs; §4.7.3: it MUST carry a unique, non-empty
    'id'. For host-unknown the first served domain is named."""
    data, closed = raw_stream_error(conf, payload.encode())
    assert closed, data
    h = header_attrs(data)
    assert h.get("from") == "a.test", data
    assert len(h.get("id", "")) >= 16, data


# --- XEP-0220 dialback errors (SHOULD, receiving / authoritative side) ------

def test_db_result_for_unserved_domain_is_a_dialback_error(conf):
    """XEP-0220 (dialback errors, which a.test announces with
    <dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>): a
    db:result whose 'to' the receiving server does not host is answered
    with <db:result type='error'> carrying <item-not-found/> (type cancel),
    and the stream stays usable; the <host-unknown/> stream error is the
    behaviour for peers without dialback-error support."""
    tls, _ = incoming(conf, "r24.test")
    with tls:
        tls.sendall(f"<db:result from='r24.test' to='unserved.test'>{'ab' * 32}</db:result>"
                    .encode())
        data = read_re(tls, rb"</db:result>|</stream:stream>")
    assert re.search(rb"<db:result (?=[^>]*from='unserved.test')(?=[^>]*to='r24.test')"
                     rb"[^>]*type='error'>", data), data
    assert b"<item-not-found xmlns='" + NS_STANZAS.encode() + b"'/>" in data, data
    assert b"<stream:error>" not in data, data


def test_db_verify_for_unserved_domain_is_a_dialback_error(conf):
    """XEP-0220, same rule for the authoritative side: a db:verify whose
    'to' we do not host gets <db:verify type='error'> with <item-not-found/>
    (same id, from/to swapped), not a <host-unknown/> stream error."""
    tls, _ = incoming(conf, "r25.test")
    with tls:
        tls.sendall(f"<db:verify from='r25.test' to='unserved.test' id='sid1'>{'ab' * 32}"
                    "</db:verify>".encode())
        data = read_re(tls, rb"</db:verify>|</stream:stream>")
    assert re.search(rb"<db:verify (?=[^>]*from='unserved.test')(?=[^>]*to='r25.test')"
                     rb"(?=[^>]*id='sid1')[^>]*type='error'>", data), data
    assert b"<item-not-found" in data and b"<stream:error>" not in data, data


def test_dialback_error_keeps_the_stream(conf):
    """XEP-0220 dialback errors: after a type='error' result (authoritative
    server unreachable) the originating server may still try other domains
    on the stream, so the receiving server does not tear it down with
    <remote-connection-failed/>; the handshake timeout ends a stream that
    stays unauthenticated."""
    tls, _ = incoming(conf, "dead.test")
    with tls:
        tls.sendall(f"<db:result from='dead.test' to='a.test'>{'ef' * 32}</db:result>"
                    .encode())
        data = read_re(tls, rb"</db:result>")
        assert b"type='error'" in data, data
        rest, closed = read_to_eof(tls, 1.0)
    assert not closed and b"remote-connection-failed" not in rest, rest


# --- XEP-0368 (SHOULD): ALPN on direct TLS -----------------------------------

def test_direct_tls_negotiates_alpn_xmpp_server(conf):
    """XEP-0368: direct TLS connections use ALPN with the protocol id
    'xmpp-server' for server-to-server (SHOULD)."""
    a = conf["peers"]["a"]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["xmpp-server"])
    with ctx.wrap_socket(socket.create_connection((a.ip, a.tls_port), timeout=10),
                         server_hostname="a.test") as tls:
        assert tls.selected_alpn_protocol() == "xmpp-server"


# --- RFC 6121 §4.3.2 (SHOULD): probes from unsubscribed entities ------------

@pytest.mark.parametrize("to", ["nobody@a.test", "alice@a.test"])
def test_probe_without_subscription_gets_unsubscribed(r6, to):
    """RFC 6121 §4.3.2: a presence probe for an account that does not exist,
    or whose roster gives the prober no 'from' subscription, SHOULD be
    answered with presence type='unsubscribed' (from the contact's bare
    JID); RFC 6121 §8.5.1 allows the same answer where there is no account,
    so the answer does not tell whether it exists."""
    tls, out = r6
    tls.sendall(f"<presence type='probe' from='x@r6.test' to='{to}'/>".encode())
    m = out.wait(rf"<presence [^>]*from='{re.escape(to)}'[^>]*type='unsubscribed'[^>]*/?>"
                 .encode(), 5)
    assert m, to
