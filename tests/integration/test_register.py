# SPDX-License-Identifier: MIT
"""XEP-0077 In-Band Registration in xmppd-c2s, with the real router, store
(SQLite) and sm: the stream feature and form before authentication, a new
account, the per-address throttle, the password change and the account's
removal after authentication, driven by raw XML over TLS and by slixmpp's
XEP-0077 plugin; logins after a change go through SASL SCRAM (slixmpp)."""
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

from conftest import (HERE, NS_XMPPD_ROUTE, ComponentDef, RawComponent, Router,
                      default_components, free_port, local, nsof, stanza_error)
from test_c2s import (C2S_BIN, NS_SASL, NS_STORE, NS_TLS, STORE_BIN, Proc, cert,  # noqa: F401
                      features, open_client, plain, scram_cred)

SM_BIN = C2S_BIN.parent / "xmppd-sm"
NS_REG = "jabber:iq:register"
NS_REG_FEATURE = "http://jabber.org/features/iq-register"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
PASSWORD = "s3cret pass"
_ids = itertools.count(1)


class RegRouter(Router):
    """A router whose config also holds <store>, <sm> and <c2s>; register
    is the <c2s> section's <register/> element (None: absent)."""

    def __init__(self, workdir, cert, register):
        comps = default_components() + [
            ComponentDef("store", "secret-store", domain=False, allow=[("service", "store")]),
            ComponentDef("admin", "secret-admin", domain=False)]
        super().__init__(workdir, comps)
        self.cert = cert
        self.register = register
        self.c2s_port = free_port()
        self.c2s_tls_port = free_port()

    def config_text(self):
        text = super().config_text()
        section = (
            "  <store>\n    <connect unix='router.sock' name='store' instance='store/1'/>\n"
            "    <database driver='sqlite' file='xmppd.db'/>\n  </store>\n"
            "  <sm>\n    <connect unix='router.sock' name='sm' instance='sm/1'/>\n  </sm>\n"
            "  <c2s>\n    <connect unix='router.sock' name='c2s' instance='c2s/test'/>\n"
            f"    <listen tcp='127.0.0.1:{self.c2s_port}'/>\n"
            f"    <listen tls='127.0.0.1:{self.c2s_tls_port}'/>\n"
            f"    <certificate domain='localhost' cert='{self.cert[0]}' key='{self.cert[1]}'/>\n"
            "    <tls required='yes'/>\n"
            + (f"    {self.register}\n" if self.register else "")
            + "    <limits max-stanza-bytes='16k' auth-failure-delay='50ms'/>\n  </c2s>\n")
        return text.replace("</xmppd>\n", section + "</xmppd>\n")


class Suite:
    def __init__(self, router, procs, admin):
        self.router, self.admin = router, admin
        self.store, self.sm, self.c2s = procs
        self.port, self.tls_port = router.c2s_port, router.c2s_tls_port
        self.cafile = router.cert[0]

    def logs(self):
        return "".join(p.log_text() for p in (self.store, self.sm, self.c2s)) + \
            self.router.log_text()

    def store_ask(self, user, itype, payload):
        iid = f"a{next(_ids)}"
        self.admin.send(f"<route xmlns='{NS_XMPPD_ROUTE}' to='store' from='admin/1' "
                        f"key='{user}'><iq xmlns='jabber:component:accept' type='{itype}' "
                        f"id='{iid}'>{payload}</iq></route>")
        env, _ = self.admin.recv_until(
            lambda e: e.is_("route", NS_XMPPD_ROUTE) and len(e.el) and e.el[0].get("id") == iid,
            10)
        return env.el[0]

    def create_account(self, user, password=PASSWORD):
        creds = "".join(scram_cred(m, password, os.urandom(16))
                        for m in ("SCRAM-SHA-1", "SCRAM-SHA-256"))
        r = self.store_ask(user, "set", f"<account-create xmlns='{NS_STORE}' user='{user}'>"
                                        f"{creds}</account-create>")
        assert r.get("type") == "result", r

    def account_exists(self, user):
        r = self.store_ask(user, "get", f"<account-get xmlns='{NS_STORE}' user='{user}'/>")
        return r.get("type") == "result"

    def login(self, jid, password, mech="SCRAM-SHA-1"):
        """slixmpp's SASL over STARTTLS (c2s_client.py): {"auth": ...}."""
        r = subprocess.run([sys.executable, str(HERE / "c2s_client.py"), str(self.port), jid,
                            password, mech, self.cafile],
                           capture_output=True, text=True, timeout=40)
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
        assert lines, f"the client printed nothing:\n{r.stdout}\n{r.stderr}"
        return json.loads(lines[-1])

    def raw(self, tls=True):
        """A raw client stream, opened: (client, features)."""
        if tls:
            ctx = ssl.create_default_context(cafile=self.cafile)
            c = RawComponent.tls(self.tls_port, ctx, server_hostname="localhost")
        else:
            c = RawComponent.tcp(self.port)
        self.router.clients.append(c)
        open_client(c)
        return c, features(c)

    def bound(self, user, password=PASSWORD, resource="phone"):
        """A raw client over direct TLS, authenticated (PLAIN) and bound."""
        c, _ = self.raw()
        c.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{plain(user, password)}</auth>")
        assert c.recv(10).is_("success", NS_SASL)
        open_client(c)
        features(c)
        c.send(f"<iq type='set' id='b1'><bind xmlns='{NS_BIND}'><resource>{resource}"
               "</resource></bind></iq>")
        r = c.recv(10)
        assert r.get("type") == "result" and r.get("id") == "b1", r
        return c


