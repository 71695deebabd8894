# SPDX-License-Identifier: MIT
"""The whole suite started process by process for the tests that need more
than xmppdctl gives: one xmppd-router, one xmppd-store (SQLite or
PostgreSQL), one xmppd-sm and any number of xmppd-c2s instances (each with
its own config file, as on its own host: same router, same service c2s,
its own instance name and ports), plus a raw XMPP client that logs in over
direct TLS (XEP-0368) with PLAIN and speaks XML the tests can check.

Accounts are made with `xmppdctl adduser`, as an operator does. Every
process is stopped by PID (SIGTERM, then SIGKILL) at the end; the fixture
fails the test when one of them did not exit 0 on SIGTERM."""
import base64
import itertools
import signal
import ssl
import subprocess
import time

import pytest

from conftest import (BUILD_DIR, NS_STREAM, ComponentDef, RawComponent, RecvTimeout,
                      Router, StreamClosed, StreamSplitter, certtool, free_port, local,
                      xml_escape)

STORE_BIN = BUILD_DIR / "bin" / "xmppd-store"
SM_BIN = BUILD_DIR / "bin" / "xmppd-sm"
C2S_BIN = BUILD_DIR / "bin" / "xmppd-c2s"
CTL_BIN = BUILD_DIR / "bin" / "xmppdctl"
NS_CLIENT = "jabber:client"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_ROSTER = "jabber:iq:roster"
NS_DELAY = "urn:xmpp:delay"
DOMAIN = "localhost"

_ids = itertools.count(1)

SERVER_TEMPLATE = """cn = "localhost"
dns_name = "localhost"
tls_www_server
signing_key
encryption_key
expiration_days = 30
"""


def make_cert(d):
    """A self-signed certificate for localhost in folder d: (cert, key)."""
    d.mkdir(parents=True, exist_ok=True)
    key, pem, tmpl = d / "localhost.key", d / "localhost.pem", d / "server.tmpl"
    tmpl.write_text(SERVER_TEMPLATE)
    certtool("--generate-privkey", "--key-type=ecdsa", "--curve=secp256r1",
             "--outfile", str(key))
    certtool("--generate-self-signed", "--load-privkey", str(key), "--template", str(tmpl),
             "--outfile", str(pem))
    return str(pem), str(key)


def new_id(prefix="x"):
    return f"{prefix}{next(_ids)}"


# ---------------------------------------------------------------------------
# Config and processes
# ---------------------------------------------------------------------------

class C2sDef:
    """One xmppd-c2s instance: its instance name, ports and limits."""

    def __init__(self, name, limits=None, domain=DOMAIN):
        self.name = name                      # "a" -> instance c2s/a
        self.domain = domain                  # the domain of its <certificate>
        self.instance = f"c2s/{name}"
        self.port = free_port()               # STARTTLS
        self.tls_port = free_port()           # direct TLS
        self.limits = dict(limits or {})
        self.proc = None
        self.config_path = None

    def section(self, cert):
        limits = " ".join(f"{k}='{v}'" for k, v in self.limits.items())
        return ("  <c2s>\n"
                f"    <connect unix='router.sock' name='c2s' instance='{self.instance}'/>\n"
                f"    <listen tcp='127.0.0.1:{self.port}'/>\n"
                f"    <listen tls='127.0.0.1:{self.tls_port}'/>\n"
                f"    <certificate domain='{self.domain}' cert='{cert[0]}' key='{cert[1]}'/>\n"
                "    <tls required='yes'/>\n"
                + (f"    <limits {limits}/>\n" if limits else "")
                + "  </c2s>\n")


