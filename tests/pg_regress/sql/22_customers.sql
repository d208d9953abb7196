-- Tier views with customer attributes and grading within groups (issue 19): the option
-- "customers" joins a customer table, "grade_within" computes RFM breakpoints and means, ABC
-- shares and the 8 classes per group, "clv_within" fits the CLV models per group. Checked against
-- percentile_cont and window sums per group on CDNOW with a synthetic customer table: regions of
-- very different sizes, a region with one customer, NULL regions and customers missing from the
-- table; hostile names; privileges.
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
SET extra_float_digits = 0;
\i tests/sql/helpers.sql
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all

-- the customer table: North (ids ending 1-2), South (3-9), Solo (customer 7 alone), Once
-- (customers 1 and 2, one purchase each), NULL region (ids ending 0); every 17th customer is
-- missing from the table
CREATE SCHEMA "crm; drop";
CREATE TABLE "crm; drop"."Kunden ""Liste""" AS
SELECT customer_id AS "Id", 'Customer ' || customer_id AS "full name",
       CASE WHEN customer_id = 7 THEN 'Solo' WHEN customer_id IN (1, 2) THEN 'Once' WHEN customer_id % 10 = 0 THEN NULL
            WHEN customer_id % 10 < 3 THEN 'North' ELSE 'South' END AS "Région",
       (ARRAY['retail', 'wholesale'])[1 + customer_id % 2] AS industry
FROM (SELECT DISTINCT customer_id FROM cdnow_master) c WHERE customer_id % 17 <> 0;
ALTER TABLE "crm; drop"."Kunden ""Liste""" ADD PRIMARY KEY ("Id");
COMMENT ON COLUMN "crm; drop"."Kunden ""Liste"""."Région" IS 'sales region';
SELECT tiers.create_tier_view('graded', 'cdnow_master', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-06-30", "clv": true, "class8_lang": "en",
    "customers": {"table": "\"crm; drop\".\"Kunden \"\"Liste\"\"\"", "key": "Id", "columns": ["full name", "industry"]},
    "grade_within": ["Région"]}');
-- the attributes keep their types and comments; every customer with orders appears once
SELECT a.attname, format_type(a.atttypid, NULL) AS type, col_description(a.attrelid, a.attnum) AS comment
FROM pg_attribute a WHERE a.attrelid = 'graded'::regclass AND a.attname IN ('full name', 'industry', 'Région')
ORDER BY a.attnum;
SELECT count(*) AS customers, count(DISTINCT customer) AS distinct_customers,
       count(*) FILTER (WHERE "full name" IS NULL) AS missing_from_table,
       count(*) FILTER (WHERE "full name" IS NULL AND customer % 17 <> 0) AS missing_wrongly,
       (SELECT count(DISTINCT customer_id) FROM cdnow_master WHERE ordered_on <= '1998-06-30') AS with_orders
FROM graded;
SELECT "Région", count(*) FROM graded GROUP BY 1 ORDER BY 1;

-- RFM within each region: breakpoints = percentile_cont per region, scores from them
CREATE TEMP TABLE breaks AS
SELECT "Région" AS region,
       percentile_cont('{0.2,0.4,0.6,0.8}'::float8[]) WITHIN GROUP (ORDER BY since_last) AS rb,
       percentile_cont('{0.2,0.4,0.6,0.8}'::float8[]) WITHIN GROUP (ORDER BY frequency) AS fb,
       percentile_cont('{0.2,0.4,0.6,0.8}'::float8[]) WITHIN GROUP (ORDER BY monetary_total::float8) AS mb,
       avg(since_last) AS ar, avg(frequency) AS af, avg(monetary_total::float8) AS am
FROM graded GROUP BY 1;
SELECT g."Région" AS region, count(*) AS customers,
       count(*) FILTER (WHERE g.r = 5 - (SELECT count(*) FROM unnest(b.rb) x WHERE x < g.since_last)
                          AND g.f = 1 + (SELECT count(*) FROM unnest(b.fb) x WHERE x < g.frequency)
                          AND g.m = 1 + (SELECT count(*) FROM unnest(b.mb) x WHERE x < g.monetary_total::float8)) AS rfm_agree,
       count(*) FILTER (WHERE g.class8 = CASE WHEN g.monetary_total::float8 > b.am THEN 'Important ' ELSE 'General ' END
           || CASE WHEN g.since_last < b.ar AND g.frequency > b.af THEN 'Value' WHEN g.since_last < b.ar THEN 'Develop'
                   WHEN g.frequency > b.af THEN 'Retain' ELSE 'Win-back' END) AS class8_agree
