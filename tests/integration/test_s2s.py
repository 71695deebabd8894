# SPDX-License-Identifier: MIT
"""Federation: two whole suites (router, store, sm, c2s, s2s each) on
loopback serving a.test (s2s on 127.0.0.2) and b.test (s2s on 127.0.0.3),
each with its own self-signed certificate, finding each other through the
static <host> override. Users of the two domains exchange messages and a
presence subscription; stanzas to an unreachable domain come back as
remote-server-not-found; raw sockets play broken and rogue servers."""
import hashlib
import hmac
import re
import socket
import ssl
import time

import pytest

from conftest import (BUILD_DIR, NS_STREAM, ComponentDef, Router, certtool, free_port,
                      stanza_error)
from suite_harness import C2sDef, FullRouter, Proc, Suite

S2S_BIN = BUILD_DIR / "bin" / "xmppd-s2s"
NS_SERVER = "jabber:server"
NS_DB = "jabber:server:dialback"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
HANDSHAKE_TIMEOUT_S = 3

pytestmark = pytest.mark.time_limit(30)


def make_domain_cert(d, domain):
    """A self-signed certificate naming domain: (cert, key)."""
    d.mkdir(parents=True, exist_ok=True)
    key, pem, tmpl = d / f"{domain}.key", d / f"{domain}.pem", d / f"{domain}.tmpl"
    tmpl.write_text(f'cn = "{domain}"\ndns_name = "{domain}"\ntls_www_server\n'
                    "tls_www_client\nsigning_key\nencryption_key\nexpiration_days = 30\n")
    certtool("--generate-privkey", "--key-type=ecdsa", "--curve=secp256r1",
             "--outfile", str(key))
    certtool("--generate-self-signed", "--load-privkey", str(key), "--template", str(tmpl),
             "--outfile", str(pem))
    return str(pem), str(key)


class Peer:
    """One suite's s2s addresses, known before any config is written."""

    def __init__(self, domain, ip):
        self.domain = domain
        self.ip = ip
        self.port = free_port(ip)
        self.tls_port = free_port(ip)


class FedRouter(FullRouter):
    """A suite's config with one domain, the s2s default route and <s2s>."""

    def __init__(self, workdir, domain, s2s_xml):
        super().__init__(workdir, "<database driver='sqlite' file='xmppd.db'/>",
                         "<offline max='1000'/>")
        self.domains = [domain]
        self.default_route = "s2s"
        self.components["s2s"] = ComponentDef("s2s", "secret-s2s", domain=False,
                                              allow=[("service", "s2s")], allow_remote=True)
        self.s2s_xml = s2s_xml

    def config_text(self):
        return super().config_text().replace("</xmppd>\n", self.s2s_xml + "</xmppd>\n")


def s2s_section(me, others, cert, closed_port):
    hosts = "".join(f"    <host domain='{o.domain}' address='{o.ip}' port='{o.port}'/>\n"
                    for o in others)
    return ("  <s2s>\n"
            "    <connect unix='router.sock' name='s2s' instance='s2s/1'/>\n"
            f"    <listen tcp='{me.ip}:{me.port}'/>\n"
            f"    <listen tls='{me.ip}:{me.tls_port}'/>\n"
            f"    <certificate domain='{me.domain}' cert='{cert[0]}' key='{cert[1]}'/>\n"
            f"    <dialback secret='dialback-secret-of-{me.domain}'/>\n"
            + hosts +
            f"    <host domain='nowhere.test' address='127.0.0.1' port='{closed_port}'/>\n"
            f"    <limits handshake-timeout='{HANDSHAKE_TIMEOUT_S}s' idle-timeout='60s'/>\n"
            "  </s2s>\n")


def stop_suites(suites):
    """Stops every Suite among suites' values by PID (clients first, the
    router last); returns what exited badly, printing those logs."""
    problems = []
    for key, s in suites.items():
        if not isinstance(s, Suite):
            continue
        for c in s.clients:
            c.abort()
        names = sorted(n for n in s.procs if n.startswith("c2s")) + ["s2s", "sm", "store"]
        for name in names:
            p = s.procs.get(name)
            if not p:
                continue
            code = p.stop()
            if code != 0:
                problems.append(f"{key}: {name} exited with {code!r}")
                print(f"--- {key} {p.log_path.name} ---\n{p.log_text()[-6000:]}")
        if s.router.stop() != 0:
            problems.append(f"{key}: router exited badly")
    return problems


