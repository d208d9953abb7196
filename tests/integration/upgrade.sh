#!/usr/bin/env bash
# Upgrade test, from each earlier release (their install scripts are archived in sql/releases/).
# From 0.1.0 (through 0.2.0): create user data with it (a scheme, an edited rule set, tier history, a user materialized view that calls
# extension functions), plant search_path traps, run ALTER EXTENSION customer_tiers UPDATE, and
# check that
#   - no trap was called;
#   - the catalog (functions, aggregates, types, tables, columns, constraints, indexes, triggers,
#     views, comments, privileges, pg_dump configuration, presets) equals a fresh install;
#   - the user data survived and the user's view still works;
#   - the new features work in the updated database.
# From 0.2.0: a tier view with history, a reader role granted the view, a user view over
# transitions(); after the update the catalog equals a fresh install, the user view survives, and
# the history that PUBLIC could read is visible only to the roles entitled to it.
# The current version must be installed (cargo pgrx install). Throw-away cluster on port 54332.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh

PORT=54332
DIR=/tmp/customer_tiers-upgrade
throwaway_cluster $PORT "$DIR"
q() { env -u RUST_BACKTRACE PGTZ=UTC PGOPTIONS=--client-min-messages=warning \
        psql -X -q -At -h "$DIR/sock" -p $PORT -U postgres -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "FAIL: $*"; exit 1; }

# the previous release's install script next to the current one
install -m 644 sql/releases/customer_tiers--0.1.0.sql sql/releases/customer_tiers--0.2.0.sql \
    "$("$PG_CONFIG" --sharedir)/extension/"
CURRENT=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
q -d postgres -c "SELECT string_agg(source || ' -> ' || target, ', ') FROM pg_extension_update_paths('customer_tiers') WHERE path IS NOT NULL AND source = '0.1.0'" \
    | grep -q "0.1.0 -> $CURRENT" || fail "no update path 0.1.0 -> $CURRENT"

q -d postgres -c "CREATE DATABASE old" -c "CREATE DATABASE fresh"
q -d old -c "CREATE EXTENSION customer_tiers VERSION '0.1.0'" -f tests/sql/load_cdnow.sql >/dev/null
q -d old >/dev/null <<'SQL'
SELECT tiers.define_tier_scheme('club', '[{"tier": "Basic", "entry": 0},
  {"tier": "Silver", "entry": 100, "retain": 80}, {"tier": "Gold", "entry": 500, "retain": 400}]', max_drop => 1);
SELECT tiers.rfm_copy_rule_set('standard', 'mine');
UPDATE tiers.rfm_segment_rules SET segment = 'Stars' WHERE rule_set = 'mine' AND segment = 'Champions';
CREATE TABLE spend AS SELECT customer_id, sum(amount) AS total FROM cdnow_master
  WHERE ordered_on < '1998-01-01' GROUP BY 1;
