#!/usr/bin/env bash
# Runs a command in a throwaway session bus with a throwaway, unlocked gnome-keyring (the
# real Secret Service the keyring tests and the app's sign-in use); with --display, also
# under Xvfb (1280×800×24). The keyring lives in a temporary XDG_DATA_HOME, removed after;
# HOME stays (rustup and cargo need it).
#   scripts/with-keyring.sh [--display] COMMAND [ARG...]
set -euo pipefail
display=false
if [ "${1:-}" = "--display" ]; then
  display=true
  shift
fi
[ $# -gt 0 ] || {
  echo "usage: $0 [--display] COMMAND [ARG...]" >&2
  exit 2
}

keyring_home="$(mktemp -d)"
trap 'rm -rf "$keyring_home"' EXIT
export XDG_DATA_HOME="$keyring_home"
session=(dbus-run-session -- sh -c '
  echo -n throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  exec "$@"
' sh "$@")
if $display; then
  xvfb-run -a -s '-screen 0 1280x800x24' "${session[@]}"
else
  "${session[@]}"
fi
