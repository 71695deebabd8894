# SPDX-License-Identifier: MIT
"""Third-party components: two slixmpp ComponentXMPP instances, knowing
nothing of xmppd, attach to the router over XEP-0114 and talk to each other."""
import asyncio
import logging

import pytest
from slixmpp import ComponentXMPP
from slixmpp.exceptions import IqError

SCENARIO_TIMEOUT = 20


class Component(ComponentXMPP):
    def __init__(self, name, secret, port, software):
        super().__init__(name, secret, "127.0.0.1", port)
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0092", {"name": software, "version": "1.0"})
        self.started = asyncio.Event()
        self.inbox = asyncio.Queue()
        self.add_event_handler("session_start", lambda _: self.started.set())
        self.add_event_handler("message", self.inbox.put_nowait)


async def scenario(router):
    c1 = Component("comp1.localhost", "secret-one", router.port, "xmppd-test-comp1")
    c2 = Component("comp2.localhost", "secret-two", router.port, "xmppd-test-comp2")
    try:
        c1.connect()
        c2.connect()
        await asyncio.wait_for(asyncio.gather(c1.started.wait(), c2.started.wait()), 10)

        # Messages both ways.
        for src, dst, frm, to, mid in ((c1, c2, "alice@comp1.localhost/x", "bob@comp2.localhost/r", "s1"),
                                       (c2, c1, "bob@comp2.localhost/r", "alice@comp1.localhost/x", "s2")):
            msg = src.make_message(mto=to, mfrom=frm, mbody=f"hello {mid}", mtype="chat")
            msg["id"] = mid
            msg.send()
            got = await asyncio.wait_for(dst.inbox.get(), 5)
            assert got["id"] == mid
            assert got["type"] == "chat"
            assert str(got["from"]) == frm and str(got["to"]) == to
            assert got["body"] == f"hello {mid}"

        # An iq get answered with a result, each way.
        res = await c1["xep_0092"].get_version("comp2.localhost", ifrom="alice@comp1.localhost/x",
                                               timeout=5)
        assert res["type"] == "result"
        assert str(res["from"]) == "comp2.localhost"
        assert str(res["to"]) == "alice@comp1.localhost/x"
        assert res["software_version"]["name"] == "xmppd-test-comp2"
        res = await c2["xep_0030"].get_info(jid="comp1.localhost", ifrom="bob@comp2.localhost",
                                            timeout=5)
        assert res["type"] == "result" and str(res["from"]) == "comp1.localhost"
        assert "jabber:iq:version" in res["disco_info"]["features"]

        # An iq to a configured component that is not attached: the router
        # answers with an error, which slixmpp raises.
        with pytest.raises(IqError) as exc:
            await c1["xep_0092"].get_version("detached.localhost", ifrom="comp1.localhost",
                                             timeout=5)
        iq = exc.value.iq
        assert iq["type"] == "error"
        assert str(iq["from"]) == "detached.localhost"
        # slixmpp's error plugin only knows <error/> in jabber:client, while
        # on a component stream the error element is in the stream's
        # namespace (RFC 6120 section 8.3.2), so the condition is read from
        # the XML.
        cond = iq.xml.find("{jabber:component:accept}error/"
                           "{urn:ietf:params:xml:ns:xmpp-stanzas}service-unavailable")
        assert cond is not None, str(iq)
    finally:
        for c in (c1, c2):
            try:
                await asyncio.wait_for(c.disconnect(wait=1), 5)
            except (asyncio.TimeoutError, Exception):
                c.abort()


def test_slixmpp_components_exchange_messages_and_iqs(router):
    logging.getLogger("slixmpp").setLevel(logging.WARNING)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(asyncio.wait_for(scenario(router), SCENARIO_TIMEOUT))
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(None)
    text = router.log_text()
    assert "comp1.localhost" in text and "comp2.localhost" in text
