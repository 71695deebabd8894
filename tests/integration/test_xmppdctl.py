# SPDX-License-Identifier: MIT
"""xmppdctl, the supervisor: start, stop, restart, status and check-config.

Most tests run the supervisor over stand-in programs: small shell scripts
named xmppd-NAME, placed next to a copy of xmppdctl in a temp dir, that log
what happens to them into an events file. They exercise the supervisor's own
logic (start order, restarts with backoff, stop order, stale PID files,
foreground mode). One test runs the real xmppd-router.

The build directory comes from $XMPPD_BUILD (default /work/main/build), as
conftest.py reads it. Every test stops what it started, by PID.
"""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BUILD_DIR, ROUTER_BIN, ComponentDef, RawComponent, \
    free_port

XMPPDCTL = BUILD_DIR / "bin" / "xmppdctl"
ROUTER = ROUTER_BIN

# A process of the suite as far as the supervisor can tell: it runs until
# SIGTERM, logs start/term/hup to ../events, exits 3 when NAME.crash appears.
STAND_IN = r"""#!/bin/sh
name=$(basename "$0"); name=${name#xmppd-}
top=$(cd "$(dirname "$0")/.." && pwd)
for a in "$@"; do [ "$a" = --check-config ] && exit 0; done
echo "start $name $$" >> "$top/events"
echo "$name: up as pid $$ with $*"
trap 'echo "term $name $$" >> "$top/events"; exit 0' TERM
trap 'echo "hup $name $$" >> "$top/events"' HUP
while :; do
    if [ -e "$top/$name.crash" ]; then
        rm -f "$top/$name.crash"
        echo "$name: crashing on purpose" >&2
        exit 3
    fi
    sleep 0.1
done
"""

# Dies at once, as a process with a broken config or a busy port would.
DIES_AT_START = r"""#!/bin/sh
for a in "$@"; do [ "$a" = --check-config ] && exit 0; done
echo "cannot bind 127.0.0.1:1: permission denied" >&2
exit 1
"""

# Finds fault with its section, the way every xmppd process reports it.
PICKY = r"""#!/bin/sh
for a in "$@"; do
    if [ "$a" = --check-config ]; then
        echo "$2:9: picky: port \"52x2\" is not a number" >&2
        exit 1
    fi
done
exec sleep 30
"""

# Ignores SIGTERM, so only SIGKILL stops it.
STUBBORN = r"""#!/bin/sh
top=$(cd "$(dirname "$0")/.." && pwd)
trap 'echo "ignored-term stubborn $$" >> "$top/events"' TERM
echo "start stubborn $$" >> "$top/events"
while :; do sleep 0.1; done
"""


