# SPDX-License-Identifier: MIT
"""Hostile peers: each abuse ends with the right stream error and a closed
connection, promptly, without hurting the router; two honest components
keep exchanging messages through all of it."""
import time

import pytest

from conftest import NS_STREAM, exchange, message, stream_error, stream_header

LIMITS = {
    "max-stanza-bytes": "64k",
    "max-depth": "16",
    "max-attrs": "20",
    "handshake-timeout": "2s",
    "max-connections-per-address": "5",
}
HEADER = stream_header("comp3.localhost")


class Honest:
    """Two components that must keep working: one over TCP (so that it
    counts towards the per-address limit), one over the Unix socket."""

    def __init__(self, router):
        self.router = router
        self.a = router.attach("comp1.localhost", via="tcp")
        self.b = router.attach("comp2.localhost", via="unix")

    def check(self):
        self.router.assert_alive()
        exchange(self.a, "a@comp1.localhost", self.b, "b@comp2.localhost")


@pytest.fixture
def abused(start_router):
    router = start_router(limits=LIMITS)
    honest = Honest(router)
    honest.check()
    return router, honest


def expect_stream_error(conn, conditions, timeout=5.0):
    """The connection gets a stream error with one of conditions, then ends."""
    err, _ = conn.recv_until(lambda e: e.is_("error", NS_STREAM), timeout)
    cond = stream_error(err)
    assert cond in conditions, err
    conn.wait_closed(timeout)
    return cond


def send_until_answer(conn, data, chunk=4096):
    """Sends data in chunks, stopping early once the router answers or
    closes, so that little is left unread in its socket when it closes."""
    for off in range(0, len(data), chunk):
        if not conn.send_quietly(data[off:off + chunk]):
            return
        if conn.answered():
            return


def attached_abuser(router):
    return router.attach("comp3.localhost", label="abuser")


# --- malformed input -------------------------------------------------------------

def test_garbage_before_the_header(abused):
    router, honest = abused
    c = router.connect(label="garbage")
    c.send(b"GET / HTTP/1.1\r\n\x01\x02 <<<>>> &&& \xc3\x28\r\n\r\n")
    expect_stream_error(c, {"not-well-formed", "bad-format"})
    honest.check()


def test_garbage_after_the_handshake(abused):
    router, honest = abused
    c = attached_abuser(router)
    c.send("<message from='a@comp3.localhost' to='b@comp2.localhost'><body>x</body>"
           "<<<&&& </message>")
    expect_stream_error(c, {"not-well-formed", "bad-format"})
    honest.check()
    # Its route went with it.
    honest.a.send(message("a@comp1.localhost", "x@comp3.localhost", mid="after-garbage"))
    reply = honest.a.recv()
    assert reply.get("type") == "error" and reply.get("id") == "after-garbage", reply


def test_mismatched_end_tag(abused):
    router, honest = abused
    c = attached_abuser(router)
    c.send("<message from='a@comp3.localhost' to='b@comp2.localhost'><body>x</bodyy></message>")
    expect_stream_error(c, {"not-well-formed", "bad-format"})
    honest.check()


