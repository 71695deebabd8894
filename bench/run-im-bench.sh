#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run-im-bench.sh: the same client load (xmppd-bench-client) against
# the whole xmppd suite (router, store, sm, c2s) and against Debian's
# Prosody; prints the figures side by side with the ratios xmppd/prosody.
# See bench/README.md.
#
# Environment (defaults in brackets):
#   XMPPD_BUILD  build directory [REPO/build-imbench], configured as Release
#   N C          clients [1000], logins in flight [200]
#   P W          message pairs [500], window per sender [8]
#   IDLE DURATION  idle seconds after login [3], messaging seconds [10]
#   JOBS         parallel account creations [8]
#   SERVERS      which to run ["xmppd prosody"]
#   KEEP=1       keep the temporary folder with configs and logs
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${XMPPD_BUILD:-$ROOT/build-imbench}
N=${N:-1000}
C=${C:-200}
P=${P:-500}
W=${W:-8}
IDLE=${IDLE:-3}
DURATION=${DURATION:-10}
JOBS=${JOBS:-8}
SERVERS=${SERVERS:-xmppd prosody}
TOOL=$BUILD/bin/xmppd-bench-client

say() { printf '%s\n' "$*" >&2; }
die() { say "run-im-bench: $*"; exit 1; }

TMP=$(mktemp -d /tmp/xmppd-im-bench.XXXXXX)
XMPPD_CONF=
PROSODY_PID=
cleanup() {
    stop_xmppd
    stop_prosody
    if [ "${KEEP:-0}" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
}
stop_xmppd() {
    [ -n "$XMPPD_CONF" ] || return 0
    "$BUILD/bin/xmppdctl" -c "$XMPPD_CONF" stop >/dev/null 2>&1 || true
    XMPPD_CONF=
}
# Stops the Prosody this script started, by its PID only.
stop_prosody() {
    [ -n "$PROSODY_PID" ] || return 0
    kill "$PROSODY_PID" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$PROSODY_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$PROSODY_PID" 2>/dev/null || true
    wait "$PROSODY_PID" 2>/dev/null || true
    PROSODY_PID=
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
[ "$P" -le $((N / 2)) ] || P=$((N / 2))

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" -j2 --target xmppd-bench-client xmppd-router \
    xmppd-store xmppd-sm xmppd-c2s xmppdctl >"$TMP/build.log" 2>&1 ||
    { tail -n 30 "$TMP/build.log" >&2; die "build failed in $BUILD"; }

. "$ROOT/bench/ports.sh"
. "$ROOT/bench/report.sh"

wait_listening() {
    local port=$1
    for _ in $(seq 100); do
        [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    return 1
}

make_cert() {
    local d=$1
    mkdir -p "$d/certs"
    printf 'cn = localhost\ndns_name = localhost\nexpiration_days = 30\ntls_www_server\nsigning_key\nencryption_key\n' >"$d/cert.tpl"
    certtool --generate-privkey --key-type=ecdsa --outfile "$d/certs/localhost.key" >/dev/null 2>&1
    certtool --generate-self-signed --load-privkey "$d/certs/localhost.key" \
        --template "$d/cert.tpl" --outfile "$d/certs/localhost.pem" >/dev/null 2>&1
}

# run_tool NAME PORT PIDS: the load, bounded in time.
run_tool() {
    local name=$1 port=$2 pids=$3 limit
    limit=$(awk -v i="$IDLE" -v d="$DURATION" 'BEGIN { print int(i + d + 180) }')
    timeout "$limit" "$TOOL" --port "$port" --clients "$N" --concurrency "$C" \
        --pairs "$P" --window "$W" --idle "$IDLE" --duration "$DURATION" \
        --pids "$pids" --name "$name" >"$TMP/$name.out" 2>"$TMP/$name.err" || true
    sed 's/^/    /' "$TMP/$name.out" "$TMP/$name.err" >&2
    grep '^RESULT ' "$TMP/$name.out" >"$TMP/$name.result" || true
}

bench_xmppd() {
    local d=$TMP/xmppd port t0
    mkdir -p "$d"
    make_cert "$d"
    port=$(free_port)
    sed -e "s|<state-dir>/var/lib/xmppd</state-dir>|<state-dir>$d</state-dir>|" \
        -e "s|127.0.0.1:5347|127.0.0.1:$(free_port)|" \
        -e "s|secret=\"change-me\"|secret=\"im-bench-$$\"|" \
        -e "s|<listen tcp=\"0.0.0.0:5222\"/>|<listen tcp=\"127.0.0.1:$port\"/>|" \
        -e "s|<listen tls=\"0.0.0.0:5223\"/>|<listen tls=\"127.0.0.1:$(free_port)\"/>|" \
        -e 's|<log level="info" to="stderr"/>|<log level="warn" to="file"/>|' \
        -e 's|rate="64k" burst="256k"|rate="16M" burst="32M"|' \
        -e 's|max-connections-per-address="32"|max-connections-per-address="100000"|' \
        -e 's|max-connections-per-address="256"|max-connections-per-address="100000"|' \
        "$ROOT/etc/xmppd.xml" >"$d/xmppd.xml"
    XMPPD_CONF=$d/xmppd.xml
    "$BUILD/bin/xmppdctl" -c "$XMPPD_CONF" start >"$d/start.log" 2>&1 ||
        { cat "$d/start.log" >&2; return 1; }
    wait_listening "$port" || { say "xmppd c2s is not listening"; return 1; }
    t0=$(date +%s.%N)
    seq 0 $((N - 1)) | xargs -P "$JOBS" -I{} sh -c \
        'echo pw | "$0" -c "$1" adduser u{}@localhost >/dev/null' \
        "$BUILD/bin/xmppdctl" "$XMPPD_CONF" || { say "adduser failed"; return 1; }
    say "  xmppd: $N accounts in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
    local pids
    pids=$(cat "$d"/run/*.pid 2>/dev/null | paste -sd, -)
    say "  xmppd PIDs: $pids"
    run_tool xmppd "$port" "$pids"
    stop_xmppd
}

bench_prosody() {
    local d=$TMP/prosody port t0
    mkdir -p "$d/data"
    make_cert "$d"
    port=$(free_port)
    {
        echo '-- generated by bench/run-im-bench.sh'
        echo 'run_as_root = true -- a throwaway instance in a temporary folder'
        echo 'daemonize = false'
        echo "pidfile = \"$d/prosody.pid\""
        echo "data_path = \"$d/data\""
        echo "log = { { levels = { min = \"warn\" }, to = \"file\", filename = \"$d/server.log\" } }"
        echo 'modules_enabled = { "roster", "saslauth", "tls", "disco", "ping" }'
        echo 'modules_disabled = { "s2s" }'
        echo 'authentication = "internal_hashed"'
        echo 'default_iteration_count = 4096 -- as xmppdctl adduser'
        echo 'c2s_require_encryption = true'
        echo 'interfaces = { "127.0.0.1" }'
        echo "c2s_ports = { $port }"
        echo 'c2s_direct_tls_ports = { }'
        echo 's2s_ports = { }'
        echo 'http_ports = { }'
        echo 'https_ports = { }'
        echo 'component_ports = { }'
        echo "ssl = { certificate = \"$d/certs/localhost.pem\", key = \"$d/certs/localhost.key\" }"
        echo 'VirtualHost "localhost"'
    } >"$d/prosody.cfg.lua"
    t0=$(date +%s.%N)
    seq 0 $((N - 1)) | xargs -P "$JOBS" -I{} \
        prosodyctl --config "$d/prosody.cfg.lua" register u{} localhost pw >/dev/null 2>&1 ||
        { say "prosodyctl register failed"; return 1; }
    say "  prosody: $N accounts in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
    /usr/bin/prosody --config "$d/prosody.cfg.lua" -F >"$d/stdout.log" 2>&1 &
    PROSODY_PID=$!
    wait_listening "$port" || { say "prosody is not listening"; tail "$d/stdout.log" "$d/server.log" >&2 || true; return 1; }
    run_tool prosody "$port" "$PROSODY_PID"
    stop_prosody
}

say "im bench: N=$N C=$C P=$P W=$W idle=${IDLE}s messaging=${DURATION}s, $(nproc) cores"
for s in $SERVERS; do
    say "--- $s"
    "bench_$s" || say "  $s run failed"
done

report_header "N=$N P=$P W=$W"
report_row "clients logged in" logged_in
report_row "logins/s" logins_per_s
report_row "login p50 (ms)" login_p50_ms
report_row "login p99 (ms)" login_p99_ms
report_row "server kB per connection" kb_per_conn
report_row "messages/s" msgs_per_s
report_row "message p50 (us)" msg_p50_us
report_row "message p99 (us)" msg_p99_us
report_row "messages lost" lost
report_zero_loss
