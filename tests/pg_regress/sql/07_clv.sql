-- CLV: BG/NBD and Gamma-Gamma fitted inside PostgreSQL on the CDNOW clv_calibration summary,
-- against the published results (Fader, Hardie & Lee 2005: r 0.243, alpha 4.414, a 0.793,
-- b 2.426, LL -9582.4; Fader & Hardie 2013: p 6.25, q 3.74, gamma 15.44) and the predictions
-- of the Python package lifetimes 0.11.3 (an independent implementation).
\set VERBOSITY terse
SET extra_float_digits = 0;
\i tests/sql/helpers.sql
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all

CREATE TABLE clv_calibration AS
SELECT customer_id, (tiers.customer_summary(ordered_on, amount, '1997-09-30', '7 days')).*
FROM cdnow_sample GROUP BY customer_id;

CREATE TABLE clv_models AS
SELECT tiers.bgnbd_fit(frequency, recency, tenure) AS bg,
       tiers.gamma_gamma_fit(frequency, monetary) AS gg
FROM clv_calibration;
SELECT round((bg).r::numeric, 3) AS r, round((bg).alpha::numeric, 3) AS alpha,
       round((bg).a::numeric, 3) AS a, round((bg).b::numeric, 3) AS b,
       round((bg).log_likelihood::numeric, 1) AS ll, (bg).customers, (bg).converged,
       (bg).se_r BETWEEN 0.005 AND 0.05 AS se_r_plausible
FROM clv_models;
SELECT round((gg).p::numeric, 2) AS p, round((gg).q::numeric, 2) AS q, round((gg).v::numeric, 2) AS v,
       (gg).customers, (gg).converged
FROM clv_models;
-- the model round-trips through text (with the default extra_float_digits)
RESET extra_float_digits;
SELECT bg::text::tiers.bgnbd_model = bg AND gg::text::tiers.gamma_gamma_model = gg AS round_trips FROM clv_models;

SET extra_float_digits = 0;
-- predictions with the published parameters, against lifetimes 0.11.3:
-- conditional_expected_number_of_purchases_up_to_time(39, 2, 30.43, 38.86) = 1.2259087352923725
-- conditional_probability_alive(2, 30.43, 38.86) = 0.72661016
-- expected_number_of_purchases_up_to_time(39) = 1.195006618559388
SELECT round(tiers.expected_purchases(m, 39, 2, 30.43, 38.86)::numeric, 9) AS expected_39,
       round(tiers.p_alive(m, 2, 30.43, 38.86)::numeric, 8) AS p_alive,
       round(tiers.expected_purchases(m, 39)::numeric, 9) AS new_customer_39,
       tiers.p_alive(m, 0, 0, 38.86) AS one_time_buyer_alive
FROM (SELECT '(0.242593,4.413596,0.792919,2.425910,0,0,t,0,,,,,)'::tiers.bgnbd_model AS m) t;
-- Gamma-Gamma: E[M | x = 2, mean 22.35] = p (v + x m) / (p x + q - 1)
SELECT round(tiers.expected_spend('(6.25,3.74,15.44,0,0,t,0,,,,)', 2, 22.35)::numeric, 6) AS spend,
       round(tiers.expected_spend('(6.25,3.74,15.44,0,0,t,0,,,,)', 0, 0)::numeric, 6) AS population_mean;

-- scoring every customer in SQL with the fitted clv_models
SELECT count(*) AS customers,
       round(sum(tiers.expected_purchases(bg, 39, frequency, recency, tenure))::numeric, 1) AS expected_39_weeks,
       round(avg(tiers.p_alive(bg, frequency, recency, tenure))::numeric, 4) AS mean_p_alive,
       round(avg(tiers.expected_spend(gg, frequency, monetary)) FILTER (WHERE frequency > 0)::numeric, 2) AS mean_spend
FROM clv_calibration, clv_models;

-- weights: the same fit from the distinct patterns with counts
SELECT round((w).r::numeric, 6) = round((bg).r::numeric, 6) AND round((w).b::numeric, 6) = round((bg).b::numeric, 6)
       AS weighted_equals_unweighted
FROM (SELECT tiers.bgnbd_fit(frequency, recency, tenure, n) AS w
      FROM (SELECT frequency, recency, tenure, count(*)::float8 AS n FROM clv_calibration GROUP BY 1, 2, 3) p) x, clv_models;

