# SPDX-License-Identifier: MIT
"""Several connections serving the same domain share it by rendezvous
hashing of the bare JID of 'to': every stanza reaches exactly one of them,
one bare JID (whatever its case or resource) always the same one, and when
one leaves only its JIDs move."""
import time

from conftest import message, run_in_thread

N_USERS = 1000
SENDER = "hub@comp1.localhost"


def variant(i, rnd):
    """Round 0 uses a plain resource; later rounds vary the case of the
    local part and the domain, and the resource, of the same bare JID."""
    if rnd == 0:
        return f"u{i}@shard.localhost/r{i % 3}"
    return (f"U{i}@Shard.Localhost/Home",
            f"u{i}@SHARD.LOCALHOST",
            f"u{i}@shard.localhost/r{i}",
            f"u{i}@shard.localhost/a/b/c",
            f"u{i}@shard.localhost",
            f"U{i}@shard.localhost/x")[(i + rnd) % 6]


def send_round(sender, rnd):
    batch = []
    for i in range(N_USERS):
        batch.append(message(SENDER, variant(i, rnd), f"payload {i}", mid=f"r{rnd}-{i}"))
        if len(batch) == 100:
            sender.send("".join(batch))
            batch = []
    if batch:
        sender.send("".join(batch))


def run_round(sender, shards, rnd, timeout=15.0):
    """Sends one message to each user; returns {user index: shard index},
    having checked that each message arrived once, intact. shards may hold
    None for an instance that has gone."""
    join = run_in_thread(send_round, sender, rnd)
    where = {}
    deadline = time.monotonic() + timeout
    while len(where) < N_USERS and time.monotonic() < deadline:
        for si, shard in enumerate(shards):
            if shard is None:
                continue
            for e in shard.poll(0.02):
                mid = e.get("id")
                assert e.is_("message") and mid.startswith(f"r{rnd}-"), e
                i = int(mid.split("-")[1])
                assert i not in where, f"{mid} arrived twice (shards {where[i]} and {si})"
                assert e.get("to") == variant(i, rnd) and e.get("from") == SENDER, e
                assert e.text_of("body") == f"payload {i}", e
                where[i] = si
    join()
    assert len(where) == N_USERS, \
        f"round {rnd}: {N_USERS - len(where)} messages missing, e.g. " \
        f"{sorted(set(range(N_USERS)) - set(where))[:10]}"
    # Duplicates would arrive before a later message to the same shard: send
    # one more to a user known to be on each shard and read up to it.
    for si, shard in enumerate(shards):
        if shard is None:
            continue
        i = next(u for u, s in where.items() if s == si)
        mid = f"sentinel{rnd}-{si}"
        sender.send(message(SENDER, f"u{i}@shard.localhost", "end", mid))
        got = shard.recv(5)
        assert got.get("id") == mid, f"shard {si}: unexpected {got!r}"
    return where


def shares(where, n):
    counts = [0] * n
    for s in where.values():
        counts[s] += 1
    return counts


def test_two_instances_share_a_domain_by_bare_jid(router):
    shards = [router.attach("shard.localhost", label=f"shard{i}") for i in range(2)]
    sender = router.attach("comp1.localhost")
    first = run_round(sender, shards, 0)
    counts = shares(first, 2)
    print(f"messages per instance: {counts}")
    assert min(counts) >= 0.3 * N_USERS, f"uneven split {counts}"
    # Same bare JIDs, other case and resources: same instance, every time.
    for rnd in (1, 2):
        again = run_round(sender, shards, rnd)
        moved = [i for i in range(N_USERS) if again[i] != first[i]]
        assert not moved, f"round {rnd}: {len(moved)} JIDs changed instance, e.g. " \
                          f"{[variant(i, rnd) for i in moved[:5]]}"
    for s in shards:
        s.assert_silent(0.1)


def test_only_the_leaving_instances_jids_move(router):
    shards = [router.attach("shard.localhost", label=f"shard{i}") for i in range(3)]
    sender = router.attach("comp1.localhost")
    before = run_round(sender, shards, 0)
    counts = shares(before, 3)
    print(f"messages per instance with three: {counts}")
    assert min(counts) >= 0.2 * N_USERS, f"uneven split {counts}"

    leaving = 0
    shards[leaving].close()
    router.wait_for_report(lambda t: t.count("domain:shard.localhost") == 2,
                           what="two shard instances left")
    after = run_round(sender, [None, shards[1], shards[2]], 1)
    assert all(s != leaving for s in after.values())
    stayed_wrongly = [i for i in range(N_USERS)
                      if before[i] != leaving and after[i] != before[i]]
    assert not stayed_wrongly, \
        f"{len(stayed_wrongly)} JIDs of the remaining instances moved, e.g. {stayed_wrongly[:5]}"
    orphans = [i for i in range(N_USERS) if before[i] == leaving]
    spread = shares({i: after[i] for i in orphans}, 3)
    print(f"the leaving instance's {len(orphans)} JIDs went to: {spread[1:]}")
    assert min(spread[1:]) >= 0.2 * len(orphans), f"orphans not spread: {spread}"
