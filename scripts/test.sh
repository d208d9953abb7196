#!/usr/bin/env bash
# Runs every test: Rust unit tests of the core, #[pg_test] tests inside PostgreSQL, and the
# SQL regression tests (pg_regress, expected output under tests/pg_regress/expected), the
# isolation specs (tests/isolation), and the
# multi-session integration tests of tier views (tests/integration), a three-node Citus cluster
# (tests/citus), then the same suites against
# PostgreSQL 16, 17 and 18 (scripts/test-pg.sh) and the .deb packages (tests/packages.sh).
# PostgreSQL runs as the postgres user in throw-away clusters under /tmp.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh

echo "== core unit tests"
cargo test -p customer_tiers_core --quiet
# the AVX2 quadrature nodes against the portable ones as the optimiser compiles them (vectorised)
cargo test -p customer_tiers_core --release --quiet paretonbd_node_exponentials_and_lanes

echo "== #[pg_test] tests"
PGRX_TEST_DATA=/tmp/customer_tiers-pgrx-test
rm -rf "$PGRX_TEST_DATA"; mkdir -p "$PGRX_TEST_DATA"; chown postgres: "$PGRX_TEST_DATA"
# with --runas, cargo-pgrx installs by `sudo cp`, which rewrites a loaded library in place and kills
# the backends running it (issue 18): scripts/sudo-shim/sudo replaces files by rename instead
PATH="$PWD/scripts/sudo-shim:$PATH" env -u RUST_BACKTRACE \
    cargo pgrx test pg15 --runas postgres --pgdata "$PGRX_TEST_DATA"

echo "== SQL regression tests"
cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null
scripts/regress.sh

echo "== isolation specs (a refresh locks its view: wait => false skips, lock_timeout fails, others wait)"
scripts/isolation.sh

echo "== integration tests (concurrent readers, locks, killed refresh, pg_dump/restore, pg_cron)"
tests/integration/tier_views.sh

echo "== upgrade from 0.1.0 (catalog equals a fresh install, user data kept, no search_path capture)"
tests/integration/upgrade.sh

echo "== query cancel and statement_timeout within 100 ms"
tests/integration/cancel.sh

echo "== the SQL of docs/bi.md on the demo's tier view"
tests/integration/docs_bi.sh

echo "== every SQL example of README.md and docs/reference.md runs and prints the output shown there"
tests/integration/docs_examples.sh

echo "== Apache Superset 6.1.0 on the demo's tier view: charts checked against SQL, the bundle of bi/superset/ imported"
BI_SCREENSHOT=0 scripts/test-bi.sh

echo "== installing the library while a backend runs it (issue 18)"
tests/integration/live_install.sh

echo "== pgspot on the install and update scripts"
tests/integration/pgspot.sh

echo "== Citus: a coordinator and two workers (partial aggregation, configuration, tier views)"
tests/citus/run.sh

# the other majors: 17 and 18 in Debian chroots, 16 from PyPI, cached under /var/cache/customer_tiers
for major in 16 17 18; do
    echo "== PostgreSQL $major: pg_regress suite and integration tests"
    scripts/test-pg.sh "$major"
done

echo "== .deb packages (15, 17, 18) installed by apt into clean chroots, updated from 0.2.0"
tests/packages.sh
echo "== all tests passed"
