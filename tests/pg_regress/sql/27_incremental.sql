-- Incremental refresh (issue 15): the storable summary state tiers.summary_state, and tier views
-- with the option incremental, checked against tiers.customer_summary and against a tier view
-- refreshed from all orders after every batch of random orders.
\set VERBOSITY terse
\i tests/sql/helpers.sql
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all

------------------------------------------------------------------------------------------
-- 1. the state equals customer_summary over the same rows, whatever the batches
------------------------------------------------------------------------------------------
-- every CDNOW customer: summary_from_state = customer_summary (money fields up to rounding)
CREATE TEMP TABLE whole AS
SELECT customer_id, tiers.summary_state(ordered_on, amount) AS st,
       tiers.customer_summary(ordered_on, amount, date '1998-07-01', '7 days') AS cs
FROM cdnow_master GROUP BY customer_id;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE (f).first_purchase = (cs).first_purchase AND (f).last_purchase = (cs).last_purchase
                          AND (f).orders = (cs).orders AND (f).returns = (cs).returns
                          AND (f).occasions = (cs).occasions AND (f).frequency = (cs).frequency
                          AND (f).recency = (cs).recency AND (f).tenure = (cs).tenure
                          AND (f).since_last = (cs).since_last
                          AND pg_temp.near((f).monetary_total, (cs).monetary_total, 1e-12)
                          AND pg_temp.near((f).monetary, (cs).monetary, 1e-12)) AS equal
FROM (SELECT *, tiers.summary_from_state(st, date '1998-07-01', '7 days') AS f FROM whole) x;

-- the rows split into three batches by a hash, each batch's states merged by the aggregate and,
-- pairwise, by the function: the same summaries
CREATE TEMP TABLE parts AS
SELECT customer_id, (hashtext(ordered_on::text || amount::text || cds::text)::bigint % 3 + 3) % 3 AS part,
       tiers.summary_state(ordered_on, amount) AS st
FROM cdnow_master GROUP BY 1, 2;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE tiers.summary_from_state(m.st, date '1998-07-01', '7 days')::text
                              = tiers.summary_from_state(w.st, date '1998-07-01', '7 days')::text) AS equal_text,
       count(*) FILTER (WHERE tiers.summary_from_state(m.st, date '1998-07-01', '7 days')::text
                              = tiers.summary_from_state(p.st, date '1998-07-01', '7 days')::text) AS equal_pairwise
FROM (SELECT customer_id, tiers.summary_state_merge(st) AS st FROM parts GROUP BY 1) m
JOIN whole w USING (customer_id)
JOIN (SELECT customer_id,
             tiers.summary_state_merge(tiers.summary_state_merge(min(st::text) FILTER (WHERE part = 0)::tiers.summary_state,
                                                                 min(st::text) FILTER (WHERE part = 1)::tiers.summary_state),
                                       min(st::text) FILTER (WHERE part = 2)::tiers.summary_state) AS st
      FROM parts GROUP BY 1) p USING (customer_id);

-- timestamps, returns, unknown amounts, returns before the first order that later get orders
CREATE TEMP TABLE rows_t (customer int, at timestamptz, amount numeric, batch int);
INSERT INTO rows_t VALUES
    (1, '2024-01-05 10:00+00', -5, 1),   -- a return-only day before any order
    (1, '2024-01-06 09:00+00', 20, 1),
    (1, '2024-01-05 18:00+00', 30, 2),   -- an order on the return day: now the first purchase day
    (1, '2024-02-01 12:00+00', NULL, 2), -- an order of unknown value
    (1, '2024-02-01 13:00+00', 7, 3),    -- same day: one occasion
    (1, '2024-03-01 08:00+00', -2, 3),   -- a return after the first purchase
    (2, '2024-01-10 00:00+00', -1, 1);   -- returns only: no summary
SET TIME ZONE 'UTC';
-- the batches' states merged equal the summary of all rows (text of the whole composite)
SELECT customer, tiers.summary_from_state(tiers.summary_state_merge(st), timestamptz '2024-06-01')::text
       = (SELECT tiers.customer_summary(r.at, r.amount, timestamptz '2024-06-01')::text FROM rows_t r
          WHERE r.customer = b.customer) AS equal
