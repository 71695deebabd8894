# SPDX-License-Identifier: MIT
"""xmppd-c2s (RFC 6120) with the real router and the real store (SQLite):
accounts are created in the store by a raw xmppd component, logins are made
by a real client (slixmpp, in a child process) and the stream rules are
checked byte by byte over raw sockets."""
import base64
import hashlib
import hmac
import itertools
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time

import pytest

from conftest import (BUILD_DIR, HERE, NS_STREAM, NS_XMPPD_ROUTE, ComponentDef,
                      RawComponent, RecvTimeout, Router, StreamClosed, StreamSplitter,
                      certtool, default_components, free_port, local, stream_error,
                      xml_escape)

C2S_BIN = BUILD_DIR / "bin" / "xmppd-c2s"
STORE_BIN = BUILD_DIR / "bin" / "xmppd-store"
NS_CLIENT = "jabber:client"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_STORE = "urn:xmppd:store"
STORE_SECRET = "secret-store"
PASSWORD = "correct horse"
_ids = itertools.count(1)

SERVER_TEMPLATE = """cn = "localhost"
dns_name = "localhost"
tls_www_server
signing_key
encryption_key
expiration_days = 30
"""


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """A self-signed certificate for localhost: (cert, key)."""
    d = tmp_path_factory.mktemp("c2s-pki")
    key, pem, tmpl = d / "localhost.key", d / "localhost.pem", d / "server.tmpl"
    tmpl.write_text(SERVER_TEMPLATE)
    certtool("--generate-privkey", "--key-type=ecdsa", "--curve=secp256r1",
             "--outfile", str(key))
    certtool("--generate-self-signed", "--load-privkey", str(key), "--template", str(tmpl),
             "--outfile", str(pem))
    return str(pem), str(key)


class SuiteRouter(Router):
    """A router whose config also holds the <store> and <c2s> sections."""

    def __init__(self, workdir, cert, limits):
        comps = default_components() + [
            ComponentDef("store", STORE_SECRET, domain=False, allow=[("service", "store")])]
        super().__init__(workdir, comps)
        self.cert = cert
        limits = dict(limits)
        self.strict_cb = limits.pop("strict-channel-binding", None)
        self.c2s_limits = limits
        self.c2s_port = free_port()
        self.c2s_tls_port = free_port()

    def config_text(self):
        text = super().config_text()
        limits = " ".join(f"{k}='{v}'" for k, v in self.c2s_limits.items())
        section = (
            "  <store>\n    <connect unix='router.sock' name='store' instance='store/1'/>\n"
            "    <database driver='sqlite' file='xmppd.db'/>\n  </store>\n"
            "  <c2s>\n    <connect unix='router.sock' name='c2s' instance='c2s/test'/>\n"
            f"    <listen tcp='127.0.0.1:{self.c2s_port}'/>\n"
            f"    <listen tls='127.0.0.1:{self.c2s_tls_port}'/>\n"
            f"    <certificate domain='localhost' cert='{self.cert[0]}' key='{self.cert[1]}'/>\n"
            "    <tls required='yes'/>\n"
            + (f"    <sasl strict-channel-binding='{self.strict_cb}'/>\n" if self.strict_cb else "")
            + f"    <limits {limits}/>\n  </c2s>\n")
        return text.replace("</xmppd>\n", section + "</xmppd>\n")


class Proc:
    """One suite process started with the router's config; stopped by PID."""

    def __init__(self, binary, router, name):
        self.binary = binary
        self.router = router
        self.log_path = router.dir / f"{name}.log"
        self.proc = None
        self._log = None

    def start(self):
        if not self.binary.exists():
            pytest.fail(f"{self.binary} does not exist: build it first")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(self.binary), "-c", str(self.router.config_path)],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=str(self.router.dir))
        return self

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc is None:
            return None
        code = self.proc.poll()
        if code is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                code = "killed after SIGTERM timed out"
        if self._log:
            self._log.close()
            self._log = None
        return code


