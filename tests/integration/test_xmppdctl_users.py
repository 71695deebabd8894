# SPDX-License-Identifier: MIT
"""xmppdctl adduser, passwd, deluser and listusers against the real router and
the real xmppd-store (SQLite): xmppdctl attaches to the router as a component
and asks the store; a raw component attached as instance checker/1 reads the
stored credentials back with <account-get> to check them."""
import re
import base64
import hashlib
import hmac
import itertools
import os
import signal
import subprocess
import time

import pytest

from conftest import (BUILD_DIR, NS_ACCEPT, NS_STANZA_ERRORS, NS_XMPPD_ROUTE,
                      ComponentDef, Router, local, xml_escape)

XMPPDCTL = BUILD_DIR / "bin" / "xmppdctl"
STORE_BIN = BUILD_DIR / "bin" / "xmppd-store"
NS_STORE = "urn:xmppd:store"
CTL_SECRET = "secret-xmppdctl"
STORE_SECRET = "secret-store"
CHECKER_SECRET = "secret-checker"

_ids = itertools.count(1)


class UsersRouter(Router):
    """A router whose file also holds the <store> and <xmppdctl> sections."""

    def __init__(self, workdir, domains, with_ctl_section):
        components = [
            ComponentDef("store", STORE_SECRET, domain=False, allow=[("service", "store")]),
            ComponentDef("xmppdctl", CTL_SECRET, domain=False),
            ComponentDef("checker", CHECKER_SECRET, domain=False),
        ]
        super().__init__(workdir, components, domains=domains)
        self.with_ctl_section = with_ctl_section

    def config_text(self):
        extra = ("  <store>\n    <connect unix='router.sock' name='store'/>\n"
                 "    <database driver='sqlite' file='xmppd.db'/>\n  </store>\n")
        if self.with_ctl_section:
            extra += ("  <xmppdctl><connect unix='router.sock' name='xmppdctl'/>"
                      "</xmppdctl>\n")
        return super().config_text().replace("</xmppd>", extra + "</xmppd>")


class Store:
    """One xmppd-store process, stopped by PID."""

    def __init__(self, router):
        self.router = router
        self.log_path = router.dir / "store.log"
        self.proc = None

    def start(self, timeout=10.0):
        if not STORE_BIN.exists():
            pytest.skip(f"{STORE_BIN} is not built yet")
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(STORE_BIN), "-c", str(self.router.config_path)],
                                     stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, cwd=str(self.router.dir))
        log.close()
        # Attached is not enough: the service bind must be done too.
        self.router.wait_for_report(lambda t: re.search(r"service:store(\s|$)", t), timeout,
                                    "the store attached")
        return self

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def suite(tmp_path):
    """start(domains=..., with_store=..., with_ctl_section=...) -> (router,
    store or None); everything is stopped by PID at the end."""
    started = []

    def start(domains=("localhost", "example.org"), with_store=True,
              with_ctl_section=True):
        r = UsersRouter(tmp_path / f"suite{len(started)}", domains, with_ctl_section)
        started.append(r)
        r.start()
        s = None
        if with_store:
            s = Store(r)
            started.append(s)
            s.start()
        return r, s

    yield start
    for p in reversed(started):
        p.stop()


def ctl(router, *args, password=None, timeout=30):
    """Runs xmppdctl -c FILE ARGS with password (a line) on stdin."""
    if not XMPPDCTL.exists():
        pytest.fail(f"{XMPPDCTL} does not exist: build it first")
    return subprocess.run([str(XMPPDCTL), "-c", str(router.config_path), *args],
                          input=(password + "\n") if password is not None else "",
                          capture_output=True, text=True, timeout=timeout)


class Checker:
    """A raw xmppd component (instance checker/1) asking the store."""

    def __init__(self, router):
        self.comp = router.attach("checker", via="unix")
        reply = self.comp.bind(instance="checker/1")
        assert reply.get("type") != "error", reply

    def ask(self, user, payload, iq_type="get"):
        iq_id = f"chk{next(_ids)}"
        self.comp.send(f"<route xmlns='{NS_XMPPD_ROUTE}' to='store' from='checker/1' "
                       f"key='{xml_escape(user)}'><iq xmlns='{NS_ACCEPT}' "
                       f"type='{iq_type}' id='{iq_id}'>{payload}</iq></route>")
        got, _ = self.comp.recv_until(
            lambda e: e.is_("route", NS_XMPPD_ROUTE) and len(e.el) and
            e.el[0].get("id") == iq_id, 10.0)
        return got.el[0]

    def scram(self, user):
        """{mech: attributes} of user's stored credentials; None if no user."""
        iq = self.ask(user, f"<account-get xmlns='{NS_STORE}' user='{xml_escape(user)}'/>")
        if iq.get("type") == "error":
            conds = [local(c.tag) for e in iq for c in e if c.tag.startswith(
                "{" + NS_STANZA_ERRORS)]
            assert "item-not-found" in conds, conds
            return None
        account = iq[0]
        assert local(account.tag) == "account" and account.get("user") == user
        return {s.get("mech"): dict(s.attrib) for s in account if local(s.tag) == "scram"}


