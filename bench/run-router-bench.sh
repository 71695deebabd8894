#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run-router-bench.sh: the same XEP-0114 load against xmppd-router and
# against Debian's Prosody, RUNS times each, alternating; prints the medians
# side by side with the ratios xmppd/prosody. See bench/README.md.
#
# Environment (defaults in brackets):
#   XMPPD_BUILD   build directory [REPO/build-bench], configured as Release
#   XMPPD_ROUTER  router binary to use instead of building one
#   K W PAYLOAD   components [4], window [2000], body bytes [100]
#   WARMUP DURATION  seconds [2] [10]
#   RUNS          runs per server [3]
#   SERVERS       which to run ["xmppd prosody"]
#   PROSODY_GC    Prosody's Lua GC: generational (its fastest here) or
#                 incremental (Prosody 0.12's default) [generational]
#   KEEP=1        keep the temporary folder with configs and logs
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${XMPPD_BUILD:-$ROOT/build-bench}
K=${K:-4}
W=${W:-2000}
PAYLOAD=${PAYLOAD:-100}
WARMUP=${WARMUP:-2}
DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
SERVERS=${SERVERS:-xmppd prosody}
PROSODY_GC=${PROSODY_GC:-generational}
SECRET=bench-secret-$$
LOAD=$BUILD/bin/xmppd-bench-component

say() { printf '%s\n' "$*" >&2; }
die() { say "run-router-bench: $*"; exit 1; }

TMP=$(mktemp -d /tmp/xmppd-router-bench.XXXXXX)
SERVER_PID=
cleanup() {
    stop_server
    if [ "${KEEP:-0}" = 1 ]; then
        say "kept $TMP"
    else
        rm -rf "$TMP"
    fi
}
# Stops the server this script started, by its PID only.
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Binaries --------------------------------------------------------------

build() {
    if [ ! -f "$BUILD/CMakeCache.txt" ]; then
        cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    fi
    cmake --build "$BUILD" --target "$@" -- -j2 >"$TMP/build.log" 2>&1
}

build xmppd-bench-component || { cat "$TMP/build.log" >&2; die "cannot build the load tool"; }

ROUTER=
if [[ " $SERVERS " == *" xmppd "* ]]; then
    if [ -n "${XMPPD_ROUTER:-}" ]; then
        ROUTER=$XMPPD_ROUTER
    elif build xmppd-router; then
        ROUTER=$BUILD/bin/xmppd-router
    else
        tail -n 30 "$TMP/build.log" >&2
        die "cannot build xmppd-router in $BUILD (set XMPPD_ROUTER to use a built one)"
    fi
    [ -x "$ROUTER" ] || die "no router binary at $ROUTER"
fi

