# SPDX-License-Identifier: MIT
"""Quiet client connections give back their XML parser and buffers
(c2s/quiet.c); the next bytes from them build a new parser that goes on
with the same stream, namespaces and all."""
import time

import pytest

from suite_harness import C2sDef, start_full_suite, suite_cert  # noqa: F401

ALICE, BOB = "alice@localhost", "bob@localhost"


@pytest.mark.time_limit(60)
def test_quiet_connections_rest_and_wake_up_working(start_full_suite):
    s = start_full_suite(c2s=[C2sDef("a")])
    s.adduser(ALICE, "alice-pw")
    s.adduser(BOB, "bob-pw")
    alice = s.client("a", ALICE, "alice-pw", "desk")
    bob = s.client("a", BOB, "bob-pw", "phone")
    log = s.procs["c2s-a"].log_text
    deadline = time.monotonic() + 15
    while "quiet connection(s) gave back their parsers" not in log():
        assert time.monotonic() < deadline, log()[-3000:]
        time.sleep(0.2)
    # A stanza split across the wake-up, with a prefix the header did not
    # declare (declared on the element itself) and an escaped body.
    alice.send(f"<message to='{BOB}' id='q1' type='chat'><body>after &amp; a ")
    time.sleep(0.3)
    alice.send("rest</body><x:y xmlns:x='urn:example:x'/></message>")
    got = bob.wait_message(frm=alice.full, body="after & a rest")
    assert got.el.find("{urn:example:x}y") is not None, got
    bob.message(ALICE, "back")
    alice.wait_message(frm=bob.full, body="back")
    # Both rest again, and a whitespace keepalive alone wakes nobody up wrong.
    n = log().count("gave back their parsers")
    deadline = time.monotonic() + 15
    while log().count("gave back their parsers") == n:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    alice.send(" ")
    pong = alice.iq("<ping xmlns='urn:xmpp:ping'/>", to="localhost")
    assert pong.get("type") == "result", pong
