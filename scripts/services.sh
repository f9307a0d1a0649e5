#!/usr/bin/env bash
# Start the PostgreSQL and Redis the tests use, unless they already answer, and wait for both.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }

need() {
  command -v "$1" >/dev/null || { echo "services: '$1' not found; install $2 (Debian: apt-get install $2)." >&2; exit 1; }
}

if ! pg_up; then
  need pg_ctlcluster postgresql
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  echo "services: starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi

if ! redis_up; then
  need redis-server redis-server
  echo "services: starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi

for _ in $(seq 60); do
  if pg_up && redis_up; then exit 0; fi
  sleep 1
done
pg_up || echo "services: PostgreSQL at 127.0.0.1:5432 did not answer within 60 s." >&2
redis_up || echo "services: Redis at 127.0.0.1:6379 did not answer within 60 s." >&2
exit 1
