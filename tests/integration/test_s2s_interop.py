# SPDX-License-Identifier: MIT
"""Federation with Prosody (Debian's /usr/bin/prosody): xmppd serves a.test
(s2s on 127.0.0.2), Prosody serves c.test (127.0.0.4). Real slixmpp clients
on both sides exchange a message each way, once with self-signed
certificates (dialback both ways) and once with certificates from a test CA
both servers trust (SASL EXTERNAL both ways); and they subscribe to each
other's presence (the full RFC 6121 handshake across the servers) and see
each other online.

Prosody has no option for a static s2s address, so its config loads a
small test-only plugin (written here, below) that answers its resolver for
a.test with 127.0.0.2 and our ports instead of DNS."""
import subprocess
import time
from pathlib import Path

import pytest

from conftest import free_port
from suite_harness import C2sDef
from test_s2s import Peer, make_domain_cert, start_fed_suite, stop_suites, wait_ready
from test_s2s_cert import make_ca, make_signed_cert, section

PROSODY = Path("/usr/bin/prosody")
PROSODYCTL = Path("/usr/bin/prosodyctl")
PYTHON = "/usr/bin/python3"

pytestmark = pytest.mark.time_limit(60)

STATIC_PLUGIN = r'''
-- Test only (tests/integration/test_s2s_interop.py): outgoing s2s to the
-- domains of test_s2s_static = { [domain] = { ip, port, tls_port } } goes
-- to that address instead of through DNS.
local service = require "net.resolvers.service";
local basic = require "net.resolvers.basic";
if not service.test_static_wrapped then
	local static = module:get_option("test_s2s_static", {});
	local dns_new = service.new;
	service.new = function (hostname, srv, conn_type, extra)
		local where = static[hostname];
		if not where then
			return dns_new(hostname, srv, conn_type, extra);
		end
		if srv == "xmpps-server" then
			return basic.new(where[1], where[3], conn_type, extra);
		end
		return basic.new(where[1], where[2], conn_type, extra);
	end
	service.test_static_wrapped = true;
end
'''

CLIENT = r'''
import asyncio, logging, ssl, sys
import slixmpp
jid, pw, port, peer, mode = sys.argv[1:6]
class C(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__(jid, pw)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.add_event_handler("session_start", self.started)
        self.add_event_handler("message", self.got)
        self.done = asyncio.get_event_loop().create_future()
    async def started(self, _):
        self.send_presence()
        await self.get_roster()
        print("online", flush=True)
        if mode == "first":
            self.send_message(mto=peer, mbody="hello from " + jid, mtype="chat")
    def got(self, msg):
        if msg["type"] in ("chat", "normal") and msg["from"].bare == peer:
            print("got:" + msg["body"], flush=True)
            if mode == "second":
                self.send_message(mto=msg["from"], mbody="reply from " + jid, mtype="chat")
            if not self.done.done():
                self.done.set_result(True)
        elif msg["type"] == "error":
            print("error:" + str(msg), flush=True)
c = C()
c.connect(("127.0.0.1" if mode == "first" else "127.0.0.4", int(port)))
loop = asyncio.get_event_loop()
try:
    loop.run_until_complete(asyncio.wait_for(c.done, 25))
    loop.run_until_complete(asyncio.sleep(0.5))
except asyncio.TimeoutError:
    print("timeout", flush=True)
    sys.exit(1)
c.disconnect()
'''


SUB_CLIENT = r'''
import asyncio, ssl, sys
import slixmpp
jid, pw, port, peer, mode = sys.argv[1:6]
class C(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__(jid, pw)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        # Approve the peer's request, and ask back (RFC 6121 §3).
        self.auto_authorize = True
        self.auto_subscribe = True
        self.seen = False
        self.add_event_handler("session_start", self.started)
        self.add_event_handler("presence_available", self.available)
        self.done = asyncio.get_event_loop().create_future()
    def available(self, pres):
        if pres["from"].bare == peer:
            self.seen = True
    def subscription(self):
        if not self.client_roster.has_jid(peer):
            return "none"
        return self.client_roster[peer]["subscription"]
    async def started(self, _):
        self.send_presence()
        await self.get_roster()
        print("online", flush=True)
        if mode == "first":
            self.send_presence_subscription(pto=peer)
        for _ in range(125):
            if self.subscription() == "both" and self.seen:
                print("subscribed both ways, peer online", flush=True)
                await asyncio.sleep(2)      # the peer may still wait for our presence
                self.done.set_result(True)
                return
            await asyncio.sleep(0.2)
        print("timeout: subscription=%s seen=%s" % (self.subscription(), self.seen), flush=True)
        self.done.set_result(False)
c = C()
c.connect(("127.0.0.1" if mode == "first" else "127.0.0.4", int(port)))
loop = asyncio.get_event_loop()
try:
    ok = loop.run_until_complete(asyncio.wait_for(c.done, 30))
except asyncio.TimeoutError:
    print("timeout", flush=True)
    sys.exit(1)
c.disconnect()
sys.exit(0 if ok else 1)
'''


