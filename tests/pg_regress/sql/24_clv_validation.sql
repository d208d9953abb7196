-- tiers.clv_validation (issue 13): a calibration/holdout readout of the purchase models on
-- CDNOW (calibration to 1997-09-30, holdout to 1998-06-30, weeks: the published setting), checked
-- against the same figures written in plain SQL (buckets, MAE, RMSE, bias, correlation, Brier
-- score, and the ROC AUC as a Mann-Whitney statistic with midranks).
\set VERBOSITY terse
\i tests/sql/helpers.sql
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all

CREATE TEMP TABLE ch AS
SELECT customer_id, (tiers.customer_summary(ordered_on, amount, '1997-09-30', '7 days')
                     FILTER (WHERE ordered_on <= '1997-09-30')).*,
       count(DISTINCT ordered_on) FILTER (WHERE ordered_on > '1997-09-30' AND ordered_on <= '1998-06-30')::float8 AS holdout_occasions,
       39::float8 AS holdout_length
FROM cdnow_master GROUP BY customer_id;
CREATE TEMP TABLE models AS
SELECT tiers.bgnbd_fit(frequency, recency, tenure) AS bg, tiers.mbgnbd_fit(frequency, recency, tenure) AS mbg,
       tiers.paretonbd_fit(frequency, recency, tenure) AS pnbd
FROM ch;
CREATE TEMP TABLE v AS
SELECT tiers.clv_validation(bg, frequency, recency, tenure, holdout_occasions, holdout_length) AS bg,
       tiers.clv_validation(mbg, frequency, recency, tenure, holdout_occasions, holdout_length) AS mbg,
       tiers.clv_validation(pnbd, frequency, recency, tenure, holdout_occasions, holdout_length) AS pnbd
FROM ch, models;

-- the plain-SQL readout of the BG/NBD model
CREATE TEMP TABLE p AS
SELECT least(frequency, 7)::int AS bucket, holdout_occasions AS actual,
       tiers.expected_purchases(bg, 39, frequency, recency, tenure) AS expected,
       tiers.p_alive(bg, frequency, recency, tenure) AS alive, (holdout_occasions > 0)::int AS bought
FROM ch, models;
SELECT (v.bg).customers, pg_temp.near((v.bg).mae, avg(abs(expected - actual))) AS mae,
       pg_temp.near((v.bg).rmse, sqrt(avg((expected - actual) ^ 2))) AS rmse,
       pg_temp.near((v.bg).bias, sum(expected) - sum(actual)) AS bias,
       pg_temp.near((v.bg).relative_bias, (sum(expected) - sum(actual)) / sum(actual)) AS relative_bias,
       pg_temp.near((v.bg).correlation, corr(expected, actual)) AS correlation,
       (v.bg).buyers = sum(bought) AS buyers,
       pg_temp.near((v.bg).brier, avg((alive - bought) ^ 2)) AS brier
FROM p, v GROUP BY v.bg;
SELECT pg_temp.near((v.bg).auc, (sum(r) FILTER (WHERE bought = 1) - n1 * (n1 + 1) / 2.0) / (n1 * n0)) AS auc_is_mann_whitney
FROM (SELECT bought, rank() OVER (ORDER BY alive) + (count(*) OVER (PARTITION BY alive) - 1) / 2.0 AS r,
             sum(bought) OVER () AS n1, count(*) OVER () - sum(bought) OVER () AS n0 FROM p) x, v
GROUP BY v.bg, n1, n0;
SELECT b.bucket, b.customers, round(b.mean_actual::numeric, 3) AS mean_actual, round(b.mean_expected::numeric, 3) AS mean_expected,
       b.customers = s.n AND pg_temp.near(b.mean_actual, s.a) AND pg_temp.near(b.mean_expected, s.e) AS plain_sql
FROM v, unnest((v.bg).buckets) b
JOIN (SELECT bucket, count(*) AS n, avg(actual) AS a, avg(expected) AS e FROM p GROUP BY 1) s ON s.bucket = b.frequency
ORDER BY b.frequency;
-- the three models side by side
SELECT m, (x).customers, round((x).mae::numeric, 4) AS mae, round((x).rmse::numeric, 4) AS rmse,
       round((x).relative_bias::numeric, 4) AS relative_bias, round((x).auc::numeric, 4) AS auc,
       round((x).brier::numeric, 4) AS brier
