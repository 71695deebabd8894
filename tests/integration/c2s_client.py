# SPDX-License-Identifier: MIT
"""A real XMPP client (slixmpp) for the c2s tests, run as a child process:
logs in once and prints one JSON line with what happened.

usage: c2s_client.py PORT JID PASSWORD MECH CAFILE [direct-tls] [no-tls] [cb-unsupported]
"""
import asyncio
import json
import ssl
import sys

import slixmpp


def main():
    port, jid, password, mech, cafile = sys.argv[1:6]
    flags = set(sys.argv[6:])
    result = {"tls": False, "auth": None, "condition": None, "mechanism": mech}
    xmpp = slixmpp.ClientXMPP(jid, password, sasl_mech=mech or None)
    xmpp.ssl_context = ssl.create_default_context(cafile=cafile)
    if "no-tls" in flags:
        # Plaintext PLAIN is what a careless client would try.
        xmpp["feature_mechanisms"].unencrypted_plain = True
        xmpp["feature_mechanisms"].unencrypted_scram = True
    if "cb-unsupported" in flags:
        # slixmpp knows only tls-unique and so answers a -PLUS offer with the
        # gs2 flag 'y', which RFC 5802 §6 makes the server refuse as a
        # downgrade; this client says 'n' (no channel binding) instead.
        mechs = xmpp["feature_mechanisms"]
        default = mechs.sasl_callback

        def no_cb(required, optional):
            creds = default(required, optional)
            if "channel_binding" in creds:
                creds["channel_binding"] = None
            return creds
        mechs.sasl_callback = no_cb
    loop = asyncio.get_event_loop()
    done = loop.create_future()

    def finish(*_):
        if not done.done():
            done.set_result(True)

    def on_tls(_):
        result["tls"] = True

    def on_success(_):
        result["auth"] = "success"
        finish()

    def on_failed(stanza):
        result["auth"] = "failed"
        try:
            result["condition"] = stanza["condition"]
        except Exception:
            pass
        finish()

    def on_all_failed(_):
        if result["auth"] is None:
            result["auth"] = "failed"
        finish()

    xmpp.add_event_handler("ssl_cert", lambda _: None)
    xmpp.add_event_handler("tls_success", on_tls)
    xmpp.add_event_handler("auth_success", on_success)
    xmpp.add_event_handler("failed_auth", on_failed)
    xmpp.add_event_handler("failed_all_auth", on_all_failed)
    xmpp.add_event_handler("disconnected", finish)
    xmpp.add_event_handler("stream_error", lambda e: result.update(
        stream_error=e["condition"]))
    if "direct-tls" in flags:
        xmpp.connect(("127.0.0.1", int(port)), use_ssl=True)
        result["tls"] = True
    else:
        xmpp.connect(("127.0.0.1", int(port)),
                     force_starttls="no-tls" not in flags,
                     disable_starttls="no-tls" in flags)
    try:
        loop.run_until_complete(asyncio.wait_for(done, 20))
    except asyncio.TimeoutError:
        result["timeout"] = True
    if "direct-tls" in flags:
        result["tls"] = isinstance(xmpp.socket, ssl.SSLObject) or xmpp.socket is not None
    xmpp.disconnect()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
