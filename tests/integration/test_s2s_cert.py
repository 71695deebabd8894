# SPDX-License-Identifier: MIT
"""Federation with certificates (XEP-0178) and per remote domain policy:
two whole suites (a.test on 127.0.0.2, b.test on 127.0.0.3) whose
certificates come from one test CA given as <tls ca-file>, so each side
verifies the other and the streams authenticate with SASL EXTERNAL instead
of dialback. a.test wants a certificate from b.test and denies evil.test.
Raw sockets present CA-signed client certificates with the right and the
wrong names. (Dialback as the fallback for certificates that do not verify
is in test_s2s.py, whose suites have self-signed ones.)"""
import base64
import re
import socket
import ssl
import subprocess

import pytest

from conftest import certtool, stanza_error
from suite_harness import C2sDef, Proc
from test_s2s import (S2S_BIN, NS_TLS, HANDSHAKE_TIMEOUT_S, FedRouter, LoneRouter, Peer,
                      read_to_eof, read_until, server_header, start_fed_suite, stop_suites,
                      wait_ready)

NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"

pytestmark = pytest.mark.time_limit(30)


def make_ca(d):
    """A test CA: (cert, key)."""
    d.mkdir(parents=True, exist_ok=True)
    key, pem, tmpl = d / "ca.key", d / "ca.pem", d / "ca.tmpl"
    tmpl.write_text('cn = "xmppd s2s test CA"\nca\ncert_signing_key\nexpiration_days = 30\n')
    certtool("--generate-privkey", "--key-type=ecdsa", "--curve=secp256r1", "--outfile", str(key))
    certtool("--generate-self-signed", "--load-privkey", str(key), "--template", str(tmpl),
             "--outfile", str(pem))
    return str(pem), str(key)


def make_signed_cert(d, domain, ca, xmpp_addr=False):
    """A certificate from ca naming domain (DNS name, or XmppAddr only): (cert, key)."""
    d.mkdir(parents=True, exist_ok=True)
    key, pem, tmpl = d / f"{domain}.key", d / f"{domain}.pem", d / f"{domain}.tmpl"
    name = (f'xmpp_name = "{domain}"\n' if xmpp_addr else f'dns_name = "{domain}"\n')
    tmpl.write_text(f'cn = "{domain}"\n{name}tls_www_server\ntls_www_client\n'
                    "signing_key\nencryption_key\nexpiration_days = 30\n")
    certtool("--generate-privkey", "--key-type=ecdsa", "--curve=secp256r1", "--outfile", str(key))
    certtool("--generate-certificate", "--load-privkey", str(key), "--load-ca-certificate",
             ca[0], "--load-ca-privkey", ca[1], "--template", str(tmpl), "--outfile", str(pem))
    return str(pem), str(key)


def section(me, others, cert, ca_file, extra=""):
    hosts = "".join(f"    <host domain='{o.domain}' address='{o.ip}' port='{o.port}'/>\n"
                    for o in others)
    return ("  <s2s>\n"
            "    <connect unix='router.sock' name='s2s' instance='s2s/1'/>\n"
            f"    <listen tcp='{me.ip}:{me.port}'/>\n"
            f"    <listen tls='{me.ip}:{me.tls_port}'/>\n"
            f"    <certificate domain='{me.domain}' cert='{cert[0]}' key='{cert[1]}'/>\n"
            f"    <tls ca-file='{ca_file}'/>\n"
            f"    <dialback secret='dialback-secret-of-{me.domain}'/>\n"
            + hosts + extra +
            f"    <limits handshake-timeout='{HANDSHAKE_TIMEOUT_S}s' idle-timeout='60s'/>\n"
            "  </s2s>\n")


@pytest.fixture(scope="module")
def fedca(tmp_path_factory):
    if not S2S_BIN.exists():
        pytest.fail(f"{S2S_BIN} does not exist: build it first")
    d = tmp_path_factory.mktemp("s2s-cert")
    ca = make_ca(d / "ca")
    a, b = Peer("a.test", "127.0.0.2"), Peer("b.test", "127.0.0.3")
    certs = {dom: make_signed_cert(d / "pki", dom, ca) for dom in ("a.test", "c.test")}
    certs["b.test"] = make_signed_cert(d / "pki", "b.test", ca, xmpp_addr=True)
    suites = {}
    try:
        policy = ("    <remote domain='b.test' auth='certificate'/>\n"
                  "    <remote domain='evil.test' auth='deny'/>\n")
        suites["a"] = start_fed_suite(d / "a", a, section(a, [b], certs["a.test"], ca[0], policy),
                                      certs["a.test"])
        suites["b"] = start_fed_suite(d / "b", b, section(b, [a], certs["b.test"], ca[0]),
                                      certs["b.test"])
        for key, peer in (("a", a), ("b", b)):
            suites[key].cafile = ca[0]
            suites[key].start_c2s(C2sDef("1", domain=peer.domain))
        for s in suites.values():
            wait_ready(s)
        suites["a"].adduser("alice@a.test", "alice-pw")
        suites["b"].adduser("bob@b.test", "bob-pw")
        yield {"suites": suites, "peers": {"a": a, "b": b}, "certs": certs, "ca": ca}
    finally:
        problems = stop_suites(suites)
        if problems:
            pytest.fail("; ".join(problems))


