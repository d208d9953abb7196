#!/usr/bin/env bash
# Runs the isolation specs (tests/isolation/specs, PostgreSQL's isolationtester through
# pg_isolation_regress from pgxs) against a throw-away cluster (the extension must be installed).
# Usage: scripts/isolation.sh [spec ...]   (default: every spec)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

PORT=54337
DIR=/tmp/customer_tiers-isolation
throwaway_cluster $PORT "$DIR"
ISOLATION="$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/isolation/pg_isolation_regress"
if [ $# -gt 0 ]; then SPECS=("$@"); else
    SPECS=($(cd tests/isolation/specs && ls *.spec | sed 's/\.spec$//' | sort))
fi
OUT="$DIR/out"; mkdir -p "$OUT"; chown postgres: "$OUT"
status=0
PGTZ=UTC PGDATESTYLE=ISO env -u RUST_BACKTRACE "$ISOLATION" \
    --inputdir=tests/isolation --outputdir="$OUT" --bindir="$PGBIN" \
    --host="$DIR/sock" --port=$PORT --user=postgres \
    --dbname=customer_tiers_isolation --load-extension=customer_tiers \
    "${SPECS[@]}" || status=$?
if [ $status -ne 0 ]; then
    cat "$OUT/regression.diffs" 2>/dev/null | head -200 || true
fi
exit $status
