# SPDX-License-Identifier: MIT
"""The suite's own stream splitter must cut streams correctly however the
bytes are chunked; everything else relies on it. No router needed."""
import random

from conftest import NS_ACCEPT, NS_STREAM, StreamSplitter, parse_element, stream_error

STREAM = (
    b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams'"
    b" xmlns='jabber:component:accept' id='abc' from='c.localhost'>"
    b"<handshake/>"
    b"<message from='a@x' to=\"b@y\" id='1' q='a>b' r=\"it's\"><body>x &amp; &lt;y&gt;</body>"
    b"<x xmlns='urn:t'><y><z/></y></x></message>\n  "
    b"<iq type='get' id='2'><query xmlns='urn:q'><![CDATA[<not-a-tag>]]></query></iq>"
    b"<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
    b"</stream:error></stream:stream>"
)


def split(chunks):
    s = StreamSplitter()
    events = []
    for c in chunks:
        events.extend(s.feed(c))
    return events


def test_whole_and_bytewise_and_random_chunks_agree():
    whole = split([STREAM])
    kinds = [k for k, _ in whole]
    assert kinds == ["other", "header", "elem", "elem", "elem", "elem", "close"], whole
    assert split([STREAM[i:i + 1] for i in range(len(STREAM))]) == whole
    rnd = random.Random(7)
    for _ in range(200):
        cuts = sorted(rnd.sample(range(1, len(STREAM)), rnd.randint(1, 30)))
        parts = [STREAM[a:b] for a, b in zip([0] + cuts, cuts + [len(STREAM)])]
        assert split(parts) == whole


def test_elements_parse_with_exact_bytes():
    elems = [parse_element(raw) for kind, raw in split([STREAM]) if kind == "elem"]
    assert [e.name for e in elems] == ["handshake", "message", "iq", "error"]
    msg = elems[1]
    assert msg.ns == NS_ACCEPT and msg.get("q") == "a>b" and msg.get("r") == "it's"
    assert msg.text_of("body") == "x & <y>"
    assert msg.raw.startswith(b"<message ") and msg.raw.endswith(b"</message>")
    assert elems[2].child("query").text == "<not-a-tag>"
    assert elems[3].ns == NS_STREAM and stream_error(elems[3]) == "not-authorized"
