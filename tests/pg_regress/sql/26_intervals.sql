-- Intervals of predictions from the parameters' uncertainty (issue 13): each fit reports the
-- covariance of its parameters, and tiers.expected_purchases_interval / tiers.clv_interval carry
-- it to a customer's prediction by the delta method on the log scale. Checked against the Python
-- package lifetimes 0.11.3 on the CDNOW sample (calibration to 1997-09-30, weeks): its covariance
-- from autograd's exact Hessian (diag(theta) inv(hessian_) diag(theta) / n, the log-parameter
-- Hessian transformed), and the same log-scale delta method computed in numpy from lifetimes'
-- own prediction functions (figures stored below).
\set VERBOSITY terse
\i tests/sql/helpers.sql
CREATE FUNCTION pg_temp.near_matrix(a float8[], b float8[], tol float8) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_dims(a) = array_dims(b)
           AND bool_and(abs(x - y) <= tol * sqrt(abs(a[i][i] * a[j][j])))
    FROM generate_subscripts(a, 1) i, generate_subscripts(a, 2) j,
         LATERAL (SELECT a[i][j] AS x, b[i][j] AS y) v $$;
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all

CREATE TEMP TABLE cal AS
SELECT customer_id, (tiers.customer_summary(ordered_on, amount, '1997-09-30', '7 days')).*
FROM cdnow_sample WHERE ordered_on <= '1997-09-30' GROUP BY 1;
CREATE TEMP TABLE m AS
SELECT tiers.bgnbd_fit(frequency, recency, tenure) AS bg, tiers.gamma_gamma_fit(frequency, monetary) AS gg,
       tiers.mbgnbd_fit(frequency, recency, tenure) AS mbg, tiers.paretonbd_fit(frequency, recency, tenure) AS pn
FROM cal;

-- the covariance: lifetimes' figures (entries to 1e-5 of the diagonal scale); its diagonal is
-- the square of the standard errors
SELECT pg_temp.near_matrix((bg).covariance,
         '{{0.00015768777189615157, 0.003706420817169506, -8.784706554331631e-05, 6.563677515235575e-05},
           {0.0037064208171695046, 0.14305347077775715, -0.0028656812423275375, 0.010523264923456137},
           {-8.784706554331631e-05, -0.002865681242327537, 0.034497025776616036, 0.123217645834067},
           {6.563677515235629e-05, 0.010523264923456175, 0.12321764583406694, 0.49760869931675017}}', 1e-5) AS bgnbd_lifetimes,
       pg_temp.near_matrix((gg).covariance,
         '{{1.4162317274888707, -0.23196189378774132, -4.802947355740096},
           {-0.2319618937877413, 0.0841771969111931, 0.9919709130182011},
           {-4.802947355740095, 0.9919709130182008, 17.30079804755259}}', 1e-5) AS gamma_gamma_lifetimes,
       pg_temp.rel_near(sqrt((bg).covariance[1][1]), (bg).se_r, 1e-12) AND pg_temp.rel_near(sqrt((bg).covariance[4][4]), (bg).se_b, 1e-12)
       AND pg_temp.rel_near(sqrt((gg).covariance[3][3]), (gg).se_v, 1e-12)
       AND pg_temp.rel_near(sqrt((pn).covariance[2][2]), (pn).se_alpha, 1e-12)
       AND pg_temp.rel_near(sqrt((mbg).covariance[3][3]), (mbg).se_a, 1e-12) AS diagonal_is_se_squared,
       (SELECT bool_and((pn).covariance[i][j] = (pn).covariance[j][i]) FROM generate_series(1, 4) i, generate_series(1, 4) j) AS symmetric
FROM m;

