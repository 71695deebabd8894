# SPDX-License-Identifier: MIT
"""xmppd-store (docs/store-protocol.md) with the real router and the real
store, over both drivers: SQLite (a file under the state directory) and
PostgreSQL (a throwaway cluster on a Unix socket, run as the postgres user:
the pg_cluster fixture of conftest.py).

A raw xmppd component attached as instance sm/1 asks the store with iq
stanzas in envelopes and checks the XML answers."""
import itertools
import os
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import (BUILD_DIR, NS_ACCEPT, NS_STANZA_ERRORS, NS_XMPPD_ROUTE,
                      NS_XMPPD_ROUTER, ComponentDef, Router, default_components,
                      local, pg_createdb, pg_sql, xml_escape)

STORE_BIN = BUILD_DIR / "bin" / "xmppd-store"
NS = "urn:xmppd:store"
STORE_SECRET = "secret-store"

_ids = itertools.count(1)


# ---------------------------------------------------------------------------
# The suite: router + store
# ---------------------------------------------------------------------------

class StoreRouter(Router):
    """A router whose config file also holds a <store> section."""

    def __init__(self, workdir, database_xml, **kw):
        comps = default_components() + [
            ComponentDef("store", STORE_SECRET, domain=False, allow=[("service", "store")])]
        super().__init__(workdir, comps, **kw)
        self.database_xml = database_xml

    def config_text(self):
        text = super().config_text()
        section = ("  <store>\n    <connect unix='router.sock' name='store' "
                   "instance='store/1'/>\n    " + self.database_xml + "\n  </store>\n")
        return text.replace("</xmppd>\n", section + "</xmppd>\n")


class Store:
    """One xmppd-store process."""

    def __init__(self, router):
        self.router = router
        self.log_path = router.dir / "store.log"
        self.proc = None
        self._log = None

    def start(self):
        if not STORE_BIN.exists():
            pytest.fail(f"{STORE_BIN} does not exist: build it first")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(STORE_BIN), "-c", str(self.router.config_path)],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=str(self.router.dir))
        return self

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        """SIGTERM by PID; returns the exit status (SIGKILL after 10 s)."""
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
        self._close_log()
        return code

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._close_log()

    def _close_log(self):
        if self._log:
            self._log.close()
            self._log = None


class Client:
    """A raw xmppd component (instance sm/1) that asks the store."""

    def __init__(self, comp):
        self.c = comp

    def wait_store(self, timeout=15.0):
        """Until the router says store/1 has bound the service store."""
        self.c.recv_until(lambda e: e.is_("route", NS_XMPPD_ROUTE) and any(
            local(ev.tag) == "event" and ev.get("type") == "bind"
            and ev.get("instance") == "store/1" and ev.get("name") == "store"
            for ev in e.el), timeout)

    def send(self, user, inner, iq_type="get", key=None):
        """Sends one request; returns its iq id."""
        iid = f"s{next(_ids)}"
        key = user if key is None else key
        self.c.send(f"<route xmlns='{NS_XMPPD_ROUTE}' to='store' from='sm/1' "
                    f"key='{xml_escape(key)}'><iq xmlns='{NS_ACCEPT}' type='{iq_type}' "
                    f"id='{iid}'>{inner}</iq></route>")
        return iid

    def recv_answer(self, timeout=10.0):
        """The next answer envelope: (envelope Elem, iq element)."""
        e, _ = self.c.recv_until(lambda e: e.is_("route", NS_XMPPD_ROUTE)
                                 and e.get("from") == "store/1", timeout)
        iq = e.el[0]
        return e, iq

    def ask(self, user, inner, iq_type="get", timeout=10.0):
        """Sends a request and returns the answer's iq element."""
        iid = self.send(user, inner, iq_type)
        env, iq = self.recv_answer(timeout)
        assert iq.get("id") == iid, f"answer out of order: {env!r}"
        assert env.get("to") == "sm/1" and env.get("key") == user, env
        assert local(iq.tag) == "iq" and iq.tag.startswith("{" + NS_ACCEPT), env
        return iq

    def ok(self, user, inner, iq_type="get"):
        iq = self.ask(user, inner, iq_type)
        assert iq.get("type") == "result", ET.tostring(iq)
        return iq[0] if len(iq) else None

    def err(self, user, inner, iq_type="get"):
        iq = self.ask(user, inner, iq_type)
        assert iq.get("type") == "error", ET.tostring(iq)
        err = iq.find("error")
        if err is None:
            err = iq.find(f"{{{NS_ACCEPT}}}error")
        assert err is not None, ET.tostring(iq)
        conds = [local(c.tag) for c in err if c.tag.startswith("{" + NS_STANZA_ERRORS)
                 and local(c.tag) != "text"]
        return conds[0]


