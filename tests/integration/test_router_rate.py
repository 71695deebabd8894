# SPDX-License-Identifier: MIT
"""Per-connection byte rate: a component sending faster than rate= is
slowed down to it (after burst=), nothing is lost, and other connections
are not slowed."""
import time

import pytest

from conftest import exchange, message, run_in_thread

RATE = 64 * 1024
BURST = 64 * 1024
N_MESSAGES = 80
BODY = 8 * 1024 - 120        # about 8 KiB a stanza, 640 KiB in all


@pytest.mark.time_limit(40)
def test_rate_limit_throttles_without_loss(start_router):
    router = start_router(limits={"rate": "64k", "burst": "64k"})
    fast = router.attach("comp1.localhost")
    sink = router.attach("comp2.localhost")
    other_a = router.attach("comp3.localhost", via="unix")
    other_b = router.attach("comp4.localhost", via="unix")
    msgs = [message("a@comp1.localhost", "b@comp2.localhost", f"{i:06d}" + "r" * BODY, f"rate{i}")
            for i in range(N_MESSAGES)]
    total = sum(len(m.encode()) for m in msgs)
    expected = (total - BURST) / RATE

    def pump():
        for m in msgs:
            fast.send(m)
    started = time.monotonic()
    join = run_in_thread(pump)
    got = []
    checked_others = False
    while len(got) < N_MESSAGES:
        assert time.monotonic() - started < expected * 2 + 5, \
            f"only {len(got)} of {N_MESSAGES} after {time.monotonic() - started:.1f} s"
        for e in sink.poll(0.2):
            got.append(e)
        # Halfway through, while comp1 is held back, others are not.
        if not checked_others and len(got) > N_MESSAGES // 3:
            t0 = time.monotonic()
            exchange(other_a, "x@comp3.localhost", other_b, "y@comp4.localhost")
            assert time.monotonic() - t0 < 1.0, "an unrelated connection was slowed down"
            checked_others = True
    elapsed = time.monotonic() - started
    join()
    print(f"\n{total} bytes at {RATE} bytes/s after a {BURST}-byte burst: {elapsed:.1f} s "
          f"(at least {expected:.1f} s expected)")
    assert [e.get("id") for e in got] == [f"rate{i}" for i in range(N_MESSAGES)]
    assert all(e.raw == m.encode() for e, m in zip(got, msgs))
    assert checked_others
    assert elapsed >= expected - 1.0, f"{total} bytes took only {elapsed:.1f} s"
    assert elapsed <= expected * 1.5 + 2, f"{total} bytes took {elapsed:.1f} s"
    assert "pausing reading" in router.log_text()
    sink.assert_silent(0.1)
