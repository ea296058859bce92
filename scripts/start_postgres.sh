#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the tests (or reuse the one running on
# the port) with a fresh, empty database; print its URL on stdout.
#   PG_TEST_DIR   where the cluster lives (default /tmp/promptsearch-pg; deleted and recreated)
#   PG_TEST_PORT  port (default 55432, away from a system server on 5432)
# Installs Debian's `postgresql` package when no server binaries are found (needs root).
# The server runs as the `postgres` user when started by root (initdb refuses to run as root).
# Stop it with: pg_ctl -D "$PG_TEST_DIR/data" stop   (as the same user)
set -euo pipefail
DIR=${PG_TEST_DIR:-/tmp/promptsearch-pg}
PORT=${PG_TEST_PORT:-55432}
USER_NAME=promptsearch
PASSWORD=promptsearch-test  # a password, so that the tests can check it is masked everywhere
DB=promptsearch_test
URL="postgresql://$USER_NAME:$PASSWORD@127.0.0.1:$PORT/$DB"

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
BIN=$(find_bin)
if [ -z "$BIN" ]; then
  echo "installing postgresql (apt-get)…" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  BIN=$(find_bin)
fi
[ -n "$BIN" ] || { echo "start_postgres.sh: no PostgreSQL server binaries found" >&2; exit 1; }

as_pg() {  # run a command as the server's owner
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  echo "PostgreSQL already running on 127.0.0.1:$PORT" >&2
else
  rm -rf "$DIR"
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
  # trust over the socket (for the setup below), passwords over TCP (what the tests use)
  as_pg "$BIN/initdb" -D "$DIR/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=100" start >&2
fi

psql() { as_pg "$BIN/psql" -h "$DIR" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -q "$@"; }
if [ "$(psql -tA -c "SELECT 1 FROM pg_roles WHERE rolname = '$USER_NAME'")" != 1 ]; then
  psql -c "CREATE ROLE $USER_NAME LOGIN PASSWORD '$PASSWORD'"
fi
# a fresh database every time: tests must not see an earlier run's tables
psql -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
psql -c "CREATE DATABASE $DB OWNER $USER_NAME"
echo "$URL"
