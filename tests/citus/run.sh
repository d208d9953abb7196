#!/usr/bin/env bash
# customer_tiers on a real Citus cluster (issue 12): a coordinator and two workers on this machine
# (tests/citus/cluster.sh), Citus 13.2.2 built from ../shared/vendor/citus or $CITUS_SOURCE and
# cached outside the repository (tests/citus/build.sh). Checks:
#   1. CREATE EXTENSION on the coordinator reaches every node;
#   2. before tiers.citus_setup(), a scheme lookup on a worker fails with 55000 (never an answer
#      from the worker's own tables);
#   3. every population aggregate runs partially on the workers (EXPLAIN VERBOSE: the worker
#      query calls worker_partial_agg, the coordinator only combines states);
#   4. distributed answers equal single-node answers for every aggregate, score, tier and tag,
#      on CDNOW and on 1M synthetic orders (tests/citus/compare.sql);
#   5. configuration changes reach the workers in the coordinator's transaction (and a rolled back
#      change does not), tiers.citus_configuration_status() sees drift;
#   6. tier views over distributed orders: create, refresh (also by pg_cron on the coordinator),
#      report and drop; every column equals the same view over the local copy;
#   7. bytes from the workers for 1M per-customer summaries: rows versus aggregate states (the
#      packed states of rfm_model, bgnbd_fit and gamma_gamma_fit must be the smaller).
# The extension must be installed (scripts/test.sh does it first).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
. tests/citus/cluster.sh

rc=0; tests/citus/build.sh || rc=$?
[ "$rc" = 3 ] && exit 0   # no Citus source: build.sh printed the SKIPPED banner
[ "$rc" = 0 ] || exit "$rc"

fail() { echo "FAIL: $*"; for n in "${CITUS_NAMES[@]}"; do tail -5 "$CITUS_DIR/$n.log"; done; exit 1; }
pass() { echo "ok: $*"; }

citus_cluster_start
cq 0 -c "CREATE EXTENSION customer_tiers" \
     -c "SET citus.enable_ddl_propagation = off" -c "CREATE EXTENSION pg_cron"   # pg_cron: coordinator only
for n in 1 2; do
    [ "$(cq $n -c "SELECT extversion FROM pg_extension WHERE extname = 'customer_tiers'")" = "$(cq 0 -c "SELECT extversion FROM pg_extension WHERE extname = 'customer_tiers'")" ] \
        || fail "customer_tiers is not on ${CITUS_NAMES[$n]}"
done
[ "$(cq 0 -c "SELECT tiers.citus_node_role()")/$(cq 1 -c "SELECT tiers.citus_node_role()")" = coordinator/worker ] || fail "citus_node_role"
pass "CREATE EXTENSION on the coordinator created customer_tiers on both workers; node roles seen"

echo "loading CDNOW and 1M synthetic orders, local and distributed"
cq 0 -f tests/citus/setup.sql >/dev/null

# configuration defined on the coordinator only
cq 0 >/dev/null <<'SQL'
SELECT tiers.define_tier_scheme('citus_loyalty', '[{"tier": "Bronze", "entry": 0},
  {"tier": "Silver", "entry": 100, "retain": 80}, {"tier": "Gold", "entry": 500, "retain": 400}]');
SELECT tiers.rfm_copy_rule_set('standard', 'citus_rules');
UPDATE tiers.rfm_segment_rules SET segment = 'Top' WHERE rule_set = 'citus_rules' AND priority = 1;
INSERT INTO tiers.tag_rules (tag, expression, params) VALUES ('whale', 'monetary_total >= $min', '{"min": 1000}');
SELECT tiers.tune_tag('dormant', '{"factor": 4}');
SQL

# 2. before citus_setup: workers refuse to answer from their own tables
out=$(cq 0 -c "SELECT tiers.tier_of(monetary_total, 'citus_loyalty') FROM s_cdnow_dist LIMIT 1" 2>&1 || true)
grep -q "configuration is not available on this Citus worker" <<<"$out" || fail "tier_of on a worker without setup: $out"
out=$(cq 0 -c "SELECT count(*) FROM s_cdnow_dist s WHERE 'whale' = ANY (tiers.customer_tags(s))" 2>&1 || true)
grep -q "configuration is not available on this Citus worker" <<<"$out" || fail "customer_tags on a worker without setup: $out"
out=$(cq 0 -v VERBOSITY=verbose -c "SELECT tiers.rfm_segment(1, 1, 1) FROM s_cdnow_dist LIMIT 1" 2>&1 || true)
grep -q "55000" <<<"$out" || fail "rfm_segment on a worker without setup: $out"
pass "without tiers.citus_setup(), schemes, rule sets and tag rules on workers raise 55000 (no answer from the worker's tables)"

