-- RFM: model vs percentile_cont, scores vs an independent SQL computation, segments, the
-- 8-class model, rule sets, NULLs and errors. Data: the CDNOW master file.
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
SET extra_float_digits = 0;
\i tests/sql/helpers.sql
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all

CREATE TABLE summaries AS
SELECT customer_id, customer_id % 3 AS region,
       (tiers.customer_summary(ordered_on, amount, '1998-06-30')).*
FROM cdnow_master GROUP BY customer_id;

-- the model
SELECT tiers.rfm_model(since_last, frequency, monetary_total) FROM summaries;

-- breakpoints equal percentile_cont exactly, for every bin count 2..10
SELECT b AS bins,
       (m).r_breaks = pr AND (m).f_breaks = pf AND (m).m_breaks = pm AS equal_to_percentile_cont,
       (m).customers,
       abs((m).r_mean - ar) < 1e-9 * ar AND abs((m).f_mean - af) < 1e-9 * af
       AND abs((m).m_mean - am) < 1e-9 * am AS means_equal_avg
FROM generate_series(2, 10) b,
LATERAL (SELECT tiers.rfm_model(since_last, frequency, monetary_total, b) AS m,
                percentile_cont((SELECT array_agg(k::float8 / b) FROM generate_series(1, b - 1) k))
                    WITHIN GROUP (ORDER BY since_last) AS pr,
                percentile_cont((SELECT array_agg(k::float8 / b) FROM generate_series(1, b - 1) k))
                    WITHIN GROUP (ORDER BY frequency) AS pf,
                percentile_cont((SELECT array_agg(k::float8 / b) FROM generate_series(1, b - 1) k))
                    WITHIN GROUP (ORDER BY monetary_total) AS pm,
                avg(since_last) AS ar, avg(frequency) AS af, avg(monetary_total) AS am
         FROM summaries) x
ORDER BY b;

-- the single-query idiom; scores equal an independent computation from the breakpoints
CREATE TABLE scored AS
SELECT customer_id, since_last, frequency, monetary_total, region,
       tiers.rfm_score(since_last, frequency, monetary_total,
                       tiers.rfm_model(since_last, frequency, monetary_total) OVER ()) AS s,
       tiers.rfm_model(since_last, frequency, monetary_total) OVER () AS model
FROM summaries;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE (s).r = 5 - (SELECT count(*) FROM unnest((model).r_breaks) b WHERE b < since_last)
                          AND (s).f = 1 + (SELECT count(*) FROM unnest((model).f_breaks) b WHERE b < frequency)
                          AND (s).m = 1 + (SELECT count(*) FROM unnest((model).m_breaks) b WHERE b < monetary_total)
                          AND (s).score = (s).r::text || (s).f || (s).m
                          AND (s).segment = tiers.rfm_segment((s).r, (s).f, (s).m)) AS agree
FROM scored;
-- ties always share a score
SELECT count(*) AS tie_groups_with_several_scores FROM (
  SELECT since_last, frequency, monetary_total FROM scored
  GROUP BY 1, 2, 3 HAVING count(DISTINCT (s).score) > 1) t;
SELECT (s).segment, count(*) FROM scored GROUP BY 1 ORDER BY 2 DESC, 1;

-- per-group models with PARTITION BY
SELECT region, count(DISTINCT (m).r_breaks::text) AS models, min((m).customers) AS customers
FROM (SELECT region, tiers.rfm_model(since_last, frequency, monetary_total) OVER (PARTITION BY region) AS m
      FROM summaries) t GROUP BY region ORDER BY region;

-- the model is a value: text round trip, storage in a table, field access
CREATE TABLE models AS SELECT 'cdnow'::text AS name, tiers.rfm_model(since_last, frequency, monetary_total) AS model FROM summaries;
RESET extra_float_digits;
SELECT model::text::tiers.rfm_model = model AS round_trips, (model).bins, (model).f_breaks FROM models;
SET extra_float_digits = 0;
SELECT (tiers.rfm_score(since_last, frequency, monetary_total, m.model)).score, count(*)
FROM summaries, models m GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5;

-- a hand-written model
SELECT tiers.rfm_score(10, 3, 250, '(5,0,"{5,10,20,40}","{1,2,3,4}","{50,100,200,400}",0,0,0)');
SELECT tiers.rfm_score(10, 3, 250, '(3,0,"{5,10}","{1,2}","{50,100}",0,0,0)');
SELECT tiers.rfm_score(1, 30, 250, '(10,0,"{1,2,3,4,5,6,7,8,9}","{1,2,3,4,5,6,7,8,9}","{1,2,3,4,5,6,7,8,9}",0,0,0)');