FROM (SELECT customer, batch, tiers.summary_state(at, amount) AS st FROM rows_t GROUP BY 1, 2) b
GROUP BY customer ORDER BY 1;
SELECT tiers.summary_from_state(tiers.summary_state_merge(st), timestamptz '2024-06-01') AS customer_1
FROM (SELECT batch, tiers.summary_state(at, amount) AS st FROM rows_t WHERE customer = 1 GROUP BY 1) b;

-- the text form and the binary form (COPY) give the same state back
SELECT count(*) FILTER (WHERE st::text::tiers.summary_state::text = st::text) AS text_round_trips
FROM whole;
CREATE TEMP TABLE copied (customer_id int, st tiers.summary_state);
COPY (SELECT customer_id, st FROM whole) TO '/tmp/customer_tiers_27_states.bin' WITH (FORMAT binary);
COPY copied FROM '/tmp/customer_tiers_27_states.bin' WITH (FORMAT binary);
SELECT count(*) AS binary_round_trips FROM copied c JOIN whole w USING (customer_id) WHERE c.st::text = w.st::text;

-- bounded size: ten years of daily purchases, and of monthly purchases
SELECT pg_column_size(tiers.summary_state(d, 1.0)) AS daily_ten_years
FROM generate_series(date '2010-01-01', date '2019-12-31', '1 day') d;
SELECT pg_column_size(tiers.summary_state(d::date, 1.0)) AS monthly_ten_years
FROM generate_series(date '2010-01-01', date '2019-12-31', '1 month') d;
SELECT max(pg_column_size(st)) AS cdnow_max_bytes FROM whole;

-- errors
SELECT pg_temp.err($$SELECT tiers.summary_from_state(st, date '1996-12-31') FROM whole WHERE customer_id = 1$$);
SELECT pg_temp.err($$SELECT tiers.summary_from_state(st, timestamptz '1999-01-01') FROM whole WHERE customer_id = 1$$);
SELECT pg_temp.err($$SELECT tiers.summary_from_state(st, NULL::date) FROM whole WHERE customer_id = 1$$);
SELECT pg_temp.err($$SELECT tiers.summary_from_state(st, date '1999-01-01', '-1 day') FROM whole WHERE customer_id = 1$$);
SELECT pg_temp.err($$SELECT tiers.summary_state_merge(a.st, (SELECT tiers.summary_state(at, amount) FROM rows_t)) FROM whole a WHERE customer_id = 1$$);
SELECT pg_temp.err($$SELECT 'v1:00'::tiers.summary_state$$);
SELECT pg_temp.err($$SELECT 'hello'::tiers.summary_state$$);
SELECT tiers.summary_from_state(NULL, date '1999-01-01') IS NULL AS null_state,
       tiers.summary_state_merge(NULL, NULL) IS NULL AS null_merge,
       (SELECT tiers.summary_state(d, 1.0) FROM (SELECT NULL::date AS d) x) IS NULL AS no_dated_row;

------------------------------------------------------------------------------------------
-- 2. incremental tier views equal full refreshes after every batch (property test)
------------------------------------------------------------------------------------------
CREATE TABLE inc_orders (id bigserial PRIMARY KEY, customer int, ordered_at timestamptz NOT NULL,
                         amount numeric(10, 2), channel text);
CREATE FUNCTION pg_temp.add_batch(n int, as_of timestamptz, customers int) RETURNS void LANGUAGE sql AS $$
    INSERT INTO inc_orders (customer, ordered_at, amount, channel)
    SELECT CASE WHEN random() < 0.01 THEN NULL ELSE 1 + floor(random() * customers)::int END,
           -- mostly the past 400 days (earlier than existing orders too), some on the same day
           -- as others, some after as_of (kept until as_of reaches them)
           CASE WHEN random() < 0.08 THEN as_of + random() * interval '20 days'
                WHEN random() < 0.2 THEN date_trunc('day', as_of) - interval '3 days' + interval '14 hours'
                ELSE as_of - random() * interval '400 days' END,
           CASE WHEN random() < 0.05 THEN NULL
                WHEN random() < 0.1 THEN -round((random() * 2)::numeric, 2)  -- small: spend stays positive
                ELSE round((20 + random() * 180)::numeric, 2) END,
           CASE WHEN random() < 0.5 THEN 'web' ELSE 'store' END
    FROM generate_series(1, n)
