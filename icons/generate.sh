#!/usr/bin/env bash
# Regenerates the app icon set in src-tauri/icons/ from icons/icon.svg, plus the tray icons.
# The generated files are committed; run this only after changing an SVG.
# Needs: node/npx (for @tauri-apps/cli).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/src-tauri/icons"
mkdir -p "$out"

# The app icon set (PNGs in RGBA, icon.ico, icon.icns, Windows Store logos).
if [ -x "$root/ui/node_modules/.bin/tauri" ]; then
  tauri=("$root/ui/node_modules/.bin/tauri")
else
  tauri=(npx --yes @tauri-apps/cli@2)
fi
"${tauri[@]}" icon "$root/icons/icon.svg" -o "$out"
# Mobile sets are not used by this desktop app.
rm -rf "$out/android" "$out/ios"

# Tray icons (64 px, RGBA): tray.png in colour, tray-mono.png a monochrome template (black on
# transparent; macOS tints templates, Linux/Windows show it as drawn).
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"${tauri[@]}" icon "$root/icons/tray.svg" -o "$tmp/mono" --png 64 >/dev/null
"${tauri[@]}" icon "$root/icons/icon.svg" -o "$tmp/colour" --png 64 >/dev/null
cp "$tmp/mono/64x64.png" "$out/tray-mono.png"
cp "$tmp/colour/64x64.png" "$out/tray.png"
echo "icons written to $out"