@pytest.fixture
def reg_suite(tmp_path, cert, request):
    """start(register) runs router, store, sm and c2s; each is stopped by PID
    at the end and c2s must exit 0 on SIGTERM."""
    started = []

    def start(register="<register allow='yes' interval='0'/>"):
        r = RegRouter(tmp_path / f"suite{len(started)}", cert, register)
        r.start()
        admin = r.attach("admin", "secret-admin", via="unix")
        assert admin.bind(instance="admin/1").get("type") != "error"
        procs = [Proc(b, r, n).start() for b, n in
                 ((STORE_BIN, "store"), (SM_BIN, "sm"), (C2S_BIN, "c2s"))]
        started.append((r, procs))
        seen = set()

        def ready(e):
            if e.is_("route", NS_XMPPD_ROUTE):
                for ev in e.el:
                    if local(ev.tag) == "event" and ev.get("type") == "bind":
                        seen.add(ev.get("name"))
            return {"store", "c2s", "sm"} <= seen
        admin.recv_until(ready, 15)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", r.c2s_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, procs[2].log_text()
                time.sleep(0.05)
        return Suite(r, procs, admin)

    yield start
    failed = getattr(request.node, "rep_call", None)
    failed = failed is not None and failed.failed
    problems = []
    for r, procs in started:
        for p in reversed(procs):
            if p.proc and p.proc.poll() is None:
                try:
                    os.kill(p.proc.pid, signal.SIGCONT)
                except OSError:
                    pass
            code = p.stop()
            if p is procs[2] and code != 0:
                problems.append(f"xmppd-c2s exited with {code!r}")
            if failed or (p is procs[2] and code != 0):
                print(f"--- {p.log_path.name} ---\n{p.log_text()[-6000:]}")
        r.stop()
    if problems:
        pytest.fail("; ".join(problems))


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def reg_iq(c, itype, payload="", to=None, timeout=10):
    """Sends a jabber:iq:register iq; returns the answer with its id."""
    iid = f"r{next(_ids)}"
    t = f" to='{to}'" if to else ""
    c.send(f"<iq type='{itype}' id='{iid}'{t}><query xmlns='{NS_REG}'>{payload}</query></iq>")
    r, _ = c.recv_until(lambda e: e.name == "iq" and e.get("id") == iid, timeout)
    return r


def creds(user, password=PASSWORD):
    return f"<username>{user}</username><password>{password}</password>"


def assert_error(r, cond, etype):
    assert r.get("type") == "error", r
    assert stanza_error(r) == (etype, cond), r
    # The request's payload (its password) is not echoed back.
    assert r.child("query", NS_REG) is None, r


def has_feature(f):
    return f.child("register", NS_REG_FEATURE) is not None


# ---------------------------------------------------------------------------
# off by default
# ---------------------------------------------------------------------------

