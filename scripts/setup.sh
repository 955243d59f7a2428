#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and run Presently.
#   scripts/setup.sh app    packages to build and run the desktop app
#   scripts/setup.sh test   ...plus what the test suite needs (Xvfb, WebKitWebDriver,
#                           gnome-keyring, chromium, tauri-driver, and PostgreSQL and
#                           openssl for server mode's tests: scripts/pg-throwaway.sh)
set -euo pipefail
mode=${1:-app}
cd "$(dirname "$0")/.."

app_pkgs=(build-essential pkg-config libssl-dev libwebkit2gtk-4.1-dev
  libayatana-appindicator3-dev librsvg2-dev libxdo-dev)
test_pkgs=(xvfb xauth dbus dbus-x11 webkit2gtk-driver gnome-keyring chromium imagemagick curl xdg-utils
  postgresql openssl)
pkgs=("${app_pkgs[@]}")
[ "$mode" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  echo "setup: npm ci (ui)"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ "$mode" = test ] && ! command -v tauri-driver >/dev/null 2>&1; then
  echo "setup: cargo install tauri-driver"
  cargo install tauri-driver --locked --quiet
fi

if [ "$mode" = test ] && ! cargo deny --version >/dev/null 2>&1; then
  echo "setup: cargo install cargo-deny"
  cargo install cargo-deny --locked --quiet
fi

if [ "$mode" = test ] && ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "setup: nightly toolchain and cargo-fuzz (scripts/fuzz.sh)"
  rustup toolchain install nightly --profile minimal
  cargo install cargo-fuzz --locked --quiet
fi
