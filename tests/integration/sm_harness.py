# SPDX-License-Identifier: MIT
"""A suite of real xmppd-router, xmppd-store (SQLite) and xmppd-sm for the
sm tests, and a raw component that plays c2s exactly as
docs/session-protocol.md says (instance c2s/test, service c2s)."""
import itertools
import signal
import subprocess
import time

import pytest

from conftest import (BUILD_DIR, NS_XMPPD_ROUTE, NS_XMPPD_ROUTER, ComponentDef, Router,
                      local, nsof, xml_escape)

SM_BIN = BUILD_DIR / "bin" / "xmppd-sm"
STORE_BIN = BUILD_DIR / "bin" / "xmppd-store"
NS_CLIENT = "jabber:client"
NS_SESSION = "urn:xmppd:session"
_ids = itertools.count(1)


class SmRouter(Router):
    """A router whose config also holds the <store> and <sm> sections."""

    def __init__(self, workdir, offline_max=1000):
        comps = [
            ComponentDef("store", "secret-store", domain=False, allow=[("service", "store")]),
            ComponentDef("sm", "secret-sm", domain=False,
                         allow=[("service", "sm"), ("domain", "*")]),
            ComponentDef("c2s", "secret-c2s", domain=False, allow=[("service", "c2s")]),
            ComponentDef("comp1.localhost", "secret-one"),
        ]
        super().__init__(workdir, comps)
        self.offline_max = offline_max

    def config_text(self):
        text = super().config_text()
        extra = ("  <store>\n    <connect unix='router.sock' name='store'/>\n"
                 "    <database driver='sqlite' file='xmppd.db'/>\n  </store>\n"
                 "  <sm>\n    <connect unix='router.sock' name='sm' instance='sm/1'/>\n"
                 f"    <offline max='{self.offline_max}'/>\n  </sm>\n")
        return text.replace("</xmppd>\n", extra + "</xmppd>\n")


class Proc:
    def __init__(self, binary, router, name):
        self.log_path = router.dir / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(binary), "-c", str(router.config_path)],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=str(router.dir))

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        code = self.proc.poll()
        if code is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                code = "killed after SIGTERM timed out"
        self._log.close()
        return code


