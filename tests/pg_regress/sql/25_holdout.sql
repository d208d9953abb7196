-- tiers.holdout_summary (issue 13): the calibration and holdout summary of every customer in one
-- pass, reproducing the Python package lifetimes 0.11.3 on CDNOW:
--   calibration_and_holdout_data(cdnow_master, 'id', 'date', calibration_period_end='1997-09-30',
--       observation_period_end='1998-06-30', freq='D', freq_multiplier=7, monetary_value_col='amount')
-- (the figures below are lifetimes' output, stored), then the BG/NBD fit of the calibration and
-- lifetimes' calibration/holdout plot (mean holdout purchases and predictions per frequency).
\set VERBOSITY terse
\i tests/sql/helpers.sql
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all

CREATE TEMP TABLE h AS
SELECT customer_id, (s).*
FROM (SELECT customer_id, tiers.holdout_summary(ordered_on, amount, date '1997-09-30', date '1998-06-30', '7 days') AS s
      FROM cdnow_master GROUP BY customer_id) x
WHERE s IS NOT NULL;

-- lifetimes: 23570 customers; sums of frequency_cal, recency_cal, T_cal, monetary_value_cal,
-- frequency_holdout, monetary_value_holdout, duration_holdout
SELECT count(*) AS customers,
       sum(frequency) = 24337 AS frequency_cal,
       pg_temp.near(sum(recency), 161377.7142857143) AS recency_cal,
       pg_temp.near(sum(tenure), 771390.8571428572) AS t_cal,
       pg_temp.near(sum(monetary), 336714.2874382242) AS monetary_value_cal,
       sum(holdout_occasions) = 19684 AS frequency_holdout,
       -- lifetimes averages the holdout rows, not the holdout purchase days (see the reference)
       pg_temp.near(sum(CASE WHEN holdout_orders > 0 THEN holdout_monetary_total / holdout_orders ELSE 0 END),
                    259817.1411466584) AS monetary_value_holdout_per_row,
       pg_temp.near(sum(holdout_length), 919230) AS duration_holdout
FROM h;
-- lifetimes' rows for customers 1, 2, 3, 1000 and 23570
SELECT customer_id, frequency, round(recency::numeric, 6) AS recency, round(tenure::numeric, 6) AS tenure,
       round(monetary::numeric, 2) AS monetary, holdout_occasions, round(holdout_monetary::numeric, 2) AS holdout_monetary,
       holdout_length
FROM h WHERE customer_id IN (1, 2, 3, 1000, 23570) ORDER BY 1;
-- lifetimes: 1 0 0 38.857143 0 0 0 39 | 2 0 0 37.285714 0 0 0 39 | 3 2 12.857143 38.714286 20.15 3 31.8 39
--            1000 0 0 36.142857 0 0 0 39 | 23570 1 0.142857 27 42.96 0 0 39

-- the calibration fields equal tiers.customer_summary as of calibration_end, and the holdout
-- fields the same figures in plain SQL, for every customer
SELECT count(*) AS customers,
       count(*) FILTER (WHERE (h.first_purchase, h.last_purchase, h.orders, h.returns, h.occasions, h.frequency,
                               h.recency, h.tenure, h.since_last, h.monetary_total, h.monetary)
                              IS NOT DISTINCT FROM ((c.s).first_purchase, (c.s).last_purchase, (c.s).orders, (c.s).returns,
                               (c.s).occasions, (c.s).frequency, (c.s).recency, (c.s).tenure, (c.s).since_last,
                               (c.s).monetary_total, (c.s).monetary)) AS same_calibration,
       count(*) FILTER (WHERE h.holdout_orders = coalesce(p.orders, 0) AND h.holdout_occasions = coalesce(p.days, 0)
                              AND pg_temp.near(h.holdout_monetary_total, coalesce(p.total, 0))
                              AND pg_temp.near(h.holdout_monetary, coalesce(p.total / p.days, 0))) AS same_holdout
FROM h
JOIN (SELECT customer_id, tiers.customer_summary(ordered_on, amount, '1997-09-30', '7 days') AS s
      FROM cdnow_master GROUP BY customer_id) c USING (customer_id)
LEFT JOIN (SELECT customer_id, count(*) AS orders, count(DISTINCT ordered_on) AS days, sum(amount)::float8 AS total
           FROM cdnow_master WHERE ordered_on > '1997-09-30' AND ordered_on <= '1998-06-30'
           GROUP BY customer_id) p USING (customer_id);

-- the BG/NBD fit of the calibration: lifetimes' parameters r 0.251624011424104,
-- alpha 4.788945170327028, a 0.7234330357288162, b 2.161086981372379
CREATE TEMP TABLE m AS SELECT tiers.bgnbd_fit(frequency, recency, tenure) AS bg FROM h;
SELECT pg_temp.near((bg).r, 0.251624011424104, 1e-5) AND pg_temp.near((bg).alpha, 4.788945170327028, 1e-5)
       AND pg_temp.near((bg).a, 0.7234330357288162, 1e-5) AND pg_temp.near((bg).b, 2.161086981372379, 1e-5) AS lifetimes_parameters
FROM m;
-- lifetimes' plot_calibration_purchases_vs_holdout_purchases: mean frequency_holdout and mean
-- model_predictions per frequency_cal 0..6
SELECT b.frequency, b.customers,
       pg_temp.near(b.mean_actual, l.actual, 1e-12) AS actual, pg_temp.near(b.mean_expected, l.predicted, 1e-5) AS predicted
FROM (SELECT tiers.clv_validation(bg, frequency, recency, tenure, holdout_occasions, holdout_length) AS v FROM h, m) v,
     unnest((v.v).buckets) b
JOIN (VALUES (0, 0.25072597209434094, 0.23085730703559523), (1, 0.7841062584421432, 0.5198027232627296),
             (2, 1.4026162790697674, 1.037246437533391), (3, 1.8367158671586716, 1.5791164674621927),
             (4, 2.4512396694214877, 2.2669424673269423), (5, 3.0632183908045976, 2.8915905924650542),
             (6, 3.801470588235294, 3.532733557992059)) AS l(frequency, actual, predicted) USING (frequency)
ORDER BY 1;

-- other time types and units: timestamps, timestamptz (days in the session's time zone), numeric
-- and float amounts, returns and NULL amounts
SET TimeZone = 'UTC';
SELECT tiers.holdout_summary(t, a, timestamp '2024-01-31 12:00', timestamp '2024-03-01 00:00')
FROM (VALUES (timestamp '2024-01-01 10:00', 10.0), ('2024-01-31 11:00', 5), ('2024-01-31 13:00', 7),
             ('2024-02-10 09:00', -3), ('2024-02-10 18:00', NULL), ('2024-02-11 09:00', 4),
             ('2024-03-01 00:00', 1), ('2024-03-01 00:01', 100)) v(t, a);
SELECT tiers.holdout_summary(t, a::float8, timestamptz '2024-01-31 00:00+00', timestamptz '2024-03-01 00:00+00', '1 week')
FROM (VALUES (timestamptz '2024-01-01 10:00+00', 10.0), ('2024-02-10 23:30+00', 2), ('2024-02-11 00:30+00', 3)) v(t, a);
SET TimeZone = 'America/New_York';  -- both holdout orders fall on 2024-02-10 there
SELECT (s).holdout_orders, (s).holdout_occasions
FROM (SELECT tiers.holdout_summary(t, a::float8, timestamptz '2024-01-31 00:00+00', timestamptz '2024-03-01 00:00+00') AS s
      FROM (VALUES (timestamptz '2024-01-01 10:00+00', 10.0), ('2024-02-10 23:30+00', 2), ('2024-02-11 00:30+00', 3)) v(t, a)) x;
RESET TimeZone;
-- a customer who only bought in the holdout has no row (NULL), as in lifetimes
SELECT tiers.holdout_summary(d, 1.0, date '2024-01-31', date '2024-03-01') IS NULL AS holdout_only
FROM (VALUES (date '2024-02-02')) v(d);
SELECT tiers.holdout_summary(d, 1.0, date '2024-01-31', date '2024-03-01') IS NULL AS no_rows FROM (SELECT date '2024-01-01' WHERE false) v(d);

-- errors name the argument
SELECT pg_temp.err($$SELECT tiers.holdout_summary(d, 1.0, NULL::date, date '2024-03-01') FROM (VALUES (date '2024-01-01')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.holdout_summary(d, 1.0, date '2024-01-31', NULL::date) FROM (VALUES (date '2024-01-01')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.holdout_summary(d, 1.0, date '2024-01-31', date '2024-01-31') FROM (VALUES (date '2024-01-01')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.holdout_summary(d, 1.0, date '2024-01-31', date '2024-01-01') FROM (VALUES (date '2024-01-01')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.holdout_summary(d, 1.0, date '2024-01-31', date 'infinity') FROM (VALUES (date '2024-01-01')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.holdout_summary(d, 1.0, date '2024-01-31', date '2024-03-01', '-1 day') FROM (VALUES (date '2024-01-01')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.holdout_summary(d, 1.0, date '2024-01-31', date '2024-03-01' + (d - date '2024-01-01')) FROM (VALUES (date '2024-01-01'), ('2024-01-02')) v(d)$$);
SELECT pg_temp.err($$SELECT tiers.holdout_summary(d, 'NaN'::float8, date '2024-01-31', date '2024-03-01') FROM (VALUES (date '2024-01-01')) v(d)$$);
