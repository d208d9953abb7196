-- BG/BB (issue 13): Fader, Hardie & Shang (2010) on their donations data (11,104 first-time
-- donors of 1995, six repeat opportunities 1996-2001; the 22 patterns as shipped with the Python
-- package lifetimes, datasets/donations.csv), and lifetimes 0.11.3's BetaGeoBetaBinomFitter
-- predictions at the paper's parameters (the Python is next to the literals).
\set VERBOSITY terse
\i tests/sql/helpers.sql
CREATE TEMP TABLE donations (frequency float8, recency float8, periods float8, weights float8);
INSERT INTO donations VALUES
 (0,0,6,3464), (1,1,6,1091), (1,2,6,277), (1,3,6,129), (1,4,6,78), (1,5,6,119), (1,6,6,129),
 (2,2,6,613), (2,3,6,255), (2,4,6,155), (2,5,6,173), (2,6,6,234), (3,3,6,322), (3,4,6,181),
 (3,5,6,225), (3,6,6,357), (4,4,6,240), (4,5,6,284), (4,6,6,512), (5,5,6,335), (5,6,6,728),
 (6,6,6,1203);

-- the paper: alpha 1.204, beta 0.750, gamma 0.657, delta 2.783, LL -33,225.6
-- lifetimes: BetaGeoBetaBinomFitter().fit(frequency, recency, periods, weights).params_ =
--   1.2035223936080381, 0.7497163581757634, 0.6567181695499512, 2.7834419828876076
CREATE TEMP TABLE m AS SELECT tiers.bgbb_fit(frequency, recency, periods, weights) AS m FROM donations;
SELECT round((m).alpha::numeric, 3) AS alpha, round((m).beta::numeric, 3) AS beta,
       round((m).gamma::numeric, 3) AS gamma, round((m).delta::numeric, 3) AS delta,
       round((m).log_likelihood::numeric, 1) AS ll, (m).customers, (m).converged,
       pg_temp.near((m).alpha, 1.2035223936080381, 1e-4) AND pg_temp.near((m).beta, 0.7497163581757634, 1e-4)
       AND pg_temp.near((m).gamma, 0.6567181695499512, 1e-4) AND pg_temp.near((m).delta, 2.7834419828876076, 1e-4) AS lifetimes,
       (m).se_alpha > 0 AND (m).se_delta > 0 AS standard_errors
FROM m;
-- one row per donor gives the same model as the weighted patterns
SELECT pg_temp.near((w.m).alpha, (m.m).alpha, 1e-6) AND pg_temp.near((w.m).delta, (m.m).delta, 1e-6) AS rows_equal_patterns
FROM (SELECT tiers.bgbb_fit(frequency, recency, periods) AS m FROM donations, generate_series(1, weights::int)) w, m;