def q(tag):
    return f"{{{NS}}}{tag}"


@pytest.fixture(params=["sqlite", "postgresql"])
def driver(request):
    return request.param


@pytest.fixture
def suite(driver, tmp_path, request):
    """start() gives (router, store, client) on the chosen driver; every
    process is stopped by PID at the end and must exit 0 on SIGTERM."""
    procs = {"router": None, "stores": []}
    if driver == "sqlite":
        db_xml = "<database driver='sqlite' file='xmppd.db'/>"
    else:
        cluster = request.getfixturevalue("pg_cluster")
        name = f"xmppd_{next(_ids)}_{os.getpid()}"
        pg_createdb(cluster, name)
        db_xml = (f"<database driver='postgresql' conninfo='host={cluster} "
                  f"dbname={name} user=postgres'/>")
        procs["pg"] = (cluster, name)

    def start():
        r = StoreRouter(tmp_path / "suite", db_xml)
        procs["router"] = r
        r.start()
        s = Store(r).start()
        procs["stores"].append(s)
        comp = r.attach("sm", "secret-sm", via="unix")
        reply = comp.bind(instance="sm/1")
        assert reply.get("type") != "error", reply
        c = Client(comp)
        c.wait_store()
        return r, s, c

    start.procs = procs
    yield start
    problems = []
    for s in procs["stores"]:
        died = s.proc is not None and s.proc.poll() is not None
        code = s.stop()
        if died and code not in (0, -signal.SIGKILL):
            problems.append(f"xmppd-store had exited with {code}:\n{s.log_text()[-4000:]}")
        elif not died and code != 0:
            problems.append(f"xmppd-store exited with {code!r} on SIGTERM:\n"
                            f"{s.log_text()[-4000:]}")
    if procs["router"]:
        code = procs["router"].stop()
        if code != 0:
            problems.append(f"xmppd-router exited with {code!r}")
    failed = getattr(request.node, "rep_call", None)
    if (failed is not None and failed.failed) and procs["stores"]:
        print("--- store log ---\n" + procs["stores"][-1].log_text()[-6000:])
    if problems:
        pytest.fail("\n".join(problems))


def new_store(router, procs):
    s = Store(router).start()
    procs["stores"].append(s)
    return s


SCRAM1 = ("<scram mech='SCRAM-SHA-1' iterations='4096' salt='c2FsdA==' "
          "stored-key='c3RvcmVk' server-key='c2VydmVy'/>")
SCRAM256 = ("<scram mech='SCRAM-SHA-256' iterations='8192' salt='c2FsdDI=' "
            "stored-key='c3RvcmVkMg==' server-key='c2VydmVyMg=='/>")


def S(tag, user=None, body="", **attrs):
    """A request element in the store's namespace."""
    a = f" user='{xml_escape(user)}'" if user is not None else ""
    a += "".join(f" {k.replace('_', '-')}='{xml_escape(str(v))}'" for k, v in attrs.items())
    if body:
        return f"<{tag} xmlns='{NS}'{a}>{body}</{tag}>"
    return f"<{tag} xmlns='{NS}'{a}/>"


# ---------------------------------------------------------------------------
# Every request of the protocol
# ---------------------------------------------------------------------------

