# SPDX-License-Identifier: MIT
"""Piggybacking (XEP-0220 §2.5): suite A serves a.test and a2.test with one
xmppd-s2s (a certificate per domain, self-signed, so dialback), suite B
serves b.test. Users of both A domains message a user of b.test: A opens
one outgoing stream to b.test for the first domain and sends a second
db:result on it for the other; B authenticates both pairs on that one
incoming stream. A raw peer shows that a piggybacked pair with a wrong key
is refused while the pair already authenticated keeps the stream."""
import re
import socket
import ssl

import pytest

from suite_harness import C2sDef
from test_s2s import (NS_TLS, S2S_BIN, Peer, make_domain_cert, read_to_eof, read_until,
                      server_header, start_fed_suite, stop_suites, wait_ready, xep0185_key)
from test_s2s_cert import make_ca, make_signed_cert
from test_s2s_multi import make_multi_cert

pytestmark = pytest.mark.time_limit(60)

HANDSHAKE_TIMEOUT_S = 5
A_DOMAINS = ("a.test", "a2.test")


def s2s_xml(me, certs, hosts, extra=""):
    """<s2s> with a <certificate> per served domain and <host> per remote."""
    return ("  <s2s>\n"
            "    <connect unix='router.sock' name='s2s' instance='s2s/1'/>\n"
            f"    <listen tcp='{me.ip}:{me.port}'/>\n"
            f"    <listen tls='{me.ip}:{me.tls_port}'/>\n"
            + "".join(f"    <certificate domain='{dom}' cert='{c[0]}' key='{c[1]}'/>\n"
                      for dom, c in certs.items())
            + f"    <dialback secret='dialback-secret-of-{me.domain}'/>\n"
            + "".join(f"    <host domain='{dom}' address='{p.ip}' port='{p.port}'/>\n"
                      for dom, p in hosts.items())
            + extra
            + f"    <limits handshake-timeout='{HANDSHAKE_TIMEOUT_S}s' idle-timeout='60s'/>\n"
            "  </s2s>\n")


def start_suite(workdir, me, domains, xml, client_cert):
    """A suite serving domains (a c2s per domain, client_cert names all)."""
    return start_fed_suite(workdir, me, xml, client_cert, domains=domains,
                           c2s=[C2sDef(str(i), domain=dom) for i, dom in enumerate(domains, 1)])


def start_pair(d, ca=None, a_policy=""):
    """Suites A (a.test, a2.test) and B (b.test) in folder d, as a dict; with
    ca, s2s certificates from it (SASL EXTERNAL), else self-signed ones."""
    a, b = Peer("a.test", "127.0.0.2"), Peer("b.test", "127.0.0.3")
    suites = {"peers": {"a": a, "b": b}}
    if ca:
        certs = {dom: make_signed_cert(d / "pki", dom, ca) for dom in A_DOMAINS + ("b.test",)}
        tls = f"    <tls ca-file='{ca[0]}'/>\n"
    else:
        certs = {dom: make_domain_cert(d / f"pki-{dom}", dom) for dom in A_DOMAINS + ("b.test",)}
        tls = ""
    a_certs = {dom: certs[dom] for dom in A_DOMAINS}
    suites["a"] = start_suite(d / "a", a, A_DOMAINS,
                              s2s_xml(a, a_certs, {"b.test": b}, tls + a_policy),
                              make_multi_cert(d / "c2s-a", list(A_DOMAINS)))
    suites["b"] = start_suite(d / "b", b, ("b.test",),
                              s2s_xml(b, {"b.test": certs["b.test"]},
                                      {dom: a for dom in A_DOMAINS}, tls),
                              make_domain_cert(d / "c2s-b", "b.test"))
    for key in ("a", "b"):
        wait_ready(suites[key])
    suites["a"].adduser("alice@a.test", "alice-pw")
    suites["a"].adduser("carol@a2.test", "carol-pw")
    suites["b"].adduser("bob@b.test", "bob-pw")
    return suites


def stop_pair(suites):
    """Stops both suites by PID; fails the test when one exited badly."""
    problems = stop_suites(suites)
    if problems:
        pytest.fail("; ".join(problems))


