-- ABC / Pareto: classes against independent window-function SQL (CDNOW master and synthetic
-- ties), the computed ABC analysis against the R reference implementation, concentration
-- statistics, the curve, NULL / zero / negative values, parallel plans and errors.
\set VERBOSITY terse
SET extra_float_digits = 0;
\i tests/sql/helpers.sql
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all

-- revenue per customer (CDNOW master), and a synthetic population full of ties, zeros,
-- refunds and NULLs
CREATE TABLE revenue AS
SELECT customer_id AS id, sum(amount)::float8 AS v FROM cdnow_master GROUP BY customer_id;
CREATE TABLE ties AS
SELECT g AS id, CASE WHEN g % 50 = 0 THEN NULL WHEN g % 17 = 0 THEN -(g % 7)
                     ELSE (g % 13) * 10 END::float8 AS v
FROM generate_series(1, 5000) g;

-- worked example of the two conventions (total 100):
--   value:                       50   20   10   10    5    2    2    1
--   share of those above:         0  .50  .70  .70  .90  .95  .95  .99
--   share including own ties:   .50  .70  .90  .90  .95  .99  .99 1.00
--   'before'    (above < .80 / < .95):   A A A A B C C C
--   'including' (incl. <= .80 / <= .95): A A B B B C C C
CREATE TABLE example AS SELECT * FROM unnest(ARRAY[50, 20, 10, 10, 5, 2, 2, 1]::float8[]) WITH ORDINALITY AS t(v, id);
SELECT string_agg(tiers.abc_class(v, b), '' ORDER BY id) AS before,
       string_agg(tiers.abc_class(v, i), '' ORDER BY id) AS including
FROM (SELECT id, v, tiers.abc_model(v) OVER () AS b,
             tiers.abc_model(v, 0.8, 0.95, 'including') OVER () AS i FROM example) t;

-- the reference: plain window functions. 'before': share of the strictly larger values
-- (running sum including peers minus the peers);
-- 'including': share up to and including the peers (the default RANGE frame).
CREATE FUNCTION pg_temp.reference(tbl regclass, convention text) RETURNS TABLE (id bigint, class text)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format($q$
    SELECT id::bigint, CASE WHEN v <= 0 THEN 'C'
                    WHEN %2$s THEN 'A' WHEN %3$s THEN 'B' ELSE 'C' END
    FROM (SELECT id, v,
                 (sum(greatest(v, 0)) OVER (ORDER BY v DESC) - sum(greatest(v, 0)) OVER (PARTITION BY v))
                     / sum(greatest(v, 0)) OVER () AS above,
                 sum(greatest(v, 0)) OVER (ORDER BY v DESC) / sum(greatest(v, 0)) OVER () AS incl
          FROM %1$s WHERE v IS NOT NULL) s $q$, tbl,
    CASE convention WHEN 'before' THEN 'above < 0.8' ELSE 'incl <= 0.8' END,
    CASE convention WHEN 'before' THEN 'above < 0.95' ELSE 'incl <= 0.95' END);
END $$;
CREATE FUNCTION pg_temp.ours(tbl regclass, convention text) RETURNS TABLE (id bigint, class text)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format($q$
    SELECT id::bigint, tiers.abc_class(v, tiers.abc_model(v, 0.8, 0.95, %2$L) OVER ())
    FROM %1$s WHERE v IS NOT NULL $q$, tbl, convention);
END $$;
SELECT t.tbl AS population, c.convention, count(*) AS customers,
       count(*) FILTER (WHERE r.class IS DISTINCT FROM m.class) AS mismatches,
       string_agg(DISTINCT m.class, '') AS classes
FROM (VALUES ('revenue'::regclass), ('ties')) t(tbl)
CROSS JOIN (VALUES ('before'), ('including')) c(convention)
CROSS JOIN LATERAL (SELECT r.id, r.class, o.class AS ours
                    FROM pg_temp.reference(t.tbl, c.convention) r
                    FULL JOIN pg_temp.ours(t.tbl, c.convention) o ON o.id = r.id) r(id, class, ours)
CROSS JOIN LATERAL (SELECT r.ours AS class) m
GROUP BY 1, 2 ORDER BY 1, 2;
-- abc_class(cumulative_share) applied to the running share gives the 'including' classes
SELECT count(*) FILTER (WHERE c1 IS DISTINCT FROM c2) AS mismatches FROM (
  SELECT tiers.abc_class(v, tiers.abc_model(v, 0.8, 0.95, 'including') OVER ()) AS c1,
         tiers.abc_class(sum(v) OVER (ORDER BY v DESC) / sum(v) OVER ()) AS c2
  FROM revenue) t;