class FullRouter(Router):
    """A router whose config file also holds the store, sm and xmppdctl
    sections; each c2s gets a copy of it with its own <c2s> section."""

    def __init__(self, workdir, database_xml, sm_xml=""):
        comps = [
            ComponentDef("store", "secret-store", domain=False, allow=[("service", "store")]),
            ComponentDef("sm", "secret-sm", domain=False,
                         allow=[("service", "sm"), ("domain", "*")]),
            ComponentDef("c2s", "secret-c2s", domain=False, allow=[("service", "c2s")]),
            ComponentDef("xmppdctl", "secret-xmppdctl", domain=False),
        ]
        super().__init__(workdir, comps)
        self.database_xml = database_xml
        self.sm_xml = sm_xml

    def config_text(self):
        extra = ("  <store>\n    <connect unix='router.sock' name='store' instance='store/1'/>\n"
                 f"    {self.database_xml}\n  </store>\n"
                 "  <sm>\n    <connect unix='router.sock' name='sm' instance='sm/1'/>\n"
                 f"    {self.sm_xml}\n  </sm>\n"
                 "  <xmppdctl>\n    <connect unix='router.sock' name='xmppdctl'/>\n"
                 "  </xmppdctl>\n")
        return super().config_text().replace("</xmppd>\n", extra + "</xmppd>\n")

    def c2s_config(self, c2s, cert):
        """The suite's file with c2s's <c2s> section in it."""
        return self.config_text().replace("</xmppd>\n", c2s.section(cert) + "</xmppd>\n")


