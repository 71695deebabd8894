# SPDX-License-Identifier: MIT
"""Fixtures and helpers for the integration suite.

Every test starts its own xmppd-router with a config written into its
tmp_path, talks to it over real sockets and stops it by PID at the end
(SIGTERM, then SIGKILL after 5 s), checking that a SIGTERM stop exits 0.

RawComponent is a minimal XEP-0114 client on a plain socket: it sends the
stream header, answers the handshake and cuts the byte stream it reads into
top-level elements, keeping both the exact bytes received and a parsed tree,
so that tests can check what the router forwards byte for byte.

The build directory is $XMPPD_BUILD (default /work/main/build).
"""
import collections
import hashlib
import itertools
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SOURCE_DIR = HERE.parent.parent
BUILD_DIR = Path(os.environ.get("XMPPD_BUILD", "/work/main/build"))
ROUTER_BIN = BUILD_DIR / "bin" / "xmppd-router"

NS_STREAM = "http://etherx.jabber.org/streams"
NS_ACCEPT = "jabber:component:accept"
NS_STREAM_ERRORS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_STANZA_ERRORS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_XMPPD_COMPONENT = "urn:xmppd:component"
NS_XMPPD_ROUTE = "urn:xmppd:route"
NS_XMPPD_ROUTER = "urn:xmppd:router"

# Per-test wall-clock bound (seconds); a test may ask for more with
# @pytest.mark.time_limit(N).
DEFAULT_TIME_LIMIT = 60
# Bound on any single blocking socket operation.
SOCKET_TIMEOUT = 20.0


# ---------------------------------------------------------------------------
# Per-test time limit
# ---------------------------------------------------------------------------

def pytest_configure(config):
    config.addinivalue_line(
        "markers", "time_limit(seconds): wall-clock bound for one integration test")


class TestTimedOut(Exception):
    """Raised in the main thread when a test exceeds its time limit."""


@pytest.fixture(autouse=True)
def _time_limit(request):
    """Bounds every test in time with SIGALRM (the suite has no plugin for it)."""
    marker = request.node.get_closest_marker("time_limit")
    limit = int(marker.args[0]) if marker else DEFAULT_TIME_LIMIT

    def on_alarm(signum, frame):
        raise TestTimedOut(f"{request.node.nodeid} ran for more than {limit} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Keeps each phase's report on the item so that fixtures can tell at
    # teardown whether the test failed (and then show the router's log).
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


# ---------------------------------------------------------------------------
# XML helpers
# ---------------------------------------------------------------------------

def local(tag):
    """The local name of an ElementTree tag ('{ns}name' -> 'name')."""
    return tag.rsplit("}", 1)[-1]


def nsof(tag):
    """The namespace of an ElementTree tag ('' when none)."""
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def xml_escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
             .replace("'", "&apos;").replace('"', "&quot;"))


class Elem:
    """One top-level element as received: exact bytes plus a parsed tree."""

    __slots__ = ("raw", "el")

    def __init__(self, raw, el):
        self.raw = raw
        self.el = el

    @property
    def name(self):
        return local(self.el.tag)

    @property
    def ns(self):
        return nsof(self.el.tag)

    @property
    def attrib(self):
        return self.el.attrib

    def get(self, key, default=None):
        return self.el.get(key, default)

    def child(self, name, ns=None):
        """The first child element with that local name (and namespace)."""
        for c in self.el:
            if local(c.tag) == name and (ns is None or nsof(c.tag) == ns):
                return c
        return None

    def children(self):
        return list(self.el)

    def text_of(self, name, ns=None):
        c = self.child(name, ns)
        return None if c is None else (c.text or "")

    def is_(self, name, ns=None):
        return self.name == name and (ns is None or self.ns == ns)

    def __repr__(self):
        text = self.raw.decode("utf-8", "replace")
        if len(text) > 600:
            text = text[:600] + f"... ({len(self.raw)} bytes)"
        return f"<Elem {text}>"


