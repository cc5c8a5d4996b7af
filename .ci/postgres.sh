# Start a throw-away PostgreSQL cluster on 127.0.0.1 from Debian's package; exports
# CRLM_TEST_POSTGRES_URL. Source this file, then call start_test_postgres / stop_test_postgres.
PG_PORT="${PG_PORT:-54329}"
PG_DIR="${PG_DIR:-/tmp/crlm-ci-pg}"

_pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] || { echo "postgres: Debian package not installed" >&2; return 1; }
  echo "$d"
}

start_test_postgres() {
  local bin
  bin=$(_pg_bin) || return 1
  stop_test_postgres  # a cluster left by an interrupted run
  rm -rf "$PG_DIR"
  mkdir -p "$PG_DIR"
  chown postgres:postgres "$PG_DIR"
  su postgres -s /bin/sh -c "$bin/initdb -D $PG_DIR/data -A trust -U postgres >/dev/null"
  su postgres -s /bin/sh -c "$bin/pg_ctl -D $PG_DIR/data -l $PG_DIR/log -w \
      -o '-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off' start >/dev/null"
  "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -q -c "CREATE DATABASE crlm_test;"
  export CRLM_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/crlm_test"
  echo "postgres: running on 127.0.0.1:$PG_PORT ($CRLM_TEST_POSTGRES_URL)"
}

stop_test_postgres() {
  local bin
  bin=$(_pg_bin) || return 0
  if [ -f "$PG_DIR/data/postmaster.pid" ]; then
    su postgres -s /bin/sh -c "$bin/pg_ctl -D $PG_DIR/data -m fast stop >/dev/null" || true
  fi
}
