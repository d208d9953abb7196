#!/usr/bin/env bash
# Benchmark: refreshing a tier view versus a hand-written materialized view that computes the
# same columns with plain SQL (GROUP BY, NTILE windows, running sums, CASE), in one run, on the
# same synthetic data (default 5M orders of 500k customers). Also the time of each stage of
# tiers.refresh_tier_view (CLV fit, concurrent refresh, history). Not a test.
# Usage: bench/views.sh [orders] [customers] [repetitions]
ORDERS=${1:-5000000}
CUSTOMERS=${2:-500000}
REPS=${3:-3}
. "$(dirname "$0")/lib.sh"

q <<SQL
SELECT setseed(0.5);
CREATE TABLE orders AS
SELECT (1 + floor(random() * $CUSTOMERS))::int AS customer,
       date '2021-01-01' + floor(random() * 1095)::int AS ordered_on,
       round((random() * 200)::numeric, 2) AS amount
FROM generate_series(1, $ORDERS);
VACUUM FREEZE ANALYZE orders;
SELECT tiers.define_tier_scheme('bench', '[{"tier": "Bronze", "entry": 0},
  {"tier": "Silver", "entry": 1000, "retain": 800}, {"tier": "Gold", "entry": 2000, "retain": 1600}]');
SELECT tiers.define_tier_scheme('bench_clv', '[{"tier": "Bronze", "entry": 0},
  {"tier": "Silver", "entry": 1000, "retain": 800}, {"tier": "Gold", "entry": 2000, "retain": 1600}]');
SQL

# the plain-SQL materialized view: the same columns (no CLV; tiers on entry thresholds only,
# without hysteresis), segment rules generated from the same rule table as a CASE
SEGMENT_CASE=$(q -c "SELECT 'CASE ' || string_agg(format('WHEN r BETWEEN %s AND %s AND f BETWEEN %s AND %s AND m BETWEEN %s AND %s THEN %L',
    r_min, r_max, f_min, f_max, m_min, m_max, segment), ' ' ORDER BY priority) || ' ELSE ''Others'' END'
    FROM tiers.rfm_segment_rules WHERE rule_set = 'standard'")
q <<SQL
CREATE MATERIALIZED VIEW plain_tiers AS
WITH o AS (SELECT customer, ordered_on, amount FROM orders WHERE ordered_on <= '2024-01-01'),
first_day AS (SELECT customer, min(ordered_on) AS first FROM o WHERE amount >= 0 GROUP BY customer),
s AS (
    SELECT o.customer, f.first AS first_purchase, max(o.ordered_on) FILTER (WHERE o.amount >= 0) AS last_purchase,
           count(*) FILTER (WHERE o.amount >= 0) AS orders, count(*) FILTER (WHERE o.amount < 0) AS returns,
           count(DISTINCT o.ordered_on) FILTER (WHERE o.amount >= 0) AS occasions,
           sum(o.amount)::float8 AS monetary_total,
           sum(o.amount) FILTER (WHERE o.ordered_on = f.first) AS first_day_value,
           coalesce(sum(o.amount) FILTER (WHERE o.ordered_on > date '2024-01-01' - 90), 0)::float8 AS recent_spend,
           coalesce(sum(o.amount) FILTER (WHERE o.ordered_on <= date '2024-01-01' - 90
                                          AND o.ordered_on > date '2024-01-01' - 180), 0)::float8 AS earlier_spend
    FROM o JOIN first_day f USING (customer) GROUP BY o.customer, f.first),
s2 AS (
    SELECT s.*, occasions - 1 AS frequency, (last_purchase - first_purchase)::float8 AS recency,
           (date '2024-01-01' - first_purchase)::float8 AS tenure, (date '2024-01-01' - last_purchase)::float8 AS since_last,
           CASE WHEN occasions > 1 THEN ((monetary_total - first_day_value::float8) / (occasions - 1)) ELSE 0 END AS monetary
    FROM s),
scored AS (
    SELECT s2.*, ntile(5) OVER (ORDER BY since_last DESC) AS r, ntile(5) OVER (ORDER BY frequency) AS f,
           ntile(5) OVER (ORDER BY monetary_total) AS m,
           avg(since_last) OVER () AS ar, avg(frequency) OVER () AS af, avg(monetary_total) OVER () AS am,
           (sum(monetary_total) OVER (ORDER BY monetary_total DESC) - sum(monetary_total) OVER (PARTITION BY monetary_total))
             / sum(monetary_total) OVER () AS share_before
    FROM s2)
