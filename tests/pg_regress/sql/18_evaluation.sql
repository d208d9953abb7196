-- Judging a tiering (issue 14): A/B tests, Holm, NPS and experiment assignment, checked against
-- scipy 1.17 / statsmodels 0.15 figures (the Python calls are next to each literal) and against
-- plain SQL; parallel plans give the serial answers.
\set VERBOSITY terse
\i tests/sql/helpers.sql

-- a continuous outcome: g = 1..200, A = even g, B = odd g,
-- y = (g*37 % 101)/10 + 0.3 (B) + 2 (g % 5 = 0)
CREATE TEMP TABLE cont AS
SELECT g, CASE WHEN g % 2 = 0 THEN 'A' ELSE 'B' END AS variant,
       (g * 37 % 101) / 10.0::float8 + CASE WHEN g % 2 = 1 THEN 0.3 ELSE 0 END
       + CASE WHEN g % 5 = 0 THEN 2 ELSE 0 END AS y
FROM generate_series(1, 200) g;
SELECT r.variant, r.is_control, r.n, r.method,
       pg_temp.near(r.mean, s.avg) AS mean_ok, pg_temp.near(r.sd, s.sd) AS sd_ok
FROM (SELECT (unnest(tiers.ab_test(variant, y))).* FROM cont) r
JOIN (SELECT variant, avg(y) AS avg, stddev_samp(y) AS sd FROM cont GROUP BY 1) s USING (variant)
ORDER BY 1;
-- scipy.stats.ttest_ind(b, a, equal_var=False): statistic 0.5382979336522857,
-- pvalue 0.5909770001009125, df 197.66779629452773; .confidence_interval(0.95):
-- (-0.6285787123866913, 1.1005787123866944); b.mean() - a.mean() = 0.23600000000000154
SELECT pg_temp.near(statistic, 0.5382979336522857) AS t, pg_temp.near(p_value, 0.5909770001009125) AS p,
       pg_temp.near(df, 197.66779629452773) AS df, pg_temp.near(difference, 0.23600000000000154) AS diff,
       pg_temp.near(difference_low, -0.6285787123866913) AS low, pg_temp.near(difference_high, 1.1005787123866944) AS high,
       pg_temp.near(lift, (SELECT avg(y) FILTER (WHERE variant = 'B') / avg(y) FILTER (WHERE variant = 'A') - 1 FROM cont)) AS lift,
       lift_low < lift AND lift < lift_high AS lift_interval
FROM (SELECT (unnest(tiers.ab_test(variant, y))).* FROM cont) r WHERE variant = 'B';
-- the control named: B is the control, A compared with it
SELECT variant, is_control, round(difference::numeric, 12) AS difference
FROM (SELECT (unnest(tiers.ab_test(variant, y, 'B'))).* FROM cont) r ORDER BY 1;

-- a conversion (0/1) outcome: g = 1..2000, A = even g (converted when g*7919 % 100 < 10),
-- B = odd g (< 14)
CREATE TEMP TABLE conv AS
SELECT g, CASE WHEN g % 2 = 0 THEN 'A' ELSE 'B' END AS variant,
       CASE WHEN g * 7919 % 100 < CASE WHEN g % 2 = 0 THEN 10 ELSE 14 END THEN 1 ELSE 0 END::float8 AS converted
FROM generate_series(1, 2000) g;
-- statsmodels.stats.proportion.proportions_ztest([140, 100], [1000, 1000]):
-- (2.752409412815902, 0.005915851074238003)
SELECT variant, n, mean, method, pg_temp.near(statistic, 2.752409412815902) AS z,
       pg_temp.near(p_value, 0.005915851074238003) AS p, round(lift::numeric, 12) AS lift
FROM (SELECT (unnest(tiers.ab_test(variant, converted))).* FROM conv) r WHERE NOT is_control;

-- per tier (GROUP BY); parallel plans: tests/pg_regress/sql/16_parallel_all.sql
CREATE TEMP TABLE camp AS
SELECT g % 3 AS tier, CASE WHEN g % 2 = 0 THEN 'control' ELSE 'coupon' END AS variant,
       ((g * 7919) % 1000) / 10.0::float8 + CASE WHEN g % 2 = 1 THEN g % 3 ELSE 0 END AS spend
FROM generate_series(1, 30000) g;
SELECT tier, r.variant, r.n, round(r.mean::numeric, 6) AS mean, round(r.difference::numeric, 6) AS difference,
       r.p_value < 0.05 AS significant