@pytest.mark.time_limit(120)
def test_accounts_and_credentials(suite):
    _, _, c = suite()
    u = "juliet@localhost"
    assert c.ok(u, S("account-create", u, SCRAM1 + SCRAM256), "set") is None
    assert c.err(u, S("account-create", u, SCRAM1), "set") == "conflict"
    acc = c.ok(u, S("account-get", u))
    assert acc.tag == q("account") and acc.get("user") == u
    assert acc.get("created", "").endswith("Z") and "T" in acc.get("created")
    scrams = {s.get("mech"): s.attrib for s in acc.findall(q("scram"))}
    assert scrams["SCRAM-SHA-1"] == {"mech": "SCRAM-SHA-1", "iterations": "4096",
                                     "salt": "c2FsdA==", "stored-key": "c3RvcmVk",
                                     "server-key": "c2VydmVy"}
    assert scrams["SCRAM-SHA-256"]["iterations"] == "8192"
    # set-credentials replaces all of them
    assert c.ok(u, S("account-set-credentials", u, SCRAM256), "set") is None
    acc = c.ok(u, S("account-get", u))
    assert [s.get("mech") for s in acc.findall(q("scram"))] == ["SCRAM-SHA-256"]
    other = "romeo@localhost"
    assert c.err(other, S("account-get", other)) == "item-not-found"
    assert c.err(other, S("account-set-credentials", other, SCRAM1), "set") == "item-not-found"
    assert c.err(other, S("account-delete", other), "set") == "item-not-found"
    assert c.ok(other, S("account-create", other, SCRAM1), "set") is None
    c.ok("x@elsewhere.example", S("account-create", "x@elsewhere.example", SCRAM1), "set")
    lst = c.ok("localhost", S("account-list", domain="localhost"))
    assert lst.tag == q("accounts")
    assert [a.get("user") for a in lst] == [u, other]
    assert all(a.get("created") for a in lst)
    # delete removes every row of the user
    c.ok(u, S("roster-set", u, "<item jid='nurse@localhost' subscription='both'/>"), "set")
    c.ok(u, S("offline-store", u, "<message to='juliet@localhost'><body>x</body></message>"),
         "set")
    c.ok(u, S("vcard-set", u, "<vCard xmlns='vcard-temp'><FN>J</FN></vCard>"), "set")
    c.ok(u, S("blocklist-add", u, "<item jid='tybalt@localhost'/>"), "set")
    assert c.ok(u, S("account-delete", u), "set") is None
    assert c.err(u, S("account-get", u)) == "item-not-found"
    assert len(c.ok(u, S("roster-get", u))) == 0
    assert c.ok(u, S("offline-count", u)).get("count") == "0"
    assert c.ok(u, S("vcard-get", u)).tag == q("vcard")
    assert len(c.ok(u, S("vcard-get", u))) == 0
    assert len(c.ok(u, S("blocklist-get", u))) == 0
    lst = c.ok("localhost", S("account-list", domain="localhost"))
    assert [a.get("user") for a in lst] == [other]


@pytest.mark.time_limit(120)
def test_roster_with_versions(suite):
    _, _, c = suite()
    u = "juliet@localhost"
    r = c.ok(u, S("roster-get", u))
    assert r.tag == q("roster") and r.get("ver") == "0" and len(r) == 0
    r1 = c.ok(u, S("roster-set", u, "<item jid='romeo@localhost' name='Romeo' "
                   "subscription='both'><group>Friends</group><group>Lovers</group></item>"),
              "set")
    assert r1.tag == q("roster") and len(r1) == 0
    v1 = int(r1.get("ver"))
    r2 = c.ok(u, S("roster-set", u, "<item jid='nurse@localhost' subscription='none' "
                   "ask='subscribe' approved='true'/>"), "set")
    v2 = int(r2.get("ver"))
    assert v2 > v1
    full = c.ok(u, S("roster-get", u))
    assert int(full.get("ver")) == v2 and full.get("unchanged") is None
    items = {i.get("jid"): i for i in full}
    assert set(items) == {"romeo@localhost", "nurse@localhost"}
    romeo = items["romeo@localhost"]
    assert romeo.get("name") == "Romeo" and romeo.get("subscription") == "both"
    assert romeo.get("ask") is None
    assert sorted(g.text for g in romeo.findall(q("group"))) == ["Friends", "Lovers"]
    nurse = items["nurse@localhost"]
    assert nurse.get("ask") == "subscribe" and nurse.get("approved") == "true"
    assert nurse.get("name") is None and len(nurse) == 0
    # the current version: unchanged
    same = c.ok(u, S("roster-get", u, ver=v2))
    assert same.get("unchanged") == "true" and int(same.get("ver")) == v2 and len(same) == 0
    # an old version: everything
    assert len(c.ok(u, S("roster-get", u, ver=v1))) == 2
    # replace an item
    r3 = c.ok(u, S("roster-set", u, "<item jid='romeo@localhost' subscription='to'>"
                   "<group>Montague</group></item>"), "set")
    assert int(r3.get("ver")) > v2
    romeo = [i for i in c.ok(u, S("roster-get", u)) if i.get("jid") == "romeo@localhost"][0]
    assert romeo.get("subscription") == "to" and romeo.get("name") is None
    assert [g.text for g in romeo.findall(q("group"))] == ["Montague"]
    r4 = c.ok(u, S("roster-remove", u, jid="nurse@localhost"), "set")
    assert int(r4.get("ver")) > int(r3.get("ver"))
    assert [i.get("jid") for i in c.ok(u, S("roster-get", u))] == ["romeo@localhost"]
    assert c.err(u, S("roster-remove", u, jid="nurse@localhost"), "set") == "item-not-found"
    # another user's roster is separate
    assert len(c.ok("romeo@localhost", S("roster-get", "romeo@localhost"))) == 0


