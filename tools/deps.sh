#!/bin/sh
# SPDX-License-Identifier: MIT
# tools/deps.sh [build|test]: installs the Debian 12 packages xmppd needs to
# build and run ("build", the default) or also to run every test ("test").
# Installs only what is missing; needs root or sudo.
set -eu
what=${1:-build}
pkgs="build-essential cmake pkg-config libxml2-dev libgnutls28-dev libuv1-dev
      libidn-dev libidn2-dev libunistring-dev libsasl2-dev libsasl2-modules libpq-dev
      libsqlite3-dev libc-ares-dev gnutls-bin"
if [ "$what" = test ]; then
    pkgs="$pkgs check clang libclang-rt-14-dev python3 python3-slixmpp python3-pytest postgresql go-sendxmpp prosody"
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