FROM v, LATERAL (VALUES ('BG/NBD', v.bg), ('MBG/NBD', v.mbg), ('Pareto/NBD', v.pnbd)) AS t(m, x) ORDER BY 1;
-- any row order gives the same readout (parallel plans: 16_parallel_all)
CREATE TEMP TABLE chp AS SELECT * FROM ch ORDER BY md5(customer_id::text);
SELECT (x).customers = (v.bg).customers AND pg_temp.near((x).mae, (v.bg).mae, 1e-12) AND pg_temp.near((x).rmse, (v.bg).rmse, 1e-12)
       AND pg_temp.near((x).bias, (v.bg).bias, 1e-9) AND pg_temp.near((x).brier, (v.bg).brier, 1e-12)
       AND (x).auc = (v.bg).auc AND (x).buckets[8].customers = (v.bg).buckets[8].customers AS same_readout
FROM (SELECT tiers.clv_validation(bg, frequency, recency, tenure, holdout_occasions, holdout_length) AS x
      FROM chp, models) s, v;

-- Gamma-Gamma: the expected mean spend of the calibration against the mean value of the
-- holdout purchase occasions, for the customers who bought in the holdout
CREATE TEMP TABLE spend AS
SELECT ch.customer_id, ch.frequency, ch.monetary, h.holdout_monetary
FROM ch LEFT JOIN (SELECT d.customer_id, avg(d.v) AS holdout_monetary
                   FROM (SELECT customer_id, sum(amount)::float8 AS v FROM cdnow_master
                         WHERE ordered_on > '1997-09-30' AND ordered_on <= '1998-06-30'
                         GROUP BY customer_id, ordered_on) d GROUP BY d.customer_id) h USING (customer_id);
CREATE TEMP TABLE gg AS SELECT tiers.gamma_gamma_fit(frequency, monetary) AS gg FROM ch;
SELECT (v).customers = count(*) AS customers, pg_temp.near((v).mae, avg(abs(e - a))) AS mae,
       pg_temp.near((v).rmse, sqrt(avg((e - a) ^ 2))) AS rmse, pg_temp.near((v).bias, avg(e - a)) AS bias,
       pg_temp.near((v).mean_expected, avg(e)) AS mean_expected, pg_temp.near((v).correlation, corr(e, a)) AS correlation
FROM (SELECT tiers.expected_spend(gg, frequency, monetary) AS e, holdout_monetary AS a
      FROM spend, gg WHERE holdout_monetary IS NOT NULL) p,
     (SELECT tiers.clv_validation(gg, frequency, monetary, holdout_monetary) AS v FROM spend, gg) v