class C2S:
    """Plays c2s: session commands and client stanzas in envelopes."""

    def __init__(self, comp, instance="c2s/test"):
        self.c = comp
        self.instance = instance
        self.sm_instance = None

    def wait_ready(self, timeout=15.0):
        seen = set()

        def ready(e):
            if e.is_("route", NS_XMPPD_ROUTE):
                for ev in e.el:
                    if local(ev.tag) == "event" and ev.get("type") == "bind":
                        seen.add(ev.get("name"))
            return {"store", "sm"} <= seen
        self.c.recv_until(ready, timeout)

    def envelope(self, inner, key, to=None):
        self.c.send(f"<route xmlns='{NS_XMPPD_ROUTE}' to='{to or self.sm_instance or 'sm'}' "
                    f"from='{self.instance}' key='{xml_escape(key)}'>{inner}</route>")

    def start(self, full, expect="started"):
        bare = full.split("/")[0]
        self.envelope(f"<session xmlns='{NS_SESSION}' action='start' "
                      f"jid='{xml_escape(full)}'/>", bare, to="sm")
        env, inner = self.recv(lambda e, i: local(i.tag) == "session"
                               and i.get("jid") == full and i.get("action") != "end")
        assert inner.get("action") == expect, env
        self.sm_instance = env.get("from")
        return env

    def account(self, bare):
        """Creates bare's account in the store (offline messages are kept
        for accounts only); the credentials are of no use here."""
        iid = new_id("acct")
        cred = ("<scram mech='SCRAM-SHA-1' iterations='4096' salt='c2FsdA==' "
                "stored-key='AAAAAAAAAAAAAAAAAAAAAAAAAAA=' server-key='AAAAAAAAAAAAAAAAAAAAAAAAAAA='/>")
        self.c.send(f"<route xmlns='{NS_XMPPD_ROUTE}' to='store' from='{self.instance}' "
                    f"key='{xml_escape(bare)}'><iq xmlns='jabber:component:accept' type='set' "
                    f"id='{iid}'><account-create xmlns='urn:xmppd:store' user='{xml_escape(bare)}'>"
                    f"{cred}</account-create></iq></route>")
        env, inner = self.recv(lambda e, i: local(i.tag) == "iq" and i.get("id") == iid)
        assert inner.get("type") == "result", env

    def end(self, full):
        self.envelope(f"<session xmlns='{NS_SESSION}' action='end' "
                      f"jid='{xml_escape(full)}'/>", full.split("/")[0])

    def send(self, full, stanza):
        """stanza: XML text of a client stanza (without from/xmlns)."""
        name_end = stanza.index(" ") if " " in stanza.split(">")[0] else stanza.index(">")
        if stanza[name_end - 1] == "/":
            name_end -= 1
        stamped = (stanza[:name_end] + f" xmlns='{NS_CLIENT}' from='{xml_escape(full)}'"
                   + stanza[name_end:])
        self.envelope(stamped, full.split("/")[0])

    def recv(self, pred=lambda e, i: True, timeout=8.0):
        """The next envelope from sm whose inner element matches pred:
        (envelope Elem, inner ElementTree element)."""
        def match(e):
            if not e.is_("route", NS_XMPPD_ROUTE) or e.get("from") == "router":
                return False
            return len(e.el) == 1 and pred(e, e.el[0])
        env, _ = self.c.recv_until(match, timeout)
        return env, env.el[0]

    def recv_stanza(self, to, name=None, pred=lambda i: True, timeout=8.0):
        """The next stanza for full JID to (inner element)."""
        def match(e, i):
            return (i.get("to") == to and (name is None or local(i.tag) == name)
                    and nsof(i.tag) == NS_CLIENT and pred(i))
        return self.recv(match, timeout)[1]

    def quiet(self, pred, timeout=0.5):
        """Asserts no envelope matching pred arrives within timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.c.poll(0.05):
                if (e.is_("route", NS_XMPPD_ROUTE) and len(e.el) == 1 and pred(e.el[0])):
                    raise AssertionError(f"unexpected {e!r}")


def new_id(prefix="i"):
    return f"{prefix}{next(_ids)}"


@pytest.fixture
def sm_suite(tmp_path, request):
    """start() gives (router, c2s helper) with store and sm running; every
    process is stopped by PID at the end and must exit 0 on SIGTERM."""
    state = {"router": None, "procs": []}

    def start(offline_max=1000):
        if not SM_BIN.exists() or not STORE_BIN.exists():
            pytest.fail(f"{SM_BIN} or {STORE_BIN} missing: build first")
        r = SmRouter(tmp_path / "suite", offline_max)
        state["router"] = r
        r.start()
        comp = r.attach("c2s", "secret-c2s", via="unix")
        assert comp.bind(instance="c2s/test").get("type") != "error"
        assert comp.bind(kind="service", name="c2s").get("type") != "error"
        state["procs"].append(Proc(STORE_BIN, r, "store"))
        state["procs"].append(Proc(SM_BIN, r, "sm"))
        c = C2S(comp)
        c.wait_ready()
        return r, c

    start.state = state
    yield start
    problems = []
    failed = getattr(request.node, "rep_call", None)
    failed = failed is not None and failed.failed
    for p in reversed(state["procs"]):
        code = p.stop()
        if failed or code != 0:
            print(f"--- {p.log_path.name} ---\n{p.log_text()[-8000:]}")
        if code != 0:
            problems.append(f"{p.log_path.name}: exited with {code!r}")
    if state["router"]:
        code = state["router"].stop()
        if code != 0:
            problems.append(f"router exited with {code!r}")
    if problems:
        pytest.fail("\n".join(problems))
