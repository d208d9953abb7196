-- tiers.cohort_retention (issue 14): the cohort triangle against the same triangle in plain SQL
-- (monthly, quarterly, weekly), split by a tier view, with filters and hostile names; errors.
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
\i tests/sql/helpers.sql
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all

-- the independent triangle: cohort = month of the first purchase, k = months since
CREATE FUNCTION pg_temp.plain(unit text) RETURNS TABLE (cohort date, k integer, n bigint, active bigint,
                                                      revenue numeric) LANGUAGE sql AS $$
    WITH b AS (SELECT customer_id, date_trunc(unit, ordered_on) AS p, amount FROM cdnow_master),
    f AS (SELECT customer_id, min(p) AS c FROM b GROUP BY 1),
    s AS (SELECT c, count(*) AS n FROM f GROUP BY 1)
    SELECT f.c::date,
           CASE unit WHEN 'week' THEN ((b.p::date - f.c::date) / 7)
                     ELSE ((extract(year FROM b.p) - extract(year FROM f.c)) * 12 + extract(month FROM b.p) - extract(month FROM f.c))::integer
                          / CASE unit WHEN 'quarter' THEN 3 ELSE 1 END END,
           s.n, count(DISTINCT b.customer_id), sum(b.amount)
    FROM b JOIN f USING (customer_id) JOIN s ON s.c = f.c GROUP BY 1, 2, 3 $$;

CREATE TEMP TABLE tri AS
SELECT * FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '1 month', '{"amount_column": "amount"}');
SELECT count(*) AS rows, count(DISTINCT cohort) AS cohorts, min(period_number) AS first, max(period_number) AS last,
       bool_and(grp IS NULL) AS no_split FROM tri;
-- every (cohort, period) with purchases equals plain SQL, the rest are zeros
SELECT count(*) AS differences FROM (
    (SELECT cohort, period_number, cohort_customers, active_customers, revenue FROM tri WHERE active_customers > 0
     EXCEPT SELECT * FROM pg_temp.plain('month'))
    UNION ALL
    (SELECT * FROM pg_temp.plain('month')
     EXCEPT SELECT cohort, period_number, cohort_customers, active_customers, revenue FROM tri)) d;
SELECT bool_and(retention = active_customers::float8 / cohort_customers) AS retention,
       bool_and(period_number > 0 OR retention = 1) AS period_0_is_everyone,
       bool_and(active_customers > 0 OR revenue = 0) AS zero_rows,
       bool_and(cumulative_revenue_per_customer = (SELECT sum(t2.revenue) FROM tri t2 WHERE t2.cohort = tri.cohort
                                                   AND t2.period_number <= tri.period_number) / cohort_customers) AS cumulative
FROM tri;
SELECT cohort, period_number, cohort_customers, active_customers, round(retention::numeric, 4) AS retention,
       revenue, round(cumulative_revenue_per_customer, 2) AS cumulative_per_customer
FROM tri WHERE cohort = '1997-01-01' AND period_number <= 3 ORDER BY period_number;

-- quarters and weeks (weeks start on Monday, as date_trunc('week'))
SELECT count(*) AS quarter_differences FROM (
    (SELECT cohort, period_number, cohort_customers, active_customers, revenue
     FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '3 months', '{"amount_column": "amount"}')
     WHERE active_customers > 0
     EXCEPT SELECT * FROM pg_temp.plain('quarter'))
    UNION ALL
    (SELECT * FROM pg_temp.plain('quarter')
     EXCEPT SELECT cohort, period_number, cohort_customers, active_customers, revenue
     FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '3 months', '{"amount_column": "amount"}'))) d;
SELECT count(*) AS week_differences FROM (
    (SELECT cohort, period_number, cohort_customers, active_customers, revenue
     FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '7 days', '{"amount_column": "amount"}')
     WHERE active_customers > 0
     EXCEPT SELECT * FROM pg_temp.plain('week'))
    UNION ALL
    (SELECT * FROM pg_temp.plain('week')
     EXCEPT SELECT cohort, period_number, cohort_customers, active_customers, revenue
     FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '7 days', '{"amount_column": "amount"}'))) d;