-- the modified BG/NBD (Batislam et al. 2007). Reference: lifetimes 0.11.3
-- ModifiedBetaGeoFitter on these summaries: r 0.52484, alpha 6.18308, a 0.89136, b 1.61400,
-- LL -9582.1357; predictions with those parameters: (2, 30.43, 38.86) 1.262669 purchases in
-- 39 weeks, P(alive) 0.706126; a one-time buyer (0, 0, 38.86) P(alive) 0.389715.
CREATE TABLE clv_mbg AS SELECT tiers.mbgnbd_fit(frequency, recency, tenure) AS m FROM clv_calibration;
SELECT round((m).r::numeric, 5) AS r, round((m).alpha::numeric, 5) AS alpha, round((m).a::numeric, 5) AS a,
       round((m).b::numeric, 5) AS b, round((m).log_likelihood::numeric, 4) AS ll, (m).converged,
       round(tiers.expected_purchases(m, 39, 2, 30.43, 38.86)::numeric, 6) AS expected_39,
       round(tiers.p_alive(m, 2, 30.43, 38.86)::numeric, 6) AS p_alive,
       round(tiers.p_alive(m, 0, 0, 38.86)::numeric, 6) AS one_time_buyer_alive,
       round(tiers.expected_purchases(m, 39)::numeric, 6) AS new_customer_39
FROM clv_mbg;

-- the Pareto/NBD. Published (FHL 2005): r 0.55, alpha 10.58, s 0.61, beta 11.67, LL -9595.0;
-- predictions with the fitted parameters against lifetimes 0.11.3 ParetoNBDFitter:
-- (2, 30.43, 38.86) P(alive) 0.869116, 1.455099 purchases in 39 weeks; one-time buyer
-- P(alive) 0.295096; new customer 1.213404 in 39 weeks.
CREATE TABLE clv_pnbd AS SELECT tiers.paretonbd_fit(frequency, recency, tenure) AS m FROM clv_calibration;
SELECT round((m).r::numeric, 2) AS r, round((m).alpha::numeric, 2) AS alpha, round((m).s::numeric, 2) AS s,
       round((m).beta::numeric, 2) AS beta, round((m).log_likelihood::numeric, 1) AS ll, (m).converged,
       round(tiers.p_alive(m, 2, 30.43, 38.86)::numeric, 5) AS p_alive,
       round(tiers.expected_purchases(m, 39, 2, 30.43, 38.86)::numeric, 5) AS expected_39,
       round(tiers.p_alive(m, 0, 0, 38.86)::numeric, 5) AS one_time_buyer_alive,
       round(tiers.expected_purchases(m, 39)::numeric, 5) AS new_customer_39,
       round(sum(tiers.clv_estimate(m, gg, frequency, recency, tenure, monetary, '12 months', 0.01, '7 days'))::numeric, 2) AS clv_12_months
FROM clv_pnbd, clv_models, clv_calibration GROUP BY m;

