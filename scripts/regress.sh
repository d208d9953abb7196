#!/usr/bin/env bash
# Runs the pg_regress suite against a throw-away cluster (the extension must be installed).
# Usage: scripts/regress.sh [test ...]   (default: every tests/pg_regress/sql/*.sql)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

PORT=54329
DIR=/tmp/customer_tiers-regress
throwaway_cluster $PORT "$DIR" -c max_worker_processes=8 -c max_parallel_workers=4

if [ $# -gt 0 ]; then TESTS=("$@"); else
    TESTS=($(cd tests/pg_regress/sql && ls *.sql | sed 's/\.sql$//' | sort))
fi
OUT="$DIR/out"; mkdir -p "$OUT"; chown postgres: "$OUT"
status=0
PGTZ=UTC PGDATESTYLE=ISO env -u RUST_BACKTRACE "$PG_REGRESS" \
    --inputdir=tests/pg_regress --outputdir="$OUT" --bindir="$PGBIN" \
    --host="$DIR/sock" --port=$PORT --user=postgres \
    --dbname=customer_tiers_regress --load-extension=customer_tiers \
    "${TESTS[@]}" || status=$?
if [ $status -ne 0 ]; then
    cat "$OUT/regression.diffs" 2>/dev/null | head -200 || true
    grep -E "PANIC|server process .* was terminated" "$DIR/server.log" || true
fi
if grep -qE "PANIC|terminated by signal" "$DIR/server.log"; then
    echo "server crashed during the regression tests"; status=1
fi
exit $status