$$;
-- every column of two tier views: floats to 1e-9 (relative above 1), everything else exactly;
-- the number of customers that differ (or are in one view only)
CREATE FUNCTION pg_temp.view_diff(a regclass, b regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE cond text; n bigint;
BEGIN
    SELECT string_agg(CASE WHEN t.atttypid = 'float8'::regtype
                           THEN format('(x.%1$I IS NULL AND y.%1$I IS NULL OR pg_temp.near(x.%1$I, y.%1$I))', t.attname)
                           ELSE format('x.%1$I IS NOT DISTINCT FROM y.%1$I', t.attname) END, ' AND ')
    INTO cond FROM pg_attribute t WHERE t.attrelid = a AND t.attnum > 0 AND NOT t.attisdropped;
    EXECUTE format('SELECT count(*) FROM %s x FULL JOIN %s y ON x.customer = y.customer WHERE NOT (%s) OR x.customer IS NULL OR y.customer IS NULL',
                   a, b, cond) INTO n;
    RETURN n;
END $$;
SELECT setseed(0.27);
SELECT pg_temp.add_batch(3000, '2025-01-01', 400);
SELECT tiers.create_tier_view('inc_view', 'inc_orders', 'customer', 'ordered_at', 'amount',
    '{"incremental": {"column": "id"}, "as_of": "2025-01-01", "recent_window": "30 days",
      "filter": {"channel": ["web", "store"]}}');
SELECT tiers.create_tier_view('full_view', 'inc_orders', 'customer', 'ordered_at', 'amount',
    '{"as_of": "2025-01-01", "recent_window": "30 days", "filter": {"channel": ["web", "store"]}, "history": false}');
SELECT pg_temp.view_diff('inc_view', 'full_view') AS differing_customers, (SELECT count(*) FROM inc_view) AS customers;

-- eight batches; as_of moves a week forward before each (the views read it from their options)
CREATE TEMP TABLE batch_results (batch int, incremental boolean, new_orders bigint, differing bigint, customers bigint);
DO $$
DECLARE as_of timestamptz := '2025-01-01'; r tiers.tier_view_refreshes;
BEGIN
    FOR b IN 1..8 LOOP
        as_of := as_of + interval '7 days';
        UPDATE tiers.tier_views SET options = options || jsonb_build_object('as_of', as_of)
        WHERE view_name IN ('inc_view', 'full_view');
        PERFORM pg_temp.add_batch(150 + 40 * b, as_of, 400 + 25 * b);  -- new customers in every batch
        r := tiers.refresh_tier_view('inc_view');
        PERFORM tiers.refresh_tier_view('full_view');
        INSERT INTO batch_results
        SELECT b, r.incremental, r.new_orders, pg_temp.view_diff('inc_view', 'full_view'), count(*) FROM inc_view;
    END LOOP;
END $$;
SELECT batch, incremental, new_orders > 0 AS folded_orders, differing, customers > 400 AS grew FROM batch_results ORDER BY batch;
-- the per-customer tables hold one row per customer and only the recent rows
SELECT (SELECT count(*) FROM inc_view_states) = (SELECT count(*) FROM inc_view) AS one_state_per_customer,
       (SELECT count(*) FROM inc_view_recent) < (SELECT count(*) FROM inc_orders) AS recent_rows_only,
       (SELECT bool_and(ordered_at > timestamptz '2025-02-26' - 2 * interval '30 days') FROM inc_view_recent) AS within_windows;

-- (the random orders above make no sense to the CLV models: their fits are compared on CDNOW, below)

-- changes below the watermark: an older order deleted, or inserted late with a smaller id
DELETE FROM inc_orders WHERE id = 17;
SELECT incremental, new_orders FROM tiers.refresh_tier_view('inc_view');
SELECT (tiers.refresh_tier_view('full_view')).customers > 0 AS refreshed;
SELECT pg_temp.view_diff('inc_view', 'full_view') AS differing_after_delete;
INSERT INTO inc_orders (id, customer, ordered_at, amount, channel) VALUES (17, 5, '2024-12-01', 99, 'web');
SELECT incremental, new_orders FROM tiers.refresh_tier_view('inc_view');
SELECT (tiers.refresh_tier_view('full_view')).customers > 0 AS refreshed;
SELECT pg_temp.view_diff('inc_view', 'full_view') AS differing_after_late_insert;
-- nothing new: an incremental refresh of zero orders; full => true rebuilds
SELECT incremental, new_orders FROM tiers.refresh_tier_view('inc_view');
SELECT incremental, new_orders > 0 AS all_orders FROM tiers.refresh_tier_view('inc_view', "full" => true);
SELECT pg_temp.view_diff('inc_view', 'full_view') AS differing_after_full;
-- as_of moved back: rebuilt with a NOTICE
UPDATE tiers.tier_views SET options = options || '{"as_of": "2025-02-20"}' WHERE view_name IN ('inc_view', 'full_view');
SELECT incremental FROM tiers.refresh_tier_view('inc_view');
SELECT (tiers.refresh_tier_view('full_view')).customers > 0 AS refreshed;
SELECT pg_temp.view_diff('inc_view', 'full_view') AS differing_after_as_of_back;

-- CLV columns: CDNOW's orders in two halves (ids in date order), the models fitted on the states
CREATE TABLE cd_orders (id int PRIMARY KEY, customer int, ordered_on date, amount numeric(10, 2));
INSERT INTO cd_orders
SELECT row_number() OVER (ORDER BY ordered_on, customer_id, amount, cds), customer_id, ordered_on, amount
FROM cdnow_master WHERE ordered_on < '1997-06-01';
SELECT tiers.create_tier_view('cd_inc', 'cd_orders', 'customer', 'ordered_on', 'amount',
    '{"incremental": {"column": "id"}, "as_of": "1998-07-01", "clv": true, "clv_interval": 0.9, "unit": "7 days"}') IS NOT NULL AS created;
INSERT INTO cd_orders
SELECT (SELECT max(id) FROM cd_orders) + row_number() OVER (ORDER BY ordered_on, customer_id, amount, cds), customer_id, ordered_on, amount
FROM cdnow_master WHERE ordered_on >= '1997-06-01';
SELECT incremental, new_orders FROM tiers.refresh_tier_view('cd_inc');
SELECT tiers.create_tier_view('cd_full', 'cd_orders', 'customer', 'ordered_on', 'amount',
    '{"as_of": "1998-07-01", "clv": true, "clv_interval": 0.9, "unit": "7 days", "history": false}') IS NOT NULL AS created;
SELECT pg_temp.view_diff('cd_inc', 'cd_full') AS differing, (SELECT count(*) FROM cd_inc) AS customers;
-- the fits of both from the same summaries: equal parameters
SELECT pg_temp.near((a.bgnbd).r, (b.bgnbd).r) AND pg_temp.near((a.bgnbd).alpha, (b.bgnbd).alpha)
       AND pg_temp.near((a.gamma_gamma).p, (b.gamma_gamma).p) AS same_models
FROM (SELECT * FROM tiers.tier_view_refreshes WHERE view_name = 'cd_inc' ORDER BY refreshed_at DESC LIMIT 1) a,
     (SELECT * FROM tiers.tier_view_refreshes WHERE view_name = 'cd_full' ORDER BY refreshed_at DESC LIMIT 1) b;
SELECT tiers.drop_tier_view('cd_inc'), tiers.drop_tier_view('cd_full');
DROP TABLE cd_orders;

-- a refresh from a session in another time zone: a date column is cut at as_of's day there, which
-- moved back (the states hold rows up to the later day): rebuilt with a NOTICE, not an error
CREATE TABLE tz_orders (id int PRIMARY KEY, customer int, ordered_on date, amount numeric);
INSERT INTO tz_orders VALUES (1, 1, '2025-06-01', 10), (2, 1, '2025-06-05', 20), (3, 2, '2025-06-11', 30);
SELECT current_setting('TimeZone') AS saved_tz, current_setting('DateStyle') AS saved_ds \gset
SET TimeZone = 'Asia/Tokyo';
SET DateStyle = 'SQL, DMY';  -- the recorded cut is ISO 8601 whatever the DateStyle
SELECT tiers.create_tier_view('tz_inc', 'tz_orders', 'customer', 'ordered_on', 'amount',
    '{"incremental": {"column": "id"}, "as_of": "2025-06-10 20:00+00", "history": false}') IS NOT NULL AS created;
SELECT customer, orders, last_purchase FROM tz_inc ORDER BY 1;
INSERT INTO tz_orders VALUES (4, 1, '2025-06-07', 5);
SET TimeZone = 'UTC';
SET DateStyle = :'saved_ds';
SELECT incremental, new_orders FROM tiers.refresh_tier_view('tz_inc');
SELECT customer, orders, last_purchase FROM tz_inc ORDER BY 1;
-- and back in Tokyo: the cut moves forward again, an incremental refresh
SET TimeZone = 'Asia/Tokyo';
SELECT incremental, new_orders FROM tiers.refresh_tier_view('tz_inc');
SELECT customer, orders, last_purchase FROM tz_inc ORDER BY 1;
SET TimeZone = :'saved_tz';
SELECT incremental, fold_cut FROM tiers.tier_view_refreshes WHERE view_name = 'tz_inc' ORDER BY refreshed_at;
SELECT tiers.drop_tier_view('tz_inc');
DROP TABLE tz_orders;

-- the per-customer tables are the owner's: nobody else may read them
CREATE ROLE ct27_reader;
GRANT SELECT ON inc_view TO ct27_reader;
SELECT has_table_privilege('ct27_reader', 'inc_view_states', 'SELECT') AS reader_sees_states,
       has_table_privilege('ct27_reader', 'inc_view_recent', 'SELECT') AS reader_sees_recent,
       has_table_privilege('ct27_reader', 'inc_view', 'SELECT') AS reader_sees_view;

-- option errors
SELECT pg_temp.err($$SELECT tiers.create_tier_view('bad1', 'inc_orders', 'customer', 'ordered_at', 'amount', '{"incremental": {"column": "nope"}}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('bad2', 'inc_orders', 'customer', 'ordered_at', 'amount', '{"incremental": {"column": "channel"}}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('bad3', 'inc_orders', 'customer', 'ordered_at', 'amount', '{"incremental": {"column": "amount"}}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('bad4', 'inc_orders', 'customer', 'ordered_at', 'amount', '{"incremental": "id"}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('bad5', 'inc_orders', 'customer', 'ordered_at', 'amount', '{"incremental": {"column": "id", "lag": 1}}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('bad6', 'inc_orders', 'customer', 'ordered_at', 'amount', '{"incremental": {"column": "id"}, "grade_within": ["channel"]}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view(repeat('x', 60), 'inc_orders', 'customer', 'ordered_at', 'amount', '{"incremental": {"column": "id"}}')$$);
SELECT pg_temp.err($$SELECT tiers.refresh_tier_view('inc_view', "full" => NULL)$$);
SELECT to_regclass('bad6_states') IS NULL AS nothing_left_behind;

-- alter_tier_view without the option drops the tables; drop_tier_view drops them too
SELECT tiers.alter_tier_view('inc_view', '{"incremental": null}') IS NOT NULL AS altered;
SELECT to_regclass('inc_view_states') IS NULL AS states_dropped, pg_temp.view_diff('inc_view', 'full_view') AS differing;
SELECT tiers.alter_tier_view('inc_view', '{"incremental": {"column": "ordered_at"}}') IS NOT NULL AS altered;
SELECT (SELECT incremental FROM tiers.tier_view_refreshes WHERE view_name = 'inc_view' ORDER BY refreshed_at DESC LIMIT 1) AS last_incremental,
       pg_temp.view_diff('inc_view', 'full_view') AS differing_by_time_column;
SELECT tiers.drop_tier_view('inc_view');
SELECT to_regclass('inc_view_states') IS NULL AND to_regclass('inc_view_recent') IS NULL AS tables_dropped;
SELECT tiers.drop_tier_view('full_view');
DROP ROLE ct27_reader;
DROP TABLE inc_orders;
