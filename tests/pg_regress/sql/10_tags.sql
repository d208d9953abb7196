-- Tags: presets, customer_tags on hand-checked rows, overrides, validation of user rules
-- (no injection, no unsafe functions), and agreement with plain SQL on CDNOW.
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
\i tests/sql/helpers.sql

SELECT tag, label_zh, expression, params, position FROM tiers.effective_tag_rules ORDER BY position;
SELECT count(*) AS columns, count(*) FILTER (WHERE kind = 'text') AS text_columns FROM tiers.tag_columns();

-- hand-checked customers (days): the expected tags are in the "want" column
CREATE TABLE people (name text, frequency int, recency float8, tenure float8, since_last float8,
                     p_alive float8, abc_class text, m int, f int, recent_spend numeric,
                     earlier_spend numeric, want text);
INSERT INTO people VALUES
 -- first purchase 10 days ago, bought again 5 days later: new, active
 ('newbie',   1,   5,  10,   5, 0.99, 'C', 2, 2, 30,  NULL, '{new,active}'),
 -- bought every 10 days (5 repeats over 50 days), silent 31 days > 3 x 10 and > 30: dormant
 ('sleeper',  5,  50,  81,  31, 0.80, 'B', 3, 4, NULL, 100, '{active,dormant,declining}'),
 -- one purchase 400 days ago: lost and one-time, not at risk (already lost), not dormant
 ('gone',     0,   0, 400, 400, NULL, 'C', 1, 1, NULL, NULL, '{lost,one_time}'),
 -- P(alive) 0.3, 100 days silent: churn risk (p_alive < 0.5, not yet lost)
 ('wobbly',   2, 200, 300, 100, 0.30, 'B', 3, 3, 10,  40,  '{churn_risk,declining}'),
 -- class A, 12 repeats, bought 2 days ago, top M and F: vip, big spender, frequent
 ('star',    12, 360, 362,   2, 0.99, 'A', 5, 5, 500, 400, '{active,vip,big_spender,frequent}'),
 -- exactly on the thresholds: tenure 30 (new: <= 30), since_last 90 (active: <= 90),
 -- recent = 0.5 x earlier (declining needs below half)
 ('edge',     1,  60, 30,  90, NULL, 'A', 4, 4, 50, 100, '{new,active}'),
 -- nothing known but the summary: rules over missing columns are NULL, so not matched
 ('blank',    3,  30,  60,  20, NULL, NULL, NULL, NULL, NULL, NULL, '{active}');
SELECT name, tiers.customer_tags(p) AS tags, tiers.customer_tags(p)::text = want AS ok
FROM people p ORDER BY name;
SELECT name, tiers.customer_tags(p, lang => 'zh') FROM people p WHERE name IN ('sleeper', 'star') ORDER BY name;
SELECT name, tiers.customer_tags(p, ARRAY['lost', 'dormant', 'new']) FROM people p ORDER BY name;
-- NULL row, a row with no matching tag, a row without any known column
SELECT tiers.customer_tags(NULL::people), tiers.customer_tags(ROW(1)), tiers.customer_tags(p)
FROM (SELECT 1000 AS tenure, 1000 AS since_last, 3 AS frequency, 0 AS recency) p;
-- column types: any integer/float/numeric, text/varchar/char, domains; wrong types are 42804
CREATE DOMAIN pos_int AS int CHECK (VALUE >= 0);
SELECT tiers.customer_tags(p) FROM (SELECT 0::pos_int AS frequency, 5::int2 AS tenure,
    'A'::char(3) AS abc_class, 1.5::real AS since_last) p;
SELECT pg_temp.err($$SELECT tiers.customer_tags(p) FROM (SELECT 'x'::text AS frequency) p$$);
SELECT pg_temp.err($$SELECT tiers.customer_tags(p) FROM (SELECT 1 AS abc_class) p$$);
SELECT pg_temp.err($$SELECT tiers.customer_tags(p, ARRAY['nope']) FROM people p$$);
SELECT pg_temp.err($$SELECT tiers.customer_tags(p, ARRAY[NULL]) FROM people p$$);
SELECT pg_temp.err($$SELECT tiers.customer_tags(p, ARRAY[['vip', 'new'], ['lost', 'active']]) FROM people p$$);
SELECT pg_temp.err($$SELECT tiers.customer_tags(p, lang => 'fr') FROM people p$$);
-- lang => NULL is the default (the setting customer_tiers.language, else 'en')
SELECT count(*) FILTER (WHERE tiers.customer_tags(p, lang => NULL) IS DISTINCT FROM tiers.customer_tags(p)) AS differ FROM people p;

-- overrides: tune a preset (merged params), the next statement sees it; disable; undo
SELECT tag, params, enabled, preset FROM tiers.tune_tag('new', '{"window": 14}');
SELECT name, tiers.customer_tags(p) FROM people p WHERE name IN ('newbie', 'edge') ORDER BY name;
SELECT tag, params, enabled FROM tiers.tune_tag('active', enabled => false);
SELECT name, tiers.customer_tags(p) FROM people p WHERE name IN ('newbie', 'edge') ORDER BY name;
-- a disabled tag can still be asked for by name
SELECT tiers.customer_tags(p, ARRAY['active']) FROM people p WHERE name = 'edge';
DELETE FROM tiers.tag_rules WHERE NOT preset AND tag IN ('new', 'active');
SELECT name, tiers.customer_tags(p) FROM people p WHERE name IN ('newbie', 'edge') ORDER BY name;
SELECT pg_temp.err($$SELECT tiers.tune_tag('new', '{"windw": 14}')$$);
SELECT pg_temp.err($$SELECT tiers.tune_tag('nope', '{}')$$);
SELECT pg_temp.err($$SELECT tiers.tune_tag('new', '[1]')$$);
SELECT pg_temp.err($$SELECT tiers.tune_tag('new', NULL)$$);

