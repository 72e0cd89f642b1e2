#!/usr/bin/env bash
# `make test`: the whole suite on SQLite and, when KEYSTEAD_TEST_POSTGRES_URL names a
# PostgreSQL server (.ci/run starts one), the whole suite again on PostgreSQL, browser tests
# included. The two runs go in parallel, one per core, each with its own temporary folder;
# the SQLite run prints as it goes, the PostgreSQL run's output follows it. Exits non-zero
# when either run fails or runs no test. Extra arguments go to both pytest runs.
set -u
PYTHON=${PYTHON:-.venv/bin/python}
work=$(mktemp -d /tmp/keystead-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

pg_status=0
if [ -n "${KEYSTEAD_TEST_POSTGRES_URL:-}" ]; then
  "$PYTHON" -m pytest -p no:cacheprovider --basetemp="$work/postgres" "$@" >"$work/postgres.log" 2>&1 &
  pg_pid=$!
fi

echo "== the suite on SQLite"
env -u KEYSTEAD_TEST_POSTGRES_URL "$PYTHON" -m pytest -p no:cacheprovider --basetemp="$work/sqlite" "$@"
sqlite_status=$?

if [ -n "${KEYSTEAD_TEST_POSTGRES_URL:-}" ]; then
  wait "$pg_pid"
  pg_status=$?
  echo "== the suite on PostgreSQL (${KEYSTEAD_TEST_POSTGRES_URL%%@*}@…)"
  cat "$work/postgres.log"
fi

if [ -n "${KEYSTEAD_TEST_POSTGRES_URL:-}" ]; then
  echo "== SQLite run: exit $sqlite_status; PostgreSQL run: exit $pg_status"
else
  echo "== SQLite run: exit $sqlite_status; PostgreSQL run: not run (KEYSTEAD_TEST_POSTGRES_URL unset)"
fi
[ "$sqlite_status" -eq 0 ] && [ "$pg_status" -eq 0 ]
