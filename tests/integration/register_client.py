# SPDX-License-Identifier: MIT
"""A real XMPP client (slixmpp and its XEP-0077 plugin) for the in-band
registration tests, run as a child process: registers JID's account over
STARTTLS, then logs in with it on the same connection (SASL SCRAM) and
prints one JSON line with what happened.

usage: register_client.py PORT JID PASSWORD CAFILE
"""
import asyncio
import json
import logging
import os
import ssl
import sys

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout


def main():
    port, jid, password, cafile = sys.argv[1:5]
    if os.environ.get("XMPPD_TEST_DEBUG"):
        logging.basicConfig(level=logging.DEBUG)
    result = {"form": None, "registered": False, "error": None, "auth": None,
              "session": False}
    # slixmpp binds -PLUS only with tls-unique, which TLS 1.3 lacks: plain SCRAM.
    xmpp = slixmpp.ClientXMPP(jid, password, sasl_mech="SCRAM-SHA-256")
    xmpp.ssl_context = ssl.create_default_context(cafile=cafile)
    xmpp.register_plugin("xep_0004")
    xmpp.register_plugin("xep_0066")
    xmpp.register_plugin("xep_0077")
    xmpp["xep_0077"].force_registration = True
    # slixmpp 1.8 queues every stanza but bind/session until the session has
    # started, which holds back XEP-0077's own pre-authentication iqs; its
    # test harness lifts that the same way.
    xmpp._always_send_everything = True
    loop = asyncio.get_event_loop()
    done = loop.create_future()

    def finish(*_):
        if not done.done():
            done.set_result(True)

    async def on_register(form):
        q = form["register"]
        result["form"] = sorted(k for k in ("username", "password", "instructions")
                                if q.xml.find(f"{{jabber:iq:register}}{k}") is not None)
        iq = xmpp.Iq()
        iq["type"] = "set"
        iq["register"]["username"] = xmpp.boundjid.user
        iq["register"]["password"] = password
        try:
            await iq.send(timeout=10)
            result["registered"] = True
        except IqError as e:
            result["error"] = e.iq["error"]["condition"]
            xmpp.disconnect()
        except IqTimeout:
            result["error"] = "timeout"
            xmpp.disconnect()

    def on_session(_):
        result["session"] = True
        finish()

    def on_failed(stanza):
        result["auth"] = "failed"
        finish()

    xmpp.add_event_handler("ssl_cert", lambda _: None)
    xmpp.add_event_handler("register", on_register)
    xmpp.add_event_handler("auth_success", lambda _: result.update(auth="success"))
    xmpp.add_event_handler("failed_auth", on_failed)
    xmpp.add_event_handler("failed_all_auth", on_failed)
    xmpp.add_event_handler("session_start", on_session)
    xmpp.add_event_handler("disconnected", finish)
    xmpp.connect(("127.0.0.1", int(port)), force_starttls=True)
    try:
        loop.run_until_complete(asyncio.wait_for(done, 25))
    except asyncio.TimeoutError:
        result["timeout"] = True
    xmpp.disconnect()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