-- 39-week expected purchases with 90 % intervals: lifetimes + numpy give
--   customer 1: 1.225994429671698 [1.1538677933297068, 1.3026295995736716] se 0.04519268263676687
--   customer 2: 0.20341882760530636 [0.17159949505587496, 0.24113835189808544] se 0.021036714059654408
--   customer 10: 0.19479364221265055 [0.18054194456478997, 0.21017034649725502] se 0.008997735467821748
--   customer 100: 0.6268530191592131 [0.5839694877325277, 0.6728856830427399] se 0.027005996238325607
SELECT c.customer_id, round((i).estimate::numeric, 6) AS estimate, round((i).low::numeric, 6) AS low,
       round((i).high::numeric, 6) AS high, (i).level,
       pg_temp.rel_near((i).estimate, l.e, 1e-6) AND pg_temp.rel_near((i).low, l.lo, 1e-6) AND pg_temp.rel_near((i).high, l.hi, 1e-6)
       AND pg_temp.rel_near((i).se, l.se, 1e-5) AS lifetimes,
       (i).estimate = tiers.expected_purchases(bg, 39, frequency, recency, tenure) AS same_estimate
FROM cal c CROSS JOIN m
CROSS JOIN LATERAL tiers.expected_purchases_interval(bg, 39, frequency, recency, tenure) i
JOIN (VALUES (1, 1.225994429671698, 1.1538677933297068, 1.3026295995736716, 0.04519268263676687),
             (2, 0.20341882760530636, 0.17159949505587496, 0.24113835189808544, 0.021036714059654408),
             (10, 0.19479364221265055, 0.18054194456478997, 0.21017034649725502, 0.008997735467821748),
             (100, 0.6268530191592131, 0.5839694877325277, 0.6728856830427399, 0.027005996238325607)) AS l(id, e, lo, hi, se)
  ON l.id = c.customer_id
ORDER BY 1;

-- 12-month CLV (monthly discount 1 %, months of 30 days) with the covariance of both models:
-- lifetimes' expected purchases and Gamma-Gamma spend, discounted in numpy
SELECT c.customer_id, round((i).estimate::numeric, 4) AS estimate, round((i).low::numeric, 4) AS low,
       round((i).high::numeric, 4) AS high,
       pg_temp.rel_near((i).estimate, l.e, 1e-6) AND pg_temp.rel_near((i).low, l.lo, 1e-6) AND pg_temp.rel_near((i).high, l.hi, 1e-6)
       AND pg_temp.rel_near((i).se, l.se, 1e-5) AS lifetimes,
       (i).estimate = tiers.clv_estimate(bg, gg, frequency, recency, tenure, monetary, '12 months', 0.01, '7 days') AS same_estimate
FROM cal c CROSS JOIN m
CROSS JOIN LATERAL tiers.clv_interval(bg, gg, frequency, recency, tenure, monetary, '12 months', 0.01, '7 days') i
JOIN (VALUES (1, 35.866580315548326, 33.26355214441672, 38.67330758743403, 1.6428940875714764),
             (2, 4.5874731306382515, 3.729205492278473, 5.643268993329162, 0.5776941682201174),
             (10, 8.24400982589165, 7.5505761546945305, 9.001127412924907, 0.4403694533633549),
             (100, 21.636007271887866, 19.988564446159547, 23.419231127382186, 1.041759223629773)) AS l(id, e, lo, hi, se)
  ON l.id = c.customer_id
ORDER BY 1;

-- every customer, every model: low <= estimate <= high, a wider interval at 95 %, the estimate of
-- the point functions, the bounds symmetric around the estimate on the log scale
SELECT kind, count(*) AS customers,
       count(*) FILTER (WHERE (a).low <= (a).estimate AND (a).estimate <= (a).high AND (a).low > 0) AS ordered,
       count(*) FILTER (WHERE (b).low <= (a).low AND (b).high >= (a).high) AS wider_at_95,
       count(*) FILTER (WHERE (a).estimate = point) AS same_estimate,
       count(*) FILTER (WHERE pg_temp.rel_near((a).low * (a).high, (a).estimate ^ 2, 1e-12)) AS log_symmetric
