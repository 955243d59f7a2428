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

# Tray state variants of tray.png (ImageMagick): a badge in the lower right corner says what
# the app is doing; signed out is the whole icon greyed. Blue refresh arc = syncing, red "!" =
# error, amber pause bars = presence automation paused, grey bar on a grey icon = offline.
C=/usr/bin/convert
cd "$out"
badge() { # source, output, colour
  $C "$1" \( -size 64x64 xc:none -draw "fill black circle 50,50 50,35" \) -compose DstOut -composite \
    -fill "$3" -stroke white -strokewidth 3 -draw "circle 50,50 50,38" "$2"
}
badge tray.png tray-syncing.png '#2563eb'
$C tray-syncing.png -fill none -stroke white -strokewidth 2.5 -draw "arc 44,44 56,56 -60,200" \
  -fill white -stroke none -draw "polygon 53,38 58,45 50,46" tray-syncing.png
badge tray.png tray-error.png '#dc2626'
$C tray-error.png -fill white -stroke none -draw "rectangle 48,42 52,52" -draw "rectangle 48,55 52,58" tray-error.png
badge tray.png tray-paused.png '#d97706'
$C tray-paused.png -fill white -stroke none -draw "rectangle 45,44 48,56" -draw "rectangle 52,44 55,56" tray-paused.png
$C tray.png -colorspace Gray "$tmp/grey.png"
badge "$tmp/grey.png" tray-offline.png '#6b7280'
$C tray-offline.png -fill white -stroke none -draw "rectangle 44,48 56,52" tray-offline.png
$C tray.png -colorspace Gray -channel A -evaluate multiply 0.55 +channel tray-signed-out.png
echo "tray state icons written to $out"
