-- Tier views: declaration, refresh, history, report; every generated column checked against an
-- independent plain-SQL computation; option and argument errors.
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
\i tests/sql/helpers.sql
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all

-- the interval convention of every unit: a month is 30 days (PostgreSQL's interval comparison)
SELECT v, tiers.interval_seconds(v) / 86400 AS days
FROM unnest(ARRAY['1 year 2 mons 3 days 12:00', '12 months', '7 days', '1 hour', '-1 day']::interval[]) v;

SELECT tiers.define_tier_scheme('cd_loyalty', '[
  {"tier": "Bronze",   "entry": 0},
  {"tier": "Silver",   "entry": 100,  "retain": 80},
  {"tier": "Gold",     "entry": 500,  "retain": 400},
  {"tier": "Platinum", "entry": 2000, "retain": 1500}]', max_drop => 1);

SELECT tiers.create_tier_view('cd_tiers', 'cdnow_master', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-03-31", "clv": true, "tier_scheme": "cd_loyalty", "recent_window": "60 days"}');

-- the columns, and a comment on every one of them
SELECT a.attname, format_type(a.atttypid, a.atttypmod), col_description(a.attrelid, a.attnum) IS NOT NULL AS commented
FROM pg_attribute a WHERE a.attrelid = 'cd_tiers'::regclass AND a.attnum > 0 ORDER BY a.attnum;
SELECT obj_description('cd_tiers'::regclass) IS NOT NULL AS view_commented,
       (SELECT indisunique FROM pg_index WHERE indrelid = 'cd_tiers'::regclass) AS unique_index;
SELECT view_schema, view_name, source_schema, source_name, customer_column, options FROM tiers.tier_views;

-- independent computations, as of 1998-03-31 (days)
CREATE TEMP TABLE ref AS
SELECT customer_id AS customer, min(ordered_on) AS first_purchase,
       max(ordered_on) AS last_purchase,
       count(*) FILTER (WHERE amount >= 0) AS orders,
       count(DISTINCT ordered_on) - 1 AS frequency,
       (max(ordered_on) - min(ordered_on))::float8 AS recency,
       ('1998-03-31'::date - min(ordered_on))::float8 AS tenure,
       ('1998-03-31'::date - max(ordered_on))::float8 AS since_last,
       sum(amount)::float8 AS revenue,
       coalesce(sum(amount) FILTER (WHERE ordered_on > '1998-03-31'::date - 60), 0)::float8 AS recent,
       coalesce(sum(amount) FILTER (WHERE ordered_on <= '1998-03-31'::date - 60
                                    AND ordered_on > '1998-03-31'::date - 120), 0)::float8 AS earlier
FROM cdnow_master WHERE ordered_on <= '1998-03-31' GROUP BY customer_id;
SELECT (SELECT count(*) FROM cd_tiers) AS view_rows, (SELECT count(*) FROM ref) AS customers,
       count(*) FILTER (WHERE v.first_purchase <> r.first_purchase OR v.last_purchase <> r.last_purchase
                        OR v.orders <> r.orders OR v.frequency <> r.frequency OR v.recency <> r.recency
                        OR v.tenure <> r.tenure OR v.since_last <> r.since_last) AS summary_mismatches,
       count(*) FILTER (WHERE abs(v.monetary_total - r.revenue) > 1e-6) AS revenue_mismatches,
       count(*) FILTER (WHERE abs(v.recent_spend - r.recent) > 1e-6 OR abs(v.earlier_spend - r.earlier) > 1e-6) AS window_mismatches
FROM cd_tiers v JOIN ref r USING (customer);
-- RFM: the breakpoints of the scores are percentile_cont quintiles (ties share a score)
WITH q AS (
    SELECT percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY since_last) AS rb,
           percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY frequency) AS fb,
           percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY revenue) AS mb FROM ref)
SELECT count(*) FILTER (WHERE v.f <> 1 + (SELECT count(*) FROM unnest(q.fb) b WHERE r.frequency > b)) AS f_mismatches,
       count(*) FILTER (WHERE v.m <> 1 + (SELECT count(*) FROM unnest(q.mb) b WHERE r.revenue > b)) AS m_mismatches,
       count(*) FILTER (WHERE v.segment <> tiers.rfm_segment(v.r, v.f, v.m)) AS segment_mismatches
