#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for server mode's tests and demo (Debian's postgresql).
#   scripts/pg-throwaway.sh start DIR PORT   initdb in DIR/data (once), start it on
#                                            127.0.0.1:PORT (socket in DIR), create the
#                                            database "presently"; prints its URL
#   scripts/pg-throwaway.sh stop DIR         stop it (DIR stays; remove it yourself)
# PostgreSQL never runs as root: as root, the cluster belongs to and runs as `postgres`.
# The superuser is `presently`, with trust authentication on loopback only.
set -euo pipefail
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2; }

bin=${PG_BIN:-}
if [ -z "$bin" ]; then
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "pg-throwaway: no PostgreSQL server found under /usr/lib/postgresql/*/bin (set PG_BIN, or run scripts/setup.sh test, which installs Debian's postgresql)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    port=${3:?usage: $0 start DIR PORT}
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    if ! as_owner test -w "$dir"; then
      echo "pg-throwaway: the postgres user cannot write to $dir: make its parent directories traversable (chmod o+x)" >&2
      exit 1
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir/data" -A trust -U presently --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    # PG_TLS_CERT and PG_TLS_KEY (PEM files): the server also offers TLS with them.
    tls=""
    if [ -n "${PG_TLS_CERT:-}" ] && [ -n "${PG_TLS_KEY:-}" ]; then
      cp "$PG_TLS_CERT" "$dir/data/server.crt"
      cp "$PG_TLS_KEY" "$dir/data/server.key"
      chmod 600 "$dir/data/server.key"
      [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/data/server.crt" "$dir/data/server.key"
      tls="-c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key"
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off $tls" >/dev/null \
      || { cat "$dir/log" >&2; exit 1; }
    "$bin/psql" -q -h 127.0.0.1 -p "$port" -U presently -d postgres \
      -c "SELECT 1 FROM pg_database WHERE datname = 'presently'" -t | grep -q 1 \
      || "$bin/createdb" -h 127.0.0.1 -p "$port" -U presently presently
    echo "postgresql://presently@127.0.0.1:$port/presently"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    ;;
  *)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