-- equal values always share a class
SELECT count(*) AS values_with_two_classes FROM (
  SELECT v FROM (SELECT v, tiers.abc_class(v, tiers.abc_model(v) OVER ()) c FROM ties) t
  GROUP BY v HAVING count(DISTINCT c) > 1) x;
-- the model value
SELECT method, a_cut, b_cut, a_min, b_min, customers, round(total::numeric, 2) AS total,
       a_customers, b_customers, c_customers
FROM (SELECT (tiers.abc_model(v)).* FROM revenue) m;
SELECT (tiers.abc_model(v, 0.5, 0.9, 'including')).* FROM ties;

-- computed ABC analysis (Ultsch & Lötsch 2015). Reference: R package ABCanalysis 1.2.1 (R 4.2.2)
-- on the same CDNOW revenue: ABexchanged = TRUE, A|B at effort 0.25, B|C at 0.366,
-- ABLimit = 106.5, BCLimit = 68.04, |A| = 5890, |B| = 2738, |C| = 14942.
SELECT method, round(a_cut::numeric, 4) AS a_share, round(b_cut::numeric, 4) AS ab_share,
       a_min, b_min, a_customers, b_customers, c_customers
FROM (SELECT (tiers.abc_model(v, 'computed')).* FROM revenue) m;
SELECT count(*) FILTER (WHERE c = 'A') = count(*) FILTER (WHERE v > 106.5) AS a_is_above_ablimit,
       count(*) FILTER (WHERE c = 'B') = count(*) FILTER (WHERE v BETWEEN 68.04 AND 106.5) AS b_is_between
FROM (SELECT v, tiers.abc_class(v, tiers.abc_model(v, 'computed') OVER ()) c FROM revenue) t;
-- R reference vectors: c(100,60,40,25,20,15,12,10,8,6,5,4,3,2,1) -> A = 1:3, B = 4:6, C = 7:15;
-- c(0.844,0.7936,0.9199,0.7875) -> A = {3}, B = {1, 2}, C = {4} (A|B exchanged)
SELECT string_agg(tiers.abc_class(v, m), '' ORDER BY k) FROM (
  SELECT k, v, tiers.abc_model(v, 'computed') OVER () m
  FROM unnest(ARRAY[100,60,40,25,20,15,12,10,8,6,5,4,3,2,1]::float8[]) WITH ORDINALITY u(v, k)) t;
SELECT string_agg(tiers.abc_class(v, m), '' ORDER BY k) FROM (
  SELECT k, v, tiers.abc_model(v, 'computed') OVER () m
  FROM unnest(ARRAY[0.844,0.7936,0.9199,0.7875]::float8[]) WITH ORDINALITY u(v, k)) t;

-- concentration statistics against plain SQL
SELECT p.customers, round(p.total::numeric, 2) AS total, round(p.top20_share::numeric, 6) AS top20_share,
       round(p.gini::numeric, 6) AS gini, p.a_customers, p.b_customers, p.c_customers,
       round(p.a_share::numeric, 6) AS a_share,
       abs(p.gini - g.gini) < 1e-12 AS gini_matches_sql, abs(p.top20_share - g.top20) < 1e-12 AS top20_matches_sql
FROM (SELECT (tiers.pareto(v)).* FROM revenue) p,
     (SELECT 2 * sum(rn * x) / (count(*) * sum(x)) - (count(*) + 1.0) / count(*) AS gini
      FROM (SELECT greatest(v, 0) x, row_number() OVER (ORDER BY greatest(v, 0)) rn FROM revenue) s) g0
     CROSS JOIN LATERAL (SELECT g0.gini,
       (SELECT (sum(x) FILTER (WHERE rn <= k)
                + coalesce(max(x) FILTER (WHERE rn = k + 1), 0) * (max(pos) - max(k))) / max(tot)
        FROM (SELECT greatest(v, 0) x, row_number() OVER (ORDER BY v DESC) rn,
                     0.2 * count(*) OVER () AS pos, floor(0.2 * count(*) OVER ()) AS k,
                     sum(greatest(v, 0)) OVER () tot FROM revenue) s) AS top20) g;
SELECT (tiers.pareto(v)).* FROM ties;
SELECT (tiers.pareto(v)).* FROM (VALUES (5.0::float8), (5), (5), (5)) t(v);

