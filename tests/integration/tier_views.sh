#!/usr/bin/env bash
# Integration tests of tier views that need several sessions or a second database:
#   1. readers query a tier view continuously while it is refreshed: zero errors, and every
#      answer is one complete state (never a mix of two refreshes);
#   2. (refresh locking moved to the isolation spec tests/isolation/specs/refresh_lock.spec)
#   3. killing the refreshing backend leaves the last good contents and records nothing;
#   4. pg_dump of a database with tier views (one owned by a non-superuser), schemes, tag rules
#      and history restores into a fresh database where everything works (and a refresh
#      continues the history);
#   5. pg_cron: schedule_tier_view runs the refresh, unschedule/drop remove the job.
# The extension must be installed. Uses a throw-away cluster (port 54331) started as postgres.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh

PORT=54331
DIR=/tmp/customer_tiers-integration
throwaway_cluster $PORT "$DIR" -c shared_preload_libraries=pg_cron -c cron.database_name=it \
    -c cron.use_background_workers=on -c max_worker_processes=16
q() { env -u RUST_BACKTRACE PGTZ=UTC PGOPTIONS="${PGOPTIONS:---client-min-messages=warning}" \
        psql -X -q -At -h "$DIR/sock" -p $PORT -U postgres -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "FAIL: $*"; tail -20 "$DIR/server.log"; exit 1; }
pass() { echo "ok: $*"; }

q -d postgres -c "CREATE DATABASE it"
q -d it -c "CREATE EXTENSION customer_tiers" -f tests/sql/load_cdnow.sql >/dev/null
# a bigger order table (CDNOW 4 times, customers renumbered) so a refresh takes a while
q -d it >/dev/null <<'SQL'
CREATE TABLE orders AS
SELECT customer_id + k * 100000 AS customer_id, ordered_on, amount
FROM cdnow_master, generate_series(0, 3) k;
ANALYZE orders;
SELECT tiers.define_tier_scheme('it_loyalty', '[{"tier": "Bronze", "entry": 0},
  {"tier": "Silver", "entry": 100, "retain": 80}, {"tier": "Gold", "entry": 500, "retain": 400}]', max_drop => 1);