def log_of(fedca, key):
    return fedca["suites"][key].procs["s2s"].log_text()


def test_sasl_external_both_ways(fedca):
    sa, sb = fedca["suites"]["a"], fedca["suites"]["b"]
    alice = sa.client("1", "alice@a.test", "alice-pw", "home")
    bob = sb.client("1", "bob@b.test", "bob-pw", "work")
    alice.message("bob@b.test/work", "hello over EXTERNAL")
    got = bob.wait_message(body="hello over EXTERNAL", timeout=15)
    assert got.get("from") == "alice@a.test/home", got
    bob.message("alice@a.test/home", "and back")
    got = alice.wait_message(body="and back", timeout=15)
    assert got.get("from") == "bob@b.test/work", got
    la, lb = log_of(fedca, "a"), log_of(fedca, "b")
    assert "authenticated to b.test with SASL EXTERNAL, TLS1." in la, la[-3000:]
    assert "authenticated b.test -> a.test with SASL EXTERNAL, TLS1." in la, la[-3000:]
    assert "authenticated to a.test with SASL EXTERNAL, TLS1." in lb, lb[-3000:]
    assert "authenticated a.test -> b.test with SASL EXTERNAL, TLS1." in lb, lb[-3000:]
    assert "with dialback" not in la + lb


def test_denied_domain_bounces_with_not_allowed(fedca):
    alice = fedca["suites"]["a"].client("1", "alice@a.test", "alice-pw", "deny")
    mid = alice.message("mallory@evil.test", "no")
    err = alice.wait_for(lambda e: e.name == "message" and e.get("id") == mid, timeout=15)
    assert err.get("type") == "error", err
    assert stanza_error(err)[1] == "not-allowed", err
    assert "opening a stream to evil.test" not in log_of(fedca, "a")


def test_denied_domain_incoming_gets_policy_violation(fedca):
    a = fedca["peers"]["a"]
    with socket.create_connection((a.ip, a.port), timeout=10) as sock:
        sock.sendall(server_header("evil.test", "a.test").encode())
        data, closed = read_to_eof(sock)
    assert closed and b"policy-violation" in data, data