def start_fed_suite(workdir, me, xml, cert, domains=None, c2s=(), with_s2s=True):
    """A suite for me with the <s2s> section xml: router, store, sm, an s2s
    (unless with_s2s is false) and the c2s of c2s. domains: the served
    domains (default me's)."""
    r = FedRouter(workdir, me.domain, xml)
    if domains:
        r.domains = list(domains)
    s = Suite(r, cert, r.dir)
    r.start()
    s.procs["store"] = Proc(BUILD_DIR / "bin" / "xmppd-store", r.config_path, r.dir, "store")
    s.procs["sm"] = Proc(BUILD_DIR / "bin" / "xmppd-sm", r.config_path, r.dir, "sm")
    if with_s2s:
        s.procs["s2s"] = Proc(S2S_BIN, r.config_path, r.dir, "s2s")
    for c in c2s:
        s.start_c2s(c)
    return s


def start_suite(workdir, me, others, cert, closed_port):
    return start_fed_suite(workdir, me, s2s_section(me, others, cert, closed_port), cert,
                           c2s=[C2sDef("1", domain=me.domain)])


def wait_ready(s, timeout=20.0):
    """Until store, sm, every c2s and s2s/1 have bound their services."""
    s.wait_attached(timeout, also=[("s2s/1", "s2s")])


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    """The two suites, shared by the tests of this file: {"a": Suite, "b": Suite}."""
    if not S2S_BIN.exists():
        pytest.fail(f"{S2S_BIN} does not exist: build it first")
    d = tmp_path_factory.mktemp("s2s")
    a, b = Peer("a.test", "127.0.0.2"), Peer("b.test", "127.0.0.3")
    closed_port = free_port()
    suites = {}
    try:
        suites["a"] = start_suite(d / "a", a, [b], make_domain_cert(d / "pki-a", a.domain),
                                  closed_port)
        suites["b"] = start_suite(d / "b", b, [a], make_domain_cert(d / "pki-b", b.domain),
                                  closed_port)
        for s in suites.values():
            wait_ready(s)
        suites["a"].adduser("alice@a.test", "alice-pw")
        suites["b"].adduser("bob@b.test", "bob-pw")
        suites["peers"] = {"a": a, "b": b}
        yield suites
    finally:
        problems = stop_suites(suites)
        if problems:
            pytest.fail("; ".join(problems))


def s2s_log(fed, key):
    return fed[key].procs["s2s"].log_text()


# ---------------------------------------------------------------------------
# Users of the two domains
# ---------------------------------------------------------------------------

def test_messages_cross_both_ways(fed):
    alice = fed["a"].client("1", "alice@a.test", "alice-pw", "home")
    bob = fed["b"].client("1", "bob@b.test", "bob-pw", "work")
    alice.message("bob@b.test", "hello from a")
    got = bob.wait_message(body="hello from a", timeout=15)
    assert got.get("from") == "alice@a.test/home", got
    bob.message("alice@a.test/home", "hello from b")
    got = alice.wait_message(body="hello from b", timeout=15)
    assert got.get("from") == "bob@b.test/work", got
    # A second round reuses the authenticated streams.
    for i in range(5):
        alice.message("bob@b.test/work", f"again {i}")
    for i in range(5):
        bob.wait_message(body=f"again {i}", timeout=10)
    la, lb = s2s_log(fed, "a"), s2s_log(fed, "b")
    assert "authenticated to b.test with dialback, TLS1." in la, la[-3000:]
    assert "authenticated a.test -> b.test with dialback, TLS1." in lb, lb[-3000:]
    assert la.count("opening a stream to b.test") == 1, la[-3000:]


