# SPDX-License-Identifier: MIT
"""xmppd-store on PostgreSQL with JIDs under a collation that is not
bytewise (ICU, as a cluster made with a language locale has): roster-get
must give every item its own groups whatever order the database sorts JIDs
in. Runs on the suite of test_store.py, PostgreSQL only."""
import pytest

from conftest import pg_sql
from test_store import S, q, suite  # noqa: F401 (suite is the fixture used)


@pytest.fixture
def driver():
    return "postgresql"


@pytest.mark.time_limit(120)
def test_roster_groups_stay_with_their_items_under_icu_collation(suite):
    _, _, c = suite()
    cluster, name = suite.procs["pg"]
    u = "juliet@localhost"
    c.ok(u, S("roster-get", u))                 # the schema is in place
    if not pg_sql(cluster, name, "SELECT 1 FROM pg_collation WHERE collname = 'en-x-icu'"):
        pytest.skip("this PostgreSQL has no ICU collations")
    for table in ("roster", "roster_groups"):
        pg_sql(cluster, name,
               f'ALTER TABLE {table} ALTER COLUMN jid TYPE TEXT COLLATE "en-x-icu"')
    # ICU sorts "éa" before "f"; byte order puts "f" first.
    c.ok(u, S("roster-set", u, "<item jid='éa@localhost' subscription='none'/>"), "set")
    c.ok(u, S("roster-set", u, "<item jid='f@localhost' subscription='both'>"
                               "<group>Friends</group></item>"), "set")
    c.ok(u, S("roster-set", u, "<item jid='zed@localhost' subscription='to'>"
                               "<group>A</group><group>B</group></item>"), "set")
    roster = c.ok(u, S("roster-get", u))
    groups = {i.get("jid"): sorted(g.text for g in i.findall(q("group"))) for i in roster}
    assert groups == {"éa@localhost": [], "f@localhost": ["Friends"],
                      "zed@localhost": ["A", "B"]}
