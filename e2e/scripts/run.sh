#!/usr/bin/env bash
# `make e2e`: the types generated from openapi.yaml and the tests compiled with strict tsc, then
# the built server on a free port against a fresh database, the frontend client flow and the
# Swagger UI browser test against it. The server is stopped and the database dropped on every
# exit, failures included.
#
#   e2e/scripts/run.sh [path/to/ecompointer]     (default bin/ecompointer, built by `make build`)
#
# E2E_PG_URL (default postgres://postgres@127.0.0.1:5432) is a PostgreSQL login that may create
# databases; CHROMIUM_PATH (default /usr/bin/chromium) the browser.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$(realpath "${1:-$root/bin/ecompointer}")"
pg="${E2E_PG_URL:-postgres://postgres@127.0.0.1:5432}"
db="ecompointer_e2e_$(date +%s)_$RANDOM"
log="$(mktemp -t ecompointer-e2e.XXXXXX.log)"
pid=""

[[ -x "$bin" ]] || { echo "e2e: no server binary at $bin: run 'make build'" >&2; exit 1; }
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
[[ -x "$chromium" ]] || { echo "e2e: no Chromium at $chromium: apt-get update && apt-get install -y chromium" >&2; exit 1; }

cleanup() {
  local status=$?
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  psql -q -X "$pg/postgres?sslmode=disable" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null \
    || echo "e2e: could not drop database $db" >&2
  if [[ $status -ne 0 && -n "$pid" ]]; then
    echo "e2e: failed; the server's log ($log):" >&2
    tail -n 50 "$log" >&2 || true
  else
    rm -f "$log"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$root/e2e"
# npm records the installed tree in node_modules/.package-lock.json: older than the lock, reinstall.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
# The types are generated from ../openapi.yaml, then strict tsc compiles the tests, emitting nothing
# on a type error: a spec change that breaks the client stops the run here.
rm -rf build
npm run --silent build

# The server picks its own free port (PORT=0) and names it in its "serving" log line: no race with
# another process for a port chosen in advance. In development it creates the missing database.
echo "e2e: starting the server against database $db"
(
  cd "$root/e2e" # no .env of the repository root: the environment below is all it gets
  exec env APP_ENV=development PORT=0 LOG_FORMAT=json LOG_LEVEL=info \
    DATABASE_URL="$pg/$db?sslmode=disable" \
    BCRYPT_COST=4 AUTH_RATE_LIMIT=0 REFRESH_REUSE_GRACE=0s \
    "$bin" serve
) >"$log" 2>&1 &
pid=$!

port=""
for _ in $(seq 1 600); do
  port="$(sed -n 's/.*"msg":"serving".*"addr":"[^"]*:\([0-9][0-9]*\)".*/\1/p' "$log" | head -n 1)"
  [[ -n "$port" ]] && break
  kill -0 "$pid" 2>/dev/null || { echo "e2e: the server exited before serving" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "e2e: the server did not log its address within 60 s" >&2; exit 1; }
base="http://127.0.0.1:$port"
for _ in $(seq 1 300); do
  curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
  sleep 0.1
done
curl -fsS -o /dev/null "$base/readyz" || { echo "e2e: $base/readyz never answered 200" >&2; exit 1; }
echo "e2e: server ready at $base"

export E2E_BASE_URL="$base" CHROMIUM_PATH="$chromium"
failed=0
echo "--- e2e: the frontend client flow (openapi-fetch)"
npm run --silent test:client || failed=1
echo "--- e2e: Swagger UI in Chromium (playwright-core)"
npm run --silent test:browser || failed=1
echo "e2e: screenshots in e2e/artifacts/"
exit "$failed"
