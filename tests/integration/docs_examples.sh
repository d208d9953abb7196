#!/usr/bin/env bash
# The SQL examples of README.md and docs/reference.md run, in order, on a database set up as the
# demo does (CDNOW, scripts/demo.sql, the tables of scripts/demo_views.sql), and every output they show
# (`--  header | ...` comment lines, `-- ERROR:  ...`) is what PostgreSQL prints
# (tests/integration/docs_examples.py). The extension must be installed. Throw-away cluster on
# port 54338.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh

PORT=54338
DIR=/tmp/customer_tiers-docs-examples
throwaway_cluster $PORT "$DIR" -c shared_preload_libraries=pg_cron -c cron.database_name=postgres
PSQL=(env -u RUST_BACKTRACE PGTZ=UTC PGDATESTYLE=ISO PGOPTIONS=--client-min-messages=warning
      psql -X -q -h "$DIR/sock" -p $PORT -U postgres -v ON_ERROR_STOP=1 -d postgres)
"${PSQL[@]}" -c "CREATE EXTENSION pg_cron" -c "CREATE EXTENSION customer_tiers" -f tests/sql/load_cdnow.sql >/dev/null
"${PSQL[@]}" -f scripts/demo.sql >/dev/null
# the demo's part 2 makes the README's tables (donations, cdnow_customers) and its tier view,
# which the README then declares itself: drop the view and its history
"${PSQL[@]}" -f scripts/demo_views.sql >/dev/null
"${PSQL[@]}" -c "SELECT tiers.drop_tier_view('cdnow_tiers')" \
    -c "DELETE FROM tiers.tier_history WHERE scheme = 'cdnow_loyalty'" \
    -c "DELETE FROM tiers.tier_evaluations WHERE scheme = 'cdnow_loyalty'" >/dev/null

python3 tests/integration/docs_examples.py "${PSQL[@]}" -- README.md docs/reference.md