@pytest.fixture(scope="module")
def pig(tmp_path_factory):
    """{"a": Suite (a.test + a2.test), "b": Suite (b.test), "peers": {...}}."""
    if not S2S_BIN.exists():
        pytest.fail(f"{S2S_BIN} does not exist: build it first")
    suites = {}
    try:
        suites = start_pair(tmp_path_factory.mktemp("s2s-pig"))
        yield suites
    finally:
        stop_pair(suites)


def s2s_log(pig, key):
    return pig[key].procs["s2s"].log_text()


def test_second_domain_piggybacks(pig):
    alice = pig["a"].client("1", "alice@a.test", "alice-pw", "home")
    carol = pig["a"].client("2", "carol@a2.test", "carol-pw", "home")
    bob = pig["b"].client("1", "bob@b.test", "bob-pw", "work")
    alice.message("bob@b.test", "hello from a.test")
    got = bob.wait_message(body="hello from a.test", timeout=15)
    assert got.get("from") == "alice@a.test/home", got
    carol.message("bob@b.test", "hello from a2.test")
    got = bob.wait_message(body="hello from a2.test", timeout=15)
    assert got.get("from") == "carol@a2.test/home", got
    bob.message("alice@a.test/home", "reply to a.test")
    bob.message("carol@a2.test/home", "reply to a2.test")
    assert alice.wait_message(body="reply to a.test", timeout=15).get("from") == \
        "bob@b.test/work"
    assert carol.wait_message(body="reply to a2.test", timeout=15).get("from") == \
        "bob@b.test/work"
    # Both domains again, now over the established pairs.
    alice.message("bob@b.test/work", "again from a.test")
    carol.message("bob@b.test/work", "again from a2.test")
    bob.wait_message(body="again from a.test", timeout=10)
    bob.wait_message(body="again from a2.test", timeout=10)

    la, lb = s2s_log(pig, "a"), s2s_log(pig, "b")
    # A: one outgoing stream to b.test, opened for a.test; a2.test rides on it.
    assert la.count("opening a stream to b.test") == 1, la[-4000:]
    assert "piggybacking a2.test -> b.test on this stream" in la, la[-4000:]
    m = re.search(r"(s2s-out#\d+) \S+ a\.test->b\.test: authenticated a2\.test -> b\.test "
                  r"with dialback \(piggybacked\), TLS1\.", la)
    assert m, la[-4000:]
    # B: both pairs authenticated on the same incoming stream.
    m1 = re.search(r"(s2s-in#\d+) [^\n]*authenticated a\.test -> b\.test with dialback, TLS1\.",
                   lb)
    m2 = re.search(r"(s2s-in#\d+) [^\n]*authenticated a2\.test -> b\.test with dialback, "
                   r"TLS1\.", lb)
    assert m1 and m2, lb[-4000:]
    assert m1.group(1) == m2.group(1), (m1.group(0), m2.group(0))
    assert len(set(re.findall(r"(s2s-in#\d+) [^\n]*accepted on 127\.0\.0\.3", lb))) >= 1


