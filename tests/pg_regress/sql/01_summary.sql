-- tiers.customer_summary: definitions, NULLs, returns, units, input types, errors.
\set VERBOSITY terse
SET extra_float_digits = 0;
SET DateStyle = 'ISO, YMD';
\i tests/sql/helpers.sql

CREATE TABLE orders (customer int, ordered_at date, amount numeric);
INSERT INTO orders VALUES
  (1, '2024-01-01', 10), (1, '2024-01-01', 5),      -- two rows, one occasion (15)
  (1, '2024-01-11', 20), (1, '2024-01-21', 40),     -- repeat occasions 20 and 40
  (1, '2024-01-25', -8),                            -- a return: netted, not a purchase
  (1, '2024-03-01', 100),                           -- after as_of: ignored
  (2, '2024-01-15', 0),                             -- a free order is an order
  (3, '2024-01-20', NULL), (3, '2024-01-30', 7),    -- unknown amount counts as an order
  (4, NULL, 99),                                    -- no date: ignored -> no summary
  (5, '2024-02-15', 12),                            -- only after as_of -> no summary
  (6, '2024-01-05', -3);                            -- only a return -> no summary

SELECT customer, (s).*
FROM (SELECT customer, tiers.customer_summary(ordered_at, amount, '2024-01-31') AS s
      FROM orders GROUP BY customer) t
ORDER BY customer;

-- units: weeks and hours; months are 30 days, as PostgreSQL compares intervals
SELECT (s).recency, (s).tenure, (s).since_last
FROM (SELECT tiers.customer_summary(ordered_at, amount, '2024-01-31', '7 days') s
      FROM orders WHERE customer = 1) t;
SELECT (tiers.customer_summary(ordered_at, amount, '2024-01-31', '1 hour')).tenure FROM orders WHERE customer = 1;
SELECT (tiers.customer_summary(ordered_at, amount, '2024-01-31', '1 mon')).tenure FROM orders WHERE customer = 1;
SELECT (tiers.customer_summary(ordered_at, amount, '2024-01-31', '1 year')).tenure * 12 AS tenure_in_years_times_12 FROM orders WHERE customer = 1;

-- the same history as timestamp / timestamptz / double precision gives the same numbers
SELECT (tiers.customer_summary(ordered_at::timestamp, amount::float8, '2024-01-31'::timestamp)).*
FROM orders WHERE customer = 1;
SET TimeZone = 'Asia/Shanghai';
SELECT (tiers.customer_summary(ordered_at::timestamptz, amount, '2024-01-31'::timestamptz)).*
FROM orders WHERE customer = 1;
-- timestamptz occasions are calendar days of the session time zone:
-- 2024-01-01 23:30 UTC is 2024-01-02 07:30 in Shanghai (two days), one day in UTC
SELECT (tiers.customer_summary(t, 1.0, '2024-01-10 00:00+00')).occasions
FROM (VALUES ('2024-01-01 01:00+00'::timestamptz), ('2024-01-01 23:30+00')) v(t);
SET TimeZone = 'UTC';
SELECT (tiers.customer_summary(t, 1.0, '2024-01-10 00:00+00')).occasions
FROM (VALUES ('2024-01-01 01:00+00'::timestamptz), ('2024-01-01 23:30+00')) v(t);
-- timestamps: recency is exact time, occasions are calendar days
SELECT (s).occasions, (s).frequency, (s).recency, (s).first_purchase, (s).last_purchase
FROM (SELECT tiers.customer_summary(t, 1.0::float8, '2024-01-03 00:00'::timestamp) s
      FROM (VALUES ('2024-01-01 10:00'::timestamp), ('2024-01-01 22:00'), ('2024-01-02 09:00')) v(t)) x;

-- no rows at all, only NULL rows
SELECT tiers.customer_summary(ordered_at, amount, '2024-01-31') IS NULL FROM orders WHERE false;
SELECT tiers.customer_summary(NULL::date, amount, '2024-01-31') IS NULL FROM orders;

-- works as a window aggregate: running summary per customer
SELECT customer, ordered_at, (tiers.customer_summary(ordered_at, amount, '2024-01-31')
         OVER (PARTITION BY customer ORDER BY ordered_at)).frequency
FROM orders WHERE customer = 1 ORDER BY ordered_at, amount;

-- numeric amounts convert exactly as numeric::float8 does (fast decoder vs PostgreSQL);
-- a zero-amount order beside each value makes negative values (returns) visible too
SELECT setseed(0.42);
SELECT count(*) AS values, count(*) FILTER (WHERE got IS DISTINCT FROM x::float8) AS mismatches FROM (
  SELECT x, (tiers.customer_summary(date '2024-01-01', a, date '2024-01-01')).monetary_total AS got
  FROM (SELECT x, unnest(ARRAY[x, 0]) AS a FROM (SELECT DISTINCT round((random() * 10 ^ (g % 12) - 10 ^ (g % 7))::numeric, g % 9) AS x
        FROM generate_series(1, 20000) g
        UNION VALUES (0.0), (-0.5), (123456789012.34), (0.000000000001), (1e20), (-1e-20),
                         (99999999999999999999.99), (1.7976931348623157e308), (4.9e-324),
                         (-9007199254740993), (9007199254740992), (0.1), (-0.3)) v) w
  GROUP BY x) t;