SELECT tiers.snapshot_tiers('club', 'spend', 'customer_id', 'total', '1997-12-31');
-- fitted models kept in a user table (values of the extension's composite types)
CREATE TABLE my_models AS
SELECT tiers.bgnbd_fit(frequency, recency, tenure) AS bg, tiers.gamma_gamma_fit(frequency, monetary) AS gg
FROM (SELECT (tiers.customer_summary(ordered_on, amount, '1997-09-30', '7 days')).* FROM cdnow_master GROUP BY customer_id) s;
-- a user object that depends on extension functions
CREATE MATERIALIZED VIEW my_segments AS
SELECT customer_id, (tiers.rfm_score(since_last, frequency, monetary_total, m, 'mine')).segment,
       tiers.tier_of(monetary_total, ARRAY[0, 100, 500], ARRAY['Basic', 'Silver', 'Gold']) AS tier
FROM (SELECT customer_id, (tiers.customer_summary(ordered_on, amount, '1998-06-30')).* FROM cdnow_master GROUP BY 1) s,
     (SELECT tiers.rfm_model(since_last, frequency, monetary_total) AS m
      FROM (SELECT (tiers.customer_summary(ordered_on, amount, '1998-06-30')).* FROM cdnow_master GROUP BY customer_id) x) mm;
SQL
before=$(q -d old -c "SELECT md5(string_agg(format('%s|%s|%s', customer_id, segment, tier), ',' ORDER BY customer_id)) FROM my_segments")
models_before=$(q -d old -c "SELECT round(tiers.p_alive(bg, 2, 30, 39)::numeric, 12) || '/' || round(tiers.clv_estimate(bg, gg, 2, 30, 39, 20, '12 months', 0.01, '7 days')::numeric, 9) FROM my_models")
data_before=$(q -d old -c "SELECT (SELECT count(*) FROM tiers.tier_history) || '/' || (SELECT count(*) FROM tiers.rfm_segment_rules WHERE rule_set = 'mine') || '/' || (SELECT string_agg(tier || entry || retain, ',' ORDER BY rank) FROM tiers.tier_levels)")

# the update runs with traps planted in public and pg_temp under a hostile search_path
q -d old -f tests/sql/plant_traps.sql -c "SET search_path = public, pg_catalog" \
    -c "ALTER EXTENSION customer_tiers UPDATE" -c "RESET search_path" >/dev/null
caught=$(q -d old -c "SELECT count(*) FROM public.captured")
[ "$caught" = 0 ] || { q -d old -c "SELECT * FROM public.captured"; fail "the update called planted objects"; }
[ "$(q -d old -c "SELECT extversion FROM pg_extension WHERE extname = 'customer_tiers'")" = "$CURRENT" ] || fail "not updated"
q -d fresh -c "CREATE EXTENSION customer_tiers"

q -d old -f tests/upgrade/catalog.sql >"$DIR/updated.txt"
q -d fresh -f tests/upgrade/catalog.sql >"$DIR/fresh.txt"
if ! diff "$DIR/fresh.txt" "$DIR/updated.txt" >"$DIR/catalog.diff"; then
    cat "$DIR/catalog.diff" | head -60
    fail "catalog after ALTER EXTENSION UPDATE differs from a fresh install"
fi
echo "ok: update under a hostile search_path called none of the planted objects"
echo "ok: catalog after 0.1.0 -> $CURRENT equals a fresh install ($(wc -l <"$DIR/fresh.txt") objects and properties)"

q -d old -c "REFRESH MATERIALIZED VIEW my_segments"
after=$(q -d old -c "SELECT md5(string_agg(format('%s|%s|%s', customer_id, segment, tier), ',' ORDER BY customer_id)) FROM my_segments")
[ "$before" = "$after" ] || fail "the user's materialized view changed after the update"
data_after=$(q -d old -c "SELECT (SELECT count(*) FROM tiers.tier_history) || '/' || (SELECT count(*) FROM tiers.rfm_segment_rules WHERE rule_set = 'mine') || '/' || (SELECT string_agg(tier || entry || retain, ',' ORDER BY rank) FROM tiers.tier_levels)")
[ "$data_before" = "$data_after" ] || fail "user data changed: $data_before -> $data_after"
models_after=$(q -d old -c "SELECT round(tiers.p_alive(bg, 2, 30, 39)::numeric, 12) || '/' || round(tiers.clv_estimate(bg, gg, 2, 30, 39, 20, '12 months', 0.01, '7 days')::numeric, 9) FROM my_models")
[ "$models_before" = "$models_after" ] || fail "stored models give other predictions: $models_before -> $models_after"
echo "ok: user data ($data_after), stored models (p_alive/clv $models_after) and the user's materialized view survived the update"

q -d old >/dev/null <<'SQL'
SELECT tiers.define_tier_scheme('club', '[{"tier": "Basic", "entry": 0},
  {"tier": "Silver", "entry": 100, "retain": 80}, {"tier": "Gold", "entry": 500, "retain": 400}]',
  max_drop => 1, grace_evaluations => 1);
TRUNCATE spend; INSERT INTO spend SELECT customer_id, sum(amount) FROM cdnow_master GROUP BY 1;
SELECT tiers.snapshot_tiers('club', 'spend', 'customer_id', 'total', '1998-06-30');
SELECT tiers.create_tier_view('club_view', 'cdnow_master', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-06-30", "rule_set": "mine", "history": false, "tier_scheme": "club"}');
SQL
n=$(q -d old -c "SELECT count(*) FROM tiers.tier_report('club_view') WHERE dimension = 'segment' AND grp = 'Stars'")
[ "$n" = 1 ] || fail "tier view over the user's rule set"
tags=$(q -d old -c "SELECT count(*) FROM club_view WHERE 'lost' = ANY (tags)")
[ "$tags" -gt 0 ] || fail "tags in the updated database"
echo "ok: the updated database runs the new features (grace period, tier view over the user's rule set, tags)"

# ---------------------------------------------------------------------------------- from 0.2.0
q -d postgres -c "SELECT string_agg(source || ' -> ' || target, ', ') FROM pg_extension_update_paths('customer_tiers') WHERE path IS NOT NULL AND source = '0.2.0'" \
    | grep -q "0.2.0 -> $CURRENT" || fail "no update path 0.2.0 -> $CURRENT"
q -d postgres -c "CREATE DATABASE old2"
q -d old2 -c "CREATE EXTENSION customer_tiers VERSION '0.2.0'" -f tests/sql/load_cdnow.sql >/dev/null
q -d old2 >/dev/null <<'SQL'
SELECT tiers.define_tier_scheme('club', '[{"tier": "Basic", "entry": 0}, {"tier": "Gold", "entry": 500}]');
SELECT tiers.create_tier_view('club_view', 'cdnow_master', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-06-30", "tier_scheme": "club"}');
CREATE VIEW club_moves AS SELECT * FROM tiers.transitions('club', '1998-06-29', '1998-06-30');
CREATE VIEW club_report AS SELECT dimension, grp, customers FROM tiers.tier_report('club_view');
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'upgrade_bi') THEN CREATE ROLE upgrade_bi; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'upgrade_nobody') THEN CREATE ROLE upgrade_nobody; END IF;
END $$;
GRANT SELECT ON club_view, club_moves TO upgrade_bi;
SQL
exposed=$(q -d old2 -c "SET ROLE upgrade_nobody" -c "SELECT count(*) FROM tiers.tier_history")
[ "$exposed" -gt 0 ] || fail "0.2.0 should have exposed the history (test premise)"
moves_before=$(q -d old2 -c "SELECT md5(string_agg(c::text, ',' ORDER BY c::text)) FROM club_moves c")
q -d old2 -f tests/sql/plant_traps.sql -c "SET search_path = public, pg_catalog" \
    -c "ALTER EXTENSION customer_tiers UPDATE" -c "RESET search_path" >/dev/null
