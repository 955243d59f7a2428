#!/usr/bin/env bash
# The Linux packages of the desktop app: presently-app with its tray host (presently-tray)
# beside it in /usr/bin, where the app looks for it when its window closes (ARCHITECTURE.md,
# "The tray host"). Without the tray host a closed window would leave the whole app resident.
#
#   bash scripts/bundle.sh [--debug] [BUNDLES]     BUNDLES: deb,rpm (default)
#
# Packages land in target/{release,debug}/bundle/{deb,rpm}/. The tray host goes in as a Tauri
# "external binary", which must exist before tauri-build runs; so it is built first and named
# in src-tauri/bundle.linux.json, a config merged only here: plain cargo builds of the app do
# not need it. The Tauri CLI is the npm package in ui/ (a devDependency).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

profile=release
cargo_profile=(--release)
tauri_profile=()
if [ "${1:-}" = "--debug" ]; then
  profile=debug
  cargo_profile=()
  tauri_profile=(--debug)
  shift
fi
bundles="${1:-deb,rpm}"

[ -d ui/node_modules ] || npm --prefix ui ci --no-audit --no-fund --loglevel=error
npm --prefix ui run build --silent

triple="$(rustc -vV | sed -n 's/^host: //p')"
cargo build "${cargo_profile[@]}" -p presently-tray
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
mkdir -p src-tauri/binaries
cp "$target_dir/$profile/presently-tray" "src-tauri/binaries/presently-tray-$triple"

ui/node_modules/.bin/tauri build "${tauri_profile[@]}" --ci --bundles "$bundles" \
  --config src-tauri/bundle.linux.json