-- bad input: each with its SQLSTATE
SELECT pg_temp.err($$SELECT tiers.customer_summary(ordered_at, amount, NULL::date) FROM orders$$);
SELECT pg_temp.err($$SELECT tiers.customer_summary(ordered_at, amount, '2024-01-31', NULL) FROM orders$$);
SELECT pg_temp.err($$SELECT tiers.customer_summary(ordered_at, amount, '2024-01-31', '0 days') FROM orders$$);
SELECT pg_temp.err($$SELECT tiers.customer_summary(ordered_at, amount, '2024-01-31', '-1 day') FROM orders$$);
SELECT pg_temp.err($$SELECT tiers.customer_summary(ordered_at, amount, ordered_at) FROM orders$$);
SELECT pg_temp.err($$SELECT tiers.customer_summary(d, 1.0, 'infinity'::date) FROM (VALUES (date '2024-01-01')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.customer_summary(d, 1.0, '2024-01-01'::date) FROM (VALUES (date '-infinity')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.customer_summary(d, 'NaN'::numeric, '2024-01-01'::date) FROM (VALUES (date '2024-01-01')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.customer_summary(d, 'Infinity'::float8, '2024-01-01'::date) FROM (VALUES (date '2024-01-01')) v(d)$$);

-- sums of amounts beyond double precision: 22003 (as sum(float8)), never NaN or a damaged state
SELECT pg_temp.err($$SELECT tiers.customer_summary(d, 1e308::float8, date '2020-03-01') FROM (VALUES (date '2020-01-01'), (date '2020-01-02')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.customer_summary(d, a, date '2020-03-01') FROM (VALUES (date '2020-01-01', 0::float8), (date '2020-01-01', -1e308::float8), (date '2020-01-02', 1e308::float8), (date '2020-01-03', 1e308::float8)) v(d, a)$$);
SELECT pg_temp.err($$SELECT tiers.holdout_summary(d, 1e308::float8, date '2020-01-15', date '2020-03-01') FROM (VALUES (date '2020-01-01'), (date '2020-01-02')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.holdout_summary(d, 1e308::float8, date '2020-01-15', date '2020-03-01') FROM (VALUES (date '2020-01-01'), (date '2020-02-01'), (date '2020-02-02')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.summary_state(d, 1e308::float8) FROM (VALUES (date '2020-01-01'), (date '2020-01-02')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.summary_state_merge(s, s) FROM (SELECT tiers.summary_state(date '2020-01-01', 1e308::float8) AS s) x$$);
SELECT pg_temp.err($$SELECT tiers.summary_state_merge(s) FROM (SELECT tiers.summary_state(d, 1e308::float8) AS s FROM (VALUES (date '2020-01-01'), (date '2020-01-02')) v(d) GROUP BY d) x$$);
SELECT pg_temp.err($$SELECT tiers.summary_from_state(tiers.summary_state(d, a), date '2020-03-01') FROM (VALUES (date '2020-01-01', 0::float8), (date '2020-01-01', -1e308::float8), (date '2020-01-02', 1e308::float8), (date '2020-01-03', 1e308::float8)) v(d, a)$$);
-- one such amount is fine
SELECT (tiers.customer_summary(d, 1e308::float8, date '2020-03-01')).monetary_total FROM (VALUES (date '2020-01-01')) v(d);
-- dates beyond the range of timestamp (after 294276-12-31): 22008 naming the argument
SELECT pg_temp.err($$SELECT (tiers.customer_summary(d, 1::float8, date '300000-01-10')).* FROM (VALUES (date '2020-01-01'), (date '300000-01-05')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.customer_summary(d, 1::float8, date '2020-03-01') FROM (VALUES (date '2020-01-01'), (date '300000-01-05')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.customer_summary(d, 1::float8, date '294277-01-01') FROM (VALUES (date '2020-01-01')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.holdout_summary(d, 1::float8, date '2020-01-15', date '300000-01-10') FROM (VALUES (date '2020-01-01')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.holdout_summary(d, 1::float8, date '300000-01-05', date '300000-01-10') FROM (VALUES (date '2020-01-01')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.summary_state(d, 1::float8) FROM (VALUES (date '2020-01-01'), (date '300000-01-05')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.summary_from_state(tiers.summary_state(d, 1::float8), date '300000-01-10') FROM (VALUES (date '2020-01-01')) v(d)$$);
-- the whole range works
SELECT (s).first_purchase, (s).last_purchase, (s).tenure FROM (SELECT tiers.customer_summary(d, 1::float8, date '294276-12-31') AS s FROM (VALUES (date '4714-11-24 BC'), (date '294276-12-31')) v(d)) x;
-- a stored state with a time beyond that range is malformed input (22P02); one day earlier it is accepted
SELECT pg_temp.err($$SELECT 'v1:4301000001000000000000000000000000000000000000000000f03f000000000000000000a0b2b35bffff7f00a0b2b35bffff7f00a0b2b35bffff7f000000000000f03f00000000000000000000000001000000efe75c06'::tiers.summary_state$$);
SELECT (tiers.summary_from_state('v1:4301000001000000000000000000000000000000000000000000f03f00000000000000000040db9547ffff7f0040db9547ffff7f0040db9547ffff7f000000000000f03f00000000000000000000000001000000eee75c06'::tiers.summary_state, date '294276-12-31')).last_purchase;
