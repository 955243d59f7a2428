#!/usr/bin/env bash
# End-to-end test of the real app window: builds the UI and presently-app, then drives the
# window in demo mode through tauri-driver + WebKitWebDriver under Xvfb, in a throwaway
# session bus. The screenshot lands in test-artifacts/app-agenda.png.
# Needs the Debian packages from `scripts/setup.sh test` (xvfb, xauth, dbus, webkit2gtk-driver).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
mkdir -p test-artifacts

for tool in xvfb-run dbus-run-session WebKitWebDriver; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "test-e2e: $tool is missing; run scripts/setup.sh test" >&2
    exit 1
  }
done

if [ -f ui/package.json ]; then
  [ -d ui/node_modules ] || npm --prefix ui ci --no-audit --no-fund --loglevel=error
  npm --prefix ui run build --silent
fi

cargo build -p presently-app

if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "test-e2e: cargo install tauri-driver"
  cargo install tauri-driver --locked --quiet
fi

export PRESENTLY_APP_BIN="${PRESENTLY_APP_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/presently-app}"
exec xvfb-run -a -s '-screen 0 1280x800x24' \
  dbus-run-session -- cargo test -p presently-e2e -- --ignored --nocapture