FROM graded g JOIN breaks b ON b.region IS NOT DISTINCT FROM g."Région"
GROUP BY 1 ORDER BY 1;
-- the same customers graded against everyone would differ (the grouping matters)
SELECT count(*) FILTER (WHERE g.r <> (tiers.rfm_score(g.since_last, g.frequency, g.monetary_total::float8, m.m)).r) > 0 AS some_r_differ
FROM graded g, (SELECT tiers.rfm_model(since_last, frequency, monetary_total::float8) AS m FROM graded) m;
-- ABC within each region: revenue share of the customers above (the 'before' convention)
SELECT g."Région" AS region,
       count(*) FILTER (WHERE g.abc_class = CASE WHEN w.v <= 0 THEN 'C' WHEN w.above < 0.8 THEN 'A'
                                                  WHEN w.above < 0.95 THEN 'B' ELSE 'C' END) AS abc_agree,
       count(*) AS customers
FROM graded g JOIN (
    SELECT customer, v,
           (sum(greatest(v, 0)) OVER (PARTITION BY "Région" ORDER BY v DESC)
            - sum(greatest(v, 0)) OVER (PARTITION BY "Région", v)) / sum(greatest(v, 0)) OVER (PARTITION BY "Région") AS above
    FROM (SELECT customer, "Région", monetary_total::float8 AS v FROM graded) x) w USING (customer)
GROUP BY 1 ORDER BY 1;
-- CLV stays population-wide: the models of the refresh record
SELECT bool_and(pg_temp.near(g.clv, tiers.clv_estimate(r.bgnbd, r.gamma_gamma, g.frequency, g.recency, g.tenure,
                                 g.monetary, '12 months', 0.01, '1 day'))) AS clv_from_population_models
FROM graded g, (SELECT * FROM tiers.tier_view_refreshes WHERE view_name = 'graded' ORDER BY refreshed_at DESC LIMIT 1) r;
-- tier_report: one row per region
SELECT r.grp, r.customers, r.customers = (SELECT count(*) FROM graded g WHERE coalesce(g."Région", 'NULL') = r.grp) AS counted
FROM tiers.tier_report('graded') r WHERE r.dimension = 'group' ORDER BY r.grp;

-- CLV within each region: the models equal bgnbd_fit / gamma_gamma_fit per region
SELECT tiers.alter_tier_view('graded', '{"clv_within": true, "grade_within": ["industry"]}');
SELECT g.industry, count(*) AS customers,
       bool_and(pg_temp.near(g.p_alive, tiers.p_alive(f.bg, g.frequency, g.recency, g.tenure))) AS p_alive_per_group,
       bool_and(pg_temp.near(g.expected_spend, tiers.expected_spend(f.gg, g.frequency, g.monetary))) AS spend_per_group
FROM graded g JOIN (SELECT industry, tiers.bgnbd_fit(frequency, recency, tenure) AS bg,
                           tiers.gamma_gamma_fit(frequency, monetary) AS gg
                    FROM graded GROUP BY industry) f ON f.industry IS NOT DISTINCT FROM g.industry
GROUP BY 1 ORDER BY 1;
-- a group without repeat buyers cannot be fitted: the error names it
SELECT pg_temp.err($$SELECT tiers.alter_tier_view('graded', '{"grade_within": ["Région"]}')$$);
SELECT tiers.alter_tier_view('graded', '{"clv_within": false, "grade_within": ["Région"]}') IS NOT NULL AS back;