-- predictions at the paper's parameters; lifetimes:
--   f.params_ = pd.Series(dict(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783))
--   f.conditional_probability_alive(m, x, t_x, n) and
--   f.conditional_expected_number_of_purchases_up_to_time(m, x, t_x, n)
CREATE TEMP TABLE paper AS SELECT ROW(1.204, 0.750, 0.657, 2.783, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::tiers.bgbb_model AS m;
SELECT x, t_x, n,
       pg_temp.near(tiers.p_alive(m, x, t_x, n, 0), alive0) AS p_alive_now,
       pg_temp.near(tiers.p_alive(m, x, t_x, n), alive1) AS p_alive_next,
       pg_temp.near(tiers.expected_purchases(m, 5, x, t_x, n), e5) AS expected_5
FROM paper, (VALUES (0, 0, 6, 0.11609661329298424, 0.10801658416867378, 0.07280287747504345),
                    (1, 1, 6, 0.07460006829896633, 0.06940809320654888, 0.08563539833787007),
                    (3, 4, 6, 0.47233625988905353, 0.43946285705567345, 1.034228498420919),
                    (2, 3, 10, 0.05986217546279229, 0.05693587715333884, 0.07004607872933377),
                    (7, 12, 20, 0.052181770162478824, 0.050719166792310366, 0.08998692078426793))
     AS l(x, t_x, n, alive0, alive1, e5)
ORDER BY n, x;
-- a new donor: f.expected_number_of_transactions_in_first_n_periods(6) / 11104 (the paper's
-- Figure 2) and the mean of that distribution
SELECT k, pg_temp.near(tiers.probability_of_purchases(m, k, 6) * 11104, c) AS lifetimes
FROM paper, (VALUES (0, 3455.7618212017856), (1, 1888.9012002259396), (2, 1348.919624867337),
                    (3, 1113.3216292354205), (4, 1017.791012430332), (5, 1026.910666340367),
                    (6, 1252.3940456988205)) AS l(k, c) ORDER BY k;
SELECT pg_temp.near(sum(k * tiers.probability_of_purchases(m, k, 6)), tiers.expected_purchases(m, 6)) AS mean_is_expected,
       tiers.probability_of_purchases(m, 7, 6) AS more_than_possible
FROM paper, generate_series(0, 7) k GROUP BY m;
-- conditional on the history: a distribution whose mean is expected_purchases; churn = P(0)
SELECT x, t_x, n,
       pg_temp.near(sum(tiers.probability_of_purchases(m, k, 5, x, t_x, n)), 1) AS sums_to_1,
       pg_temp.near(sum(k * tiers.probability_of_purchases(m, k, 5, x, t_x, n)), tiers.expected_purchases(m, 5, x, t_x, n)) AS mean,
       pg_temp.near(tiers.churn_probability(m, 5, x, t_x, n), tiers.probability_of_purchases(m, 0, 5, x, t_x, n)) AS churn,
       tiers.churn_probability(m, 5, x, t_x, n) >= 1 - tiers.p_alive(m, x, t_x, n, 0) AS churn_at_least_gone
FROM paper, (VALUES (0, 0, 6), (3, 4, 6), (6, 6, 6), (7, 12, 20)) AS h(x, t_x, n), generate_series(0, 5) k
GROUP BY m, x, t_x, n ORDER BY n, x;

-- errors and NULLs
SELECT pg_temp.err($$SELECT tiers.bgbb_fit(2, 1, 6)$$);
SELECT pg_temp.err($$SELECT tiers.bgbb_fit(1, 7, 6)$$);
SELECT pg_temp.err($$SELECT tiers.bgbb_fit(1.5, 2, 6)$$);
SELECT pg_temp.err($$SELECT tiers.bgbb_fit(0, 0, 6)$$);
SELECT pg_temp.err($$SELECT tiers.bgbb_fit(1, 2, 6, -1)$$);
SELECT pg_temp.err($$SELECT tiers.bgbb_fit(1, 2, 6, 1, 'NaN')$$);
SELECT pg_temp.err($$SELECT tiers.bgbb_fit(1, 2, 6, 1, NULL)$$);
SELECT pg_temp.err($$SELECT tiers.p_alive(m, 1, 2, 6, -1) FROM paper$$);
SELECT pg_temp.err($$SELECT tiers.expected_purchases(m, 2.5, 1, 2, 6) FROM paper$$);
-- horizons too far name the SQL argument
SELECT pg_temp.err($$SELECT tiers.expected_purchases(m, 1e10, 1, 2, 6) FROM paper$$);
SELECT pg_temp.err($$SELECT tiers.expected_purchases(m, 1e10) FROM paper$$);
SELECT pg_temp.err($$SELECT tiers.p_alive(m, 1, 2, 6, 2147483647) FROM paper$$);
SELECT pg_temp.err($$SELECT tiers.probability_of_purchases(m, 1, 1e10) FROM paper$$);
SELECT pg_temp.err($$SELECT tiers.probability_of_purchases(m, -1, 6) FROM paper$$);
SELECT pg_temp.err($$SELECT tiers.probability_of_purchases(m, 1, 6.5) FROM paper$$);
SELECT pg_temp.err($$SELECT tiers.churn_probability(m, -2, 1, 2, 6) FROM paper$$);
SELECT pg_temp.err($$SELECT tiers.p_alive(ROW(-1, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::tiers.bgbb_model, 1, 2, 6)$$);
SELECT tiers.bgbb_fit(frequency, recency, periods) IS NULL AS no_rows FROM donations WHERE false;
SELECT tiers.p_alive(m, NULL, 2, 6) IS NULL AS null_history FROM paper;
