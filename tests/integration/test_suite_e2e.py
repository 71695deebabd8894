# SPDX-License-Identifier: MIT
"""The whole suite as an operator runs it: xmppdctl starts router, store, sm
and c2s from one config, xmppdctl adduser makes the accounts, and unmodified
real clients (slixmpp, go-sendxmpp) log in over STARTTLS with SCRAM and chat,
also offline."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BUILD_DIR, free_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CTL = BUILD_DIR / "bin" / "xmppdctl"


def make_cert(d):
    (d / "certs").mkdir()
    key, cert = d / "certs" / "localhost.key", d / "certs" / "localhost.pem"
    tpl = d / "cert.tpl"
    tpl.write_text("cn = localhost\ndns_name = localhost\nexpiration_days = 30\n"
                   "tls_www_server\nsigning_key\nencryption_key\n")
    subprocess.run(["certtool", "--generate-privkey", "--key-type=ecdsa",
                    "--outfile", str(key)], check=True, capture_output=True)
    subprocess.run(["certtool", "--generate-self-signed", "--load-privkey", str(key),
                    "--template", str(tpl), "--outfile", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def suite_config(d, c2s_port):
    """etc/xmppd.xml as shipped, with the state in d and loopback ports."""
    make_cert(d)
    text = (REPO / "etc" / "xmppd.xml").read_text()
    text = text.replace("<state-dir>/var/lib/xmppd</state-dir>", f"<state-dir>{d}</state-dir>")
    text = text.replace("127.0.0.1:5347", f"127.0.0.1:{free_port()}")
    text = text.replace('secret="change-me"', 'secret="e2e-secret"')
    text = text.replace('<listen tcp="0.0.0.0:5222"/>', f'<listen tcp="127.0.0.1:{c2s_port}"/>')
    text = text.replace('<listen tls="0.0.0.0:5223"/>', f'<listen tls="127.0.0.1:{free_port()}"/>')
    path = d / "xmppd.xml"
    path.write_text(text)
    return path, d / "certs" / "localhost.pem"


def ctl(conf, *args, stdin=None):
    return subprocess.run([str(CTL), "-c", str(conf), *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def running_suite(tmp_path):
    port = free_port()
    conf, cert = suite_config(tmp_path, port)
    r = ctl(conf, "start")
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        for user, pw in (("alice@localhost", "alice-pw"), ("bob@localhost", "bob-pw")):
            r = ctl(conf, "adduser", user, stdin=pw + "\n")
            assert r.returncode == 0, r.stderr
        yield port, cert, conf
    finally:
        r = ctl(conf, "stop")
        assert r.returncode == 0, r.stdout + r.stderr


def chat(port, cert, scenario):
    r = subprocess.run([sys.executable, str(HERE / "e2e_chat.py"), str(port), str(cert),
                        scenario], capture_output=True, text=True, timeout=60)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    assert lines, r.stdout + r.stderr
    return json.loads(lines[-1])


@pytest.mark.time_limit(120)
def test_two_users_chat(running_suite):
    port, cert, conf = running_suite
    got = chat(port, cert, "chat")
    assert got["alice_login"] and got["bob_login"], got
    assert got["bob_got"] == {"from": "alice@localhost/desk", "body": "hello bob",
                              "delayed": False}, got
    status = ctl(conf, "status")
    assert status.returncode == 0, status.stdout
    lines = status.stdout.splitlines()
    for name in ("router", "store", "sm", "c2s"):
        assert any(ln.split()[:2] == [name, "running"] for ln in lines if ln.split()), \
            status.stdout


@pytest.mark.time_limit(120)
def test_a_message_to_an_offline_user_waits_for_the_login(running_suite):
    port, cert, _ = running_suite
    got = chat(port, cert, "offline")
    assert got["alice_login"] and got["bob_login"], got
    assert got["bob_got"] == {"from": "alice@localhost/desk", "body": "while you were away",
                              "delayed": True}, got


@pytest.mark.time_limit(120)
def test_a_second_login_with_the_same_resource_replaces_the_first(running_suite):
    """RFC 6120 §7.7.2.2: the older stream ends with <conflict/>, and the
    full JID's stanzas go to the newer one, both on the same c2s."""
    port, cert, _ = running_suite
    got = chat(port, cert, "replace")
    assert got["alice_login"] and got["old_bob_login"] and got["bob_login"], got
    assert got["old_bob_error"] == "conflict", got
    assert got["old_bob_got"] is None, got
    assert got["bob_got"] == {"from": "alice@localhost/desk", "body": "to the new one",
                              "delayed": False}, got


@pytest.mark.time_limit(120)
def test_carbons_copy_a_conversation_to_the_other_resource(running_suite):
    """XEP-0280 with slixmpp's own plugin: bob's laptop sees what his phone
    receives and sends."""
    port, cert, _ = running_suite
    got = chat(port, cert, "carbons")
    assert got["alice_login"] and got["bob_login"] and got["laptop_login"], got
    assert got["received"] == {"from": "alice@localhost/desk", "to": "bob@localhost/phone",
                               "body": "to the phone"}, got
    assert got["sent"] == {"from": "bob@localhost/phone", "to": "alice@localhost/desk",
                           "body": "from the phone"}, got


@pytest.mark.time_limit(120)
def test_go_sendxmpp_sends_over_starttls(running_suite):
    port, cert, _ = running_suite
    # go-sendxmpp logs in (STARTTLS, SCRAM), sends, and leaves; bob is
    # offline, so the message waits for him.
    r = subprocess.run(["go-sendxmpp", "-u", "alice@localhost", "-p", "alice-pw",
                        "-j", f"127.0.0.1:{port}", "-n", "bob@localhost"],
                       input="sent by go-sendxmpp\n", capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    got = chat(port, cert, "receive")
    assert got["bob_login"], got
    assert got["bob_got"]["body"] == "sent by go-sendxmpp", got
    assert got["bob_got"]["from"].startswith("alice@localhost/"), got
    assert got["bob_got"]["delayed"], got
