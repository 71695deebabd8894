# SPDX-License-Identifier: MIT
"""Floods at xmppd-c2s with the real router, sm and store: a client that
sends far faster than its byte rate is slowed down (reads paused) and loses
nothing, and a flood of failed logins from one address is answered more and
more slowly, also across connections, without slowing other addresses.

(Too many connections from one address is test_c2s.py's
test_connections_per_address_are_limited; too many failures on one stream
is its test_too_many_auth_failures_is_policy_violation.)"""
import socket
import ssl
import time

import pytest

from conftest import run_in_thread
from suite_harness import C2sDef, XmppClient, start_full_suite, suite_cert  # noqa: F401

ALICE, BOB = "alice@localhost", "bob@localhost"
RATE = 32 * 1024            # bytes per second
BURST = 4 * 1024            # the bucket's size (max-stanza-bytes is 4k too)
READ_BYTES = 65536          # c2s reads up to this much before it takes from the bucket
N_FLOOD = 2000


@pytest.mark.time_limit(60)
def test_message_flood_is_throttled_without_loss(start_full_suite):
    """Alice sends 2000 messages to bob as fast as her socket takes them,
    with rate=32k: they all arrive, in order and intact, and it takes at
    least most of the time the rate allows (reading was paused, see the
    c2s log; unthrottled it takes a fraction of a second), while her stream
    stays open."""
    lim = {"rate": "32k", "burst": "4k", "max-stanza-bytes": "4k"}
    s = start_full_suite(c2s=[C2sDef("a", lim)])
    s.adduser(ALICE, "alice-pw")
    s.adduser(BOB, "bob-pw")
    bob = s.client("a", BOB, "bob-pw", "phone")
    alice = s.client("a", ALICE, "alice-pw", "desk")
    body = "flood " + "x" * 60
    stanzas = [f"<message to='{BOB}' type='chat' id='f{n:04d}'><body>{n:04d} {body}</body>"
               "</message>" for n in range(N_FLOOD)]
    total = sum(len(st) for st in stanzas)
    # c2s pauses reading after a read that overdrew the bucket, so the last
    # read (up to READ_BYTES) is delivered before its debt is paid.
    expected = (total - BURST - READ_BYTES) / RATE

    def pump():
        for st in stanzas:
            alice.send(st)

    started = time.monotonic()
    join = run_in_thread(pump)
    got = []
    while len(got) < N_FLOOD:
        left = expected * 3 + 15 - (time.monotonic() - started)
        assert left > 0, f"only {len(got)} of {N_FLOOD} arrived"
        got.append(bob.wait_message(timeout=left))
    elapsed = time.monotonic() - started
    join(10)
    print(f"\n{N_FLOOD} messages, {total} bytes at {RATE} bytes/s: {elapsed:.1f} s "
          f"(the rate allows no less than {expected:.1f} s)")
    assert [m.get("id") for m in got] == [f"f{n:04d}" for n in range(N_FLOOD)]
    assert all(m.get("from") == alice.full for m in got)
    assert all(m.text_of("body") == f"{n:04d} {body}" for n, m in enumerate(got))
    assert elapsed >= expected * 0.8, f"{total} bytes went through in {elapsed:.1f} s"
    assert "over its byte rate; pausing reads" in s.c2s["a"].proc.log_text()
    alice.sync()                # still logged in
    bob.no_message(0.3)


def auth_timed(port, cafile, user, password, source="127.0.0.1"):
    """One connection from source: one PLAIN attempt. Returns (answer name,
    seconds from <auth/> to the answer)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=20,
                                   source_address=(source, 0))
    ctx = ssl.create_default_context(cafile=cafile)
    c = XmppClient(ctx.wrap_socket(raw, server_hostname="localhost"), f"auth-{source}")
    try:
        c.open_client_stream()
        t0 = time.monotonic()
        answer = c.auth_plain(user, password, timeout=20)
        return answer.name, time.monotonic() - t0
    finally:
        c.close()


@pytest.mark.time_limit(60)
def test_failed_login_flood_is_slowed_per_address(start_full_suite):
    """With auth-failure-delay=200ms, failed logins from 127.0.0.1 on new
    connections are answered later and later (the delay grows with the
    address's recent failures, up to 8 times), while a failure from
    127.0.0.2 gets the first delay only and a good password from the
    flooded address still logs in."""
    delay = 0.200
    lim = {"auth-failure-delay": "200ms", "max-connections-per-address": "100"}
    s = start_full_suite(c2s=[C2sDef("a", lim)])
    s.adduser(ALICE, "alice-pw")
    port, ca = s.c2s["a"].tls_port, s.cafile
    waits = []
    for _ in range(6):
        name, took = auth_timed(port, ca, ALICE, "wrong")
        assert name == "failure", name
        waits.append(took)
    print(f"\nfailure answers after {', '.join(f'{w:.2f}' for w in waits)} s")
    for n, w in enumerate(waits, 1):
        assert w >= n * delay * 0.9, f"failure {n} answered after {w:.2f} s: {waits}"
    # another address is not slowed down by this one's failures
    name, took = auth_timed(port, ca, ALICE, "wrong", source="127.0.0.2")
    assert name == "failure" and delay * 0.9 <= took < 4 * delay, took
    # and the flooded address is slowed, not locked out
    name, took = auth_timed(port, ca, ALICE, "alice-pw")
    assert name == "success", name
    assert "authentication failed (not-authorized)" in s.c2s["a"].proc.log_text()


@pytest.mark.time_limit(60)
def test_parallel_failed_logins_are_all_answered_late(start_full_suite):
    """Ten connections from one address fail at once: every one gets its
    <failure/> (none is dropped or lost), each no sooner than the first
    delay, and the later ones later, as the address's count grows."""
    delay = 0.100
    lim = {"auth-failure-delay": "100ms", "max-connections-per-address": "100"}
    s = start_full_suite(c2s=[C2sDef("a", lim)])
    s.adduser(ALICE, "alice-pw")
    port, ca = s.c2s["a"].tls_port, s.cafile
    joins = [run_in_thread(auth_timed, port, ca, ALICE, "wrong") for _ in range(10)]
    results = [j(30) for j in joins]
    assert [r[0] for r in results] == ["failure"] * 10, results
    waits = sorted(r[1] for r in results)
    print(f"\nparallel failures answered after {', '.join(f'{w:.2f}' for w in waits)} s")
    assert waits[0] >= delay * 0.9, waits
    assert waits[-1] >= 5 * delay, waits
