# SPDX-License-Identifier: MIT
"""A client can never address the suite's internal services (DESIGN.md:
store, sm, c2s and the router are reached by service or instance name in
envelopes between components): stanzas a logged-in client sends to those
names, through the real c2s and sm, get a stanza error (RFC 6120 §8.3:
service-unavailable, or forbidden / not-allowed) and the store never acts on
them, not even on a request in its own namespace addressed to the server.
(test_sm.py's test_unknown_iq_is_service_unavailable checks an iq get to
'store' at sm only, with the test playing c2s.)"""
import os

import pytest

from conftest import stanza_error, xml_escape
from suite_harness import C2sDef, XmppClient, start_full_suite, suite_cert  # noqa: F401
from test_c2s import scram_cred

ALICE = "alice@localhost"
NS_STORE = "urn:xmppd:store"
REFUSED = {"service-unavailable", "forbidden", "not-allowed"}
INTERNAL = ["store", "store/1", "STORE", "router", "sm", "sm/1", "c2s", "c2s/a",
            "xmppdctl", "localhost/store", "store@localhost"]


def account_create(user, password):
    creds = "".join(scram_cred(m, password, os.urandom(16))
                    for m in ("SCRAM-SHA-1", "SCRAM-SHA-256"))
    return f"<account-create xmlns='{NS_STORE}' user='{xml_escape(user)}'>{creds}</account-create>"


def suite_with_alice(start_full_suite):
    s = start_full_suite(c2s=[C2sDef("a", {"auth-failure-delay": "50ms"})])
    s.adduser(ALICE, "alice-pw")
    return s, s.client("a", ALICE, "alice-pw", "desk")


def can_log_in(s, user, password):
    """One PLAIN attempt on a new connection: True on success."""
    c = XmppClient.connect(s.c2s["a"].tls_port, s.cafile, label=f"probe {user}")
    s.clients.append(c)
    try:
        c.open_client_stream()
        return c.auth_plain(user, password).name == "success"
    finally:
        c.close()


@pytest.mark.time_limit(40)
def test_iqs_to_internal_names_are_refused_and_not_acted_on(start_full_suite):
    """An iq set with a store account-create (and one with account-delete
    of alice herself) to each internal name comes back as an error; no
    account was made and alice's still works."""
    s, alice = suite_with_alice(start_full_suite)
    for n, to in enumerate(INTERNAL):
        for payload in (account_create(f"mallory{n}@localhost", "mallory-pw"),
                        f"<account-delete xmlns='{NS_STORE}' user='{ALICE}'/>"):
            r = alice.iq(payload, to=to, itype="set")
            assert r.get("type") == "error", f"to={to}: {r!r}"
            err = stanza_error(r)
            assert err and err[1] in REFUSED, f"to={to}: {r!r}"
    # the server itself does not take store requests either
    r = alice.iq(account_create("mallory@localhost", "mallory-pw"), to="localhost",
                 itype="set")
    assert r.get("type") == "error" and stanza_error(r)[1] == "service-unavailable", r
    alice.sync()
    for n in range(len(INTERNAL)):
        assert not can_log_in(s, f"mallory{n}@localhost", "mallory-pw")
    assert not can_log_in(s, "mallory@localhost", "mallory-pw")
    assert can_log_in(s, ALICE, "alice-pw")


@pytest.mark.time_limit(40)
@pytest.mark.parametrize("to", ["store", "router", "sm/1"])
def test_messages_to_internal_names_bounce(start_full_suite, to):
    """A message to an internal name is bounced to its sender with an
    error (never delivered, never silently dropped)."""
    _, alice = suite_with_alice(start_full_suite)
    mid = alice.message(to, "hello service")
    err = alice.wait_for(lambda e: e.name == "message" and e.get("id") == mid)
    assert err.get("type") == "error" and err.get("from") == to, err
    assert stanza_error(err)[1] in REFUSED, err


@pytest.mark.time_limit(40)
def test_an_envelope_from_a_client_ends_its_stream(start_full_suite):
    """A client that sends a component envelope (<route/> to the store,
    posing as sm) gets unsupported-stanza-type; nothing reaches the store."""
    s, alice = suite_with_alice(start_full_suite)
    alice.send(f"<route xmlns='urn:xmppd:route' to='store' from='sm/1' "
               f"key='mallory@localhost'><iq xmlns='jabber:component:accept' type='set' "
               f"id='evil'>{account_create('mallory@localhost', 'mallory-pw')}</iq></route>")
    assert alice.recv_stream_error() == "unsupported-stanza-type"
    assert not can_log_in(s, "mallory@localhost", "mallory-pw")
