#!/usr/bin/env bash
# Sets up everything and runs the demo: installs dependencies, builds and installs the
# extension (release), starts the Debian PostgreSQL 15 cluster, creates the database
# customer_tiers_demo, loads the CDNOW purchase history and prints its RFM segments, then
# declares a tier view over it, schedules its refresh with pg_cron and prints the tier report.
# Idempotent: a second run rebuilds nothing and reloads nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh

echo "== building and installing customer_tiers (release)"
cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null

echo "== starting the PostgreSQL 15 cluster"
if ! pg_lsclusters -h 2>/dev/null | grep -q "^15 \+main"; then
    env -u RUST_BACKTRACE pg_createcluster 15 main >/dev/null
fi
if ! pg_lsclusters -h | grep -q "^15 \+main .* online"; then
    env -u RUST_BACKTRACE pg_ctlcluster 15 main start
fi
PORT=$(pg_lsclusters -h | awk '$1 == "15" && $2 == "main" {print $3}')
psql_pg() { sudo -u postgres env -u RUST_BACKTRACE PGOPTIONS=--client-min-messages=warning psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" "$@"; }

DB=customer_tiers_demo
if [ -z "$(psql_pg -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
    echo "== creating database $DB"
    psql_pg -d postgres -c "CREATE DATABASE $DB"
fi

# (Re)create the extension only when the installed script differs from the one the demo
# database was built with, so a second run changes nothing.
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
SCRIPT="$("$PG_CONFIG" --sharedir)/extension/customer_tiers--$VERSION.sql"
WANT=$(cat "$SCRIPT" "$("$PG_CONFIG" --pkglibdir)/customer_tiers.so" | md5sum | cut -d' ' -f1)
HAVE=$(psql_pg -d $DB -Atc "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$DB'")
if [ "$HAVE" != "$WANT" ]; then
    echo "== creating extension customer_tiers"
    # jobs of tier views that the DROP below removes would keep failing: unschedule them first
    if [ -n "$(psql_pg -d $DB -Atc "SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'")" ]; then
        psql_pg -d $DB -Atc "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname LIKE 'customer_tiers refresh %'" >/dev/null
    fi
    psql_pg -d $DB -c "DROP EXTENSION IF EXISTS customer_tiers CASCADE" -c "CREATE EXTENSION customer_tiers"
    psql_pg -d $DB -c "COMMENT ON DATABASE $DB IS '$WANT'"
fi

if [ -z "$(psql_pg -d $DB -Atc "SELECT to_regclass('public.cdnow_master')")" ]; then
    echo "== loading CDNOW (69,659 purchases of 23,570 customers)"
    psql_pg -d $DB -f tests/sql/load_cdnow.sql
fi

psql_pg -d $DB -f scripts/demo.sql
psql_pg -d $DB -f scripts/demo_views.sql

# pg_cron refreshes tier views on a schedule: it must be preloaded and pointed at this database
# (a conf.d file of the Debian cluster; the cluster restarts only when the file changes).
CONF=/etc/postgresql/15/main/conf.d/customer_tiers_demo.conf
WANT_CONF="shared_preload_libraries = 'pg_cron'
cron.database_name = '$DB'
cron.use_background_workers = on"
if [ "$(cat "$CONF" 2>/dev/null)" != "$WANT_CONF" ]; then
    echo "== configuring pg_cron ($CONF) and restarting the cluster"
    echo "$WANT_CONF" > "$CONF"
    env -u RUST_BACKTRACE pg_ctlcluster 15 main restart
fi
psql_pg -d $DB -c "CREATE EXTENSION IF NOT EXISTS pg_cron"
echo
echo "pg_cron: refresh cdnow_tiers every minute, wait for one run, then switch to nightly at 03:00"
psql_pg -d $DB -c "SELECT tiers.unschedule_tier_view('cdnow_tiers')" >/dev/null
BEFORE=$(psql_pg -d $DB -Atc "SELECT count(*) FROM tiers.tier_view_refreshes WHERE view_name = 'cdnow_tiers'")
psql_pg -d $DB -Atc "SELECT 'scheduled job ' || tiers.schedule_tier_view('cdnow_tiers', '* * * * *')"
for _ in $(seq 1 80); do
    NOW=$(psql_pg -d $DB -Atc "SELECT count(*) FROM tiers.tier_view_refreshes WHERE view_name = 'cdnow_tiers'")
    [ "$NOW" -gt "$BEFORE" ] && break
    sleep 1
done
psql_pg -d $DB -c "SELECT j.jobname, d.status, d.start_time::timestamp(0) AS started, d.return_message
                   FROM cron.job_run_details d JOIN cron.job j USING (jobid)
                   WHERE j.jobname LIKE 'customer_tiers refresh %' ORDER BY d.runid DESC LIMIT 1"
psql_pg -d $DB -Atc "SELECT 'rescheduled nightly: job ' || tiers.schedule_tier_view('cdnow_tiers', '0 3 * * *')"

psql_pg -d $DB -f scripts/demo_report.sql