-- presets are read-only
SELECT pg_temp.err($$UPDATE tiers.tag_rules SET params = '{"window": 1}' WHERE tag = 'new'$$);
SELECT pg_temp.err($$DELETE FROM tiers.tag_rules WHERE tag = 'lost'$$);
SELECT pg_temp.err($$INSERT INTO tiers.tag_rules (tag, expression, preset) VALUES ('x', 'true', true)$$);

-- user rules: validated on insert and update
INSERT INTO tiers.tag_rules (tag, expression, params, description, position)
VALUES ('whale', 'monetary_total >= $min AND segment IN (''Champions'', ''Loyal'')', '{"min": 1000}',
        'big and loyal', 5);
SELECT tiers.customer_tags(p) FROM (SELECT 2000 AS monetary_total, 'Loyal' AS segment) p;
SELECT pg_temp.err($$UPDATE tiers.tag_rules SET expression = 'monetary_total >= $max' WHERE tag = 'whale'$$);
-- hostile or wrong expressions: each is rejected with the reason, nothing runs
SELECT e AS expression, pg_temp.err(format('INSERT INTO tiers.tag_rules (tag, expression) VALUES (%L, %L)', 'bad', e))
FROM unnest(ARRAY[
  'true; DROP TABLE people',
  'frequency > 1) OR (true',
  'pg_sleep(10) IS NULL',
  '(SELECT count(*) FROM people) > 0',
  'EXISTS (SELECT 1)',
  'current_setting(''is_superuser'') = ''on''',
  'frequency > 1 -- comment',
  'frequency > 1 /* comment */',
  'frequency::text = ''1''',
  'CAST(frequency AS text) = ''1''',
  'tiers.customer_tags(NULL) IS NULL',
  'public.people.frequency > 1',
  'U&''\0041'' = ''A''',
  '$$x$$ = ''x''',
  'frequency > $missing',
  'no_such_column > 1',
  'segment > 1',
  'frequency + 1',
  'NOT segment',
  'frequency IS 1',
  '',
  'frequency > 1 AND',
  'lower(segment) = ''x''',
  'E''\x41'' = ''A'''
]) AS e;
SELECT count(*) AS user_rules FROM tiers.tag_rules WHERE NOT preset;
SELECT count(*) AS people_rows FROM people;
-- the checker itself
SELECT tiers.tag_rule_check('since_last > $k * recency / nullif(frequency, 0) OR p_alive < 0.2', '{"k": 3}');
SELECT pg_temp.err($$SELECT tiers.tag_rule_check('frequency > 1', '{"unused": 1}')$$);
SELECT pg_temp.err($$SELECT tiers.tag_rule_check(NULL)$$);
DELETE FROM tiers.tag_rules WHERE tag = 'whale';

-- CDNOW (master, days, as of 1998-07-01): each preset agrees with the same condition written
-- in plain SQL; also under a forced parallel plan
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all
CREATE TABLE cdnow_tagged AS
WITH s AS (
    SELECT customer_id, (tiers.customer_summary(ordered_on, amount, '1998-07-01')).*,
           sum(amount) FILTER (WHERE ordered_on >= '1998-04-01') AS recent_spend,
           sum(amount) FILTER (WHERE ordered_on >= '1998-01-01' AND ordered_on < '1998-04-01') AS earlier_spend
    FROM cdnow_master GROUP BY customer_id)
SELECT s.*, tiers.abc_class(s.monetary_total, (SELECT tiers.abc_model(monetary_total) FROM s)) AS abc_class
FROM s;
SELECT tag, count(*) FROM cdnow_tagged c, unnest(tiers.customer_tags(c)) AS tag GROUP BY tag ORDER BY tag;
SELECT count(*) FILTER (WHERE ('new' = ANY (t)) IS DISTINCT FROM (tenure <= 30)) AS new,
       count(*) FILTER (WHERE ('active' = ANY (t)) IS DISTINCT FROM (since_last <= 90)) AS active,
       count(*) FILTER (WHERE ('dormant' = ANY (t)) IS DISTINCT FROM
           (frequency >= 1 AND since_last > 30 AND since_last > 3 * recency / frequency)) AS dormant,
       count(*) FILTER (WHERE ('churn_risk' = ANY (t)) IS DISTINCT FROM
           (since_last > 180 AND since_last <= 365)) AS churn_risk,
       count(*) FILTER (WHERE ('lost' = ANY (t)) IS DISTINCT FROM (since_last > 365)) AS lost,
       count(*) FILTER (WHERE ('one_time' = ANY (t)) IS DISTINCT FROM (frequency = 0 AND tenure > 30)) AS one_time,
       count(*) FILTER (WHERE ('vip' = ANY (t)) IS DISTINCT FROM
           (abc_class = 'A' AND frequency >= 2 AND since_last <= 180)) AS vip,
       count(*) FILTER (WHERE ('declining' = ANY (t)) IS DISTINCT FROM
           coalesce(earlier_spend > 0 AND coalesce(recent_spend, 0) < 0.5 * earlier_spend, false)) AS declining
FROM (SELECT c.*, tiers.customer_tags(c) AS t FROM cdnow_tagged c) x;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT tag, count(*) FROM cdnow_tagged c, unnest(tiers.customer_tags(c)) AS tag GROUP BY tag;
SELECT tag, count(*) FROM cdnow_tagged c, unnest(tiers.customer_tags(c)) AS tag GROUP BY tag ORDER BY tag;
RESET ALL;
