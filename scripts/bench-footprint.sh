#!/usr/bin/env bash
# The desktop app's footprint (BENCHMARKS.md, "Desktop app: start-up, memory, idle CPU"):
# start-up to an agenda painted from the local cache, resident memory of the app and all
# its WebKit processes with the window open and closed, and CPU time while idle in the tray.
# Builds the UI and a release presently-app (the UI is embedded at compile time), then runs
# tests/e2e/benches/footprint.rs under Xvfb, in a throwaway session bus with a throwaway,
# unlocked gnome-keyring. Takes about 7 minutes after the build (5 of them idle);
# FOOTPRINT_IDLE_SECS, FOOTPRINT_RUNS, FOOTPRINT_SETTLE_SECS and FOOTPRINT_CLOSED_SECS
# change the phases. Figures on stdout and in target/footprint.json.
# Needs the Debian packages from `scripts/setup.sh test` (xvfb, xauth, dbus,
# webkit2gtk-driver, gnome-keyring, curl) and tauri-driver.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

for tool in xvfb-run dbus-run-session WebKitWebDriver gnome-keyring-daemon curl getconf; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "bench-footprint: $tool is missing; run scripts/setup.sh test" >&2
    exit 1
  }
done

[ -d ui/node_modules ] || npm --prefix ui ci --no-audit --no-fund --loglevel=error
npm --prefix ui run build --silent

cargo build --release -p presently-app -p presently-tray
# The floor the bench launches between the app's launches (examples/webview_floor.rs).
cargo build --release -p presently-e2e --example webview_floor

if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "bench-footprint: cargo install tauri-driver"
  cargo install tauri-driver --locked --quiet
fi

# Build the bench before the clock starts.
cargo bench -p presently-e2e --bench footprint --no-run

export PRESENTLY_APP_BIN="${PRESENTLY_APP_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/presently-app}"
bash scripts/with-keyring.sh --display cargo bench -p presently-e2e --bench footprint