if [[ " $SERVERS " == *" prosody "* ]]; then
    if ! dpkg-query -W -f='${Status}' prosody 2>/dev/null | grep -q 'ok installed'; then
        say "installing Debian's prosody package"
        # Keep the package's own service from starting (and listening on
        # every interface): the benchmark starts its own instance.
        made_policy=0
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod +x /usr/sbin/policy-rc.d
            made_policy=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y prosody >&2 || true
        [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    fi
    [ -x /usr/bin/prosody ] || die "/usr/bin/prosody is missing"
    dpkg -S /usr/bin/prosody 2>/dev/null | grep -q '^prosody:' ||
        die "/usr/bin/prosody does not come from Debian's prosody package"
fi

# --- Servers ---------------------------------------------------------------

. "$ROOT/bench/ports.sh"
. "$ROOT/bench/report.sh"

# Waits up to 10 s for pid to listen on port; fails if it died first.
wait_listening() {
    local pid=$1 port=$2
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 1
        [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    return 1
}

# The server must listen on loopback only.
check_loopback() {
    local pid=$1 others
    others=$(ss -Htlnp 2>/dev/null | grep "pid=$pid," | awk '{print $4}' |
        grep -v -E '^(127\.0\.0\.1|\[::1\]):' || true)
    [ -z "$others" ] || { say "server $pid also listens on: $others"; return 1; }
}

start_xmppd() {
    local dir=$TMP/xmppd-$1 port=$2
    mkdir -p "$dir"
    {
        echo '<?xml version="1.0" encoding="UTF-8"?>'
        echo '<xmppd>'
        echo '  <domain>localhost</domain>'
        echo "  <state-dir>$dir</state-dir>"
        echo '  <log level="warn" to="stderr"/>'
        echo '  <router>'
        echo "    <listen tcp=\"127.0.0.1:$port\"/>"
        echo '    <control unix="router.ctl"/>'
        echo '    <limits rate="1G" burst="1G" send-queue="64M"/>'
        for i in $(seq 0 $((K - 1))); do
            echo "    <component name=\"bench$i.localhost\" secret=\"$SECRET\"/>"
        done
        echo '  </router>'
        echo '</xmppd>'
    } >"$dir/xmppd.xml"
    "$ROUTER" -c "$dir/xmppd.xml" 2>"$dir/server.log" &
    SERVER_PID=$!
    SERVER_LOG=$dir/server.log
}

start_prosody() {
    local dir=$TMP/prosody-$1 port=$2
    mkdir -p "$dir/data" "$dir/certs"
    {
        echo '-- generated by bench/run-router-bench.sh'
        echo 'run_as_root = true -- a throwaway instance in a temporary folder'
        echo 'daemonize = false'
        echo "pidfile = \"$dir/prosody.pid\""
        echo "data_path = \"$dir/data\""
        echo "certificates = \"$dir/certs\""
        echo "log = { { levels = { min = \"warn\" }, to = \"file\", filename = \"$dir/server.log\" } }"
        if [ "$PROSODY_GC" != default ]; then
            echo "gc = { mode = \"$PROSODY_GC\" }"
        fi
        echo 'modules_enabled = { }'
        echo 'modules_disabled = { "offline", "c2s", "s2s" }'
        echo 'interfaces = { "127.0.0.1" }'
        echo 'c2s_ports = { }'
        echo 's2s_ports = { }'
        echo 'http_ports = { }'
        echo 'https_ports = { }'
        echo "component_ports = { $port }"
        echo 'component_interface = "127.0.0.1"'
        echo 'VirtualHost "localhost" -- Prosody will not start without one'
        for i in $(seq 0 $((K - 1))); do
            echo "Component \"bench$i.localhost\""
            echo "    component_secret = \"$SECRET\""
        done
    } >"$dir/prosody.cfg.lua"
    /usr/bin/prosody --config "$dir/prosody.cfg.lua" -F >"$dir/stdout.log" 2>&1 &
    SERVER_PID=$!
    SERVER_LOG=$dir/server.log
}

# run SERVER N: one measured run; appends its RESULT line to $TMP/SERVER.results.
run_one() {
    local server=$1 n=$2 port out limit rc=0
    port=$(free_port)
    "start_$server" "$n" "$port"
    if ! wait_listening "$SERVER_PID" "$port"; then
        say "$server run $n: the server did not start listening on 127.0.0.1:$port"
        tail -n 20 "$SERVER_LOG" "$(dirname "$SERVER_LOG")"/stdout.log 2>/dev/null >&2 || true
        stop_server
        return 1
    fi
    check_loopback "$SERVER_PID" || { stop_server; return 1; }
    out=$TMP/$server-$n.out
    # The tool ends by itself; this only bounds a tool that hangs.
    limit=$(awk -v a="$WARMUP" -v b="$DURATION" 'BEGIN { print int(a + b + 40) }')
    timeout "$limit" "$LOAD" --port "$port" --secret "$SECRET" \
        --server-pid "$SERVER_PID" --components "$K" --window "$W" \
        --payload "$PAYLOAD" --warmup "$WARMUP" --duration "$DURATION" \
        --name "$server" >"$out" 2>"$out.err" || rc=$?
    local alive=yes
    kill -0 "$SERVER_PID" 2>/dev/null || alive=no
    stop_server
    sed 's/^/    /' "$out" >&2
    if [ "$rc" != 0 ] || ! grep -q '^RESULT ' "$out"; then
        say "  $server run $n FAILED (load tool exit $rc, server alive: $alive)"
        sed 's/^/    /' "$out.err" | head -n 20 >&2
        say "  server log (last lines):"
        tail -n 20 "$SERVER_LOG" 2>/dev/null | sed 's/^/    /' >&2 || true
        return 1
    fi
    grep '^RESULT ' "$out" >>"$TMP/$server.results"
}

# field FILE KEY: the KEY= values of every RESULT line in FILE.
field() {
    sed -n "s/.* $2=\\([^ ]*\\).*/\\1/p" "$1"
}

median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0 || v[1] == "NA") { print "NA"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# --- Runs ------------------------------------------------------------------

say "router bench: K=$K W=$W payload=$PAYLOAD warmup=${WARMUP}s measure=${DURATION}s runs=$RUNS"
say "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$ROUTER" ] && say "xmppd:   $ROUTER"
[[ " $SERVERS " == *" prosody "* ]] &&
    say "prosody: $(dpkg-query -W -f='${Version}' prosody), lua gc $PROSODY_GC"

failures=0
for n in $(seq "$RUNS"); do
    for server in $SERVERS; do
        say "--- $server run $n of $RUNS (load average $(cut -d' ' -f1 /proc/loadavg))"
        run_one "$server" "$n" || failures=$((failures + 1))
    done
done

declare -A med
for server in $SERVERS; do
    f=$TMP/$server.results
    touch "$f"
    med[$server.ok]=$(wc -l <"$f")
    for key in stanzas_per_s p50_us p99_us cpu_s_per_M load_cpu_s_per_M; do
        med[$server.$key]=$(field "$f" "$key" | median)
    done
done

echo
printf '%-28s %14s %14s %14s\n' "medians of $RUNS runs" "xmppd-router" "prosody" "xmppd/prosody"
row() {
    local label=$1 key=$2 x=${med[xmppd.$2]:-NA} p=${med[prosody.$2]:-NA}
    printf '%-28s %14s %14s %14s\n' "$label" "$x" "$p" "$(ratio "$x" "$p")"
}
row "stanzas/s" stanzas_per_s
row "p50 latency (us)" p50_us
row "p99 latency (us)" p99_us
row "server CPU s per M stanzas" cpu_s_per_M
row "load CPU s per M stanzas" load_cpu_s_per_M
printf '%-28s %14s %14s\n' "runs completed" "${med[xmppd.ok]:-0}/$RUNS" "${med[prosody.ok]:-0}/$RUNS"

x=${med[xmppd.stanzas_per_s]:-NA}
p=${med[prosody.stanzas_per_s]:-NA}
if [ "$x" != NA ]; then
    echo
    awk -v x="$x" 'BEGIN { printf "target >= 300000 stanzas/s through the router: %s\n", (x >= 300000 ? "met" : "NOT met") }'
    if [ "$p" != NA ]; then
        awk -v x="$x" -v p="$p" 'BEGIN { printf "target >= 5x Prosody: %s (%.2fx)\n", (x >= 5 * p ? "met" : "NOT met"), x / p }'
    fi
fi
[ "$failures" = 0 ] || { say "$failures run(s) failed"; exit 1; }
