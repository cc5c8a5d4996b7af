#!/bin/sh
# crlm container entrypoint (also run on the host by tests/test_deploy.py).
#
#  1. secrets from files: for each VAR below, VAR_FILE names a file holding its value
#     (Docker/compose secrets); setting both VAR and VAR_FILE is an error;
#  2. waits for the database (CRLM_DB_WAIT_S seconds, default 60);
#  3. migrates it to the newest schema (`crlm db migrate`, Alembic);
#  4. creates the first admin when there is no admin yet (`crlm user add`): with the password
#     of CRLM_ADMIN_PASSWORD(_FILE) if given, else with a random password nobody sees, and
#     prints the command that issues a one-time password (`crlm user reset-password`);
#  5. execs `crlm serve` (workers, forwarded IPs and log format from CRLM_WORKERS,
#     CRLM_FORWARDED_ALLOW_IPS, CRLM_LOG_FORMAT); extra arguments are passed to it.
set -eu

say() { printf 'crlm-entrypoint: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# file_env VAR: export VAR from the file named by VAR_FILE (trailing newlines dropped).
file_env() {
  var=$1
  file_var="${var}_FILE"
  eval "value=\${$var:-}"
  eval "file=\${$file_var:-}"
  if [ -n "$file" ]; then
    [ -z "$value" ] || die "both $var and $file_var are set; set only one"
    [ -r "$file" ] || die "$file_var: cannot read $file (does the crlm user have read access?)"
    value=$(cat "$file")
    [ -n "$value" ] || die "$file_var: $file is empty"
    export "$var=$value"
  fi
  unset "$file_var"
}

file_env CRLM_DATABASE_URL
file_env CRLM_SECRET_KEY
file_env CRLM_DEID_SECRET
file_env CRLM_ADMIN_PASSWORD
# PostgreSQL password for a CRLM_DATABASE_URL without one (libpq reads PGPASSWORD), so that
# compose can give the database and crlm the same secret file.
file_env PGPASSWORD

PYTHON=${CRLM_PYTHON:-python}
ADMIN=${CRLM_ADMIN_USERNAME:-admin}
: "${CRLM_DATABASE_URL:=sqlite:///./crlm.db}"
export CRLM_DATABASE_URL

# 2. wait for the database (reports the error class, never the URL: it may hold a password)
"$PYTHON" - "${CRLM_DB_WAIT_S:-60}" <<'PY' || die "database not reachable; giving up"
import sys
import time

from sqlalchemy import text

from crlm.registry.db import database_url, make_engine

limit = float(sys.argv[1])
deadline = time.monotonic() + limit
engine = make_engine(database_url())
while True:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        break
    except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
        if time.monotonic() >= deadline:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[:1]
            print(f"crlm-entrypoint: database still unreachable after {limit:g} s "
                  f"({type(exc).__name__}: {' '.join(reason)})", file=sys.stderr)
            sys.exit(1)
        time.sleep(1)
engine.dispose()
PY

# 3. schema
crlm db migrate >&2

# 4. first admin
if crlm user list | awk -F '\t' '$2 == "admin" { found = 1 } END { exit !found }'; then
  say "an admin account exists"
else
  if [ -n "${CRLM_ADMIN_PASSWORD:-}" ]; then
    password=$CRLM_ADMIN_PASSWORD
    how="log in with the password of CRLM_ADMIN_PASSWORD_FILE"
  else
    password=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))')
    how="get a one-time password with:  crlm user reset-password $ADMIN
  (in compose: docker compose exec crlm crlm user reset-password $ADMIN)"
  fi
  if printf '%s\n' "$password" | crlm user add "$ADMIN" --role admin --password-stdin >&2; then
    say "first admin account '$ADMIN' created; $how"
  else
    # another replica may have created it at the same moment
    crlm user list | awk -F '\t' '$2 == "admin" { found = 1 } END { exit !found }' \
      || die "could not create the first admin '$ADMIN'"
  fi
  unset password
fi
unset CRLM_ADMIN_PASSWORD

# 5. serve (PID 1 is uvicorn: it receives SIGTERM and shuts down gracefully)
exec crlm serve --host "${CRLM_HOST:-0.0.0.0}" --port "${CRLM_PORT:-8000}" "$@"
