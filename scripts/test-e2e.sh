#!/usr/bin/env bash
# End-to-end tests of the real app window: builds the UI, presently-app and its Debian package
# (scripts/bundle.sh), then drives the packaged app's window through tauri-driver +
# WebKitWebDriver under Xvfb, in a throwaway session bus with a throwaway, unlocked
# gnome-keyring (the sign-in keeps its refresh token there):
#   - demo mode (test-artifacts/app-agenda.png),
#   - a first launch that signs in to the Microsoft 365 emulator
#     (test-artifacts/app-sign-in.png, test-artifacts/app-first-launch.png), then adds a
#     second account in Settings → Accounts and sees the merged agenda name both
#     (test-artifacts/app-accounts.png, test-artifacts/app-two-accounts.png),
#   - accessibility (tests/e2e/tests/a11y.rs): GTK's HighContrast theme and 200 % text
#     (GDK_DPI_SCALE=2) at 420 px: nothing cut off or overlapping, focus visible on every
#     Tab stop, the window's name and the agenda's landmarks on AT-SPI (test-artifacts/app-a11y-hc-200.png).
# Needs the Debian packages from `scripts/setup.sh test` (xvfb, xauth, dbus,
# webkit2gtk-driver, gnome-keyring, curl).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
mkdir -p test-artifacts

for tool in xvfb-run dbus-run-session WebKitWebDriver gnome-keyring-daemon curl; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "test-e2e: $tool is missing; run scripts/setup.sh test" >&2
    exit 1
  }
done

if [ -f ui/package.json ]; then
  [ -d ui/node_modules ] || npm --prefix ui ci --no-audit --no-fund --loglevel=error
  npm --prefix ui run build --silent
fi

# The workspace's test build: it builds the three binaries and the window tests with the
# features `cargo test --workspace` resolves, so after scripts/test.sh nothing is rebuilt
# (`cargo build -p …` resolves features per package and compiles much of the tree again).
cargo test --workspace --no-run --quiet

if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "test-e2e: cargo install tauri-driver"
  cargo install tauri-driver --locked --quiet
fi


# The window tests run the app as its package installs it: the .deb (debug build) unpacked,
# so the hand-over on close finds the packaged tray host beside the packaged app.
if [ -z "${PRESENTLY_APP_BIN:-}" ]; then
  target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
  rm -rf "$target_dir/debug/bundle/deb"
  bash scripts/bundle.sh --debug deb
  debs=("$target_dir"/debug/bundle/deb/*.deb)
  [ "${#debs[@]}" -eq 1 ] || { echo "test-e2e: expected one .deb, found: ${debs[*]}" >&2; exit 1; }
  unpacked="$target_dir/e2e-package"
  rm -rf "$unpacked"
  dpkg-deb -x "${debs[0]}" "$unpacked"
  for bin in presently-app presently-tray; do
    [ -x "$unpacked/usr/bin/$bin" ] || { echo "test-e2e: the package has no /usr/bin/$bin" >&2; exit 1; }
  done
  export PRESENTLY_APP_BIN="$unpacked/usr/bin/presently-app"
fi
# One window at a time: two WebKit instances on two cores only slow each other down.
bash scripts/with-keyring.sh --display \
  cargo test --workspace --test window --test a11y --test tray_host -- --ignored --nocapture --test-threads=1