def raw_stream_to_b(b, frm):
    """A raw server stream from frm to b.test upgraded with STARTTLS:
    (tls socket, the new stream's id)."""
    sock = socket.create_connection((b.ip, b.port), timeout=10)
    sock.sendall(server_header(frm, "b.test").encode())
    assert b"starttls" in read_until(sock, [b"</stream:features>"])
    sock.sendall(f"<starttls xmlns='{NS_TLS}'/>".encode())
    assert b"proceed" in read_until(sock, [b"<proceed"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    tls = ctx.wrap_socket(sock, server_hostname="b.test")
    tls.sendall(server_header(frm, "b.test").encode())
    data = read_until(tls, [b"</stream:features>"])
    m = re.search(rb"<stream:stream[^>]*\sid='([^']+)'", data)
    assert m and b"urn:xmpp:features:dialback" in data, data
    return tls, m.group(1).decode()


def test_piggybacked_wrong_key_refused_first_pair_kept(pig):
    """A peer (knowing a.test's secret) authenticates a.test -> b.test, then
    piggybacks a2.test with a wrong key: B refuses that pair only, stanzas
    of a.test still pass, and one from a2.test ends the stream."""
    b = pig["peers"]["b"]
    bob = pig["b"].client("1", "bob@b.test", "bob-pw", "raw-target")
    tls, sid = raw_stream_to_b(b, "a.test")
    with tls:
        key = xep0185_key("dialback-secret-of-a.test", "b.test", "a.test", sid)
        tls.sendall(f"<db:result from='a.test' to='b.test'>{key}</db:result>".encode())
        got = read_until(tls, [b"type='valid'", b"type='invalid'", b"</stream:stream>"], 15)
        assert b"type='valid'" in got, got
        tls.sendall(f"<db:result from='a2.test' to='b.test'>{'0' * 64}</db:result>".encode())
        got = read_until(tls, [b"type='invalid'", b"type='valid'", b"</stream:stream>"], 15)
        assert b"to='a2.test' type='invalid'" in got, got
        assert b"</stream:stream>" not in got, got
        tls.sendall(b"<message from='alice@a.test/py' to='bob@b.test/raw-target' type='chat'>"
                    b"<body>still on the first pair</body></message>")
        msg = bob.wait_message(body="still on the first pair", timeout=10)
        assert msg.get("from") == "alice@a.test/py", msg
        tls.sendall(b"<message from='carol@a2.test/py' to='bob@b.test/raw-target' type='chat'>"
                    b"<body>refused pair</body></message>")
        data, closed = read_to_eof(tls)
    assert closed and b"invalid-from" in data, data
    bob.no_message(0.5)
    lb = s2s_log(pig, "b")
    assert "a2.test -> b.test is invalid; refused, the stream stays" in lb, lb[-4000:]
    assert "that is not ours; answered invalid" in s2s_log(pig, "a")


def chat_both(suites, tag):
    """alice@a.test and carol@a2.test message bob@b.test, who answers both."""
    alice = suites["a"].client("1", "alice@a.test", "alice-pw", tag)
    carol = suites["a"].client("2", "carol@a2.test", "carol-pw", tag)
    bob = suites["b"].client("1", "bob@b.test", "bob-pw", tag)
    alice.message(f"bob@b.test/{tag}", "from a.test")
    bob.wait_message(body="from a.test", timeout=15)
    carol.message(f"bob@b.test/{tag}", "from a2.test")
    bob.wait_message(body="from a2.test", timeout=15)
    bob.message(f"alice@a.test/{tag}", "to a.test")
    bob.message(f"carol@a2.test/{tag}", "to a2.test")
    alice.wait_message(body="to a.test", timeout=15)
    carol.wait_message(body="to a2.test", timeout=15)


@pytest.mark.parametrize("policy", ["dialback", "certificate"])
def test_piggyback_with_sasl_external(tmp_path, policy):
    """Certificates from a CA: the stream for a.test uses SASL EXTERNAL and
    a2.test piggybacks with dialback; with policy certificate for b.test,
    a2.test gets its own stream with its own SASL EXTERNAL instead."""
    ca = make_ca(tmp_path / "ca")
    extra = "    <remote domain='b.test' auth='certificate'/>\n" if policy == "certificate" else ""
    suites = {}
    try:
        suites = start_pair(tmp_path, ca, extra)
        chat_both(suites, "ext")
        la = suites["a"].procs["s2s"].log_text()
        lb = suites["b"].procs["s2s"].log_text()
        assert "a.test->b.test: authenticated to b.test with SASL EXTERNAL, TLS1." in la, la
        if policy == "dialback":
            assert la.count("opening a stream to b.test") == 1, la[-4000:]
            assert "authenticated a2.test -> b.test with dialback (piggybacked)" in la, la
            m1 = re.search(r"(s2s-in#\d+) [^\n]*authenticated a\.test -> b\.test with SASL "
                           r"EXTERNAL", lb)
            m2 = re.search(r"(s2s-in#\d+) [^\n]*authenticated a2\.test -> b\.test with "
                           r"dialback", lb)
            assert m1 and m2 and m1.group(1) == m2.group(1), lb[-4000:]
        else:
            assert la.count("opening a stream to b.test") == 2, la[-4000:]
            assert "piggybacking" not in la, la[-4000:]
            assert "a2.test->b.test: authenticated to b.test with SASL EXTERNAL" in la, la
            assert "authenticated a2.test -> b.test with SASL EXTERNAL" in lb, lb[-4000:]
    finally:
        stop_pair(suites)