-- grading within a column of the orders: its value at the customer's last order
CREATE TABLE store_orders AS
SELECT customer_id, ordered_on, amount, 'store ' || ((customer_id + extract(month FROM ordered_on)::int) % 3) AS store
FROM cdnow_master WHERE customer_id <= 3000;
SELECT tiers.create_tier_view('by_store', 'store_orders', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-06-30", "grade_within": ["store"]}');
SELECT count(*) AS customers, count(*) FILTER (WHERE b.store = l.store) AS last_store
FROM by_store b JOIN (SELECT DISTINCT ON (customer_id) customer_id, store FROM store_orders
                      WHERE ordered_on <= '1998-06-30' ORDER BY customer_id, ordered_on DESC, store DESC) l
     ON l.customer_id = b.customer;
SELECT store, count(DISTINCT m_breaks) AS models FROM (
  SELECT store, percentile_cont('{0.2,0.4,0.6,0.8}'::float8[]) WITHIN GROUP (ORDER BY monetary_total::float8) AS m_breaks
  FROM by_store GROUP BY store) x GROUP BY 1 ORDER BY 1;
SELECT col_description('by_store'::regclass, (SELECT attnum FROM pg_attribute WHERE attrelid = 'by_store'::regclass AND attname = 'store'));
-- a return is no order: a customer's value stays the one at its last order
INSERT INTO store_orders VALUES (1, date '1998-06-20', -1, 'store returns');
SELECT (tiers.refresh_tier_view('by_store')).customers AS refreshed;
SELECT count(*) AS customers, count(*) FILTER (WHERE b.store = l.store) AS last_store
FROM by_store b JOIN (SELECT DISTINCT ON (customer_id) customer_id, store FROM store_orders
                      WHERE ordered_on <= '1998-06-30' AND amount >= 0 ORDER BY customer_id, ordered_on DESC, store DESC) l
     ON l.customer_id = b.customer;
SELECT store FROM by_store WHERE customer = 1;

-- CLV: a repeat buyer whose returns exceed its purchases (monetary < 0) has no Gamma-Gamma spend
-- or CLV (the model is for spends >= 0); the view builds and the others keep theirs
CREATE TABLE clv_orders AS SELECT customer_id, ordered_on, amount FROM cdnow_master WHERE customer_id <= 1000
UNION ALL VALUES (-1, date '1998-01-05', 10), (-1, date '1998-02-05', 10), (-1, date '1998-03-01', -100);
SELECT tiers.create_tier_view('clv_ret', 'clv_orders', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-06-30", "clv": true, "clv_interval": 0.9, "history": false}') IS NOT NULL AS created;
SELECT customer, frequency, monetary, p_alive IS NOT NULL AS p_alive, expected_purchases IS NOT NULL AS expected,
       expected_spend, clv, clv_low, clv_high FROM clv_ret WHERE customer = -1;
SELECT count(*) AS customers, count(*) FILTER (WHERE clv IS NULL OR expected_spend IS NULL OR clv_low IS NULL) AS without_clv
FROM clv_ret;
SELECT tiers.drop_tier_view('clv_ret');
DROP TABLE clv_orders;

-- errors
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"customers": {"table": "nowhere", "key": "id"}}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"customers": {"table": "store_orders"}}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"customers": {"table": "store_orders", "key": "id", "extra": 1}}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"customers": {"table": "store_orders", "key": "nope"}}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"customers": {"table": "store_orders", "key": "customer_id"}}')$$);
CREATE TABLE bigkeys (id bigint PRIMARY KEY, region text);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"customers": {"table": "bigkeys", "key": "id"}}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"customers": {"table": "\"crm; drop\".\"Kunden \"\"Liste\"\"\"", "key": "Id", "columns": ["nope"]}}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"customers": {"table": "\"crm; drop\".\"Kunden \"\"Liste\"\"\"", "key": "Id", "columns": ["industry", "industry"]}}')$$);
ALTER TABLE bigkeys RENAME COLUMN region TO segment;
ALTER TABLE bigkeys ALTER COLUMN id TYPE integer;
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"customers": {"table": "bigkeys", "key": "id", "columns": ["segment"]}}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"customers": {"table": "a b c", "key": "id"}}')$$);
-- more than schema.table is an invalid name too (42602; it was 42601 or 0A000 from to_regclass)
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"customers": {"table": "a.b.c.d", "key": "id"}}')$$),
       pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"customers": {"table": "otherdb.public.bigkeys", "key": "id"}}')$$);