FROM (SELECT 'BG/NBD' AS kind, tiers.expected_purchases_interval(bg, 52, frequency, recency, tenure) AS a,
             tiers.expected_purchases_interval(bg, 52, frequency, recency, tenure, 0.95) AS b,
             tiers.expected_purchases(bg, 52, frequency, recency, tenure) AS point FROM cal, m
      UNION ALL
      SELECT 'MBG/NBD', tiers.expected_purchases_interval(mbg, 52, frequency, recency, tenure),
             tiers.expected_purchases_interval(mbg, 52, frequency, recency, tenure, 0.95),
             tiers.expected_purchases(mbg, 52, frequency, recency, tenure) FROM cal, m
      UNION ALL
      SELECT 'Pareto/NBD', tiers.expected_purchases_interval(pn, 52, frequency, recency, tenure),
             tiers.expected_purchases_interval(pn, 52, frequency, recency, tenure, 0.95),
             tiers.expected_purchases(pn, 52, frequency, recency, tenure) FROM cal, m
      UNION ALL
      SELECT 'CLV Pareto/NBD', tiers.clv_interval(pn, gg, frequency, recency, tenure, monetary, '12 months', 0.01, '7 days'),
             tiers.clv_interval(pn, gg, frequency, recency, tenure, monetary, '12 months', 0.01, '7 days', '1 month', 0.95),
             tiers.clv_estimate(pn, gg, frequency, recency, tenure, monetary, '12 months', 0.01, '7 days') FROM cal, m) x
GROUP BY kind ORDER BY kind;

-- BG/BB on the donations of Fader, Hardie & Shang (2010): lifetimes' covariance
CREATE TEMP TABLE donations (frequency float8, recency float8, periods float8, weights float8);
INSERT INTO donations VALUES
 (0,0,6,3464), (1,1,6,1091), (1,2,6,277), (1,3,6,129), (1,4,6,78), (1,5,6,119), (1,6,6,129),
 (2,2,6,613), (2,3,6,255), (2,4,6,155), (2,5,6,173), (2,6,6,234), (3,3,6,322), (3,4,6,181),
 (3,5,6,225), (3,6,6,357), (4,4,6,240), (4,5,6,284), (4,6,6,512), (5,5,6,335), (5,6,6,728),
 (6,6,6,1203);
CREATE TEMP TABLE bb AS SELECT tiers.bgbb_fit(frequency, recency, periods, weights) AS m FROM donations;
SELECT pg_temp.near_matrix((m).covariance,
         '{{0.004815161146125926, 0.001813892182075838, -0.0017000385849202842, -0.013520024752819163},
           {0.0018138921820758367, 0.0008671679906312575, -0.0005732177205944246, -0.004436926325857111},
           {-0.001700038584920314, -0.0005732177205944383, 0.0026020048309804964, 0.015792936999651497},
           {-0.013520024752819366, -0.004436926325857201, 0.01579293699965149, 0.1029247919004537}}', 1e-4) AS bgbb_lifetimes
FROM bb;
SELECT frequency, recency, round((i).estimate::numeric, 4) AS estimate, round((i).low::numeric, 4) AS low,
       round((i).high::numeric, 4) AS high, (i).estimate = tiers.expected_purchases(m, 5, frequency, recency, periods) AS same_estimate
FROM donations, bb, LATERAL tiers.expected_purchases_interval(m, 5, frequency, recency, periods) i
WHERE (frequency, recency) IN ((0, 0), (3, 6), (6, 6)) ORDER BY 1, 2;

-- a model without a covariance (a model saved by 0.2.0, or no proper maximum): the estimate
-- with NULL bounds
SELECT (i).estimate IS NOT NULL AS estimate, (i).low IS NULL AND (i).high IS NULL AND (i).se IS NULL AS no_bounds
FROM m, LATERAL tiers.expected_purchases_interval(((bg).r, (bg).alpha, (bg).a, (bg).b, NULL, NULL, NULL, NULL,
                                                   NULL, NULL, NULL, NULL, NULL)::tiers.bgnbd_model, 39, 2, 30, 39) i;
