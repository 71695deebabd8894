# SPDX-License-Identifier: MIT
"""Several xmppd-s2s instances share the router's default route: suite A
(a.test) runs s2s/1 and s2s/2, each with its own listeners; suite B serves
b.test and f.test. The router picks the instance per remote domain with
rendezvous hashing (router/routes.c, key: the destination domain), so each
remote domain has one outgoing stream on one instance; when that instance
dies, the next stanzas for its domain go through the other one. B finds
a.test through SRV (the DNS server of test_s2s_dns.py): two targets, one
per A instance, so that its dialback checks reach whichever is alive."""
import time

import pytest

from conftest import certtool
from suite_harness import C2sDef, Proc
from test_s2s import S2S_BIN, Peer, make_domain_cert, start_fed_suite, stop_suites
from test_s2s_dns import T_A, T_SRV, DnsServer

pytestmark = pytest.mark.time_limit(60)

# Room for a dialback check that waits for one DNS retry (c-ares: 3 s).
HANDSHAKE_TIMEOUT_S = 10

MASK = (1 << 64) - 1


def router_hash(s):
    """router/routes.c's router_hash (FNV-1a, case-folded)."""
    h = 0xcbf29ce484222325
    for c in s.lower().encode():
        h = ((h ^ c) * 0x100000001b3) & MASK
    return h


def routes_mix(x):
    x ^= x >> 30
    x = (x * 0xbf58476d1ce4e5b9) & MASK
    x ^= x >> 27
    x = (x * 0x94d049bb133111eb) & MASK
    x ^= x >> 31
    return x


def router_pick(key, instances):
    """The instance router_route_pick() gives key (rendezvous hashing)."""
    return max(instances, key=lambda i: routes_mix(router_hash(key) ^ router_hash(i)))


INSTANCES = ("s2s/1", "s2s/2")
REMOTES = ("b.test", "f.test")


def make_multi_cert(d, domains):
    """A self-signed certificate naming every domain: (cert, key)."""
    d.mkdir(parents=True, exist_ok=True)
    key, pem, tmpl = d / "multi.key", d / "multi.pem", d / "multi.tmpl"
    names = "".join(f'dns_name = "{dom}"\n' for dom in domains)
    tmpl.write_text(f'cn = "{domains[0]}"\n{names}tls_www_server\ntls_www_client\n'
                    "signing_key\nencryption_key\nexpiration_days = 30\n")
    certtool("--generate-privkey", "--key-type=ecdsa", "--curve=secp256r1",
             "--outfile", str(key))
    certtool("--generate-self-signed", "--load-privkey", str(key), "--template", str(tmpl),
             "--outfile", str(pem))
    return str(pem), str(key)


def s2s_xml(me, port, tls_port, instance, cert, b):
    hosts = "".join(f"    <host domain='{d}' address='{b.ip}' port='{b.port}'/>\n"
                    for d in REMOTES)
    return ("  <s2s>\n"
            f"    <connect unix='router.sock' name='s2s' instance='{instance}'/>\n"
            f"    <listen tcp='{me.ip}:{port}'/>\n"
            f"    <listen tls='{me.ip}:{tls_port}'/>\n"
            f"    <certificate cert='{cert[0]}' key='{cert[1]}'/>\n"
            f"    <dialback secret='dialback-secret-of-{me.domain}'/>\n"
            + hosts +
            f"    <limits handshake-timeout='{HANDSHAKE_TIMEOUT_S}s' idle-timeout='60s'/>\n"
            "  </s2s>\n")


def b_xml(me, cert, resolver_port):
    return ("  <s2s>\n"
            "    <connect unix='router.sock' name='s2s' instance='s2s/1'/>\n"
            f"    <listen tcp='{me.ip}:{me.port}'/>\n"
            f"    <listen tls='{me.ip}:{me.tls_port}'/>\n"
            f"    <certificate cert='{cert[0]}' key='{cert[1]}'/>\n"
            f"    <dialback secret='dialback-secret-of-{me.domain}'/>\n"
            f"    <resolver address='127.0.0.1:{resolver_port}'/>\n"
            f"    <limits handshake-timeout='{HANDSHAKE_TIMEOUT_S}s' idle-timeout='60s'/>\n"
            "  </s2s>\n")