FROM (SELECT tier, tiers.ab_test(variant, spend, 'control') AS t FROM camp GROUP BY tier) x, unnest(x.t) r
ORDER BY 1, 2;
-- three tiers, three p-values, adjusted together
SELECT tiers.holm(array_agg(r.p_value ORDER BY tier)) AS adjusted
FROM (SELECT tier, tiers.ab_test(variant, spend, 'control') AS t FROM camp GROUP BY tier) x, unnest(x.t) r
WHERE NOT r.is_control;

-- statsmodels.stats.multitest.multipletests([0.01, 0.04, 0.03, 0.005], method='holm')[1]:
-- [0.03, 0.06, 0.06, 0.02]
SELECT tiers.holm('{0.01, 0.04, 0.03, 0.005}') AS holm, tiers.holm('{0.01, NULL, 0.04}') AS with_null,
       tiers.holm('{}') AS empty;

-- NPS: scores (i*7) % 11 for i = 1..300 (a) and (i*5 + 3) % 11 for i = 1..200 (b), by hand in
-- numpy: a = (300, 55, 55, 190, -45.0, 8.868263014192175), b = (200, 36, 37, 127, -45.5,
-- 10.806472042253196); b - a = -0.5 in [-14.47948235411058, 13.479482354110566],
-- z -0.0701027387978963, p 2 * scipy.stats.norm.sf(0.0701027387978963) = 0.9441118868222523
CREATE TEMP TABLE survey AS
SELECT 'a' AS grp, (i * 7) % 11 AS score FROM generate_series(1, 300) i
UNION ALL SELECT 'b', (i * 5 + 3) % 11 FROM generate_series(1, 200) i
UNION ALL SELECT 'b', NULL;
SELECT grp, (r).n, (r).promoters, (r).passives, (r).detractors, round((r).nps::numeric, 9) AS nps,
       pg_temp.near((r).margin_of_error, CASE grp WHEN 'a' THEN 8.868263014192175 ELSE 10.806472042253196 END) AS margin_ok
FROM (SELECT grp, tiers.nps(score) AS r FROM survey GROUP BY grp) x ORDER BY 1;
SELECT pg_temp.near(c.difference, -0.5) AS diff, pg_temp.near(c.difference_low, -14.47948235411058) AS low,
       pg_temp.near(c.difference_high, 13.479482354110566) AS high, pg_temp.near(c.statistic, -0.0701027387978963) AS z,
       pg_temp.near(c.p_value, 0.9441118868222523) AS p
FROM (SELECT tiers.nps_compare((SELECT tiers.nps(score) FROM survey WHERE grp = 'a'),
                               (SELECT tiers.nps(score) FROM survey WHERE grp = 'b')) AS c) x, LATERAL (SELECT (x.c).*) c;
-- the same as plain SQL
SELECT (tiers.nps(score)).nps = 100.0 * (count(*) FILTER (WHERE score >= 9) - count(*) FILTER (WHERE score <= 6)) / count(score) AS same
FROM survey WHERE grp = 'b';

-- ab_assign: the documented hash, recomputed in SQL, for 20,000 customers
CREATE TEMP TABLE assign AS
SELECT c::text AS customer, tiers.ab_assign(c::text, 'spring-coupon', '{0.2, 0.3, 0.5}') AS variant,
       floor(((('x' || left(encode(sha256(convert_to('spring-coupon', 'UTF8') || '\x00'::bytea || convert_to(c::text, 'UTF8')), 'hex'), 16))::bit(64)::bigint::numeric
               + CASE WHEN ('x' || left(encode(sha256(convert_to('spring-coupon', 'UTF8') || '\x00'::bytea || convert_to(c::text, 'UTF8')), 'hex'), 16))::bit(64)::bigint < 0
                      THEN 18446744073709551616 ELSE 0 END) / 2048)) / 9007199254740992 AS position
FROM generate_series(1, 20000) c;
SELECT count(*) FILTER (WHERE variant <> CASE WHEN position < 0.2 THEN 'A' WHEN position < 0.5 THEN 'B' ELSE 'C' END) AS mismatches,
       round(avg((variant = 'A')::int), 2) AS share_a, round(avg((variant = 'B')::int), 2) AS share_b,
       round(avg((variant = 'C')::int), 2) AS share_c