-- a zero horizon: [0, 0]
SELECT tiers.expected_purchases_interval(bg, 0, 2, 30, 39) FROM m;
-- errors name the argument; NULL arguments give NULL (STRICT), except where clv_estimate needs them
SELECT pg_temp.err($$SELECT tiers.expected_purchases_interval(bg, 39, 2, 30, 39, 1) FROM m$$);
SELECT pg_temp.err($$SELECT tiers.expected_purchases_interval(bg, 39, 2, 30, 39, 0) FROM m$$);
SELECT pg_temp.err($$SELECT tiers.expected_purchases_interval(bg, 39, 2, 30, 39, 'NaN') FROM m$$);
SELECT pg_temp.err($$SELECT tiers.expected_purchases_interval(bg, 39, 2, 40, 39) FROM m$$);
SELECT pg_temp.err($$SELECT tiers.expected_purchases_interval(pn, -1, 2, 30, 39) FROM m$$);
SELECT pg_temp.err($$SELECT tiers.clv_interval(bg, gg, 2, 30, 39, 20, '12 months', 0.01, '7 days', '1 month', NULL) FROM m$$);
SELECT pg_temp.err($$SELECT tiers.clv_interval(bg, gg, 2, 30, 39, 20, '12 months', 0.01, '7 days', '1 month', 1.5) FROM m$$);
-- the level is checked also where NULL data make the result NULL
SELECT pg_temp.err($$SELECT tiers.clv_interval(bg, gg, NULL, 30, 39, 20, '12 months', 0.01, '7 days', '1 month', 1.5) FROM m$$);
SELECT pg_temp.err($$SELECT tiers.clv_interval(NULL::tiers.bgnbd_model, gg, 2, 30, 39, 20, '12 months', 0.01, '7 days', '1 month', NULL) FROM m$$);
SELECT pg_temp.err($$SELECT tiers.expected_purchases_interval(m, 5, 3, 6, 6, 2) FROM bb$$);
SELECT pg_temp.err($$SELECT tiers.expected_purchases_interval(((bg).r, (bg).alpha, (bg).a, (bg).b, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, '{{1,2},{3,4}}')::tiers.bgnbd_model, 39, 2, 30, 39) FROM m$$);
SELECT tiers.expected_purchases_interval(bg, 39, 2, 30, 39, NULL) IS NULL AS strict FROM m;

-- tier views: "clv_interval": level adds clv_low and clv_high, equal to tiers.clv_interval with
-- the models of the refresh
SELECT tiers.create_tier_view('tv_ci', 'cdnow_sample', 'customer_id', 'ordered_on', 'amount',
                              '{"as_of": "1998-07-01", "unit": "7 days", "clv": true, "clv_interval": 0.8}');
SELECT count(*) AS customers,
       count(*) FILTER (WHERE v.clv_low = (i).low AND v.clv_high = (i).high AND v.clv = (i).estimate) AS same_as_clv_interval,
       count(*) FILTER (WHERE v.clv_low < v.clv AND v.clv < v.clv_high) AS ordered
FROM tv_ci v, (SELECT r.bgnbd, r.gamma_gamma FROM tiers.tier_view_refreshes r WHERE r.view_name = 'tv_ci') r,
     LATERAL tiers.clv_interval(r.bgnbd, r.gamma_gamma, v.frequency, v.recency, v.tenure, v.monetary,
                                '12 months', 0.01, '7 days', '1 month', 0.8) i;
SELECT col_description('tv_ci'::regclass, a.attnum) FROM pg_attribute a WHERE a.attrelid = 'tv_ci'::regclass AND a.attname = 'clv_low';
SELECT pg_temp.err($$SELECT tiers.create_tier_view('tv_x', 'cdnow_sample', 'customer_id', 'ordered_on', 'amount', '{"clv_interval": 0.9}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('tv_x', 'cdnow_sample', 'customer_id', 'ordered_on', 'amount', '{"clv": true, "clv_interval": 1}')$$);
SELECT pg_temp.err($$SELECT tiers.create_tier_view('tv_x', 'cdnow_sample', 'customer_id', 'ordered_on', 'amount', '{"clv": true, "clv_interval": "90%"}')$$);
SELECT tiers.drop_tier_view('tv_ci');