def test_disabled_is_service_unavailable_and_not_advertised(reg_suite):
    s = reg_suite(register=None)
    c, f = s.raw()
    assert not has_feature(f), f
    assert f.child("mechanisms", NS_SASL) is not None, f
    assert_error(reg_iq(c, "get"), "service-unavailable", "cancel")
    assert_error(reg_iq(c, "set", creds("mallory")), "service-unavailable", "cancel")
    assert not s.account_exists("mallory@localhost")
    # After authentication the iq goes on to sm, which has no such service.
    s.create_account("alice@localhost")
    c = s.bound("alice")
    r = reg_iq(c, "set", creds("alice", "new one"), to="localhost")
    assert r.get("type") == "error" and stanza_error(r)[1] == "service-unavailable", r
    assert s.login("alice@localhost", PASSWORD)["auth"] == "success"


def test_explicitly_disabled_is_service_unavailable(reg_suite):
    s = reg_suite(register="<register allow='no'/>")
    c, f = s.raw()
    assert not has_feature(f), f
    assert_error(reg_iq(c, "set", creds("mallory")), "service-unavailable", "cancel")


def check_config(r):
    r.config_path.write_text(r.config_text())
    return subprocess.run([str(C2S_BIN), "--check-config", "-c", str(r.config_path)],
                          capture_output=True, text=True, timeout=20)


def test_bad_config_value_is_a_located_error(tmp_path, cert):
    r = RegRouter(tmp_path, cert, "<register allow='maybe'/>")
    p = check_config(r)
    out = p.stdout + p.stderr
    line = next(i + 1 for i, ln in enumerate(r.config_text().splitlines()) if "<register" in ln)
    assert p.returncode != 0 and f"xmppd.xml:{line}:" in out and "allow" in out, out
    r.register = "<register allow='yes' interval='soon'/>"
    p = check_config(r)
    out = p.stdout + p.stderr
    assert p.returncode != 0 and f"xmppd.xml:{line}:" in out and "interval" in out, out
    r.register = "<register allow='yes' intervall='1s'/>"
    p = check_config(r)
    assert p.returncode != 0 and "intervall" in p.stdout + p.stderr


# ---------------------------------------------------------------------------
# a new account (§3.1)
# ---------------------------------------------------------------------------

@pytest.mark.time_limit(90)
def test_register_then_scram_login(reg_suite):
    s = reg_suite()
    # Not before TLS: the plaintext stream offers only STARTTLS.
    plain_c, f = s.raw(tls=False)
    assert f.child("starttls", NS_TLS) is not None and not has_feature(f), f
    plain_c.close()
    c, f = s.raw()
    assert has_feature(f), f
    form = reg_iq(c, "get")
    assert form.get("type") == "result", form
    q = form.child("query", NS_REG)
    assert q is not None, form
    names = [local(x.tag) for x in q]
    assert names == ["instructions", "username", "password"], form
    assert all(nsof(x.tag) == NS_REG for x in q), form
    r = reg_iq(c, "set", creds("Newbie"))
    assert r.get("type") == "result", r
    # Normalized as a localpart (nodeprep): "Newbie" is newbie.
    assert s.account_exists("newbie@localhost")
    # The same stream may now authenticate (SCRAM needs the client's
    # proof, so PLAIN here; SCRAM by slixmpp below).
    c.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{plain('newbie', PASSWORD)}</auth>")
    assert c.recv(10).is_("success", NS_SASL)
    for mech in ("SCRAM-SHA-1", "SCRAM-SHA-256"):
        got = s.login("newbie@localhost", PASSWORD, mech)
        assert got["auth"] == "success", got
    got = s.login("newbie@localhost", "wrong", "SCRAM-SHA-256")
    assert got["auth"] == "failed" and got["condition"] == "not-authorized", got
    log = s.c2s.log_text()
    assert "registration of newbie@localhost done" in log, log
    assert PASSWORD not in s.logs()


def test_duplicate_is_conflict(reg_suite):
    s = reg_suite()
    s.create_account("taken@localhost")
    c, _ = s.raw()
    assert_error(reg_iq(c, "set", creds("taken", "other")), "conflict", "cancel")
    assert_error(reg_iq(c, "set", creds("TAKEN", "other")), "conflict", "cancel")
    assert s.login("taken@localhost", PASSWORD)["auth"] == "success"
    assert "registration of taken@localhost failed: conflict" in s.c2s.log_text()