def tls_stream(peer, frm, to, cert=None):
    """STARTTLS to peer as frm, presenting cert (or none): (socket, features)."""
    sock = socket.create_connection((peer.ip, peer.port), timeout=10)
    sock.sendall(server_header(frm, to).encode())
    assert b"starttls" in read_until(sock, [b"</stream:features>"])
    sock.sendall(f"<starttls xmlns='{NS_TLS}'/>".encode())
    assert b"proceed" in read_until(sock, [b"<proceed"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert[0], cert[1])
    tls = ctx.wrap_socket(sock, server_hostname=to)
    tls.sendall(server_header(frm, to).encode())
    return tls, read_until(tls, [b"</stream:features>"])


def test_certificate_policy_refuses_dialback(fedca):
    """a.test wants a certificate from b.test: without one there is neither
    EXTERNAL nor dialback, and a db:result is refused."""
    tls, features = tls_stream(fedca["peers"]["a"], "b.test", "a.test")
    with tls:
        assert b"EXTERNAL" not in features and b"features:dialback" not in features, features
        tls.sendall(f"<db:result from='b.test' to='a.test'>{'0' * 64}</db:result>".encode())
        data, closed = read_to_eof(tls, timeout=15)
    assert b"type='error'" in data and b"not-authorized" in data, data
    assert closed, data


def test_external_from_a_raw_peer_with_a_ca_certificate(fedca):
    """A peer with a.test's certificate gets EXTERNAL at b.test, authenticates
    with authzid '=', restarts, and its stanza reaches bob."""
    bob = fedca["suites"]["b"].client("1", "bob@b.test", "bob-pw", "raw")
    tls, features = tls_stream(fedca["peers"]["b"], "a.test", "b.test", fedca["certs"]["a.test"])
    with tls:
        assert b"<mechanism>EXTERNAL</mechanism>" in features, features
        tls.sendall(f"<auth xmlns='{NS_SASL}' mechanism='EXTERNAL'>=</auth>".encode())
        assert b"<success" in read_until(tls, [b"<success", b"<failure"])
        tls.sendall(server_header("a.test", "b.test").encode())
        again = read_until(tls, [b"</stream:features>"])
        assert b"</stream:features>" in again and b"EXTERNAL" not in again, again
        tls.sendall(b"<message from='alice@a.test/raw' to='bob@b.test/raw' type='chat'>"
                    b"<body>raw external</body></message>")
        got = bob.wait_message(body="raw external", timeout=10)
        assert got.get("from") == "alice@a.test/raw", got


def test_external_refused_for_the_wrong_name_and_authzid(fedca):
    """A valid certificate for c.test does not authenticate a.test (no
    EXTERNAL offered, dialback still is); a right certificate with another
    authzid gets invalid-authzid."""
    b = fedca["peers"]["b"]
    tls, features = tls_stream(b, "a.test", "b.test", fedca["certs"]["c.test"])
    with tls:
        assert b"EXTERNAL" not in features and b"features:dialback" in features, features
        tls.sendall(f"<auth xmlns='{NS_SASL}' mechanism='EXTERNAL'>=</auth>".encode())
        data = read_until(tls, [b"</failure>", b"<failure"])
        assert b"not-authorized" in read_until(tls, [b"not-authorized"], 5) + data, data
    tls, features = tls_stream(b, "a.test", "b.test", fedca["certs"]["a.test"])
    with tls:
        assert b"EXTERNAL" in features, features
        authzid = base64.b64encode(b"c.test").decode()
        tls.sendall(f"<auth xmlns='{NS_SASL}' mechanism='EXTERNAL'>{authzid}</auth>".encode())
        data = read_until(tls, [b"invalid-authzid", b"<success"])
        assert b"invalid-authzid" in data, data


def test_certificate_policy_outgoing_needs_a_verified_peer(tmp_path):
    """An s2s that wants a certificate from b.test, which has none that
    verifies (self-signed): stanzas come back, no dialback is tried."""
    from test_s2s import make_domain_cert
    ca = make_ca(tmp_path / "ca")
    a, b = Peer("a.test", "127.0.0.2"), Peer("b.test", "127.0.0.3")
    rogue = make_domain_cert(tmp_path / "pki-b", "b.test")
    # A bare b.test s2s-like listener: a LoneRouter serving b.test is enough.
    bxml = ("  <s2s>\n"
            "    <connect unix='router.sock' name='s2s' instance='s2s/1'/>\n"
            f"    <listen tcp='{b.ip}:{b.port}'/>\n"
            f"    <certificate domain='b.test' cert='{rogue[0]}' key='{rogue[1]}'/>\n"
            "  </s2s>\n")
    policy = "    <remote domain='*' auth='certificate'/>\n"
    suites = {}
    try:
        acert = make_signed_cert(tmp_path / "pki", "a.test", ca)
        suites["a"] = start_fed_suite(tmp_path / "a", a, section(a, [b], acert, ca[0], policy),
                                      acert)
        suites["a"].cafile = ca[0]
        suites["a"].start_c2s(C2sDef("1", domain="a.test"))
        rb = FedRouter(tmp_path / "b", "b.test", bxml)
        rb.start()
        pb = Proc(S2S_BIN, rb.config_path, rb.dir, "s2s")
        try:
            wait_ready(suites["a"])
            rb.wait_for_report(lambda t: "service:s2s" in t, 20, "s2s bound")
            suites["a"].adduser("alice@a.test", "alice-pw")
            alice = suites["a"].client("1", "alice@a.test", "alice-pw", "strict")
            mid = alice.message("bob@b.test", "only with a certificate")
            err = alice.wait_for(lambda e: e.name == "message" and e.get("id") == mid, 20)
            assert stanza_error(err)[1] == "remote-server-not-found", err
            la = suites["a"].procs["s2s"].log_text()
            assert "policy wants a certificate" in la, la[-3000:]
            assert "dialback request" not in pb.log_text()
        finally:
            assert pb.stop() == 0
            assert rb.stop() == 0
    finally:
        problems = stop_suites(suites)
        assert not problems, problems


def check_config(tmp_path, s2s_xml):
    r = LoneRouter(tmp_path / "cfg", s2s_xml)
    r.dir.mkdir(parents=True, exist_ok=True)
    r.config_path.write_text(r.config_text())
    p = subprocess.run([str(S2S_BIN), "-c", str(r.config_path), "--check-config"],
                       capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout + p.stderr, r.config_path.read_text()


@pytest.mark.parametrize("bad,words", [
    ("<remote domain='x.test' auth='maybe'/>", "is not certificate, dialback or deny"),
    ("<remote domain='x.test' auth='deny'/><remote domain='x.test' auth='dialback'/>",
     "a second <remote>"),
    ("<remote domain='*' auth='deny'/><remote domain='*' auth='deny'/>", "a second <remote"),
    ("<remote auth='deny'/>", "domain"),
    ("<tls ca-file='/nonexistent/ca.pem'/>", "/nonexistent/ca.pem"),
])
def test_policy_config_errors(tmp_path, bad, words):
    cert = __import__("test_s2s").make_domain_cert(tmp_path / "pki", "c.test")
    xml = ("  <s2s>\n"
           "    <connect unix='router.sock' name='s2s' instance='s2s/1'/>\n"
           f"    <certificate domain='c.test' cert='{cert[0]}' key='{cert[1]}'/>\n"
           f"    {bad}\n"
           "  </s2s>\n")
    code, out, text = check_config(tmp_path, xml)
    assert code != 0, out
    line = next(i + 1 for i, ln in enumerate(text.splitlines()) if bad[:12] in ln)
    assert re.search(rf":{line}: ", out), (line, out)
    assert words in out, out
