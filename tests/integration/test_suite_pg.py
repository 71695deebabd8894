# SPDX-License-Identifier: MIT
"""The whole suite on PostgreSQL: router, store (driver postgresql, on the
throwaway cluster of conftest.py's pg_cluster), sm and c2s, with accounts
made by xmppdctl adduser, and the flow of test_suite_e2e.py: login, roster
add and subscription, presence, chat, and a message to an offline user
stored and delivered with a delay stamp at the next login. Raw clients check
the XML; unmodified slixmpp clients (e2e_chat.py) check that real clients
get the same. The rows are then read back from PostgreSQL with psql, which
shows the store really used that database."""
import itertools
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import pg_createdb, pg_sql
from suite_harness import NS_DELAY, C2sDef, start_full_suite, suite_cert  # noqa: F401

HERE = Path(__file__).resolve().parent
ALICE, BOB = "alice@localhost", "bob@localhost"
PW = {ALICE: "alice-pw", BOB: "bob-pw"}
_dbs = itertools.count(1)


@pytest.fixture
def pg_suite(pg_cluster, start_full_suite):
    """The suite on a fresh PostgreSQL database, with alice and bob:
    (suite, cluster folder, database name)."""
    db = f"xmppd_suite_{next(_dbs)}_{os.getpid()}"
    pg_createdb(pg_cluster, db)
    # slixmpp tries SCRAM-*-PLUS first and fails them (it offers only
    # tls-unique, which TLS 1.3 lacks): short failure delays keep that quick.
    s = start_full_suite(
        c2s=[C2sDef("a", {"auth-failure-delay": "50ms"})],
        database_xml=(f"<database driver='postgresql' conninfo='host={pg_cluster} "
                      f"dbname={db} user=postgres'/>"))
    for user, pw in PW.items():
        s.adduser(user, pw)
    return s, pg_cluster, db


def rows(cluster, db, sql):
    return [ln.split("|") for ln in pg_sql(cluster, db, sql).splitlines() if ln]


@pytest.mark.time_limit(60)
def test_raw_clients_roster_presence_chat_and_offline_on_postgresql(pg_suite):
    """Alice adds bob to her roster (a push, then the result), they
    subscribe to each other, see each other's presence and chat; bob logs
    off, alice writes, and bob gets it with a delay stamp when he is back.
    The accounts, the roster and the (emptied) offline queue are in
    PostgreSQL."""
    s, cluster, db = pg_suite
    alice = s.client("a", ALICE, PW[ALICE], "desk")
    bob = s.client("a", BOB, PW[BOB], "phone")
    assert alice.roster() == {} and bob.roster() == {}
    r = alice.iq(f"<query xmlns='jabber:iq:roster'><item jid='{BOB}' name='Bob'>"
                 "<group>Friends</group></item></query>", itype="set")
    assert r.get("type") == "result", r
    # subscriptions both ways
    for src, src_bare, dst, dst_bare in ((alice, ALICE, bob, BOB), (bob, BOB, alice, ALICE)):
        src.send(f"<presence to='{dst_bare}' type='subscribe'/>")
        dst.wait_presence(src_bare, "subscribe")
        dst.send(f"<presence to='{src_bare}' type='subscribed'/>")
        src.wait_presence(dst_bare, "subscribed")
        src.wait_presence(dst.full)
    items = alice.roster()
    assert set(items) == {BOB} and items[BOB].get("subscription") == "both", items
    assert items[BOB].get("name") == "Bob", items
    # chat
    alice.message(BOB, "hello bob")
    m = bob.wait_message(body="hello bob")
    assert m.get("from") == alice.full and m.el.find(f"{{{NS_DELAY}}}delay") is None, m
    bob.message(ALICE, "hi alice")
    assert alice.wait_message(body="hi alice").get("from") == bob.full
    # bob logs off: alice hears it, and her message waits for him
    bob.close()
    alice.wait_presence(BOB + "/phone", "unavailable")
    alice.message(BOB, "while you were away")
    alice.no_message(0.5)       # no error: stored
    assert rows(cluster, db, "SELECT username FROM offline") == [[BOB]]
    bob = s.client("a", BOB, PW[BOB], "phone")
    m = bob.wait_message(body="while you were away")
    delay = m.el.find(f"{{{NS_DELAY}}}delay")
    assert m.get("from") == alice.full and delay is not None, m
    assert delay.get("from") == "localhost" and delay.get("stamp", "").endswith("Z"), m
    # what PostgreSQL holds
    assert sorted(rows(cluster, db, "SELECT username FROM accounts")) == [[ALICE], [BOB]]
    assert sorted(rows(cluster, db, "SELECT username, jid, subscription FROM roster")) == [
        [ALICE, BOB, "both"], [BOB, ALICE, "both"]]
    assert rows(cluster, db, "SELECT username, jid, grp FROM roster_groups") == [
        [ALICE, BOB, "Friends"]]
    assert rows(cluster, db, "SELECT count(*) FROM offline") == [["0"]]


def e2e_chat(suite, scenario):
    """test_suite_e2e.py's slixmpp clients (e2e_chat.py) on c2s/a."""
    r = subprocess.run(["/usr/bin/python3", str(HERE / "e2e_chat.py"),
                        str(suite.c2s["a"].port), suite.cafile, scenario],
                       capture_output=True, text=True, timeout=60)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    assert lines, r.stdout + r.stderr
    return json.loads(lines[-1])


@pytest.mark.time_limit(90)
def test_slixmpp_chat_and_offline_on_postgresql(pg_suite):
    """Unmodified slixmpp clients (STARTTLS, SCRAM) chat, and a message to
    offline bob reaches him at his login with a delay stamp."""
    s, cluster, db = pg_suite
    got = e2e_chat(s, "chat")
    assert got["alice_login"] and got["bob_login"], got
    assert got["bob_got"] == {"from": "alice@localhost/desk", "body": "hello bob",
                              "delayed": False}, got
    got = e2e_chat(s, "offline")
    assert got["alice_login"] and got["bob_login"], got
    assert got["bob_got"] == {"from": "alice@localhost/desk", "body": "while you were away",
                              "delayed": True}, got
    assert rows(cluster, db, "SELECT count(*) FROM offline") == [["0"]]
    assert "started with the postgresql driver" in s.procs["store"].log_text()
