#!/usr/bin/env bash
# `make e2e`: the types generated from openapi.yaml and the tests compiled with strict tsc, then
# the built server on a free port against a fresh database, the frontend client flow, the
# Swagger UI browser test and the cross-origin (CORS) browser test against it. The server is
# stopped and the database dropped on every exit, failures included.
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
prom_pid=""
prom_dir=""

[[ -x "$bin" ]] || { echo "e2e: no server binary at $bin: run 'make build'" >&2; exit 1; }
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
[[ -x "$chromium" ]] || { echo "e2e: no Chromium at $chromium: apt-get update && apt-get install -y chromium" >&2; exit 1; }

cleanup() {
  local status=$?
  if [[ -n "$prom_pid" ]]; then
    kill -TERM "$prom_pid" 2>/dev/null || true
    wait "$prom_pid" 2>/dev/null || true
  fi
  [[ -n "$prom_dir" ]] && rm -rf "$prom_dir"
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

# A second local origin for the CORS test: a page the test serves on this port, at 127.0.0.1 (the
# origin the server allows) and at localhost (the same page on an origin it does not allow).
page_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

# The server picks its own free port (PORT=0) and names it in its "serving" log line: no race with
# another process for a port chosen in advance. In development it creates the missing database.
echo "e2e: starting the server against database $db"
(
  cd "$root/e2e" # no .env of the repository root: the environment below is all it gets
  exec env APP_ENV=development PORT=0 METRICS_ADDR=127.0.0.1:0 LOG_FORMAT=json LOG_LEVEL=info \
    DATABASE_URL="$pg/$db?sslmode=disable" \
    BCRYPT_COST=4 AUTH_RATE_LIMIT=0 REFRESH_REUSE_GRACE=0s \
    CORS_ALLOWED_ORIGINS="http://127.0.0.1:$page_port" \
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

export E2E_BASE_URL="$base" CHROMIUM_PATH="$chromium" E2E_PAGE_PORT="$page_port"
failed=0
echo "--- e2e: the frontend client flow (openapi-fetch)"
npm run --silent test:client || failed=1
echo "--- e2e: Swagger UI in Chromium (playwright-core)"
npm run --silent test:browser || failed=1
echo "--- e2e: a page on another origin calls the API in Chromium (CORS)"
npm run --silent test:cors || failed=1
echo "e2e: screenshots in e2e/artifacts/"

# Debian's Prometheus server scrapes the running API's metrics listener, and a counter the flow
# moved is read back through Prometheus' HTTP API: the exposition works for the real consumer.
# All on loopback, bounded to 30 s.
metrics="$(sed -n 's/.*"msg":"metrics serving".*"addr":"http:\/\/\([^"/]*\)\/metrics".*/\1/p' "$log" | head -n 1)"
if [[ -z "$metrics" ]]; then
  echo "e2e: the server did not log its metrics address" >&2; failed=1
elif ! command -v prometheus >/dev/null; then
  echo "e2e: no Prometheus server (Debian: apt-get install prometheus): scrape skipped"
else
  echo "--- e2e: Prometheus scrapes $metrics"
  prom_dir="$(mktemp -d -t ecompointer-prom.XXXXXX)"
  prom_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  cat >"$prom_dir/prometheus.yml" <<YAML
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: ecompointer
    static_configs: [{targets: ["$metrics"]}]
YAML
  prometheus --config.file="$prom_dir/prometheus.yml" --storage.tsdb.path="$prom_dir/data" \
    --web.listen-address="127.0.0.1:$prom_port" >"$prom_dir/prometheus.log" 2>&1 &
  prom_pid=$!
  query='sum(ecompointer_http_requests_total{route="/auth/login",status_class="2xx"})'
  value=""
  for _ in $(seq 1 60); do
    value="$(curl -fsS --get "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$query" 2>/dev/null \
      | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null || true)"
    [[ -n "$value" && "$value" != "0" ]] && break
    sleep 0.5
  done
  if [[ -n "$value" && "$value" != "0" ]]; then
    echo "e2e: Prometheus read $query = $value"
  else
    echo "e2e: Prometheus did not read $query within 30 s" >&2
    tail -n 20 "$prom_dir/prometheus.log" >&2 || true
    failed=1
  fi
fi
exit "$failed"
