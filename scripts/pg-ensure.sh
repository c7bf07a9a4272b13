#!/usr/bin/env bash
# Make sure a local PostgreSQL server answers, starting (or installing) it when it does not.
set -euo pipefail
if [ -n "${MEDTRACE_TEST_PG_URL:-}" ]; then
  exit 0  # an external server was named; nothing to start here
fi
if command -v pg_isready >/dev/null && pg_isready -q; then
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null; then
  echo "PostgreSQL is not installed; installing it from Debian's packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 30); do
  pg_isready -q && break
  sleep 1
done
pg_isready -q || { echo "PostgreSQL did not start" >&2; exit 1; }
# The tests connect over the socket as the current OS user: make sure that role exists.
me=$(id -un)
if ! psql -d postgres -Atc "select 1" >/dev/null 2>&1; then
  su postgres -c "createuser --superuser $me" || true
fi
