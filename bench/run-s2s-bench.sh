#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run-s2s-bench.sh: federation load. Users of a.test (127.0.0.2) chat
# with users of b.test (127.0.0.3) over server-to-server streams, first
# between two xmppd suites, then between two Prosody instances; prints the
# figures side by side with the ratios xmppd/prosody. See bench/README.md.
#
# Environment (defaults in brackets):
#   XMPPD_BUILD  build directory [REPO/build-s2sbench], configured as Release
#   N C          clients per domain [1000], logins in flight [200]
#   P W          pairs uI@a.test <-> uI@b.test [200], window per sender [8]
#   IDLE         idle seconds after login [2]
#   WARMUP DURATION  messaging seconds not counted [3], then measured [10]
#   JOBS         parallel account creations [8]
#   SERVERS      which to run ["xmppd prosody"]
#   KEEP=1       keep the temporary folder with configs and logs
#   NOBUILD=1    do not rebuild the servers, use those in XMPPD_BUILD
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${XMPPD_BUILD:-$ROOT/build-s2sbench}
N=${N:-1000}
C=${C:-200}
P=${P:-200}
W=${W:-8}
IDLE=${IDLE:-2}
WARMUP=${WARMUP:-3}
DURATION=${DURATION:-10}
JOBS=${JOBS:-8}
SERVERS=${SERVERS:-xmppd prosody}
TOOL=$BUILD/bin/xmppd-bench-client
DOMAINS=(a.test b.test)
ADDRS=(127.0.0.2 127.0.0.3)

say() { printf '%s\n' "$*" >&2; }
die() { say "run-s2s-bench: $*"; exit 1; }