@pytest.mark.time_limit(120)
def test_offline_queue_with_quota(suite):
    _, _, c = suite()
    u = "juliet@localhost"
    # Kept for accounts only (RFC 6121 §8.5.2.2.1: no account, no storage).
    assert c.err(u, S("offline-store", u, "<message/>", max=0), "set") == "resource-constraint"
    c.ok(u, S("account-create", u, SCRAM1), "set")
    stanzas = [f"<message xmlns='jabber:client' from='romeo@localhost/x' to='{u}' "
               f"id='m{i}'><body>hello &amp; {i} \u2764</body></message>" for i in range(3)]
    ids = []
    for s in stanzas:
        r = c.ok(u, S("offline-store", u, s, max=3), "set")
        assert r.tag == q("offline")
        ids.append(int(r.get("id")))
    assert ids == sorted(ids)
    assert c.err(u, S("offline-store", u, stanzas[0], max=3), "set") == "resource-constraint"
    assert c.ok(u, S("offline-count", u)).get("count") == "3"
    # max 0: no quota
    r = c.ok(u, S("offline-store", u, "<message to='x@y'/>", max=0), "set")
    ids.append(int(r.get("id")))
    got = c.ok(u, S("offline-get", u))
    assert [int(i.get("id")) for i in got] == ids
    assert all(i.get("stamp", "").endswith("Z") for i in got)
    # the exact bytes received
    iid = c.send(u, S("offline-get", u))
    env, iq = c.recv_answer()
    assert iq.get("id") == iid
    for s in stanzas:
        assert s.encode() in env.raw, (s, env.raw)
    assert c.ok(u, S("offline-delete", u, upto=ids[1]), "set") is None
    assert [int(i.get("id")) for i in c.ok(u, S("offline-get", u))] == ids[2:]
    assert c.ok(u, S("offline-count", u)).get("count") == "2"
    c.ok(u, S("offline-delete", u, upto=ids[-1]), "set")
    empty = c.ok(u, S("offline-get", u))
    assert empty.tag == q("offline") and len(empty) == 0