def test_presence_subscription_handshake(fed):
    alice = fed["a"].client("1", "alice@a.test", "alice-pw", "sub")
    bob = fed["b"].client("1", "bob@b.test", "bob-pw", "sub")
    alice.send("<presence to='bob@b.test' type='subscribe'/>")
    req = bob.wait_for(lambda e: e.name == "presence" and e.get("type") == "subscribe",
                       timeout=15)
    assert req.get("from") == "alice@a.test", req
    bob.send("<presence to='alice@a.test' type='subscribed'/>")
    ok = alice.wait_for(lambda e: e.name == "presence" and e.get("type") == "subscribed",
                        timeout=15)
    assert ok.get("from") == "bob@b.test", ok
    # Now subscribed, alice gets bob's presence (sm probes or bob's sm sends it).
    alice.wait_presence("bob@b.test", timeout=15)
    deadline = time.monotonic() + 10
    while True:
        item = alice.roster().get("bob@b.test")
        if item is not None and item.get("subscription") == "to":
            break
        assert time.monotonic() < deadline, f"alice's roster: {item!r}"
        time.sleep(0.2)
    item = bob.roster().get("alice@a.test")
    assert item is not None and item.get("subscription") == "from", item


def test_unreachable_domain_bounces(fed):
    alice = fed["a"].client("1", "alice@a.test", "alice-pw", "bounce")
    mid = alice.message("nobody@nowhere.test", "into the void")
    err = alice.wait_for(lambda e: e.name == "message" and e.get("id") == mid, timeout=15)
    assert err.get("type") == "error", err
    assert stanza_error(err)[1] == "remote-server-not-found", err
    assert err.get("from") == "nobody@nowhere.test", err


def test_resolver_fallback_bounces(fed):
    """A domain without <host> is looked up in DNS; an address literal needs
    no lookup and is tried on port 5269, where nothing listens here."""
    alice = fed["a"].client("1", "alice@a.test", "alice-pw", "resolve")
    mid = alice.message("nobody@127.0.0.9", "nobody home")
    err = alice.wait_for(lambda e: e.name == "message" and e.get("id") == mid, timeout=20)
    assert err.get("type") == "error", err
    assert stanza_error(err)[1] in ("remote-server-not-found", "remote-server-timeout"), err
    assert "connect to 127.0.0.9:5269" in s2s_log(fed, "a")


# ---------------------------------------------------------------------------
# Broken and rogue peers (raw sockets)
# ---------------------------------------------------------------------------

def read_until(sock, needles, timeout=10.0):
    """Bytes read until one of needles arrived or the peer closed."""
    data = b""
    deadline = time.monotonic() + timeout
    while not any(n in data for n in needles):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except (ConnectionResetError, ssl.SSLError):
            break
        if not chunk:
            break
        data += chunk
    return data


def read_to_eof(sock, timeout=10.0):
    """(bytes, closed): everything until the peer closed or timeout."""
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, False
        except (ConnectionResetError, ssl.SSLError):
            return data, True
        if not chunk:
            return data, True
        data += chunk


def server_header(frm, to):
    return (f"<?xml version='1.0'?><stream:stream xmlns='{NS_SERVER}' "
            f"xmlns:stream='{NS_STREAM}' xmlns:db='{NS_DB}' from='{frm}' to='{to}' "
            "version='1.0'>")


def test_garbage_gets_stream_error(fed):
    a = fed["peers"]["a"]
    with socket.create_connection((a.ip, a.port), timeout=10) as sock:
        sock.sendall(b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                     b"xmlns:stream='http://etherx.jabber.org/streams' to='a.test' "
                     b"version='1.0'><<<this is not XML>>>\x00\x01")
        data, closed = read_to_eof(sock)
    assert closed, data
    assert b"<stream:error>" in data and b"not-well-formed" in data, data


def test_wrong_namespace_and_unknown_host(fed):
    a = fed["peers"]["a"]
    with socket.create_connection((a.ip, a.port), timeout=10) as sock:
        sock.sendall(server_header("b.test", "elsewhere.test").encode())
        data, closed = read_to_eof(sock)
    assert closed and b"host-unknown" in data, data


def test_stanza_before_dialback_refused(fed):
    a = fed["peers"]["a"]
    with socket.create_connection((a.ip, a.port), timeout=10) as sock:
        sock.sendall(server_header("b.test", "a.test").encode())
        read_until(sock, [b"</stream:features>"])
        # Plaintext stanzas while TLS is required: policy-violation.
        sock.sendall(b"<message from='bob@b.test' to='alice@a.test'><body>x</body></message>")
        data, closed = read_to_eof(sock)
    assert closed and b"policy-violation" in data, data


