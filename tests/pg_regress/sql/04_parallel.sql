-- Parallel aggregation on 1.2M rows: the plans use Partial Aggregate (combine, serialize,
-- deserialize) and the results equal the serial run.
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
CREATE TABLE big_orders AS
SELECT (g % 150000)::int AS customer,
       date '2020-01-01' + ((g * 7919) % 1000)::int AS ordered_at,
       ((g * 104729) % 50000) / 100.0 - 20 AS amount
FROM generate_series(1::bigint, 1200000) g;
ANALYZE big_orders;

CREATE FUNCTION pg_temp.fingerprint() RETURNS text LANGUAGE sql AS $$
  SELECT md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s|%s', customer, (s).first_purchase,
             (s).last_purchase, (s).orders, (s).returns, (s).occasions, (s).frequency,
             round((s).monetary_total::numeric, 6), round((s).monetary::numeric, 6)), ',' ORDER BY customer))
  FROM (SELECT customer, tiers.customer_summary(ordered_at, amount, '2022-06-30') s
        FROM big_orders GROUP BY customer) t $$;
CREATE FUNCTION pg_temp.model() RETURNS text LANGUAGE sql AS $$
  SELECT tiers.rfm_model(r, f, m)::text
  FROM (SELECT (ordered_at - date '2020-01-01')::float8 r, customer % 17 f, amount::float8 m FROM big_orders) t $$;

SET max_parallel_workers_per_gather = 0;
SELECT pg_temp.fingerprint() AS serial_summary \gset
SELECT pg_temp.model() AS serial_model \gset

SET max_parallel_workers_per_gather = 4;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET enable_hashagg = off;
EXPLAIN (COSTS OFF)
SELECT customer, tiers.customer_summary(ordered_at, amount, '2022-06-30') FROM big_orders GROUP BY customer;
EXPLAIN (COSTS OFF)
SELECT tiers.rfm_model(amount, amount, amount) FROM big_orders;
SELECT pg_temp.fingerprint() = :'serial_summary' AS parallel_summary_equals_serial;
SELECT pg_temp.model() = :'serial_model' AS parallel_model_equals_serial;
SET enable_hashagg = on;
SET enable_sort = off;
SELECT pg_temp.fingerprint() = :'serial_summary' AS parallel_hash_summary_equals_serial;
