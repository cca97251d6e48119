#!/usr/bin/env bash
# Make sure PostgreSQL (5432), MariaDB (3306) and Redis (6379) answer on 127.0.0.1: start the
# ones that do not, wait for them, and exit 1 naming every one that still does not answer (the
# suite needs all three; a missing one must stop `make test`, not skip its tests).
# SERVICES_WAIT: seconds to wait for each service after starting it (default 30).
set -uo pipefail
WAIT="${SERVICES_WAIT:-30}"
missing=()

pg_up() { pg_isready -h 127.0.0.1 -p 5432; }
pg_start() { pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql 2>/dev/null | head -1)" main start; }
maria_up() { mysqladmin -h 127.0.0.1 -uroot status; }
maria_start() { start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping | grep -qx PONG; }
redis_start() { redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no; }

# ensure NAME UP START: nothing to do if UP succeeds; else START, then wait for UP.
ensure() {
  local name=$1 up=$2 start=$3
  "$up" >/dev/null 2>&1 && return 0
  echo "services.sh: starting $name" >&2
  "$start" >/dev/null 2>&1 || echo "services.sh: could not start $name ($start failed)" >&2
  for _ in $(seq 1 "$WAIT"); do
    "$up" >/dev/null 2>&1 && return 0
    sleep 1
  done
  "$up" >/dev/null 2>&1 && return 0
  missing+=("$name")
}

ensure "PostgreSQL (127.0.0.1:5432)" pg_up pg_start
ensure "MariaDB (127.0.0.1:3306)" maria_up maria_start
ensure "Redis (127.0.0.1:6379)" redis_up redis_start

if [ "${#missing[@]}" -gt 0 ]; then
  {
    echo "services.sh: FAILED: not answering after ${WAIT}s:"
    printf '  - %s\n' "${missing[@]}"
    echo "The tests of these backends cannot run; start them (or fix their installation) and retry."
  } >&2
  exit 1
fi
exit 0