-- an L2 penalizer (lifetimes' convention). Reference: lifetimes' own objective functions
-- minimised by SciPy Nelder-Mead on these summaries: BG/NBD (penalizer 0.1) at r 0.1151497,
-- alpha 0.5712510, a 0.1646358, b 0.2865008; Gamma-Gamma (0.01) at p 4.109223, q 0.968393,
-- v 3.780768.
SELECT round((tiers.bgnbd_fit(frequency, recency, tenure, 1, 0.1)).r::numeric, 5) AS r,
       round((tiers.bgnbd_fit(frequency, recency, tenure, 1, 0.1)).alpha::numeric, 5) AS alpha,
       round((tiers.gamma_gamma_fit(frequency, monetary, 1, 0.01)).p::numeric, 4) AS p,
       round((tiers.gamma_gamma_fit(frequency, monetary, 1, 0.01)).v::numeric, 4) AS v
FROM clv_calibration;
SELECT pg_temp.err($$SELECT tiers.bgnbd_fit(1, 1, 2, 1, -0.5)$$);
SELECT pg_temp.err($$SELECT tiers.gamma_gamma_fit(1, 10, 1, NULL)$$);
SELECT pg_temp.err($$SELECT tiers.bgnbd_fit(f, f, 2, 1, f) FROM (VALUES (1.0), (2.0)) t(f)$$);

-- parallel plans give the serial fit
CREATE TABLE clv_big_summaries AS SELECT c.* FROM clv_calibration c, generate_series(1, 200) g;
ANALYZE clv_big_summaries;
SET max_parallel_workers_per_gather = 0;
SELECT tiers.bgnbd_fit(frequency, recency, tenure)::text AS serial_bg,
       tiers.gamma_gamma_fit(frequency, monetary)::text AS serial_gg FROM clv_big_summaries \gset
SET max_parallel_workers_per_gather = 4;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT tiers.bgnbd_fit(frequency, recency, tenure), tiers.gamma_gamma_fit(frequency, monetary) FROM clv_big_summaries;
SELECT tiers.bgnbd_fit(frequency, recency, tenure)::text = :'serial_bg' AS bg_parallel_equals_serial,
       tiers.gamma_gamma_fit(frequency, monetary)::text = :'serial_gg' AS gg_parallel_equals_serial
FROM clv_big_summaries;
RESET max_parallel_workers_per_gather;

-- NULLs and degenerate input
SELECT tiers.bgnbd_fit(frequency, recency, tenure) IS NULL AS no_rows FROM clv_calibration WHERE false;
SELECT tiers.gamma_gamma_fit(f, m) IS NULL AS no_repeat_buyers FROM (VALUES (0.0::float8, 10.0::float8), (3, -5)) t(f, m);
SELECT tiers.p_alive(NULL::tiers.bgnbd_model, 1, 1, 2) IS NULL, tiers.expected_purchases(bg, NULL, 1, 1, 2) IS NULL FROM clv_models;
SELECT pg_temp.err($$SELECT tiers.bgnbd_fit(0, 0, t) FROM generate_series(1, 5) t$$);
SELECT pg_temp.err($$SELECT tiers.bgnbd_fit(1.5, 1, 2)$$);
SELECT pg_temp.err($$SELECT tiers.bgnbd_fit(1, 3, 2)$$);
SELECT pg_temp.err($$SELECT tiers.bgnbd_fit(0, 1, 2)$$);
SELECT pg_temp.err($$SELECT tiers.bgnbd_fit(-1, 0, 2)$$);
SELECT pg_temp.err($$SELECT tiers.bgnbd_fit('NaN', 0, 2)$$);
SELECT pg_temp.err($$SELECT tiers.bgnbd_fit(1, 1, 'Infinity')$$);
SELECT pg_temp.err($$SELECT tiers.bgnbd_fit(1, 1, 2, -1)$$);
SELECT pg_temp.err($$SELECT tiers.gamma_gamma_fit(2.5, 10)$$);
SELECT pg_temp.err($$SELECT tiers.gamma_gamma_fit(2, 'NaN')$$);
SELECT pg_temp.err($$SELECT tiers.p_alive(bg, 1, 5, 2) FROM clv_models$$);
SELECT pg_temp.err($$SELECT tiers.expected_purchases(bg, -1, 1, 1, 2) FROM clv_models$$);
SELECT pg_temp.err($$SELECT tiers.expected_purchases('(0.2,4,1,2,0,0,t,0,,,,,)'::tiers.bgnbd_model, 10)$$);
SELECT pg_temp.err($$SELECT tiers.expected_purchases('(0,4,0.8,2,0,0,t,0,,,,,)'::tiers.bgnbd_model, 10)$$);
SELECT pg_temp.err($$SELECT tiers.expected_spend('(6,0.5,15,0,0,t,0,,,,)'::tiers.gamma_gamma_model, 0, 0)$$);
SELECT pg_temp.err($$SELECT tiers.expected_spend(gg, 2, -1) FROM clv_models$$);
SELECT round(tiers.expected_spend(gg, 2, 0)::numeric, 4) AS zero_mean_spend FROM clv_models;

-- the classic formula: m = 50 * 2 * 0.3 = 30 per period, r = 0.8, d = 0.1
SELECT round(tiers.clv_estimate(50, 2, 0.3, 0.8, 0.1)::numeric, 6) AS infinite,
       round(tiers.clv_estimate(50, 2, 0.3, 0.8, 0.1, 3)::numeric, 6) AS three_periods,
       round((30 / 1.1 + 24 / 1.21 + 19.2 / 1.331)::numeric, 6) AS three_by_hand,
       tiers.clv_estimate(10, 1, 1, 1, 0, 4) AS no_discount_full_retention,
       tiers.clv_estimate(NULL, 1, 1, 1, 0) IS NULL AS null_in_null_out;
SELECT pg_temp.err($$SELECT tiers.clv_estimate(10, 1, 1, 1, 0)$$);
SELECT pg_temp.err($$SELECT tiers.clv_estimate(10, 1, 1.5, 0.5, 0.1)$$);
SELECT pg_temp.err($$SELECT tiers.clv_estimate(10, 1, 0.5, 0.5, -0.1)$$);
SELECT pg_temp.err($$SELECT tiers.clv_estimate(-10, 1, 0.5, 0.5, 0.1)$$);
SELECT pg_temp.err($$SELECT tiers.clv_estimate(10, 1, 0.5, 'NaN', 0.1)$$);
SELECT pg_temp.err($$SELECT tiers.clv_estimate(10, 1, 0.5, 0.5, 0.1, 0)$$);

-- model-based CLV with explicit units. Reference: lifetimes 0.11.3
-- GammaGammaFitter(p 6.25, q 3.74, v 15.44).customer_lifetime_value(BetaGeoFitter(r 0.24,
-- alpha 30.9, a 0.79, b 2.43), daily CDNOW summaries, time=12, discount_rate=0.01, freq='D')
-- = twelve 30-day periods: customer 1 35.92129640111585, customer 3 8.173692378809369,
-- all 2357 customers 70739.19935535811.
CREATE TABLE clv_days AS
SELECT customer_id, (tiers.customer_summary(ordered_on, amount, '1997-09-30')).*
FROM cdnow_sample GROUP BY customer_id;
SELECT round(sum(v)::numeric, 6) AS total, round((min(v) FILTER (WHERE customer_id = 1))::numeric, 9) AS customer_1,
       round((min(v) FILTER (WHERE customer_id = 3))::numeric, 9) AS customer_3
FROM (SELECT customer_id, tiers.clv_estimate('(0.24,30.9,0.79,2.43,0,0,t,0,,,,,)'::tiers.bgnbd_model,
                                             '(6.25,3.74,15.44,0,0,t,0,,,,)'::tiers.gamma_gamma_model,
                                             frequency, recency, tenure, monetary,
                                             '360 days', 0.01, '1 day', '30 days') AS v
      FROM clv_days) t;
-- the same customer and models in weeks: only the unit changes, the value does not
SELECT round(tiers.clv_estimate('(0.24,30.9,0.79,2.43,0,0,t,0,,,,,)'::tiers.bgnbd_model,
                                '(6.25,3.74,15.44,0,0,t,0,,,,)'::tiers.gamma_gamma_model,
                                2, 213, 272, 22.345, '360 days', 0.01, '1 day', '30 days')::numeric, 9) AS in_days,
       round(tiers.clv_estimate('(0.24,4.414285714285714,0.79,2.43,0,0,t,0,,,,,)'::tiers.bgnbd_model,
                                '(6.25,3.74,15.44,0,0,t,0,,,,)'::tiers.gamma_gamma_model,
                                2, 213 / 7.0, 272 / 7.0, 22.345, '360 days', 0.01, '7 days', '30 days')::numeric, 9) AS in_weeks;
-- with the fitted weekly models, a year in monthly discount periods (the default)
SELECT round(sum(tiers.clv_estimate(bg, gg, frequency, recency, tenure, monetary, '12 months', 0.01, '7 days'))::numeric, 2) AS clv_12_months,
       round(sum(tiers.clv_estimate(m, gg, frequency, recency, tenure, monetary, '12 months', 0.01, '7 days'))::numeric, 2) AS clv_12_months_mbg
FROM clv_calibration, clv_models, clv_mbg;
SELECT pg_temp.err($$SELECT tiers.clv_estimate(bg, gg, 1, 1, 2, 10, '10 days', 0.01, '1 day', '1 month') FROM clv_models$$);
SELECT pg_temp.err($$SELECT tiers.clv_estimate(bg, gg, 1, 1, 2, 10, '1 year', 0.01, '0 days') FROM clv_models$$);
SELECT pg_temp.err($$SELECT tiers.clv_estimate(bg, gg, 1, 1, 2, 10, '1 year', -0.5, '1 day') FROM clv_models$$);
SELECT pg_temp.err($$SELECT tiers.clv_estimate(bg, gg, 1, 1, 2, 10, '1 year', 0.01, NULL) FROM clv_models$$);
SELECT pg_temp.err($$SELECT tiers.clv_estimate(bg, gg, 1, 1, 2, -5, '1 year', 0.01, '1 day') FROM clv_models$$);
SELECT tiers.clv_estimate(bg, gg, NULL, 1, 2, 10, '1 year', 0.01, '1 day') IS NULL AS null_customer FROM clv_models;
-- a single customer has no proper maximum: the fit says so (converged false, no standard errors)
SELECT (m).converged, (m).se_r IS NULL AS no_standard_errors
FROM (SELECT tiers.paretonbd_fit(2, 5, 10) AS m) t;
SELECT (m).converged, (m).se_p IS NULL AS no_standard_errors
FROM (SELECT tiers.gamma_gamma_fit(2, 10) AS m) t;