def scram_matches(cred, password):
    """Whether cred (a <scram/>'s attributes) is RFC 5802's for password."""
    hash_name = {"SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256"}[cred["mech"]]
    salted = hashlib.pbkdf2_hmac(hash_name, password.encode(),
                                 base64.b64decode(cred["salt"]), int(cred["iterations"]))
    client_key = hmac.new(salted, b"Client Key", hash_name).digest()
    stored_key = hashlib.new(hash_name, client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hash_name).digest()
    return (base64.b64decode(cred["stored-key"]) == stored_key and
            base64.b64decode(cred["server-key"]) == server_key)


def listed(router, *domains):
    r = ctl(router, "listusers", *domains)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


# ---- the life of an account ----

def test_adduser_passwd_deluser(suite):
    router, _ = suite()
    r = ctl(router, "adduser", "Juliet@LocalHost", password="first secret")
    assert r.returncode == 0, r.stderr
    assert "juliet@localhost" in r.stdout
    assert "first secret" not in r.stdout + r.stderr
    assert listed(router) == ["juliet@localhost"]

    checker = Checker(router)
    creds = checker.scram("juliet@localhost")
    assert set(creds) == {"SCRAM-SHA-1", "SCRAM-SHA-256"}
    for cred in creds.values():
        assert cred["iterations"] == "4096"
        assert scram_matches(cred, "first secret")

    r = ctl(router, "adduser", "juliet@localhost", password="other")
    assert r.returncode == 1
    assert "juliet@localhost already exists" in r.stderr
    assert all(scram_matches(c, "first secret")
               for c in checker.scram("juliet@localhost").values())

    r = ctl(router, "passwd", "juliet@localhost", password="second secret")
    assert r.returncode == 0, r.stderr
    creds = checker.scram("juliet@localhost")
    assert set(creds) == {"SCRAM-SHA-1", "SCRAM-SHA-256"}
    for cred in creds.values():
        assert scram_matches(cred, "second secret")
        assert not scram_matches(cred, "first secret")

    r = ctl(router, "deluser", "juliet@localhost")
    assert r.returncode == 0, r.stderr
    assert listed(router) == []
    assert checker.scram("juliet@localhost") is None

    r = ctl(router, "deluser", "juliet@localhost")
    assert r.returncode == 1 and "no such user" in r.stderr
    r = ctl(router, "passwd", "juliet@localhost", password="x")
    assert r.returncode == 1 and "no such user" in r.stderr


def test_listusers_per_domain(suite):
    router, _ = suite()
    for user in ("romeo@example.org", "juliet@localhost", "nurse@localhost"):
        assert ctl(router, "adduser", user, password="pw").returncode == 0
    assert listed(router) == ["juliet@localhost", "nurse@localhost", "romeo@example.org"]
    assert listed(router, "example.org") == ["romeo@example.org"]
    assert listed(router, "LOCALHOST") == ["juliet@localhost", "nurse@localhost"]
    r = ctl(router, "listusers", "elsewhere.net")
    assert r.returncode == 1 and "elsewhere.net" in r.stderr and r.stdout == ""


def test_password_file(suite, tmp_path):
    router, _ = suite(with_ctl_section=False)    # the default link, too
    pw = tmp_path / "pw"
    pw.write_text("from a file\nsecond line ignored\n")
    r = ctl(router, "adduser", "romeo@example.org", "--password-file", str(pw))
    assert r.returncode == 0, r.stderr
    checker = Checker(router)
    creds = checker.scram("romeo@example.org")
    assert all(scram_matches(c, "from a file") for c in creds.values())
    pw.write_text("changed\n")
    r = ctl(router, "passwd", f"--password-file={pw}", "romeo@example.org")
    assert r.returncode == 0, r.stderr
    creds = checker.scram("romeo@example.org")
    assert all(scram_matches(c, "changed") for c in creds.values())


def test_empty_password_is_refused(suite, tmp_path):
    router, _ = suite()
    r = ctl(router, "adduser", "juliet@localhost", password="")
    assert r.returncode == 1 and "empty password" in r.stderr
    empty = tmp_path / "empty"
    empty.write_text("")
    r = ctl(router, "adduser", "juliet@localhost", "--password-file", str(empty))
    assert r.returncode == 1 and "empty password" in r.stderr
    assert listed(router) == []


# ---- refusals before anything is contacted ----