TMP=$(mktemp -d /tmp/xmppd-s2s-bench.XXXXXX)
XMPPD_CONFS=()
PROSODY_PIDS=()
cleanup() {
    stop_xmppd
    stop_prosody
    if [ "${KEEP:-0}" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
}
# Stops the suites this script started (xmppdctl stops them by their PID files).
stop_xmppd() {
    local conf
    for conf in "${XMPPD_CONFS[@]}"; do
        "$BUILD/bin/xmppdctl" -c "$conf" stop >/dev/null 2>&1 || true
    done
    XMPPD_CONFS=()
}
# Stops the Prosody instances this script started, by their PIDs only.
stop_prosody() {
    local pid
    for pid in "${PROSODY_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PROSODY_PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
[ "$P" -le "$N" ] || P=$N

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
# NOBUILD=1: use the binaries already in $BUILD (say, while s2s/ does not
# build); the load tool is always brought up to date.
if [ "${NOBUILD:-0}" = 1 ]; then TARGETS=xmppd-bench-client; else
    TARGETS="xmppd-bench-client xmppd-router xmppd-store xmppd-sm xmppd-c2s xmppd-s2s xmppdctl"
fi
# shellcheck disable=SC2086
cmake --build "$BUILD" -j2 --target $TARGETS >"$TMP/build.log" 2>&1 ||
    { tail -n 30 "$TMP/build.log" >&2; die "build failed in $BUILD"; }
for b in xmppd-router xmppd-store xmppd-sm xmppd-c2s xmppd-s2s xmppdctl; do
    [ -x "$BUILD/bin/$b" ] || die "$BUILD/bin/$b is missing"
done

. "$ROOT/bench/ports.sh"
. "$ROOT/bench/report.sh"

wait_listening() {
    local addr=$1 port=$2
    for _ in $(seq 150); do
        [ -n "$(ss -Htln "src $addr:$port" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    return 1
}

# make_cert DIR DOMAIN: a self-signed certificate DIR/DOMAIN.pem and key.
make_cert() {
    local d=$1 domain=$2
    mkdir -p "$d"
    printf 'cn = "%s"\ndns_name = "%s"\nexpiration_days = 30\ntls_www_server\ntls_www_client\nsigning_key\nencryption_key\n' \
        "$domain" "$domain" >"$d/$domain.tpl"
    certtool --generate-privkey --key-type=ecdsa --outfile "$d/$domain.key" >/dev/null 2>&1
    certtool --generate-self-signed --load-privkey "$d/$domain.key" \
        --template "$d/$domain.tpl" --outfile "$d/$domain.pem" >/dev/null 2>&1
}

secs_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# run_tool NAME PORT_A PORT_B PIDS: the load, bounded in time.
run_tool() {
    local name=$1 pa=$2 pb=$3 pids=$4 limit
    limit=$(awk -v i="$IDLE" -v w="$WARMUP" -v d="$DURATION" 'BEGIN { print int(i + w + d + 180) }')
    timeout "$limit" "$TOOL" --host "${ADDRS[0]}" --port "$pa" --domain "${DOMAINS[0]}" \
        --host2 "${ADDRS[1]}" --port2 "$pb" --domain2 "${DOMAINS[1]}" \
        --clients "$N" --concurrency "$C" --pairs "$P" --window "$W" \
        --idle "$IDLE" --warmup "$WARMUP" --duration "$DURATION" \
        --pids "$pids" --name "$name" >"$TMP/$name.out" 2>"$TMP/$name.err" || true
    sed 's/^/    /' "$TMP/$name.out" "$TMP/$name.err" >&2
    grep '^RESULT ' "$TMP/$name.out" >"$TMP/$name.result" || true
}

# --- xmppd: two suites, each router+store+sm+c2s+s2s ---------------------

bench_xmppd() {
    local i j d c2s=() s2s=() pids="" t0
    for i in 0 1; do c2s[i]=$(free_port); s2s[i]=$(free_port); done
    for i in 0 1; do
        j=$((1 - i))
        d=$TMP/xmppd-${DOMAINS[i]}
        mkdir -p "$d"
        make_cert "$d/certs" "${DOMAINS[i]}"
        cat >"$d/s2s-component.xml" <<XML
    <component name="s2s" secret="s2s-bench-$$-$i" domain="no">
      <allow bind="service" name="s2s"/>
      <allow from="remote"/>
    </component>
XML
        cat >"$d/s2s.xml" <<XML
  <s2s>
    <connect unix="router.sock" name="s2s"/>
    <listen tcp="${ADDRS[i]}:${s2s[i]}"/>
    <listen tls="${ADDRS[i]}:$(free_port)"/>
    <certificate domain="${DOMAINS[i]}" cert="$d/certs/${DOMAINS[i]}.pem" key="$d/certs/${DOMAINS[i]}.key"/>
    <tls required="yes"/>
    <dialback secret="s2s-bench-dialback-$$-${DOMAINS[i]}"/>
    <remote domain="*" auth="dialback"/>
    <host domain="${DOMAINS[j]}" address="${ADDRS[j]}" port="${s2s[j]}"/>
    <limits rate="1G" burst="1G" max-connections-per-address="1000"
            handshake-timeout="30s" idle-timeout="10min" queue="64M"/>
  </s2s>
XML
        sed -e "s|<domain>localhost</domain>|<domain>${DOMAINS[i]}</domain>|" \
            -e "s|<state-dir>/var/lib/xmppd</state-dir>|<state-dir>$d</state-dir>|" \
            -e "s|127.0.0.1:5347|127.0.0.1:$(free_port)|" \
            -e "s|secret=\"change-me\"|secret=\"s2s-bench-$$-$i\"|" \
            -e "s|<!-- <process name=\"s2s\"/> -->|<process name=\"s2s\"/>|" \
            -e "/<component name=\"xmppdctl\"/r $d/s2s-component.xml" \
            -e "/<\/c2s>/r $d/s2s.xml" \
            -e "s|<listen tcp=\"0.0.0.0:5222\"/>|<listen tcp=\"${ADDRS[i]}:${c2s[i]}\"/>|" \
            -e "s|<listen tls=\"0.0.0.0:5223\"/>|<listen tls=\"${ADDRS[i]}:$(free_port)\"/>|" \
            -e "s|<certificate domain=\"localhost\" cert=\"certs/localhost.pem\" key=\"certs/localhost.key\"/>|<certificate domain=\"${DOMAINS[i]}\" cert=\"$d/certs/${DOMAINS[i]}.pem\" key=\"$d/certs/${DOMAINS[i]}.key\"/>|" \
            -e 's|<log level="info" to="stderr"/>|<log level="warn" to="file"/>|' \
            -e 's|rate="64k" burst="256k"|rate="16M" burst="32M"|' \
            -e 's|max-connections-per-address="32"|max-connections-per-address="100000"|' \
            -e 's|max-connections-per-address="256"|max-connections-per-address="100000"|' \
            "$ROOT/etc/xmppd.xml" >"$d/xmppd.xml"
        "$BUILD/bin/xmppdctl" -c "$d/xmppd.xml" check-config >"$d/check.log" 2>&1 ||
            { cat "$d/check.log" >&2; return 1; }
        XMPPD_CONFS+=("$d/xmppd.xml")
        "$BUILD/bin/xmppdctl" -c "$d/xmppd.xml" start >"$d/start.log" 2>&1 ||
            { cat "$d/start.log" >&2; return 1; }
    done
    for i in 0 1; do
        wait_listening "${ADDRS[i]}" "${c2s[i]}" && wait_listening "${ADDRS[i]}" "${s2s[i]}" ||
            { say "xmppd ${DOMAINS[i]}: c2s or s2s is not listening"; return 1; }
    done
    t0=$(date +%s.%N)
    local jobs=() ok=1
    for i in 0 1; do
        d=$TMP/xmppd-${DOMAINS[i]}
        seq 0 $((N - 1)) | xargs -P "$JOBS" -I{} sh -c \
            'echo pw | "$0" -c "$1" adduser u{}@"$2" >/dev/null' \
            "$BUILD/bin/xmppdctl" "$d/xmppd.xml" "${DOMAINS[i]}" &
        jobs+=($!)
    done
    for j in "${jobs[@]}"; do wait "$j" || ok=0; done
    [ "$ok" = 1 ] || { say "adduser failed"; return 1; }
    say "  xmppd: 2 x $N accounts in $(secs_since "$t0") s"
    pids=$(cat "$TMP"/xmppd-*/run/*.pid 2>/dev/null | paste -sd, -)
    say "  xmppd PIDs: $pids"
    run_tool xmppd "${c2s[0]}" "${c2s[1]}" "$pids"
    grep -h "authenticated" "$TMP"/xmppd-*/log/s2s.log 2>/dev/null | sed 's/^/    s2s log: /' >&2 || true
    stop_xmppd
}

# --- Prosody: two instances -----------------------------------------------

# Prosody has no option for a static s2s address: this plugin (loaded from
# the temporary folder) answers its resolver for the domains of
# bench_s2s_static = { [domain] = { address, port } } without DNS, and
# gives no direct-TLS candidate for them (the STARTTLS port is used).
STATIC_PLUGIN='-- generated by bench/run-s2s-bench.sh: static s2s addresses
local service = require "net.resolvers.service";
if not service.bench_static then
	local static = module:get_option("bench_s2s_static", {});
	local dns_new = service.new;
	local fixed_mt = { __index = {
		next = function (self, cb)
			local t = table.remove(self.targets, 1);
			if not t then return cb(nil); end
			return cb(t[1], t[2], t[3], t[4]);
		end;
	} };
	service.new = function (hostname, srv, conn_type, extra)
		local where = static[hostname];
		if not where then
			return dns_new(hostname, srv, conn_type, extra);
		end
		local targets = {};
		if srv ~= "xmpps-server" then
			targets[1] = { conn_type .. "4", where[1], where[2], extra };
		end
		return setmetatable({ targets = targets }, fixed_mt);
	end
	service.bench_static = true;
end
'

bench_prosody() {
    local i j d c2s=() s2s=() t0 pids=""
    for i in 0 1; do c2s[i]=$(free_port); s2s[i]=$(free_port); done
    for i in 0 1; do
        j=$((1 - i))
        d=$TMP/prosody-${DOMAINS[i]}
        mkdir -p "$d/data" "$d/plugins"
        make_cert "$d/certs" "${DOMAINS[i]}"
        printf '%s' "$STATIC_PLUGIN" >"$d/plugins/mod_bench_static_s2s.lua"
        {
            echo '-- generated by bench/run-s2s-bench.sh'
            echo 'run_as_root = true -- a throwaway instance in a temporary folder'
            echo 'daemonize = false'
            echo "pidfile = \"$d/prosody.pid\""
            echo "data_path = \"$d/data\""
            echo "plugin_paths = { \"$d/plugins\" }"
            echo "log = { { levels = { min = \"warn\" }, to = \"file\", filename = \"$d/server.log\" } }"
            echo 'modules_enabled = { "roster", "saslauth", "tls", "dialback", "disco", "ping", "bench_static_s2s" }'
            echo 'authentication = "internal_hashed"'
            echo 'default_iteration_count = 4096 -- as xmppdctl adduser'
            echo 'c2s_require_encryption = true'
            echo 's2s_require_encryption = true'
            echo 's2s_secure_auth = false -- self-signed certificates: dialback'
            echo "interfaces = { \"${ADDRS[i]}\" }"
            echo "c2s_ports = { ${c2s[i]} }"
            echo 'c2s_direct_tls_ports = { }'
            echo "s2s_ports = { ${s2s[i]} }"
            echo 's2s_direct_tls_ports = { }'
            echo 'http_ports = { }'
            echo 'https_ports = { }'
            echo 'component_ports = { }'
            echo "ssl = { certificate = \"$d/certs/${DOMAINS[i]}.pem\", key = \"$d/certs/${DOMAINS[i]}.key\" }"
            echo "bench_s2s_static = { [\"${DOMAINS[j]}\"] = { \"${ADDRS[j]}\", ${s2s[j]} } }"
            echo "VirtualHost \"${DOMAINS[i]}\""
        } >"$d/prosody.cfg.lua"
    done
    t0=$(date +%s.%N)
    local jobs=() ok=1
    for i in 0 1; do
        d=$TMP/prosody-${DOMAINS[i]}
        seq 0 $((N - 1)) | xargs -P "$JOBS" -I{} \
            prosodyctl --config "$d/prosody.cfg.lua" register u{} "${DOMAINS[i]}" pw >/dev/null 2>&1 &
        jobs+=($!)
    done
    for j in "${jobs[@]}"; do wait "$j" || ok=0; done
    [ "$ok" = 1 ] || { say "prosodyctl register failed"; return 1; }
    say "  prosody: 2 x $N accounts in $(secs_since "$t0") s"
    for i in 0 1; do
        d=$TMP/prosody-${DOMAINS[i]}
        /usr/bin/prosody --config "$d/prosody.cfg.lua" -F >"$d/stdout.log" 2>&1 &
        PROSODY_PIDS+=($!)
    done
    for i in 0 1; do
        d=$TMP/prosody-${DOMAINS[i]}
        wait_listening "${ADDRS[i]}" "${c2s[i]}" && wait_listening "${ADDRS[i]}" "${s2s[i]}" ||
            { say "prosody ${DOMAINS[i]} is not listening"; tail "$d/stdout.log" "$d/server.log" >&2 || true; return 1; }
    done
    pids=$(printf '%s\n' "${PROSODY_PIDS[@]}" | paste -sd, -)
    say "  prosody PIDs: $pids"
    run_tool prosody "${c2s[0]}" "${c2s[1]}" "$pids"
    stop_prosody
}

say "s2s bench: ${DOMAINS[0]} (${ADDRS[0]}) <-> ${DOMAINS[1]} (${ADDRS[1]}), N=$N per domain C=$C P=$P W=$W idle=${IDLE}s warmup=${WARMUP}s messaging=${DURATION}s, $(nproc) cores"
for s in $SERVERS; do
    say "--- $s"
    "bench_$s" || say "  $s run failed"
done

report_header "s2s N=$N P=$P W=$W"
report_row "clients logged in" logged_in
report_row "logins/s" logins_per_s
report_row "server kB per connection" kb_per_conn
report_row "messages/s" msgs_per_s
report_row "message p50 (us)" msg_p50_us
report_row "message p99 (us)" msg_p99_us
report_row "messages sent" sent
report_row "messages lost" lost
report_row "messages duplicated" dup
report_zero_loss
