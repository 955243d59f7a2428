#!/usr/bin/env bash
# Runs the desktop app in demo mode: a real window and tray, signed in to the embedded
# Microsoft 365 emulator with its demo mailbox. Nothing touches your real data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh app
(cd ui && npm run build --silent)
exec cargo run -p presently-app -- --demo "$@"
