#!/usr/bin/env bash
# `make failover`: a primary and a synchronous standby managed by pg_auto_failover (Debian's
# postgresql-15-auto-failover) on this machine, in their own directory and ports (monitor 55432,
# nodes 55433 and 55434; the machine's own cluster on 5432 is never touched), then the drill:
# three instances on a multi-host DATABASE_URL (target_session_attrs=read-write) under order and
# reservation load, the primary killed, the standby promoted (cmd/cluster/failover.go).
# FAILOVER_QUICK=1 (CI): short load phases. FAILOVER_KEEP=1 keeps the directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=${1:-bin/ecompointer}

command -v pg_autoctl >/dev/null || { echo "pg_autoctl is missing (Debian: apt-get install postgresql-15-auto-failover)" >&2; exit 1; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
for port in 55432 55433 55434; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then echo "port $port is in use" >&2; exit 1; fi
done

dir=$(mktemp -d /tmp/ecompointer-failover-XXXXXX)
chmod 755 "$dir"
# PostgreSQL and pg_autoctl refuse to run as root: run them as the postgres user.
as_pg=()
if [[ $(id -u) == 0 ]]; then
  chown postgres: "$dir"
  as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups)
fi
pg() { "${as_pg[@]}" env HOME="$dir" PATH="$pgbin:$PATH" XDG_RUNTIME_DIR="$dir" XDG_CONFIG_HOME="$dir" XDG_DATA_HOME="$dir" "$@"; }

cleanup() {
  for n in monitor node1 node2; do
    [[ -f $dir/$n.pid ]] && kill -TERM -- -"$(cat "$dir/$n.pid")" 2>/dev/null || true
  done
  sleep 1
  for n in monitor node1 node2; do
    [[ -f $dir/$n.pid ]] && kill -KILL -- -"$(cat "$dir/$n.pid")" 2>/dev/null || true
  done
  [[ -n ${FAILOVER_KEEP:-} ]] && echo "formation left in $dir" || rm -rf "$dir"
}
trap cleanup EXIT

# Each pg_autoctl in its own process group (setsid), so the drill can kill a node whole.
# A plain command in the background (no function or subshell in between), so that $! is the
# process that setsid makes a group leader and that becomes pg_autoctl.
start() { # name, args...
  local name=$1; shift
  setsid "${as_pg[@]}" env HOME="$dir" PATH="$pgbin:$PATH" XDG_RUNTIME_DIR="$dir" XDG_CONFIG_HOME="$dir" XDG_DATA_HOME="$dir" \
    pg_autoctl "$@" --run >"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
}
wait_sql() { # port, query, want, seconds (database: WAIT_DB, default postgres)
  local until=$((SECONDS + $4)) got=
  while ((SECONDS < until)); do
    got=$(psql -h 127.0.0.1 -p "$1" -U postgres -d "${WAIT_DB:-postgres}" -Atc "$2" 2>&1) || true
    [[ $got == "$3" ]] && return 0
    sleep 0.25
  done
  # What psql last said (an answer, or why it got none) is what tells a slow node from a refusal.
  echo "timed out waiting on port $1 for: $2 = $3; psql last said: $got" >&2; tail -n 20 "$dir"/*.log >&2; return 1
}

echo "--- pg_auto_failover: monitor and two nodes in $dir"
start monitor create monitor --pgdata "$dir/monitor" --pgport 55432 --hostname 127.0.0.1 --auth trust --no-ssl
wait_sql 55432 "SELECT 1 FROM pg_database WHERE datname = 'pg_auto_failover'" 1 60
sleep 1 # the monitor's extension is made right after its database
# Detect a dead node in a few seconds rather than pg_auto_failover's default 20 s, and promote the
# standby 5 s after the primary stopped answering instead of 30 s: the time the monitor grants an
# unreachable primary to demote itself before another node may take writes. On separate machines
# keep it above the time a partitioned primary needs to notice (its keeper demotes it when it
# cannot reach the monitor), or a primary cut off from the monitor may still take writes.
psql -h 127.0.0.1 -p 55432 -U postgres -d pg_auto_failover -q \
  -c "ALTER SYSTEM SET pgautofailover.health_check_period = 1000" \
  -c "ALTER SYSTEM SET pgautofailover.health_check_timeout = 3000" \
  -c "ALTER SYSTEM SET pgautofailover.health_check_max_retries = 2" \
  -c "ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500" \
  -c "ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 4000" \
  -c "ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 5000" \
  -c "SELECT pg_reload_conf()" >/dev/null
monitor="postgres://autoctl_node@127.0.0.1:55432/pg_auto_failover?sslmode=disable"
start node1 create postgres --pgdata "$dir/node1" --pgport 55433 --hostname 127.0.0.1 --auth trust --no-ssl --monitor "$monitor" --name node1
wait_sql 55433 "SELECT pg_is_in_recovery()" f 90
start node2 create postgres --pgdata "$dir/node2" --pgport 55434 --hostname 127.0.0.1 --auth trust --no-ssl --monitor "$monitor" --name node2
wait_sql 55434 "SELECT pg_is_in_recovery()" t 120
# Synchronous: the primary waits for the standby before it acknowledges a commit.
# (pg_auto_failover sets synchronous_standby_names to ANY 1 (...): sync_state "quorum".)
wait_sql 55433 "SELECT bool_or(sync_state IN ('sync', 'quorum')) FROM pg_stat_replication" t 60
# And the monitor agrees: both nodes report their goal state.
WAIT_DB=pg_auto_failover wait_sql 55432 "SELECT count(*) FROM pgautofailover.node WHERE reportedstate = goalstate AND reportedstate IN ('primary', 'secondary')" 2 60 \
  || true
pg pg_autoctl show state --pgdata "$dir/monitor"

echo "--- the drill"
quick=()
[[ -n ${FAILOVER_QUICK:-} ]] && quick=(--quick)
DATABASE_URL="postgres://postgres@127.0.0.1:55433,127.0.0.1:55434/postgres?sslmode=disable&target_session_attrs=read-write&connect_timeout=3" \
  CLUSTER_FAILOVER_DIR="$dir" go run ./cmd/cluster --server "$binary" "${quick[@]}"
pg pg_autoctl show state --pgdata "$dir/monitor"