def stream_error(elem):
    """The condition of a <stream:error>, or None when elem is not one."""
    if elem is None or not elem.is_("error", NS_STREAM):
        return None
    for c in elem.el:
        if nsof(c.tag) == NS_STREAM_ERRORS and local(c.tag) != "text":
            return local(c.tag)
    return "(no condition)"


def stanza_error(elem):
    """(error type, condition) of a stanza's <error/> child, or None."""
    if elem is None:
        return None
    for err in elem.el:
        if local(err.tag) != "error":
            continue
        for c in err:
            if nsof(c.tag) == NS_STANZA_ERRORS and local(c.tag) != "text":
                return err.get("type"), local(c.tag)
        return err.get("type"), None
    return None


# ---------------------------------------------------------------------------
# The stream splitter
# ---------------------------------------------------------------------------

class StreamSplitter:
    """Cuts an XMPP byte stream fed in arbitrary chunks into the stream
    header, complete top-level elements (as raw bytes) and the stream's end.

    It only tracks tags (quotes in attribute values included), which is all
    a restricted-XML stream needs; the elements are then parsed one by one.
    """

    def __init__(self):
        self.buf = bytearray()
        self.pos = 0          # where scanning resumes
        self.depth = 0        # 0: before the header; 1: between stanzas
        self.start = None     # offset of the top-level element being read
        self.ended = False

    def feed(self, data):
        """Returns the events completed by data: ('header', raw),
        ('elem', raw), ('close', raw) and ('other', raw) for prolog, PIs,
        comments or a DOCTYPE (which a router must never send mid-stream)."""
        self.buf += data
        events = []
        buf = self.buf
        n = len(buf)
        while self.pos < n and not self.ended:
            lt = buf.find(b"<", self.pos)
            if lt < 0:
                self.pos = n
                break
            end = self._tag_end(lt)
            if end is None:
                self.pos = lt
                break
            tag = bytes(buf[lt:end])
            self.pos = end
            if tag.startswith((b"<?", b"<!")):
                if tag.startswith(b"<![CDATA["):
                    continue          # character data inside an element
                if self.depth > 1:
                    continue
                events.append(("other", tag))
                continue
            if tag.startswith(b"</"):
                if self.depth <= 1:
                    events.append(("close", tag))
                    self.ended = True
                    self.depth = 0
                    break
                self.depth -= 1
                if self.depth == 1:
                    events.append(("elem", bytes(buf[self.start:end])))
                    self.start = None
                continue
            empty = tag.endswith(b"/>")
            if self.depth == 0:
                events.append(("header", tag))
                self.depth = 1
                if empty:        # <stream:stream/>: opened and closed at once
                    events.append(("close", b""))
                    self.ended = True
                continue
            if self.depth == 1:
                self.start = lt
                if empty:
                    events.append(("elem", tag))
                    self.start = None
                    continue
            if not empty:
                self.depth += 1
        # Drops what has been consumed.
        keep_from = self.start if self.start is not None else self.pos
        if keep_from > 0:
            del self.buf[:keep_from]
            self.pos -= keep_from
            if self.start is not None:
                self.start = 0
        return events

    def _tag_end(self, lt):
        """The offset just past the markup starting at lt, None if incomplete."""
        buf = self.buf
        if buf.startswith(b"<!--", lt):
            i = buf.find(b"-->", lt + 4)
            return None if i < 0 else i + 3
        if buf.startswith(b"<![CDATA[", lt):
            i = buf.find(b"]]>", lt + 9)
            return None if i < 0 else i + 3
        if buf.startswith(b"<?", lt):
            i = buf.find(b"?>", lt + 2)
            return None if i < 0 else i + 2
        if len(buf) - lt < 9 and b"<![CDATA[".startswith(bytes(buf[lt:])):
            return None       # could still become a CDATA section or comment
        quote = None
        i = lt + 1
        n = len(buf)
        while i < n:
            c = buf[i]
            if quote is not None:
                j = buf.find(quote, i)
                if j < 0:
                    return None
                quote = None
                i = j + 1
                continue
            if c == 0x3E:                      # '>'
                return i + 1
            if c in (0x22, 0x27):              # '"' or "'"
                quote = bytes([c])
            i += 1
        return None