def rogue_tls_stream(a):
    """A raw server stream to a.test that claims to be b.test, upgraded with
    STARTTLS; returns (tls socket, bytes of the new stream so far)."""
    sock = socket.create_connection((a.ip, a.port), timeout=10)
    sock.sendall(server_header("b.test", "a.test").encode())
    features = read_until(sock, [b"</stream:features>"])
    assert b"starttls" in features, features
    sock.sendall(f"<starttls xmlns='{NS_TLS}'/>".encode())
    proceed = read_until(sock, [b"<proceed"])
    assert b"proceed" in proceed, proceed
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    tls = ctx.wrap_socket(sock, server_hostname="a.test")
    tls.sendall(server_header("b.test", "a.test").encode())
    data = read_until(tls, [b"</stream:features>"])
    assert b"urn:xmpp:features:dialback" in data, data
    return tls, data


def test_wrong_dialback_key_refused(fed):
    a = fed["peers"]["a"]
    tls, _ = rogue_tls_stream(a)
    with tls:
        tls.sendall(f"<db:result from='b.test' to='a.test'>{'0' * 64}</db:result>".encode())
        data, closed = read_to_eof(tls, timeout=15)
    assert b"type='invalid'" in data, data
    assert b"invalid-from" in data, data
    assert closed, data
    assert "is invalid; closing with invalid-from" in s2s_log(fed, "a")
    assert "that is not ours; answered invalid" in s2s_log(fed, "b")


def xep0185_key(secret, receiving, originating, stream_id):
    """XEP-0185: hex HMAC-SHA256(hex SHA-256(secret), receiving ' ' originating ' ' id)."""
    k = hashlib.sha256(secret.encode()).hexdigest().encode()
    return hmac.new(k, f"{receiving} {originating} {stream_id}".encode(),
                    hashlib.sha256).hexdigest()


def test_independent_dialback_key_accepted(fed):
    """A key made here (knowing b.test's secret) verifies with b.test, so
    the stream is authenticated for b.test -> a.test only: a stanza from
    b.test reaches alice, one from another domain ends the stream."""
    a = fed["peers"]["a"]
    alice = fed["a"].client("1", "alice@a.test", "alice-pw", "py-target")
    tls, data = rogue_tls_stream(a)
    with tls:
        m = re.search(rb"<stream:stream[^>]*\sid='([^']+)'", data)
        assert m, data
        key = xep0185_key("dialback-secret-of-b.test", "a.test", "b.test", m.group(1).decode())
        tls.sendall(f"<db:result from='b.test' to='a.test'>{key}</db:result>".encode())
        got = read_until(tls, [b"type='valid'", b"type='invalid'", b"</stream:stream>"], 15)
        assert b"type='valid'" in got, got
        tls.sendall(b"<message from='bob@b.test/py' to='alice@a.test/py-target' type='chat'>"
                    b"<body>from python</body></message>")
        msg = alice.wait_message(body="from python", timeout=10)
        assert msg.get("from") == "bob@b.test/py", msg
        tls.sendall(b"<message from='eve@c.test' to='alice@a.test'><body>x</body></message>")
        data, closed = read_to_eof(tls)
    assert closed and b"invalid-from" in data, data
    alice.no_message(0.5)


def test_stanzas_after_failed_claim_are_not_forwarded(fed):
    """A rogue that skips dialback and just sends a stanza gets
    not-authorized, and nothing reaches the user."""
    a = fed["peers"]["a"]
    alice = fed["a"].client("1", "alice@a.test", "alice-pw", "rogue-target")
    tls, _ = rogue_tls_stream(a)
    with tls:
        tls.sendall(b"<message from='bob@b.test/x' to='alice@a.test' type='chat'>"
                    b"<body>forged</body></message>")
        data, closed = read_to_eof(tls)
    assert closed and b"not-authorized" in data, data
    alice.no_message(1.0)