def test_billion_laughs_is_refused_promptly(abused):
    router, honest = abused
    rss_before = router.rss_kb()
    entities = ['<!ENTITY lol0 "lol">']
    for i in range(1, 12):
        entities.append(f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">')
    doc = ("<?xml version='1.0'?><!DOCTYPE stream:stream [" + "".join(entities) + "]>"
           + HEADER.decode().split("?>", 1)[1] + "<handshake>&lol11;</handshake>")
    c = router.connect(label="laughs")
    started = time.monotonic()
    c.send_quietly(doc)
    expect_stream_error(c, {"restricted-xml"}, timeout=5)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"took {elapsed:.1f} s"
    honest.check()
    rss_after = router.rss_kb()
    assert rss_after - rss_before < 20 * 1024, f"VmRSS grew from {rss_before} to {rss_after} kB"


def test_entity_inside_a_stanza_is_refused(abused):
    router, honest = abused
    c = attached_abuser(router)
    c.send("<message from='a@comp3.localhost' to='b@comp2.localhost'><body>&xxe;</body></message>")
    expect_stream_error(c, {"restricted-xml", "not-well-formed"})
    honest.check()


@pytest.mark.parametrize("what", ["comment", "comment-in-stanza", "pi", "pi-in-stanza",
                                  "doctype-after-handshake"])
def test_restricted_xml(abused, what):
    router, honest = abused
    c = attached_abuser(router)
    payload = {
        "comment": "<!-- a comment -->",
        "comment-in-stanza": "<message from='a@comp3.localhost' to='b@comp2.localhost'>"
                             "<!-- hidden --><body>x</body></message>",
        "pi": "<?xml-stylesheet href='x'?>",
        "pi-in-stanza": "<message from='a@comp3.localhost' to='b@comp2.localhost'>"
                        "<?pi data?><body>x</body></message>",
        "doctype-after-handshake": "<!DOCTYPE x>",
    }[what]
    c.send(payload)
    expect_stream_error(c, {"restricted-xml"} if what != "doctype-after-handshake"
                        else {"restricted-xml", "not-well-formed"})
    honest.check()
    # Nothing of it reached comp2.
    honest.b.assert_silent(0.1)


def test_comment_before_the_header(abused):
    router, honest = abused
    c = router.connect(label="comment-first")
    c.send(b"<?xml version='1.0'?><!-- hello -->" + HEADER.split(b"?>", 1)[1])
    expect_stream_error(c, {"restricted-xml"})
    honest.check()


# --- limits -------------------------------------------------------------------------

def test_oversized_stanza_is_policy_violation(abused):
    router, honest = abused
    c = attached_abuser(router)
    # One that fits is fine.
    ok = message("a@comp3.localhost", "b@comp2.localhost", "z" * 60000, mid="big-ok")
    c.send(ok)
    got = honest.b.recv()
    assert got.get("id") == "big-ok" and len(got.raw) == len(ok), got
    big = message("a@comp3.localhost", "b@comp2.localhost", "z" * 100 * 1024, mid="too-big")
    send_until_answer(c, big.encode())
    expect_stream_error(c, {"policy-violation"})
    honest.check()
    honest.b.assert_silent(0.1)


def test_too_deep_nesting_is_policy_violation(abused):
    router, honest = abused
    c = attached_abuser(router)

    def nested(depth, mid):
        inner = "<x>" * depth + "</x>" * depth
        return message("a@comp3.localhost", "b@comp2.localhost", "deep", mid,
                       extra=f"<q xmlns='urn:deep'>{inner}</q>")
    c.send(nested(10, "deep-ok"))
    assert honest.b.recv().get("id") == "deep-ok"
    c.send(nested(40, "deep-bad"))
    expect_stream_error(c, {"policy-violation"})
    honest.check()
    honest.b.assert_silent(0.1)


def test_too_many_attributes_is_policy_violation(abused):
    router, honest = abused
    c = attached_abuser(router)
    attrs = " ".join(f"a{i}='{i}'" for i in range(200))
    c.send(f"<message from='a@comp3.localhost' to='b@comp2.localhost' {attrs}/>")
    expect_stream_error(c, {"policy-violation"})
    honest.check()


@pytest.mark.time_limit(30)
def test_slow_loris_header_times_out(abused):
    router, honest = abused
    c = router.connect(label="loris")
    started = time.monotonic()
    got = None
    i = 0
    while got is None:
        elapsed = time.monotonic() - started
        assert elapsed < 6, "no stream error 6 s into a 2 s handshake timeout"
        if i < len(HEADER) and not c.eof:
            c.send_quietly(HEADER[i:i + 1])
            i += 1
        # While the loris hangs on, everyone else is served.
        if i == 2:
            honest.check()
        got = c.try_recv(0.5)
    elapsed = time.monotonic() - started
    assert stream_error(got) == "connection-timeout", got
    assert 1.5 <= elapsed <= 4.0, f"timed out after {elapsed:.1f} s, configured 2 s"
    assert i < len(HEADER), "the header was complete"
    c.wait_closed(5)
    honest.check()


def test_no_handshake_times_out(abused):
    router, honest = abused
    c = router.connect(label="silent")
    started = time.monotonic()
    c.open_stream("comp3.localhost")
    assert c.recv_stream_error(timeout=6) == "connection-timeout"
    elapsed = time.monotonic() - started
    assert 1.5 <= elapsed <= 4.0, f"timed out after {elapsed:.1f} s, configured 2 s"
    c.wait_closed(5)
    honest.check()


def test_connections_over_the_per_address_limit(abused):
    router, honest = abused
    # The honest TCP component holds one of the five; four more may attach
    # or just open a stream.
    extra = [router.attach("comp3.localhost"), router.attach("comp4.localhost"),
             router.connect(label="idle1"), router.connect(label="idle2")]
    for c in extra[2:]:
        c.open_stream("shard.localhost")
    over = router.connect(label="over")
    over.send_quietly(HEADER)
    expect_stream_error(over, {"policy-violation"})
    router.wait_for_log(r"over the limit of 5")
    for c in extra[:2]:
        assert not c.eof
    honest.check()
    # The Unix listener keeps its own count.
    router.attach("shard.localhost", via="unix")
    # Once one leaves, a new connection is welcome again.
    extra[2].abort()
    deadline = time.monotonic() + 5
    while True:
        c = router.connect(label="again")
        c.open_stream("comp3.localhost")
        refused = c.try_recv(0.3)
        if refused is None:
            break
        assert stream_error(refused) == "policy-violation", refused
        c.abort()
        assert time.monotonic() < deadline, "the freed slot never became available"
    reply = c.handshake("secret-three")
    assert reply.is_("handshake"), reply
    honest.check()