-- NULL behaviour
SELECT tiers.rfm_score(NULL, 1, 1, model) IS NULL AS null_recency FROM models;
SELECT tiers.rfm_score(1, 1, 1, NULL) IS NULL AS null_model;
SELECT tiers.rfm_model(r, f, m) FROM (VALUES (1.0::float8, 1.0::float8, NULL::float8), (2, 2, 2), (NULL, 3, 3)) v(r, f, m);
SELECT tiers.rfm_model(r, f, m) IS NULL AS empty_population FROM (VALUES (1.0::float8, 1.0::float8, 1.0::float8)) v(r, f, m) WHERE false;
SELECT tiers.rfm_segment(NULL, 1, 1) IS NULL, tiers.rfm_class8(1, 1, NULL, model) IS NULL FROM models;

-- segments: presets
SELECT rule_set, bins, preset, description FROM tiers.rfm_rule_sets ORDER BY rule_set;
SELECT priority, segment, r_min, r_max, f_min, f_max, m_min, m_max
FROM tiers.rfm_segment_rules WHERE rule_set = 'standard' ORDER BY priority;
-- every cell of the grid gets a named segment or 'Others'
SELECT tiers.rfm_segment(r, f, m) AS segment, count(*) AS cells
FROM generate_series(1, 5) r, generate_series(1, 5) f, generate_series(1, 5) m GROUP BY 1 ORDER BY 1;
SELECT tiers.rfm_segment(r, f, m, 'rfm_0_3') AS segment, count(*) AS cells
FROM generate_series(1, 5) r, generate_series(1, 5) f, generate_series(1, 5) m GROUP BY 1 ORDER BY 1;
SELECT * FROM tiers.rfm_rule_check('standard') WHERE problem <> 'overlap';
SELECT problem, count(*) FROM tiers.rfm_rule_check('standard') GROUP BY 1 ORDER BY 1;

-- user rule sets: copy, edit, check, use; presets are read-only
SELECT tiers.rfm_copy_rule_set('standard', 'mine');
UPDATE tiers.rfm_segment_rules SET segment = 'Stars' WHERE rule_set = 'mine' AND segment = 'Champions';
SELECT tiers.rfm_segment(5, 5, 5, 'mine');
SELECT pg_temp.err($$UPDATE tiers.rfm_segment_rules SET segment = 'x' WHERE rule_set = 'standard' AND priority = 10$$);
SELECT pg_temp.err($$DELETE FROM tiers.rfm_rule_sets WHERE rule_set = 'standard'$$);
SELECT pg_temp.err($$INSERT INTO tiers.rfm_segment_rules VALUES ('standard', 999, 'x', 1, 1, 1, 1, 1, 1)$$);
SELECT pg_temp.err($$INSERT INTO tiers.rfm_segment_rules VALUES ('mine', 999, 'x', 1, 6, 1, 1, 1, 1)$$);
SELECT pg_temp.err($$INSERT INTO tiers.rfm_segment_rules VALUES ('mine', 999, 'Others', 1, 1, 1, 1, 1, 1)$$);
SELECT pg_temp.err($$SELECT tiers.rfm_copy_rule_set('nope', 'x')$$);
SELECT pg_temp.err($$SELECT tiers.rfm_copy_rule_set('standard', 'mine')$$);
INSERT INTO tiers.rfm_rule_sets (rule_set, bins, description) VALUES ('tri', 3, 'three bins');
INSERT INTO tiers.rfm_segment_rules (rule_set, priority, segment, r_min, r_max, f_min, f_max, m_min, m_max)
VALUES ('tri', 1, 'Top', 3, 3, 3, 3, 3, 3), ('tri', 2, 'Bottom', 1, 1, 1, 1, 1, 1);
SELECT (s).segment AS seg, (s).score, count(*)
FROM (SELECT tiers.rfm_score(since_last, frequency, monetary_total,
                             tiers.rfm_model(since_last, frequency, monetary_total, 3) OVER (), 'tri') AS s
      FROM summaries) t
WHERE (s).score IN ('333', '111', '123') GROUP BY 1, 2 ORDER BY 1;
-- the default segment of a non-5-bin model is NULL (the standard rules are a 5x5x5 grid)
SELECT (tiers.rfm_score(1, 1, 1, tiers.rfm_model(since_last, frequency, monetary_total, 3))).segment IS NULL FROM summaries;
-- configuration tables are dumped by pg_dump (user rows only)
SELECT c.relname, x.cond FROM pg_extension e,
  unnest(e.extconfig, e.extcondition) AS x(oid, cond) JOIN pg_class c ON c.oid = x.oid
