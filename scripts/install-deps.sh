#!/bin/bash
# Installs every Debian package boucle needs to build, test and run its demo.
# Idempotent: when everything is present it only checks (no apt-get update).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates
  libyaml-cpp-dev libpugixml-dev libssl-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libboost1.81-dev libboost-url1.81-dev libsqlite3-dev libpq-dev postgresql libcurl4-openssl-dev
  libsodium-dev
  libgit2-dev libkainjow-mustache-dev libgtest-dev libgmock-dev libbenchmark-dev
  bubblewrap python3 python3-pytest python3-locust curl openssl python3-aiosmtpd wrk openssh-server openssh-client iproute2 ansible
  chromium prometheus
)
# `make fuzz` (libFuzzer) builds with Debian's clang: only when asked, CI does not need it.
if [ "${1:-}" = "--fuzz" ]; then PACKAGES+=(clang libfuzzer-14-dev); fi
# The web UI is built with npm; Debian's nodejs 18 and npm do, unless a node is installed
# already (another node's npm would conflict with Debian's package).
if ! command -v npm > /dev/null; then PACKAGES+=(nodejs npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
