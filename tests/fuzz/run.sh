#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/fuzz/run.sh [SECONDS]: builds the libFuzzer targets with clang in
# build-fuzz (or $FUZZ_BUILD_DIR) and runs each for SECONDS (default 30) on a
# scratch copy of its seed corpus. Exits non-zero if any target crashes;
# the input that did it is kept under <build>/fuzz-artifacts/<target>/.
set -euo pipefail

seconds=${1:-30}
case $seconds in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS]" >&2
    exit 2
    ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
cc=${FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: $cc not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
    exit 1
fi

# Every target whose source exists; CMakeLists.txt makes the same test.
targets=()
for t in fuzz_jid fuzz_xstream; do
    [ -f "$here/$t.c" ] && targets+=("$t")
done

echo "fuzz: building ${targets[*]} in $build"
mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXMPPD_FUZZ=ON \
    -DXMPPD_SANITIZE=address,undefined >"$build/configure.log" 2>&1 || {
    cat "$build/configure.log" >&2
    exit 1
}
cmake --build "$build" --parallel "$(nproc)" --target "${targets[@]}" >/dev/null || {
    echo "fuzz: build failed; rerun: cmake --build $build --target ${targets[*]}" >&2
    exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/xmppd-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
for t in "${targets[@]}"; do
    corpus=$work/$t
    artifacts=$build/fuzz-artifacts/$t
    mkdir -p "$corpus" "$artifacts"
    if [ -d "$here/corpus/$t" ]; then
        cp -R "$here/corpus/$t/." "$corpus/"
    fi
    args=(-max_total_time="$seconds" -max_len=4096 -timeout=25
        -print_final_stats=1 -artifact_prefix="$artifacts/")
    [ -f "$here/$t.dict" ] && args+=(-dict="$here/$t.dict")

    rc=0
    "$build/bin/$t" "${args[@]}" "$corpus" >"$work/$t.log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -n 1)
    inputs=$(find "$corpus" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        echo "fuzz $t: ok, ${runs:-?} runs in ${seconds}s, corpus of $inputs inputs"
    else
        failed=1
        echo "fuzz $t: FAILED (exit $rc) after ${runs:-?} runs; input kept in $artifacts/"
        tail -n 60 "$work/$t.log"
    fi
done
exit "$failed"