def test_bad_or_missing_fields_are_refused(reg_suite):
    s = reg_suite()
    c, _ = s.raw()
    for user in ("bad user", "a@b", "x/y", "a" * 1100, "\u00a0"):
        assert_error(reg_iq(c, "set", creds(user)), "jid-malformed", "modify")
    assert_error(reg_iq(c, "set", "<username>solo</username>"), "not-acceptable", "modify")
    assert_error(reg_iq(c, "set", f"<password>{PASSWORD}</password>"), "not-acceptable",
                 "modify")
    assert_error(reg_iq(c, "set", "<username/><password/>"), "not-acceptable", "modify")
    assert_error(reg_iq(c, "set", creds("toolong", "p" * 1100)), "not-acceptable", "modify")
    # SASLprep (RFC 4013) prohibits private use characters in a password.
    assert_error(reg_iq(c, "set", creds("ctrl", "a\ue000b")), "not-acceptable", "modify")
    assert_error(reg_iq(c, "set", "<remove/>"), "not-authorized", "auth")
    assert not s.account_exists("solo@localhost")
    assert not s.account_exists("ctrl@localhost")
    # The stream is still usable.
    assert reg_iq(c, "set", creds("fine")).get("type") == "result"
    assert "refused with jid-malformed" in s.c2s.log_text()


def test_one_registration_per_address_per_interval(reg_suite):
    s = reg_suite(register="<register allow='yes'/>")      # interval: 60 s
    c, _ = s.raw()
    assert reg_iq(c, "set", creds("first")).get("type") == "result"
    c2, _ = s.raw()
    assert_error(reg_iq(c2, "set", creds("second")), "resource-constraint", "wait")
    assert_error(reg_iq(c, "set", creds("third")), "resource-constraint", "wait")
    assert not s.account_exists("second@localhost")
    log = s.c2s.log_text()
    assert "registration of second@localhost refused with resource-constraint" in log, log


def test_short_interval_lets_the_address_register_again(reg_suite):
    s = reg_suite(register="<register allow='yes' interval='300ms'/>")
    c, _ = s.raw()
    assert reg_iq(c, "set", creds("one")).get("type") == "result"
    assert_error(reg_iq(c, "set", creds("two")), "resource-constraint", "wait")
    time.sleep(0.4)
    assert reg_iq(c, "set", creds("two")).get("type") == "result"


def test_registration_before_starttls_ends_the_stream(reg_suite):
    s = reg_suite()
    c, f = s.raw(tls=False)
    assert not has_feature(f), f
    c.send(f"<iq type='set' id='x1'><query xmlns='{NS_REG}'>{creds('sniffed')}</query></iq>")
    assert c.recv_stream_error() == "policy-violation"
    assert not s.account_exists("sniffed@localhost")


@pytest.mark.time_limit(90)
def test_slixmpp_registers_and_logs_in(reg_suite):
    s = reg_suite()
    r = subprocess.run(["/usr/bin/python3", str(HERE / "register_client.py"), str(s.port),
                        "slix@localhost", PASSWORD, s.cafile],
                       capture_output=True, text=True, timeout=60)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"the client printed nothing:\n{r.stdout}\n{r.stderr}"
    got = json.loads(lines[-1])
    assert got["form"] == ["instructions", "password", "username"], got
    assert got["registered"] and got["auth"] == "success" and got["session"], got
    assert s.account_exists("slix@localhost")


# ---------------------------------------------------------------------------
# the store gone or slow, the client gone
# ---------------------------------------------------------------------------

def test_store_gone_is_a_temporary_error(reg_suite):
    s = reg_suite()
    assert s.store.stop() == 0
    time.sleep(0.5)                      # the router has seen it leave
    c, _ = s.raw()
    assert_error(reg_iq(c, "set", creds("nostore")), "internal-server-error", "wait")
    assert s.c2s.proc.poll() is None
    assert "store" in s.c2s.log_text()


