-- No crash on any input: every SQL-callable function and aggregate of the extension, called with
-- each argument in turn set to NULL, NaN, ±Infinity, zero, negative, huge, empty and malformed
-- values (the other arguments valid), in a subtransaction that is rolled back. Every call returns
-- or raises an ERROR with a proper SQLSTATE: no internal error (XX000), no panic text, no crash
-- (the test's last statement runs in the same session). The calls run with search_path traps
-- planted in public (searched before pg_catalog): none may be called.
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
SET client_min_messages = warning;
\set ECHO none
\set QUIET on
\i tests/sql/load_cdnow.sql
\set QUIET off
\set ECHO all
SELECT tiers.define_tier_scheme('mx', '[{"tier": "Basic", "entry": 0}, {"tier": "Gold", "entry": 100, "retain": 80}]');
CREATE TABLE mx_orders AS SELECT * FROM cdnow_master WHERE customer_id <= 300;
CREATE TABLE mx_models AS
SELECT tiers.rfm_model(since_last, frequency, monetary_total) AS rfm, tiers.abc_model(monetary_total) AS abc,
       tiers.bgnbd_fit(frequency, recency, tenure) AS bg, tiers.mbgnbd_fit(frequency, recency, tenure) AS mbg,
       tiers.paretonbd_fit(frequency, recency, tenure) AS pnbd, tiers.gamma_gamma_fit(frequency, monetary) AS gg,
       tiers.kmeans_model(ARRAY[since_last, frequency, monetary], 3) AS km
FROM (SELECT (tiers.customer_summary(ordered_on, amount, '1998-06-30')).* FROM cdnow_master GROUP BY customer_id) s;

-- special values per argument type; the first is the "valid" one used for the other arguments
CREATE TABLE mx_values (typ regtype, pos int, val text);
INSERT INTO mx_values
SELECT t::regtype, ord, v FROM (VALUES
  ('double precision', ARRAY['2', NULL, '''NaN''', '''Infinity''', '''-Infinity''', '0', '-1', '1e308', '5e-324']),
  ('integer',          ARRAY['3', NULL, '0', '-1', '2147483647', '-2147483648']),
  ('bigint',           ARRAY['3', NULL, '0', '-1', '9223372036854775807']),
  ('numeric',          ARRAY['2.5', NULL, '''NaN''', '0', '-1', '1e300', '''Infinity''']),
  ('text',             ARRAY['''x''', NULL, '''''', 'repeat(''x'', 100000)', '''NaN''', E'''\\u0000''']),
  ('name',             ARRAY['''customer_id''', NULL, '''''', '''no such column''']),
  ('boolean',          ARRAY['true', NULL, 'false']),
  -- aggregate states (issue 12): empty, truncated, garbage and oversized bytes
  ('bytea',            ARRAY['decode('''', ''hex'')', NULL, 'decode(''00'', ''hex'')', 'decode(repeat(''ff'', 64), ''hex'')',
                             'decode(''0100000000000000'' || repeat(''7f'', 40), ''hex'')', 'decode(repeat(''01'', 100000), ''hex'')']),
  ('interval',         ARRAY['''1 day''', NULL, '''0''', '''-1 day''', '''1000000 years''', '''1 microsecond''']),
  ('date',             ARRAY['''1998-06-30''', NULL, '''infinity''', '''-infinity''', '''4714-11-24 BC''', '''5874897-12-31''']),
  ('timestamp without time zone', ARRAY['''1998-06-30''', NULL, '''infinity''', '''-infinity''', '''294276-12-31''']),
  ('timestamp with time zone',    ARRAY['''1998-06-30''', NULL, '''infinity''', '''-infinity''']),
  ('jsonb',            ARRAY['''{}''', NULL, '''[]''', '''null''', '''"x"''', '''[{"tier": "a", "entry": "NaN"}]''', '''{"bins": 1e400}''']),
  ('double precision[]', ARRAY['''{0,10}''', NULL, '''{}''', '''{NULL}''', '''{NaN,1}''', '''{1,1}''', '''{{1,2},{3,4}}''']),
  ('text[]',           ARRAY['''{a,b}''', NULL, '''{}''', '''{NULL}''', '''{a,a}''', '''{a}''']),
  ('regclass',         ARRAY['''mx_orders''', NULL, '''pg_class''', '''tiers.tier_views''']),
  ('record',           ARRAY['ROW(1)', NULL, '(SELECT c FROM mx_orders c LIMIT 1)', 'ROW(''NaN''::float8)']),
  ('tiers.rfm_model',  ARRAY['(SELECT rfm FROM mx_models)', NULL, 'ROW(5, 1, ''{}'', ''{}'', ''{}'', 0, 0, 0)::tiers.rfm_model', 'ROW(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::tiers.rfm_model']),
  ('tiers.abc_model',  ARRAY['(SELECT abc FROM mx_models)', NULL, 'ROW(''x'', 2, 1, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0)::tiers.abc_model']),
  ('tiers.bgnbd_model', ARRAY['(SELECT bg FROM mx_models)', NULL, 'ROW(''NaN'', -1, 0, ''Infinity'', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::tiers.bgnbd_model',
      'ROW(0.24, 4.4, 0.79, 2.4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ''{{NaN,1},{1,-1}}'')::tiers.bgnbd_model']),
  ('tiers.mbgnbd_model', ARRAY['(SELECT mbg FROM mx_models)', NULL, 'ROW(-1, -1, -1, -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::tiers.mbgnbd_model']),
  ('tiers.paretonbd_model', ARRAY['(SELECT pnbd FROM mx_models)', NULL, 'ROW(0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::tiers.paretonbd_model']),
  ('tiers.gamma_gamma_model', ARRAY['(SELECT gg FROM mx_models)', NULL, 'ROW(1, 1, ''NaN'', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::tiers.gamma_gamma_model',
      'ROW(6, 4, 15, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ''{{1,0,0},{0,-1,0},{0,0,1}}'')::tiers.gamma_gamma_model']),
  ('tiers.kmeans_model', ARRAY['(SELECT km FROM mx_models)', NULL,
      'ROW(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::tiers.kmeans_model',
      'ROW(2, 3, 1, 1, ''{1,2}'', ''{NaN}'', true, ''{}'', ''{}'', ''{}'', 0, 0, true, ''{-1}'', NULL, true, 0)::tiers.kmeans_model',
      'ROW(50, 16, -1, -1, ''{{1,2},{3,4}}'', ''{{1,2},{3,4}}'', true, ''{t,NULL}'', ''{0,0}'', ''{1,1}'', 0, 0, true, ''{1,1}'', NULL, true, 0)::tiers.kmeans_model',
      'ROW(2, 1, 1, 1, ''{1,2}'', ''{1e308,-1e308}'', false, ''{f}'', ''{1e308}'', ''{5e-324}'', 0, 0, true, ''{1,1}'', 0, true, 0)::tiers.kmeans_model']),
  ('tiers.bgbb_model', ARRAY['ROW(1.2, 0.75, 0.66, 2.8, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::tiers.bgbb_model', NULL,
      'ROW(''NaN'', 0, -1, ''Infinity'', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::tiers.bgbb_model',
      'ROW(1e-300, 1e300, 1e-300, 1e300, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::tiers.bgbb_model']),
  ('tiers.tier_views', ARRAY['(SELECT v FROM tiers.tier_views v LIMIT 1)', NULL]),
  ('tiers.nps_result', ARRAY['ROW(10, 5, 3, 2, 30, 10)::tiers.nps_result', NULL, 'ROW(0, 0, 0, 0, 0, 0)::tiers.nps_result', 'ROW(1, -1, 0, 2, 0, 0)::tiers.nps_result', 'ROW(NULL, NULL, NULL, NULL, NULL, NULL)::tiers.nps_result', 'ROW(9e18, 9e18, 9e18, 9e18, 0, 0)::tiers.nps_result'])
) AS x(t, vals), unnest(vals) WITH ORDINALITY AS u(v, ord);
-- valid values for arguments known by name
CREATE TABLE mx_named (name text, val text, typ regtype);
INSERT INTO mx_named VALUES ('scheme', '''mx'''), ('rule_set', '''standard'''), ('lang', '''zh'''),
  ('convention', '''before'''), ('tag', '''new'''), ('previous_tier', '''Gold'''), ('source', '''standard'''),
  ('target', '''copy'''), ('expression', '''frequency > 1'''), ('view_name', '''mx_view'''),
  ('customer_column', '''customer_id'''), ('ordered_at_column', '''ordered_on'''), ('value_column', '''amount'''),
  ('amount_column', '''amount'''), ('cron', '''0 3 * * *'''), ('a_cut', '0.8'), ('b_cut', '0.95'),
  ('bins', '5'), ('points', '5'), ('periods', '3'), ('retention_rate', '0.8'), ('discount_rate', '0.1'),
  ('margin', '0.3'), ('tiers', '''[{"tier": "a", "entry": 0}]'''), ('thresholds', '''{0,10}'''),
  ('names', '''{a,b}'''), ('frequency', '2'), ('recency', '5'), ('tenure', '10'), ('monetary', '20'),
  ('horizon', '30'), ('unit', '''1 day'''), ('weight', '1'), ('penalizer', '0'), ('from_date', '''1998-01-01'''),
  ('to_date', '''1998-06-30'''), ('evaluated_on', '''1998-06-30'''), ('view', '''mx_orders'''), ('wait', 'false'),
  ('grace_used', '0'), ('max_drop', '1'), ('grace_evaluations', '1'), ('k', '2'), ('k_min', '2'),
  ('k_max', '3'), ('cluster', '1'), ('name', '''mx_km'''), ('n_periods', '6'), ('periods', '5'),
  ('periods_ahead', '1'), ('n', '1');
INSERT INTO mx_named VALUES ('features', '''{since_last,frequency,monetary}''', 'text[]'),
  ('features', '''{0,10}''', 'double precision[]');
INSERT INTO mx_named VALUES ('horizon', '''1 mon''', 'interval'), ('source', '''mx_orders''', 'regclass');

\set ECHO none
\set QUIET on
\i tests/sql/plant_traps.sql
\set QUIET off
\set ECHO all
CREATE FUNCTION pg_temp.call(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM pg_catalog.set_config('search_path', 'public, pg_catalog', true);
        EXECUTE q;
        RAISE EXCEPTION USING ERRCODE = 'P0T01';          -- roll the call back, report success
    EXCEPTION WHEN OTHERS THEN
        IF SQLSTATE = 'P0T01' THEN RETURN 'ok'; END IF;
        IF SQLERRM ~* 'panic|unwrap|rust|backtrace' THEN RETURN 'PANIC-TEXT ' || SQLSTATE || ' ' || SQLERRM; END IF;
        RETURN SQLSTATE;
    END;
END $$;

-- the calls: for each function and aggregate, every argument in turn through its special values
CREATE TABLE mx_calls AS
WITH fns AS (
    SELECT p.oid, p.proname, p.prokind,
           ARRAY(SELECT t FROM unnest(p.proargtypes::regtype[]) t) AS types,   -- 1-based
           ARRAY(SELECT n FROM unnest(coalesce(p.proargnames, '{}')) n) AS names
    FROM pg_proc p
    JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'customer_tiers'
    WHERE p.prorettype NOT IN ('trigger'::regtype, 'internal'::regtype)
      AND NOT ('internal'::regtype = ANY (p.proargtypes::regtype[]))
      AND p.proname NOT IN ('schedule_tier_view', 'unschedule_tier_view', 'create_tier_view',
                            'refresh_tier_view', 'drop_tier_view')   -- tested in 11_views
),
args AS (
    SELECT f.oid, t.i, t.typ, f.names[t.i] AS name,
           coalesce((SELECT n.val FROM mx_named n WHERE n.name = f.names[t.i]
                     AND t.typ NOT IN ('record'::regtype) AND (n.typ IS NULL OR n.typ = t.typ)
                     ORDER BY n.typ NULLS LAST LIMIT 1),
                    (SELECT v.val FROM mx_values v WHERE v.typ = t.typ AND v.pos = 1)) AS valid
    FROM fns f, unnest(f.types) WITH ORDINALITY AS t(typ, i)),
variants AS (
    SELECT row_number() OVER () AS vid, * FROM (
        SELECT f.oid, a.i AS varied, v.val AS special
        FROM fns f JOIN args a ON a.oid = f.oid JOIN mx_values v ON v.typ = a.typ
        UNION ALL SELECT f.oid, 0, NULL FROM fns f) u)
SELECT f.oid::regprocedure AS fn, x.varied, x.special,
       CASE WHEN f.prokind = 'a' THEN
           format('SELECT %s.%I(%s) FROM (VALUES (1), (2), (3)) AS t(k)', 'tiers', f.proname,
                  coalesce(string_agg(format('(%s)::%s', CASE WHEN a.i = x.varied THEN coalesce(x.special, 'NULL') ELSE a.valid END, a.typ), ', ' ORDER BY a.i) FILTER (WHERE a.i IS NOT NULL), ''))
       ELSE
           format('SELECT %s.%I(%s)', 'tiers', f.proname,
                  coalesce(string_agg(format('(%s)::%s', CASE WHEN a.i = x.varied THEN coalesce(x.special, 'NULL') ELSE a.valid END, a.typ), ', ' ORDER BY a.i) FILTER (WHERE a.i IS NOT NULL), ''))
       END AS q
FROM fns f JOIN variants x ON x.oid = f.oid LEFT JOIN args a ON a.oid = f.oid
GROUP BY f.oid, f.proname, f.prokind, x.vid, x.varied, x.special;
ALTER TABLE mx_calls ADD COLUMN outcome text;
UPDATE mx_calls SET outcome = pg_temp.call(q);

-- per function: calls, successes, and the SQLSTATEs raised
SELECT fn, count(*) AS calls, count(*) FILTER (WHERE outcome = 'ok') AS ok,
       string_agg(DISTINCT outcome, ' ') FILTER (WHERE outcome <> 'ok') AS errors
FROM mx_calls GROUP BY fn ORDER BY fn::text;
SELECT pg_catalog.count(DISTINCT fn) AS functions, count(*) AS calls,
       count(*) FILTER (WHERE outcome = 'XX000' OR outcome LIKE 'PANIC%' OR outcome LIKE 'XX%') AS internal_errors
FROM mx_calls;
SELECT fn, q, outcome FROM mx_calls WHERE outcome = 'XX000' OR outcome LIKE 'PANIC%' OR outcome LIKE 'XX%' ORDER BY 1, 2;
-- no trap was called by any of the calls (the sequence counts calls in rolled-back subtransactions)
SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS traps_called FROM public.captured_calls;
\set ECHO none
\i tests/sql/remove_traps.sql
\set ECHO all

-- the widest timestamps: 4713 BC to 294276 AD is more microseconds than a bigint holds
SELECT round(((s).tenure / 365.25)::numeric) AS years, (s).frequency
FROM (SELECT tiers.customer_summary(t, 1.0, '294276-12-30'::timestamp) s
      FROM (VALUES ('4713-01-01 BC'::timestamp)) v(t)) x;
-- still alive
SELECT 'alive' AS server;