@pytest.mark.time_limit(120)
def test_private_vcard_and_block_list(suite):
    _, _, c = suite()
    u = "juliet@localhost"
    empty = c.ok(u, S("private-get", u, name="storage", ns="storage:bookmarks"))
    assert empty.tag == q("private") and len(empty) == 0
    bm = ("<storage xmlns='storage:bookmarks'><conference jid='r@conference.localhost' "
          "autojoin='true' name='R &amp; J'/></storage>")
    assert c.ok(u, S("private-set", u, bm), "set") is None
    other = "<storage xmlns='storage:rosternotes'><note jid='a@b'>n</note></storage>"
    c.ok(u, S("private-set", u, other), "set")
    iid = c.send(u, S("private-get", u, name="storage", ns="storage:bookmarks"))
    env, iq = c.recv_answer()
    assert iq.get("id") == iid and bm.encode() in env.raw and b"rosternotes" not in env.raw
    got = iq[0][0]
    assert got.tag == "{storage:bookmarks}storage" and got[0].get("name") == "R & J"
    bm2 = "<storage xmlns='storage:bookmarks'/>"
    c.ok(u, S("private-set", u, bm2), "set")
    iid = c.send(u, S("private-get", u, name="storage", ns="storage:bookmarks"))
    env, iq = c.recv_answer()
    assert bm2.encode() in env.raw and b"autojoin" not in env.raw

    assert len(c.ok(u, S("vcard-get", u))) == 0
    vc = "<vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN><NICKNAME>jc</NICKNAME></vCard>"
    assert c.ok(u, S("vcard-set", u, vc), "set") is None
    iid = c.send(u, S("vcard-get", u))
    env, iq = c.recv_answer()
    assert vc.encode() in env.raw
    assert iq[0].tag == q("vcard") and iq[0][0].find("{vcard-temp}FN").text == "Juliet Capulet"

    bl = c.ok(u, S("blocklist-get", u))
    assert bl.tag == q("blocklist") and len(bl) == 0
    c.ok(u, S("blocklist-add", u, "<item jid='tybalt@localhost'/><item jid='paris@localhost'/>"
              "<item jid='spam.example'/>"), "set")
    c.ok(u, S("blocklist-add", u, "<item jid='tybalt@localhost'/>"), "set")  # again: fine
    assert sorted(i.get("jid") for i in c.ok(u, S("blocklist-get", u))) == \
        ["paris@localhost", "spam.example", "tybalt@localhost"]
    c.ok(u, S("blocklist-remove", u, "<item jid='paris@localhost'/>"), "set")
    assert sorted(i.get("jid") for i in c.ok(u, S("blocklist-get", u))) == \
        ["spam.example", "tybalt@localhost"]
    c.ok(u, S("blocklist-remove", u), "set")          # none: all
    assert len(c.ok(u, S("blocklist-get", u))) == 0


@pytest.mark.time_limit(120)
def test_malformed_requests_are_refused(suite):
    _, s, c = suite()
    u = "juliet@localhost"
    cases = [
        (S("roster-get"), "get", "bad-request"),                          # no user
        (S("roster-get", "Juliet@localhost"), "get", "jid-malformed"),    # not normalized
        (S("roster-get", "localhost"), "get", "jid-malformed"),           # no local part
        (S("roster-get", "juliet@localhost/balcony"), "get", "jid-malformed"),
        (S("roster-get", "ju liet@@x"), "get", "jid-malformed"),
        (S("roster-get", u), "set", "bad-request"),                        # wrong type
        (S("account-create", u), "set", "bad-request"),                    # no scram
        (S("account-create", u, "<scram mech='SCRAM-SHA-1' iterations='x' salt='a' "
           "stored-key='b' server-key='c'/>"), "set", "bad-request"),
        (S("account-create", u, "<scram mech='SCRAM-SHA-1' iterations='1' salt='!!' "
           "stored-key='b' server-key='c'/>"), "set", "bad-request"),
        (S("roster-set", u), "set", "bad-request"),                        # no item
        (S("roster-set", u, "<item jid='a@b'/><item jid='c@d'/>"), "set", "bad-request"),
        (S("roster-set", u, "<item jid='a@b' subscription='maybe'/>"), "set", "bad-request"),
        (S("roster-set", u, "<item jid='@@'/>"), "set", "jid-malformed"),
        (S("roster-remove", u), "set", "jid-malformed"),
        (S("offline-store", u), "set", "bad-request"),                    # no stanza
        (S("offline-store", u, "<message/>", max="lots"), "set", "bad-request"),
        (S("offline-delete", u), "set", "bad-request"),
        (S("private-get", u, name="storage"), "get", "bad-request"),
        (S("private-set", u), "set", "bad-request"),
        (S("private-set", u, "<a xmlns='x'/><b xmlns='y'/>"), "set", "bad-request"),
        (S("vcard-set", u), "set", "bad-request"),
        (S("blocklist-add", u), "set", "bad-request"),
        (S("blocklist-add", u, "<item/>"), "set", "jid-malformed"),
        (S("account-list"), "get", "bad-request"),
        (S("no-such-request", u), "get", "feature-not-implemented"),
        (f"<query xmlns='jabber:iq:roster'/>", "get", "feature-not-implemented"),
        ("", "get", "bad-request"),
    ]
    for inner, t, cond in cases:
        assert c.err(u, inner, t) == cond, inner
    # nothing of that was stored, and the store is still fine
    assert len(c.ok(u, S("roster-get", u))) == 0
    assert s.proc.poll() is None
    # an iq error carries a <text/> saying why
    iq = c.ask(u, S("roster-get", "Juliet@localhost"))
    text = iq.find(f"{{{NS_ACCEPT}}}error/{{{NS_STANZA_ERRORS}}}text")
    assert text is not None and "normalized" in text.text