@pytest.mark.parametrize("jid, words", [
    ("juliet@elsewhere.net", "elsewhere.net is not a domain this server serves"),
    ("localhost", "not a user's bare JID"),
    ("juliet@localhost/balcony", "not a user's bare JID"),
    ("ju liet@localhost", "not a valid JID"),
])
def test_bad_jid_is_refused_without_contacting_anything(tmp_path, jid, words):
    # A config whose router does not run: any attempt to attach would fail
    # with another message.
    r = UsersRouter(tmp_path, ("localhost",), True)
    r.state_dir.mkdir(parents=True, exist_ok=True)
    r.config_path.write_text(r.config_text())
    start = time.monotonic()
    res = ctl(r, "deluser", jid)
    assert res.returncode == 1 and words in res.stderr, res.stderr
    res = ctl(r, "adduser", jid, password="pw")
    assert res.returncode == 1 and words in res.stderr, res.stderr
    assert time.monotonic() - start < 5


def test_usage_errors(tmp_path):
    r = UsersRouter(tmp_path, ("localhost",), True)
    r.state_dir.mkdir(parents=True, exist_ok=True)
    r.config_path.write_text(r.config_text())
    assert ctl(r, "adduser").returncode == 2
    assert ctl(r, "deluser", "a@localhost", "b@localhost").returncode == 2
    assert ctl(r, "passwd", "a@localhost", "--password-file").returncode == 2
    assert ctl(r, "deluser", "--password-file", "x", "a@localhost").returncode == 2


# ---- a suite that cannot answer ----

def test_store_not_running(suite):
    router, _ = suite(with_store=False)
    start = time.monotonic()
    r = ctl(router, "adduser", "juliet@localhost", password="pw")
    assert r.returncode == 1
    assert "xmppd-store is not attached to the router" in r.stderr
    assert time.monotonic() - start < 10
    r = ctl(router, "listusers")
    assert r.returncode == 1 and "not attached" in r.stderr


def test_router_not_running(tmp_path):
    r = UsersRouter(tmp_path, ("localhost",), True)
    r.state_dir.mkdir(parents=True, exist_ok=True)
    r.config_path.write_text(r.config_text())
    res = ctl(r, "listusers")
    assert res.returncode == 1 and "cannot reach the router" in res.stderr


@pytest.mark.time_limit(60)
def test_store_that_does_not_answer_times_out(suite):
    router, store = suite()
    os.kill(store.proc.pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        r = ctl(router, "deluser", "juliet@localhost")
        took = time.monotonic() - start
    finally:
        os.kill(store.proc.pid, signal.SIGCONT)
    assert r.returncode == 1
    assert "the store did not answer; is xmppd-store running?" in r.stderr
    assert 9 < took < 20


def test_unknown_secret_is_refused(suite):
    router, _ = suite()
    text = router.config_path.read_text().replace(
        "<connect unix='router.sock' name='xmppdctl'/>",
        "<connect unix='router.sock' name='xmppdctl' secret='wrong'/>")
    router.config_path.write_text(text)
    r = ctl(router, "listusers")
    assert r.returncode == 1 and "refused" in r.stderr


# ---- the password from a terminal ----

def _read_until(fd, marker, timeout=10.0):
    import select as sel
    got = b""
    deadline = time.monotonic() + timeout
    while marker not in got:
        left = deadline - time.monotonic()
        assert left > 0, f"never saw {marker!r}; got {got!r}"
        r, _, _ = sel.select([fd], [], [], left)
        if r:
            chunk = os.read(fd, 4096)
            assert chunk, f"closed before {marker!r}; got {got!r}"
            got += chunk
    return got


def _adduser_on_tty(router, user, first, second):
    import pty
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(XMPPDCTL), "-c", str(router.config_path), "adduser", user],
                            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(slave)
    try:
        _read_until(proc.stderr.fileno(), b"New password for " + user.encode() + b": ")
        os.write(master, first.encode() + b"\n")
        _read_until(proc.stderr.fileno(), b"Again: ")
        os.write(master, second.encode() + b"\n")
        out, err = proc.communicate(timeout=20)
        echoed = b""
        while True:
            import select as sel
            r, _, _ = sel.select([master], [], [], 0.1)
            if not r:
                break
            try:
                echoed += os.read(master, 4096)
            except OSError:
                break
        return proc.returncode, out.decode(), err.decode(), echoed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(master)


def test_password_from_terminal_twice_without_echo(suite):
    router, _ = suite()
    rc, out, err, echoed = _adduser_on_tty(router, "juliet@localhost", "tty secret",
                                           "tty secret")
    assert rc == 0, err
    assert b"tty secret" not in echoed
    creds = Checker(router).scram("juliet@localhost")
    assert all(scram_matches(c, "tty secret") for c in creds.values())
    rc, out, err, _ = _adduser_on_tty(router, "romeo@localhost", "one", "two")
    assert rc == 1 and "do not match" in err
    assert listed(router) == ["juliet@localhost"]
