# SPDX-License-Identifier: MIT
"""Components on other hosts attach over direct TLS; with client-ca set,
only a certificate from that CA gets in. Certificates are made for the
test with certtool (gnutls-bin): see the pki fixture in conftest.py."""
import ssl

import pytest

from conftest import RawComponent, client_context, exchange, message, stream_error

@pytest.fixture
def tls_router(start_router, pki):
    return start_router(tls={"cert": pki["router.pem"], "key": pki["router.key"],
                             "client_ca": pki["ca.pem"]})


def test_tls_component_with_client_certificate(tls_router, pki):
    router = tls_router
    ctx = client_context(pki, pki["client.pem"], pki["client.key"])
    c1 = router.attach("comp1.localhost", via="tls", context=ctx)
    assert c1.sock.version() in ("TLSv1.2", "TLSv1.3")
    # The router proved it is "localhost" by the test CA.
    assert dict(x[0] for x in c1.sock.getpeercert()["subject"])["commonName"] == "localhost"
    c2 = router.attach("comp2.localhost", via="tcp")
    exchange(c1, "a@comp1.localhost", c2, "b@comp2.localhost")
    # Bulk both ways over TLS, split across records.
    body = "t" * 50000
    c2.send(message("b@comp2.localhost", "a@comp1.localhost", body, "big"))
    got = c1.recv()
    assert got.get("id") == "big" and got.text_of("body") == body
    assert "client certificates required" in router.log_text()


def attempt(router, ctx, **kw):
    """Tries to attach comp1 over TLS. Returns how it failed, or 'attached'."""
    try:
        c = router.connect("tls", label="tls-attempt", context=ctx, **kw)
    except (ssl.SSLError, ConnectionError, OSError) as e:
        return f"handshake failed: {e!r}"
    try:
        c.open_stream("comp1.localhost")
        reply = c.handshake("secret-one")
    except AssertionError as e:     # StreamClosed or RecvTimeout
        return f"closed: {e}"
    except (ssl.SSLError, ConnectionError, OSError) as e:
        return f"failed after the TLS handshake: {e!r}"
    if reply.is_("handshake") and len(reply.el) == 0:
        return "attached"
    return f"refused: {reply!r}"


@pytest.mark.parametrize("who", ["rogue certificate", "no certificate"])
def test_tls_without_a_certificate_from_the_ca_is_refused(tls_router, pki, who):
    router = tls_router
    if who == "rogue certificate":
        ctx = client_context(pki, pki["rogue.pem"], pki["rogue.key"])
    else:
        ctx = client_context(pki)
    outcome = attempt(router, ctx)
    print(outcome)
    # Refused at the TLS level: the router never even sent its stream header.
    assert outcome.startswith(("handshake failed", "failed after the TLS handshake",
                               "closed: tls-attempt: closed before the stream header")), outcome
    router.wait_for_log(r"TLS failed|certificate")
    # The router is fine and still takes good clients.
    good = client_context(pki, pki["client.pem"], pki["client.key"])
    assert attempt(router, good) == "attached"


def test_tls_client_checks_the_router_name(tls_router, pki):
    router = tls_router
    ctx = client_context(pki, pki["client.pem"], pki["client.key"])
    with pytest.raises(ssl.SSLCertVerificationError) as exc:
        RawComponent.tls(router.tls_port, ctx, server_hostname="xmpp.example.net")
    assert "match" in str(exc.value) or "mismatch" in str(exc.value).lower(), exc.value
    # The certificate names 127.0.0.1 too.
    c = RawComponent.tls(router.tls_port, ctx, server_hostname="127.0.0.1")
    c.attach("comp1.localhost", "secret-one")
    c.close()
    # A client that does not trust the test CA refuses the router.
    untrusting = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    untrusting.load_default_certs()
    untrusting.load_cert_chain(pki["client.pem"], pki["client.key"])
    with pytest.raises(ssl.SSLCertVerificationError):
        RawComponent.tls(router.tls_port, untrusting, server_hostname="localhost")


def test_tls_listener_without_client_ca_takes_any_client(start_router, pki):
    router = start_router(tls={"cert": pki["router.pem"], "key": pki["router.key"]})
    c1 = router.attach("comp1.localhost", via="tls", context=client_context(pki))
    c2 = router.attach("comp2.localhost", via="unix")
    exchange(c1, "a@comp1.localhost", c2, "b@comp2.localhost")
    # Plain XEP-0114 rules still apply over TLS.
    c = router.connect("tls", context=client_context(pki))
    c.open_stream("comp2.localhost")
    assert stream_error(c.handshake("wrong")) == "not-authorized"
