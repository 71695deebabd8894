# SPDX-License-Identifier: MIT
"""Real slixmpp clients, unmodified, for the whole-suite test. Run as a child
process; prints one JSON line of what each client saw.

usage: e2e_chat.py PORT CAFILE SCENARIO
  chat     alice and bob log in; alice sends bob a message
  offline  alice sends a message to bob, who is offline; then bob logs in
  receive  only bob logs in, and waits for a message (sent by another client)
  replace  bob logs in twice with the same resource; alice then writes to it
  carbons  bob logs in on phone and on laptop, laptop with XEP-0280 carbons;
           alice writes to bob's phone, and the phone answers
"""
import asyncio
import json
import ssl
import sys

import slixmpp


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, cafile):
        super().__init__(jid, password)
        self.ssl_context = ssl.create_default_context(cafile=cafile)
        loop = asyncio.get_event_loop()
        self.started = loop.create_future()
        self.got = loop.create_future()
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("failed_all_auth", self.on_failed)
        self.stream_error = loop.create_future()
        self.add_event_handler("stream_error", self.on_stream_error)

    def on_stream_error(self, err):
        if not self.stream_error.done():
            self.stream_error.set_result(err["condition"])

    async def on_start(self, _):
        self.send_presence()
        await self.get_roster()
        if not self.started.done():
            self.started.set_result(True)

    def on_failed(self, _):
        if not self.started.done():
            self.started.set_result(False)

    def on_message(self, msg):
        if msg["type"] in ("chat", "normal") and not self.got.done():
            self.got.set_result({"from": str(msg["from"]), "body": msg["body"],
                                 "delayed": bool(msg.xml.find("{urn:xmpp:delay}delay")
                                                 is not None)})


async def run(port, cafile, scenario):
    result = {}
    bob = Client("bob@localhost/phone", "bob-pw", cafile)
    if scenario == "receive":
        bob.connect(("127.0.0.1", port))
        result["bob_login"] = await asyncio.wait_for(bob.started, 20)
        try:
            result["bob_got"] = await asyncio.wait_for(bob.got, 15)
        except asyncio.TimeoutError:
            result["bob_got"] = None
        bob.disconnect()
        await asyncio.sleep(0.3)
        return result
    alice = Client("alice@localhost/desk", "alice-pw", cafile)
    alice.connect(("127.0.0.1", port))
    result["alice_login"] = await asyncio.wait_for(alice.started, 20)
    if scenario == "replace":
        old_bob = bob
        old_bob.connect(("127.0.0.1", port))
        result["old_bob_login"] = await asyncio.wait_for(old_bob.started, 20)
        bob = Client("bob@localhost/phone", "bob-pw", cafile)
        bob.connect(("127.0.0.1", port))
        result["bob_login"] = await asyncio.wait_for(bob.started, 20)
        try:
            result["old_bob_error"] = await asyncio.wait_for(old_bob.stream_error, 10)
        except asyncio.TimeoutError:
            result["old_bob_error"] = None
        alice.send_message(mto="bob@localhost/phone", mbody="to the new one", mtype="chat")
        try:
            result["old_bob_got"] = await asyncio.wait_for(asyncio.shield(old_bob.got), 2)
        except asyncio.TimeoutError:
            result["old_bob_got"] = None
        old_bob.disconnect()
    elif scenario == "carbons":
        result.update(await carbons(alice, bob, port, cafile))
    elif scenario == "chat":
        bob.connect(("127.0.0.1", port))
        result["bob_login"] = await asyncio.wait_for(bob.started, 20)
        await asyncio.sleep(0.3)
        alice.send_message(mto="bob@localhost", mbody="hello bob", mtype="chat")
    else:
        alice.send_message(mto="bob@localhost", mbody="while you were away", mtype="chat")
        await asyncio.sleep(1.0)
        bob.connect(("127.0.0.1", port))
        result["bob_login"] = await asyncio.wait_for(bob.started, 20)
    try:
        result["bob_got"] = await asyncio.wait_for(bob.got, 15)
    except asyncio.TimeoutError:
        result["bob_got"] = None
    for c in (alice, bob):
        c.disconnect()
    await asyncio.sleep(0.3)
    return result


async def carbons(alice, bob, port, cafile):
    """What bob's laptop saw as carbon copies: {'received': ..., 'sent': ...}."""
    loop = asyncio.get_event_loop()
    laptop = Client("bob@localhost/laptop", "bob-pw", cafile)
    laptop.register_plugin("xep_0280")
    seen = {"received": loop.create_future(), "sent": loop.create_future()}

    def keep(how, wrap):
        inner = wrap["carbon_" + how]
        if not seen[how].done():
            seen[how].set_result({"from": str(inner["from"]), "to": str(inner["to"]),
                                  "body": inner["body"]})
    laptop.add_event_handler("carbon_received", lambda m: keep("received", m))
    laptop.add_event_handler("carbon_sent", lambda m: keep("sent", m))
    bob.connect(("127.0.0.1", port))
    laptop.connect(("127.0.0.1", port))
    out = {"bob_login": await asyncio.wait_for(bob.started, 20),
           "laptop_login": await asyncio.wait_for(laptop.started, 20)}
    await laptop.plugin["xep_0280"].enable(timeout=10)
    alice.send_message(mto="bob@localhost/phone", mbody="to the phone", mtype="chat")
    await asyncio.wait_for(asyncio.shield(bob.got), 15)
    bob.send_message(mto="alice@localhost/desk", mbody="from the phone", mtype="chat")
    for how, fut in seen.items():
        try:
            out[how] = await asyncio.wait_for(fut, 10)
        except asyncio.TimeoutError:
            out[how] = None
    laptop.disconnect()
    return out


def main():
    port, cafile, scenario = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    loop = asyncio.get_event_loop()
    print(json.dumps(loop.run_until_complete(run(port, cafile, scenario))))


if __name__ == "__main__":
    main()
