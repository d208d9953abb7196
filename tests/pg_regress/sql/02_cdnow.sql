-- The published CDNOW calibration summary (Fader, Hardie & Lee 2005: 2,357 customers of the
-- 1/10 sample, weeks, calibration ends 1997-09-30), reproduced exactly.
-- Reference values computed from the published file cdnow_customers_summary_with_transactions.csv
-- (columns ID, x, t_x, T, zbar printed with 2 decimals, as redistributed with `lifetimes`):
-- 2357 rows, 1411 with x = 0, sum x = 2457, sum t_x = 16135.52, sum T = 77111.21,
-- sum zbar = 33184.31; md5 of its rows "ID,x,t_x,T,zbar" joined by newlines:
-- 04bcdc75d3f78d4c2ddd4039a2517756.
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all

CREATE TABLE calibration AS
SELECT customer_id, (tiers.customer_summary(ordered_on, amount, '1997-09-30', '7 days')).*
FROM cdnow_sample GROUP BY customer_id;

SELECT count(*) AS customers,
       count(*) FILTER (WHERE frequency = 0) AS one_time,
       sum(frequency) AS sum_x,
       sum(round(recency::numeric, 2)) AS sum_t_x,
       sum(round(tenure::numeric, 2)) AS sum_T,
       sum(round(monetary::numeric, 2)) AS sum_zbar
FROM calibration;

SELECT md5(string_agg(format('%s,%s,%s,%s,%s', customer_id, frequency,
                             to_char(round(recency::numeric, 2), 'FM990.00'),
                             to_char(round(tenure::numeric, 2), 'FM990.00'),
                             to_char(round(monetary::numeric, 2), 'FM99990.00')),
                      E'\n' ORDER BY customer_id))
       = '04bcdc75d3f78d4c2ddd4039a2517756' AS matches_published_summary
FROM calibration;

-- a few published rows, verbatim: 1,2,30.43,38.86,22.35  157,29,37.71,38.00,26.26  2357,0,0.00,27.00,0.00
SELECT customer_id, frequency, round(recency::numeric, 2) AS t_x, round(tenure::numeric, 2) AS "T",
       round(monetary::numeric, 2) AS zbar
FROM calibration WHERE customer_id IN (1, 157, 244, 2357) ORDER BY customer_id;

-- the full master file: 23,570 customers, 69,659 rows
SELECT count(*) AS customers, sum(orders) AS orders, sum(returns) AS returns
FROM (SELECT (tiers.customer_summary(ordered_on, amount, '1998-06-30')).*
      FROM cdnow_master GROUP BY customer_id) s;
