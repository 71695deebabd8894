# SPDX-License-Identifier: MIT
"""Federation through DNS (RFC 6120 §3.2, XEP-0368, RFC 2782): two suites,
a.test (s2s on 127.0.0.2) and b.test (s2s on 127.0.0.3, also serving the
domains the scenarios name), find each other through a small DNS server
written here (UDP on 127.0.0.1, SRV and A records from a table) that
<resolver address=.../> points xmppd-s2s at; no <host> overrides. Each
scenario is its own remote domain, so its own outgoing stream: alice@a.test
asks the domain for disco#info and gets the answer, or the bounce."""
import re
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import free_port, stanza_error
from suite_harness import C2sDef
from test_s2s import (S2S_BIN, HANDSHAKE_TIMEOUT_S, Peer, make_domain_cert, start_fed_suite,
                      stop_suites, wait_ready)

pytestmark = pytest.mark.time_limit(60)

T_A, T_AAAA, T_SRV = 1, 28, 33
WEIGHT_SAMPLES = 30
DISCO = "<query xmlns='http://jabber.org/protocol/disco#info'/>"


# ---------------------------------------------------------------------------
# A DNS server from a table
# ---------------------------------------------------------------------------

def encode_name(name):
    name = name.rstrip(".")
    out = b""
    for label in name.split(".") if name else []:
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def decode_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            return ".".join(labels).lower(), off + 1
        if n & 0xC0:                      # queries are not compressed; be safe
            raise ValueError("compressed name in a question")
        labels.append(msg[off + 1:off + 1 + n].decode("ascii"))
        off += 1 + n


class DnsServer:
    """Answers A and SRV queries from records: {(name, type): [rdata...]}
    where an A rdata is "1.2.3.4" and an SRV rdata (prio, weight, port,
    target). A name that has no record at all is NXDOMAIN; a known name
    without records of the asked type an empty NOERROR. Every question is
    kept in self.queries as (name, type)."""

    def __init__(self, records, silent=()):
        self.silent = {n.lower() for n in silent}   # names never answered
        self.records = {(n.lower(), t): v for (n, t), v in records.items()}
        self.names = {n for (n, _) in self.records}
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.is_stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def answer(self, msg):
        qid, flags, qd, _, _, _ = struct.unpack("!HHHHHH", msg[:12])
        name, off = decode_name(msg, 12)
        qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
        question = msg[12:off + 4]
        self.queries.append((name, qtype))
        if any(name == n or name.endswith("." + n) for n in self.silent):
            return None
        rrs = self.records.get((name, qtype), [])
        rcode = 0 if name in self.names else 3
        body = b""
        for rd in rrs:
            if qtype == T_A:
                data = socket.inet_aton(rd)
            elif qtype == T_SRV:
                prio, weight, port, target = rd
                data = struct.pack("!HHH", prio, weight, port) + encode_name(target)
            else:
                continue
            body += struct.pack("!HHHIH", 0xC00C, qtype, 1, 30, len(data)) + data
        rd_flag = flags & 0x0100
        hdr = struct.pack("!HHHHHH", qid, 0x8000 | 0x0400 | rd_flag | 0x0080 | rcode, 1,
                          len(rrs) if qtype in (T_A, T_SRV) else 0, 0, 0)
        return hdr + question + body

    def run(self):
        while not self.is_stopping:
            try:
                msg, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                reply = self.answer(msg)
                if reply:
                    self.sock.sendto(reply, peer)
            except (ValueError, struct.error, IndexError, OSError):
                continue

    def asked(self, name, qtype):
        return (name, qtype) in self.queries

    def stop(self):
        self.is_stopping = True
        self.sock.close()


# ---------------------------------------------------------------------------
# The suites
# ---------------------------------------------------------------------------

EXTRA_DOMAINS = ["prio.test", "weight.test", "tls.test", "dot.test", "dotboth.test",
                 "plain.test"]


def dns_section(me, cert, resolver_port, extra_listen=""):
    return ("  <s2s>\n"
            "    <connect unix='router.sock' name='s2s' instance='s2s/1'/>\n"
            f"    <listen tcp='{me.ip}:{me.port}'/>\n"
            f"    <listen tls='{me.ip}:{me.tls_port}'/>\n"
            + extra_listen +
            f"    <certificate cert='{cert[0]}' key='{cert[1]}'/>\n"
            f"    <dialback secret='dialback-secret-of-{me.domain}'/>\n"
            f"    <resolver address='127.0.0.1:{resolver_port}'/>\n"
            f"    <limits handshake-timeout='{HANDSHAKE_TIMEOUT_S}s' idle-timeout='60s'/>\n"
            "  </s2s>\n")