class Proc:
    """One suite process started with a config file; stopped by PID."""

    def __init__(self, binary, config_path, workdir, name):
        if not binary.exists():
            pytest.fail(f"{binary} does not exist: build it first")
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(binary), "-c", str(config_path)],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=str(workdir))

    @property
    def pid(self):
        return self.proc.pid

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def kill(self):
        """SIGKILL by PID (a crash, as far as the rest of the suite can tell)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def stop(self):
        """SIGTERM by PID, SIGKILL after 10 s; returns the exit status."""
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


class Suite:
    """A running suite: router, store, sm and the c2s instances by name."""

    def __init__(self, router, cert, workdir):
        self.router = router
        self.cert = cert
        self.cafile = cert[0]
        self.dir = workdir
        self.procs = {}                 # name -> Proc
        self.c2s = {}                   # name -> C2sDef
        self.killed = set()             # procs a test killed on purpose
        self.clients = []

    def start_c2s(self, c2s):
        c2s.config_path = self.dir / f"c2s-{c2s.name}.xml"
        c2s.config_path.write_text(self.router.c2s_config(c2s, self.cert))
        c2s.proc = Proc(C2S_BIN, c2s.config_path, self.router.dir, f"c2s-{c2s.name}")
        self.procs[f"c2s-{c2s.name}"] = c2s.proc
        self.c2s[c2s.name] = c2s
        return c2s

    def wait_attached(self, timeout=20.0, also=()):
        """Until store, sm, every c2s and the (instance, service) pairs of
        also have bound their services."""
        wanted = [("store/1", "store"), ("sm/1", "sm"),
                  *((c.instance, "c2s") for c in self.c2s.values()), *also]

        def ready(text):
            lines = text.splitlines()
            return all(any(f" instance {inst} " in ln and f"service:{svc}" in ln.split()
                           for ln in lines) for inst, svc in wanted)
        for p in self.procs.values():
            assert p.proc.poll() is None, f"{p.name} exited at start:\n{p.log_text()}"
        self.router.wait_for_report(ready, timeout, ", ".join(i for i, _ in wanted) + " bound")

    def kill(self, name):
        self.procs[name].kill()
        self.killed.add(name)

    def adduser(self, user, password):
        """xmppdctl adduser (the password on stdin)."""
        r = subprocess.run([str(CTL_BIN), "-c", str(self.router.config_path), "adduser",
                            user], input=password + "\n", capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0, f"adduser {user}: {r.stdout}{r.stderr}"

    def client(self, c2s_name, user, password, resource, priority=None, presence=True):
        """A raw client logged in on c2s c2s_name (and, unless presence is
        False, available with the given priority)."""
        c = XmppClient.connect(self.c2s[c2s_name].tls_port, self.cafile,
                               label=f"{user}/{resource}@{c2s_name}",
                               domain=self.c2s[c2s_name].domain)
        self.clients.append(c)
        c.login(user, password, resource)
        if presence:
            c.available(priority)
            c.sync()
        return c


@pytest.fixture(scope="module")
def suite_cert(tmp_path_factory):
    return make_cert(tmp_path_factory.mktemp("suite-pki"))


@pytest.fixture
def start_full_suite(tmp_path, suite_cert, request):
    """start(c2s=[C2sDef, ...], database_xml=...) starts router, store, sm
    and the c2s instances and waits until all are bound. Everything is
    stopped by PID at the end; a process that a test did not kill must exit
    0 on SIGTERM."""
    suites = []

    def start(c2s=None, database_xml="<database driver='sqlite' file='xmppd.db'/>",
              sm_xml="<offline max='1000'/>"):
        r = FullRouter(tmp_path / f"suite{len(suites)}", database_xml, sm_xml)
        s = Suite(r, suite_cert, r.dir)
        suites.append(s)
        r.start()
        s.procs["store"] = Proc(STORE_BIN, r.config_path, r.dir, "store")
        s.procs["sm"] = Proc(SM_BIN, r.config_path, r.dir, "sm")
        for c in c2s or [C2sDef("a")]:
            s.start_c2s(c)
        s.wait_attached()
        return s

    yield start
    failed = getattr(request.node, "rep_call", None)
    failed = failed is not None and failed.failed
    problems = []
    for s in suites:
        for c in s.clients:
            c.abort()
        for name in sorted(s.procs, key=lambda n: (not n.startswith("c2s"), n != "sm")):
            p = s.procs[name]
            code = p.stop()
            if failed or (code != 0 and name not in s.killed):
                print(f"--- {p.log_path.name} ---\n{p.log_text()[-6000:]}")
            if code != 0 and name not in s.killed:
                problems.append(f"{name} exited with {code!r}")
        code = s.router.stop()
        if failed:
            print(f"--- router log ---\n{s.router.log_tail(60)}")
        if code != 0:
            problems.append(f"router exited with {code!r}")
    if problems:
        pytest.fail("; ".join(problems))


# ---------------------------------------------------------------------------
# A raw XMPP client
# ---------------------------------------------------------------------------

class XmppClient(RawComponent):
    """A client stream over direct TLS: PLAIN login, resource binding, and
    stanzas sent as text; what arrives is queued as Elem objects (elements
    are parsed by local name: read them with .name, .get, .child)."""

    full = None
    domain = DOMAIN                     # the served domain it logs in to

    @classmethod
    def connect(cls, port, cafile, label, domain=DOMAIN):
        ctx = ssl.create_default_context(cafile=cafile)
        c = cls.tls(port, ctx, server_hostname=domain, label=label)
        c.domain = domain
        return c

    def open_client_stream(self, timeout=10.0):
        """Sends a client header; returns the stream features (Elem)."""
        self.splitter = StreamSplitter()
        self.header = None
        self.send(f"<?xml version='1.0'?><stream:stream xmlns='{NS_CLIENT}' "
                  f"xmlns:stream='{NS_STREAM}' to='{self.domain}' version='1.0'>")
        deadline = time.monotonic() + timeout
        while self.header is None:
            if self.eof:
                raise StreamClosed(f"{self.label}: closed before the stream header")
            if time.monotonic() > deadline:
                raise RecvTimeout(f"{self.label}: no stream header")
            self._read(deadline - time.monotonic())
        f = self.recv(timeout)
        assert f.is_("features", NS_STREAM), f
        return f

    def auth_plain(self, user, password, timeout=10.0):
        """One PLAIN attempt; returns the answer (success or failure Elem)."""
        node = user.split("@")[0]
        cred = base64.b64encode(f"\0{node}\0{password}".encode()).decode()
        self.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{cred}</auth>")
        return self.recv(timeout)

    def login(self, user, password, resource, timeout=15.0):
        """Authenticates and binds resource; returns the full JID bound."""
        self.open_client_stream(timeout)
        answer = self.auth_plain(user, password, timeout)
        assert answer.is_("success", NS_SASL), f"{self.label}: login failed: {answer!r}"
        self.open_client_stream(timeout)
        self.send(f"<iq type='set' id='bind1'><bind xmlns='{NS_BIND}'>"
                  f"<resource>{xml_escape(resource)}</resource></bind></iq>")
        iq, _ = self.recv_until(lambda e: e.name == "iq" and e.get("id") == "bind1", timeout)
        assert iq.get("type") == "result", f"{self.label}: bind failed: {iq!r}"
        self.full = iq.child("bind").find(f"{{{NS_BIND}}}jid").text
        assert self.full == f"{user}/{resource}", iq
        return self.full

    def recv_until(self, pred, timeout=5.0):
        """The first element (queued or still to come) that matches pred.
        Unlike RawComponent's, what does not match stays queued, in order,
        for later waits: a client gets stanzas in an order the server may
        choose (say, an offline message before the answer to a ping).
        Returns (match, the unmatched elements queued before it)."""
        deadline = time.monotonic() + timeout
        i = 0
        while True:
            while i < len(self.queue):
                e = self.queue[i]
                if pred(e):
                    del self.queue[i]
                    return e, list(itertools.islice(self.queue, 0, i))
                i += 1
            if self.eof:
                raise StreamClosed(f"{self.label}: stream closed; queued: {list(self.queue)!r}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise RecvTimeout(f"{self.label}: nothing matching within {timeout} s; "
                                  f"queued: {list(self.queue)!r}")
            self._read(left)

    # --- stanzas ------------------------------------------------------------

    def available(self, priority=None):
        p = f"<priority>{priority}</priority>" if priority is not None else ""
        self.send(f"<presence>{p}</presence>")

    def message(self, to, body, mid=None, mtype="chat"):
        mid = mid or new_id("m")
        self.send(f"<message to='{xml_escape(to)}' type='{mtype}' id='{mid}'>"
                  f"<body>{xml_escape(body)}</body></message>")
        return mid

    def iq(self, payload, to=None, itype="get", timeout=10.0):
        """Sends an iq and returns its answer (Elem)."""
        iid = new_id("iq")
        t = f" to='{xml_escape(to)}'" if to else ""
        self.send(f"<iq type='{itype}' id='{iid}'{t}>{payload}</iq>")
        got, _ = self.recv_until(lambda e: e.name == "iq" and e.get("id") == iid
                                 and e.get("type") in ("result", "error"), timeout)
        return got

    def sync(self):
        """A ping to the server and its answer: what this client sent
        before has been handled by sm."""
        r = self.iq("<ping xmlns='urn:xmpp:ping'/>", to=self.domain)
        assert r.get("type") == "result", r

    def roster(self):
        """{jid: item element} of the roster (a roster get)."""
        r = self.iq(f"<query xmlns='{NS_ROSTER}'/>")
        assert r.get("type") == "result", r
        q = r.child("query")
        return {it.get("jid"): it for it in q if local(it.tag) == "item"}

    def wait_for(self, pred, timeout=10.0):
        """The next element matching pred (others are skipped)."""
        got, _ = self.recv_until(pred, timeout)
        return got

    def wait_message(self, frm=None, body=None, timeout=10.0):
        def pred(e):
            return (e.name == "message" and e.get("type") != "error"
                    and (frm is None or e.get("from") == frm)
                    and (body is None or e.text_of("body") == body))
        return self.wait_for(pred, timeout)

    def wait_presence(self, frm, ptype=None, timeout=10.0):
        """Presence from frm (a full JID, or a bare one matching any
        resource) of type ptype (None: available)."""
        def pred(e):
            f = e.get("from") or ""
            return (e.name == "presence" and e.get("type") == ptype
                    and (f == frm or f.split("/")[0] == frm))
        return self.wait_for(pred, timeout)

    def no_message(self, timeout=1.0):
        """Asserts that no message arrives within timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.poll(0.05):
                assert e.name != "message", f"{self.label}: unexpected {e!r}"

