# SPDX-License-Identifier: MIT
"""A component run as a separate process by test_router_kill.py, so that it
can be killed with SIGKILL while stanzas flow to it.

    victim_component.py PORT NAME SECRET IDFILE ACK_TO ACK_EVERY [RCVBUF DELAY_MS]

It attaches as NAME, prints READY, then appends the id of every message it
receives to IDFILE, one a line, written out before anything else happens
(line buffering: one write per id), and every ACK_EVERY messages sends
<message to=ACK_TO><ack xmlns='urn:xmppd:test' n='COUNT'/></message>, so
that the sender can keep a window of messages in flight. RCVBUF and
DELAY_MS, when given, shrink the socket's receive buffer (set before
connecting) and pause after each read, making a slow reader: what is in
flight then queues up in the router rather than in the kernel.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from conftest import RawComponent  # noqa: E402


def main():
    port, name, secret, idfile, ack_to, ack_every = sys.argv[1:7]
    ack_every = int(ack_every)
    delay = 0.0
    if len(sys.argv) > 8:
        delay = int(sys.argv[8]) / 1000.0
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(sys.argv[7]))
        sock.settimeout(20)
        sock.connect(("127.0.0.1", int(port)))
        conn = RawComponent(sock, label=name)
    else:
        conn = RawComponent.tcp(int(port), label=name)
    conn.attach(name, secret)
    print("READY", flush=True)
    count = 0
    with open(idfile, "w", buffering=1) as out:
        while not conn.eof:
            for e in conn.poll(1.0, drain=not delay):
                if e.name != "message":
                    continue
                out.write(e.get("id") + "\n")
                count += 1
                if count % ack_every == 0:
                    conn.send(f"<message from='{name}' to='{ack_to}' id='ack{count}'>"
                              f"<ack xmlns='urn:xmppd:test' n='{count}'/></message>")
            if delay:
                time.sleep(delay)


if __name__ == "__main__":
    main()