SELECT tiers.tune_tag('dormant', '{"factor": 4}');
INSERT INTO tiers.tag_rules (tag, expression, params) VALUES ('whale', 'monetary_total >= $min', '{"min": 1000}');
SELECT tiers.create_tier_view('it_tiers', 'orders', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-03-31", "clv": true, "tier_scheme": "it_loyalty"}');
SQL

# the two complete states the readers may see
state() { q -d it -c "SELECT count(*) || ':' || round(sum(monetary_total)::numeric, 2) || ':' || count(*) FILTER (WHERE tier = 'Gold') FROM it_tiers"; }
A=$(state)
q -d it -c "UPDATE tiers.tier_views SET options = options || '{\"as_of\": \"1998-06-30\"}'" -c "SELECT tiers.refresh_tier_view('it_tiers')" >/dev/null
B=$(state)
[ "$A" != "$B" ] || fail "the two as_of states should differ ($A)"

# 1. readers during refreshes -----------------------------------------------------------
READERS=4
for r in $(seq 1 $READERS); do
    (
        while [ ! -f "$DIR/out/done" ]; do
            state >>"$DIR/out/reader$r.txt" 2>>"$DIR/out/reader$r.err" || echo "ERROR" >>"$DIR/out/reader$r.err"
        done
    ) &
done
for i in 1 2; do
    for d in 1998-03-31 1998-06-30; do
        q -d it -c "UPDATE tiers.tier_views SET options = options || jsonb_build_object('as_of', '$d')" \
              -c "SELECT tiers.refresh_tier_view('it_tiers')" >/dev/null
    done
done
touch "$DIR/out/done"
wait
reads=$(cat "$DIR"/out/reader*.txt | wc -l)
errors=$(cat "$DIR"/out/reader*.err | wc -l)
mixed=$(cat "$DIR"/out/reader*.txt | grep -v -x -e "$A" -e "$B" | wc -l || true)
[ "$errors" = 0 ] || { cat "$DIR"/out/reader*.err | head; fail "readers got $errors errors"; }
[ "$mixed" = 0 ] || fail "readers saw $mixed inconsistent states"
[ "$reads" -gt 20 ] || fail "only $reads reads"
pass "$READERS readers, $reads reads during 4 concurrent refreshes: 0 errors, 0 inconsistent states"

# 2. locking: tests/isolation/specs/refresh_lock.spec (wait => false, lock_timeout, waiting)

# 3. kill the refreshing backend ----------------------------------------------------------
# The refresh is held at its last stage, not killed after a guessed time (a refresh faster than
# the guess would finish first): as_of moves past the last evaluation, so the refresh records
# tier history, and another session holds a SHARE lock on tiers.tier_history. By then the
# refresh has fitted the models, recorded its refresh and refreshed the view in its transaction;
# killed there, none of it may remain.
with_as_of() { echo "$(state):$(q -d it -c "SELECT max(as_of)::date FROM it_tiers")"; }
counts() { q -d it -c "SELECT (SELECT count(*) FROM tiers.tier_view_refreshes) || '/' || (SELECT count(*) FROM tiers.tier_evaluations) || '/' || (SELECT count(*) FROM tiers.tier_history)"; }
app_pid() { q -d it -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$1'"; }
# locks of the session named $1 on relation $2, granted ($3 true) or awaited (false), in mode $4
locks() { q -d it -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                      WHERE a.application_name = '$1' AND l.relation = '$2'::regclass
                        AND l.granted = $3 AND l.mode = '$4'"; }
before=$(with_as_of)
counts_before=$(counts)
q -d it -c "UPDATE tiers.tier_views SET options = options || '{\"as_of\": \"1998-07-31\"}'" >/dev/null
(PGAPPNAME=blocker q -d it -c "BEGIN" -c "LOCK TABLE tiers.tier_history IN SHARE MODE" \
     -c "SELECT pg_sleep(600)" >/dev/null 2>&1 || true) &
blocker=$!
for _ in $(seq 1 200); do
    held=$(locks blocker tiers.tier_history true ShareLock)
    [ "$held" = 1 ] && break; sleep 0.05
done
[ "$held" = 1 ] || fail "the blocking session did not get its lock on tiers.tier_history"
(PGAPPNAME=victim q -d it -c "SELECT tiers.refresh_tier_view('it_tiers')" >/dev/null 2>&1 || true) &
victim=$!
for _ in $(seq 1 1200); do
    # the history's INSERT and UPDATE take ROW EXCLUSIVE
    waiting=$(locks victim tiers.tier_history false RowExclusiveLock)
    [ "$waiting" = 1 ] && break
    kill -0 $victim 2>/dev/null || break  # its psql has ended: it will not wait any more
    sleep 0.1
done
[ "$waiting" = 1 ] || fail "the refresh did not wait for the tier history (finished or failed before it)"
# REFRESH MATERIALIZED VIEW CONCURRENTLY holds an EXCLUSIVE lock on the view until commit
refreshed=$(locks victim it_tiers true ExclusiveLock)
[ "$refreshed" = 1 ] || fail "the refresh waited for the tier history before it refreshed the view"
killed=$(q -d it -c "SELECT pg_terminate_backend($(app_pid victim))")
wait $victim || true
q -d it -c "SELECT pg_terminate_backend($(app_pid blocker))" >/dev/null
wait $blocker || true
[ "$killed" = t ] || fail "the refresh could not be killed"
after=$(with_as_of)
[ "$after" = "$before" ] || fail "killed refresh changed the view: $before -> $after"
[ "$(counts)" = "$counts_before" ] \
    || fail "killed refresh left records (refreshes/evaluations/history rows): $counts_before -> $(counts)"
q -d it -c "UPDATE tiers.tier_views SET options = options || '{\"as_of\": \"1998-03-31\"}'" \
      -c "SELECT tiers.refresh_tier_view('it_tiers')" >/dev/null
[ "$(state)" = "$A" ] || fail "refresh after the kill did not work"
pass "refresh killed while it waited to write the tier history: the view kept its last contents ($before), no refresh, evaluation or history row recorded; the next refresh works"

# 4. pg_dump and restore ------------------------------------------------------------------
q -d it -c "UPDATE tiers.tier_views SET options = options || '{\"as_of\": \"1998-06-30\"}'" \
      -c "SELECT tiers.refresh_tier_view('it_tiers')" >/dev/null
# an incremental view too: its per-customer states and watermark must survive the restore
q -d it >/dev/null <<'SQL'
CREATE TABLE orders_inc AS
SELECT row_number() OVER (ORDER BY ordered_on, customer_id, amount) AS id, customer_id, ordered_on, amount FROM orders;
ALTER TABLE orders_inc ADD PRIMARY KEY (id);
SELECT tiers.create_tier_view('it_inc', 'orders_inc', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-06-30", "incremental": {"column": "id"}, "history": false}');
SQL
digest() {
    q -d "$1" <<'SQL'
SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
  SELECT format('%s|%s|%s|%s|%s', customer, tier, segment, abc_class, tags) AS x FROM it_tiers) t;
SELECT md5(string_agg(format('%s|%s|%s', customer, segment, tags), ',' ORDER BY customer)) FROM it_inc;
SELECT count(*) FROM tiers.tier_history;
SELECT count(*) FROM tiers.tier_evaluations;
SELECT string_agg(tag || params::text, ';' ORDER BY tag) FROM tiers.tag_rules WHERE NOT preset;
SELECT count(*) FROM tiers.tag_rules WHERE preset;
SELECT string_agg(scheme, ';') FROM tiers.tier_schemes;
SELECT count(*) FROM tiers.tier_views;
SELECT count(*) FROM tiers.tier_view_refreshes;
SQL
}
# the history view belongs to an analyst, not a superuser: pg_restore refreshes it as that role
# under pg_dump's row_security = off, and it must still read its refresh records and previous
# tiers (behind row-level security) instead of failing and leaving the view unpopulated
q -d it -c "CREATE ROLE it_analyst" -c "GRANT SELECT ON orders TO it_analyst" \
      -c "ALTER MATERIALIZED VIEW it_tiers OWNER TO it_analyst" >/dev/null
orig=$(digest it)
as_postgres "$PGBIN/pg_dump" -h "$DIR/sock" -p $PORT -U postgres -Fc -f "$DIR/it.dump" it
q -d postgres -c "CREATE DATABASE it_restored"
as_postgres env PGTZ=UTC "$PGBIN/pg_restore" -h "$DIR/sock" -p $PORT -U postgres -d it_restored --exit-on-error "$DIR/it.dump"
restored=$(digest it_restored)
[ "$(q -d it_restored -c "SELECT relispopulated FROM pg_class WHERE oid = 'it_tiers'::regclass")" = t ] \
    || fail "the analyst's tier view was not populated by the restore"
[ "$orig" = "$restored" ] || { diff <(echo "$orig") <(echo "$restored"); fail "restored database differs"; }
q -d it_restored -c "UPDATE tiers.tier_views SET options = options || '{\"as_of\": \"1998-09-30\"}'" \
    -c "SELECT tiers.refresh_tier_view('it_tiers')" >/dev/null
evals=$(q -d it_restored -c "SELECT count(*) FROM tiers.tier_evaluations")
[ "$evals" -gt "$(q -d it -c "SELECT count(*) FROM tiers.tier_evaluations")" ] || fail "refresh after restore recorded no evaluation"
inc_digest() { q -d it_restored -c "SELECT md5(string_agg(format('%s|%s|%s|%s|%s|%s', customer, orders, frequency, monetary_total, segment, tags), ',' ORDER BY customer)) FROM it_inc"; }
q -d it_restored -c "INSERT INTO orders_inc SELECT id + 10000000, customer_id, ordered_on, amount FROM orders_inc WHERE id % 10 = 0" >/dev/null
[ "$(q -d it_restored -c "SELECT incremental FROM tiers.refresh_tier_view('it_inc')")" = t ] \
    || fail "the restored incremental view did not refresh incrementally (states or watermark lost)"
after_incremental=$(inc_digest)
q -d it_restored -c "SELECT tiers.refresh_tier_view('it_inc', \"full\" => true)" >/dev/null
[ "$after_incremental" = "$(inc_digest)" ] || fail "the restored incremental view differs from a full refresh"
pass "pg_dump/pg_restore: view contents, history, tag rules, schemes, declarations identical; refresh continues the history; an incremental view continues incrementally and equals a full refresh"

# 5. pg_cron ------------------------------------------------------------------------------
q -d it -c "CREATE EXTENSION pg_cron" >/dev/null
runs_before=$(q -d it -c "SELECT count(*) FROM tiers.tier_view_refreshes")
job=$(q -d it -c "SELECT tiers.schedule_tier_view('it_tiers', '* * * * *')")
[ -n "$job" ] || fail "no job id"
q -d it -c "SELECT jobname, schedule, command FROM cron.job" | sed 's/^/  /' 
echo "waiting up to 75 s for pg_cron's next minute"
for _ in $(seq 1 75); do
    n=$(q -d it -c "SELECT count(*) FROM tiers.tier_view_refreshes")
    [ "$n" -gt "$runs_before" ] && break; sleep 1
done
[ "$n" -gt "$runs_before" ] || { q -d it -c "SELECT * FROM cron.job_run_details"; fail "pg_cron did not refresh the view"; }
q -d it -c "SELECT status, return_message FROM cron.job_run_details ORDER BY runid DESC LIMIT 1" | sed 's/^/  /' 
[ "$(q -d it -c "SELECT tiers.unschedule_tier_view('it_tiers')")" = t ] || fail "unschedule"
[ "$(q -d it -c "SELECT count(*) FROM cron.job")" = 0 ] || fail "job left after unschedule"
q -d it -c "SELECT tiers.schedule_tier_view('it_tiers', '0 3 * * *')" >/dev/null
# alter_tier_view rebuilds the view (a new oid): the job follows it, with the same schedule
q -d it -c "SELECT tiers.alter_tier_view('it_tiers', '{\"class8_lang\": \"en\"}')" >/dev/null
[ "$(q -d it -c "SELECT count(*) FROM cron.job WHERE jobname = tiers.tier_view_job_name('it_tiers') AND schedule = '0 3 * * *'")" = 1 ] \
    || { q -d it -c "SELECT jobname, schedule FROM cron.job"; fail "the schedule did not survive alter_tier_view"; }
[ "$(q -d it -c "SELECT count(*) FROM cron.job")" = 1 ] || fail "alter_tier_view left the old job"
q -d it -c "SELECT tiers.drop_tier_view('it_tiers')" >/dev/null
[ "$(q -d it -c "SELECT count(*) FROM cron.job")" = 0 ] || fail "job left after drop_tier_view"
pass "pg_cron ran the scheduled refresh; alter_tier_view keeps the schedule; unschedule and drop_tier_view remove the job"

if grep -qE "PANIC|terminated by signal" "$DIR/server.log"; then
    fail "server crash in the log"
fi
echo "== integration tests passed"