def pid_alive(pid):
    """Alive and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace").split("\0")
    except (FileNotFoundError, ProcessLookupError):
        return []


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Suite:
    """One temp install: bin/ with xmppdctl and the programs, a config file
    and a state directory (relative to the config, as operators write it)."""

    def __init__(self, root):
        if not XMPPDCTL.exists():
            pytest.fail(f"{XMPPDCTL} is missing: build the xmppdctl target "
                        f"or set XMPPD_BUILD")
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir()
        # A copy, not a link: xmppdctl finds programs next to its own
        # executable, which /proc/self/exe resolves through links.
        shutil.copy2(XMPPDCTL, self.bin / "xmppdctl")
        self.state = root / "state"
        self.config = root / "xmppd.xml"
        self.events = root / "events"
        self.seen = set()
        self.foreground = []

    def program(self, name, text=STAND_IN):
        path = self.bin / f"xmppd-{name}"
        path.write_text(text)
        path.chmod(0o755)

    def link_program(self, name, target):
        (self.bin / f"xmppd-{name}").symlink_to(target)

    def write_config(self, names, body="", state="state"):
        procs = "".join(f'    <process name="{n}"/>\n' for n in names)
        self.config.write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            "<xmppd>\n"
            "  <domain>localhost</domain>\n"
            f"  <state-dir>{state}</state-dir>\n"
            '  <log level="debug" to="stderr"/>\n'
            "  <run>\n"
            f"{procs}"
            "  </run>\n"
            f"{body}"
            "</xmppd>\n")

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items() if k != "XMPPD_CONFIG"}
        env["PATH"] = "/usr/bin:/bin"
        env.update(extra)
        return env

    def ctl(self, *args, timeout=60, config=True, env=None):
        argv = [str(self.bin / "xmppdctl")]
        if config:
            argv += ["-c", str(self.config)]
        argv += list(args)
        result = subprocess.run(argv, capture_output=True, text=True,
                                timeout=timeout, env=env or self.env(),
                                stdin=subprocess.DEVNULL)
        self.note_pids()
        return result

    def start_foreground(self, *extra):
        proc = subprocess.Popen(
            [str(self.bin / "xmppdctl"), "-c", str(self.config), "start",
             "--foreground", *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, env=self.env())
        self.foreground.append(proc)
        self.seen.add(proc.pid)
        return proc

    def pid_file(self, name):
        return self.state / "run" / f"{name}.pid"

    def pid(self, name):
        try:
            pid = int(self.pid_file(name).read_text().strip() or 0)
        except FileNotFoundError:
            return None
        if pid:
            self.seen.add(pid)
        return pid or None

    def note_pids(self):
        run = self.state / "run"
        if run.is_dir():
            for f in run.glob("*.pid"):
                self.pid(f.stem)

    def running_pid(self, name):
        """The pid of NAME once its PID file names a live process."""
        pid = self.pid(name)
        return pid if pid and pid_alive(pid) else None

    def event_lines(self):
        try:
            return self.events.read_text().splitlines()
        except FileNotFoundError:
            return []

    def log(self, name="xmppdctl"):
        try:
            return (self.state / "log" / f"{name}.log").read_text()
        except FileNotFoundError:
            return ""

    def ours(self, pid):
        """True when pid runs a program of this temp install."""
        return any(str(self.root) in arg for arg in cmdline(pid))

    def cleanup(self):
        for proc in self.foreground:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self.config.exists():
            try:
                self.ctl("stop", timeout=45)
            except subprocess.TimeoutExpired:
                pass
        self.note_pids()
        for pid in self.seen:
            if pid_alive(pid) and self.ours(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def suite(tmp_path):
    s = Suite(tmp_path)
    try:
        yield s
    finally:
        s.cleanup()


# ---- arguments and help ----

def test_help_is_a_manual(suite):
    for args in (["--help"], ["-h"], ["help"]):
        r = suite.ctl(*args, config=False)
        assert r.returncode == 0, r.stderr
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS",
                        "OPTIONS", "FILES", "ENVIRONMENT", "EXIT STATUS",
                        "EXAMPLES"):
            assert re.search(rf"^{section}$", r.stdout, re.M), section
        assert "check-config" in r.stdout and "XMPPD_CONFIG" in r.stdout


def test_unknown_command_prints_usage_and_exits_2(suite):
    r = suite.ctl("frobnicate", config=False)
    assert r.returncode == 2
    assert "unknown command 'frobnicate'" in r.stderr
    assert "usage: xmppdctl" in r.stderr and r.stdout == ""
    r = suite.ctl(config=False)
    assert r.returncode == 2 and "usage:" in r.stderr
    r = suite.ctl("--bogus", "status", config=False)
    assert r.returncode == 2 and "unknown option" in r.stderr


# ---- config ----

def test_config_errors_are_file_and_line(suite):
    suite.config.write_text("<xmppd>\n  <state-dir>s</state-dir>\n  <run>\n"
                            "    <process nam='router'/>\n  </run>\n</xmppd>\n")
    for command in ("status", "start", "stop", "check-config"):
        r = suite.ctl(command)
        assert r.returncode == 1, (command, r.stdout, r.stderr)
        assert re.search(rf"^{re.escape(str(suite.config))}:4: ", r.stderr,
                         re.M), (command, r.stderr)


def test_config_without_run_is_an_error(suite):
    suite.config.write_text("<xmppd>\n  <state-dir>s</state-dir>\n</xmppd>\n")
    r = suite.ctl("check-config")
    assert r.returncode == 1
    assert re.search(r"xmppd\.xml:\d+: .*<run>", r.stderr), r.stderr


def test_duplicate_process_is_an_error(suite):
    suite.program("sleeper")
    suite.write_config(["sleeper", "sleeper"])
    r = suite.ctl("check-config")
    assert r.returncode == 1
    assert "xmppd.xml:8: run: process \"sleeper\" is listed twice (first on " \
           "line 7)" in r.stderr, r.stderr


def test_config_comes_from_the_environment(suite):
    suite.program("sleeper")
    suite.write_config(["sleeper"])
    r = suite.ctl("check-config", config=False,
                  env=suite.env(XMPPD_CONFIG=str(suite.config)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{suite.config}: ok"


def test_check_config_runs_each_process_check(suite):
    suite.program("sleeper")
    suite.program("picky", PICKY)
    suite.write_config(["sleeper", "picky"])
    r = suite.ctl("check-config")
    assert r.returncode == 1
    assert f'{suite.config}:9: picky: port "52x2" is not a number' in r.stderr
    assert ": ok" not in r.stdout


def test_check_config_names_a_missing_program(suite):
    suite.program("sleeper")
    suite.write_config(["sleeper", "nosuch"])
    r = suite.ctl("check-config")
    assert r.returncode == 1
    assert re.search(r"xmppd\.xml:8: run: no program xmppd-nosuch in ",
                     r.stderr), r.stderr
    r = suite.ctl("start")
    assert r.returncode == 1 and "xmppd-nosuch" in r.stderr
    assert not suite.pid_file("xmppdctl").exists()


# ---- start, status, stop ----

def test_start_status_stop(suite):
    suite.program("alpha")
    suite.program("beta")
    suite.write_config(["alpha", "beta"])

    r = suite.ctl("status")
    assert r.returncode == 3
    assert re.search(r"^xmppdctl\s+not running$", r.stdout, re.M), r.stdout

    r = suite.ctl("start")
    assert r.returncode == 0, r.stdout + r.stderr
    alpha, beta = suite.pid("alpha"), suite.pid("beta")
    assert f"started alpha (pid {alpha})" in r.stdout
    assert f"started beta (pid {beta})" in r.stdout
    assert r.stdout.index("started alpha") < r.stdout.index("started beta")
    supervisor = suite.pid("xmppdctl")
    assert pid_alive(supervisor) and pid_alive(alpha) and pid_alive(beta)
    assert (suite.state / "log").is_dir()
    # Each child gets the absolute config path, and its output is logged.
    wait_for(lambda: "alpha: up as pid" in suite.log("alpha"), 5,
             "alpha's output in alpha.log")
    assert f"-c {suite.config}" in suite.log("alpha")
    assert [line.split()[:2] for line in suite.event_lines()] == [
        ["start", "alpha"], ["start", "beta"]]

    r = suite.ctl("status")
    assert r.returncode == 0, r.stdout
    assert re.search(rf"^xmppdctl\s+running \(pid {supervisor}, up [\d.]+s\)",
                     r.stdout, re.M), r.stdout
    assert re.search(rf"^alpha\s+running \(pid {alpha}, up ", r.stdout, re.M)
    assert re.search(rf"^beta\s+running \(pid {beta}, up ", r.stdout, re.M)
    status = (suite.state / "run" / "status").read_text()
    assert f"process name=alpha state=running pid={alpha} restarts=0" in status

    r = suite.ctl("stop")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"stopped xmppdctl (pid {supervisor})" in r.stdout
    for pid in (supervisor, alpha, beta):
        assert not pid_alive(pid)
    # Reverse order on the way down.
    terms = [line.split()[1] for line in suite.event_lines()
             if line.startswith("term")]
    assert terms == ["beta", "alpha"]
    assert sorted(p.name for p in (suite.state / "run").iterdir()) == []
    log = suite.log()
    assert log.index("stopped beta") < log.index("stopped alpha")

    r = suite.ctl("status")
    assert r.returncode == 3
    r = suite.ctl("stop")
    assert r.returncode == 0 and "not running" in r.stdout


def test_start_refuses_a_second_supervisor(suite):
    suite.program("sleeper")
    suite.write_config(["sleeper"])
    assert suite.ctl("start").returncode == 0
    supervisor = suite.pid("xmppdctl")
    r = suite.ctl("start")
    assert r.returncode == 1
    assert f"already running (supervisor pid {supervisor})" in r.stderr
    r = suite.ctl("start", "-f", timeout=10)
    assert r.returncode == 1 and "already running" in r.stderr
    assert suite.pid("xmppdctl") == supervisor and pid_alive(supervisor)


def test_process_dying_at_start_fails_start_and_leaves_nothing(suite):
    suite.program("sleeper")
    suite.program("bad", DIES_AT_START)
    suite.write_config(["sleeper", "bad"])
    r = suite.ctl("start")
    assert r.returncode != 0
    assert "started sleeper" in r.stdout
    log_path = suite.state / "log" / "bad.log"
    assert re.search(rf"bad exited with status 1 after [\d.]+s during start; "
                     rf"see {re.escape(str(log_path))}", r.stderr), r.stderr
    assert "cannot bind" in log_path.read_text()
    sleeper = [int(line.split()[2]) for line in suite.event_lines()][0]
    wait_for(lambda: not pid_alive(sleeper), 5, "sleeper to be stopped")
    assert list((suite.state / "run").iterdir()) == []
    assert suite.ctl("status").returncode == 3


def test_restart_after_kill_with_backoff(suite):
    suite.program("sleeper")
    suite.write_config(["sleeper"])
    assert suite.ctl("start").returncode == 0
    first = suite.pid("sleeper")

    os.kill(first, signal.SIGKILL)
    killed_at = time.monotonic()
    second = wait_for(lambda: (p := suite.running_pid("sleeper")) and
                      p != first and p, 5, "the first restart")
    assert time.monotonic() - killed_at >= 0.8
    os.kill(second, signal.SIGKILL)
    killed_at = time.monotonic()
    status = suite.state / "run" / "status"
    wait_for(lambda: "state=backoff pid=0 restarts=2" in status.read_text(),
             5, "the supervisor to see the second kill")
    r = suite.ctl("status")
    assert r.returncode == 3
    assert re.search(r"^sleeper\s+not running \(restarting in [12]s, "
                     r"restarts 2, last killed by SIGKILL\)", r.stdout,
                     re.M), r.stdout
    third = wait_for(lambda: (p := suite.running_pid("sleeper")) and
                     p != second and p, 6, "the second restart")
    assert time.monotonic() - killed_at >= 1.8   # the delay doubled

    log = suite.log()
    assert re.search(r"sleeper killed by SIGKILL after [\d.]+s; restarting "
                     r"in 1s \(restart 1\)", log), log
    assert re.search(r"sleeper killed by SIGKILL after [\d.]+s; restarting "
                     r"in 2s \(restart 2\)", log), log
    assert f"restarted sleeper (pid {third})" in log

    # A plain exit is reported with its status.
    (suite.root / "sleeper.crash").touch()
    wait_for(lambda: "sleeper exited with status 3" in suite.log(), 5,
             "the exit to be logged")
    assert re.search(r"sleeper exited with status 3 after [\d.]+s; "
                     r"restarting in 4s \(restart 3\)", suite.log())
    r = suite.ctl("status")
    assert "restarts 3, last exited with status 3" in r.stdout, r.stdout
    assert "crashing on purpose" in suite.log("sleeper")


def test_stale_pid_files_are_reported_and_never_signalled(suite, spawn):
    suite.program("sleeper")
    suite.write_config(["sleeper"])
    (suite.state / "run").mkdir(parents=True)
    # A live process that is not ours holds the pid in both files.
    bystander = spawn(["sleep", "60"])
    suite.pid_file("sleeper").write_text(f"{bystander.pid}\n")
    suite.pid_file("xmppdctl").write_text(f"{bystander.pid}\n")
    r = suite.ctl("status")
    assert r.returncode == 3
    assert re.search(r"^xmppdctl\s+not running \(stale pid file\)$", r.stdout,
                     re.M), r.stdout
    assert re.search(r"^sleeper\s+not running \(stale pid file\)$", r.stdout,
                     re.M), r.stdout
    r = suite.ctl("stop")
    assert r.returncode == 0, r.stderr
    assert "not running" in r.stdout
    assert bystander.poll() is None, "stop signalled a stranger"
    assert not suite.pid_file("sleeper").exists()

    suite.pid_file("sleeper").write_text(f"{bystander.pid}\n")
    r = suite.ctl("start")
    assert r.returncode == 0, r.stderr
    assert suite.pid("sleeper") != bystander.pid
    assert suite.ctl("status").returncode == 0
    assert suite.ctl("stop").returncode == 0
    assert bystander.poll() is None


def test_stop_without_supervisor_stops_what_it_left(suite):
    suite.program("alpha")
    suite.program("beta")
    suite.write_config(["alpha", "beta"])
    assert suite.ctl("start").returncode == 0
    supervisor = suite.pid("xmppdctl")
    alpha, beta = suite.pid("alpha"), suite.pid("beta")
    os.kill(supervisor, signal.SIGKILL)
    wait_for(lambda: not pid_alive(supervisor), 5, "the supervisor to die")

    r = suite.ctl("status")
    assert r.returncode == 3
    assert re.search(r"^xmppdctl\s+not running \(stale pid file\)$", r.stdout,
                     re.M), r.stdout
    assert re.search(rf"^alpha\s+running \(pid {alpha}", r.stdout, re.M)

    r = suite.ctl("start")
    assert r.returncode == 1
    assert "without a supervisor" in r.stderr and "xmppdctl stop" in r.stderr

    r = suite.ctl("stop")
    assert r.returncode == 0, r.stderr
    assert f"stopped beta (pid {beta})" in r.stdout
    assert r.stdout.index("stopped beta") < r.stdout.index("stopped alpha")
    assert not pid_alive(alpha) and not pid_alive(beta)
    assert list((suite.state / "run").iterdir()) == []


@pytest.mark.time_limit(90)
def test_stop_kills_a_process_that_ignores_sigterm(suite):
    suite.program("stubborn", STUBBORN)
    suite.write_config(["stubborn"])
    assert suite.ctl("start").returncode == 0
    stubborn = suite.pid("stubborn")
    began = time.monotonic()
    r = suite.ctl("stop", timeout=45)
    took = time.monotonic() - began
    assert r.returncode == 0, r.stdout + r.stderr
    assert 9 <= took < 20, took
    assert not pid_alive(stubborn)
    assert any(line.startswith("ignored-term") for line in suite.event_lines())
    assert re.search(rf"stubborn \(pid {stubborn}\) did not stop within 10s; "
                     rf"sending SIGKILL", suite.log())
    assert f"stopped stubborn (pid {stubborn}): killed by SIGKILL" in suite.log()


def test_restart_command_starts_fresh_processes(suite):
    suite.program("sleeper")
    suite.write_config(["sleeper"])
    assert suite.ctl("start").returncode == 0
    old = suite.pid("sleeper"), suite.pid("xmppdctl")
    r = suite.ctl("restart")
    assert r.returncode == 0, r.stderr
    assert "stopped sleeper" in r.stdout and "started sleeper" in r.stdout
    new = suite.pid("sleeper"), suite.pid("xmppdctl")
    assert not set(old) & set(new)
    assert all(pid_alive(p) for p in new)
    assert not any(pid_alive(p) for p in old)


def test_sighup_reaches_every_process(suite):
    suite.program("alpha")
    suite.program("beta")
    suite.write_config(["alpha", "beta"])
    assert suite.ctl("start").returncode == 0
    os.kill(suite.pid("xmppdctl"), signal.SIGHUP)
    wait_for(lambda: sorted(line.split()[1] for line in suite.event_lines()
                            if line.startswith("hup")) == ["alpha", "beta"],
             5, "both processes to get SIGHUP")
    wait_for(lambda: "SIGHUP: log reopened, passed on to 2 processes"
             in suite.log(), 5, "the SIGHUP log line")
    assert suite.ctl("status").returncode == 0


# ---- foreground ----

def test_foreground_shares_the_terminal_and_stops_on_sigterm(suite):
    suite.program("alpha")
    suite.program("beta")
    suite.write_config(["alpha", "beta"])
    proc = suite.start_foreground()
    beta = wait_for(lambda: suite.running_pid("beta"), 10, "beta to start")
    alpha = suite.pid("alpha")
    assert suite.pid("xmppdctl") == proc.pid
    assert suite.ctl("status").returncode == 0
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "alpha: up as pid" in out and "beta: up as pid" in out
    assert re.search(rf"started alpha \(pid {alpha}\)", out)
    assert "SIGTERM: stopping 2 processes in reverse order" in out
    assert out.index("stopped beta") < out.index("stopped alpha")
    assert not pid_alive(alpha) and not pid_alive(beta)
    assert list((suite.state / "run").iterdir()) == []
    assert not (suite.state / "log" / "alpha.log").exists()


def test_foreground_exits_nonzero_when_a_process_dies_at_start(suite):
    suite.program("bad", DIES_AT_START)
    suite.write_config(["bad"])
    proc = suite.start_foreground()
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 1, out
    assert "cannot bind" in out
    assert "bad (pid" in out and "during start" in out


def test_foreground_ctrl_c_stops_everything(suite):
    suite.program("sleeper")
    suite.write_config(["sleeper"])
    proc = suite.start_foreground()
    sleeper = wait_for(lambda: suite.running_pid("sleeper"), 10,
                       "sleeper to start")
    wait_for(lambda: suite.pid("xmppdctl") == proc.pid, 5, "the pid file")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "SIGINT: stopping 1 process" in out
    assert not pid_alive(sleeper)


# ---- the real router ----

@pytest.mark.skipif(not ROUTER.exists(),
                    reason=f"{ROUTER} is not built (set XMPPD_BUILD to a "
                           f"build directory that has it)")
def test_real_router_start_status_stop(suite):
    suite.link_program("router", ROUTER)
    port = free_port()
    echo = ComponentDef("echo.localhost", "secret-echo")
    suite.write_config(["router"], body=(
        "  <router>\n"
        f'    <listen tcp="127.0.0.1:{port}"/>\n'
        '    <control unix="router.ctl"/>\n'
        f"{echo.xml()}"
        "  </router>\n"))
    r = suite.ctl("check-config")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{suite.config}: ok"

    r = suite.ctl("start")
    assert r.returncode == 0, r.stdout + r.stderr + suite.log("router")
    router = suite.pid("router")
    assert f"started router (pid {router})" in r.stdout
    assert (suite.state / "router.ctl").is_socket()

    # status shows the router's own report, indented under it.
    component = RawComponent.tcp(port).attach(echo.name, echo.secret)
    try:
        r = suite.ctl("status")
    finally:
        component.close()
    assert r.returncode == 0, r.stdout
    lines = r.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("router "))
    assert f"running (pid {router}" in lines[at]
    report = [line for line in lines[at + 1:] if line.startswith("    ")]
    assert report, r.stdout
    assert any("echo.localhost" in line for line in report), r.stdout
    assert "(no report" not in r.stdout

    # Killed, it comes back, and the supervisor counts it.
    os.kill(router, signal.SIGKILL)
    wait_for(lambda: (p := suite.running_pid("router")) and p != router, 6,
             "the router to be restarted")
    assert "router killed by SIGKILL" in suite.log()
    r = suite.ctl("status")
    assert "restarts 1, last killed by SIGKILL" in r.stdout, r.stdout

    r = suite.ctl("stop")
    assert r.returncode == 0, r.stderr
    assert list((suite.state / "run").iterdir()) == []


@pytest.mark.skipif(not ROUTER.exists(),
                    reason=f"{ROUTER} is not built (set XMPPD_BUILD to a "
                           f"build directory that has it)")
def test_real_router_config_error_is_reported_with_its_line(suite):
    suite.link_program("router", ROUTER)
    suite.write_config(["router"], body=(
        "  <router>\n"
        '    <listen tcp="127.0.0.1:52x2"/>\n'
        "  </router>\n"))
    r = suite.ctl("check-config")
    assert r.returncode == 1
    assert re.search(rf"{re.escape(str(suite.config))}:10: ", r.stderr), \
        r.stderr
