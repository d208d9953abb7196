-- Every aggregate of the extension, every overload, on 1.2M rows with parallel query forced: the
-- plan has a Partial Aggregate and the result equals the serial run (floating-point sums compared
-- to 8 decimals, since parallel plans add in another order).
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
CREATE TABLE par AS
SELECT g AS id, (g % 200000)::int AS customer,
       date '2020-01-01' + ((g * 7919) % 900)::int AS d,
       ((g * 104729) % 50000) / 100.0 - 20 AS amount,
       ((g % 13))::float8 AS f, (CASE WHEN g % 13 = 0 THEN 0 ELSE (g % 13) * 3 + (g % 5) END)::float8 AS r, (60 + (g % 13) * 3 + (g % 5) + (g % 7))::float8 AS t,
       (1 + (g * 31) % 997)::float8 AS m, (1 + g % 3)::float8 AS w
FROM generate_series(1::bigint, 1200000) g;
ANALYZE par;

CREATE FUNCTION pg_temp.norm(x text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT regexp_replace(x, '(\d+\.\d{8})\d*(e[-+]?\d+)?', '\1', 'g') $$;
CREATE FUNCTION pg_temp.check_agg(q text) RETURNS TABLE (partial boolean, equal boolean) LANGUAGE plpgsql AS $$
DECLARE serial text; parallel text; line text; has_partial boolean := false;
BEGIN
    SET LOCAL max_parallel_workers_per_gather = 0;
    EXECUTE q INTO serial;
    SET LOCAL max_parallel_workers_per_gather = 4;
    SET LOCAL parallel_setup_cost = 0;
    SET LOCAL parallel_tuple_cost = 0;
    SET LOCAL min_parallel_table_scan_size = 0;
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        has_partial := has_partial OR line ~ 'Partial (Hash|Group)?Aggregate';
    END LOOP;
    EXECUTE q INTO parallel;
    RETURN QUERY SELECT has_partial, pg_temp.norm(serial) = pg_temp.norm(parallel) AND serial IS NOT NULL;
END $$;

SELECT a.name, c.partial, c.equal
FROM (VALUES
  ('customer_summary(date, numeric, date)', $$SELECT md5(string_agg(x::text, ',' ORDER BY customer)) FROM (SELECT customer, tiers.customer_summary(d, amount, '2022-06-30') x FROM par GROUP BY customer) s$$),
  ('customer_summary(date, float8, date, unit)', $$SELECT md5(string_agg(pg_temp.norm(x::text), ',' ORDER BY customer)) FROM (SELECT customer, tiers.customer_summary(d, amount::float8, '2022-06-30', '7 days') x FROM par GROUP BY customer) s$$),
  ('customer_summary(timestamp, numeric, timestamp)', $$SELECT md5(string_agg(x::text, ',' ORDER BY customer)) FROM (SELECT customer, tiers.customer_summary(d::timestamp, amount, '2022-06-30'::timestamp) x FROM par GROUP BY customer) s$$),
  ('customer_summary(timestamptz, float8, timestamptz, unit)', $$SELECT md5(string_agg(pg_temp.norm(x::text), ',' ORDER BY customer)) FROM (SELECT customer, tiers.customer_summary(d::timestamptz, amount::float8, '2022-06-30'::timestamptz, '1 day') x FROM par GROUP BY customer) s$$),
  ('holdout_summary(date, numeric, date, date)', $$SELECT md5(string_agg(x::text, ',' ORDER BY customer)) FROM (SELECT customer, tiers.holdout_summary(d, amount, '2021-06-30', '2022-03-31') x FROM par GROUP BY customer) s$$),
  ('holdout_summary(timestamptz, float8, timestamptz, timestamptz, unit)', $$SELECT md5(string_agg(pg_temp.norm(x::text), ',' ORDER BY customer)) FROM (SELECT customer, tiers.holdout_summary(d::timestamptz, amount::float8, '2021-06-30'::timestamptz, '2022-03-31'::timestamptz, '7 days') x FROM par GROUP BY customer) s$$),
  ('holdout_summary(date, float8, date, date) one group', $$SELECT pg_temp.norm(tiers.holdout_summary(d, amount::float8, '2021-06-30', '2022-03-31')::text) FROM par$$),
  ('rfm_model(r, f, m)', $$SELECT tiers.rfm_model(r, f, m)::text FROM par$$),
  ('rfm_model(r, f, m, bins)', $$SELECT tiers.rfm_model(r, f, m, 7)::text FROM par$$),
  ('abc_model(value)', $$SELECT tiers.abc_model(m)::text FROM par$$),
  ('abc_model(value, a_cut, b_cut)', $$SELECT tiers.abc_model(m, 0.7, 0.9)::text FROM par$$),
  ('abc_model(value, a_cut, b_cut, convention)', $$SELECT tiers.abc_model(m, 0.7, 0.9, 'including')::text FROM par$$),
  ('abc_model(value, ''computed'')', $$SELECT tiers.abc_model(m, 'computed')::text FROM par$$),
  ('pareto(value)', $$SELECT tiers.pareto(m)::text FROM par$$),
  ('pareto_curve(value, points)', $$SELECT tiers.pareto_curve(m, 11)::text FROM par$$),
  ('bgnbd_fit(f, r, t)', $$SELECT tiers.bgnbd_fit(f, r, t)::text FROM par$$),
  ('bgnbd_fit(f, r, t, weight)', $$SELECT tiers.bgnbd_fit(f, r, t, w)::text FROM par$$),
  ('bgnbd_fit(f, r, t, weight, penalizer)', $$SELECT tiers.bgnbd_fit(f, r, t, w, 0.01)::text FROM par$$),
  ('mbgnbd_fit(f, r, t)', $$SELECT tiers.mbgnbd_fit(f, r, t)::text FROM par$$),
  ('mbgnbd_fit(f, r, t, weight, penalizer)', $$SELECT tiers.mbgnbd_fit(f, r, t, w, 0.01)::text FROM par$$),
  ('paretonbd_fit(f, r, t)', $$SELECT tiers.paretonbd_fit(f, r, t)::text FROM par$$),
  ('paretonbd_fit(f, r, t, weight)', $$SELECT tiers.paretonbd_fit(f, r, t, w)::text FROM par$$),
  ('gamma_gamma_fit(f, m)', $$SELECT tiers.gamma_gamma_fit(f, m)::text FROM par$$),
  ('gamma_gamma_fit(f, m, weight, penalizer)', $$SELECT tiers.gamma_gamma_fit(f, m, w, 0.01)::text FROM par$$),
  -- A/B results rounded: Welch's df sits on an integer and p-values are tiny, where the 8-decimal
  -- truncation of norm() flips on the last bit
  ('ab_test(variant, outcome)', $$SELECT string_agg(concat_ws(' ', r.variant, r.n, round(r.mean::numeric, 6), round(r.sd::numeric, 6), r.method, round(r.difference::numeric, 6), round(r.lift::numeric, 6), round(r.statistic::numeric, 4), round(r.df::numeric), r.p_value < 1e-20), '; ') FROM (SELECT tiers.ab_test(CASE WHEN id % 3 = 0 THEN 'a' WHEN id % 3 = 1 THEN 'b' ELSE 'c' END, m / 13.7 + id % 3) AS t FROM par) x, unnest(x.t) r$$),
  ('ab_test(variant, outcome, control)', $$SELECT string_agg(concat_ws(' ', r.variant, r.n, round(r.mean::numeric, 8), r.method, round(r.difference::numeric, 8), round(r.statistic::numeric, 6), round(r.p_value::numeric, 8)), '; ') FROM (SELECT tiers.ab_test(CASE WHEN id % 2 = 0 THEN 'x' ELSE 'y' END, (id % 7 = 0)::int, 'y') AS t FROM par) x, unnest(x.t) r$$),
  ('nps(score)', $$SELECT tiers.nps((id % 11)::int)::text FROM par$$),
  ('bgbb_fit(f, r, n)', $$SELECT tiers.bgbb_fit(least(f, 12), least(r, 12) * (f > 0)::int, 12)::text FROM par$$),
  ('bgbb_fit(f, r, n, weight, penalizer)', $$SELECT tiers.bgbb_fit(least(f, 10), least(r, 10) * (f > 0)::int, 10, w, 0.01)::text FROM par$$),
  ('clv_validation(bgnbd_model, ...)', $$SELECT tiers.clv_validation('(0.243,4.414,0.793,2.426,,,,,,,,,)'::tiers.bgnbd_model, f, r, t, (id % 4)::float8, 39)::text FROM par$$),
  ('clv_validation(bgbb_model, ...)', $$SELECT tiers.clv_validation('(1.204,0.75,0.657,2.783,,,,,,,,,)'::tiers.bgbb_model, least(f, 12), least(r, 12) * (f > 0)::int, 12, (id % 3)::float8, 4)::text FROM par$$),
  ('clv_validation(gamma_gamma_model, ...)', $$SELECT tiers.clv_validation('(6.25,3.74,15.44,,,,,,,,)'::tiers.gamma_gamma_model, f, m, CASE WHEN id % 3 = 0 THEN NULL ELSE m * 0.9 END)::text FROM par$$),
  -- K-means fits the rows in a canonical order: the same model whatever the plan
  ('kmeans_model(features, k)', $$SELECT tiers.kmeans_model(ARRAY[f, r, (m::int % 10)], 4)::text FROM par$$),
  ('kmeans_model(features, k, options)', $$SELECT tiers.kmeans_model(ARRAY[f, r, (m::int % 10)], 3, '{"log1p": true, "n_init": 2}')::text FROM par$$),
  ('kmeans_choose_k(features, k_min, k_max)', $$SELECT tiers.kmeans_choose_k(ARRAY[f, r], 2, 4)::text FROM par$$),
  ('kmeans_choose_k(features, k_min, k_max, options)', $$SELECT tiers.kmeans_choose_k(ARRAY[f, (m::int % 7)], 2, 3, '{"scale": "none"}')::text FROM par$$)
) AS a(name, q), pg_temp.check_agg(a.q) AS c;

-- every aggregate of the extension appears above (by name)
SELECT DISTINCT p.proname AS aggregate FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'customer_tiers'
WHERE p.prokind = 'a' ORDER BY 1;
DROP TABLE par;