cq 0 -c "SELECT * FROM tiers.citus_setup()" >/dev/null
[ "$(cq 0 -c "SELECT count(*) FROM tiers.citus_configuration_status() WHERE in_step")" = 5 ] || fail "status after setup"

# 3. partial aggregation on the workers
for agg in "tiers.rfm_model(since_last, frequency, monetary)" "tiers.abc_model(monetary_total)" \
           "tiers.pareto(monetary_total)" "tiers.pareto_curve(monetary_total)" \
           "tiers.bgnbd_fit(frequency, recency, tenure)" "tiers.mbgnbd_fit(frequency, recency, tenure)" \
           "tiers.paretonbd_fit(frequency, recency, tenure)" "tiers.gamma_gamma_fit(frequency, monetary)" \
           "tiers.ab_test(customer_id::text, frequency::float8)" "tiers.nps((frequency % 11)::int)" \
           "tiers.kmeans_model(ARRAY[since_last, frequency, monetary], 4)" \
           "tiers.kmeans_choose_k(ARRAY[since_last, frequency], 2, 3)"; do
    plan=$(cq 0 -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT $agg FROM s_cdnow_dist")
    grep -q "worker_partial_agg" <<<"$plan" && grep -q "coord_combine_agg" <<<"$plan" \
        || { echo "$plan"; fail "$agg is not aggregated on the workers"; }
done
pass "all 12 population aggregates (8 models, ab_test, nps, kmeans_model, kmeans_choose_k) run as worker_partial_agg on the workers and coord_combine_agg on the coordinator"

# 4. distributed = single node
cq 0 -f tests/citus/compare.sql | grep "^ok" || fail "comparisons"

# 5. configuration follows the coordinator's transactions
tagged() { cq 0 -c "SELECT count(*) FROM s_cdnow_dist s WHERE '$1' = ANY (tiers.customer_tags(s))"; }
local_tagged() { cq 0 -c "SELECT count(*) FROM s_cdnow_local s WHERE '$1' = ANY (tiers.customer_tags(s))"; }
[ "$(tagged whale)" = "$(local_tagged whale)" ] && [ "$(tagged whale)" -gt 0 ] || fail "whale tag on workers"
cq 0 -c "BEGIN" -c "UPDATE tiers.tag_rules SET params = '{\"min\": 10}' WHERE tag = 'whale'" -c "ROLLBACK"
[ "$(tagged whale)" = "$(local_tagged whale)" ] || fail "a rolled back change reached the workers"
before=$(tagged whale)
cq 0 -c "UPDATE tiers.tag_rules SET params = '{\"min\": 200}' WHERE tag = 'whale'"
after=$(tagged whale)
[ "$after" = "$(local_tagged whale)" ] && [ "$after" != "$before" ] || fail "a committed change did not reach the workers ($before -> $after)"
cq 0 -c "SELECT tiers.define_tier_scheme('citus_loyalty', '[{\"tier\": \"Bronze\", \"entry\": 0}, {\"tier\": \"Gold\", \"entry\": 300}]')" >/dev/null
[ "$(cq 0 -c "SELECT count(*) FROM s_cdnow_dist WHERE tiers.tier_of(monetary_total, 'citus_loyalty') = 'Gold'")" \
  = "$(cq 0 -c "SELECT count(*) FROM s_cdnow_local WHERE monetary_total >= 300")" ] || fail "redefined scheme on workers"
cq 0 -c "SET session_replication_role = replica" -c "UPDATE tiers.tag_rules SET params = '{\"min\": 5}' WHERE tag = 'whale'"
[ "$(cq 0 -c "SELECT string_agg(kind, ',') FROM tiers.citus_configuration_status() WHERE NOT in_step")" = effective_tag_rules ] \
    || fail "citus_configuration_status did not see the unpublished change"
cq 0 -c "SELECT tiers.citus_publish()" >/dev/null
[ "$(tagged whale)" = "$(local_tagged whale)" ] || fail "after citus_publish"
pass "configuration changes reach the workers with the coordinator's commit (not on rollback); status sees unpublished changes"

# 6. tier views over distributed orders (with a stored K-means model's clusters)
cq 0 >/dev/null <<'SQL'
SELECT tiers.save_kmeans_model('citus_rfm', (SELECT tiers.kmeans_model(ARRAY[since_last, frequency, monetary], 4) FROM s_cdnow_dist),
                               '{since_last,frequency,monetary}');
-- customer attributes from a reference table (on every node), grading within its regions
CREATE TABLE citus_customers AS
SELECT customer_id, CASE WHEN customer_id % 10 < 6 THEN 'East' WHEN customer_id % 10 < 9 THEN 'North' END AS region
FROM generate_series(1, 23570) customer_id WHERE customer_id % 13 <> 0;
ALTER TABLE citus_customers ADD PRIMARY KEY (customer_id);
SELECT create_reference_table('citus_customers');
SELECT tiers.create_tier_view('tv_local', 'cdnow_local', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-03-31", "clv": true, "tier_scheme": "citus_loyalty", "history": false, "kmeans_model": "citus_rfm",
    "customers": {"table": "citus_customers", "key": "customer_id", "columns": ["region"]}, "grade_within": ["region"]}');
SELECT tiers.create_tier_view('tv_dist', 'cdnow_dist', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-03-31", "clv": true, "tier_scheme": "citus_loyalty", "kmeans_model": "citus_rfm",
    "customers": {"table": "citus_customers", "key": "customer_id", "columns": ["region"]}, "grade_within": ["region"]}');
SQL
[ "$(cq 0 -c "SELECT count(DISTINCT region) || '/' || count(*) FILTER (WHERE region IS NULL) FROM tv_dist")" = "2/$(cq 0 -c "SELECT count(*) FROM tv_local WHERE region IS NULL")" ] \
    || fail "customer attributes in the distributed tier view"
[ "$(cq 0 -c "SELECT count(DISTINCT cluster) || '/' || count(cluster_label) FROM tv_dist")" = "4/$(cq 0 -c "SELECT count(*) FROM tv_dist")" ] \
    || fail "K-means clusters in the distributed tier view"
same_views() {
    cq 0 <<'SQL'
SELECT count(*) = (SELECT count(*) FROM tv_local) AND bool_and(ok) FROM (
  SELECT (SELECT bool_and(CASE WHEN a.atttypid = 'float8'::regtype
                               THEN close(to_jsonb(l) -> a.attname::text, to_jsonb(d) -> a.attname::text)
                               ELSE (to_jsonb(l) -> a.attname::text) IS NOT DISTINCT FROM (to_jsonb(d) -> a.attname::text) END)
          FROM pg_attribute a WHERE a.attrelid = 'tv_local'::regclass AND a.attnum > 0) AS ok
  FROM tv_local l JOIN tv_dist d USING (customer)) z;
SQL
}
[ "$(same_views)" = t ] || fail "tier view over distributed orders differs from the local one"
cq 0 -c "UPDATE tiers.tier_views SET options = options || '{\"as_of\": \"1998-06-30\"}' WHERE view_name IN ('tv_local', 'tv_dist')" \
     -c "SELECT tiers.refresh_tier_view('tv_local')" -c "SELECT tiers.refresh_tier_view('tv_dist')" >/dev/null
[ "$(same_views)" = t ] || fail "refreshed tier views differ"
# the report without the moves (only the distributed view records history)
[ "$(cq 0 -c "SELECT close((SELECT jsonb_agg(to_jsonb(r) - '{upgrades,downgrades,new,lost}'::text[] ORDER BY dimension, grp) FROM tiers.tier_report('tv_local') r),
                          (SELECT jsonb_agg(to_jsonb(r) - '{upgrades,downgrades,new,lost}'::text[] ORDER BY dimension, grp) FROM tiers.tier_report('tv_dist') r))")" = t ] \
    || fail "tier_report differs"
[ "$(cq 0 -c "SELECT (SELECT count(*) FROM tiers.tier_evaluations WHERE scheme = 'citus_loyalty') || '/' || count(DISTINCT customer) FROM tiers.tier_history WHERE scheme = 'citus_loyalty'")" \
  = "2/$(cq 0 -c "SELECT count(*) FROM tv_dist")" ] || fail "history of the distributed tier view"
[ "$(cq 0 -c "SELECT sum(upgrades) > 0 FROM tiers.tier_report('tv_dist') WHERE dimension = 'tier'")" = t ] || fail "moves in the report"
runs=$(cq 0 -c "SELECT count(*) FROM tiers.tier_view_refreshes WHERE view_name = 'tv_dist'")
cq 0 -c "SELECT tiers.schedule_tier_view('tv_dist', '* * * * *')" >/dev/null
echo "waiting up to 75 s for pg_cron's next minute"
for _ in $(seq 1 75); do
    [ "$(cq 0 -c "SELECT count(*) FROM tiers.tier_view_refreshes WHERE view_name = 'tv_dist'")" -gt "$runs" ] && break
    sleep 1
done
[ "$(cq 0 -c "SELECT count(*) FROM tiers.tier_view_refreshes WHERE view_name = 'tv_dist'")" -gt "$runs" ] \
    || { cq 0 -c "SELECT status, return_message FROM cron.job_run_details"; fail "pg_cron did not refresh the distributed tier view"; }
[ "$(same_views)" = t ] || fail "tier view refreshed by pg_cron differs"
cq 0 -c "SELECT tiers.drop_tier_view('tv_dist')" -c "SELECT tiers.drop_tier_view('tv_local')" >/dev/null
[ "$(cq 0 -c "SELECT count(*) FROM cron.job")" = 0 ] && [ -z "$(cq 0 -c "SELECT to_regclass('tv_dist')")" ] || fail "drop_tier_view"
pass "tier views over distributed orders: created, refreshed (also by pg_cron), reported and dropped; every column (K-means clusters, customer attributes and grading within regions included) equals the local view's"

# 7. what crosses the network for 1M per-customer summaries
cq 0 >/dev/null <<'SQL'
CREATE TABLE s1m (customer_id bigint, frequency float8, recency float8, tenure float8, since_last float8, monetary float8, monetary_total float8);
SELECT create_distributed_table('s1m', 'customer_id');
INSERT INTO s1m SELECT g, f, CASE WHEN f = 0 THEN 0 ELSE least(r, t) END, t, t - CASE WHEN f = 0 THEN 0 ELSE least(r, t) END, m, m * (f + 1)
FROM (SELECT g, ((hashint4(g) & 1023) % 12)::float8 AS f, ((hashint4(g + 1) & 2147483647) % 365)::float8 AS r,
             (365 + (hashint4(g + 2) & 2147483647) % 365)::float8 AS t, ((hashint4(g + 3) & 2147483647) % 20000) / 100.0 AS m
      FROM generate_series(1, 1000000) g) z;
SQL
# Citus's EXPLAIN ANALYZE cannot run a worker_partial_agg query (its cstring result), so both sides
# are measured the same way: the text each shard sends (what the coordinator reads with the
# text protocol), summed over the 64 shards with run_command_on_shards.
sent() { cq 0 -c "SELECT sum(result::bigint) FROM run_command_on_shards('s1m', \$\$SELECT coalesce(sum(octet_length($1)), 0) FROM %s ${2:-}\$\$)"; }
partial() { cq 0 -c "SELECT sum(result::bigint) FROM run_command_on_shards('s1m', \$\$SELECT coalesce(octet_length(pg_catalog.worker_partial_agg('$1'::regprocedure, ROW($2))::text), 0) FROM %s ${3:-}\$\$)"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1048576 }'; }
f8=double\ precision
declare -A ROWS STATES
ROWS[rfm]=$(sent "concat_ws(',', since_last, frequency, monetary)")
STATES[rfm]=$(partial "tiers.rfm_model($f8,$f8,$f8)" "since_last, frequency, monetary")
ROWS[abc]=$(sent "monetary_total::text")
STATES[abc]=$(partial "tiers.abc_model($f8)" "monetary_total")
ROWS[bgnbd]=$(sent "concat_ws(',', frequency, recency, tenure)")
STATES[bgnbd]=$(partial "tiers.bgnbd_fit($f8,$f8,$f8)" "frequency, recency, tenure")
ROWS[gg]=$(sent "concat_ws(',', frequency, monetary)" "WHERE frequency > 0")
STATES[gg]=$(partial "tiers.gamma_gamma_fit($f8,$f8)" "frequency, monetary" "WHERE frequency > 0")
{
    echo "| what the workers send for 1,000,000 customer summaries (2 workers, 64 shards) | rows | aggregate states |"
    echo "|---|---|---|"
    for a in "rfm rfm_model(since_last, frequency, monetary)" "abc abc_model(monetary_total)" \
             "bgnbd bgnbd_fit(frequency, recency, tenure)" "gg gamma_gamma_fit(frequency, monetary)"; do
        k=${a%% *}
        [ -n "${ROWS[$k]}" ] && [ -n "${STATES[$k]}" ] || fail "a measurement of ${a#* } is missing"
        echo "| tiers.${a#* } | $(mb "${ROWS[$k]}") | $(mb "${STATES[$k]}") |"
    done
} | tee "$CITUS_DIR/bytes.md"
# the packed states must stay smaller than the rows where docs/citus.md says they are (the data is
# deterministic); exact ABC keeps every value and is only reported
for k in rfm bgnbd gg; do
    [ "${STATES[$k]}" -lt "${ROWS[$k]}" ] || fail "$k: the states (${STATES[$k]} bytes) are not smaller than the rows (${ROWS[$k]} bytes)"
done
pass "the workers send less as states than as rows for rfm_model, bgnbd_fit and gamma_gamma_fit ($CITUS_DIR/bytes.md)"
echo "== Citus tests passed"