SELECT customer, first_purchase, last_purchase, orders, returns, occasions, frequency, recency, tenure,
       since_last, monetary_total, monetary, recent_spend, earlier_spend, r, f, m, r::text || f || m AS score,
       $SEGMENT_CASE AS segment,
       CASE WHEN monetary_total > am THEN '重要' ELSE '一般' END ||
       CASE WHEN since_last < ar AND frequency > af THEN '价值客户' WHEN frequency > af THEN '保持客户'
            WHEN since_last < ar THEN '发展客户' ELSE '挽留客户' END AS class8,
       CASE WHEN share_before < 0.8 THEN 'A' WHEN share_before < 0.95 THEN 'B' ELSE 'C' END AS abc_class,
       monetary_total AS value,
       CASE WHEN monetary_total >= 2000 THEN 'Gold' WHEN monetary_total >= 1000 THEN 'Silver' ELSE 'Bronze' END AS tier,
       array_remove(ARRAY[
         CASE WHEN tenure <= 30 THEN 'new' END, CASE WHEN since_last <= 90 THEN 'active' END,
         CASE WHEN frequency >= 1 AND since_last > 30 AND since_last > 3 * recency / frequency THEN 'dormant' END,
         CASE WHEN since_last > 180 AND since_last <= 365 THEN 'churn_risk' END,
         CASE WHEN since_last > 365 THEN 'lost' END, CASE WHEN frequency = 0 AND tenure > 30 THEN 'one_time' END,
         CASE WHEN share_before < 0.8 AND frequency >= 2 AND since_last <= 180 THEN 'vip' END,
         CASE WHEN m >= 5 THEN 'big_spender' END, CASE WHEN f >= 5 THEN 'frequent' END,
         CASE WHEN earlier_spend > 0 AND recent_spend < 0.5 * earlier_spend THEN 'declining' END], NULL) AS tags
FROM scored
WITH NO DATA;
CREATE UNIQUE INDEX ON plain_tiers (customer);

SQL

T_CREATE=$(q -c "SELECT timed(\$\$SELECT tiers.create_tier_view('our_tiers', 'orders', 'customer', 'ordered_on', 'amount',
  '{\"as_of\": \"2024-01-01\", \"tier_scheme\": \"bench\"}')\$\$, 1)")
STAGES=$(q -c "SELECT format('fit %s ms, refresh %s ms, history %s ms', round(fit_ms), round(refresh_ms), round(history_ms)) FROM tiers.tier_view_refreshes WHERE view_name = 'our_tiers' ORDER BY refreshed_at LIMIT 1")
T_PLAIN=$(q -c "SELECT timed('REFRESH MATERIALIZED VIEW plain_tiers', $REPS)")
T_OURS=$(q -c "SELECT timed('REFRESH MATERIALIZED VIEW our_tiers', $REPS)")
T_PLAIN_C=$(q -c "SELECT timed('REFRESH MATERIALIZED VIEW CONCURRENTLY plain_tiers', $REPS)")
T_OURS_C=$(q -c "SET client_min_messages = warning; SELECT timed(\$\$SELECT tiers.refresh_tier_view('our_tiers')\$\$, $REPS)" | tail -1)
STAGES_C=$(q -c "SELECT format('fit %s ms, refresh %s ms, history %s ms', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY fit_ms)), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY refresh_ms)), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY history_ms))) FROM (SELECT * FROM tiers.tier_view_refreshes WHERE view_name = 'our_tiers' ORDER BY refreshed_at OFFSET 1) r")
q -c "SELECT tiers.create_tier_view('our_clv', 'orders', 'customer', 'ordered_on', 'amount',
  '{\"as_of\": \"2024-01-01\", \"tier_scheme\": \"bench_clv\", \"clv\": true}')" >/dev/null
T_CLV=$(q -c "SET client_min_messages = warning; SELECT timed(\$\$SELECT tiers.refresh_tier_view('our_clv')\$\$, $REPS)" | tail -1)
STAGES_CLV=$(q -c "SELECT format('fit %s ms, refresh %s ms, history %s ms', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY fit_ms)), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY refresh_ms)), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY history_ms))) FROM (SELECT * FROM tiers.tier_view_refreshes WHERE view_name = 'our_clv' ORDER BY refreshed_at OFFSET 1) r")
# the two views agree where their definitions are the same
AGREE=$(q -c "SELECT count(*) FILTER (WHERE p.frequency <> o.frequency OR p.recency <> o.recency OR p.since_last <> o.since_last
    OR abs(p.monetary_total - o.monetary_total) > 1e-6 OR abs(p.monetary - o.monetary) > 1e-6 OR p.abc_class <> o.abc_class
    OR abs(p.recent_spend - o.recent_spend) > 1e-6 OR p.class8 <> o.class8) || ' of ' || count(*)
  FROM plain_tiers p JOIN our_tiers o USING (customer)")

echo
echo "$(machine); $ORDERS orders of $(q -c "SELECT count(*) FROM our_tiers") customers; median of $REPS runs."
echo
echo "| refresh | ms | ratio to plain SQL |"
echo "| --- | ---: | ---: |"
echo "| plain SQL matview, REFRESH | $T_PLAIN | 1.00 |"
echo "| tier view, REFRESH (same statement kind) | $T_OURS | $(ratio "$T_OURS" "$T_PLAIN") |"
echo "| plain SQL matview, REFRESH CONCURRENTLY | $T_PLAIN_C | $(ratio "$T_PLAIN_C" "$T_PLAIN") |"
echo "| tiers.refresh_tier_view (concurrent + history) | $T_OURS_C | $(ratio "$T_OURS_C" "$T_PLAIN_C") vs concurrent plain |"
echo "| tiers.refresh_tier_view with CLV columns | $T_CLV | $(ratio "$T_CLV" "$T_PLAIN_C") vs concurrent plain |"
echo
echo "Stages: create_tier_view (first refresh, $T_CREATE ms): $STAGES; refresh_tier_view: $STAGES_C; with CLV: $STAGES_CLV."
echo "Rows where summary, monetary, ABC, recent spend or 8-class differ between the two views: $AGREE"