-- without amounts, as_of, filter
SELECT count(*) AS rows, bool_and(revenue IS NULL AND cumulative_revenue_per_customer IS NULL) AS no_money, max(cohort) AS last_cohort,
       max(period_number) AS last_period
FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '1 month', '{"as_of": "1997-06-30"}');
-- as_of with an offset is that instant (in the session's time zone, like timestamptz orders); a
-- null as_of is the default, all orders
CREATE TABLE tz_orders (customer int, ordered_at timestamptz, amount numeric);
SELECT current_setting('TimeZone') AS saved_tz \gset
SET TimeZone = 'UTC';
INSERT INTO tz_orders VALUES (1, '2023-05-01 10:00+00', 5), (2, '2023-05-31 20:00+00', 7), (3, '2023-05-31 21:00+00', 10),
                             (1, '2023-06-02 10:00+00', 1);
SELECT cohort, period_number, cohort_customers, revenue
FROM tiers.cohort_retention('tz_orders', 'customer', 'ordered_at', '1 month', '{"as_of": "2023-06-01 00:00+05", "amount_column": "amount"}');
SELECT cohort, period_number, cohort_customers, revenue
FROM tiers.cohort_retention('tz_orders', 'customer', 'ordered_at', '1 month', '{"as_of": null, "amount_column": "amount"}');
-- NaN and infinite amounts are errors (they gave NaN revenue, and a NaN counted as a purchase)
ALTER TABLE tz_orders ALTER COLUMN amount TYPE float8;
INSERT INTO tz_orders VALUES (4, '2023-05-02 10:00+00', 'NaN');
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('tz_orders', 'customer', 'ordered_at', '1 month', '{"amount_column": "amount"}')$$);
UPDATE tz_orders SET amount = '-Infinity' WHERE customer = 4;
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('tz_orders', 'customer', 'ordered_at', '1 month', '{"amount_column": "amount"}')$$);
SET TimeZone = :'saved_tz';
DROP TABLE tz_orders;
SELECT sum(cohort_customers) FILTER (WHERE period_number = 0) AS customers
FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '1 month', '{"filter": {"cds": [1, 2]}}');
SELECT count(DISTINCT customer_id) AS expected FROM cdnow_master WHERE cds IN (1, 2);

-- returns are not purchases: a customer whose first row is a return joins with the first purchase
CREATE TABLE ret (c int, d date, a numeric);
INSERT INTO ret VALUES (1, '2020-01-05', -10), (1, '2020-02-01', 30), (1, '2020-04-01', 5), (2, '2020-02-10', NULL),
                       (3, '2020-03-01', -5);
SELECT cohort, period_number, cohort_customers, active_customers, revenue, cumulative_revenue_per_customer
FROM tiers.cohort_retention('ret', 'c', 'd', '1 month', '{"amount_column": "a"}');

-- one triangle per tier of a tier view
SELECT tiers.define_tier_scheme('coh', '[{"tier": "Low", "entry": 0}, {"tier": "High", "entry": 200}]') \g /dev/null
SELECT tiers.create_tier_view('coh_tiers', 'cdnow_master', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-06-30", "tier_scheme": "coh", "history": false}') \g /dev/null
SELECT grp, sum(cohort_customers) FILTER (WHERE period_number = 0) AS customers,
       round(avg(retention) FILTER (WHERE period_number = 1)::numeric, 4) AS avg_month_1_retention
FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '1 month',
                            '{"split_by": {"view": "coh_tiers", "column": "tier"}}')
GROUP BY grp ORDER BY grp;
SELECT tier, count(*) FROM coh_tiers GROUP BY 1 ORDER BY 1;
SELECT grp, sum(cohort_customers) FILTER (WHERE period_number = 0) AS customers
FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '3 months',
                            '{"split_by": {"view": "public.coh_tiers", "column": "segment"}}')