-- the curve
SELECT (unnest(tiers.pareto_curve(v, 6))).* FROM (VALUES (60.0::float8), (20), (10), (10), (0)) t(v);
SELECT array_length(tiers.pareto_curve(v), 1) AS points, (tiers.pareto_curve(v))[1] AS first,
       (tiers.pareto_curve(v))[101] AS last,
       abs((tiers.pareto_curve(v))[21].value_share - (tiers.pareto(v)).top20_share) < 1e-12 AS point_21_is_top20
FROM revenue;

-- NULL, zero and negative values
SELECT tiers.abc_class(NULL::float8, tiers.abc_model(1.0)) IS NULL AS null_value,
       tiers.abc_class(1.0, NULL::tiers.abc_model) IS NULL AS null_model,
       tiers.abc_class(NULL::float8) IS NULL AS null_share;
SELECT tiers.abc_model(v) IS NULL AS empty, tiers.pareto(v) IS NULL, tiers.pareto_curve(v) IS NULL
FROM revenue WHERE false;
SELECT (tiers.abc_model(v)).*, (tiers.pareto(v)).gini FROM (VALUES (0.0::float8), (-3.0), (NULL)) t(v);
SELECT (unnest(tiers.pareto_curve(v, 3))).* FROM (VALUES (0.0::float8), (-3.0)) t(v);

-- per-group models
SELECT id % 3 AS grp, count(DISTINCT (m).a_min) AS models, min((m).customers) AS customers
FROM (SELECT id, tiers.abc_model(v) OVER (PARTITION BY id % 3) m FROM revenue) t GROUP BY 1 ORDER BY 1;

-- parallel plans give the serial results (1.2M values with ties)
CREATE TABLE big_values AS SELECT g AS id, ((g * 7919) % 100000) / 100.0 - 5 AS v FROM generate_series(1::bigint, 1200000) g;
ANALYZE big_values;
CREATE FUNCTION pg_temp.fingerprint() RETURNS text LANGUAGE sql AS $$
  SELECT md5(tiers.abc_model(v)::text || tiers.abc_model(v, 'computed')::text
             || tiers.pareto(v)::text || tiers.pareto_curve(v)::text) FROM big_values $$;
SET max_parallel_workers_per_gather = 0;
SELECT pg_temp.fingerprint() AS serial \gset
SET max_parallel_workers_per_gather = 4;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT tiers.abc_model(v), tiers.pareto(v), tiers.pareto_curve(v) FROM big_values;
SELECT pg_temp.fingerprint() = :'serial' AS parallel_equals_serial;
RESET max_parallel_workers_per_gather;

-- errors
SELECT pg_temp.err($$SELECT tiers.abc_class(0.5, 0.9, 0.8)$$);
SELECT pg_temp.err($$SELECT tiers.abc_class(0.5, 0, 0.8)$$);
SELECT pg_temp.err($$SELECT tiers.abc_class(0.5, 0.8, 1)$$);
SELECT pg_temp.err($$SELECT tiers.abc_class(0.5, 0.8, 0.8)$$);
SELECT pg_temp.err($$SELECT tiers.abc_class('NaN', 0.8, 0.9)$$);
SELECT pg_temp.err($$SELECT tiers.abc_model(v, 0.95, 0.8) FROM revenue$$);
SELECT pg_temp.err($$SELECT tiers.abc_model(v, -0.1, 0.8) FROM revenue$$);
SELECT pg_temp.err($$SELECT tiers.abc_model(v, NULL, 0.8) FROM revenue$$);
SELECT pg_temp.err($$SELECT tiers.abc_model(v, 0.8, 0.95, 'after') FROM revenue$$);
SELECT pg_temp.err($$SELECT tiers.abc_model(v, 0.8, 0.95, 'computed') FROM revenue$$);
SELECT pg_temp.err($$SELECT tiers.abc_model(v, c) FROM (VALUES (1.0, 'before'), (2.0, 'including')) t(v, c)$$);
SELECT pg_temp.err($$SELECT tiers.abc_model('NaN'::float8)$$);
SELECT pg_temp.err($$SELECT tiers.pareto('-Infinity'::float8)$$);
SELECT pg_temp.err($$SELECT tiers.pareto_curve(v, 1) FROM revenue$$);
SELECT pg_temp.err($$SELECT tiers.pareto_curve(v, 10002) FROM revenue$$);
SELECT pg_temp.err($$SELECT tiers.abc_class('Infinity'::float8, tiers.abc_model(1.0))$$);
SELECT pg_temp.err($$SELECT tiers.abc_class(1.0, '(before,0.8,0.95,1,5,1,1,1,0,0,1,0,0)'::tiers.abc_model)$$);