def scram_cred(mech, password, salt, iterations=4096):
    h = "sha1" if mech == "SCRAM-SHA-1" else "sha256"
    salted = hashlib.pbkdf2_hmac(h, password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", h).digest()
    stored_key = hashlib.new(h, client_key).digest()
    server_key = hmac.new(salted, b"Server Key", h).digest()
    b = lambda x: base64.b64encode(x).decode()
    return (f"<scram mech='{mech}' iterations='{iterations}' salt='{b(salt)}' "
            f"stored-key='{b(stored_key)}' server-key='{b(server_key)}'/>")


class Suite:
    def __init__(self, router, store, c2s, admin):
        self.router, self.store, self.c2s, self.admin = router, store, c2s, admin
        self.port = router.c2s_port
        self.tls_port = router.c2s_tls_port
        self.cafile = router.cert[0]

    def create_account(self, user, password=PASSWORD):
        iid = f"a{next(_ids)}"
        creds = "".join(scram_cred(m, password, os.urandom(16))
                        for m in ("SCRAM-SHA-1", "SCRAM-SHA-256"))
        self.admin.send(f"<route xmlns='{NS_XMPPD_ROUTE}' to='store' from='admin/1' "
                        f"key='{user}'><iq xmlns='jabber:component:accept' type='set' "
                        f"id='{iid}'><account-create xmlns='{NS_STORE}' user='{user}'>"
                        f"{creds}</account-create></iq></route>")
        env, _ = self.admin.recv_until(
            lambda e: e.is_("route", NS_XMPPD_ROUTE) and len(e.el) and e.el[0].get("id") == iid,
            10)
        assert env.el[0].get("type") == "result", env

    def login(self, jid, password=PASSWORD, mech="SCRAM-SHA-1", *flags):
        """slixmpp as it comes (it answers a -PLUS offer with SCRAM's "y"
        flag), unless flags say otherwise."""
        port = self.tls_port if "direct-tls" in flags else self.port
        r = subprocess.run([sys.executable, str(HERE / "c2s_client.py"), str(port), jid,
                            password, mech, self.cafile, *flags],
                           capture_output=True, text=True, timeout=40)
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
        assert lines, f"the client printed nothing:\n{r.stdout}\n{r.stderr}"
        return json.loads(lines[-1])

    # --- raw clients --------------------------------------------------------

    def raw(self, tls=False):
        if tls:
            ctx = ssl.create_default_context(cafile=self.cafile)
            c = RawComponent.tls(self.tls_port, ctx, server_hostname="localhost")
        else:
            c = RawComponent.tcp(self.port)
        self.router.clients.append(c)
        return c


def open_client(c, to="localhost", ns=NS_CLIENT, version="1.0", timeout=5.0):
    """Sends a client stream header; returns (our header Elem, features Elem)."""
    c.splitter = StreamSplitter()
    c.header = None
    ver = f" version='{version}'" if version else ""
    c.send(f"<?xml version='1.0'?><stream:stream xmlns='{ns}' xmlns:stream='{NS_STREAM}' "
           f"to='{xml_escape(to)}'{ver}>")
    deadline = time.monotonic() + timeout
    while c.header is None:
        if c.eof:
            raise StreamClosed("closed before the stream header")
        if time.monotonic() > deadline:
            raise RecvTimeout("no stream header")
        c._read(deadline - time.monotonic())
    return c.header


def features(c):
    f = c.recv()
    assert f.is_("features", NS_STREAM), f
    return f


def plain(user, password):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


@pytest.fixture
def start_suite(tmp_path, cert, request):
    started = []

    def start(**limits):
        lim = {"max-stanza-bytes": "16k", "auth-failure-delay": "50ms"}
        lim.update(limits)
        r = SuiteRouter(tmp_path / f"suite{len(started)}", cert, lim)
        r.start()
        admin = r.attach("sm", "secret-sm", via="unix")
        assert admin.bind(instance="admin/1").get("type") != "error"
        store = Proc(STORE_BIN, r, "store").start()
        c2s = Proc(C2S_BIN, r, "c2s").start()
        started.append((r, store, c2s))
        seen = set()

        def ready(e):
            if e.is_("route", NS_XMPPD_ROUTE):
                for ev in e.el:
                    if local(ev.tag) == "event" and ev.get("type") == "bind":
                        seen.add(ev.get("name"))
            return {"store", "c2s"} <= seen
        admin.recv_until(ready, 15)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", r.c2s_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, c2s.log_text()
                time.sleep(0.05)
        return Suite(r, store, c2s, admin)

    yield start
    failed = getattr(request.node, "rep_call", None)
    failed = failed is not None and failed.failed
    problems = []
    for r, store, c2s in started:
        code = c2s.stop()
        if code != 0:
            problems.append(f"xmppd-c2s exited with {code!r}")
        store.stop()
        r.stop()
        if failed or code != 0:
            print(f"--- c2s log ---\n{c2s.log_text()[-6000:]}")
    if problems:
        pytest.fail("; ".join(problems))


# ---------------------------------------------------------------------------
# Real client logins
# ---------------------------------------------------------------------------

@pytest.mark.time_limit(90)
@pytest.mark.parametrize("mech", ["SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN"])
def test_starttls_login_succeeds(start_suite, mech):
    s = start_suite()
    s.create_account("alice@localhost")
    got = s.login("alice@localhost", PASSWORD, mech)
    assert got["auth"] == "success" and got["tls"], got
    assert "authenticated with " + mech in s.c2s.log_text()
    assert PASSWORD not in s.c2s.log_text()


@pytest.mark.time_limit(90)
def test_scram_y_flag_is_accepted_by_default(start_suite):
    # slixmpp knows only tls-unique and says 'y' to our -PLUS offer.
    s = start_suite()
    s.create_account("alice@localhost")
    got = s.login("alice@localhost", PASSWORD, "SCRAM-SHA-1")
    assert got["auth"] == "success", got
    assert "strict-channel-binding is off" in s.c2s.log_text()


@pytest.mark.time_limit(90)
def test_scram_y_flag_is_refused_when_strict(start_suite):
    # RFC 5802 §6: the client says 'y' (it could bind but thinks we cannot)
    # while we offer -PLUS: a downgrade, so the exchange fails.
    s = start_suite(**{"strict-channel-binding": "yes"})
    s.create_account("alice@localhost")
    got = s.login("alice@localhost", PASSWORD, "SCRAM-SHA-1")
    assert got["auth"] == "failed" and got["condition"] == "not-authorized", got
    got = s.login("alice@localhost", PASSWORD, "SCRAM-SHA-1", "cb-unsupported")
    assert got["auth"] == "success", got


@pytest.mark.time_limit(90)
def test_direct_tls_login_succeeds(start_suite):
    s = start_suite()
    s.create_account("bob@localhost")
    got = s.login("bob@localhost", PASSWORD, "SCRAM-SHA-256", "direct-tls")
    assert got["auth"] == "success", got
    assert "(direct TLS)" in s.c2s.log_text()


@pytest.mark.time_limit(90)
@pytest.mark.parametrize("mech", ["SCRAM-SHA-1", "PLAIN"])
def test_wrong_password_is_not_authorized(start_suite, mech):
    s = start_suite()
    s.create_account("carol@localhost")
    got = s.login("carol@localhost", "wrong", mech)
    assert got["auth"] == "failed" and got["condition"] == "not-authorized", got


@pytest.mark.time_limit(90)
def test_unknown_user_is_not_authorized(start_suite):
    s = start_suite()
    got = s.login("nobody@localhost", PASSWORD, "SCRAM-SHA-256")
    assert got["auth"] == "failed" and got["condition"] == "not-authorized", got


# ---------------------------------------------------------------------------
# Raw streams
# ---------------------------------------------------------------------------

def test_header_and_features_before_tls(start_suite):
    s = start_suite()
    c = s.raw()
    h = open_client(c)
    assert h.get("from") == "localhost" and h.get("version") == "1.0" and h.get("id"), h
    assert h.get("{http://www.w3.org/XML/1998/namespace}lang") == "en", h
    f = features(c)
    st = f.child("starttls", NS_TLS)
    assert st is not None and st.find(f"{{{NS_TLS}}}required") is not None, f
    assert f.child("mechanisms", NS_SASL) is None, f


def test_unencrypted_auth_is_refused(start_suite):
    s = start_suite()
    s.create_account("dave@localhost")
    c = s.raw()
    open_client(c)
    features(c)
    c.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{plain('dave', PASSWORD)}</auth>")
    f = c.recv()
    assert f.is_("failure", NS_SASL) and f.child("encryption-required", NS_SASL) is not None, f
    # Anything else before TLS ends the stream.
    c.send("<message to='x@localhost'><body>hi</body></message>")
    assert c.recv_stream_error() == "policy-violation"


def test_bind_without_sm_is_service_unavailable(start_suite):
    s = start_suite()
    s.create_account("erin@localhost")
    c = s.raw(tls=True)
    open_client(c)
    f = features(c)
    mechs = [m.text for m in f.child("mechanisms", NS_SASL)]
    assert "PLAIN" in mechs and "SCRAM-SHA-256" in mechs, mechs
    assert f.child("starttls", NS_TLS) is None, f
    c.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{plain('erin', PASSWORD)}</auth>")
    assert c.recv().is_("success", NS_SASL)
    open_client(c)
    f = features(c)
    assert f.child("bind", NS_BIND) is not None, f
    c.send(f"<iq type='set' id='b1'><bind xmlns='{NS_BIND}'><resource>phone</resource>"
           "</bind></iq>")
    iq = c.recv(10)
    assert iq.name == "iq" and iq.get("type") == "error" and iq.get("id") == "b1", iq
    err = iq.child("error")
    assert err is not None and err.get("type") == "wait", iq
    assert [local(x.tag) for x in err] == ["service-unavailable"], iq
    # Stanzas before a bound resource end the stream.
    c.send("<message to='x@localhost'><body>hi</body></message>")
    assert c.recv_stream_error() == "not-authorized"


def test_malformed_xml_is_not_well_formed(start_suite):
    s = start_suite()
    c = s.raw()
    open_client(c)
    features(c)
    c.send("<message><body>a</bdy></message>")
    assert c.recv_stream_error() == "not-well-formed"


def test_wrong_namespace_is_invalid_namespace(start_suite):
    s = start_suite()
    c = s.raw()
    open_client(c, ns="jabber:server")
    assert c.recv_stream_error() == "invalid-namespace"


def test_unknown_host_is_host_unknown(start_suite):
    s = start_suite()
    c = s.raw()
    open_client(c, to="elsewhere.example")
    assert c.recv_stream_error() == "host-unknown"


def test_oversized_stanza_is_policy_violation(start_suite):
    s = start_suite()
    c = s.raw()
    open_client(c)
    features(c)
    c.send("<message><body>" + "x" * 20000 + "</body></message>")
    assert c.recv_stream_error() == "policy-violation"


def test_too_many_auth_failures_is_policy_violation(start_suite):
    s = start_suite()
    s.create_account("frank@localhost")
    c = s.raw(tls=True)
    open_client(c)
    features(c)
    for i in range(3):
        c.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{plain('frank', 'bad')}</auth>")
        f = c.recv(10)
        assert f.is_("failure", NS_SASL) and f.child("not-authorized", NS_SASL) is not None, f
    assert c.recv_stream_error() == "policy-violation"


@pytest.mark.time_limit(60)
def test_unsupported_channel_binding_type_is_not_a_failed_guess(start_suite):
    """XEP-0440 names the one type we bind to; a -PLUS attempt with another
    (slixmpp asks for tls-unique, which TLS 1.3 lacks) is refused at once and
    not counted, so the client's fallback to plain SCRAM is not delayed and
    the stream survives more such attempts than max-auth-failures."""
    s = start_suite(**{"auth-failure-delay": "3s"})
    s.create_account("gus@localhost")
    c = s.raw(tls=True)
    open_client(c)
    f = features(c)
    cb = f.child("sasl-channel-binding", "urn:xmpp:sasl-cb:0")
    assert cb is not None, f
    types = [x.get("type") for x in cb]
    assert types == ["tls-exporter"], f
    first = base64.b64encode(b"p=tls-unique,,n=gus,r=abcdefghijklmnop").decode()
    for _ in range(4):
        t0 = time.monotonic()
        c.send(f"<auth xmlns='{NS_SASL}' mechanism='SCRAM-SHA-256-PLUS'>{first}</auth>")
        got = c.recv(10)
        assert got.is_("failure", NS_SASL) and got.child("not-authorized", NS_SASL) is not None
        assert time.monotonic() - t0 < 1.5, "answered without the failure delay"
    c.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{plain('gus', PASSWORD)}</auth>")
    assert c.recv(10).is_("success", NS_SASL)
    assert "channel binding type other than tls-exporter refused" in s.c2s.log_text()


@pytest.mark.time_limit(60)
def test_a_client_iq_routed_by_sm_never_passes_for_the_store_answer(start_suite):
    """While a login waits for the store, sm forwards an iq result to some
    client of this c2s with the login's request id and credentials the
    sender chose. c2s must deliver it as a stanza (it has a to, and is in
    jabber:client), never take it as the store's answer."""
    s = start_suite(**{"auth-failure-delay": "0"})
    s.create_account("ivan@localhost")
    c2s_inst = "c2s/test"
    s.store.proc.send_signal(signal.SIGSTOP)
    try:
        c = s.raw(tls=True)
        open_client(c)
        features(c)
        c.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{plain('ivan', 'forged')}</auth>")
        time.sleep(0.3)                       # the account-get is on its way
        forged = scram_cred("SCRAM-SHA-256", "forged", b"0123456789abcdef")
        for n in range(1, 30):
            s.admin.send(
                f"<route xmlns='{NS_XMPPD_ROUTE}' to='{c2s_inst}' from='admin/1' "
                f"key='mallory@localhost'><iq xmlns='jabber:client' type='result' "
                f"id='c2s-{n}' from='mallory@localhost/x' to='ivan@localhost/y'>"
                f"<account xmlns='{NS_STORE}' user='ivan@localhost'>{forged}</account>"
                "</iq></route>")
        with pytest.raises(RecvTimeout):
            c.recv(1.0)
    finally:
        s.store.proc.send_signal(signal.SIGCONT)
    got = c.recv(10)
    assert got.is_("failure", NS_SASL) and got.child("not-authorized", NS_SASL) is not None, got


def test_auth_timeout_is_connection_timeout(start_suite):
    s = start_suite(**{"auth-timeout": "500ms"})
    c = s.raw()
    open_client(c)
    features(c)
    assert c.recv_stream_error(5) == "connection-timeout"


def test_sigterm_sends_system_shutdown(start_suite):
    s = start_suite()
    c = s.raw(tls=True)
    open_client(c)
    features(c)
    s.c2s.proc.send_signal(signal.SIGTERM)
    assert c.recv_stream_error() == "system-shutdown"
    assert s.c2s.proc.wait(10) == 0


def login_raw(s, user, resource="phone"):
    """A raw client over direct TLS, authenticated with PLAIN; sends <bind>."""
    s.create_account(f"{user}@localhost")
    c = s.raw(tls=True)
    open_client(c)
    features(c)
    c.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{plain(user, PASSWORD)}</auth>")
    assert c.recv().is_("success", NS_SASL)
    open_client(c)
    features(c)
    c.send(f"<iq type='set' id='b1'><bind xmlns='{NS_BIND}'><resource>{resource}</resource>"
           "</bind></iq>")
    return c


def test_session_with_sm(start_suite):
    """A raw sm (instance sm/1, service sm): start, stanzas both ways,
    legacy session iq, undeliverable stanzas back, end with conflict."""
    s = start_suite()
    sm = s.router.attach("sm", "secret-sm", via="unix", label="sm")
    assert sm.bind(instance="sm/1").get("type") != "error"
    assert sm.bind(kind="service", name="sm").get("type") != "error"
    c = login_raw(s, "gina")
    start, _ = sm.recv_until(lambda e: e.is_("route", NS_XMPPD_ROUTE) and len(e.el)
                             and local(e.el[0].tag) == "session", 10)
    assert start.get("key") == "gina@localhost" and start.get("to") == "sm", start
    sess = start.el[0]
    assert sess.get("action") == "start" and sess.get("jid") == "gina@localhost/phone", start
    c2s_inst = start.get("from")
    sm.send(f"<route xmlns='{NS_XMPPD_ROUTE}' to='{c2s_inst}' from='sm/1' "
            "key='gina@localhost'><session xmlns='urn:xmppd:session' action='started' "
            "jid='gina@localhost/phone'/></route>")
    iq = c.recv(10)
    assert iq.get("type") == "result" and iq.get("id") == "b1", iq
    assert iq.child("bind").find(f"{{{NS_BIND}}}jid").text == "gina@localhost/phone", iq
    c.send("<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
    iq = c.recv()
    assert iq.get("type") == "result" and iq.get("id") == "s1", iq
    # Client -> sm: stamped with the full JID, in an envelope to sm/1.
    c.send("<message to='hal@localhost' id='m1' from='forged@localhost'><body>hi</body></message>")
    env, _ = sm.recv_until(lambda e: e.is_("route", NS_XMPPD_ROUTE) and len(e.el)
                           and local(e.el[0].tag) == "message", 10)
    assert env.get("to") == "sm/1" and env.get("key") == "gina@localhost", env
    msg = env.el[0]
    assert msg.tag == f"{{{NS_CLIENT}}}message" and msg.get("from") == "gina@localhost/phone", env
    # sm -> client: delivered raw.
    sm.send(f"<route xmlns='{NS_XMPPD_ROUTE}' to='{c2s_inst}' from='sm/1' "
            "key='gina@localhost'><message xmlns='jabber:client' from='hal@localhost/x' "
            "to='gina@localhost/phone' id='m2'><body>yo</body></message></route>")
    got = c.recv()
    assert got.name == "message" and got.get("id") == "m2" and got.text_of("body") is not None
    # For a resource that is not here: back to sm as recipient-unavailable.
    sm.send(f"<route xmlns='{NS_XMPPD_ROUTE}' to='{c2s_inst}' from='sm/1' "
            "key='gina@localhost'><message xmlns='jabber:client' from='hal@localhost/x' "
            "to='gina@localhost/laptop' id='m3'><body>yo</body></message></route>")
    back, _ = sm.recv_until(lambda e: e.is_("route", NS_XMPPD_ROUTE) and e.get("type") == "error",
                            10)
    assert back.get("condition") == "recipient-unavailable" and back.el[0].get("id") == "m3", back
    # Replaced elsewhere: the stream ends with <conflict/>, and no end comes back.
    sm.send(f"<route xmlns='{NS_XMPPD_ROUTE}' to='{c2s_inst}' from='sm/1' "
            "key='gina@localhost'><session xmlns='urn:xmppd:session' action='end' "
            "jid='gina@localhost/phone' condition='conflict'/></route>")
    assert c.recv_stream_error() == "conflict"
    c.wait_closed()
    assert not [e for e in sm.poll(0.3) if len(e.el) and local(e.el[0].tag) == "session"]


def test_client_disconnect_ends_session(start_suite):
    s = start_suite()
    sm = s.router.attach("sm", "secret-sm", via="unix", label="sm")
    assert sm.bind(instance="sm/1").get("type") != "error"
    assert sm.bind(kind="service", name="sm").get("type") != "error"
    c = login_raw(s, "ivan", resource="")
    start, _ = sm.recv_until(lambda e: e.is_("route", NS_XMPPD_ROUTE) and len(e.el)
                             and local(e.el[0].tag) == "session", 10)
    full = start.el[0].get("jid")
    assert full.startswith("ivan@localhost/") and len(full) > len("ivan@localhost/"), start
    sm.send(f"<route xmlns='{NS_XMPPD_ROUTE}' to='{start.get('from')}' from='sm/1' "
            f"key='ivan@localhost'><session xmlns='urn:xmppd:session' action='started' "
            f"jid='{full}'/></route>")
    assert c.recv(10).get("type") == "result"
    c.close()
    end, _ = sm.recv_until(lambda e: e.is_("route", NS_XMPPD_ROUTE) and len(e.el)
                           and e.el[0].get("action") == "end", 10)
    assert end.el[0].get("jid") == full and end.get("to") == "sm/1", end


def test_refused_bind_is_conflict(start_suite):
    s = start_suite()
    sm = s.router.attach("sm", "secret-sm", via="unix", label="sm")
    assert sm.bind(instance="sm/1").get("type") != "error"
    assert sm.bind(kind="service", name="sm").get("type") != "error"
    c = login_raw(s, "judy")
    start, _ = sm.recv_until(lambda e: e.is_("route", NS_XMPPD_ROUTE) and len(e.el)
                             and local(e.el[0].tag) == "session", 10)
    sm.send(f"<route xmlns='{NS_XMPPD_ROUTE}' to='{start.get('from')}' from='sm/1' "
            "key='judy@localhost'><session xmlns='urn:xmppd:session' action='refused' "
            "condition='conflict' jid='judy@localhost/phone'/></route>")
    iq = c.recv(10)
    err = iq.child("error")
    assert iq.get("type") == "error" and err.get("type") == "cancel", iq
    assert [local(x.tag) for x in err] == ["conflict"], iq


def test_connections_per_address_are_limited(start_suite):
    s = start_suite(**{"max-connections-per-address": "2"})
    time.sleep(0.3)        # until the start-up probe's connection is gone
    first = [s.raw(), s.raw()]
    for c in first:
        open_client(c)
        features(c)
    third = s.raw()
    assert third.recv_stream_error() == "policy-violation"
    for c in first:
        assert c.try_recv(0.2) is None and not c.eof


def test_idle_timeout_after_auth_is_connection_timeout(start_suite):
    s = start_suite(**{"idle-timeout": "700ms"})
    c = login_raw(s, "kate")
    assert c.recv(10).get("type") == "error"      # no sm: the bind is refused
    c.send(" ")                                    # a whitespace keepalive
    assert c.recv_stream_error(5) == "connection-timeout"
