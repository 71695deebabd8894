# SPDX-License-Identifier: MIT
# free_port: a TCP port on loopback that nothing listens on and this script
# has not handed out yet. Sourced by the bench scripts, which define die()
# and $TMP first; the ports handed out are kept in a file there, because
# free_port runs in a $(...) subshell.
#
# Ports come from below the kernel's ephemeral range (ip_local_port_range):
# the load tools open thousands of outgoing connections, and one of them may
# otherwise take a port between the check here and the server's bind.

BENCH_PORT_HIGH=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)

free_port() {
    local port
    for _ in $(seq 200); do
        port=$((10000 + RANDOM % (BENCH_PORT_HIGH - 10000)))
        grep -qx "$port" "$TMP/ports-used" 2>/dev/null && continue
        if [ -z "$(ss -Htan "sport = :$port" 2>/dev/null)" ]; then
            echo "$port" >>"$TMP/ports-used"
            echo "$port"
            return 0
        fi
    done
    die "no free port found"
}
