#!/usr/bin/env bash
# The dependency rules ARCHITECTURE.md states ("Invariants"), checked on the lock file:
# - only src-tauri (presently-app) links a GUI toolkit: the engine, presently-desktop, the
#   tray host, the CLI and presently-server have no tauri, wry, tao, GTK, GDK or WebKit
#   among their normal dependencies;
# - the emulator does not depend on the engine (it stands in for Microsoft, not for us);
# - the engine depends on no other crate of the workspace (dependencies point one way).
# LAYER_CRATES names other crates to check (LAYER_CRATES=presently-app shows it failing).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

gui='^(tauri|tauri-[a-z-]+|wry|tao|gtk|gtk-sys|gdk|gdk-sys|webkit2gtk|webkit2gtk-sys|javascriptcore-rs|libappindicator) '
failed=0
deps() { cargo tree --quiet --offline -p "$1" -e normal --prefix none | awk '{print $1 " "}' | sort -u; }

for crate in ${LAYER_CRATES:-presently-engine presently-desktop presently-tray presently-cli presently-emulator presently-server}; do
  found=$(deps "$crate" | grep -E "$gui" | tr -d ' ' | tr '\n' ' ' || true)
  if [ -n "$found" ]; then
    echo "check-layers: $crate links GUI crates: $found(only presently-app may)" >&2
    failed=1
  fi
done
emulator_deps=$(deps presently-emulator)
if grep -q '^presently-engine ' <<<"$emulator_deps"; then
  echo "check-layers: presently-emulator depends on presently-engine" >&2
  failed=1
fi
workspace_deps=$(deps presently-engine | grep -E '^presently-' | grep -v '^presently-engine ' | tr -d ' ' | tr '\n' ' ' || true)
if [ -n "$workspace_deps" ]; then
  echo "check-layers: presently-engine depends on $workspace_deps(dependencies point one way)" >&2
  failed=1
fi
[ "$failed" = 0 ] && echo "check-layers: the dependency rules hold"
exit "$failed"
