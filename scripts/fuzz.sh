#!/usr/bin/env bash
# Fuzzes what Presently reads from outside (calendar feeds too), each target for a bounded time, from the
# checked-in seeds (fuzz/seeds/<target>, from crates/engine/tests/fixtures, docs/admin.md
# and the tests' own inputs) plus what earlier runs found (fuzz/corpus/<target>, not
# checked in). A crash, a timeout or an out-of-memory fails the run; the input is kept in
# fuzz/artifacts/<target>/ and becomes a regression test in the engine's normal tests.
#   scripts/fuzz.sh [TARGET...]         FUZZ_SECONDS=N sets the time per target (20)
#
# Built to hunt panics, overflows, runaway memory and hangs, within ~6 minutes on CI's 2
# cores (cold build included):
# - no sanitizer (-s none): the code fuzzed is safe Rust (the engine forbids unsafe), where
#   AddressSanitizer finds nothing Rust's own checks do not; libFuzzer reports panics, OOMs
#   and timeouts alone.
# - unoptimized (--dev, debug assertions and overflow checks on): the engine brings its whole
#   dependency tree (TLS, SQLite, the keyring, tokio); an optimized instrumented build of it
#   (cargo-fuzz's default: opt-level 3, one codegen unit) took 16 min of wall time here
#   against ~4.7 CPU-minutes for --dev (about 2.5 min on 2 free cores). The parsers still run
#   tens of thousands of inputs a second unoptimized, enough for 20 s a target in CI; run
#   longer locally with FUZZ_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# Its own target directory: instrumented builds never mix with the workspace's.
export CARGO_TARGET_DIR="$PWD/fuzz/target"
seconds=${FUZZ_SECONDS:-20}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(graph_page config policy loopback_request links ics_feed)

cd fuzz
started=$(date +%s)
cargo +nightly fuzz build -s none --dev
echo "fuzz: built in $(($(date +%s) - started)) s"
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  rm -rf "artifacts/$target"
  echo "fuzz: $target for ${seconds} s"
  # -timeout: one input taking more than 10 s is a hang; -rss_limit_mb: 2 GB is runaway
  # memory for pages of a few megabytes at most.
  cargo +nightly fuzz run -s none --dev "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    2>&1 | grep -E "^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY|Running|Done)|panicked|Failing input|ERROR" || true
  if ls "artifacts/$target"/* >/dev/null 2>&1; then
    echo "fuzz: $target found an input that fails: fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
echo "fuzz: done in $(($(date +%s) - started)) s"