_WRAP_CLOSE = b"</stream:stream>"


def _wrap_open(default_ns):
    return ("<stream:stream xmlns:stream='%s' xmlns='%s'>"
            % (NS_STREAM, default_ns)).encode()


def parse_element(raw, default_ns=NS_ACCEPT):
    """Parses one top-level element in a stream's namespace context."""
    try:
        root = ET.fromstring(_wrap_open(default_ns) + raw + _WRAP_CLOSE)
    except ET.ParseError as e:
        raise AssertionError(f"the router sent XML that does not parse ({e}): {raw!r}")
    if len(root) != 1:
        raise AssertionError(f"expected one element, got {len(root)}: {raw!r}")
    return Elem(raw, root[0])


def parse_header(raw):
    if raw.endswith(b"/>"):
        raw = raw[:-2] + b">"
    try:
        root = ET.fromstring(raw + _WRAP_CLOSE)
    except ET.ParseError as e:
        raise AssertionError(f"the router's stream header does not parse ({e}): {raw!r}")
    return Elem(raw, root)


# ---------------------------------------------------------------------------
# RawComponent: a minimal XEP-0114 client
# ---------------------------------------------------------------------------

class RecvTimeout(AssertionError):
    pass


class StreamClosed(AssertionError):
    pass


def handshake_digest(stream_id, secret):
    """XEP-0114: lower-case hex SHA-1 of the stream id followed by the secret."""
    return hashlib.sha1((stream_id + secret).encode("utf-8")).hexdigest()


def stream_header(to, ns=NS_ACCEPT):
    return ("<?xml version='1.0'?><stream:stream xmlns:stream='%s' xmlns='%s' to='%s'>"
            % (NS_STREAM, ns, xml_escape(to))).encode()