GROUP BY v.v;
-- fed straight from tiers.holdout_summary (whose holdout_monetary is 0 without a holdout
-- purchase, as lifetimes': those customers are skipped, not counted as spending 0): the same
-- readout
SELECT (a).customers = (b).customers AS customers, pg_temp.near((a).mae, (b).mae, 1e-12) AS mae,
       pg_temp.near((a).rmse, (b).rmse, 1e-12) AS rmse, pg_temp.near((a).bias, (b).bias, 1e-9) AS bias
FROM (SELECT tiers.clv_validation(gg, (s).frequency, (s).monetary, (s).holdout_monetary) AS a
      FROM (SELECT tiers.holdout_summary(ordered_on, amount, date '1997-09-30', date '1998-06-30', '7 days') AS s
            FROM cdnow_master GROUP BY customer_id) h, gg WHERE s IS NOT NULL) x,
     (SELECT tiers.clv_validation(gg, frequency, monetary, holdout_monetary) AS b FROM spend, gg) y;
SELECT pg_temp.err($$SELECT tiers.clv_validation(gg, 1, 20, -5) FROM gg$$);
SELECT pg_temp.err($$SELECT tiers.clv_validation(gg, 1.5, 20, 5) FROM gg$$);
-- a row without a holdout purchase is skipped only after its arguments are checked
SELECT pg_temp.err($$SELECT tiers.clv_validation(gg, 1.5, 20, 0) FROM gg$$);
SELECT pg_temp.err($$SELECT tiers.clv_validation(gg, 2, 'NaN', 0) FROM gg$$);

-- the probability of n purchases and of none (churn) at fixed parameters; lifetimes 0.11.3:
--   BetaGeoFitter / ModifiedBetaGeoFitter with params_ set: .probability_of_n_purchases_up_to_time(t, n)
--   ParetoNBDFitter: .conditional_probability_of_n_purchases_up_to_time(n, t, x, t_x, T)
CREATE TEMP TABLE fixed AS
SELECT '(0.243,4.414,0.793,2.426,,,,,,,,,)'::tiers.bgnbd_model AS bg,
       '(0.525,6.183,0.891,1.614,,,,,,,,,)'::tiers.mbgnbd_model AS mbg,
       '(0.553,10.578,0.606,11.669,,,,,,,,,)'::tiers.paretonbd_model AS pn;
SELECT pg_temp.near(tiers.probability_of_purchases(bg, 0, 1), 0.9515887977331471, 1e-12) AS bg_0,
       pg_temp.near(tiers.probability_of_purchases(bg, 2, 1), 0.003808096896808458, 1e-12) AS bg_2,
       pg_temp.near(tiers.probability_of_purchases(mbg, 1, 1), 0.044859520780194305, 1e-12) AS mbg_1,
       pg_temp.near(tiers.probability_of_purchases(pn, 0, 10, 0, 0, 38.86), 0.9728836368223552, 1e-10) AS pn_0,
       pg_temp.near(tiers.probability_of_purchases(pn, 2, 10, 0, 0, 38.86), 0.0030227771346788626, 1e-10) AS pn_2,
       pg_temp.near(tiers.churn_probability(pn, 52, 2, 30.43, 38.86), 0.36848320560469205, 1e-10) AS pn_churn
FROM fixed;
-- for every model and history: a distribution over n whose mean is expected_purchases, and a
-- churn probability that is its value at 0 and at least the probability of having left
SELECT h.x, h.t_x, h.tt,
       pg_temp.near(sum(tiers.probability_of_purchases(bg, k, 26, x, t_x, tt)), 1, 1e-9)
       AND pg_temp.near(sum(tiers.probability_of_purchases(mbg, k, 26, x, t_x, tt)), 1, 1e-9)
       AND pg_temp.near(sum(tiers.probability_of_purchases(pn, k, 26, x, t_x, tt)), 1, 1e-9) AS sums_to_1,
       pg_temp.near(sum(k * tiers.probability_of_purchases(bg, k, 26, x, t_x, tt)), tiers.expected_purchases(bg, 26, x, t_x, tt), 1e-8)
       AND pg_temp.near(sum(k * tiers.probability_of_purchases(mbg, k, 26, x, t_x, tt)), tiers.expected_purchases(mbg, 26, x, t_x, tt), 1e-8)
       AND pg_temp.near(sum(k * tiers.probability_of_purchases(pn, k, 26, x, t_x, tt)), tiers.expected_purchases(pn, 26, x, t_x, tt), 1e-8) AS mean,
       bool_and(tiers.churn_probability(pn, 26, x, t_x, tt) >= 1 - tiers.p_alive(pn, x, t_x, tt)) AS churn_at_least_gone
FROM fixed, (VALUES (0, 0, 38.86), (2, 30.43, 38.86), (7, 35, 39), (20, 38, 39)) AS h(x, t_x, tt), generate_series(0, 400) k
GROUP BY fixed.bg, fixed.mbg, fixed.pn, h.x, h.t_x, h.tt ORDER BY h.x;
SELECT pg_temp.err($$SELECT tiers.probability_of_purchases(bg, -1, 1) FROM fixed$$);
SELECT pg_temp.err($$SELECT tiers.churn_probability(pn, -1, 2, 30, 38) FROM fixed$$);
SELECT pg_temp.err($$SELECT tiers.churn_probability(pn, 5, 2, 40, 38) FROM fixed$$);

-- BG/BB on the donations data: a holdout of the last two of the six years
CREATE TEMP TABLE donations (frequency float8, recency float8, periods float8, weights float8);
\copy donations FROM 'data/donations/donations.csv' WITH (FORMAT csv, HEADER true)
SELECT (x).customers, (x).buckets[1].bucket, (x).auc > 0.5 AS informative
FROM (SELECT tiers.clv_validation(m, least(frequency, 3), least(recency, 4) * (frequency > 0)::int, 4,
                                  greatest(frequency - 3, 0), 2) AS x
      FROM donations, (SELECT tiers.bgbb_fit(frequency, recency, periods, weights) AS m FROM donations) f,
           generate_series(1, weights::int)) s;

-- errors and NULLs
SELECT pg_temp.err($$SELECT tiers.clv_validation(bg, 1, 2, 3, -1, 39) FROM models$$);
SELECT pg_temp.err($$SELECT tiers.clv_validation(bg, 1, 2, 3, 1, 'NaN') FROM models$$);
SELECT pg_temp.err($$SELECT tiers.clv_validation(bg, 1, 5, 3, 1, 39) FROM models$$);
SELECT pg_temp.err($$SELECT tiers.clv_validation(NULL::tiers.bgnbd_model, 1, 2, 3, 1, 39)$$);
-- a BG/BB holdout too long names holdout_length
SELECT pg_temp.err($$SELECT tiers.clv_validation('(1.2,0.75,0.66,2.8,,,,,,,,,)'::tiers.bgbb_model, 1, 2, 6, 0, 1e10)$$);
SELECT tiers.clv_validation(bg, 1, 2, 3, NULL, 39) IS NULL AS null_holdout_skipped FROM models;
SELECT tiers.clv_validation(bg, frequency, recency, tenure, holdout_occasions, 39) IS NULL AS no_rows FROM ch, models WHERE false;