WHERE e.extname = 'customer_tiers' ORDER BY 1;

-- the 8-class model, checked against the plain-SQL definition (population means)
SELECT class, count(*)
FROM (SELECT tiers.rfm_class8(since_last, frequency, monetary_total,
                              tiers.rfm_model(since_last, frequency, monetary_total) OVER ()) AS class
      FROM summaries) t GROUP BY 1 ORDER BY 1;
SELECT count(*) FILTER (WHERE c8 = CASE WHEN m > am THEN '重要' ELSE '一般' END ||
         CASE WHEN r < ar AND f > af THEN '价值客户' WHEN f > af THEN '保持客户'
              WHEN r < ar THEN '发展客户' ELSE '挽留客户' END) AS agree, count(*)
FROM (SELECT since_last r, frequency f, monetary_total m,
             avg(since_last) OVER () ar, avg(frequency) OVER () af, avg(monetary_total) OVER () am,
             tiers.rfm_class8(since_last, frequency, monetary_total, tiers.rfm_model(since_last, frequency, monetary_total) OVER ()) c8
      FROM summaries) t;
SELECT DISTINCT tiers.rfm_class8(r, f, m, model, 'en') AS en, tiers.rfm_class8(r, f, m, model) AS zh
FROM models, (VALUES (0, 100, 1e6), (1e6, 100, 1e6), (0, 0, 1e6), (1e6, 0, 1e6),
                     (0, 100, 0), (1e6, 100, 0), (0, 0, 0), (1e6, 0, 0)) v(r, f, m) ORDER BY 1;

-- errors
SELECT pg_temp.err($$SELECT tiers.rfm_model(since_last, frequency, monetary_total, 1) FROM summaries$$);
SELECT pg_temp.err($$SELECT tiers.rfm_model(since_last, frequency, monetary_total, 11) FROM summaries$$);
SELECT pg_temp.err($$SELECT tiers.rfm_model(since_last, frequency, monetary_total, NULL) FROM summaries$$);
SELECT pg_temp.err($$SELECT tiers.rfm_model(r, 1, 1, b) FROM (VALUES (1.0, 5), (2.0, 4)) v(r, b)$$);
SELECT pg_temp.err($$SELECT tiers.rfm_model('NaN', 1, 1)$$);
SELECT pg_temp.err($$SELECT tiers.rfm_model(1, 'Infinity', 1)$$);
SELECT pg_temp.err($$SELECT tiers.rfm_score('NaN', 1, 1, model) FROM models$$);
SELECT pg_temp.err($$SELECT tiers.rfm_score(1, 1, 1, '(5,0,"{1,2}","{1,2,3,4}","{1,2,3,4}",0,0,0)')$$);
SELECT pg_temp.err($$SELECT tiers.rfm_score(1, 1, 1, '(5,0,"{4,3,2,1}","{1,2,3,4}","{1,2,3,4}",0,0,0)')$$);
SELECT pg_temp.err($$SELECT tiers.rfm_score(1, 1, 1, '(12,0,"{4,3,2,1}","{1,2,3,4}","{1,2,3,4}",0,0,0)')$$);
SELECT pg_temp.err($$SELECT tiers.rfm_score(1, 1, 1, '(5,0,,"{1,2,3,4}","{1,2,3,4}",0,0,0)')$$);
SELECT pg_temp.err($$SELECT tiers.rfm_score(1, 1, 1, '(5,0,"{1,NULL,3,4}","{1,2,3,4}","{1,2,3,4}",0,0,0)')$$);
SELECT pg_temp.err($$SELECT tiers.rfm_score(1, 1, 1, model, 'tri') FROM models$$);
SELECT pg_temp.err($$SELECT tiers.rfm_score(1, 1, 1, model, 'no such set') FROM models$$);
SELECT pg_temp.err($$SELECT tiers.rfm_segment(6, 1, 1)$$);
SELECT pg_temp.err($$SELECT tiers.rfm_segment(0, 1, 1)$$);
SELECT pg_temp.err($$SELECT tiers.rfm_segment(1, 1, 1, 'no such set')$$);
SELECT pg_temp.err($$SELECT tiers.rfm_class8(1, 1, 1, model, 'fr') FROM models$$);
SELECT pg_temp.err($$SELECT tiers.rfm_class8('NaN', 1, 1, model) FROM models$$);