class RawComponent:
    """A component on a raw socket. Reads are bounded by explicit timeouts;
    received elements are queued in order as Elem objects."""

    _ids = itertools.count(1)

    def __init__(self, sock, label="raw"):
        self.sock = sock
        self.label = label
        sock.settimeout(SOCKET_TIMEOUT)
        self.splitter = StreamSplitter()
        self.queue = collections.deque()
        self.header = None        # the router's stream header (Elem)
        self.others = []          # prolog/PI/comment/DOCTYPE bytes received
        self.eof = False
        self.eof_error = None     # the exception that ended reading, if any
        self.stream_closed = False
        self.name = None
        self.bytes_in = 0

    # --- connecting ---------------------------------------------------------

    @classmethod
    def tcp(cls, port, host="127.0.0.1", label=None):
        sock = socket.create_connection((host, port), timeout=SOCKET_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock, label or f"tcp:{port}")

    @classmethod
    def unix(cls, path, label=None):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(SOCKET_TIMEOUT)
        sock.connect(str(path))
        return cls(sock, label or f"unix:{path}")

    @classmethod
    def tls(cls, port, context, server_hostname="localhost", host="127.0.0.1",
            label=None):
        raw = socket.create_connection((host, port), timeout=SOCKET_TIMEOUT)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock = context.wrap_socket(raw, server_hostname=server_hostname)
        except BaseException:
            raw.close()
            raise
        return cls(sock, label or f"tls:{port}")

    # --- sending ------------------------------------------------------------

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def send_quietly(self, data):
        """Sends, ignoring a peer that has closed already. Returns success."""
        try:
            self.send(data)
            return True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            return False

    # --- the stream ---------------------------------------------------------

    def open_stream(self, to, timeout=5.0, ns=NS_ACCEPT):
        """Sends our header and waits for the router's. Returns it (Elem)."""
        self.name = to
        self.send(stream_header(to, ns))
        deadline = time.monotonic() + timeout
        while self.header is None:
            if self.eof:
                raise StreamClosed(f"{self.label}: closed before the stream header")
            left = deadline - time.monotonic()
            if left <= 0:
                raise RecvTimeout(f"{self.label}: no stream header within {timeout} s")
            self._read(left)
        return self.header

    def handshake(self, secret, timeout=5.0):
        """Sends the handshake for the header received; returns the answer."""
        sid = self.header.get("id")
        assert sid, f"{self.label}: the router's header has no id: {self.header!r}"
        self.send(f"<handshake>{handshake_digest(sid, secret)}</handshake>")
        return self.recv(timeout)

    def attach(self, name, secret, timeout=5.0):
        """Opens the stream as name and completes the handshake."""
        header = self.open_stream(name, timeout)
        assert header.get("from") == name.lower(), header
        reply = self.handshake(secret, timeout)
        assert (reply.is_("handshake", NS_ACCEPT) and len(reply.el) == 0
                and not (reply.el.text or "").strip()), \
            f"{self.label}: handshake as {name} failed: {reply!r}"
        return self

    def bind(self, timeout=5.0, **attrs):
        """Sends <bind xmlns='urn:xmppd:component' .../> and returns the reply."""
        bid = attrs.pop("id", None) or f"b{next(self._ids)}"
        parts = "".join(f" {k}='{xml_escape(v)}'" for k, v in attrs.items())
        self.send(f"<bind xmlns='{NS_XMPPD_COMPONENT}' id='{bid}'{parts}/>")
        reply, _ = self.recv_until(
            lambda e: e.is_("bind", NS_XMPPD_COMPONENT) and e.get("id") == bid, timeout)
        return reply

    # --- receiving ----------------------------------------------------------

    def _readable(self, timeout):
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        return bool(r)

    def _read(self, timeout):
        """One read of what is there; False on timeout or end of stream."""
        if self.eof:
            return False
        if not self._readable(timeout):
            return False
        try:
            data = self.sock.recv(262144)
        except ssl.SSLWantReadError:
            return True
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError) as e:
            self.eof = True
            self.eof_error = e
            return False
        if not data:
            self.eof = True
            return False
        self.bytes_in += len(data)
        for kind, raw in self.splitter.feed(data):
            if kind == "header":
                self.header = parse_header(raw)
            elif kind == "elem":
                self.queue.append(parse_element(raw))
            elif kind == "close":
                self.stream_closed = True
            else:
                self.others.append(raw)
        return True

    def recv(self, timeout=5.0):
        """The next element; RecvTimeout or StreamClosed when there is none."""
        deadline = time.monotonic() + timeout
        while not self.queue:
            if self.eof:
                raise StreamClosed(f"{self.label}: stream closed"
                                   + (f" ({self.eof_error!r})" if self.eof_error else ""))
            left = deadline - time.monotonic()
            if left <= 0:
                raise RecvTimeout(f"{self.label}: nothing received within {timeout} s")
            self._read(left)
        return self.queue.popleft()

    def try_recv(self, timeout=0.0):
        try:
            return self.recv(timeout)
        except (RecvTimeout, StreamClosed):
            return None

    def poll(self, timeout=0.0, drain=True):
        """Everything available now (waiting up to timeout for the first).
        drain=False makes at most one read from the socket."""
        if not self.queue and not self.eof:
            self._read(timeout)
        while drain and not self.eof and self._readable(0):
            if not self._read(0):
                break
        out = list(self.queue)
        self.queue.clear()
        return out

    def answered(self):
        """True once something has arrived or the peer has closed; never
        blocks."""
        if not self.queue and not self.eof:
            self._read(0)
        return bool(self.queue) or self.eof

    def recv_until(self, pred, timeout=5.0):
        """Reads until an element matches pred. Returns (match, skipped)."""
        deadline = time.monotonic() + timeout
        skipped = []
        while True:
            left = deadline - time.monotonic()
            try:
                e = self.recv(max(0.0, left))
            except (RecvTimeout, StreamClosed) as exc:
                raise type(exc)(f"{exc}; received meanwhile: {skipped!r}") from None
            if pred(e):
                return e, skipped
            skipped.append(e)

    def recv_stream_error(self, timeout=5.0):
        """Reads until a <stream:error/>; returns its condition."""
        e, _ = self.recv_until(lambda e: e.is_("error", NS_STREAM), timeout)
        return stream_error(e)

    def wait_closed(self, timeout=5.0):
        """Reads until the connection ends. Returns what arrived meanwhile."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RecvTimeout(f"{self.label}: still open after {timeout} s")
            self._read(left)
        out = list(self.queue)
        self.queue.clear()
        return out

    def assert_silent(self, timeout=0.3):
        """Nothing is waiting (for use after a sentinel made delivery certain)."""
        got = self.poll(timeout)
        assert not got, f"{self.label}: unexpected {got!r}"

    def close(self):
        try:
            if not self.eof:
                self.sock.sendall(b"</stream:stream>")
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        self.eof = True

    def abort(self):
        """Closes the socket without ending the stream."""
        try:
            self.sock.close()
        except OSError:
            pass
        self.eof = True


_msg_ids = itertools.count(1)


def new_id(prefix="m"):
    return f"{prefix}{next(_msg_ids)}"


def message(frm, to, body="hello", mid=None, extra="", mtype=None):
    mid = mid or new_id()
    t = f" type='{mtype}'" if mtype else ""
    return (f"<message from='{xml_escape(frm)}' to='{xml_escape(to)}' id='{mid}'{t}>"
            f"<body>{xml_escape(body)}</body>{extra}</message>")


def exchange(a, a_jid, b, b_jid, timeout=5.0):
    """a and b each send one message to the other; both must arrive intact."""
    for src, s_jid, dst, d_jid in ((a, a_jid, b, b_jid), (b, b_jid, a, a_jid)):
        mid = new_id("alive")
        src.send(message(s_jid, d_jid, f"ping {mid}", mid))
        got, skipped = dst.recv_until(lambda e: e.get("id") == mid, timeout)
        assert got.is_("message", NS_ACCEPT), got
        assert got.get("from") == s_jid and got.get("to") == d_jid, got
        assert got.text_of("body") == f"ping {mid}", got
        assert not skipped, f"{dst.label} got unexpected {skipped!r}"


# ---------------------------------------------------------------------------
# Router config
# ---------------------------------------------------------------------------

class ComponentDef:
    """A <component> entry of the router's config."""

    def __init__(self, name, secret, domain=True, allow=(), allow_remote=False):
        self.name = name
        self.secret = secret
        self.domain = domain
        self.allow = list(allow)          # [(kind, name), ...]
        self.allow_remote = allow_remote

    def xml(self):
        attrs = f"name='{xml_escape(self.name)}' secret='{xml_escape(self.secret)}'"
        if not self.domain:
            attrs += " domain='no'"
        inner = "".join(f"<allow bind='{k}' name='{xml_escape(n)}'/>" for k, n in self.allow)
        if self.allow_remote:
            inner += "<allow from='remote'/>"
        if not inner:
            return f"    <component {attrs}/>\n"
        return f"    <component {attrs}>{inner}</component>\n"