FROM cd_tiers v JOIN ref r USING (customer), q;
-- ABC: cumulative revenue share before the customer (ties together), cut at 80 % / 95 %
WITH s AS (
    SELECT customer, revenue,
           (sum(revenue) OVER (ORDER BY revenue DESC RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
            - sum(revenue) OVER (PARTITION BY revenue)) / sum(revenue) OVER () AS before
    FROM ref)
SELECT count(*) FILTER (WHERE v.abc_class <> CASE WHEN s.before < 0.8 THEN 'A' WHEN s.before < 0.95 THEN 'B' ELSE 'C' END) AS abc_mismatches,
       count(*) FILTER (WHERE v.abc_class = 'A') AS a_customers
FROM cd_tiers v JOIN s USING (customer);
-- tiers of a first evaluation: entry thresholds, the same as a CASE
SELECT count(*) FILTER (WHERE tier <> CASE WHEN value >= 2000 THEN 'Platinum' WHEN value >= 500 THEN 'Gold'
                                          WHEN value >= 100 THEN 'Silver' ELSE 'Bronze' END) AS tier_mismatches,
       count(*) FILTER (WHERE previous_tier IS NOT NULL) AS with_previous
FROM cd_tiers;
-- CLV: the models stored for this as_of equal a direct fit; the columns equal the functions
SELECT round((bgnbd).r::numeric, 4) AS r, round((bgnbd).alpha::numeric, 2) AS alpha,
       round((bgnbd).a::numeric, 4) AS a, round((bgnbd).b::numeric, 4) AS b,
       round((gamma_gamma).p::numeric, 3) AS p, customers, as_of
FROM tiers.tier_view_refreshes;
WITH s AS (SELECT (tiers.customer_summary(ordered_on, amount, '1998-03-31'::date, '1 day')).* FROM cdnow_master
           WHERE ordered_on <= '1998-03-31' GROUP BY customer_id),
     fit AS (SELECT tiers.bgnbd_fit(frequency, recency, tenure) AS bg,
                    tiers.gamma_gamma_fit(frequency, monetary) AS gg FROM s)
SELECT abs((fit.bg).r - (x.bgnbd).r) < 1e-12 AND abs((fit.bg).alpha - (x.bgnbd).alpha) < 1e-9
       AND abs((fit.gg).p - (x.gamma_gamma).p) < 1e-12 AS same_models
FROM fit, tiers.tier_view_refreshes x;
SELECT count(*) FILTER (WHERE abs(v.p_alive - tiers.p_alive(x.bgnbd, v.frequency, v.recency, v.tenure)) > 1e-12) AS p_alive_mismatches,
       count(*) FILTER (WHERE abs(v.clv - tiers.clv_estimate(x.bgnbd, x.gamma_gamma, v.frequency, v.recency, v.tenure,
                                   v.monetary, '12 months', 0.01, '1 day')) > 1e-9) AS clv_mismatches,
       count(*) FILTER (WHERE v.tags IS DISTINCT FROM tiers.customer_tags(v)) AS tag_mismatches
FROM cd_tiers v, tiers.tier_view_refreshes x;

-- the report: every dimension adds up to the view's totals
SELECT dimension, grp, customers, round(customer_share::numeric, 4) AS customer_share,
       round(revenue::numeric, 2) AS revenue, round(revenue_share::numeric, 4) AS revenue_share,
       round(avg_clv::numeric, 2) AS avg_clv, round(avg_since_last::numeric, 1) AS avg_since_last,
       upgrades, downgrades, new, lost
FROM tiers.tier_report('cd_tiers') WHERE dimension <> 'segment';
SELECT r.dimension, sum(r.customers) = t.n AS customers_add_up, abs(sum(r.revenue) - t.rev) < 1e-6 AS revenue_adds_up,
       abs(sum(r.customer_share) - 1) < 1e-12 AS shares_add_up, abs(sum(r.total_clv) - t.clv) < 1e-6 AS clv_adds_up
FROM tiers.tier_report('cd_tiers') r,
     (SELECT count(*) AS n, sum(monetary_total) AS rev, sum(clv) AS clv FROM cd_tiers) t
GROUP BY r.dimension, t.n, t.rev, t.clv ORDER BY 1;

-- next quarter: refresh for a later as_of; the history records the moves, and the report's
-- movements equal the migration matrix
UPDATE tiers.tier_views SET options = options || '{"as_of": "1998-06-30"}' WHERE view_name = 'cd_tiers';
SELECT view_name, as_of, customers FROM tiers.refresh_tier_view('cd_tiers');
SELECT * FROM tiers.tier_movements('cd_loyalty');
SELECT direction, sum(customers) FROM tiers.transitions('cd_loyalty', '1998-03-31', '1998-06-30') GROUP BY 1 ORDER BY 1;
SELECT grp, upgrades, downgrades, new, lost FROM tiers.tier_report('cd_tiers') WHERE dimension = 'tier';
-- the view's tier is the tier recorded in the history, and previous_tier the one before
SELECT count(*) FILTER (WHERE h.tier IS DISTINCT FROM v.tier) AS tier_vs_history,
       count(*) FILTER (WHERE v.previous_tier IS NULL) AS without_previous
FROM cd_tiers v LEFT JOIN tiers.tier_history h
  ON h.scheme = 'cd_loyalty' AND h.customer = v.customer::text AND h.valid_to IS NULL;
-- refreshing again for the same as_of gives the same tiers and records nothing new
CREATE TEMP TABLE before_tiers AS SELECT customer, tier FROM cd_tiers;
SELECT view_name, as_of, customers FROM tiers.refresh_tier_view('cd_tiers');
SELECT count(*) AS changed FROM cd_tiers v JOIN before_tiers b USING (customer) WHERE v.tier IS DISTINCT FROM b.tier;
SELECT count(*) AS evaluations FROM tiers.tier_evaluations WHERE scheme = 'cd_loyalty';

-- the same refresh under forced parallel plans (the lookups inside the scoring functions run
-- read-only in a transaction that already wrote; record types shared with parallel workers)
CREATE TEMP TABLE serial_contents AS SELECT * FROM cd_tiers;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT view_name, customers FROM tiers.refresh_tier_view('cd_tiers');
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
-- every column equal, except the last bits of what comes from double-precision means (monetary
-- and the CLV columns): partial aggregation may split a customer's orders between workers and add
-- them in another order (README: "parallel plans may differ ... in the last bits"); seen on PG 16
CREATE FUNCTION pg_temp.close(a float8, b float8) RETURNS boolean LANGUAGE sql AS
    $$ SELECT a IS NOT DISTINCT FROM b OR abs(a - b) <= 1e-9 * greatest(abs(a), abs(b)) $$;
SELECT count(*) AS differences
FROM cd_tiers p FULL JOIN serial_contents s ON s.customer = p.customer
WHERE p.customer IS NULL OR s.customer IS NULL
   OR (p.first_purchase, p.last_purchase, p.orders, p.returns, p.occasions, p.frequency, p.recency,
       p.tenure, p.since_last, p.monetary_total, p.recent_spend, p.earlier_spend, p.r, p.f, p.m,
       p.score, p.segment, p.class8, p.abc_class, p.value, p.previous_tier, p.tier, p.tags, p.as_of)
      IS DISTINCT FROM
      (s.first_purchase, s.last_purchase, s.orders, s.returns, s.occasions, s.frequency, s.recency,
       s.tenure, s.since_last, s.monetary_total, s.recent_spend, s.earlier_spend, s.r, s.f, s.m,
       s.score, s.segment, s.class8, s.abc_class, s.value, s.previous_tier, s.tier, s.tags, s.as_of)
   OR NOT (pg_temp.close(p.monetary, s.monetary) AND pg_temp.close(p.p_alive, s.p_alive)
           AND pg_temp.close(p.expected_purchases, s.expected_purchases)
           AND pg_temp.close(p.expected_spend, s.expected_spend) AND pg_temp.close(p.clv, s.clv));

-- options: filter on source columns, a schema, weeks, other bins and rule set, no CLV, no tier
CREATE SCHEMA bi;
SELECT tiers.create_tier_view('small', 'cdnow_master', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-06-30", "filter": {"customer_id": [1, 2, 3, "4"]}, "schema": "bi", "unit": "7 days",
    "rule_set": "rfm_0_3", "class8_lang": "en"}');
SELECT customer, orders, frequency, round(recency::numeric, 3) AS recency_weeks, round(tenure::numeric, 3) AS tenure_weeks,
       segment, class8, abc_class, tags
FROM bi.small ORDER BY customer;
SELECT a.attname FROM pg_attribute a WHERE a.attrelid = 'bi.small'::regclass AND a.attnum > 0
  AND a.attname IN ('clv', 'p_alive', 'tier', 'value', 'previous_tier');
SELECT * FROM tiers.tier_report('bi.small') WHERE dimension IN ('tier', 'all');

-- errors
SELECT pg_temp.err(format($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', %L)$$, o))
FROM unnest(ARRAY[
  '{"colour": "red"}', '[1]', '{"bins": "five"}', '{"bins": 11}', '{"bins": 3}', '{"bins": 4.5}', '{"as_of": "yesterday-ish"}',
  '{"unit": "-1 day"}', '{"abc_a_cut": 0.96}', '{"clv_discount": 1.5}', '{"rule_set": "nope"}',
  '{"tier_scheme": "nope"}', '{"tier_scheme": "cd_loyalty", "tier_value": "clv"}',
  '{"tier_value": "customer_id"}', '{"schema": "no_such_schema"}', '{"class8_lang": "fr"}',
  '{"filter": {"no_such_column": 1}}', '{"filter": "customer_id = 1"}', '{"history": "yes"}',
  '{"tier_scheme": "cd_loyalty"}', '{"as_of": "infinity"}', '{"as_of": "-infinity"}']::jsonb[]) AS o;
-- a whole number written as 5.0 is 5 (it passed the check, then failed casting to integer)
SELECT tiers.tier_view_options('{"bins": 5.0}')->'bins' AS bins;
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'nope', 'ordered_on', 'amount')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'amount', 'amount')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'ordered_on')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view(NULL, 'cdnow_master', 'customer_id', 'ordered_on', 'amount')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view(repeat('x', 64), 'cdnow_master', 'customer_id', 'ordered_on', 'amount')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('', 'cdnow_master', 'customer_id', 'ordered_on', 'amount')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('cd_tiers', 'cdnow_master', 'customer_id', 'ordered_on', 'amount')$$);
CREATE TABLE taken (x int);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('taken', 'cdnow_master', 'customer_id', 'ordered_on', 'amount')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'no_such_table', 'customer_id', 'ordered_on', 'amount')$$);
SELECT pg_temp.err($$SELECT tiers.refresh_tier_view('cdnow_master')$$);
SELECT pg_temp.err($$SELECT tiers.refresh_tier_view(NULL)$$);
SELECT pg_temp.err($$SELECT * FROM tiers.tier_report('cdnow_master')$$);
SELECT pg_temp.err($$SELECT tiers.schedule_tier_view('cd_tiers', '0 3 * * *')$$);
SELECT pg_temp.err($$SELECT tiers.unschedule_tier_view('cd_tiers')$$);
SELECT pg_temp.err($$SELECT tiers.drop_tier_view('cdnow_master')$$);
-- a failed declaration leaves nothing behind
SELECT count(*) AS declarations FROM tiers.tier_views;
SELECT count(*) AS stray_relations FROM pg_class WHERE relname = 'e';

-- a view over a view, and dropping: declaration, refresh records and the view go; history stays
CREATE VIEW paid_orders AS SELECT customer_id AS "Customer", ordered_on AS "When", amount::float8 AS "€" FROM cdnow_master WHERE amount > 0;
SELECT tiers.create_tier_view('from_view', 'paid_orders', 'Customer', 'When', '€', '{"as_of": "1998-06-30"}');
SELECT count(*), sum(orders) FROM from_view;
SELECT tiers.drop_tier_view('from_view');
SELECT tiers.drop_tier_view('bi.small');
SELECT tiers.drop_tier_view('cd_tiers');
SELECT count(*) AS declarations FROM tiers.tier_views;
SELECT count(*) AS refresh_rows FROM tiers.tier_view_refreshes;
SELECT count(*) > 0 AS history_kept FROM tiers.tier_history WHERE scheme = 'cd_loyalty';
SELECT count(*) AS leftover FROM pg_class WHERE relname IN ('cd_tiers', 'small', 'from_view');
DROP VIEW paid_orders;
