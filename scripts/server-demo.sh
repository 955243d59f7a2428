#!/usr/bin/env bash
# Server mode on this machine, end to end: a throwaway PostgreSQL (scripts/pg-throwaway.sh),
# the Microsoft 365 emulator with USERS users (default 200) and a daemon app registered with a
# certificate, and two presently-server workers sharing the users. Shows `status`, kills one
# worker with SIGKILL, shows the other taking its mailboxes over, then stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
users=${USERS:-200}
lease=${LEASE_SECS:-5}
target=${CARGO_TARGET_DIR:-target}/debug
work=$(mktemp -d /tmp/presently-server-demo.XXXXXX)
chmod 711 "$work" # PostgreSQL runs as postgres and must reach its directory inside
pids=()
cleanup() {
  # The workers release their leases on SIGTERM: the database goes last.
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  bash scripts/pg-throwaway.sh stop "$work/pg" || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

echo "==> building presently (the emulator) and presently-server"
cargo build -q -p presently-cli -p presently-server

echo "==> PostgreSQL"
db=$(bash scripts/pg-throwaway.sh start "$work/pg" "$(free_port)")
echo "$db"

echo "==> the emulator"
emu_port=$(free_port)
base="http://127.0.0.1:$emu_port"
"$target/presently" emulator --port "$emu_port" >"$work/emulator.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "$base/_emulator/stats" >/dev/null && break; sleep 0.1; done

client_id=5d0c3f9e-8a41-4b7e-9c2d-1f6a7b8c9d0e
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=presently-server-demo \
  -keyout "$work/server.key" -out "$work/server.crt" 2>/dev/null
chmod 600 "$work/server.key"
cert_json=$(awk 'BEGIN { ORS = "\\n" } { print }' "$work/server.crt")
curl -sf -X POST "$base/_emulator/confidential-apps" -H 'content-type: application/json' \
  -d "{\"clientId\": \"$client_id\", \"certificatePem\": \"$cert_json\", \"roles\": [\"Calendars.Read\"]}"
ids=$(curl -sf -X POST "$base/_emulator/users" -H 'content-type: application/json' \
  -d "{\"count\": $users}" | grep -o '"id":"[^"]*"' | cut -d'"' -f4)
list=$(printf '"%s", ' $ids)
echo "$users users, app $client_id registered with the certificate and Calendars.Read"

# worker-a takes at most half the users, worker-b may hold them all (to take a's over).
for w in a b; do
  max=$users; [ "$w" = a ] && max=$(( (users + 1) / 2 ))
  cat >"$work/$w.toml" <<TOML
[database]
url = "$db"
[identity]
tenant = "3f9a1c2e-5b7d-4e6f-8a9b-0c1d2e3f4a5b"
client_id = "$client_id"
authority = "$base"
certificate = "$work/server.crt"
private_key_file = "$work/server.key"
[graph]
endpoint = "$base"
[sync]
interval_secs = 2
[leases]
worker_id = "worker-$w"
lease_secs = $lease
max_mailboxes = $max
[users]
list = [${list%, }]
TOML
done

echo "==> check"
"$target/presently-server" check --config "$work/a.toml"

echo "==> two workers"
PRESENTLY_LOG=warn "$target/presently-server" serve --config "$work/a.toml" &
a=$!; pids+=($a)
sleep 1
PRESENTLY_LOG=warn "$target/presently-server" serve --config "$work/b.toml" &
pids+=($!)
# The first sync of every mailbox (a debug build syncs ~20 a second).
sleep $((3 + users / 20))
"$target/presently-server" status --config "$work/a.toml" | head -n 14
echo "   ... ($users mailboxes in all)"

echo "==> kill -9 worker-a; worker-b takes its mailboxes over within $lease s"
kill -9 "$a"
sleep $((lease + 3 + users / 40))
"$target/presently-server" status --config "$work/b.toml" | head -n 14
"$target/presently-server" history --config "$work/b.toml" --limit 5