def test_client_leaving_while_the_store_works(reg_suite):
    s = reg_suite()
    os.kill(s.store.proc.pid, signal.SIGSTOP)
    try:
        c, _ = s.raw()
        c.send(f"<iq type='set' id='gone1'><query xmlns='{NS_REG}'>{creds('leaver')}"
               "</query></iq>")
        time.sleep(0.3)                  # the credentials are made, the store asked
        c.abort()
        time.sleep(0.2)
    finally:
        os.kill(s.store.proc.pid, signal.SIGCONT)
    deadline = time.monotonic() + 10
    while "registration of leaver@localhost done" not in s.c2s.log_text():
        assert time.monotonic() < deadline, s.c2s.log_text()[-3000:]
        time.sleep(0.05)
    assert s.c2s.proc.poll() is None
    # c2s goes on serving; the account was made and the address throttle
    # does not apply (interval 0).
    assert s.account_exists("leaver@localhost")
    c, _ = s.raw()
    assert reg_iq(c, "set", creds("after")).get("type") == "result"


def test_client_leaving_before_the_credentials_are_made(reg_suite):
    s = reg_suite()
    c, _ = s.raw()
    c.send(f"<iq type='set' id='gone2'><query xmlns='{NS_REG}'>{creds('quick')}"
           "</query></iq>")
    c.abort()
    deadline = time.monotonic() + 10
    # Which comes first, the credentials or the client's going, is a race.
    while not any(w in s.c2s.log_text() for w in ("quick@localhost dropped: the client left",
                                                   "registration of quick@localhost done")):
        assert time.monotonic() < deadline, s.c2s.log_text()[-3000:]
        time.sleep(0.05)
    assert s.c2s.proc.poll() is None
    c, _ = s.raw()
    assert reg_iq(c, "get").get("type") == "result"


# ---------------------------------------------------------------------------
# after authentication: registered, password change (§3.3), removal (§3.2)
# ---------------------------------------------------------------------------

@pytest.mark.time_limit(120)
def test_password_change(reg_suite):
    s = reg_suite()
    c, _ = s.raw()
    assert reg_iq(c, "set", creds("pat")).get("type") == "result"
    c.close()
    c = s.bound("pat")
    r = reg_iq(c, "get", to="localhost")
    assert r.get("type") == "result" and r.get("from") == "localhost", r
    q = r.child("query", NS_REG)
    assert q.find(f"{{{NS_REG}}}registered") is not None, r
    assert q.findtext(f"{{{NS_REG}}}username") == "pat", r
    # Someone else's password: not allowed; incomplete: bad request.
    assert_error(reg_iq(c, "set", creds("other", "x"), to="localhost"), "not-allowed", "cancel")
    assert_error(reg_iq(c, "set", "<password>x</password>"), "bad-request", "modify")
    r = reg_iq(c, "set", creds("pat", "brand new"), to="localhost")
    assert r.get("type") == "result", r
    assert r.get("to") == "pat@localhost/phone", r
    # Without to, too (addressed to the server on behalf of the account).
    assert reg_iq(c, "set", creds("PAT", "newer still")).get("type") == "result"
    got = s.login("pat@localhost", "newer still", "SCRAM-SHA-256")
    assert got["auth"] == "success", got
    got = s.login("pat@localhost", PASSWORD, "SCRAM-SHA-1")
    assert got["auth"] == "failed" and got["condition"] == "not-authorized", got
    # The stream that changed it goes on.
    r = reg_iq(c, "get")
    assert r.get("type") == "result", r
    assert "password change of pat@localhost done" in s.c2s.log_text()
    assert "brand new" not in s.logs() and "newer still" not in s.logs()


@pytest.mark.time_limit(90)
def test_removal_ends_the_streams_and_the_account(reg_suite):
    s = reg_suite()
    s.create_account("rem@localhost")
    other = s.bound("rem", resource="laptop")
    c = s.bound("rem")
    r = reg_iq(c, "set", "<remove/>")
    assert r.get("type") == "result", r
    assert c.recv_stream_error() == "not-authorized"
    c.wait_closed()
    assert other.recv_stream_error() == "not-authorized"
    assert not s.account_exists("rem@localhost")
    got = s.login("rem@localhost", PASSWORD, "SCRAM-SHA-1")
    assert got["auth"] == "failed" and got["condition"] == "not-authorized", got
    assert "removal of rem@localhost done" in s.c2s.log_text()


def test_iq_to_another_domain_is_not_ours(reg_suite):
    """A register iq for a service (a component's domain) goes on to it via
    sm; c2s answers only those to its own server."""
    s = reg_suite()
    s.create_account("vic@localhost")
    c = s.bound("vic")
    r = reg_iq(c, "get", to="comp1.localhost")
    assert r.get("type") == "error", r
    assert r.get("from") == "comp1.localhost", r