def start_dns_suite(workdir, me, cert, resolver_port, domains=(), extra_listen=""):
    return start_fed_suite(workdir, me, dns_section(me, cert, resolver_port, extra_listen),
                           cert, domains=[me.domain, *domains],
                           c2s=[C2sDef("1", domain=me.domain)])


def can_bind(ip, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
            return True
        except OSError:
            return False


@pytest.fixture(scope="module")
def dnsfed(tmp_path_factory):
    if not S2S_BIN.exists():
        pytest.fail(f"{S2S_BIN} does not exist: build it first")
    d = tmp_path_factory.mktemp("s2s-dns")
    a, b = Peer("a.test", "127.0.0.2"), Peer("b.test", "127.0.0.3")
    closed = free_port("127.0.0.3")
    # The A fallback goes to port 5269: b.test listens there on 127.0.0.4
    # when that is free, else the test that needs it is skipped.
    has_5269 = can_bind("127.0.0.4", 5269)
    records = {
        ("_xmpp-server._tcp.a.test", T_SRV): [(0, 0, a.port, "xmpp.a.test")],
        ("xmpp.a.test", T_A): ["127.0.0.2"],
        ("b.test", T_A): ["127.0.0.3"],
        ("_xmpp-server._tcp.b.test", T_SRV): [(0, 0, b.port, "b.test")],
        # priority: the first target's port is closed, the second is b.test
        ("_xmpp-server._tcp.prio.test", T_SRV): [(20, 0, b.port, "good.prio.test"),
                                                 (10, 0, closed, "dead.prio.test")],
        ("good.prio.test", T_A): ["127.0.0.3"],
        ("dead.prio.test", T_A): ["127.0.0.3"],
        # weights: two targets with one priority, both reachable
        ("_xmpp-server._tcp.weight.test", T_SRV): [(10, 60, b.port, "w1.weight.test"),
                                                   (10, 40, b.port, "w2.weight.test")],
        ("w1.weight.test", T_A): ["127.0.0.3"],
        ("w2.weight.test", T_A): ["127.0.0.3"],
        # the weighted random order: 30 domains, each with two targets of
        # weight 1 that go nowhere (the order is in the log all the same)
        **{(f"_xmpp-server._tcp.w{i}.test", T_SRV): [(1, 1, closed, "left.test"),
                                                    (1, 1, closed, "right.test")]
           for i in range(WEIGHT_SAMPLES)},
        ("left.test", T_A): ["127.0.0.3"],
        ("right.test", T_A): ["127.0.0.3"],
        # XEP-0368: direct TLS first; the STARTTLS target after it is dead
        ("_xmpps-server._tcp.tls.test", T_SRV): [(5, 0, b.tls_port, "tls.b.test")],
        ("_xmpp-server._tcp.tls.test", T_SRV): [(10, 0, closed, "starttls.b.test")],
        ("tls.b.test", T_A): ["127.0.0.3"],
        ("starttls.b.test", T_A): ["127.0.0.3"],
        # "." : not offered; its A record (and any 5269) must not be used
        ("_xmpp-server._tcp.dot.test", T_SRV): [(0, 0, 0, ".")],
        ("dot.test", T_A): ["127.0.0.4"],
        # "." for STARTTLS only: the direct TLS record still counts
        ("_xmpp-server._tcp.dotboth.test", T_SRV): [(0, 0, 0, ".")],
        ("_xmpps-server._tcp.dotboth.test", T_SRV): [(0, 0, b.tls_port, "tls.b.test")],
        # no SRV: A on 5269
        ("plain.test", T_A): ["127.0.0.4"],
        ("nolistener.test", T_A): ["127.0.0.9"],
        # nx.test: nothing at all
    }
    dns = DnsServer(records, silent=("slow.test", "slow2.test"))
    suites = {}
    try:
        pki = make_domain_cert(d / "pki-a", a.domain), make_domain_cert(d / "pki-b", b.domain)
        suites["a"] = start_dns_suite(d / "a", a, pki[0], dns.port)
        extra = "    <listen tcp='127.0.0.4:5269'/>\n" if has_5269 else ""
        suites["b"] = start_dns_suite(d / "b", b, pki[1], dns.port, EXTRA_DOMAINS, extra)
        for s in suites.values():
            wait_ready(s)
        suites["a"].adduser("alice@a.test", "alice-pw")
        suites["b"].adduser("bob@b.test", "bob-pw")
        yield {"suites": suites, "dns": dns, "closed": closed, "has_5269": has_5269,
               "peers": {"a": a, "b": b}}
    finally:
        problems = stop_suites(suites)
        dns.stop()
        if problems:
            pytest.fail("; ".join(problems))


def s2s_log(fed, key):
    return fed["suites"][key].procs["s2s"].log_text()


def alice(fed, resource):
    return fed["suites"]["a"].client("1", "alice@a.test", "alice-pw", resource)


def disco(c, domain, timeout=20):
    return c.iq(DISCO, to=domain, timeout=timeout)


def stream_log(fed, remote):
    """a's s2s log lines about its outgoing stream to remote."""
    return "\n".join(ln for ln in s2s_log(fed, "a").splitlines()
                     if f"a.test->{remote}" in ln or f"{remote}" in ln)


def assert_bounced(got):
    assert got.get("type") == "error", got
    assert stanza_error(got)[1] == "remote-server-not-found", got


# ---------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------

def test_srv_b_test_both_ways(dnsfed):
    """Users of both domains; each side finds the other through SRV (and
    b.test's dialback check of a.test too)."""
    c = alice(dnsfed, "srv")
    bob = dnsfed["suites"]["b"].client("1", "bob@b.test", "bob-pw", "srv")
    c.message("bob@b.test", "found through SRV")
    bob.wait_message(body="found through SRV", timeout=20)
    bob.message("alice@a.test/srv", "and back")
    c.wait_message(body="and back", timeout=20)
    dns = dnsfed["dns"]
    assert dns.asked("_xmpp-server._tcp.b.test", T_SRV)
    assert dns.asked("_xmpps-server._tcp.b.test", T_SRV)
    assert dns.asked("_xmpp-server._tcp.a.test", T_SRV)
    la = s2s_log(dnsfed, "a")
    assert f"connected to b.test at 127.0.0.3:{dnsfed['peers']['b'].port} (b.test, STARTTLS)" \
        in la, la[-3000:]


def test_srv_priority_order(dnsfed):
    got = disco(alice(dnsfed, "prio"), "prio.test")
    assert got.get("type") == "result", got
    la = s2s_log(dnsfed, "a")
    closed, port = dnsfed["closed"], dnsfed["peers"]["b"].port
    first = la.index(f"candidate 1: dead.prio.test:{closed}")
    assert la.index(f"candidate 2: good.prio.test:{port}") > first, la[-3000:]
    assert f"cannot connect to 127.0.0.3:{closed} (dead.prio.test)" in la, la[-3000:]
    assert f"connected to prio.test at 127.0.0.3:{port} (good.prio.test, STARTTLS)" in la


def test_srv_weights_same_priority(dnsfed):
    got = disco(alice(dnsfed, "weight"), "weight.test")
    assert got.get("type") == "result", got
    la = s2s_log(dnsfed, "a")
    lines = [ln for ln in la.splitlines() if "weight.test:" in ln and "candidate" in ln]
    assert len(lines) == 2, lines
    assert {"w1.weight.test", "w2.weight.test"} == {
        ln.split("candidate ")[1].split()[1].split(":")[0] for ln in lines}, lines
    assert "connected to weight.test at 127.0.0.3:" in la, la[-3000:]


def test_srv_weights_give_both_orders(dnsfed):
    """RFC 2782: equal weights in one priority, either target first; over
    30 domains both orders show up (all alike: p = 2^-29)."""
    c = alice(dnsfed, "weights")
    for i in range(WEIGHT_SAMPLES):
        assert_bounced(disco(c, f"w{i}.test"))
    firsts = {}
    for ln in s2s_log(dnsfed, "a").splitlines():
        m = re.search(r"->(w\d+\.test): DNS: candidate 1: ([a-z.]+):", ln)
        if m:
            firsts[m.group(1)] = m.group(2)
    assert len(firsts) == WEIGHT_SAMPLES, firsts
    assert set(firsts.values()) == {"left.test", "right.test"}, firsts


def test_xmpps_server_direct_tls(dnsfed):
    got = disco(alice(dnsfed, "tls"), "tls.test")
    assert got.get("type") == "result", got
    la = s2s_log(dnsfed, "a")
    port = dnsfed["peers"]["b"].tls_port
    assert f"candidate 1: tls.b.test:{port} (direct TLS, priority 5" in la, la[-3000:]
    assert f"connected to tls.test at 127.0.0.3:{port} (tls.b.test, direct TLS)" in la
    assert "authenticated to tls.test with dialback, TLS1." in la, la[-3000:]


def test_dot_target_means_not_offered(dnsfed):
    got = disco(alice(dnsfed, "dot"), "dot.test")
    assert_bounced(got)
    la = s2s_log(dnsfed, "a")
    assert "_xmpp-server._tcp.dot.test has the target \".\"" in la, la[-3000:]
    assert "connected to dot.test" not in la
    assert not dnsfed["dns"].asked("dot.test", T_A)


def test_dot_for_one_service_keeps_the_other(dnsfed):
    got = disco(alice(dnsfed, "dotboth"), "dotboth.test")
    assert got.get("type") == "result", got
    la = s2s_log(dnsfed, "a")
    assert "connected to dotboth.test at 127.0.0.3:" in la and "direct TLS)" in la


def test_no_srv_falls_back_to_a_on_5269(dnsfed):
    if not dnsfed["has_5269"]:
        pytest.skip("127.0.0.4:5269 was taken: the peer cannot listen on the default port")
    got = disco(alice(dnsfed, "plain"), "plain.test")
    assert got.get("type") == "result", got
    la = s2s_log(dnsfed, "a")
    assert "no SRV records for plain.test; trying its A/AAAA on port 5269" in la, la[-3000:]
    assert "connected to plain.test at 127.0.0.4:5269 (plain.test, STARTTLS)" in la


def test_no_srv_a_without_listener_bounces(dnsfed):
    got = disco(alice(dnsfed, "nolistener"), "nolistener.test")
    assert_bounced(got)
    la = s2s_log(dnsfed, "a")
    assert "no SRV records for nolistener.test; trying its A/AAAA on port 5269" in la
    assert "cannot connect to 127.0.0.9:5269 (nolistener.test)" in la, la[-3000:]


def test_nxdomain_bounces(dnsfed):
    got = disco(alice(dnsfed, "nx"), "nx.test")
    assert_bounced(got)
    dns = dnsfed["dns"]
    assert dns.asked("_xmpp-server._tcp.nx.test", T_SRV)
    assert dns.asked("nx.test", T_A)
    la = s2s_log(dnsfed, "a")
    assert "cannot resolve nx.test" in la, la[-3000:]


@pytest.mark.parametrize("address,message", [
    ("foo", '"foo" is not a list of IP[:PORT]'),
    ("300.1.1.1", '"300.1.1.1" is not a list of IP[:PORT]'),
    ("127.0.0.1:53' /><resolver address='127.0.0.1", "a second <resolver>"),
])
def test_resolver_config_errors(tmp_path, address, message):
    conf = tmp_path / "s2s.xml"
    conf.write_text("<xmppd>\n<domain>a.test</domain>\n<s2s>\n"
                    "<connect unix='router.sock' name='s2s'/>\n<tls required='no'/>\n"
                    "<listen tcp='127.0.0.1:0'/>\n"
                    f"<resolver address='{address}'/>\n</s2s>\n</xmppd>\n")
    r = subprocess.run([str(S2S_BIN), "-c", str(conf), "--check-config"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1, r
    assert f"{conf}:7: s2s: {message}" in r.stderr, r.stderr


def test_dns_timeout_bounces(dnsfed):
    """A DNS server that does not answer: the handshake timeout (3 s here,
    which covers the lookup) returns the stanza with remote-server-timeout;
    c-ares gives up later (3 s, 2 tries: the lookup of the closed stream
    ends on its own), and a failed SRV query has no A/AAAA fallback."""
    got = disco(alice(dnsfed, "slow"), "slow.test", timeout=30)
    assert got.get("type") == "error", got
    assert stanza_error(got)[1] == "remote-server-timeout", got
    deadline = time.monotonic() + 40
    while "_xmpp-server._tcp.slow.test: Timeout" not in s2s_log(dnsfed, "a"):
        assert time.monotonic() < deadline, s2s_log(dnsfed, "a")[-3000:]
        time.sleep(0.2)
    assert not dnsfed["dns"].asked("slow.test", T_A)


def test_zz_shutdown_during_lookup(dnsfed):
    """Last: a lookup still under way when the fixture stops the suites;
    SIGTERM must still end xmppd-s2s at once and cleanly (exit 0, checked
    by the fixture; ASan builds check for leaks too)."""
    c = alice(dnsfed, "shutdown")
    c.send("<message to='x@slow2.test' id='zz'><body>never</body></message>")
    deadline = time.monotonic() + 5
    while not dnsfed["dns"].asked("_xmpp-server._tcp.slow2.test", T_SRV):
        assert time.monotonic() < deadline
        time.sleep(0.05)
