# SPDX-License-Identifier: MIT
"""c2s when the sm holding its sessions goes away (docs/session-protocol.md,
"Failures"): it keeps the client streams and asks the service sm to start
each session again (resume='true'); while no sm is there the client stays
connected and its stanzas are answered with service-unavailable (wait); an
sm that refuses the restart makes c2s close the stream with <reset/>
(RFC 6120 §4.9.3.16), telling the client to reconnect. Real router, store,
sm and c2s; after the real sm is killed the test plays the next sm.
(test_failover.py checks the restart that succeeds, with the real sm.)"""

import pytest

from conftest import NS_XMPPD_ROUTE, local, stanza_error, stream_error
from suite_harness import C2sDef, start_full_suite, suite_cert  # noqa: F401

ALICE = "alice@localhost"
NS_SESSION = "urn:xmppd:session"


def session_cmd(e):
    """The <session/> of an envelope, or None."""
    if e.is_("route", NS_XMPPD_ROUTE) and len(e.el) and local(e.el[0].tag) == "session":
        return e.el[0]
    return None


def attach_sm(s, instance):
    """A raw component that binds instance and the service sm."""
    sm = s.router.attach("sm", via="unix", label=instance)
    assert sm.bind(instance=instance).get("type") != "error"
    assert sm.bind(kind="service", name="sm").get("type") != "error"
    return sm


@pytest.mark.time_limit(40)
def test_refused_resume_resets_the_stream(start_full_suite):
    """sm is killed: alice stays connected, a message of hers comes back
    service-unavailable (wait). The next sm gets start resume='true' for
    her session and refuses it: her stream ends with <reset/>, and c2s
    sends that sm nothing more for the session."""
    s = start_full_suite(c2s=[C2sDef("a")])
    s.adduser(ALICE, "alice-pw")
    alice = s.client("a", ALICE, "alice-pw", "desk")
    s.kill("sm")
    s.router.wait_for_report(lambda t: " instance sm/1 " not in t, 10, "sm/1 detached")
    mid = alice.message("bob@localhost", "while sm is down")
    err = alice.wait_for(lambda e: e.name == "message" and e.get("id") == mid)
    assert err.get("type") == "error" and stanza_error(err) == ("wait", "service-unavailable"), err
    got = alice.poll(0.5)
    assert not alice.eof and not [e for e in got if stream_error(e)], \
        f"the stream must wait for an sm: {got!r}"
    sm = attach_sm(s, "sm/2")
    env, _ = sm.recv_until(lambda e: session_cmd(e) is not None, 10)
    cmd = session_cmd(env)
    assert cmd.get("action") == "start" and cmd.get("resume") == "true", env
    assert cmd.get("jid") == alice.full and env.get("key") == ALICE, env
    assert env.get("to") == "sm", env
    sm.send(f"<route xmlns='{NS_XMPPD_ROUTE}' to='{env.get('from')}' from='sm/2' "
            f"key='{ALICE}'><session xmlns='{NS_SESSION}' action='refused' "
            f"condition='not-allowed' jid='{alice.full}'/></route>")
    assert alice.recv_stream_error(10) == "reset"
    alice.wait_closed(5)
    leftovers = [e for e in sm.poll(0.5) if session_cmd(e) is not None]
    assert leftovers == [], leftovers
    assert "stream reset" in s.c2s["a"].proc.log_text()


@pytest.mark.time_limit(40)
def test_accepted_resume_resends_presence_to_the_new_sm(start_full_suite):
    """The next sm accepts the restart: c2s re-sends alice's last
    broadcast presence to it, and her stanzas go to that instance from
    then on (stamped with her full JID); the stream stays open."""
    s = start_full_suite(c2s=[C2sDef("a")])
    s.adduser(ALICE, "alice-pw")
    alice = s.client("a", ALICE, "alice-pw", "desk", priority=4)
    s.kill("sm")
    s.router.wait_for_report(lambda t: " instance sm/1 " not in t, 10, "sm/1 detached")
    sm = attach_sm(s, "sm/2")
    env, _ = sm.recv_until(lambda e: session_cmd(e) is not None, 10)
    c2s_inst = env.get("from")
    assert c2s_inst == "c2s/a", env
    sm.send(f"<route xmlns='{NS_XMPPD_ROUTE}' to='{c2s_inst}' from='sm/2' "
            f"key='{ALICE}'><session xmlns='{NS_SESSION}' action='started' "
            f"jid='{alice.full}'/></route>")
    pres, _ = sm.recv_until(lambda e: e.is_("route", NS_XMPPD_ROUTE) and len(e.el)
                            and local(e.el[0].tag) == "presence", 10)
    assert pres.get("to") == "sm/2" and pres.el[0].get("from") == alice.full, pres
    assert [c.text for c in pres.el[0] if local(c.tag) == "priority"] == ["4"], pres
    mid = alice.message("bob@localhost", "after the restart")
    msg, _ = sm.recv_until(lambda e: e.is_("route", NS_XMPPD_ROUTE) and len(e.el)
                           and e.el[0].get("id") == mid, 10)
    assert msg.get("to") == "sm/2" and msg.el[0].get("from") == alice.full, msg
    assert not alice.eof and stanza_error(alice.try_recv(0.3)) is None