def prosody_config(d, cert, ca_file, sport, cport, a, secure):
    d.mkdir(parents=True, exist_ok=True)
    (d / "data").mkdir(exist_ok=True)
    (d / "plugins").mkdir(exist_ok=True)
    (d / "plugins" / "mod_test_static_s2s.lua").write_text(STATIC_PLUGIN)
    cafile = f', cafile = "{ca_file}"' if ca_file else ""
    text = f'''-- generated by tests/integration/test_s2s_interop.py
run_as_root = true -- a throwaway instance in a temporary folder
daemonize = false
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
plugin_paths = {{ "{d}/plugins" }}
log = {{ {{ levels = {{ min = "debug" }}, to = "file", filename = "{d}/prosody.log" }} }}
modules_enabled = {{ "roster", "saslauth", "tls", "dialback", "disco", "test_static_s2s" }}
authentication = "internal_hashed"
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = {"true" if secure else "false"}
interfaces = {{ "127.0.0.4" }}
c2s_ports = {{ {cport} }}
c2s_direct_tls_ports = {{ }}
s2s_ports = {{ {sport} }}
s2s_direct_tls_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
component_ports = {{ }}
ssl = {{ certificate = "{cert[0]}", key = "{cert[1]}"{cafile} }}
test_s2s_static = {{ ["a.test"] = {{ "{a.ip}", {a.port}, {a.tls_port} }} }}
VirtualHost "c.test"
'''
    path = d / "prosody.cfg.lua"
    path.write_text(text)
    return path


def wait_port(ip, port, timeout=15.0):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((ip, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def run_interop(tmp_path, with_ca, client=CLIENT,
                expect=("got:reply from carol@c.test", "got:hello from alice@a.test")):
    """Both servers and a slixmpp client on each (client: the script, run
    as carol then alice); expect: what alice's and carol's output must
    contain. Returns (xmppd-s2s log, Prosody log)."""
    if not PROSODY.exists():
        pytest.skip("/usr/bin/prosody is missing (tools/deps.sh test installs it)")
    if subprocess.run([PYTHON, "-c", "import slixmpp"], capture_output=True).returncode != 0:
        pytest.skip("python3-slixmpp is missing")
    a = Peer("a.test", "127.0.0.2")
    sport, cport = free_port("127.0.0.4"), free_port("127.0.0.4")
    if with_ca:
        ca = make_ca(tmp_path / "ca")
        acert = make_signed_cert(tmp_path / "pki", "a.test", ca)
        ccert = make_signed_cert(tmp_path / "pki", "c.test", ca)
        ca_file = ca[0]
    else:
        acert = make_domain_cert(tmp_path / "pki-a", "a.test")
        ccert = make_domain_cert(tmp_path / "pki-c", "c.test")
        ca_file = None
    c = Peer("c.test", "127.0.0.4")
    c.port = sport
    xml = section(a, [c], acert, ca_file) if ca_file else \
        section(a, [c], acert, acert[0]).replace(f"    <tls ca-file='{acert[0]}'/>\n", "")
    suites = {}
    pdir = tmp_path / "prosody"
    cfg = prosody_config(pdir, ccert, ca_file, sport, cport, a, secure=with_ca)
    prosody = None
    clients = []
    try:
        suites["a"] = start_fed_suite(tmp_path / "a", a, xml, acert)
        suites["a"].start_c2s(C2sDef("1", domain="a.test"))
        wait_ready(suites["a"])
        suites["a"].adduser("alice@a.test", "alice-pw")
        r = subprocess.run([str(PROSODYCTL), "--config", str(cfg), "register", "carol", "c.test",
                            "carol-pw"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        prosody = subprocess.Popen([str(PROSODY), "--config", str(cfg), "-F"],
                                   stdout=open(pdir / "stdout.log", "w"),
                                   stderr=subprocess.STDOUT)
        assert wait_port("127.0.0.4", cport) and wait_port("127.0.0.4", sport), \
            (pdir / "stdout.log").read_text()
        script = tmp_path / "client.py"
        script.write_text(client)
        carol = subprocess.Popen([PYTHON, str(script), "carol@c.test", "carol-pw", str(cport),
                                  "alice@a.test", "second"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        clients.append(carol)
        assert carol.stdout.readline().strip() == "online"
        alice_port = suites["a"].c2s["1"].port
        alice = subprocess.Popen([PYTHON, str(script), "alice@a.test", "alice-pw",
                                  str(alice_port), "carol@c.test", "first"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        clients.append(alice)
        aout, _ = alice.communicate(timeout=40)
        cout, _ = carol.communicate(timeout=10)
        slog = suites["a"].procs["s2s"].log_text()
        plog = (pdir / "prosody.log").read_text() if (pdir / "prosody.log").exists() else ""
        assert expect[0] in aout, (aout, cout, slog[-4000:], plog[-6000:])
        assert expect[1] in cout, (aout, cout)
        return slog, plog
    finally:
        for p in clients:
            if p.poll() is None:
                p.kill()
                p.wait()
        if prosody:
            prosody.terminate()
            try:
                prosody.wait(timeout=10)
            except subprocess.TimeoutExpired:
                prosody.kill()
                prosody.wait()
        problems = stop_suites(suites)
        assert not problems, problems


def test_prosody_dialback_both_ways(tmp_path):
    slog, _ = run_interop(tmp_path, with_ca=False)
    assert "authenticated to c.test with dialback, TLS1." in slog, slog[-4000:]
    assert "authenticated c.test -> a.test with dialback, TLS1." in slog, slog[-4000:]


def test_prosody_sasl_external_both_ways(tmp_path):
    slog, _ = run_interop(tmp_path, with_ca=True)
    assert "authenticated to c.test with SASL EXTERNAL, TLS1." in slog, slog[-4000:]
    assert "authenticated c.test -> a.test with SASL EXTERNAL, TLS1." in slog, slog[-4000:]


def test_prosody_presence_subscription_both_ways(tmp_path):
    done = "subscribed both ways, peer online"
    slog, plog = run_interop(tmp_path, with_ca=False, client=SUB_CLIENT, expect=(done, done))
    assert "authenticated to c.test with dialback, TLS1." in slog, slog[-4000:]