# ---------------------------------------------------------------------------
# Order, concurrency, restarts
# ---------------------------------------------------------------------------

@pytest.mark.time_limit(120)
def test_requests_for_one_user_are_answered_in_order(suite):
    _, _, c = suite()
    u = "juliet@localhost"
    sent = []
    for i in range(60):
        if i % 7 == 3:
            sent.append(c.send(u, S("roster-set", u), "set"))     # refused at once
        elif i % 5 == 0:
            sent.append(c.send(u, S("roster-get", u)))
        else:
            sent.append(c.send(u, S("roster-set", u, f"<item jid='f{i}@localhost'/>"), "set"))
    got, vers = [], []
    for _ in sent:
        env, iq = c.recv_answer()
        got.append(iq.get("id"))
        if iq.get("type") == "result" and len(iq) and iq[0].get("ver") and len(iq[0]) == 0:
            vers.append(int(iq[0].get("ver")))
    assert got == sent
    assert vers == sorted(vers) and len(set(vers)) == len(vers)


@pytest.mark.time_limit(180)
def test_many_users_at_once_all_complete(suite):
    _, _, c = suite()
    users = [f"user{i}@localhost" for i in range(200)]
    sent = {}
    for u in users:
        sent[c.send(u, S("account-create", u, SCRAM1), "set")] = u
        sent[c.send(u, S("offline-store", u, f"<message to='{u}'><body>{u}</body></message>"),
                    "set")] = u
        sent[c.send(u, S("offline-count", u))] = u
    answers = {}
    deadline = time.monotonic() + 60
    while len(answers) < len(sent) and time.monotonic() < deadline:
        env, iq = c.recv_answer(timeout=30)
        answers[iq.get("id")] = (env, iq)
    assert set(answers) == set(sent)
    for iid, (env, iq) in answers.items():
        assert iq.get("type") == "result", env
        assert env.get("key") == sent[iid]
        if len(iq) and iq[0].get("count") is not None:
            assert iq[0].get("count") == "1", env


@pytest.mark.time_limit(180)
def test_data_survives_restart_and_sigkill(suite):
    r, s, c = suite()
    u = "juliet@localhost"
    c.ok(u, S("account-create", u, SCRAM1), "set")
    c.ok(u, S("vcard-set", u, "<vCard xmlns='vcard-temp'><FN>J</FN></vCard>"), "set")
    assert s.stop() == 0                                  # a clean stop
    s2 = new_store(r, suite.procs)
    c.wait_store()
    assert c.ok(u, S("account-get", u)).get("user") == u
    # everything answered before a SIGKILL is still there afterwards
    for i in range(50):
        c.send(u, S("offline-store", u, f"<message id='k{i}'/>"), "set")
    for i in range(50):
        env, iq = c.recv_answer()
        assert iq.get("type") == "result", env
    s2.proc.send_signal(signal.SIGKILL)
    s2.proc.wait(5)
    new_store(r, suite.procs)
    c.wait_store()
    assert c.ok(u, S("offline-count", u)).get("count") == "50"
    assert c.ok(u, S("account-get", u)).get("user") == u
    assert len(c.ok(u, S("vcard-get", u))) == 1


