# SPDX-License-Identifier: MIT
"""Several xmppd-c2s instances at once (DESIGN.md, "ISPs run ... several c2s
on several hosts"): two c2s processes with their own config files and ports
(instances c2s/a and c2s/b of the service c2s) on one router, with one sm
and one store; raw clients over direct TLS on each."""
import pytest

from suite_harness import NS_DELAY, C2sDef, start_full_suite, suite_cert  # noqa: F401

ALICE, BOB = "alice@localhost", "bob@localhost"
PW = {ALICE: "alice-pw", BOB: "bob-pw"}


def two_c2s_suite(start_full_suite):
    s = start_full_suite(c2s=[C2sDef("a"), C2sDef("b")])
    for user, pw in PW.items():
        s.adduser(user, pw)
    return s


def befriend(a, a_bare, b, b_bare):
    """a subscribes to b and b approves, and the other way round, so that
    each hears the other's presence; returns when both have seen it."""
    for src, src_bare, dst, dst_bare in ((a, a_bare, b, b_bare), (b, b_bare, a, a_bare)):
        src.send(f"<presence to='{dst_bare}' type='subscribe'/>")
        dst.wait_presence(src_bare, "subscribe")
        dst.send(f"<presence to='{src_bare}' type='subscribed'/>")
        src.wait_presence(dst_bare, "subscribed")
        src.wait_presence(dst.full)             # dst's current presence follows


@pytest.mark.time_limit(40)
def test_users_on_two_c2s_exchange_messages_and_presence(start_full_suite):
    """Alice on c2s/a and bob on c2s/b see each other's presence and
    messages both ways, stamped with the sender's full JID."""
    s = two_c2s_suite(start_full_suite)
    alice = s.client("a", ALICE, PW[ALICE], "desk")
    bob = s.client("b", BOB, PW[BOB], "phone")
    alice.roster()
    bob.roster()
    befriend(alice, ALICE, bob, BOB)
    # presence changes cross the c2s boundary both ways
    bob.send("<presence><show>away</show></presence>")
    p = alice.wait_presence(bob.full)
    assert p.text_of("show") == "away", p
    alice.send("<presence><show>dnd</show></presence>")
    p = bob.wait_presence(alice.full)
    assert p.text_of("show") == "dnd", p
    # messages both ways, to the bare and to the full JID
    alice.message(BOB, "hello from a")
    m = bob.wait_message(body="hello from a")
    assert m.get("from") == alice.full and m.get("to") == bob.full, m
    bob.message(alice.full, "hello from b")
    m = alice.wait_message(body="hello from b")
    assert m.get("from") == bob.full and m.get("to") == alice.full, m
    # the log of each c2s shows only its own client
    assert "alice@localhost/desk" in s.c2s["a"].proc.log_text()
    assert "alice@localhost/desk" not in s.c2s["b"].proc.log_text()


@pytest.mark.time_limit(40)
def test_one_user_on_both_c2s_gets_bare_messages_on_both(start_full_suite):
    """Bob has a resource on each c2s with the same priority: a message to
    his bare JID reaches both (RFC 6121 §8.5.2.1.1 lets a server deliver to
    all resources of the highest non-negative priority); with a higher
    priority on c2s/b only that one gets the next."""
    s = two_c2s_suite(start_full_suite)
    alice = s.client("a", ALICE, PW[ALICE], "desk")
    bob_a = s.client("a", BOB, PW[BOB], "laptop", priority=5)
    bob_b = s.client("b", BOB, PW[BOB], "phone", priority=5)
    mid = alice.message(BOB, "to both")
    for b in (bob_a, bob_b):
        m = b.wait_message(body="to both")
        assert m.get("id") == mid and m.get("from") == alice.full, m
    bob_b.available(priority=7)
    bob_b.sync()
    alice.message(BOB, "to the phone only")
    m = bob_b.wait_message(body="to the phone only")
    assert m.get("from") == alice.full, m
    bob_a.no_message(1.0)


@pytest.mark.time_limit(40)
def test_killed_c2s_ends_its_sessions_and_the_other_keeps_working(start_full_suite):
    """SIGKILL of c2s/a: sm ends its sessions (bob on c2s/b hears alice's
    unavailable presence), and c2s/b goes on: bob and a new client on
    c2s/b still chat, and a message to alice is kept offline and delivered
    (with a delay stamp) when she logs in again on c2s/b."""
    s = two_c2s_suite(start_full_suite)
    s.adduser("carol@localhost", "carol-pw")
    alice = s.client("a", ALICE, PW[ALICE], "desk")
    bob = s.client("b", BOB, PW[BOB], "phone")
    alice.roster()
    bob.roster()
    befriend(alice, ALICE, bob, BOB)
    s.kill("c2s-a")
    p = bob.wait_presence(alice.full, "unavailable", timeout=15)
    assert p.get("to") in (BOB, bob.full), p
    alice.wait_closed(5)
    # c2s/b keeps working: a new login there, and messages both ways
    carol = s.client("b", "carol@localhost", "carol-pw", "tab")
    carol.message(BOB, "still here?")
    m = bob.wait_message(body="still here?")
    assert m.get("from") == carol.full, m
    bob.message(carol.full, "yes")
    assert carol.wait_message(body="yes").get("from") == bob.full
    # a message to alice now waits offline instead of going to the dead c2s
    bob.message(ALICE, "while c2s/a is gone")
    bob.no_message(1.0)         # no error bounced back
    alice2 = s.client("b", ALICE, PW[ALICE], "desk")
    m = alice2.wait_message(body="while c2s/a is gone")
    assert m.get("from") == bob.full and m.el.find(f"{{{NS_DELAY}}}delay") is not None, m


@pytest.mark.time_limit(40)
def test_bare_message_follows_priority_across_c2s_and_logoff(start_full_suite):
    """The issue's example through the real c2s instances: alice's
    resources with priorities 2, 1, 3 and 10 (spread over c2s/a and c2s/b);
    a message to her bare JID goes to the priority-10 resource only; once
    that one has logged off (closed its stream), the priority-3 one gets the
    next. (test_sm.py checks the same rule at sm with unavailable presence
    instead of a log-off.)"""
    s = two_c2s_suite(start_full_suite)
    res = {}
    for name, prio, c2s in (("r2", 2, "a"), ("r1", 1, "b"), ("r3", 3, "b"), ("r10", 10, "a")):
        res[prio] = s.client(c2s, ALICE, PW[ALICE], name, priority=prio)
    bob = s.client("b", BOB, PW[BOB], "phone")
    bob.message(ALICE, "one")
    m = res[10].wait_message(body="one")
    assert m.get("from") == bob.full and m.get("to") == ALICE + "/r10", m
    res[10].close()
    # sm tells her other resources that r10 is gone: the session has ended
    res[3].wait_presence(ALICE + "/r10", "unavailable")
    bob.message(ALICE, "two")
    m = res[3].wait_message(body="two")
    assert m.get("to") == ALICE + "/r3", m
    # neither message went anywhere else ("one" would still be queued)
    for prio in (1, 2, 3):
        res[prio].no_message(0.5 if prio == 1 else 0.1)