-- an unqualified customer table is looked up in the view's schema, not on the search_path
CREATE TABLE "crm; drop".plain (id integer PRIMARY KEY);
SET search_path = "crm; drop", public;
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"customers": {"table": "plain", "key": "id"}}')$$);
RESET search_path;
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"grade_within": ["nope"]}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"grade_within": []}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"grade_within": "cds"}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('e', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"grade_within": ["cds"], "clv_within": true}')$$);
SELECT to_regclass('e') IS NULL AS nothing_left_behind;

-- privileges: the creator needs SELECT on the customer table; the refresh runs with the owner's
-- rights and changes nobody's access
CREATE ROLE ct_cust_analyst;
CREATE ROLE ct_cust_reader;
GRANT SELECT ON cdnow_master TO ct_cust_analyst;
GRANT USAGE ON SCHEMA "crm; drop" TO ct_cust_analyst;
GRANT CREATE ON SCHEMA public TO ct_cust_analyst;
GRANT INSERT, UPDATE, DELETE ON tiers.tier_views, tiers.tier_view_refreshes TO ct_cust_analyst;
SET ROLE ct_cust_analyst;
SELECT pg_temp.err($$SELECT tiers.create_tier_view('analyst_view', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"as_of": "1998-06-30", "history": false, "customers": {"table": "\"crm; drop\".\"Kunden \"\"Liste\"\"\"", "key": "Id", "columns": ["industry"]}}')$$);
RESET ROLE;
GRANT SELECT ("Id", industry) ON "crm; drop"."Kunden ""Liste""" TO ct_cust_analyst;
SET ROLE ct_cust_analyst;
-- column privileges are enough for the columns named; another column is refused
SELECT pg_temp.err($$SELECT tiers.create_tier_view('analyst_view', 'cdnow_master', 'customer_id', 'ordered_on', 'amount', '{"as_of": "1998-06-30", "history": false, "customers": {"table": "\"crm; drop\".\"Kunden \"\"Liste\"\"\"", "key": "Id", "columns": ["full name"]}}')$$);
SELECT tiers.create_tier_view('analyst_view', 'cdnow_master', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-06-30", "history": false, "customers": {"table": "\"crm; drop\".\"Kunden \"\"Liste\"\"\"", "key": "Id", "columns": ["industry"]}}') IS NOT NULL AS created;
SELECT count(industry) > 0 AS attributes FROM analyst_view;
RESET ROLE;
SELECT coalesce(relacl::text, 'default') AS acl_before FROM pg_class WHERE relname = 'analyst_view' \gset
SET ROLE ct_cust_analyst;
SELECT (tiers.refresh_tier_view('analyst_view')).customers > 0 AS refreshed;
RESET ROLE;
SELECT coalesce(relacl::text, 'default') = :'acl_before' AS acl_unchanged FROM pg_class WHERE relname = 'analyst_view';
SET ROLE ct_cust_reader;
SELECT pg_temp.err($$SELECT count(*) FROM analyst_view$$);
RESET ROLE;
-- the owner loses SELECT on the customer table: the refresh fails instead of answering stale data
REVOKE SELECT ("Id", industry) ON "crm; drop"."Kunden ""Liste""" FROM ct_cust_analyst;
SET ROLE ct_cust_analyst;
SELECT pg_temp.err($$SELECT tiers.refresh_tier_view('analyst_view')$$);
SELECT tiers.drop_tier_view('analyst_view');
RESET ROLE;
SELECT tiers.drop_tier_view('graded'), tiers.drop_tier_view('by_store');
REVOKE ALL ON cdnow_master FROM ct_cust_analyst;
REVOKE ALL ON SCHEMA "crm; drop" FROM ct_cust_analyst;
REVOKE ALL ON SCHEMA public FROM ct_cust_analyst;
REVOKE ALL ON tiers.tier_views, tiers.tier_view_refreshes FROM ct_cust_analyst;
DROP ROLE ct_cust_analyst;
DROP ROLE ct_cust_reader;
