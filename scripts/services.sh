#!/usr/bin/env bash
# Make sure PostgreSQL (5432), MariaDB (3306) and Redis (6379) answer on 127.0.0.1.
set -uo pipefail
wait_for() { for _ in $(seq 1 30); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done; echo "service did not start: $*" >&2; return 1; }
if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  wait_for pg_isready -h 127.0.0.1 -p 5432
fi
if ! mysqladmin -h 127.0.0.1 -uroot status >/dev/null 2>&1; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  wait_for mysqladmin -h 127.0.0.1 -uroot status
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
  wait_for redis-cli -h 127.0.0.1 -p 6379 ping
fi
exit 0