@pytest.mark.time_limit(120)
def test_schema_is_versioned(suite, driver):
    r, s, c = suite()
    u = "juliet@localhost"
    c.ok(u, S("vcard-set", u, "<vCard xmlns='vcard-temp'/>"), "set")
    if driver == "sqlite":
        import sqlite3
        db = sqlite3.connect(str(r.state_dir / "xmppd.db"))
        assert db.execute("SELECT max(version), count(*) FROM schema_version").fetchone() == (2, 2)
        db.close()
    else:
        cluster, name = suite.procs["pg"]
        assert pg_sql(cluster, name, "SELECT max(version), count(*) FROM schema_version") \
            .strip() == "2|2"
    # a second start runs no migration again
    assert s.stop() == 0
    new_store(r, suite.procs)
    c.wait_store()
    assert len(c.ok(u, S("vcard-get", u))) == 1


@pytest.mark.time_limit(120)
def test_postgresql_connection_loss_is_survived(suite, driver):
    if driver != "postgresql":
        pytest.skip("PostgreSQL only")
    r, s, c = suite()
    cluster, name = suite.procs["pg"]
    u = "juliet@localhost"
    c.ok(u, S("vcard-set", u, "<vCard xmlns='vcard-temp'/>"), "set")
    pg_sql(cluster, "postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
           f"WHERE datname = '{name}'")
    # the store reconnects and answers what came meanwhile
    deadline = time.monotonic() + 20
    while True:
        iq = c.ask(u, S("vcard-get", u), timeout=15)
        if iq.get("type") == "result":
            break
        assert time.monotonic() < deadline, ET.tostring(iq)
        time.sleep(0.2)
    assert len(iq[0]) == 1
    assert s.proc.poll() is None


def test_check_config_reports_errors_with_file_and_line(tmp_path):
    if not STORE_BIN.exists():
        pytest.fail(f"{STORE_BIN} does not exist: build it first")
    path = tmp_path / "xmppd.xml"
    good = ("<xmppd>\n<state-dir>state</state-dir>\n"
            "<router><component name='store' secret='s'/></router>\n"
            "<store>\n<connect unix='router.sock'/>\n{db}\n</store>\n</xmppd>\n")
    cases = [
        ("<database driver='sqlite' file='x.db'/>", 0, ""),
        ("<database driver='postgresql' conninfo='dbname=x'/>", 0, ""),
        ("<database driver='mysql'/>", 1, ':6: store: driver "mysql" is not sqlite or postgresql'),
        ("<database driver='postgresql'/>", 1, ":6: store: <database> needs attribute conninfo"),
        ("<database driver='sqlite' fiel='x'/>", 1, ':6: store: <database> has unknown attribute "fiel"'),
    ]
    for db, code, message in cases:
        path.write_text(good.format(db=db))
        r = subprocess.run([str(STORE_BIN), "-c", str(path), "--check-config"],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == code, (db, r.stderr)
        assert message in r.stderr, (db, r.stderr)
    path.write_text(good.format(db="").replace("<connect unix='router.sock'/>", ""))
    r = subprocess.run([str(STORE_BIN), "-c", str(path), "--check-config"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and ":4: store: <store> needs a <connect> element" in r.stderr, \
        r.stderr


@pytest.mark.time_limit(120)
def test_database_failure_is_internal_server_error(suite, driver):
    r, s, c = suite()
    u = "juliet@localhost"
    c.ok(u, S("vcard-set", u, "<vCard xmlns='vcard-temp'/>"), "set")
    if driver == "sqlite":
        import sqlite3
        db = sqlite3.connect(str(r.state_dir / "xmppd.db"))
        db.execute("DROP TABLE vcard")
        db.commit()
        db.close()
    else:
        cluster, name = suite.procs["pg"]
        pg_sql(cluster, name, "DROP TABLE vcard")
    iq = c.ask(u, S("vcard-get", u))
    assert iq.get("type") == "error"
    err = iq.find(f"{{{NS_ACCEPT}}}error")
    assert err.get("type") == "cancel"
    assert err.find(f"{{{NS_STANZA_ERRORS}}}internal-server-error") is not None
    assert "vcard" in err.find(f"{{{NS_STANZA_ERRORS}}}text").text
    # the rest still works, and so does SIGHUP
    assert c.ok(u, S("offline-count", u)).get("count") == "0"
    s.proc.send_signal(signal.SIGHUP)
    assert c.ok(u, S("offline-count", u)).get("count") == "0"
    assert s.proc.poll() is None
    assert "log reopened" in s.log_text()
