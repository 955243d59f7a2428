#!/usr/bin/env bash
# What the tray host costs while idle (BENCHMARKS.md, "Idle cost of a sync round"): a release
# presently-tray signed in to the emulator (run by `presently emulator` in its own process,
# so none of its work is counted) syncs on its cadence while nothing changes; the bench reads
# the host's CPU time (utime + stime) and wake-ups (context switches of all its threads) over
# IDLE_SECS, and counts its sync rounds in its log. The floor, measured over the same seconds:
# a Python process that makes one plain GET to the same emulator on a kept-alive connection
# per interval and sleeps. Runs in a throwaway session bus with a throwaway gnome-keyring.
#   scripts/bench-idle.sh            IDLE_SECS (300) and INTERVAL (sync.interval_secs, 15)
# BIN_DIR names binaries built elsewhere (to compare two builds); otherwise they are built.
# SHELL_UNDER_TEST=app measures the window app instead, started as at login (--background:
# no window) with PRESENTLY_TRAY_HOST=0 so that it keeps the work itself, under Xvfb; its
# CPU and wake-ups are those of its whole process tree (WebKit's processes, if any).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
idle_secs=${IDLE_SECS:-300}
interval=${INTERVAL:-15}

shell=${SHELL_UNDER_TEST:-tray}
if [ -z "${BIN_DIR:-}" ]; then
  if [ "$shell" = app ]; then
    npm --prefix ui run build --silent # the app embeds the UI at compile time
    cargo build --release --quiet -p presently-cli -p presently-app
  else
    cargo build --release --quiet -p presently-cli -p presently-tray
  fi
  BIN_DIR="${CARGO_TARGET_DIR:-$PWD/target}/release"
fi
BIN_DIR=$(cd "$BIN_DIR" && pwd)

if [ -z "${PRESENTLY_BENCH_IN_SESSION:-}" ]; then
  export PRESENTLY_BENCH_IN_SESSION=1 BIN_DIR IDLE_SECS="$idle_secs" INTERVAL="$interval" \
    SHELL_UNDER_TEST="$shell"
  display=()
  [ "$shell" = app ] && display=(--display)
  exec bash scripts/with-keyring.sh "${display[@]}" bash "$0"
fi

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$BIN_DIR/presently" emulator --port "$port" > "$work/emulator.out" 2>&1 &
for _ in $(seq 100); do curl -s -o /dev/null "$base/" && break; sleep 0.1; done

cat > "$work/config.toml" <<CONFIG
[microsoft]
client_id = "7e1c4b6a-2f3d-4d8e-9a5b-6c0d1e2f3a4b"
authority_host = "$base"
graph_endpoint = "$base"

[sync]
interval_secs = $interval
CONFIG
export PRESENTLY_CONFIG="$work/config.toml" PRESENTLY_DATA_DIR="$work/data" \
  PRESENTLY_POLICY="$work/no-policy.toml"
mkdir -p "$work/data"
"$BIN_DIR/presently" login --device --timeout 60 > "$work/login.out" 2>&1 \
  || { cat "$work/login.out" >&2; exit 1; }
"$BIN_DIR/presently" sync > /dev/null

if [ "$shell" = app ]; then
  PRESENTLY_TRAY_HOST=0 "$BIN_DIR/presently-app" --background > /dev/null 2>&1 &
else
  "$BIN_DIR/presently-tray" > /dev/null 2>&1 &
fi
host=$!
sleep 20 # its first round and start-up done

python3 -c "
import http.client, time
c = http.client.HTTPConnection('127.0.0.1', $port)
while True:
    c.request('GET', '/v1.0/me'); c.getresponse().read(); time.sleep($interval)
" &
floor=$!
sleep 1

# A process and its descendants.
tree() { echo "$1"; for child in $(pgrep -P "$1"); do tree "$child"; done; }
cpu() { for p in $(tree "$1"); do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{s += $1} END {print s}'; }
wakeups() { for p in $(tree "$1"); do cat /proc/"$p"/task/*/status; done | awk '/ctxt_switches/ {s += $2} END {print s}'; }
rounds() { cat "$work"/data/logs/* 2>/dev/null | grep -c 'sync finished' || true; }
host_cpu0=$(cpu $host); floor_cpu0=$(cpu $floor); wake0=$(wakeups $host); rounds0=$(rounds)
sleep "$idle_secs"
host_cpu1=$(cpu $host); floor_cpu1=$(cpu $floor); wake1=$(wakeups $host); rounds1=$(rounds)
kill -0 $host || { echo "bench-idle: the $shell exited" >&2; exit 1; }

ticks=$(getconf CLK_TCK)
python3 - "$shell" "$ticks" "$idle_secs" "$interval" $((host_cpu1 - host_cpu0)) $((floor_cpu1 - floor_cpu0)) \
  $((wake1 - wake0)) $((rounds1 - rounds0)) <<'REPORT'
import sys
shell = "window app (no window, PRESENTLY_TRAY_HOST=0)" if sys.argv[1] == "app" else "tray host"
ticks, idle, interval, host, floor, wakes, rounds = map(float, sys.argv[2:])
rounds = max(rounds, 1)
print(f"idle {idle:.0f} s, sync every {interval:.0f} s: {rounds:.0f} rounds")
print(f"{shell}: {host / ticks:.2f} s CPU ({host / ticks * 1000 / rounds:.1f} ms per round, "
      f"{host / ticks * 300 / idle:.3f} s per 300 s), {wakes * 60 / idle:.1f} wake-ups per minute")
print(f"floor (one GET per interval, kept-alive): {floor / ticks:.2f} s CPU "
      f"({floor / ticks * 1000 / rounds:.1f} ms per request)")
print(f"(CPU is counted in clock ticks of {1000 / ticks:.0f} ms)")
REPORT