[ "$(q -d old2 -c "SELECT count(*) FROM public.captured")" = 0 ] || fail "the update from 0.2.0 called planted objects"
q -d old2 -f tests/upgrade/catalog.sql >"$DIR/updated2.txt"
if ! diff "$DIR/fresh.txt" "$DIR/updated2.txt" >"$DIR/catalog2.diff"; then
    cat "$DIR/catalog2.diff" | head -60
    fail "catalog after 0.2.0 -> $CURRENT differs from a fresh install"
fi
echo "ok: catalog after 0.2.0 -> $CURRENT equals a fresh install"
[ "$(q -d old2 -c "SELECT md5(string_agg(c::text, ',' ORDER BY c::text)) FROM club_moves c")" = "$moves_before" ] \
    || fail "the user's view over transitions() changed"
total=$(q -d old2 -c "SELECT count(*) FROM tiers.tier_history")
nobody=$(q -d old2 -c "SET ROLE upgrade_nobody" -c "SELECT (SELECT count(*) FROM tiers.tier_history) || '/' || (SELECT count(*) FROM tiers.tier_views) || '/' || (SELECT count(*) FROM tiers.tier_view_refreshes) || '/' || (SELECT count(*) FROM tiers.tier_evaluations)")
[ "$nobody" = "0/0/0/0" ] || fail "after the update a role without grants still reads history/declarations/refreshes/evaluations: $nobody"
bi=$(q -d old2 -c "SET ROLE upgrade_bi" -c "SELECT count(*) FROM tiers.tier_history")
[ "$bi" = "$total" ] || fail "the reader of the tier view sees $bi of $total history rows"
q -d old2 -c "SET ROLE upgrade_bi" -c "SELECT count(*) FROM club_moves" >/dev/null || fail "the reader's view over transitions()"
echo "ok: after 0.2.0 -> $CURRENT the history ($total rows) is hidden from PUBLIC and visible to the view's reader; the user's view over transitions() survived"
# tier_report has a new result type in 0.3.0: the user's view over the 0.2.0 one keeps working
report=$(q -d old2 -c "SELECT count(*) FROM club_report")
[ "$report" -gt 0 ] || fail "the user's view over tier_report() lost its rows"
legacy=$(q -d old2 -c "SELECT p.oid::regprocedure || ':' || NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') FROM pg_proc p WHERE p.proname = 'tier_report_0_2'")
[ "$legacy" = "tiers.tier_report_0_2(regclass):true" ] || fail "legacy tier_report for the user's view: $legacy"
rates=$(q -d old2 -c "SELECT pg_catalog.count(repeat_rate) FROM tiers.tier_report('club_view')")
[ "$rates" -gt 0 ] || fail "tier_report without repeat_rate after the update"
echo "ok: the user's view over the 0.2.0 tier_report() survived (tiers.tier_report_0_2, outside the extension); tier_report has repeat_rate"
q -d old2 -c "DROP VIEW club_report" -c "DROP FUNCTION tiers.tier_report_0_2(regclass)"
# a tier view made by 0.2.0: reports work, and alter_tier_view gives it the new columns, grants kept
q -d old2 -c "SELECT count(*) FROM tiers.tier_report('club_view')" >/dev/null || fail "tier_report on a 0.2.0 tier view"
q -d old2 -c "SELECT tiers.alter_tier_view('club_view', '{}')" >/dev/null
cols=$(q -d old2 -c "SELECT string_agg(attname || ':' || format_type(atttypid, NULL), ',' ORDER BY attname) FROM pg_attribute WHERE attrelid = 'club_view'::regclass AND attname IN ('monetary_total', 'tier_rank', 'tag_vip')")
[ "$cols" = "monetary_total:numeric,tag_vip:boolean,tier_rank:integer" ] || fail "alter_tier_view on a 0.2.0 view: $cols"
[ "$(q -d old2 -c "SELECT has_table_privilege('upgrade_bi', 'club_view', 'SELECT')")" = t ] || fail "grant lost by alter_tier_view"
echo "ok: a 0.2.0 tier view reports, and alter_tier_view rebuilds it with the new columns, keeping its grants"
q -d postgres -c "DROP DATABASE old2" -c "DROP ROLE upgrade_bi" -c "DROP ROLE upgrade_nobody"
echo "== upgrade test passed"
