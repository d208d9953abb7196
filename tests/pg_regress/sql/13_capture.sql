-- search_path capture: with traps named like the pg_catalog objects the extension uses planted in
-- public (searched before pg_catalog here) and relations planted in pg_temp, installing the
-- extension and calling every kind of function runs none of them.
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
SET client_min_messages = warning;
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all
SET client_min_messages = warning;
DROP EXTENSION customer_tiers CASCADE;
\i tests/sql/plant_traps.sql
SET search_path = public, pg_catalog;
SELECT public.caught('self-test');
SELECT what FROM public.captured;
SELECT 'a'::text = 'a'::text AS trap_works_for_plain_sql;
SELECT what FROM public.captured;
TRUNCATE public.captured;

CREATE EXTENSION customer_tiers;
SELECT count(*) AS traps_during_install FROM public.captured;

-- every kind of function, under the hostile search_path
CREATE TABLE s AS SELECT customer_id, (tiers.customer_summary(ordered_on, amount, '1998-06-30')).* FROM cdnow_master GROUP BY 1;
SELECT count(*) FROM (
  SELECT tiers.rfm_score(since_last, frequency, monetary_total, m, 'standard') AS sc,
         tiers.rfm_class8(since_last, frequency, monetary_total, m),
         tiers.abc_class(monetary_total, a), tiers.customer_tags(s)
  FROM s, (SELECT tiers.rfm_model(since_last, frequency, monetary_total) m, tiers.abc_model(monetary_total) a FROM s) x) y;
SELECT (tiers.pareto(monetary_total)).customers, cardinality(tiers.pareto_curve(monetary_total, 5)) FROM s;
SELECT round((f).r::numeric, 3), round(tiers.p_alive(f, 2, 30, 60)::numeric, 3),
       round(tiers.clv_estimate(f, g, 2, 30, 60, 20, '12 months', 0.01, '1 day')::numeric, 2)
FROM (SELECT tiers.bgnbd_fit(frequency, recency, tenure) f, tiers.gamma_gamma_fit(frequency, monetary) g FROM s) m;
SELECT tiers.rfm_segment(5, 5, 5), tiers.rfm_copy_rule_set('standard', 'mine');
SELECT count(*) FROM tiers.rfm_rule_check('mine');
SELECT tiers.define_tier_scheme('club', '[{"tier": "Basic", "entry": 0}, {"tier": "Gold", "entry": 500, "retain": 400}]', grace_evaluations => 1);
SELECT tiers.tier_of(600, 'club'), tiers.tier_of(450, 'club', 'Gold'), tiers.tier_of(10, 'club', 'Gold', 0),
       tiers.tier_of(5, ARRAY[0, 4], ARRAY['x', 'y']);
SELECT (tiers.tune_tag('dormant', '{"factor": 4}')).tag;
INSERT INTO tiers.tag_rules (tag, expression, params) VALUES ('whale', 'monetary_total >= $min', '{"min": 1000}');
SELECT customers FROM tiers.snapshot_tiers('club', 's', 'customer_id', 'monetary_total', '1998-06-30');
SELECT count(*) FROM tiers.transitions('club', '1998-06-30', '1998-06-30');
SELECT count(*) FROM tiers.tier_movements('club');
SELECT tiers.create_tier_view('v', 'cdnow_master', 'customer_id', 'ordered_on', 'amount',
  '{"as_of": "1998-06-30", "clv": true, "tier_scheme": "club", "history": false}');
SELECT customers FROM tiers.refresh_tier_view('v');
SELECT count(*) FROM tiers.tier_report('v');
SELECT tiers.drop_tier_view('v');

SELECT what, count(*) FROM public.captured GROUP BY what ORDER BY what;
SELECT count(*) AS traps_called FROM public.captured;
RESET search_path;

-- a pre-created "tiers" schema is never adopted (DROP EXTENSION leaves the schema it created)
DROP EXTENSION customer_tiers CASCADE;
DROP SCHEMA tiers;
CREATE SCHEMA tiers;
CREATE FUNCTION tiers.planted() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE EXTENSION customer_tiers;
DROP FUNCTION tiers.planted();
CREATE ROLE hostile_owner;
ALTER SCHEMA tiers OWNER TO hostile_owner;
CREATE EXTENSION customer_tiers;
DROP SCHEMA tiers;
DROP ROLE hostile_owner;
-- an empty schema of the installer is fine, and so is a missing one
CREATE SCHEMA tiers;
CREATE EXTENSION customer_tiers;
SELECT extversion IS NOT NULL AS installed FROM pg_extension WHERE extname = 'customer_tiers';

-- remove the traps
DROP TABLE s;
\i tests/sql/remove_traps.sql