def new_suite(workdir, me, xml, cert, domains, c2s):
    return start_fed_suite(workdir, me, xml, cert, domains=domains, c2s=c2s, with_s2s=False)


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    if not S2S_BIN.exists():
        pytest.fail(f"{S2S_BIN} does not exist: build it first")
    assert router_pick(REMOTES[0], INSTANCES) != router_pick(REMOTES[1], INSTANCES), \
        "pick remote domains that the router's hash puts on different instances"
    d = tmp_path_factory.mktemp("s2s-multi")
    a, b = Peer("a.test", "127.0.0.2"), Peer("b.test", "127.0.0.3")
    a2 = Peer("a.test", "127.0.0.2")          # the ports of s2s/2
    dns = DnsServer({
        ("_xmpp-server._tcp.a.test", T_SRV): [(10, 0, a.port, "one.a.test"),
                                              (20, 0, a2.port, "two.a.test")],
        ("one.a.test", T_A): ["127.0.0.2"],
        ("two.a.test", T_A): ["127.0.0.2"],
    })
    suites = {}
    try:
        ca, cb = make_domain_cert(d / "pki-a", a.domain), make_multi_cert(d / "pki-b", REMOTES)
        sa = new_suite(d / "a", a, s2s_xml(a, a.port, a.tls_port, "s2s/1", ca, b), ca,
                       ["a.test"], [C2sDef("1", domain="a.test")])
        suites["a"] = sa
        second = sa.router.dir / "s2s-2.xml"
        second.write_text(sa.router.config_text().replace(
            sa.router.s2s_xml, s2s_xml(a, a2.port, a2.tls_port, "s2s/2", ca, b)))
        sa.procs["s2s-1"] = Proc(S2S_BIN, sa.router.config_path, sa.router.dir, "s2s-1")
        sa.procs["s2s-2"] = Proc(S2S_BIN, second, sa.router.dir, "s2s-2")
        sb = new_suite(d / "b", b, b_xml(b, cb, dns.port), cb, REMOTES,
                       [C2sDef("1", domain="b.test"), C2sDef("2", domain="f.test")])
        suites["b"] = sb
        sb.procs["s2s"] = Proc(S2S_BIN, sb.router.config_path, sb.router.dir, "s2s")
        sa.wait_attached(also=[(i, "s2s") for i in INSTANCES])
        sb.wait_attached(also=[("s2s/1", "s2s")])
        sa.adduser("alice@a.test", "alice-pw")
        sb.adduser("bob@b.test", "bob-pw")
        sb.adduser("fred@f.test", "fred-pw")
        yield {"suites": suites, "dns": dns}
    finally:
        problems = []
        for key, s in suites.items():
            for name in ("s2s-1", "s2s-2", "c2s-2"):
                p = s.procs.pop(name, None)
                if p and p.proc.poll() != -9:
                    code = p.stop()
                    if code != 0:
                        problems.append(f"{key}: {name} exited with {code!r}")
                        print(f"--- {key} {name} ---\n{p.log_text()[-6000:]}")
        problems += stop_suites(suites)
        dns.stop()
        if problems:
            pytest.fail("; ".join(problems))


def log_of(multi, instance):
    return multi["suites"]["a"].procs["s2s-" + instance[-1]].log_text()


def test_remote_domains_spread_over_instances(multi):
    sa, sb = multi["suites"]["a"], multi["suites"]["b"]
    alice = sa.client("1", "alice@a.test", "alice-pw", "spread")
    bob = sb.client("1", "bob@b.test", "bob-pw", "spread")
    fred = sb.client("2", "fred@f.test", "fred-pw", "spread")
    for i in range(3):
        alice.message("bob@b.test", f"to bob {i}")
        alice.message("fred@f.test", f"to fred {i}")
    for i in range(3):
        got = bob.wait_message(body=f"to bob {i}", timeout=20)
        assert got.get("from") == "alice@a.test/spread", got
        got = fred.wait_message(body=f"to fred {i}", timeout=20)
        assert got.get("from") == "alice@a.test/spread", got
    # Each remote domain went through its instance only. (Streams alone do
    # not say it: an instance that gets a dialback request from a remote
    # domain opens a stream there to check it, whatever the router picks.)
    for remote in REMOTES:
        inst = router_pick(remote, INSTANCES)
        other = INSTANCES[1 - INSTANCES.index(inst)]
        assert f"the router sends stanzas for {remote} here" in log_of(multi, inst), \
            log_of(multi, inst)
        assert f"the router sends stanzas for {remote} here" not in log_of(multi, other), \
            log_of(multi, other)
    # And back: b.test and f.test reach a.test through SRV.
    bob.message("alice@a.test/spread", "from bob")
    fred.message("alice@a.test/spread", "from fred")
    alice.wait_message(body="from bob", timeout=20)
    alice.wait_message(body="from fred", timeout=20)


def test_killed_instance_hands_over(multi):
    sa, sb = multi["suites"]["a"], multi["suites"]["b"]
    victim = router_pick("f.test", INSTANCES)
    survivor = INSTANCES[1 - INSTANCES.index(victim)]
    sa.procs["s2s-" + victim[-1]].kill()

    def gone(text):
        return not any(f" instance {victim} " in ln for ln in text.splitlines())
    sa.router.wait_for_report(gone, 10, f"{victim} gone")
    alice = sa.client("1", "alice@a.test", "alice-pw", "handover")
    fred = sb.client("2", "fred@f.test", "fred-pw", "handover")
    alice.message("fred@f.test/handover", "after the kill")
    got = fred.wait_message(body="after the kill", timeout=30)
    assert got.get("from") == "alice@a.test/handover", got
    # The survivor carries f.test's stanzas now (the victim is dead anyway).
    deadline = time.monotonic() + 5
    while "the router sends stanzas for f.test here" not in log_of(multi, survivor):
        assert time.monotonic() < deadline, log_of(multi, survivor)[-3000:]
        time.sleep(0.1)
    # The reply comes back over b's stream, which finds a.test's second SRV
    # target (or an already open stream to the survivor).
    fred.message("alice@a.test/handover", "still there")
    alice.wait_message(body="still there", timeout=30)