def test_stalled_handshake_times_out(fed):
    a = fed["peers"]["a"]
    with socket.create_connection((a.ip, a.port), timeout=10) as sock:
        sock.sendall(b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' ")
        t0 = time.monotonic()
        data, closed = read_to_eof(sock, timeout=HANDSHAKE_TIMEOUT_S + 8)
        took = time.monotonic() - t0
    assert closed, data
    assert b"connection-timeout" in data, data
    assert HANDSHAKE_TIMEOUT_S - 1 <= took <= HANDSHAKE_TIMEOUT_S + 6, took


def test_direct_tls_listener(fed):
    """XEP-0368: TLS from the first byte, then the stream and features."""
    a = fed["peers"]["a"]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((a.ip, a.tls_port), timeout=10)
    with ctx.wrap_socket(raw, server_hostname="a.test") as tls:
        tls.sendall(server_header("b.test", "a.test").encode())
        data = read_until(tls, [b"</stream:features>"])
    assert b"urn:xmpp:features:dialback" in data and b"starttls" not in data, data


# ---------------------------------------------------------------------------
# Limits, with one s2s serving two domains (dialback between them is
# checked locally, so no second suite is needed)
# ---------------------------------------------------------------------------

class LoneRouter(Router):
    def __init__(self, workdir, s2s_xml):
        super().__init__(workdir, [ComponentDef("s2s", "secret-s2s", domain=False,
                                                allow=[("service", "s2s")],
                                                allow_remote=True)],
                         default_route="s2s", domains=("c.test", "d.test"))
        self.s2s_xml = s2s_xml

    def config_text(self):
        return super().config_text().replace("</xmppd>\n", self.s2s_xml + "</xmppd>\n")


@pytest.fixture
def lone_s2s(tmp_path):
    ip = "127.0.0.4"
    port = free_port(ip)
    cert = make_domain_cert(tmp_path / "pki", "c.test")
    xml = ("  <s2s>\n"
           "    <connect unix='router.sock' name='s2s' instance='s2s/1'/>\n"
           f"    <listen tcp='{ip}:{port}'/>\n"
           f"    <certificate domain='c.test' cert='{cert[0]}' key='{cert[1]}'/>\n"
           "    <dialback secret='the-shared-dialback-secret'/>\n"
           "    <limits handshake-timeout='5s' idle-timeout='1s'"
           " max-connections-per-address='2'/>\n"
           "  </s2s>\n")
    r = LoneRouter(tmp_path / "lone", xml)
    r.start()
    p = Proc(S2S_BIN, r.config_path, r.dir, "s2s")
    try:
        r.wait_for_report(lambda t: "service:s2s" in t, 20, "s2s bound")
        yield ip, port, p
    finally:
        code = p.stop()
        if code != 0:
            print(p.log_text()[-6000:])
        rcode = r.stop()
        assert code == 0 and rcode == 0, (code, rcode)


def test_idle_stream_closed_and_connection_limit(lone_s2s):
    ip, port, proc = lone_s2s
    socks = []
    try:
        # Two connections are allowed from one address, the third is not.
        for _ in range(2):
            s = socket.create_connection((ip, port), timeout=10)
            s.sendall(server_header("d.test", "c.test").encode())
            assert b"</stream:features>" in read_until(s, [b"</stream:features>"])
            socks.append(s)
        with socket.create_connection((ip, port), timeout=10) as third:
            data, closed = read_to_eof(third, timeout=10)
        assert closed and b"policy-violation" in data, data
        socks.pop().close()
        # Authenticate d.test -> c.test (a domain of ours: checked locally).
        sock = socks[0]
        sock.sendall(f"<starttls xmlns='{NS_TLS}'/>".encode())
        assert b"proceed" in read_until(sock, [b"<proceed"])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        tls = ctx.wrap_socket(sock, server_hostname="c.test")
        socks[0] = tls
        tls.sendall(server_header("d.test", "c.test").encode())
        data = read_until(tls, [b"</stream:features>"])
        sid = re.search(rb"\sid='([^']+)'", data).group(1).decode()
        key = xep0185_key("the-shared-dialback-secret", "c.test", "d.test", sid)
        tls.sendall(f"<db:result from='d.test' to='c.test'>{key}</db:result>".encode())
        got = read_until(tls, [b"type='valid'", b"type='invalid'"])
        assert b"type='valid'" in got, got
        # Then silence: the idle timeout (1 s) ends the stream.
        t0 = time.monotonic()
        data, closed = read_to_eof(tls, timeout=8)
        assert closed and b"</stream:stream>" in data, data
        assert 0.5 <= time.monotonic() - t0 <= 5
        assert "idle for 1000 ms" in proc.log_text()
    finally:
        for s in socks:
            s.close()