def default_components():
    """The components most tests use. xmppd-style ones have domain='no'."""
    return [
        ComponentDef("comp1.localhost", "secret-one"),
        ComponentDef("comp2.localhost", "secret-two"),
        ComponentDef("comp3.localhost", "secret-three"),
        ComponentDef("comp4.localhost", "secret-four"),
        ComponentDef("detached.localhost", "secret-detached"),
        ComponentDef("shard.localhost", "secret-shard"),
        ComponentDef("victim.localhost", "secret-victim"),
        ComponentDef("sm", "secret-sm", domain=False,
                     allow=[("service", "sm"), ("domain", "localhost")]),
        ComponentDef("c2s", "secret-c2s", domain=False, allow=[("service", "c2s")]),
        ComponentDef("s2s", "secret-s2s", domain=False, allow=[("service", "s2s")],
                     allow_remote=True),
    ]


def _listen_port_range():
    """Ports below the kernel's ephemeral range: no outgoing connection takes one."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return 10000, max(10001, low)


_PORT_LOW, _PORT_HIGH = _listen_port_range()
_port_next = _PORT_LOW + os.getpid() * 7919 % (_PORT_HIGH - _PORT_LOW)


def free_port(host="127.0.0.1"):
    """A TCP port nothing listens on, for a process the test starts next.

    A port the kernel handed out for port 0 lies in the ephemeral range, where
    the next outgoing connection may take it before the server binds it; so
    ports come from below that range, each handed out once per test run."""
    global _port_next
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(_PORT_HIGH - _PORT_LOW):
        port = _port_next
        _port_next = _PORT_LOW + (port + 1 - _PORT_LOW) % (_PORT_HIGH - _PORT_LOW)
        with socket.socket(family, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free TCP port below the ephemeral range")


class Router:
    """One xmppd-router process and its files."""

    def __init__(self, workdir, components, limits=None, tls=None,
                 default_route=None, domains=("localhost",)):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = self.dir / "state"
        self.components = {c.name: c for c in components}
        self.limits = limits or {}
        self.tls = tls
        self.default_route = default_route
        self.domains = list(domains)
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.unix_path = self.state_dir / "router.sock"
        self.ctl_path = self.state_dir / "router.ctl"
        self.config_path = self.dir / "xmppd.xml"
        self.log_path = self.dir / "router.log"
        self.proc = None
        self.exit_code = None
        self.clients = []
        self._log_file = None

    # --- config -------------------------------------------------------------

    def config_text(self):
        out = ["<?xml version='1.0' encoding='UTF-8'?>\n<xmppd>\n"]
        for d in self.domains:
            out.append(f"  <domain>{xml_escape(d)}</domain>\n")
        out.append(f"  <state-dir>{xml_escape(str(self.state_dir))}</state-dir>\n")
        out.append("  <log level='debug' to='stderr'/>\n  <router>\n")
        out.append(f"    <listen tcp='127.0.0.1:{self.port}'/>\n")
        out.append("    <listen unix='router.sock'/>\n")
        if self.tls:
            t = self.tls
            attrs = f"tls='127.0.0.1:{self.tls_port}' cert='{t['cert']}' key='{t['key']}'"
            if t.get("client_ca"):
                attrs += f" client-ca='{t['client_ca']}'"
            out.append(f"    <listen {attrs}/>\n")
        out.append("    <control unix='router.ctl'/>\n")
        if self.limits:
            attrs = " ".join(f"{k}='{v}'" for k, v in self.limits.items())
            out.append(f"    <limits {attrs}/>\n")
        if self.default_route:
            out.append(f"    <default-route service='{self.default_route}'/>\n")
        for c in self.components.values():
            out.append(c.xml())
        out.append("  </router>\n</xmppd>\n")
        return "".join(out)

    # --- process ------------------------------------------------------------

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=80):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def start(self, timeout=10.0):
        if not ROUTER_BIN.exists():
            pytest.fail(f"{ROUTER_BIN} does not exist: build the router first "
                        f"(or point XMPPD_BUILD at the build directory)")
        self.config_path.write_text(self.config_text())
        self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(ROUTER_BIN), "-c", str(self.config_path)],
                                     stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, cwd=str(self.dir))
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.exit_code = rc
                pytest.fail(f"xmppd-router exited with {rc} at start; its log:\n"
                            f"{self.log_text()}\nconfig:\n{self.config_text()}")
            if self._port_accepts() and self.ctl_path.exists():
                return self
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"xmppd-router did not accept on 127.0.0.1:{self.port} within "
                            f"{timeout} s; its log:\n{self.log_text()}")
            time.sleep(0.02)

    def _port_accepts(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def assert_alive(self):
        rc = self.proc.poll()
        assert rc is None, f"xmppd-router died with {rc}; log tail:\n{self.log_tail()}"

    def rss_kb(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def stop(self):
        """SIGTERM by PID, SIGKILL after 5 s. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.exit_code = self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                self.exit_code = "killed after SIGTERM timed out"
        else:
            self.exit_code = self.proc.returncode
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        for c in self.clients:
            c.abort()
        return self.exit_code

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    # --- clients ------------------------------------------------------------

    def connect(self, via="tcp", label=None, **kw):
        """A connected RawComponent (closed when the test ends)."""
        if via == "tcp":
            c = RawComponent.tcp(self.port, label=label)
        elif via == "unix":
            c = RawComponent.unix(self.unix_path, label=label)
        elif via == "tls":
            c = RawComponent.tls(self.tls_port, label=label, **kw)
        else:
            raise ValueError(via)
        self.clients.append(c)
        return c

    def attach(self, name, secret=None, via="tcp", label=None, **kw):
        """A RawComponent attached as name, with the config's secret."""
        if secret is None:
            secret = self.components[name].secret
        c = self.connect(via, label=label or name, **kw)
        return c.attach(name, secret)

    def report(self, timeout=5.0):
        """The control socket's plain-text report (read until EOF)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.ctl_path))
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode("utf-8", "replace")

    def wait_for_report(self, pred, timeout=5.0, what="condition"):
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.report()
            if pred(text):
                return text
            time.sleep(0.02)
        raise AssertionError(f"control report never showed {what}:\n{text}")

    def wait_for_log(self, pattern, timeout=5.0):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = rx.search(self.log_text())
            if m:
                return m
            time.sleep(0.02)
        raise AssertionError(f"log never matched {pattern!r}; tail:\n{self.log_tail()}")


@pytest.fixture
def start_router(tmp_path, request):
    """A factory: start_router(components=..., limits=..., tls=...,
    default_route=...) starts a router and returns its Router. Every router
    is stopped by PID at the end and must have exited 0 on SIGTERM."""
    routers = []

    def start(components=None, limits=None, tls=None, default_route=None,
              domains=("localhost",)):
        r = Router(tmp_path / f"router{len(routers)}",
                   components if components is not None else default_components(),
                   limits=limits, tls=tls, default_route=default_route, domains=domains)
        routers.append(r)
        return r.start()

    yield start

    failed = getattr(request.node, "rep_call", None)
    failed = failed is not None and failed.failed
    problems = []
    for r in routers:
        died_before = r.proc is not None and r.proc.poll() is not None
        code = r.stop()
        if failed:
            print(f"--- router log ({r.log_path}), last lines ---\n{r.log_tail(120)}")
        if died_before:
            problems.append(f"xmppd-router had already exited with {code} before the "
                            f"end of the test; log tail:\n{r.log_tail()}")
        elif code != 0:
            problems.append(f"xmppd-router exited with {code!r} on SIGTERM; log tail:\n"
                            f"{r.log_tail()}")
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def router(start_router):
    """A router with default_components() and default limits."""
    return start_router()


# ---------------------------------------------------------------------------
# Child processes started by tests
# ---------------------------------------------------------------------------

@pytest.fixture
def spawn():
    """A factory for subprocess.Popen; whatever is still running at the end
    is killed by PID."""
    procs = []

    def start(*args, **kw):
        p = subprocess.Popen(*args, **kw)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass


def run_in_thread(fn, *args):
    """Runs fn in a daemon thread; returns a join() that re-raises its error."""
    result = {}

    def body():
        try:
            result["value"] = fn(*args)
        except BaseException as e:       # handed to the caller
            result["error"] = e

    t = threading.Thread(target=body, daemon=True)
    t.start()

    def join(timeout=30.0):
        t.join(timeout)
        assert not t.is_alive(), f"{fn.__name__} still running after {timeout} s"
        if "error" in result:
            raise result["error"]
        return result.get("value")

    return join


# ---------------------------------------------------------------------------
# Certificates for TLS tests
# ---------------------------------------------------------------------------

CA_TEMPLATE = """cn = "xmppd test CA"
ca
cert_signing_key
crl_signing_key
expiration_days = 30
"""
SERVER_TEMPLATE = """cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
signing_key
encryption_key
expiration_days = 30
"""
CLIENT_TEMPLATE = """cn = "comp1.localhost"
dns_name = "comp1.localhost"
tls_www_client
signing_key
encryption_key
expiration_days = 30
"""


def certtool(*args):
    r = subprocess.run(["certtool", *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"certtool {' '.join(args)} failed:\n{r.stderr}"


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """A CA, a router certificate from it, a client certificate from it and
    a self-signed (rogue) client certificate. Returns {name: path}."""
    if not shutil.which("certtool"):
        pytest.skip("certtool is not installed (apt-get install gnutls-bin)")
    d = tmp_path_factory.mktemp("pki")
    p = {k: str(d / k) for k in ("ca.key", "ca.pem", "router.key", "router.pem",
                                  "client.key", "client.pem", "rogue.key", "rogue.pem")}
    for name, text in (("ca.tmpl", CA_TEMPLATE), ("server.tmpl", SERVER_TEMPLATE),
                       ("client.tmpl", CLIENT_TEMPLATE)):
        (d / name).write_text(text)
    for key in ("ca.key", "router.key", "client.key", "rogue.key"):
        certtool("--generate-privkey", "--key-type=ecdsa", "--curve=secp256r1",
                 "--outfile", p[key])
    certtool("--generate-self-signed", "--load-privkey", p["ca.key"],
             "--template", str(d / "ca.tmpl"), "--outfile", p["ca.pem"])
    certtool("--generate-certificate", "--load-privkey", p["router.key"],
             "--load-ca-certificate", p["ca.pem"], "--load-ca-privkey", p["ca.key"],
             "--template", str(d / "server.tmpl"), "--outfile", p["router.pem"])
    certtool("--generate-certificate", "--load-privkey", p["client.key"],
             "--load-ca-certificate", p["ca.pem"], "--load-ca-privkey", p["ca.key"],
             "--template", str(d / "client.tmpl"), "--outfile", p["client.pem"])
    certtool("--generate-self-signed", "--load-privkey", p["rogue.key"],
             "--template", str(d / "client.tmpl"), "--outfile", p["rogue.pem"])
    return p


def client_context(pki, cert=None, key=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki["ca.pem"])
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


# ---------------------------------------------------------------------------
# A throwaway PostgreSQL cluster (test_store.py, test_suite_pg.py)
# ---------------------------------------------------------------------------

def _pg_bin():
    """The bin folder of the newest PostgreSQL installed (Debian's layout)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()


def _as_postgres(*args, **kw):
    return subprocess.run(["runuser", "-u", "postgres", "--", *map(str, args)],
                          capture_output=True, text=True, timeout=60, **kw)


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL cluster listening only on a Unix socket in its own
    folder; yields that folder. Stopped (and removed) at the end."""
    if not (PG_BIN / "initdb").exists():
        if os.geteuid() == 0 and shutil.which("apt-get"):
            subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"],
                           capture_output=True, timeout=600)
        if not (PG_BIN / "initdb").exists():
            pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    if os.geteuid() != 0:
        pytest.skip("running initdb as the postgres user needs root")
    top = Path(tempfile.mkdtemp(prefix="xmppd-pg-"))
    shutil.chown(top, "postgres", "postgres")
    os.chmod(top, 0o755)
    data = top / "data"
    r = _as_postgres(PG_BIN / "initdb", "-D", data, "-U", "postgres",
                     "--auth=trust", "-E", "UTF8", "--no-sync")
    assert r.returncode == 0, f"initdb failed:\n{r.stdout}\n{r.stderr}"
    r = _as_postgres(PG_BIN / "pg_ctl", "-D", data, "-l", top / "pg.log", "-w",
                     "-o", f"-c listen_addresses='' -k {top} -c fsync=off", "start")
    assert r.returncode == 0, f"pg_ctl start failed:\n{r.stdout}\n{r.stderr}"
    try:
        yield top
    finally:
        _as_postgres(PG_BIN / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
        pidfile = data / "postmaster.pid"
        if pidfile.exists():          # pg_ctl did not manage: by PID then
            try:
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        shutil.rmtree(top, ignore_errors=True)


def pg_createdb(cluster, name):
    """A new database in the cluster (owned by postgres)."""
    r = _as_postgres(PG_BIN / "createdb", "-h", cluster, "-U", "postgres", name)
    assert r.returncode == 0, f"createdb failed:\n{r.stderr}"


def pg_sql(cluster, db, sql):
    """psql -At -c sql on db; returns its output."""
    r = _as_postgres(PG_BIN / "psql", "-h", cluster, "-U", "postgres", "-d", db,
                     "-At", "-c", sql)
    assert r.returncode == 0, f"psql failed:\n{r.stderr}"
    return r.stdout