FROM assign;
-- independent between experiments, stable, named variants
SELECT round(avg((tiers.ab_assign(customer, 'other', '{0.5, 0.5}') = 'A')::int)
             FILTER (WHERE variant = 'A'), 2) AS a_in_other_experiment,
       bool_and(tiers.ab_assign(customer, 'spring-coupon', '{0.2, 0.3, 0.5}') = variant) AS stable,
       bool_and(tiers.ab_assign(customer, 'spring-coupon', '{0.2, 0.3, 0.5}', '{control, ten_off, twenty_off}')
                = CASE variant WHEN 'A' THEN 'control' WHEN 'B' THEN 'ten_off' ELSE 'twenty_off' END) AS named
FROM assign;

-- errors and NULLs
SELECT pg_temp.err($$SELECT tiers.ab_test(v, y) FROM (VALUES ('a', 1.0::float8), ('b', 'NaN')) t(v, y)$$);
SELECT pg_temp.err($$SELECT tiers.ab_test(v, y, 'zzz') FROM (VALUES ('a', 1.0::float8), ('b', 2)) t(v, y)$$);
SELECT pg_temp.err($$SELECT tiers.ab_test(v, y, c) FROM (VALUES ('a', 1.0::float8, 'a'), ('b', 2, 'b')) t(v, y, c)$$);
SELECT tiers.ab_test(v, y) IS NULL AS no_rows FROM (VALUES ('a', 1.0::float8)) t(v, y) WHERE false;
SELECT (unnest(tiers.ab_test(v, y))).n AS n_with_nulls_skipped
FROM (VALUES ('a', 1.0::float8), (NULL, 2), ('a', NULL), ('a', 3)) t(v, y);
SELECT pg_temp.err($$SELECT tiers.holm('{0.5, 1.5}')$$), pg_temp.err($$SELECT tiers.holm('{NaN}')$$);
-- list arguments given a matrix are 2202E (they were read flat); one row or column is a list
SELECT pg_temp.err($$SELECT tiers.holm('{{0.01, 0.04}, {0.03, 0.005}}')$$),
       tiers.holm('{{0.01}, {0.04}, {0.03}, {0.005}}') AS one_column;
SELECT pg_temp.err($$SELECT tiers.ab_assign('c1', 'e', '{{0.5, 0.5}, {0.5, 0.5}}')$$),
       pg_temp.err($$SELECT tiers.ab_assign('c1', 'e', '{1, 1, 1, 1}', '{{a, b}, {c, d}}')$$),
       tiers.ab_assign('c1', 'e', '{{0.2, 0.3, 0.5}}') = tiers.ab_assign('c1', 'e', '{0.2, 0.3, 0.5}') AS one_row;
-- outcomes whose moments overflow: 22003 naming the outcome in exponent form (it printed 309 digits)
SELECT pg_temp.err($$SELECT tiers.ab_test(v, x) FROM (VALUES ('A', 1e308::float8), ('A', -1e308::float8)) t(v, x)$$);
SELECT pg_temp.err($$SELECT tiers.nps(s) FROM (VALUES (3), (11)) t(s)$$), pg_temp.err($$SELECT tiers.nps(-1)$$);
SELECT tiers.nps(s) IS NULL AS no_answers FROM (VALUES (NULL::int)) t(s);
SELECT pg_temp.err($$SELECT tiers.nps_compare(ROW(1, -1, 0, 2, 0, 0)::tiers.nps_result, ROW(1, 1, 0, 0, 100, 0)::tiers.nps_result)$$);
SELECT pg_temp.err($$SELECT tiers.nps_compare(ROW(0, 0, 0, 0, 0, 0)::tiers.nps_result, ROW(1, 1, 0, 0, 100, 0)::tiers.nps_result)$$);
SELECT pg_temp.err($$SELECT tiers.ab_assign('1', 'x', '{}')$$), pg_temp.err($$SELECT tiers.ab_assign('1', 'x', '{-1, 2}')$$),
       pg_temp.err($$SELECT tiers.ab_assign('1', 'x', '{0, 0}')$$), pg_temp.err($$SELECT tiers.ab_assign('1', 'x', '{1, NULL}')$$),
       pg_temp.err($$SELECT tiers.ab_assign('1', 'x', '{1, 1}', '{a}')$$),
       pg_temp.err($$SELECT tiers.ab_assign('1', 'x', array_fill(1::float8, ARRAY[27]))$$);
SELECT tiers.ab_assign(NULL, 'x', '{1}') IS NULL AS null_customer, tiers.ab_assign('1', 'x', '{1}', NULL) IS NULL AS null_names;
-- a damaged state
SELECT pg_temp.err($$SELECT tiers.ab_test_final('\x5801'::bytea)$$), pg_temp.err($$SELECT tiers.nps_final('\x00'::bytea)$$);