GROUP BY grp ORDER BY customers DESC LIMIT 3;
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '1 month', '{"split_by": {"view": "coh_tiers", "column": "nope"}}')$$);
SELECT tiers.drop_tier_view('coh_tiers') \g /dev/null

-- hostile names
CREATE TABLE "Order ""Book""; --" ("Cust; Id" int, "When'" timestamptz, "€ amount" numeric, "x"";DROP" text);
INSERT INTO "Order ""Book""; --" SELECT customer_id, ordered_on::timestamptz, amount, 'a' FROM cdnow_master WHERE customer_id <= 100;
SELECT count(*) AS rows, sum(cohort_customers) FILTER (WHERE period_number = 0) AS customers
FROM tiers.cohort_retention('"Order ""Book""; --"', 'Cust; Id', 'When''', '1 month',
                            '{"amount_column": "€ amount", "filter": {"x\";DROP": "a"}}');

-- errors
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention(NULL, 'customer_id', 'ordered_on')$$);
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('cdnow_master', 'nope', 'ordered_on')$$);
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'cds')$$);
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '1 month 2 days')$$);
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '0 days')$$);
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '1 minute')$$);
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '1 month', '{"nonsense": 1}')$$);
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '1 month', '{"amount_column": "ordered_on"}')$$);
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '1 month', '{"as_of": "soon"}')$$);
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '1 month', '{"split_by": {"view": "cdnow_master", "column": "tier"}}')$$);
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '1 month', '{"filter": {"nope": 1}}')$$);
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '1 month', '{"split_by": {"view": "a.b.c", "column": "tier"}}')$$);
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('cdnow_master', 'customer_id', 'ordered_on', '1 month', '{"split_by": {"view": 1, "column": "tier"}}')$$);
-- an infinite order time is 22008 naming the column (as in customer_summary), whatever the
-- period: month periods dropped such a customer's orders, fixed ones failed in a subtraction
CREATE TEMP TABLE coh_inf (c int, t timestamp);
INSERT INTO coh_inf VALUES (1, '2020-01-05'), (2, '2020-02-01'), (2, 'infinity');
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('coh_inf', 'c', 't')$$),
       pg_temp.err($$SELECT * FROM tiers.cohort_retention('coh_inf', 'c', 't', '7 days')$$);
-- orders after as_of are ignored, an infinite one too
SELECT count(*) AS rows FROM tiers.cohort_retention('coh_inf', 'c', 't', '1 month', '{"as_of": "2020-12-31"}');
UPDATE coh_inf SET t = '-infinity' WHERE t = 'infinity';
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('coh_inf', 'c', 't', '1 month', '{"as_of": "2020-12-31"}')$$);
-- a dropped relation's OID is 42P01 (it was 22004 from format())
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention(1::oid::regclass, 'c', 't')$$);
-- periods of several years counted from the calendar's start: the first one begins on
-- 0001-01-01 (there is no year 0: make_date failed with 22008); before Christ as extract counts
DELETE FROM coh_inf;
INSERT INTO coh_inf VALUES (1, '0001-03-01'), (2, '0001-01-01 BC'), (3, '0002-12-31 BC'), (1, '0002-06-01');
SELECT cohort, period_number, cohort_customers, active_customers
FROM tiers.cohort_retention('coh_inf', 'c', 't', '2 years') ORDER BY cohort, period_number;
SELECT cohort, period_number, cohort_customers, active_customers
FROM tiers.cohort_retention('coh_inf', 'c', 't', '5 months') WHERE period_number <= 1 ORDER BY cohort, period_number;
-- a source without rows (a composite type) is 42809 before anything runs; create_tier_view too
CREATE TYPE coh_type AS (c int, t date);
SELECT pg_temp.err($$SELECT * FROM tiers.cohort_retention('coh_type', 'c', 't')$$),
       pg_temp.err($$SELECT tiers.create_tier_view('coh_e', 'coh_type', 'c', 't', 'c')$$),
       pg_temp.err($$SELECT tiers.create_tier_view('coh_e', 1::oid::regclass, 'c', 't', 'c')$$);
DROP TYPE coh_type;
