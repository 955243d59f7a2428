#!/usr/bin/env bash
# Regenerates the UI's TypeScript types (ui/src/bindings) from the Rust types the commands
# take, answer and emit (ts-rs). The test suite fails while they are stale
# (src-tauri/tests/bindings.rs); run this after changing such a type and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
PRESENTLY_UPDATE_BINDINGS=1 cargo test -p presently-app --test bindings --quiet
echo "ui/src/bindings: $(ls ui/src/bindings | wc -l) files"
